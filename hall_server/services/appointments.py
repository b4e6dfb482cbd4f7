"""Appointments (网上预约): slots, booking, cancelling, no-show blocking and the kiosk check-in.

Across the city network (docs/sync.md, "Appointments"): the city owns a station hall's slots
(its capacity) and its bookings, made and cancelled on the city's booking page and sent down;
a station takes no bookings (409 sync.booking_at_city). The station owns attendance: its kiosk
checks a booking in (offline too) and its sweep marks no-shows, as `appointment_attendance`
rows (never by writing the city's booking), which go up; the city copies them into its booking
and neither checks in nor sweeps a station's halls (409 sync.managed_by_station). Readers here
show a booking with its attendance (`effective`).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hall_server.auth import (
    MANAGER_ROLES,
    Principal,
    can_access_hall,
    manager_scope,
    require_hall,
    require_roles,
    visible_halls,
)
from hall_server.const import (
    APPOINTMENT_CODE_LEN,
    EV_APPOINTMENT_BOOKED,
    EV_APPOINTMENT_CANCELLED,
    EV_APPOINTMENT_CHECKED_IN,
    EV_APPOINTMENT_NO_SHOW,
    POLICY_BOOKING,
)
from hall_server.context import ServerContext
from hall_server.crypto import DataProtector
from hall_server.db.models import (
    PERSON_DAY_INDEX,
    Appointment,
    AppointmentAttendance,
    AppointmentSlot,
    Hall,
    HallService,
    ServiceItem,
    StationHall,
)
from hall_server.db.upsert import upsert_do_nothing
from hall_server.errors import HallError
from hall_server.events import Actor, append_event, station_halls
from hall_server.qr import qr_svg_data_uri
from hall_server.services import notify, tickets
from hall_server.services.calendars import calendar_for_hall
from hall_server.services.hall_settings import settings_of
from queueing.calendar import (
    BookingRules,
    bookable_days,
    can_cancel,
    checkin_state,
    day_slots,
    noshow_block_until,
)
from queueing.hierarchy import subtree
from queueing.idnumber import mask_id_number, mask_name, mask_phone, parse_id_number

logger = logging.getLogger(__name__)

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# Unambiguous characters for booking codes read aloud or typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ACTIVE_STATUSES = ("booked", "checked_in")
# A texted cancellation code: its digits, and how long one stays valid (the previous one too).
CANCEL_CODE_DIGITS = 6
CANCEL_CODE_WINDOW_S = 600
_ATTENDANCE = AppointmentAttendance.__table__
# How SQLite names the partial unique index's columns in its violation message.
_PERSON_DAY_SQLITE = "appointments.id_hmac, appointments.day, appointments.person_seq"


def aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@dataclass(frozen=True)
class Kept:
    """A station's attendance of a booking (what an appointment_attendance row says)."""

    status: str  # checked_in, no_show
    ticket_id: int | None = None


def attendance_of(session: Session, ids: list[int]) -> dict[int, Kept]:
    """The station's attendance records of these bookings (none at a city or stand-alone hall)."""
    out: dict[int, Kept] = {}
    for i in range(0, len(ids), 500):
        for r in session.execute(
            select(_ATTENDANCE.c.appointment_id, _ATTENDANCE.c.status, _ATTENDANCE.c.ticket_id).where(
                _ATTENDANCE.c.appointment_id.in_(ids[i : i + 500])
            )
        ):
            out[int(r.appointment_id)] = Kept(r.status, r.ticket_id)
    return out


def effective(a: Appointment, kept: Kept | None) -> tuple[str, int | None]:
    """(status, ticket id) of a booking as its hall knows it: the station's attendance of a
    booking the city still has as booked decides; the city's cancellation stands over it."""
    if kept is not None and a.status == "booked":
        return kept.status, kept.ticket_id
    return a.status, a.ticket_id


def record_attendance(
    session: Session, appt_id: int, hall_id: str, status: str, ticket_id: int | None, now: datetime
) -> bool:
    """At a station: record that a booking was kept or missed, once (the booking row is the city's).

    Only while the city's copy still says booked (a cancellation that came down is honoured);
    False when it does not, or when the attendance is recorded already.
    """
    if session.scalar(select(Appointment.status).where(Appointment.id == appt_id)) != "booked":
        return False
    done = session.execute(
        upsert_do_nothing(
            session.get_bind().dialect.name,
            _ATTENDANCE,
            {
                "appointment_id": appt_id,
                "hall_id": hall_id,
                "status": status,
                "ticket_id": ticket_id,
                "at": now,
            },
        )
    )
    return bool(done.rowcount)


