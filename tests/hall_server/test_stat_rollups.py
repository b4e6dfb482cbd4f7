"""Every figure read from the rollups equals the figure counted from raw rows, over random histories.

Seeded random histories on SQLite and PostgreSQL, through the real use cases (issue, call, start,
finish, no-show, transfer, recall, rate) and the ways facts change later: ratings arriving after
service, follow-up cases opened and stepped, the end-of-day closing, back-dated tickets and rows
upserted set-wise as the city applies a station's push. After every round the statistics
endpoint runs the rollup pass; then every summary, breakdown and indicator from the rollups must
equal the one counted from the tickets.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update

from hall_server.const import STATION_ID_SPAN
from hall_server.db.models import FollowupCase, Rating, StatDirty, StatRollup, Ticket, User
from hall_server.db.models import Hall as HallRow
from hall_server.services import stat_rollups, stats, stats_facts
from hall_server.services.dayend import close_ended_days
from hall_server.services.followups import advance, open_missing_cases
from hall_server.sync.parent import _upsert_rows
from queueing.kpi import CASE_STEPS
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, COUNTY
from tests.hall_server.timed_rows import add_rating, add_ticket

SEEDS = range(8)
CITY_SERVICES = ("S-A1", "S-A2", "S-B1")
PAST_DAYS = 40  # back-dated rows reach the last whole month, which is read from month rows


def _today(hall: Hall) -> date:
    return hall.ctx.now().astimezone(hall.ctx.catalog.hall(CITY).zone).date()


def _live_traffic(hall: Hall, rnd: random.Random) -> None:
    """Tickets issued and worked at the windows today through the API, some rated."""
    for _ in range(rnd.randint(2, 7)):
        hall.ok_issue(rnd.choice(CITY_SERVICES))
    if rnd.random() < 0.5:
        hall.ok_issue("S-A1", who=f"kiosk:{COUNTY}", hall=COUNTY)
    for _ in range(rnd.randint(2, 8)):
        hall_id, window = (COUNTY, 1) if rnd.random() < 0.15 else (CITY, rnd.randint(1, 3))
        called = hall.op(window, "call-next", hall=hall_id)
        if called.status_code != 200:
            continue
        ticket = called.json()
        roll = rnd.random()
        if roll < 0.15:
            hall.op(window, "no-show", hall=hall_id)
            continue
        if roll < 0.3 and hall_id == CITY:
            hall.op(window, "transfer", hall=hall_id, service_code=rnd.choice(CITY_SERVICES))
            continue
        if roll < 0.4:
            hall.op(window, "recall", hall=hall_id)
        if rnd.random() < 0.2:
            continue  # left in service: still open when the day ends
        hall.op(window, "start", hall=hall_id)
        done = hall.op(window, "finish", hall=hall_id)
        if done.status_code == 200 and rnd.random() < 0.6:
            _rate(hall, hall_id, window, ticket["id"], rnd)


def _rate(hall: Hall, hall_id: str, window: int, ticket_id: int, rnd: random.Random) -> None:
    level = rnd.choice((5, 5, 4, 3, 2, 1))
    r = hall.client.post(
        f"{API}/ratings",
        json={
            "ticket_id": ticket_id,
            "level": level,
            "prompted": rnd.random() < 0.5,
            "reasons": ["attitude"] if level <= 2 else [],
        },
        headers=hall.auth(f"rating:{hall_id}:{window}"),
    )
    assert r.status_code in (200, 201), r.text


def _clerks(hall: Hall) -> list[int]:
    with hall.ctx.db.read() as s:
        return list(s.scalars(select(User.id).where(User.hall_id == CITY)))


def _back_dated(hall: Hall, rnd: random.Random, today: date) -> None:
    """Tickets of earlier days written as rows (a late entry), some rated now."""
    clerks = _clerks(hall)
    with hall.ctx.db.write() as s:
        for _ in range(rnd.randint(1, 6)):
            day = today - timedelta(days=rnd.randint(1, PAST_DAYS))
            fate = rnd.random()
            wait = rnd.randint(0, 3600) if fate > 0.1 else None
            serve = rnd.randint(30, 1800) if (wait is not None and fate > 0.25) else None
            status = None if serve is not None or wait is None else rnd.choice(("no_show", "expired"))
            t = add_ticket(
                s,
                hall_id=CITY,
                day=day,
                issued=f"{rnd.randint(9, 16):02d}:{rnd.randint(0, 59):02d}",
                wait=wait,
                serve=serve,
                status=status,
                window_id=hall.wid(rnd.randint(1, 3)),
                clerk_id=rnd.choice(clerks) if clerks else None,
                service_code=rnd.choice(CITY_SERVICES),
                prefix=rnd.choice("AB"),
                transfers=rnd.choice((0, 0, 0, 1, 2)),
            )
            if serve is not None and rnd.random() < 0.6:
                add_rating(s, t, rnd.choice((5, 4, 3, 2, 1)), rnd.random() < 0.5)


def _late_corrections(hall: Hall, rnd: random.Random, today: date) -> None:
    """What changes figures already rolled up: late ratings, follow-ups, day-end, station upserts."""
    with hall.ctx.db.write() as s:
        unrated = list(
            s.scalars(
                select(Ticket)
                .where(Ticket.status == "finished", ~Ticket.id.in_(select(FollowupCase.ticket_id)))
                .order_by(Ticket.id)
            )
        )
        rated = set(s.scalars(select(Rating.ticket_id)))
        for t in [t for t in unrated if t.id not in rated][: rnd.randint(0, 3)]:
            add_rating(s, t, rnd.choice((1, 2, 4, 5)), rnd.random() < 0.5)
    now = hall.ctx.now()
    with hall.ctx.db.write() as s:
        open_missing_cases(s, now)
        for case in list(s.scalars(select(FollowupCase).where(FollowupCase.step != "closed"))):
            for _ in range(rnd.randint(0, 3)):
                nxt = CASE_STEPS[CASE_STEPS.index(case.step) + 1]
                advance(
                    s,
                    case.id,
                    nxt,
                    user_id=None,
                    user_name="测试",
                    note="",
                    satisfied=(rnd.random() < 0.7) if nxt == "revisited" else None,
                    now=now,
                    allowed_halls=None,
                )
                if nxt == "closed":
                    break
    if rnd.random() < 0.4:
        close_ended_days(hall.ctx, now + timedelta(days=1))
    if rnd.random() < 0.6:
        _station_upsert(hall, rnd, today)


def _station_upsert(hall: Hall, rnd: random.Random, today: date) -> None:
    """Ticket images applied set-wise, as the city applies a station's push (one statement for many rows)."""
    with hall.ctx.db.write() as s:
        rows = [
            {c.name: getattr(t, c.key) for c in Ticket.__table__.columns}
            for t in s.scalars(select(Ticket).where(Ticket.hall_id == CITY).order_by(Ticket.id).limit(4))
        ]
        for r in rows:
            r["transfer_count"] = (r["transfer_count"] or 0) + 1
        # A station's ids lie in its own range (const.STATION_ID_SPAN), clear of the city's sequence.
        start = max(s.scalar(select(func.max(Ticket.id))) or 0, 3 * STATION_ID_SPAN) + 1
        for i in range(rnd.randint(1, 3)):
            day = today - timedelta(days=rnd.randint(0, PAST_DAYS))
            issued = datetime(day.year, day.month, day.day, 2, 30, tzinfo=UTC)
            rows.append(
                {
                    **{c.name: None for c in Ticket.__table__.columns},
                    "id": start + i, "hall_id": COUNTY, "business_day": day, "prefix": "A", "seq": 10_000 + start % STATION_ID_SPAN + i,
                    "number": f"A{start % STATION_ID_SPAN + i}", "group_prefix": "A", "service_code": "S-A1", "status": "finished",
                    "priority": False, "channel": "kiosk", "issued_at": issued,
                    "called_at": issued + timedelta(seconds=60 * (i + 1)),
                    "started_at": issued + timedelta(seconds=70 * (i + 1)),
                    "finished_at": issued + timedelta(seconds=400 * (i + 1)),
                    "window_id": hall.wid(1, COUNTY), "recall_count": 0, "transfer_count": 0,
                    "track_token": f"st{start + i}",
                }
            )  # fmt: skip
        dialect = s.get_bind().dialect.name
        _upsert_rows(s, dialect, Ticket.__table__, "id", rows)
        # A set-wise correction of one day's rows (several rows, one statement).
        s.execute(
            update(Ticket)
            .where(Ticket.hall_id == CITY, Ticket.business_day == today - timedelta(days=1))
            .values(transfer_count=Ticket.transfer_count + 1)
        )


