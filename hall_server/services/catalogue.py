"""The catalogue (事项目录): service guides the city edits in versions, items halls claim, hall overrides.

Who sets what: the city (its managers, or an admin) owns an item's guide — its law, conditions,
materials, fees, time limits, steps, forms and online link — and every edit is a new version
kept for ever, so a guide can be shown as it was on a date. A hall that handles an item may set
only its own facts (const.HALL_GUIDE_FIELDS: where to go, phones, daily cap, whether an ID card
is needed for a ticket); they are laid over the city's text when the hall's guide is read.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.auth import Principal, manager_scope, require_not_station, require_roles
from hall_server.const import (
    AU_GUIDE_CHANGED,
    AU_HALL_GUIDE_CHANGED,
    AU_SERVICE_CLAIMED,
    CATALOGUE_OWNER_LEVELS,
    EV_HALL_UPDATED,
    GUIDE_SEED_ACTOR,
    HALL_GUIDE_FIELDS,
)
from hall_server.db.models import HallService, QueueGroup, ServiceItem, ServiceItemVersion
from hall_server.errors import HallError
from hall_server.events import append_event
from wire.catalogue import GuideIn, HallGuideIn

if TYPE_CHECKING:
    from hall_server.context import ServerContext

logger = logging.getLogger(__name__)

# Before any recorded edit the seeded text is version 1, valid since long before any print.
SEED_VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)
ITEM_FIELDS = ("name", "department", "category")


def material_of(m: Any) -> dict[str, Any]:
    """One material as {name, originals, copies, note}; the old {original: bool, copies} form read once here."""
    if isinstance(m, str):
        return {"name": m, "originals": 1, "copies": 0, "note": ""}
    originals = m.get("originals")
    if originals is None:
        originals = 1 if m.get("original", True) else 0
    return {
        "name": str(m.get("name", "")),
        "originals": int(originals),
        "copies": int(m.get("copies") or 0),
        "note": str(m.get("note") or ""),
    }


def normalized_guide(guide: dict[str, Any] | None) -> dict[str, Any]:
    """A guide with its materials in the unambiguous form."""
    out = dict(guide or {})
    if "materials" in out:
        out["materials"] = [material_of(m) for m in out.get("materials") or []]
    return out


def with_hall(guide: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The city's guide with a hall's own values of its fields laid over it."""
    out = dict(guide)
    for key, value in (overrides or {}).items():
        if key in HALL_GUIDE_FIELDS and value is not None:
            out[key] = value
    return out


def require_catalogue_owner(ctx: ServerContext, p: Principal) -> None:
    """Admins and managers of a city-level hall edit the catalogue; 403 for everyone else."""
    require_roles(p, "admin", "manager")
    if p.role == "admin":
        return
    if p.hall_id is None or ctx.catalog.hall(p.hall_id).level not in CATALOGUE_OWNER_LEVELS:
        raise HallError("auth.forbidden", role=p.role, what="catalogue")


def _who(p: Principal) -> str:
    return p.name or p.username or p.role


def _item(s: Session, code: str) -> ServiceItem:
    row = s.get(ServiceItem, code)
    if row is None:
        raise HallError("service.unknown", service_code=code)
    return row


def _versions(s: Session, code: str) -> list[ServiceItemVersion]:
    return list(
        s.scalars(
            select(ServiceItemVersion)
            .where(ServiceItemVersion.code == code)
            .order_by(ServiceItemVersion.version)
        )
    )


def _version_at(s: Session, code: str, at: date) -> ServiceItemVersion | None:
    """The version in force at the end of that day (UTC+8 days end before UTC's; a day's edits count)."""
    end = datetime.combine(at + timedelta(days=1), time(0), tzinfo=UTC)
    return s.scalars(
        select(ServiceItemVersion)
        .where(ServiceItemVersion.code == code, ServiceItemVersion.valid_from < end)
        .order_by(ServiceItemVersion.version.desc())
        .limit(1)
    ).first()


