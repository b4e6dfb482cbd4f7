"""The lean hot paths keep every guarantee: idempotent retries, gap-free numbers, typed values.

Issuing relies on the unique (hall, idempotency key) instead of a look-up first, and the hot
statements run through hall_server.db.prepared on the driver's cursor; on both databases
that must look exactly like the ORM path did to a caller.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hall_server.app import create_app
from hall_server.config import Settings
from hall_server.db.models import Event, NumberCounter, Ticket, Window
from hall_server.db.prepared import Prepared
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, ID_BAD_CHECKSUM, ID_YOUNG, ID_YOUNG_2

T = Ticket.__table__
W = Window.__table__


def _counter(hall: Hall, prefix: str = "A") -> int:
    with hall.ctx.db.read() as s:
        value = s.execute(
            select(NumberCounter.value).where(NumberCounter.hall_id == CITY, NumberCounter.prefix == prefix)
        ).scalar()
    return int(value or 0)


def _event_count(hall: Hall) -> int:
    with hall.ctx.db.read() as s:
        return len(s.execute(select(Event.id)).all())


def test_a_repeated_key_draws_no_number_and_writes_no_event(hall: Hall) -> None:
    first = hall.issue("S-A1", idempotency_key="retry-1")
    assert first.status_code == 201 and first.json()["number"] == "A001"
    events = _event_count(hall)
    for _ in range(3):
        again = hall.issue("S-A1", idempotency_key="retry-1")
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # The refused inserts rolled their counter draws back: no gap before the next number.
    assert _counter(hall) == 1 and _event_count(hall) == events
    assert hall.ok_issue("S-A1", idempotency_key="retry-2")["number"] == "A002"


def test_a_retry_after_the_person_limit_still_gets_its_ticket(hall: Hall) -> None:
    ident = {"id_number": ID_YOUNG}
    one = hall.issue("S-A1", idempotency_key="p-1", identity=ident)
    two = hall.issue("S-A1", idempotency_key="p-2", identity=ident)
    assert one.status_code == two.status_code == 201
    # The limit (2 a day) is reached: a new request is refused with a clear code...
    third = hall.issue("S-A1", idempotency_key="p-3", identity=ident)
    assert third.status_code == 409 and error_code(third) == "issue.person_limit"
    # ...but the kiosk retrying its second request (lost answer) gets that ticket back.
    again = hall.issue("S-A1", idempotency_key="p-2", identity=ident)
    assert again.status_code == 200 and again.json()["id"] == two.json()["id"]
    assert again.json()["holder"]["id_masked"] == two.json()["holder"]["id_masked"]
    # And nothing of the refusals was kept: the next person gets the next number.
    assert hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG_2})["number"] == "A003"


def test_prepared_statements_read_and_write_like_the_orm(hall: Hall) -> None:
    ticket = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三"})
    by_id = select(T).where(T.c.id == bindparam("b_id"))
    fast = Prepared(by_id)
    with hall.ctx.db.read() as s:
        conn = s.connection()
        slow_row = conn.execute(by_id, {"b_id": ticket["id"]}).one()
        fast_row = fast.one(conn, {"b_id": ticket["id"]})
        assert fast_row._asdict() == dict(slow_row._mapping)
        assert fast_row.business_day == slow_row.business_day and fast_row.issued_at == slow_row.issued_at
        assert isinstance(fast_row.id_enc, bytes) and fast_row.priority is slow_row.priority
        assert fast.first(conn, {"b_id": -1}) is None
        win_stmt = select(W).where(W.c.id == bindparam("b_id"))
        wid = hall.wid(1)
        assert Prepared(win_stmt).one(conn, {"b_id": wid})._asdict() == dict(
            conn.execute(win_stmt, {"b_id": wid}).one()._mapping
        )
    # An UPDATE sets the columns its parameters name; JSON goes in and comes out as the ORM's.
    set_window = Prepared(update(W).where(W.c.id == bindparam("b_id")).returning(W))
    with hall.ctx.db.tx() as tx:
        row = set_window.one(
            tx.connection(), {"b_id": wid, "call_history": [["A", True]], "status": "paused"}
        )
        assert row.call_history == [["A", True]] and row.status == "paused"
        assert row.groups == {"A": 2, "B": 1}
    with hall.ctx.db.read() as s:
        again = s.execute(select(W).where(W.c.id == wid)).one()
        assert again.call_history == [["A", True]] and again.status == "paused"


def test_prepared_driver_errors_are_sqlalchemy_errors_and_roll_back(hall: Hall) -> None:
    ticket = hall.ok_issue("S-A1")
    with hall.ctx.db.read() as s:
        row = s.execute(select(T).where(T.c.id == ticket["id"])).one()
    dup = {k: v for k, v in row._mapping.items() if k != "id"}
    add = Prepared(insert(T).returning(T.c.id))
    with pytest.raises(IntegrityError), hall.ctx.db.tx() as tx:
        # Another row first (it must not survive), then the same number a second time.
        add.one(tx.connection(), {**dup, "seq": 99, "number": "A099", "track_token": "other-token"})
        add.one(tx.connection(), {**dup, "track_token": "third-token"})
    # The unique number refused the copy, and the failed transaction left nothing behind.
    with hall.ctx.db.read() as s:
        assert len(s.execute(select(T.c.id)).all()) == 1


# --- the lean front (hall_server.api.fast) answers exactly like the FastAPI routes -------------
@pytest.fixture
def plain(hall: Hall) -> Any:
    """A second app on the same database with the lean front turned off (FastAPI only)."""
    settings = Settings(
        data_dir=hall.data_dir,
        db_url=hall.db_url,
        pool_size=3,
        public_url="http://hall.test",
        hot_paths=False,
    )
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        yield client


def _same(hall: Hall, plain: Any, path: str, **kw: Any) -> tuple[Any, Any]:
    fast = hall.client.post(path, **kw)
    slow = plain.post(path, **kw)
    assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), (path, kw)
    assert fast.headers.get("www-authenticate") == slow.headers.get("www-authenticate")
    assert fast.headers["content-type"] == slow.headers["content-type"]
    return fast, slow


def test_refusals_have_the_same_shape_with_and_without_the_lean_front(hall: Hall, plain: Any) -> None:
    assert hall.client.app.hot is not None and plain.app.hot is None
    issue = f"{API}/halls/{CITY}/tickets"
    kiosk = hall.auth(f"kiosk:{CITY}")
    body = {"service_code": "S-A1"}
    cases: list[tuple[str, dict[str, Any]]] = [
        (issue, {"json": body}),  # no token
        (issue, {"json": body, "headers": {"Authorization": "Basic abc"}}),
        (issue, {"json": body, "headers": {"Authorization": "Bearer"}}),
        (issue, {"json": body, "headers": {"Authorization": "Bearer not-a-token"}}),
        (issue, {"json": body, "headers": hall.auth(f"display:{CITY}")}),  # wrong role
        (issue, {"json": body, "headers": hall.auth(f"kiosk:{COUNTY}")}),  # other hall
        (issue, {"json": {"service_code": "S-X"}, "headers": kiosk}),  # not claimed by the hall
        (issue, {"json": {"service_code": "nope"}, "headers": kiosk}),
        (issue, {"json": {"service_code": ""}, "headers": kiosk}),  # fails validation
        (issue, {"json": {"service_code": "S-A1", "appointment_id": "1"}, "headers": kiosk}),  # extra
        (issue, {"json": {"service_code": "S-A1", "channel": "fax"}, "headers": kiosk}),
        (issue, {"content": b"{not json", "headers": {**kiosk, "Content-Type": "application/json"}}),
        (issue, {"content": b"service_code=S-A1", "headers": {**kiosk, "Content-Type": "text/plain"}}),
        (issue, {"json": body, "headers": {**kiosk, "Idempotency-Key": "k" * 101}}),
        (
            issue,
            {"json": {"service_code": "S-A1", "identity": {"id_number": ID_BAD_CHECKSUM}}, "headers": kiosk},
        ),
        (f"{API}/halls/nowhere/tickets", {"json": body, "headers": hall.auth("admin")}),
        (f"{API}/windows/{hall.wid(1)}/call-next", {}),
        (f"{API}/windows/{hall.wid(1)}/call-next", {"headers": hall.auth(f"clerk:{CITY}:2")}),  # other window
        (f"{API}/windows/{hall.wid(1)}/call-next", {"headers": hall.auth(f"clerk:{CITY}:1")}),  # empty
        (f"{API}/windows/{hall.wid(1)}/no-show", {"headers": hall.auth(f"clerk:{CITY}:1")}),  # idle
        (f"{API}/windows/99999/call-next", {"headers": hall.auth("admin")}),
        (f"{API}/windows/abc/call-next", {"headers": hall.auth("admin")}),
        (f"{API}/windows/{hall.wid(1)}/call-next", {"headers": hall.auth(f"kiosk:{CITY}")}),
        (f"{API}/windows/{hall.wid(1)}/next", {"headers": hall.auth(f"clerk:{CITY}:1")}),  # no body
        (
            f"{API}/windows/{hall.wid(1)}/next",
            {"json": {"close": "cancel", "ticket_id": 1}, "headers": hall.auth(f"clerk:{CITY}:1")},
        ),
        (
            f"{API}/windows/{hall.wid(1)}/next",  # the window holds nothing
            {"json": {"close": "finish", "ticket_id": 1}, "headers": hall.auth(f"clerk:{CITY}:1")},
        ),
        (f"{API}/windows/{hall.wid(1)}/next", {"json": {"close": "finish", "ticket_id": 1}}),  # no token
    ]
    events = _event_count(hall)
    for path, kw in cases:
        _same(hall, plain, path, **kw)
    assert _event_count(hall) == events  # nothing of it was written
    # Refusals by the use cases were answered by the lean front; the odd requests by FastAPI.
    assert 8 <= hall.client.app.hot.served < len(cases)


def test_the_lean_front_issues_and_calls_like_the_routes(hall: Hall, plain: Any) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    issue = f"{API}/halls/{CITY}/tickets"
    fast = hall.client.post(issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x1"})
    slow = plain.post(issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x2"})
    assert fast.status_code == slow.status_code == 201
    a, b = fast.json(), slow.json()
    assert set(a) == set(b) and (a["number"], b["number"]) == ("A001", "A002")
    assert b["people_ahead"] == 1 and a["people_ahead"] == 0
    # The retry of either request is answered with its ticket by the other front.
    again = plain.post(issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x1"})
    assert again.status_code == 200 and again.json() == {
        **a,
        "estimated_wait_minutes": again.json()["estimated_wait_minutes"],
    }
    clerk = hall.auth(f"clerk:{CITY}:1")
    called = hall.client.post(f"{API}/windows/{hall.wid(1)}/call-next", headers=clerk)
    assert (
        called.status_code == 200 and called.json()["id"] == a["id"] and called.json()["status"] == "called"
    )
    busy = _same(hall, plain, f"{API}/windows/{hall.wid(1)}/call-next", headers=clerk)[0]
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "window.busy"
    started = hall.client.post(f"{API}/windows/{hall.wid(1)}/start", headers=clerk)
    assert started.status_code == 200 and started.json()["status"] == "serving"
    finished = plain.post(f"{API}/windows/{hall.wid(1)}/finish", headers=clerk)
    assert finished.status_code == 200 and finished.json()["status"] == "finished"
    assert hall.client.app.hot.served == 4  # issue, call-next, the busy refusal, start
    types = [e["type"] for e in hall.events() if e["type"].startswith(("ticket.", "rating."))]
    assert types == [
        "ticket.issued",
        "ticket.issued",
        "ticket.called",
        "ticket.started",
        "ticket.finished",
        "rating.requested",
    ]


def test_the_lean_front_answers_next_like_the_route(hall: Hall, plain: Any) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    tickets = [
        hall.client.post(f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"}, headers=kiosk).json()
        for _ in range(3)
    ]
    clerk = hall.auth(f"clerk:{CITY}:1")
    path = f"{API}/windows/{hall.wid(1)}/next"
    hall.client.post(f"{API}/windows/{hall.wid(1)}/call-next", headers=clerk)
    served = hall.client.app.hot.served
    fast = hall.client.post(path, json={"close": "no_show", "ticket_id": tickets[0]["id"]}, headers=clerk)
    assert hall.client.app.hot.served == served + 1
    slow = plain.post(path, json={"close": "no_show", "ticket_id": tickets[1]["id"]}, headers=clerk)
    assert fast.status_code == slow.status_code == 200
    a, b = fast.json(), slow.json()
    assert (a["closed"]["number"], a["called"]["number"]) == ("A001", "A002")
    assert (b["closed"]["number"], b["called"]["number"]) == ("A002", "A003")
    assert set(a["closed"]) == set(b["closed"]) and set(a["called"]) == set(b["called"])
