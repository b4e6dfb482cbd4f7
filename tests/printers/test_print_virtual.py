"""Tickets printed through python-escpos over real TCP into the virtual printer, in both modes and widths."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from escpos.printer import Network
from PIL import Image

from printers import GuideSlip, Material, ReceiptLayout, ReceiptLine, TicketLayout, open_printer
from printers.blocks import layout_blocks
from printers.raster import render_blocks
from printers.virtual import VirtualPrinter
from printers.virtual.model import Bitmap, QrCode, TextLine
from printers.virtual.render import paper_margins
from tests.printers.conftest import TRACK_URL, decode_qr, network_config

WIDTHS = [58, 80]
DOTS = {58: 384, 80: 576}


def printable_area(path, width_mm: int) -> Image.Image:
    """The printed area of a page PNG (the paper margins cropped off), as mode "1"."""
    img = Image.open(path)
    left, top = paper_margins(DOTS[width_mm])
    return img.crop((left, top, left + DOTS[width_mm], img.height)).convert("1")


@pytest.mark.parametrize("width_mm", WIDTHS)
def test_text_mode_ticket_prints_chinese_text_and_a_scannable_qr(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout, width_mm: int
) -> None:
    vp = virtual_printer(width_mm)
    printer = open_printer(network_config(vp, "text", width_mm))
    after = printer.print_ticket(ticket)
    assert after.answered and after.ready
    [png] = vp.wait_for_pages(1)
    page = vp.documents[0]
    assert page.cut  # the job ends with a paper cut, not just a dropped connection
    lines = page.text_lines
    text = "\n".join(lines)
    assert "巴中市政务服务中心" in lines
    assert "A012" in lines
    assert "不动产登记" in text
    assert "过号无效，请您重新取号" in lines
    assert "【绿色通道】" in lines  # punctuation-heavy lines keep their full-width brackets
    assert "?" not in text
    # The number is printed magnified, and its band of the page holds plenty of ink.
    number = next(i for i in page.items if isinstance(i, TextLine) and i.text == "A012")
    assert number.height >= 4 and number.runs[0][1].bold
    # The rare character of the holder's name is outside the printer's font: it is sent as an image.
    assert not any("䶮" in line for line in lines)
    assert any(isinstance(i, Bitmap) for i in page.items)
    assert decode_qr(png) == TRACK_URL
    ink = 1 - np.asarray(printable_area(png, width_mm), dtype=np.uint8)
    assert ink.sum() > 5000


@pytest.mark.parametrize("width_mm", WIDTHS)
def test_raster_mode_ticket_matches_the_rendered_source_image(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout, width_mm: int
) -> None:
    vp = virtual_printer(width_mm)
    open_printer(network_config(vp, "raster", width_mm)).print_ticket(ticket)
    [png] = vp.wait_for_pages(1)
    source = render_blocks(layout_blocks(ticket, width_mm), width_mm)
    printed = printable_area(png, width_mm).crop((0, 0, source.width, source.height))
    # Every dot the kiosk rendered (including 䶮 in the holder's name) arrived on paper unchanged.
    assert np.array_equal(np.asarray(printed), np.asarray(source))
    assert vp.documents[0].text_lines == []  # nothing went as printer text
    assert decode_qr(png) == TRACK_URL


def test_rare_characters_are_drawn_from_the_font_not_as_boxes() -> None:
    from printers.fonts import has_glyph, load_font

    font = load_font(24)
    for ch in "㵘䶮张":
        assert has_glyph(font, ch), ch
    assert not has_glyph(font, "\U000f0000")  # a private-use character really comes out as a box


def test_native_qr_mode_is_decoded_by_the_virtual_printer(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    vp = virtual_printer(80)
    open_printer(network_config(vp, "text", 80, native_qr=True)).print_ticket(ticket)
    [png] = vp.wait_for_pages(1)
    qr = [i for i in vp.documents[0].items if isinstance(i, QrCode)]
    assert [q.data.decode() for q in qr] == [TRACK_URL]
    assert decode_qr(png) == TRACK_URL


def test_guide_slip_and_receipt_print_as_separate_pages(
    virtual_printer: Callable[..., VirtualPrinter],
) -> None:
    vp = virtual_printer(58)
    printer = open_printer(network_config(vp, "text", 58))
    printer.print_guide(
        GuideSlip("巴州区政务服务中心", "出生登记", [Material("出生医学证明", 1, 1)], ["取号"], "当场办结")
    )
    printer.print_receipt(ReceiptLayout("办件进度查询", [ReceiptLine("营业执照变更", "已办结")]))
    first, second = vp.wait_for_pages(2)
    assert first.name == "0001.png" and second.name == "0002.png"
    guide, receipt = (d.text_lines for d in vp.documents)
    assert "办事指南" in guide
    assert "出生医学证明（原件1份、复印件1份）" in "".join(line.strip() for line in guide)  # wrapped on 58 mm
    assert any(line.startswith("营业执照变更") and line.endswith("已办结") for line in receipt)


def test_plain_python_escpos_text_is_read_as_gb18030_in_chinese_mode(
    virtual_printer: Callable[..., VirtualPrinter],
) -> None:
    vp = virtual_printer(80)
    p = Network("127.0.0.1", port=vp.port, timeout=5)
    p.open()
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text("政务服务 A001\n")
    p.set_with_default()
    p.text("Grüße\n")  # python-escpos picks a code page (ESC t); Chinese mode keeps GB18030 for >= 0x80
    p.cut()
    p.close()
    vp.wait_for_pages(1)
    line = vp.documents[0].items[0]
    assert isinstance(line, TextLine)
    assert line.text == "政务服务 A001" and line.align == "center" and line.height == 2


def test_code_pages_are_used_outside_chinese_mode(virtual_printer: Callable[..., VirtualPrinter]) -> None:
    vp = virtual_printer(80, chinese_default=False)
    p = Network("127.0.0.1", port=vp.port, timeout=5)
    p.open()
    p.text("Grüße à Paris\n")
    p.cut()
    p.close()
    vp.wait_for_pages(1)
    assert vp.documents[0].text_lines[0] == "Grüße à Paris"


@pytest.mark.parametrize("impl", ["bitImageColumn", "graphics"])
def test_other_image_commands_render_the_same_picture(
    virtual_printer: Callable[..., VirtualPrinter], impl: str
) -> None:
    vp = virtual_printer(80)
    picture = Image.new("1", (96, 48), 1)
    picture.paste(0, (8, 8, 40, 40))
    picture.paste(0, (60, 0, 96, 24))
    p = Network("127.0.0.1", port=vp.port, timeout=5)
    p.open()
    p.image(picture, impl=impl)
    p.cut()
    p.close()
    vp.wait_for_pages(1)
    bitmaps = [i.image for i in vp.documents[0].items if isinstance(i, Bitmap)]
    stacked = Image.new("1", (96, sum(b.height for b in bitmaps)), 1)
    y = 0
    for b in bitmaps:
        stacked.paste(b.crop((0, 0, 96, b.height)), (0, y))
        y += b.height
    assert np.array_equal(np.asarray(stacked.crop((0, 0, 96, 48))), np.asarray(picture))


def test_two_kiosks_printing_at_once_get_whole_tickets(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    import dataclasses
    import threading

    vp = virtual_printer(80)
    errors: list[BaseException] = []

    def kiosk(prefix: str) -> None:
        printer = open_printer(network_config(vp, "text", 80))
        try:
            for i in range(4):
                printer.print_ticket(dataclasses.replace(ticket, number=f"{prefix}{i:03d}"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=kiosk, args=(p,)) for p in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    vp.wait_for_pages(8)
    numbers = []
    for doc in vp.documents:
        lines = doc.text_lines
        assert lines[0] == ticket.hall_name and "过号无效，请您重新取号" in lines  # never interleaved
        numbers += [line for line in lines if line[:1] in "AB" and line[1:].isdigit()]
    assert sorted(numbers) == [f"{p}{i:03d}" for p in "AB" for i in range(4)]


def test_connections_are_served_one_at_a_time_like_a_real_printer(
    virtual_printer: Callable[..., VirtualPrinter], ticket: TicketLayout
) -> None:
    """Two clients trickling their jobs at the same moment still get two clean pages."""
    import dataclasses
    import socket
    import threading
    import time

    vp = virtual_printer(80)
    jobs = {
        n: open_printer(network_config(vp, "text", 80)).render(dataclasses.replace(ticket, number=n))
        for n in ("A001", "B001")
    }
    go = threading.Barrier(2)

    def trickle(job: bytes) -> None:
        with socket.create_connection(("127.0.0.1", vp.port), timeout=10) as s:
            go.wait(5)
            for i in range(0, len(job), 512):
                s.sendall(job[i : i + 512])
                time.sleep(0.002)

    threads = [threading.Thread(target=trickle, args=(job,)) for job in jobs.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    vp.wait_for_pages(2)
    for doc in vp.documents:
        numbers = [line for line in doc.text_lines if line in jobs]
        assert len(numbers) == 1 and doc.text_lines[0] == ticket.hall_name
