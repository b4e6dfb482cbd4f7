"""The FastAPI application: create_app(settings) wires context, routers, errors and the bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from hall_server.config import Settings
from hall_server.const import API_PREFIX, VERSION
from hall_server.context import ServerContext
from hall_server.db.analyze import StatsKeeper
from hall_server.errors import install_handlers
from hall_server.listeners import CrossProcessListener

logger = logging.getLogger(__name__)


class HallApp(FastAPI):
    """FastAPI with a lean front for the hottest POSTs (see hall_server.api.fast)."""

    hot: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        hot = self.hot
        if hot is not None and scope["type"] == "http" and scope["method"] == "POST":
            receive = await hot.handle(scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """A ready app; the database is migrated to the newest schema first unless migrate=False."""
    from hall_server.api import ROUTERS
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
        try:
            yield
        finally:
            if keeper is not None:
                keeper.stop()
            if listener is not None:
                listener.stop()
            await ctx.bus.close()
            ctx.close()

    app = HallApp(
        title="hall-server 政务服务大厅排队叫号服务",
        version=VERSION,
        description="Tickets, calling, windows, ratings and live events of government service halls.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    app.state.main_hall_id = None
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    from hall_server.api import PAGE_ROUTERS

    for router in PAGE_ROUTERS:
        app.include_router(router)
    if settings.hot_paths:
        from hall_server.api.fast import HotPaths

        app.hot = HotPaths(app)
    return app


def main_hall(ctx: ServerContext) -> str | None:
    """The root hall served here (the first hall without a parent)."""
    try:
        roots = [h.id for h in ctx.catalog.halls() if h.parent_id is None]
    except Exception:
        logger.warning("could not read halls", exc_info=True)
        return None
    return sorted(roots)[0] if roots else None


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (settings from HALL_* variables; already migrated)."""
    from hall_server.heap import settle_heap

    app = create_app(Settings.from_env(), migrate=False)
    settle_heap()
    return app
