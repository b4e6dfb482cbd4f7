"""Cold start of `hall-server serve` on an existing database: time to the first /health answer, idle RSS.

    .venv/bin/python benchmarks/bench_cold_start.py --quick      # 3 starts
    .venv/bin/python benchmarks/bench_cold_start.py --starts 15  # more starts
    .venv/bin/python benchmarks/bench_cold_start.py --out benchmarks/results/cold-start-DATE.json
    .venv/bin/python benchmarks/bench_cold_start.py --tickets 100000   # also RSS after 100,000 tickets

The database is migrated and seeded once (tests/fixtures/server.py's helpers); every start then
execs the real command line on it, polls GET /api/v1/health every 2 ms on a raw socket and
counts from just before the exec to the first 200; `cpu_to_first_answer_s` is the CPU the
server process had used by then (user+system), which depends much less on the other load of a
shared machine than the wall time does. After the answer the server is left idle for
a moment and its VmRSS read from /proc. `imports` is `python -X importtime` of the modules
`serve` loads, the largest cumulative costs first (one run; import times swing with the load).
With --tickets N one more server (on a database with the benchmark hall) is read idle, then after
16 kiosk connections issued N tickets through it, then again after a pause: `memory_after_tickets`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import (
    BENCH_HALL,
    BENCH_PREFIXES,
    REPO_ROOT,
    RawHttp,
    emit,
    proc_cpu,
    start_bench_servers,
)
from tests.fixtures.server import (
    SMALL_SEED,
    HallServer,
    cli_command,
    free_port,
    hall_servers,
    prepare_database,
)

logger = logging.getLogger("bench_cold_start")

POLL_S = 0.002
START_TIMEOUT_S = 60.0
IDLE_SETTLE_S = 1.0
IMPORT_MODULES = "import hall_server.cli, uvicorn, hall_server.app, hall_server.migrate"
FRAMEWORK_IMPORTS = "import gc; gc.disable(); import fastapi, pydantic_settings, sqlalchemy.orm, uvicorn"


def _health_once(port: int) -> int | None:
    """One GET /api/v1/health on a fresh connection: the status, or None if nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
    except OSError:
        return None
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def _rss_kb(pid: int) -> int | None:
    """VmRSS of a process in kB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _until_first_answer(proc: subprocess.Popen[bytes], port: int, t0: float, log: Any) -> dict[str, Any]:
    """Poll /health until a 200; wall and CPU to it, then the idle RSS a moment later."""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log()}")
        if _health_once(port) == 200:
            break
        if time.perf_counter() - t0 > START_TIMEOUT_S:
            raise RuntimeError(f"no answer in {START_TIMEOUT_S}s:\n{log()}")
        time.sleep(POLL_S)
    elapsed = time.perf_counter() - t0
    # CPU seconds of the start-up: what the server spent, whatever else the machine runs.
    cpu = proc_cpu(proc.pid)
    time.sleep(IDLE_SETTLE_S)
    rss = _rss_kb(proc.pid)
    return {
        "first_answer_s": round(elapsed, 4),
        "cpu_s": round(cpu, 3),
        "idle_rss_mb": None if rss is None else round(rss / 1024, 1),
    }


def one_start(db_url: str, data_dir: Path) -> dict[str, Any]:
    """Exec `hall-server serve`, time it to the first 200 of /health, read its idle RSS, stop it."""
    server = HallServer(db_url=db_url, data_dir=data_dir, port=free_port())
    t0 = time.perf_counter()
    server.launch()
    assert server.proc is not None
    try:
        return _until_first_answer(server.proc, server.port, t0, server.log_tail)
    finally:
        server.stop()


def _start_process(argv: list[str], port: int, root: Path = REPO_ROOT) -> dict[str, Any]:
    """Exec argv (a server listening on port) in the tree at root, measure it to its first answer, stop it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        return _until_first_answer(proc, port, t0, lambda: "")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def zeroconf_start(db_url: str, data_dir: Path) -> dict[str, Any]:
    """`hall-server serve` as installed (advertising on the LAN, here on loopback only)."""
    port = free_port()
    argv = [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url]
    return _start_process([*argv, "--data-dir", str(data_dir)], port)


