"""Device health from the heartbeats the core records, and the hall's live alerts for the dashboard."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server import event_archive
from hall_server.auth import Principal, manager_scope
from hall_server.const import (
    DEVICE_STALE_SECONDS,
    DEVICE_WARNING_FAULTS,
    POLICY_ALERT_QUEUE,
    POLICY_ALERT_WAIT,
    POLICY_TARGET_WAIT,
    RETENTION_NEEDS_OWNER,
    STAFF_CALL_ALERT,
    STATION_SILENT_ALERT_S,
)
from hall_server.context import ServerContext
from hall_server.db.models import Device, Hall, QueueGroup, Station, Ticket, Window
from hall_server.events import station_halls
from hall_server.services import staff_calls
from hall_server.services.hall_settings import settings_of
from hall_server.services.stations import station_rows
from hall_server.services.throttle import login_alerts
from queueing.const import DEFAULT_TARGET_WAIT_MINUTES
from queueing.numbering import business_day

logger = logging.getLogger(__name__)

FAULT_ZH = {
    "paper_out": "打印机缺纸",
    "paper_low": "打印纸将尽",
    "cover_open": "打印机盖未合上",
    "printer_offline": "打印机离线",
    "reader_gone": "身份证读卡器未连接",
    "reader.not_found": "身份证读卡器未连接",
    "reader.disconnected": "身份证读卡器已断开",
    "camera_gone": "摄像头未连接",
}


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def devices(
    session: Session, hall_id: str, now: datetime, stale_after: float = DEVICE_STALE_SECONDS
) -> list[dict[str, Any]]:
    """Every device of a hall: ok, faulty (faults reported) or stale (no heartbeat for stale_after s)."""
    out = []
    limit = timedelta(seconds=stale_after)
    for d in session.scalars(select(Device).where(Device.hall_id == hall_id).order_by(Device.device_id)):
        last = _aware(d.last_seen)
        stale = now - last > limit
        faults = [
            {**f, "message": f.get("message") or FAULT_ZH.get(str(f.get("code")), str(f.get("code")))}
            if isinstance(f, dict)
            else {"code": str(f), "message": FAULT_ZH.get(str(f), str(f))}
            for f in (d.faults or [])
        ]
        out.append(
            {
                "device_id": d.device_id,
                "kind": d.kind,
                "status": d.status,
                "faults": faults,
                "last_seen": last.isoformat(),
                "stale": stale,
                # Only warnings (paper low): the device still serves.
                "warning": bool(faults) and all(f.get("code") in DEVICE_WARNING_FAULTS for f in faults),
                "ok": not stale and not faults and d.status in ("ok", "online", "ready", "idle", "busy"),
            }
        )
    return out


def alerts(
    session: Session,
    hall_id: str,
    now: datetime,
    stale_after: float = DEVICE_STALE_SECONDS,
    station_silent_after: float = STATION_SILENT_ALERT_S,
) -> list[dict[str, Any]]:
    """Alerts now: long waits, long queues, windows idle while people wait, failing devices, and
    stations of this hall or below it that went silent or were refused."""
    hall = session.get(Hall, hall_id)
    if hall is None:
        return []
    policy = hall.policy or {}
    ext = settings_of(session, hall_id)
    wait_limit = float(
        ext[POLICY_ALERT_WAIT] or policy.get(POLICY_TARGET_WAIT) or DEFAULT_TARGET_WAIT_MINUTES
    )
    queue_limit = int(ext[POLICY_ALERT_QUEUE])
    out: list[dict[str, Any]] = []
    names = dict(
        session.execute(select(QueueGroup.prefix, QueueGroup.name).where(QueueGroup.hall_id == hall_id)).all()
    )
    # Only today's queue: a ticket left from an earlier day is not someone waiting now.
    today = business_day(now, hall.timezone or "Asia/Shanghai")
    rows = session.execute(
        select(Ticket.group_prefix, func.count(), func.min(Ticket.issued_at))
        .where(Ticket.hall_id == hall_id, Ticket.status == "waiting", Ticket.business_day == today)
        .group_by(Ticket.group_prefix)
    ).all()
    waiting_groups: dict[str, int] = {}
    for prefix, n, oldest in rows:
        waiting_groups[prefix] = int(n)
        label = f"{prefix}（{names.get(prefix, '')}）"
        if n >= queue_limit:
            out.append(
                _alert(
                    "queue.long",
                    "warning",
                    f"{label}等候{n}人，超过{queue_limit}人",
                    f"{n} waiting in {prefix}",
                    group=prefix,
                    waiting=int(n),
                )
            )
        if oldest is not None:
            minutes = (now - _aware(oldest)).total_seconds() / 60.0
            if minutes > wait_limit:
                out.append(
                    _alert(
                        "wait.long",
                        "critical",
                        f"{label}最长已等候{minutes:.0f}分钟，超过{wait_limit:.0f}分钟",
                        f"longest wait in {prefix} is {minutes:.0f} min",
                        group=prefix,
                        minutes=round(minutes, 1),
                    )
                )
    for w in session.scalars(select(Window).where(Window.hall_id == hall_id).order_by(Window.number)):
        serves = [p for p in (w.groups or {}) if waiting_groups.get(p)]
        # Only a staffed window can be idle; an open window without a clerk is a staffing matter.
        if w.status == "open" and w.clerk_id is not None and w.current_ticket_id is None and serves:
            people = sum(waiting_groups[p] for p in serves)
            out.append(
                _alert(
                    "window.idle",
                    "warning",
                    f"{w.number}号窗口空闲，但有{people}人在等候",
                    f"window {w.number} idle while {people} wait",
                    window_id=w.id,
                    waiting=people,
                )
            )
    for d in devices(session, hall_id, now, stale_after):
        if d["ok"]:
            continue
        if d["stale"]:
            out.append(
                _alert(
                    "device.offline",
                    "critical",
                    f"设备{d['device_id']}已离线",
                    f"device {d['device_id']} offline",
                    device_id=d["device_id"],
                )
            )
        for f in d["faults"]:
            out.append(
                _alert(
                    "device.fault",
                    "warning" if f.get("code") in DEVICE_WARNING_FAULTS else "critical",
                    f"设备{d['device_id']}故障：{f['message']}",
                    f"device {d['device_id']} fault: {f.get('code')}",
                    device_id=d["device_id"],
                    fault=f.get("code"),
                )
            )
    out.extend(login_alerts(session, hall_id, now))
    out.extend(station_alerts(session, hall_id, now, station_silent_after))
    return out


CONFLICT_ZH = {"rewound": "数据库回退到旧备份", "epoch_changed": "数据库已重建或被另一台机器使用"}


def _duration(seconds: float) -> tuple[str, str]:
    """A silence as (zh, en): minutes below two hours, then hours, then days."""
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "不到1分钟", "under a minute"
    if minutes < 120:
        return f"{minutes}分钟", f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60}小时", f"{minutes // 60} h"
    return f"{minutes // 1440}天", f"{minutes // 1440} days"


def station_alerts(
    session: Session, hall_id: str, now: datetime, silent_after: float
) -> list[dict[str, Any]]:
    """A station owning this hall or a hall below it: silent past the threshold (never heard from
    counts from its registration), or its stream refused (rewound / another epoch). A revoked
    station is not watched. Only a parent server has stations; elsewhere this is empty."""
    rows = station_rows(session, None, now, silent_after)
    if not rows:
        return []
    parents = dict(session.execute(select(Hall.id, Hall.parent_id)).all())

    def below(hall: str) -> bool:
        seen: set[str] = set()
        cur: str | None = hall
        while cur is not None and cur not in seen:
            if cur == hall_id:
                return True
            seen.add(cur)
            cur = parents.get(cur)
        return False

    created = dict(session.execute(select(Station.id, Station.created_at)).all())
    out: list[dict[str, Any]] = []
    for st in rows:
        if st["revoked"] or not any(below(h) for h in st["halls"]):
            continue
        label = f"{st['name'] or st['id']}（{st['id']}）"
        if st["silent"]:
            last = st["last_contact_at"]
            since = datetime.fromisoformat(last) if last else _aware(created[st["id"]])
            zh, en = _duration((now - since).total_seconds())
            out.append(
                _alert(
                    "station.silent",
                    "critical",
                    f"站点{label}已{zh}未联系" if last else f"站点{label}从未联系（已登记{zh}）",
                    f"station {st['id']} silent for {en}"
                    if last
                    else f"station {st['id']} never synced ({en})",
                    station_id=st["id"],
                    last_contact_at=last,
                    waiting=st["waiting"],
                )
            )
        if st["conflict"]:
            out.append(
                _alert(
                    "station.conflict",
                    "critical",
                    f"站点{label}数据与市中心不一致（{CONFLICT_ZH.get(st['conflict'], st['conflict'])}），已拒绝合并",
                    f"station {st['id']} refused: {st['conflict']}",
                    station_id=st["id"],
                    conflict=st["conflict"],
                )
            )
    return out


def _alert(code: str, level: str, zh: str, en: str, **detail: Any) -> dict[str, Any]:
    return {"code": code, "level": level, "message": zh, "message_en": en, "detail": detail}


def alerts_of(ctx: ServerContext, p: Principal, hall_id: str) -> list[dict[str, Any]]:
    """Use case: a hall's alerts now (its managers)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.read() as s:
        # A station's call (it came up with the station's records) is answered at the station.
        at_station = hall_id in station_halls(s.connection())
        # A visitor waiting for help comes first: it is a person at a kiosk, now.
        calls = [
            _alert(
                STAFF_CALL_ALERT,
                "critical",
                f"{c['device_name']}：群众呼叫工作人员",
                f"a visitor calls for staff at {c['device_name']}",
                call_id=c["id"],
                device_name=c["device_name"],
                requested_at=c["requested_at"],
                at_station=at_station,
            )
            for c in staff_calls.open_calls(s, ctx, hall_id)
        ]
        return (
            calls
            + alerts(
                s, hall_id, ctx.now(), ctx.settings.device_stale_seconds, ctx.settings.station_silent_alert_s
            )
            + retention_alerts(s)
        )


def retention_alerts(session: Session) -> list[dict[str, Any]]:
    """The event retention rule held up (the server's role may only append): the log keeps
    growing until the database owner runs it, so the managers see it until it runs again."""
    state = event_archive.retention_state(session)
    if not state or state.get("state") != RETENTION_NEEDS_OWNER:
        return []
    return [
        _alert(
            "retention.needs_owner",
            "warning",
            "事件日志超过保留期的旧记录未能归档（服务器的数据库角色只能追加记录），"
            "请系统管理员以数据库所有者运行 hall-server db archive-events",
            "event retention needs the database owner: run `hall-server db archive-events`",
            since=state.get("since"),
        )
    ]


def devices_of(ctx: ServerContext, p: Principal, hall_id: str) -> list[dict[str, Any]]:
    """Use case: a hall's devices with ok / warning / faulty / offline state (its managers)."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.read() as s:
        return devices(s, hall_id, ctx.now(), ctx.settings.device_stale_seconds)
