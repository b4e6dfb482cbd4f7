"""Load benchmark of the real hall server on SQLite and PostgreSQL; prints one JSON document.

Run: .venv/bin/python benchmarks/load.py [--quick] [--backends sqlite,postgres]
     .venv/bin/python benchmarks/load.py --pg-per-request [--quick]   (issue 14's PostgreSQL figures)

Phases per backend, each against one `hall-server serve` process (uvicorn, one worker) on
loopback, seeded with one hall of 50 windows and 50 clerks:
  issue         16 concurrent kiosks issue tickets as fast as they are answered (throughput)
  issue_at_rate the same 16 kiosks issue at the aimed 1,000 tickets/s between them, each request
                sent at its scheduled time (open loop): the latency a kiosk sees at that rate
  call_at_rate  50 windows call 1,000 times a second between them, the same way
  call_next     50 concurrent windows call the queue empty as fast as they are answered; a
                window holds the ticket it called, so each call after the first is 下一位
                (POST /windows/{id}/next: no-show the ticket in hand and call the next, one
                request, one transaction)
  ws_fanout  200 WebSocket subscribers; paced calls; delay from sending call-next until
             each subscriber has the ticket.called event
and integrity counters: duplicate numbers and tickets called twice (both must be 0).
With --pg-per-request only PostgreSQL runs, only the issue and call_next phases, and each gets a
"per_request" section: round trips per request (every statement PostgreSQL ran, BEGIN, COMMIT
and ROLLBACK included, from pg_stat_statements' call counts, reset before the phase), planning
and execution milliseconds, and CPU milliseconds of the server process and of the PostgreSQL
backends (/proc/<pid>/stat) per request.
Throughput is read from the closed-loop phases; with 16 (50) clients always waiting on the
server, their latency is queueing (Little's law: 50 windows at 1,300 calls/s wait 38 ms on
average whatever the server does), so the p99 aim is checked at the aimed rate, in the open-loop
phases, where latency counts from the moment a request was due, not when it was sent.
The client runs on the same two cores as the server; it is a lean asyncio HTTP/1.1 client
and the WebSocket subscribers live in a separate process so they do not slow the callers.
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
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import (
    BENCH_HALL,
    HttpError,
    RawHttp,
    WindowCaller,
    children_of,
    issue_ticket,
    latency_summary,
    proc_cpu,
    start_bench_servers,
)
from tests.fixtures.postgres import PgCluster, sqlite_url
from tests.fixtures.server import HOST, REPO_ROOT, HallServer, hall_servers

logger = logging.getLogger(__name__)

API = "/api/v1"
BENCH_PASSWORD = "bench-pass"
KIOSKS = 16
WINDOWS = 50
SUBSCRIBERS = 200
TARGETS = {
    "issue_per_s": 1000,
    "call_next_per_s": 1000,
    "issue_p99_ms": 20,
    "call_next_p99_ms": 20,
    "ws_fanout_p99_ms": 100,
}
SIZES = {
    # tickets per kiosk, ws-phase calls, pause between ws calls (s), seconds of each open-loop phase
    "quick": {"per_kiosk": 30, "ws_calls": 20, "ws_interval": 0.05, "rate_s": 0.5},
    "full": {"per_kiosk": 250, "ws_calls": 200, "ws_interval": 0.05, "rate_s": 3.0},
}
RATE = 1000  # requests/s of the open-loop phases: the aim
SERVICE_CODES = ("BENCH-001", "BENCH-002", "BENCH-003")
PHASE_TIMEOUT_S = 240.0


# --- CPU accounting: where does the time go -------------------------------------------
class CpuMeter:
    """CPU seconds spent by the client, the server process and (if any) the PostgreSQL cluster."""

    def __init__(self, server: HallServer, pg: PgCluster | None) -> None:
        self.server_pid = server.proc.pid if server.proc else 0
        self.pg_pid = 0
        if pg is not None:
            self.pg_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])

    def _sample(self) -> dict[str, float]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        ruc = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = proc_cpu(self.server_pid) + sum(proc_cpu(p) for p in children_of(self.server_pid))
        pg = 0.0
        if self.pg_pid:
            # Backends come and go: the postmaster's reaped-children time keeps the total growing.
            pg = proc_cpu(self.pg_pid, reaped=True) + sum(proc_cpu(p) for p in children_of(self.pg_pid))
        return {
            "client": ru.ru_utime + ru.ru_stime,
            "server": server,
            "postgres": pg,
            "subscriber_procs": ruc.ru_utime + ruc.ru_stime,
        }

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._s0 = self._sample()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._t0
        s1 = self._sample()
        out = {f"{k}_cpu_s": round(s1[k] - self._s0[k], 2) for k in s1}
        out["wall_s"] = round(wall, 2)
        if not self.pg_pid:
            out.pop("postgres_cpu_s", None)
        return out


# --- PostgreSQL per request: round trips and planning from pg_stat_statements ------------
class PgStatements:
    """pg_stat_statements' totals over one phase (the extension must be preloaded)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def reset(self) -> None:
        self._conn.execute("SELECT pg_stat_statements_reset()")

    def totals(self) -> dict[str, Any]:
        """Calls per statement kind, planning and execution ms; this probe's own queries left out."""
        rows = self._conn.execute(
            "SELECT query, calls, total_plan_time, total_exec_time, plans FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%' AND dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
        out: dict[str, Any] = {
            "statements": 0,
            "transaction_control": 0,
            "plans": 0,
            "plan_ms": 0.0,
            "exec_ms": 0.0,
            "top": [],
        }
        for query, calls, plan_ms, exec_ms, plans in rows:
            head = query.strip().split(None, 1)[0].upper() if query.strip() else ""
            if head in ("BEGIN", "COMMIT", "ROLLBACK", "START"):
                out["transaction_control"] += calls
            else:
                out["statements"] += calls
            out["plans"] += plans
            out["plan_ms"] += plan_ms
            out["exec_ms"] += exec_ms
        rows.sort(key=lambda r: -r[1])
        out["top"] = [
            {"calls": r[1], "plans": r[4], "query": " ".join(r[0].split())[:160]} for r in rows[:12]
        ]
        return out

    def per_request(self, n: int, cpu: dict[str, float]) -> dict[str, Any]:
        """The phase's figures divided by its n requests."""
        t = self.totals()
        n = max(1, n)
        return {
            "requests": n,
            "round_trips": round((t["statements"] + t["transaction_control"]) / n, 2),
            "statements": round(t["statements"] / n, 2),
            "begin_commit_rollback": round(t["transaction_control"] / n, 2),
            "plans": round(t["plans"] / n, 2),
            "pg_plan_ms": round(t["plan_ms"] / n, 3),
            "pg_exec_ms": round(t["exec_ms"] / n, 3),
            "server_cpu_ms": round(1000 * cpu["server_cpu_s"] / n, 2),
            "postgres_cpu_ms": round(1000 * cpu.get("postgres_cpu_s", 0.0) / n, 2),
            "by_statement": t["top"],
        }

    def close(self) -> None:
        self._conn.close()


# --- optional profile of the server process with py-spy -------------------------------
class Profiler:
    """Samples the server with `py-spy record` during one phase and summarises where time goes."""

    def __init__(self, out_dir: Path | None, server: HallServer, label: str) -> None:
        self.out_dir = out_dir
        self.server = server
        self.label = label
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: Path | None = None

    def __enter__(self) -> Profiler:
        if self.out_dir is None or self.server.proc is None:
            return self
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(exe).exists():
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / f"{self.label}.txt"
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.server.proc.pid),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "-o",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # py-spy attaches
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def summary(self, top: int = 25) -> dict[str, Any] | None:
        """Share of samples per function (inclusive and self), from py-spy's collapsed stacks."""
        if self.path is None or not self.path.exists():
            return None
        inclusive: Counter[str] = Counter()
        own: Counter[str] = Counter()
        total = 0
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, count_s = line.rpartition(" ")
            if not count_s.isdigit():
                continue
            n = int(count_s)
            frames = stack.split(";")
            total += n
            for f in set(frames):
                inclusive[f] += n
            own[frames[-1]] += n
        if not total:
            return None

        def pct(c: int) -> float:
            return round(100.0 * c / total, 1)

        return {
            "file": str(self.path),
            "samples": total,
            "inclusive_pct": {f: pct(c) for f, c in inclusive.most_common(top)},
            "self_pct": {f: pct(c) for f, c in own.most_common(top)},
        }


