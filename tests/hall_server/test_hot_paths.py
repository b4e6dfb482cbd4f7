"""The lean hot paths keep every guarantee: idempotent retries, gap-free numbers, typed values.

Issuing relies on the unique (hall, idempotency key) instead of a look-up first, and the hot
statements run through hall_server.db.prepared on the driver's cursor; on both databases
that must look exactly like the ORM path did to a caller.
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hall_server.db.models import Event, NumberCounter, Ticket, Window
from hall_server.db.prepared import Prepared
from tests.hall_server.conftest import Hall, error_code
from tests.hall_server.hs_city import CITY, ID_YOUNG, ID_YOUNG_2

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
        row = set_window.one(tx.connection(), {"b_id": wid, "call_history": [["A", True]], "status": "paused"})
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