def refuse_at_station(ctx: ServerContext) -> None:
    """409 sync.booking_at_city at a station: the city's booking page books and cancels its halls."""
    if ctx.settings.station_mode:
        raise HallError("sync.booking_at_city")


def refuse_station_hall(ctx: ServerContext, hall_id: str) -> None:
    """409 sync.managed_by_station at a parent for a station's hall: the station records attendance."""
    if ctx.settings.station_mode:
        return
    with ctx.db.read_conn() as conn:
        if hall_id in station_halls(conn):
            raise HallError("sync.managed_by_station", hall_id=hall_id)


def hall_of(session: Session, hall_id: str) -> Hall:
    """The hall row or hall.unknown."""
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise HallError("hall.unknown", hall_id=hall_id)
    return hall


def rules_of(session: Session, hall: Hall) -> BookingRules:
    """The hall's booking rules (its settings' "booking") over the defaults."""
    return BookingRules.from_dict(settings_of(session, hall.id)[POLICY_BOOKING])


def zone_of(hall: Hall) -> ZoneInfo:
    """The hall's time zone."""
    return ZoneInfo(hall.timezone or "Asia/Shanghai")


def opening_hours(hall: Hall) -> list[tuple[time, time]]:
    """The hall's opening hours as time pairs (default 09:00-12:00, 13:30-17:30)."""
    raw = hall.opening_hours or [["09:00", "12:00"], ["13:30", "17:30"]]
    return [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in raw]


def capacity_of(session: Session, hall: Hall, service_code: str) -> int:
    """Bookings per slot for a service: booking.capacity_by_service[code], else booking.capacity."""
    cfg = settings_of(session, hall.id)[POLICY_BOOKING]
    by_service = cfg.get("capacity_by_service") or {}
    return int(by_service.get(service_code, cfg["capacity"]))


def _service(session: Session, hall_id: str, service_code: str) -> ServiceItem:
    claimed = session.get(HallService, (hall_id, service_code))
    item = session.get(ServiceItem, service_code)
    if claimed is None or item is None:
        raise HallError("booking.service_not_bookable", service_code=service_code)
    return item


def ensure_slots(session: Session, hall: Hall, service_code: str, day: date) -> list[AppointmentSlot]:
    """The slots of a day, created from opening hours and capacity on first use (idempotent)."""
    rules = rules_of(session, hall)
    wanted = day_slots(opening_hours(hall), rules.slot_minutes)
    capacity = capacity_of(session, hall, service_code)
    table = AppointmentSlot.__table__
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [
        {
            "hall_id": hall.id,
            "service_code": service_code,
            "day": day,
            "start": a.strftime("%H:%M"),
            "end": b.strftime("%H:%M"),
            "capacity": capacity,
            "booked": 0,
        }
        for a, b in wanted
    ]
    if rows:
        session.execute(
            module.insert(table).on_conflict_do_nothing(
                index_elements=["hall_id", "service_code", "day", "start"]
            ),
            rows,
        )
    return list(
        session.scalars(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.hall_id == hall.id,
                AppointmentSlot.service_code == service_code,
                AppointmentSlot.day == day,
            )
            .order_by(AppointmentSlot.start)
        )
    )


def slot_start_at(hall: Hall, day: date, hhmm: str) -> datetime:
    """A slot's start as an aware UTC datetime."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=zone_of(hall)).astimezone(UTC)


def availability(session: Session, hall_id: str, service_code: str, now: datetime) -> dict[str, Any]:
    """Bookable days and their slots with free places, from `now` in the hall's time zone."""
    hall = hall_of(session, hall_id)
    item = _service(session, hall_id, service_code)
    rules = rules_of(session, hall)
    cal = calendar_for_hall(session, hall_id)
    today = now.astimezone(zone_of(hall)).date()
    days = []
    for day in bookable_days(today, cal, rules):
        slots = ensure_slots(session, hall, service_code, day)
        days.append(
            {
                "day": day.isoformat(),
                "weekday": day.isoweekday(),
                "slots": [
                    {
                        "id": s.id,
                        "start": s.start,
                        "end": s.end,
                        "capacity": s.capacity,
                        "available": max(0, s.capacity - s.booked),
                    }
                    for s in slots
                ],
            }
        )
    return {
        "hall_id": hall_id,
        "service_code": service_code,
        "service_name": item.name,
        "rules": {
            "min_days_ahead": rules.min_days_ahead,
            "max_working_days_ahead": rules.max_working_days_ahead,
            "cancel_min_hours": rules.cancel_min_hours,
            "checkin_before_minutes": rules.checkin_before_minutes,
            "checkin_after_minutes": rules.checkin_after_minutes,
        },
        "days": days,
    }


