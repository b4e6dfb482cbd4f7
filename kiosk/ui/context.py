"""Everything a role screen needs, built once per machine: client, events, runner, devices."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiosk.api import HallClient
from kiosk.config import KioskConfig
from kiosk.events import EventChannel
from kiosk.hardware import Camera, IdReaderService, TicketPrinter
from kiosk.tasks import TaskRunner
from wire import HallDetailOut

logger = logging.getLogger(__name__)


class EventBridge(QObject):
    """Carries the event channel's callbacks (on its thread) to the Qt thread as signals."""

    event = Signal(dict)  # the hall's events as the socket sends them (JSON objects)
    online_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.channel: EventChannel | None = None
        self._unsubs: list[Any] = []
        self.online = False
        self.online_changed.connect(self._remember)

    def _remember(self, online: bool) -> None:
        self.online = online

    def attach(self, channel: EventChannel) -> None:
        """Follow a (new) channel; the previous one is stopped."""
        self.detach()
        self.channel = channel
        self._unsubs = [channel.subscribe(self.event.emit), channel.on_state(self.online_changed.emit)]
        channel.start()

    def detach(self) -> None:
        """Stop following."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs = []
        if self.channel:
            self.channel.stop()
            self.channel = None


@dataclass
class AppContext:
    """The per-machine services shared by the screens of a role (or all roles of a village station)."""

    config: KioskConfig
    client: HallClient
    runner: TaskRunner
    events: EventBridge
    reader: IdReaderService | None = None
    printer: TicketPrinter | None = None
    camera: Camera | None = None
    hall: HallDetailOut | None = None  # GET /halls/{hall}, once a screen has loaded it
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def hall_id(self) -> str:
        """The configured hall."""
        return self.config.hall

    @property
    def hall_name(self) -> str:
        """The hall's name for headers and tickets."""
        return (self.hall.name if self.hall else "") or self.config.hall

    def client_for(self, role: str) -> HallClient:
        """A client with this role's token (village stations hold one per role); shared when equal."""
        token = self.config.tokens.get(role)
        if not token or token == self.client.token:
            return self.client
        key = f"client:{role}"
        if key not in self.extras:
            self.extras[key] = self.client.spawn(token)
        return self.extras[key]

    def start_events(self, since: int, token: str | None = None) -> None:
        """Follow the hall's events from `since` with this token (the clerk's after log-in)."""
        ws = self.client.ws_url(f"/halls/{self.hall_id}/events/ws")
        self.events.attach(EventChannel(ws, token or self.client.token, since, pin=self.client.pin))

    def close(self) -> None:
        """Stop threads; leave no background work behind."""
        monitor = self.extras.get("monitor")
        if monitor is not None:
            monitor.stop()
        link = self.extras.get("link")
        if link is not None:
            link.stop()
        self.events.detach()
        if self.reader:
            self.reader.stop()
        self.runner.shutdown()
        self.client.close()