def _normal(x: Any) -> Any:
    return json.loads(json.dumps(x, ensure_ascii=False, default=str))


def _check(hall: Hall, today: date, rnd: random.Random) -> None:
    """The endpoint answers from fresh rollups; every figure equals the one counted from the tickets.

    The app's worker runs meanwhile (it opens cases of bad ratings and runs the pass too): a
    change it commits between the answer and the check is caught by the dirty log or by the
    answer no longer matching, and the check is made again; a wrong rollup fails every time.
    """
    first = today - timedelta(days=PAST_DAYS)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    one_day = today - timedelta(days=rnd.randint(0, PAST_DAYS))
    scopes = [
        stats.make_scope([CITY, COUNTY], last_month, today.replace(day=1) - timedelta(days=1), today),
        stats.make_scope([CITY, COUNTY], first, today, today),
        stats.make_scope([CITY], one_day, one_day, today),
        stats.make_scope([COUNTY], first, today, today),
        # A calendar year is read from year rows; from mid-December before it, day rows come too.
        stats.make_scope([CITY, COUNTY], date(first.year, 1, 1), date(first.year, 12, 31), today),
        stats.make_scope([CITY, COUNTY], date(first.year - 1, 12, 15), today, today),
    ]
    got: Any = None
    raw_whole: Any = None
    for _attempt in range(5):
        r = hall.client.get(
            f"{API}/halls/{CITY}/stats",
            params={"from": first.isoformat(), "to": today.isoformat()},
            headers=hall.auth("m-city"),
        )
        assert r.status_code == 200, r.text
        with hall.ctx.db.read(consistent=True) as s:
            if s.scalar(select(func.count()).select_from(StatDirty)):
                continue  # changed since the answer's pass
            raw_whole = stats.summary(s, scopes[1], stats.raw_figures(s, scopes[1]))
            got = r.json()
            if sorted(got.pop("hall_ids")) != sorted(raw_whole.pop("hall_ids")) or got != _normal(raw_whole):
                continue
            assert s.scalar(select(func.count()).select_from(StatRollup)) > 0
            # The city's whole area is one subtree: its by-day breakdowns read the subtree day rows.
            assert stat_rollups.tree_of(s, (CITY, COUNTY)) is not None
            for scope in scopes:
                assert stats.figures(s, scope).facts is None  # the rollups answer
                raw = stats.raw_figures(s, scope)
                assert stats.summary(s, scope) == stats.summary(s, scope, raw)
                assert stats.rating_indicators(s, scope, None) == stats.rating_indicators(s, scope, None, raw)
                for by in stats.BY_KEYS:
                    assert stats.breakdown(s, scope, by) == stats.breakdown(s, scope, by, raw), (by, scope)
            return
    raise AssertionError(
        f"the statistics answer never matched the raw figures: {got} != {_normal(raw_whole)}"
    )