def _noshow_days(session: Session, id_hmac: str) -> list[date]:
    return list(
        session.scalars(
            select(Appointment.day).where(Appointment.id_hmac == id_hmac, Appointment.status == "no_show")
        )
    )


def _new_code(session: Session) -> str:
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(APPOINTMENT_CODE_LEN))
        if session.scalar(select(Appointment.id).where(Appointment.code == code)) is None:
            return code
    raise RuntimeError("could not draw a free booking code")


@dataclass(frozen=True)
class BookingRequest:
    """What a visitor gives to book."""

    service_code: str
    day: date
    start: str
    id_number: str
    phone: str
    name: str | None = None
    channel: str = "api"


def book(
    session: Session, protector: DataProtector, hall_id: str, req: BookingRequest, now: datetime
) -> Appointment:
    """Book a slot, enforcing the hall's rules; raises a typed HallError and changes nothing on refusal."""
    hall = hall_of(session, hall_id)
    _service(session, hall_id, req.service_code)
    idn = parse_id_number(req.id_number)  # InvalidIdNumber -> 422 id.invalid
    phone = re.sub(r"[\s-]", "", req.phone or "")
    if not PHONE_RE.match(phone):
        raise HallError("booking.phone_invalid")
    rules = rules_of(session, hall)
    zone = zone_of(hall)
    today = now.astimezone(zone).date()
    cal = calendar_for_hall(session, hall_id)
    if req.day not in bookable_days(today, cal, rules):
        raise HallError("booking.day_not_bookable", day=req.day.isoformat())
    id_hmac = protector.lookup_hash(idn.number)
    until = noshow_block_until(_noshow_days(session, id_hmac), today, rules)
    if until is not None:
        raise HallError("booking.blocked", until=until.isoformat())
    held = set(
        session.scalars(
            select(Appointment.person_seq).where(
                Appointment.id_hmac == id_hmac,
                Appointment.day == req.day,
                Appointment.status.in_(ACTIVE_STATUSES),
            )
        )
    )
    free = [n for n in range(1, max(1, rules.per_person_per_day) + 1) if n not in held]
    if len(held) >= rules.per_person_per_day or not free:
        raise HallError("booking.person_day_limit", day=req.day.isoformat())
    slots = {s.start: s for s in ensure_slots(session, hall, req.service_code, req.day)}
    slot = slots.get(req.start)
    if slot is None:
        raise HallError("booking.slot_unknown", start=req.start)
    # The conditional update is the capacity guard: atomic on SQLite and PostgreSQL alike.
    taken = session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked < AppointmentSlot.capacity)
        .values(booked=AppointmentSlot.booked + 1)
    ).rowcount
    if taken != 1:
        raise HallError("booking.slot_full", start=req.start)
    name = (req.name or "").strip() or None
    appt = Appointment(
        code=_new_code(session),
        hall_id=hall_id,
        service_code=req.service_code,
        slot_id=slot.id,
        day=req.day,
        start_at=slot_start_at(hall, req.day, slot.start),
        end_at=slot_start_at(hall, req.day, slot.end),
        status="booked",
        channel=req.channel,
        id_hmac=id_hmac,
        person_seq=free[0],
        id_enc=protector.encrypt(idn.number, "appointment.id_number"),
        id_masked=mask_id_number(idn.number),
        name_enc=protector.encrypt(name, "appointment.name") if name else None,
        name_masked=mask_name(name) if name else None,
        phone_enc=protector.encrypt(phone, "appointment.phone"),
        phone_masked=mask_phone(phone),
        created_at=now,
    )
    session.add(appt)
    try:
        session.flush()
    except IntegrityError as exc:
        # A concurrent booking of the same person took this place first (the rule check above
        # could not see it yet): the same refusal as the rule, and the transaction rolls back.
        if _is_person_day_violation(exc):
            raise HallError("booking.person_day_limit", day=req.day.isoformat()) from exc
        raise
    append_event(session, hall_id, EV_APPOINTMENT_BOOKED, event_view(appt), Actor("visitor", None))
    local_start = aware(appt.start_at).astimezone(zone)
    notify.enqueue(
        session,
        protector,
        dedupe_key=f"booked:{appt.id}",
        kind="appointment.booked",
        hall_id=hall_id,
        phone=phone,
        text=f"【{hall.short_name or hall.name}】您已预约{local_start:%m月%d日 %H:%M}办理业务，预约号{appt.code}。请按时携带身份证到大厅自助机签到。",
        payload={"appointment_id": appt.id},
        due=now,
        now=now,
    )
    notify.enqueue(
        session,
        protector,
        dedupe_key=f"remind:{appt.id}",
        kind="appointment.reminder",
        hall_id=hall_id,
        phone=phone,
        text=f"【{hall.short_name or hall.name}】提醒：您预约的业务将于{local_start:%m月%d日 %H:%M}开始，请提前到大厅签到。预约号{appt.code}。",
        payload={"appointment_id": appt.id},
        due=max(now, aware(appt.start_at) - timedelta(hours=24)),
        now=now,
    )
    return appt


