"""Two real server processes on one database: 8 kiosks issuing and 4 windows calling at once."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.server import (
    SMALL_SEED,
    HallServer,
    error_code,
    fetch_events,
    number_seq,
    prepare_database,
)

logger = logging.getLogger(__name__)

HALL = "t-hall"
SERVICES = ("T-001", "T-002", "T-003")  # A, A, B in the small seed
PREFIX_OF = {"T-001": "A", "T-002": "A", "T-003": "B"}
KIOSKS = 8
TICKETS_PER_KIOSK = 30
WINDOW_NUMBERS = (1, 2, 3, 4)
CLERKS = {
    1: ("clerk1", "test-pass-1"),
    2: ("clerk2", "test-pass-2"),
    3: ("clerk3", "test-pass-3"),
    4: ("clerk4", "test-pass-4"),
}
MANAGER = ("manager", "test-pass-m")
RUN_DEADLINE_S = 150.0


@pytest.fixture
def two_servers(empty_db_url: str, hall_server_proc: Any, tmp_path: Path) -> tuple[HallServer, HallServer]:
    """Two hall-server processes sharing one database and one data folder (one key)."""
    data_dir = tmp_path / "data"
    prepare_database(empty_db_url, data_dir, SMALL_SEED)
    # Both processes start at once (they share the data folder, hence the key).
    first, second = hall_server_proc.start_many(2, empty_db_url, data_dir)
    return first, second


def _window_ids(server: HallServer, token: str) -> dict[int, int]:
    hall = server.hall(HALL, token)
    return {int(w["number"]): int(w["id"]) for w in hall["windows"]}


class Recorder:
    """Thread-safe store of what the clients saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: list[dict[str, Any]] = []
        self.calls: list[tuple[int, dict[str, Any]]] = []  # (window id, ticket)
        self.errors: list[str] = []

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def _issuer(servers: list[HallServer], token: str, k: int, rec: Recorder, deadline: float) -> None:
    sessions = [s.session(token) for s in servers]
    for i in range(TICKETS_PER_KIOSK):
        if time.monotonic() > deadline:
            rec.error(f"kiosk {k}: deadline passed after {i} tickets")
            return
        # Requests alternate between the two processes, so both draw numbers at once.
        n = (k + i) % len(servers)
        code = SERVICES[(k * 7 + i) % len(SERVICES)]
        try:
            r = sessions[n].post(
                f"{servers[n].api}/halls/{HALL}/tickets",
                json={"service_code": code, "channel": "kiosk"},
                headers={"Idempotency-Key": f"k{k}-{i}-{uuid.uuid4().hex}"},
                timeout=60,
            )
        except requests.RequestException as exc:
            rec.error(f"kiosk {k} ticket {i}: {exc!r}")
            continue
        if r.status_code != 201:
            rec.error(f"kiosk {k} ticket {i}: HTTP {r.status_code} {r.text[:300]}")
            continue
        with rec.lock:
            rec.issued.append(r.json())


def _window(
    servers: list[HallServer],
    token: str,
    window_id: int,
    rec: Recorder,
    issuing_done: threading.Event,
    deadline: float,
) -> None:
    """Call, start and close tickets, alternating the two processes and two ways of moving on.

    Every other ticket is finished with 下一位 (finish it and call the next in one request);
    the others with finish, and the next comes from call-next.
    """
    sessions = [s.session(token) for s in servers]
    i = 0
    empty_after_done = 0
    holding: dict | None = None

    def post(n: int, step: str, **body: object) -> requests.Response:
        return sessions[n].post(f"{servers[n].api}/windows/{window_id}/{step}", json=body or None, timeout=60)

    while time.monotonic() < deadline:
        i += 1
        n, m = i % len(servers), (i + 1) % len(servers)
        if holding is not None:
            # The other process acts on the ticket this one called: state lives in the DB.
            r = post(m, "start")
            if r.status_code != 200:
                rec.error(
                    f"window {window_id} start {holding.get('number')}: HTTP {r.status_code} {r.text[:300]}"
                )
            if i % 2:
                r = post(n, "next", close="finish", ticket_id=holding["id"])
                if r.status_code != 200:
                    rec.error(f"window {window_id} next: HTTP {r.status_code} {r.text[:300]}")
                    holding = None
                    continue
                holding = r.json()["called"]
                if holding is not None:
                    with rec.lock:
                        rec.calls.append((window_id, holding))
                continue
            r = post(n, "finish")
            if r.status_code != 200:
                rec.error(
                    f"window {window_id} finish {holding.get('number')}: HTTP {r.status_code} {r.text[:300]}"
                )
            holding = None
            continue
        done_before = issuing_done.is_set()
        try:
            r = post(n, "call-next")
        except requests.RequestException as exc:
            rec.error(f"window {window_id} call-next: {exc!r}")
            continue
        if r.status_code == 200:
            holding = r.json()
            with rec.lock:
                rec.calls.append((window_id, holding))
            continue
        if error_code(r) == "queue.empty":
            if done_before:
                empty_after_done += 1
                if empty_after_done >= 2:
                    return
            time.sleep(0.02)
            continue
        rec.error(f"window {window_id} call-next: HTTP {r.status_code} {r.text[:300]}")
        time.sleep(0.05)
    rec.error(f"window {window_id}: deadline passed")


