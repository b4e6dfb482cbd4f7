"""The wire contract: every kiosk-facing answer of the real server validates against its wire model.

The models forbid undeclared fields, so a field the server starts to send without declaring it in
wire/ fails here (and a field the kiosk expects but the server drops fails too). The same table of
endpoints is checked against the OpenAPI description: each route names the same model.
Runs on SQLite and PostgreSQL (the `hall` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, ID_YOUNG, ID_YOUNG_2, PASSWORD
from tests.hall_server.test_documents import make_jpeg
from wire import (
    CALL_EVENTS,
    CallPayload,
    CheckinTicketOut,
    DocumentOut,
    ErrorOut,
    EventOut,
    HallDetailOut,
    HallOut,
    HealthOut,
    LoginOut,
    MeOut,
    NextOut,
    RatingOut,
    ServiceOut,
    SnapshotOut,
    StaffCallOut,
    TicketOut,
    TrackedTicketOut,
    WindowClerkOut,
    WindowOut,
)

# (method, path under /api/v1, success status) -> the wire model of the answer, `list` for an
# array of it, None for a 204 without body. Every kiosk-facing endpoint of CONTRACTS section 2.
ENDPOINTS: dict[tuple[str, str, int], tuple[type[BaseModel] | None, bool]] = {
    ("get", "/health", 200): (HealthOut, False),
    ("get", "/halls", 200): (HallOut, True),
    ("get", "/halls/{hall_id}", 200): (HallDetailOut, False),
    ("get", "/halls/{hall_id}/services", 200): (ServiceOut, True),
    ("get", "/services/{code}", 200): (ServiceOut, False),
    ("post", "/halls/{hall_id}/tickets", 201): (TicketOut, False),
    ("post", "/halls/{hall_id}/tickets", 200): (TicketOut, False),
    ("get", "/tickets/{ticket_id}", 200): (TicketOut, False),
    ("get", "/halls/{hall_id}/tickets", 200): (TicketOut, True),
    ("get", "/track/{track_token}", 200): (TrackedTicketOut, False),
    ("post", "/tickets/{ticket_id}/cancel", 200): (TicketOut, False),
    ("post", "/track/{track_token}/cancel", 200): (TrackedTicketOut, False),
    ("post", "/halls/{hall_id}/checkin", 201): (CheckinTicketOut, False),
    ("post", "/halls/{hall_id}/checkin/by-code", 201): (CheckinTicketOut, False),
    ("post", "/auth/login", 200): (LoginOut, False),
    ("get", "/auth/me", 200): (MeOut, False),
    ("post", "/auth/logout", 204): (None, False),
    ("get", "/windows/{window_id}", 200): (WindowOut, False),
    ("get", "/windows/{window_id}/clerk", 200): (WindowClerkOut, False),
    ("post", "/windows/{window_id}/call-next", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/next", 200): (NextOut, False),
    ("post", "/windows/{window_id}/call", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/recall", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/no-show", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/start", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/finish", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/suspend", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/transfer", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/call-back", 200): (TicketOut, False),
    ("post", "/windows/{window_id}/pause", 200): (WindowOut, False),
    ("post", "/windows/{window_id}/resume", 200): (WindowOut, False),
    ("post", "/windows/{window_id}/close", 200): (WindowOut, False),
    ("post", "/windows/{window_id}/open", 200): (WindowOut, False),
    ("post", "/windows/{window_id}/rating-request", 204): (None, False),
    ("post", "/ratings", 201): (RatingOut, False),
    ("post", "/ratings", 200): (RatingOut, False),
    ("get", "/halls/{hall_id}/snapshot", 200): (SnapshotOut, False),
    ("get", "/halls/{hall_id}/events", 200): (EventOut, True),
    ("post", "/devices/heartbeat", 204): (None, False),
    ("post", "/halls/{hall_id}/staff-calls", 201): (StaffCallOut, False),
    ("post", "/halls/{hall_id}/staff-calls", 200): (StaffCallOut, False),
    ("post", "/staff-calls/{call_id}/acknowledge", 200): (StaffCallOut, False),
    ("post", "/tickets/{ticket_id}/documents", 201): (DocumentOut, False),
    ("post", "/tickets/{ticket_id}/documents", 200): (DocumentOut, False),
    ("get", "/tickets/{ticket_id}/documents", 200): (DocumentOut, True),
}
# Refusals the kiosk shows: (method, path, status) of an error answer, validated as ErrorOut.
ERRORS = {
    ("post", "/windows/{window_id}/call-next", 404),
    ("get", "/tickets/{ticket_id}", 404),
    ("post", "/halls/{hall_id}/tickets", 422),
    ("post", "/halls/{hall_id}/tickets", 401),
    ("post", "/auth/login", 401),
    ("post", "/windows/{window_id}/next", 409),
}


class Wire:
    """Sends requests to the real app and validates each answer; remembers what it covered."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.covered: set[tuple[str, str, int]] = set()
        self.errors: set[tuple[str, str, int]] = set()

    def __call__(
        self, method: str, template: str, status: int, *, who: str | None = None, **fill: Any
    ) -> Any:
        params = {k: v for k, v in fill.items() if k in ("json", "params", "content", "headers")}
        path = template.format(**{k: v for k, v in fill.items() if k not in params})
        headers = {**(self.hall.auth(who) if who else {}), **params.pop("headers", {})}
        answer = self.hall.client.request(method.upper(), API + path, headers=headers, **params)
        assert answer.status_code == status, f"{method} {path}: {answer.status_code} {answer.text}"
        key = (method, template, status)
        if status >= 400:
            ErrorOut.model_validate(answer.json())
            self.errors.add(key)
            return answer.json()["error"]
        model, many = ENDPOINTS[key]
        self.covered.add(key)
        if model is None:
            assert not answer.content, f"{method} {path}: a 204 with a body"
            return None
        body = answer.json()
        if many:
            assert isinstance(body, list) and body, f"{method} {path}: an empty list proves nothing"
            return [model.model_validate(item) for item in body]
        return model.model_validate(body)


