"""An incremental ESC/POS parser: bytes in, printed pages out; unknown commands are skipped safely."""

from __future__ import annotations

import codecs
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from printers.const import CELL_H, CELL_W, DEFAULT_LINE_SPACING
from printers.errors import EscPosParseError
from printers.virtual.model import Bitmap, Feed, Page, QrCode, Style, TextLine

logger = logging.getLogger(__name__)

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
NEED_MORE = 0

# Code pages selected with ESC t n, as Python codecs (the common Epson table).
CODEPAGES: dict[int, str] = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737",
    15: "iso8859_7", 16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 21: "cp874", 32: "cp720",
    33: "cp775", 34: "cp855", 35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869", 39: "iso8859_2",
    40: "iso8859_15", 44: "cp1125", 45: "cp1250", 46: "cp1251", 47: "cp1253", 48: "cp1254",
    49: "cp1255", 50: "cp1256", 51: "cp1257", 52: "cp1258", 53: "kz1048",
}  # fmt: skip
ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}
QR_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}
# Commands with one parameter byte (3 bytes in all), and with two (4 bytes).
ESC_ONE = set(b"!-3EGJKMRTUVa{dert %=?")
ESC_TWO = set(b"B$\\")
GS_ONE = set(b"!BbHhwfaIrjTE/")
GS_TWO = set(b"LWP$\\")
# Sanity limits: a receipt printer never receives images wider than a roll or absurdly tall.
MAX_IMAGE_WIDTH = 2048
MAX_IMAGE_HEIGHT = 8192
MAX_PAGE_DOTS = 30000
MAX_QR_DATA = 7089


@dataclass
class FeedResult:
    """Pages completed by a chunk of bytes, and the status bytes the printer must send back."""

    pages: list[Page] = field(default_factory=list)
    replies: bytes = b""


