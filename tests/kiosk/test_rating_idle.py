"""The rating terminal: thanks, a rating the server refuses kept as rejected, then back to idle."""

from __future__ import annotations

import pytest

from tests.kiosk.helpers import Role, make_config

pytestmark = pytest.mark.timeout(120)


def test_rating_thanks_then_back_to_idle(qtbot, themed_qapp, kserver, tmp_path):
    win = kserver.windows[4]
    rating = Role(
        qtbot,
        make_config(
            "rating", kserver.url, tmp_path / "r", token=kserver.rating_token(4), window_id=win["id"]
        ),
    )
    try:
        rating.wait_ready(qtbot)
        rt = rating.widget
        assert f"{win['number']}号窗口" in rt.window_label.text()
        rt.ask({"id": 999999, "number": "A999"})  # a ticket the server does not know
        rt.choose_level(5)
        assert rt.pages.currentWidget() is rt.thanks_page
        # The server refuses it for good: it leaves the outbox as "rejected" with the reason, not silently.
        qtbot.waitUntil(lambda: rt.outbox.pending() == [], timeout=20000)
        assert rt.outbox.rejected() and rt.outbox.rejected()[0]["error"]["code"]
        rt.back_timer.start(200)  # the thanks page's timeout, shortened
        qtbot.waitUntil(lambda: rt.pages.currentWidget() is rt.idle_page, timeout=5000)
    finally:
        rating.close()
