"""Station sync benchmark (issue 11): catch-up, 200 stations at once, steady state; prints one JSON.

Run: .venv/bin/python benchmarks/bench_sync.py [--quick] [--only catchup,steady,fleet,pulls]

One PostgreSQL 15 cluster (private, fsync off, like the test fixture) holds the city's
database; ONE real `hall-server serve` process (uvicorn, one worker) is the city. The city
is seeded with its own hall (10 windows, served by the benchmark's kiosks and windows), one
village hall for the real station, and one village hall for each emulated station; every
station is registered with `services.stations.add_station` (what `hall-server station add`
runs) and has its own credential, station_no and hall.

catchup  a real station: `hall-server serve` on SQLite in station mode, whose parent_url is a
         TCP proxy in a child process (the "link"). After its first round the link goes down
         (the proxy process is killed), a day of tickets (issue, call-next, start, finish, a
         rating each) is made at the station over HTTP, then the link comes back (a new proxy
         on the same port) and one more ticket is issued (the next visitor; a local commit is
         what wakes the station's loop early, otherwise it retries on its back-off, <= 30 s).
         Measured: from the proxy listening again until the city has applied everything
         (station_halls.applied_seq == the station's last seq of the hall and its audit
         stream, and the same ticket and rating counts), bytes through the proxy, pushes.
steady   the same station, link up: a ticket issued at the station every 0.3 s; from sending
         the issue request until a WebSocket subscriber AT THE CITY for that hall receives the
         ticket.issued event. p50/p99 over the records.
fleet    N stations reconnecting at once, each with its day, against the one city process,
         while the city's own kiosk and windows issue and call at an open-loop rate.
         Real: each station database is a real SQLite station database (a migrated template
         copied per station, `capture.setup_station`, a first real pull of the city's
         configuration over HTTP), its day made by the real use cases in-process
         (issue_ticket, call_next, start, finish, record_rating: the code the API runs, without
         the HTTP layer) with the link down, so the capture triggers fill sync_changes; and the
         catch-up is the real `StationSync.run` loop of each station (its own requests
         session, its own SQLite, its own lock file) pushing real batches over HTTP.
         Emulated: the 200 stations' loops run as threads in a few driver processes on the
         city's two cores instead of on 200 machines, so the stations' own CPU (reading SQLite,
         JSON) competes with the city; and the per-station day is smaller than the catch-up
         day (see `fleet.per_station_tickets`), extrapolated in `fleet.extrapolation`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing as mp
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import (
    HttpError,
    RawHttp,
    WindowCaller,
    children_of,
    issue_ticket,
    latency_summary,
    proc_cpu,
)
from tests.fixtures.postgres import PgCluster
from tests.fixtures.server import HOST, HallServer, free_port, hall_servers, prepare_database

logger = logging.getLogger("bench_sync")

API = "/api/v1"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
PASSWORD = "bench-pass-1234"
CITY_HALL = "bench-city"
MAIN_HALL = "v-main"
MAIN_STATION = "st-main"
MAIN_WINDOWS = 4
CITY_WINDOWS = 10
SERVICES = ("SV-A1", "SV-A2")
# Every request of the benchmark's city client gives up after this (counted as an error), and
# the fleet's catch-up is watched at most this long: the run always ends and prints its JSON.
REQUEST_TIMEOUT_S = 5.0
FLEET_MAX_S = 240.0
TARGETS = {"catchup_s": 5.0, "fleet_s": 120.0, "city_p99_ms": 50.0, "steady_p99_s": 2.0}
SIZES = {
    "quick": {
        "catchup_tickets": 300,
        "steady_records": 10,
        "fleet_stations": 10,
        "fleet_tickets": 30,
        "city_rate": 20,
        "drivers": 2,
    },
    "full": {
        "catchup_tickets": 5000,
        "steady_records": 50,
        "fleet_stations": 200,
        "fleet_tickets": 100,
        "city_rate": 40,
        "drivers": 4,
    },
}


# --- the city's data --------------------------------------------------------------------------
def _hall(hall_id: str, name: str, level: str, parent: str | None, windows: int) -> dict[str, Any]:
    return {
        "id": hall_id,
        "name": name,
        "short_name": name[:8],
        "level": level,
        "parent": parent,
        "opening_hours": [["00:00", "23:59"]],
        "policy": {
            "allow_anonymous": True,
            "per_person_daily_limit": 1000000,
            "daily_cap_per_group": 1000000,
            "recall_cap": 5,
        },
        "groups": [{"prefix": "A", "name": "综合", "services": list(SERVICES)}],
        "windows": [
            {"number": n, "name": f"{n}号窗口", "kind": "comprehensive", "groups": {"A": 1}}
            for n in range(1, windows + 1)
        ],
        "clerks": [
            {"username": f"{hall_id}-c{n}", "name": f"办事员{n}", "password": PASSWORD}
            for n in range(1, windows + 1)
        ],
    }


def fleet_hall(k: int) -> str:
    return f"v-{k:03d}"


def city_seed(fleet: int) -> dict[str, Any]:
    halls = [_hall(CITY_HALL, "压测市政务服务中心", "city", None, CITY_WINDOWS)]
    halls.append(_hall(MAIN_HALL, "压测村便民服务站", "village", CITY_HALL, MAIN_WINDOWS))
    halls += [_hall(fleet_hall(k), f"压测{k}村服务站", "village", CITY_HALL, 1) for k in range(1, fleet + 1)]
    return {
        "city": "压测市",
        "timezone": "Asia/Shanghai",
        "services": [
            {"code": code, "name": f"压测事项{code}", "category": "压测", "department": "压测部门"}
            for code in SERVICES
        ],
        "halls": halls,
        "managers": [],
        "admins": [{"username": "bench-admin", "password": PASSWORD}],
    }


def build_city(url: str, data_dir: Path, fleet: int) -> dict[str, Any]:
    """Migrate and seed the city database, register the stations, make the device tokens."""
    from sqlalchemy import select

    from hall_server import seed as seed_mod
    from hall_server.auth import create_token
    from hall_server.config import Settings
    from hall_server.context import ServerContext
    from hall_server.db.models import Window
    from hall_server.migrate import upgrade
    from hall_server.passwords import hash_password
    from hall_server.services import stations

    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=data_dir, db_url=url, data_key=KEY, pool_size=2))
    # Preparation only: every clerk of the benchmark has the same password, hashed once
    # (scrypt costs 0.2 s by design; 200+ hashes would be minutes of set-up).
    one_hash = hash_password(PASSWORD)
    real_hash = seed_mod.hash_password
    seed_mod.hash_password = lambda _pw: one_hash  # type: ignore[assignment]
    out: dict[str, Any] = {"stations": {}}
    try:
        seed_mod.seed(ctx.db, city_seed(fleet))
        with ctx.db.read() as s:
            windows: dict[str, list[int]] = {}
            for r in s.execute(select(Window.hall_id, Window.id).order_by(Window.hall_id, Window.number)):
                windows.setdefault(r.hall_id, []).append(int(r.id))
        out["windows"] = windows
        for hall, sid in [(MAIN_HALL, MAIN_STATION)] + [
            (fleet_hall(k), f"st-{k:03d}") for k in range(1, fleet + 1)
        ]:
            bundle = stations.add_station(ctx.db, sid, [hall], sid)
            with ctx.db.write() as s:
                bundle["kiosk"] = create_token(s, "kiosk", hall_id=hall)[1]
                bundle["rating"] = {w: create_token(s, "rating", window_id=w)[1] for w in windows[hall]}
            bundle["windows"] = windows[hall]
            bundle["hall"] = hall
            out["stations"][sid] = bundle
        with ctx.db.write() as s:
            out["city_kiosk"] = create_token(s, "kiosk", hall_id=CITY_HALL)[1]
            out["main_display"] = create_token(s, "display", hall_id=MAIN_HALL)[1]
    finally:
        seed_mod.hash_password = real_hash  # type: ignore[assignment]
        ctx.close()
    return out


# --- the link: a TCP proxy in a child process ---------------------------------------------------
def _proxy_main(listen_port: int, target_port: int, conn: Any) -> None:
    async def main() -> None:
        stats = Counter()
        pats = {"pushes": b"POST /api/v1/sync/push ", "pulls": b"GET /api/v1/sync/pull"}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, key: str, scan: bool) -> None:
            tails = dict.fromkeys(pats, b"")
            try:
                while data := await r.read(262144):
                    stats[key] += len(data)
                    if scan:
                        for name, pat in pats.items():
                            buf = tails[name] + data
                            found = buf.count(pat)
                            if found and name == "pushes" and "first_push_at" not in stats:
                                stats["first_push_at"] = time.monotonic()  # system-wide clock
                            stats[name] += found
                            tails[name] = buf[-(len(pat) - 1) :]
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                ur, uw = await asyncio.open_connection(HOST, target_port)
            except OSError:
                w.close()
                return
            stats["connections"] += 1
            with suppress(asyncio.CancelledError):
                await asyncio.gather(pipe(r, uw, "bytes_up", True), pipe(ur, w, "bytes_down", False))

        server = await asyncio.start_server(handle, HOST, listen_port, reuse_address=True)
        conn.send("ready")
        while await asyncio.get_running_loop().run_in_executor(None, conn.recv) == "stats":
            conn.send(dict(stats))
        server.close()

    asyncio.run(main())


class Link:
    """The station's link to the city: up (a proxy listens on the port) or down (nothing does)."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target = target_port
        self.proc: mp.Process | None = None
        self.conn: Any = None

    def up(self) -> float:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_proxy_main, args=(self.port, self.target, child), daemon=True)
        self.proc.start()
        if not self.conn.poll(60) or self.conn.recv() != "ready":
            raise RuntimeError("proxy did not start")
        return time.monotonic()

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        return self.conn.recv() if self.conn.poll(30) else {}

    def down(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(10)
            self.proc = None


# --- the real station server --------------------------------------------------------------------
def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_station(start: Any, work: Path, link: Link, bundle: dict[str, Any]) -> HallServer:
    data_dir = work / "station"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "bundle.json").write_text(
        json.dumps({k: bundle[k] for k in ("station_id", "station_no", "halls", "credential")})
    )
    url = f"sqlite:///{data_dir / 'station.sqlite3'}"
    prepare_database(url, data_dir)
    env = {
        "HALL_DATA_KEY": KEY,
        "HALL_PARENT_URL": f"http://{HOST}:{link.port}",
        "HALL_STATION_ID": bundle["station_id"],
        "HALL_STATION_CREDENTIAL_FILE": str(data_dir / "bundle.json"),
        "HALL_AUDIT_VERIFY_SECONDS": "0",
    }
    return start(url, data_dir, prepare=False, env=env)


