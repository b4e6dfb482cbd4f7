"""What the lookup screen says of a ticket: its place when known, never a bare "None"."""

from __future__ import annotations

from kiosk.ui.lookup import describe
from tests.kiosk.helpers import ticket_out


def test_a_waiting_ticket_says_how_many_are_ahead_and_the_estimate() -> None:
    text = describe(ticket_out(people_ahead=2, estimated_wait_minutes=6))
    assert "前面还有 2 人，预计约 6 分钟" in text


def test_a_ticket_whose_place_is_unknown_says_nothing_about_it() -> None:
    text = describe(ticket_out(people_ahead=None, estimated_wait_minutes=None))
    assert "None" not in text
    assert "前面还有" not in text
    assert text.startswith("A001  社会保障卡申领")


def test_a_called_ticket_says_where_to_go() -> None:
    text = describe(ticket_out(status="called", window_number=7))
    assert "请到 7 号窗口" in text
