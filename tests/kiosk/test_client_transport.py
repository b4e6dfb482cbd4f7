"""The kiosk's client logic without a server: HallClient on an injected requests transport.

The transport (a requests `BaseAdapter`, mounted on the client's Session) answers canned wire-model
JSON, loses answers or refuses the connection; nothing listens on any socket. End-to-end behaviour
against the real server stays in test_network.py and test_flow.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from kiosk import const
from kiosk.api import HallClient
from kiosk.errors import (
    Conflict,
    QueueEmpty,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    UnexpectedAnswer,
)
from kiosk.outbox import RatingOutbox
from tests.kiosk.helpers import ticket_out
from wire import (
    CheckinTicketOut,
    DocumentOut,
    ErrorBody,
    ErrorOut,
    Holder,
    LoginOut,
    NextOut,
    RatingOut,
    ServiceOut,
    SnapshotOut,
    TicketOut,
    UserOut,
    WindowOut,
)

BASE = "http://hall.invalid:8000"


def ticket(**over: Any) -> dict[str, Any]:
    """A canned `Ticket` answer, built through the wire model so it is the server's shape."""
    fields: dict[str, Any] = {
        "id": 7,
        "number": "A007",
        "business_day": "2026-12-07",
        "issued_at": "2026-12-07T09:00:00+08:00",
        "people_ahead": 3,
        "estimated_wait_minutes": 12,
        "holder": Holder(id_masked="5101**********1234", name_masked="张*"),
    }
    return ticket_out(**{**fields, **over}).model_dump(mode="json")


def error(code: str, message: str, **detail: Any) -> dict[str, Any]:
    """A canned error body."""
    return ErrorOut(error=ErrorBody(code=code, message=message, message_en=code, detail=detail)).model_dump()


Answer = tuple[int, Any] | BaseException


class CannedTransport(BaseAdapter):
    """Answers from a script: each request takes the next (status, JSON) or raises the exception."""

    def __init__(self, *script: Answer | Callable[[requests.PreparedRequest], Answer]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if callable(step) and not isinstance(step, BaseException):
            step = step(request)
        if isinstance(step, BaseException):
            raise step
        status, body = step
        resp = requests.Response()
        resp.status_code = status
        resp._content = b"" if body is None else json.dumps(body).encode("utf-8")
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        resp.url = request.url or ""
        resp.request = request
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        pass

    def body(self, n: int) -> Any:
        raw = self.sent[n].body
        return json.loads(raw) if raw else None


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(const, "HTTP_RETRY_BACKOFF_S", 0.0)


def client(*script: Any, **kw: Any) -> tuple[HallClient, CannedTransport]:
    transport = CannedTransport(*script)
    return HallClient(BASE, "kiosk-token", transport=transport, **kw), transport


def test_issue_returns_the_wire_ticket_and_sends_the_documented_request() -> None:
    c, t = client((201, ticket()))
    got = c.issue_ticket(
        "t-hall", "T-001", identity={"id_number": "510101199001011235"}, idempotency_key="k1"
    )
    assert (
        isinstance(got, TicketOut) and got.number == "A007" and got.holder and got.holder.name_masked == "张*"
    )
    sent = t.sent[0]
    assert sent.method == "POST" and sent.url == f"{BASE}/api/v1/halls/t-hall/tickets"
    assert sent.headers["Authorization"] == "Bearer kiosk-token" and sent.headers["Idempotency-Key"] == "k1"
    assert t.body(0) == {
        "service_code": "T-001",
        "channel": "kiosk",
        "identity": {"id_number": "510101199001011235"},
    }


def test_a_lost_answer_is_retried_with_the_same_idempotency_key() -> None:
    # The first answer is lost after the request left (reset / read timeout): the server may have
    # issued the ticket, so the retry must carry the same key for the server to return that ticket.
    lost = requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")
    c, t = client(lost, requests.exceptions.ReadTimeout("read timed out"), (200, ticket()))
    got = c.issue_ticket("t-hall", "T-001")
    assert got.id == 7
    keys = [r.headers["Idempotency-Key"] for r in t.sent]
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0]


def test_a_lost_call_next_answer_is_not_repeated() -> None:
    # Calling twice could call two visitors: an answer lost after sending is reported, not retried.
    c, t = client(requests.exceptions.ReadTimeout("read timed out"), (200, ticket(status="called")))
    with pytest.raises(ServerTimeout):
        c.call_next(3)
    assert len(t.sent) == 1