def _is_person_day_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return PERSON_DAY_INDEX in text or _PERSON_DAY_SQLITE in text


def _find(session: Session, protector: DataProtector, code: str, id_number: str) -> Appointment:
    appt = session.scalar(select(Appointment).where(Appointment.code == code.strip().upper()))
    try:
        id_hmac = protector.lookup_hash(parse_id_number(id_number).number)
    except Exception:
        id_hmac = ""
    # The same answer for a wrong code and a wrong ID number: codes cannot be probed.
    if appt is None or appt.id_hmac != id_hmac:
        raise HallError("booking.not_found")
    return appt


def cancel_code(protector: DataProtector, appt: Appointment, now: datetime) -> str:
    """The 6-digit code that proves the booking's phone: keyed on the booking and a time window.

    Nothing is stored: the code is derived again to check it, and it changes every
    CANCEL_CODE_WINDOW_S (the previous window's code is still accepted).
    """
    return _cancel_code(protector, appt, int(now.timestamp()) // CANCEL_CODE_WINDOW_S)


def _cancel_code(protector: DataProtector, appt: Appointment, window: int) -> str:
    digest = protector.lookup_hash(f"appointment-cancel:{appt.id}:{appt.code}:{window}")
    return f"{int(digest[:12], 16) % 10**CANCEL_CODE_DIGITS:0{CANCEL_CODE_DIGITS}d}"


def _check_cancel_code(protector: DataProtector, appt: Appointment, given: str | None, now: datetime) -> None:
    window = int(now.timestamp()) // CANCEL_CODE_WINDOW_S
    if not given or given.strip() not in {_cancel_code(protector, appt, w) for w in (window, window - 1)}:
        raise HallError("booking.proof_required")


def send_cancel_code(ctx: ServerContext, code: str, id_number: str) -> dict[str, Any]:
    """Use case (public): text a cancellation code to the phone the booking was made with."""
    refuse_at_station(ctx)
    now = ctx.now()
    with ctx.db.write() as s:
        appt = _find(s, ctx.protector, code, id_number)
        if appt.status != "booked":
            raise HallError("booking.not_active", booking_status=appt.status)
        if appt.phone_enc is None:
            raise HallError("booking.no_phone")
        hall = hall_of(s, appt.hall_id)
        window = int(now.timestamp()) // CANCEL_CODE_WINDOW_S
        text = (
            f"【{hall.short_name or hall.name}】您正在取消{appt.day.isoformat()}的预约，"
            f"验证码{cancel_code(ctx.protector, appt, now)}，{CANCEL_CODE_WINDOW_S // 60}分钟内有效。"
        )
        notify.enqueue(
            s,
            ctx.protector,
            dedupe_key=f"cancel-code:{appt.id}:{window}",
            kind="appointment.cancel_code",
            hall_id=appt.hall_id,
            phone=ctx.protector.decrypt(appt.phone_enc, "appointment.phone"),
            text=text,
            payload={"appointment_id": appt.id},
            due=now,
            now=now,
        )
        return {"sent_to": appt.phone_masked, "valid_minutes": CANCEL_CODE_WINDOW_S // 60}


def cancel_with_code(
    ctx: ServerContext, code: str, id_number: str, verification_code: str | None
) -> dict[str, Any]:
    """Use case (public): cancel with the booking code, the holder's ID number and the texted code."""
    refuse_at_station(ctx)
    now = ctx.now()
    with ctx.db.write() as s:
        appt = _find(s, ctx.protector, code, id_number)
        _check_cancel_code(ctx.protector, appt, verification_code, now)
        cancel(s, ctx.protector, code, id_number, now, actor=Actor("visitor", None))
        return view_named(ctx, appt)


def cancel_at_kiosk(
    ctx: ServerContext, p: Principal, hall_id: str, code: str, id_number: str
) -> dict[str, Any]:
    """Use case: cancel at a kiosk of hall_id, the booking's hall or one above it, the card on its reader as proof."""
    require_roles(p, "kiosk", *MANAGER_ROLES)
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    refuse_at_station(ctx)
    within = set(subtree(hall_id, ctx.catalog.parents())) & _person_halls(ctx, p)
    now = ctx.now()
    with ctx.db.write() as s:
        appt = _find(s, ctx.protector, code, id_number)
        if appt.hall_id not in within:
            raise HallError("booking.not_found")  # the same answer as a wrong code: nothing to probe
        cancel(s, ctx.protector, code, id_number, now, actor=p.actor)
        return view_named(ctx, appt)


def _person_halls(ctx: ServerContext, p: Principal) -> set[str]:
    """Where a caller may look a person up: a kiosk its hall and the halls below, staff their scope."""
    if p.role == "kiosk":
        return set(subtree(p.hall_id, ctx.catalog.parents())) if p.hall_id else set()
    return set(visible_halls(ctx, p))


def view_named(ctx: ServerContext, appt: Appointment, kept: Kept | None = None) -> dict[str, Any]:
    """The wire form of a booking with its service's name (and its station's attendance)."""
    return public_view(appt, ctx.catalog.service_name(appt.service_code), kept)


def views_named(ctx: ServerContext, session: Session, appts: list[Appointment]) -> list[dict[str, Any]]:
    """The wire forms of bookings, each with its station's attendance."""
    kept = attendance_of(session, [a.id for a in appts])
    return [view_named(ctx, a, kept.get(a.id)) for a in appts]


def cancel(
    session: Session,
    protector: DataProtector,
    code: str,
    id_number: str,
    now: datetime,
    *,
    actor: Actor,
) -> Appointment:
    """Cancel a booking at least cancel_min_hours before its slot; frees the place (proof checked by the caller)."""
    appt = _find(session, protector, code, id_number)
    if appt.status != "booked":
        raise HallError("booking.not_active", booking_status=appt.status)
    hall = hall_of(session, appt.hall_id)
    rules = rules_of(session, hall)
    if not can_cancel(now, aware(appt.start_at), rules):
        raise HallError("booking.cancel_too_late", hours=rules.cancel_min_hours)
    appt.status = "cancelled"
    appt.cancelled_at = now
    session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == appt.slot_id)
        .values(booked=AppointmentSlot.booked - 1)
    )
    notify.drop_pending(session, f"remind:{appt.id}")
    append_event(session, appt.hall_id, EV_APPOINTMENT_CANCELLED, event_view(appt), actor)
    return appt