def station_link(station: HallServer, token: str) -> dict[str, Any]:
    import requests

    r = requests.get(station.api + "/sync/link", headers=_h(token), timeout=10)
    return r.json() if r.status_code == 200 else {"status": r.status_code}


def wait_for(pred: Any, timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what} (last: {last!r})")


async def make_day(station: HallServer, bundle: dict[str, Any], tickets: int) -> dict[str, Any]:
    """A day at the station over HTTP: tickets issued, each called, started, finished and rated."""
    hall = bundle["hall"]
    errors: Counter[str] = Counter()
    kiosks = [await RawHttp(HOST, station.port, bundle["kiosk"]).connect() for _ in range(2)]
    issued: list[int] = []
    t0 = time.perf_counter()

    async def kiosk(k: int) -> None:
        for n in range(k, tickets, len(kiosks)):
            status, body = await kiosks[k].request(
                "POST", f"{API}/halls/{hall}/tickets", {"service_code": SERVICES[n % 2]}
            )
            if status == 201:
                issued.append(int(json.loads(body)["id"]))
            else:
                errors[f"issue {status}: {body[:100]!r}"] += 1

    await asyncio.gather(*(kiosk(k) for k in range(len(kiosks))))
    for c in kiosks:
        await c.close()
    clerks = {}
    for n, w in enumerate(bundle["windows"], 1):
        r = RawHttp(HOST, station.port)
        status, body = await r.request(
            "POST", f"{API}/auth/login", {"username": f"{hall}-c{n}", "password": PASSWORD, "window_id": w}
        )
        if status != 200:
            raise RuntimeError(f"login at the station: {status} {body[:200]!r}")
        await r.close()
        clerks[w] = json.loads(body)["token"]
    served = Counter()

    async def window(w: int) -> None:
        conn = await RawHttp(HOST, station.port, clerks[w]).connect()
        rater = await RawHttp(HOST, station.port, bundle["rating"][w]).connect()
        while True:
            status, body = await conn.request("POST", f"{API}/windows/{w}/call-next")
            if status != 200:
                if b"queue.empty" not in body:
                    errors[f"call {status}: {body[:100]!r}"] += 1
                break
            tid = int(json.loads(body)["id"])
            for step in ("start", "finish"):
                status, body = await conn.request("POST", f"{API}/windows/{w}/{step}")
                if status != 200:
                    errors[f"{step} {status}: {body[:100]!r}"] += 1
            bad = tid % 50 == 0
            rating = {"ticket_id": tid, "level": 1 if bad else 5, "reasons": ["服务态度"] if bad else []}
            status, body = await rater.request("POST", f"{API}/ratings", rating)
            if status != 201:
                errors[f"rate {status}: {body[:100]!r}"] += 1
            served[w] += 1
        await conn.close()
        await rater.close()

    await asyncio.gather(*(window(w) for w in bundle["windows"]))
    return {
        "tickets": len(issued),
        "served": sum(served.values()),
        "seconds": round(time.perf_counter() - t0, 1),
        "errors": dict(errors),
    }


