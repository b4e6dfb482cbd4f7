"""Notifications through an outbox: reminders and "your turn is near", sent once, retried, never lost."""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hall_server.auth import MANAGER_ROLES, Principal, require_roles, visible_halls
from hall_server.const import (
    NOTIFY_SCAN,
    OUTBOX_BACKOFF_S,
    OUTBOX_MAX_ATTEMPTS,
    POLICY_NEAR_AHEAD,
)
from hall_server.crypto import DataProtector
from hall_server.db.engine import Database
from hall_server.db.models import Appointment, Event, Hall, NotifyCursor, OutboxMessage, Ticket
from hall_server.event_archive import archived_rows
from hall_server.services.hall_settings import settings_of
from hall_server.services.queue import group_counts, waiting_candidates
from queueing.idnumber import mask_phone
from queueing.model import HallPolicy
from queueing.policy import expected_order

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

PHONE_CONTEXT = "outbox.phone"
# How long a claimed message is left to its sender before another flusher may try it again.
CLAIM_LEASE_S = 120


class Notifier(Protocol):
    """Sends one message; raises on failure (the outbox retries). An SMS gateway is a plug-in."""

    def send(self, phone: str | None, text: str, kind: str, payload: dict[str, Any]) -> None:
        """Deliver or raise."""


class LogNotifier:
    """The default notifier: writes each message to the log (phone masked)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, str, str]] = []

    def send(self, phone: str | None, text: str, kind: str, payload: dict[str, Any]) -> None:
        """Log the message."""
        logger.info("notify %s to %s: %s", kind, mask_phone(phone) if phone else "-", text)
        self.sent.append((phone, text, kind))


def load_notifier(spec: str) -> Notifier:
    """The notifier named by the setting ("package.module:Class"), else LogNotifier."""
    if not spec:
        return LogNotifier()
    module, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module), attr or "Notifier")
    return cls()


def _aware(dt: datetime | None) -> datetime | None:
    return None if dt is None else (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt)


def enqueue(
    session: Session,
    protector: DataProtector | None,
    *,
    dedupe_key: str,
    kind: str,
    hall_id: str,
    phone: str | None,
    text: str,
    payload: dict[str, Any],
    due: datetime,
    now: datetime,
) -> bool:
    """Add a message unless one with the same dedupe_key exists; True when added."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(OutboxMessage.__table__).values(
        dedupe_key=dedupe_key,
        kind=kind,
        hall_id=hall_id,
        phone_enc=protector.encrypt(phone, PHONE_CONTEXT) if (phone and protector) else None,
        phone_masked=mask_phone(phone) if phone else None,
        text=text,
        payload=payload,
        attempts=0,
        created_at=now,
        next_attempt_at=due,
    )
    result = session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return bool(result.rowcount)


def drop_pending(session: Session, dedupe_key: str) -> None:
    """Forget an unsent message (a cancelled booking's reminder); sent ones stay as the record."""
    session.execute(
        delete(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key, OutboxMessage.sent_at.is_(None))
    )


@dataclass(frozen=True)
class _Claimed:
    """A message taken out of the outbox for one sending attempt, with what sending needs."""

    id: int
    dedupe_key: str
    attempts: int
    phone: str | None
    text: str
    kind: str
    payload: dict[str, Any]


def flush(
    db: Database, protector: DataProtector | None, notifier: Notifier, now: datetime, limit: int = 200
) -> dict[str, int]:
    """Send due messages: claim them, send outside any transaction, record each result.

    The gateway may be slow or hang: no transaction and no writer slot is held while it talks,
    so tickets, calls and displays go on meanwhile. A claim pushes the message's next attempt
    CLAIM_LEASE_S ahead, so a second flusher (another process) skips it, and a flusher that
    dies between sending and recording leaves it to be tried again after the lease.
    """
    claimed = _claim(db, protector, now, limit)
    results: list[tuple[_Claimed, str | None]] = []
    for msg in claimed:
        try:
            notifier.send(msg.phone, msg.text, msg.kind, msg.payload)
        except Exception as exc:  # any gateway failure: keep the row and retry later
            logger.warning("notify %s failed (attempt %d): %s", msg.dedupe_key, msg.attempts, exc)
            results.append((msg, f"{type(exc).__name__}: {exc}"[:500]))
        else:
            results.append((msg, None))
    if results:
        _record(db, results, now)
    failed = sum(1 for _, error in results if error is not None)
    return {"sent": len(results) - failed, "failed": failed}


