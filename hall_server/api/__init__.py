"""HTTP routers, one module per domain; create_app mounts ROUTERS under /api/v1 and PAGE_ROUTERS at /."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from hall_server.api import (
    appointments,
    audit,
    catalogue,
    dashboard,
    devices,
    documents,
    events,
    followups,
    green_channel,
    halls,
    manage,
    matters,
    ratings,
    schemas,
    stats,
    sync,
    system,
    tickets,
    web,
    windows,
)
from wire.sync import PushIn

# The hot routers first: a request is matched against the routers in this order (twice, by
# FastAPI's included routers), so issue and call are found without trying thirty other paths.
# No path of one router is answered by another (tests/hall_server/test_hot_paths.py checks it).
ROUTERS: tuple[APIRouter, ...] = (
    tickets.router,
    windows.router,
    system.router,
    halls.router,
    catalogue.router,
    ratings.router,
    events.router,
    devices.router,
    appointments.router,
    followups.router,
    matters.router,
    stats.router,
    dashboard.router,
    documents.router,
    audit.router,
    green_channel.router,
    manage.router,
    sync.router,
)
# The bodies of the lean hot routes, which read them without FastAPI's body machinery.
LEAN_BODIES: tuple[type[BaseModel], ...] = (schemas.IssueIn, schemas.NextIn, PushIn)
# Web pages live at the root (/dashboard, /t/{token}, /book/{hall}), not under /api/v1.
PAGE_ROUTERS: tuple[APIRouter, ...] = (web.router,)
