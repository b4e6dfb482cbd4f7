"""A SAM ID-card reader simulated at the byte level on the far end of a pseudo-terminal.

The driver opens `.port` with pyserial exactly as it would open /dev/ttyUSB0. The card is
scriptable (place, remove, pull it mid-read), and so are line faults (corrupt the next frame,
slow replies, pace bytes at the real baud rate, unplug = close the pty).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import tty
from dataclasses import dataclass, field

from devices.const import (
    BAUD_PARAS,
    BITS_PER_BYTE_8N1,
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
    FINGERPRINT_LEN,
    PHOTO_LEN,
    SW_CARD_FOUND,
    SW_FIND_FAILED,
    SW_READ_FAILED,
    SW_SAM_FAILED,
    SW_SELECT_FAILED,
    SW_SUCCESS,
    SW_UNKNOWN_COMMAND,
    TEXT_LEN,
)
from devices.errors import FrameError
from devices.idcard.frames import FrameParser, build_response
from devices.idcard.model import IdCard
from devices.sim.cards import encode_latest_address, encode_text_block, fake_bytes

logger = logging.getLogger(__name__)

_BAUDS = {para: baud for baud, para in BAUD_PARAS.items()}
_PACE_CHUNK = 32
MAX_REQUEST_LOG = 10_000


@dataclass
class _Placed:
    card: IdCard
    latest_address: str | None
    serial: bytes
    found: bool = False
    selected: bool = False
    read_done: bool = False


@dataclass
class Request:
    """One request the simulator received (for tests that check what the driver sent)."""

    at: float
    cmd: int
    para: int
    answered: bool = field(default=True)


class IdCardSimulator:
    """A reader on a pty: start() gives `.port`; place()/remove() a card; fault knobs below."""

    def __init__(self, *, delay: float = 0.0, byte_delay: float = 0.0, pace_baud: bool = False) -> None:
        self.delay = delay  # seconds before each reply starts (a slow SAM)
        self.byte_delay = byte_delay  # seconds between reply bytes (a slow line)
        self.pace_baud = pace_baud  # emulate the wire time of the current baud rate
        self.baudrate = DEFAULT_BAUD
        self.sam_ok = True
        self.sam_id = bytes.fromhex("0501000020101008001234567890ABCD")
        self.port = ""
        self.requests: list[Request] = []
        self.malformed_requests = 0
        self._lock = threading.Lock()
        self._placed: _Placed | None = None
        self._corrupt = 0
        self._corrupt_only: tuple[int, int] | None = None
        self._noise = b""
        self._pull_mode: str | None = None
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._parser = FrameParser.for_requests()
        self.card_placed_at: float | None = None

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> IdCardSimulator:
        """Open the pty (raw mode) and start answering in a thread."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        # Non-blocking so a driver that stops reading can never wedge the simulator thread.
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="idcard-sim", daemon=True)
        self._thread.start()
        logger.info("ID-card reader simulator on %s", self.port)
        return self

    def stop(self) -> None:
        """Stop the thread and close the pty."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close_fds()

    def __enter__(self) -> IdCardSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_fds(self) -> None:
        for name in ("_master", "_slave"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def unplug(self) -> None:
        """Pull the reader's cable: the pty goes away and the driver sees the port die."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
            self._thread = None
        self._close_fds()

    # -- the card ---------------------------------------------------------------------------------
    def place(self, card: IdCard, *, latest_address: str | None = None, serial: bytes | None = None) -> None:
        """Put a card on the reader (replacing any card there)."""
        if len(card.photo) not in (0, PHOTO_LEN):
            raise ValueError("a card's photo is 1024 bytes")
        serial = serial or fake_bytes("serial-" + card.id_number, 8)
        with self._lock:
            self._placed = _Placed(card, latest_address, serial)
            self.card_placed_at = time.monotonic()

    def remove(self) -> None:
        """Take the card away."""
        with self._lock:
            self._placed = None

    @property
    def card_present(self) -> bool:
        """True while a card lies on the reader."""
        return self._placed is not None

    def corrupt_next(self, count: int = 1, command: tuple[int, int] | None = None) -> None:
        """Flip the checksum of the next `count` replies (only replies to `command` if given)."""
        with self._lock:
            self._corrupt += count
            self._corrupt_only = command

    def remove_mid_read(self, mode: str = "truncate") -> None:
        """On the next card read the card leaves: 'truncate' cuts the reply off, 'status' answers 41."""
        if mode not in ("truncate", "status"):
            raise ValueError("mode is 'truncate' or 'status'")
        with self._lock:
            self._pull_mode = mode

    # -- protocol ---------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    ready, _, _ = select.select([self._master], [], [], 0.05)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:
                    # Nobody holds the slave open right now; keep waiting.
                    time.sleep(0.01)
                    continue
                self._parser.feed(chunk)
                while True:
                    try:
                        frame = self._parser.next_frame()
                    except FrameError as exc:
                        # A real reader ignores a frame it cannot parse; the driver times out.
                        self.malformed_requests += 1
                        logger.debug("simulator ignores a malformed request: %s", exc)
                        continue
                    if frame is None:
                        break
                    self._answer(frame.command[0], frame.command[1])
        except Exception:
            logger.exception("ID-card simulator crashed")

    def inject_noise(self, noise: bytes) -> None:
        """Send these bytes (line noise) just before the next reply."""
        with self._lock:
            self._noise += noise

    def _answer(self, cmd: int, para: int) -> None:
        if len(self.requests) >= MAX_REQUEST_LOG:
            # A long hall-sim session polls for hours; keep the recent half.
            del self.requests[: MAX_REQUEST_LOG // 2]
        self.requests.append(Request(time.monotonic(), cmd, para))
        reply, cut, after = self._respond(cmd, para)
        if self.delay and self._stop.wait(self.delay):
            return
        with self._lock:
            if self._corrupt and self._corrupt_only in (None, (cmd, para)):
                self._corrupt -= 1
                reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
            noise, self._noise = self._noise, b""
        if noise:
            self._send(noise)
        self._send(reply if cut is None else reply[:cut])
        if after is not None:
            after()

    def _respond(self, cmd: int, para: int) -> tuple[bytes, int | None, object]:
        """(reply bytes, cut the reply after N bytes or None, action after sending)."""
        with self._lock:
            placed = self._placed
            if (cmd, para) == CMD_RESET_SAM:
                if placed:
                    placed.found = placed.selected = False
                return build_response(SW_SUCCESS), None, None
            if (cmd, para) == CMD_SAM_STATUS:
                return build_response(SW_SUCCESS if self.sam_ok else SW_SAM_FAILED), None, None
            if (cmd, para) == CMD_SAM_ID:
                return build_response(SW_SUCCESS, self.sam_id), None, None
            if (cmd, para) == CMD_FIND_CARD:
                # After a good read the card must leave the field before it is found again.
                if placed is None or placed.read_done:
                    return build_response(SW_FIND_FAILED), None, None
                placed.found, placed.selected = True, False
                return build_response(SW_CARD_FOUND, bytes(4)), None, None
            if (cmd, para) == CMD_SELECT_CARD:
                if placed is None or not placed.found:
                    return build_response(SW_SELECT_FAILED), None, None
                placed.selected = True
                return build_response(SW_SUCCESS, placed.serial), None, None
            if (cmd, para) in (CMD_READ_BASE, CMD_READ_FINGERPRINT, CMD_READ_LATEST_ADDRESS):
                if placed is None or not placed.selected:
                    return build_response(SW_READ_FAILED), None, None
                if (cmd, para) == CMD_READ_LATEST_ADDRESS:
                    reply = build_response(SW_SUCCESS, encode_latest_address(placed.latest_address))
                else:
                    reply = build_response(SW_SUCCESS, self._base_message(placed.card, (cmd, para)))
                mode, self._pull_mode = self._pull_mode, None
                if mode == "status":
                    self._placed = None
                    return build_response(SW_READ_FAILED), None, None
                if mode == "truncate":
                    return reply, len(reply) // 2, self.remove
                placed.read_done = True
                return reply, None, None
            if cmd == CMD_SET_BAUD:
                if para not in _BAUDS:
                    return build_response(SW_UNKNOWN_COMMAND), None, None
                # The reply still goes out at the old speed; the new one applies afterwards.
                return build_response(SW_SUCCESS), None, lambda: setattr(self, "baudrate", _BAUDS[para])
            return build_response(SW_UNKNOWN_COMMAND), None, None

    @staticmethod
    def _base_message(card: IdCard, cmd: tuple[int, int]) -> bytes:
        text = encode_text_block(card)
        photo = card.photo
        if cmd == CMD_READ_FINGERPRINT:
            fp = card.fingerprint or b""
            if fp and len(fp) != FINGERPRINT_LEN:
                raise ValueError("fingerprint data is 1024 bytes")
            lengths = TEXT_LEN.to_bytes(2, "big") + len(photo).to_bytes(2, "big") + len(fp).to_bytes(2, "big")
            return lengths + text + photo + fp
        return TEXT_LEN.to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo

    def _send(self, data: bytes) -> None:
        if self.byte_delay <= 0 and not self.pace_baud:
            self._write_all(data)
            return
        step = 1 if self.byte_delay > 0 else _PACE_CHUNK
        for i in range(0, len(data), step):
            if self._stop.is_set():
                return
            chunk = data[i : i + step]
            self._write_all(chunk)
            pause = self.byte_delay * len(chunk)
            if self.pace_baud:
                pause += len(chunk) * BITS_PER_BYTE_8N1 / self.baudrate
            time.sleep(pause)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                if self._stop.is_set():
                    return
                select.select([], [self._master], [], 0.05)
                continue
            except OSError:
                return
            view = view[n:]