def get_by_code(session: Session, protector: DataProtector, code: str, id_number: str) -> Appointment:
    """A booking by its code, proven with the holder's ID number."""
    return _find(session, protector, code, id_number)


def for_person(
    session: Session, protector: DataProtector, id_number: str, since: date, hall_ids: set[str]
) -> list[Appointment]:
    """A person's bookings from `since` on in the given halls (kiosk look-up by ID card)."""
    id_hmac = protector.lookup_hash(parse_id_number(id_number).number)
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.id_hmac == id_hmac, Appointment.day >= since, Appointment.hall_id.in_(hall_ids)
            )
            .order_by(Appointment.day, Appointment.start_at)
        )
    )


def person_bookings(ctx: ServerContext, p: Principal, id_number: str) -> list[dict[str, Any]]:
    """Use case: a person's bookings from today on, in the caller's halls (kiosk with the card, managers)."""
    require_roles(p, "kiosk", *MANAGER_ROLES)
    zone = ctx.catalog.hall(p.hall_id).zone if p.hall_id else ZoneInfo("Asia/Shanghai")
    today = ctx.now().astimezone(zone).date()
    with ctx.db.read() as s:
        rows = for_person(s, ctx.protector, id_number, today, _person_halls(ctx, p))
        return views_named(ctx, s, rows)


