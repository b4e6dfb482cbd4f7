"""The event bus: delivers each hall's events to WebSocket subscribers in seq order, no gaps.

Writers in this process hand over their committed events directly; other processes are
heard through PostgreSQL LISTEN/NOTIFY or, on SQLite, a cheap poll of the seq counters.
Either way a hall stream fills any gap by reading the rows from the database, so delivery
is always the database's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from hall_server.const import EVENTS_PAGE_MAX, REPLAY_CONCURRENCY_MAX, SUBSCRIBER_QUEUE_MAX, WS_SEND_STALL_S

logger = logging.getLogger(__name__)

# A gap left by an in-process writer closes within microseconds; wait this long before
# asking the database (the event came from another process, or a publish was lost).
GAP_GRACE_S = 0.02

# (hall, since, limit) -> [(seq, wire text)], in seq order (events.read_event_texts).
Fetcher = Callable[[str, int, int], list[tuple[int, str]]]
SeqReader = Callable[[str], int]


class Subscription:
    """One subscriber's place in its hall stream's shared tail of events (see HallStream.tail)."""

    def __init__(self, stream: HallStream, queue_max: int = SUBSCRIBER_QUEUE_MAX) -> None:
        self.stream = stream
        # Events this subscriber may fall behind the stream before it is dropped as lagging.
        self.queue_max = queue_max
        # The last seq taken from the stream; everything after it up to stream.last_seq is due.
        self.cursor = stream.last_seq
        self.lagging = False
        # Loop time at which the send in progress started waiting for the client (0: none).
        self.sending_since = 0.0
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None

    def stalled(self, now: float) -> bool:
        """Whether the send in progress has waited longer than WS_SEND_STALL_S."""
        return self.sending_since > 0 and now - self.sending_since > WS_SEND_STALL_S

    def take(self) -> tuple[int, str] | None:
        """The next event (seq, text) due to this subscriber, or None if none is (or it lags)."""
        if self.lagging or self.cursor >= self.stream.last_seq:
            return None
        seq = self.cursor + 1
        self.cursor = seq
        return seq, self.stream.text_of(seq)

    async def wait(self) -> None:
        """Until an event is due, the subscriber is dropped as lagging, or wake() is called."""
        if self._woken or self.lagging or self.cursor < self.stream.last_seq:
            self._woken = False
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
            self._woken = False

    @property
    def waiting(self) -> bool:
        """Whether the subscriber is inside wait() now."""
        return self._waiter is not None

    def wake(self) -> None:
        """End a wait() now (an event is due, the client went away, it was dropped)."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving events (and stop holding the stream's tail back)."""
        if self in self.stream.subscribers:
            self.stream.subscribers.discard(self)
            self.stream.trim()


class HallStream:
    """The ordered live event stream of one hall inside this process.

    Subscribers share one tail of the stream's serialized events and each keeps a cursor into
    it, instead of each holding a queue of its own: a subscriber that falls behind costs no
    memory per event, and the tail holds at most queue_max events (a subscriber further behind
    is dropped as lagging and replays from the database), however many subscribers there are.
    """

    def __init__(self, bus: EventBus, hall_id: str) -> None:
        self.bus = bus
        self.hall_id = hall_id
        # Until the start seq is read from the database the stream only buffers.
        self.ready = False
        self.last_seq = 0
        self.known_max = 0
        self.pending: dict[int, str] = {}
        self.subscribers: set[Subscription] = set()
        # Texts of seqs tail_base .. last_seq that some subscriber has not taken yet.
        self.tail: list[str] = []
        self.tail_base = 1
        self._filling = False

    def start_at(self, seq: int) -> None:
        """Begin live delivery after seq (everything up to seq is committed)."""
        self.last_seq = seq
        self.known_max = max(self.known_max, seq)
        self.tail.clear()
        self.tail_base = seq + 1
        self.ready = True
        for stale in [s for s in self.pending if s <= seq]:
            del self.pending[stale]

    def text_of(self, seq: int) -> str:
        """The text of a seq still in the tail (after the slowest subscriber's cursor)."""
        return self.tail[seq - self.tail_base]

    def trim(self) -> None:
        """Drop the tail's events every subscriber has taken."""
        floor = min((sub.cursor for sub in self.subscribers), default=self.last_seq)
        drop = floor + 1 - self.tail_base
        if drop > 0:
            del self.tail[:drop]
            self.tail_base += drop

    def offer(self, events: list[tuple[int, str]]) -> None:
        """Take events (seq, text) from a writer of this process."""
        for seq, text in events:
            if seq > self.last_seq or not self.ready:
                self.pending[seq] = text
                self.known_max = max(self.known_max, seq)
        self._advance()

    def hint(self, seq: int) -> None:
        """Another process committed up to seq."""
        if seq > self.known_max:
            self.known_max = seq
        self._advance()

    def _advance(self) -> None:
        if not self.ready:
            return
        if not self.subscribers:
            # Nobody listens: skip ahead; a new subscriber replays from the database.
            self.last_seq = max(self.last_seq, self.known_max)
            self.pending.clear()
            self.tail.clear()
            self.tail_base = self.last_seq + 1
            return
        while self.last_seq + 1 in self.pending:
            seq = self.last_seq + 1
            self._broadcast(seq, self.pending.pop(seq))
        if self.known_max > self.last_seq and not self._filling:
            self._filling = True
            self.bus.spawn(self._fill_gap())

    def kick(self) -> None:
        """Deliver what can be delivered now (after a subscriber joined)."""
        self._advance()

    def _broadcast(self, seq: int, text: str) -> None:
        self.tail.append(text)
        self.last_seq = seq
        now = self.bus.now()
        floor = seq
        for sub in list(self.subscribers):
            if seq - sub.cursor > sub.queue_max or sub.stalled(now):
                # Dropped: it replays from the database on reconnecting. Woken so it closes
                # with WS_CLOSE_LAGGING instead of sending a stale backlog.
                logger.warning("subscriber of %s lags behind; dropping it", self.hall_id)
                sub.lagging = True
                self.subscribers.discard(sub)
                sub.wake()
                continue
            floor = min(floor, sub.cursor)
            if sub.waiting:
                sub.wake()
        drop = floor + 1 - self.tail_base
        if drop > 0:
            del self.tail[:drop]
            self.tail_base += drop

    async def _fill_gap(self) -> None:
        try:
            await asyncio.sleep(GAP_GRACE_S)
            while self.known_max > self.last_seq and self.subscribers:
                if self.last_seq + 1 in self.pending:
                    self._advance_pending_only()
                    continue
                rows = await asyncio.to_thread(self.bus.fetch, self.hall_id, self.last_seq, EVENTS_PAGE_MAX)
                if not rows:
                    # Not visible yet (or never will be: a rolled-back notify); try again shortly.
                    await asyncio.sleep(GAP_GRACE_S * 5)
                    rows = await asyncio.to_thread(
                        self.bus.fetch, self.hall_id, self.last_seq, EVENTS_PAGE_MAX
                    )
                    if not rows:
                        logger.warning(
                            "hall %s: seq %s announced but not readable", self.hall_id, self.known_max
                        )
                        self.known_max = self.last_seq
                        break
                for seq, text in rows:
                    if seq == self.last_seq + 1:
                        self._broadcast(seq, text)
                        self.pending.pop(seq, None)
                self._advance_pending_only()
        except Exception:
            logger.exception("gap fill of hall %s failed", self.hall_id)
        finally:
            self._filling = False
        if not self.subscribers:
            self._advance()

    def _advance_pending_only(self) -> None:
        while self.last_seq + 1 in self.pending:
            seq = self.last_seq + 1
            self._broadcast(seq, self.pending.pop(seq))
        for seq in [s for s in self.pending if s <= self.last_seq]:
            del self.pending[seq]