# --- phase 1: issue ---------------------------------------------------------------------
async def _issue_phase(server: HallServer, token: str, per_kiosk: int) -> dict[str, Any]:
    latencies: list[float] = []
    tickets: list[dict[str, Any]] = []
    errors: Counter[str] = Counter()

    async def kiosk(k: int) -> None:
        conn = await RawHttp(HOST, server.port, token).connect()
        try:
            for i in range(per_kiosk):
                code = SERVICE_CODES[(k + i) % len(SERVICE_CODES)]
                t0 = time.perf_counter()
                try:
                    status, body = await issue_ticket(conn, BENCH_HALL, code, "kiosk")
                except HttpError as exc:
                    errors[f"connection: {exc}"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if status == 201:
                    tickets.append(json.loads(body))
                else:
                    errors[f"HTTP {status}: {body[:120].decode(errors='replace')}"] += 1
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(kiosk(k) for k in range(KIOSKS))), PHASE_TIMEOUT_S)
    wall = time.perf_counter() - t0
    return {"wall": wall, "latencies": latencies, "tickets": tickets, "errors": errors}


# --- the issue request, open loop ------------------------------------------------------
async def _open_loop(
    lanes: int, rate: float, seconds: float, send: Callable[[int, int], Awaitable[bool | None]]
) -> tuple[float, list[float]]:
    """Lane i makes request n (n = i, i+lanes, ...) at t0 + n/rate: (wall, latencies from due time).

    `send(lane, n)` answers True (count it), None (not counted, go on) or False (stop the lane).
    """
    latencies: list[float] = []
    total = int(rate * seconds)
    t0 = time.perf_counter() + 0.05

    async def lane(i: int) -> None:
        for n in range(i, total, lanes):
            due = t0 + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            went = await send(i, n)
            if went is False:
                return
            if went:
                latencies.append(time.perf_counter() - due)

    await asyncio.wait_for(asyncio.gather(*(lane(i) for i in range(lanes))), PHASE_TIMEOUT_S)
    return time.perf_counter() - t0, latencies


