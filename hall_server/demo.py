"""`serve --demo`: load the demo city and make the tokens a demo needs."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from hall_server.auth import create_token
from hall_server.config import Settings
from hall_server.db.engine import Database
from hall_server.db.models import Window
from hall_server.seed import demo_city_path, load_file, seed

logger = logging.getLogger(__name__)


def prepare_demo(settings: Settings, city_file: str | None = None) -> dict[str, Any]:
    """Seed the (fresh) database and return kiosk/display/rating tokens and staff logins."""
    data = load_file(city_file or demo_city_path())
    db = Database(settings.database_url, pool_size=2)
    try:
        seed(db, data)
        halls: dict[str, Any] = {}
        with db.write() as s:
            for h in data["halls"]:
                first = s.execute(
                    select(Window.id, Window.number)
                    .where(Window.hall_id == h["id"])
                    .order_by(Window.number)
                    .limit(1)
                ).first()
                numbers = {
                    w.number: w.id
                    for w in s.execute(select(Window.id, Window.number).where(Window.hall_id == h["id"]))
                }
                entry: dict[str, Any] = {"name": h["name"]}
                for role in ("kiosk", "display"):
                    entry[role] = create_token(s, role, hall_id=h["id"], label=f"demo {role}")[1]
                if first is not None:
                    entry["rating"] = {
                        "window_id": first.id,
                        "window_number": first.number,
                        "token": create_token(s, "rating", window_id=first.id, label="demo rating")[1],
                    }
                entry["clerks"] = [
                    {
                        "username": c["username"],
                        "password": c["password"],
                        "name": c.get("name", ""),
                        "window_id": numbers.get(w["number"]) if (w := _window_of(h, i)) else None,
                    }
                    for i, c in enumerate(h.get("clerks", []))
                ]
                halls[h["id"]] = entry
            admin_token = create_token(s, "admin", label="demo admin")[1]
        return {
            "url": settings.base_url,
            "api": settings.base_url + "/api/v1",
            "halls": halls,
            "managers": [
                {"username": m["username"], "password": m["password"], "hall": m.get("hall")}
                for m in data.get("managers", [])
            ],
            "admins": [
                {"username": a["username"], "password": a["password"]} for a in data.get("admins", [])
            ],
            "admin_token": admin_token,
        }
    finally:
        db.dispose()


def _window_of(hall: dict[str, Any], index: int) -> dict[str, Any] | None:
    windows = hall.get("windows", [])
    return windows[index] if index < len(windows) else None