def bookable_services(ctx: ServerContext, hall_id: str) -> list[dict[str, Any]]:
    """Use case (public): the service items a hall takes bookings for."""
    ctx.catalog.hall(hall_id)
    with ctx.db.read() as s:
        rows = s.execute(
            select(ServiceItem.code, ServiceItem.name, ServiceItem.category)
            .join(HallService, HallService.service_code == ServiceItem.code)
            .where(HallService.hall_id == hall_id)
            .order_by(ServiceItem.category, ServiceItem.code)
        ).all()
    return [{"code": r.code, "name": r.name, "category": r.category} for r in rows]


def slots_of(ctx: ServerContext, hall_id: str, service_code: str) -> dict[str, Any]:
    """Use case (public): bookable days and slots with free places (a new day's slots are made here)."""
    refuse_at_station(ctx)
    with ctx.db.write() as s:
        return availability(s, hall_id, service_code, ctx.now())


def book_slot(ctx: ServerContext, hall_id: str, req: BookingRequest) -> dict[str, Any]:
    """Use case (public): book a slot (at the city for a station's hall too; never at a station)."""
    refuse_at_station(ctx)
    with ctx.db.write() as s:
        view = view_named(ctx, book(s, ctx.protector, hall_id, req, ctx.now()))
    # The confirmation's QR carries the booking code (what the SMS calls 预约号), nothing personal.
    view["checkin_qr"] = qr_svg_data_uri(view["code"])
    return view


def lookup_booking(ctx: ServerContext, code: str, id_number: str) -> dict[str, Any]:
    """Use case (public): one booking by its code, proven with the holder's ID number."""
    with ctx.db.read() as s:
        return views_named(ctx, s, [get_by_code(s, ctx.protector, code, id_number)])[0]


def hall_bookings(ctx: ServerContext, p: Principal, hall_id: str, day: date | None) -> list[dict[str, Any]]:
    """Use case: a hall's bookings of a day (its managers), masked."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    day = day or ctx.now().astimezone(ctx.catalog.hall(hall_id).zone).date()
    with ctx.db.read() as s:
        rows = s.scalars(
            select(Appointment)
            .where(Appointment.hall_id == hall_id, Appointment.day == day)
            .order_by(Appointment.start_at)
        )
        return views_named(ctx, s, list(rows))


def check_in(
    ctx: ServerContext, p: Principal, hall_id: str, id_number: str, fallback_normal: bool
) -> dict[str, Any]:
    """Use case: check in with the ID card at a kiosk of the hall (a priority ticket within tolerance)."""
    require_roles(p, "kiosk", *MANAGER_ROLES)
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    refuse_station_hall(ctx, hall_id)
    return checkin(ctx, p, hall_id, id_number, ctx.now(), fallback_normal=fallback_normal)


def sweep_now(ctx: ServerContext, p: Principal) -> dict[str, int]:
    """Use case: mark lapsed bookings of the caller's halls as no-shows now (managers; the worker
    does it for every hall each pass)."""
    require_roles(p, *MANAGER_ROLES)
    with ctx.db.write() as s:
        return {
            "no_shows": sweep_no_shows(
                s, ctx.now(), station=ctx.settings.station_mode, halls=visible_halls(ctx, p)
            )
        }


def check_in_by_code(
    ctx: ServerContext, p: Principal, hall_id: str, code: str, fallback_normal: bool
) -> dict[str, Any]:
    """Use case: check in by the booking code of the confirmation's QR, scanned at a kiosk of the hall.

    Only bookings of the hall's subtree that this caller may issue tickets for; a cancelled booking,
    another day's or another hall's is refused with its own error. The ticket is issued exactly as
    at the ID-card check-in (`admit`), so a second scan returns the same ticket.
    """
    require_roles(p, "kiosk", *MANAGER_ROLES)
    ctx.catalog.hall(hall_id)
    require_hall(p, hall_id, ctx.catalog)
    now = ctx.now()
    with ctx.db.read() as s:
        appt = s.scalar(select(Appointment).where(Appointment.code == code.strip().upper()))
        if appt is None:
            raise HallError("checkin.code_unknown")
        kept = attendance_of(s, [appt.id]).get(appt.id)
        zone = zone_of(hall_of(s, appt.hall_id))
    within = appt.hall_id in subtree(hall_id, ctx.catalog.parents())
    if not within or not can_access_hall(p, appt.hall_id, ctx.catalog):
        raise HallError("checkin.other_hall", hall=ctx.catalog.hall(appt.hall_id).name)
    refuse_station_hall(ctx, appt.hall_id)
    if effective(appt, kept)[0] == "cancelled":
        raise HallError("checkin.cancelled", appointment_code=appt.code)
    if appt.day != now.astimezone(zone).date():
        raise HallError("checkin.wrong_day", day=appt.day.isoformat(), appointment_code=appt.code)
    id_number = ctx.protector.decrypt(appt.id_enc, "appointment.id_number")
    return admit(ctx, p, appt, kept, id_number, now, fallback_normal=fallback_normal)


def checkin(
    ctx: ServerContext,
    p: Principal,
    hall_id: str,
    id_number: str,
    now: datetime,
    *,
    fallback_normal: bool = False,
) -> dict[str, Any]:
    """Check in the holder's booking of today at the hall nearest to now (see `admit`)."""
    idn = parse_id_number(id_number)
    with ctx.db.read() as s:
        hall = hall_of(s, hall_id)
        zone = zone_of(hall)
        id_hmac = ctx.protector.lookup_hash(idn.number)
        today = now.astimezone(zone).date()
        candidates = list(
            s.scalars(
                select(Appointment)
                .where(
                    Appointment.hall_id == hall_id,
                    Appointment.id_hmac == id_hmac,
                    Appointment.day == today,
                    Appointment.status.in_(ACTIVE_STATUSES),
                )
                .order_by(Appointment.start_at)
            )
        )
        kept = attendance_of(s, [a.id for a in candidates])
    # At a station a booking is as its attendance says (a no-show there is no candidate).
    candidates = [a for a in candidates if effective(a, kept.get(a.id))[0] in ACTIVE_STATUSES]
    if not candidates:
        raise HallError("checkin.none")
    # The booking whose slot is nearest to now decides.
    appt = min(candidates, key=lambda a: abs((aware(a.start_at) - now).total_seconds()))
    return admit(ctx, p, appt, kept.get(appt.id), idn.number, now, fallback_normal=fallback_normal)


