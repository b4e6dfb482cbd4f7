"""The queue reads of the hot paths agree with the whole queue on a real database.

call-next reads only the head of each (group, priority, appointment) class plus the tickets
transferred to the window, and a new ticket's position comes from four counts; on random
queues stored in SQLite and PostgreSQL both must give what the domain core gives on every
waiting ticket.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from hall_server.db.analyze import MIN_CHANGES, StatsKeeper
from hall_server.db.models import Ticket, WaitingCount
from hall_server.services import dayend
from hall_server.services.queue import group_counts, head_candidates, new_ticket_ahead, waiting_candidates
from hall_server.services.tickets import hall_day
from queueing.model import HallPolicy
from queueing.policy import CallHistory, WindowServing, choose_next, people_ahead
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, COUNTY


def _waiting_row(seq: int, day: date, priority: bool) -> dict[str, Any]:
    """A waiting ticket of the city hall on `day`, as a row (a station's batch writes such rows)."""
    return {
        "hall_id": CITY,
        "business_day": day,
        "prefix": "A",
        "seq": seq,
        "number": f"A{seq:03d}",
        "group_prefix": "A",
        "service_code": "S-A1",
        "status": "waiting",
        "priority": priority,
        "channel": "kiosk",
        "issued_at": datetime.now(UTC),
        "recall_count": 0,
        "transfer_count": 0,
        "track_token": secrets.token_urlsafe(12),
    }


T = Ticket.__table__
WC = WaitingCount.__table__
STATUSES = ("waiting", "waiting", "waiting", "called", "finished", "no_show", "suspended")


def _fill(hall: Hall, rng: random.Random, n: int, windows: list[int]) -> None:
    """n random tickets in both halls (other halls' and other days' rows must be ignored)."""
    day = hall_day(hall.ctx.catalog.hall(CITY), hall.ctx.now())
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    counters: dict[tuple[str, str], int] = {}
    for _ in range(n):
        hall_id = CITY if rng.random() < 0.85 else COUNTY
        group = rng.choice(["A", "B"]) if hall_id == CITY else "A"
        seq = counters[(hall_id, group)] = counters.get((hall_id, group), 0) + 1
        # Window 1 never gets transferred tickets, so its calls exercise the class heads.
        bound = rng.choice(windows[1:]) if rng.random() < 0.05 else None
        rows.append(
            {
                "hall_id": hall_id,
                "business_day": day if rng.random() < 0.95 else day.replace(year=day.year - 1),
                "prefix": group,
                "seq": seq,
                "number": f"{group}{seq:03d}",
                "group_prefix": group,
                "service_code": "S-A1" if group == "A" else "S-B1",
                "status": rng.choice(STATUSES),
                "priority": rng.random() < 0.3,
                "appointment_id": f"ap-{seq}" if rng.random() < 0.2 else None,
                "channel": "kiosk",
                "issued_at": now,
                "bound_window_id": bound,
                "recall_count": 0,
                "transfer_count": 0,
                "track_token": secrets.token_urlsafe(12),
            }
        )
    with hall.ctx.db.write() as s:
        s.execute(insert(T), rows)


def test_call_next_reads_choose_like_the_whole_queue(hall: Hall) -> None:
    rng = random.Random(20261127)
    windows = [hall.wid(1), hall.wid(2), hall.wid(3)]
    _fill(hall, rng, 400, windows)
    cfg = hall.ctx.catalog.hall(CITY)
    day = hall_day(cfg, hall.ctx.now())
    weights_by_window = {windows[0]: {"A": 2, "B": 1}, windows[1]: {"A": 1}, windows[2]: {"B": 1}}
    checked = 0
    with hall.ctx.db.read() as s:
        for round_ in range(60):
            wid = rng.choice(windows)
            weights = weights_by_window[wid]
            policy = HallPolicy(
                green_mode=rng.choice(["absolute", "ratio"]),
                green_ratio=(rng.randint(1, 3), rng.randint(1, 3)),
                appointment_first=rng.random() < 0.5,
                calling_policy=rng.choice(["default", "fifo"]),
            )
            history = CallHistory.of(
                (rng.choice(["A", "B"]), rng.random() < 0.4) for _ in range(rng.randint(0, 8))
            )
            everyone = waiting_candidates(s, CITY, day, groups=list(weights), window_id=wid)
            skip = {c.ticket_id for c in everyone if rng.random() < 0.1} if round_ % 2 else set()
            pool = [c for c in everyone if c.ticket_id not in skip]
            serving = WindowServing(window_id=wid, weights=weights, hall_id=CITY)
            expected = choose_next(pool, serving, history, policy)
            for depth in (1, 16):
                heads = head_candidates(s, CITY, day, list(weights), wid, skip, depth)
                assert not {c.ticket_id for c in heads} & skip
                assert {c.ticket_id for c in heads} <= {c.ticket_id for c in pool}
                got = choose_next(heads, serving, history, policy)
                assert (got.ticket_id if got else None) == (expected.ticket_id if expected else None)
            checked += expected is not None
    assert checked > 30  # the random queues were not all empty


def _recount(hall: Hall) -> dict[tuple[str, str, str, bool, bool], int]:
    """Unbound waiting tickets per hall, day, group and class, counted from the tickets themselves."""
    with hall.ctx.db.read() as s:
        rows = s.execute(
            select(T.c.hall_id, T.c.business_day, T.c.group_prefix, T.c.priority, T.c.appointment_id).where(
                T.c.status == "waiting", T.c.bound_window_id.is_(None)
            )
        ).all()
    out: dict[tuple[str, str, str, bool, bool], int] = {}
    for r in rows:
        key = (r.hall_id, str(r.business_day), r.group_prefix, bool(r.priority), r.appointment_id is not None)
        out[key] = out.get(key, 0) + 1
    return out


def _stored_counts(hall: Hall) -> dict[tuple[str, str, str, bool, bool], int]:
    with hall.ctx.db.read() as s:
        rows = s.execute(select(WC)).all()
    return {
        (r.hall_id, str(r.business_day), r.group_prefix, bool(r.priority), bool(r.appointed)): r.n
        for r in rows
        if r.n
    }


def _shuffle_queue(hall: Hall, rng: random.Random, windows: list[int], steps: int) -> None:
    """Random changes of the kinds the use cases make: calls, no-shows, cancellations, transfers
    to another group or window, green and appointment changes, deletions, and whole-group updates."""
    with hall.ctx.db.read() as s:
        ids = list(s.execute(select(T.c.id)).scalars())
    for step in range(steps):
        tid = rng.choice(ids)
        kind = rng.randrange(8)
        change: dict[str, Any]
        if kind == 0:
            change = {"status": rng.choice(STATUSES)}
        elif kind == 1:
            change = {"group_prefix": rng.choice(["A", "B"]), "status": "waiting"}
        elif kind == 2:
            change = {"priority": rng.random() < 0.5}
        elif kind == 3:
            change = {"appointment_id": f"ap-x{step}" if rng.random() < 0.5 else None}
        elif kind == 4:
            change = {"bound_window_id": rng.choice([None, *windows[1:]])}
        elif kind == 5:
            change = {"status": "waiting", "priority": True, "bound_window_id": None}
        else:
            change = {}
        with hall.ctx.db.write() as s:
            if kind == 6:
                s.execute(delete(T).where(T.c.id == tid))
                ids.remove(tid)
            elif kind == 7:
                # One statement over many rows (as the day-end pass or a station's batch at the city).
                s.execute(
                    update(T)
                    .where(T.c.group_prefix == rng.choice(["A", "B"]), T.c.id % 7 == step % 7)
                    .values(status=rng.choice(STATUSES))
                )
            else:
                s.execute(update(T).where(T.c.id == tid).values(**change))


def test_waiting_counts_follow_every_change(hall: Hall) -> None:
    """The counts kept by the triggers equal a recount after every kind of change to the tickets."""
    rng = random.Random(11)
    windows = [hall.wid(1), hall.wid(2), hall.wid(3)]
    _fill(hall, rng, 300, windows)
    assert _stored_counts(hall) == _recount(hall)
    _shuffle_queue(hall, rng, windows, 150)
    assert _stored_counts(hall) == _recount(hall)


def test_new_ticket_position_counts_match_the_whole_queue(hall: Hall) -> None:
    rng = random.Random(7)
    windows = [hall.wid(1), hall.wid(2), hall.wid(3)]
    _fill(hall, rng, 300, windows)
    _shuffle_queue(hall, rng, windows, 60)
    cfg = hall.ctx.catalog.hall(CITY)
    day = hall_day(cfg, hall.ctx.now())
    now = datetime.now(UTC)
    for i in range(40):
        group = rng.choice(["A", "B"])
        values = {
            "hall_id": CITY,
            "business_day": day,
            "prefix": group,
            "seq": 1000 + i,
            "number": f"{group}{1000 + i}",
            "group_prefix": group,
            "service_code": "S-A1" if group == "A" else "S-B1",
            "status": "waiting",
            "priority": rng.random() < 0.3,
            "appointment_id": f"ap-new{i}" if rng.random() < 0.3 else None,
            "channel": "kiosk",
            "issued_at": now,
            "recall_count": 0,
            "transfer_count": 0,
            "track_token": secrets.token_urlsafe(12),
        }
        policy = HallPolicy(
            green_mode=rng.choice(["absolute", "ratio"]),
            green_ratio=(rng.randint(1, 3), rng.randint(1, 3)),
            appointment_first=rng.random() < 0.5,
        )
        with hall.ctx.db.write() as s:
            # The group's counts read before the insert, in its transaction, as the issue use case does.
            before = group_counts(s, CITY, day, group)
            row = s.execute(insert(T).values(**values).returning(T)).one()
            got = new_ticket_ahead(row, policy, before)
            everyone = waiting_candidates(s, CITY, day)
        assert got == people_ahead(row.id, everyone, policy)
        if i % 5 == 4:
            _shuffle_queue(hall, rng, windows, 10)


def test_issued_position_matches_a_recount_after_calls_transfers_and_cancellations(hall: Hall) -> None:
    """Through the API: each new ticket's people_ahead equals the domain core's count of the whole queue."""
    rng = random.Random(5)
    cfg = hall.ctx.catalog.hall(CITY)
    policy = cfg.policy
    day = hall_day(cfg, hall.ctx.now())
    issued: list[int] = []
    checked = 0
    for i in range(60):
        body = {"green_reason": "disabled"} if rng.random() < 0.3 else {}
        ticket = hall.ok_issue(rng.choice(["S-A1", "S-B1"]), **body)
        issued.append(ticket["id"])
        with hall.ctx.db.read() as s:
            everyone = waiting_candidates(s, CITY, day)
        assert ticket["people_ahead"] == people_ahead(ticket["id"], everyone, policy), i
        checked += ticket["people_ahead"] > 0
        action = rng.randrange(6)
        window = rng.choice([1, 2])
        if action == 0:
            hall.op(window, "call-next")
            hall.op(window, "no-show")
        elif action == 1:
            if hall.op(window, "call-next").status_code == 200:
                hall.op(window, "transfer", service_code=rng.choice(["S-A1", "S-B1"]))
        elif action == 2:
            if hall.op(window, "call-next").status_code == 200:
                hall.op(window, "transfer", window_id=hall.wid(3 - window))
        elif action == 3:
            hall.client.post(f"{API}/tickets/{rng.choice(issued)}/cancel", headers=hall.auth("admin"))
    assert checked > 20
    assert _stored_counts(hall) == _recount(hall)


def test_postgres_statistics_follow_a_filling_hall(hall: Hall) -> None:
    """A hall that fills up on a new database gets fresh planner statistics within seconds.

    Plans made while the tickets table was empty read every ticket of the day on each
    call-next (seen in the load benchmark as 30,000 index blocks per call).
    """
    if not hall.ctx.db.is_postgres:
        pytest.skip("PostgreSQL only: SQLite plans from its index definitions")
    keeper = StatsKeeper(hall.ctx.db)
    keeper.check_once()  # whatever seeding left behind
    rng = random.Random(7)
    _fill(hall, rng, MIN_CHANGES + 50, [hall.wid(1), hall.wid(2)])
    with hall.ctx.db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_force_next_flush()"))  # counters reach the stats view now
    assert "tickets" in keeper.check_once()
    with hall.ctx.db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT last_analyze, n_mod_since_analyze FROM pg_stat_user_tables WHERE relname='tickets'")
        ).one()
    assert row.last_analyze is not None and row.n_mod_since_analyze < MIN_CHANGES
    assert "tickets" not in keeper.check_once()  # nothing new changed: no second ANALYZE


