"""HTTP client for the hall server's /api/v1 (CONTRACTS section 2) on requests.

Answers are checked against the `wire` models (the contract shared with the server): every call
returns its model (or a list of them, or None for 204, or the raw bytes of a document). An answer of another
shape raises `UnexpectedAnswer` naming the call and the model, instead of a KeyError deep in the
UI. The HTTP transport is injectable: pass a `requests.Session`, or a transport adapter
(a `requests.adapters.BaseAdapter`, mounted for http:// and https://), so the kiosk's logic is
testable without a server (tests/kiosk/test_client_transport.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import BaseAdapter

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
    UnexpectedAnswer,
    error_from_response,
)
from kiosk.tls import PinnedAdapter, is_pin_mismatch, normalise_pin
from wire import (
    CheckinTicketOut,
    DocumentOut,
    EventOut,
    HallDetailOut,
    HallOut,
    HealthOut,
    LoginOut,
    MeOut,
    NextOut,
    RatingOut,
    RemovePriorityIn,
    ServiceOut,
    SnapshotOut,
    StaffCallOut,
    TicketOut,
    TrackedTicketOut,
    WindowClerkOut,
    WindowOut,
)
from wire.staff import EnrolOut
from wire.sync import LinkOut

logger = logging.getLogger(__name__)

JSON = Any  # decoded JSON before it is checked against its wire model (the plumbing only)
M = TypeVar("M", bound=BaseModel)

# The answer of each window step (POST /windows/{id}/{step}); None: 204 without a body.
WINDOW_STEP_ANSWERS: dict[str, type[BaseModel] | None] = {
    "call-next": TicketOut,
    "call": TicketOut,
    "recall": TicketOut,
    "no-show": TicketOut,
    "start": TicketOut,
    "finish": TicketOut,
    "suspend": TicketOut,
    "transfer": TicketOut,
    "call-back": TicketOut,
    "next": NextOut,
    "pause": WindowOut,
    "resume": WindowOut,
    "open": WindowOut,
    "close": WindowOut,
    "rating-request": None,
}
WindowStepAnswer = TicketOut | NextOut | WindowOut | None


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
        session: requests.Session | None = None,
        transport: BaseAdapter | None = None,
        pin: str | None = None,
    ) -> None:
        """`session`: the requests.Session to send through (a fresh one by default);
        `transport`: an adapter mounted on it for http:// and https:// (tests answer from it)."""
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith(const.API_PATH):
            self.base_url = self.base_url[: -len(const.API_PATH)]
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.transport = transport
        # The SHA-256 of the server's certificate: with it, only that server is talked to.
        self.pin = normalise_pin(pin) if pin else None
        self._session = session if session is not None else requests.Session()
        if transport is not None:
            self._session.mount("http://", transport)
            self._session.mount("https://", transport)
        if self.pin:
            if not self.base_url.startswith("https://"):
                raise ConfigError(
                    "配置了服务器证书指纹，服务器地址须为 https://",
                    "server_pin is set: the server address must be https://",
                )
            self._session.mount("https://", PinnedAdapter(self.pin))

    def spawn(self, token: str | None = None) -> HallClient:
        """Another client of the same server, transport and pin with its own token (a clerk's session)."""
        return HallClient(
            self.base_url,
            token,
            timeout=self.timeout,
            retries=self.retries,
            transport=self.transport,
            pin=self.pin,
        )

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

    # -- the wire's models -------------------------------------------------------------------
    @staticmethod
    def typed(model: type[M], body: JSON, what: str) -> M:
        """The answer as its wire model; UnexpectedAnswer (naming the call) when it is not one.

        Fields the kiosk does not know are ignored, so a newer server that declares another
        field in its wire does not stop an older kiosk; a missing or mistyped field does.
        """
        try:
            return model.model_validate(body, extra="ignore")
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(part) for part in e['loc']) or '(answer)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
            logger.warning("unexpected answer to %s (%s): %s", what, model.__name__, problems[:5])
            raise UnexpectedAnswer(200, what, model.__name__, problems) from None

    def typed_list(self, model: type[M], body: JSON, what: str) -> list[M]:
        """A JSON array of one wire model."""
        if not isinstance(body, list):
            raise UnexpectedAnswer(
                200, what, f"list[{model.__name__}]", [f"(answer): not a list but {type(body).__name__}"]
            )
        return [self.typed(model, item, what) for item in body]

    # -- halls and services ----------------------------------------------------------------
    def health(self) -> HealthOut:
        """GET /health."""
        return self.typed(HealthOut, self.get("/health"), "GET /health")

    def halls(self) -> list[HallOut]:
        """GET /halls: the flat list of halls."""
        return self.typed_list(HallOut, self.get("/halls"), "GET /halls")

    def hall(self, hall_id: str) -> HallDetailOut:
        """GET /halls/{hall}: the hall with groups, windows and policy."""
        return self.typed(HallDetailOut, self.get(f"/halls/{hall_id}"), "GET /halls/{hall}")

    def services(self, hall_id: str, q: str | None = None) -> list[ServiceOut]:
        """GET /halls/{hall}/services, optionally searched."""
        answer = self.get(f"/halls/{hall_id}/services", q=q or None)
        return self.typed_list(ServiceOut, answer, "GET /halls/{hall}/services")

    def service(self, code: str, hall_id: str | None = None) -> ServiceOut:
        """GET /services/{code} with its full guide, as the hall shows it (its own place, phones, cap)."""
        return self.typed(ServiceOut, self.get(f"/services/{code}", hall=hall_id), "GET /services/{code}")

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
    ) -> TicketOut:
        """POST /halls/{hall}/tickets with an Idempotency-Key, so a retry never prints two tickets."""
        body: dict[str, Any] = {"service_code": service_code, "channel": channel}
        if identity:
            body["identity"] = identity
        if green_reason:
            body["green_reason"] = green_reason
        key = idempotency_key or uuid.uuid4().hex
        answer = self.post(
            f"/halls/{hall_id}/tickets", body, headers={"Idempotency-Key": key}, idempotent=True
        )
        return self.typed(TicketOut, answer, "POST /halls/{hall}/tickets")

    def ticket(self, ticket_id: int) -> TicketOut:
        """GET /tickets/{id}."""
        return self.typed(TicketOut, self.get(f"/tickets/{ticket_id}"), "GET /tickets/{id}")

    def tickets(
        self,
        hall_id: str,
        *,
        status: str | None = None,
        group: str | None = None,
        window_id: int | None = None,
    ) -> list[TicketOut]:
        """GET /halls/{hall}/tickets (today)."""
        answer = self.get(f"/halls/{hall_id}/tickets", status=status, group=group, window_id=window_id)
        return self.typed_list(TicketOut, answer, "GET /halls/{hall}/tickets")

    def track(self, token: str) -> TrackedTicketOut:
        """GET /track/{token}: a ticket and its place in the queue, with the hall's name."""
        return self.typed(TrackedTicketOut, self.get(f"/track/{token}"), "GET /track/{token}")

    def find_ticket_by_number(self, hall_id: str, number: str) -> TicketOut:
        """Today's ticket with this number in the hall, or NotFound."""
        number = number.strip().upper()
        for t in self.tickets(hall_id):
            if t.number.upper() == number:
                return t
        raise NotFound(404, "ticket.not_found", f"今天没有 {number} 号", f"No ticket {number} today")

    def checkin(
        self,
        hall_id: str,
        id_number: str,
        *,
        fallback_normal: bool = False,
        idempotency_key: str | None = None,
    ) -> CheckinTicketOut:
        """POST /halls/{hall}/checkin with the ID number read from the card -> the priority Ticket
        and how the check-in went (`checkin`).

        FeatureUnavailable while the server has no such route (older servers).
        """
        body = {"id_number": id_number, "fallback_normal": fallback_normal}
        return self._checkin(f"/halls/{hall_id}/checkin", body, idempotency_key)

    def checkin_by_code(
        self,
        hall_id: str,
        code: str,
        *,
        fallback_normal: bool = False,
        idempotency_key: str | None = None,
    ) -> CheckinTicketOut:
        """POST /halls/{hall}/checkin/by-code with the booking code read from the confirmation's QR:
        the same ticket as the ID-card check-in gives."""
        body = {"code": code, "fallback_normal": fallback_normal}
        return self._checkin(f"/halls/{hall_id}/checkin/by-code", body, idempotency_key)

    def _checkin(self, path: str, body: dict[str, Any], idempotency_key: str | None) -> CheckinTicketOut:
        key = idempotency_key or uuid.uuid4().hex
        try:
            answer = self.post(path, body, headers={"Idempotency-Key": key}, idempotent=True)
        except ApiError as exc:
            # 404/405 without an appointment code means the route itself is missing on this server.
            missing = exc.status == 405 or (
                exc.status == 404 and not (exc.code or "").startswith(("appointment", "checkin"))
            )
            if missing:
                raise FeatureUnavailable(exc.status) from exc
            raise
        return self.typed(CheckinTicketOut, answer, f"POST {path}")

    def enrol(self, code: str, device_id: str = "") -> EnrolOut:
        """POST /devices/enrol: a device's first start exchanges its enrolment code for its token."""
        body = {"code": code, "device_id": device_id}
        answer = self.typed(EnrolOut, self.post("/devices/enrol", body), "POST /devices/enrol")
        self.token = answer.token
        return answer

    # -- windows (clerk) ---------------------------------------------------------------------
    def login(self, username: str, password: str, window_id: int | None = None) -> LoginOut:
        """POST /auth/login; keeps the returned token for later calls."""
        body: dict[str, Any] = {"username": username, "password": password}
        if window_id is not None:
            body["window_id"] = window_id
        answer = self.typed(LoginOut, self.post("/auth/login", body), "POST /auth/login")
        self.token = answer.token
        return answer

    def logout(self) -> None:
        """POST /auth/logout and forget the token."""
        try:
            self.post("/auth/logout")
        finally:
            self.token = None

    def me(self) -> MeOut:
        """GET /auth/me."""
        return self.typed(MeOut, self.get("/auth/me"), "GET /auth/me")

    def window(self, window_id: int) -> WindowOut:
        """GET /windows/{id}: the window with its clerk and the ticket in hand."""
        return self.typed(WindowOut, self.get(f"/windows/{window_id}"), "GET /windows/{id}")

    def window_clerk(self, window_id: int) -> WindowClerkOut:
        """GET /windows/{id}/clerk: the clerk at the window now, with 工号 and photo (rating terminal)."""
        return self.typed(WindowClerkOut, self.get(f"/windows/{window_id}/clerk"), "GET /windows/{id}/clerk")

    def window_op(self, window_id: int, op: str, body: dict[str, Any] | None = None) -> WindowStepAnswer:
        """POST /windows/{id}/{op}: call-next, next, recall, no-show, start, finish, suspend, pause...

        The answer as its wire model: a TicketOut, a NextOut (next), a WindowOut (pause, resume,
        open, close) or None (rating-request).
        """
        step = op.replace("_", "-")
        what = f"POST /windows/{{id}}/{step}"
        answer = self.post(f"/windows/{window_id}/{step}", body or {})
        model = WINDOW_STEP_ANSWERS.get(step, TicketOut)
        if model is None:
            return None
        return self.typed(model, answer, what)  # type: ignore[return-value]

    def call_next(self, window_id: int) -> TicketOut:
        """Call the next waiting ticket at this window."""
        return self.typed(
            TicketOut, self.post(f"/windows/{window_id}/call-next"), "POST /windows/{id}/call-next"
        )

    def next_ticket(self, window_id: int, ticket_id: int, close: str = "finish") -> NextOut:
        """下一位: close the ticket in hand (finish or no_show) and call the next, atomically."""
        answer = self.post(f"/windows/{window_id}/next", {"close": close, "ticket_id": ticket_id})
        return self.typed(NextOut, answer, "POST /windows/{id}/next")

    def call_ticket(self, window_id: int, ticket_id: int) -> TicketOut:
        """Call a chosen ticket."""
        answer = self.post(f"/windows/{window_id}/call", {"ticket_id": ticket_id})
        return self.typed(TicketOut, answer, "POST /windows/{id}/call")

    def call_back(self, window_id: int, ticket_id: int) -> TicketOut:
        """Call a suspended ticket back."""
        answer = self.post(f"/windows/{window_id}/call-back", {"ticket_id": ticket_id})
        return self.typed(TicketOut, answer, "POST /windows/{id}/call-back")

    def transfer(
        self, window_id: int, service_code: str | None = None, to_window_id: int | None = None
    ) -> TicketOut:
        """Transfer the current ticket to another service or window."""
        body: dict[str, Any] = {}
        if service_code:
            body["service_code"] = service_code
        if to_window_id is not None:
            body["window_id"] = to_window_id
        answer = self.post(f"/windows/{window_id}/transfer", body)
        return self.typed(TicketOut, answer, "POST /windows/{id}/transfer")

    def remove_priority(self, ticket_id: int, reason: str) -> TicketOut:
        """POST /tickets/{id}/priority/remove: a self-declared priority the clerk found unjustified."""
        body = RemovePriorityIn(reason=reason).model_dump()
        answer = self.post(f"/tickets/{ticket_id}/priority/remove", body)
        return self.typed(TicketOut, answer, "POST /tickets/{id}/priority/remove")

    # -- ratings, snapshot, events, devices -------------------------------------------------
    def rate(self, rating: dict[str, Any]) -> RatingOut:
        """POST /ratings; the rating's client_id makes a resend idempotent."""
        answer = self.post("/ratings", rating, idempotent="client_id" in rating)
        return self.typed(RatingOut, answer, "POST /ratings")

    def upload_document(
        self, ticket_id: int, jpeg: bytes, label: str | None = None, taken_at: str | None = None
    ) -> DocumentOut:
        """POST /tickets/{id}/documents with the raw JPEG -> the kept document's metadata.

        Retried like a GET: the server keeps one document per ticket and content, so a resend
        after a dropped answer returns the first one. `taken_at` (ISO) lets a photo queued
        offline still be accepted after the ticket left the window.
        """
        params = {k: v for k, v in (("label", label), ("taken_at", taken_at)) if v}
        answer = self.request(
            "POST",
            f"/tickets/{ticket_id}/documents",
            data=jpeg,
            params=params,
            headers={"Content-Type": const.DOCUMENT_CONTENT_TYPE},
            idempotent=True,
            timeout=const.DOCUMENT_HTTP_TIMEOUT,
        )
        return self.typed(DocumentOut, answer, "POST /tickets/{id}/documents")

    def documents(self, ticket_id: int) -> list[DocumentOut]:
        """GET /tickets/{id}/documents: the ticket's kept documents (metadata), oldest first."""
        answer = self.get(f"/tickets/{ticket_id}/documents")
        return self.typed_list(DocumentOut, answer, "GET /tickets/{id}/documents")

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

    def snapshot(self, hall_id: str) -> SnapshotOut:
        """GET /halls/{hall}/snapshot: queues, windows, recent calls and the last seq."""
        return self.typed(SnapshotOut, self.get(f"/halls/{hall_id}/snapshot"), "GET /halls/{hall}/snapshot")

    def events(self, hall_id: str, since: int = 0, limit: int | None = None) -> list[EventOut]:
        """GET /halls/{hall}/events?since=N."""
        answer = self.get(f"/halls/{hall_id}/events", since=since, limit=limit)
        return self.typed_list(EventOut, answer, "GET /halls/{hall}/events")

    def link(self) -> LinkOut:
        """GET /sync/link: this server's link to the city (mode "standalone" on a server that is no
        station; an older server without the route answers 404, taken as standalone too)."""
        try:
            answer = self.get("/sync/link")
        except NotFound as exc:
            if (exc.code or "").startswith("sync."):
                raise
            return LinkOut(mode="standalone")
        return self.typed(LinkOut, answer, "GET /sync/link")

    def call_staff(self, hall_id: str, call_id: str) -> StaffCallOut:
        """POST /halls/{id}/staff-calls: the hall's floor staff are called here (the same call_id is one call)."""
        answer = self.post(f"/halls/{hall_id}/staff-calls", {"call_id": call_id}, idempotent=True)
        return self.typed(StaffCallOut, answer, "POST /halls/{id}/staff-calls")

    def heartbeat(
        self, device_id: str, kind: str, status: str, faults: list[dict[str, str]] | None = None
    ) -> None:
        """POST /devices/heartbeat (a fault list reports printer paper-out and the like)."""
        body = {
            "device_id": device_id,
            "kind": kind,
            "status": status,
            "faults": faults or [],
            "version": const.KIOSK_VERSION,
        }
        self.post("/devices/heartbeat", body, idempotent=True)


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the TCP connection was refused or not made, so the server cannot have acted."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text
