"""Random bytes at the ESC/POS parser: only typed errors, no hang, no crash, same result however chunked."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printers.errors import EscPosParseError, PrinterError
from printers.virtual import EscPosParser
from printers.virtual.render import render_page

PREFIXES = [
    b"\x1b",
    b"\x1d",
    b"\x1c",
    b"\x10",
    b"\x1dv0",
    b"\x1d(k",
    b"\x1d(L",
    b"\x1b*",
    b"\x1dV",
    b"\x1b@",
    b"\x1c&",
]
# Streams built from command prefixes followed by random parameters reach deep into every branch.
commandish = st.lists(
    st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=12)).map(lambda t: t[0] + t[1])
    | st.binary(max_size=24),
    max_size=40,
).map(b"".join)
streams = st.binary(max_size=600) | commandish


def run(data: bytes, cut_at: int | None = None, strict: bool = False) -> list[list[str]]:
    parser = EscPosParser(384, strict=strict)
    pages = []
    chunks = [data] if cut_at is None else [data[:cut_at], data[cut_at:]]
    for chunk in chunks:
        pages += parser.feed(chunk).pages
    pages += parser.finish().pages
    for page in pages:
        assert render_page(page, 384).width == 384
    return [p.text_lines for p in pages]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams, split=st.integers(min_value=0, max_value=600))
def test_random_bytes_never_crash_and_chunking_does_not_matter(data: bytes, split: int) -> None:
    whole = run(data)
    assert run(data, cut_at=min(split, len(data))) == whole


@settings(max_examples=200, deadline=None)
@given(data=streams)
def test_strict_parser_raises_only_typed_errors(data: bytes) -> None:
    try:
        run(data, strict=True)
    except EscPosParseError as err:
        assert isinstance(err, PrinterError) and err.message_zh.startswith("打印数据格式错误")


def test_absurd_image_header_is_skipped_and_printing_goes_on() -> None:
    parser = EscPosParser(384)
    huge = b"\x1dv0\x00\xff\xff\xff\xff"  # 524280 x 65535 dots: no printer accepts this
    result = parser.feed(huge + "正常文字\n".encode("gb18030") + b"\x1dV\x00")
    assert [p.text_lines for p in result.pages] == [["正常文字"]]
    assert parser.problems and parser.problems[0].code == "printer.escpos_malformed"
    with pytest.raises(EscPosParseError):
        EscPosParser(384, strict=True).feed(huge)


def test_status_requests_are_answered_even_inside_a_job() -> None:
    answers = []
    parser = EscPosParser(384, status=lambda n: answers.append(n) or 0x12)
    out = parser.feed(b"\x1b@abc\x10\x04\x01def\x10\x04\x04\n")
    assert out.replies == b"\x12\x12" and answers == [1, 4]
    assert parser.feed(b"\x1dV\x00").pages[0].text_lines == ["abcdef"]


def test_a_command_split_across_chunks_waits_for_its_bytes() -> None:
    parser = EscPosParser(384)
    job = b"\x1b@\x1c&" + "办".encode("gb18030") + b"\x1d!\x11" + "事".encode("gb18030") + b"\n\x1dV\x00"
    pages = []
    for i in range(len(job)):
        pages += parser.feed(job[i : i + 1]).pages
    assert [p.text_lines for p in pages] == [["办事"]]
