"""Decoding the card's WLT photo through an optional vendor plug-in (none ships with the project).

A plug-in is a module with `decode_wlt(raw: bytes) -> bytes` returning a 102 x 126 image as BMP or
PNG bytes. It is found, in order, from the `module` argument, the HALL_PHOTO_DECODER environment
variable ("package.module"), or the entry point group `hall_system.photo_decoders`. Without one,
decode_photo() raises PhotoDecoderMissing and photo_decoder() returns None: keep the raw bytes.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from importlib.metadata import entry_points

from devices.const import PHOTO_DECODER_ENV, PHOTO_DECODER_GROUP, PHOTO_LEN
from devices.errors import InvalidCardData, PhotoDecoderMissing

logger = logging.getLogger(__name__)

Decoder = Callable[[bytes], bytes]


def photo_decoder(module: str | None = None) -> Decoder | None:
    """The configured WLT decoder, or None when no vendor plug-in is installed."""
    name = module or os.environ.get(PHOTO_DECODER_ENV)
    if name:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            logger.warning("photo decoder module %s cannot be imported", name)
            return None
        func = getattr(mod, "decode_wlt", None)
        return func if callable(func) else None
    for ep in entry_points(group=PHOTO_DECODER_GROUP):
        try:
            return ep.load()
        except Exception:  # a broken vendor package must not break card reading
            logger.warning("photo decoder entry point %s failed to load", ep.name, exc_info=True)
    return None


def decode_photo(raw: bytes, module: str | None = None) -> bytes:
    """Decode the 1024 WLT bytes to an image; PhotoDecoderMissing without a vendor plug-in."""
    if len(raw) != PHOTO_LEN:
        raise InvalidCardData(
            f"a card photo is {PHOTO_LEN} bytes, got {len(raw)}", message_zh="证件照片数据长度错误"
        )
    decoder = photo_decoder(module)
    if decoder is None:
        raise PhotoDecoderMissing(
            "no WLT photo decoder installed (a vendor plug-in is needed); the raw photo bytes are kept",
            message_zh="未安装证件照片解码插件（需厂商提供），已保留原始照片数据",
        )
    return decoder(raw)
