"""The SAM serial reader (second-generation ID cards, foreigner's and HMT cards) over a Transport."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping

from devices.const import (
    BAUD_PARAS,
    CARD_SERIAL_LEN,
    CMD_FIND_CARD,
    CMD_READ_BASE,
    CMD_READ_FINGERPRINT,
    CMD_READ_LATEST_ADDRESS,
    CMD_RESET_SAM,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT_CARD,
    CMD_SET_BAUD,
    DEFAULT_BAUD,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TIMEOUT,
    FIND_CARD_DATA_LEN,
    FINGERPRINT_LEN,
    LATEST_ADDRESS_LEN,
    MIN_POLL_INTERVAL,
    PHOTO_LEN,
    SAM_ID_LEN,
    SW_CARD_FOUND,
    SW_FIND_FAILED,
    SW_READ_FAILED,
    SW_SAM_FAILED,
    SW_SELECT_FAILED,
    SW_SUCCESS,
    SW_UNKNOWN_COMMAND,
    TEXT_LEN,
)
from devices.errors import (
    CardRemoved,
    DeviceError,
    FrameError,
    InvalidCardData,
    NoCard,
    ReaderNotFound,
    ReaderTimeout,
    ReadFailed,
)
from devices.idcard.frames import Frame, FrameParser, build_request
from devices.idcard.model import IdCard
from devices.idcard.parse import parse_base_message, parse_latest_address
from devices.idcard.reader import CardReader
from devices.transport import SerialTransport, Transport

logger = logging.getLogger(__name__)

_BASE_SIZES = (4 + TEXT_LEN + PHOTO_LEN, 4 + TEXT_LEN)
_FP_SIZES = tuple(s + 2 + extra for s in _BASE_SIZES for extra in (0, FINGERPRINT_LEN))
_CHUNK = 4096
# SW3 -> data lengths each command may answer with.
_STATUS_ONLY = {SW_SUCCESS: (0,), SW_SAM_FAILED: (0,)}
_SET_BAUD = {SW_SUCCESS: (0,), SW_SAM_FAILED: (0,), SW_UNKNOWN_COMMAND: (0,)}
_FIND = {SW_CARD_FOUND: (FIND_CARD_DATA_LEN,), SW_FIND_FAILED: (0,)}
_SELECT = {SW_SUCCESS: (CARD_SERIAL_LEN,), SW_SELECT_FAILED: (0,)}


class SamSerialReader(CardReader):
    """A SAM ID-card reader on a serial port (or any Transport).

    `fingerprint=True` reads with fingerprints (30 10); `strict=True` raises InvalidCardData for a
    card whose ID number fails its check instead of returning it with `id_problem` set.
    """

    def __init__(
        self,
        port: str | None = None,
        *,
        baudrate: int = DEFAULT_BAUD,
        transport: Transport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        poll_interval: float = MIN_POLL_INTERVAL,
        fingerprint: bool = False,
        strict: bool = False,
        check_sam: bool = True,
        retries: int = 2,
    ) -> None:
        super().__init__(poll_interval=poll_interval)
        if transport is None:
            if not port:
                raise ValueError("a port or a transport is needed")
            transport = SerialTransport(port, baudrate)
        self.transport = transport
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.fingerprint = fingerprint
        self.strict = strict
        self.check_sam = check_sam
        self.retries = retries
        self.card_serial: bytes | None = None
        self._parser = FrameParser()
        self._selected = False

    # -- plumbing ---------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port and make sure a reader answers on it."""
        self.transport.open()
        self._selected = False
        if self.check_sam:
            try:
                ok = self.sam_status()
            except ReaderTimeout as exc:
                self.transport.close()
                raise ReaderNotFound(
                    "no ID-card reader answers on this port", message_zh="端口上没有身份证阅读器应答"
                ) from exc
            if not ok:
                logger.warning("reader answers but its SAM self-test failed")

    def close(self) -> None:
        """Close the port."""
        self._selected = False
        self.transport.close()

    def _exchange(
        self,
        cmd: tuple[int, int],
        *,
        timeout: float,
        accept: Mapping[int, Collection[int]],
        data: bytes = b"",
    ) -> Frame:
        """Send one request and return its reply; stale replies of earlier commands are skipped.

        `accept` maps each SW3 this command can answer to the data lengths that go with it; any
        other frame is a late reply to an earlier command (after a timeout) and is skipped.
        """
        self.transport.reset_input()
        self._parser.reset()
        self.transport.write(build_request(cmd[0], cmd[1], data))
        deadline = time.monotonic() + timeout
        while True:
            while (frame := self._parser.next_frame()) is not None:
                if len(frame.body) < 3:
                    raise FrameError("reply shorter than its status bytes", message_zh="读卡器应答过短")
                if len(frame.data) in accept.get(frame.sw3, ()):
                    return frame
                logger.debug(
                    "skipping a reply (SW3 %02X, %d bytes) that does not fit %02X%02X",
                    frame.sw3,
                    len(frame.data),
                    *cmd,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                partial = self._parser.in_frame()
                self._parser.reset()
                self._selected = False
                raise ReaderTimeout(
                    f"no {'complete ' if partial else ''}reply to {cmd[0]:02X}{cmd[1]:02X} in {timeout:.2f}s",
                    message_zh="读卡器应答不完整" if partial else "读卡器无应答",
                )
            chunk = self.transport.read(_CHUNK, remaining)
            if chunk:
                self._parser.feed(chunk)

    # -- SAM --------------------------------------------------------------------------------------
    def sam_status(self) -> bool:
        """True if the SAM passes its self-test (90), False if it reports 60."""
        frame = self._exchange(CMD_SAM_STATUS, timeout=self.timeout, accept=_STATUS_ONLY)
        if frame.sw3 not in (SW_SUCCESS, SW_SAM_FAILED):
            raise ReadFailed(f"SAM status answered {frame.sw3:02X}", message_zh="安全模块状态异常")
        return frame.sw3 == SW_SUCCESS

    def sam_id(self) -> str:
        """The SAM's 16-byte id as upper-case hex."""
        frame = self._exchange(
            CMD_SAM_ID, timeout=self.timeout, accept={SW_SUCCESS: (SAM_ID_LEN,), SW_SAM_FAILED: (0,)}
        )
        if frame.sw3 != SW_SUCCESS or len(frame.data) != SAM_ID_LEN:
            raise ReadFailed(f"SAM id answered {frame.sw3:02X}", message_zh="读取安全模块号失败")
        return frame.data.hex().upper()

    def reset_sam(self) -> None:
        """Reset the SAM."""
        frame = self._exchange(CMD_RESET_SAM, timeout=self.timeout, accept=_STATUS_ONLY)
        self._selected = False
        if frame.sw3 != SW_SUCCESS:
            raise ReadFailed(f"SAM reset answered {frame.sw3:02X}", message_zh="安全模块复位失败")

    def set_baud_rate(self, baud: int) -> None:
        """Ask the reader to change speed, then follow it on our side."""
        if baud not in BAUD_PARAS:
            raise ValueError(f"unsupported baud rate {baud}; choose one of {sorted(BAUD_PARAS)}")
        frame = self._exchange((CMD_SET_BAUD, BAUD_PARAS[baud]), timeout=self.timeout, accept=_SET_BAUD)
        if frame.sw3 != SW_SUCCESS:
            raise ReadFailed(f"set baud answered {frame.sw3:02X}", message_zh="设置波特率失败")
        self.transport.set_baudrate(baud)

    # -- cards ------------------------------------------------------------------------------------
    def find_card(self) -> bool:
        """Find card (20 01): True if a card is in the field."""
        self._selected = False
        frame = self._exchange(CMD_FIND_CARD, timeout=self.timeout, accept=_FIND)
        if frame.sw3 == SW_CARD_FOUND:
            return True
        if frame.sw3 == SW_FIND_FAILED:
            return False
        raise ReadFailed(f"find card answered {frame.sw3:02X}", message_zh="寻卡失败")

    def select_card(self) -> bool:
        """Select card (20 02): True and `card_serial` set on success."""
        frame = self._exchange(CMD_SELECT_CARD, timeout=self.timeout, accept=_SELECT)
        if frame.sw3 == SW_SUCCESS and len(frame.data) == CARD_SERIAL_LEN:
            self.card_serial = frame.data
            self._selected = True
            return True
        self._selected = False
        return False

    def probe(self) -> bool:
        """Find and select a card; True when it is ready to read."""
        return self.find_card() and self.select_card()

    def _card_gone(self) -> bool:
        """After a failed read: True if the field is empty now (the card was pulled)."""
        try:
            return not self.find_card()
        except DeviceError:
            return False

    def _read_frame(self, cmd: tuple[int, int], sizes: Collection[int]) -> Frame:
        """Run a card read command; a pulled card becomes CardRemoved, a refused read ReadFailed."""
        if not self._selected and not self.probe():
            raise NoCard("no card on the reader", message_zh="请放置身份证")
        try:
            frame = self._exchange(
                cmd,
                timeout=self.read_timeout,
                accept={SW_SUCCESS: sizes, SW_READ_FAILED: (0,), SW_SELECT_FAILED: (0,)},
            )
        except ReaderTimeout as exc:
            # A reply cut off (or never sent) most often means the card was pulled away.
            if self._card_gone():
                raise CardRemoved(
                    "the card left the reader during the read", message_zh="读卡中身份证被移开"
                ) from exc
            raise
        if frame.sw3 == SW_SUCCESS:
            return frame
        self._selected = False
        if self._card_gone():
            raise CardRemoved("the card left the reader during the read", message_zh="读卡中身份证被移开")
        if frame.sw3 == SW_READ_FAILED:
            raise ReadFailed("the reader could not read the card", message_zh="读卡失败，请重新放置身份证")
        raise ReadFailed(f"read answered {frame.sw3:02X}", message_zh="读卡失败")

    def read(self) -> IdCard:
        """Read the card's base message (with fingerprints if configured) into an IdCard.

        A reply damaged on the line is read again (`retries` times): the card stays selected, and
        after a read the reader will not find it again until it leaves the field.
        """
        cmd, sizes = (CMD_READ_FINGERPRINT, _FP_SIZES) if self.fingerprint else (CMD_READ_BASE, _BASE_SIZES)
        for attempt in range(self.retries + 1):
            try:
                frame = self._read_frame(cmd, sizes)
                break
            except FrameError:
                if attempt == self.retries:
                    raise
                logger.info("reply damaged on the line; reading again")
        card = parse_base_message(frame.data, with_fingerprint=self.fingerprint)
        if self.strict and card.id_problem is not None:
            raise InvalidCardData(str(card.id_problem), message_zh=card.id_problem.message_zh)
        return card

    def read_latest_address(self) -> str | None:
        """The latest address (追加住址) stored on the card, None when there is none."""
        frame = self._read_frame(CMD_READ_LATEST_ADDRESS, (LATEST_ADDRESS_LEN,))
        return parse_latest_address(frame.data)
