"""PrinterConfig: which printer, how it is connected, and how tickets are rendered for it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from printers.const import CONNECT_TIMEOUT_S, DOTS_BY_WIDTH_MM, STATUS_TIMEOUT_S

Kind = Literal["network", "usb", "serial", "cups", "file", "dummy"]
Mode = Literal["text", "raster"]
KINDS: tuple[str, ...] = ("network", "usb", "serial", "cups", "file", "dummy")


@dataclass(frozen=True)
class PrinterConfig:
    """A receipt printer: `target` is host[:port], vid:pid, /dev/ttyS0[?baud=], a CUPS queue or a path."""

    kind: Kind = "dummy"
    target: str = ""
    mode: Mode = "text"
    width_mm: int = 80
    native_qr: bool = False
    connect_timeout: float = CONNECT_TIMEOUT_S
    status_timeout: float = STATUS_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"printer kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.mode not in ("text", "raster"):
            raise ValueError(f"printer mode must be 'text' or 'raster', not {self.mode!r}")
        if self.width_mm not in DOTS_BY_WIDTH_MM:
            raise ValueError(f"paper width must be 58 or 80 mm, not {self.width_mm}")
        if self.kind == "usb" and not re.fullmatch(r"[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}", self.target):
            raise ValueError(
                f"a USB printer target is vendor:product in hex (e.g. 0416:5011), not {self.target!r}"
            )

    @property
    def dots(self) -> int:
        """Printable dots across the paper."""
        return DOTS_BY_WIDTH_MM[self.width_mm]

    @classmethod
    def from_url(cls, url: str) -> PrinterConfig:
        """Parse `network://10.0.0.5:9100?mode=raster&width=58`, `usb://04b8:0e15`, `file:///dev/usb/lp0`."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        kind = parts.scheme
        if kind == "file":
            target = parts.path
        elif kind == "serial":
            target = parts.path + (f"?baud={query['baud']}" if "baud" in query else "")
        else:
            target = parts.netloc + (parts.path if kind == "cups" else "")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            target=target.strip("/") if kind in ("cups",) else target,
            mode=query.get("mode", "text"),  # type: ignore[arg-type]
            width_mm=int(query.get("width", 80)),
            native_qr=query.get("native_qr", "0") in ("1", "true", "yes"),
        )
