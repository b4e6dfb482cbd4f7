"""A social security card for vsmartcard's vpcd driver, so the real pcscd and pyscard talk to it.

The card connects to vpcd over TCP (127.0.0.1:35963 for the first virtual reader); every message
either way is a 2-byte big-endian length and a payload. One-byte payloads are control messages
(0 off, 1 on, 2 reset, 4 send the ATR); longer ones are command APDUs, answered with a response APDU.
Connecting is inserting the card; closing the socket is pulling it out.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from devices.const import (
    APDU_SELECT_AID_HEAD,
    APDU_SELECT_FILE_HEAD,
    EF_CARD,
    EF_HOLDER,
    SOCSEC_AID,
    VPCD_GET_ATR,
    VPCD_HOST,
    VPCD_PORT,
)
from devices.idcard.model import IdCard
from devices.idcard.tlv import encode_tlv
from devices.sim.cards import sample_card

logger = logging.getLogger(__name__)

# A T=0 ATR without interface bytes: TS 3B, T0 0A (ten historical bytes), no TCK needed.
DEFAULT_ATR = bytes([0x3B, 0x0A]) + b"SSCARD-SX1"

# pcscd polls a reader about every 400 ms; a card pulled and put back between two polls is never
# seen leaving, and pcscd then refuses it. A hand cannot do that either, so insert() waits this long.
MIN_ABSENCE = 0.9
_last_removed: dict[tuple[str, int], float] = {}

SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_NO_EF = b"\x69\x86"
SW_INS_UNSUPPORTED = b"\x6d\x00"
SW_CLA_UNSUPPORTED = b"\x6e\x00"


def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits)


def _bcd_date(card_date: object) -> bytes:
    return _bcd(card_date.strftime("%Y%m%d")) if card_date else bytes(4)  # type: ignore[attr-defined]


def _pad(raw: bytes, size: int) -> bytes:
    if len(raw) > size:
        raise ValueError(f"{raw!r} does not fit {size} bytes")
    return raw + bytes(size - len(raw))


def card_files(card: IdCard) -> dict[bytes, dict[int, bytes]]:
    """EF05 and EF06 records (TLV) holding `card`, as the card stores them."""
    identifier = card.card_identifier.encode("ascii")
    ef05 = {
        0x01: encode_tlv(0x01, _pad(identifier, 16)),
        0x05: encode_tlv(0x05, _bcd_date(card.valid_from)),
        0x06: encode_tlv(0x06, _bcd_date(card.valid_to)),
        0x07: encode_tlv(0x07, _pad(card.social_security_number.encode("ascii"), 9)),
    }
    ef06 = {
        0x08: encode_tlv(0x08, _pad(card.id_number.encode("ascii"), 18)),
        0x09: encode_tlv(0x09, _pad(card.name.encode("gbk"), 30)),
        0x0A: encode_tlv(0x0A, card.sex_code.encode("ascii")),
        0x0B: encode_tlv(0x0B, _bcd(card.nation_code.zfill(2))),
        0x0C: encode_tlv(0x0C, _bcd(card.birthplace_code.ljust(6, "0"))),
        0x0D: encode_tlv(0x0D, _bcd_date(card.birth_date)),
    }
    return {EF_CARD: ef05, EF_HOLDER: ef06}


class SocialSecurityCardSim:
    """insert() connects the card to vpcd; remove() pulls it; answers APDUs per the card's files."""

    def __init__(
        self,
        card: IdCard | None = None,
        *,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        atr: bytes = DEFAULT_ATR,
    ) -> None:
        self.card = card or sample_card("social_security")
        self.host = host
        self.port = port
        self.atr = atr
        self.apdus: list[bytes] = []
        self.pull_after: int | None = None  # pull the card after answering this many more APDUs
        self.files = card_files(self.card)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._app_selected = False
        self._ef: bytes | None = None

    @property
    def inserted(self) -> bool:
        """True while the card is connected to the virtual reader."""
        return self._sock is not None

    def insert(self, timeout: float = 5.0) -> None:
        """Connect to vpcd (retrying until pcscd listens, up to `timeout`)."""
        if self._sock is not None:
            return
        since = time.monotonic() - _last_removed.get((self.host, self.port), float("-inf"))
        if since < MIN_ABSENCE:
            time.sleep(MIN_ABSENCE - since)
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        sock.settimeout(0.2)
        self._sock = sock
        self._app_selected, self._ef = False, None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(sock,), name="socsec-card", daemon=True)
        self._thread.start()
        logger.info("social security card inserted into vpcd %s:%d", self.host, self.port)

    def remove(self) -> None:
        """Pull the card out (close the connection)."""
        self._stop.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            _last_removed[(self.host, self.port)] = time.monotonic()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    stop = remove

    def __enter__(self) -> SocialSecurityCardSim:
        self.insert()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- wire -------------------------------------------------------------------------------------
    def _recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            if self._stop.is_set():
                return None
            try:
                chunk = sock.recv(n - len(buf))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _run(self, sock: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                head = self._recv_exact(sock, 2)
                if head is None:
                    break
                payload = self._recv_exact(sock, int.from_bytes(head, "big"))
                if payload is None:
                    break
                if len(payload) == 1:
                    logger.debug("vpcd control %d", payload[0])
                    if payload[0] == VPCD_GET_ATR:
                        self._send(sock, self.atr)
                    else:
                        # Power off / on / reset: the card forgets its selection.
                        self._app_selected, self._ef = False, None
                    continue
                self.apdus.append(payload)
                self._send(sock, self.answer(payload))
                if self.pull_after is not None:
                    self.pull_after -= 1
                    if self.pull_after <= 0:
                        self.pull_after = None
                        threading.Thread(target=self.remove, daemon=True).start()
                        break
        except OSError as exc:
            logger.debug("card connection ended: %s", exc)

    # -- the card's file system ------------------------------------------------------------------
    def answer(self, apdu: bytes) -> bytes:
        """Response APDU for a command APDU."""
        if len(apdu) < 4:
            return b"\x67\x00"
        if apdu[0] != 0x00:
            return SW_CLA_UNSUPPORTED
        head = apdu[:4]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if head == APDU_SELECT_AID_HEAD:
            self._app_selected = body == SOCSEC_AID
            self._ef = None
            return SW_OK if self._app_selected else SW_NOT_FOUND
        if head == APDU_SELECT_FILE_HEAD:
            if not self._app_selected or body not in self.files:
                return SW_NOT_FOUND
            self._ef = body
            return SW_OK
        if apdu[1] == 0xB2:
            if self._ef is None:
                return SW_NO_EF
            record = self.files[self._ef].get(apdu[2])
            if record is None:
                return SW_RECORD_NOT_FOUND
            le = apdu[4] if len(apdu) == 5 else 0
            if le and le < len(record):
                return bytes([0x6C, len(record)])
            return record + SW_OK
        return SW_INS_UNSUPPORTED