def guide_url(ctx: ServerContext, code: str, hall_id: str | None) -> str:
    """The public page of a guide, as a hall shows it."""
    return f"{ctx.settings.base_url}/guide/{quote(code)}" + (f"?hall={quote(hall_id)}" if hall_id else "")


def item_view(
    code: str,
    head: Any,
    guide: dict[str, Any],
    prefix: str | None,
    version: ServiceItemVersion | None,
) -> dict[str, Any]:
    """The wire's ServiceOut of one item (names from `head`, the guide as given)."""
    return {
        "code": code,
        "name": head.name,
        "sub_name": getattr(head, "sub_name", "") or "",
        "category": head.category,
        "department": head.department,
        "prefix": prefix,
        "guide": guide,
        "version": version.version if version else None,
        "valid_from": version.valid_from.astimezone(UTC).isoformat() if version else None,
        "guide_url": None,
    }


def service_guide(
    ctx: ServerContext, code: str, hall_id: str | None = None, at: date | None = None
) -> dict[str, Any]:
    """Use case (public): an item's guide, as a hall shows it, as it was on a date (default: now)."""
    out = _service_guide(ctx, code, hall_id, at)
    out["guide_url"] = guide_url(ctx, code, hall_id)
    return out


def _service_guide(ctx: ServerContext, code: str, hall_id: str | None, at: date | None) -> dict[str, Any]:
    with ctx.db.read() as s:
        item = _item(s, code)
        prefix = None
        overrides: dict[str, Any] = {}
        if hall_id is not None:
            ctx.catalog.hall(hall_id)
            hs = s.get(HallService, (hall_id, code))
            if hs is None:
                raise HallError("service.unknown", service_code=code, hall_id=hall_id)
            prefix, overrides = hs.prefix, dict(hs.overrides or {})
        if at is not None:
            version = _version_at(s, code, at)
            if version is not None:
                guide = with_hall(normalized_guide(version.guide), overrides)
                return item_view(code, version, guide, prefix, version)
            first = _versions(s, code)
            if first:  # the date is before the first version: the earliest there is
                guide = with_hall(normalized_guide(first[0].guide), overrides)
                return item_view(code, first[0], guide, prefix, first[0])
        versions = _versions(s, code)
        latest = versions[-1] if versions else None
        return item_view(code, item, with_hall(normalized_guide(item.guide), overrides), prefix, latest)


def guide_history(ctx: ServerContext, code: str) -> list[dict[str, Any]]:
    """Use case (public): the versions of an item's guide, oldest first."""
    with ctx.db.read() as s:
        _item(s, code)
        return [
            {
                "version": v.version,
                "valid_from": v.valid_from.astimezone(UTC).isoformat(),
                "changed_by": v.changed_by,
                "name": v.name,
            }
            for v in _versions(s, code)
        ]


def _snapshot_version(s: Session, item: ServiceItem, number: int, when: datetime, who: str) -> None:
    s.add(
        ServiceItemVersion(
            code=item.code,
            version=number,
            name=item.name,
            category=item.category,
            department=item.department,
            guide=dict(item.guide or {}),
            valid_from=when,
            changed_by=who,
        )
    )


def edit_guide(ctx: ServerContext, p: Principal, code: str, body: GuideIn) -> dict[str, Any]:
    """Use case: the city edits an item's guide; a new version, audited, the old ones kept."""
    require_catalogue_owner(ctx, p)
    require_not_station(ctx, "catalogue")
    data = body.model_dump(mode="json")
    now = ctx.now()
    with ctx.db.write() as s:
        item = _item(s, code)
        last = s.scalar(select(func.max(ServiceItemVersion.version)).where(ServiceItemVersion.code == code))
        if last is None:
            _snapshot_version(s, item, 1, SEED_VALID_FROM, GUIDE_SEED_ACTOR)
            last = 1
        before = {**normalized_guide(item.guide), **{k: getattr(item, k) for k in ITEM_FIELDS}}
        guide = {k: v for k, v in data.items() if k not in ITEM_FIELDS}
        item.name, item.department, item.category = data["name"], data["department"], data["category"]
        item.guide = guide
        _snapshot_version(s, item, last + 1, now, _who(p))
        changed = sorted(k for k, v in data.items() if before.get(k) != v)
        audit.record(s, AU_GUIDE_CHANGED, p.actor, service_code=code, version=last + 1, fields=changed)
        s.flush()
        for hall_id in s.scalars(select(HallService.hall_id).where(HallService.service_code == code)):
            append_event(
                s, hall_id, EV_HALL_UPDATED, {"service_guide": {"code": code, "version": last + 1}}, p.actor
            )
    ctx.catalog.invalidate()
    logger.info("guide of %s edited: version %d (%s)", code, last + 1, ", ".join(changed))
    return service_guide(ctx, code)


