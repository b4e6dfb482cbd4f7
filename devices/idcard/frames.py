"""Frame codec of the SAM serial protocol: build requests/responses, parse a byte stream incrementally."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import reduce

from devices.const import FRAME_HEADER, HEADER_LEN, MAX_FRAME_LEN, MIN_REQUEST_LEN, MIN_RESPONSE_LEN
from devices.errors import ChecksumError, FrameError

logger = logging.getLogger(__name__)


def xor_checksum(data: bytes) -> int:
    """XOR of all bytes."""
    return reduce(lambda a, b: a ^ b, data, 0)


def encode_frame(body: bytes) -> bytes:
    """Wrap body (CMD PARA data, or SW1 SW2 SW3 data) as header + LEN + body + CHK."""
    length = len(body) + 1
    if length > 0xFFFF:
        raise FrameError(f"frame body too long: {len(body)} bytes", message_zh="数据帧过长")
    head = length.to_bytes(2, "big")
    return FRAME_HEADER + head + body + bytes([xor_checksum(head + body)])


def build_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A request frame: AA AA AA 96 69 LEN CMD PARA data CHK."""
    return encode_frame(bytes([cmd, para]) + data)


def build_response(sw3: int, data: bytes = b"", *, sw1: int = 0, sw2: int = 0) -> bytes:
    """A response frame: AA AA AA 96 69 LEN SW1 SW2 SW3 data CHK."""
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Frame:
    """One checked frame; `body` is everything between LEN and CHK."""

    body: bytes

    @property
    def sw3(self) -> int:
        """Status byte of a response."""
        return self.body[2]

    @property
    def status(self) -> bytes:
        """SW1 SW2 SW3 of a response."""
        return self.body[:3]

    @property
    def data(self) -> bytes:
        """Response data after SW1 SW2 SW3."""
        return self.body[3:]

    @property
    def command(self) -> tuple[int, int]:
        """(CMD, PARA) of a request."""
        return self.body[0], self.body[1]

    @property
    def request_data(self) -> bytes:
        """Request data after CMD PARA."""
        return self.body[2:]


class FrameParser:
    """Incremental parser: feed() any chunks, then take frames with next_frame().

    Bytes before a header are skipped (counted in `discarded`). A frame with an impossible
    length or a wrong checksum raises FrameError/ChecksumError once and is dropped, so the
    next call resynchronises on the following header; nothing else ever escapes.
    """

    def __init__(self, *, min_len: int = MIN_RESPONSE_LEN, max_len: int = MAX_FRAME_LEN) -> None:
        self._buf = bytearray()
        self._min_len = min_len
        self._max_len = max_len
        self.discarded = 0

    @classmethod
    def for_requests(cls) -> FrameParser:
        """A parser for the reader side (request frames are shorter)."""
        return cls(min_len=MIN_REQUEST_LEN)

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buf += data

    def reset(self) -> None:
        """Drop everything buffered (a stale or half-received frame)."""
        self.discarded += len(self._buf)
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a frame."""
        return len(self._buf)

    def in_frame(self) -> bool:
        """True if a header has been seen and its frame is incomplete."""
        return self._buf.startswith(FRAME_HEADER)

    def _skip(self, n: int) -> None:
        self.discarded += n
        del self._buf[:n]

    def _sync(self) -> bool:
        """Drop garbage up to the next header (keeping a possible header prefix); True if one starts the buffer."""
        idx = self._buf.find(FRAME_HEADER)
        if idx < 0:
            # Keep the longest tail that could still begin a header.
            keep = 0
            for k in range(min(HEADER_LEN - 1, len(self._buf)), 0, -1):
                if self._buf.endswith(FRAME_HEADER[:k]):
                    keep = k
                    break
            if len(self._buf) > keep:
                self._skip(len(self._buf) - keep)
            return False
        if idx:
            logger.debug("skipping %d bytes before a frame header", idx)
            self._skip(idx)
        return True

    def next_frame(self) -> Frame | None:
        """Return the next complete frame, None if more bytes are needed; raise on a malformed one."""
        if not self._sync() or len(self._buf) < HEADER_LEN + 2:
            return None
        length = int.from_bytes(self._buf[HEADER_LEN : HEADER_LEN + 2], "big")
        if not self._min_len <= length <= self._max_len:
            self._skip(HEADER_LEN)
            raise FrameError(f"impossible frame length {length}", message_zh=f"数据帧长度错误：{length}")
        total = HEADER_LEN + 2 + length
        if len(self._buf) < total:
            return None
        raw = bytes(self._buf[:total])
        expected = xor_checksum(raw[HEADER_LEN:-1])
        if raw[-1] != expected:
            # Drop only the header: if LEN itself was corrupted the real next frame may start inside.
            self._skip(HEADER_LEN)
            raise ChecksumError(
                f"checksum {raw[-1]:02X} should be {expected:02X}", message_zh="数据帧校验错误"
            )
        del self._buf[:total]
        return Frame(raw[HEADER_LEN + 2 : -1])

    def frames(self) -> list[Frame]:
        """All complete frames now buffered (raises on the first malformed one)."""
        out: list[Frame] = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out