def station_facts(db_path: Path, hall: str) -> dict[str, int]:
    """The station's last seq of the hall's two streams and its row counts (read-only)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        seqs = dict(
            con.execute(
                "SELECT hall_id, last_seq FROM hall_seq WHERE hall_id IN (?, ?)", (hall, "audit:" + hall)
            ).fetchall()
        )
        no = con.execute("SELECT station_no FROM sync_state WHERE id = 1").fetchone()[0]
        lo = int(no) * 10**10
        tickets = con.execute(
            "SELECT count(*) FROM tickets WHERE hall_id = ? AND id >= ?", (hall, lo)
        ).fetchone()[0]
        ratings = con.execute(
            "SELECT count(*) FROM ratings WHERE hall_id = ? AND id >= ?", (hall, lo)
        ).fetchone()[0]
        events = con.execute(
            "SELECT count(*) FROM events WHERE hall_id IN (?, ?)", (hall, "audit:" + hall)
        ).fetchone()[0]
        changes = con.execute("SELECT count(*) FROM sync_changes").fetchone()[0]
    finally:
        con.close()
    return {
        "hall_seq": int(seqs.get(hall, 0)),
        "audit_seq": int(seqs.get("audit:" + hall, 0)),
        "tickets": int(tickets),
        "ratings": int(ratings),
        "events": int(events),
        "sync_changes": int(changes),
        "lo": lo,
    }


CITY_SEQS_SQL = """
SELECT sh.hall_id, sh.applied_seq,
       (SELECT last_seq FROM hall_seq WHERE hall_id = 'audit:' || sh.hall_id) AS audit_seq
FROM station_halls sh WHERE sh.hall_id = ANY(%s)
"""

CITY_FACTS_SQL = """
SELECT sh.hall_id,
       sh.applied_seq,
       (SELECT last_seq FROM hall_seq WHERE hall_id = 'audit:' || sh.hall_id) AS audit_seq,
       (SELECT count(*) FROM tickets t WHERE t.hall_id = sh.hall_id AND t.id >= s.station_no * 10000000000) AS tickets,
       (SELECT count(*) FROM ratings r WHERE r.hall_id = sh.hall_id AND r.id >= s.station_no * 10000000000) AS ratings