class EventBus:
    """Per-process fan-out of hall events to asyncio subscribers."""

    def __init__(self, fetch: Fetcher, read_seq: SeqReader, queue_max: int = SUBSCRIBER_QUEUE_MAX) -> None:
        self.fetch = fetch
        self.read_seq = read_seq
        self.queue_max = queue_max
        # Replays from the database running at once in this process (bounds their memory).
        self.replay_slots = asyncio.Semaphore(REPLAY_CONCURRENCY_MAX)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.streams: dict[str, HallStream] = {}
        self._init_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the event loop that serves WebSockets."""
        self.loop = loop

    def now(self) -> float:
        """The bus loop's monotonic clock (what Subscription.sending_since is read against)."""
        return self.loop.time() if self.loop is not None else 0.0

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a background task on the bus loop, keeping a reference."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- thread-safe entry points -------------------------------------------------------
    def publish(self, events: list[tuple[dict[str, Any], str]]) -> None:
        """Hand committed events of this process to the streams (called from any thread)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        # A stream is registered before it reads its start seq, so an event committed after
        # that read always finds its stream here; earlier ones come from the database.
        streams = self.streams
        by_hall: dict[str, list[tuple[int, str]]] = {}
        for ev, wire in events:
            if ev["hall_id"] in streams:
                by_hall.setdefault(ev["hall_id"], []).append((ev["seq"], wire))
        if not by_hall:
            return
        if by_hall:
            with contextlib.suppress(RuntimeError):  # loop closing at shutdown
                loop.call_soon_threadsafe(self._offer, by_hall)

    def hint(self, hall_id: str, seq: int) -> None:
        """Another process committed events of hall up to seq (called from any thread)."""
        loop = self.loop
        if loop is None or loop.is_closed() or hall_id not in self.streams:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._hint, hall_id, seq)

    def _offer(self, by_hall: dict[str, list[tuple[int, str]]]) -> None:
        for hall_id, items in by_hall.items():
            stream = self.streams.get(hall_id)
            if stream is not None:
                stream.offer(items)

    def _hint(self, hall_id: str, seq: int) -> None:
        stream = self.streams.get(hall_id)
        if stream is not None:
            stream.hint(seq)

    # --- subscribers (on the loop) ------------------------------------------------------
    async def subscribe(self, hall_id: str) -> Subscription:
        """Start receiving live events of a hall (everything after the stream's last_seq)."""
        stream = self.streams.get(hall_id)
        if stream is None or not stream.ready:
            # Not ready: another subscriber is reading its start seq now (the stream is registered
            # before that read). Wait for it, or a cursor taken now would start at 0, before the
            # stream's tail: dropped as lagging at the next event, or reading outside the tail.
            lock = self._init_locks.setdefault(hall_id, asyncio.Lock())
            async with lock:
                stream = self.streams.get(hall_id)
                if stream is None:
                    # Register first so nothing published meanwhile is lost, then read the start.
                    stream = HallStream(self, hall_id)
                    self.streams[hall_id] = stream
                    try:
                        seq = await asyncio.to_thread(self.read_seq, hall_id)
                    except BaseException:
                        del self.streams[hall_id]
                        raise
                    stream.start_at(seq)
        sub = Subscription(stream, self.queue_max)
        stream.subscribers.add(sub)
        stream.kick()
        return sub

    def watched_halls(self) -> list[str]:
        """Halls that have a stream in this process."""
        return list(self.streams)

    async def close(self) -> None:
        """Cancel background tasks."""
        for task in list(self._tasks):
            task.cancel()
        self.streams.clear()