def admit(
    ctx: ServerContext,
    p: Principal,
    appt: Appointment,
    kept: Kept | None,
    id_number: str,
    now: datetime,
    *,
    fallback_normal: bool = False,
) -> dict[str, Any]:
    """Check a booking in within its tolerance and issue a priority ticket through the core's issue service.

    Outside the tolerance: a typed error (checkin.too_early / checkin.too_late) whose detail says whether
    the hall allows a normal ticket; with fallback_normal and the hall allowing it, a normal ticket instead.
    Both issues carry an Idempotency-Key derived from the booking, so a repeated check-in (double tap,
    a second scan, retry after a dropped answer) returns the same ticket.
    """
    hall_id = appt.hall_id
    with ctx.db.read() as s:
        hall = hall_of(s, hall_id)
        rules = rules_of(s, hall)
        zone = zone_of(hall)
    status = effective(appt, kept)[0]
    state = "ok" if status == "checked_in" else checkin_state(now, aware(appt.start_at), rules)
    if status not in ACTIVE_STATUSES:
        state = "late"  # marked a no-show: its check-in time has passed
    if state != "ok":
        code = "checkin.too_early" if state == "early" else "checkin.too_late"
        err = HallError(
            code,
            start=aware(appt.start_at).astimezone(zone).strftime("%H:%M"),
            appointment_code=appt.code,
            normal_ticket_allowed=rules.fallback_normal_ticket,
        )
        if not (fallback_normal and rules.fallback_normal_ticket):
            raise err
        ticket, _created = tickets.issue_ticket(
            ctx,
            p,
            hall_id,
            tickets.IssueInput(
                service_code=appt.service_code,
                channel="kiosk",
                id_number=id_number,
                idempotency_key=f"appointment-{appt.id}-normal",
            ),
        )
        ticket["checkin"] = {
            "status": state,
            "code": err.code,
            "message": err.message,
            "message_en": err.message_en,
        }
        return ticket
    ticket, _created = tickets.issue_ticket(
        ctx,
        p,
        hall_id,
        tickets.IssueInput(
            service_code=appt.service_code,
            channel="kiosk",
            id_number=id_number,
            appointment_id=str(appt.id),
            idempotency_key=f"appointment-{appt.id}",
        ),
    )
    with ctx.db.write() as s:
        if ctx.settings.station_mode:
            # The booking is the city's: the station records the attendance, which goes up.
            changed = record_attendance(s, appt.id, hall_id, "checked_in", int(ticket["id"]), now)
        else:
            changed = s.execute(
                update(Appointment)
                .where(Appointment.id == appt.id, Appointment.status == "booked")
                .values(status="checked_in", checked_in_at=now, ticket_id=int(ticket["id"]))
            ).rowcount
        if changed:
            notify.drop_pending(s, f"remind:{appt.id}")
            fresh = s.get(Appointment, appt.id)
            assert fresh is not None
            view = event_view(fresh, attendance_of(s, [appt.id]).get(appt.id))
            append_event(s, hall_id, EV_APPOINTMENT_CHECKED_IN, view, p.actor)
    ticket["checkin"] = {"status": "ok", "appointment_code": appt.code}
    return ticket


