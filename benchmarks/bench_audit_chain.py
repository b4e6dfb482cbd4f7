"""Cost of the audit chain: microseconds per appended event with and without the hash chain.

"Without" replays the append path as it was before the chain (seq upsert + insert on SQLite, one
CTE statement on PostgreSQL) on the same schema; "with" is hall_server.events today. Both run one
event per writing transaction (the common use case) and ten events per transaction (the staged
batch of a window operation). Prints one JSON object.
Run: .venv/bin/python benchmarks/bench_audit_chain.py [--events N] [--postgres] [--sm3]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, insert, text  # noqa: E402

from hall_server import audit, chain  # noqa: E402
from hall_server.db.engine import Database  # noqa: E402
from hall_server.db.models import Event, HallSeq  # noqa: E402
from hall_server.db.prepared import Prepared  # noqa: E402
from hall_server.db.upsert import upsert_statement  # noqa: E402
from hall_server.events import append_event, dumps, stage_event  # noqa: E402
from hall_server.migrate import upgrade  # noqa: E402

logger = logging.getLogger(__name__)

PAYLOAD = {"ticket": {"id": 123, "number": "A023", "status": "called", "window_id": 4, "group": "A"}}
BATCH = 10
ROUNDS = 3

_E = Event.__table__
_S = HallSeq.__table__
_OLD_INSERT = Prepared(
    insert(_E).values(
        hall_id=bindparam("hall_id"),
        seq=bindparam("seq"),
        type=bindparam("type"),
        at=bindparam("at"),
        actor_kind=bindparam("actor_kind"),
        actor_id=bindparam("actor_id"),
        payload=bindparam("payload"),
    )
)
_OLD_PG = Prepared(
    text(
        "WITH s AS (INSERT INTO hall_seq (hall_id, last_seq) VALUES (:hall_id, 1) "
        "ON CONFLICT (hall_id) DO UPDATE SET last_seq = hall_seq.last_seq + 1 RETURNING last_seq) "
        "INSERT INTO events (hall_id, seq, type, at, actor_kind, actor_id, payload) "
        "SELECT :hall_id, s.last_seq, :type, :at, :actor_kind, :actor_id, :payload FROM s"
    )
)


_OLD_TAKE: dict[str, Prepared] = {}


def _old_take(dialect: str) -> Prepared:
    if dialect in _OLD_TAKE:
        return _OLD_TAKE[dialect]
    _OLD_TAKE[dialect] = Prepared(
        upsert_statement(
            dialect,
            _S,
            {"hall_id": bindparam("hall_id"), "last_seq": bindparam("k")},
            index_elements=["hall_id"],
            set_={"last_seq": _S.c.last_seq + bindparam("k")},
            returning=_S.c.last_seq,
        )
    )
    return _OLD_TAKE[dialect]


def _params(hall: str) -> dict[str, Any]:
    return {
        "hall_id": hall,
        "type": "ticket.called",
        "at": datetime.now(UTC),
        "actor_kind": "clerk",
        "actor_id": "c1",
        "payload": dumps(PAYLOAD),
    }


def old_append(db: Database, hall: str, k: int) -> None:
    """k events in one transaction, the pre-chain way."""
    with db.tx() as tx:
        conn = tx.connection()
        if db.is_postgres and k == 1:
            _OLD_PG.all(conn, _params(hall))
            return
        last = int(_old_take(conn.dialect.name).scalar(conn, {"hall_id": hall, "k": k}))
        rows = [{**_params(hall), "seq": last - k + 1 + n} for n in range(k)]
        _OLD_INSERT.many(conn, rows) if k > 1 else _OLD_INSERT.all(conn, rows[0])


def new_append(db: Database, hall: str, k: int) -> None:
    """k events in one transaction through hall_server.events (chained)."""
    with db.tx() as tx:
        if k == 1:
            append_event(tx, hall, "ticket.called", PAYLOAD, {"kind": "clerk", "id": "c1"})
        else:
            for _ in range(k):
                stage_event(tx, hall, "ticket.called", PAYLOAD, {"kind": "clerk", "id": "c1"})


def _time(fn: Callable[[Database, str, int], None], db: Database, hall: str, k: int, events: int) -> float:
    for _ in range(20):  # warm the statement caches and the pool
        fn(db, hall, k)
    start = time.perf_counter()
    for _ in range(events // k):
        fn(db, hall, k)
    return (time.perf_counter() - start) / (events // k * k) * 1e6


def run(url: str, events: int) -> dict[str, Any]:
    """Both paths on one database, per event and batched."""
    upgrade(url)
    db = Database(url, pool_size=2)
    out: dict[str, Any] = {
        "database": db.engine.dialect.name,
        "chain_hash": chain.algorithm(),
        "events": events,
    }
    try:
        for label, k in (("single", 1), ("batch10", BATCH)):
            # Alternate the two paths over a few rounds and keep each one's best: on a shared
            # machine the order and the neighbours' load otherwise decide more than the code.
            olds, news = [], []
            for _ in range(ROUNDS):
                olds.append(_time(old_append, db, f"old-{label}", k, events // ROUNDS))
                news.append(_time(new_append, db, f"new-{label}", k, events // ROUNDS))
            old, new = min(olds), min(news)
            out[label] = {
                "us_per_event_without_chain": round(old, 1),
                "us_per_event_with_chain": round(new, 1),
                "overhead_us": round(new - old, 1),
            }
        t0 = time.perf_counter()
        verdict = audit.verify_all(db, "new-single")[0]
        out["verify_us_per_event"] = round((time.perf_counter() - t0) / max(verdict.checked, 1) * 1e6, 1)
        out["verify_ok"] = verdict.ok
    finally:
        db.dispose()
    return out


def main() -> None:
    """Parse arguments, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL cluster")
    ap.add_argument("--sm3", action="store_true", help="chain with SM3 instead of SHA-256")
    args = ap.parse_args()
    if args.sm3:
        chain.set_algorithm("sm3")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run(f"sqlite:///{tmp}/chain.sqlite3", args.events))
        if args.postgres:
            from tests.fixtures.postgres import PgCluster

            with PgCluster() as pg:
                name = pg.create_database("bench_chain")
                results.append(run(pg.url(name), args.events))
    print(json.dumps({"benchmark": "bench_audit_chain", "results": results}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
