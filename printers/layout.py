"""What a ticket, a service guide slip and a plain receipt show; pure data, no printer knowledge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TicketLayout:
    """A queue ticket as the visitor takes it from the kiosk."""

    hall_name: str
    number: str
    service_name: str
    people_ahead: int
    estimated_wait_minutes: int | None
    issued_at: datetime
    qr_url: str | None
    notes: Sequence[str] = ()
    # Where to go, as a sentence (请到7–9号窗口); printed under the number.
    window_hint: str | None = None
    priority_label: str | None = None
    holder_masked: str | None = None
    # Chinese only unless the visitor switched the kiosk to English: then every label carries its
    # English too, and window_hint_en says where to go.
    english: bool = False
    window_hint_en: str | None = None

    def __post_init__(self) -> None:
        if not self.number.strip():
            raise ValueError("a ticket needs a number")
        if self.people_ahead < 0:
            raise ValueError("people_ahead cannot be negative")


@dataclass(frozen=True)
class Material:
    """One line of a materials checklist (材料清单)."""

    name: str
    originals: int = 1
    copies: int = 0
    note: str = ""


@dataclass(frozen=True)
class GuideSlip:
    """A service guide slip (办事指南): materials to bring, time limit, steps."""

    hall_name: str
    service_name: str
    materials: Sequence[str | Material]
    steps: Sequence[str] = ()
    time_limit: str = ""
    notes: Sequence[str] = ()
    qr_url: str | None = None
    # Every other field of the guide (八统一) as labelled lines: 事项编码, 实施部门, 设定依据 ...
    details: Sequence[tuple[str, str]] = ()
    # What version of the guide this is, e.g. "第3版，2026-12-07起施行".
    version: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    """One row of a receipt: a label on the left and a value on the right."""

    label: str
    value: str = ""


@dataclass(frozen=True)
class ReceiptLayout:
    """A plain receipt, e.g. a person's matters and their status."""

    title: str
    lines: Sequence[str | ReceiptLine]
    hall_name: str = ""
    footer: Sequence[str] = ()
    printed_at: datetime | None = None