class EscPosParser:
    """Parse a byte stream as a receipt printer would; state persists across chunks and connections."""

    def __init__(
        self,
        width_dots: int = 576,
        chinese_default: bool = True,
        status: Callable[[int], int] | None = None,
        strict: bool = False,
    ) -> None:
        self.width_dots = width_dots
        self.chinese_default = chinese_default
        self.status = status or (lambda n: 0x12)
        self.strict = strict
        self.discarding = False
        self.problems: list[EscPosParseError] = []
        self.buf = bytearray()
        self._reset()
        self.page = Page()
        self._result = FeedResult()

    # ---- state -------------------------------------------------------------------------
    def _reset(self) -> None:
        """ESC @: default modes; the line being assembled is dropped like a real buffer clear."""
        self.style = Style()
        self.align = "left"
        self.chinese = self.chinese_default
        self.codepage = "cp437"
        self.spacing = DEFAULT_LINE_SPACING
        self.runs: list[tuple[str, Style]] = []
        self.line_dots = 0
        self.qr_box, self.qr_ec, self.qr_data = 3, "L", b""

    def _problem(self, message: str) -> None:
        err = EscPosParseError(message, message_zh=f"打印数据格式错误：{message}")
        self.problems.append(err)
        logger.warning("virtual printer skipped malformed data: %s", message)
        if self.strict:
            raise err

    # ---- output ------------------------------------------------------------------------
    def _add(self, item: TextLine | Bitmap | QrCode | Feed) -> None:
        if self.discarding:
            return
        self.page.items.append(item)
        if self._page_dots() > MAX_PAGE_DOTS:
            self._problem("page longer than the roll allows without a cut; cutting")
            self._cut()

    def _page_dots(self) -> int:
        total = 0
        for i in self.page.items:
            if isinstance(i, TextLine):
                total += max(i.spacing, CELL_H * i.height)
            elif isinstance(i, Bitmap):
                total += i.image.height
            elif isinstance(i, Feed):
                total += i.dots
            else:
                total += 200
        return total

    def _newline(self) -> None:
        if self.runs:
            self._add(TextLine(self.runs, self.align, self.spacing))
        else:
            self._add(Feed(max(self.spacing, 1)))
        self.runs, self.line_dots = [], 0

    def _flush_line(self) -> None:
        """Print pending text before an image or cut (printers do this implicitly)."""
        if self.runs:
            self._newline()

    def _cut(self) -> None:
        self._flush_line()
        if not self.page.empty:
            self.page.cut = True
            self._result.pages.append(self.page)
        self.page = Page()

    def _char(self, ch: str) -> None:
        if self.discarding:
            return
        cells = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        dots = cells * (9 if self.style.font_b and cells == 1 else CELL_W) * self.style.width
        if self.line_dots + dots > self.width_dots and self.runs:
            self._newline()  # the printer wraps when the line is full
        if self.runs and self.runs[-1][1] == self.style:
            self.runs[-1] = (self.runs[-1][0] + ch, self.style)
        else:
            self.runs.append((ch, self.style))
        self.line_dots += dots

    def set_discarding(self, on: bool) -> None:
        """Paper out or cover open: print data is thrown away and the unfinished page is lost."""
        if on and not self.discarding:
            self.runs, self.line_dots = [], 0
            self.page = Page()
        self.discarding = on

    # ---- feeding -----------------------------------------------------------------------
    def feed(self, data: bytes) -> FeedResult:
        """Consume bytes; returns completed pages and status replies (incomplete commands wait)."""
        self._result = FeedResult()
        self.buf += data
        pos = 0
        try:
            while pos < len(self.buf):
                used = self._step(pos)
                if used == NEED_MORE:
                    break
                pos += used
        finally:
            del self.buf[:pos]
        return self._result

    def finish(self) -> FeedResult:
        """The stream ended: drop an incomplete command; uncut content is delivered as a page."""
        self._result = FeedResult()
        if self.buf:
            self._problem(f"stream ended inside a command ({len(self.buf)} bytes dropped)")
            self.buf.clear()
        self._cut()
        return self._result

    def _need(self, pos: int, n: int) -> bool:
        return pos + n <= len(self.buf)

    def _step(self, pos: int) -> int:
        b = self.buf[pos]
        if b == 0x0A or b == 0x0C:
            self._newline()
            return 1
        if b == ESC:
            return self._esc(pos)
        if b == GS:
            return self._gs(pos)
        if b == FS:
            return self._fs(pos)
        if b == DLE:
            return self._dle(pos)
        if b == 0x09:
            for _ in range(8 - (self.line_dots // CELL_W) % 8):
                self._char(" ")
            return 1
        if b < 0x20 or b == 0x7F:
            return 1  # CR, NUL and other controls do nothing on a line printer
        return self._text(pos)

    def _text(self, pos: int) -> int:
        b = self.buf[pos]
        if b < 0x80:
            self._char(chr(b))
            return 1
        if not self.chinese:
            self._char(bytes([b]).decode(self.codepage, errors="replace"))
            return 1
        # GB18030: lead byte 0x81-0xFE, then 0x40-0xFE (two bytes) or 0x30-0x39 + two more (four).
        if not self._need(pos, 2):
            return NEED_MORE
        second = self.buf[pos + 1]
        length = 4 if 0x30 <= second <= 0x39 else 2
        if not self._need(pos, length):
            return NEED_MORE
        raw = bytes(self.buf[pos : pos + length])
        try:
            ch = codecs.decode(raw, "gb18030")
        except UnicodeDecodeError:
            self._char("?")
            return 1
        for c in ch:
            self._char(c)
        return length

    # ---- DLE ---------------------------------------------------------------------------
    def _dle(self, pos: int) -> int:
        if not self._need(pos, 2):
            return NEED_MORE
        cmd = self.buf[pos + 1]
        if cmd in (0x04, 0x05):  # DLE EOT n: real-time status; DLE ENQ n: real-time request
            if not self._need(pos, 3):
                return NEED_MORE
            n = self.buf[pos + 2]
            if cmd == 0x04 and 1 <= n <= 4:
                self._result.replies += bytes([self.status(n) & 0xFF])
            return 3
        if cmd == 0x14:  # DLE DC4 fn ...: pulse / power-off take 5 bytes, buffer clear 10
            if not self._need(pos, 3):
                return NEED_MORE
            length = 10 if self.buf[pos + 2] == 8 else 5
            return length if self._need(pos, length) else NEED_MORE
        return 1

    # ---- ESC ---------------------------------------------------------------------------
    def _esc(self, pos: int) -> int:
        if not self._need(pos, 2):
            return NEED_MORE
        cmd = self.buf[pos + 1]
        c = chr(cmd)
        if c == "@":
            self._reset()
            return 2
        if c == "2":
            self.spacing = DEFAULT_LINE_SPACING
            return 2
        if c == "*":
            return self._esc_star(pos)
        if c == "&":
            return self._esc_user_chars(pos)
        if c == "D":  # tab positions, NUL-terminated (at most 32)
            end = self.buf.find(0, pos + 2, pos + 2 + 33)
            if end < 0:
                return NEED_MORE if len(self.buf) - pos < 35 else 2
            return end - pos + 1
        if c == "c":  # ESC c 3 n / ESC c 4 n / ESC c 5 n
            return 4 if self._need(pos, 4) else NEED_MORE
        if c == "p":  # drawer pulse ESC p m t1 t2
            return 5 if self._need(pos, 5) else NEED_MORE
        if c == "W":  # page-mode print area: 8 parameter bytes
            return 10 if self._need(pos, 10) else NEED_MORE
        if c in "im":  # old partial cut
            self._cut()
            return 2
        if cmd in ESC_TWO:
            return 4 if self._need(pos, 4) else NEED_MORE
        if cmd in ESC_ONE:
            if not self._need(pos, 3):
                return NEED_MORE
            self._esc_one(c, self.buf[pos + 2])
            return 3
        return 2

    def _esc_one(self, c: str, n: int) -> None:
        if c == "!":
            self._flush_style(
                font_b=bool(n & 1),
                bold=bool(n & 8),
                height=2 if n & 16 else 1,
                width=2 if n & 32 else 1,
                underline=bool(n & 128),
            )
        elif c in "EG":
            self._flush_style(bold=bool(n & 1))
        elif c == "-":
            self._flush_style(underline=n in (1, 2, 49, 50))
        elif c == "M":
            self._flush_style(font_b=n in (1, 49))
        elif c == "a":
            self.align = ALIGN.get(n, self.align)
        elif c == "3":
            self.spacing = n
        elif c == "t":
            self.codepage = CODEPAGES.get(n, "cp437")
        elif c == "d":
            self._flush_line()
            self._add(Feed(self.spacing * n))
        elif c == "J":
            self._flush_line()
            self._add(Feed(n))

    def _flush_style(self, **changes: object) -> None:
        self.style = self.style.with_(**changes)

    def _esc_star(self, pos: int) -> int:
        """ESC * m nL nH d...: one band of a column-format bit image (8 or 24 dots tall)."""
        if not self._need(pos, 5):
            return NEED_MORE
        m, width = self.buf[pos + 2], self.buf[pos + 3] + 256 * self.buf[pos + 4]
        rows = 3 if m in (32, 33) else 1
        if m not in (0, 1, 32, 33) or width > MAX_IMAGE_WIDTH:
            self._problem(f"ESC * with mode {m} and width {width}")
            return 5
        total = 5 + width * rows
        if not self._need(pos, total):
            return NEED_MORE
        data = bytes(self.buf[pos + 5 : pos + total])
        # Column bytes run top to bottom, most significant bit first; make a row-major image.
        img = Image.frombytes("1", (rows * 8, width), data) if width else None
        if img is not None:
            band = img.transpose(Image.Transpose.TRANSPOSE)
            if m in (0, 32):  # single density: each dot is two dots wide
                band = band.resize((width * 2, band.height))
            self._flush_line()
            self._add(Bitmap(_ink_to_paper(band), self.align))
        return total

    def _esc_user_chars(self, pos: int) -> int:
        """ESC & y c1 c2 [x d1..d(y*x)]...: user-defined characters; parsed only to be skipped."""
        if not self._need(pos, 5):
            return NEED_MORE
        y, c1, c2 = self.buf[pos + 2], self.buf[pos + 3], self.buf[pos + 4]
        if c2 < c1 or y > 3:
            self._problem("ESC & with an invalid character range")
            return 5
        at = pos + 5
        for _ in range(c2 - c1 + 1):
            if not self._need(at, 1):
                return NEED_MORE
            at += 1 + y * self.buf[at]
        return at - pos if at <= len(self.buf) else NEED_MORE

    # ---- FS ----------------------------------------------------------------------------
    def _fs(self, pos: int) -> int:
        if not self._need(pos, 2):
            return NEED_MORE
        c = chr(self.buf[pos + 1])
        if c == "&":
            self.chinese = True
            return 2
        if c == ".":
            self.chinese = False
            return 2
        if c in "!CW-":
            return 3 if self._need(pos, 3) else NEED_MORE
        if c in "Sp":
            return 4 if self._need(pos, 4) else NEED_MORE
        if c == "2":  # FS 2 c1 c2 + 72 bytes of a user-defined Kanji
            return 76 if self._need(pos, 76) else NEED_MORE
        if c == "q":  # FS q n [xL xH yL yH d1..dk]*n: define NV images (skipped)
            if not self._need(pos, 3):
                return NEED_MORE
            at = pos + 3
            for _ in range(self.buf[pos + 2]):
                if not self._need(at, 4):
                    return NEED_MORE
                at += (
                    4
                    + (self.buf[at] + 256 * self.buf[at + 1])
                    * (self.buf[at + 2] + 256 * self.buf[at + 3])
                    * 8
                )
            return at - pos if at <= len(self.buf) else NEED_MORE
        return 2

    # ---- GS ----------------------------------------------------------------------------
    def _gs(self, pos: int) -> int:
        if not self._need(pos, 2):
            return NEED_MORE
        c = chr(self.buf[pos + 1])
        if c == "v":
            return self._gs_v0(pos)
        if c == "(":
            return self._gs_paren(pos)
        if c == "V":
            if not self._need(pos, 3):
                return NEED_MORE
            m = self.buf[pos + 2]
            length = 4 if m in (65, 66, 97, 98, 103, 104) else 3
            if not self._need(pos, length):
                return NEED_MORE
            if length == 4:
                self._flush_line()
                self._add(Feed(self.buf[pos + 3]))
            self._cut()
            return length
        if c == "k":
            return self._gs_k(pos)
        if c == "8":  # GS 8 L p1 p2 p3 p4 ...: large graphics data, skipped by its 4-byte length
            if not self._need(pos, 7):
                return NEED_MORE
            size = int.from_bytes(self.buf[pos + 3 : pos + 7], "little")
            if size > MAX_IMAGE_WIDTH * MAX_IMAGE_HEIGHT // 8:
                self._problem(f"GS 8 L block of {size} bytes")
                return 7
            return 7 + size if self._need(pos, 7 + size) else NEED_MORE
        if c == "*":  # GS * x y d..(x*y*8): download a bit image (skipped)
            if not self._need(pos, 4):
                return NEED_MORE
            length = 4 + self.buf[pos + 2] * self.buf[pos + 3] * 8
            return length if self._need(pos, length) else NEED_MORE
        if ord(c) in GS_TWO:
            return 4 if self._need(pos, 4) else NEED_MORE
        if ord(c) in GS_ONE:
            if not self._need(pos, 3):
                return NEED_MORE
            n = self.buf[pos + 2]
            if c == "!":
                self._flush_style(width=(n >> 4 & 7) + 1, height=(n & 7) + 1)
            elif c == "B":
                self._flush_style(invert=bool(n & 1))
            return 3
        return 2

    def _gs_v0(self, pos: int) -> int:
        """GS v 0 m xL xH yL yH d...: a raster bit image, row by row, MSB is the left dot."""
        if not self._need(pos, 8):
            return NEED_MORE
        if self.buf[pos + 2] not in (0x30, 0x00):
            return 3
        m = self.buf[pos + 3]
        xbytes = self.buf[pos + 4] + 256 * self.buf[pos + 5]
        height = self.buf[pos + 6] + 256 * self.buf[pos + 7]
        if xbytes * 8 > MAX_IMAGE_WIDTH or height > MAX_IMAGE_HEIGHT:
            self._problem(f"GS v 0 image of {xbytes * 8}x{height} dots")
            return 8
        total = 8 + xbytes * height
        if not self._need(pos, total):
            return NEED_MORE
        if xbytes and height:
            img = Image.frombytes("1", (xbytes * 8, height), bytes(self.buf[pos + 8 : pos + total]))
            if m & 1:  # double width
                img = img.resize((img.width * 2, img.height))
            if m & 2:  # double height
                img = img.resize((img.width, img.height * 2))
            self._flush_line()
            self._add(Bitmap(_ink_to_paper(img), self.align))
        return total

    def _gs_paren(self, pos: int) -> int:
        """GS ( fn pL pH ...: QR codes (fn k), graphics (fn L); other functions skipped by length."""
        if not self._need(pos, 5):
            return NEED_MORE
        fn = chr(self.buf[pos + 2])
        length = self.buf[pos + 3] + 256 * self.buf[pos + 4]
        total = 5 + length
        if not self._need(pos, total):
            return NEED_MORE
        body = bytes(self.buf[pos + 5 : pos + total])
        if fn == "k" and len(body) >= 2 and body[0] == 49:
            self._qr(body[1], body[2:])
        elif fn == "L" and len(body) >= 2:
            self._graphics(body)
        return total

    def _qr(self, fn: int, args: bytes) -> None:
        if fn == 67 and args:  # module size
            self.qr_box = max(1, min(16, args[0]))
        elif fn == 69 and args:  # error correction level
            self.qr_ec = QR_EC.get(args[0], "L")
        elif fn == 80 and args:  # store data (first byte is m = 48)
            data = args[1:]
            if len(data) > MAX_QR_DATA:
                self._problem("QR data longer than a QR code holds")
                data = b""
            self.qr_data = data
        elif fn == 81 and self.qr_data:  # print the stored symbol
            self._flush_line()
            self._add(QrCode(self.qr_data, self.qr_box, self.qr_ec, self.align))

    def _graphics(self, body: bytes) -> None:
        """GS ( L fn 112: store a raster graphic; fn 50 prints it (we print it on store)."""
        m, fn = body[0], body[1]
        if m != 48 or fn != 112 or len(body) < 10:
            return
        xm, ym = body[4], body[5]
        width = body[6] + 256 * body[7]
        height = body[8] + 256 * body[9]
        data = body[10:]
        xbytes = (width + 7) // 8
        if width > MAX_IMAGE_WIDTH or height > MAX_IMAGE_HEIGHT or len(data) < xbytes * height:
            self._problem(f"GS ( L graphic of {width}x{height} dots with {len(data)} bytes")
            return
        if width and height:
            img = Image.frombytes("1", (xbytes * 8, height), data[: xbytes * height]).crop(
                (0, 0, width, height)
            )
            if xm == 50 or ym == 50:
                img = img.resize((img.width * (2 if xm == 50 else 1), img.height * (2 if ym == 50 else 1)))
            self._flush_line()
            self._add(Bitmap(_ink_to_paper(img), self.align))

    def _gs_k(self, pos: int) -> int:
        """GS k m ...: a barcode; printed as its human-readable digits in brackets."""
        if not self._need(pos, 3):
            return NEED_MORE
        m = self.buf[pos + 2]
        if m <= 6:
            end = self.buf.find(0, pos + 3, pos + 3 + 256)
            if end < 0:
                return NEED_MORE if len(self.buf) - pos < 259 else 3
            data, total = bytes(self.buf[pos + 3 : end]), end - pos + 1
        else:
            if not self._need(pos, 4):
                return NEED_MORE
            total = 4 + self.buf[pos + 3]
            if not self._need(pos, total):
                return NEED_MORE
            data = bytes(self.buf[pos + 4 : pos + total])
        self._flush_line()
        for ch in f"|||| {data.decode('latin-1')} ||||":
            self._char(ch)
        self._newline()
        return total


def _ink_to_paper(img: Image.Image) -> Image.Image:
    """ESC/POS bit 1 is a black dot; on a mode-"1" picture 1 is white: invert."""
    return img.point(lambda v: 0 if v else 255, mode="1")