def test_every_kiosk_facing_answer_validates_against_its_wire_model(hall: Hall) -> None:
    w = Wire(hall)
    kiosk, admin, clerk = f"kiosk:{CITY}", "admin", f"clerk:{CITY}:1"
    w1 = hall.wid(1)
    kw: dict[str, Any] = {"hall_id": CITY, "window_id": w1}

    w("get", "/health", 200)
    w("get", "/halls", 200)
    detail = w("get", "/halls/{hall_id}", 200, **kw)
    assert detail.windows and detail.policy.recall_cap == 2
    w("get", "/halls/{hall_id}/services", 200, **kw)
    w("get", "/services/{code}", 200, code="S-A1")

    # Tickets: issue (and the same key again), read, list, track, cancel.
    body = {"service_code": "S-A1", "identity": {"id_number": ID_YOUNG, "name": "张三"}}
    key = {"Idempotency-Key": "contract-1"}
    t1 = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json=body, headers=key, **kw)
    again = w("post", "/halls/{hall_id}/tickets", 200, who=kiosk, json=body, headers=key, **kw)
    assert again.id == t1.id and t1.holder is not None and t1.holder.id_number is None
    w("get", "/tickets/{ticket_id}", 200, who=kiosk, ticket_id=t1.id)
    w("get", "/halls/{hall_id}/tickets", 200, who=admin, **kw)
    tracked = w("get", "/track/{track_token}", 200, track_token=t1.track_token)
    assert tracked.hall_name and tracked.go_to and tracked.go_windows
    gone = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json={"service_code": "S-B1"}, **kw)
    w("post", "/tickets/{ticket_id}/cancel", 200, who=admin, ticket_id=gone.id)
    mine = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json={"service_code": "S-B1"}, **kw)
    left = w("post", "/track/{track_token}/cancel", 200, track_token=mine.track_token)
    assert left.status == "cancelled" and left.go_to is None

    # Staff: log in at window 1, who am I.
    login = {"username": "c1", "password": PASSWORD, "window_id": w1}
    ans = w("post", "/auth/login", 200, json=login)
    assert ans.window is not None and ans.window.id == w1
    hall.tokens[clerk] = ans.token
    w("get", "/auth/me", 200, who=clerk)

    # The clerk's day at window 1.
    w("get", "/windows/{window_id}", 200, who=clerk, **kw)
    # The rating terminal beside window 1 reads who sits there (c1 has no photo: photo_jpeg null).
    at_window = w("get", "/windows/{window_id}/clerk", 200, who=f"rating:{CITY}:1", **kw)
    assert at_window.clerk is not None and at_window.clerk.photo_jpeg is None
    called = w("post", "/windows/{window_id}/call-next", 200, who=clerk, **kw)
    assert called.id == t1.id and called.holder is not None and called.holder.id_number == ID_YOUNG
    w("post", "/windows/{window_id}/recall", 200, who=clerk, **kw)
    w("post", "/windows/{window_id}/start", 200, who=clerk, **kw)
    photo = make_jpeg(7)
    jpeg = {"Content-Type": "image/jpeg"}
    docs = "/tickets/{ticket_id}/documents"
    w("post", docs, 201, who=clerk, content=photo, headers=jpeg, ticket_id=t1.id)
    w("post", docs, 200, who=clerk, content=photo, headers=jpeg, ticket_id=t1.id)
    w("get", docs, 200, who=clerk, ticket_id=t1.id)
    w("post", "/windows/{window_id}/rating-request", 204, who=clerk, **kw)
    w("post", "/windows/{window_id}/finish", 200, who=clerk, **kw)
    rating = {"ticket_id": t1.id, "level": 5, "client_id": "contract-r1", "prompted": True}
    r1 = w("post", "/ratings", 201, who=f"rating:{CITY}:1", json=rating)
    assert w("post", "/ratings", 200, who=f"rating:{CITY}:1", json=rating).id == r1.id

    # 下一位, suspend and call back, transfer and call chosen, no-show.
    t2 = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json={"service_code": "S-A1"}, **kw)
    t3 = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json={"service_code": "S-A2"}, **kw)
    assert w("post", "/windows/{window_id}/call-next", 200, who=clerk, **kw).id == t2.id
    w("post", "/windows/{window_id}/start", 200, who=clerk, **kw)
    finish_t2 = {"close": "finish", "ticket_id": t2.id}
    nxt = w("post", "/windows/{window_id}/next", 200, who=clerk, json=finish_t2, **kw)
    assert nxt.closed.id == t2.id and nxt.called is not None and nxt.called.id == t3.id
    changed = w("post", "/windows/{window_id}/next", 409, who=clerk, json=finish_t2, **kw)
    assert changed["code"] == "window.current_changed"
    w("post", "/windows/{window_id}/suspend", 200, who=clerk, **kw)
    w("post", "/windows/{window_id}/call-back", 200, who=clerk, json={"ticket_id": t3.id}, **kw)
    moved = w("post", "/windows/{window_id}/transfer", 200, who=clerk, json={"service_code": "S-B1"}, **kw)
    assert moved.group == "B" and moved.status == "waiting"
    w("post", "/windows/{window_id}/call", 200, who=clerk, json={"ticket_id": t3.id}, **kw)
    w("post", "/windows/{window_id}/no-show", 200, who=clerk, **kw)
    t4 = w("post", "/halls/{hall_id}/tickets", 201, who=kiosk, json={"service_code": "S-A1"}, **kw)
    assert w("post", "/windows/{window_id}/call-next", 200, who=clerk, **kw).id == t4.id
    last = w(
        "post",
        "/windows/{window_id}/next",
        200,
        who=clerk,
        json={"close": "no_show", "ticket_id": t4.id},
        **kw,
    )
    assert last.closed.status == "no_show" and last.called is None
    empty = w("post", "/windows/{window_id}/call-next", 404, who=clerk, **kw)
    assert empty["code"] == "queue.empty"

    # Window states.
    for op in ("pause", "resume", "close", "open"):
        w("post", "/windows/{window_id}/" + op, 200, who=clerk, **kw)

    # The hall's live state, its events, a device heartbeat.
    snap = w("get", "/halls/{hall_id}/snapshot", 200, who=kiosk, **kw)
    assert snap.recent_calls and snap.last_seq > 0
    events = w("get", "/halls/{hall_id}/events", 200, who=admin, params={"since": 0, "limit": 1000}, **kw)
    calls = [CallPayload.model_validate(e.payload) for e in events if e.type in CALL_EVENTS]
    assert {c.ticket.id for c in calls} >= {t1.id, t2.id, t3.id} and all(
        c.ticket.holder is None or c.ticket.holder.id_number is None for c in calls
    )
    for e in snap.recent_calls:
        CallPayload.model_validate(e.payload)
    beat = {
        "device_id": "kiosk-1",
        "kind": "kiosk",
        "status": "fault",
        "faults": [{"code": "printer.paper_out"}],
    }
    w("post", "/devices/heartbeat", 204, who=kiosk, json=beat)

    # 呼叫工作人员: the call, the same call again, a manager's 已处理.
    call = {"json": {"call_id": "c0ffee" + "0" * 26}}
    first = w("post", "/halls/{hall_id}/staff-calls", 201, who=kiosk, **call, **kw)
    assert first.acknowledged_at is None and first.device_name
    assert w("post", "/halls/{hall_id}/staff-calls", 200, who=kiosk, **call, **kw).id == first.id
    done = w("post", "/staff-calls/{call_id}/acknowledge", 200, who=admin, call_id=first.id)
    assert done.acknowledged_at and done.acknowledged_by

    # Refusals carry the error body.
    w("get", "/tickets/{ticket_id}", 404, who=admin, ticket_id=987654321)
    w("post", "/halls/{hall_id}/tickets", 422, who=kiosk, json={"service_code": ""}, **kw)
    w("post", "/halls/{hall_id}/tickets", 401, json={"service_code": "S-A1"}, **kw)
    w("post", "/auth/login", 401, json={**login, "password": "wrong"})
    w("post", "/auth/logout", 204, who=clerk)

    checkins = ("/halls/{hall_id}/checkin", "/halls/{hall_id}/checkin/by-code")
    not_here = {k for k in ENDPOINTS if k[1] in checkins}  # test below
    assert set(ENDPOINTS) - not_here - w.covered == set()
    assert w.errors == ERRORS