def _claim(db: Database, protector: DataProtector | None, now: datetime, limit: int) -> list[_Claimed]:
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.attempts < OUTBOX_MAX_ATTEMPTS,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if db.is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    out: list[_Claimed] = []
    with db.write() as s:
        for msg in s.scalars(stmt):
            msg.attempts += 1
            msg.next_attempt_at = now + timedelta(seconds=CLAIM_LEASE_S)
            phone = protector.decrypt(msg.phone_enc, PHONE_CONTEXT) if (msg.phone_enc and protector) else None
            out.append(
                _Claimed(
                    msg.id, msg.dedupe_key, msg.attempts, phone, msg.text, msg.kind, dict(msg.payload or {})
                )
            )
    return out


def _record(db: Database, results: list[tuple[_Claimed, str | None]], now: datetime) -> None:
    with db.write() as s:
        for claimed, error in results:
            msg = s.get(OutboxMessage, claimed.id)
            if msg is None:  # dropped meanwhile (a cancelled booking's reminder)
                continue
            if error is None:
                msg.sent_at = now
                msg.last_error = None
            else:
                msg.last_error = error
                backoff = OUTBOX_BACKOFF_S[min(claimed.attempts - 1, len(OUTBOX_BACKOFF_S) - 1)]
                msg.next_attempt_at = now + timedelta(seconds=backoff)


@dataclass(frozen=True)
class _Near:
    """One "your turn is near" message found by a scan, to be queued."""

    ticket_id: int
    hall_id: str
    phone: str
    text: str
    ahead: int


@dataclass
class NearScan:
    """What a scan read: each hall's last event seq, and the messages to queue."""

    cursors: dict[str, int]
    messages: list[_Near]


def scan_events(session: Session, protector: DataProtector | None) -> NearScan:
    """Read new call events of every hall and find the booked visitors whose turn is near.

    Reads only: it runs in a read transaction, so the hall's writers never wait for it (a scan
    reads up to NOTIFY_SCAN events a hall and its queues); queue_near() writes what it found.
    A waiting appointment ticket with at most N people ahead (hall setting notify_people_ahead,
    default 3) gets one message; the dedupe key makes a re-scan harmless.
    """
    found = NearScan(cursors={}, messages=[])
    halls = {h.id: h for h in session.scalars(select(Hall))}
    cursors = {c.hall_id: c.last_seq for c in session.scalars(select(NotifyCursor))}
    for hall_id, hall in halls.items():
        last_seq = cursors.get(hall_id, 0)
        rows = session.execute(
            select(Event.seq, Event.type, Event.payload)
            .where(Event.hall_id == hall_id, Event.seq > last_seq)
            .order_by(Event.seq)
            .limit(NOTIFY_SCAN)
        ).all()
        if not rows:
            continue
        if rows[0].seq > last_seq + 1:
            # The events in between were archived before this pass read them (event retention
            # ran while the notifier was behind): read them there, so no call is skipped.
            archived = list(islice(archived_rows(session, hall_id, last_seq, rows[0].seq - 1), NOTIFY_SCAN))
            rows = [*archived, *rows][:NOTIFY_SCAN]
        groups: set[str] = set()
        for row in rows:
            if row.type in ("ticket.called", "ticket.issued", "ticket.no_show", "ticket.cancelled"):
                try:
                    ticket = json.loads(row.payload).get("ticket") or {}
                except ValueError:
                    ticket = {}
                if ticket.get("prefix"):
                    groups.add(str(ticket["prefix"]))
        found.cursors[hall_id] = int(rows[-1].seq)
        ahead_limit = int(settings_of(session, hall_id)[POLICY_NEAR_AHEAD])
        for prefix in groups:
            found.messages += _near_for_group(session, protector, hall, prefix, ahead_limit)
    return found


