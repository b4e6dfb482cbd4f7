"""In-process cache of static hall configuration (halls, groups, service items, policies)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hall_server.const import AUDIT_STREAM_PREFIX
from hall_server.db.engine import Database
from hall_server.db.models import Hall, HallService, QueueGroup, ServiceItem, StationHall, SyncAck, Window
from hall_server.errors import HallError
from queueing.hierarchy import is_in_subtree
from queueing.model import HallPolicy

logger = logging.getLogger(__name__)

# Other processes may change configuration (a seed); they cannot tell us, so entries expire.
CACHE_TTL_S = 30.0
MISS_RELOAD_S = 1.0


@dataclass(frozen=True)
class ServiceInfo:
    """A service item's names for tickets and lists."""

    code: str
    name: str
    sub_name: str
    category: str
    department: str


@dataclass(frozen=True)
class ServiceRule:
    """What a service's guide asks of a ticket in one hall (the city's guide, the hall's values over it)."""

    id_required: bool = False
    daily_cap: int | None = None


@dataclass(frozen=True)
class WindowInfo:
    """The static part of a window: where it is and what visitors see."""

    id: int
    hall_id: str
    number: int
    name: str

    def brief(self) -> dict[str, Any]:
        """{id, number, name} as events carry it."""
        return {"id": self.id, "number": self.number, "name": self.name}


@dataclass
class HallConfig:
    """Everything static about one hall that the hot paths need."""

    id: str
    name: str
    short_name: str
    level: str
    parent_id: str | None
    timezone: str
    policy: HallPolicy
    groups: dict[str, str] = field(default_factory=dict)
    service_prefix: dict[str, str] = field(default_factory=dict)
    # Only the services whose guide needs an ID card or caps the day: the issue path looks here.
    service_rules: dict[str, ServiceRule] = field(default_factory=dict)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))


@dataclass
class _Snapshot:
    halls: dict[str, HallConfig]
    services: dict[str, ServiceInfo]
    parents: dict[str, str | None]
    windows: dict[int, WindowInfo]
    loaded_at: float
    # At a station, the halls it owns (its streams); empty elsewhere.
    own: tuple[str, ...] = ()


def _service_rule(guide: dict[str, Any], overrides: dict[str, Any]) -> ServiceRule:
    """The ticket rules of a service in a hall: the hall's own values over the city's guide."""
    merged = {**guide, **{k: v for k, v in overrides.items() if v is not None}}
    cap = merged.get("daily_cap")
    return ServiceRule(
        id_required=merged.get("id_required") is True,
        daily_cap=cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None,
    )


