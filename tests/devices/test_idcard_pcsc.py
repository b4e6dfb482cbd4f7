"""The real pyscard driver through the real pcscd and the vpcd virtual reader, with the simulated social security card."""

from __future__ import annotations

import sys
import threading
import time
from datetime import date

import pytest

from devices.errors import CardRemoved, DependencyMissing, DeviceError, NoCard, ReaderNotFound
from devices.idcard import CardType, IdCard, open_reader
from devices.idcard.pcsc_reader import PcscReader, list_readers
from devices.sim.cards import sample_card
from devices.sim.smartcard import SocialSecurityCardSim
from tests.devices.test_hall_sim_cli import _readline, _send, hall_sim
from tests.fixtures.pcsc import Pcscd, wait_reader_empty

pytestmark = pytest.mark.pcsc
POLL = 0.05


def _reader(pcscd: Pcscd) -> PcscReader:
    return PcscReader(pcscd.reader, poll_interval=POLL)


def test_social_security_card_is_read_field_by_field(
    pcscd: Pcscd, socsec_card: SocialSecurityCardSim
) -> None:
    with _reader(pcscd) as r:
        assert r.wait_for_card(5.0)
        card = r.read()
    assert card.card_type is CardType.SOCIAL_SECURITY
    assert card.name == "李秀英"  # GBK on the card
    assert (card.sex, card.sex_code) == ("女", "2")
    assert (card.nation_code, card.nation) == ("01", "汉族")
    assert card.birth_date == date(1962, 4, 28)
    assert card.id_number == sample_card("social_security").id_number and card.id_valid
    assert card.social_security_number == "A51190362"
    assert card.card_identifier == "511900D156000005"
    assert card.birthplace_code == "511903"
    assert (card.valid_from, card.valid_to) == (date(2019, 6, 1), date(2029, 6, 1))
    assert card.masked_name == "李**"
    # The driver selected the application by AID, then EF05 and EF06, as the reference says.
    assert socsec_card.apdus[0].startswith(bytes.fromhex("00A404000F7378312E73682E"))
    assert bytes.fromhex("00A4020002EF05") in socsec_card.apdus
    assert bytes.fromhex("00A4020002EF06") in socsec_card.apdus


def test_wrong_le_is_corrected_by_the_driver(pcscd: Pcscd, socsec_card: SocialSecurityCardSim) -> None:
    # Make the name record longer than the driver expects: the card answers 6Cxx and the driver asks again.
    socsec_card.files[bytes.fromhex("EF06")][0x09] = bytes([0x09, 32]) + "李秀英".encode("gbk").ljust(
        32, b"\x00"
    )
    with _reader(pcscd) as r:
        assert r.wait_for_card(5.0)
        assert r.read().name == "李秀英"
    assert any(a[:4] == bytes.fromhex("00B20900") and a[4] == 34 for a in socsec_card.apdus)


def test_no_card_in_the_reader(vpcd_empty: Pcscd) -> None:
    pcscd = vpcd_empty
    with _reader(pcscd) as r:
        assert r.wait_for_card(0.2) is False
        with pytest.raises(NoCard):
            r.read()


def test_card_pulled_mid_read_is_card_removed(vpcd_empty: Pcscd) -> None:
    pcscd = vpcd_empty
    card = SocialSecurityCardSim(port=pcscd.port)
    card.insert()
    try:
        with _reader(pcscd) as r:
            assert r.wait_for_card(5.0)
            card.pull_after = 3  # answers select AID, select EF05, one record, then leaves
            with pytest.raises(CardRemoved) as info:
                r.read()
            assert info.value.code == "card.removed"
    finally:
        card.remove()


def test_a_card_that_is_not_a_social_security_card_is_read_failed(vpcd_empty: Pcscd) -> None:
    pcscd = vpcd_empty
    card = SocialSecurityCardSim(port=pcscd.port)
    card.insert()
    try:
        card.answer = lambda apdu: b"\x6a\x82"  # type: ignore[method-assign]
        with _reader(pcscd) as r:
            assert r.wait_for_card(5.0)
            with pytest.raises(DeviceError) as info:
                r.read()
        assert info.value.code == "card.read_failed"
    finally:
        card.remove()


def test_watch_reports_each_insertion_once(vpcd_empty: Pcscd) -> None:
    pcscd = vpcd_empty
    card = SocialSecurityCardSim(port=pcscd.port)
    cards: list[IdCard] = []
    errors: list[DeviceError] = []
    stop = threading.Event()
    with _reader(pcscd) as r:
        t = threading.Thread(target=r.watch, args=(cards.append, errors.append, stop), daemon=True)
        t.start()
        try:
            card.insert()
            assert _until(lambda: len(cards) == 1)
            time.sleep(10 * POLL)  # the card stays in: no second report
            assert len(cards) == 1
            card.remove()
            assert wait_reader_empty(pcscd.reader)
            card.insert()
            assert _until(lambda: len(cards) == 2)
            assert errors == []
        finally:
            stop.set()
            t.join(timeout=10)
            card.remove()
    assert not t.is_alive()


def test_open_reader_urls(pcscd: Pcscd, socsec_card: SocialSecurityCardSim) -> None:
    assert pcscd.reader in list_readers()
    r = open_reader("pcsc://Virtual%20PCD%2000%2000?poll=0.05")
    assert isinstance(r, PcscReader)
    with r:
        assert r.reader_name == pcscd.reader
        assert r.wait_for_card(5.0)
        assert r.read().name == "李秀英"
    with open_reader("pcsc://") as first:
        assert first.reader_name.startswith("Virtual PCD")  # type: ignore[attr-defined]
    with pytest.raises(ReaderNotFound):
        open_reader("pcsc://No Such Reader").open()


def test_missing_pyscard_is_dependency_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "smartcard" or m.startswith("smartcard.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "smartcard", None)
    with pytest.raises(DependencyMissing) as info:
        PcscReader().open()
    assert "pip install" in str(info.value) and "hall-system[devices]" in str(info.value)
    assert "缺少 pyscard" in info.value.message_zh


def _until(cond: object, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


# --- `hall-sim smartcard` as a real process (kept here: one file uses the machine's one pcscd) ---


@pytest.mark.pcsc
def test_hall_sim_smartcard_is_read_through_pcscd(vpcd_empty: Pcscd) -> None:
    pcscd = vpcd_empty
    with hall_sim("smartcard", "--port", str(pcscd.port)) as proc:
        assert "社保卡已插入" in _readline(proc)
        with PcscReader(pcscd.reader, poll_interval=0.05) as r:
            assert r.wait_for_card(5.0)
            assert r.read().name == "李秀英"
        _send(proc, "quit")
        assert proc.wait(timeout=10) == 0
