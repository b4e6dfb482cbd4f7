"""The background passes of a server process: booking no-shows, follow-up cases, notices, the outbox.

Each pass runs in a thread of its own, never on the event loop, and each step is its own short
transaction; the outbox sends with no transaction open (see services.notify.flush).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hall_server.auth import MANAGER_ROLES, Principal, require_roles
from hall_server.context import ServerContext
from hall_server.services import appointments, dayend, documents, followups, notify

logger = logging.getLogger(__name__)


def run_pass(ctx: ServerContext, notifier: notify.Notifier) -> dict[str, int]:
    """One pass: ended days close, lapsed bookings no-show, bad ratings open cases, notices queue and send."""
    now = ctx.now()
    out: dict[str, int] = dayend.close_ended_days(ctx, now)
    with ctx.db.write() as s:
        out["no_shows"] = appointments.sweep_no_shows(s, now)
    with ctx.db.write() as s:
        out["cases_opened"] = followups.open_missing_cases(s, now)
    with ctx.db.write() as s:
        out["near_queued"] = notify.scan_events(s, ctx.protector, now)
    out.update(notify.flush(ctx.db, ctx.protector, notifier, now))
    out["documents_purged"] = documents.purge_documents(ctx, now, ctx.settings.document_retention_days)
    return out


@asynccontextmanager
async def background_passes(app: FastAPI) -> AsyncIterator[None]:
    """Run the background pass every Settings.worker_seconds (0 turns it off) while the app runs."""
    stop = threading.Event()
    thread: threading.Thread | None = None
    ctx: ServerContext | None = getattr(app.state, "ctx", None)
    interval = ctx.settings.worker_seconds if ctx is not None else 0.0
    if ctx is not None:
        # A server stopped overnight closes the days that ended meanwhile before it serves
        # today (even with the worker off); off the event loop, like every database call.
        try:
            await asyncio.to_thread(dayend.close_ended_days, ctx, ctx.now())
        except Exception:
            logger.exception("closing ended business days at start-up failed; the worker retries")
    if interval > 0 and ctx is not None:
        notifier = notify.load_notifier(ctx.settings.notifier)
        app.state.notifier = notifier

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    run_pass(ctx, notifier)
                except Exception:
                    logger.exception("worker pass failed; retrying next round")

        thread = threading.Thread(target=loop, name="hall-worker", daemon=True)
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)


def run_pass_now(ctx: ServerContext, p: Principal, notifier: notify.Notifier) -> dict[str, int]:
    """Use case: run one background pass now (managers), e.g. to send the outbox at once."""
    require_roles(p, *MANAGER_ROLES)
    return run_pass(ctx, notifier)
