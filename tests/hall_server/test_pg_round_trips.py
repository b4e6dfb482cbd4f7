"""What the hot requests cost PostgreSQL on the wire, and the token look-up's connection rules.

psycopg drops every statement it prepared on a connection at each ROLLBACK. The look-up used
to run in a read transaction that the pool rolled back, so on PostgreSQL nothing stayed
prepared and every hot statement was planned again on each request (issue 14).

A ticket issue and a 下一位 are counted through a relay that reads the protocol (pg_wire.py):
statements, BEGIN/COMMIT, pings and round trips per request. The counts are behaviour (what
the server asks of the database for one use case), not timings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, select, text

from hall_server.app import create_app
from hall_server.config import Settings
from hall_server.db.engine import Database
from hall_server.db.models import ApiToken
from hall_server.db.prepared import Prepared
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY
from tests.hall_server.pg_wire import PgRelay, WireCount

A = ApiToken.__table__
_ROLE_OF = Prepared(select(A.c.role).where(A.c.id == bindparam("b_id")))


def _first_token_id(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(A.c.id).order_by(A.c.id).limit(1)).scalar_one())


def test_lookups_leave_no_transaction_open_and_see_new_writes(hall: Hall) -> None:
    """Each look-up sees what was committed just before it: nothing pins an old snapshot."""
    db = Database(hall.db_url, pool_size=1)
    try:
        token_id = _first_token_id(db)
        with db.read_driver() as conn:
            assert _ROLE_OF.scalar(conn, {"b_id": token_id}) != "display"
            if db.is_postgres:
                assert conn.connection.dbapi_connection.info.transaction_status == 0  # IDLE
        with db.tx() as s:
            s.execute(text("UPDATE api_tokens SET role = 'display' WHERE id = :i"), {"i": token_id})
        with db.read_driver() as conn:
            assert _ROLE_OF.scalar(conn, {"b_id": token_id}) == "display"
    finally:
        db.dispose()


def test_postgres_lookups_keep_prepared_statements(hall: Hall) -> None:
    """On PostgreSQL a statement run a few times stays prepared across look-ups and use cases."""
    if not hall.is_postgres:
        pytest.skip("SQLite has no server-side prepared statements to keep")
    db = Database(hall.db_url, pool_size=1)
    try:
        token_id = _first_token_id(db)
        for _ in range(4):
            with db.read_driver() as conn:
                _ROLE_OF.scalar(conn, {"b_id": token_id})
            with db.tx() as s:
                _ROLE_OF.scalar(s.connection(), {"b_id": token_id})
        with db.read_driver() as conn:
            raw = conn.connection.dbapi_connection
            prepared = raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert any("api_tokens" in row[0] for row in prepared), prepared
    finally:
        db.dispose()


API = "/api/v1"


@pytest.fixture
def relayed(hall: Hall) -> Iterator[tuple[TestClient, PgRelay]]:
    """A second app on the same database, connected through a counting relay (PostgreSQL only)."""
    if not hall.is_postgres:
        pytest.skip("counts PostgreSQL's protocol messages")
    where = urlsplit(hall.db_url)
    relay = PgRelay(where.hostname or "127.0.0.1", where.port or 5432)
    settings = Settings(
        data_dir=hall.data_dir, db_url=relay.url(hall.db_url), pool_size=5, public_url="http://hall.test"
    )
    try:
        with TestClient(create_app(settings, migrate=False)) as client:
            yield client, relay
    finally:
        relay.close()


def _counted(relay: PgRelay, send: Any) -> tuple[Any, WireCount]:
    """Send one request; what the connection that looked its token up sent meanwhile."""
    relay.start_counting()
    response = send()
    counts = relay.stop_counting()
    mine = [c for c in counts.values() if any("api_tokens" in q for q in c.statements)]
    assert len(mine) == 1, counts
    return response, mine[0]


def _issue(hall: Hall, client: TestClient) -> Any:
    return client.post(
        f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"}, headers=hall.auth(f"kiosk:{CITY}")
    )


def _next(hall: Hall, client: TestClient, in_hand: int) -> Any:
    return client.post(
        f"{API}/windows/{hall.wid(1)}/next",
        json={"close": "no_show", "ticket_id": in_hand},
        headers=hall.auth(f"clerk:{CITY}:1"),
    )


def test_postgres_issue_and_next_statements_on_the_wire(
    hall: Hall, relayed: tuple[TestClient, PgRelay]
) -> None:
    """An issue is 5 statements and a 下一位 7, each on one connection, in one transaction, no ping."""
    client, relay = relayed
    for _ in range(4):  # warm: caches filled, sessions touched, statements prepared
        assert _issue(hall, client).status_code == 201
    r = client.post(f"{API}/windows/{hall.wid(1)}/call-next", headers=hall.auth(f"clerk:{CITY}:1"))
    assert r.status_code == 200, r.text
    in_hand = r.json()["id"]
    r = _next(hall, client, in_hand)
    assert r.status_code == 200, r.text
    in_hand = r.json()["called"]["id"]

    r, issue = _counted(relay, lambda: _issue(hall, client))
    assert r.status_code == 201, r.text
    # token look-up, number draw, ticket insert, waiting counts, event (seq, link, row)
    assert len(issue.statements) == 5, issue.statements
    assert (issue.control, issue.pings, issue.round_trips) == (2, 0, 7), issue

    r, nxt = _counted(relay, lambda: _next(hall, client, in_hand))
    assert r.status_code == 200, r.text
    assert r.json()["closed"]["status"] == "no_show" and r.json()["called"]["status"] == "called"
    # token look-up, window with its ticket in hand, close, queue heads, claim-and-call,
    # window, both events (seqs, links, rows)
    assert len(nxt.statements) == 7, nxt.statements
    assert (nxt.control, nxt.pings, nxt.round_trips) == (2, 0, 9), nxt


def test_postgres_dropped_connections_fail_no_request(
    hall: Hall, relayed: tuple[TestClient, PgRelay], caplog: pytest.LogCaptureFixture
) -> None:
    """Connections cut under the pool (a restart) are replaced by the look-up; every request succeeds."""
    client, relay = relayed
    caplog.set_level(logging.WARNING, logger="hall_server.db.engine")
    assert _issue(hall, client).status_code == 201
    r = client.post(f"{API}/windows/{hall.wid(1)}/call-next", headers=hall.auth(f"clerk:{CITY}:1"))
    assert r.status_code == 200, r.text
    in_hand = r.json()["id"]
    assert _issue(hall, client).status_code == 201
    relay.drop_connections()
    r = _next(hall, client, in_hand)
    assert r.status_code == 200, r.text
    assert r.json()["called"] is not None
    relay.drop_connections()
    assert _issue(hall, client).status_code == 201
    # Found dead by the look-up (in use moments before, so not pinged), not by a ping.
    assert any("found dead" in rec.getMessage() for rec in caplog.records)