async def _issue_at_rate(server: HallServer, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """The 16 kiosks issue `rate` tickets a second between them, in open loop."""
    tickets: list[dict[str, Any]] = []
    errors: Counter[str] = Counter()
    conns = [await RawHttp(HOST, server.port, token).connect() for _ in range(KIOSKS)]

    async def issue(k: int, n: int) -> bool | None:
        try:
            status, body = await issue_ticket(
                conns[k], BENCH_HALL, SERVICE_CODES[n % len(SERVICE_CODES)], "kiosk"
            )
        except HttpError as exc:
            errors[f"connection: {exc}"] += 1
            return None
        if status == 201:
            tickets.append(json.loads(body))
        else:
            errors[f"HTTP {status}: {body[:120].decode(errors='replace')}"] += 1
        return True

    try:
        wall, latencies = await _open_loop(KIOSKS, rate, seconds, issue)
    finally:
        for c in conns:
            await c.close()
    return {"wall": wall, "latencies": latencies, "tickets": tickets, "errors": errors}


# --- calling: call-next, then 下一位 (no-show the ticket in hand and call the next) ------------
async def _windows(server: HallServer, clerks: dict[int, str]) -> list[WindowCaller]:
    return [WindowCaller(w, await RawHttp(HOST, server.port, t).connect()) for w, t in clerks.items()]


async def _call_phase(server: HallServer, clerks: dict[int, str]) -> dict[str, Any]:
    """Every window calls as fast as it is answered until the queue is empty."""
    latencies: list[float] = []
    called: list[tuple[int, dict[str, Any]]] = []
    errors: Counter[str] = Counter()
    wins = await _windows(server, clerks)

    async def window(w: WindowCaller) -> None:
        while True:
            t0 = time.perf_counter()
            try:
                kind, got = await w.call()
            except HttpError as exc:
                errors[f"connection: {exc}"] += 1
                return
            if kind != "called":
                if kind == "error":
                    errors[str(got)] += 1
                return  # the answer to the last 下一位 ("nobody waits") is not a call
            latencies.append(time.perf_counter() - t0)
            called.append((w.wid, got))  # type: ignore[arg-type]

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(window(w) for w in wins)), PHASE_TIMEOUT_S)
    finally:
        for w in wins:
            await w.conn.close()
    wall = time.perf_counter() - t0
    return {"wall": wall, "latencies": latencies, "called": called, "errors": errors}


