"""Documents (材料留存): the metadata of a photo kept with a ticket (the JPEG itself is raw bytes)."""

from __future__ import annotations

from wire.base import WireOut


class DocumentOut(WireOut):
    """A kept document; `url` serves the decrypted JPEG to the same people who may list it."""

    id: int
    ticket_id: int
    hall_id: str
    window_id: int | None
    window_number: int | None
    clerk_id: int | None
    taken_at: str | None
    content_type: str
    size: int
    sha256: str
    label: str | None
    # False at the city while a station's photo is still on its way (the record came first).
    received: bool = True
    url: str
