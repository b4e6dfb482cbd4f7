"""Statistics over a year of a city: ~2 million tickets in 50 halls, on SQLite (and PostgreSQL with --postgres).

Generates the rows the core leaves behind (tickets, ratings) and follow-up cases with bulk inserts
(executemany on SQLite, COPY on PostgreSQL), rolls them up (services/stat_rollups.py: the pass a
server runs), then times the dashboard's and the exports' reads from the rollups, the same summary
counted from raw rows (and checks both agree), and the incremental pass after one change.
Prints one JSON object and saves it to benchmarks/results/stats-<date>.json.
Run: .venv/bin/python benchmarks/bench_stats.py [--quick] [--tickets N] [--postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hall_server.db.engine import Database  # noqa: E402
from hall_server.migrate import upgrade  # noqa: E402
from hall_server.services import stat_rollups, stats  # noqa: E402
from hall_server.services.calendars import load_calendar  # noqa: E402
from hall_server.services.stats_export import to_csv, to_xlsx  # noqa: E402

logger = logging.getLogger(__name__)

HALLS = 50
WINDOWS_PER_HALL = 6
SERVICES = [f"SV-{i:03d}" for i in range(20)]
YEAR = 2026
TZ_OFFSET = timedelta(hours=8)
TICKET_COLS = (
    "id", "hall_id", "business_day", "prefix", "seq", "number", "group_prefix", "service_code", "status",
    "priority", "channel", "issued_at", "called_at", "started_at", "finished_at", "window_id", "clerk_id",
    "recall_count", "transfer_count", "track_token",
)  # fmt: skip
RATING_COLS = (
    "id", "hall_id", "ticket_id", "window_id", "clerk_id", "service_code", "level", "reasons", "text",
    "channel", "prompted", "created_at",
)  # fmt: skip
CASE_COLS = (
    "id", "hall_id", "rating_id", "ticket_id", "window_id", "clerk_id", "service_code", "level", "opened_on",
    "deadline", "step", "revisit_satisfied", "created_at", "updated_at",
)  # fmt: skip
LEVELS = [5] * 80 + [4] * 12 + [3] * 5 + [2] * 2 + [1]
STEPS = ["open", "verified", "answered", "fixed", "revisited", "closed"]


def hall_ids() -> list[str]:
    """City hall, 9 counties, 40 townships."""
    return ["c-city"] + [f"c-county-{i}" for i in range(9)] + [f"c-town-{i}" for i in range(HALLS - 10)]


def seed_static(db: Database) -> dict[str, Any]:
    """Halls, services, groups, windows and clerks with plain SQL."""
    halls = hall_ids()
    with db.engine.begin() as conn:
        for i, h in enumerate(halls):
            level = "city" if i == 0 else ("county" if i < 10 else "township")
            parent = None if i == 0 else ("c-city" if i < 10 else f"c-county-{(i - 10) % 9}")
            ph = "?" if db.is_sqlite else "%s"
            conn.exec_driver_sql(
                "INSERT INTO halls (id, name, short_name, level, parent_id, address, phone, timezone, notices,"
                f" policy, opening_hours) VALUES ({','.join([ph] * 11)})",
                (h, f"大厅{i}", f"大厅{i}", level, parent, "", "", "Asia/Shanghai", "[]",
                 '{"target_wait_minutes": 15}', '[["09:00","12:00"],["13:30","17:30"]]'),
            )  # fmt: skip
        ph = "?" if db.is_sqlite else "%s"
        for code in SERVICES:
            conn.exec_driver_sql(
                f"INSERT INTO service_items (code, name, sub_name, category, department, guide) VALUES ({ph},{ph},'','','','{{}}')",
                (code, f"事项{code}"),
            )
        windows: dict[str, list[tuple[int, int]]] = {}
        wid = uid = 0
        for h in halls:
            for n in range(1, WINDOWS_PER_HALL + 1):
                wid += 1
                uid += 1
                conn.exec_driver_sql(
                    f"INSERT INTO users (id, username, name, role, hall_id, password_hash, active) VALUES ({ph},{ph},{ph},'clerk',{ph},'x',{'1' if db.is_sqlite else 'true'})",
                    (uid, f"{h}-u{n}", f"职员{uid}", h),
                )
                windows.setdefault(h, []).append((wid, uid))
    return {"halls": halls, "windows": windows}


def generate(n_tickets: int, static: dict[str, Any], seed: int = 7) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Yield ("t", ticket), ("r", rating), ("c", case) rows for a year of working days."""
    rnd = random.Random(seed)
    cal = load_calendar(None)
    days = list(cal.working_days(date(YEAR, 1, 1), date(YEAR, 12, 31)))
    halls = static["halls"]
    per_hall_day = max(1, n_tickets // (len(halls) * len(days)))
    tid = rid = cid = 0
    for day in days:
        base = datetime(day.year, day.month, day.day, tzinfo=UTC) - TZ_OFFSET
        for h in halls:
            wins = static["windows"][h]
            seqs = {"A": 0, "B": 0}
            for _ in range(per_hall_day):
                tid += 1
                prefix = "A" if rnd.random() < 0.7 else "B"
                seqs[prefix] += 1
                issued = base + timedelta(seconds=rnd.randint(9 * 3600, 17 * 3600))
                r = rnd.random()
                wid, uid = wins[rnd.randrange(len(wins))]
                service = SERVICES[rnd.randrange(len(SERVICES))]
                called = started = finished = None
                transfers = 0
                if r < 0.02:
                    status, wid_, uid_ = "cancelled", None, None
                else:
                    called = issued + timedelta(seconds=int(rnd.expovariate(1 / 720)))
                    wid_, uid_ = wid, uid
                    if r < 0.08:
                        status = "no_show"
                    else:
                        status = "finished"
                        started = called + timedelta(seconds=rnd.randint(10, 60))
                        finished = started + timedelta(seconds=int(rnd.expovariate(1 / 480)) + 30)
                        transfers = 1 if r > 0.98 else 0
                yield "t", (
                    tid, h, day, prefix, seqs[prefix], f"{prefix}{seqs[prefix]:03d}", prefix, service, status, False,
                    "kiosk", issued, called, started, finished, wid_, uid_, 0, transfers, f"tk{tid}",
                )  # fmt: skip
                if status == "finished" and rnd.random() < 0.6:
                    rid += 1
                    level = LEVELS[rnd.randrange(len(LEVELS))]
                    prompted = rnd.random() < 0.7
                    yield (
                        "r",
                        (rid, h, tid, wid_, uid_, service, level, "[]", "", "device", prompted, finished),
                    )
                    if level <= 2:
                        cid += 1
                        step = STEPS[rnd.randrange(len(STEPS))]
                        sat = (rnd.random() < 0.8) if STEPS.index(step) >= 4 else None
                        yield "c", (
                            cid, h, rid, tid, wid_, uid_, service, level, day, day + timedelta(days=21), step, sat,
                            finished, finished,
                        )  # fmt: skip


def _fmt(v: Any) -> Any:
    # SQLAlchemy's SQLite storage format for DateTime and Date.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def load_sqlite(db: Database, rows: Iterator[tuple[str, tuple[Any, ...]]]) -> dict[str, int]:
    """Bulk insert with executemany in big batches."""
    raw = db.engine.raw_connection()
    counts = {"t": 0, "r": 0, "c": 0}
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        sql = {
            "t": f"INSERT INTO tickets ({','.join(TICKET_COLS)}) VALUES ({','.join('?' * len(TICKET_COLS))})",
            "r": f"INSERT INTO ratings ({','.join(RATING_COLS)}) VALUES ({','.join('?' * len(RATING_COLS))})",
            "c": f"INSERT INTO followup_cases ({','.join(CASE_COLS)}) VALUES ({','.join('?' * len(CASE_COLS))})",
        }
        batch: dict[str, list[tuple[Any, ...]]] = {"t": [], "r": [], "c": []}

        def flush() -> None:
            cur.execute("BEGIN")
            for k in ("t", "r", "c"):
                if batch[k]:
                    cur.executemany(sql[k], batch[k])
                    counts[k] += len(batch[k])
                    batch[k].clear()
            cur.execute("COMMIT")

        for kind, row in rows:
            batch[kind].append(tuple(_fmt(v) for v in row))
            if len(batch["t"]) >= 100_000:
                flush()
        flush()
        cur.execute("ANALYZE")
    finally:
        raw.close()
    return counts


def load_postgres(dsn: str, rows: Iterator[tuple[str, tuple[Any, ...]]]) -> dict[str, int]:
    """COPY tickets, then ratings and cases (buffered in memory: they reference tickets)."""
    import psycopg

    counts = {"t": 0, "r": 0, "c": 0}
    later: dict[str, list[tuple[Any, ...]]] = {"r": [], "c": []}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY tickets ({','.join(TICKET_COLS)}) FROM STDIN") as cp:
            for kind, row in rows:
                if kind == "t":
                    cp.write_row(row)
                    counts["t"] += 1
                else:
                    later[kind].append(row)
        for kind, table, cols in (("r", "ratings", RATING_COLS), ("c", "followup_cases", CASE_COLS)):
            with cur.copy(f"COPY {table} ({','.join(cols)}) FROM STDIN") as cp:
                for row in later[kind]:
                    cp.write_row(row)
            counts[kind] = len(later[kind])
        conn.commit()
        cur.execute("ANALYZE")
        conn.commit()
    return counts


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t0, 3), out


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of n runs (the first also warms the page cache) and its answer."""
    runs = [timed(fn) for _ in range(n)]
    return min(t for t, _ in runs), runs[-1][1]


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def measure(db: Database, halls: list[str]) -> dict[str, Any]:
    """Time the reads the dashboard and the exports make (from the rollups), and one raw count."""
    year = stats.Scope(tuple(halls), date(YEAR, 1, 1), date(YEAR, 12, 31))
    one_hall_month = stats.Scope(("c-county-3",), date(YEAR, 6, 1), date(YEAR, 6, 30))
    out: dict[str, Any] = {"load_average_before": loadavg()}
    with db.read() as s:
        out["city_year_summary_s"], summ = best_of(3, lambda: stats.summary(s, year))
        for by in ("hall", "service", "group", "window", "clerk", "day", "hour"):
            out[f"city_year_by_{by}_s"], rows = best_of(3, lambda by=by: stats.breakdown(s, year, by))
            out[f"city_year_by_{by}_rows"] = len(rows)
        out["city_year_indicators_by_clerk_s"], _ = best_of(
            3, lambda: stats.rating_indicators(s, year, "clerk")
        )
        out["hall_month_summary_s"], _ = best_of(3, lambda: stats.summary(s, one_hall_month))
        out["city_year_csv_by_window_s"], csv_text = best_of(3, lambda: to_csv(s, year, "window"))
        out["city_year_xlsx_s"], xlsx = best_of(3, lambda: to_xlsx(s, year))
        # The same summary counted from the raw rows (what every request did before the rollups).
        out["raw_city_year_summary_s"], raw = timed(
            lambda: stats.summary(s, year, stats.raw_figures(s, year))
        )
        out["rollups_equal_raw"] = raw == summ
        out["rollup_rows"] = s.execute(text("SELECT count(*) FROM stat_rollups")).scalar_one()
    out["csv_bytes"] = len(csv_text.encode("utf-8"))
    out["xlsx_bytes"] = len(xlsx)
    t = summ["totals"]
    out["check"] = {
        "issued": t["issued"],
        "served": t["served"],
        "wait_avg_s": t["wait"]["average"],
        "wait_p90_s": t["wait"]["p90"],
        "good_rate": summ["ratings"]["indicators"]["good_rate"],
        "bad_reply_rate": summ["ratings"]["indicators"]["bad_reply_rate"],
    }
    worst = max(v for k, v in out.items() if k.startswith("city_year_by_") and k.endswith("_s"))
    out["aims"] = {
        "summary_le_200ms": out["city_year_summary_s"] <= 0.2,
        "every_breakdown_le_500ms": worst <= 0.5,
        "xlsx_le_2s": out["city_year_xlsx_s"] <= 2.0,
    }
    out["load_average_after"] = loadavg()
    return out


def incremental(db: Database) -> dict[str, Any]:
    """A late correction (one ticket's rating) and the pass that brings the rollups up to date."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ratings SET level = 1 WHERE id = (SELECT min(id) FROM ratings)"))
    t, days = timed(lambda: stat_rollups.catch_up(db))
    idle, _ = timed(lambda: stat_rollups.catch_up(db))
    return {"pass_after_one_change_s": t, "hall_days_rebuilt": days, "pass_with_nothing_to_do_s": idle}


def run(url: str, n_tickets: int, pg_dsn: str | None = None) -> dict[str, Any]:
    """Migrate, load, roll up, measure one database."""
    t0 = time.perf_counter()
    upgrade(url)
    db = Database(url)
    try:
        static = seed_static(db)
        gen_t0 = time.perf_counter()
        rows = generate(n_tickets, static)
        counts = load_postgres(pg_dsn, rows) if pg_dsn else load_sqlite(db, rows)
        load_s = round(time.perf_counter() - gen_t0, 1)
        result: dict[str, Any] = {
            "database": db.engine.dialect.name,
            "halls": len(static["halls"]),
            "tickets": counts["t"],
            "ratings": counts["r"],
            "followup_cases": counts["c"],
            "generate_and_load_s": load_s,
            "tickets_per_s_loaded": int(counts["t"] / max(load_s, 0.001)),
        }
        result["rollup_first_pass_s"], result["rollup_hall_days"] = timed(lambda: stat_rollups.catch_up(db))
        if pg_dsn:
            import psycopg

            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE stat_rollups")
        result.update(measure(db, static["halls"]))
        result["incremental"] = incremental(db)
        result["total_s"] = round(time.perf_counter() - t0, 1)
        return result
    finally:
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=2_000_000)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 100,000 tickets, results not saved")
    ap.add_argument(
        "--out", type=Path, default=None, help="where to save the JSON (default results/stats-<date>.json)"
    )
    ap.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL 15 cluster")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    n_tickets = 100_000 if args.quick else args.tickets
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            results.append(run(f"sqlite:///{tmp}/city.sqlite3", n_tickets))
        if args.postgres:
            from tests.fixtures.postgres import PgCluster

            with PgCluster() as pg:
                name = pg.create_database("bench_stats")
                results.append(run(pg.url(name), n_tickets, pg_dsn=pg.dsn(name)))
    doc = {
        "benchmark": "bench_stats",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "quick": args.quick,
        "results": results,
    }
    text_out = json.dumps(doc, ensure_ascii=False, indent=2)
    print(text_out)
    if not args.quick or args.out:
        out = (
            args.out or ROOT / "benchmarks" / "results" / f"stats-{datetime.now(UTC).date().isoformat()}.json"
        )
        out.write_text(text_out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