def test_a_refused_connection_is_retried_then_reported_as_unreachable() -> None:
    c, t = client(
        requests.exceptions.ConnectionError("Failed to establish a new connection: Connection refused")
    )
    with pytest.raises(ServerUnreachable) as err:
        c.call_next(3)
    assert len(t.sent) == 1 + c.retries  # never connected: the server cannot have acted
    assert "服务器" in err.value.message_zh


def test_a_409_becomes_the_typed_error_with_the_servers_chinese_message() -> None:
    msg = "该号已达到最多重呼次数"
    c, _ = client((409, error("ticket.recall_cap", msg, recall_count=2)))
    with pytest.raises(Conflict) as err:
        c.window_op(3, "recall")
    exc = err.value
    assert exc.status == 409 and exc.code == "ticket.recall_cap" and exc.message_zh == msg
    assert exc.detail == {"recall_count": 2}


def test_an_empty_queue_is_its_own_error() -> None:
    c, _ = client((404, error("queue.empty", "当前没有等候的号", window_id=3)))
    with pytest.raises(QueueEmpty) as err:
        c.call_next(3)
    assert err.value.message_zh == "当前没有等候的号"


def test_an_answer_of_another_shape_is_reported_clearly() -> None:
    bad = ticket()
    del bad["number"]
    bad["people_ahead"] = "three"
    c, _ = client((200, bad))
    with pytest.raises(UnexpectedAnswer) as err:
        c.call_next(3)
    exc = err.value
    assert isinstance(exc, ServerError) and exc.code == "response.unexpected"
    assert "POST /windows/{id}/call-next" in exc.message_en and "TicketOut" in exc.message_en
    assert any(p.startswith("number:") for p in exc.detail["problems"])
    assert any(p.startswith("people_ahead:") for p in exc.detail["problems"])
    assert exc.message_zh == "服务器返回的数据与本机程序版本不符，请联系管理员"
    # Not even an object: said so too.
    c, _ = client((200, ["not", "a", "ticket"]))
    with pytest.raises(UnexpectedAnswer, match="TicketOut"):
        c.issue_ticket("t-hall", "T-001")
    c, _ = client((200, {"tickets": []}))
    with pytest.raises(UnexpectedAnswer, match=r"list\[TicketOut\]"):
        c.tickets("t-hall")


def test_a_field_a_newer_server_adds_is_ignored_by_the_kiosk() -> None:
    c, _ = client((200, {**ticket(), "added_in_a_later_version": True}))
    assert c.call_next(3).number == "A007"


def test_window_steps_return_their_models() -> None:
    window = WindowOut(
        id=3,
        hall_id="t-hall",
        number=3,
        name="综合窗口",
        kind="comprehensive",
        status="paused",
        groups={"A": 1},
        clerk=None,
        current=None,
    ).model_dump(mode="json")
    closed, called = ticket(status="finished"), ticket(id=8, number="A008", status="called")
    c, t = client(
        (200, window),
        (200, NextOut.model_validate({"closed": closed, "called": called}).model_dump(mode="json")),
        (204, None),
    )
    paused = c.window_op(3, "pause")
    assert isinstance(paused, WindowOut) and paused.status == "paused"
    nxt = c.next_ticket(3, 7)
    assert isinstance(nxt, NextOut) and nxt.called is not None and nxt.called.number == "A008"
    assert t.body(1) == {"close": "finish", "ticket_id": 7}
    assert c.window_op(3, "rating_request") is None
    assert t.sent[2].url.endswith("/windows/3/rating-request")


