"""The real SAM serial driver (pyserial) against the byte-level simulator on a real pty."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from devices.errors import (
    CardRemoved,
    ChecksumError,
    DependencyMissing,
    DeviceError,
    InvalidCardData,
    NoCard,
    ReaderDisconnected,
    ReaderNotFound,
    ReaderTimeout,
)
from devices.idcard import CardType, IdCard, SamSerialReader, open_reader
from devices.sim.cards import SAMPLE_LATEST_ADDRESS, sample_card
from devices.sim.idcard import IdCardSimulator
from tests.devices.conftest import POLL, READ_TIMEOUT, make_reader


def _read(sim: IdCardSimulator, reader: SamSerialReader, kind: str, **place: object) -> IdCard:
    sim.place(sample_card(kind), **place)  # type: ignore[arg-type]
    assert reader.wait_for_card(2.0)
    return reader.read()


def test_resident_card_is_parsed_field_by_field(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    card = _read(sim, reader, "resident")
    assert card.card_type is CardType.RESIDENT
    assert card.name == "王建国"
    assert (card.sex, card.sex_code) == ("男", "1")
    assert (card.nation_code, card.nation) == ("01", "汉族")
    assert card.birth_date == date(1985, 3, 12)
    assert card.address == "四川省巴中市巴州区江北大道中段128号3栋2单元501号"
    assert card.id_number == "511902198503121234"
    assert card.authority == "巴中市公安局巴州区分局"
    assert (card.valid_from, card.valid_to) == (date(2016, 5, 20), date(2036, 5, 20))
    assert card.photo == sample_card("resident").photo and len(card.photo) == 1024
    assert card.fingerprint is None
    assert card.id_valid and card.id_problem is None
    assert card.age_on(date(2026, 3, 11)) == 40 and card.age_on(date(2026, 3, 12)) == 41
    assert card.masked_id == "5119**********1234"
    assert card.masked_name == "王**"
    assert "王建国" not in repr(card) and "511902198503121234" not in repr(card)
    assert reader.card_serial is not None and len(reader.card_serial) == 8


def test_elderly_card_valid_long_term_is_seventy_plus(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    card = _read(sim, reader, "elderly")
    assert card.name == "陈桂兰" and card.sex == "女" and card.nation == "土家族"
    assert card.valid_to is None and card.long_term
    assert not card.expired_on(date(2099, 1, 1))
    assert card.age_on(date(2026, 11, 26)) == 76
    assert card.id_number.endswith("X") and card.id_valid


def test_rare_characters_survive_the_ucs2_block(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    card = _read(sim, reader, "rare")
    assert card.name == "刘䶮㵘"
    assert "㵘" in card.address
    assert card.nation == "彝族"


def test_foreigners_permanent_residence_card_uses_its_own_layout(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    card = _read(sim, reader, "foreigner")
    assert card.card_type is CardType.FOREIGNER
    assert card.name_en == "SMITH, JOHN WILLIAM"
    assert card.name == "史密斯"
    assert card.nationality == "USA"
    assert card.id_number == "USA511079091501"
    assert card.birth_date == date(1979, 9, 15)
    assert (card.valid_from, card.valid_to) == (date(2020, 1, 15), date(2030, 1, 15))
    assert card.card_version == "05" and card.authority == "1500"
    assert card.address == "" and card.nation == ""
    assert card.id_valid


def test_hmt_residence_permit_has_permit_number_and_issue_count(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    card = _read(sim, reader, "hmt")
    assert card.card_type is CardType.HMT
    assert card.name == "陈家豪"
    assert card.id_number.startswith("810000")
    assert card.travel_permit_number == "H60123456"
    assert card.issue_count == 1
    assert card.nation_code == "" and card.nation == ""
    assert card.address == "四川省巴中市巴州区巴州大道88号"
    assert card.id_valid


def test_invalid_id_number_is_flagged_with_the_reason(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    card = _read(sim, reader, "invalid")
    assert not card.id_valid
    assert card.id_problem is not None and card.id_problem.code == "id.checksum"
    assert "校验码" in card.id_problem.message_zh and "应为4" in card.id_problem.message_zh


def test_strict_reader_raises_for_an_invalid_id_number(sim: IdCardSimulator) -> None:
    sim.place(sample_card("invalid"))
    with make_reader(sim.port, strict=True) as r:
        assert r.wait_for_card(2.0)
        with pytest.raises(InvalidCardData) as info:
            r.read()
    assert info.value.code == "card.invalid_data"


def test_read_with_fingerprint(sim: IdCardSimulator) -> None:
    sim.place(sample_card("fingerprint"))
    with make_reader(sim.port, fingerprint=True) as r:
        assert r.wait_for_card(2.0)
        card = r.read()
    assert card.fingerprint == sample_card("fingerprint").fingerprint and len(card.fingerprint or b"") == 1024
    assert card.name == "王建国" and len(card.photo) == 1024


def test_fingerprint_read_of_a_card_without_fingerprints(sim: IdCardSimulator) -> None:
    sim.place(sample_card("resident"))
    with make_reader(sim.port, fingerprint=True) as r:
        assert r.wait_for_card(2.0)
        card = r.read()
    assert card.fingerprint is None and card.name == "王建国"


def test_latest_address(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    _read(sim, reader, "resident", latest_address=SAMPLE_LATEST_ADDRESS)
    assert reader.read_latest_address() == SAMPLE_LATEST_ADDRESS
    sim.remove()
    _read(sim, reader, "elderly")
    assert reader.read_latest_address() is None


def test_sam_commands(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    assert reader.sam_status() is True
    assert reader.sam_id() == sim.sam_id.hex().upper()
    reader.reset_sam()
    sim.sam_ok = False
    assert reader.sam_status() is False


def test_set_baud_rate_switches_both_ends(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    reader.set_baud_rate(9600)
    # The reader answers at the old speed and switches after the reply is on the wire, so the
    # simulator's side may lag the reader's return by a moment.
    deadline = time.monotonic() + 2.0
    while sim.baudrate != 9600 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sim.baudrate == 9600
    assert reader.transport.baudrate == 9600  # type: ignore[attr-defined]
    assert _read(sim, reader, "resident").name == "王建国"
    with pytest.raises(ValueError):
        reader.set_baud_rate(12345)


def test_a_card_must_leave_the_field_before_it_is_found_again(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    _read(sim, reader, "resident")
    assert reader.wait_for_card(0.15) is False
    sim.remove()
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0) is True


def test_no_card(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    assert reader.wait_for_card(0.1) is False
    with pytest.raises(NoCard) as info:
        reader.read()
    assert info.value.message_zh == "请放置身份证"


def test_wait_for_card_returns_when_cancelled(reader: SamSerialReader) -> None:
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    assert reader.wait_for_card(None, cancel) is False


def test_a_damaged_reply_is_read_again(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0)
    sim.corrupt_next()
    assert reader.read().name == "王建国"


def test_checksum_errors_beyond_the_retries_are_typed_and_the_card_stays_readable(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0)
    sim.corrupt_next(reader.retries + 1)
    with pytest.raises(ChecksumError) as info:
        reader.read()
    assert info.value.code == "frame.checksum"
    assert reader.read().name == "王建国"


def test_replies_split_into_single_bytes_are_reassembled(sim: IdCardSimulator) -> None:
    sim.place(sample_card("hmt"))
    # Generous timeout: 1295 separate writes with a pause each take a while on a busy machine.
    with make_reader(sim.port, read_timeout=10.0) as r:
        assert r.wait_for_card(2.0)
        sim.byte_delay = 0.00005
        card = r.read()
    assert card.travel_permit_number == "H60123456"


@pytest.mark.parametrize("mode", ["truncate", "status"])
def test_card_pulled_mid_read_is_card_removed(
    sim: IdCardSimulator, reader: SamSerialReader, mode: str
) -> None:
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0)
    sim.remove_mid_read(mode)
    with pytest.raises(CardRemoved) as info:
        reader.read()
    assert info.value.code == "card.removed"
    assert not sim.card_present
    sim.place(sample_card("elderly"))
    assert reader.wait_for_card(2.0)
    assert reader.read().name == "陈桂兰"


def test_slow_reader_within_the_timeout(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0)
    sim.delay = READ_TIMEOUT / 4
    assert reader.read().name == "王建国"


def test_slow_reader_beyond_the_timeout_then_recovers(sim: IdCardSimulator) -> None:
    sim.place(sample_card("resident"))
    with make_reader(sim.port, timeout=0.15, read_timeout=0.15) as r:
        assert r.wait_for_card(2.0)
        sim.delay = 0.4
        with pytest.raises(ReaderTimeout) as info:
            r.read()
        assert info.value.code == "reader.timeout"
        sim.delay = 0.0
        sim.remove()
        sim.place(sample_card("elderly"))
        # The late replies (a 1295-byte read, a find) arrive while the same driver asks again:
        # they must be skipped, not taken for the answers to the new commands.
        r.timeout = r.read_timeout = 1.0
        assert r.wait_for_card(3.0)
        assert r.read().name == "陈桂兰"


def test_unplug_is_reader_disconnected(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    sim.unplug()
    with pytest.raises(ReaderDisconnected) as info:
        reader.wait_for_card(1.0)
    assert info.value.code == "reader.disconnected"
    with pytest.raises(ReaderDisconnected):
        reader.read()


def test_open_errors_are_reader_not_found(tmp_path: object) -> None:
    with pytest.raises(ReaderNotFound):
        make_reader("/dev/does-not-exist-ttyUSB9").open()
    # A pty nobody answers on: a port that is not an ID-card reader.
    master, slave = os.openpty()
    try:
        r = make_reader(os.ttyname(slave), timeout=0.1)
        with pytest.raises(ReaderNotFound):
            r.open()
    finally:
        os.close(master)
        os.close(slave)


def _watch(
    reader: SamSerialReader,
) -> tuple[list[IdCard], list[DeviceError], threading.Event, threading.Thread]:
    cards: list[IdCard] = []
    errors: list[DeviceError] = []
    stop = threading.Event()
    t = threading.Thread(target=reader.watch, args=(cards.append, errors.append, stop), daemon=True)
    t.start()
    return cards, errors, stop, t


def _until(cond: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_watch_reports_each_placement_once(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    cards, errors, stop, t = _watch(reader)
    try:
        sim.place(sample_card("resident"))
        assert _until(lambda: len(cards) == 1)
        polls = len(sim.requests)
        # The card stays on the reader for many more polls: still one report.
        assert _until(lambda: len(sim.requests) >= polls + 10)
        assert len(cards) == 1
        sim.remove()
        assert _until(lambda: len(sim.requests) >= polls + 12)
        sim.place(sample_card("elderly"))
        assert _until(lambda: len(cards) == 2)
        assert [c.name for c in cards] == ["王建国", "陈桂兰"]
        assert errors == []
    finally:
        stop.set()
        t.join(timeout=5)
    assert not t.is_alive()


def test_watch_survives_a_corrupt_frame_and_still_reports_once(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    cards, errors, stop, t = _watch(reader)
    try:
        sim.corrupt_next(command=(0x30, 0x01))
        sim.place(sample_card("rare"))
        assert _until(lambda: len(cards) == 1)
        n = len(sim.requests)
        assert _until(lambda: len(sim.requests) >= n + 8)
        assert len(cards) == 1 and cards[0].name == "刘䶮㵘"
        assert errors == []
    finally:
        stop.set()
        t.join(timeout=5)


def test_watch_reports_a_pulled_card_and_an_unplugged_reader_once(
    sim: IdCardSimulator, reader: SamSerialReader
) -> None:
    cards, errors, stop, t = _watch(reader)
    try:
        sim.remove_mid_read("status")
        sim.place(sample_card("resident"))
        assert _until(lambda: len(errors) == 1)
        assert isinstance(errors[0], CardRemoved) and cards == []
        sim.unplug()
        assert _until(lambda: len(errors) == 2)
        assert isinstance(errors[1], ReaderDisconnected)
        time.sleep(0.3)  # several poll intervals: no repeated reports while it stays unplugged
        assert len(errors) == 2
    finally:
        stop.set()
        t.join(timeout=5)
    assert not t.is_alive()


def test_default_polling_is_no_faster_than_every_300_ms(sim: IdCardSimulator) -> None:
    r = SamSerialReader(sim.port, timeout=0.5)
    assert r.poll_interval == 0.3
    with r:
        start = len(sim.requests)
        r.wait_for_card(0.95)
    finds = [q.at for q in sim.requests[start:] if (q.cmd, q.para) == (0x20, 0x01)]
    # 0.95 s at one poll every 300 ms: 2 to 4 polls (every 100 ms would be about 10). The times
    # are when the simulator read each request, so one read late on a loaded machine shortens the
    # next gap; the average gap is what the reader's pacing decides.
    assert 2 <= len(finds) <= 4
    assert (finds[-1] - finds[0]) / (len(finds) - 1) >= 0.25


def test_open_reader_url(sim: IdCardSimulator) -> None:
    sim.place(sample_card("foreigner"))
    r = open_reader(f"serial://{sim.port}?baud=115200&poll={POLL}&timeout=0.5&fingerprint=1")
    assert isinstance(r, SamSerialReader) and r.fingerprint and r.poll_interval == POLL
    with r:
        assert r.wait_for_card(2.0)
        assert r.read().card_type is CardType.FOREIGNER
    with pytest.raises(ValueError):
        open_reader("usb://whatever")
    with pytest.raises(ValueError):
        open_reader("serial://")


def test_missing_pyserial_is_dependency_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "serial" or m.startswith("serial.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(DependencyMissing) as info:
        make_reader("/dev/ttyUSB0").open()
    assert "pyserial" in str(info.value) and "hall-system[devices]" in str(info.value)


def test_line_noise_before_a_reply_is_skipped(sim: IdCardSimulator, reader: SamSerialReader) -> None:
    sim.place(sample_card("resident"))
    assert reader.wait_for_card(2.0)
    sim.inject_noise(b"\x00\xff\xaa\xaa\x13\x96\x69garbage")
    assert reader.read().name == "王建国"


def test_watch_reopens_a_reader_that_comes_back(tmp_path: Path) -> None:
    # A stable device name (like a udev symlink) that first points at one reader, then at a new one.
    link = tmp_path / "ttyIDCARD"
    first = IdCardSimulator().start()
    second = IdCardSimulator()
    link.symlink_to(first.port)
    reader = make_reader(str(link))
    reader.reopen_interval = 0.05
    cards: list[IdCard] = []
    errors: list[DeviceError] = []
    states: list[str] = []
    stop = threading.Event()
    t = threading.Thread(
        target=reader.watch, args=(cards.append, errors.append, stop, states.append), daemon=True
    )
    try:
        reader.open()
        t.start()
        first.place(sample_card("resident"))
        assert _until(lambda: len(cards) == 1)
        first.unplug()
        assert _until(lambda: len(errors) == 1)
        assert isinstance(errors[0], ReaderDisconnected)
        assert states == ["offline"]
        second.start()
        link.unlink()
        link.symlink_to(second.port)
        second.place(sample_card("elderly"))
        assert _until(lambda: len(cards) == 2)
        assert cards[1].name == "陈桂兰" and len(errors) == 1
        assert states == ["offline", "ready"]
    finally:
        stop.set()
        if t.is_alive():
            t.join(timeout=5)
        reader.close()
        first.stop()
        second.stop()
