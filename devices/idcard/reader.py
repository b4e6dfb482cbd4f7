"""The reader interface every ID/social-security card driver implements, with the shared wait/watch loops."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType

from devices.const import MIN_POLL_INTERVAL
from devices.errors import CardRemoved, DeviceError, ReaderDisconnected
from devices.idcard.model import IdCard

logger = logging.getLogger(__name__)

# How long watch() waits between attempts to reopen a reader that went away.
REOPEN_INTERVAL = 1.0


class CardReader(ABC):
    """open/close, wait_for_card, read, watch; subclasses supply probe() and read()."""

    def __init__(self, *, poll_interval: float = MIN_POLL_INTERVAL) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        # Hardware wants >= 0.3 s between polls; tests against simulators may go faster.
        self.poll_interval = poll_interval
        self.reopen_interval = REOPEN_INTERVAL

    @abstractmethod
    def open(self) -> None:
        """Open the device."""

    @abstractmethod
    def close(self) -> None:
        """Close the device (safe to call twice)."""

    @abstractmethod
    def probe(self) -> bool:
        """One poll: True if a card is in the field and ready to read; device faults raise."""

    @abstractmethod
    def read(self) -> IdCard:
        """Read the card in the field (NoCard if there is none)."""

    def __enter__(self) -> CardReader:
        self.open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_for_card(self, timeout: float | None, cancel: threading.Event | None = None) -> bool:
        """Poll until a card is ready (True), or `timeout` passes / `cancel` is set (False)."""
        cancel = cancel or threading.Event()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not cancel.is_set():
            started = time.monotonic()
            if self.probe():
                return True
            now = time.monotonic()
            next_poll = started + self.poll_interval
            if deadline is not None and next_poll > deadline:
                # No room for another poll at the allowed rate: wait out the timeout, don't poll early.
                cancel.wait(max(0.0, deadline - now))
                return False
            if cancel.wait(max(0.0, next_poll - now)):
                break
        return False

    @staticmethod
    def _deliver(on_card: Callable[[IdCard], None], card: IdCard) -> None:
        # A failing callback must not stop the reader loop.
        try:
            on_card(card)
        except Exception:
            logger.exception("on_card callback failed")

    def watch(
        self,
        on_card: Callable[[IdCard], None],
        on_error: Callable[[DeviceError], None] | None = None,
        stop: threading.Event | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        """Report each placement once until `stop` is set; faults go to on_error, never out of the loop.

        `on_state` hears "offline" when the reader goes away and "ready" when it is back.

        A card is reported again only after a poll found the field empty, so a card left lying on
        the reader is read once, and a card pulled mid-read (CardRemoved) must be put back. A reader
        that goes away is reported once, then reopened quietly.
        """
        stop = stop or threading.Event()
        on_error = on_error or (lambda exc: logger.warning("reader fault: %s", exc))
        armed = True
        disconnected = False
        while not stop.is_set():
            started = time.monotonic()
            interval = self.poll_interval
            try:
                if disconnected:
                    self.open()
                    disconnected = False
                    # A reader that comes back starts with a fresh field.
                    armed = True
                    logger.info("reader is back")
                    if on_state:
                        on_state("ready")
                if not self.probe():
                    armed = True
                elif armed:
                    card = self.read()
                    armed = False
                    self._deliver(on_card, card)
            except ReaderDisconnected as exc:
                if not disconnected:
                    disconnected = True
                    self.close()
                    if on_state:
                        on_state("offline")
                    on_error(exc)
                interval = max(interval, self.reopen_interval)
            except CardRemoved as exc:
                # Report the next card only after a poll saw the field empty: a reader's own view of
                # the field may lag (pcscd polls), and a half-read card must be put back anyway.
                armed = False
                on_error(exc)
            except DeviceError as exc:
                if disconnected:
                    # Still unplugged: reopening keeps failing quietly.
                    interval = max(interval, self.reopen_interval)
                else:
                    on_error(exc)
            stop.wait(max(0.0, started + interval - time.monotonic()))
