"""The hot routes keep every guarantee: idempotent retries, gap-free numbers, typed values, refusals.

Issuing relies on the unique (hall, idempotency key) instead of a look-up first, and the hot
statements run through hall_server.db.prepared on the driver's cursor; on both databases
that must look exactly like the ORM path did to a caller.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request, Response
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hall_server.const import MAX_BODY_BYTES
from hall_server.db.models import Event, NumberCounter, Ticket, Window
from hall_server.db.prepared import Prepared
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, ID_BAD_CHECKSUM, ID_YOUNG, ID_YOUNG_2

T = Ticket.__table__
W = Window.__table__


def _counter(hall: Hall, prefix: str = "A") -> int:
    with hall.ctx.db.read() as s:
        value = s.execute(
            select(NumberCounter.value).where(NumberCounter.hall_id == CITY, NumberCounter.prefix == prefix)
        ).scalar()
    return int(value or 0)


def _event_count(hall: Hall) -> int:
    with hall.ctx.db.read() as s:
        return len(s.execute(select(Event.id)).all())


def test_a_repeated_key_draws_no_number_and_writes_no_event(hall: Hall) -> None:
    first = hall.issue("S-A1", idempotency_key="retry-1")
    assert first.status_code == 201 and first.json()["number"] == "A001"
    events = _event_count(hall)
    for _ in range(3):
        again = hall.issue("S-A1", idempotency_key="retry-1")
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # The refused inserts rolled their counter draws back: no gap before the next number.
    assert _counter(hall) == 1 and _event_count(hall) == events
    assert hall.ok_issue("S-A1", idempotency_key="retry-2")["number"] == "A002"


def test_a_retry_after_the_person_limit_still_gets_its_ticket(hall: Hall) -> None:
    ident = {"id_number": ID_YOUNG}
    one = hall.issue("S-A1", idempotency_key="p-1", identity=ident)
    two = hall.issue("S-A1", idempotency_key="p-2", identity=ident)
    assert one.status_code == two.status_code == 201
    # The limit (2 a day) is reached: a new request is refused with a clear code...
    third = hall.issue("S-A1", idempotency_key="p-3", identity=ident)
    assert third.status_code == 409 and error_code(third) == "issue.person_limit"
    # ...but the kiosk retrying its second request (lost answer) gets that ticket back.
    again = hall.issue("S-A1", idempotency_key="p-2", identity=ident)
    assert again.status_code == 200 and again.json()["id"] == two.json()["id"]
    assert again.json()["holder"]["id_masked"] == two.json()["holder"]["id_masked"]
    # And nothing of the refusals was kept: the next person gets the next number.
    assert hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG_2})["number"] == "A003"


def test_prepared_statements_read_and_write_like_the_orm(hall: Hall) -> None:
    ticket = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "张三"})
    by_id = select(T).where(T.c.id == bindparam("b_id"))
    fast = Prepared(by_id)
    with hall.ctx.db.read() as s:
        conn = s.connection()
        slow_row = conn.execute(by_id, {"b_id": ticket["id"]}).one()
        fast_row = fast.one(conn, {"b_id": ticket["id"]})
        assert fast_row._asdict() == dict(slow_row._mapping)
        assert fast_row.business_day == slow_row.business_day and fast_row.issued_at == slow_row.issued_at
        assert isinstance(fast_row.id_enc, bytes) and fast_row.priority is slow_row.priority
        assert fast.first(conn, {"b_id": -1}) is None
        win_stmt = select(W).where(W.c.id == bindparam("b_id"))
        wid = hall.wid(1)
        assert Prepared(win_stmt).one(conn, {"b_id": wid})._asdict() == dict(
            conn.execute(win_stmt, {"b_id": wid}).one()._mapping
        )
    # An UPDATE sets the columns its parameters name; JSON goes in and comes out as the ORM's.
    set_window = Prepared(update(W).where(W.c.id == bindparam("b_id")).returning(W))
    with hall.ctx.db.tx() as tx:
        row = set_window.one(
            tx.connection(), {"b_id": wid, "call_history": [["A", True]], "status": "paused"}
        )
        assert row.call_history == [["A", True]] and row.status == "paused"
        assert row.groups == {"A": 2, "B": 1}
    with hall.ctx.db.read() as s:
        again = s.execute(select(W).where(W.c.id == wid)).one()
        assert again.call_history == [["A", True]] and again.status == "paused"


def test_prepared_driver_errors_are_sqlalchemy_errors_and_roll_back(hall: Hall) -> None:
    ticket = hall.ok_issue("S-A1")
    with hall.ctx.db.read() as s:
        row = s.execute(select(T).where(T.c.id == ticket["id"])).one()
    dup = {k: v for k, v in row._mapping.items() if k != "id"}
    add = Prepared(insert(T).returning(T.c.id))
    with pytest.raises(IntegrityError), hall.ctx.db.tx() as tx:
        # Another row first (it must not survive), then the same number a second time.
        add.one(tx.connection(), {**dup, "seq": 99, "number": "A099", "track_token": "other-token"})
        add.one(tx.connection(), {**dup, "track_token": "third-token"})
    # The unique number refused the copy, and the failed transaction left nothing behind.
    with hall.ctx.db.read() as s:
        assert len(s.execute(select(T.c.id)).all()) == 1


# --- the hot routes are lean routes inside the one stack: every refusal as the other routes give it
def test_hot_routes_refuse_with_the_codes_of_every_route(hall: Hall) -> None:
    issue = f"{API}/halls/{CITY}/tickets"
    kiosk = hall.auth(f"kiosk:{CITY}")
    clerk = hall.auth(f"clerk:{CITY}:1")
    body = {"service_code": "S-A1"}
    window = f"{API}/windows/{hall.wid(1)}"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (issue, {"json": body}, 401, "auth.required"),
        (issue, {"json": body, "headers": {"Authorization": "Basic abc"}}, 401, "auth.invalid"),
        (issue, {"json": body, "headers": {"Authorization": "Bearer"}}, 401, "auth.invalid"),
        (issue, {"json": body, "headers": {"Authorization": "Bearer not-a-token"}}, 401, "auth.invalid"),
        (issue, {"json": body, "headers": hall.auth(f"display:{CITY}")}, 403, "auth.forbidden"),
        (issue, {"json": body, "headers": hall.auth(f"kiosk:{COUNTY}")}, 403, "auth.wrong_hall"),
        (issue, {"json": {"service_code": "S-X"}, "headers": kiosk}, 404, "service.unknown"),
        (issue, {"json": {"service_code": ""}, "headers": kiosk}, 422, "request.invalid"),
        (issue, {"json": {**body, "appointment_id": "1"}, "headers": kiosk}, 422, "request.invalid"),
        (issue, {"json": {**body, "channel": "fax"}, "headers": kiosk}, 422, "request.invalid"),
        (
            issue,
            {"content": b"{not json", "headers": {**kiosk, "Content-Type": "application/json"}},
            422,
            "request.invalid",
        ),
        (
            issue,
            {"content": b"service_code=S-A1", "headers": {**kiosk, "Content-Type": "text/plain"}},
            422,
            "request.invalid",
        ),
        (issue, {"json": body, "headers": {**kiosk, "Idempotency-Key": "k" * 101}}, 422, "request.invalid"),
        (
            issue,
            {"json": {**body, "identity": {"id_number": ID_BAD_CHECKSUM}}, "headers": kiosk},
            422,
            "id.invalid",
        ),
        # Deeply nested JSON and a NUL character are refused, not a server error.
        (
            issue,
            {"content": b"[" * 5000, "headers": {**kiosk, "Content-Type": "application/json"}},
            422,
            "request.invalid",
        ),
        (issue, {"json": {"service_code": "S-A1\u0000"}, "headers": kiosk}, 422, "request.invalid"),
        (f"{API}/halls/nowhere/tickets", {"json": body, "headers": hall.auth("admin")}, 404, "hall.unknown"),
        (f"{window}/call-next", {}, 401, "auth.required"),
        (f"{window}/call-next", {"headers": hall.auth(f"clerk:{CITY}:2")}, 403, "auth.wrong_window"),
        (f"{window}/call-next", {"headers": clerk}, 404, "queue.empty"),
        (f"{window}/no-show", {"headers": clerk}, 409, "window.idle"),
        (f"{API}/windows/99999/call-next", {"headers": hall.auth("admin")}, 404, "window.unknown"),
        (f"{API}/windows/abc/call-next", {"headers": hall.auth("admin")}, 422, "request.invalid"),
        (f"{API}/windows/{2**63}/call-next", {"headers": hall.auth("admin")}, 422, "request.invalid"),
        (f"{window}/call-next", {"headers": kiosk}, 403, "auth.forbidden"),
        (f"{window}/next", {"headers": clerk}, 422, "request.invalid"),
        (
            f"{window}/next",
            {"json": {"close": "cancel", "ticket_id": 1}, "headers": clerk},
            422,
            "request.invalid",
        ),
        (
            f"{window}/next",
            {"json": {"close": "finish", "ticket_id": 1}, "headers": clerk},
            409,
            "window.current_changed",
        ),
        (
            f"{window}/next",
            {"json": {"close": "finish", "ticket_id": 2**64}, "headers": clerk},
            422,
            "request.invalid",
        ),
        (f"{window}/next", {"json": {"close": "finish", "ticket_id": 1}}, 401, "auth.required"),
    ]
    events = _event_count(hall)
    for path, kw, status, code in cases:
        answer = hall.client.post(path, **kw)
        assert (answer.status_code, error_code(answer)) == (status, code), (path, kw, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert (answer.headers.get("www-authenticate") == "Bearer") == (status == 401)
    assert _event_count(hall) == events  # nothing of it was written


def test_a_body_over_the_limit_is_refused_before_the_token_is_looked_up(hall: Hall) -> None:
    huge = b"x" * (MAX_BODY_BYTES + 1)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer garbage"}
    answer = hall.client.post(f"{API}/halls/{CITY}/tickets", content=huge, headers=headers)
    # 413, not the 401 the bad token would get: the body was refused before anything read it.
    assert answer.status_code == 413 and error_code(answer) == "request.too_large"

    # A streamed body without a declared length is cut off at the limit as well.
    def chunks() -> Any:
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    streamed = hall.client.post(f"{API}/halls/{CITY}/tickets", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and error_code(streamed) == "request.too_large"


def test_hot_routes_are_described_in_the_openapi_like_the_others(hall: Hall) -> None:
    spec = hall.client.get("/openapi.json").json()
    issue = spec["paths"]["/api/v1/halls/{hall_id}/tickets"]["post"]
    ref = issue["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/IssueIn" and "IssueIn" in spec["components"]["schemas"]
    assert "Identity" in spec["components"]["schemas"]  # the nested model is there too
    assert issue["security"] == [{"HallToken": []}]
    nxt = spec["paths"]["/api/v1/windows/{window_id}/next"]["post"]
    assert nxt["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/NextIn")
    # Every reference of the description resolves (the lean bodies' schemas were added).
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    names = spec["components"]["schemas"]
    assert refs and all(r.rsplit("/", 1)[1] in names for r in refs)
    call = spec["paths"]["/api/v1/windows/{window_id}/call-next"]["post"]
    assert call["security"] == [{"HallToken": []}] and "requestBody" not in call


def test_hot_routes_issue_and_call_in_order(hall: Hall) -> None:
    kiosk = hall.auth(f"kiosk:{CITY}")
    issue = f"{API}/halls/{CITY}/tickets"
    first = hall.client.post(issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x1"})
    second = hall.client.post(
        issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x2"}
    )
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert (a["number"], b["number"]) == ("A001", "A002") and (a["people_ahead"], b["people_ahead"]) == (0, 1)
    again = hall.client.post(issue, json={"service_code": "S-A1"}, headers={**kiosk, "Idempotency-Key": "x1"})
    assert again.status_code == 200 and again.json()["id"] == a["id"]
    clerk = hall.auth(f"clerk:{CITY}:1")
    window = f"{API}/windows/{hall.wid(1)}"
    called = hall.client.post(f"{window}/call-next", headers=clerk)
    assert (
        called.status_code == 200 and called.json()["id"] == a["id"] and called.json()["status"] == "called"
    )
    busy = hall.client.post(f"{window}/call-next", headers=clerk)
    assert busy.status_code == 409 and error_code(busy) == "window.busy"
    assert hall.client.post(f"{window}/start", headers=clerk).json()["status"] == "serving"
    nxt = hall.client.post(f"{window}/next", json={"close": "finish", "ticket_id": a["id"]}, headers=clerk)
    assert nxt.status_code == 200
    assert (nxt.json()["closed"]["number"], nxt.json()["called"]["number"]) == ("A001", "A002")
    types = [e["type"] for e in hall.events() if e["type"].startswith(("ticket.", "rating."))]
    assert types == [
        "ticket.issued",
        "ticket.issued",
        "ticket.called",
        "ticket.started",
        "ticket.finished",
        "rating.requested",
        "ticket.called",
    ]


def test_hot_use_cases_run_off_the_loop_in_the_lane_on_sqlite_and_in_the_pool_on_postgres(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from hall_server import audit
    from hall_server.services import tickets

    seen: list[tuple[str, str | None, bool]] = []
    real = tickets.issue_ticket

    def spy(*args: Any, **kw: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        seen.append((threading.current_thread().name, audit.client_address.get(), on_loop))
        return real(*args, **kw)

    monkeypatch.setattr(tickets, "issue_ticket", spy)
    assert hall.issue("S-A1").status_code == 201
    ((thread, address, on_loop),) = seen
    assert not on_loop and address == "testclient"  # the guard's contextvar followed
    if hall.is_postgres:
        assert hall.ctx.db.lane is None and not thread.startswith("hall-db-lane")
    else:
        assert thread == "hall-db-lane"
        # A refusal raised in the lane reaches the client like any other.
        r = hall.client.post(
            f"{API}/halls/{CITY}/tickets", json={"service_code": "NOPE"}, headers=hall.auth(f"kiosk:{CITY}")
        )
        assert r.status_code == 404, r.text


def test_no_path_is_answered_by_two_routers() -> None:
    """The routers' order (hot ones first) decides nothing: each request has one candidate router."""
    import re

    from hall_server.api import PAGE_ROUTERS, ROUTERS
    from hall_server.const import API_PREFIX

    def pattern(path: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")

    routes = [
        (
            n,
            API_PREFIX + rt.path if r not in PAGE_ROUTERS else rt.path,
            getattr(rt, "methods", None) or {"WS"},
        )
        for n, r in enumerate((*ROUTERS, *PAGE_ROUTERS))
        for rt in r.routes
    ]
    compiled = [(n, pattern(p), m) for n, p, m in routes]
    samples = {
        re.sub(r"\{[^}]+\}", fill, p)
        for _, p, _ in routes
        for fill in ("1", "x", "tickets", "events", "next")
    }
    for path in samples:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "WS"):
            full = {n for n, rx, m in compiled if method in m and rx.match(path)}
            assert len(full) <= 1, (method, path, full)
            if not full:  # a 405 names the methods of the one router that has the path
                assert len({n for n, rx, _ in compiled if rx.match(path)}) <= 1, (method, path)


