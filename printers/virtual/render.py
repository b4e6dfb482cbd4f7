"""Draw a parsed page as the paper would look: text in a CJK font, images pasted, QR codes drawn."""

from __future__ import annotations

import qrcode
from PIL import Image, ImageDraw

from printers.const import CELL_H, DOTS_BY_WIDTH_MM, PAGE_TOP_MARGIN, PAPER_DOTS_BY_WIDTH_MM
from printers.raster import aligned_x, draw_cells, line_advance, text_width_dots
from printers.virtual.model import Bitmap, Feed, Page, QrCode, TextLine

QR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def _line_image(line: TextLine, paper: int) -> Image.Image:
    height = line_advance(line.height, line.spacing)
    img = Image.new("1", (paper, height), 1)
    content = sum(text_width_dots(t, s.width) for t, s in line.runs)
    x = aligned_x(line.align, content, paper)
    for text, style in line.runs:
        # Characters of a shorter size sit on the same bottom line as the tallest ones.
        y = CELL_H * (line.height - style.height)
        start = x
        x = draw_cells(img, x, y, text, style.width, style.height, style.bold)
        box = (start, y, x - 1, y + CELL_H * style.height - 1)
        if style.invert:
            inverted = img.crop(box).point(lambda v: 0 if v else 255, mode="1")
            img.paste(inverted, box[:2])
        if style.underline:
            ImageDraw.Draw(img).line((start, box[3], x - 1, box[3]), fill=0, width=2)
    return img


def _qr_image(item: QrCode) -> Image.Image | None:
    code = qrcode.QRCode(box_size=item.box, border=2, error_correction=QR_LEVELS.get(item.ec, 1))
    try:
        code.add_data(item.data)
        code.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        return None  # a printer prints nothing for a symbol it cannot encode
    return code.make_image().get_image().convert("1")


def render_page(page: Page, paper: int) -> Image.Image:
    """The page as a mode-"1" image exactly as wide as the paper (white = paper, black = dots)."""
    strips: list[Image.Image] = []
    for item in page.items:
        if isinstance(item, TextLine):
            strips.append(_line_image(item, paper))
        elif isinstance(item, Bitmap):
            img = item.image
            if img.width > paper:  # a printer drops dots beyond the print head
                img = img.crop((0, 0, paper, img.height))
            strip = Image.new("1", (paper, img.height), 1)
            strip.paste(img, (aligned_x(item.align, img.width, paper), 0))
            strips.append(strip)
        elif isinstance(item, QrCode):
            qr = _qr_image(item)
            if qr is not None:
                qr = qr.crop((0, 0, min(qr.width, paper), qr.height))
                strip = Image.new("1", (paper, qr.height), 1)
                strip.paste(qr, (aligned_x(item.align, qr.width, paper), 0))
                strips.append(strip)
        elif isinstance(item, Feed) and item.dots > 0:
            strips.append(Image.new("1", (paper, item.dots), 1))
    out = Image.new("1", (paper, max(1, sum(s.height for s in strips))), 1)
    y = 0
    for strip in strips:
        out.paste(strip, (0, y))
        y += strip.height
    return out


def paper_margins(printable: int) -> tuple[int, int]:
    """(left, top) offset of the printable area inside the paper image."""
    for mm, dots in DOTS_BY_WIDTH_MM.items():
        if dots == printable:
            return (PAPER_DOTS_BY_WIDTH_MM[mm] - dots) // 2, PAGE_TOP_MARGIN
    return 0, PAGE_TOP_MARGIN


def paper_image(printed: Image.Image) -> Image.Image:
    """The printed area on a strip of paper with its unprinted margins and a faint edge (greyscale)."""
    left, top = paper_margins(printed.width)
    out = Image.new("L", (printed.width + 2 * left, printed.height + top), 255)
    out.paste(printed.convert("L"), (left, top))
    ImageDraw.Draw(out).rectangle((0, 0, out.width - 1, out.height - 1), outline=200)
    return out
