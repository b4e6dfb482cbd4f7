"""Issue 14: event retention — old days move to event_archive; audit, statistics and replays still answer."""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, insert, make_url, select, text
from starlette.websockets import WebSocketDisconnect

from hall_server import audit, worker
from hall_server.config import Settings
from hall_server.const import EVENT_ARCHIVE_BATCH, RECENT_CALLS, WS_CLOSE_PRUNED
from hall_server.context import ServerContext
from hall_server.db.models import Event, EventArchive, HallSeq, ReportEvent, SyncAck
from hall_server.db.roles import grant_app_role_sql, run_sql
from hall_server.event_archive import archive_closed_days, archived_upto
from hall_server.migrate import upgrade
from hall_server.services import notify
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY

RETENTION_DAYS = 30
# Far enough ahead that every event written by the test is older than the retention period.
LATER = timedelta(days=RETENTION_DAYS + 2)


def _busy_day(hall: Hall) -> None:
    """A few visitors served and one waiting: issue, call, start, finish events."""
    for _ in range(3):
        hall.served()
    hall.ok_issue("S-A1")


def _live_count(hall: Hall, stream: str = CITY) -> int:
    with hall.ctx.db.read() as s:
        return int(
            s.execute(select(func.count()).select_from(Event).where(Event.hall_id == stream)).scalar() or 0
        )


def _stats(hall: Hall) -> dict[str, Any]:
    r = hall.client.get(f"{API}/halls/{CITY}/stats", headers=hall.auth("m-city"))
    assert r.status_code == 200, r.text
    body = r.json()
    body.pop("generated_at", None)
    return body


def _archive(hall: Hall, *, station: bool = False) -> int:
    return archive_closed_days(hall.ctx.db, datetime.now(UTC) + LATER, RETENTION_DAYS, station=station)


def test_old_days_leave_the_live_log_and_the_chain_still_verifies(hall: Hall) -> None:
    """Archived days are gone from `events`, yet the audit verifier walks archive and live rows as one chain."""
    _busy_day(hall)
    last = hall.last_seq()
    before = {v.hall_id: v for v in audit.verify_all(hall.ctx.db)}
    assert before[CITY].ok and before[CITY].checked == last

    moved = _archive(hall)

    assert moved >= last
    assert _live_count(hall) == 0
    with hall.ctx.db.read() as s:
        assert archived_upto(s, CITY) == last
    hall.ok_issue("S-A1")  # a new day goes on the same chain
    after = {v.hall_id: v for v in audit.verify_all(hall.ctx.db)}
    assert set(after) == set(before)
    assert all(v.ok for v in after.values()), [v for v in after.values() if not v.ok]
    assert after[CITY].checked == last + 1
    assert after[CITY].last_seq == last + 1


def test_altered_archive_is_found_by_the_verifier(hall: Hall) -> None:
    """The archive is part of the chain: a block whose content was changed fails verification."""
    _busy_day(hall)
    _archive(hall)
    with hall.ctx.db.read() as s:
        block = s.execute(
            select(EventArchive.first_seq, EventArchive.body).where(EventArchive.hall_id == CITY).limit(1)
        ).one()
    lines = zlib.decompress(block.body).decode().split("\n")
    record = json.loads(lines[0])
    record[5] = record[5].replace("S-A1", "S-A2") if "S-A1" in record[5] else record[5] + " "
    lines[0] = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    with hall.ctx.db.write() as s:
        s.execute(
            text("UPDATE event_archive SET body = :b WHERE hall_id = :h AND first_seq = :f"),
            {"b": zlib.compress("\n".join(lines).encode()), "h": CITY, "f": block.first_seq},
        )
    verdict = audit.verify_all(hall.ctx.db, CITY)[0]
    assert not verdict.ok
    assert verdict.broken_seq == record[0]
    assert verdict.problem is not None and "altered" in verdict.problem


def test_statistics_are_the_same_after_pruning(hall: Hall) -> None:
    """Figures come from tickets and rollups: archiving the event log changes none of them."""
    _busy_day(hall)
    figures = _stats(hall)
    assert figures["totals"]["issued"] >= 4
    _archive(hall)
    assert _live_count(hall) == 0
    assert _stats(hall) == figures


def test_replay_of_pruned_events_is_refused_with_410(hall: Hall) -> None:
    """GET ?since= inside the archive gets 410 events.pruned with the oldest seq to follow from."""
    _busy_day(hall)
    last = hall.last_seq()
    _archive(hall)
    hall.ok_issue("S-A1")
    r = hall.client.get(f"{API}/halls/{CITY}/events", params={"since": 2}, headers=hall.auth("admin"))
    assert r.status_code == 410, r.text
    err = r.json()["error"]
    assert err["code"] == "events.pruned"
    assert err["detail"]["oldest_seq"] == last
    # From the oldest kept seq on, the log answers as before, without a gap.
    assert [e["seq"] for e in hall.events(last)] == [last + 1]
    # Nothing new after the last archived seq is not a refusal either.
    assert hall.events(last + 1) == []


