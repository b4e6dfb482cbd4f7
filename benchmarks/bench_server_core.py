"""CPU cost of the hall server's hot requests inside the app (no HTTP client, no network).

Drives the real ASGI app directly (routing, auth, validation, one transaction, events,
JSON) on a SQLite file, and reports CPU milliseconds per request for issuing a ticket,
call-next and no-show at several queue lengths. These figures do not depend on how busy
the machine is, unlike throughput; see load.py for the server under real HTTP load.

Run: .venv/bin/python benchmarks/bench_server_core.py [--requests 1000]
     .venv/bin/python benchmarks/bench_server_core.py --breakdown [--requests 600]
       (also the CPU of each part of a request: loop and other threads, token look-up, use case,
       statements, commit, the lane's hand-overs; see benchmarks/_breakdown.py)
     .venv/bin/python benchmarks/bench_server_core.py --queue-depth [--waiting 10000]
       (issue cost with an empty queue against the same with 10,000 tickets waiting in its group)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._breakdown import Breakdown
from hall_server.app import create_app
from hall_server.config import Settings
from hall_server.seed import seed
from hall_server.services import sessions

logger = logging.getLogger(__name__)

PASSWORD = "bench-pass"


def _city() -> dict[str, Any]:
    services = [
        {"code": f"S-{i}", "name": f"事项{i}", "category": "综合", "department": "测试"} for i in range(4)
    ]
    return {
        "city": "测试市",
        "timezone": "Asia/Shanghai",
        "services": services,
        "halls": [
            {
                "id": "b-hall",
                "name": "基准测试中心",
                "level": "city",
                "parent": None,
                "policy": {"green_mode": "ratio", "green_ratio": [1, 2]},
                "opening_hours": [],
                "groups": [
                    {"prefix": "A", "name": "A", "services": ["S-0", "S-1"]},
                    {"prefix": "B", "name": "B", "services": ["S-2", "S-3"]},
                ],
                "windows": [{"number": 1, "name": "综合窗口", "groups": {"A": 2, "B": 1}}],
                "clerks": [{"username": "b1", "name": "张三", "password": PASSWORD}],
            }
        ],
        "managers": [],
        "admins": [],
    }


class AsgiDriver:
    """Calls the ASGI app with a prepared request and returns (status, body)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(self, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent: list[dict[str, Any]] = []
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


BATCH = 20  # requests per batch for the shared-machine figure (cpu_ms_min_batch)
# --breakdown: the parts of each phase's requests (installed by main() before the app is built).
BREAKDOWN: Breakdown | None = None


async def _measure(n: int, fn: Any) -> dict[str, Any]:
    if BREAKDOWN is not None:
        BREAKDOWN.start()
    cpu = time.process_time()
    wall = time.perf_counter()
    batches: list[float] = []
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        batch_cpu = time.process_time()
        for _ in range(size):
            await fn()
        batches.append((time.process_time() - batch_cpu) / size)
    batches.sort()
    parts = BREAKDOWN.stop(n) if BREAKDOWN is not None else {}
    return {
        "requests": n,
        "cpu_ms_per_request": round((time.process_time() - cpu) / n * 1000, 3),
        "wall_ms_per_request": round((time.perf_counter() - wall) / n * 1000, 3),
        # On a machine shared with other work the mean moves with the neighbours' load (cache,
        # frequency); the cheapest quarter of the batches is far steadier for comparing two trees.
        "cpu_ms_low_quartile_batch": round(batches[len(batches) // 4] * 1000, 3),
        **parts,
    }


async def run(requests: int, root: Path) -> dict[str, Any]:
    """All phases on one fresh database."""
    data = root / "data"
    app = create_app(Settings(data_dir=data, db_url=f"sqlite:///{root / 'bench.sqlite3'}"))
    ctx = app.state.ctx
    seed(ctx.db, _city())
    ctx.catalog.invalidate()
    from sqlalchemy import select

    from hall_server.auth import create_token
    from hall_server.db.models import Window

    with ctx.db.write() as s:
        kiosk = create_token(s, "kiosk", hall_id="b-hall")[1]
    with ctx.db.read() as s:
        wid = s.execute(select(Window.id).where(Window.hall_id == "b-hall")).scalar_one()
    clerk = sessions.login(ctx, "b1", PASSWORD, wid)["token"]
    drv = AsgiDriver(app)
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        body = json.dumps({"service_code": "S-0"}).encode()

        async def issue() -> None:
            status, text = await drv.request("POST", "/api/v1/halls/b-hall/tickets", kiosk, body)
            assert status == 201, text

        async def call_and_no_show() -> None:
            status, text = await drv.request("POST", f"/api/v1/windows/{wid}/call-next", clerk)
            assert status == 200, text
            status, text = await drv.request("POST", f"/api/v1/windows/{wid}/no-show", clerk)
            assert status == 200, text

        holding: list[int] = []

        async def next_no_show() -> None:
            if not holding:
                status, text = await drv.request("POST", f"/api/v1/windows/{wid}/call-next", clerk)
                assert status == 200, text
                holding.append(json.loads(text)["id"])
            nxt = json.dumps({"close": "no_show", "ticket_id": holding[-1]}).encode()
            status, text = await drv.request("POST", f"/api/v1/windows/{wid}/next", clerk, nxt)
            assert status == 200, text
            holding.append(json.loads(text)["called"]["id"])

        for _ in range(20):  # warm caches and compiled statements
            await issue()
        out["issue"] = await _measure(requests, issue)
        out["issue"]["queue_length_at_end"] = requests + 20
        pairs = await _measure(requests // 2, call_and_no_show)
        out["call_next_plus_no_show"] = {
            **pairs,
            "cpu_ms_per_request": round(pairs["cpu_ms_per_request"] / 2, 3),
            "cpu_ms_low_quartile_batch": round(pairs["cpu_ms_low_quartile_batch"] / 2, 3),
            "wall_ms_per_request": round(pairs["wall_ms_per_request"] / 2, 3),
            "note": "per request, averaged over call-next and no-show",
        }
        for _ in range(requests // 2 + 5):  # tickets for the next phase
            await issue()
        out["next"] = await _measure(requests // 2, next_no_show)
        out["next"]["note"] = "下一位: no-show the ticket in hand and call the next, one request"
        status, text = await drv.request("POST", f"/api/v1/windows/{wid}/no-show", clerk)
        assert status == 200, text
    return out


def _fill_waiting(ctx: Any, hall_id: str, group: str, service: str, n: int) -> None:
    """n waiting tickets in one group, written in one statement, and the group's counter moved on."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, update

    from hall_server.db.models import NumberCounter, Ticket
    from hall_server.services.tickets import hall_day

    day = hall_day(ctx.catalog.hall(hall_id), ctx.now())
    now = datetime.now(UTC)
    with ctx.db.write() as s:
        start = int(s.execute(_select_counter(NumberCounter, hall_id, group, day)).scalar_one_or_none() or 0)
        rows = [
            {
                "hall_id": hall_id,
                "business_day": day,
                "prefix": group,
                "seq": start + i + 1,
                "number": f"{group}{start + i + 1:05d}",
                "group_prefix": group,
                "service_code": service,
                "status": "waiting",
                "priority": i % 10 == 0,
                "channel": "kiosk",
                "issued_at": now,
                "recall_count": 0,
                "transfer_count": 0,
                "track_token": f"bench-fill-{start + i}",
            }
            for i in range(n)
        ]
        s.execute(insert(Ticket), rows)
        s.execute(
            update(NumberCounter)
            .where(
                NumberCounter.hall_id == hall_id,
                NumberCounter.prefix == group,
                NumberCounter.business_day == day,
            )
            .values(value=start + n)
        )


def _select_counter(model: Any, hall_id: str, group: str, day: Any) -> Any:
    """The group's last drawn number today."""
    from sqlalchemy import select

    return select(model.value).where(
        model.hall_id == hall_id, model.prefix == group, model.business_day == day
    )


async def run_queue_depth(requests: int, waiting: int, root: Path) -> dict[str, Any]:
    """Issue cost with an empty queue, then with `waiting` tickets ahead in the same group."""
    app = create_app(Settings(data_dir=root / "data", db_url=f"sqlite:///{root / 'depth.sqlite3'}"))
    ctx = app.state.ctx
    seed(ctx.db, _city())
    ctx.catalog.invalidate()
    from hall_server.auth import create_token

    with ctx.db.write() as s:
        kiosk = create_token(s, "kiosk", hall_id="b-hall")[1]
    drv = AsgiDriver(app)
    body = json.dumps({"service_code": "S-0"}).encode()
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):

        async def issue() -> None:
            status, text = await drv.request("POST", "/api/v1/halls/b-hall/tickets", kiosk, body)
            assert status == 201, text

        await issue()  # the group's counter row exists from here on
        for _ in range(20):
            await issue()
        out["empty_queue"] = await _measure(requests, issue)
        # The same number of tickets again, now behind `waiting` others of the group.
        _fill_waiting(ctx, "b-hall", "A", "S-0", waiting)
        for _ in range(20):
            await issue()
        out[f"waiting_{waiting}"] = await _measure(requests, issue)
    for phase in out.values():
        phase["tickets_per_s_cpu"] = round(1000 / phase["cpu_ms_per_request"], 1)
        phase["tickets_per_s_cpu_low_quartile"] = round(1000 / phase["cpu_ms_low_quartile_batch"], 1)
    out["ratio_waiting_to_empty"] = round(
        out[f"waiting_{waiting}"]["tickets_per_s_cpu"] / out["empty_queue"]["tickets_per_s_cpu"], 3
    )
    out["note"] = "tickets/s of one core from server CPU per issue (the app in-process, no HTTP)"
    return out


def main() -> None:
    """Print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--queue-depth", action="store_true", help="issue with an empty queue vs many waiting"
    )
    parser.add_argument("--waiting", type=int, default=10_000, help="tickets waiting for --queue-depth")
    parser.add_argument("--breakdown", action="store_true", help="also the CPU of each part of a request")
    args = parser.parse_args()
    if args.breakdown:
        global BREAKDOWN
        BREAKDOWN = Breakdown()
        BREAKDOWN.install()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    root = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    try:
        if args.queue_depth:
            result = {"queue_depth": asyncio.run(run_queue_depth(args.requests, args.waiting, root))}
        else:
            result = asyncio.run(run(args.requests, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    import os

    print(
        json.dumps(
            {"benchmark": "server_core", "db": "sqlite", "load_average": os.getloadavg(), **result},
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