def test_rollups_equal_raw_figures_over_random_histories(hall: Hall) -> None:
    today = _today(hall)
    for seed in SEEDS:
        rnd = random.Random(seed)
        _live_traffic(hall, rnd)
        _back_dated(hall, rnd, today)
        _check(hall, today, rnd)
        _late_corrections(hall, rnd, today)
        _live_traffic(hall, rnd)
        _check(hall, today, rnd)
    with hall.ctx.db.read() as s:
        # The histories did reach the late corrections the test is about.
        assert s.scalar(select(func.count()).select_from(FollowupCase)) > 0
        assert s.scalar(select(func.count()).where(Ticket.status == "expired")) > 0
        assert s.scalar(select(func.count()).where(Ticket.transfer_count > 0)) > 0
        assert s.scalar(select(func.count()).where(StatRollup.dim.like("m:%"))) > 0  # month rows were read
        assert s.scalar(select(func.count()).where(StatRollup.dim.like("y:%"))) > 0  # and year rows
        assert s.scalar(select(func.count()).where(StatRollup.dim == stat_rollups.TREE_ALL)) > 0


def _by_day_equals_raw(hall: Hall, hall_ids: list[str], today: date) -> None:
    with hall.ctx.db.read() as s:
        for first, last in ((today - timedelta(days=PAST_DAYS), today), (date(today.year - 1, 1, 1), today)):
            scope = stats.make_scope(hall_ids, first, last, today)
            assert stats.breakdown(s, scope, "day") == stats.breakdown(
                s, scope, "day", stats.raw_figures(s, scope)
            )
            assert stats.summary(s, scope) == stats.summary(s, scope, stats.raw_figures(s, scope))


