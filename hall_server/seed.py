"""Load a city data file (assets/demo_city.json schema) into the database; safe to run again."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from hall_server.const import DEFAULT_TIMEZONE, EV_HALL_UPDATED
from hall_server.db.engine import Database
from hall_server.db.models import Hall, HallService, QueueGroup, ServiceItem, User, Window
from hall_server.errors import HallError
from hall_server.events import Actor, append_event
from hall_server.passwords import hash_password, verify_password
from queueing.errors import DomainError
from queueing.hierarchy import check_hierarchy
from queueing.model import HallLevel, HallPolicy, check_weights, check_zone

logger = logging.getLogger(__name__)

H = Hall.__table__
S = ServiceItem.__table__
G = QueueGroup.__table__
HS = HallService.__table__
W = Window.__table__
U = User.__table__

_GUIDE_FIELDS = (
    "legal_basis",
    "conditions",
    "location",
    "consult_phone",
    "complaint_phone",
    "id_required",
    "daily_cap",
    "time_limit_days",
    "promise_days",
    "materials",
    "forms",
    "steps",
    "fee",
    "online_url",
    "notes",
)
SEEDER = Actor("system", "seed")


def demo_city_path() -> Path:
    """assets/demo_city.json of this installation."""
    import assets

    return Path(assets.__file__).resolve().parent / "demo_city.json"


def load_file(path: Path | str) -> dict[str, Any]:
    """Read and parse a city data file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HallError("seed.invalid", reason=str(exc), path=str(path)) from exc


def _bad(reason: str, **detail: Any) -> HallError:
    return HallError("seed.invalid", reason=reason, **detail)


