"""The built-in ID card and printer simulators are chosen from the configuration."""

from __future__ import annotations

import pytest

from tests.kiosk.helpers import make_config, ticket_out

pytestmark = pytest.mark.timeout(120)


def test_simulators_selectable_from_config(tmp_path):
    from kiosk.app import build_context, close_context
    from kiosk.config import PrinterSettings

    cfg = make_config(
        "visitor",
        "http://127.0.0.1:9",
        tmp_path / "m",
        id_reader="sim",
        printer=PrinterSettings(kind="virtual", mode="text"),
    )
    ctx = build_context(cfg)
    try:
        sims = ctx.extras["sims"]
        assert ctx.reader is not None and ctx.reader.url == f"serial://{sims.idcard.port}"
        assert ctx.printer.settings.target.endswith(str(sims.printer.port))
        ctx.printer.print_ticket(ticket_out(number="C001", service_name="测试"), "测试大厅")
        assert sims.printer.wait_for_pages(1, timeout=15)
        assert (tmp_path / "m" / "printer").is_dir()
    finally:
        close_context(ctx)
