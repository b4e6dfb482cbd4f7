"""Station side: the sync loop (push up, then pull down) and the link state it records.

One thread in one process of the station runs it (an exclusive lock on a file in the data
folder elects the process; the others serve requests and read the recorded link state). Each
round:
1. push: read a batch in one read transaction (the events of every stream after the parent's
   acknowledged seq, in seq order, at most sync_batch; the current images of the rows changed in
   sync_changes up to a high-water mark), then POST it with no transaction open (the next batch
   goes before its answer: see below); on 200 record the acknowledgement durably (acked seq per stream, delete the acknowledged changes). A push is
   sent every round even when empty: it carries the station's heads (a restored backup shows)
   and what is waiting. A gap answer (409 sync.gap) moves the checkpoint back to what the parent
   expects and the round goes on.
2. pull: GET the configuration (if its version changed) and the parent-owned rows after the
   down cursor, and apply them with the version and cursor in one transaction, capture off.
Every request has a connect/read timeout; failures back off exponentially with jitter (capped
at settings.sync_backoff_max_s; an acknowledged push starts it over), except a parent that could
not be connected to at all: it is knocked on (GET /health, no batch read) every SYNC_PROBE_S
until it answers. A push sent without an answer halves the next one (doubling back after each
acknowledgement), so a batch the link or the parent cannot carry in time is not sent again and
again. While the link works, a local commit wakes the loop early (a round within sync_seconds
anyway, sync_seconds * SYNC_IDLE_FACTOR after a round that moved nothing); while it backs off,
commits do not. A push turned away busy is sent again as it is at the turn the parent gave.
Pushes are pipelined: up to sync_push_window batches are in flight, each read after the one
before it while the parent applies that one (the parent takes them in order or refuses one
ahead of its predecessor), and their answers are taken in the order sent; while the link is
down the first batch is kept read and encoded, so it leaves with the first answered knock. The parent is only
ever reached at settings.parent_url, so a proxy may sit in between.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3
from sqlalchemy import delete, func, select, update

from hall_server.const import (
    API_PREFIX,
    SYNC_DOWN_READ_S,
    SYNC_IDLE_FACTOR,
    SYNC_MAX_EVENTS,
    SYNC_PHOTO_PAGES_PER_ROUND,
    SYNC_PHOTO_ROUND_BYTES,
    SYNC_PROBE_S,
)
from hall_server.context import ServerContext
from hall_server.db.models import Event, HallSeq, SyncAck, SyncChange, SyncState
from hall_server.services.stations import waiting_of
from hall_server.sync import capture, config_snapshot, deletes, photos, relay
from hall_server.sync.capture import RANGED_TABLES, Bundle
from hall_server.sync.protocol import (
    BY_NAME,
    UP_COLUMNS,
    encode_row,
    pk_column,
    pk_value,
)

logger = logging.getLogger(__name__)

_STATE = SyncState.__table__
_ACKS = SyncAck.__table__
_CHANGES = SyncChange.__table__
_EVENTS = Event.__table__
_SEQ = HallSeq.__table__
LOCK_FILE = "station-sync.lock"
JSON_HEADERS = {"Content-Type": "application/json"}
PHOTO_HEADERS = {"Content-Type": "application/octet-stream"}
# A photo the parent refuses for what it is (not for the link): skipped, the others still go.
PHOTO_REFUSALS = ("sync.bad_photo", "sync.no_document", "sync.wrong_hall", "document.too_large")
# Pushes per round at most (each up to sync_batch events): a long backlog is sent over rounds.
MAX_PUSHES_PER_ROUND = 20
MAX_PULLS_PER_ROUND = 20
# A push answered within this share of the timeout lets the next grow past sync_batch.
BATCH_GROW_WITHIN = 0.2
# The link states a refusal leaves (anything else is "down": the parent was not reached).
STATE_OF_CODE = {
    "sync.revoked": "revoked",
    "auth.invalid": "refused",
    "auth.forbidden": "refused",
    "sync.wrong_hall": "refused",
    "sync.epoch_changed": "epoch_conflict",
    "sync.rewound": "rewound",
}


class SyncRefused(Exception):
    """The parent answered with a refusal (code, message) or could not be reached."""

    def __init__(self, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail or {}


class StationSync:
    """The station's sync loop and its one round (`sync_once`, also used by tests and the CLI)."""

    def __init__(self, ctx: ServerContext, bundle: Bundle | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.bundle = bundle or capture.read_bundle(ctx.settings)
        if self.bundle is None:
            raise RuntimeError("station mode needs HALL_STATION_CREDENTIAL or HALL_STATION_CREDENTIAL_FILE")
        self.base = str(self.settings.parent_url).rstrip("/") + API_PREFIX
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.bundle.credential}"
        self.verify: bool | str = str(self.settings.parent_ca) if self.settings.parent_ca else True
        self.timeout = (self.settings.sync_timeout_s, self.settings.sync_timeout_s)
        self.wake = threading.Event()
        self.failures = 0
        # Events (and rows) per push: halved after a push got no answer, so a batch the link or
        # the parent cannot carry within the timeout is not sent again and again; doubles back.
        self.batch = self.settings.sync_batch
        # Seconds the parent asked to wait (503 sync.busy): no back-off, the link is fine.
        self.busy_wait = 0.0
        # The batch read and encoded, not yet acknowledged: a busy parent (503 sync.busy) gets the
        # same batch again, so a station turned away does not read and encode it again and again.
        # It stays a consistent prefix of what waits (changes after it have higher change ids).
        # Kept too while the link is down (the batch never left), so it goes up as soon as the
        # parent answers a knock, without reading it on the way (_ready_while_down).
        self.pending: tuple[dict[str, Any], bytes, bool] | None = None
        # When the pending batch was read (monotonic) and whether it was full (more waited): while
        # the link is down a batch that was not full is read again at most every SYNC_DOWN_READ_S.
        self.pending_read_at = 0.0
        self.pending_full = False
        # The last round could not connect at all (refused, unroutable, connect timeout): the
        # next rounds first knock cheaply (GET /health) every SYNC_PROBE_S, so the batch goes up
        # within a fraction of a second of the link coming back; while it is down the first
        # batch is kept read (at most one read every SYNC_DOWN_READ_S, none once it is full).
        self.link_down = False
        # The last round sent or received records (else the next one waits longer: _pause).
        self.moved = True
        # Ask the parent which photos it lacks (sync/photos.py): at the start, after a push with
        # document rows, and while its last answer named any (so a cut upload is sent again).
        self.photos_due = True
        # Documents whose photo the parent refused for what it is (PHOTO_REFUSALS): not sent
        # again by this process, so a photo that can never be taken does not cross the link
        # every round (a restart tries each once more, e.g. after the data key was put right).
        self.photos_refused: set[int] = set()
        # Where the next ask for missing photos starts (GET /sync/photos?after=): the parent
        # names them oldest first, a page at a time, and keeps naming the ones it refused, so
        # the station pages past them; 0 again once a pass reached the end.
        self.photos_after = 0
        # Pushes in flight, oldest first (at most sync_push_window): each batch was read after the
        # one before it and is acknowledged only by the parent's answer to it, taken in this order.
        self.window = self.settings.sync_push_window
        self.inflight: deque[_Flight] = deque()
        self._sender = ThreadPoolExecutor(max_workers=self.window, thread_name_prefix="hall-sync-push")
        # The batch read after the last one in flight (or the last acknowledged), not sent yet,
        # and the batch size it was read at: read while the parent applies the ones in flight.
        self.next: tuple[dict[str, Any], bytes, bool] | None = None
        self.next_size = 0
        # After a rows gap whose position this station no longer has (the parent lost what it had
        # acknowledged): the change id the next batch says it follows, at most.
        self.rows_floor: int | None = None

    # --- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Sync until stop is set; only the process holding the lock file syncs. Then close()."""
        try:
            self._run(stop)
        finally:
            self.close()

    def close(self) -> None:
        """Release what the loop holds: the push threads, the HTTP connections, the wake-up hook."""
        self._sender.shutdown(wait=False, cancel_futures=True)
        self.http.close()
        with contextlib.suppress(ValueError):
            self.ctx.db.after_commit.remove(self._wake_on_commit)

    def _wake_on_commit(self, _published: list[Any]) -> None:
        self.wake.set()

    def _run(self, stop: threading.Event) -> None:
        lock = self._leader(stop)
        if lock is None:
            return
        self.ctx.db.after_commit.append(self._wake_on_commit)
        try:
            while not stop.is_set():
                ok = self.sync_once()
                self.wake.clear()
                if self.busy_wait:  # the parent is taking other stations' batches: its pace
                    # Its turn (a little jitter: the parent spread the turns already).
                    wait, self.busy_wait = self.busy_wait * random.uniform(0.95, 1.15), 0.0
                    stop.wait(wait)
                elif not ok:
                    # Backing off: local commits do not cut it short (each round reads a batch).
                    stop.wait(self._backoff())
                elif stop.wait(0) or self.wake.wait(self._pause()):
                    stop.wait(0.05)  # let a burst of writes land in one push
        finally:
            with contextlib.suppress(OSError):
                os.close(lock)

    def _leader(self, stop: threading.Event) -> int | None:
        path = self.settings.data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        while not stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError:
                stop.wait(5.0)  # another process of this station syncs; take over if it ends
        os.close(fd)
        return None

    def _pause(self) -> float:
        """Seconds to the next round: sync_seconds after a round that moved records, longer
        after an idle one (a local commit wakes the loop at once either way), so a city's
        hundreds of idle stations do not poll it every few seconds."""
        return self.settings.sync_seconds * (1 if self.moved else SYNC_IDLE_FACTOR)

    def _backoff(self) -> float:
        base = min(
            self.settings.sync_backoff_max_s, self.settings.sync_seconds * (2 ** min(self.failures, 10))
        )
        if self.link_down:  # a knock costs the parent nothing: no need to wait long between them
            base = min(base, SYNC_PROBE_S)
        return base * random.uniform(0.5, 1.0)

    def sync_once(self) -> bool:
        """One round: push everything waiting (bounded), then pull; records the link state."""
        self.moved = False
        try:
            if self.link_down:
                try:
                    self._call("GET", "/health")  # SyncRefused (unreachable) while the link stays down
                except SyncRefused:
                    self._ready_while_down()
                    raise
                self.link_down = False
            st = self._state()
            if st.station_no is None or not self._streams() or st.config_version is None:
                # The station's number, halls and tokens come with the first pull. It goes before
                # any push, so a station whose pushes are refused (a second machine, a restored
                # backup) still has its devices' tokens and can show them why.
                self.pull()
            for _ in range(MAX_PUSHES_PER_ROUND):
                if not self.push_batch():
                    break
            while self.inflight:  # the answers to what is still in flight, before the pull
                self.push_batch(send=False)
            for _ in range(MAX_PULLS_PER_ROUND):
                if not self.pull():
                    break
            self.send_photos()
        except SyncRefused as exc:
            if exc.code == "sync.busy":
                self.busy_wait = float(exc.detail.get("retry_after_s") or 1.0)
                return False
            self.failures += 1
            self.link_down = exc.code == "sync.unreachable" and bool(exc.detail.get("unsent"))
            self._record(STATE_OF_CODE.get(exc.code, "down"), exc.code, exc.message)
            logger.warning("sync with %s failed: %s %s", self.settings.parent_url, exc.code, exc.message)
            return False
        except Exception as exc:
            self.failures += 1
            logger.exception("sync round failed")
            self._record("down", "server.error", str(exc)[:400])
            return False
        self.failures = 0
        self._record("ok", None, None)
        return True

    # --- HTTP -------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = self.http.request(method, self.base + path, timeout=self.timeout, verify=self.verify, **kw)
        except requests.RequestException as exc:
            raise SyncRefused(
                "sync.unreachable", f"{type(exc).__name__}: {str(exc)[:300]}", {"unsent": _unsent(exc)}
            ) from exc
        if r.status_code == 200:
            return r.json()
        try:
            err = r.json()["error"]
            raise SyncRefused(
                str(err["code"]), str(err.get("message_en") or err.get("message")), err.get("detail")
            )
        except (ValueError, KeyError, TypeError):
            raise SyncRefused("sync.unreachable", f"HTTP {r.status_code} from the parent") from None

    # --- push -------------------------------------------------------------------------------------
    def push_batch(self, send: bool = True) -> bool:
        """Send batches until sync_push_window are in flight, then take the oldest one's answer;
        True if more may be waiting.

        Each batch is read after the one before it (events after its seqs, changes after its
        rows_through, which the batch names as rows_after) while the parent applies the ones in
        flight. The parent applies them in that order, refuses one whose predecessor it has not
        applied (sync.gap) and skips what it has already (replay), so the station needs no
        answer to send the next; each batch is acknowledged only by the parent's answer to it,
        taken in the order sent. send=False only takes answers (the end of a round)."""
        if send:
            self._fill()
        if not self.inflight:
            return False
        flight = self.inflight.popleft()
        try:
            answer = flight.future.result()
        except SyncRefused as exc:
            if self._settle_rest():  # a later batch was applied, so this one was too
                self.pending = None
                return True
            return self._refused(flight, exc)
        except BaseException:
            self._settle_rest()
            raise
        more = self._accepted(flight, answer)
        return more or bool(self.inflight)

    def _fill(self) -> None:
        """Send the waiting batch, and those after it while fewer than the window are in flight;
        the batch after the last one sent is read (and kept) while the parent works."""
        if not self.inflight:
            batch = self.pending or self._take_next() or self._encoded(*self._read_batch())
            if self.pending is None:
                self.pending_read_at, self.pending_full = time.monotonic(), batch[2]
            self.pending = batch
            self._send(batch)
        while self.inflight[-1].body_more:
            if self.next is None:
                self.next = self._encoded(*self._read_batch(after=self.inflight[-1].body))
                self.next_size = self.batch
            if len(self.inflight) >= self.window:
                break
            batch, self.next = self.next, None
            self._send(batch)

    def _send(self, batch: tuple[dict[str, Any], bytes, bool]) -> None:
        body, raw, more = batch
        data = self._stamped(raw)
        future = self._sender.submit(self._call, "POST", "/sync/push", data=data, headers=JSON_HEADERS)
        self.inflight.append(_Flight(body, raw, more, time.monotonic(), future))

    def _settle_rest(self) -> bool:
        """The oldest push failed: take the answers of the others in flight (they were sent;
        each ends within the timeout) and acknowledge the ones applied; True if any was."""
        applied = False
        self._drop_next()
        while self.inflight:
            flight = self.inflight.popleft()
            try:
                answer = flight.future.result()
            except Exception:  # refused behind the failed one (sync.gap, busy) or cut: sent again
                continue
            self._accepted(flight, answer)
            applied = True
        self._drop_next()
        return applied

    def _refused(self, flight: _Flight, exc: SyncRefused) -> bool:
        """The oldest push in flight was refused or not answered (nothing after it was applied)."""
        self._drop_next()
        unsent = exc.code == "sync.unreachable" and bool(exc.detail.get("unsent"))
        if (unsent or exc.code == "sync.busy") and (
            self.pending is None or self.pending[0] is not flight.body
        ):
            # A batch sent behind the waiting one becomes the waiting one (that one was applied).
            self.pending_read_at, self.pending_full = flight.sent_at, flight.body_more
        if unsent:
            # It never left: kept for when the link is back. What was recorded meanwhile
            # follows it (more: the next batch is read while this one is answered).
            self.pending = (flight.body, flight.raw, True)
        elif exc.code == "sync.busy":
            self.pending = (flight.body, flight.raw, flight.body_more)  # the same batch at its turn
        else:
            self.pending = None  # read again: the link, the batch size or the checkpoint changed
        if exc.code == "sync.unreachable" and not exc.detail.get("unsent"):
            self.batch = max(1, self.batch // 2)
        if exc.code == "sync.gap" and exc.detail.get("rows_through") is not None:
            self._rows_gap(int(exc.detail["rows_through"]))
            return True
        if exc.code == "sync.gap" and exc.detail.get("hall_id") and exc.detail.get("expected"):
            self._rewind(str(exc.detail["hall_id"]), int(exc.detail["expected"]) - 1)
            return True
        raise exc

    def _accepted(self, flight: _Flight, answer: dict[str, Any]) -> bool:
        """Record a push's answer durably and size the next batches; True if more waited."""
        body = flight.body
        if self.pending is not None and self.pending[0] is body:
            self.pending = None
        self.rows_floor = None
        self.moved = self.moved or bool(body["events"] or body["rows"])
        if body["rows"].get("ticket_documents"):
            self.photos_due = True
        self._acknowledge(answer, body)
        # Doubles back after a halving; a parent that answers a full batch well within the
        # timeout takes bigger ones (fewer round trips in a catch-up), up to the protocol's bound.
        quick = time.monotonic() - flight.sent_at < self.settings.sync_timeout_s * BATCH_GROW_WITHIN
        top = SYNC_MAX_EVENTS if quick and flight.body_more else self.settings.sync_batch
        self.batch = min(top, self.batch * 2)
        if answer.get("batch_max"):
            # The parent's own kiosks and windows are busy: it asks for smaller batches.
            self.batch = max(1, min(self.batch, int(answer["batch_max"])))
        # The batch read ahead is used if what it follows was applied as sent and it is no bigger
        # than the parent now takes (else the next batch is read afresh at the new size).
        if self.next_size > self.batch or (not self.inflight and not _applied_as_sent(answer, body)):
            self._drop_next()
        self.failures = 0  # progress: a failure after it backs off from the start again
        return flight.body_more

    def _rows_gap(self, parent_through: int) -> None:
        """The parent has the station's rows through parent_through only (a batch went ahead of
        the one before it, or the parent lost rows it had acknowledged): read again from there."""
        with self.ctx.db.read() as s:
            own = int(capture.state(s).rows_through or 0)
        if own > parent_through:
            # Acknowledged changes are deleted here: what the parent lost cannot be sent again.
            logger.error(
                "sync: the parent has this station's rows through change %d only, but acknowledged"
                " through %d; those rows are lost at the parent",
                parent_through,
                own,
            )
            self.rows_floor = parent_through
        self.pending = None

    def _drop_next(self) -> None:
        self.next = None
        self.next_size = 0

    def _encoded(self, body: dict[str, Any], more: bool) -> tuple[dict[str, Any], bytes, bool]:
        """The batch as sent, but for its sent_at (_stamped adds it when it leaves)."""
        wire = {k: v for k, v in body.items() if not k.startswith("_")}
        return body, json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode(), more

    def _stamped(self, raw: bytes) -> bytes:
        """The encoded batch with the station's clock at sending: a batch kept over busy answers
        or a link that was down must not show its age as clock skew at the parent."""
        sent_at = json.dumps(self.ctx.now().isoformat()).encode()
        return raw[:-1] + b',"sent_at":' + sent_at + b"}"

    def _ready_while_down(self) -> None:
        """Have the first batch read and encoded while the link is down, so it is sent the
        moment a knock is answered. Read at most every SYNC_DOWN_READ_S, and not again once a
        full batch waits (it stays a consistent prefix of what is recorded meanwhile)."""
        if self.pending is not None and (
            self.pending_full or time.monotonic() - self.pending_read_at < SYNC_DOWN_READ_S
        ):
            return
        self._drop_next()
        try:
            body, raw, more = self._encoded(*self._read_batch())
        except Exception:
            logger.exception("reading the waiting batch while the link is down failed")
            return
        # Sent with more=True: what is recorded until the link is back is read while it is answered.
        self.pending = (body, raw, True)
        self.pending_read_at, self.pending_full = time.monotonic(), more

    def _take_next(self) -> tuple[dict[str, Any], bytes, bool] | None:
        """The batch read ahead, if there is one (else the next batch is read afresh)."""
        following = self.next
        self._drop_next()
        return following

    def _streams(self) -> dict[str, int]:
        with self.ctx.db.read() as s:
            return {r.hall_id: int(r.acked_seq or 0) for r in s.execute(select(_ACKS))}

    def _state(self) -> Any:
        with self.ctx.db.read() as s:
            return capture.state(s)

    def _read_batch(self, after: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """The next batch after the acknowledged seqs and changes (or after the batch `after`,
        sent and not yet answered: the read-ahead)."""
        budget = self.batch
        more = False
        # Where the batch `after` left each stream (it and the batches before it still in flight).
        sent: dict[str, int] = dict((after or {}).get("_through") or {})
        for e in (after or {}).get("events", ()):
            sent[e["hall_id"]] = max(sent.get(e["hall_id"], 0), int(e["seq"]))
        through = int(after["rows_through"]) if after else 0
        rows_after: int | None = through if after else None
        with self.ctx.db.read(consistent=True) as s:
            st = capture.state(s)
            durable = {r.hall_id: int(r.acked_seq or 0) for r in s.execute(select(_ACKS))}
            acks = {h: max(seq, sent.get(h, 0)) for h, seq in durable.items()}
            heads = {
                r.hall_id: int(r.last_seq or 0)
                for r in s.execute(
                    select(_SEQ.c.hall_id, _SEQ.c.last_seq).where(_SEQ.c.hall_id.in_(list(acks)))
                )
            }
            events: list[dict[str, Any]] = []
            for stream, acked in sorted(acks.items()):
                if budget <= 0:
                    more = True
                    break
                if heads.get(stream, 0) <= acked:
                    continue
                rows = s.execute(
                    select(_EVENTS)
                    .where(_EVENTS.c.hall_id == stream, _EVENTS.c.seq > acked)
                    .order_by(_EVENTS.c.seq)
                    .limit(budget)
                ).all()
                budget -= len(rows)
                if acked + len(rows) < heads.get(stream, 0):
                    more = True
                events.extend(_event_image(r) for r in rows)
            changes = s.execute(
                select(_CHANGES.c.id, _CHANGES.c.table_name, _CHANGES.c.pk)
                .where(_CHANGES.c.id > through)
                .order_by(_CHANGES.c.id)
                .limit(self.batch + 1)
            ).all()
            if len(changes) > self.batch:
                changes = changes[:-1]
                more = True
            rows_through = int(changes[-1].id) if changes else max(through, int(st.rows_through or 0))
            if rows_after is None:  # read from the checkpoint: the changes after it (older ones are gone)
                rows_after = int(st.rows_through or 0)
                if self.rows_floor is not None:
                    rows_after = min(rows_after, self.rows_floor)
            images = self._row_images(s, st, changes, set(acks))
            gone = deletes.deleted_keys(s, changes)
            relayed = relay.relayed_status(s)
            waiting, lag = waiting_of(s)
            if after:  # the batches in flight are not acknowledged yet, but not waiting either
                in_flight = sum(acks[h] - durable[h] for h in acks)
                waiting -= in_flight + self._changes_between(s, int(st.rows_through or 0), through)
        body = {
            "station_id": st.station_id,
            "epoch": st.epoch,
            "events": events,
            "rows": images,
            "rows_through": rows_through,
            "rows_after": rows_after,
            "heads": {k: heads.get(k, 0) for k in acks},
            # What will still wait once this batch is applied (the parent shows it).
            "waiting": max(0, waiting - len(events) - len(changes)),
            "lag_s": lag if more else 0.0,
            "config_version": st.config_version,
            "deletes": gone,
            "relayed": relayed,
        }
        # Not sent (_encoded leaves it out): where this batch leaves each stream, for the next.
        reached = dict(acks)
        for e in events:
            reached[e["hall_id"]] = max(reached[e["hall_id"]], int(e["seq"]))
        body["_through"] = reached
        return body, more

    def _changes_between(self, s: Any, lo: int, hi: int) -> int:
        """Changes in (lo, hi] still in the change log (a batch read ahead counts the one sent)."""
        if hi <= lo:
            return 0
        return int(
            s.execute(
                select(func.count()).select_from(_CHANGES).where(_CHANGES.c.id > lo, _CHANGES.c.id <= hi)
            ).scalar()
            or 0
        )

    def _row_images(
        self, s: Any, st: Any, changes: list[Any], streams: set[str]
    ) -> dict[str, list[dict[str, Any]]]:
        keys: dict[str, set[str]] = {}
        for c in changes:
            keys.setdefault(c.table_name, set()).add(c.pk)
        # Its own range and, at a relay (a township), those of the stations it relays for.
        ranges = relay.local_ranges(s, int(st.station_no)) if st.station_no else []
        out: dict[str, list[dict[str, Any]]] = {}
        for name, pks in keys.items():
            table = BY_NAME.get(name)
            if table is None:
                continue
            pk = pk_column(table)
            values = sorted(pk_value(table, k) for k in pks)
            images = []
            for i in range(0, len(values), 500):
                for r in s.execute(
                    select(table).where(table.c[pk].in_(values[i : i + 500])).order_by(table.c[pk])
                ):
                    if name in RANGED_TABLES and not relay.in_ranges(int(r._mapping[pk]), ranges):
                        continue  # made before the station had its number: stays local
                    if "hall_id" in table.c and r._mapping["hall_id"] not in streams:
                        continue  # not one of the station's halls
                    images.append(encode_row(table, r, UP_COLUMNS.get(name)))
            if images:
                out[name] = images
        return out

    def _acknowledge(self, answer: dict[str, Any], body: dict[str, Any]) -> None:
        applied: dict[str, int] = {str(k): int(v) for k, v in (answer.get("applied") or {}).items()}
        rows_through = int(answer.get("rows_through") or 0)
        with self.ctx.db.write() as s:
            for stream, seq in applied.items():
                s.execute(update(_ACKS).where(_ACKS.c.hall_id == stream).values(acked_seq=seq))
            if body["rows"] or rows_through:
                s.execute(delete(_CHANGES).where(_CHANGES.c.id <= rows_through))
                s.execute(update(_STATE).where(_STATE.c.id == 1).values(rows_through=rows_through))

    def _rewind(self, stream: str, seq: int) -> None:
        with self.ctx.db.write() as s:
            head = s.execute(select(_SEQ.c.last_seq).where(_SEQ.c.hall_id == stream)).scalar() or 0
            if seq > int(head):
                raise SyncRefused(
                    "sync.rewound", f"the parent has {stream} up to {seq}, this station only {head}"
                )
            s.execute(update(_ACKS).where(_ACKS.c.hall_id == stream).values(acked_seq=max(0, seq)))
        logger.warning("sync: parent expects %s from seq %d; resending from there", stream, seq + 1)

    # --- photos -----------------------------------------------------------------------------------
    def send_photos(self) -> None:
        """Send the document photos the parent lacks, after the records and bounded per round.

        The parent names them a page at a time, oldest first, the ones it refused too (they stay
        missing there); the station pages past those (a cursor), so newer photos are never
        stuck behind them. A failure here (a cut link mid-upload) is logged and the photo is
        asked for again next round: it never fails the round, so the records keep going up and
        the link shows what they do."""
        if not self.photos_due:
            return
        sent = 0
        offered = False  # the pass named a photo this process has not had refused
        after = self.photos_after
        for _ in range(SYNC_PHOTO_PAGES_PER_ROUND):
            try:
                answer = self._call("GET", "/sync/photos", params={"after": after})
            except SyncRefused as exc:
                logger.warning(
                    "sync: could not ask which photos the parent lacks: %s %s", exc.code, exc.message
                )
                return
            ids = [int(x) for x in answer.get("documents") or []]
            for document_id in ids:
                if document_id in self.photos_refused:
                    continue
                offered = True
                with self.ctx.db.read() as s:
                    blob = photos.stored_photo(s, document_id)
                if blob is None:
                    continue  # deleted here (the delete goes up), or at a relay not received yet
                if sent and sent + len(blob) > SYNC_PHOTO_ROUND_BYTES:
                    self.photos_after = after  # the rest next round: its records go first
                    return
                try:
                    self._call("PUT", f"/sync/photos/{document_id}", data=blob, headers=PHOTO_HEADERS)
                except SyncRefused as exc:
                    logger.warning(
                        "sync: photo of document %d not taken: %s %s", document_id, exc.code, exc.message
                    )
                    if exc.code in PHOTO_REFUSALS:
                        self.photos_refused.add(document_id)
                        continue
                    self.photos_after = after
                    return  # the link: try again next round (photos_due stays set)
                sent += len(blob)
                self.moved = True
            if not ids or not answer.get("more"):
                break
            after = ids[-1]
        else:
            self.photos_after = after  # more pages than a round asks for: go on there next round
            return
        self.photos_after = 0
        self.photos_due = offered

    # --- pull -------------------------------------------------------------------------------------
    def pull(self) -> bool:
        """Fetch and apply the configuration and down rows; True if more rows wait."""
        st = self._state()
        params = {"config_version": st.config_version or "", "down_cursor": int(st.down_cursor or 0)}
        answer = self._call("GET", "/sync/pull", params=params)
        now = datetime.now(UTC)
        with self.ctx.db.write() as s:
            capture.set_capture(s, False)
            capture.assign_number(s, int(answer["station_no"]))
            # A relay (township) also sends up the streams of the stations it relays for.
            registry = answer.get("relayed") or []
            relayed = [str(h) for r in registry for h in r.get("halls") or []]
            capture.own_halls(s, [*answer["halls"], *relayed], answer.get("bases") or {})
            capture.apply_floors(s, answer.get("floors"), list(answer["halls"]))
            values: dict[str, Any] = {"down_cursor": int(answer["down_cursor"])}
            if answer.get("config") is not None:
                config_snapshot.apply_config(s, answer["config"], [*answer["halls"], *relayed], now)
                values["config_version"] = answer["config_version"]
            # After the configuration: the registry's halls must exist here.
            relay.apply_registry(s, registry, now)
            config_snapshot.apply_down(s, answer.get("down_rows") or {})
            s.execute(update(_STATE).where(_STATE.c.id == 1).values(**values))
            capture.set_capture(s, True)
        self.moved = self.moved or answer.get("config") is not None or bool(answer.get("down_rows"))
        if answer.get("config") is not None:
            self.ctx.catalog.invalidate()
            logger.info("station configuration %s applied", answer["config_version"])
        return bool(answer.get("more"))

    # --- state ------------------------------------------------------------------------------------
    def _record(self, link_state: str, code: str | None, message: str | None) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {"link_state": link_state, "last_attempt_at": now, "error_code": code}
        values["error_message"] = (message or "")[:500] if code else None
        if link_state == "ok":
            values["last_ok_at"] = now
        try:
            with self.ctx.db.write() as s:
                s.execute(update(_STATE).where(_STATE.c.id == 1).values(**values))
        except Exception:
            logger.exception("could not record the link state")


@dataclass
class _Flight:
    """A push sent and not yet answered: its batch (body, encoded, more waited) and answer."""

    body: dict[str, Any]
    raw: bytes
    body_more: bool
    sent_at: float
    future: Future[dict[str, Any]]


def _applied_as_sent(answer: dict[str, Any], body: dict[str, Any]) -> bool:
    """The parent applied exactly this batch: the read-ahead, which follows it, fits."""
    sent: dict[str, int] = {}
    for e in body["events"]:
        sent[e["hall_id"]] = max(sent.get(e["hall_id"], 0), int(e["seq"]))
    applied = answer.get("applied") or {}
    return int(answer.get("rows_through") or 0) == int(body["rows_through"]) and all(
        int(applied.get(k, -1)) == v for k, v in sent.items()
    )


def _unsent(exc: requests.RequestException) -> bool:
    """The request never left: no connection was made (refused, unroutable, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _event_image(r: Any) -> dict[str, Any]:
    at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=UTC)
    return {
        "hall_id": r.hall_id,
        "seq": int(r.seq),
        "type": r.type,
        "at": at.isoformat(),
        "actor_kind": r.actor_kind,
        "actor_id": r.actor_id,
        "payload": r.payload,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


def start(ctx: ServerContext, stop: threading.Event) -> threading.Thread:
    """Set the station up (identity, epoch, id ranges, triggers) and start the sync thread."""
    sync = StationSync(ctx)
    capture.setup_station(ctx.db, ctx.settings, sync.bundle)
    ctx.station_sync = sync  # type: ignore[attr-defined]
    thread = threading.Thread(target=sync.run, args=(stop,), name="hall-station-sync", daemon=True)
    thread.start()
    return thread
