"""Social security cards (社保卡) over PC/SC (pyscard), behind the same reader interface as the ID-card reader."""

from __future__ import annotations

import logging
from typing import Any

from devices.const import (
    APDU_GET_RESPONSE_HEAD,
    APDU_READ_RECORD_CLA_INS,
    APDU_SELECT_AID_HEAD,
    APDU_SELECT_FILE_HEAD,
    EF05_TAGS,
    EF06_TAGS,
    EF_CARD,
    EF_HOLDER,
    MIN_POLL_INTERVAL,
    SEX_NAMES,
    SOCSEC_AID,
    SW_OK,
)
from devices.errors import (
    CardRemoved,
    DependencyMissing,
    InvalidCardData,
    NoCard,
    ReaderDisconnected,
    ReaderNotFound,
    ReadFailed,
)
from devices.idcard.idnumber import check_card_number
from devices.idcard.model import CardType, IdCard
from devices.idcard.nations import nation_name
from devices.idcard.reader import CardReader
from devices.idcard.tlv import bcd_date, bcd_digits, parse_tlv, text

logger = logging.getLogger(__name__)


def _smartcard() -> Any:
    """Import pyscard lazily: kiosks without a PC/SC reader need not install it."""
    try:
        import smartcard.Exceptions
        import smartcard.scard
        import smartcard.System
    except ImportError as exc:
        raise DependencyMissing("pyscard", "devices") from exc
    return smartcard


def list_readers() -> list[str]:
    """Names of the PC/SC readers pcscd knows; no PC/SC service is ReaderNotFound."""
    sc = _smartcard()
    try:
        return [str(r) for r in sc.System.readers()]
    except Exception as exc:  # pyscard raises several unrelated types when pcscd is absent
        raise ReaderNotFound(
            f"PC/SC service unavailable: {exc}", message_zh="智能卡服务（pcscd）未运行"
        ) from exc


def _release(conn: Any) -> None:
    """Disconnect and release the PC/SC context now, not in a finaliser that may run after pcscd is gone."""
    if conn is None:
        return
    try:
        conn.release()
    except Exception:  # a vanished card or service may fail the release; nothing is left to free
        logger.debug("releasing the card connection failed", exc_info=True)


