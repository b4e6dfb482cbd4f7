"""The simulator against the reference bytes, talked to over a raw pty without the driver."""

from __future__ import annotations

import os
import select
import time
import tty
from collections.abc import Iterator

import pytest

from devices.sim.cards import encode_text_block, sample_card
from devices.sim.idcard import IdCardSimulator

HEADER = bytes.fromhex("AAAAAA9669")


@pytest.fixture
def line(sim: IdCardSimulator) -> Iterator[int]:
    fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _ask(fd: int, request_hex: str, expect: int, timeout: float = 3.0) -> bytes:
    """Write a request given in hex, read exactly `expect` reply bytes."""
    os.write(fd, bytes.fromhex(request_hex.replace(" ", "")))
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < expect:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(got)} of {expect} bytes arrived"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            got += os.read(fd, expect - len(got))
    return got


def test_sam_and_find_replies_are_the_reference_bytes(sim: IdCardSimulator, line: int) -> None:
    assert _ask(line, "AAAAAA9669 0003 11FF ED", 11) == HEADER + bytes.fromhex("0004000090 94")
    assert _ask(line, "AAAAAA9669 0003 2001 22", 11) == HEADER + bytes.fromhex("0004000080 84")
    sim.place(sample_card("resident"))
    assert _ask(line, "AAAAAA9669 0003 2001 22", 15) == HEADER + bytes.fromhex("000800009F0000000097")


def test_base_message_and_fingerprint_frames_have_the_reference_layout(
    sim: IdCardSimulator, line: int
) -> None:
    card = sample_card("fingerprint")
    sim.place(card)
    _ask(line, "AAAAAA9669 0003 2001 22", 15)
    select_reply = _ask(line, "AAAAAA9669 0003 2002 21", 19)
    assert select_reply[5:10] == bytes.fromhex("000C000090")
    base = _ask(line, "AAAAAA9669 0003 3001 32", 1295)
    assert base[5:7] == bytes.fromhex("0508") and base[7:10] == bytes.fromhex("000090")
    assert base[10:14] == bytes.fromhex("01000400")
    assert base[14:270] == encode_text_block(card)
    assert base[270:1294] == card.photo
    fp = _ask(line, "AAAAAA9669 0003 3010 23", 2321)
    assert fp[5:7] == bytes.fromhex("090A") and fp[10:16] == bytes.fromhex("010004000400")
    assert fp[16 + 256 + 1024 : -1] == card.fingerprint


def test_a_card_without_fingerprints_answers_length_zero(sim: IdCardSimulator, line: int) -> None:
    sim.place(sample_card("resident"))
    _ask(line, "AAAAAA9669 0003 2001 22", 15)
    _ask(line, "AAAAAA9669 0003 2002 21", 19)
    fp = _ask(line, "AAAAAA9669 0003 3010 23", 5 + 2 + 0x050A)
    assert fp[5:7] == bytes.fromhex("050A") and fp[14:16] == b"\x00\x00"


def test_read_without_select_fails_and_a_malformed_request_is_ignored(
    sim: IdCardSimulator, line: int
) -> None:
    sim.place(sample_card("resident"))
    assert _ask(line, "AAAAAA9669 0003 3001 32", 11) == HEADER + bytes.fromhex("0004000041 45")
    # A request with a wrong checksum gets no answer; the next good one does.
    os.write(line, bytes.fromhex("AAAAAA9669 0003 2001 23".replace(" ", "")))
    assert _ask(line, "AAAAAA9669 0003 11FF ED", 11) == HEADER + bytes.fromhex("0004000090 94")
    assert sim.malformed_requests == 1