@pytest.fixture
def booking_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The server with bookings (tests/hall_server/clock_app.py) on SQLite and a movable clock."""
    from tests.hall_server.clock_app import sqlite_env

    yield from sqlite_env(tmp_path, monkeypatch)


def test_checkin_answers_validate_against_the_wire(booking_env: Any) -> None:
    from tests.hall_server.clock_app import ID_A, PHONE

    env, day = booking_env, date(2026, 3, 10)
    book = {
        "service_code": "S-001",
        "day": day.isoformat(),
        "start": "09:00",
        "id_number": ID_A,
        "phone": PHONE,
    }
    for id_number in (ID_A, ID_YOUNG_2):
        booked = env.client.post(f"{API}/halls/x-city/appointments", json={**book, "id_number": id_number})
        assert booked.status_code == 201, booked.text
    kiosk = env.h("kiosk:x-city")
    env.clock.set_local(day, "09:30")  # late: refused, then a normal ticket on request
    late = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_A}, headers=kiosk)
    assert late.status_code == 409
    ErrorOut.model_validate(late.json())
    fallback = {"id_number": ID_A, "fallback_normal": True}
    normal = env.client.post(f"{API}/halls/x-city/checkin", json=fallback, headers=kiosk)
    assert normal.status_code == 201, normal.text
    assert CheckinTicketOut.model_validate(normal.json()).checkin.status == "late"
    env.clock.set_local(day, "08:45")
    ok = env.client.post(f"{API}/halls/x-city/checkin", json={"id_number": ID_YOUNG_2}, headers=kiosk)
    assert ok.status_code == 201, ok.text
    checked = CheckinTicketOut.model_validate(ok.json())
    assert checked.checkin.status == "ok" and checked.checkin.appointment_code
    # The booking's QR (its code) gives the same ticket as the ID card did.
    scanned = env.client.post(
        f"{API}/halls/x-city/checkin/by-code", json={"code": checked.checkin.appointment_code}, headers=kiosk
    )
    assert scanned.status_code == 201, scanned.text
    assert CheckinTicketOut.model_validate(scanned.json()).number == checked.number
    unknown = env.client.post(f"{API}/halls/x-city/checkin/by-code", json={"code": "ZZZZ9999"}, headers=kiosk)
    assert unknown.status_code == 404
    assert ErrorOut.model_validate(unknown.json()).error.code == "checkin.code_unknown"


def _schema_names(schema: dict[str, Any]) -> tuple[str | None, bool]:
    if schema.get("type") == "array":
        return schema["items"].get("$ref", "").rsplit("/", 1)[-1] or None, True
    return schema.get("$ref", "").rsplit("/", 1)[-1] or None, False


def test_openapi_names_the_same_wire_model_for_every_route(hall: Hall) -> None:
    spec = hall.client.get("/openapi.json").json()
    wrong = []
    for (method, path, status), (model, many) in ENDPOINTS.items():
        responses = spec["paths"][API + path][method]["responses"]
        documented = responses.get(str(status))
        if documented is None:
            wrong.append(f"{method} {path}: no {status} answer documented")
            continue
        if model is None:
            if documented.get("content"):
                wrong.append(f"{method} {path}: a {status} documented with a body")
            continue
        schema = documented.get("content", {}).get("application/json", {}).get("schema", {})
        if _schema_names(schema) != (model.__name__, many):
            wrong.append(f"{method} {path} {status}: {schema} is not {'[' if many else ''}{model.__name__}")
    for method, path, status in ERRORS:
        responses = spec["paths"][API + path][method]["responses"]
        schema = (
            responses.get(str(status), {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        if status != 422 and _schema_names(schema) != ("ErrorOut", False):
            wrong.append(f"{method} {path} {status}: the error body is not ErrorOut")
    assert not wrong, "\n".join(wrong)


def test_every_error_code_of_the_wire_is_one_the_server_raises() -> None:
    """wire.ErrorCode names only codes that exist on the server side (its table or its sources)."""
    from hall_server.const import ERRORS
    from wire import ErrorCode

    root = Path(__file__).resolve().parents[2]
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for pkg in ("hall_server", "queueing")
        for p in (root / pkg).rglob("*.py")
    )
    unknown = [c.value for c in ErrorCode if c.value not in ERRORS and f'"{c.value}"' not in sources]
    assert not unknown, f"wire.ErrorCode names codes the server never sends: {unknown}"