def sweep_no_shows(
    session: Session, now: datetime, *, station: bool = False, halls: list[str] | None = None
) -> int:
    """Mark bookings whose check-in window has passed as no-shows (recorded, counted for blocking);
    only those of `halls` when given.

    A parent leaves its stations' halls alone (their stations sweep them); a station records
    attendance rows (the bookings are the city's).
    """
    count = 0
    stmt = lapsed_bookings(station).where(Appointment.start_at < now)
    if halls is not None:
        stmt = stmt.where(Appointment.hall_id.in_(halls))
    late = list(session.scalars(stmt))
    halls: dict[str, BookingRules] = {}
    for appt in late:
        if appt.hall_id not in halls:
            halls[appt.hall_id] = rules_of(session, hall_of(session, appt.hall_id))
        rules = halls[appt.hall_id]
        if now <= aware(appt.start_at) + timedelta(minutes=rules.checkin_after_minutes):
            continue
        count += mark_no_show(session, appt, now, station=station)
    if count:
        logger.info("marked %d appointments as no-show", count)
    return count


def lapsed_bookings(station: bool) -> Any:
    """SELECT of the bookings a no-show pass of this server may mark (add the time condition).

    A station's: booked ones it has no attendance of. A parent's: booked ones of halls no station
    owns (their stations mark them; the city marking them too would double the no-shows).
    """
    stmt = select(Appointment).where(Appointment.status == "booked")
    if station:
        return stmt.where(~exists().where(_ATTENDANCE.c.appointment_id == Appointment.id))
    return stmt.where(Appointment.hall_id.not_in(select(StationHall.hall_id)))


def mark_no_show(
    session: Session, appt: Appointment, now: datetime, *, station: bool, extra: dict[str, Any] | None = None
) -> int:
    """Mark one booking a no-show (1) unless it is not booked any more (0); its event recorded."""
    if station:
        if not record_attendance(session, appt.id, appt.hall_id, "no_show", None, now):
            return 0
        view = event_view(appt, Kept("no_show"))
    else:
        # Conditional: another server process may be sweeping the same booking right now.
        changed = session.execute(
            update(Appointment)
            .where(Appointment.id == appt.id, Appointment.status == "booked")
            .values(status="no_show")
        ).rowcount
        if not changed:
            return 0
        appt.status = "no_show"
        view = event_view(appt)
    append_event(
        session, appt.hall_id, EV_APPOINTMENT_NO_SHOW, {**view, **(extra or {})}, Actor("system", None)
    )
    return 1


def event_view(a: Appointment, kept: Kept | None = None) -> dict[str, Any]:
    """A booking as events carry it to every screen of the hall: without its code (the proof of it)."""
    out = public_view(a, kept=kept)
    out.pop("code")
    return out


def public_view(a: Appointment, service_name: str | None = None, kept: Kept | None = None) -> dict[str, Any]:
    """The wire form of a booking: masked personal data only (with its station's attendance)."""
    status, ticket_id = effective(a, kept)
    return {
        "id": a.id,
        "code": a.code,
        "hall_id": a.hall_id,
        "service_code": a.service_code,
        "service_name": service_name,
        "day": a.day.isoformat(),
        "start_at": aware(a.start_at).isoformat(),
        "end_at": aware(a.end_at).isoformat(),
        "status": status,
        "channel": a.channel,
        "ticket_id": ticket_id,
        "holder": {"id_masked": a.id_masked, "name_masked": a.name_masked, "phone_masked": a.phone_masked},
    }
