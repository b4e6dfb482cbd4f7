"""The SAM frame codec against the reference bytes, and the incremental parser on hostile input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.errors import ChecksumError, DeviceError, FrameError
from devices.idcard.frames import FrameParser, build_request, build_response, xor_checksum

HEADER = bytes.fromhex("AAAAAA9669")


@pytest.mark.parametrize(
    ("cmd", "para", "tail"),
    [
        (0x10, 0xFF, "0003 10FF EC"),  # reset SAM
        (0x11, 0xFF, "0003 11FF ED"),  # SAM status
        (0x12, 0xFF, "0003 12FF EE"),  # SAM id
        (0x20, 0x01, "0003 2001 22"),  # find card
        (0x20, 0x02, "0003 2002 21"),  # select card
        (0x30, 0x01, "0003 3001 32"),  # read base message
        (0x30, 0x10, "0003 3010 23"),  # read with fingerprint
        (0x30, 0x03, "0003 3003 30"),  # read latest address
    ],
)
def test_requests_match_the_reference_bytes(cmd: int, para: int, tail: str) -> None:
    assert build_request(cmd, para) == HEADER + bytes.fromhex(tail.replace(" ", ""))


def test_responses_match_the_reference_bytes() -> None:
    assert build_response(0x90) == HEADER + bytes.fromhex("0004000090 94")
    assert build_response(0x9F, bytes(4)) == HEADER + bytes.fromhex("0008 00009F 00000000 97")
    assert build_response(0x80) == HEADER + bytes.fromhex("0004 000080 84")
    assert build_response(0x41) == HEADER + bytes.fromhex("0004 000041 45")


def test_parser_reads_the_reference_find_card_reply() -> None:
    p = FrameParser()
    p.feed(HEADER + bytes.fromhex("000800009F0000000097"))
    frame = p.next_frame()
    assert frame is not None
    assert frame.sw3 == 0x9F and frame.data == bytes(4)
    assert p.next_frame() is None and p.pending == 0


def test_a_frame_fed_byte_by_byte_comes_out_once_complete() -> None:
    raw = build_response(0x90, bytes(range(200)) * 6)
    p = FrameParser()
    for i, b in enumerate(raw):
        p.feed(bytes([b]))
        frame = p.next_frame()
        if i < len(raw) - 1:
            assert frame is None
    assert frame is not None and frame.data == bytes(range(200)) * 6


def test_garbage_before_the_header_is_skipped_and_counted() -> None:
    p = FrameParser()
    p.feed(b"\x00\x13\xaa\xaa\x96" + build_response(0x9F, bytes(4)))
    frame = p.next_frame()
    assert frame is not None and frame.sw3 == 0x9F
    assert p.discarded == 5


def test_a_header_split_across_chunks_is_not_lost() -> None:
    raw = build_response(0x80)
    p = FrameParser()
    p.feed(b"junk" + raw[:3])
    assert p.next_frame() is None
    p.feed(raw[3:])
    frame = p.next_frame()
    assert frame is not None and frame.sw3 == 0x80


def test_two_frames_in_one_chunk() -> None:
    p = FrameParser()
    p.feed(build_response(0x9F, bytes(4)) + build_response(0x90, b"\x01" * 8))
    frames = p.frames()
    assert [f.sw3 for f in frames] == [0x9F, 0x90]


def test_a_wrong_checksum_is_a_checksum_error_and_the_next_frame_still_parses() -> None:
    bad = bytearray(build_response(0x90, b"\x11" * 8))
    bad[-1] ^= 0x5A
    p = FrameParser()
    p.feed(bytes(bad) + build_response(0x80))
    with pytest.raises(ChecksumError) as info:
        p.next_frame()
    assert info.value.code == "frame.checksum"
    frame = p.next_frame()
    assert frame is not None and frame.sw3 == 0x80


@pytest.mark.parametrize("length", [0, 1, 2, 3, 0xFFFF])
def test_an_impossible_length_is_a_frame_error(length: int) -> None:
    p = FrameParser()
    p.feed(HEADER + length.to_bytes(2, "big") + b"\x00" * 8)
    with pytest.raises(FrameError) as info:
        p.next_frame()
    assert not isinstance(info.value, ChecksumError)


def test_request_parser_accepts_short_request_frames() -> None:
    p = FrameParser.for_requests()
    p.feed(build_request(0x20, 0x01))
    frame = p.next_frame()
    assert frame is not None and frame.command == (0x20, 0x01) and frame.request_data == b""


def test_xor_checksum_of_the_reference_sam_status_reply() -> None:
    assert xor_checksum(bytes.fromhex("0004000090")) == 0x94


def _drain(p: FrameParser) -> tuple[int, int]:
    """Pull frames until the parser wants more bytes; only DeviceErrors may come out, and it must end."""
    frames = errors = 0
    for _ in range(10_000):
        try:
            frame = p.next_frame()
        except DeviceError:
            errors += 1
            continue
        if frame is None:
            return frames, errors
        frames += 1
    raise AssertionError("parser did not settle")


valid_frames = st.builds(
    lambda sw3, data: build_response(sw3, data), st.integers(0, 255), st.binary(max_size=64)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=40), valid_frames, st.just(HEADER)), max_size=12), st.data())
def test_fuzz_random_and_truncated_frames_only_raise_typed_errors(
    chunks: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(chunks)
    if stream:
        # Truncate, and flip a few bytes somewhere.
        stream = stream[: data.draw(st.integers(0, len(stream)))]
        for _ in range(data.draw(st.integers(0, 3))):
            if stream:
                i = data.draw(st.integers(0, len(stream) - 1))
                stream = stream[:i] + bytes([stream[i] ^ data.draw(st.integers(1, 255))]) + stream[i + 1 :]
    p = FrameParser()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    start = 0
    for cut in [*cuts, len(stream)]:
        p.feed(stream[start:cut])
        start = cut
        _drain(p)
    assert p.pending <= len(stream)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 255), st.binary(max_size=100), st.binary(max_size=60))
def test_fuzz_a_valid_frame_between_garbage_is_recovered(
    pre: bytes, sw3: int, payload: bytes, post: bytes
) -> None:
    # Garbage that happens to contain a header could swallow the frame as its "body"; keep garbage header-free.
    pre = pre.replace(b"\xaa", b"\x00")
    p = FrameParser()
    p.feed(pre + build_response(sw3, payload) + post.replace(b"\xaa", b"\x00"))
    got = []
    for _ in range(1000):
        try:
            frame = p.next_frame()
        except DeviceError:
            continue
        if frame is None:
            break
        got.append(frame)
    assert any(f.sw3 == sw3 and f.data == payload for f in got)