def hall_catalogue(ctx: ServerContext, p: Principal, hall_id: str) -> list[dict[str, Any]]:
    """Use case (manager): every item of the city's catalogue, with whether and how this hall handles it."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    with ctx.db.read() as s:
        claims = {
            hs.service_code: hs for hs in s.scalars(select(HallService).where(HallService.hall_id == hall_id))
        }
        groups = dict(
            s.execute(select(QueueGroup.prefix, QueueGroup.name).where(QueueGroup.hall_id == hall_id)).all()
        )
        out = []
        for item in s.scalars(select(ServiceItem).order_by(ServiceItem.category, ServiceItem.code)):
            hs = claims.get(item.code)
            out.append(
                {
                    "code": item.code,
                    "name": item.name,
                    "category": item.category,
                    "department": item.department,
                    "guide": normalized_guide(item.guide),
                    "claimed": hs is not None,
                    "prefix": hs.prefix if hs else None,
                    "group_name": groups.get(hs.prefix, "") if hs else "",
                    "overrides": dict(hs.overrides or {}) if hs else {},
                }
            )
        return out


def set_hall_guide(
    ctx: ServerContext, p: Principal, hall_id: str, code: str, body: HallGuideIn
) -> dict[str, Any]:
    """Use case (manager of the hall's subtree): the hall's own values of the fields its level may set."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "catalogue")
    values = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    with ctx.db.write() as s:
        hs = s.get(HallService, (hall_id, code))
        if hs is None:
            raise HallError("service.unknown", service_code=code, hall_id=hall_id)
        before = dict(hs.overrides or {})
        hs.overrides = values
        audit.record(
            s, AU_HALL_GUIDE_CHANGED, p.actor, hall_id=hall_id, service_code=code, before=before, after=values
        )
        append_event(s, hall_id, EV_HALL_UPDATED, {"service_guide": {"code": code}}, p.actor)
    ctx.catalog.invalidate()
    return service_guide(ctx, code, hall_id)


def claim_service(ctx: ServerContext, p: Principal, hall_id: str, code: str, prefix: str) -> dict[str, Any]:
    """Use case (manager): the hall takes an item of the city's catalogue into one of its queues."""
    manager_scope(ctx, p, hall_id, include_subtree=False)
    require_not_station(ctx, "catalogue")
    with ctx.db.write() as s:
        _item(s, code)
        if s.get(HallService, (hall_id, code)) is not None:
            raise HallError("catalogue.claimed", service_code=code, hall_id=hall_id)
        group = s.scalar(
            select(QueueGroup.id).where(QueueGroup.hall_id == hall_id, QueueGroup.prefix == prefix)
        )
        if group is None:
            raise HallError(
                "request.invalid", message="该大厅没有这个队列", message_en="no such queue", prefix=prefix
            )
        s.add(HallService(hall_id=hall_id, service_code=code, prefix=prefix, overrides={}))
        audit.record(s, AU_SERVICE_CLAIMED, p.actor, hall_id=hall_id, service_code=code, prefix=prefix)
        s.flush()
        append_event(s, hall_id, EV_HALL_UPDATED, {"service_claimed": {"code": code}}, p.actor)
    ctx.catalog.invalidate()
    return service_guide(ctx, code, hall_id)
