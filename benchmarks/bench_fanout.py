"""WebSocket fan-out across two server processes on one PostgreSQL database; prints one JSON document.

    .venv/bin/python benchmarks/bench_fanout.py --quick                 # 200 subscribers, 10 calls
    .venv/bin/python benchmarks/bench_fanout.py                         # 2,000 subscribers, 40 calls
    .venv/bin/python benchmarks/bench_fanout.py --out benchmarks/results/fanout-DATE.json

Two `hall-server serve` processes run on one fresh PostgreSQL database (events between them
travel by LISTEN/NOTIFY). The subscribers are split evenly over both servers; each subscriber
process (one per server, a lean raw-socket client offering permessage-deflate like a browser)
holds its share of subscriptions to the hall's event stream. Windows then call tickets,
alternating between the two servers, paced so calls do not overlap (open loop: a call is sent at
its time whatever the deliveries are doing). For every call and subscriber the delay is read from
the moment the call was sent (`from_call_sent`) and from the moment its answer arrived
(`from_call_answered`; an event can arrive before the answer, so this can be negative) to the
moment that subscriber had the ticket.called event (CLOCK_MONOTONIC, shared by the processes).
`missing` counts (call, subscriber) pairs that never arrived, `duplicates` events a subscriber
got twice, `gaps` holes in a subscriber's seq sequence. `rss_per_idle_subscriber_kb` is the
servers' VmRSS growth from before the subscribers connected to after, divided by their number.
The client shares the machine's two cores with both servers and PostgreSQL, so delivery delay
includes the subscriber processes' own time to read 2,000 sockets; `client_cpu_s` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import itertools
import json
import logging
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import BENCH_HALL, RawHttp, emit, latency_summary, proc_cpu, start_bench_servers
from tests.fixtures.postgres import PgCluster
from tests.fixtures.server import HOST, HallServer, hall_servers

logger = logging.getLogger("bench_fanout")

API = "/api/v1"
PASSWORD = "bench-pass"
WINDOWS = 10
AIM_P99_MS = 150.0
CONNECT_CONCURRENCY = 50
SIZES = {
    "quick": {"subscribers": 200, "calls": 10, "interval": 0.3},
    "full": {"subscribers": 2000, "calls": 40, "interval": 0.5},
}
CALLED = '"ticket.called"'


def _rss_kb(pid: int) -> int:
    """VmRSS of a process in kB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- subscriber processes ---------------------------------------------------------------
def _subscriber_main(url: str, count: int, token: str, conn: Any) -> None:
    """Child process: hold `count` subscriptions; report who got which event when."""
    gc.disable()  # a collection pause here would be booked as delivery delay
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_subscribe(url, count, token, conn))


class _Subscriber(asyncio.Protocol):
    """One event-socket subscriber on a raw connection: the handshake, then unmasked server frames.

    A lean client, like RawHttp for the calls: 2,000 subscribers share the two cores with both
    servers, and the `websockets` client spent more CPU per message than the server did. It
    offers permessage-deflate as a browser does (and inflates if the server accepts it).
    """

    def __init__(self, index: int, request: bytes, sink: Callable[[int, bytes, float], None]) -> None:
        self.index = index
        self.request = request
        self.sink = sink
        self.buf = bytearray()
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.inflate: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError(f"closed before the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        self.buf += data
        if not self.open.done():
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buf[:head_end]).decode("latin-1")
            del self.buf[: head_end + 4]
            if " 101 " not in head.split("\r\n", 1)[0]:
                self.open.set_exception(ConnectionError(head.split("\r\n", 1)[0]))
                return
            if "permessage-deflate" in head.lower():
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self.open.set_result(None)
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            size, off = b1 & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, off = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + size:
                return
            payload = bytes(buf[off : off + size])
            del buf[: off + size]
            opcode = b0 & 0x0F
            if opcode == 1:
                if b0 & 0x40 and self.inflate is not None:
                    payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
                self.sink(self.index, payload, t)
            elif opcode == 9:  # ping: a masked pong with the same data
                self._send(0xA, payload)
            elif opcode == 8:
                if not self.closed.done():
                    self.closed.set_result(None)
                if self.transport is not None:
                    self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


