"""The network drops (server killed, restarted on the same database): screens stay usable, say they are
offline, recover by themselves, and lose nothing (rating outbox, retried ticket issued once, events replayed)."""

from __future__ import annotations

import threading
import uuid

import pytest
from PySide6.QtCore import Qt

from kiosk.api import HallClient
from kiosk.errors import ApiError, InvalidRequest, NotFound, QueueEmpty, ServerUnreachable, Unauthorized
from kiosk.events import EventChannel
from tests.kiosk.conftest import start_kserver
from tests.kiosk.helpers import HALL, Role, events, make_config, ticket_events

pytestmark = pytest.mark.timeout(280)


@pytest.fixture(scope="module")
def kserver(tmp_path_factory):
    """This module kills and restarts its server, so it does not share the session's."""
    yield from start_kserver(tmp_path_factory)


LEFT = Qt.MouseButton.LeftButton


def test_client_errors_are_typed_and_chinese(kserver):
    c = HallClient(kserver.url, kserver.kiosk_token)
    with pytest.raises(ApiError) as err:
        c.issue_ticket(HALL, "NO-SUCH")
    assert err.value.code == "service.unknown" and err.value.message_zh
    with pytest.raises(InvalidRequest) as err:
        c.issue_ticket(HALL, "T-001", identity={"id_number": "510101199001011235", "name": "张三"})
    assert err.value.code == "id.invalid"
    with pytest.raises(Unauthorized):
        HallClient(kserver.url, "wrong-token").issue_ticket(HALL, "T-001")
    with pytest.raises(NotFound):
        c.ticket(999999)
    with pytest.raises(ServerUnreachable) as err:
        HallClient("http://127.0.0.1:9", "x", retries=1).health()
    assert "服务器" in err.value.message_zh


def test_idempotent_issue_never_makes_two_tickets(kserver):
    c = HallClient(kserver.url, kserver.kiosk_token)
    key = uuid.uuid4().hex
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(c.issue_ticket(HALL, "T-001", idempotency_key=key)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.id for r in results}) == 1
    assert results[0].number.startswith("A")


def test_event_channel_replays_after_restart(kserver):
    c = HallClient(kserver.url, kserver.display_token)
    since = c.snapshot(HALL).last_seq
    ch = EventChannel(c.ws_url(f"/halls/{HALL}/events/ws"), kserver.display_token, since, backoff_max=1.0)
    got: list[dict] = []
    states: list[bool] = []
    unsub = ch.subscribe(got.append)
    ch.on_state(states.append)
    ch.start()
    try:
        kiosk = HallClient(kserver.url, kserver.kiosk_token)
        kiosk.issue_ticket(HALL, "T-003")
        _until(lambda: len(got) >= 1)
        kserver.server.kill()
        _until(lambda: states and states[-1] is False)
        kserver.server.restart()
        # Issued while the channel was still reconnecting: it must arrive by replay (?since=).
        t2 = kiosk.issue_ticket(HALL, "T-003")
        _until(lambda: any((e["payload"].get("ticket") or {}).get("id") == t2.id for e in got), 30)
        assert states[-1] is True and ch.connects >= 2
        seqs = [e["seq"] for e in got]
        assert seqs == sorted(set(seqs)), "events in order, no duplicates"
        assert seqs == list(range(since + 1, since + 1 + len(seqs))), "no gaps"
        unsub()
        kiosk.issue_ticket(HALL, "T-003")
        n = len(got)
        _until(lambda: ch.last_seq > seqs[-1])
        assert len(got) == n  # unsubscribed listeners hear nothing more
    finally:
        ch.stop()


