"""A hall's event stream holds each event once, however many subscribers fall behind (issue 14).

The soak's 200 subscribers, behind a loaded server, held 400,000-670,000 queued entries between
them (one per subscriber per event) and the server's memory grew with them. Subscribers now
share the stream's tail of texts, each with a cursor into it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc

from hall_server.bus import EventBus, Subscription
from hall_server.events import read_event_texts
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY

EVENTS = 200
SUBSCRIBERS = 200
# Far above the backlog here: nobody is dropped, every subscriber keeps all of it due.
QUEUE_MAX = 1000
# Retained bytes one more subscriber may cost for the whole backlog. A queue of its own held
# about 65 bytes per event (a tuple and a slot): 19,243 bytes for 300 events when measured.
PER_SUBSCRIBER_MAX = 1024


def _new_events(hall: Hall, since: int, count: int) -> list[tuple[int, str]]:
    """Issue tickets until `count` events follow `since`; their (seq, wire text) from the database."""
    while True:
        with hall.ctx.db.read() as s:
            texts = read_event_texts(s, CITY, since, count)
        if len(texts) >= count:
            return texts
        hall.ok_issue()


async def _publish(bus: EventBus, events: list[tuple[int, str]]) -> int:
    """Hand the events to the bus as the app's after-commit hook does; the bytes it retains."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seq, text in events:
            bus.publish([({"hall_id": CITY, "seq": seq}, text)])
            await asyncio.sleep(0)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


async def _idle_subscribers(hall: Hall) -> tuple[int, int, list[Subscription], list[tuple[int, str]]]:
    """One bus with one subscriber and one with SUBSCRIBERS, none reading, given the same new
    events: the bytes each bus retains, the many subscribers and the events."""
    loop = asyncio.get_running_loop()
    buses = [EventBus(hall.ctx.bus.fetch, hall.ctx.bus.read_seq, queue_max=QUEUE_MAX) for _ in range(2)]
    for bus in buses:
        bus.attach(loop)
    await buses[0].subscribe(CITY)  # subscribed before the events are made, as the many are
    many = [await buses[1].subscribe(CITY) for _ in range(SUBSCRIBERS)]
    events = await asyncio.to_thread(
        _new_events, hall, await asyncio.to_thread(buses[0].read_seq, CITY), EVENTS
    )
    held_one = await _publish(buses[0], events)
    held_many = await _publish(buses[1], events)
    return held_one, held_many, many, events


def _drain(sub: Subscription) -> list[tuple[int, str]]:
    out = []
    while (item := sub.take()) is not None:
        out.append(item)
    return out


def test_backlog_of_idle_subscribers_is_held_once(hall: Hall) -> None:
    held_one, held_many, subs, events = asyncio.run(_idle_subscribers(hall))
    per_subscriber = (held_many - held_one) / (SUBSCRIBERS - 1)
    assert per_subscriber < PER_SUBSCRIBER_MAX, (held_one, held_many)
    # Nothing lost meanwhile: every subscriber then gets every event, in order, as published.
    for sub in subs:
        assert not sub.lagging
        assert _drain(sub) == events
    stream = subs[0].stream
    for sub in subs:
        sub.close()
    assert stream.tail == []  # nobody left behind: the texts are released


async def _one_stops_reading(hall: Hall) -> tuple[Subscription, Subscription, list, list]:
    bus = EventBus(hall.ctx.bus.fetch, hall.ctx.bus.read_seq, queue_max=20)
    bus.attach(asyncio.get_running_loop())
    reader, stalled = await bus.subscribe(CITY), await bus.subscribe(CITY)
    events = await asyncio.to_thread(_new_events, hall, reader.cursor, 60)
    got: list[tuple[int, str]] = []
    tail_max = 0
    for seq, text in events:
        bus.publish([({"hall_id": CITY, "seq": seq}, text)])
        await asyncio.sleep(0)
        tail_max = max(tail_max, len(reader.stream.tail))
        got += _drain(reader)
    return reader, stalled, got, [events, tail_max]


def test_subscriber_past_the_bound_is_dropped_and_its_backlog_released(hall: Hall) -> None:
    reader, stalled, got, (events, tail_max) = asyncio.run(_one_stops_reading(hall))
    assert got == events and not reader.lagging
    # The one that read nothing fell more than 20 behind: dropped (it closes 4008 and replays),
    # and the stream stopped keeping events for it.
    assert stalled.lagging and stalled.take() is None
    assert stalled not in reader.stream.subscribers
    assert tail_max <= 21
    assert len(reader.stream.tail) <= 1
    # The texts are the events as GET /events reads them.
    assert [json.loads(t) for _s, t in got] == hall.events(events[0][0] - 1)[: len(events)]


def test_subscribers_joining_while_the_stream_reads_its_start_all_get_the_next_event() -> None:
    """Load.py's 200 subscribers connect at once: all but the first found the stream registered
    but not started, took a cursor of 0 and were dropped 4008 (or read outside the tail)."""

    async def scenario() -> list[tuple[int, str] | None]:
        def read_seq(hall_id: str) -> int:
            time.sleep(0.05)  # the start seq's read, in a worker thread: others join meanwhile
            return 9000  # far past queue_max: a cursor of 0 would lag at once

        bus = EventBus(lambda hall, since, limit: [], read_seq, queue_max=100)
        bus.attach(asyncio.get_running_loop())
        first = asyncio.ensure_future(bus.subscribe(CITY))
        await asyncio.sleep(0)  # the first one is now reading the start seq in a thread
        others = [asyncio.ensure_future(bus.subscribe(CITY)) for _ in range(5)]
        subs = [await first, *[await o for o in others]]
        bus.publish([({"hall_id": CITY, "seq": 9001}, '{"seq": 9001}')])
        await asyncio.sleep(0.05)
        assert not any(sub.lagging for sub in subs)
        return [sub.take() for sub in subs]

    taken = asyncio.run(scenario())
    assert taken == [(9001, '{"seq": 9001}')] * 6
