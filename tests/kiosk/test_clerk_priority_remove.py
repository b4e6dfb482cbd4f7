"""The clerk terminal against a real server: 取消优先 removes a self-declared priority, with a reason;
the elderly's priority (from the ID card) is refused with the server's words."""

from __future__ import annotations

import contextlib

import pytest

from devices.sim.cards import sample_card
from kiosk.api import HallClient
from tests.kiosk.helpers import HALL, Role, make_config

pytestmark = pytest.mark.timeout(240)


def _call_and_remove(qtbot, c, ticket_id: int):
    """Call the ticket to this window, press 取消优先 and choose 未出示证件; the op's answer."""
    with qtbot.waitSignal(c.op_finished, timeout=20000):
        c.do_op("call_chosen", {"ticket_id": ticket_id})
    assert c.current is not None and c.current.id == ticket_id and c.current.priority
    assert c.priority.button.isEnabled()
    c.priority.button.click()
    dialog = c.priority.dialog
    assert dialog is not None and dialog.isVisible()
    with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
        dialog.buttons["未出示证件"].click()
    assert sig.args[0] == "priority_remove"
    return sig.args[1]


def _serve(qtbot, c) -> None:
    """Start and finish the ticket in hand, so the window is free for the next."""
    for op in ("start", "finish"):
        with qtbot.waitSignal(c.op_finished, timeout=20000) as sig:
            c.do_op(op)
        assert not isinstance(sig.args[1], BaseException), sig.args[1]


def test_a_clerk_removes_a_declared_priority_and_is_refused_for_the_elderly(
    qtbot, themed_qapp, kserver, tmp_path
):
    kiosk = HallClient(kserver.url, kserver.kiosk_token)
    win = kserver.windows[3]
    clerk = Role(qtbot, make_config("clerk", kserver.url, tmp_path / "c", window_id=win["id"]))
    c = clerk.widget
    try:
        clerk.wait_ready(qtbot)
        c.user_edit.setText("clerk3")
        c.pass_edit.setText("test-pass-3")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        assert not c.priority.button.isEnabled()  # nothing in hand
        declared = kiosk.issue_ticket(HALL, "T-003", green_reason="pregnant")
        assert declared.priority and declared.green_reason == "pregnant"
        answer = _call_and_remove(qtbot, c, declared.id)
        assert not isinstance(answer, BaseException), answer
        # The server's state: the ticket is an ordinary one now; the screen says so.
        after = kiosk.ticket(declared.id)
        assert after.priority is False and after.green_reason is None
        assert "绿色通道" not in c.cur_info.text() and not c.priority.button.isEnabled()
        assert "已取消优先" in c.message.text()
        _serve(qtbot, c)

        card = sample_card("elderly")
        elderly = kiosk.issue_ticket(HALL, "T-003", identity={"id_number": card.id_number, "name": card.name})
        assert elderly.priority and elderly.green_reason == "elderly"
        refused = _call_and_remove(qtbot, c, elderly.id)
        assert getattr(refused, "code", None) == "green.not_removable", refused
        assert "没有可取消的自报绿色通道" in c.message.text(), c.message.text()
        assert kiosk.ticket(elderly.id).priority is True and c.current is not None and c.current.priority
        _serve(qtbot, c)
    finally:
        with contextlib.suppress(Exception):  # the test's outcome is already decided
            c.client.logout()
        clerk.close()
