"""Soak benchmark: a hall under steady load for half an hour — do files, memory and latency stay flat?

Run: .venv/bin/python benchmarks/bench_soak.py [--quick] [--backends sqlite,postgres]

Per backend, a fresh database seeded with one hall of 50 windows, served by one `hall-server serve`
process on SQLite and two on PostgreSQL (events between them by LISTEN/NOTIFY):
  load        30 tickets/s and 30 下一位/s (POST /windows/{id}/next, the ticket in hand closed as a
              no-show and the next called), each request sent at its scheduled time (open loop) and
              spread over the server processes; latency counts from the due time
  subscribers 200 WebSocket subscribers in a second process, spread over the server processes:
              140 steady, 50 that drop and reconnect with ?since= every 20–60 s (a replay each
              time), 10 that read slower than the stream (they are closed 4008 and replay)
  phases      warm-up, a quiet pause (the warm baseline of memory), the measured load, a quiet end
Figures: open files and RSS of each server process over time (sampled), the RSS slope over the
measured load (least squares, MB/h), idle RSS at the end against the warm baseline, p99 latency of
the first and last window of the load, request errors, and per subscriber the seqs received:
gaps (a seq skipped inside a connection), repeats, and events missing at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import (
    BENCH_HALL,
    HttpError,
    RawHttp,
    WindowCaller,
    issue_ticket,
    latency_summary,
    proc_cpu,
    start_bench_servers,
)
from benchmarks.load import API, BENCH_PASSWORD, SERVICE_CODES, WINDOWS, _login_clerks, _server_errors
from tests.fixtures.postgres import PgCluster, sqlite_url
from tests.fixtures.server import HOST, HallServer, hall_servers

logger = logging.getLogger(__name__)

ISSUE_PER_S = 30
CALL_PER_S = 30
# Kiosk connections issuing between them (each has one request in flight at a time): one ticket a
# second each, so an answer late by under a second does not hold the next issue back. With 4 the
# issues fell behind the 50 windows' calls whenever answers slowed, and the queue ran dry.
KIOSKS = 30
SUBSCRIBERS = 200
CHURNERS = 50
SLOW_READERS = 10
CHURN_S = (20.0, 60.0)
# A slow reader takes this long over each message (the stream runs at about 90 events/s).
SLOW_READ_S = 0.05
# Tickets waiting before the load starts, so 下一位 never finds the queue empty.
PREFILL = 300
SIZES = {
    # seconds: warm-up, quiet pause, measured load, quiet end; sampling step; p99 window
    "quick": {"warm": 30, "pause": 20, "load": 90, "end": 30, "sample": 2.0, "window": 30},
    "full": {"warm": 300, "pause": 60, "load": 1800, "end": 120, "sample": 10.0, "window": 300},
}
AIMS = {"rss_slope_mb_per_h": 10.0, "idle_over_warm_mb": 20.0, "p99_last_over_first": 2.0}


# --- sampling the server processes ---------------------------------------------------------
def _proc_sample(pid: int) -> dict[str, float]:
    """RSS (MB) and open files (all, and those that are not sockets) of one process."""
    rss = 0.0
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    fds = sockets = 0
    with suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            fds += 1
            with suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    sockets += 1
    return {"rss_mb": round(rss, 1), "fds": fds, "non_socket_fds": fds - sockets}


def _sched_s(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of all a process's threads."""
    run = wait = 0
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()
                run += int(fields[0])
                wait += int(fields[1])
    return run / 1e9, wait / 1e9


class Sampler(threading.Thread):
    """Samples every server process every `step` seconds into a time series."""

    def __init__(self, pids: list[int], step: float) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.step = step
        self.t0 = time.monotonic()
        self.series: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.step):
            self.take()

    def take(self) -> dict[str, Any]:
        row = {
            "t": round(time.monotonic() - self.t0, 1),
            "load1": os.getloadavg()[0],
            "procs": [_proc_sample(p) for p in self.pids],
        }
        self.series.append(row)
        return row


