"""Building role screens against the test server, and reading the server's side of the story."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from kiosk.app import build_context, close_context, create_screen
from kiosk.config import KioskConfig, PrinterSettings, VoiceSettings
from wire import TicketOut

HALL = "t-hall"


def make_config(role: str, url: str, data_dir: Path, **kw: Any) -> KioskConfig:
    """A machine configuration pointing at the test server (no zeroconf)."""
    printer = kw.pop("printer", PrinterSettings())
    voice = kw.pop("voice", VoiceSettings(repeats=2, speaker="none"))
    return KioskConfig(
        role=role, hall=HALL, server=url, data_dir=str(data_dir), printer=printer, voice=voice, **kw
    )


def village_config(
    kserver: Any, data_dir: Path, window: int = 2, login: bool = True, **kw: Any
) -> KioskConfig:
    """A village station at the shared test server's window `window` (its clerk's log-in if login)."""
    if login:
        kw.setdefault("username", f"clerk{window}")
        kw.setdefault("password", f"test-pass-{window}")
    return make_config(
        "village",
        kserver.url,
        data_dir,
        token=kserver.kiosk_token,
        tokens={"rating": kserver.rating_token(window)},
        window_id=kserver.windows[window]["id"],
        **kw,
    )


def ticket_out(**over: Any) -> TicketOut:
    """A ticket as the server answers it (a waiting kiosk ticket unless `over` says otherwise)."""
    fields: dict[str, Any] = {
        "id": 1,
        "hall_id": HALL,
        "number": "A001",
        "prefix": "A",
        "group": "A",
        "service_code": "T-001",
        "service_name": "社会保障卡申领",
        "status": "waiting",
        "priority": False,
        "green_reason": None,
        "appointment_id": None,
        "channel": "kiosk",
        "business_day": "2026-11-26",
        "issued_at": None,
        "called_at": None,
        "started_at": None,
        "finished_at": None,
        "window_id": None,
        "window_number": None,
        "bound_window_id": None,
        "recall_count": 0,
        "transfer_count": 0,
        "people_ahead": 0,
        "estimated_wait_minutes": None,
        "track_token": "tok",
        "track_url": "http://hall.test/t/tok",
        "holder": None,
        **over,
    }
    return TicketOut(**fields)


class Role:
    """One role's context and widget; close() stops its threads."""

    def __init__(
        self, qtbot: Any, cfg: KioskConfig, speaker: Any = None, size: tuple[int, int] = (1920, 1080)
    ):
        self.ctx = build_context(cfg)
        self.widget = create_screen(self.ctx, speaker=speaker)
        qtbot.addWidget(self.widget)
        self.widget.resize(*size)
        self.widget.show()

    def wait_ready(self, qtbot: Any, timeout: int = 20000) -> None:
        qtbot.waitUntil(lambda: bool(self.widget.is_ready), timeout=timeout)

    def close(self) -> None:
        self.widget.close()
        close_context(self.ctx)


def events(url: str, token: str, since: int = 0) -> list[dict[str, Any]]:
    """Every event of the test hall after `since`, read through the API."""
    out: list[dict[str, Any]] = []
    while True:
        r = requests.get(
            f"{url}/api/v1/halls/{HALL}/events",
            params={"since": since, "limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        page = r.json()
        if not page:
            return out
        out.extend(page)
        since = max(e["seq"] for e in page)


def ticket_events(evs: list[dict[str, Any]], ticket_id: int) -> list[str]:
    """The types of the events that concern one ticket, in order."""
    out = []
    for e in evs:
        p = e.get("payload") or {}
        tid = (
            (p.get("ticket") or {}).get("id")
            or p.get("ticket_id")
            or (p.get("rating") or {}).get("ticket_id")
        )
        if tid == ticket_id:
            out.append(e["type"])
    return out