def other_tree_start(root: Path, db_url: str, data_dir: Path) -> dict[str, Any]:
    """`hall-server serve` of another checkout (e.g. main before a change) on the same database."""
    port = free_port()
    argv = [*cli_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url]
    return _start_process([*argv, "--data-dir", str(data_dir), "--no-zeroconf"], port, root)


def floor_start(db_url: str) -> dict[str, Any]:
    """The same measure of benchmarks/_floor_app.py: the frameworks with one route, no hall server."""
    port = free_port()
    return _start_process(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "_floor_app.py"), str(port), db_url], port
    )


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of a series of starts."""
    return {
        "first_answer_s_median": round(statistics.median(r["first_answer_s"] for r in runs), 4),
        "cpu_to_first_answer_s_median": round(statistics.median(r["cpu_s"] for r in runs), 3),
        "cpu_all": [r["cpu_s"] for r in runs],
        "idle_rss_mb_median": statistics.median(r["idle_rss_mb"] or 0.0 for r in runs),
    }


def interpreter_cpu(code: str) -> float:
    """CPU seconds (user+system) of `python -c code` up to the end of code (not its exit's teardown)."""
    report = "\nimport time as _t; print(_t.process_time())"
    proc = subprocess.run(
        [sys.executable, "-c", code + report], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return round(float(proc.stdout.split()[-1]), 3)


async def _issue(port: int, token: str, n: int, kiosks: int = 16) -> int:
    """Issue n tickets over `kiosks` keep-alive connections; the number that failed."""
    codes = [f"BENCH-{i + 1:03d}" for i in range(len(BENCH_PREFIXES))]
    failed = 0

    async def kiosk(k: int) -> None:
        nonlocal failed
        conn = await RawHttp("127.0.0.1", port, token).connect()
        try:
            for i in range(k, n, kiosks):
                status, _ = await conn.request(
                    "POST",
                    f"/api/v1/halls/{BENCH_HALL}/tickets",
                    {"service_code": codes[i % len(codes)], "channel": "kiosk"},
                    {"Idempotency-Key": uuid.uuid4().hex},
                )
                failed += status != 201
        finally:
            await conn.close()

    await asyncio.gather(*(kiosk(k) for k in range(kiosks)))
    return failed


def memory_after_tickets(work: Path, tickets: int) -> dict[str, Any]:
    """RSS of a server idle, right after issuing `tickets` tickets, and after a pause."""
    db_url = f"sqlite:///{work / 'tickets.sqlite3'}"
    with hall_servers() as start:
        [server] = start_bench_servers(start, db_url, work, windows=4, data_dir=work / "tickets-data")
        assert server.proc is not None
        token = server.create_token("kiosk", BENCH_HALL)
        time.sleep(IDLE_SETTLE_S)
        idle = _rss_kb(server.proc.pid)
        t0 = time.perf_counter()
        failed = asyncio.run(_issue(server.port, token, tickets))
        wall = time.perf_counter() - t0
        right_after = _rss_kb(server.proc.pid)
        time.sleep(5 * IDLE_SETTLE_S)
        settled = _rss_kb(server.proc.pid)
    return {
        "tickets": tickets,
        "failed": failed,
        "tickets_per_s": round(tickets / wall, 1),
        "idle_rss_mb": None if idle is None else round(idle / 1024, 1),
        "rss_right_after_mb": None if right_after is None else round(right_after / 1024, 1),
        "rss_after_pause_mb": None if settled is None else round(settled / 1024, 1),
    }


def import_costs(top: int = 25) -> list[dict[str, Any]]:
    """`python -X importtime` of what serve imports: the largest cumulative costs (ms)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORT_MODULES],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        rows.append(
            {
                "module": name.rstrip(),
                "self_ms": round(int(self_us) / 1000, 1),
                "cumulative_ms": round(int(cum_us) / 1000, 1),
            }
        )
    # Top-level imports are the lines whose name has no indent (one space after the bar).
    total = sum(r["cumulative_ms"] for r in rows if not r["module"].startswith("  "))
    for r in rows:
        r["module"] = r["module"].strip()
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return [{"total_top_level_ms": round(total, 1)}, *rows[:top]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 starts")
    parser.add_argument("--starts", type=int, default=11, help="number of starts (median reported)")
    parser.add_argument("--db", help="an existing database URL (default: a seeded SQLite file in a temp dir)")
    parser.add_argument("--label", default="", help="a name for this run in the JSON (e.g. before/after)")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument(
        "--tickets", type=int, default=0, help="also read RSS after issuing this many tickets"
    )
    parser.add_argument("--no-imports", action="store_true", help="skip the -X importtime run")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the frameworks' floor and the starts with zeroconf"
    )
    parser.add_argument(
        "--other-tree", type=Path, help="also start this checkout's serve, interleaved (a before/after)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    # An installed server starts from its .pyc files; a shell that turned them off would time
    # the compiler instead.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    starts = 3 if args.quick else max(1, args.starts)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="hall-coldstart-") as tmp:
        data_dir = Path(tmp) / "data"
        db_url = args.db or f"sqlite:///{Path(tmp) / 'hall.sqlite3'}"
        if not args.db:
            prepare_database(db_url, data_dir, SMALL_SEED)
        one_start(db_url, data_dir)  # warm-up: page cache, .pyc files, the data key
        runs, floors, advertising, others = [], [], [], []
        if not args.no_floor:
            floor_start(db_url)  # its warm-up
        if args.other_tree:
            other_tree_start(args.other_tree, db_url, data_dir)  # its warm-up
        for i in range(starts):
            # Interleaved, so that the machine's other load falls on all three alike.
            runs.append(one_start(db_url, data_dir))
            logger.info("start %d: %s", i + 1, runs[-1])
            if not args.no_floor:
                floors.append(floor_start(db_url))
                advertising.append(zeroconf_start(db_url, data_dir))
                logger.info("  floor %s, with zeroconf %s", floors[-1], advertising[-1])
            if args.other_tree:
                others.append(other_tree_start(args.other_tree, db_url, data_dir))
                logger.info("  other tree %s", others[-1])
        memory = memory_after_tickets(Path(tmp), args.tickets) if args.tickets > 0 else None
    times = [r["first_answer_s"] for r in runs]
    cpu = [r["cpu_s"] for r in runs]
    rss = [r["idle_rss_mb"] for r in runs if r["idle_rss_mb"] is not None]
    doc: dict[str, Any] = {
        "benchmark": "cold_start",
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": list(load_before),
        },
        "database": "sqlite (small seed)" if not args.db else "given",
        "starts": starts,
        "first_answer_s": {
            "median": round(statistics.median(times), 4),
            "min": min(times),
            "max": max(times),
            "all": times,
        },
        "cpu_to_first_answer_s": {"median": round(statistics.median(cpu), 3), "all": cpu},
        "idle_rss_mb": {"median": statistics.median(rss) if rss else None, "all": rss},
        "aims": {"first_answer_s": 0.5, "idle_rss_mb": 150},
    }
    if others:
        head = subprocess.run(
            ["git", "-C", str(args.other_tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
        ).stdout.strip()
        doc["other_tree"] = {"path": str(args.other_tree), "commit": head, **_summary(others)}
    if floors:
        doc["with_zeroconf"] = _summary(advertising)
        doc["frameworks_floor"] = {
            "what": "benchmarks/_floor_app.py: FastAPI + pydantic(-settings) + SQLAlchemy ORM + uvicorn, "
            "one route, one query; nothing of the hall server",
            **_summary(floors),
            "interpreter_only_cpu_s": statistics.median(interpreter_cpu("pass") for _ in range(3)),
            "framework_imports_only_cpu_s": statistics.median(
                interpreter_cpu(FRAMEWORK_IMPORTS) for _ in range(3)
            ),
        }
    doc["meets_aims"] = {
        "first_answer": doc["first_answer_s"]["median"] <= 0.5,
        "idle_rss": bool(rss) and statistics.median(rss) <= 150,
    }
    if memory is not None:
        doc["memory_after_tickets"] = memory
    doc["machine"]["loadavg_after"] = list(os.getloadavg())
    if not args.no_imports:
        doc["imports"] = import_costs()
    emit(doc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