def _slope_mb_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) in MB per hour."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return None
    return round(sum((t - mx) * (v - my) for t, v in points) / var * 3600, 1)


# --- subscribers (a child process) -------------------------------------------------------------
def _subscribers_main(urls: list[str], token: str, since: int, conn: Any, seed: int) -> None:
    """Child process: hold the subscribers until told to stop, then report what each received."""
    asyncio.run(_subscribers(urls, token, since, conn, seed))


async def _subscribers(urls: list[str], token: str, since: int, conn: Any, seed: int) -> None:
    import websockets

    rng = random.Random(seed)
    stop = asyncio.Event()
    # Slow readers are slow while the load runs; after it they read at full speed and catch up.
    slow_now = True
    stats: list[dict[str, Any]] = []
    open_sockets: set[Any] = set()

    async def subscriber(i: int, kind: str) -> None:
        me = {"kind": kind, "last": since, "deliveries": 0, "gaps": 0, "repeats": 0, "connects": 0, "closes": {}}
        stats.append(me)
        url = urls[i % len(urls)]
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                async with websockets.connect(
                    f"{url}?since={me['last']}",
                    open_timeout=60,
                    max_size=None,
                    max_queue=16 if kind == "slow" else None,
                    ping_interval=None,
                    additional_headers={"Authorization": f"Bearer {token}"},
                ) as ws:
                    me["connects"] += 1
                    open_sockets.add(ws)
                    timer = None
                    if kind == "churn":
                        # Drop after 20-60 s and reconnect with ?since= (a replay).
                        timer = loop.call_later(rng.uniform(*CHURN_S), lambda w=ws: asyncio.ensure_future(w.close()))
                    try:
                        async for raw in ws:
                            seq = int(json.loads(raw)["seq"])
                            if seq <= me["last"]:
                                me["repeats"] += 1
                                continue
                            if seq != me["last"] + 1:
                                me["gaps"] += 1
                            me["last"] = seq
                            me["deliveries"] += 1
                            if kind == "slow" and slow_now:
                                await asyncio.sleep(SLOW_READ_S)
                    finally:
                        open_sockets.discard(ws)
                        if timer is not None:
                            timer.cancel()
                    if ws.close_code not in (None, 1000):
                        code = str(ws.close_code)
                        me["closes"][code] = me["closes"].get(code, 0) + 1
            except websockets.ConnectionClosed as exc:
                code = str(exc.rcvd.code if exc.rcvd is not None else "none")
                me["closes"][code] = me["closes"].get(code, 0) + 1
            except Exception as exc:  # counted, then the subscriber tries again
                me["closes"][type(exc).__name__] = me["closes"].get(type(exc).__name__, 0) + 1
                await asyncio.sleep(1.0)

    kinds = ["churn"] * CHURNERS + ["slow"] * SLOW_READERS
    kinds += ["steady"] * (SUBSCRIBERS - len(kinds))
    tasks = [asyncio.create_task(subscriber(i, k)) for i, k in enumerate(kinds)]
    loop = asyncio.get_running_loop()
    conn.send("ready")
    final = await loop.run_in_executor(None, conn.recv)  # the hall's last seq once the load ended
    slow_now = False
    # Let every subscriber catch up to it (slow readers replay after their 4008).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(s["last"] < final for s in stats if s["kind"] != "slow"):
        await asyncio.sleep(0.5)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(s["last"] < final for s in stats):
        await asyncio.sleep(0.5)
    stop.set()
    for ws in list(open_sockets):
        await ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send([{**s, "missing": max(0, final - s["last"])} for s in stats])