def queue_near(session: Session, protector: DataProtector | None, found: NearScan, now: datetime) -> int:
    """Queue the messages a scan found and move the halls' cursors; how many were added."""
    added = 0
    for near in found.messages:
        added += enqueue(
            session,
            protector,
            dedupe_key=f"near:{near.ticket_id}",
            kind="ticket.near",
            hall_id=near.hall_id,
            phone=near.phone,
            text=near.text,
            payload={"ticket_id": near.ticket_id, "people_ahead": near.ahead},
            due=now,
            now=now,
        )
    stored = {c.hall_id: c for c in session.scalars(select(NotifyCursor))}
    for hall_id, seq in found.cursors.items():
        cursor = stored.get(hall_id)
        if cursor is None:
            session.add(NotifyCursor(hall_id=hall_id, last_seq=seq))
        else:
            # Two processes may scan at once: a cursor never moves back.
            cursor.last_seq = max(cursor.last_seq, seq)
    return added


def _near_for_group(
    session: Session,
    protector: DataProtector | None,
    hall: Hall,
    prefix: str,
    ahead_limit: int,
) -> list[_Near]:
    # The order the hall's calling policy will serve the group in (the core's own domain function).
    day = session.scalar(
        select(func.max(Ticket.business_day)).where(Ticket.hall_id == hall.id, Ticket.status == "waiting")
    )
    if day is None or protector is None:
        return []
    # Only appointment holders are told (the phone is on their booking): a group with none of
    # them waiting has nobody to tell, which its counts say without reading its whole queue.
    counts = group_counts(session, hall.id, day, prefix)
    if not any(n > 0 for (_priority, appointed), n in counts.items() if appointed):
        return []
    policy = HallPolicy.from_dict(hall.policy or {})
    order = expected_order(waiting_candidates(session, hall.id, day), prefix, policy)
    out: list[_Near] = []
    for ahead, cand in enumerate(order[: ahead_limit + 1]):
        t = session.get(Ticket, cand.ticket_id)
        if t is None or not t.appointment_id or not str(t.appointment_id).isdigit():
            continue
        appt = session.get(Appointment, int(t.appointment_id))
        if appt is None or appt.phone_enc is None:
            continue
        phone = protector.decrypt(appt.phone_enc, "appointment.phone")
        name = hall.short_name or hall.name
        text = (
            f"【{name}】您的{t.number}号前面还有{ahead}人，请到等候区留意叫号。"
            if ahead
            else f"【{name}】下一位就是您（{t.number}号），请留意叫号。"
        )
        out.append(_Near(ticket_id=t.id, hall_id=hall.id, phone=phone, text=text, ahead=ahead))
    return out


def pending(session: Session) -> list[OutboxMessage]:
    """Messages not sent yet (for the dashboard and tests)."""
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
        )
    )


def view(msg: OutboxMessage) -> dict[str, Any]:
    """The wire form of an outbox row (phone masked)."""
    return {
        "id": msg.id,
        "dedupe_key": msg.dedupe_key,
        "kind": msg.kind,
        "hall_id": msg.hall_id,
        "phone_masked": msg.phone_masked,
        "text": msg.text,
        "attempts": msg.attempts,
        "last_error": msg.last_error,
        "next_attempt_at": _aware(msg.next_attempt_at).isoformat() if msg.next_attempt_at else None,
        "sent_at": _aware(msg.sent_at).isoformat() if msg.sent_at else None,
    }


def outbox_of(ctx: ServerContext, p: Principal) -> list[dict[str, Any]]:
    """Use case: messages not sent yet in the caller's halls (managers), phones masked."""
    require_roles(p, *MANAGER_ROLES)
    ids = set(visible_halls(ctx, p))
    with ctx.db.read() as s:
        return [view(m) for m in pending(s) if m.hall_id in ids]
