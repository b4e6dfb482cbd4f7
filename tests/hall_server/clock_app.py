"""In-process hall server (real SQLite or PostgreSQL, real migrations, real seed) with a movable clock.

Used by the issue-5 API tests (appointments, follow-ups, matters, statistics, indicators).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, select, update

from hall_server.app import create_app
from hall_server.auth import create_token
from hall_server.config import Settings
from hall_server.const import KEY_FILE_NAME
from hall_server.context import ServerContext
from hall_server.db.models import OutboxMessage, Rating, Ticket
from hall_server.migrate import upgrade
from hall_server.seed import seed

API = "/api/v1"
PASSWORD = "test-pass-1"
# A Monday morning in Beijing, far from holidays: 2026-03-09 10:00 +08:00.
MONDAY_10 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
ID_A = "110101199003074514"  # valid GB 11643 numbers
ID_B = "440524198001010013"
ID_C = "11010519491231002X"
PHONE = "13800138000"


def _hall(hid: str, name: str, level: str, parent: str | None) -> dict[str, Any]:
    return {
        "id": hid,
        "name": name,
        "short_name": name[:4],
        "level": level,
        "parent": parent,
        "policy": {"per_person_daily_limit": 100, "daily_cap_per_group": 10000, "target_wait_minutes": 10},
        "opening_hours": [["09:00", "12:00"], ["13:30", "17:30"]],
        "groups": [
            {"prefix": "A", "name": "社保医保", "services": ["S-001", "S-002"]},
            {"prefix": "B", "name": "不动产登记", "services": ["S-003"]},
        ],
        "windows": [
            {"number": 1, "name": "社保窗口", "kind": "specialised", "groups": {"A": 1}},
            {"number": 2, "name": "综合窗口", "kind": "comprehensive", "groups": {"A": 1, "B": 1}},
        ],
        "clerks": [
            {"username": f"{hid}-c1", "name": "王芳", "password": PASSWORD},
            {"username": f"{hid}-c2", "name": "李娜", "password": PASSWORD},
        ],
    }


SEED: dict[str, Any] = {
    "city": "测试市",
    "timezone": "Asia/Shanghai",
    "demo_open_all_day": True,
    "services": [
        {"code": "S-001", "name": "社会保障卡申领", "category": "社会保障"},
        {"code": "S-002", "name": "城乡居民医保参保登记", "category": "医疗保障"},
        {"code": "S-003", "name": "不动产登记资料查询", "category": "不动产登记"},
    ],
    "halls": [
        _hall("x-city", "测试市政务服务中心", "city", None),
        _hall("x-county", "测试县政务服务中心", "county", "x-city"),
        _hall("x-town", "测试镇便民服务中心", "township", "x-county"),
        _hall("y-city", "他市政务服务中心", "city", None),
    ],
    "managers": [
        {"username": "m-city", "name": "陈静", "password": PASSWORD, "hall": "x-city"},
        {"username": "m-county", "name": "赵强", "password": PASSWORD, "hall": "x-county"},
        {"username": "m-y", "name": "孙丽", "password": PASSWORD, "hall": "y-city"},
    ],
    "admins": [{"username": "admin", "password": PASSWORD}],
}


class Clock:
    """The time the issue-5 routers see."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def set_local(self, day: date, hhmm: str) -> None:
        """Set the clock to a Beijing wall time."""
        h, m = (int(x) for x in hhmm.split(":"))
        self.now = datetime(day.year, day.month, day.day, h, m, tzinfo=UTC) - timedelta(hours=8)