# --- the load --------------------------------------------------------------------------------
class Load:
    """Open-loop issuing and 下一位 at fixed rates, spread over the server processes."""

    def __init__(
        self, servers: list[HallServer], kiosk_token: str, clerks: dict[int, str], grace_s: float | None = None
    ) -> None:
        self.servers = servers
        # A phase stops sending this long after its scheduled end, whatever is still due (None:
        # never): a run on a machine that cannot carry the load ends, and says what it left unsent.
        self.grace_s = grace_s
        self.unsent = 0
        self.kiosk_token = kiosk_token
        self.clerks = clerks
        self.samples: list[tuple[float, str, float]] = []  # (due time, kind, latency s)
        # (due time, seconds the request was sent after its due time): the open loop's own lag.
        # Each lane is one keep-alive connection, so a lane falls behind when its previous answer
        # comes late (the server) or when this process's loop is late to wake it (the client:
        # see loop_lag).
        self.send_lag: list[tuple[float, float]] = []
        # (time, seconds a 0.1 s sleep of this process's loop overslept): the client itself.
        self.loop_lag: list[tuple[float, float]] = []
        self.errors: Counter[str] = Counter()
        self.numbers: Counter[str] = Counter()
        self.called: Counter[int] = Counter()
        self.running = True

    async def issue(self, conn: RawHttp, service: str) -> bool:
        try:
            status, body = await issue_ticket(conn, BENCH_HALL, service, "kiosk")
        except HttpError as exc:
            self.errors[f"issue connection: {exc}"] += 1
            return False
        if status != 201:
            self.errors[f"issue HTTP {status}: {body[:100].decode(errors='replace')}"] += 1
            return False
        self.numbers[json.loads(body)["number"]] += 1
        return True

    async def run(self, seconds: float, t_base: float) -> None:
        """Both streams of requests for `seconds`; sample times relative to t_base."""
        kiosks = [
            await RawHttp(HOST, self.servers[i % len(self.servers)].port, self.kiosk_token).connect()
            for i in range(KIOSKS)
        ]
        wins = [
            WindowCaller(wid, await RawHttp(HOST, self.servers[n % len(self.servers)].port, tok).connect())
            for n, (wid, tok) in enumerate(self.clerks.items())
        ]
        t0 = time.perf_counter() + 0.05

        async def lane(rate: float, lanes: int, i: int, kind: str) -> None:
            n = i
            while self.running:
                due = t0 + n / rate
                if due - t0 > seconds:
                    return
                if self.grace_s is not None and time.perf_counter() - t0 > seconds + self.grace_s:
                    self.unsent += len(range(n, int(seconds * rate) + 1, lanes))
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.send_lag.append((due - t_base, time.perf_counter() - due))
                if kind == "issue":
                    ok = await self.issue(kiosks[i], SERVICE_CODES[n % len(SERVICE_CODES)])
                else:
                    ok = await self.call(wins[i])
                if ok:
                    self.samples.append((due - t_base, kind, time.perf_counter() - due))
                n += lanes

        async def ticker() -> None:
            step = 0.1
            while True:
                before = time.perf_counter()
                await asyncio.sleep(step)
                now = time.perf_counter()
                self.loop_lag.append((now - t_base, now - before - step))

        tick = asyncio.ensure_future(ticker())
        try:
            await asyncio.gather(
                *(lane(ISSUE_PER_S, len(kiosks), i, "issue") for i in range(len(kiosks))),
                *(lane(CALL_PER_S, len(wins), i, "call") for i in range(len(wins))),
            )
            tick.cancel()
            for w in wins:  # leave the windows free for the next run
                if w.holding is not None:
                    await w.conn.request("POST", f"{API}/windows/{w.wid}/no-show")
                    w.holding = None
        finally:
            tick.cancel()
            for c in kiosks:
                await c.close()
            for w in wins:
                await w.conn.close()

    async def call(self, w: WindowCaller) -> bool:
        try:
            kind, got = await w.call()
        except HttpError as exc:
            self.errors[f"call connection: {exc}"] += 1
            return False
        if kind == "empty":
            self.errors["queue ran dry"] += 1
            return False
        if kind == "error":
            self.errors[str(got)[:120]] += 1
            return False
        self.called[int(got["id"])] += 1  # type: ignore[index]
        return True


def _p99(samples: list[tuple[float, str, float]], lo: float, hi: float) -> dict[str, Any]:
    return latency_summary([lat for t, _k, lat in samples if lo <= t < hi])