async def _call_at_rate(
    server: HallServer, clerks: dict[int, str], rate: float, seconds: float
) -> dict[str, Any]:
    """The 50 windows call `rate` times a second between them, in open loop."""
    called: list[tuple[int, dict[str, Any]]] = []
    errors: Counter[str] = Counter()
    wins = await _windows(server, clerks)

    async def call(i: int, _n: int) -> bool:
        w = wins[i]
        try:
            kind, got = await w.call()
        except HttpError as exc:
            errors[f"connection: {exc}"] += 1
            return False
        if kind != "called":
            errors["queue ran dry" if kind == "empty" else str(got)] += 1
            return False
        called.append((w.wid, got))  # type: ignore[arg-type]
        return True

    try:
        wall, latencies = await _open_loop(len(wins), rate, seconds, call)
        for w in wins:  # leave the windows free for the next phase
            if w.holding is not None:
                await w.conn.request("POST", f"{API}/windows/{w.wid}/no-show")
                w.holding = None
    finally:
        for w in wins:
            await w.conn.close()
    return {"wall": wall, "latencies": latencies, "called": called, "errors": errors}


# --- phase 3: WebSocket fan-out ---------------------------------------------------------
def _subscriber_main(url: str, count: int, conn: Any, token: str) -> None:
    """Child process: hold `count` WebSocket subscriptions and time each ticket.called event."""
    gc.disable()  # a collection here would be counted as delivery delay (see main)
    asyncio.run(_subscribe(url, count, conn, token))


async def _subscribe(url: str, count: int, conn: Any, token: str) -> None:
    import websockets

    receipts: dict[int, list[float]] = defaultdict(list)
    connected = 0
    failures: Counter[str] = Counter()
    all_connected = asyncio.Event()

    async def one() -> None:
        nonlocal connected
        try:
            async with websockets.connect(
                url,
                open_timeout=60,
                max_queue=None,
                ping_interval=None,
                additional_headers={"Authorization": f"Bearer {token}"},
            ) as ws:
                connected += 1
                if connected == count:
                    all_connected.set()
                async for raw in ws:
                    t = time.monotonic()  # CLOCK_MONOTONIC: comparable with the parent process
                    data = json.loads(raw)
                    for ev in data if isinstance(data, list) else [data]:
                        if isinstance(ev, dict) and ev.get("type") == "ticket.called":
                            receipts[int(ev["payload"]["ticket"]["id"])].append(t)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures[repr(exc)[:160]] += 1
            if connected + sum(failures.values()) >= count:
                all_connected.set()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    with suppress(TimeoutError):
        await asyncio.wait_for(all_connected.wait(), 90)
    conn.send({"ready": connected, "failures": dict(failures)})
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # the parent says stop
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(
        {"receipts": {k: v for k, v in receipts.items()}, "failures": dict(failures), "connected": connected}
    )


