"""The clerk terminal's logic without a server: its HallClient answers from a canned transport.

Log-in, 呼叫下一位 and a refused recall are played through the real screen; every answer is wire-model
JSON and nothing listens on a socket (the event channel's address refuses, as a dropped link would).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from kiosk.api import HallClient
from kiosk.app import build_context, close_context, create_screen
from tests.kiosk.helpers import HALL, make_config
from tests.kiosk.test_client_transport import error, ticket
from wire import (
    HallDetailOut,
    HallGroup,
    HallWindow,
    LoginOut,
    PolicyOut,
    SnapshotGroup,
    SnapshotHall,
    SnapshotOut,
    UserOut,
    WindowOut,
)

URL = "http://127.0.0.1:9"  # nothing listens: only the canned transport answers
WID = 3

Handler = Callable[[requests.PreparedRequest], tuple[int, Any]]


class RoutedTransport(BaseAdapter):
    """Answers by method and path (regex); anything else is a 404 request.not_found."""

    def __init__(self, routes: dict[tuple[str, str], Handler | tuple[int, Any]]) -> None:
        super().__init__()
        self.routes = routes
        self.sent: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        path = (request.path_url or "").split("?", 1)[0].removeprefix("/api/v1")
        self.sent.append((request.method or "", path))
        answer: tuple[int, Any] = (404, error("request.not_found", "请求的地址不存在"))
        for (method, pattern), route in self.routes.items():
            if method == request.method and re.fullmatch(pattern, path):
                answer = route(request) if callable(route) else route
                break
        status, body = answer
        resp = requests.Response()
        resp.status_code = status
        resp._content = b"" if body is None else json.dumps(body).encode("utf-8")
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass


def window(**over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": WID,
        "hall_id": HALL,
        "number": 3,
        "name": "不动产登记窗口",
        "kind": "specialised",
        "status": "open",
        "groups": {"B": 1},
        "clerk": {"id": 1, "name": "王五"},
        "current": None,
        **over,
    }
    return WindowOut(**fields).model_dump(mode="json")


def hall_detail() -> dict[str, Any]:
    return HallDetailOut(
        id=HALL,
        name="测试大厅",
        short_name="测试",
        level="county",
        parent_id=None,
        address=None,
        phone=None,
        timezone="Asia/Shanghai",
        notices=[],
        opening_hours=[],
        groups=[HallGroup(prefix="B", name="不动产", services=["T-003"])],
        windows=[
            HallWindow(
                id=WID, number=3, name="不动产登记窗口", kind="specialised", status="open", groups={"B": 1}
            )
        ],
        policy=PolicyOut(
            green_mode="absolute",
            green_ratio=[1, 2],
            recall_cap=1,
            elderly_age=70,
            appointment_first=True,
            daily_cap_per_group=None,
            per_person_daily_limit=None,
            opening_hours=[],
            number_width=3,
            wrap_at=None,
            target_wait_minutes=30,
            allow_anonymous=True,
            calling_policy="default",
        ),
    ).model_dump(mode="json")


def snapshot() -> dict[str, Any]:
    return SnapshotOut(
        hall=SnapshotHall(id=HALL, name="测试大厅", short_name="测试"),
        business_day="2026-12-07",
        groups=[SnapshotGroup(prefix="B", name="不动产", waiting=1, estimated_wait_minutes=5)],
        windows=[WindowOut.model_validate(window())],
        recent_calls=[],
        last_seq=41,
    ).model_dump(mode="json")


def login_answer() -> dict[str, Any]:
    return LoginOut(
        token="clerk-token",
        token_id=9,
        role="clerk",
        clerk=UserOut(id=1, username="clerk3", name="王五", role="clerk", hall_id=HALL),
        window=WindowOut.model_validate(window()),
    ).model_dump(mode="json")


def test_clerk_logs_in_calls_and_shows_a_refusal_without_a_server(qtbot, themed_qapp, tmp_path: Path) -> None:
    called = ticket(
        id=21,
        number="B021",
        prefix="B",
        group="B",
        service_code="T-003",
        status="called",
        window_id=WID,
        window_number=3,
    )
    transport = RoutedTransport(
        {
            ("GET", f"/halls/{HALL}"): (200, hall_detail()),
            ("POST", "/auth/login"): (200, login_answer()),
            ("GET", f"/halls/{HALL}/snapshot"): (200, snapshot()),
            ("GET", f"/halls/{HALL}/tickets"): (200, []),
            ("POST", f"/windows/{WID}/call-next"): (200, called),
            ("POST", f"/windows/{WID}/recall"): (
                409,
                error("ticket.recall_cap", "该号已达到最多重呼次数", recall_count=1),
            ),
            ("POST", "/devices/heartbeat"): (204, None),
            ("POST", "/auth/logout"): (204, None),
        }
    )
    cfg = make_config("clerk", URL, tmp_path / "c", window_id=WID)
    ctx = build_context(cfg, client=HallClient(URL, cfg.token, transport=transport))
    term = create_screen(ctx)
    qtbot.addWidget(term)
    term.resize(1920, 1080)
    term.show()
    try:
        qtbot.waitUntil(lambda: bool(term.is_ready), timeout=20000)
        term.user_edit.setText("clerk3")
        term.pass_edit.setText("pw")
        with qtbot.waitSignal(term.logged_in, timeout=20000):
            term.login()
        assert term.client.token == "clerk-token" and term.window is not None and term.window.id == WID
        assert term.clerk is not None and term.clerk.name == "王五"
        with qtbot.waitSignal(term.op_finished, timeout=20000) as sig:
            term.do_op("call_next")
        assert sig.args[1].number == "B021" and term.current is not None and term.current.id == 21
        assert "B021" in term.message.text()
        with qtbot.waitSignal(term.op_finished, timeout=20000) as sig:
            term.do_op("recall")
        assert sig.args[1].code == "ticket.recall_cap"
        assert "该号已达到最多重呼次数" in term.message.text()
        assert (
            term.current is not None and term.current.id == 21 and not term.busy
        )  # the ticket stays in hand
        assert ("POST", "/auth/login") in transport.sent
    finally:
        term.close()
        close_context(ctx)