def _schedule(
    load: Load, lo: float, hi: float, window: float, load_wall_s: float, unsent: int
) -> dict[str, Any]:
    """How far the open loop ran behind its schedule over the measured load, and whose fault."""
    lags = [(t, lag) for t, lag in load.send_lag if lo <= t < hi]
    loop = [lag for t, lag in load.loop_lag if lo <= t]
    return {
        # Wall seconds the measured load took to send against its scheduled seconds.
        "load_wall_s": round(load_wall_s, 1),
        # Requests still due when the phase stopped (--grace-s), not sent at all.
        "unsent": unsent,
        "load_scheduled_s": round(hi - lo, 1),
        "send_lag_first_window": latency_summary([lag for t, lag in lags if t < lo + window]),
        "send_lag_last_window": latency_summary([lag for t, lag in lags if t >= hi - window]),
        "send_lag_max_s": round(max((lag for _t, lag in lags), default=0.0), 3),
        # The client's own event loop: a 0.1 s sleep's oversleep. Small here and large send lag
        # means the server answered late; large here means the load generator itself fell behind.
        "client_loop_lag": latency_summary(loop),
    }


# --- one backend -----------------------------------------------------------------------------
def run_backend(
    name: str, db_url: str, work: Path, size: dict[str, Any], processes: int, grace_s: float | None = None
) -> dict[str, Any]:
    """Warm-up, pause, measured load and quiet end against `processes` servers on one database."""
    out: dict[str, Any] = {"db": name, "server_processes": processes}
    with hall_servers() as start:
        servers = start_bench_servers(
            start, db_url, work, windows=WINDOWS, password=BENCH_PASSWORD, processes=processes
        )
        first = servers[0]
        kiosk_token = first.create_token("kiosk", BENCH_HALL)
        display_token = first.create_token("display", BENCH_HALL)
        manager_token = first.login("bench-manager", BENCH_PASSWORD)["token"]
        clerks = _login_clerks(first, manager_token)
        load = Load(servers, kiosk_token, clerks, grace_s)

        async def prefill() -> None:
            conn = await RawHttp(HOST, first.port, kiosk_token).connect()
            try:
                for i in range(PREFILL):
                    await load.issue(conn, SERVICE_CODES[i % len(SERVICE_CODES)])
            finally:
                await conn.close()

        asyncio.run(prefill())
        logger.info("%s: %d server(s) up, clerks logged in, %d tickets waiting", name, processes, PREFILL)
        snap = first.session(manager_token).get(f"{first.api}/halls/{BENCH_HALL}/snapshot", timeout=30)
        snap.raise_for_status()
        since = int(snap.json().get("last_seq", 0))
        urls = [f"ws://{HOST}:{s.port}{API}/halls/{BENCH_HALL}/events/ws" for s in servers]
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        subs = ctx.Process(target=_subscribers_main, args=(urls, display_token, since, child, 14), daemon=True)
        subs.start()
        pids = [s.proc.pid for s in servers if s.proc is not None]
        sampler = Sampler(pids, size["sample"])
        try:
            if not parent.poll(120):
                raise RuntimeError("subscriber process did not start")
            parent.recv()
            sampler.start()
            logger.info("%s: subscribers connected; warm-up %s s", name, size["warm"])
            t_base = time.perf_counter()
            asyncio.run(load.run(size["warm"], t_base))
            time.sleep(size["pause"])
            warm = sampler.take()
            load_start = time.monotonic() - sampler.t0
            logger.info("%s: warm baseline taken; measured load %s s", name, size["load"])
            cpu_before = {"servers": sum(proc_cpu(p) for p in pids), "client": time.process_time()}
            cpu_before["subscribers"] = proc_cpu(subs.pid or 0)
            sched_before = [_sched_s(p) for p in pids]
            unsent_before = load.unsent
            asyncio.run(load.run(size["load"], time.perf_counter() - size["warm"] - size["pause"]))
            unsent = load.unsent - unsent_before
            load_end = time.monotonic() - sampler.t0
            cpu = {
                "servers": sum(proc_cpu(p) for p in pids) - cpu_before["servers"],
                "client": time.process_time() - cpu_before["client"],
                "subscribers": proc_cpu(subs.pid or 0) - cpu_before["subscribers"],
            }
            sched = [
                (after[0] - before[0], after[1] - before[1])
                for before, after in zip(sched_before, [_sched_s(p) for p in pids], strict=True)
            ]
            # A fresh log-in: the first one has been idle longer than a staff session lasts (30 min),
            # and a refused snapshot read as seq 0 let every subscriber stop at once, uncounted.
            final_token = first.login("bench-manager", BENCH_PASSWORD)["token"]
            final_snap = first.session(final_token).get(f"{first.api}/halls/{BENCH_HALL}/snapshot", timeout=30)
            final_snap.raise_for_status()
            final_seq = int(final_snap.json()["last_seq"])
            parent.send(final_seq)
            logger.info("%s: load done at seq %d; quiet end %s s", name, final_seq, size["end"])
            time.sleep(size["end"])
            idle = sampler.take()
            if not parent.poll(300):
                raise RuntimeError("subscribers did not report")
            report: list[dict[str, Any]] = parent.recv()
        finally:
            sampler.stop.set()
            subs.join(10)
            if subs.is_alive():
                subs.kill()
        series = sampler.series
        per_proc = []
        for i in range(len(pids)):
            during = [(r["t"], r["procs"][i]["rss_mb"]) for r in series if load_start <= r["t"] <= load_end]
            fds = [r["procs"][i]["non_socket_fds"] for r in series]
            per_proc.append(
                {
                    "rss_warm_baseline_mb": warm["procs"][i]["rss_mb"],
                    "rss_max_mb": max(r["procs"][i]["rss_mb"] for r in series),
                    "rss_idle_end_mb": idle["procs"][i]["rss_mb"],
                    "idle_over_warm_mb": round(idle["procs"][i]["rss_mb"] - warm["procs"][i]["rss_mb"], 1),
                    "rss_slope_mb_per_h": _slope_mb_per_h(during),
                    "non_socket_fds_first_last_max": [fds[0], fds[-1], max(fds)],
                    # The thread pool fills during the warm-up (one SQLite handle per thread): flat
                    # means nothing after the warm baseline goes above it.
                    "non_socket_fds_warm_and_max_after": [
                        warm["procs"][i]["non_socket_fds"],
                        max(r["procs"][i]["non_socket_fds"] for r in series if r["t"] >= load_start),
                    ],
                    "fds_first_last_max": [
                        series[0]["procs"][i]["fds"],
                        series[-1]["procs"][i]["fds"],
                        max(r["procs"][i]["fds"] for r in series),
                    ],
                }
            )
        window = size["window"]
        lo = size["warm"] + size["pause"]
        hi = lo + size["load"]
        first_w, last_w = _p99(load.samples, lo, lo + window), _p99(load.samples, hi - window, hi)
        closes: Counter[str] = Counter()
        for s in report:
            closes.update(s["closes"])
        by_kind = {
            kind: {
                "subscribers": len(group),
                "deliveries": sum(s["deliveries"] for s in group),
                "connects": sum(s["connects"] for s in group),
                "gaps": sum(s["gaps"] for s in group),
                "repeats": sum(s["repeats"] for s in group),
                "missing": sum(s["missing"] for s in group),
            }
            for kind in ("steady", "churn", "slow")
            if (group := [s for s in report if s["kind"] == kind])
        }
        out.update(
            {
                "seconds": {k: size[k] for k in ("warm", "pause", "load", "end")},
                "requests": {
                    "issued": sum(load.numbers.values()),
                    "calls": sum(load.called.values()),
                    "errors": dict(load.errors),
                    "duplicate_numbers": sum(c - 1 for c in load.numbers.values() if c > 1),
                    "double_calls": sum(c - 1 for c in load.called.values() if c > 1),
                },
                "latency_first_window": first_w,
                "latency_last_window": last_w,
                "p99_last_over_first": round(last_w["p99_ms"] / first_w["p99_ms"], 2)
                if first_w["p99_ms"] and last_w["p99_ms"]
                else None,
                "schedule": _schedule(load, lo, hi, window, load_end - load_start, unsent),
                # CPU seconds over the measured load per second of its wall time (1.0 = one core):
                # the load generator, the subscribers' process and the server processes together.
                "cpu_cores_during_load": {
                    k: round(v / max(load_end - load_start, 1e-9), 2) for k, v in cpu.items()
                },
                # Per server process, its threads' seconds on a CPU and seconds runnable but
                # waiting for one (/proc/PID/task/*/schedstat) per second of the measured load:
                # a server that wanted the CPU and did not get it (a loaded machine) shows here.
                "server_sched_per_s": [
                    {
                        "on_cpu": round(run / max(load_end - load_start, 1e-9), 2),
                        "waiting_for_cpu": round(wait / max(load_end - load_start, 1e-9), 2),
                    }
                    for run, wait in sched
                ],
                "processes": per_proc,
                "subscribers": by_kind,
                "subscriber_closes": dict(closes),
                "final_seq": final_seq,
                "series": series,
            }
        )
        for s in servers:
            s.stop()
        out["server_errors"] = _server_errors(first)
    return out


