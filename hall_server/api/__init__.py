"""HTTP routers; create_app mounts every router of ROUTERS under /api/v1.

Other modules add theirs with `ROUTERS.append(router)` at import time (before create_app).
"""

from __future__ import annotations

from fastapi import APIRouter

from hall_server.api import devices, events, halls, ratings, system, tickets, windows

ROUTERS: list[APIRouter] = [
    system.router,
    halls.router,
    tickets.router,
    windows.router,
    ratings.router,
    events.router,
    devices.router,
]

# Issue 5: appointments, follow-ups, matters, statistics and the dashboard's API.
from hall_server.api import appointments, dashboard, followups, matters, stats, web  # noqa: E402

ROUTERS += [appointments.router, followups.router, matters.router, stats.router, dashboard.router]
# Web pages live at the root (/dashboard, /t/{token}, /book/{hall}), not under /api/v1.
PAGE_ROUTERS: list[APIRouter] = [web.router]

# Document photos kept with a ticket (材料留存).
from hall_server.api import documents  # noqa: E402

ROUTERS.append(documents.router)