@dataclass
class Env:
    """A running app with its client, context, clock and tokens."""

    client: TestClient
    ctx: ServerContext
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def texted_cancel_code(self, code: str, id_number: str) -> str:
        """Ask for a cancellation code and read it from the SMS the outbox holds for the booking's phone."""
        r = self.client.post(f"{API}/appointments/{code}/cancel-code", json={"id_number": id_number})
        assert r.status_code == 200, r.text
        with self.ctx.db.read() as s:
            texts = s.scalars(
                select(OutboxMessage.text)
                .where(OutboxMessage.kind == "appointment.cancel_code")
                .order_by(OutboxMessage.id.desc())
            ).all()
        found = re.search(r"验证码(\d{6})", texts[0]) if texts else None
        assert found, texts
        return found.group(1)

    def events(self, hall: str) -> list[dict[str, Any]]:
        """The hall's event log as its screens receive it (read by the admin)."""
        r = self.client.get(
            f"{API}/halls/{hall}/events", params={"since": 0, "limit": 1000}, headers=self.h("admin")
        )
        assert r.status_code == 200, r.text
        return r.json()

    def cancel(self, code: str, id_number: str) -> Any:
        """Cancel as the booking page does: the texted code, then the cancellation."""
        verification = self.texted_cancel_code(code, id_number)
        return self.client.post(
            f"{API}/appointments/{code}/cancel",
            json={"id_number": id_number, "verification_code": verification},
        )

    def h(self, who: str) -> dict[str, str]:
        """Authorization header for a named principal, made on first use: "m-city", "admin",
        "kiosk:<hall>", "clerk:<hall>:<window no>", "rating:<hall>:<window no>"."""
        if who not in self.tokens:
            kind, _, rest = who.partition(":")
            if kind == "kiosk":
                self.tokens[who] = self.device_token("kiosk", rest)
            elif kind in ("clerk", "rating"):
                hall, _, number = rest.partition(":")
                wid = self.window_id(hall, int(number))
                if kind == "clerk":
                    self.tokens[who] = self.login(f"{hall}-c{number}", wid)
                else:
                    self.tokens[who] = self.device_token("rating", hall, wid)
            else:
                self.tokens[who] = self.login(who)
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def login(self, username: str, window_id: int | None = None) -> str:
        """Log a seeded user in and return the token."""
        body: dict[str, Any] = {"username": username, "password": PASSWORD}
        if window_id is not None:
            body["window_id"] = window_id
        r = self.client.post(f"{API}/auth/login", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def window_id(self, hall: str, number: int) -> int:
        """A window's id from its hall and number."""
        r = self.client.get(f"{API}/halls/{hall}")
        return next(w["id"] for w in r.json()["windows"] if w["number"] == number)

    def device_token(self, role: str, hall: str, window_id: int | None = None) -> str:
        """A device token (kiosk, rating) made the way `hall-server token create` does."""
        with self.ctx.db.write() as s:
            _id, token = create_token(s, role, hall_id=hall, window_id=window_id, label="test")
        return token

    def issue(self, hall: str, service: str = "S-001", id_number: str | None = None) -> dict[str, Any]:
        """Issue a ticket at the hall's kiosk."""
        body: dict[str, Any] = {"service_code": service, "channel": "kiosk"}
        if id_number:
            body["identity"] = {"id_number": id_number, "name": "张三"}
        r = self.client.post(
            f"{API}/halls/{hall}/tickets",
            json=body,
            headers={**self.h(f"kiosk:{hall}"), "Idempotency-Key": secrets.token_hex(8)},
        )
        assert r.status_code == 201, r.text
        return r.json()

    def serve_next(self, hall: str, window_no: int, finish: bool = True) -> dict[str, Any]:
        """The clerk of a window calls the next ticket, starts and (optionally) finishes it."""
        who = f"clerk:{hall}:{window_no}"
        wid = self.window_id(hall, window_no)
        r = self.client.post(f"{API}/windows/{wid}/call-next", headers=self.h(who))
        assert r.status_code == 200, r.text
        ticket = r.json()
        assert self.client.post(f"{API}/windows/{wid}/start", headers=self.h(who)).status_code == 200
        if finish:
            r = self.client.post(f"{API}/windows/{wid}/finish", headers=self.h(who))
            assert r.status_code == 200, r.text
            ticket = r.json()
        return ticket

    def rate(
        self, ticket_id: int, level: int, prompted: bool = True, hall: str = "x-city", window_no: int = 1
    ) -> dict[str, Any]:
        """Rate a served ticket from the window's rating device."""
        body: dict[str, Any] = {
            "ticket_id": ticket_id,
            "level": level,
            "channel": "device",
            "prompted": prompted,
        }
        if level <= 2:
            body["reasons"] = ["服务态度"]
        r = self.client.post(f"{API}/ratings", json=body, headers=self.h(f"rating:{hall}:{window_no}"))
        assert r.status_code == 201, r.text
        return r.json()

    def backdate_rating(self, rating_id: int, at: datetime) -> None:
        """Move a rating's time (to test deadlines across a holiday)."""
        with self.ctx.db.write() as s:
            s.execute(update(Rating).where(Rating.id == rating_id).values(created_at=at))

    def backdate_ticket(self, ticket_id: int, day: date) -> None:
        """Move a ticket to another business day."""
        with self.ctx.db.write() as s:
            s.execute(update(Ticket).where(Ticket.id == ticket_id).values(business_day=day))


# Every test starts from the same seeded database: built once per backend (migrations, seed,
# scrypt hashes of every password cost seconds) and copied for each test.
TEMPLATE_KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
_templates: dict[str, str] = {}
_template_dir = tempfile.TemporaryDirectory(prefix="clock-app-template-")


def _write_key(data_dir: Path) -> None:
    """The template's data key, so a copy's recorded key fingerprint matches."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / KEY_FILE_NAME).write_text(TEMPLATE_KEY_HEX + "\n")


def _seed_template(url: str) -> None:
    """Migrate and seed the template database at url (nobody stays connected to it)."""
    data_dir = Path(_template_dir.name) / f"data-{len(_templates)}"
    _write_key(data_dir)
    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=data_dir, db_url=url, listen_other_processes=False))
    try:
        seed(ctx.db, json.loads(json.dumps(SEED)))
    finally:
        ctx.close()


def _copy_template(db_url: str) -> None:
    """Make db_url (a SQLite file not yet there, or an empty PostgreSQL database) a copy of the
    seeded template of its backend."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if "sqlite" not in _templates:
            path = Path(_template_dir.name) / "template.sqlite3"
            _seed_template(f"sqlite:///{path}")
            _templates["sqlite"] = str(path)
        dst = Path(str(url.database))
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_templates["sqlite"], dst)
        return
    import psycopg

    cluster = f"{url.host}:{url.port}"
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if cluster not in _templates:
            name = f"clock_tmpl_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE DATABASE "{name}"')
            _seed_template(url.set(database=name).render_as_string(hide_password=False))
            _templates[cluster] = name
        conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        # FILE_COPY: see PgCluster.copy_database (about half the time of the default WAL_LOG).
        conn.execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{_templates[cluster]}" STRATEGY FILE_COPY')


def make_env(db_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """Build the app on db_url (an empty database, made a copy of the seeded template), log
    everyone in on first use; the clock starts on MONDAY_10."""
    monkeypatch.setenv("HALL_EXT_WORKER_SECONDS", "0")
    _copy_template(db_url)
    _write_key(data_dir)
    clock = Clock(MONDAY_10)
    settings = Settings(data_dir=data_dir, db_url=db_url, listen_other_processes=False)
    app = create_app(settings)
    ctx: ServerContext = app.state.ctx
    ctx.clock = lambda: clock.now
    with TestClient(app) as client:
        env = Env(client=client, ctx=ctx, clock=clock)
        yield env


def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on a fresh SQLite file (wrap it in a fixture named env)."""
    yield from make_env(f"sqlite:///{tmp_path}/hall.sqlite3", tmp_path / "data", monkeypatch)


def postgres_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on a fresh PostgreSQL database."""
    yield from make_env(pg_url, tmp_path / "data", monkeypatch)
