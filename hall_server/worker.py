"""The background passes of a server process: booking no-shows, follow-up cases, notices, the outbox,
the statistics rollups.

Each pass runs in a thread of its own, never on the event loop, and each step is its own short
transaction; the outbox sends with no transaction open (see services.notify.flush).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.exc import ProgrammingError

from hall_server import audit, event_archive, malloc_trim
from hall_server.auth import Principal, require_roles
from hall_server.const import AUDIT_FULL_VERIFY_S, RETENTION_NEEDS_OWNER, RETENTION_OK
from hall_server.context import ServerContext
from hall_server.services import appointments, dayend, documents, followups, notify, stat_rollups

logger = logging.getLogger(__name__)


def run_pass(ctx: ServerContext, notifier: notify.Notifier) -> dict[str, int]:
    """One pass: ended days close, lapsed bookings no-show, bad ratings open cases, notices queue and send."""
    now = ctx.now()
    out: dict[str, int] = dayend.close_ended_days(ctx, now)
    with ctx.db.write() as s:
        out["no_shows"] = appointments.sweep_no_shows(s, now, station=ctx.settings.station_mode)
    if not ctx.settings.station_mode:
        # At a station the city opens and works the cases of bad ratings; they come down.
        with ctx.db.write() as s:
            out["cases_opened"] = followups.open_missing_cases(s, now)
    # The scan reads (events, queues) outside the writers' slot; only its findings are written.
    with ctx.db.read() as s:
        near = notify.scan_events(s, ctx.protector)
    with ctx.db.write() as s:
        out["near_queued"] = notify.queue_near(s, ctx.protector, near, now)
    out.update(notify.flush(ctx.db, ctx.protector, notifier, now))
    out["documents_purged"] = documents.purge_documents(ctx, now, ctx.settings.document_retention_days)
    # Last, so the day-end closing and new cases of this pass are in the rollups it writes.
    out["stat_hall_days"] = stat_rollups.catch_up(ctx.db)
    # After the rollups (they never read events, but a pass that fails here has done the rest).
    out["events_archived"] = event_retention(ctx, now)
    return out


def event_retention(ctx: ServerContext, now: datetime) -> int:
    """The event retention rule, if set; how many events moved. Its state is recorded (and
    logged) only when it changes, so the append-only role costs one warning, not one a pass."""
    if ctx.settings.event_retention_days <= 0:
        return 0
    moved = 0
    state = RETENTION_NEEDS_OWNER
    if event_archive.may_archive(ctx.db):
        try:
            moved = event_archive.archive_closed_days(
                ctx.db, now, ctx.settings.event_retention_days, station=ctx.settings.station_mode
            )
            state = RETENTION_OK
        except ProgrammingError:
            logger.debug("event retention refused by the database", exc_info=True)
    previous = event_archive.record_retention(ctx.db, state, now)
    if state == RETENTION_NEEDS_OWNER and previous != state:
        # PostgreSQL's append-only app role may not delete events: the owner runs the rule.
        logger.warning("event retention needs the database owner: run `hall-server db archive-events`")
    elif state == RETENTION_OK and previous == RETENTION_NEEDS_OWNER:
        logger.info("event retention runs again under the server's own role")
    return moved


def audit_pass(ctx: ServerContext, *, full: bool = False) -> None:
    """Verify the audit chains from their last good point; the dashboard shows the stored state."""
    verdicts = audit.periodic_verify(ctx.db, full=full)
    for v in verdicts:
        if not v.ok:
            logger.error("audit chain %s broken at seq %s: %s", v.hall_id, v.broken_seq, v.problem)


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
    audit_thread = _start_audit_loop(ctx, stop)
    trim_thread = malloc_trim.start(stop) if ctx is not None else None
    sync_thread = None
    if ctx is not None and ctx.settings.station_mode:
        from hall_server.sync import station

        # The identity, epoch and id ranges are set before the first request is served.
        sync_thread = await asyncio.to_thread(station.start, ctx, stop)
    try:
        yield
    finally:
        stop.set()
        sync = getattr(ctx, "station_sync", None)
        if sync is not None:
            sync.wake.set()
        if thread is not None:
            thread.join(timeout=30)
        if audit_thread is not None:
            audit_thread.join(timeout=30)
        if trim_thread is not None:
            trim_thread.join(timeout=30)
        if sync_thread is not None:
            sync_thread.join(timeout=30)


def _start_audit_loop(ctx: ServerContext | None, stop: threading.Event) -> threading.Thread | None:
    """A thread of its own: a long verification must not delay bookings and notices."""
    if ctx is None or ctx.settings.audit_verify_seconds <= 0:
        return None
    interval = ctx.settings.audit_verify_seconds
    if interval <= 0:
        return None

    def loop() -> None:
        # First pass soon after start, so the dashboard has a state to show. Passes continue
        # from the last verified record; now and then one walks every chain again, which is
        # what finds a change to records verified before.
        delay = min(interval, 5.0)
        last_full = 0.0
        while not stop.wait(delay):
            delay = interval
            full = time.monotonic() - last_full >= AUDIT_FULL_VERIFY_S or last_full == 0.0
            try:
                audit_pass(ctx, full=full)
                if full:
                    last_full = time.monotonic()
            except Exception:
                logger.exception("audit verification failed; retrying next round")

    thread = threading.Thread(target=loop, name="hall-audit-verify", daemon=True)
    thread.start()
    return thread


def run_pass_now(ctx: ServerContext, p: Principal, notifier: notify.Notifier) -> dict[str, int]:
    """Use case: run one background pass now, e.g. to send the outbox at once. The pass serves every
    hall of the server (a server may hold several cities), so it is the server admin's to run."""
    require_roles(p, "admin")
    return run_pass(ctx, notifier)