def test_postgres_a_large_growing_table_is_analyzed_at_most_once_a_gap(hall: Hall) -> None:
    """A large table that keeps growing (a fleet of stations catching up) is not analyzed again
    within the keeper's gap, however much it changed; after the gap it is.

    Each ANALYZE of a table past the statistics sample costs a full sample (~0.3-1 s of a core);
    a 200-station catch-up had 13 of them on events in four minutes.
    """
    if not hall.ctx.db.is_postgres:
        pytest.skip("PostgreSQL only: SQLite plans from its index definitions")
    keeper = StatsKeeper(hall.ctx.db, large_rows=MIN_CHANGES, large_gap_s=60.0)
    keeper.check_once(now=1000.0)  # whatever seeding left behind
    _fill(hall, random.Random(11), MIN_CHANGES + 50, [hall.wid(1), hall.wid(2)])

    def changed_all() -> None:
        with hall.ctx.db.engine.begin() as conn:
            conn.execute(update(T).values(recall_count=T.c.recall_count + 1))
        with hall.ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_force_next_flush()"))

    changed_all()
    assert "tickets" in keeper.check_once(now=2000.0)
    changed_all()
    assert "tickets" not in keeper.check_once(now=2030.0)  # large, and analyzed 30 s ago
    assert "tickets" in keeper.check_once(now=2061.0)