def _verdict(r: dict[str, Any]) -> dict[str, bool]:
    procs = r["processes"]
    subs = r["subscribers"].values()
    return {
        "open_files_flat": all(
            p["non_socket_fds_warm_and_max_after"][1] - p["non_socket_fds_warm_and_max_after"][0] <= 2 for p in procs
        ),
        "rss_slope": all((p["rss_slope_mb_per_h"] or 0) <= AIMS["rss_slope_mb_per_h"] for p in procs),
        "idle_back_to_warm": all(p["idle_over_warm_mb"] <= AIMS["idle_over_warm_mb"] for p in procs),
        "p99_stable": (r["p99_last_over_first"] or 1e9) <= AIMS["p99_last_over_first"],
        "no_errors": not {k: v for k, v in r["requests"]["errors"].items() if k != "queue ran dry"},
        "no_gaps_repeats_missing": all(s["gaps"] == s["repeats"] == s["missing"] == 0 for s in subs),
        "no_duplicates": r["requests"]["duplicate_numbers"] == 0 and r["requests"]["double_calls"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about three minutes per backend")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma list of sqlite, postgres")
    parser.add_argument("--out", type=Path, help="also write the JSON here, after each backend")
    parser.add_argument(
        "--grace-s",
        type=float,
        default=None,
        help="stop a load phase this many seconds after its scheduled end, counting what it left unsent",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    size = SIZES["quick" if args.quick else "full"]
    started = time.monotonic()
    doc: dict[str, Any] = {
        "benchmark": "hall_server_soak",
        "size": "quick" if args.quick else "full",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_at_start": os.getloadavg(),
        "rates": {"issue_per_s": ISSUE_PER_S, "call_per_s": CALL_PER_S},
        "subscribers": {"total": SUBSCRIBERS, "churn": CHURNERS, "churn_every_s": CHURN_S, "slow": SLOW_READERS},
        "aims": AIMS,
        "backends": {},
    }
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"hall-soak-{backend}-")))
            if backend == "sqlite":
                url, processes = sqlite_url(work), 1
            elif backend == "postgres":
                pg = stack.enter_context(PgCluster())
                url, processes = pg.url(pg.create_database("soak")), 2
            else:
                parser.error(f"unknown backend {backend}")
            try:
                result = run_backend(backend, url, work, size, processes, args.grace_s)
                result["meets_aims"] = _verdict(result)
            except Exception as exc:
                logger.exception("backend %s failed", backend)
                result = {"failed": repr(exc)[:2000]}
            doc["backends"][backend] = result
            if args.out is not None:
                args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    doc["load_average_at_end"] = os.getloadavg()
    doc["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
