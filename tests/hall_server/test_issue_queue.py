"""A hall's issues queue in the server process, not on its number-counter row (PostgreSQL).

Issues of one hall serialise on the hall's counter row anyway. Waiting for it in the database,
each held one of the process's writer slots (HALL_PG_WRITERS) and a connection, so a burst of
one hall's issues behind a slow holder left no slot for the hall's windows (下一位) or station
sync. Queued in the process, one waits in the database and the others hold nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from hall_server.api.deps import lookup
from hall_server.services import tickets
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY

WAIT_S = 20.0


def test_a_window_calls_while_more_issues_than_writer_slots_wait_for_the_counter(hall: Hall) -> None:
    """More issues of a hall than the process has writer slots, all waiting for the hall's number
    counter (held by another transaction): the hall's window still calls its next visitor at
    once, and every issue gets its own number when the counter is free again."""
    if not hall.is_postgres:
        pytest.skip("PostgreSQL only: SQLite's hot writers run one at a time in the lane")
    first = hall.ok_issue("S-A1")
    kiosk = lookup(hall.ctx, hall.tokens[f"kiosk:{CITY}"])
    waiting = hall.ctx.settings.writers + 1
    issued: list[dict[str, Any]] = []
    failed: list[BaseException] = []

    def issue() -> None:
        try:
            ticket, _created = tickets.issue_ticket(
                hall.ctx, kiosk, CITY, tickets.IssueInput(service_code="S-A1", channel="kiosk")
            )
            issued.append(ticket)
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    with hall.ctx.db.engine.connect() as holder:
        # Another transaction holds the hall's counter rows (a slow issue of a second process).
        holder.execute(text("SELECT 1 FROM number_counters WHERE hall_id = :h FOR UPDATE"), {"h": CITY})
        threads = [threading.Thread(target=issue, daemon=True) for _ in range(waiting)]
        for t in threads:
            t.start()
        called: list[Any] = []
        caller = threading.Thread(target=lambda: called.append(hall.op(1, "call-next")), daemon=True)
        caller.start()
        caller.join(WAIT_S)
        assert not caller.is_alive(), "下一位 waited behind the hall's queued issues"
        holder.rollback()
    assert called[0].status_code == 200, called[0].text
    assert called[0].json()["id"] == first["id"]
    for t in threads:
        t.join(WAIT_S)
    assert not failed, failed
    numbers = sorted(t["number"] for t in issued)
    assert len(numbers) == waiting and len(set(numbers)) == waiting
