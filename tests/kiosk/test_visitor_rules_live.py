"""The visitor kiosk against a real server follows the hall's rules live: a manager's change
(hall.updated) reaches the screen without a restart."""

from __future__ import annotations

import pytest

from tests.kiosk.helpers import HALL, Role, make_config

pytestmark = pytest.mark.timeout(240)


def _put_guide(kserver, token: str, code: str, body: dict) -> None:
    url = f"{kserver.server.api}/halls/{HALL}/services/{code}/guide"
    r = kserver.server.session(token).put(url, json=body, timeout=30)
    assert r.status_code == 200, r.text


def _put_rules(kserver, token: str, body: dict) -> None:
    r = kserver.server.session(token).put(f"{kserver.server.api}/halls/{HALL}/rules", json=body, timeout=30)
    assert r.status_code == 200, r.text


def test_the_visitor_kiosk_follows_a_rules_change_without_restart(qtbot, themed_qapp, kserver, tmp_path):
    manager = kserver.server.login("manager", "test-pass-m")["token"]
    visitor = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token))
    v = visitor.widget
    try:
        visitor.wait_ready(qtbot)
        qtbot.waitUntil(lambda: v.ctx.events.channel is not None and v.policy is not None, timeout=20000)
        assert v.policy.allow_anonymous and not v.anon_btn.isHidden()  # 不刷身份证取号 offered
        # The manager stops anonymous tickets: the kiosk stops offering them, no restart.
        _put_rules(kserver, manager, {"allow_anonymous": False, "recall_cap": 3})
        qtbot.waitUntil(lambda: v.anon_btn.isHidden(), timeout=20000)
        assert v.policy.allow_anonymous is False and v.policy.recall_cap == 3
        _put_rules(kserver, manager, {"allow_anonymous": True, "recall_cap": 5})
        qtbot.waitUntil(lambda: not v.anon_btn.isHidden(), timeout=20000)
        assert v.policy.recall_cap == 5
    finally:
        # The shared server keeps the seed's rules for the other tests.
        _put_rules(kserver, manager, {"allow_anonymous": True, "recall_cap": 5})
        visitor.close()


def test_a_service_that_comes_to_require_the_id_card_is_no_longer_offered_without_it(
    qtbot, themed_qapp, kserver, tmp_path
):
    manager = kserver.server.login("manager", "test-pass-m")["token"]
    visitor = Role(qtbot, make_config("visitor", kserver.url, tmp_path / "v", token=kserver.kiosk_token))
    v = visitor.widget
    try:
        visitor.wait_ready(qtbot)
        qtbot.waitUntil(lambda: v.ctx.events.channel is not None and bool(v.services), timeout=20000)
        [service] = [s for s in v.services if s.code == "T-002"]
        v.choose_service(service)  # a visitor is at the ID-card page of T-002
        assert v.pages.currentWidget() is v.identify and not v.anon_btn.isHidden()
        # The manager makes the hall ask for the ID card for T-002: the page in front of the visitor
        # stops offering 未带身份证 (the server would refuse it), no restart.
        _put_guide(kserver, manager, "T-002", {"id_required": True})
        qtbot.waitUntil(lambda: v.anon_btn.isHidden(), timeout=20000)
        assert v.current_service is not None and v.current_service.guide.get("id_required") is True
        [other] = [s for s in v.services if s.code == "T-001"]
        v.choose_service(other)  # another service still may be taken without the card
        assert not v.anon_btn.isHidden()
    finally:
        _put_guide(kserver, manager, "T-002", {})  # back to the city's guide for the other tests
        visitor.close()
