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

# The hot routers sit on the app's own router (api/lean.mount_on_app), ahead of every included
# router: a request to them is one regular-expression match per route tried, not FastAPI's
# include-context matching done twice. No path of one router is answered by another
# (tests/hall_server/test_hot_paths.py checks it).
HOT_ROUTERS: tuple[APIRouter, ...] = (tickets.router, windows.router)
ROUTERS: tuple[APIRouter, ...] = (
    *HOT_ROUTERS,
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