def test_socket_replay_of_pruned_events_closes_4410(hall: Hall) -> None:
    """The WebSocket with ?since= inside the archive sends the error then closes 4410, not a silent gap."""
    _busy_day(hall)
    last = hall.last_seq()
    _archive(hall)
    url = f"{API}/halls/{CITY}/events/ws?since=1"
    with hall.client.websocket_connect(url, headers=hall.auth("display:" + CITY)) as ws:
        body = ws.receive_json()
        assert body["error"]["code"] == "events.pruned"
        assert body["error"]["detail"]["oldest_seq"] == last
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == WS_CLOSE_PRUNED
    hall.ok_issue("S-A1")
    with hall.client.websocket_connect(
        f"{API}/halls/{CITY}/events/ws?since={last}", headers=hall.auth("display:" + CITY)
    ) as ws:
        assert ws.receive_json()["seq"] == last + 1


def test_station_keeps_events_the_city_has_not_acknowledged(hall: Hall) -> None:
    """At a station only events up to the parent's ack are archived; the rest stay to go up."""
    _busy_day(hall)
    last = hall.last_seq()
    acked = last // 2
    with hall.ctx.db.write() as s:
        s.add(SyncAck(hall_id=CITY, acked_seq=acked))
    _archive(hall, station=True)
    with hall.ctx.db.read() as s:
        assert archived_upto(s, CITY) == acked
        kept = [r[0] for r in s.execute(select(Event.seq).where(Event.hall_id == CITY).order_by(Event.seq))]
    assert kept == list(range(acked + 1, last + 1))
    # A stream the parent never acknowledged keeps everything.
    with hall.ctx.db.read() as s:
        audit_streams = [
            r[0] for r in s.execute(select(Event.hall_id).where(Event.hall_id.like("audit:%")).distinct())
        ]
        assert all(archived_upto(s, name) == 0 for name in audit_streams)
    assert audit.verify_all(hall.ctx.db, CITY)[0].ok


def test_recent_days_stay_live(hall: Hall) -> None:
    """Events within the retention period are not touched."""
    _busy_day(hall)
    count = _live_count(hall)
    assert archive_closed_days(hall.ctx.db, datetime.now(UTC), RETENTION_DAYS) == 0
    assert archive_closed_days(hall.ctx.db, datetime.now(UTC) + LATER, 0) == 0
    assert _live_count(hall) == count


def test_priority_removal_report_survives_archiving(hall: Hall) -> None:
    """The green-channel report lists a removal whose day was moved to the archive, as before."""
    declared = hall.ok_issue(green_reason="pregnant")
    r = hall.client.post(
        f"{API}/tickets/{declared['id']}/priority/remove",
        json={"reason": "未见孕检证明"},
        headers=hall.auth(f"clerk:{CITY}:1"),
    )
    assert r.status_code == 200, r.text
    _busy_day(hall)

    def report() -> list[dict[str, Any]]:
        got = hall.client.get(f"{API}/halls/{CITY}/priority-removals", headers=hall.auth("m-city"))
        assert got.status_code == 200, got.text
        return got.json()

    before = report()
    assert [row["number"] for row in before] == [declared["number"]]
    _archive(hall)
    assert _live_count(hall) == 0
    assert report() == before


