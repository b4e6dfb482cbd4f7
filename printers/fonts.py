"""Find a CJK font at runtime (fontconfig, then Debian's known paths) and load it for Pillow."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

from PIL import ImageFont

from printers.const import FONT_FAMILIES, FONT_FILES_BOLD, FONT_FILES_REGULAR
from printers.errors import PrinterError

logger = logging.getLogger(__name__)

FontSpec = tuple[str, int]


class FontMissing(PrinterError):
    """No CJK font is installed, so tickets cannot be rendered as images."""

    code = "printer.font_missing"
    default_zh = "未找到中文字体，请安装 fonts-noto-cjk 或 fonts-wqy-zenhei"
    default_en = "No CJK font found; install fonts-noto-cjk or fonts-wqy-zenhei"


def _fc_match(pattern: str) -> FontSpec | None:
    """Ask fontconfig for a font file and face index, or None when fontconfig is absent."""
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}|%{family}", pattern],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, rest = out.partition("|")
    index, _, family = rest.partition("|")
    wanted = pattern.split(":")[0].lower()
    # fc-match always answers something; accept it only if it is the family asked for.
    if not path or not os.path.exists(path) or wanted not in family.lower():
        return None
    return path, int(index or 0)


@functools.cache
def find_cjk_font(bold: bool = False) -> FontSpec:
    """Return (path, face index) of a CJK font, raising FontMissing when none is installed."""
    env = os.environ.get("HALL_CJK_FONT")
    if env and os.path.exists(env):
        return env, 0
    for family in FONT_FAMILIES:
        spec = _fc_match(f"{family}:bold" if bold else family)
        if spec:
            return spec
    for path, index in (FONT_FILES_BOLD if bold else ()) + FONT_FILES_REGULAR:
        if os.path.exists(path):
            return path, index
    raise FontMissing()


@functools.cache
def load_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Load the CJK font at a pixel size (cached)."""
    path, index = find_cjk_font(bold)
    return ImageFont.truetype(path, size, index=index)


@functools.cache
def _fallback_fonts(size: int) -> tuple[ImageFont.FreeTypeFont, ...]:
    """Other installed CJK fonts, for characters the first font lacks."""
    fonts = []
    first = find_cjk_font(False)
    for path, index in FONT_FILES_REGULAR:
        if (path, index) != first and os.path.exists(path):
            fonts.append(ImageFont.truetype(path, size, index=index))
    return tuple(fonts)


@functools.cache
def _notdef_signature(font: ImageFont.FreeTypeFont) -> bytes:
    """The bitmap a font draws for a character it does not have (its .notdef box)."""
    return bytes(font.getmask("\U0010fffd"))


def has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """True when the font draws the character itself rather than its missing-glyph box."""
    if char.isspace():
        return True
    return bytes(font.getmask(char)) != _notdef_signature(font)


def font_for(char: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The font that draws this character: the main one, or an installed fallback that has it."""
    main = load_font(size, bold)
    if ord(char) < 0x3000 or has_glyph(main, char):
        return main
    for font in _fallback_fonts(size):
        if has_glyph(font, char):
            return font
    logger.warning("no installed font has U+%04X; it prints as a box", ord(char))
    return main
