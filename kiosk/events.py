"""Reconnecting WebSocket event channel with replay from the last sequence number."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from kiosk import const
from kiosk.errors import ConfigError

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Listener = Callable[[Event], None]
StateListener = Callable[[bool], None]


class _Gap(Exception):
    """A sequence number was skipped: reconnect and ask for the missing ones."""


class EventChannel:
    """Follows a hall's event stream in a thread; reconnects with back-off and asks for ?since=last_seq.

    Events reach listeners in sequence order exactly once: anything at or below the last
    delivered seq is dropped (the replay after a reconnect may overlap what was seen).
    """

    def __init__(
        self,
        ws_url: str,
        token: str | None = None,
        since: int = 0,
        *,
        pin: str | None = None,
        backoff_start: float = const.WS_BACKOFF_START_S,
        backoff_max: float = const.WS_BACKOFF_MAX_S,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        # With a pin, wss:// only to the server with that certificate (checked before the token is sent).
        self.pin = pin
        self.last_error: Exception | None = None
        self.last_seq = since
        self.online = False
        self.connects = 0
        # Times the server closed this channel for lagging (each followed by a replay).
        self.lagged = 0
        # Times a replay was refused because its events were archived (4410 events.pruned), and
        # the oldest seq the server still has, from the refusal's body.
        self.pruned = 0
        self._oldest_kept: int | None = None
        self._backoff_start = backoff_start
        self._backoff_max = backoff_max
        self._listeners: list[Listener] = []
        self._state_listeners: list[StateListener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: Any = None
        self._gap_at: int | None = None
        self.gaps = 0

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Add an event listener; returns the function that removes it."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return unsubscribe

    def on_state(self, fn: StateListener) -> Callable[[], None]:
        """Add an online/offline listener; returns the function that removes it."""
        with self._lock:
            self._state_listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._state_listeners:
                    self._state_listeners.remove(fn)

        return unsubscribe

    def start(self) -> None:
        """Start following in a daemon thread."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hall-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread to end."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception:  # closing a broken socket may raise; we are leaving anyway
                logger.debug("close failed", exc_info=True)
        if self._thread:
            self._thread.join(timeout)
        self._set_online(False)

    def _url(self) -> str:
        # The token goes in the Authorization header, never in the URL (URLs end up in access logs).
        params: dict[str, Any] = {"since": self.last_seq}
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}{urlencode(params)}"

    def _connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.token:
            options["additional_headers"] = {"Authorization": f"Bearer {self.token}"}
        if self.pin:
            from kiosk.tls import pinned_context

            if not self.ws_url.startswith("wss://"):
                raise ConfigError(
                    "配置了服务器证书指纹，须使用加密连接", "server_pin is set: wss:// required"
                )
            options["ssl"] = pinned_context(self.pin)
        return options

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        delay = self._backoff_start
        while not self._stop.is_set():
            try:
                with connect(
                    self._url(),
                    open_timeout=const.WS_OPEN_TIMEOUT_S,
                    close_timeout=1,
                    max_size=None,
                    **self._connect_options(),
                ) as ws:
                    self._ws = ws
                    self.last_error = None
                    self.connects += 1
                    self._set_online(True)
                    delay = self._backoff_start
                    for message in ws:
                        if self._stop.is_set():
                            break
                        self._handle(message)
            except ConnectionClosed as exc:
                self._ws = None
                lagged = exc.rcvd is not None and exc.rcvd.code == const.WS_CLOSE_LAGGING
                # Our own keepalive gave up because this kiosk was too busy to read (its pong sat
                # unread behind the events): the same case seen from this side.
                own_timeout = exc.rcvd is None and exc.sent is not None
                lagged = lagged or (own_timeout and exc.sent.code == const.WS_CLOSE_KEEPALIVE)
                if exc.rcvd is not None and exc.rcvd.code == const.WS_CLOSE_PRUNED and self._oldest_kept is not None:
                    # Offline longer than the server keeps events: follow on from what it has
                    # (the screens read their state anew when the channel comes back).
                    logger.warning(
                        "events %d..%d were archived by the server; following from there",
                        self.last_seq + 1,
                        self._oldest_kept,
                    )
                    self.pruned += 1
                    self.last_seq = max(self.last_seq, self._oldest_kept)
                    self._oldest_kept = None
                    continue
                if lagged:
                    # Dropped for reading too slowly: not offline, resume at once with replay.
                    self.lagged += 1
                    logger.info("event channel lagged behind; resuming after seq %s", self.last_seq)
                    continue
                self.last_error = exc
                logger.info("event channel down: %s", exc)
            except _Gap:
                # Not offline: resume at once from the last delivered event.
                self._ws = None
                continue
            except Exception as exc:  # any failure means offline; the loop reconnects
                self.last_error = exc
                logger.info("event channel down: %s", exc)
            finally:
                self._ws = None
            self._set_online(False)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._backoff_max)

    def _handle(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            logger.warning("event channel: not JSON, ignored")
            return
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            error = data["error"]
            if error.get("code") == const.EVENTS_PRUNED:
                self._oldest_kept = int((error.get("detail") or {}).get("oldest_seq") or 0)
            return
        items = data if isinstance(data, list) else [data]
        for ev in items:
            if not isinstance(ev, dict) or not isinstance(ev.get("seq"), int):
                continue  # pings and hellos carry no seq
            if ev["seq"] <= self.last_seq:
                continue
            if ev["seq"] > self.last_seq + 1 and self._gap_at != self.last_seq:
                # Something was lost in between: ask again once; if the server has no such events
                # (pruned), the second answer is accepted as it is.
                self._gap_at = self.last_seq
                self.gaps += 1
                logger.warning("event gap after seq %d (got %d); replaying", self.last_seq, ev["seq"])
                raise _Gap()
            self.last_seq = ev["seq"]
            self.deliver(ev)

    def deliver(self, ev: Event) -> None:
        """Hand one event to every listener; a failing listener does not stop the others."""
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(ev)
            except Exception:
                logger.exception("event listener failed")

    def _set_online(self, online: bool) -> None:
        if online == self.online:
            return
        self.online = online
        with self._lock:
            listeners = list(self._state_listeners)
        for fn in listeners:
            try:
                fn(online)
            except Exception:
                logger.exception("state listener failed")