async def _paced_calls(
    server: HallServer, clerks: dict[int, str], calls: int, interval: float
) -> tuple[dict[int, float], list[tuple[int, dict[str, Any]]], Counter[str]]:
    sent_at: dict[int, float] = {}
    called: list[tuple[int, dict[str, Any]]] = []
    errors: Counter[str] = Counter()
    conns = {w: await RawHttp(HOST, server.port, t).connect() for w, t in clerks.items()}
    busy: set[int] = set()
    try:
        wids = list(conns)
        for i in range(calls):
            wid = wids[i % len(wids)]
            if wid in busy:
                # Free the window called one round ago (its event went out long before).
                await conns[wid].request("POST", f"{API}/windows/{wid}/no-show")
                busy.discard(wid)
            t0 = time.monotonic()
            status, body = await conns[wid].request("POST", f"{API}/windows/{wid}/call-next")
            if status == 200:
                ticket = json.loads(body)
                sent_at[int(ticket["id"])] = t0
                called.append((wid, ticket))
                busy.add(wid)
            else:
                errors[f"HTTP {status}: {body[:120].decode(errors='replace')}"] += 1
            await asyncio.sleep(interval)
    finally:
        for c in conns.values():
            await c.close()
    return sent_at, called, errors


def _ws_phase(
    server: HallServer, display_token: str, last_seq: int, clerks: dict[int, str], calls: int, interval: float
) -> dict[str, Any]:
    url = f"ws://{HOST}:{server.port}{API}/halls/{BENCH_HALL}/events/ws?since={last_seq}"
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_subscriber_main, args=(url, SUBSCRIBERS, child, display_token), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("WebSocket subscribers did not connect in 120 s")
        hello = parent.recv()
        sent_at, called, errors = asyncio.run(_paced_calls(server, clerks, calls, interval))
        time.sleep(2.0)  # let the last events reach every subscriber
        parent.send("stop")
        if not parent.poll(60):
            raise RuntimeError("subscriber process did not report")
        report = parent.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    receipts: dict[int, list[float]] = report["receipts"]
    per_delivery: list[float] = []
    to_all: list[float] = []
    missing = 0
    for tid, t0 in sent_at.items():
        got = [t - t0 for t in receipts.get(tid, [])]
        per_delivery.extend(got)
        missing += max(0, hello["ready"] - len(got))
        if len(got) >= hello["ready"] and got:
            to_all.append(max(got))
    return {
        "subscribers_connected": hello["ready"],
        "subscriber_failures": report["failures"],
        "calls": len(sent_at),
        "call_errors": dict(errors),
        "deliveries": len(per_delivery),
        "missing_deliveries": missing,
        "delay_per_subscriber": latency_summary(per_delivery),
        "delay_until_all_have_it": latency_summary(to_all),
        "called": called,
    }


# --- one backend ------------------------------------------------------------------------
def _login_clerks(server: HallServer, manager_token: str) -> dict[int, str]:
    hall = server.hall(BENCH_HALL, manager_token)
    by_number = {int(w["number"]): int(w["id"]) for w in hall["windows"]}
    clerks: dict[int, str] = {}
    for n in range(1, WINDOWS + 1):
        wid = by_number[n]
        clerks[wid] = server.login(f"bench{n:03d}", BENCH_PASSWORD, window_id=wid)["token"]
    return clerks


