"""The authorization matrix (issue 9): every principal against every route of the app.

The table MATRIX names, for each route (method + path as the app declares it), who may call it.
It is complete by construction: the test enumerates the app's routes and fails when one is
missing from the table (or the table names a route that no longer exists), so a new endpoint
cannot be added without deciding who may call it.

For every route and every principal:
- no header -> 401 auth.required; a garbage or a revoked token -> 401 auth.invalid;
- a principal outside the route's allowed set -> 403 with a stable auth code (auth.forbidden,
  auth.wrong_hall, auth.wrong_window), or, where the use case deliberately answers "not found" to
  hide a record of another scope (a matter, a case, a booking), that route's not-found code;
- an allowed principal -> anything but 401/403 (a 404/409/422 for a business reason is fine).

The hall under test is the county hall: it has a parent (the city), a sibling (a second county)
and a child (a township), each with its manager, so every manager relation is exercised. The
state: a ticket in hand at window 1, a waiting ticket, a finished ticket, a document photo, a
matter, a bad rating with its follow-up case, a booking, device tokens to rotate and revoke.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert, select
from starlette.testclient import WebSocketDisconnect

from hall_server.api import PAGE_ROUTERS, ROUTERS
from hall_server.auth import create_token, revoke_token
from hall_server.const import API_PREFIX
from hall_server.db.models import ApiToken, FollowupCase, Sitting, Ticket, User, Window
from hall_server.passwords import token_hash
from hall_server.seed import seed
from hall_server.services import followups, sessions
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, COUNTY, ID_YOUNG, ID_YOUNG_2, PASSWORD, tiny_city

SIBLING = "t-county-2"
TOWN = "t-town"
HALL = COUNTY  # the hall under test

# --- principals ------------------------------------------------------------------------------
PRINCIPALS = (
    "none",
    "garbage",
    "revoked",
    "kiosk",
    "kiosk_other_hall",
    "display",
    "rating",
    "clerk_this",
    "clerk_other",
    "clerk_other_hall",
    "mgr_this",
    "mgr_parent",
    "mgr_sibling",
    "mgr_child",
    "admin",
)
ANON = frozenset({"none", "garbage", "revoked"})
AUTHED = frozenset(PRINCIPALS) - ANON
SESSIONS = frozenset(
    {
        "clerk_this",
        "clerk_other",
        "clerk_other_hall",
        "mgr_this",
        "mgr_parent",
        "mgr_sibling",
        "mgr_child",
        "admin",
    }
)
# Anyone bound to the hall, or a manager at or above it (require_hall / can_access_hall).
OF_HALL = frozenset(
    {"kiosk", "display", "rating", "clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}
)
# The window's operator: its clerk, a manager at or above the hall, admin (require_window_operator).
OPERATOR = frozenset({"clerk_this", "mgr_this", "mgr_parent", "admin"})
# Managers whose subtree holds the hall (manager_scope), and admin.
MANAGERS = frozenset({"mgr_this", "mgr_parent", "admin"})
ANY_MANAGER = frozenset({"mgr_this", "mgr_parent", "mgr_sibling", "mgr_child", "admin"})
# The city's catalogue and calendars: managers of the city-level hall, and admin.
CITY_OWNERS = frozenset({"mgr_parent", "admin"})
PUBLIC = frozenset(PRINCIPALS)

REFUSAL_CODES = {"auth.forbidden", "auth.wrong_hall", "auth.wrong_window", "rating.wrong_window"}


@dataclass(frozen=True)
class Req:
    """One request of the matrix."""

    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[["World", str], Req]


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and how to call it."""

    allowed: frozenset[str]
    build: Build | None = None  # None: the route path as is (no parameters)
    hidden: str | None = None  # the not-found code a use case gives out of scope, on purpose
    fresh_caller: bool = False  # the call ends the caller's own token: use a copy of it
    note: str = ""


def fixed(path: str, **kw: Any) -> Build:
    return lambda w, who: Req(path.format(**w.ids), **kw)


# --- the world the requests act on -----------------------------------------------------------
def make_jpeg(seed_: int) -> bytes:
    rng = np.random.default_rng(seed_)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