def test_the_reading_calls_return_their_models() -> None:
    service = ServiceOut(
        code="T-001",
        name="社会保障卡申领",
        sub_name=None,
        category="社保",
        department=None,
        prefix="A",
        guide={"materials": ["身份证"]},
    ).model_dump(mode="json")
    snapshot = SnapshotOut.model_validate(
        {
            "hall": {"id": "t-hall", "name": "测试大厅", "short_name": None},
            "business_day": "2026-12-07",
            "groups": [{"prefix": "A", "name": "社保", "waiting": 2, "estimated_wait_minutes": 8}],
            "windows": [],
            "recent_calls": [],
            "last_seq": 41,
        }
    ).model_dump(mode="json")
    checkin = {**ticket(priority=True), "checkin": {"status": "ok", "appointment_code": "YY-1"}}
    document = DocumentOut(
        id=9,
        ticket_id=7,
        hall_id="t-hall",
        window_id=3,
        window_number=3,
        clerk_id=1,
        taken_at=None,
        content_type="image/jpeg",
        size=10,
        sha256="0" * 64,
        label=None,
        url="/api/v1/documents/9",
    ).model_dump(mode="json")
    c, _ = client(
        (200, [service]),
        (200, service),
        (200, snapshot),
        (200, [ticket(number="A006", id=6), ticket()]),
        (201, checkin),
        (200, [document]),
    )
    (svc,) = c.services("t-hall")
    assert isinstance(svc, ServiceOut) and svc.prefix == "A"
    assert c.service("T-001").guide == {"materials": ["身份证"]}
    snap = c.snapshot("t-hall")
    assert isinstance(snap, SnapshotOut) and snap.last_seq == 41 and snap.groups[0].waiting == 2
    found = c.find_ticket_by_number("t-hall", " a007 ")
    assert isinstance(found, TicketOut) and found.id == 7
    given = c.checkin("t-hall", "510100199001011234")
    assert isinstance(given, CheckinTicketOut) and given.checkin.status == "ok" and given.priority
    (doc,) = c.documents(7)
    assert isinstance(doc, DocumentOut) and doc.id == 9


def test_login_keeps_the_token_and_spawned_clients_share_the_transport() -> None:
    answer = LoginOut(
        token="clerk-token",
        token_id=5,
        role="clerk",
        clerk=UserOut(id=1, username="c1", name="张三", role="clerk", hall_id="t-hall"),
        window=None,
    ).model_dump(mode="json")
    c, t = client((200, answer), (200, ticket(status="called")))
    clerk = c.spawn()
    assert clerk.login("c1", "pw", 3).clerk.name == "张三" and clerk.token == "clerk-token"
    clerk.call_next(3)
    assert len(t.sent) == 2 and t.sent[1].headers["Authorization"] == "Bearer clerk-token"
    assert c.token == "kiosk-token"  # the device's own client keeps its token


def test_an_injected_session_is_used() -> None:
    session = requests.Session()
    transport = CannedTransport((200, {"status": "ok", "version": "1", "hall_id": None, "pid": 1}))
    session.mount("http://", transport)
    health = HallClient(BASE, session=session).health()
    assert health.status == "ok" and len(transport.sent) == 1


def test_rating_outbox_flush_keeps_or_rejects_by_the_typed_errors(tmp_path: Path) -> None:
    outbox = RatingOutbox(tmp_path / "outbox.json")
    first = outbox.add({"ticket_id": 1, "level": 5, "channel": "device", "prompted": True})
    second = outbox.add({"ticket_id": 2, "level": 1, "reasons": ["slow"], "channel": "device"})
    rating = RatingOut(
        id=1,
        hall_id="t-hall",
        ticket_id=1,
        window_id=3,
        clerk_id=1,
        service_code="T-001",
        level=5,
        bad=False,
        reasons=[],
        text="",
        channel="device",
        prompted=True,
        client_id=first["client_id"],
        created_at=None,
    ).model_dump(mode="json")
    duplicate = (409, error("rating.duplicate", "该号已评价过"))
    c, t = client((201, rating), duplicate)
    assert outbox.flush(c.rate) == 1
    assert outbox.pending() == []
    assert [r["error"] for r in outbox.rejected()] == [
        {"code": "rating.duplicate", "message": "该号已评价过"}
    ]
    assert [t.body(0)["client_id"], t.body(1)["client_id"]] == [first["client_id"], second["client_id"]]
    # A server that is down keeps the rating for later (and the client_id makes the resend safe).
    third = outbox.add({"ticket_id": 3, "level": 4, "channel": "device"})
    c, t = client((503, error("server.busy", "服务器繁忙")))
    assert outbox.flush(c.rate) == 0
    assert [r["client_id"] for r in outbox.pending()] == [third["client_id"]]
    assert len(t.sent) == 1 + c.retries and {r.body for r in t.sent} == {t.sent[0].body}
