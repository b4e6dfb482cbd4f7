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
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
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


def working_days(years: int) -> list[date]:
    """The working days of the measured year and the years before it, oldest first."""
    cal = load_calendar(None)
    return list(cal.working_days(date(YEAR - years + 1, 1, 1), date(YEAR, 12, 31)))


def _stamps(seconds: np.ndarray, known: np.ndarray, sqlite: bool) -> list[Any]:
    """UTC epoch seconds as the text each database reads (None where unknown)."""
    text_ = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    text_ = np.char.add(np.char.replace(text_, "T", " "), ".000000" if sqlite else "+00")
    return np.where(known, text_, None).tolist()


def generate(
    n_tickets: int,
    static: dict[str, Any],
    sqlite: bool,
    years: int = 1,
    seed: int = 7,
    days_per_chunk: int = 8,
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Chunks of ("t" tickets, "r" ratings, "c" cases) rows for `years` of working days, vectorised with numpy.

    Per hall-day: 70 % A / 30 % B tickets issued 09:00-17:00; 2 % cancelled, 6 % no-show, the rest finished
    (exponential waits around 12 min, service around 8 min, 1 % transferred once); 60 % of the finished rated
    (80 % level 5 ... 1 % level 1, 70 % prompted); a follow-up case at a random step for every level <= 2.
    """
    rng = np.random.default_rng(seed)
    days = working_days(years)
    halls = static["halls"]
    nh = len(halls)
    per = max(1, n_tickets // (nh * len(days)))
    hall_of = np.repeat(np.arange(nh), per)
    win_first = np.array([static["windows"][h][0][0] for h in halls])
    levels = np.array(LEVELS)
    tid = rid = cid = 0
    for c0 in range(0, len(days), days_per_chunk):
        chunk = days[c0 : c0 + days_per_chunk]
        n = len(chunk) * nh * per
        day_i = np.repeat(np.arange(len(chunk)), nh * per)
        hall_i = np.tile(hall_of, len(chunk))
        base = np.array(
            [int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) for d in chunk], dtype=np.int64
        )[day_i] - int(TZ_OFFSET.total_seconds())
        is_a = rng.random(n) < 0.7
        # Each hall-day numbers A and B from 1, in issue order.
        block = is_a.reshape(-1, per)
        seq = np.where(block, np.cumsum(block, axis=1), np.cumsum(~block, axis=1)).ravel()
        issued = base + rng.integers(9 * 3600, 17 * 3600 + 1, n)
        r = rng.random(n)
        cancelled, no_show = r < 0.02, (r >= 0.02) & (r < 0.08)
        finished = r >= 0.08
        called = issued + rng.exponential(720, n).astype(np.int64)
        started = called + rng.integers(10, 61, n)
        done = started + rng.exponential(480, n).astype(np.int64) + 30
        wid = win_first[hall_i] + rng.integers(0, WINDOWS_PER_HALL, n)
        ids = np.arange(tid + 1, tid + n + 1)
        tid += n
        svc = rng.integers(0, len(SERVICES), n)
        status = np.where(cancelled, "cancelled", np.where(no_show, "no_show", "finished")).tolist()
        prefix = np.where(is_a, "A", "B").tolist()
        seq_l = seq.tolist()
        win = np.where(cancelled, None, wid).tolist()
        day_text = [d.isoformat() for d in chunk]
        hall_l = [halls[h] for h in hall_i.tolist()]
        day_l = [day_text[d] for d in day_i.tolist()]
        svc_l = [SERVICES[s] for s in svc.tolist()]
        issued_t = _stamps(issued, np.ones(n, bool), sqlite)
        called_t = _stamps(called, ~cancelled, sqlite)
        started_t = _stamps(started, finished, sqlite)
        done_t = _stamps(done, finished, sqlite)
        transfers = (finished & (r > 0.98)).astype(np.int64).tolist()
        no = 0 if sqlite else False  # priority
        tickets = [
            (i, h, d, p, s, f"{p}{s:03d}", p, sv, st, no, "kiosk", it, ct, stt, ft, w, w, 0, tr, f"tk{i}")
            for i, h, d, p, s, sv, st, it, ct, stt, ft, w, tr in zip(
                ids.tolist(), hall_l, day_l, prefix, seq_l, svc_l, status, issued_t, called_t, started_t,
                done_t, win, transfers, strict=True,
            )
        ]  # fmt: skip
        rated = np.flatnonzero(finished & (rng.random(n) < 0.6))
        m = len(rated)
        lv = levels[rng.integers(0, len(levels), m)]
        prompted = rng.random(m) < 0.7
        rids = np.arange(rid + 1, rid + m + 1)
        rid += m
        ratings = [
            (ri, hall_l[t], int(ids[t]), win[t], win[t], svc_l[t], int(level), "[]", "", "device",
             int(pr) if sqlite else bool(pr), done_t[t])
            for ri, t, level, pr in zip(rids.tolist(), rated.tolist(), lv.tolist(), prompted.tolist(), strict=True)
        ]  # fmt: skip
        bad = np.flatnonzero(lv <= 2)
        steps = rng.integers(0, len(STEPS), len(bad))
        sat_draw = rng.random(len(bad)) < 0.8
        cases = []
        for b, step, sat in zip(bad.tolist(), steps.tolist(), sat_draw.tolist(), strict=True):
            cid += 1
            t = int(rated[b])
            day = chunk[int(day_i[t])]
            satisfied = (int(sat) if sqlite else sat) if step >= 4 else None
            cases.append(
                (cid, hall_l[t], int(rids[b]), int(ids[t]), win[t], win[t], svc_l[t], int(lv[b]),
                 day.isoformat(), (day + timedelta(days=21)).isoformat(), STEPS[step], satisfied,
                 done_t[t], done_t[t])
            )  # fmt: skip
        yield {"t": tickets, "r": ratings, "c": cases}


def load_sqlite(db: Database, chunks: Iterator[dict[str, list[tuple[Any, ...]]]]) -> dict[str, int]:
    """executemany per chunk, one transaction each (the stat_dirty triggers log every hall-day)."""
    raw = db.engine.raw_connection()
    counts = {"t": 0, "r": 0, "c": 0}
    sql = {
        "t": f"INSERT INTO tickets ({','.join(TICKET_COLS)}) VALUES ({','.join('?' * len(TICKET_COLS))})",
        "r": f"INSERT INTO ratings ({','.join(RATING_COLS)}) VALUES ({','.join('?' * len(RATING_COLS))})",
        "c": f"INSERT INTO followup_cases ({','.join(CASE_COLS)}) VALUES ({','.join('?' * len(CASE_COLS))})",
    }
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        for chunk in chunks:
            cur.execute("BEGIN")
            for k in ("t", "r", "c"):
                if chunk[k]:
                    cur.executemany(sql[k], chunk[k])
                    counts[k] += len(chunk[k])
            cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()
    return counts


def load_postgres(
    dsn: str, chunks: Iterator[dict[str, list[tuple[Any, ...]]]], fast: bool = False
) -> dict[str, int]:
    """COPY per chunk: tickets, then their ratings and cases (they reference tickets), one commit each.

    fast: the session runs as a replica (no foreign-key checks, no triggers) and the dirty log gets
    every loaded hall-day at the end with migration 0016's own statement: what a database holding
    this history looks like after the upgrade to the rollups. The generated rows are consistent by
    construction; the checks and triggers cost about 40 % of the load (measured 2026-12-08).
    """
    import psycopg

    counts = {"t": 0, "r": 0, "c": 0}
    tables = (
        ("t", "tickets", TICKET_COLS),
        ("r", "ratings", RATING_COLS),
        ("c", "followup_cases", CASE_COLS),
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        if fast:
            cur.execute("SET session_replication_role = replica")
        for chunk in chunks:
            for kind, table, cols in tables:
                if not chunk[kind]:
                    continue
                with cur.copy(f"COPY {table} ({','.join(cols)}) FROM STDIN") as cp:
                    for row in chunk[kind]:
                        cp.write_row(row)
                counts[kind] += len(chunk[kind])
            conn.commit()
        if fast:
            cur.execute("SET session_replication_role = origin")
            cur.execute(
                "INSERT INTO stat_dirty (hall_id, business_day) SELECT DISTINCT hall_id, business_day FROM tickets"
            )
            conn.commit()
        cur.execute("ANALYZE")
        conn.commit()
    return counts


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - t0, 3), out


CPU: dict[str, float] = {}  # this process's CPU seconds of the fastest run, by figure (filled by best_of)


def best_of(n: int, fn: Callable[[], Any], name: str = "") -> tuple[float, Any]:
    """The fastest of n runs (the first also warms the page cache) and its answer.

    With a name, the client process's CPU seconds of that run go to CPU[name]: on a loaded shared
    machine wall time is mostly waiting for a core, CPU time is what the read itself costs
    (all of it on SQLite; on PostgreSQL the server's share is not in it).
    """
    runs = []
    for _ in range(n):
        c0 = time.process_time()
        t, out = timed(fn)
        runs.append((t, round(time.process_time() - c0, 3), out))
    best = min(runs, key=lambda r: r[0])
    if name:
        CPU[name] = best[1]
    return best[0], runs[-1][2]


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def measure(db: Database, halls: list[str]) -> dict[str, Any]:
    """Time the reads the dashboard and the exports make (from the rollups), and one raw count."""
    year = stats.Scope(tuple(halls), date(YEAR, 1, 1), date(YEAR, 12, 31))
    one_hall_month = stats.Scope(("c-county-3",), date(YEAR, 6, 1), date(YEAR, 6, 30))
    out: dict[str, Any] = {"load_average_before": loadavg()}
    with db.read() as s:
        out["city_year_summary_s"], summ = best_of(3, lambda: stats.summary(s, year), "summary")
        by_day: list[dict[str, Any]] = []
        for by in ("hall", "service", "group", "window", "clerk", "day", "hour"):
            out[f"city_year_by_{by}_s"], rows = best_of(
                3, lambda by=by: stats.breakdown(s, year, by), f"by_{by}"
            )
            out[f"city_year_by_{by}_rows"] = len(rows)
            by_day = rows if by == "day" else by_day
        out["city_year_indicators_by_clerk_s"], _ = best_of(
            3, lambda: stats.rating_indicators(s, year, "clerk")
        )
        out["hall_month_summary_s"], _ = best_of(3, lambda: stats.summary(s, one_hall_month))
        out["city_year_csv_by_window_s"], csv_text = best_of(3, lambda: to_csv(s, year, "window"))
        out["city_year_xlsx_s"], xlsx = best_of(3, lambda: to_xlsx(s, year), "xlsx")
        # The same summary counted from the raw rows (what every request did before the rollups).
        t0 = time.perf_counter()
        raw_fig = stats.raw_figures(s, year)
        raw = stats.summary(s, year, raw_fig)
        out["raw_city_year_summary_s"] = round(time.perf_counter() - t0, 3)
        out["rollups_equal_raw"] = raw == summ
        # The by-day breakdown reads the subtree day rows: the same tickets counted by day agree.
        out["by_day_rollups_equal_raw"] = stats.breakdown(s, year, "day", raw_fig) == by_day
        out["by_day_from_subtree_rows"] = stat_rollups.tree_of(s, year.hall_ids) is not None
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
    out["client_cpu_s"] = dict(CPU)
    out["load_average_after"] = loadavg()
    return out


def incremental(db: Database) -> dict[str, Any]:
    """A late correction (one ticket's rating) and the pass that brings the rollups up to date."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ratings SET level = 1 WHERE id = (SELECT min(id) FROM ratings)"))
    t, days = timed(lambda: stat_rollups.catch_up(db))
    idle, _ = timed(lambda: stat_rollups.catch_up(db))
    return {"pass_after_one_change_s": t, "hall_days_rebuilt": days, "pass_with_nothing_to_do_s": idle}


def run(
    url: str,
    n_tickets: int,
    pg_dsn: str | None = None,
    years: int = 1,
    measure_only: bool = False,
    fast_load: bool = False,
    load_only: bool = False,
) -> dict[str, Any]:
    """Migrate, load, roll up, measure one database.

    measure_only: an existing, rolled-up city; one late correction and its pass first (the pass
    also brings rows added by a newer version, e.g. the subtree day rows, up to date), then the reads.
    load_only: generate, load and run the first pass, then stop (measure later with measure_only);
    with measure_only: only the pass.
    """
    t0 = time.perf_counter()
    db = Database(url)
    if measure_only:
        try:
            upgrade(url)
            first = incremental(db)
            if load_only:  # the pass only (a city loaded by an earlier --load-only stopped before its pass)
                return {"database": db.engine.dialect.name, "pass_only": True, "pass": first}
            return {
                "database": db.engine.dialect.name,
                "measure_only": True,
                "pass_before_measuring": first,
                **measure(db, hall_ids()),
                "incremental": incremental(db),
            }
        finally:
            db.dispose()
    upgrade(url)
    try:
        static = seed_static(db)
        gen_t0 = time.perf_counter()
        cpu0 = time.process_time()
        rows = generate(n_tickets, static, sqlite=pg_dsn is None, years=years)
        counts = load_postgres(pg_dsn, rows, fast_load) if pg_dsn else load_sqlite(db, rows)
        load_s = round(time.perf_counter() - gen_t0, 1)
        result: dict[str, Any] = {
            "database": db.engine.dialect.name,
            "years": years,
            "measured_year": YEAR,
            "halls": len(static["halls"]),
            "tickets": counts["t"],
            "ratings": counts["r"],
            "followup_cases": counts["c"],
            "fast_load": fast_load,
            "generate_and_load_s": load_s,
            "tickets_per_s_loaded": int(counts["t"] / max(load_s, 0.001)),
        }
        result["generate_and_load_client_cpu_s"] = round(time.process_time() - cpu0, 1)
        result["load_average_after_load"] = loadavg()
        _progress(result)
        cpu1 = time.process_time()
        result["load_average_before_first_pass"] = loadavg()
        result["rollup_first_pass_s"], result["rollup_hall_days"] = timed(lambda: stat_rollups.catch_up(db))
        result["rollup_first_pass_client_cpu_s"] = round(time.process_time() - cpu1, 1)
        result["load_average_after_first_pass"] = loadavg()
        _progress(result)
        if pg_dsn:
            import psycopg

            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE stat_rollups")
        if load_only:
            return result
        result.update(measure(db, static["halls"]))
        result["incremental"] = incremental(db)
        result["total_s"] = round(time.perf_counter() - t0, 1)
        return result
    finally:
        db.dispose()


def _progress(result: dict[str, Any]) -> None:
    """The figures so far on stderr: a long run (the ten-year city) shows how far it got."""
    print(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **result}), file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=2_000_000)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 100,000 tickets, results not saved")
    ap.add_argument(
        "--out", type=Path, default=None, help="where to save the JSON (default results/stats-<date>.json)"
    )
    ap.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL 15 cluster")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--years", type=int, default=1, help="history length; the tickets spread over all years")
    ap.add_argument(
        "--sqlite-path", type=Path, default=None, help="keep the SQLite city here (not a temp dir)"
    )
    ap.add_argument(
        "--measure-only",
        action="store_true",
        help="only time the reads of --sqlite-path's or --pg-url's city",
    )
    ap.add_argument("--load-only", action="store_true", help="generate, load and roll up; no reads timed")
    ap.add_argument(
        "--pg-url",
        default=None,
        help="an existing PostgreSQL database (SQLAlchemy URL) instead of a private cluster",
    )
    ap.add_argument("--pg-dsn", default=None, help="libpq DSN of --pg-url's database (for COPY)")
    ap.add_argument(
        "--fast-load",
        action="store_true",
        help="PostgreSQL: load without foreign-key checks and triggers, then log every hall-day dirty",
    )
    args = ap.parse_args()
    n_tickets = 100_000 if args.quick else args.tickets
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            path = args.sqlite_path or Path(tmp) / "city.sqlite3"
            results.append(
                run(
                    f"sqlite:///{path}",
                    n_tickets,
                    years=args.years,
                    measure_only=args.measure_only,
                    load_only=args.load_only,
                )
            )
        if args.pg_url:
            results.append(
                run(
                    args.pg_url,
                    n_tickets,
                    pg_dsn=args.pg_dsn,
                    years=args.years,
                    measure_only=args.measure_only,
                    fast_load=args.fast_load,
                    load_only=args.load_only,
                )
            )
        elif args.postgres:
            from tests.fixtures.postgres import PgCluster

            with PgCluster() as pg:
                name = pg.create_database("bench_stats")
                results.append(
                    run(
                        pg.url(name),
                        n_tickets,
                        pg_dsn=pg.dsn(name),
                        years=args.years,
                        fast_load=args.fast_load,
                        load_only=args.load_only,
                    )
                )
    doc = {
        "benchmark": "bench_stats",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "quick": args.quick,
        "tickets_asked": n_tickets,
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
