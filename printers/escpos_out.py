"""Compose a print job as ESC/POS bytes through python-escpos, in text mode or raster mode."""

from __future__ import annotations

import logging

from escpos.capabilities import Profile, get_profile
from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos

from printers.blocks import Block, Feed, Qr, Rule, Text, columns
from printers.const import DOTS_BY_WIDTH_MM
from printers.raster import render_blocks, text_line_image

logger = logging.getLogger(__name__)

FS_CHINESE_ON = b"\x1c&"


class EscposJob(Escpos):
    """python-escpos's command set writing into memory: the job is composed whole before any byte is sent."""

    def __init__(self, width_mm: int) -> None:
        super().__init__(profile=make_profile(width_mm))
        self._buffer = bytearray()

    def _raw(self, msg: bytes) -> None:
        """The python-escpos byte seam: collect."""
        self._buffer += msg

    def raw(self, data: bytes) -> None:
        """Append bytes python-escpos has no command for (GB18030 text in Chinese mode, FS &)."""
        self._raw(data)

    @property
    def output(self) -> bytes:
        """The job's bytes so far."""
        return bytes(self._buffer)


def make_profile(width_mm: int) -> Profile:
    """A generic python-escpos profile that knows the paper's printable width (for centring images)."""
    # escpos' user `Profile` starts with no features at all (cut() would then send no cut):
    # give it the generic profile's features.
    profile = Profile(features=dict(get_profile("default").features))
    data = {**profile.profile_data}
    data["media"] = {"dpi": 203, "width": {"mm": width_mm, "pixels": DOTS_BY_WIDTH_MM[width_mm]}}
    profile.profile_data = data  # instance copy: the class-level dict is shared by every printer
    return profile


def printable_natively(text: str) -> bool:
    """True when a Chinese-mode printer's built-in font surely has every character (the GBK set)."""
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _text_block(p: EscposJob, block: Text, paper: int) -> None:
    if not printable_natively(block.text):
        # Rare characters (e.g. 㵘, 䶮) are outside the printer's font: print this line as an image.
        p.set(align="left")
        p.image(text_line_image(block, paper), impl="bitImageRaster")
        return
    p.set(
        align=block.align,
        bold=block.bold,
        width=block.width,
        height=block.height,
        custom_size=True,
    )
    # python-escpos 3.1 only switches to GB18030 when a string holds a CJK ideograph in
    # U+4E00..U+9FA5; punctuation-only strings (e.g. "【】", "，") would go through code pages
    # and print "?". The printer is in Chinese mode (FS &), so send GB18030 bytes directly.
    p.raw(block.text.encode("gb18030") + b"\n")


def compose_text(blocks: list[Block], width_mm: int, native_qr: bool = False) -> bytes:
    """Native text job: GB18030 text in the printer's Chinese mode, size commands, QR, cut."""
    p = EscposJob(width_mm)
    paper = DOTS_BY_WIDTH_MM[width_mm]
    p.hw("INIT")
    p.raw(FS_CHINESE_ON)
    for block in blocks:
        if isinstance(block, Text):
            _text_block(p, block, paper)
        elif isinstance(block, Rule):
            p.set(align="left", bold=False, width=1, height=1, custom_size=True)
            p.raw(b"-" * columns(width_mm) + b"\n")
        elif isinstance(block, Qr):
            p.set(align="center", bold=False, width=1, height=1, custom_size=True)
            if native_qr:
                p.qr(block.data, ec=QR_ECLEVEL_M, size=block.box, native=True)
                p.raw(b"\n")
            else:
                p.qr(block.data, ec=QR_ECLEVEL_M, size=block.box, native=False, center=True)
        elif isinstance(block, Feed):
            p.raw(b"\n" * block.lines)
    p.set(align="left", bold=False, width=1, height=1, custom_size=True)
    p.cut()
    return p.output


def compose_raster(blocks: list[Block], width_mm: int) -> bytes:
    """Raster job: the whole document drawn with Pillow and sent as GS v 0 images, then a cut."""
    p = EscposJob(width_mm)
    p.hw("INIT")
    p.image(render_blocks(blocks, width_mm), impl="bitImageRaster")
    p.cut()
    return p.output


def compose(blocks: list[Block], width_mm: int, mode: str, native_qr: bool = False) -> bytes:
    """The ESC/POS bytes of a document in the printer's mode."""
    if mode == "raster":
        return compose_raster(blocks, width_mm)
    if mode == "text":
        return compose_text(blocks, width_mm, native_qr)
    raise ValueError(f"printer mode must be 'text' or 'raster', not {mode!r}")