def test_two_processes_issue_and_call_without_duplicates(two_servers: tuple[HallServer, HallServer]) -> None:
    """Numbers are unique and gap-free per prefix, each ticket is called once by one window, seqs are gap-free."""
    first, second = two_servers
    servers = [first, second]
    kiosk_token = first.create_token("kiosk", HALL)
    manager_token = second.login(*MANAGER)["token"]
    window_ids = _window_ids(first, manager_token)
    clerk_tokens: dict[int, str] = {}
    for number in WINDOW_NUMBERS:
        # Clerks log in on alternating processes; a token from one process works on the other.
        login_server = servers[number % 2]
        clerk_tokens[window_ids[number]] = login_server.login(*CLERKS[number], window_id=window_ids[number])[
            "token"
        ]

    rec = Recorder()
    deadline = time.monotonic() + RUN_DEADLINE_S
    issuing_done = threading.Event()
    issuers = [
        threading.Thread(target=_issuer, args=(servers, kiosk_token, k, rec, deadline), name=f"kiosk-{k}")
        for k in range(KIOSKS)
    ]
    windows = [
        threading.Thread(
            target=_window, args=(servers, tok, wid, rec, issuing_done, deadline), name=f"window-{wid}"
        )
        for wid, tok in clerk_tokens.items()
    ]
    for t in issuers + windows:
        t.start()
    for t in issuers:
        t.join(RUN_DEADLINE_S + 30)
    issuing_done.set()
    for t in windows:
        t.join(RUN_DEADLINE_S + 30)
    assert not any(t.is_alive() for t in issuers + windows), "client threads hung"
    assert rec.errors == [], "\n".join(rec.errors[:20])

    # Every ticket was acknowledged, and numbers are unique and contiguous per prefix.
    assert len(rec.issued) == KIOSKS * TICKETS_PER_KIOSK
    ids = [t["id"] for t in rec.issued]
    assert len(set(ids)) == len(ids), "two issue requests got the same ticket id"
    by_prefix: dict[str, list[int]] = defaultdict(list)
    for t in rec.issued:
        assert t["prefix"] == PREFIX_OF[t["service_code"]]
        by_prefix[t["prefix"]].append(number_seq(t["number"], t["prefix"]))
    expected_counts = Counter(
        PREFIX_OF[SERVICES[(k * 7 + i) % 3]] for k in range(KIOSKS) for i in range(TICKETS_PER_KIOSK)
    )
    for prefix, seqs in by_prefix.items():
        dupes = [n for n, c in Counter(seqs).items() if c > 1]
        assert not dupes, f"{prefix}: numbers issued twice: {dupes}"
        assert sorted(seqs) == list(range(1, expected_counts[prefix] + 1)), f"{prefix}: gap in numbers"

    # Each ticket was called exactly once (the queue was drained), never by two windows.
    called_ids = [t["id"] for _w, t in rec.calls]
    twice = [i for i, c in Counter(called_ids).items() if c > 1]
    assert not twice, f"tickets called more than once: {twice}"
    assert set(called_ids) == set(ids)
    for wid, t in rec.calls:
        assert t["window_id"] == wid
        assert t["status"] == "called"

    # The server agrees: every ticket of today is finished, at the window that called it.
    s = first.session(manager_token)
    r = s.get(f"{first.api}/halls/{HALL}/tickets", timeout=60)
    r.raise_for_status()
    stored = {t["id"]: t for t in r.json()}
    assert set(stored) == set(ids)
    window_of = {t["id"]: w for w, t in rec.calls}
    for tid, t in stored.items():
        assert t["status"] == "finished", t
        assert t["window_id"] == window_of[tid]

    # The event log: seqs 1..N with no gap or repeat, one issued and one called event per ticket.
    events = fetch_events(second, HALL, manager_token)
    seqs = [int(e["seq"]) for e in events]
    assert len(seqs) == len(set(seqs)), "event seq repeated"
    assert seqs == list(range(1, len(seqs) + 1)), "event seqs have a gap or come out of order"
    per_type = Counter(e["type"] for e in events)
    assert per_type["ticket.issued"] == len(ids)
    assert per_type["ticket.called"] == len(ids)
    assert per_type["ticket.finished"] == len(ids)
    called_events = [e for e in events if e["type"] == "ticket.called"]
    ev_ids = [e["payload"]["ticket"]["id"] for e in called_events]
    assert sorted(ev_ids) == sorted(ids)
    for e in called_events:
        assert e["payload"]["window"]["id"] == window_of[e["payload"]["ticket"]["id"]]


