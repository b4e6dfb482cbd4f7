"""The queue reads of the hot paths agree with the whole queue on a real database.

call-next reads only the head of each (group, priority, appointment) class plus the tickets
transferred to the window, and a new ticket's position comes from four counts; on random
queues stored in SQLite and PostgreSQL both must give what the domain core gives on every
waiting ticket.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from hall_server.db.analyze import MIN_CHANGES, StatsKeeper
from hall_server.db.models import Ticket
from hall_server.services.queue import head_candidates, new_ticket_ahead, waiting_candidates
from hall_server.services.tickets import hall_day
from queueing.model import HallPolicy
from queueing.policy import CallHistory, WindowServing, choose_next, people_ahead
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY, COUNTY

T = Ticket.__table__
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


def test_new_ticket_position_counts_match_the_whole_queue(hall: Hall) -> None:
    rng = random.Random(7)
    windows = [hall.wid(1), hall.wid(2), hall.wid(3)]
    _fill(hall, rng, 300, windows)
    cfg = hall.ctx.catalog.hall(CITY)
    day = hall_day(cfg, hall.ctx.now())
    with hall.ctx.db.read() as s:
        rows = s.execute(
            select(T).where(
                T.c.hall_id == CITY,
                T.c.business_day == day,
                T.c.status == "waiting",
                T.c.bound_window_id.is_(None),
            )
        ).all()
        assert len(rows) > 50
        everyone = waiting_candidates(s, CITY, day)
        for row in rng.sample(rows, 40):
            policy = HallPolicy(
                green_mode=rng.choice(["absolute", "ratio"]),
                green_ratio=(rng.randint(1, 3), rng.randint(1, 3)),
                appointment_first=rng.random() < 0.5,
            )
            # The ticket as if it had just been issued: only those before it are in the queue.
            before = [c for c in everyone if c.ticket_id <= row.id]
            expected = people_ahead(row.id, before, policy)
            assert new_ticket_ahead(s, CITY, day, row, policy) == expected


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