class World:
    """The seeded state and the tokens of every principal."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.client = hall.client
        self.ctx = hall.ctx
        self.tokens: dict[str, str | None] = {}
        self.ids: dict[str, Any] = {"hall": HALL}
        self._photo = 1000
        self.fresh_clerk_after = False
        self.seen: dict[str, dict[str, str]] = {}
        self._extend_city()
        self._tokens()
        self._state()

    # The city of the fixture has the city hall and one county; add a sibling county, a township
    # below the county, a second window at the county, and their staff (no password hashing).
    def _extend_city(self) -> None:
        data = tiny_city()
        for h in data["halls"]:
            h.pop("clerks", None)
        county = next(h for h in data["halls"] if h["id"] == COUNTY)
        county["windows"].append(
            {"number": 2, "name": "二号窗口", "kind": "comprehensive", "groups": {"A": 1}}
        )
        # Window 3 is for hand-over: ending its (absent) clerk's session disturbs no principal.
        county["windows"].append(
            {"number": 3, "name": "三号窗口", "kind": "comprehensive", "groups": {"A": 1}}
        )
        county["opening_hours"] = [["00:00", "23:59"]]
        for hid, level, parent in ((SIBLING, "county", CITY), (TOWN, "township", COUNTY)):
            data["halls"].append(
                {
                    "id": hid,
                    "name": f"测试{hid}",
                    "level": level,
                    "parent": parent,
                    "policy": county["policy"],
                    "groups": [{"prefix": "A", "name": "综合", "services": ["S-A1"]}],
                    "windows": [
                        {"number": 1, "name": "综合窗口", "kind": "comprehensive", "groups": {"A": 1}}
                    ],
                }
            )
        data.pop("managers")
        data.pop("admins")
        seed(self.ctx.db, data)
        self.ctx.catalog.invalidate()

    def _user(self, s: Any, username: str, role: str, hall_id: str | None) -> int:
        pw_hash = s.execute(select(User.password_hash).where(User.username == "m-county")).scalar_one()
        return int(
            s.execute(
                insert(User.__table__)
                .values(
                    username=username,
                    name=username,
                    role=role,
                    hall_id=hall_id,
                    password_hash=pw_hash,
                    active=True,
                )
                .returning(User.__table__.c.id)
            ).scalar_one()
        )

    def _tokens(self) -> None:
        t = self.hall.tokens
        session = {"expires_at": datetime.now(UTC) + timedelta(hours=8), "idle_s": 3600}
        with self.ctx.db.write() as s:
            win = {
                n: s.execute(select(Window.id).where(Window.hall_id == HALL, Window.number == n)).scalar_one()
                for n in (1, 2, 3)
            }
            self.ids["win1"], self.ids["win2"], self.ids["win3"] = win[1], win[2], win[3]
            c2 = self._user(s, "d2", "clerk", HALL)
            # A clerk without sessions: its account is edited and its password reset by the matrix.
            self.ids["staff"] = self._user(s, "d3", "clerk", HALL)
            m_sib = self._user(s, "m-sib", "manager", SIBLING)
            m_town = self._user(s, "m-town", "manager", TOWN)
            root = s.execute(select(User.id).where(User.username == "root")).scalar_one()
            _, revoked = create_token(s, "kiosk", hall_id=HALL, label="revoked")
            revoke_token(
                s,
                s.execute(select(ApiToken.id).where(ApiToken.token_hash == token_hash(revoked))).scalar_one(),
            )
            self.tokens = {
                "none": None,
                "garbage": "not-a-token-of-this-server",
                "revoked": revoked,
                "kiosk": t[f"kiosk:{HALL}"],
                "kiosk_other_hall": create_token(s, "kiosk", hall_id=SIBLING)[1],
                "display": t[f"display:{HALL}"],
                "rating": t[f"rating:{HALL}:1"],
                "clerk_this": t[f"clerk:{HALL}:1"],
                "clerk_other": create_token(s, "clerk", window_id=win[2], user_id=c2, **session)[1],
                "clerk_other_hall": t[f"clerk:{CITY}:1"],
                "mgr_this": t["m-county"],
                "mgr_parent": t["m-city"],
                "mgr_sibling": create_token(s, "manager", hall_id=SIBLING, user_id=m_sib, **session)[1],
                "mgr_child": create_token(s, "manager", hall_id=TOWN, user_id=m_town, **session)[1],
                "admin": create_token(s, "admin", user_id=root, **session)[1],
            }

    def headers(self, who: str, fresh: bool = False) -> dict[str, str]:
        token = self.tokens[who]
        if token is None:
            return {}
        if fresh and who not in ANON:
            token = self.clone(token)
        return {"Authorization": f"Bearer {token}"}

    def clone(self, token: str) -> str:
        """A new token with the same binding (for calls that end the caller's own token)."""
        with self.ctx.db.write() as s:
            row = s.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).scalar_one()
            return create_token(
                s,
                row.role,
                hall_id=row.hall_id,
                window_id=row.window_id,
                user_id=row.user_id,
                expires_at=row.expires_at,
                idle_s=row.idle_s,
            )[1]

    # --- state ---------------------------------------------------------------------------
    def post(self, path: str, who: str = "admin", **kw: Any) -> Any:
        r = self.client.post(f"{API}{path}", headers=self.headers(who), **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json() if r.content else None

    def issue(self) -> dict[str, Any]:
        return self.post(f"/halls/{HALL}/tickets", "kiosk", json={"service_code": "S-A1"})

    def window(self) -> dict[str, Any]:
        r = self.client.get(f"{API}/windows/{self.ids['win1']}", headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    def _state(self) -> None:
        w1 = self.ids["win1"]
        # A finished ticket with a bad rating (opens a follow-up case), and one finished unrated.
        for key in ("rated", "finished"):
            t = self.issue()
            self.post(f"/windows/{w1}/call-next", "clerk_this")
            self.post(f"/windows/{w1}/start", "clerk_this")
            self.post(f"/windows/{w1}/finish", "clerk_this")
            self.ids[key] = t["id"]
            self.ids[f"{key}_track"] = t["track_token"]
        self.post(
            "/ratings",
            "rating",
            json={
                "ticket_id": self.ids["rated"],
                "level": 1,
                "reasons": ["服务态度"],
                "channel": "device",
                "prompted": True,
            },
        )
        # An open staff call of the hall's kiosk, for 已处理.
        call = self.post(f"/halls/{HALL}/staff-calls", "kiosk", json={"call_id": "5" * 32})
        self.ids["staff_call"] = call["id"]
        with self.ctx.db.write() as s:
            followups.open_missing_cases(s, datetime.now(UTC), [HALL])
            self.ids["case"] = s.execute(
                select(FollowupCase.id).where(FollowupCase.hall_id == HALL)
            ).scalar_one()
        self.prepare()
        # A matter and a document photo of the ticket in hand.
        self.ids["matter"] = self.post(f"/tickets/{self.ids['in_hand']}/matters", "clerk_this", json={})["id"]
        self.ids["doc"] = self.new_document()
        # A booking of the county hall.
        slots = self.client.get(
            f"{API}/halls/{HALL}/appointment-slots", params={"service_code": "S-A1"}
        ).json()
        day, start = self._free_slot(slots)
        booked = self.post(
            f"/halls/{HALL}/appointments",
            "none",
            json={
                "service_code": "S-A1",
                "day": day,
                "start": start,
                "id_number": ID_YOUNG_2,
                "phone": "13800138000",
            },
        )
        self.ids["appt"] = booked["code"]

    @staticmethod
    def _free_slot(slots: dict[str, Any]) -> tuple[str, str]:
        for day in slots["days"]:
            for slot in day["slots"]:
                if slot.get("available", 0) > 0:
                    return day["day"], slot["start"]
        raise AssertionError(f"no free slot: {json.dumps(slots)[:500]}")

    def new_document(self) -> int:
        self._photo += 1
        r = self.client.post(
            f"{API}/tickets/{self.ids['in_hand']}/documents",
            content=make_jpeg(self._photo),
            headers={**self.headers("clerk_this"), "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def new_device_token(self) -> int:
        with self.ctx.db.write() as s:
            return create_token(s, "kiosk", hall_id=HALL, label="to rotate or revoke")[0]

    def new_sitting(self) -> int:
        with self.ctx.db.write() as s:
            return int(
                s.execute(
                    insert(Sitting.__table__)
                    .values(
                        hall_id=HALL,
                        window_id=self.ids["win3"],
                        user_id=self.ids["staff"],
                        day="2030-01-02",
                        starts="09:00",
                        ends="10:00",
                    )
                    .returning(Sitting.__table__.c.id)
                ).scalar_one()
            )

    def prepare(self) -> None:
        """Window 1 open with its clerk and a ticket in hand; a ticket waiting to cancel."""
        w1 = self.ids["win1"]
        if self.fresh_clerk_after:
            # A clerk's log-out (of a copy of the session) leaves the window: log in there again.
            self.fresh_clerk_after = False
            self.tokens["clerk_this"] = sessions.login(self.ctx, "d1", PASSWORD, w1)["token"]
        with self.ctx.db.read() as s:
            status, current = s.execute(
                select(Window.status, Window.current_ticket_id).where(Window.id == w1)
            ).one()
            t_status = (
                s.execute(select(Ticket.status).where(Ticket.id == current)).scalar_one() if current else None
            )
        if status != "open":
            self.post(f"/windows/{w1}/{'resume' if status == 'paused' else 'open'}")
        if t_status not in ("called", "serving"):
            self.issue()
            current = self.post(f"/windows/{w1}/call-next")["id"]
            t_status = "called"
        if t_status == "called":
            self.post(f"/windows/{w1}/start")
        self.ids["in_hand"] = current
        self.ids["waiting"] = self.issue()["id"]


# --- the matrix --------------------------------------------------------------------------------
def _win(action: str, **body: Any) -> Build:
    return lambda w, who: Req(f"/windows/{w.ids['win1']}/{action}", json=body)


def _win_with_ticket(action: str) -> Build:
    return lambda w, who: Req(f"/windows/{w.ids['win1']}/{action}", json={"ticket_id": w.ids["waiting"]})


def _rotate(action: str) -> Build:
    return lambda w, who: Req(f"/tokens/{w.new_device_token()}/{action}")


def _delete_doc(w: World, who: str) -> Req:
    return Req(f"/documents/{w.new_document()}")


_NEW_STAFF = iter(range(1, 10_000))


def _new_staff(w: World, who: str) -> Req:
    n = next(_NEW_STAFF)
    body = {"username": f"new{n}", "name": f"新人{n}", "role": "clerk", "hall_id": HALL, "password": PASSWORD}
    return Req("/staff", json=body)


PW = {"old_password": PASSWORD, "new_password": PASSWORD}  # a reuse: 422 after the permission check
STATS = (
    "stats",
    "stats/breakdown",
    "indicators",
    "stats/export.csv",
    "stats/export.xlsx",
    "alerts",
    "device-health",
)

MATRIX: dict[tuple[str, str], Rule] = {
    # system and sessions
    ("GET", "/api/v1/health"): Rule(PUBLIC),
    ("POST", "/api/v1/auth/login"): Rule(PUBLIC, fixed("/auth/login", json={"username": "nobody"})),
    ("POST", "/api/v1/auth/refresh"): Rule(SESSIONS, fixed("/auth/refresh"), fresh_caller=True),
    ("POST", "/api/v1/auth/password"): Rule(SESSIONS, fixed("/auth/password", json=PW)),
    ("POST", "/api/v1/auth/logout"): Rule(SESSIONS, fixed("/auth/logout"), fresh_caller=True),
    ("GET", "/api/v1/auth/me"): Rule(AUTHED, fixed("/auth/me")),
    ("POST", "/api/v1/tokens/{token_id}/rotate"): Rule(MANAGERS, _rotate("rotate")),
    ("POST", "/api/v1/tokens/{token_id}/revoke"): Rule(MANAGERS, _rotate("revoke")),
    # managers run their halls: staff, roster, window zones and hand-over, device enrolment
    ("GET", "/api/v1/staff"): Rule(ANY_MANAGER, fixed("/staff"), note="each sees their own subtree"),
    ("POST", "/api/v1/staff"): Rule(MANAGERS, _new_staff),
    ("PATCH", "/api/v1/staff/{user_id}"): Rule(
        MANAGERS, fixed("/staff/{staff}", json={"name": "赵六"}), hidden="staff.unknown"
    ),
    ("PUT", "/api/v1/staff/{user_id}/photo"): Rule(
        MANAGERS,
        lambda w, who: Req(
            f"/staff/{w.ids['staff']}/photo",
            content=make_jpeg(hash(who) % 10_000),
            headers={"Content-Type": "image/jpeg"},
        ),
        hidden="staff.unknown",
    ),
    ("GET", "/api/v1/staff/{user_id}/photo"): Rule(
        MANAGERS, fixed("/staff/{staff}/photo"), hidden="staff.unknown", note="404 staff.no_photo is fine"
    ),
    ("DELETE", "/api/v1/staff/{user_id}/photo"): Rule(
        MANAGERS, fixed("/staff/{staff}/photo"), hidden="staff.unknown"
    ),
    ("POST", "/api/v1/staff/{user_id}/password"): Rule(
        MANAGERS, fixed("/staff/{staff}/password", json={"password": PASSWORD}), hidden="staff.unknown"
    ),
    ("GET", "/api/v1/halls/{hall_id}/roster"): Rule(
        MANAGERS, fixed("/halls/{hall}/roster", params={"day": "2030-01-01"})
    ),
    ("POST", "/api/v1/halls/{hall_id}/roster"): Rule(
        MANAGERS,
        lambda w, who: Req(
            f"/halls/{HALL}/roster",
            json={
                "day": "2030-01-01",
                "window_id": w.ids["win3"],
                "user_id": w.ids["staff"],
                "starts": "08:00",
                "ends": "09:00",
            },
        ),
    ),
    ("DELETE", "/api/v1/roster/{sitting_id}"): Rule(
        MANAGERS, lambda w, who: Req(f"/roster/{w.new_sitting()}")
    ),
    ("POST", "/api/v1/windows/{window_id}/hand-over"): Rule(
        MANAGERS, lambda w, who: Req(f"/windows/{w.ids['win3']}/hand-over", json={})
    ),
    ("PUT", "/api/v1/windows/{window_id}/zone"): Rule(
        MANAGERS, lambda w, who: Req(f"/windows/{w.ids['win3']}/zone", json={"zone": "B区"})
    ),
    ("GET", "/api/v1/halls/{hall_id}/device-registry"): Rule(
        MANAGERS, fixed("/halls/{hall}/device-registry")
    ),
    ("POST", "/api/v1/halls/{hall_id}/enrolments"): Rule(
        MANAGERS, fixed("/halls/{hall}/enrolments", json={"role": "kiosk", "label": "一楼取号机"})
    ),
    ("POST", "/api/v1/devices/enrol"): Rule(PUBLIC, fixed("/devices/enrol", json={"code": "ABCD-EFGH"})),
    # halls, catalogue, live state
    ("GET", "/api/v1/halls"): Rule(PUBLIC),
    ("GET", "/api/v1/halls/{hall_id}"): Rule(PUBLIC, fixed("/halls/{hall}")),
    ("GET", "/api/v1/halls/{hall_id}/services"): Rule(PUBLIC, fixed("/halls/{hall}/services")),
    ("GET", "/api/v1/services/{code}"): Rule(PUBLIC, fixed("/services/S-A1")),
    ("GET", "/api/v1/halls/{hall_id}/snapshot"): Rule(OF_HALL, fixed("/halls/{hall}/snapshot")),
    ("GET", "/api/v1/dashboard/halls"): Rule(
        AUTHED, fixed("/dashboard/halls"), note="each sees its own halls"
    ),
    # tickets
    ("POST", "/api/v1/halls/{hall_id}/tickets"): Rule(
        frozenset({"kiosk", "clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/halls/{hall}/tickets", json={"service_code": "S-A1"}),
    ),
    ("GET", "/api/v1/halls/{hall_id}/tickets"): Rule(OF_HALL, fixed("/halls/{hall}/tickets")),
    ("GET", "/api/v1/tickets/{ticket_id}"): Rule(OF_HALL, fixed("/tickets/{in_hand}")),
    ("POST", "/api/v1/tickets/{ticket_id}/priority/remove"): Rule(
        frozenset({"clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/tickets/{in_hand}/priority/remove", json={"reason": "未出示证件"}),
    ),
    ("GET", "/api/v1/halls/{hall_id}/priority-removals"): Rule(
        MANAGERS, fixed("/halls/{hall}/priority-removals")
    ),
    ("POST", "/api/v1/tickets/{ticket_id}/cancel"): Rule(
        frozenset({"kiosk", "clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/tickets/{waiting}/cancel"),
    ),
    ("GET", "/api/v1/track/{track_token}"): Rule(PUBLIC, fixed("/track/{finished_track}")),
    ("POST", "/api/v1/track/{track_token}/cancel"): Rule(
        PUBLIC,
        fixed("/track/{finished_track}/cancel"),
        note="the ticket's track token in the path is the proof; a finished ticket answers 409",
    ),
    # windows
    ("GET", "/api/v1/windows/{window_id}"): Rule(OF_HALL, fixed("/windows/{win1}")),
    ("GET", "/api/v1/windows/{window_id}/clerk"): Rule(
        frozenset({"rating", "clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/windows/{win1}/clerk"),
        note="the clerk's photo: the window's own rating device and the hall's staff, not kiosks or displays",
    ),
    ("POST", "/api/v1/windows/{window_id}/call-next"): Rule(OPERATOR, _win("call-next")),
    ("POST", "/api/v1/windows/{window_id}/next"): Rule(
        OPERATOR,
        lambda w, who: Req(
            f"/windows/{w.ids['win1']}/next", json={"close": "finish", "ticket_id": w.ids["in_hand"]}
        ),
    ),
    ("POST", "/api/v1/windows/{window_id}/call"): Rule(OPERATOR, _win_with_ticket("call")),
    ("POST", "/api/v1/windows/{window_id}/recall"): Rule(OPERATOR, _win("recall")),
    ("POST", "/api/v1/windows/{window_id}/no-show"): Rule(OPERATOR, _win("no-show")),
    ("POST", "/api/v1/windows/{window_id}/start"): Rule(OPERATOR, _win("start")),
    ("POST", "/api/v1/windows/{window_id}/finish"): Rule(OPERATOR, _win("finish")),
    ("POST", "/api/v1/windows/{window_id}/suspend"): Rule(OPERATOR, _win("suspend")),
    ("POST", "/api/v1/windows/{window_id}/transfer"): Rule(OPERATOR, _win("transfer", service_code="S-A1")),
    ("POST", "/api/v1/windows/{window_id}/call-back"): Rule(OPERATOR, _win_with_ticket("call-back")),
    ("POST", "/api/v1/windows/{window_id}/pause"): Rule(OPERATOR, _win("pause")),
    ("POST", "/api/v1/windows/{window_id}/resume"): Rule(OPERATOR, _win("resume")),
    ("POST", "/api/v1/windows/{window_id}/open"): Rule(OPERATOR, _win("open")),
    ("POST", "/api/v1/windows/{window_id}/close"): Rule(OPERATOR, _win("close")),
    ("PUT", "/api/v1/windows/{window_id}/groups"): Rule(MANAGERS, _win("groups", groups={"A": 2})),
    ("POST", "/api/v1/windows/{window_id}/rating-request"): Rule(OPERATOR, _win("rating-request")),
    # ratings and devices
    ("POST", "/api/v1/ratings"): Rule(
        frozenset({"kiosk", "rating", "mgr_this", "mgr_parent", "admin"}),
        lambda w, who: Req(
            "/ratings", json={"ticket_id": w.ids["finished"], "level": 5, "channel": "device"}
        ),
        note="a visitor's phone rates with the ticket's track token instead of a header",
    ),
    ("POST", "/api/v1/devices/heartbeat"): Rule(
        AUTHED,
        lambda w, who: Req(
            "/devices/heartbeat", json={"device_id": f"dev-{who}", "kind": "kiosk", "status": "ok"}
        ),
    ),
    ("GET", "/api/v1/halls/{hall_id}/devices"): Rule(OF_HALL, fixed("/halls/{hall}/devices")),
    ("POST", "/api/v1/halls/{hall_id}/staff-calls"): Rule(
        frozenset({"kiosk"}),
        lambda w, who: Req(
            f"/halls/{w.ids['hall']}/staff-calls", json={"call_id": hashlib.md5(who.encode()).hexdigest()}
        ),
        note="a kiosk of the hall calls its floor staff (呼叫工作人员)",
    ),
    ("POST", "/api/v1/staff-calls/{call_id}/acknowledge"): Rule(
        MANAGERS, fixed("/staff-calls/{staff_call}/acknowledge"), note="已处理 on the hall's dashboard"
    ),
    # events
    ("GET", "/api/v1/halls/{hall_id}/events"): Rule(OF_HALL, fixed("/halls/{hall}/events")),
    ("POST", "/api/v1/halls/{hall_id}/events/ticket"): Rule(OF_HALL, fixed("/halls/{hall}/events/ticket")),
    ("WS", "/api/v1/halls/{hall_id}/events/ws"): Rule(OF_HALL, fixed("/halls/{hall}/events/ws")),
    # appointments: the public booking flow, and the staff/kiosk side
    ("GET", "/api/v1/halls/{hall_id}/appointment-services"): Rule(
        PUBLIC, fixed("/halls/{hall}/appointment-services")
    ),
    ("GET", "/api/v1/halls/{hall_id}/appointment-slots"): Rule(
        PUBLIC, fixed("/halls/{hall}/appointment-slots", params={"service_code": "S-A1"})
    ),
    ("POST", "/api/v1/halls/{hall_id}/appointments"): Rule(
        PUBLIC,
        fixed(
            "/halls/{hall}/appointments",
            json={
                "service_code": "S-A1",
                "day": "2000-01-01",
                "start": "09:00",
                "id_number": ID_YOUNG,
                "phone": "13800138000",
            },
        ),
    ),
    ("POST", "/api/v1/appointments/{code}/cancel-code"): Rule(
        PUBLIC, fixed("/appointments/{appt}/cancel-code", json={"id_number": ID_YOUNG})
    ),
    ("POST", "/api/v1/appointments/{code}/cancel"): Rule(
        PUBLIC,
        fixed("/appointments/{appt}/cancel", json={"id_number": ID_YOUNG, "verification_code": "000000"}),
    ),
    ("POST", "/api/v1/appointments/lookup"): Rule(
        PUBLIC, fixed("/appointments/lookup", json={"code": "ZZZZZZ", "id_number": ID_YOUNG})
    ),
    ("POST", "/api/v1/halls/{hall_id}/appointments/{code}/cancel"): Rule(
        frozenset({"kiosk", "mgr_this", "mgr_parent", "admin"}),
        fixed("/halls/{hall}/appointments/{appt}/cancel", json={"id_number": ID_YOUNG_2}),
        hidden="booking.not_found",
    ),
    ("POST", "/api/v1/appointments/by-person"): Rule(
        frozenset({"kiosk", "kiosk_other_hall"}) | ANY_MANAGER,
        fixed("/appointments/by-person", json={"id_number": ID_YOUNG_2}),
        note="answers only the bookings of the caller's halls",
    ),
    ("GET", "/api/v1/halls/{hall_id}/appointments"): Rule(MANAGERS, fixed("/halls/{hall}/appointments")),
    ("POST", "/api/v1/halls/{hall_id}/checkin"): Rule(
        frozenset({"kiosk", "mgr_this", "mgr_parent", "admin"}),
        fixed("/halls/{hall}/checkin", json={"id_number": ID_YOUNG_2}),
    ),
    ("POST", "/api/v1/halls/{hall_id}/checkin/by-code"): Rule(
        frozenset({"kiosk", "mgr_this", "mgr_parent", "admin"}),
        lambda w, who: Req(f"/halls/{w.ids['hall']}/checkin/by-code", json={"code": w.ids["appt"]}),
        note="the booking's QR code; a booking of a hall outside the caller's reach is checkin.other_hall",
    ),
    ("POST", "/api/v1/appointments/sweep"): Rule(ANY_MANAGER, fixed("/appointments/sweep")),
    # follow-up cases of bad ratings
    ("GET", "/api/v1/halls/{hall_id}/followups"): Rule(MANAGERS, fixed("/halls/{hall}/followups")),
    ("GET", "/api/v1/followups/{case_id}"): Rule(
        MANAGERS, fixed("/followups/{case}"), hidden="followup.unknown"
    ),
    ("POST", "/api/v1/followups/{case_id}/steps"): Rule(
        MANAGERS,
        fixed("/followups/{case}/steps", json={"step": "verified", "note": "核实"}),
        hidden="followup.unknown",
    ),
    # matters
    ("POST", "/api/v1/tickets/{ticket_id}/matters"): Rule(
        OPERATOR, fixed("/tickets/{in_hand}/matters", json={})
    ),
    ("POST", "/api/v1/matters/{matter_id}/steps"): Rule(
        frozenset({"clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/matters/{matter}/steps", json={"step": "review", "note": ""}),
        hidden="matter.unknown",
    ),
    ("GET", "/api/v1/matters/{matter_id}"): Rule(
        frozenset({"clerk_this", "clerk_other", "mgr_this", "mgr_parent", "admin"}),
        fixed("/matters/{matter}"),
        hidden="matter.unknown",
    ),
    ("POST", "/api/v1/matters/query"): Rule(
        frozenset({"kiosk", "kiosk_other_hall"}) | ANY_MANAGER,
        fixed("/matters/query", json={"id_number": ID_YOUNG}),
        note="answers only the matters of the caller's halls",
    ),
    # statistics and the dashboard
    **{
        ("GET", f"/api/v1/halls/{{hall_id}}/{s}"): Rule(MANAGERS, fixed(f"/halls/{{hall}}/{s}"))
        for s in STATS
    },
    ("GET", "/api/v1/notify/outbox"): Rule(
        ANY_MANAGER, fixed("/notify/outbox"), note="each sees its own halls"
    ),
    ("POST", "/api/v1/notify/flush"): Rule(frozenset({"admin"}), fixed("/notify/flush")),
    # the audit trail: the chains' state (each manager sees its own halls' chains) and a hall's stream
    ("GET", "/api/v1/audit/status"): Rule(
        ANY_MANAGER, fixed("/audit/status"), note="each sees its own halls"
    ),
    ("GET", "/api/v1/audit/records"): Rule(
        MANAGERS, lambda w, who: Req("/audit/records", params={"scope": w.ids["hall"]})
    ),
    ("GET", "/api/v1/halls/{hall_id}/ext-settings"): Rule(MANAGERS, fixed("/halls/{hall}/ext-settings")),
    # the catalogue (issue 12): the city edits guides and calendars; a hall's managers its own values
    ("GET", "/api/v1/services/{code}/versions"): Rule(PUBLIC, fixed("/services/S-A1/versions")),
    ("PUT", "/api/v1/services/{code}/guide"): Rule(
        CITY_OWNERS,
        fixed("/services/S-A1/guide", json={"name": "社会保障卡申领"}),
        note="the city's managers",
    ),
    ("GET", "/api/v1/halls/{hall_id}/catalogue"): Rule(MANAGERS, fixed("/halls/{hall}/catalogue")),
    ("POST", "/api/v1/halls/{hall_id}/services"): Rule(
        MANAGERS, fixed("/halls/{hall}/services", json={"service_code": "S-X", "prefix": "A"})
    ),
    ("PUT", "/api/v1/halls/{hall_id}/services/{code}/guide"): Rule(
        MANAGERS, fixed("/halls/{hall}/services/S-A1/guide", json={"location": "一楼"})
    ),
    ("GET", "/api/v1/calendars"): Rule(ANY_MANAGER, fixed("/calendars"), note="each its own city"),
    ("GET", "/api/v1/calendars/{year}"): Rule(
        ANY_MANAGER, fixed("/calendars/2027"), note="each its own city"
    ),
    ("PUT", "/api/v1/calendars/{year}"): Rule(
        CITY_OWNERS,
        fixed("/calendars/2027", json={"holidays": [], "verified": False}),
        note="the city's managers",
    ),
    ("GET", "/api/v1/halls/{hall_id}/rules"): Rule(MANAGERS, fixed("/halls/{hall}/rules")),
    ("PUT", "/api/v1/halls/{hall_id}/rules"): Rule(MANAGERS, fixed("/halls/{hall}/rules", json={})),
    ("GET", "/api/v1/halls/{hall_id}/bigscreen"): Rule(MANAGERS, fixed("/halls/{hall}/bigscreen")),
    ("PUT", "/api/v1/halls/{hall_id}/ext-settings"): Rule(
        MANAGERS, fixed("/halls/{hall}/ext-settings", json={})
    ),
    # document photos
    ("POST", "/api/v1/tickets/{ticket_id}/documents"): Rule(
        frozenset({"clerk_this", "admin"}),
        lambda w, who: Req(
            f"/tickets/{w.ids['in_hand']}/documents",
            content=make_jpeg(hash(who) % 10_000),
            headers={"Content-Type": "image/jpeg"},
        ),
    ),
    ("GET", "/api/v1/tickets/{ticket_id}/documents"): Rule(OPERATOR, fixed("/tickets/{in_hand}/documents")),
    ("GET", "/api/v1/documents/{document_id}"): Rule(OPERATOR, fixed("/documents/{doc}")),
    ("DELETE", "/api/v1/documents/{document_id}"): Rule(MANAGERS, _delete_doc),
    # station sync: push and pull take a station's credential only (no api token may sync); the
    # link state answers any principal of the server; the station list each manager for its halls
    ("POST", "/api/v1/sync/push"): Rule(
        frozenset(),
        fixed("/sync/push", json={"station_id": "st-x", "epoch": "e" * 32}),
        note="station credential only (tests/hall_server/test_sync_station.py)",
    ),
    ("GET", "/api/v1/sync/pull"): Rule(frozenset(), note="station credential only"),
    ("GET", "/api/v1/sync/photos"): Rule(frozenset(), note="station credential only (test_sync_photos.py)"),
    ("PUT", "/api/v1/sync/photos/{document_id}"): Rule(
        frozenset(),
        fixed(
            "/sync/photos/{doc}", content=b"\x01" * 64, headers={"Content-Type": "application/octet-stream"}
        ),
        note="station credential only (test_sync_photos.py)",
    ),
    ("GET", "/api/v1/sync/link"): Rule(AUTHED),
    ("GET", "/api/v1/stations"): Rule(ANY_MANAGER, note="each sees the stations of its own halls"),
    ("GET", "/api/v1/stations/conflicts"): Rule(ANY_MANAGER, note="each sees the conflicts of its own halls"),
}

# Routes outside /api/v1: the web pages and the API description, public by design.
PUBLIC_PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/dashboard"): Rule(PUBLIC, note="the page; its data comes from the API with a token"),
    ("GET", "/manage/{page}"): Rule(PUBLIC, fixed("/manage/staff"), note="the page; its data needs a token"),
    ("GET", "/t/{track_token}"): Rule(PUBLIC, fixed("/t/xyz")),
    ("GET", "/book/{hall_id}"): Rule(PUBLIC, fixed("/book/{hall}")),
    ("GET", "/bigscreen"): Rule(PUBLIC, note="the page; its data comes from the API with a token"),
    ("GET", "/guide/{code}"): Rule(PUBLIC, fixed("/guide/S-A1")),
    ("GET", "/web/static/{name}"): Rule(PUBLIC, fixed("/web/static/nothing.js")),
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("GET", "/docs"): Rule(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Rule(PUBLIC),
    ("GET", "/redoc"): Rule(PUBLIC),
}


def app_routes(hall: Hall) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: its OpenAPI description plus the routes it leaves out."""
    found: set[tuple[str, str]] = set()
    spec = hall.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method in ops:
            found.add((method.upper(), path))
    for prefix, routers in ((API_PREFIX, ROUTERS), ("", PAGE_ROUTERS)):
        for router in routers:
            for route in router.routes:
                methods = getattr(route, "methods", None) or {"WS"}
                found |= {(m, prefix + route.path) for m in methods if m != "HEAD"}
    for route in hall.client.app.routes:
        path = getattr(route, "path", None)
        if path is not None:
            found |= {(m, path) for m in (getattr(route, "methods", None) or {"WS"}) if m != "HEAD"}
    return found


def test_matrix_names_every_route(hall: Hall) -> None:
    """A route missing from the matrix fails here: decide who may call it, then add it."""
    table = set(MATRIX) | set(PUBLIC_PAGES)
    routes = app_routes(hall)
    missing = sorted(routes - table)
    stale = sorted(table - routes)
    assert not missing, f"routes with no row in the authorization matrix: {missing}"
    assert not stale, f"matrix rows of routes that no longer exist: {stale}"


# --- running it ------------------------------------------------------------------------------
def _call(w: World, method: str, req: Req, headers: dict[str, str]) -> tuple[int, str | None, str]:
    prefix = API if method != "PAGE" else ""
    url = f"{prefix}{req.path}"
    r = w.client.request(
        method, url, json=req.json, content=req.content, params=req.params, headers={**headers, **req.headers}
    )
    code = None
    if r.headers.get("content-type", "").startswith("application/json"):
        try:
            body = r.json()
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        except ValueError:
            code = None
    return r.status_code, code, r.text[:200]


def _socket(w: World, req: Req, headers: dict[str, str]) -> tuple[int, str | None, str]:
    """The event socket: an error frame then a close for a refusal, else the first event."""
    try:
        with w.client.websocket_connect(f"{API}{req.path}?since=0", headers=headers) as ws:
            body = json.loads(ws.receive_text())
    except WebSocketDisconnect as exc:
        return exc.code, None, "closed"
    if "error" in body:
        code = body["error"]["code"]
        return (
            (
                401
                if code in ("auth.required", "auth.invalid", "auth.expired")
                else 403
                if code.startswith("auth.")
                else 404
            ),
            code,
            "",
        )
    return 200, None, "event"


def _judge(rule: Rule, who: str, status: int, code: str | None) -> str | None:
    """None if the answer is the expected one, else what is wrong."""
    if who in rule.allowed:
        if status in (401, 403):
            return f"over-refused: {status} {code}"
        if status >= 500:
            return f"server error {status} {code}"
        return None
    if who == "none":
        return (
            None
            if (status, code) == (401, "auth.required")
            else f"expected 401 auth.required, got {status} {code}"
        )
    if who in ("garbage", "revoked"):
        return (
            None
            if (status, code) == (401, "auth.invalid")
            else f"expected 401 auth.invalid, got {status} {code}"
        )
    if status == 403 and code in REFUSAL_CODES:
        return None
    if rule.hidden and code == rule.hidden:
        return None
    return f"let through or wrong refusal: {status} {code}"


def run_matrix(w: World, table: dict[tuple[str, str], Rule]) -> tuple[list[str], int]:
    problems: list[str] = []
    calls = 0
    for (method, path), rule in table.items():
        w.prepare()
        if rule.fresh_caller:
            w.fresh_clerk_after = True
        # Refusals first: an allowed call may change the state the next call sees.
        order = [p for p in PRINCIPALS if p not in rule.allowed] + [
            p for p in PRINCIPALS if p in rule.allowed
        ]
        for who in order:
            is_page = not path.startswith(API_PREFIX)
            req = rule.build(w, who) if rule.build else Req(path if is_page else path[len(API_PREFIX) :])
            headers = w.headers(who, fresh=rule.fresh_caller)
            if method == "WS":
                status, code, text = _socket(w, req, headers)
            elif is_page:
                r = w.client.request(method, req.path, headers=headers)
                status, code, text = r.status_code, None, ""
            else:
                status, code, text = _call(w, method, req, headers)
            calls += 1
            w.seen.setdefault(f"{method} {path}", {})[who] = f"{status} {code or ''}".strip()
            wrong = _judge(rule, who, status, code)
            if wrong:
                problems.append(f"{method} {path} as {who}: {wrong} {text if status >= 500 else ''}")
    return problems, calls


@pytest.mark.slow  # about 3,000 requests per backend: its file starts among the first
def test_authorization_matrix(hall: Hall) -> None:
    """Every principal against every route: the refusals expected, and no over-refusal."""
    w = World(hall)
    problems, calls = run_matrix(w, {**MATRIX, **PUBLIC_PAGES})
    dump = os.environ.get("HALL_TEST_AUTHZ_DUMP")
    if dump:  # the observed answers, for reading the matrix by eye
        Path(dump).write_text(json.dumps(w.seen, ensure_ascii=False, indent=1))
    assert calls == len(PRINCIPALS) * (len(MATRIX) + len(PUBLIC_PAGES))
    assert not problems, "\n".join(problems)


def test_a_visitor_rates_with_the_track_token_only(hall: Hall) -> None:
    """POST /ratings without a token: the ticket's track token is the proof; a wrong one is 401."""
    w = World(hall)
    body = {"ticket_id": w.ids["finished"], "level": 5, "channel": "phone"}
    headers = w.headers("none")
    wrong = hall.client.post(
        f"{API}/ratings", json={**body, "track_token": w.ids["rated_track"]}, headers=headers
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "auth.invalid")
    ok = hall.client.post(
        f"{API}/ratings", json={**body, "track_token": w.ids["finished_track"]}, headers=headers
    )
    assert ok.status_code == 201, ok.text


def test_a_device_token_does_not_log_itself_out(hall: Hall) -> None:
    """Device tokens end by an audited revocation (admin, manager), never by /auth/logout."""
    kiosk = hall.auth(f"kiosk:{HALL}")
    r = hall.client.post(f"{API}/auth/logout", headers=kiosk)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
    assert hall.client.get(f"{API}/auth/me", headers=kiosk).status_code == 200


def test_the_security_audit_reaches_managers_only(hall: Hall) -> None:
    """auth.* events keep their seq and type for the hall's screens, but not who, from where, which token."""
    r = hall.client.post(f"{API}/auth/login", json={"username": "c1", "password": "wrong"})
    assert r.status_code == 401
    last = hall.last_seq()
    for who, full in (
        (f"display:{CITY}", False),
        (f"kiosk:{CITY}", False),
        (f"clerk:{CITY}:2", False),
        ("m-city", True),
    ):
        evs = hall.client.get(
            f"{API}/halls/{CITY}/events", params={"since": 0, "limit": 1000}, headers=hall.auth(who)
        ).json()
        assert [e["seq"] for e in evs] == list(range(1, last + 1)), who  # still gap-free
        failed = [e for e in evs if e["type"] == "auth.login_failed"]
        assert failed, who
        assert (failed[-1]["payload"].get("username") == "c1") is full, who
        assert (failed[-1]["actor"]["id"] is not None) is full, who
        # The socket's replay answers the same.
        with hall.client.websocket_connect(
            f"{API}/halls/{CITY}/events/ws?since=0", headers=hall.auth(who)
        ) as ws:
            seen = [json.loads(ws.receive_text()) for _ in range(last)]
        assert [e["payload"] for e in seen] == [e["payload"] for e in evs], who
    # And a live one, as it happens.
    since = hall.last_seq()
    url = f"{API}/halls/{CITY}/events/ws?since={since}"
    with hall.client.websocket_connect(url, headers=hall.auth(f"display:{CITY}")) as ws:
        hall.client.post(f"{API}/auth/login", json={"username": "c1", "password": "wrong again"})
        live = json.loads(ws.receive_text())
    assert live["type"] == "auth.login_failed" and live["seq"] == since + 1
    assert live["payload"] == {} and live["actor"]["id"] is None