def test_double_click_on_both_processes_gives_one_ticket(two_servers: tuple[HallServer, HallServer]) -> None:
    """The same Idempotency-Key sent at once to both processes yields one ticket and one number."""
    first, second = two_servers
    token = first.create_token("kiosk", HALL)
    results: list[requests.Response] = []
    lock = threading.Lock()
    keys = [f"dbl-{uuid.uuid4().hex}" for _ in range(10)]
    barrier = threading.Barrier(4)

    def click(server: HallServer, key_list: list[str]) -> None:
        s = server.session(token)
        barrier.wait(timeout=30)
        for key in key_list:
            r = s.post(
                f"{server.api}/halls/{HALL}/tickets",
                json={"service_code": "T-001", "channel": "kiosk"},
                headers={"Idempotency-Key": key},
                timeout=60,
            )
            with lock:
                results.append(r)

    threads = [threading.Thread(target=click, args=(srv, keys)) for srv in (first, second, first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4 * len(keys)
    assert all(r.status_code in (200, 201) for r in results), [(r.status_code, r.text[:200]) for r in results]
    assert sum(r.status_code == 201 for r in results) == len(keys), "a repeated key created another ticket"
    by_id = {r.json()["id"]: r.json()["number"] for r in results}
    assert len(by_id) == len(keys)
    assert sorted(number_seq(n, "A") for n in by_id.values()) == list(range(1, len(keys) + 1))


class Subscriber(threading.Thread):
    """A display listening on one server's WebSocket; keeps every event it receives, in order."""

    def __init__(self, server: HallServer, token: str, since: int) -> None:
        super().__init__(daemon=True, name=f"ws-{server.port}")
        self.url = f"{server.ws_api}/halls/{HALL}/events/ws?since={since}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self.url, open_timeout=30, additional_headers=self.headers) as ws:
                self.connected.set()
                while not self.stop.is_set():
                    try:
                        raw = ws.recv(timeout=0.2)
                    except TimeoutError:
                        continue
                    self.events.append(json.loads(raw))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
            self.connected.set()

    def seqs(self) -> list[int]:
        return [int(e["seq"]) for e in list(self.events)]


def test_events_reach_subscribers_of_both_processes_in_order(
    two_servers: tuple[HallServer, HallServer],
) -> None:
    """A display on either process gets every event, whichever process wrote it: gap-free and in seq order."""
    first, second = two_servers
    kiosk = first.create_token("kiosk", HALL)
    display = first.create_token("display", HALL)
    window_id = _window_ids(first, display)[2]
    clerk = second.login(*CLERKS[2], window_id=window_id)["token"]
    subs = [Subscriber(first, display, 0), Subscriber(second, display, 0)]
    for sub in subs:
        sub.start()
        assert sub.connected.wait(30)
        assert sub.error is None, sub.error
    expected_calls: list[int] = []
    for i in range(20):
        # Writers alternate: odd tickets through one process, even through the other.
        srv = (first, second)[i % 2]
        r = srv.session(kiosk).post(
            f"{srv.api}/halls/{HALL}/tickets",
            json={"service_code": SERVICES[i % 3], "channel": "kiosk"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        if i % 4 == 3:
            c = (second, first)[i % 2].session(clerk)
            srv2 = (second, first)[i % 2]
            called = c.post(f"{srv2.api}/windows/{window_id}/call-next", timeout=30)
            assert called.status_code == 200, called.text
            expected_calls.append(called.json()["id"])
            assert c.post(f"{srv2.api}/windows/{window_id}/no-show", timeout=30).status_code == 200
    log = fetch_events(first, HALL, display)
    last = int(log[-1]["seq"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any((s.seqs() or [0])[-1] < last for s in subs):
        time.sleep(0.05)
    for sub in subs:
        sub.stop.set()
        sub.join(10)
        assert sub.error is None, sub.error
        assert sub.seqs() == list(range(1, last + 1)), f"{sub.name}: events missing, repeated or out of order"
        assert [e["type"] for e in sub.events] == [e["type"] for e in log]
        calls = [e["payload"]["ticket"]["id"] for e in sub.events if e["type"] == "ticket.called"]
        assert calls == expected_calls
        assert all(
            e["payload"]["text"].endswith("号到2号窗口办理")
            for e in sub.events
            if e["type"] == "ticket.called"
        )
