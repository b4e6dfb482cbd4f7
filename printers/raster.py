"""Draw printer-cell text and whole tickets with Pillow and a CJK font, as a thermal printer would."""

from __future__ import annotations

import functools

import qrcode
from PIL import Image, ImageDraw

from printers.blocks import Block, Feed, Qr, Rule, Text, char_cells, text_cells
from printers.const import CELL_H, CELL_W, DEFAULT_LINE_SPACING, DOTS_BY_WIDTH_MM
from printers.fonts import font_for

# Noto CJK puts ideographs between -0.12 em and 0.88 em: a baseline at 0.88 em fills the cell.
BASELINE = 0.88
# Binarisation threshold for anti-aliased glyphs (thermal dots are on or off).
THRESHOLD = 110


@functools.lru_cache(maxsize=8192)
def glyph(ch: str, width: int, height: int, bold: bool) -> Image.Image:
    """A character as an "L" mask (255 = ink) sized to its printer cell at a magnification."""
    size = CELL_H * height
    cell_w = char_cells(ch) * CELL_W * width
    if ch.isspace():
        return Image.new("L", (cell_w, size), 0)
    font = font_for(ch, size, bold)
    advance = max(1, round(font.getlength(ch)))
    tmp = Image.new("L", (advance + size, size), 0)
    ImageDraw.Draw(tmp).text((0, round(size * BASELINE)), ch, font=font, fill=255, anchor="ls")
    tmp = tmp.crop((0, 0, advance, size))
    # The printer scales horizontally by width/height; never spill out of the cell.
    target = min(cell_w, max(1, round(advance * width / height)))
    if target != advance:
        tmp = tmp.resize((target, size), Image.Resampling.LANCZOS)
    out = Image.new("L", (cell_w, size), 0)
    out.paste(tmp, ((cell_w - target) // 2, 0))
    return out


def draw_cells(
    page: Image.Image, x: int, y: int, text: str, width: int = 1, height: int = 1, bold: bool = False
) -> int:
    """Draw text on a mode-"1" page (0 = ink) in printer cells from (x, y); returns the x after it."""
    for ch in text:
        mask = glyph(ch, width, height, bold).point(lambda v: 255 if v >= THRESHOLD else 0, mode="1")
        page.paste(0, (x, y), mask)
        x += mask.width
    return x


def text_width_dots(text: str, width: int = 1) -> int:
    """Dots a string takes at a horizontal magnification."""
    return text_cells(text) * CELL_W * width


def line_advance(height: int, spacing: int = DEFAULT_LINE_SPACING) -> int:
    """Vertical dots a printed line takes: the line spacing, or the characters if taller."""
    return max(spacing, CELL_H * height + 6) if height > 1 else spacing


def aligned_x(align: str, content: int, paper: int) -> int:
    """Left x of content of a given width under an alignment."""
    if align == "center":
        return max(0, (paper - content) // 2)
    if align == "right":
        return max(0, paper - content)
    return 0


def qr_image(data: str, box: int) -> Image.Image:
    """A QR code as a mode-"1" image (error correction M, a quiet zone of two modules)."""
    code = qrcode.QRCode(box_size=box, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().get_image().convert("1")


def text_line_image(block: Text, paper: int) -> Image.Image:
    """One text line as a full-width mode-"1" strip (used for rare characters in text mode)."""
    img = Image.new("1", (paper, line_advance(block.height)), 1)
    x = aligned_x(block.align, text_width_dots(block.text, block.width), paper)
    draw_cells(img, x, 0, block.text, block.width, block.height, block.bold)
    return img


def render_blocks(blocks: list[Block], width_mm: int) -> Image.Image:
    """The whole document as one mode-"1" image (white background) exactly as wide as the paper."""
    paper = DOTS_BY_WIDTH_MM[width_mm]
    parts: list[Image.Image] = []
    for block in blocks:
        if isinstance(block, Text):
            parts.append(text_line_image(block, paper))
        elif isinstance(block, Rule):
            strip = Image.new("1", (paper, DEFAULT_LINE_SPACING), 1)
            draw = ImageDraw.Draw(strip)
            for x in range(0, paper, 8):
                draw.rectangle((x, 14, x + 4, 15), fill=0)
            parts.append(strip)
        elif isinstance(block, Qr):
            code = qr_image(block.data, block.box)
            if code.width > paper:
                code = code.resize((paper, paper), Image.Resampling.NEAREST)
            strip = Image.new("1", (paper, code.height), 1)
            strip.paste(code, ((paper - code.width) // 2, 0))
            parts.append(strip)
        elif isinstance(block, Feed):
            parts.append(Image.new("1", (paper, DEFAULT_LINE_SPACING * block.lines), 1))
    out = Image.new("1", (paper, sum(p.height for p in parts) or 1), 1)
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out
