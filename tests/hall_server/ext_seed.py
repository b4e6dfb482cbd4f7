"""A small hall seeded row by row for the appointment/follow-up/matter/stats service tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hall_server.crypto import DataProtector
from hall_server.db.engine import Database
from hall_server.db.models import Hall, HallService, QueueGroup, Rating, ServiceItem, Ticket, User, Window
from queueing.idnumber import mask_id_number

HALL = "t-hall"
CHILD = "t-town"
OTHER = "o-hall"
KEY = bytes(range(32))


def protector() -> DataProtector:
    """A data protector with a fixed test key."""
    return DataProtector(KEY)


def seed(db: Database) -> None:
    """Two-level tree (city hall with a township below) plus an unrelated hall; services, windows, clerks."""
    with db.write() as s:
        s.add_all(
            [
                Hall(
                    id=HALL,
                    name="测试市政务服务中心",
                    short_name="测试中心",
                    level="city",
                    parent_id=None,
                    timezone="Asia/Shanghai",
                    policy={"target_wait_minutes": 10},
                    opening_hours=[["09:00", "12:00"], ["13:30", "17:30"]],
                ),
                Hall(
                    id=CHILD,
                    name="测试镇便民服务中心",
                    short_name="测试镇",
                    level="township",
                    parent_id=HALL,
                    timezone="Asia/Shanghai",
                    policy={},
                    opening_hours=[["09:00", "12:00"]],
                ),
                Hall(
                    id=OTHER,
                    name="他市政务服务中心",
                    short_name="他市",
                    level="city",
                    parent_id=None,
                    timezone="Asia/Shanghai",
                    policy={},
                    opening_hours=[["09:00", "17:00"]],
                ),
            ]
        )
        s.flush()
        s.add_all(
            [
                ServiceItem(code="T-001", name="社会保障卡申领", category="社会保障"),
                ServiceItem(code="T-003", name="不动产登记资料查询", category="不动产登记"),
            ]
        )
        s.flush()
        for hid in (HALL, CHILD, OTHER):
            s.add_all(
                [
                    QueueGroup(hall_id=hid, prefix="A", name="社保医保"),
                    QueueGroup(hall_id=hid, prefix="B", name="不动产"),
                ]
            )
            s.add_all(
                [
                    HallService(hall_id=hid, service_code="T-001", prefix="A"),
                    HallService(hall_id=hid, service_code="T-003", prefix="B"),
                ]
            )
        s.flush()
        s.add_all(
            [
                User(id=1, username="clerk1", name="王芳", role="clerk", hall_id=HALL, password_hash="x"),
                User(id=2, username="clerk2", name="李娜", role="clerk", hall_id=HALL, password_hash="x"),
            ]
        )
        s.flush()
        s.add_all(
            [
                Window(
                    id=1, hall_id=HALL, number=1, name="社保窗口", status="open", groups={"A": 1}, clerk_id=1
                ),
                Window(
                    id=2,
                    hall_id=HALL,
                    number=2,
                    name="综合窗口",
                    status="open",
                    groups={"A": 1, "B": 1},
                    clerk_id=2,
                ),
            ]
        )


_seq = {"n": 0}


def add_ticket(
    s: Session,
    *,
    hall_id: str = HALL,
    day: date,
    issued: datetime,
    called_after: float | None = None,
    serve_seconds: float | None = None,
    status: str | None = None,
    window_id: int | None = 1,
    clerk_id: int | None = 1,
    service_code: str = "T-001",
    prefix: str = "A",
    transfers: int = 0,
    appointment_id: str | None = None,
    id_number: str | None = None,
    prot: DataProtector | None = None,
) -> Ticket:
    """Insert a ticket row with its times (seconds after issue), as the core would have left it."""
    _seq["n"] += 1
    called = issued + timedelta(seconds=called_after) if called_after is not None else None
    started = called if (called is not None and serve_seconds is not None) else None
    finished = started + timedelta(seconds=serve_seconds) if started is not None else None
    if status is None:
        status = "finished" if finished else ("called" if called else "waiting")
    t = Ticket(
        hall_id=hall_id,
        business_day=day,
        prefix=prefix,
        seq=_seq["n"],
        number=f"{prefix}{_seq['n']:03d}",
        group_prefix=prefix,
        service_code=service_code,
        status=status,
        priority=appointment_id is not None,
        appointment_id=appointment_id,
        channel="kiosk",
        issued_at=issued,
        called_at=called,
        started_at=started,
        finished_at=finished,
        window_id=window_id if called else None,
        clerk_id=clerk_id if called else None,
        transfer_count=transfers,
        track_token=secrets.token_hex(8),
    )
    if id_number and prot:
        t.id_hmac = prot.lookup_hash(id_number)
        t.id_enc = prot.encrypt(id_number, "id_number")
        t.id_masked = mask_id_number(id_number)
    s.add(t)
    s.flush()
    return t


def add_rating(
    s: Session, ticket: Ticket, level: int, prompted: bool = True, at: datetime | None = None
) -> Rating:
    """Insert a rating row for a ticket."""
    r = Rating(
        hall_id=ticket.hall_id,
        ticket_id=ticket.id,
        window_id=ticket.window_id,
        clerk_id=ticket.clerk_id,
        service_code=ticket.service_code,
        level=level,
        reasons=[],
        text="",
        channel="device",
        prompted=prompted,
        created_at=at or ticket.finished_at or datetime.now(UTC),
    )
    s.add(r)
    s.flush()
    return r


@contextmanager
def sqlite_db(tmp_path: Any) -> Iterator[Database]:
    """A fresh SQLite database file with every table."""
    from hall_server.db import models_ext  # noqa: F401  (registers the extension tables)
    from hall_server.db.models import Base

    db = Database(f"sqlite:///{tmp_path}/t.sqlite3")
    Base.metadata.create_all(db.engine)
    try:
        yield db
    finally:
        db.dispose()
