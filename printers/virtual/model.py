"""What the virtual printer has put on paper: text lines, bitmaps, QR codes, feeds, grouped in pages."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PIL import Image


@dataclass(frozen=True)
class Style:
    """Character style in force when a character was printed."""

    bold: bool = False
    width: int = 1
    height: int = 1
    underline: bool = False
    invert: bool = False
    font_b: bool = False

    def with_(self, **changes: object) -> Style:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class TextLine:
    """One printed line of text: runs of (text, style) and the justification it was printed with."""

    runs: list[tuple[str, Style]]
    align: str = "left"
    spacing: int = 30

    @property
    def text(self) -> str:
        """The decoded characters of the line."""
        return "".join(t for t, _ in self.runs)

    @property
    def height(self) -> int:
        """Tallest magnification on the line."""
        return max((s.height for _, s in self.runs), default=1)


@dataclass
class Bitmap:
    """A raster or column image as printed (mode "1", 0 = black dot)."""

    image: Image.Image
    align: str = "left"


@dataclass
class QrCode:
    """A QR code printed with the printer's own GS ( k command."""

    data: bytes
    box: int = 3
    ec: str = "L"
    align: str = "left"


@dataclass
class Feed:
    """Paper fed without printing, in dots."""

    dots: int


Item = TextLine | Bitmap | QrCode | Feed


@dataclass
class Page:
    """Everything printed between two cuts."""

    items: list[Item] = field(default_factory=list)
    cut: bool = False

    @property
    def text_lines(self) -> list[str]:
        """Decoded text of every text line, in order."""
        return [i.text for i in self.items if isinstance(i, TextLine)]

    @property
    def empty(self) -> bool:
        """True when nothing visible has been printed on the page yet."""
        return not any(
            isinstance(i, (Bitmap, QrCode)) or (isinstance(i, TextLine) and i.text.strip())
            for i in self.items
        )
