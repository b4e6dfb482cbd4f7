"""HTTP client for the hall server's /api/v1 (CONTRACTS section 2) on requests."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import requests

from kiosk import const
from kiosk.errors import (
    ApiError,
    ConfigError,
    FeatureUnavailable,
    NotFound,
    PinMismatch,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    error_from_response,
)
from kiosk.tls import PinnedAdapter, is_pin_mismatch, normalise_pin

logger = logging.getLogger(__name__)

JSON = Any


class HallClient:
    """One hall server, one token; safe to share between threads (one Session per thread is not needed
    for requests' connection pool, but calls must not share mutable state besides the token)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = const.HTTP_TIMEOUT,
        retries: int = const.HTTP_RETRIES,
        pin: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith(const.API_PATH):
            self.base_url = self.base_url[: -len(const.API_PATH)]
        self.token = token
        self.timeout = timeout
        self.retries = retries
        # The SHA-256 of the server's certificate: with it, only that server is talked to.
        self.pin = normalise_pin(pin) if pin else None
        self._session = requests.Session()
        if self.pin:
            if not self.base_url.startswith("https://"):
                raise ConfigError(
                    "配置了服务器证书指纹，服务器地址须为 https://",
                    "server_pin is set: the server address must be https://",
                )
            self._session.mount("https://", PinnedAdapter(self.pin))

    # -- plumbing --------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The /api/v1 root."""
        return self.base_url + const.API_PATH

    def ws_url(self, path: str) -> str:
        """The ws:// address of an API path."""
        url = self.api_url + path
        return "ws" + url[4:] if url.startswith("http") else url

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: JSON | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
        data: bytes | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> JSON:
        """Send one request and return the decoded JSON (None for 204); raise a typed KioskError.

        Retries happen only when repeating cannot do harm: GET, or a POST the server
        deduplicates (Idempotency-Key / client_id); a non-idempotent request is retried only
        when the connection was never made (connect timeout), so it cannot run twice.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        hdrs = {"Accept": "application/json"}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if headers:
            hdrs.update(headers)
        url = self.api_url + path
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._session.request(
                    method,
                    url,
                    json=json,
                    data=data,
                    params=params,
                    headers=hdrs,
                    timeout=timeout or self.timeout,
                )
            except requests.exceptions.SSLError as exc:
                # A wrong certificate is not a network hiccup: never retried, and said plainly.
                if is_pin_mismatch(exc):
                    raise PinMismatch(expected=self.pin or "") from exc
                raise ServerUnreachable(
                    "与服务器的加密连接失败，请联系管理员", f"TLS to the hall server failed: {exc}"
                ) from exc
            except requests.exceptions.ConnectTimeout as exc:
                # Never connected: the server cannot have acted, so any request may be repeated.
                if attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise ServerTimeout() from exc
            except requests.exceptions.ConnectionError as exc:
                if attempt <= self.retries and (idempotent or _never_connected(exc)):
                    self._pause(attempt)
                    continue
                raise ServerUnreachable() from exc
            except requests.exceptions.Timeout as exc:
                if idempotent and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise ServerTimeout() from exc
            except requests.exceptions.RequestException as exc:
                raise ServerUnreachable() from exc
            if resp.status_code in const.RETRY_STATUSES and idempotent and attempt <= self.retries:
                self._pause(attempt)
                continue
            return self._decode(resp)

    def _pause(self, attempt: int) -> None:
        time.sleep(const.HTTP_RETRY_BACKOFF_S * attempt)

    @staticmethod
    def _decode(resp: requests.Response) -> JSON:
        if resp.status_code == 204 or not resp.content:
            if resp.status_code >= 400:
                raise error_from_response(resp.status_code, None)
            return None
        try:
            body = resp.json()
        except ValueError:
            if resp.status_code >= 400:
                raise error_from_response(resp.status_code, None) from None
            raise ServerError(resp.status_code, "response.invalid", "服务器返回了无法识别的数据") from None
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, body)
        return body

    def get(self, path: str, **params: Any) -> JSON:
        """GET with query parameters (None values dropped)."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: JSON | None = None, **kw: Any) -> JSON:
        """POST a JSON body."""
        return self.request("POST", path, json=body if body is not None else {}, **kw)

    # -- halls and services ----------------------------------------------------------------
    def health(self) -> JSON:
        """GET /health."""
        return self.get("/health")

    def halls(self) -> list[JSON]:
        """GET /halls."""
        return self.get("/halls")

    def hall(self, hall_id: str) -> JSON:
        """GET /halls/{hall}: the hall with groups, windows and policy."""
        return self.get(f"/halls/{hall_id}")

    def services(self, hall_id: str, q: str | None = None) -> list[JSON]:
        """GET /halls/{hall}/services, optionally searched."""
        return self.get(f"/halls/{hall_id}/services", q=q or None)

    def service(self, code: str) -> JSON:
        """GET /services/{code} with its full guide."""
        return self.get(f"/services/{code}")

    # -- tickets ---------------------------------------------------------------------------
    def issue_ticket(
        self,
        hall_id: str,
        service_code: str,
        *,
        channel: str = "kiosk",
        identity: dict[str, Any] | None = None,
        green_reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSON:
        """POST /halls/{hall}/tickets with an Idempotency-Key, so a retry never prints two tickets."""
        body: dict[str, Any] = {"service_code": service_code, "channel": channel}
        if identity:
            body["identity"] = identity
        if green_reason:
            body["green_reason"] = green_reason
        key = idempotency_key or uuid.uuid4().hex
        return self.post(f"/halls/{hall_id}/tickets", body, headers={"Idempotency-Key": key}, idempotent=True)

    def ticket(self, ticket_id: int) -> JSON:
        """GET /tickets/{id}."""
        return self.get(f"/tickets/{ticket_id}")

    def tickets(
        self,
        hall_id: str,
        *,
        status: str | None = None,
        group: str | None = None,
        window_id: int | None = None,
    ) -> list[JSON]:
        """GET /halls/{hall}/tickets (today)."""
        return self.get(f"/halls/{hall_id}/tickets", status=status, group=group, window_id=window_id)

    def track(self, token: str) -> JSON:
        """GET /track/{token}: a ticket and its place in the queue."""
        return self.get(f"/track/{token}")

    def find_ticket_by_number(self, hall_id: str, number: str) -> JSON:
        """Today's ticket with this number in the hall, or NotFound."""
        number = number.strip().upper()
        for t in self.tickets(hall_id):
            if str(t.get("number", "")).upper() == number:
                return t
        raise NotFound(404, "ticket.not_found", f"今天没有 {number} 号", f"No ticket {number} today")

    def checkin(
        self,
        hall_id: str,
        id_number: str,
        *,
        fallback_normal: bool = False,
        idempotency_key: str | None = None,
    ) -> JSON:
        """POST /halls/{hall}/checkin with the ID number read from the card -> the priority Ticket.

        FeatureUnavailable while the server has no such route (older servers).
        """
        key = idempotency_key or uuid.uuid4().hex
        try:
            return self.post(
                f"/halls/{hall_id}/checkin",
                {"id_number": id_number, "fallback_normal": fallback_normal},
                headers={"Idempotency-Key": key},
                idempotent=True,
            )
        except ApiError as exc:
            # 404/405 without an appointment code means the route itself is missing on this server.
            missing = exc.status == 405 or (
                exc.status == 404 and not (exc.code or "").startswith(("appointment", "checkin"))
            )
            if missing:
                raise FeatureUnavailable(exc.status) from exc
            raise

    # -- windows (clerk) ---------------------------------------------------------------------
    def login(self, username: str, password: str, window_id: int | None = None) -> JSON:
        """POST /auth/login; keeps the returned token for later calls."""
        body: dict[str, Any] = {"username": username, "password": password}
        if window_id is not None:
            body["window_id"] = window_id
        answer = self.post("/auth/login", body)
        self.token = answer["token"]
        return answer

    def logout(self) -> None:
        """POST /auth/logout and forget the token."""
        try:
            self.post("/auth/logout")
        finally:
            self.token = None

    def me(self) -> JSON:
        """GET /auth/me."""
        return self.get("/auth/me")

    def window_op(self, window_id: int, op: str, body: dict[str, Any] | None = None) -> JSON:
        """POST /windows/{id}/{op}: call-next, recall, no-show, start, finish, suspend, pause..."""
        return self.post(f"/windows/{window_id}/{op.replace('_', '-')}", body or {})

    def call_next(self, window_id: int) -> JSON:
        """Call the next waiting ticket at this window."""
        return self.window_op(window_id, "call-next")

    def next_ticket(self, window_id: int, ticket_id: int, close: str = "finish") -> JSON:
        """下一位: close the ticket in hand (finish or no_show) and call the next, atomically."""
        return self.window_op(window_id, "next", {"close": close, "ticket_id": ticket_id})

    def call_ticket(self, window_id: int, ticket_id: int) -> JSON:
        """Call a chosen ticket."""
        return self.window_op(window_id, "call", {"ticket_id": ticket_id})

    def call_back(self, window_id: int, ticket_id: int) -> JSON:
        """Call a suspended ticket back."""
        return self.window_op(window_id, "call-back", {"ticket_id": ticket_id})

    def transfer(
        self, window_id: int, service_code: str | None = None, to_window_id: int | None = None
    ) -> JSON:
        """Transfer the current ticket to another service or window."""
        body: dict[str, Any] = {}
        if service_code:
            body["service_code"] = service_code
        if to_window_id is not None:
            body["window_id"] = to_window_id
        return self.window_op(window_id, "transfer", body)

    # -- ratings, snapshot, events, devices -------------------------------------------------
    def rate(self, rating: dict[str, Any]) -> JSON:
        """POST /ratings; the rating's client_id makes a resend idempotent."""
        return self.post("/ratings", rating, idempotent="client_id" in rating)

    def upload_document(
        self, ticket_id: int, jpeg: bytes, label: str | None = None, taken_at: str | None = None
    ) -> JSON:
        """POST /tickets/{id}/documents with the raw JPEG -> `Document`.

        Retried like a GET: the server keeps one document per ticket and content, so a resend
        after a dropped answer returns the first one. `taken_at` (ISO) lets a photo queued
        offline still be accepted after the ticket left the window.
        """
        params = {k: v for k, v in (("label", label), ("taken_at", taken_at)) if v}
        return self.request(
            "POST",
            f"/tickets/{ticket_id}/documents",
            data=jpeg,
            params=params,
            headers={"Content-Type": const.DOCUMENT_CONTENT_TYPE},
            idempotent=True,
            timeout=const.DOCUMENT_HTTP_TIMEOUT,
        )

    def documents(self, ticket_id: int) -> list[JSON]:
        """GET /tickets/{id}/documents: the ticket's kept documents (metadata), oldest first."""
        return self.get(f"/tickets/{ticket_id}/documents")

    def document(self, document_id: int) -> bytes:
        """GET /documents/{id}: the JPEG bytes (typed errors as for every call)."""
        hdrs = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = self._session.get(
                f"{self.api_url}/documents/{document_id}", headers=hdrs, timeout=const.DOCUMENT_HTTP_TIMEOUT
            )
        except requests.exceptions.Timeout as exc:
            raise ServerTimeout() from exc
        except requests.exceptions.RequestException as exc:
            raise ServerUnreachable() from exc
        if resp.status_code != 200:
            self._decode(resp)  # raises the typed error of the body
        return resp.content

    def snapshot(self, hall_id: str) -> JSON:
        """GET /halls/{hall}/snapshot."""
        return self.get(f"/halls/{hall_id}/snapshot")

    def events(self, hall_id: str, since: int = 0, limit: int | None = None) -> list[JSON]:
        """GET /halls/{hall}/events?since=N."""
        return self.get(f"/halls/{hall_id}/events", since=since, limit=limit)

    def heartbeat(
        self, device_id: str, kind: str, status: str, faults: list[dict[str, str]] | None = None
    ) -> None:
        """POST /devices/heartbeat (a fault list reports printer paper-out and the like)."""
        body = {"device_id": device_id, "kind": kind, "status": status, "faults": faults or []}
        self.post("/devices/heartbeat", body, idempotent=True)


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the TCP connection was refused or not made, so the server cannot have acted."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text