def run_backend(
    name: str,
    db_url: str,
    work: Path,
    size: dict[str, Any],
    pg: PgCluster | None,
    profile_dir: Path | None = None,
    per_request: bool = False,
) -> dict[str, Any]:
    """All phases against one fresh database (only issue and call_next with per_request)."""
    out: dict[str, Any] = {"db": name}
    with hall_servers() as start:
        [server] = start_bench_servers(start, db_url, work, windows=WINDOWS, password=BENCH_PASSWORD)
        kiosk_token = server.create_token("kiosk", BENCH_HALL)
        display_token = server.create_token("display", BENCH_HALL)
        manager_token = server.login("bench-manager", BENCH_PASSWORD)["token"]
        clerks = _login_clerks(server, manager_token)
        meter = CpuMeter(server, pg)

        # Warm-up (not measured): imports, caches, connection pools.
        warm = asyncio.run(_issue_phase(server, kiosk_token, 3))
        stats = PgStatements(db_url) if per_request else None
        if stats is not None:
            stats.reset()

        meter.start()
        with Profiler(profile_dir, server, f"{name}-issue") as prof_issue:
            issue = asyncio.run(_issue_phase(server, kiosk_token, size["per_kiosk"]))
        cpu_issue = meter.stop()
        n_issued = len(issue["tickets"])
        issue_rt = stats.per_request(len(issue["latencies"]), cpu_issue) if stats is not None else None
        out["issue"] = {
            "kiosks": KIOSKS,
            "tickets": n_issued,
            "per_s": round(n_issued / issue["wall"], 1),
            **latency_summary(issue["latencies"]),
            "errors": dict(issue["errors"]),
            "cpu": cpu_issue,
            # Independent of how busy the machine is: what one request costs the server.
            "server_cpu_ms_per_request": round(
                1000 * cpu_issue["server_cpu_s"] / max(1, len(issue["latencies"])), 2
            ),
        }
        if stats is not None:
            out["issue"]["per_request"] = issue_rt
            stats.reset()
            meter.start()
            calls = asyncio.run(_call_phase(server, clerks))
            cpu_call = meter.stop()
            # The windows' last 下一位 ("nobody waits") are requests too.
            n_req = len(calls["latencies"]) + len(clerks)
            out["call_next"] = {
                "windows": len(clerks),
                "calls": len(calls["called"]),
                "per_s": round(len(calls["called"]) / calls["wall"], 1),
                "errors": dict(calls["errors"]),
                "cpu": cpu_call,
                "per_request": stats.per_request(n_req, cpu_call),
            }
            stats.close()
            server.stop()
            out["server_errors"] = _server_errors(server)
            return out

        # Open loop at the aimed rate: calls first (the queue holds the tickets issued above).
        meter.start()
        call_rate = asyncio.run(_call_at_rate(server, clerks, RATE, size["rate_s"]))
        out["call_at_rate"] = _rate_section(call_rate, len(call_rate["called"]), meter.stop(), size)
        meter.start()
        issue_rate = asyncio.run(_issue_at_rate(server, kiosk_token, RATE, size["rate_s"]))
        out["issue_at_rate"] = _rate_section(issue_rate, len(issue_rate["tickets"]), meter.stop(), size)

        meter.start()
        with Profiler(profile_dir, server, f"{name}-call") as prof_call:
            calls = asyncio.run(_call_phase(server, clerks))
        cpu_call = meter.stop()
        out["call_next"] = {
            "windows": len(clerks),
            "calls": len(calls["called"]),
            "per_s": round(len(calls["called"]) / calls["wall"], 1),
            "note": "one request per call: a window's first call is call-next, every later one is "
            "下一位 (POST /windows/{id}/next, close=no_show: the ticket in hand is closed and the "
            "next called in one transaction); closed loop, so latency here is mostly queueing",
            **latency_summary(calls["latencies"]),
            "errors": dict(calls["errors"]),
            "cpu": cpu_call,
            "server_cpu_ms_per_request": round(
                1000 * cpu_call["server_cpu_s"] / max(1, len(calls["latencies"]) + len(clerks)), 2
            ),
        }

        # Tickets for the fan-out phase, then the hall's current seq so subscribers start there.
        extra = asyncio.run(_issue_phase(server, kiosk_token, max(1, size["ws_calls"] // KIOSKS + 1)))
        snap = server.session(manager_token).get(f"{server.api}/halls/{BENCH_HALL}/snapshot", timeout=30)
        snap.raise_for_status()
        meter.start()
        with Profiler(profile_dir, server, f"{name}-ws") as prof_ws:
            try:
                ws = _ws_phase(
                    server,
                    display_token,
                    int(snap.json().get("last_seq", 0)),
                    clerks,
                    size["ws_calls"],
                    size["ws_interval"],
                )
            except Exception as exc:  # keep the figures of the other phases
                logger.exception("WebSocket phase failed")
                ws = {"failed": repr(exc)[:1000], "called": []}
        ws["cpu"] = meter.stop()
        if profile_dir is not None:
            out["profile"] = {
                "issue": prof_issue.summary(),
                "call_next": prof_call.summary(),
                "ws_fanout": prof_ws.summary(),
            }
        ws_called = ws.pop("called")
        out["ws_fanout"] = ws

        # Integrity: numbers never repeat, no ticket is called twice.
        all_tickets = warm["tickets"] + issue["tickets"] + issue_rate["tickets"] + extra["tickets"]
        numbers = Counter(t["number"] for t in all_tickets)
        ids_called = Counter(int(t["id"]) for _w, t in call_rate["called"] + calls["called"] + ws_called)
        out["integrity"] = {
            "tickets_issued": len(all_tickets),
            "duplicate_numbers": sum(c - 1 for c in numbers.values() if c > 1),
            "double_calls": sum(c - 1 for c in ids_called.values() if c > 1),
            "called_but_never_issued": len(set(ids_called) - {int(t["id"]) for t in all_tickets}),
        }
        server.stop()
        out["server_errors"] = _server_errors(server)
    return out


def _rate_section(
    phase: dict[str, Any], done: int, cpu: dict[str, float], size: dict[str, Any]
) -> dict[str, Any]:
    return {
        "aimed_per_s": RATE,
        "seconds": size["rate_s"],
        "done": done,
        "achieved_per_s": round(done / phase["wall"], 1),
        "latency_from_due_time": latency_summary(phase["latencies"]),
        "errors": dict(phase["errors"]),
        "cpu": cpu,
    }


def _server_errors(server: HallServer, keep: int = 5) -> dict[str, Any]:
    """ERROR lines and the last line of each traceback in the server's log."""
    try:
        lines = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    errors = [ln[:300] for ln in lines if " ERROR " in ln]
    causes: Counter[str] = Counter()
    in_tb = False
    for i, ln in enumerate(lines):
        if ln.startswith("Traceback"):
            in_tb = True
            continue
        last_of_block = i + 1 == len(lines) or not lines[i + 1].startswith(" ")
        if (
            in_tb
            and ln
            and not ln.startswith((" ", "\t"))
            and last_of_block
            and ("Error" in ln or "Exception" in ln)
        ):
            causes[ln[:300]] += 1
            in_tb = False
    first_tb: list[str] = []
    if "Traceback (most recent call last):" in lines:
        start = lines.index("Traceback (most recent call last):")
        first_tb = [
            ln
            for ln in lines[start : start + 200]
            if ln.startswith(f'  File "{REPO_ROOT}') or not ln.startswith(" ")
        ][:60]
    return {
        "error_lines": len(errors),
        "first": errors[:keep],
        "exceptions": dict(causes.most_common(keep)),
        "first_traceback": first_tb,
    }


def _dump_pg_statements(url: str, path: Path) -> None:
    """The statements that cost PostgreSQL the most time (pg_stat_statements), as JSON."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            rows = conn.execute(
                "SELECT calls, round(total_exec_time::numeric, 1), round(total_plan_time::numeric, 1), "
                "rows, shared_blks_hit, left(query, 300) FROM pg_stat_statements "
                "ORDER BY total_exec_time + total_plan_time DESC LIMIT 25"
            ).fetchall()
    except Exception as exc:  # the figures of the run matter more than this extra
        logger.warning("pg_stat_statements not read: %s", exc)
        return
    keys = ("calls", "exec_ms", "plan_ms", "rows", "blocks_hit", "query")
    path.write_text(json.dumps([dict(zip(keys, map(str, r), strict=True)) for r in rows], indent=1))


def _verdict(result: dict[str, Any]) -> dict[str, bool]:
    issue, call, ws = result["issue"], result["call_next"], result["ws_fanout"]

    def p99_at_rate(section: dict[str, Any]) -> float:
        if section["errors"] or section["done"] < RATE * section["seconds"]:
            return 1e9  # the phase did not complete at the aimed rate
        return section["latency_from_due_time"]["p99_ms"] or 1e9

    return {
        "issue_per_s": issue["per_s"] >= TARGETS["issue_per_s"],
        "issue_p99_ms": p99_at_rate(result["issue_at_rate"]) < TARGETS["issue_p99_ms"],
        "call_next_per_s": call["per_s"] >= TARGETS["call_next_per_s"],
        "call_next_p99_ms": p99_at_rate(result["call_at_rate"]) < TARGETS["call_next_p99_ms"],
        # The aim: from a call until all 200 subscribers have it.
        "ws_fanout_p99_ms": (ws.get("delay_until_all_have_it", {}).get("p99_ms") or 1e9)
        < TARGETS["ws_fanout_p99_ms"],
        "no_duplicates": result["integrity"]["duplicate_numbers"] == 0
        and result["integrity"]["double_calls"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (about a minute)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma list of sqlite, postgres")
    parser.add_argument("--profile", type=Path, help="sample the server with py-spy into this folder")
    parser.add_argument(
        "--pg-per-request",
        action="store_true",
        help="PostgreSQL only, issue and call_next only: round trips and CPU per request",
    )
    parser.add_argument("--max-seconds", type=float, default=900.0, help="give up after this long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The measuring client never pauses for the cycle collector: a pause here would be booked
    # as server latency. Its memory is bounded by the run (a few thousand tickets).
    gc.disable()
    size = SIZES["quick" if args.quick else "full"]
    if args.pg_per_request:
        args.backends = "postgres"
    started = time.monotonic()
    doc: dict[str, Any] = {
        "benchmark": "hall_server_load",
        "size": "quick" if args.quick else "full",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "client": (
            "one asyncio process with raw keep-alive HTTP/1.1 connections (16 kiosks, 50 windows); "
            "200 WebSocket subscribers (websockets) in a second process; all on the server's two cores"
        ),
        "targets": TARGETS,
        "backends": {},
    }
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if time.monotonic() - started > args.max_seconds:
            doc["backends"][backend] = {"skipped": "time budget spent"}
            continue
        with ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"hall-load-{backend}-")))
            pg = None
            if backend == "sqlite":
                url = sqlite_url(work)
            elif backend == "postgres":
                settings = {}
                if args.pg_per_request:
                    settings = {
                        "shared_preload_libraries": "pg_stat_statements",
                        "pg_stat_statements.track_planning": "on",
                        "pg_stat_statements.track_utility": "on",
                    }
                if args.profile:
                    # With --profile, statements slower than 20 ms land in the cluster's log.
                    settings = {
                        "log_min_duration_statement": "20",
                        "log_lock_waits": "on",
                        "deadlock_timeout": "50ms",
                        "shared_preload_libraries": "pg_stat_statements,auto_explain",
                        "pg_stat_statements.track_planning": "on",
                        # Plans of statements slower than 50 ms, into the cluster's log.
                        "auto_explain.log_min_duration": "50",
                        "auto_explain.log_buffers": "on",
                        "auto_explain.log_analyze": "on",
                    }
                pg = stack.enter_context(PgCluster(extra_settings=settings))
                url = pg.url(pg.create_database("load"))
            else:
                parser.error(f"unknown backend {backend}")
            try:
                result = run_backend(backend, url, work, size, pg, args.profile, args.pg_per_request)
                if not args.pg_per_request:
                    result["meets_targets"] = _verdict(result)
            except Exception as exc:
                logger.exception("backend %s failed", backend)
                result = {"failed": repr(exc)[:2000]}
            if pg is not None and args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                shutil.copy(pg.log_file, args.profile / "postgres.log")
                _dump_pg_statements(url, args.profile / "pg_statements.json")
            doc["backends"][backend] = result
    doc["seconds"] = round(time.monotonic() - started, 1)
    doc["load_average"] = os.getloadavg()
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