def test_subtree_day_rows_follow_a_reorganised_tree_and_step_aside_for_mixed_targets(hall: Hall) -> None:
    """A hall added below the county, then a county with its own waiting target: by day still equals raw."""
    rnd = random.Random(5)
    today = _today(hall)
    _live_traffic(hall, rnd)
    _back_dated(hall, rnd, today)
    with hall.ctx.db.write() as s:  # county waits of one minute: above a zero target, below the city's
        for i in range(3):
            add_ticket(
                s, hall_id=COUNTY, day=today - timedelta(days=i + 1), issued="10:00", wait=60, serve=300
            )
    stat_rollups.catch_up(hall.ctx.db)
    with hall.ctx.db.read() as s:
        old = stat_rollups.tree_of(s, (CITY, COUNTY))
        assert old is not None
    _by_day_equals_raw(hall, [CITY, COUNTY], today)

    town = "t-town"
    with hall.ctx.db.write() as s:
        s.add(HallRow(id=town, name="测试镇便民服务中心", level="township", parent_id=COUNTY))
    area = [CITY, COUNTY, town]
    with hall.ctx.db.read() as s:
        # Rows built for the old members answer no longer; until the pass, the hall-day rows do.
        assert stat_rollups.tree_of(s, tuple(area)) is None
        assert stat_rollups.tree_of(s, (CITY, COUNTY)) is None
    _by_day_equals_raw(hall, area, today)
    _by_day_equals_raw(hall, [CITY, COUNTY], today)  # no longer a subtree: a hand-picked pair

    with hall.ctx.db.write() as s:
        add_ticket(s, hall_id=town, day=today - timedelta(days=2), issued="11:00", wait=30, serve=120)
    stat_rollups.catch_up(hall.ctx.db)
    with hall.ctx.db.read() as s:
        new = stat_rollups.tree_of(s, tuple(area))
        assert new is not None and new[1] != old[1]
        assert stat_rollups.tree_of(s, (COUNTY, town)) is not None
        left = select(func.count()).where(StatRollup.dim == stat_rollups.TREE_ALL, StatRollup.key == old[1])
        assert s.scalar(left) == 0
    _by_day_equals_raw(hall, area, today)

    with hall.ctx.db.write() as s:
        county = s.get(HallRow, COUNTY)
        assert county is not None
        county.policy = {**county.policy, "target_wait_minutes": 0}
    _by_day_equals_raw(hall, area, today)
    _by_day_equals_raw(hall, [COUNTY, town], today)