async def _subscribe(url: str, count: int, token: str, conn: Any) -> None:
    # receipts[ticket id] = [(subscriber, monotonic time)]; seqs[subscriber] = seqs seen in order
    receipts: dict[int, list[tuple[int, float]]] = defaultdict(list)
    seqs: dict[int, list[int]] = defaultdict(list)
    failures: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.rpartition(":")
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    def sink(index: int, payload: bytes, t: float) -> None:
        ev = json.loads(payload)
        seqs[index].append(int(ev["seq"]))
        if ev.get("type") == "ticket.called":
            receipts[int(ev["payload"]["ticket"]["id"])].append((index, t))

    async def one(i: int) -> _Subscriber | None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        try:
            async with gate:
                _tr, sub = await loop.create_connection(
                    lambda: _Subscriber(i, request, sink), host, int(port)
                )
                await asyncio.wait_for(sub.open, 120)
            return sub
        except Exception as exc:
            failures[repr(exc)[:160]] += 1
            return None

    subs = [s for s in await asyncio.gather(*(one(i) for i in range(count))) if s is not None]
    conn.send({"ready": len(subs), "failures": dict(failures)})
    await loop.run_in_executor(None, conn.recv)  # the parent says stop
    lost = sum(1 for s in subs if s.closed.done())
    for s in subs:
        if s.transport is not None:
            s.transport.close()
    if lost:
        failures["closed by the server during the run"] += lost
    conn.send({"receipts": dict(receipts), "seqs": dict(seqs), "failures": dict(failures)})


# --- the calls --------------------------------------------------------------------------
async def _issue(server: HallServer, token: str, n: int) -> None:
    http = await RawHttp(HOST, server.port, token).connect()
    try:
        for i in range(n):
            status, body = await http.request(
                "POST",
                f"{API}/halls/{BENCH_HALL}/tickets",
                {"service_code": f"BENCH-00{i % 3 + 1}", "channel": "kiosk"},
                {"Idempotency-Key": uuid.uuid4().hex},
            )
            if status != 201:
                raise RuntimeError(f"issue failed: {status} {body[:200]!r}")
    finally:
        await http.close()


async def _calls(
    servers: list[HallServer], clerks: dict[int, str], calls: int, interval: float
) -> tuple[dict[int, tuple[float, float]], Counter[str]]:
    """Paced calls alternating between the servers: ticket id -> (sent, answered)."""
    wids = list(clerks)
    conns = {
        w: await RawHttp(HOST, servers[k % len(servers)].port, clerks[w]).connect()
        for k, w in enumerate(wids)
    }
    times: dict[int, tuple[float, float]] = {}
    errors: Counter[str] = Counter()
    busy: set[int] = set()
    start = time.monotonic()
    try:
        for i in range(calls):
            wid = wids[i % len(wids)]
            if wid in busy:
                await conns[wid].request("POST", f"{API}/windows/{wid}/no-show")
                busy.discard(wid)
            # Open loop: each call at its own time, late or not.
            await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
            t0 = time.monotonic()
            status, body = await conns[wid].request("POST", f"{API}/windows/{wid}/call-next")
            t1 = time.monotonic()
            if status == 200:
                times[int(json.loads(body)["id"])] = (t0, t1)
                busy.add(wid)
            else:
                errors[f"HTTP {status}: {body[:120].decode(errors='replace')}"] += 1
    finally:
        for c in conns.values():
            await c.close()
    return times, errors


def _clerks(server: HallServer, manager: str) -> dict[int, str]:
    hall = server.hall(BENCH_HALL, manager)
    by_number = {int(w["number"]): int(w["id"]) for w in hall["windows"]}
    return {
        by_number[n]: server.login(f"bench{n:03d}", PASSWORD, window_id=by_number[n])["token"]
        for n in range(1, WINDOWS + 1)
    }


def _analyse(
    times: dict[int, tuple[float, float]], reports: list[dict[str, Any]], ready: list[int]
) -> dict[str, Any]:
    sent: list[float] = []
    answered: list[float] = []
    to_all: list[float] = []
    missing = duplicates = gaps = 0
    for tid, (t0, t1) in times.items():
        got: dict[tuple[int, int], float] = {}
        for p, report in enumerate(reports):
            for sub, t in report["receipts"].get(tid, []):
                if (p, sub) in got:
                    duplicates += 1
                    continue
                got[(p, sub)] = t
        missing += sum(ready) - len(got)
        sent.extend(t - t0 for t in got.values())
        answered.extend(t - t1 for t in got.values())
        if got and len(got) >= sum(ready):
            to_all.append(max(got.values()) - t0)
    for report in reports:
        for seq_list in report["seqs"].values():
            duplicates += len(seq_list) - len(set(seq_list))
            ordered = sorted(set(seq_list))
            gaps += sum(b - a - 1 for a, b in itertools.pairwise(ordered))
    return {
        "deliveries": len(sent),
        "missing": missing,
        "duplicates": duplicates,
        "gaps": gaps,
        "from_call_sent": latency_summary(sent),
        "from_call_answered": latency_summary(answered),
        "until_all_have_it": latency_summary(to_all),
    }


