"""Issue 14: event retention — old days move to event_archive; audit, statistics and replays still answer."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from starlette.websockets import WebSocketDisconnect

from hall_server import audit
from hall_server.const import WS_CLOSE_PRUNED
from hall_server.db.models import Event, EventArchive, SyncAck
from hall_server.event_archive import archive_closed_days, archived_upto
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