FROM station_halls sh JOIN stations s ON s.id = sh.station_id
WHERE sh.hall_id = ANY(%s)
"""


def city_facts(pg_conn: Any, halls: list[str]) -> dict[str, dict[str, int]]:
    rows = pg_conn.execute(CITY_FACTS_SQL, (halls,)).fetchall()
    return {
        r[0]: {
            "hall_seq": int(r[1] or 0),
            "audit_seq": int(r[2] or 0),
            "tickets": int(r[3]),
            "ratings": int(r[4]),
        }
        for r in rows
    }


def city_done(pg_conn: Any, targets: dict[str, dict[str, int]], done: set[str] | None = None) -> set[str]:
    """The halls whose station is caught up: seqs first (primary-key reads), counts only then
    (the poll itself must not load the city's database). `done`: halls found caught up by an
    earlier poll, not read again (a caught-up hall stays so; re-counting every done hall's
    tickets each half second cost the city's PostgreSQL 40 of its 90 CPU seconds in a
    60-station run); the answer includes them."""
    done = done or set()
    rest = [h for h in targets if h not in done]
    if not rest:
        return set(done)
    seqs = pg_conn.execute(CITY_SEQS_SQL, (rest,)).fetchall()
    even = [
        h
        for h, applied, audit in seqs
        if int(applied or 0) == targets[h]["hall_seq"] and int(audit or 0) == targets[h]["audit_seq"]
    ]
    if not even:
        return set(done)
    facts = city_facts(pg_conn, even)
    return done | {h for h in even if caught_up(facts[h], targets[h])}


def caught_up(city: dict[str, int], station: dict[str, int]) -> bool:
    return all(city.get(k) == station[k] for k in ("hall_seq", "audit_seq", "tickets", "ratings"))


# --- CPU of processes ---------------------------------------------------------------------------
def pg_cpu(pg: PgCluster) -> float:
    pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    total = proc_cpu(pid, reaped=True)
    total += sum(proc_cpu(child) for child in children_of(pid))
    return total


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- scenario 1: catch-up -----------------------------------------------------------------------
def run_catchup(
    city: HallServer,
    pg: PgCluster,
    pg_conn: Any,
    station: HallServer,
    link: Link,
    bundle: dict[str, Any],
    size: dict[str, Any],
    db_path: Path,
) -> dict[str, Any]:
    hall = bundle["hall"]
    link.down()
    wait_for(lambda: station_link(station, bundle["kiosk"]).get("state") == "down", 30, "link down")
    if size.get("day_over_http"):
        day = asyncio.run(make_day(station, bundle, size["catchup_tickets"]))
    else:
        # The same records by the same use cases, minutes faster than over HTTP (the benchmark
        # must fit in a few minutes); the running station's own loop sends them.
        with mp.get_context("spawn").Pool(1) as pool:
            day = pool.apply(
                _day_main, ((str(db_path.parent), city.base_url, bundle, size["catchup_tickets"]),)
            )
        day["made"] = "in-process use cases (issue, call-next, start, finish, rating) in a child process"
    before = station_facts(db_path, hall)
    la = loadavg()
    city_cpu0, pg_cpu0 = proc_cpu(city.proc.pid), pg_cpu(pg)
    station_cpu0 = proc_cpu(station.proc.pid)
    spy = _start_profile(city, pg_conn, size)
    t_up = link.up()
    # The next visitor: a local commit wakes the station's loop (else: its back-off, <= 30 s).
    asyncio.run(_issue_one(station, bundle))
    target = station_facts(db_path, hall)
    while not city_done(pg_conn, {hall: target}):
        if time.monotonic() - t_up > 300:
            raise RuntimeError(
                f"catch-up not done in 300 s: city {city_facts(pg_conn, [hall])}, station {target}"
            )
        time.sleep(0.02)
    t_done = time.monotonic()
    done = t_done - t_up
    c = city_facts(pg_conn, [hall])[hall]
    city_cpu = proc_cpu(city.proc.pid) - city_cpu0
    pgc = pg_cpu(pg) - pg_cpu0
    station_cpu = proc_cpu(station.proc.pid) - station_cpu0
    stats = link.stats()
    after = station_facts(db_path, hall)
    profile = _stop_profile(spy, pg_conn, size)
    return {
        **({"profile": profile} if profile else {}),
        "day": day,
        "station_before_restore": before,
        "waiting_at_station_before_restore": {
            "events": before["events"],
            "sync_changes": before["sync_changes"],
        },
        "seconds_from_link_restore_to_city_applied_all": round(done, 2),
        # The station's loop was backing off while the link was down (its retry, <= 30 s,
        # comes first): from the first push through the link to the city having it all.
        "seconds_from_first_push_to_city_applied_all": (
            round(t_done - stats["first_push_at"], 2) if stats.get("first_push_at") else None
        ),
        "city": c,
        "station": target,
        "bytes_up": stats.get("bytes_up"),
        "bytes_down": stats.get("bytes_down"),
        "pushes": stats.get("pushes"),
        "pulls": stats.get("pulls"),
        "http_connections": stats.get("connections"),
        "sync_changes_left_at_station": after["sync_changes"],
        "cpu_s": {
            "city_server": round(city_cpu, 2),
            "postgres": round(pgc, 2),
            "station_server": round(station_cpu, 2),
        },
        "loadavg_at_start": la,
        "meets_target": done <= TARGETS["catchup_s"],
        "meets_target_from_first_push": bool(
            stats.get("first_push_at") and t_done - stats["first_push_at"] <= TARGETS["catchup_s"]
        ),
    }


def _start_profile(city: HallServer, pg_conn: Any, size: dict[str, Any], name: str = "catchup") -> Any:
    """--profile DIR: py-spy records the city process (its threads) through the catch-up, and
    PostgreSQL's statement counters start from zero."""
    out = size.get("profile")
    if not out:
        return None
    pg_conn.execute("SELECT pg_stat_statements_reset()")
    spy_bin = Path(sys.executable).parent / "py-spy"
    import subprocess

    return subprocess.Popen(
        [
            str(spy_bin),
            "record",
            "--pid",
            str(city.proc.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--threads",
            "--output",
            str(Path(out) / f"city-{name}.txt"),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_profile(
    spy: Any, pg_conn: Any, size: dict[str, Any], name: str = "catchup"
) -> dict[str, Any] | None:
    """The statements PostgreSQL spent its time on (pg_stat_statements), and py-spy's file."""
    if spy is None:
        return None
    import signal

    spy.send_signal(signal.SIGINT)
    with suppress(Exception):
        spy.wait(timeout=30)
    rows = pg_conn.execute(
        "SELECT calls, round(total_exec_time::numeric, 1), rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) "
        "FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
    ).fetchall()
    return {
        "py_spy_raw": str(Path(size["profile"]) / f"city-{name}.txt"),
        "pg_top_statements": [
            {"calls": int(c), "ms": float(ms), "rows": int(n), "query": q} for c, ms, n, q in rows
        ],
    }


async def _issue_one(station: HallServer, bundle: dict[str, Any]) -> int:
    c = await RawHttp(HOST, station.port, bundle["kiosk"]).connect()
    try:
        status, body = await c.request(
            "POST", f"{API}/halls/{bundle['hall']}/tickets", {"service_code": SERVICES[0]}
        )
        if status != 201:
            raise RuntimeError(f"issue at the station: {status} {body[:200]!r}")
        return int(json.loads(body)["id"])
    finally:
        await c.close()


# --- scenario 3: steady state ---------------------------------------------------------------------
async def run_steady(
    city: HallServer, station: HallServer, bundle: dict[str, Any], display: str, n: int
) -> dict[str, Any]:
    import websockets

    hall = bundle["hall"]
    seen: dict[int, float] = {}
    sent: dict[int, float] = {}
    # No `since`: live events only (no replay of the day the city already has).
    url = f"{city.ws_api}/halls/{hall}/events/ws"
    async with websockets.connect(url, additional_headers=_h(display), max_size=2**24) as ws:

        async def reader() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                items = msg if isinstance(msg, list) else [msg]
                for ev in items:
                    if isinstance(ev, dict) and ev.get("type") == "ticket.issued":
                        tid = (ev.get("payload") or {}).get("ticket", {}).get("id")
                        if tid is not None and int(tid) not in seen:
                            seen[int(tid)] = time.perf_counter()

        task = asyncio.create_task(reader())
        await asyncio.sleep(1.0)  # the replay of what the city already has
        conn = await RawHttp(HOST, station.port, bundle["kiosk"]).connect()
        t0 = time.perf_counter() + 0.1
        for i in range(n):
            due = t0 + i * 0.3
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            at = time.perf_counter()
            status, body = await conn.request(
                "POST", f"{API}/halls/{hall}/tickets", {"service_code": SERVICES[0]}
            )
            if status == 201:
                sent[int(json.loads(body)["id"])] = at
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline and not all(t in seen for t in sent):
            await asyncio.sleep(0.05)
        await conn.close()
        task.cancel()
    delays = [seen[t] - at for t, at in sent.items() if t in seen]
    summary = latency_summary(delays)
    return {
        "records": len(sent),
        "seen_at_city": len(delays),
        "delay_issue_to_city_websocket": summary,
        "meets_target": len(delays) == len(sent)
        and (summary["p99_ms"] or 1e9) <= TARGETS["steady_p99_s"] * 1000,
    }


# --- scenario 2: the fleet ------------------------------------------------------------------------
def _station_settings(data_dir: Path, city_base: str, b: dict[str, Any]) -> Any:
    from hall_server.config import Settings

    return Settings(
        data_dir=data_dir,
        db_url=f"sqlite:///{data_dir / 'station.sqlite3'}",
        data_key=KEY,
        pool_size=2,
        parent_url=city_base,
        station_id=b["station_id"],
        station_credential=b["credential"],
        worker_seconds=0,
        audit_verify_seconds=0,
    )


def prep_station(args: tuple[str, str, str, dict[str, Any], int]) -> dict[str, Any]:
    """One emulated station's database: set up, first real pull, a day made by the use cases."""
    template, root, city_base, b, tickets = args
    from hall_server.context import ServerContext
    from hall_server.sync import capture
    from hall_server.sync.station import StationSync

    gc.freeze()
    data_dir = Path(root) / b["station_id"]
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, data_dir / "station.sqlite3")
    settings = _station_settings(data_dir, city_base, b)
    ctx = ServerContext.create(settings)
    t0 = time.perf_counter()
    try:
        sync = StationSync(ctx)
        capture.setup_station(ctx.db, settings, sync.bundle)
        while sync.pull():
            pass
        # The link is down from here: no sync runs while the day is made.
        make_day_in_process(ctx, b, tickets)
    finally:
        ctx.close()
    facts = station_facts(data_dir / "station.sqlite3", b["hall"])
    facts["station_id"] = b["station_id"]
    facts["hall"] = b["hall"]
    facts["prep_s"] = round(time.perf_counter() - t0, 2)
    return facts


def make_day_in_process(ctx: Any, b: dict[str, Any], tickets: int) -> dict[str, Any]:
    """A station's day by the real use cases (what the API runs, without HTTP): each ticket
    issued, called, started, finished and rated, at the station's windows in turn."""
    from hall_server.api.deps import lookup
    from hall_server.services import ratings, sessions, windows
    from hall_server.services import tickets as tickets_svc

    hall = b["hall"]
    t0 = time.perf_counter()
    kiosk = lookup(ctx, b["kiosk"])
    desks = []
    for n, w in enumerate(b["windows"], 1):
        clerk = lookup(ctx, sessions.login(ctx, f"{hall}-c{n}", PASSWORD, w, source="bench")["token"])
        desks.append((w, clerk, lookup(ctx, b["rating"][w])))
    for i in range(tickets):
        w, clerk, rater = desks[i % len(desks)]
        tickets_svc.issue_ticket(
            ctx, kiosk, hall, tickets_svc.IssueInput(service_code=SERVICES[i % 2], channel="kiosk")
        )
        called = windows.call_next(ctx, clerk, w)
        windows.start(ctx, clerk, w)
        windows.finish(ctx, clerk, w)
        bad = i % 50 == 49
        ratings.record_rating(
            ctx,
            rater,
            ratings.RatingInputWire(
                ticket_id=int(called["id"]),
                level=1 if bad else 5,
                reasons=["服务态度"] if bad else [],
                text="",
                channel="device",
                prompted=False,
            ),
        )
    return {"tickets": tickets, "served": tickets, "seconds": round(time.perf_counter() - t0, 1)}


def _day_main(args: tuple[str, str, dict[str, Any], int]) -> dict[str, Any]:
    """The catch-up day, in a child process writing the running station's SQLite database."""
    from hall_server.context import ServerContext

    data_dir, city_base, b, tickets = args
    ctx = ServerContext.create(_station_settings(Path(data_dir), city_base, b))
    try:
        return make_day_in_process(ctx, b, tickets)
    finally:
        ctx.close()


def _driver_main(root: str, city_base: str, bundles: list[dict[str, Any]], conn: Any) -> None:
    """A few emulated stations' real sync loops (StationSync.run), one thread each."""
    from hall_server.context import ServerContext
    from hall_server.sync.station import StationSync

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    syncs = []
    for b in bundles:
        ctx = ServerContext.create(_station_settings(Path(root) / b["station_id"], city_base, b))
        syncs.append(StationSync(ctx))
    gc.freeze()
    conn.send("ready")
    conn.recv()  # go
    cpu0 = time.process_time()
    stop = threading.Event()
    threads = [threading.Thread(target=s.run, args=(stop,), daemon=True) for s in syncs]
    for t in threads:
        t.start()
    conn.recv()  # stop
    cpu = time.process_time() - cpu0
    stop.set()
    for s in syncs:
        s.wake.set()
    for t in threads:
        t.join(10)
    states: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in syncs:
        with s.ctx.db.read() as sess:
            from hall_server.sync import capture

            st = capture.state(sess)
        states[str(st.link_state)] += 1
        if st.error_code:
            errors[str(st.error_code)] += 1
        s.ctx.close()
    conn.send({"cpu_s": round(cpu, 2), "link_states": dict(states), "last_errors": dict(errors)})


async def city_load(
    city: HallServer,
    kiosk: str,
    clerks: dict[int, str],
    rate: float,
    stop: asyncio.Event,
    window: dict[str, float],
) -> dict[str, Any]:
    """The city's own kiosks and windows, open loop: `rate` issues and `rate` calls a second."""
    issue_lat: list[tuple[float, float]] = []
    call_lat: list[tuple[float, float]] = []
    errors: Counter[str] = Counter()
    kiosks = [await RawHttp(HOST, city.port, kiosk).connect() for _ in range(4)]
    wins = {w: WindowCaller(w, await RawHttp(HOST, city.port, t).connect()) for w, t in clerks.items()}
    wids = list(wins)
    busy: set[int] = set()
    t0 = time.perf_counter() + 0.05

    async def issue(n: int, due: float) -> None:
        # Open loop: a kiosk connection per request in flight (a new one if all are busy).
        try:
            conn = kiosks.pop() if kiosks else await RawHttp(HOST, city.port, kiosk).connect()
        except OSError as exc:
            errors[f"issue connect: {exc}"] += 1
            return
        try:
            status, _body = await asyncio.wait_for(
                issue_ticket(conn, CITY_HALL, SERVICES[n % 2]), REQUEST_TIMEOUT_S
            )
        except TimeoutError:
            errors["issue timeout"] += 1
            issue_lat.append((due, time.perf_counter() - due))  # counted, at least this late
            await _drop(conn)
            return
        except (HttpError, OSError) as exc:
            errors[f"issue connection: {exc}"] += 1
            return
        kiosks.append(conn)
        issue_lat.append((due, time.perf_counter() - due))
        if status != 201:
            errors[f"issue {status}"] += 1

    async def call(n: int, due: float) -> None:
        w = wids[n % len(wids)]
        if w in busy:  # that window is still waiting on its last call: take the next one
            w = next((x for x in wids if x not in busy), None)
            if w is None:
                errors["all windows busy"] += 1
                return
        busy.add(w)
        try:
            status, body = await asyncio.wait_for(wins[w].request(), REQUEST_TIMEOUT_S)
        except TimeoutError:
            errors["call timeout"] += 1
            call_lat.append((due, time.perf_counter() - due))
            await _drop(wins[w].conn)
            # The held ticket is unknown: the next call starts afresh.
            wins[w] = WindowCaller(w, RawHttp(HOST, city.port, clerks[w]))
            busy.discard(w)
            return
        except (HttpError, OSError) as exc:
            errors[f"call connection: {exc}"] += 1
            busy.discard(w)
            return
        busy.discard(w)
        call_lat.append((due, time.perf_counter() - due))
        kind, got = wins[w].answered(status, body)
        if got == "window.busy (recovered)":
            errors["call 409 window.busy (recovered)"] += 1
        elif kind == "error":
            errors[f"call {status}: {body[:80]!r}"] += 1

    tasks: list[asyncio.Task[None]] = []
    n = 0
    while not stop.is_set():
        due = t0 + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(issue(n, due)))
        # Calls half a period later, so the queue has tickets.
        tasks.append(asyncio.create_task(_later(due + 0.5 / rate, call, n)))
        n += 1
    await asyncio.gather(*tasks)
    for c in [*kiosks, *(w.conn for w in wins.values())]:
        await c.close()
    # While the stations catch up (between the marks the caller set), and alone before.
    lo, hi = window.get("start", 0.0), window.get("end", float("inf"))

    def part(samples: list[tuple[float, float]], during: bool) -> dict[str, Any]:
        return latency_summary(
            [lat for due, lat in samples if (lo <= due < hi) == during and (during or due < lo)]
        )

    return {
        "aimed_per_s": {"issue": rate, "call": rate},
        "seconds": round(time.perf_counter() - t0, 1),
        "issue_latency_from_due_time": part(issue_lat, True),
        "call_latency_from_due_time": part(call_lat, True),
        "alone_before": {"issue": part(issue_lat, False), "call": part(call_lat, False)},
        "errors": dict(errors),
    }


async def _drop(conn: RawHttp) -> None:
    """Close a connection whose request timed out (its answer may still come)."""
    with suppress(Exception):
        await asyncio.wait_for(conn.close(), 1.0)


async def _later(due: float, fn: Any, n: int) -> None:
    await asyncio.sleep(max(0.0, due - time.perf_counter()))
    await fn(n, due)


async def _pulls(city: HallServer, bundles: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Idle pulls (config_version current) round-robin over the stations from 4 connections."""
    versions: dict[str, str] = {}
    conns = [await RawHttp(HOST, city.port).connect() for _ in range(4)]
    for b in bundles:  # each station's current version (its first pull, not measured)
        status, raw = await conns[0].request(
            "GET", API + "/sync/pull?down_cursor=0", headers=_h(b["credential"])
        )
        if status != 200:
            raise RuntimeError(f"pull {status}: {raw[:200]!r}")
        versions[b["station_id"]] = json.loads(raw)["config_version"]
    samples: list[float] = []
    sizes: list[int] = []
    stop_at = time.monotonic() + seconds

    async def client(k: int, conn: RawHttp) -> None:
        n = k
        while time.monotonic() < stop_at:
            b = bundles[n % len(bundles)]
            n += len(conns)
            path = f"{API}/sync/pull?down_cursor=0&config_version={versions[b['station_id']]}"
            t = time.perf_counter()
            status, raw = await conn.request("GET", path, headers=_h(b["credential"]))
            samples.append(time.perf_counter() - t)
            if status != 200 or json.loads(raw)["config"] is not None:
                raise RuntimeError(f"idle pull answered {status} with a configuration")
            sizes.append(len(raw))

    cpu0 = proc_cpu(city.proc.pid)
    t0 = time.monotonic()
    await asyncio.gather(*(client(k, c) for k, c in enumerate(conns)))
    wall = time.monotonic() - t0
    cpu = proc_cpu(city.proc.pid) - cpu0
    for c in conns:
        await c.close()
    return {
        "stations": len(bundles),
        "connections": len(conns),
        "pulls": len(samples),
        "pulls_per_s": round(len(samples) / wall, 1),
        "city_cpu_ms_per_pull": round(1000 * cpu / max(1, len(samples)), 2),
        "answer_bytes": round(sum(sizes) / max(1, len(sizes))),
        "latency": latency_summary(samples),
        "loadavg": loadavg(),
    }


def run_fleet(
    city: HallServer,
    pg: PgCluster,
    pg_conn: Any,
    work: Path,
    built: dict[str, Any],
    size: dict[str, Any],
    clerks: dict[int, str],
) -> dict[str, Any]:
    n = size["fleet_stations"]
    per = size["fleet_tickets"]
    bundles = [built["stations"][f"st-{k:03d}"] for k in range(1, n + 1)]
    template = work / "template.sqlite3"
    prepare_database(f"sqlite:///{template}", work / "template-data")
    root = work / "fleet"
    t0 = time.perf_counter()
    spawn = mp.get_context("spawn")
    with spawn.Pool(2) as pool:
        facts = pool.map(
            prep_station, [(str(template), str(root), city.base_url, b, per) for b in bundles], chunksize=1
        )
    prep_s = time.perf_counter() - t0
    by_hall = {f["hall"]: f for f in facts}
    halls = list(by_hall)
    # The drivers: each opens its stations' databases, then all start together.
    drivers = []
    for i in range(size["drivers"]):
        mine = bundles[i :: size["drivers"]]
        parent, child = spawn.Pipe()
        p = spawn.Process(target=_driver_main, args=(str(root), city.base_url, mine, child), daemon=True)
        p.start()
        drivers.append((p, parent))
    for _p, c in drivers:
        if not c.poll(300) or c.recv() != "ready":
            raise RuntimeError("a driver did not get ready")
    la = loadavg()
    city_cpu0, pg_cpu0 = proc_cpu(city.proc.pid), pg_cpu(pg)
    spy = _start_profile(city, pg_conn, size, "fleet")

    # CPU seconds of the city and PostgreSQL at marks: the city's own load alone, the stations'
    # go, all caught up (or the watch over): the catch-up's CPU net of the city's own load.
    marks: dict[str, tuple[float, float, float]] = {}
    streams = [x for h in halls for x in (h, f"audit:{h}")]
    applied_at: dict[str, int] = {}

    def mark(name: str) -> None:
        marks[name] = (time.monotonic(), proc_cpu(city.proc.pid), pg_cpu(pg))
        # The stations' events the city holds (its hall_seq is the applied seq of each stream).
        row = pg_conn.execute(
            "SELECT coalesce(sum(last_seq), 0) FROM hall_seq WHERE hall_id = ANY(%s)", (streams,)
        ).fetchone()
        applied_at[name] = int(row[0]) if row else 0

    async def measured() -> tuple[dict[str, Any], float | None, list[tuple[float, int]]]:
        stop = asyncio.Event()
        window: dict[str, float] = {}
        load = asyncio.create_task(
            city_load(city, built["city_kiosk"], clerks, size["city_rate"], stop, window)
        )
        await asyncio.sleep(1.0)  # the load's connections are open and it runs at its rate
        mark("alone")
        await asyncio.sleep(4.0)  # the city's load runs alone first (its figures for comparison)
        mark("go")
        window["start"] = time.perf_counter()
        start = time.monotonic()
        for _p, c in drivers:
            c.send("go")
        progress: list[tuple[float, int]] = []
        done_at = None
        done: set[str] = set()
        while time.monotonic() - start < FLEET_MAX_S:
            await asyncio.sleep(0.5)
            done = await asyncio.to_thread(city_done, pg_conn, by_hall, done)
            ok = len(done)
            progress.append((round(time.monotonic() - start, 1), ok))
            if ok == len(halls):
                done_at = time.monotonic() - start
                break
        mark("end")
        window["end"] = time.perf_counter()
        await asyncio.sleep(2.0)  # the city's load a little after
        stop.set()
        return await load, done_at, progress

    load, done_at, progress = asyncio.run(measured())
    city_cpu = proc_cpu(city.proc.pid) - city_cpu0
    pgc = pg_cpu(pg) - pg_cpu0
    profile = _stop_profile(spy, pg_conn, size, "fleet")
    reports = []
    for p, c in drivers:
        c.send("stop")
        reports.append(c.recv() if c.poll(60) else {"lost": True})
        p.join(10)
    total_tickets = sum(f["tickets"] for f in facts)
    total_events = sum(f["events"] for f in facts)
    out = {
        **({"profile": profile} if profile else {}),
        "stations": n,
        "per_station_tickets": per,
        "prep_seconds": round(prep_s, 1),
        "per_station": {
            "events": round(total_events / n, 1),
            "tickets": round(total_tickets / n, 1),
            "sync_changes": round(sum(f["sync_changes"] for f in facts) / n, 1),
        },
        "seconds_until_all_caught_up": round(done_at, 2) if done_at is not None else None,
        "stations_caught_up_over_time": progress[:: max(1, len(progress) // 40)],
        "city_load_meanwhile": load,
        "cpu_s": {
            "city_server": round(city_cpu, 2),
            "postgres": round(pgc, 2),
            "station_drivers": round(sum(r.get("cpu_s", 0) for r in reports), 2),
        },
        "drivers": reports,
        "loadavg_at_start": la,
    }
    if done_at:
        out["applied_per_s"] = {
            "tickets": round(total_tickets / done_at, 1),
            "events": round(total_events / done_at, 1),
        }
    out["cpu_per_applied_event"] = cpu_per_event(marks, applied_at["end"] - applied_at["go"])
    p99s = [load["issue_latency_from_due_time"]["p99_ms"], load["call_latency_from_due_time"]["p99_ms"]]
    out["meets_target"] = {
        "all_caught_up_s": done_at is not None and done_at <= TARGETS["fleet_s"],
        "city_p99_ms": all(p is not None and p <= TARGETS["city_p99_ms"] for p in p99s)
        and not load["errors"],
    }
    return out


def cpu_per_event(marks: dict[str, tuple[float, float, float]], events: int | None) -> dict[str, Any]:
    """The city's and PostgreSQL's CPU per event applied in the catch-up (go to all caught up),
    as measured and net of the city's own kiosks and windows (their CPU rate while alone);
    `events`: the stations' events the city applied in that time (all caught up or not)."""
    t0, city0, pg0 = marks["alone"]
    t1, city1, pg1 = marks["go"]
    t2, city2, pg2 = marks["end"]
    own = ((city1 - city0) / (t1 - t0), (pg1 - pg0) / (t1 - t0))  # CPU s per s of the own load
    catchup = (city2 - city1, pg2 - pg1)
    out: dict[str, Any] = {
        "catchup_s": round(t2 - t1, 2),
        "own_load_cpu_per_s": {"city_server": round(own[0], 3), "postgres": round(own[1], 3)},
        "catchup_cpu_s": {"city_server": round(catchup[0], 2), "postgres": round(catchup[1], 2)},
    }
    if not events:
        out["note"] = "no event applied"
        return out
    net = (catchup[0] - own[0] * (t2 - t1), catchup[1] - own[1] * (t2 - t1))
    out["events"] = events
    out["city_server_ms"] = round(1000 * catchup[0] / events, 3)
    out["postgres_ms"] = round(1000 * catchup[1] / events, 3)
    out["city_server_net_ms"] = round(1000 * net[0] / events, 3)
    out["postgres_net_ms"] = round(1000 * net[1] / events, 3)
    return out


# --- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (a few minutes)")
    parser.add_argument(
        "--only", default="catchup,steady,fleet", help="comma list of catchup, steady, fleet, pulls"
    )
    parser.add_argument("--stations", type=int, help="fleet: stations (default 200; quick 10)")
    parser.add_argument(
        "--fleet-tickets", "--tickets-per-station", type=int, help="fleet: tickets per station's day"
    )
    parser.add_argument("--catchup-tickets", type=int, help="catch-up: tickets of the station's day")
    parser.add_argument(
        "--day-over-http", action="store_true", help="catch-up: make the day over HTTP (slow: minutes)"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="catch-up: py-spy of the city and pg_stat_statements into DIR"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    gc.disable()
    size = dict(SIZES["quick" if args.quick else "full"])
    if args.stations:
        size["fleet_stations"] = args.stations
    if args.fleet_tickets:
        size["fleet_tickets"] = args.fleet_tickets
    if args.catchup_tickets:
        size["catchup_tickets"] = args.catchup_tickets
    size["day_over_http"] = args.day_over_http
    size["profile"] = args.profile
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    started = time.monotonic()
    doc: dict[str, Any] = {
        "benchmark": "station_sync",
        "size": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": loadavg(),
            "note": "2 cores shared with other developers' work: figures are pessimistic",
        },
        "targets": TARGETS,
    }
    import psycopg

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hall-sync-bench-")))
        pg_settings = (
            {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
            if args.profile
            else {}
        )
        pg = stack.enter_context(PgCluster(extra_settings=pg_settings))
        url = pg.url(pg.create_database("city"))
        t0 = time.perf_counter()
        fleet_n = size["fleet_stations"] if only & {"fleet", "pulls"} else 0
        built = build_city(url, work / "city", fleet_n)
        doc["setup_seconds"] = round(time.perf_counter() - t0, 1)
        start = stack.enter_context(hall_servers())
        city = start(
            url, work / "city", prepare=False, env={"HALL_DATA_KEY": KEY, "HALL_AUDIT_VERIFY_SECONDS": "0"}
        )
        pg_conn = stack.enter_context(psycopg.connect(pg.dsn("city"), autocommit=True))
        if args.profile:
            pg_conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        main_bundle = built["stations"][MAIN_STATION]
        if only & {"catchup", "steady"}:
            link = Link(city.port)
            stack.callback(link.down)
            link.up()
            station = start_station(start, work, link, main_bundle)
            db_path = work / "station" / "station.sqlite3"
            wait_for(
                lambda: station_link(station, main_bundle["kiosk"]).get("state") == "ok", 60, "first round"
            )
            if "catchup" in only:
                try:
                    doc["catchup"] = run_catchup(city, pg, pg_conn, station, link, main_bundle, size, db_path)
                except Exception as exc:
                    logger.exception("catch-up failed")
                    doc["catchup"] = {"failed": repr(exc)[:2000]}
                if link.proc is None:
                    link.up()
            if "steady" in only:
                wait_for(
                    lambda: station_link(station, main_bundle["kiosk"]).get("waiting") == 0, 120, "caught up"
                )
                try:
                    doc["steady"] = asyncio.run(
                        run_steady(city, station, main_bundle, built["main_display"], size["steady_records"])
                    )
                except Exception as exc:
                    logger.exception("steady failed")
                    doc["steady"] = {"failed": repr(exc)[:2000]}
            station.stop()
            link.down()
        if "pulls" in only:
            fleet_bundles = [b for sid, b in built["stations"].items() if sid != MAIN_STATION]
            doc["pulls"] = asyncio.run(_pulls(city, fleet_bundles, 10.0))
        if "fleet" in only:
            clerks = {}
            for n, w in enumerate(built["windows"][CITY_HALL], 1):
                clerks[w] = city.login(f"{CITY_HALL}-c{n}", PASSWORD, window_id=w)["token"]
            try:
                doc["fleet"] = run_fleet(city, pg, pg_conn, work, built, size, clerks)
            except Exception as exc:
                logger.exception("fleet failed")
                doc["fleet"] = {"failed": repr(exc)[:2000]}
        city.stop()
        doc["city_log_errors"] = [
            ln[:300] for ln in city.log_path.read_text(errors="replace").splitlines() if " ERROR " in ln
        ][:10]
    doc["machine"]["loadavg_at_end"] = loadavg()
    doc["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
