"""The FastAPI application: create_app(settings) wires context, routers, errors and the bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hall_server import worker
from hall_server.api.errors import install_handlers
from hall_server.api.guard import RequestGuard
from hall_server.api.lean import document_lean_routes, mount_on_app
from hall_server.config import Settings
from hall_server.const import (
    API_PREFIX,
    DOCUMENT_MAX_BYTES,
    FASTAPI_TELEMETRY_OFF,
    MAX_BODY_BYTES,
    STAFF_PHOTO_MAX_BYTES,
    SYNC_MAX_BODY_BYTES,
    SYNC_PHOTO_MAX_BYTES,
    VERSION,
)
from hall_server.context import ServerContext
from hall_server.db.analyze import StatsKeeper
from hall_server.db.checkpoint import start_checkpoints
from hall_server.listeners import CrossProcessListener

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """A ready app; the database is migrated to the newest schema first unless migrate=False."""
    from hall_server.api import HOT_ROUTERS, LEAN_BODIES, PAGE_ROUTERS, ROUTERS
    from hall_server.migrate import upgrade

    settings = settings or Settings.from_env()
    if migrate:
        upgrade(settings.database_url)
    ctx = ServerContext.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.bus.attach(asyncio.get_running_loop())
        listener = CrossProcessListener(ctx.db, ctx.bus) if settings.listen_other_processes else None
        if listener is not None:
            listener.start()
        keeper = StatsKeeper(ctx.db) if ctx.db.is_postgres else None
        if keeper is not None:
            keeper.start()
        stop_checkpoints = start_checkpoints(ctx.db.engine) if ctx.db.is_sqlite else None
        try:
            async with worker.background_passes(app):
                yield
        finally:
            if stop_checkpoints is not None:
                stop_checkpoints()
            if keeper is not None:
                keeper.stop()
            if listener is not None:
                listener.stop()
            await ctx.bus.close()
            ctx.close()

    app = FastAPI(
        title="hall-server 政务服务大厅排队叫号服务",
        version=VERSION,
        description="Tickets, calling, windows, ratings and live events of government service halls.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # The hall exports no OpenTelemetry data; with FastAPI's telemetry on (its default) every
        # request asks the global tracer, meter and logger providers whether they are configured
        # (an environment look-up each), about 5% of a hot request's CPU on the event loop.
        telemetry=FASTAPI_TELEMETRY_OFF,
    )
    app.state.ctx = ctx
    install_handlers(app)
    # One pure-ASGI layer in front: the client address for the audit trail, then the refusals.
    app.add_middleware(RequestGuard, limit_for=body_limit)
    for router in ROUTERS:
        if router in HOT_ROUTERS:
            mount_on_app(app, router, API_PREFIX)
        else:
            app.include_router(router, prefix=API_PREFIX)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    document_lean_routes(app, LEAN_BODIES)
    return app


def body_limit(path: str) -> int:
    """The largest body a path accepts: a document or staff photo, or an ordinary JSON request."""
    if path.endswith("/documents"):
        return DOCUMENT_MAX_BYTES + 64 * 1024
    if path.endswith("/photo"):
        return STAFF_PHOTO_MAX_BYTES + 64 * 1024
    if "/sync/photos/" in path:
        return SYNC_PHOTO_MAX_BYTES + 64 * 1024
    return SYNC_MAX_BODY_BYTES if path.endswith("/sync/push") else MAX_BODY_BYTES


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (settings from HALL_* variables; already migrated)."""
    from hall_server.gc_freeze import settle_heap

    app = create_app(Settings.from_env(), migrate=False)
    settle_heap(postgres=app.state.ctx.db.is_postgres)
    return app