def test_day_end_and_a_writer_of_the_same_past_day_do_not_deadlock(hall: Hall) -> None:
    """Two PostgreSQL transactions that change waiting tickets of two classes of one past day.

    The waiting_counts trigger takes a count row per ticket in the order the rows were changed,
    at commit (migration 0032). Another transaction (a second server process's day-end pass, a
    station's batch, a clerk) changes a normal ticket and then a green one; the day-end pass,
    whose batch updates a green ticket first, locks its count rows in key order up front, so the
    two never hold a row the other waits for, whichever reaches the rows first.
    """
    if not hall.ctx.db.is_postgres:
        pytest.skip("PostgreSQL only: SQLite has one writer at a time")
    cfg = hall.ctx.catalog.hall(CITY)
    yesterday = date.fromordinal(hall_day(cfg, hall.ctx.now()).toordinal() - 1)

    with hall.ctx.db.write() as s:
        # The writer's normal ticket, then the day-end's green ticket before its normal one.
        held, _green, _normal = (
            s.execute(
                insert(T).values(**_waiting_row(seq, yesterday, priority)).returning(T.c.id)
            ).scalar_one()
            for seq, priority in ((1, False), (2, True), (3, False))
        )
    failures: list[BaseException] = []
    with hall.ctx.db.engine.connect() as writer, hall.ctx.db.engine.connect() as watcher:
        writer.execute(text("SET lock_timeout = '20s'"))
        # The writer's normal ticket leaves its class (the count row is taken at the commit).
        writer.execute(update(T).where(T.c.id == held).values(status="cancelled"))

        def close() -> None:
            try:
                dayend.close_ended_days(hall.ctx, hall.ctx.now())
            except BaseException as exc:  # handed to the test thread
                failures.append(exc)

        closing = threading.Thread(target=close)
        closing.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 30
        # The pass waits for a lock of the writer's or, holding none it needs, finishes.
        while closing.is_alive() and watcher.execute(text(waiting)).scalar() == 0:
            assert time.monotonic() < deadline, "the day end neither waited nor finished"
            time.sleep(0.05)
            watcher.rollback()
        # Now the writer wants the green class's row too: a late green ticket of that day.
        writer.execute(insert(T).values(**_waiting_row(4, yesterday, True)))
        writer.commit()
        closing.join(60)
    assert not closing.is_alive()
    assert failures == []
    with hall.ctx.db.read() as s:
        left = s.execute(
            select(T.c.seq, T.c.status).where(T.c.business_day == yesterday).order_by(T.c.seq)
        ).all()
    assert [tuple(r) for r in left] == [(1, "cancelled"), (2, "expired"), (3, "expired"), (4, "waiting")]
    assert _stored_counts(hall) == _recount(hall)


