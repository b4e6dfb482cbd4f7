"""Group commit in the SQLite lane: queued hot calls share one COMMIT, answered only after it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select

from hall_server.api.deps import _authed
from hall_server.db import lane as lane_module
from hall_server.db.engine import IMMEDIATE
from hall_server.db.models import Event, Ticket
from hall_server.events import append_event
from hall_server.services.tickets import IssueInput, issue_ticket
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY


@pytest.fixture
def lite(hall: Hall, monkeypatch: pytest.MonkeyPatch) -> Hall:
    if hall.is_postgres:
        pytest.skip("PostgreSQL has no lane and no groups")
    # A slow test machine must not split the groups these tests build.
    monkeypatch.setattr(lane_module, "GROUP_MAX_S", 10.0)
    return hall


class Trace:
    """What happened, in order: commits, publications, answers."""

    def __init__(self, hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        self.commits = 0
        db = hall.ctx.db

        def on_commit(conn: Any) -> None:
            # Writing transactions of the lane (not reads, not the server's own workers).
            if (
                conn.get_execution_options().get(IMMEDIATE)
                and threading.current_thread().name == "hall-db-lane"
            ):
                self.commits += 1
                self.log.append("commit")

        event.listen(db.engine, "commit", on_commit)
        db.after_commit.append(lambda published: self.log.append(f"publish {len(published)}"))
        self.futures: dict[int, int] = {}
        send_group = lane_module._send_group

        def answer(done: list[list[Any]]) -> None:
            # Logged on the lane thread as the group's answers are handed to the event loop.
            for d in done:
                if id(d[0]) in self.futures:
                    self.log.append(f"answer {self.futures[id(d[0])]}")
            send_group(done)

        monkeypatch.setattr(lane_module, "_send_group", answer)


def _issue(hall: Hall, key: str | None = None) -> Callable[[], Any]:
    token = hall.tokens[f"kiosk:{CITY}"]
    req = IssueInput(service_code="S-A1", channel="kiosk", idempotency_key=key)
    return lambda: _authed(hall.ctx, token, issue_ticket, CITY, req)


def _run_group(hall: Hall, calls: list[Callable[[], Any]], trace: Trace | None = None) -> list[Any]:
    """Queue every call behind a gate so that they run as one group; results or exceptions."""
    lane = hall.ctx.db.lane
    assert lane is not None
    gate = threading.Event()

    async def main() -> list[Any]:
        blocker = lane.run(gate.wait)
        futures = [lane.run(fn) for fn in calls]
        if trace is not None:
            trace.futures = {id(f): i for i, f in enumerate(futures)}
        gate.set()
        # The gate's call is in the group too (it wrote nothing).
        return list(await asyncio.gather(blocker, *futures, return_exceptions=True))[1:]

    return asyncio.run(main())


def _count(hall: Hall, model: Any) -> int:
    with hall.ctx.db.read() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_queued_calls_share_one_commit_and_are_answered_after_it(
    lite: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _count(lite, Ticket)
    trace = Trace(lite, monkeypatch)

    def fails_after_writing() -> None:
        with lite.ctx.db.tx() as s:
            append_event(s, CITY, "test.rolled_back", {})
            raise ValueError("use case refused")

    def sees_earlier_writes() -> int:
        return _count(lite, Ticket)

    def two_transactions() -> str:
        with lite.ctx.db.tx() as s:  # committed with the group
            append_event(s, CITY, "test.kept", {})
        with lite.ctx.db.write() as s:  # rolled back alone
            append_event(s, CITY, "test.dropped", {})
            raise LookupError("second block")

    calls = [
        _issue(lite),
        fails_after_writing,
        _issue(lite),
        sees_earlier_writes,
        two_transactions,
        _issue(lite),
    ]
    results = _run_group(lite, calls, trace)

    assert isinstance(results[1], ValueError) and isinstance(results[4], LookupError)
    numbers = [results[i][0]["number"] for i in (0, 2, 5)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert results[3] == before + 2  # a read in the group sees the group's earlier writes
    assert trace.commits == 1, trace.log  # one COMMIT for the whole group
    first_answer = trace.log.index("answer 0")
    assert trace.log.index("commit") < first_answer
    assert trace.log.index("commit") < trace.log.index("publish 1")
    assert [e for e in trace.log if e.startswith("answer")] == [f"answer {i}" for i in range(6)]
    # Published in call order, all before the group's answers (so each call's events before its
    # own answer), none of a rolled-back block.
    assert trace.log[1:] == [  # noqa: RUF100
        "publish 1", "publish 1", "publish 1", "publish 1",
        "answer 0", "answer 1", "answer 2", "answer 3", "answer 4", "answer 5",
    ]  # fmt: skip
    types = [e["type"] for e in lite.events()]
    assert "test.kept" in types and "test.rolled_back" not in types and "test.dropped" not in types
    assert _count(lite, Ticket) == before + 3
    seqs = [e["seq"] for e in lite.events()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free


def test_a_failed_commit_fails_every_call_of_the_group(lite: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    last = lite.ok_issue()["number"]
    tickets, events = _count(lite, Ticket), _count(lite, Event)
    trace = Trace(lite, monkeypatch)
    dialect = lite.ctx.db.engine.dialect
    real = dialect.do_commit
    failures = [1]

    def failing_commit(dbapi_conn: Any) -> None:
        if failures:
            failures.pop()
            raise sqlite3.OperationalError("disk I/O error")
        real(dbapi_conn)

    monkeypatch.setattr(dialect, "do_commit", failing_commit)
    results = _run_group(lite, [_issue(lite), _issue(lite), lambda: 42], trace)
    assert all(isinstance(r, Exception) and "disk I/O error" in str(r) for r in results), results
    assert not any(e.startswith("publish") for e in trace.log)
    assert (_count(lite, Ticket), _count(lite, Event)) == (tickets, events)
    # The lane goes on, and the numbers drawn in the lost group were rolled back with it.
    after = lite.ok_issue()["number"]
    assert _count(lite, Ticket) == tickets + 1
    assert int(after[len("A") :]) == int(last[len("A") :]) + 1, (last, after)


def test_a_transaction_sqlite_ended_by_itself_fails_the_calls_before(
    lite: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    tickets = _count(lite, Ticket)
    trace = Trace(lite, monkeypatch)

    def transaction_lost() -> None:
        with lite.ctx.db.tx() as s:
            # What SQLite does on some errors (SQLITE_FULL, SQLITE_IOERR): the whole transaction goes.
            s.connection().connection.dbapi_connection.execute("ROLLBACK")

    results = _run_group(lite, [_issue(lite), transaction_lost, _issue(lite)], trace)
    assert isinstance(results[0], Exception) and isinstance(results[1], Exception)
    assert not any(e.startswith("publish") for e in trace.log[: trace.log.index("answer 1")])
    assert isinstance(results[2], tuple) and results[2][1] is True  # ran in the next group
    assert _count(lite, Ticket) == tickets + 1


def test_a_repeated_idempotency_key_in_one_group_gets_the_first_ticket(lite: Hall) -> None:
    results = _run_group(lite, [_issue(lite, "k-1"), _issue(lite, "k-1")])
    (first, created1), (again, created2) = results
    assert created1 and not created2 and again["id"] == first["id"]


def test_an_empty_queue_is_one_transaction_per_call(lite: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = Trace(lite, monkeypatch)
    for _ in range(3):
        lite.ok_issue()
    assert trace.commits == 3
