"""Layouts become blocks that fit the paper: wrapping, big number, the missed-number rule."""

from __future__ import annotations

import pytest

from printers import GuideSlip, Material, PrinterConfig, ReceiptLayout, ReceiptLine, TicketLayout
from printers.blocks import Qr, Text, columns, layout_blocks, text_cells, wrap


@pytest.mark.parametrize("width_mm", [58, 80])
def test_every_ticket_line_fits_the_paper(ticket: TicketLayout, width_mm: int) -> None:
    blocks = layout_blocks(ticket, width_mm)
    texts = [b for b in blocks if isinstance(b, Text)]
    for t in texts:
        assert text_cells(t.text) <= columns(width_mm, t.width), t
    joined = "\n".join(t.text for t in texts)
    for needed in ("巴中市政务服务中心", "A012", "过号无效，请您重新取号", "绿色通道", "䶮*", "3号窗口"):
        assert needed in joined
    assert [b.data for b in blocks if isinstance(b, Qr)] == [ticket.qr_url]


def test_number_is_printed_big_and_bigger_on_wide_paper(ticket: TicketLayout) -> None:
    def number_scale(width_mm: int) -> int:
        return next(
            b.width for b in layout_blocks(ticket, width_mm) if isinstance(b, Text) and b.text == "A012"
        )

    assert number_scale(58) >= 4
    assert number_scale(80) > number_scale(58)


def test_wrap_uses_display_cells_and_a_hanging_indent() -> None:
    lines = wrap("业务事项：不动产登记（二手房转移登记）", 20, indent=10)
    assert all(text_cells(line) <= 20 for line in lines)
    assert all(line.startswith(" " * 10) for line in lines[1:])
    assert "".join(line.strip() for line in lines) == "业务事项：不动产登记（二手房转移登记）"


def test_guide_slip_lists_materials_with_originals_and_copies() -> None:
    slip = GuideSlip(
        "巴州区政务服务中心",
        "出生登记",
        [Material("出生医学证明", 1, 1), "居民户口簿"],
        steps=["取号", "提交材料"],
        time_limit="当场办结",
    )
    text = "\n".join(b.text for b in layout_blocks(slip, 80) if isinstance(b, Text))
    assert "1. 出生医学证明（原件1份、复印件1份）" in text
    assert "2. 居民户口簿" in text
    assert "当场办结" in text and "2. 提交材料" in text


def test_receipt_right_aligns_values() -> None:
    r = ReceiptLayout("办件进度", [ReceiptLine("营业执照变更", "已办结")])
    row = next(b.text for b in layout_blocks(r, 80) if isinstance(b, Text) and "营业执照变更" in b.text)
    assert row.endswith("已办结") and text_cells(row) == columns(80)


def test_bad_settings_are_refused_clearly(ticket: TicketLayout) -> None:
    with pytest.raises(ValueError, match="58"):
        layout_blocks(ticket, 76)
    with pytest.raises(ValueError, match="kind"):
        PrinterConfig("bluetooth", "")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        PrinterConfig("dummy", "", "pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="number"):
        TicketLayout("h", " ", "s", 0, 0, ticket.issued_at, None)


def test_config_from_url() -> None:
    cfg = PrinterConfig.from_url("network://10.0.0.5:9100?mode=raster&width=58")
    assert (cfg.kind, cfg.target, cfg.mode, cfg.width_mm) == ("network", "10.0.0.5:9100", "raster", 58)
    assert PrinterConfig.from_url("file:///dev/usb/lp0").target == "/dev/usb/lp0"
    assert PrinterConfig.from_url("serial:///dev/ttyS0?baud=19200").target == "/dev/ttyS0?baud=19200"