def run(size: dict[str, Any], work: Path, profile: Path | None = None) -> dict[str, Any]:
    """Two servers on one PostgreSQL database, the subscribers, the calls; the JSON section."""
    with PgCluster() as pg, hall_servers() as start:
        url = pg.url(pg.create_database("fanout"))
        servers = start_bench_servers(start, url, work, windows=WINDOWS, password=PASSWORD, processes=2)
        first = servers[0]
        display = first.create_token("display", BENCH_HALL)
        kiosk = first.create_token("kiosk", BENCH_HALL)
        clerks = _clerks(first, first.login("bench-manager", PASSWORD)["token"])
        asyncio.run(_issue(first, kiosk, size["calls"] + WINDOWS))
        snap = first.session(display).get(f"{first.api}/halls/{BENCH_HALL}/snapshot", timeout=30)
        snap.raise_for_status()
        since = int(snap.json().get("last_seq", 0))
        time.sleep(1.0)
        rss_before = [_rss_kb(s.proc.pid) for s in servers if s.proc is not None]

        ctx = mp.get_context("spawn")
        per = [size["subscribers"] // len(servers)] * len(servers)
        per[0] += size["subscribers"] - sum(per)
        procs, pipes = [], []
        for s, n in zip(servers, per, strict=True):
            parent, child = ctx.Pipe()
            ws_url = f"ws://{HOST}:{s.port}{API}/halls/{BENCH_HALL}/events/ws?since={since}"
            proc = ctx.Process(target=_subscriber_main, args=(ws_url, n, display, child), daemon=True)
            proc.start()
            procs.append(proc)
            pipes.append(parent)
        try:
            t_connect = time.monotonic()
            hellos = []
            for parent in pipes:
                if not parent.poll(360):
                    raise RuntimeError("subscribers did not connect in time")
                hellos.append(parent.recv())
            connect_s = time.monotonic() - t_connect
            time.sleep(2.0)
            rss_idle = [_rss_kb(s.proc.pid) for s in servers if s.proc is not None]
            cpu0 = [proc_cpu(s.proc.pid) for s in servers if s.proc is not None]
            client0 = [proc_cpu(p.pid) for p in procs if p.pid is not None]
            profiler = contextlib.nullcontext()
            if profile is not None:
                from benchmarks.load import Profiler  # py-spy on the first server while it fans out

                profiler = Profiler(profile, first, "fanout-server1")
            with profiler as prof:
                times, errors = asyncio.run(_calls(servers, clerks, size["calls"], size["interval"]))
                time.sleep(3.0)  # the last event reaches everyone
            cpu1 = [proc_cpu(s.proc.pid) for s in servers if s.proc is not None]
            client1 = [proc_cpu(p.pid) for p in procs if p.pid is not None]
            reports = []
            for parent in pipes:
                parent.send("stop")
                if not parent.poll(120):
                    raise RuntimeError("a subscriber process did not report")
                reports.append(parent.recv())
        finally:
            for proc in procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)
    profile_summary = prof.summary() if profile is not None else None
    ready = [h["ready"] for h in hellos]
    subscribers = max(1, sum(ready))
    return {
        "servers": len(servers),
        "subscribers_connected": ready,
        "subscriber_failures": [h["failures"] for h in hellos] + [r["failures"] for r in reports],
        "connect_s": round(connect_s, 2),
        "calls": len(times),
        "call_errors": dict(errors),
        **_analyse(times, reports, ready),
        "server_rss_mb": {
            "before_subscribers": [round(r / 1024, 1) for r in rss_before],
            "with_idle_subscribers": [round(r / 1024, 1) for r in rss_idle],
        },
        "rss_per_idle_subscriber_kb": round((sum(rss_idle) - sum(rss_before)) / subscribers, 1),
        "server_cpu_s_during_calls": [round(b - a, 2) for a, b in zip(cpu0, cpu1, strict=True)],
        "client_cpu_s_during_calls": [round(b - a, 2) for a, b in zip(client0, client1, strict=True)],
        "server_cpu_ms_per_delivery": round(
            1000 * sum(b - a for a, b in zip(cpu0, cpu1, strict=True)) / max(1, len(times) * subscribers), 3
        ),
        "profile": profile_summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 subscribers, 10 calls")
    parser.add_argument("--subscribers", type=int, help="override the number of subscribers")
    parser.add_argument("--calls", type=int, help="override the number of calls")
    parser.add_argument("--profile", type=Path, help="sample the first server with py-spy into this folder")
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    parser.add_argument("--out", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    gc.disable()  # the measuring process never pauses for the collector
    size = dict(SIZES["quick" if args.quick else "full"])
    if args.subscribers:
        size["subscribers"] = args.subscribers
    if args.calls:
        size["calls"] = args.calls
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hall-fanout-") as tmp:
        result = run(size, Path(tmp), args.profile)
    # The aim counts from the call's answer (what a clerk sees) to each subscriber's receipt.
    p99 = result["from_call_answered"]["p99_ms"]
    doc = {
        "benchmark": "ws_fanout_two_processes_postgres",
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": list(load_before),
            "loadavg_after": list(os.getloadavg()),
        },
        "size": size,
        **result,
        "aims": {"p99_ms": AIM_P99_MS, "missing": 0},
        "meets_aims": {
            "p99": p99 is not None and p99 <= AIM_P99_MS,
            "none_missing": result["missing"] == 0 and result["gaps"] == 0,
        },
    }
    emit(doc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