class Catalog:
    """Loads all halls and service items at once and serves them from memory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._generation = 0

    def invalidate(self) -> None:
        """Forget the cache (after this process changed configuration)."""
        with self._lock:
            self._generation += 1
            self._snap = None

    def _snapshot(self) -> _Snapshot:
        snap = self._snap
        if snap is None:
            with self._lock:
                if self._snap is None:
                    self._snap = self._load()
                return self._snap
        if time.monotonic() - snap.loaded_at >= CACHE_TTL_S:
            self._refresh_in_background()
        return snap

    def _refresh_in_background(self) -> None:
        """Reload an expired snapshot in a thread of its own while callers keep the old one.

        Callers sit inside a transaction holding a pooled connection, sometimes a row lock too
        (the hall's event sequence). A reload there needs a second connection; under load every
        other request holds one while queueing on that lock, so the pool runs dry: a 30 s stall
        and a 500 each time the cache expired (seen with 50 windows on PostgreSQL).
        """
        if not self._refreshing.acquire(blocking=False):
            return  # one refresh at a time
        generation = self._generation

        def run() -> None:
            try:
                fresh = self._load()
                with self._lock:
                    # An invalidate() meanwhile means this load may predate the change: drop it.
                    if self._generation == generation and self._snap is not None:
                        self._snap = fresh
            except Exception:
                logger.warning("catalog refresh failed; serving the previous one", exc_info=True)
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="catalog-refresh", daemon=True).start()

    def _load(self) -> _Snapshot:
        with self.db.read() as s:
            halls_rows = s.execute(select(Hall.__table__)).all()
            group_rows = s.execute(select(QueueGroup.__table__)).all()
            hs_rows = s.execute(select(HallService.__table__)).all()
            svc_rows = s.execute(
                select(
                    ServiceItem.code,
                    ServiceItem.name,
                    ServiceItem.sub_name,
                    ServiceItem.category,
                    ServiceItem.department,
                    ServiceItem.guide,
                )
            ).all()
            win_rows = s.execute(select(Window.id, Window.hall_id, Window.number, Window.name)).all()
            # A relay (township) also sends its villages' streams: those halls are not its own.
            relayed = set(s.execute(select(StationHall.hall_id)).scalars())
            own = sorted(
                h
                for h in s.execute(select(SyncAck.hall_id)).scalars()
                if not h.startswith(AUDIT_STREAM_PREFIX) and h not in relayed
            )
        halls: dict[str, HallConfig] = {}
        for h in halls_rows:
            policy_data: dict[str, Any] = dict(h.policy or {})
            policy_data.setdefault("opening_hours", h.opening_hours or [])
            try:
                policy = HallPolicy.from_dict(policy_data)
            except Exception:
                logger.exception("hall %s has an invalid policy; using defaults", h.id)
                policy = HallPolicy()
            halls[h.id] = HallConfig(
                id=h.id,
                name=h.name,
                short_name=h.short_name or h.name,
                level=h.level,
                parent_id=h.parent_id,
                timezone=h.timezone,
                policy=policy,
                zone=ZoneInfo(h.timezone),
            )
        for g in group_rows:
            if g.hall_id in halls:
                halls[g.hall_id].groups[g.prefix] = g.name
        guides = {r.code: dict(r.guide or {}) for r in svc_rows}
        for r in hs_rows:
            if r.hall_id in halls:
                halls[r.hall_id].service_prefix[r.service_code] = r.prefix
                rule = _service_rule(guides.get(r.service_code) or {}, dict(r.overrides or {}))
                if rule != ServiceRule():
                    halls[r.hall_id].service_rules[r.service_code] = rule
        services = {
            r.code: ServiceInfo(r.code, r.name, r.sub_name, r.category, r.department) for r in svc_rows
        }
        parents = {h.id: h.parent_id for h in halls.values()}
        windows = {w.id: WindowInfo(w.id, w.hall_id, w.number, w.name) for w in win_rows}
        return _Snapshot(halls, services, parents, windows, time.monotonic(), tuple(own))

    # --- look-ups ------------------------------------------------------------------------
    def _reload_on_miss(self) -> bool:
        """Reload after a miss (another process may have seeded), at most once a second."""
        snap = self._snap
        if snap is not None and time.monotonic() - snap.loaded_at < MISS_RELOAD_S:
            return False
        self.invalidate()
        return True

    def hall(self, hall_id: str) -> HallConfig:
        """The hall's configuration or HallError hall.unknown."""
        hall = self._snapshot().halls.get(hall_id)
        if hall is None and self._reload_on_miss():
            hall = self._snapshot().halls.get(hall_id)
        if hall is None:
            raise HallError("hall.unknown", hall_id=hall_id)
        return hall

    def halls(self) -> list[HallConfig]:
        """All halls."""
        return list(self._snapshot().halls.values())

    def main_hall(self) -> HallConfig | None:
        """The hall this server is known by: at a station its first own hall (the city's halls above
        it come down with the configuration), elsewhere the first (by id) of the halls without a parent."""
        snap = self._snapshot()
        for hall_id in snap.own:
            if hall_id in snap.halls:
                return snap.halls[hall_id]
        roots = sorted((h for h in snap.halls.values() if h.parent_id is None), key=lambda h: h.id)
        return roots[0] if roots else None

    def service(self, code: str) -> ServiceInfo:
        """A service item's names or HallError service.unknown."""
        info = self._snapshot().services.get(code)
        if info is None and self._reload_on_miss():
            info = self._snapshot().services.get(code)
        if info is None:
            raise HallError("service.unknown", service_code=code)
        return info

    def service_name(self, code: str) -> str:
        """The service item's name, or its code if unknown."""
        info = self._snapshot().services.get(code)
        return info.name if info else code

    def prefix_for(self, hall: HallConfig, code: str) -> str:
        """The queue group a hall puts a service item in, or HallError service.unknown."""
        prefix = hall.service_prefix.get(code)
        if prefix is None:
            raise HallError("service.unknown", service_code=code, hall_id=hall.id)
        return prefix

    def window(self, window_id: int) -> WindowInfo | None:
        """A window's static info, or None."""
        info = self._snapshot().windows.get(window_id)
        if info is None and self._reload_on_miss():
            info = self._snapshot().windows.get(window_id)
        return info

    def parents(self) -> dict[str, str | None]:
        """hall id -> parent id for the whole city."""
        return self._snapshot().parents

    def in_subtree(self, hall_id: str, root_id: str) -> bool:
        """True if hall_id is root_id or below it."""
        return is_in_subtree(hall_id, root_id, self._snapshot().parents)
