"""A hall's event stream holds each event once, however many subscribers fall behind (issue 14).

The soak's 200 subscribers, behind a loaded server, held 400,000-670,000 queued entries between
them (one per subscriber per event) and the server's memory grew with them. Subscribers now
share the stream's tail of texts, each with a cursor into it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc

from hall_server.bus import EventBus, Subscription
from hall_server.events import read_event_texts
from tests.hall_server.conftest import Hall
from tests.hall_server.hs_city import CITY

EVENTS = 300
SUBSCRIBERS = 200
# Far above the backlog here: nobody is dropped, every subscriber keeps all of it due.
QUEUE_MAX = 1000
# Retained bytes one more subscriber may cost for the whole backlog. A queue of its own held
# about 70 bytes per event (a tuple and a slot), 21 KB for 300 events.
PER_SUBSCRIBER_MAX = 1024


def _new_events(hall: Hall, since: int, count: int) -> list[tuple[int, str]]:
    """Issue tickets until `count` events follow `since`; their (seq, wire text) from the database."""
    while True:
        with hall.ctx.db.read() as s:
            texts = read_event_texts(s, CITY, since, count)
        if len(texts) >= count:
            return texts
        hall.ok_issue()


async def _publish_to_idle(hall: Hall, subscribers: int, count: int) -> tuple[int, list[Subscription], list]:
    """Subscribers that read nothing while `count` new events are published: bytes retained, the
    subscribers and the events."""
    bus = EventBus(hall.ctx.bus.fetch, hall.ctx.bus.read_seq, queue_max=QUEUE_MAX)
    bus.attach(asyncio.get_running_loop())
    subs = [await bus.subscribe(CITY) for _ in range(subscribers)]
    events = await asyncio.to_thread(_new_events, hall, await asyncio.to_thread(bus.read_seq, CITY), count)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for seq, text in events:
            # As the app's after-commit hook hands them over.
            bus.publish([({"hall_id": CITY, "seq": seq}, text)])
            await asyncio.sleep(0)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, subs, events


def _drain(sub: Subscription) -> list[tuple[int, str]]:
    out = []
    while (item := sub.take()) is not None:
        out.append(item)
    return out


def test_backlog_of_idle_subscribers_is_held_once(hall: Hall) -> None:
    held_one, _subs, _events = asyncio.run(_publish_to_idle(hall, 1, EVENTS))
    held_many, subs, events = asyncio.run(_publish_to_idle(hall, SUBSCRIBERS, EVENTS))
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
