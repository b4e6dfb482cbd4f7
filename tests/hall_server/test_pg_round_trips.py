"""A token look-up runs as one statement, outside any transaction, and keeps the hot statements prepared.

psycopg drops every statement it prepared on a connection at each ROLLBACK. The look-up used
to run in a read transaction that the pool rolled back, so on PostgreSQL nothing stayed
prepared and every hot statement was planned again on each request (issue 14).
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select, text

from hall_server.db.engine import Database
from hall_server.db.models import ApiToken
from hall_server.db.prepared import Prepared
from tests.hall_server.conftest import Hall

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