def test_a_dependency_added_to_a_lean_route_or_its_inclusion_still_runs() -> None:
    """Lean routes skip FastAPI's solver only when it has nothing to do (api/lean.py LeanRoute)."""
    from fastapi import APIRouter, Depends, FastAPI, HTTPException
    from fastapi.testclient import TestClient

    from hall_server.api import tickets
    from hall_server.api.lean import LeanRoute

    def too_many() -> None:
        raise HTTPException(status_code=429, detail="slow down")

    # A rate limit where the real tickets router is included: the lean issue route obeys it.
    app = FastAPI()
    app.include_router(tickets.router, prefix=API, dependencies=[Depends(too_many)])
    with TestClient(app) as client:
        r = client.post(f"{API}/halls/{CITY}/tickets", json={"service_code": "S-A1"})
    assert r.status_code == 429, r.text

    # On the route itself, and a request-only lean route without one is answered directly.
    router = APIRouter(route_class=LeanRoute)

    @router.post("/guarded", dependencies=[Depends(too_many)])
    async def guarded(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    @router.post("/open")
    async def open_route(request: Request) -> Response:
        return Response(request.url.path.encode(), media_type="text/plain")

    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        assert client.post("/guarded").status_code == 429
        r = client.post("/open?x=1")
        assert (r.status_code, r.text) == (200, "/open")
