"""Small helpers for the benchmarks: a lean keep-alive HTTP/1.1 client, percentiles, seed files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fixtures.server import HallServer, HallServerFactory

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


class HttpError(RuntimeError):
    """The connection broke or the answer was not HTTP/1.1 we understand."""


class RawHttp:
    """One keep-alive HTTP/1.1 connection on asyncio streams.

    The load client shares two cores with the server, so it must cost little CPU per
    request: requests/httpx spend several times more Python per call than this does.
    """

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None
        self._fresh = True

    async def connect(self) -> RawHttp:
        self._r, self._w = await asyncio.open_connection(self.host, self.port)
        self._fresh = True
        return self

    async def close(self) -> None:
        if self._w is not None:
            self._w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._w.wait_closed()
            self._w = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer: (status, body bytes)."""
        if self._w is None:
            await self.connect()
        assert self._r is not None and self._w is not None
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(payload)}",
        ]
        if payload:
            lines.append("Content-Type: application/json")
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        reused = self._fresh is False
        self._fresh = False
        self._w.write(raw)
        try:
            head = await self._r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            stale = isinstance(exc, ConnectionError) or not exc.partial
            if not (reused and stale):
                raise HttpError(f"connection lost: {exc!r}") from exc
            # The server closed an idle keep-alive connection before reading our request
            # (uvicorn's keep-alive timeout): nothing was processed, so send it again once.
            await self.connect()
            assert self._r is not None and self._w is not None
            self._fresh = False
            self._w.write(raw)
            try:
                head = await self._r.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc2:
                await self.close()
                raise HttpError(f"connection lost: {exc2!r}") from exc2
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length = None
        chunked = False
        close = False
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and "close" in value.lower():
                close = True
        if chunked:
            data = bytearray()
            while True:
                size = int((await self._r.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._r.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
            data_b = bytes(data)
        elif length is not None:
            data_b = await self._r.readexactly(length)
        else:
            data_b = await self._r.read()
            close = True
        if close:
            await self.close()
        return status, data_b


API = "/api/v1"


async def issue_ticket(
    conn: RawHttp, hall: str, service_code: str, channel: str | None = None
) -> tuple[int, bytes]:
    """One ticket issued at a kiosk's connection, with a fresh Idempotency-Key: (status, body)."""
    body: dict[str, Any] = {"service_code": service_code}
    if channel is not None:
        body["channel"] = channel
    return await conn.request(
        "POST", f"{API}/halls/{hall}/tickets", body, {"Idempotency-Key": uuid.uuid4().hex}
    )


class WindowCaller:
    """One window's connection and the ticket it holds: call-next, then 下一位 (the ticket in
    hand closed as a no-show and the next called), one request per call."""

    def __init__(self, wid: int, conn: RawHttp) -> None:
        self.wid = wid
        self.conn = conn
        self.holding: int | None = None

    def request(self) -> Any:
        """The call's request (a coroutine: the caller may bound it with a timeout)."""
        if self.holding is None:
            return self.conn.request("POST", f"{API}/windows/{self.wid}/call-next")
        return self.conn.request(
            "POST", f"{API}/windows/{self.wid}/next", {"close": "no_show", "ticket_id": self.holding}
        )

    def answered(self, status: int, body: bytes) -> tuple[str, Any]:
        """('called', ticket) | ('empty', '') | ('error', text), the ticket in hand kept up to date."""
        if status != 200:
            try:
                error = json.loads(body)["error"]
                code = str(error["code"])
            except (ValueError, KeyError, TypeError):
                error, code = {}, f"HTTP {status}"
            if code == "queue.empty":
                self.holding = None
                return "empty", ""
            if code == "window.busy" and (error.get("detail") or {}).get("ticket_id"):
                # The window still holds a ticket (an answer lost to a timeout): the error names
                # it, so the next call closes it, as a clerk's 下一位 would.
                self.holding = int(error["detail"]["ticket_id"])
                return "error", "window.busy (recovered)"
            return "error", f"{code}: {body[:120].decode(errors='replace')}"
        data = json.loads(body)
        ticket = data.get("called") if self.holding is not None else data
        self.holding = int(ticket["id"]) if ticket else None
        return ("called", ticket) if ticket else ("empty", "")

    async def call(self) -> tuple[str, Any]:
        """One call: call-next or 下一位, answered."""
        status, body = await self.request()
        return self.answered(status, body)


def proc_cpu(pid: int, reaped: bool = False) -> float:
    """User+system CPU seconds of one process (0 if it is gone), plus its reaped children's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_of(ppid: int) -> list[int]:
    """The pids of a process's live children (read from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append(int(entry))
    return out


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds rounded to 0.01 ms."""
    return None if seconds is None else round(seconds * 1000.0, 2)


def latency_summary(samples: list[float]) -> dict[str, Any]:
    """p50/p90/p99/max of a list of latencies in seconds, in ms."""
    return {
        "n": len(samples),
        "p50_ms": ms(percentile(samples, 50)),
        "p90_ms": ms(percentile(samples, 90)),
        "p99_ms": ms(percentile(samples, 99)),
        "max_ms": ms(max(samples) if samples else None),
    }


BENCH_HALL = "bench-hall"
BENCH_PREFIXES = ("A", "B", "C")


def bench_seed(windows: int, password: str = "bench-pass") -> dict[str, Any]:
    """A seed document with one hall of `windows` windows (each serving A, B, C) and as many clerks."""
    services = []
    groups = []
    for i, prefix in enumerate(BENCH_PREFIXES):
        code = f"BENCH-{i + 1:03d}"
        services.append(
            {
                "code": code,
                "name": f"压测事项{prefix}",
                "sub_name": "",
                "category": "压测",
                "department": "压测部门",
                "legal_basis": "",
                "time_limit_days": 0,
                "promise_days": 0,
                "materials": [{"name": "居民身份证", "copies": 1, "original": True, "note": ""}],
                "forms": [],
                "steps": ["取号", "办理"],
                "fee": "不收费",
                "online_url": "",
            }
        )
        groups.append({"prefix": prefix, "name": f"压测{prefix}组", "services": [code]})
    return {
        "city": "压测市",
        "timezone": "Asia/Shanghai",
        "demo_open_all_day": True,
        "services": services,
        "halls": [
            {
                "id": BENCH_HALL,
                "name": "压测政务服务中心",
                "short_name": "压测中心",
                "level": "city",
                "parent": None,
                "address": "",
                "phone": "",
                "notices": [],
                "policy": {
                    "green_mode": "ratio",
                    "green_ratio": [1, 2],
                    "recall_cap": 5,
                    "elderly_age": 70,
                    "per_person_daily_limit": 1000000,
                    "daily_cap_per_group": 1000000,
                    "target_wait_minutes": 30,
                    "allow_anonymous": True,
                },
                "opening_hours": [["00:00", "23:59"]],
                "groups": groups,
                "windows": [
                    {
                        "number": n,
                        "name": "综合受理窗口",
                        "kind": "comprehensive",
                        "groups": dict.fromkeys(BENCH_PREFIXES, 1),
                    }
                    for n in range(1, windows + 1)
                ],
                "clerks": [
                    {"username": f"bench{n:03d}", "name": f"压测员{n}", "password": password}
                    for n in range(1, windows + 1)
                ],
            }
        ],
        "managers": [
            {"username": "bench-manager", "name": "压测经理", "password": password, "hall": BENCH_HALL}
        ],
        "admins": [{"username": "bench-admin", "password": password}],
    }


def start_bench_servers(
    start: HallServerFactory,
    db_url: str,
    work: Path,
    *,
    windows: int,
    password: str = "bench-pass",
    processes: int = 1,
    data_dir: Path | None = None,
) -> list[HallServer]:
    """`hall-server serve` processes on db_url with the benchmark hall (bench_seed): the first
    migrates and seeds the database, the others serve the same one."""
    seed_path = work / "bench_seed.json"
    seed_path.write_text(json.dumps(bench_seed(windows, password), ensure_ascii=False), encoding="utf-8")
    data_dir = data_dir or work / "data"
    first = start(db_url, data_dir, seed_file=seed_path)
    return [first] + [start(db_url, data_dir, prepare=False) for _ in range(processes - 1)]


def emit(doc: dict[str, Any], out: str | None) -> None:
    """Print a benchmark's JSON document, and write it to `out` too when one is given."""
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