def _ordered_halls(halls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children."""
    by_id = {h["id"]: h for h in halls}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(h: dict[str, Any]) -> None:
        if h["id"] in seen:
            return
        parent = h.get("parent")
        if parent in by_id:
            visit(by_id[parent])
        seen.add(h["id"])
        out.append(h)

    for h in halls:
        visit(h)
    return out


def validate(data: dict[str, Any]) -> None:
    """Refuse an inconsistent file before anything is written."""
    if not isinstance(data, dict) or not isinstance(data.get("halls"), list):
        raise _bad("the file needs a 'halls' list")
    codes = {s.get("code") for s in data.get("services", [])}
    if None in codes:
        raise _bad("every service needs a code")
    halls = data["halls"]
    try:
        check_hierarchy({h["id"]: (h.get("parent"), HallLevel(h["level"])) for h in halls})
        for h in halls:
            _policy(h, data)
            prefixes = set()
            claimed: set[str] = set()
            for g in h.get("groups", []):
                prefixes.add(g["prefix"])
                for code in g.get("services", []):
                    if code not in codes:
                        raise _bad("unknown service in group", hall=h["id"], service=code)
                    if code in claimed:
                        raise _bad("a service is in two groups of one hall", hall=h["id"], service=code)
                    claimed.add(code)
            numbers = set()
            for w in h.get("windows", []):
                if w["number"] in numbers:
                    raise _bad("window number used twice", hall=h["id"], number=w["number"])
                numbers.add(w["number"])
                check_zone(w.get("zone"))
                unknown = set(check_weights(w.get("groups", {}))) - prefixes
                if unknown:
                    raise _bad("window serves an unknown group", hall=h["id"], groups=sorted(unknown))
    except HallError:
        raise
    except DomainError as exc:  # a rule of the core (a weight, a prefix) refused an entry
        raise _bad(exc.message_en, code=exc.code) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"malformed entry: {exc}") from exc


def _policy(h: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    policy = dict(h.get("policy") or {})
    if data.get("demo_open_all_day"):
        # The demo must issue tickets at any hour; the hall's real hours stay on display.
        policy["opening_hours"] = []
    else:
        policy.setdefault("opening_hours", h.get("opening_hours") or [])
    return HallPolicy.from_dict(policy).to_dict()


def seed(db: Database, data: dict[str, Any]) -> dict[str, int]:
    """Insert or update services, halls, groups, windows and staff in one transaction."""
    validate(data)
    tz = data.get("timezone") or DEFAULT_TIMEZONE
    counts = {"services": 0, "halls": 0, "groups": 0, "windows": 0, "users": 0}
    # Hash passwords before taking the write lock: scrypt is slow on purpose.
    staff = _staff(data)
    with db.read() as s:
        known = {
            r.username: r.password_hash for r in s.execute(select(U.c.username, U.c.password_hash)).all()
        }
    for person in staff:
        old = known.get(person["username"])
        person["hash"] = (
            old if old and verify_password(person["password"], old) else hash_password(person["password"])
        )
    with db.write() as s:
        for svc in data.get("services", []):
            _upsert(
                s,
                S,
                {"code": svc["code"]},
                {
                    "name": svc["name"],
                    "sub_name": svc.get("sub_name", ""),
                    "category": svc.get("category", ""),
                    "department": svc.get("department", ""),
                    "guide": {k: svc[k] for k in _GUIDE_FIELDS if k in svc},
                },
            )
            counts["services"] += 1
        for h in _ordered_halls(data["halls"]):
            _seed_hall(s, h, data, tz, counts)
        for person in staff:
            _upsert(
                s,
                U,
                {"username": person["username"]},
                {
                    "name": person.get("name", ""),
                    "role": person["role"],
                    "hall_id": person.get("hall"),
                    "password_hash": person["hash"],
                    "active": True,
                },
            )
            counts["users"] += 1
    return counts


def _staff(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for h in data["halls"]:
        for c in h.get("clerks", []):
            out.append({**c, "role": "clerk", "hall": h["id"]})
    for m in data.get("managers", []):
        out.append({**m, "role": "manager"})
    for a in data.get("admins", []):
        out.append({**a, "role": "admin", "hall": None})
    return out


def _seed_hall(s: Session, h: dict[str, Any], data: dict[str, Any], tz: str, counts: dict[str, int]) -> None:
    hall_id = h["id"]
    _upsert(
        s,
        H,
        {"id": hall_id},
        {
            "name": h["name"],
            "short_name": h.get("short_name", h["name"]),
            "level": h["level"],
            "parent_id": h.get("parent"),
            "address": h.get("address", ""),
            "phone": h.get("phone", ""),
            "timezone": h.get("timezone", tz),
            "notices": list(h.get("notices", [])),
            "policy": _policy(h, data),
            "opening_hours": list(h.get("opening_hours", [])),
        },
    )
    counts["halls"] += 1
    s.execute(delete(HS).where(HS.c.hall_id == hall_id))
    for g in h.get("groups", []):
        _upsert(s, G, {"hall_id": hall_id, "prefix": g["prefix"]}, {"name": g["name"]})
        for code in g.get("services", []):
            s.execute(insert(HS).values(hall_id=hall_id, service_code=code, prefix=g["prefix"]))
        counts["groups"] += 1
    for w in h.get("windows", []):
        _upsert(
            s,
            W,
            {"hall_id": hall_id, "number": w["number"]},
            {
                "name": w.get("name", f"{w['number']}号窗口"),
                "kind": w.get("kind", "comprehensive"),
                "zone": check_zone(w.get("zone")),
                "groups": check_weights(w.get("groups", {})),
            },
            insert_only={"status": w.get("status", "open"), "call_history": []},
        )
        counts["windows"] += 1
    append_event(s, hall_id, EV_HALL_UPDATED, {"hall": {"id": hall_id, "name": h["name"]}}, SEEDER)


def _upsert(
    s: Session,
    table: Any,
    key: dict[str, Any],
    values: dict[str, Any],
    insert_only: dict[str, Any] | None = None,
) -> None:
    cond = [table.c[k] == v for k, v in key.items()]
    if s.execute(select(*[table.c[k] for k in key]).where(*cond)).first() is None:
        s.execute(insert(table).values(**key, **values, **(insert_only or {})))
    else:
        s.execute(update(table).where(*cond).values(**values))


def seed_file(db: Database, path: Path | str) -> dict[str, int]:
    """Seed from a file path."""
    return seed(db, load_file(path))