def _until(cond, timeout: float = 20.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_server_down_and_back_every_screen_recovers_nothing_lost(
    qtbot, themed_qapp, kserver, speaker, tmp_path
):
    url = kserver.url
    win = kserver.windows[2]  # 综合受理窗口 (A, B)
    start_seq = events(url, kserver.display_token)[-1]["seq"]
    visitor = Role(qtbot, make_config("visitor", url, tmp_path / "v", token=kserver.kiosk_token))
    clerk = Role(qtbot, make_config("clerk", url, tmp_path / "c", window_id=win["id"]))
    display = Role(
        qtbot, make_config("display", url, tmp_path / "d", token=kserver.display_token), speaker=speaker
    )
    rating = Role(
        qtbot, make_config("rating", url, tmp_path / "r", token=kserver.rating_token(2), window_id=win["id"])
    )
    roles = (visitor, clerk, display, rating)
    try:
        for r in roles:
            r.wait_ready(qtbot)
        v, c, d, rt = (r.widget for r in roles)
        c.user_edit.setText("clerk2")
        c.pass_edit.setText("test-pass-2")
        with qtbot.waitSignal(c.logged_in, timeout=20000):
            c.login()
        # Serve one visitor up to the rating prompt.
        qtbot.waitUntil(lambda: "T-001" in v.service_buttons, timeout=30000)
        v.choose_service(v.services[0])
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            v.issue_anonymous()
        first = got.args[0]
        while True:  # earlier tests may have left tickets waiting: call until ours comes
            with qtbot.waitSignal(c.op_finished, timeout=20000) as called:
                c.do_op("call_next")
            assert not isinstance(called.args[1], Exception), called.args[1]
            if called.args[1].id == first.id:
                break
            with qtbot.waitSignal(c.op_finished, timeout=20000):
                c.do_op("no_show")
        for op in ("start", "finish"):
            with qtbot.waitSignal(c.op_finished, timeout=20000):
                c.do_op(op)
        qtbot.waitUntil(lambda: rt.pages.currentWidget() is rt.rate_page, timeout=20000)
        for r in roles:
            qtbot.waitUntil(lambda r=r: r.widget.badge.online, timeout=15000)

        # -- the network drops
        kserver.server.kill()
        for r in roles:
            qtbot.waitUntil(lambda r=r: not r.widget.badge.online, timeout=20000)
            assert "网络中断" in r.widget.badge.text()
        # A bad rating with reasons is made while offline: kept in the outbox.
        qtbot.mouseClick(rt.level_buttons[2], LEFT)
        assert rt.pages.currentWidget() is rt.reason_page
        rt.submit_bad()
        assert "至少" in rt.reason_error.text()  # nothing chosen: asked again, nothing lost
        rt.detail_buttons["等候时间太长"].setChecked(True)  # ticks its reason, 服务效率, too
        with qtbot.waitSignal(rt.rating_saved, timeout=5000):
            qtbot.mouseClick(rt.submit_btn, LEFT)
        qtbot.waitUntil(lambda: "已保存" in rt.thanks_note.text(), timeout=15000)
        assert len(rt.outbox.pending()) == 1
        # The clerk's call fails with a clear message and the buttons come back.
        with qtbot.waitSignal(c.op_finished, timeout=30000) as failed:
            c.do_op("call_next")
        assert isinstance(failed.args[1], ServerUnreachable)
        assert c.op_buttons["call_next"].isEnabled()
        assert "服务器" in c.message.text()
        # The visitor's ticket fails clearly; the retry button keeps the same idempotency key.
        v.choose_service(v.services[0])
        v.issue_anonymous()
        qtbot.waitUntil(lambda: v.retry_btn.isVisible() and not v.issuing, timeout=30000)
        assert "服务器" in v.id_status.text()
        key = v.idem_key
        assert key

        # -- the server comes back on the same database
        kserver.server.restart()
        for r in roles:
            qtbot.waitUntil(lambda r=r: r.widget.badge.online, timeout=30000)
        qtbot.waitUntil(lambda: rt.outbox.pending() == [], timeout=30000)
        with qtbot.waitSignal(v.ticket_issued, timeout=20000) as got:
            qtbot.mouseClick(v.retry_btn, LEFT)
        second = got.args[0]
        assert v.idem_key is None  # used up: the next visitor gets a new key
        # The display follows again: the clerk calls the new ticket, the display shows it.
        with qtbot.waitSignal(c.op_finished, timeout=20000) as called:
            c.do_op("call_chosen", {"ticket_id": second.id})
        assert called.args[1].id == second.id
        qtbot.waitUntil(lambda: second.number in d.shown_calls, timeout=30000)

        evs = events(url, kserver.display_token, start_seq)
        kinds = ticket_events(evs, first.id)
        assert "rating.recorded" in kinds
        rec = next(e for e in evs if e["type"] == "rating.recorded" and ticket_events([e], first.id))
        body = rec["payload"].get("rating") or rec["payload"]
        assert body.get("level") == 2
        issued = [e for e in evs if e["type"] == "ticket.issued" and ticket_events([e], second.id)]
        assert len(issued) == 1  # the retry after the outage made exactly one ticket
    finally:
        for r in roles:
            r.close()


def test_empty_queue_is_a_typed_error(kserver):
    c = HallClient(kserver.url)
    c.login("clerk3", "test-pass-3", kserver.windows[3]["id"])
    # Window 3 serves group B only; drain it, then the next call says the queue is empty.
    for _ in range(50):
        try:
            c.call_next(kserver.windows[3]["id"])
            c.window_op(kserver.windows[3]["id"], "no-show")
        except QueueEmpty as exc:
            assert exc.message_zh
            break
    else:
        pytest.fail("queue never became empty")