def test_removals_archived_before_report_events_existed_are_copied(tmp_path: Path) -> None:
    """Migration 0028 reads blocks archived under 0021-0025 for the removals the report needs."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0025")
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    lines = [
        [1, "ticket.issued", "2026-03-02T01:00:00.000000", "device", "k1", '{"ticket": {}}', None, "h1"],
        [
            2,
            "ticket.priority_removed",
            "2026-03-02T01:30:00.000000",
            "user",
            "7",
            '{"reason": "x"}',
            "h1",
            "h2",
        ],
    ]
    body = zlib.compress("\n".join(json.dumps(line) for line in lines).encode())
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO event_archive (hall_id, first_seq, last_seq, day, count, prev_hash, head_hash,"
                    " body, archived_at) VALUES ('h', 1, 2, '2026-03-02', 2, NULL, 'h2', :b, '2026-05-01')"
                ),
                {"b": body},
            )
        upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                select(ReportEvent.seq, ReportEvent.type, ReportEvent.at, ReportEvent.payload)
            ).all()
    finally:
        engine.dispose()
    assert [(r.seq, r.type, r.payload) for r in rows] == [(2, "ticket.priority_removed", '{"reason": "x"}')]
    assert rows[0].at.replace(tzinfo=UTC) == at


def test_a_pass_with_nothing_old_reads_one_event_per_stream(hall: Hall) -> None:
    """A pass over a busy stream with nothing to archive reads its oldest event only, not a batch
    of events with their payloads (that was every stream, every pass, in a writing transaction)."""
    if not hall.ctx.db.is_postgres:
        pytest.skip("PostgreSQL only: psycopg counts the rows a SELECT returned (SQLite's driver does not)")
    stream, n = "t-busy", EVENT_ARCHIVE_BATCH + 100
    now = datetime.now(UTC)
    with hall.ctx.db.write() as s:
        s.execute(insert(HallSeq), [{"hall_id": stream, "last_seq": n}])
        row = {"hall_id": stream, "type": "test.busy", "at": now, "actor_kind": "system", "payload": "{}"}
        s.execute(insert(Event), [{**row, "seq": i} for i in range(1, n + 1)])
        streams = int(s.execute(select(func.count()).select_from(HallSeq)).scalar() or 0)
    read: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM events" in statement:
            read.append(cursor.rowcount)

    event.listen(hall.ctx.db.engine, "after_cursor_execute", count)
    try:
        assert archive_closed_days(hall.ctx.db, now, RETENTION_DAYS) == 0
    finally:
        event.remove(hall.ctx.db.engine, "after_cursor_execute", count)
    assert read and sum(read) <= streams, read
    assert _live_count(hall, stream) == n


def _retention_alerts(hall: Hall) -> list[dict[str, Any]]:
    r = hall.client.get(f"{API}/halls/{CITY}/alerts", headers=hall.auth("m-city"))
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["code"] == "retention.needs_owner"]


def test_the_append_only_role_warns_once_and_the_manager_sees_it(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    """The server on PostgreSQL's append-only app role may not move events: its background
    pass (every 15 s) warns once, not at every pass, and the hall manager's alerts say what to
    run until the rule runs again. Granted the right, the pass archives and the alert goes; the
    right taken away again, one warning more."""
    if not hall.is_postgres:
        pytest.skip("the append-only app role is PostgreSQL's")
    _busy_day(hall)
    role = f"hall_app_{uuid.uuid4().hex[:6]}"
    owner = make_url(hall.db_url)
    run_sql(hall.db_url, grant_app_role_sql(role, "pw-role-1", str(owner.database)))
    as_role = owner.set(username=role, password="pw-role-1").render_as_string(hide_password=False)
    settings = Settings(
        data_dir=hall.data_dir, db_url=as_role, pool_size=2, event_retention_days=RETENTION_DAYS
    )
    ctx = ServerContext.create(settings)
    ctx.clock = lambda: datetime.now(UTC) + LATER  # every event of the test is past the retention
    notifier = notify.LogNotifier()

    def warnings() -> int:
        return sum("event retention needs the database owner" in r.getMessage() for r in caplog.records)

    try:
        with caplog.at_level(logging.INFO, logger="hall_server.worker"):
            for _ in range(3):
                assert worker.run_pass(ctx, notifier).get("events_archived", 0) == 0
            assert warnings() == 1
            alert = _retention_alerts(hall)
            assert len(alert) == 1 and "hall-server db archive-events" in alert[0]["message"], alert
            assert alert[0]["level"] == "warning" and "保留期" in alert[0]["message"]
            assert _live_count(hall) > 0

            run_sql(hall.db_url, [f"GRANT DELETE ON events TO {role}"])
            assert worker.run_pass(ctx, notifier)["events_archived"] > 0
            assert _retention_alerts(hall) == []
            assert any("event retention runs again" in r.getMessage() for r in caplog.records)

            run_sql(hall.db_url, [f"REVOKE DELETE ON events FROM {role}"])
            for _ in range(3):
                worker.run_pass(ctx, notifier)
            assert warnings() == 2
            assert len(_retention_alerts(hall)) == 1
    finally:
        ctx.close()
        run_sql(hall.db_url, [f"DROP OWNED BY {role}", f"DROP ROLE {role}"])


def _recent_calls(hall: Hall) -> list[dict[str, Any]]:
    r = hall.client.get(f"{API}/halls/{CITY}/snapshot", headers=hall.auth(f"display:{CITY}"))
    assert r.status_code == 200, r.text
    return list(r.json()["recent_calls"])


def test_the_display_keeps_its_recent_calls_when_their_days_are_archived(hall: Hall) -> None:
    """A display started after the hall's calling days were archived (a holiday longer than the
    retention) still shows the last calls, newest first; a call made since comes first, and none
    is shown twice."""
    for _ in range(RECENT_CALLS + 2):
        hall.served()
    before = _recent_calls(hall)
    assert len(before) == RECENT_CALLS

    _archive(hall)
    assert _live_count(hall) == 0
    assert _recent_calls(hall) == before

    hall.served()
    now = _recent_calls(hall)
    seqs = [c["seq"] for c in now]
    assert len(now) == RECENT_CALLS and len(set(seqs)) == RECENT_CALLS and seqs == sorted(seqs, reverse=True)
    assert seqs[0] > before[0]["seq"] and now[1:] == before[: RECENT_CALLS - 1]