def test_day_end_drops_the_empty_counts_of_days_long_over(hall: Hall) -> None:
    """A past day's count rows go once its tickets are closed (they would pile up a row per hall,
    day, group and class); a late ticket of that day counts again; today's empty rows stay."""
    cfg = hall.ctx.catalog.hall(CITY)
    today = hall_day(cfg, hall.ctx.now())
    old_day = date.fromordinal(today.toordinal() - 5)

    with hall.ctx.db.write() as s:
        s.execute(insert(T), [_waiting_row(1, old_day, False), _waiting_row(2, old_day, True)])
    cancelled = hall.ok_issue("S-A1")
    r = hall.client.post(f"{API}/tickets/{cancelled['id']}/cancel", headers=hall.auth("admin"))
    assert r.status_code == 200, r.text

    def rows_of(day: date) -> list[tuple[bool, int]]:
        with hall.ctx.db.read() as s:
            found = s.execute(
                select(WC.c.priority, WC.c.n).where(WC.c.business_day == day).order_by(WC.c.priority)
            ).all()
        return [(bool(p), int(n)) for p, n in found]

    assert rows_of(old_day) == [(False, 1), (True, 1)]
    dayend.close_ended_days(hall.ctx, hall.ctx.now())
    assert rows_of(old_day) == []
    assert (False, 0) in rows_of(today)  # the cancelled ticket's class: today is not over
    with hall.ctx.db.write() as s:
        s.execute(insert(T).values(**_waiting_row(3, old_day, True)))  # as a station's late batch
    assert rows_of(old_day) == [(True, 1)]
    assert _stored_counts(hall) == _recount(hall)