def test_a_rebuild_is_idempotent_and_a_rolled_back_pass_leaves_the_log(hall: Hall) -> None:
    rnd = random.Random(99)
    today = _today(hall)
    _live_traffic(hall, rnd)
    _back_dated(hall, rnd, today)
    with hall.ctx.db.read() as s:
        pending = s.scalar(select(func.count()).select_from(StatDirty))
    assert pending > 0

    class Crash(Exception):
        pass

    try:
        with hall.ctx.db.write() as s:
            stat_rollups.refresh(s)
            raise Crash
    except Crash:
        pass
    with hall.ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(StatDirty)) == pending
        assert s.scalar(select(func.count()).select_from(StatRollup)) == 0
    assert stat_rollups.catch_up(hall.ctx.db) > 0
    with hall.ctx.db.read() as s:
        before = sorted(tuple(r) for r in s.execute(select(StatRollup.__table__)))
        halls_days = {(r[1], r[2]) for r in before}
    with hall.ctx.db.write() as s:  # mark everything dirty again: the same rows come back
        s.add_all(StatDirty(hall_id=h, business_day=d) for h, d in halls_days)
    assert stat_rollups.catch_up(hall.ctx.db) == len(halls_days)
    with hall.ctx.db.read() as s:
        assert sorted(tuple(r) for r in s.execute(select(StatRollup.__table__))) == before


def test_histograms_keep_every_value_past_the_uint16_range() -> None:
    """Waits over 18 hours apart and more than 65,535 equal waits come back exactly, per group."""
    groups = np.array([0, 0, 0, 2, 2, 2, 0], dtype=np.int64)
    values = np.array([0, 70_000, 200_000, 5, 5, 65_535, 70_000], dtype=np.int64)
    weights = np.array([1, 2, 1, 100_000, 40_000, 1, 3], dtype=np.int64)
    blobs = stat_rollups.pack_histograms(groups, values, weights, 3)
    assert blobs[1] == b""  # a group without values
    got_v, got_n, sizes = stat_rollups.unpack_histograms(blobs)
    got_blob = np.repeat(np.arange(3), sizes)
    got: dict[tuple[int, int], int] = {}
    for v, n, b in zip(got_v.tolist(), got_n.tolist(), got_blob.tolist(), strict=True):
        if n:  # a bridge over a long gap counts for nothing
            got[(b, v)] = got.get((b, v), 0) + n
    assert got == {(0, 0): 1, (0, 70_000): 5, (0, 200_000): 1, (2, 5): 140_000, (2, 65_535): 1}
    # Merging the histograms again (as a month row does) gives the same figures.
    again = stat_rollups.pack_histograms(got_blob, got_v, got_n, 3)
    assert again == blobs


def test_percentiles_of_histograms_in_group_order_equal_the_sorted_count() -> None:
    """One histogram per group (the subtree day rows) takes the running-weight path; it gives what sorting gives."""
    rng = np.random.default_rng(3)
    k = 40
    values_of = [
        np.unique(rng.integers(0, 90_000 if g % 7 == 0 else 4_000, 0 if g % 5 == 3 else rng.integers(1, 300)))
        for g in range(k)
    ]
    blobs = stat_rollups.pack_histograms(
        np.repeat(np.arange(k), [len(v) for v in values_of]),
        np.concatenate(values_of),
        rng.integers(1, 70_000, sum(len(v) for v in values_of)),
        k,
    )
    values, weights, sizes = stat_rollups.unpack_histograms(blobs)
    groups = np.repeat(np.arange(k), sizes)
    counts = np.bincount(groups, weights=weights, minlength=k).astype(np.int64)
    fast = stats_facts._p90(groups, values, weights, counts)
    shuffled = rng.permutation(len(values))  # out of order: the general path
    general = stats_facts._p90(groups[shuffled], values[shuffled], weights[shuffled], counts)
    expanded = [np.repeat(values[groups == g], weights[groups == g]) for g in range(k)]
    by_hand = [float(np.sort(e)[int(np.ceil(0.9 * len(e))) - 1]) if len(e) else np.nan for e in expanded]
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_array_equal(fast, np.array(by_hand))
    assert np.isnan(fast).any() and (~np.isnan(fast)).sum() > 30  # empty groups and real ones