class PcscReader(CardReader):
    """A PC/SC reader holding a social security card; `name` picks a reader (exact or substring)."""

    def __init__(
        self, name: str | None = None, *, poll_interval: float = MIN_POLL_INTERVAL, strict: bool = False
    ):
        super().__init__(poll_interval=poll_interval)
        self.name = name
        self.strict = strict
        self.reader_name = ""
        self._reader: Any = None
        self._conn: Any = None
        self._hcontext: Any = None

    def open(self) -> None:
        """Find the reader in pcscd's list."""
        sc = _smartcard()
        try:
            found = sc.System.readers()
        except Exception as exc:
            raise ReaderNotFound(
                f"PC/SC service unavailable: {exc}", message_zh="智能卡服务（pcscd）未运行"
            ) from exc
        names = [str(r) for r in found]
        pick = None
        if not self.name:
            pick = found[0] if found else None
        else:
            exact = [r for r, n in zip(found, names, strict=True) if n == self.name]
            loose = [r for r, n in zip(found, names, strict=True) if self.name.lower() in n.lower()]
            pick = (exact or loose or [None])[0]
        if pick is None:
            raise ReaderNotFound(
                f"no PC/SC reader {self.name or ''!r} among {names}", message_zh="未找到社保卡读卡器"
            )
        self._reader = pick
        self.reader_name = str(pick)
        logger.info("using PC/SC reader %s", self.reader_name)

    def close(self) -> None:
        """Drop the card connection and the status context."""
        self._disconnect()
        self._reader = None
        ctx, self._hcontext = self._hcontext, None
        if ctx is not None:
            scard = _smartcard().scard
            scard.SCardReleaseContext(ctx)

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _release(conn)

    def _card_state(self) -> int:
        """The reader's state bits from pcscd (no command reaches the card)."""
        scard = _smartcard().scard
        if self._hcontext is None:
            hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderDisconnected("PC/SC service went away", message_zh="智能卡服务（pcscd）已停止")
            self._hcontext = ctx
        hresult, states = scard.SCardGetStatusChange(
            self._hcontext, 0, [(self.reader_name, scard.SCARD_STATE_UNAWARE)]
        )
        if hresult in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT) and states:
            return int(states[0][1])
        # Unknown reader, service stopped, stale context: the reader is gone for us.
        scard.SCardReleaseContext(self._hcontext)
        self._hcontext = None
        raise ReaderDisconnected(
            f"{self.reader_name} went away: {scard.SCardGetErrorMessage(hresult)}",
            message_zh="读卡器已断开连接",
        )

    def probe(self) -> bool:
        """True when a card sits in the reader (connecting to it once, without power-cycling it)."""
        if self._reader is None:
            raise ReaderDisconnected("PC/SC reader is not open", message_zh="读卡器未打开")
        sc = _smartcard()
        state = self._card_state()
        # Polling asks pcscd for the reader's state instead of connecting: connecting on every poll
        # power-cycles the card, and races pcscd's own presence polling.
        if not state & sc.scard.SCARD_STATE_PRESENT or state & sc.scard.SCARD_STATE_MUTE:
            self._disconnect()
            return False
        if self._conn is not None:
            return True
        conn = None
        try:
            conn = self._reader.createConnection()
            conn.connect(disposition=sc.scard.SCARD_LEAVE_CARD)
        except (sc.Exceptions.NoCardException, sc.Exceptions.CardConnectionException) as exc:
            # Still being inserted, or mute: try again on the next poll.
            logger.debug("card not ready: %s", exc)
            _release(conn)
            return False
        self._conn = conn
        return True

    def _transmit(self, apdu: bytes) -> tuple[bytes, int, int]:
        sc = _smartcard()
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
        except sc.Exceptions.CardConnectionException as exc:
            self._disconnect()
            raise CardRemoved(
                "the card left the reader during the read", message_zh="读卡中社保卡被移开"
            ) from exc
        return bytes(data), sw1, sw2

    def _apdu(self, apdu: bytes, what: str) -> bytes:
        """Send an APDU, following 61xx (GET RESPONSE) and 6Cxx (wrong Le); non-9000 is ReadFailed."""
        data, sw1, sw2 = self._transmit(apdu)
        if sw1 == 0x6C:
            data, sw1, sw2 = self._transmit(apdu[:-1] + bytes([sw2]))
        while sw1 == 0x61:
            more, sw1, sw2 = self._transmit(APDU_GET_RESPONSE_HEAD + bytes([sw2]))
            data += more
        if (sw1, sw2) != SW_OK:
            raise ReadFailed(f"{what} answered {sw1:02X}{sw2:02X}", message_zh=f"社保卡读取失败（{what}）")
        return data

    def _records(self, ef: bytes, tags: dict[int, int]) -> dict[int, bytes]:
        self._apdu(APDU_SELECT_FILE_HEAD + bytes([len(ef)]) + ef, f"select {ef.hex().upper()}")
        out = {}
        for tag, size in tags.items():
            record = self._apdu(APDU_READ_RECORD_CLA_INS + bytes([tag, 0x00, size + 2]), f"record {tag:02X}")
            out[tag] = parse_tlv(record, tag)
        return out

    def read(self) -> IdCard:
        """Select the social security application, read EF05 and EF06, return an IdCard."""
        if self._conn is None and not self.probe():
            raise NoCard("no card in the reader", message_zh="请插入社保卡")
        # The connection stays open while the card stays in; probe() drops it once the card leaves.
        self._apdu(APDU_SELECT_AID_HEAD + bytes([len(SOCSEC_AID)]) + SOCSEC_AID, "select application")
        card = self._records(EF_CARD, EF05_TAGS)
        holder = self._records(EF_HOLDER, EF06_TAGS)
        return self._build(card, holder)

    def _build(self, card: dict[int, bytes], holder: dict[int, bytes]) -> IdCard:
        birth = bcd_date(holder[0x0D])
        if birth is None:
            raise InvalidCardData("card has no birth date", message_zh="社保卡出生日期缺失")
        id_number = text(holder[0x08]).upper()
        sex_code = text(holder[0x0A])
        nation_code = bcd_digits(holder[0x0B]).zfill(2)
        problem = check_card_number(id_number, kind="resident", birth=birth, sex_code=sex_code)
        if problem and self.strict:
            raise InvalidCardData(str(problem), message_zh=problem.message_zh)
        identifier = card[0x01]
        printable = all(0x20 <= b < 0x7F for b in identifier.rstrip(b"\x00"))
        return IdCard(
            name=text(holder[0x09], "gbk"),
            sex=SEX_NAMES.get(sex_code, ""),
            sex_code=sex_code,
            nation_code=nation_code,
            nation=nation_name(nation_code),
            birth_date=birth,
            address="",
            id_number=id_number,
            authority="",
            valid_from=bcd_date(card[0x05]),
            valid_to=bcd_date(card[0x06]),
            card_type=CardType.SOCIAL_SECURITY,
            social_security_number=text(card[0x07]),
            card_identifier=text(identifier) if printable else identifier.hex().upper(),
            birthplace_code=bcd_digits(holder[0x0C]),
            id_problem=problem,
        )
