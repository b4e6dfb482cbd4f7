"""The parent's admission of pushes (api/sync.py _PushGate): a push either starts within
SYNC_PUSH_WAIT_S or is turned away at once with a turn to come back at, so no station's batch
is applied after the station gave up waiting, and a crowd is spread over time. And the parent's
own kiosks and windows go first (hall_server/priority.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from hall_server.api.sync import _PushGate
from hall_server.config import Settings
from hall_server.const import (
    SYNC_BATCH_UNDER_LOAD,
    SYNC_BUSY_RETRY_MAX_S,
    SYNC_HOT_RECENT_S,
    SYNC_PUSH_QUEUE,
    SYNC_PUSH_SLOTS,
    SYNC_PUSH_WAIT_S,
)
from hall_server.context import ServerContext
from hall_server.migrate import upgrade
from hall_server.priority import HOT, YieldBudget
from hall_server.seed import seed
from hall_server.services import stations
from tests.hall_server.test_sync_station import KEY, STATION, VILLAGE, _fake_events, city_data
from wire.sync import PushIn


def test_pushes_start_in_turn_or_are_turned_away_within_the_wait() -> None:
    async def scenario() -> None:
        gate = _PushGate()
        loop = asyncio.get_running_loop()
        for _ in range(SYNC_PUSH_SLOTS):
            assert await gate.enter()  # free slots: admitted at once
        waiting = [asyncio.create_task(gate.enter()) for _ in range(SYNC_PUSH_QUEUE)]
        await asyncio.sleep(0)
        t0 = loop.time()
        assert not await gate.enter()  # the queue is full: turned away without waiting
        assert loop.time() - t0 < 0.1
        gate.leave(0.4)  # one push done: the first waiting one gets its slot
        assert await waiting[0]
        # The others wait no longer than SYNC_PUSH_WAIT_S (the station's timeout is longer).
        results = await asyncio.gather(*waiting[1:])
        assert results == [False] * (SYNC_PUSH_QUEUE - 1)
        assert loop.time() - t0 <= SYNC_PUSH_WAIT_S + 0.5
        assert not gate.waiters
        # A station that hangs up while waiting leaves no slot taken.
        hung_up = asyncio.create_task(gate.enter())
        await asyncio.sleep(0)
        hung_up.cancel()
        await asyncio.gather(hung_up, return_exceptions=True)
        for _ in range(SYNC_PUSH_SLOTS):
            gate.leave(0.4)
        assert gate.active == 0 and not gate.waiters
        assert await gate.enter()

    asyncio.run(scenario())


def test_turned_away_stations_get_successive_turns() -> None:
    gate = _PushGate()
    gate.push_s = 0.5
    turns = [gate.retry_after() for _ in range(40)]
    assert turns == sorted(turns)  # later comers come back later
    assert turns[-1] - turns[10] >= 29 * 0.5 / SYNC_PUSH_SLOTS - 0.1  # spread at the pace of the slots
    assert max(turns) <= SYNC_BUSY_RETRY_MAX_S


# --- the parent's own kiosks and windows first (hall_server/priority.py) ---------------------------
def _hot_request(order: list[str], started: threading.Event, seconds: float) -> None:
    """A kiosk request as run_hot counts it: in flight for `seconds`."""
    HOT.enter()
    started.set()
    time.sleep(seconds)
    order.append("kiosk answered")
    HOT.leave()


def test_a_push_step_waits_for_the_kiosk_request_in_flight() -> None:
    order: list[str] = []
    started = threading.Event()
    kiosk = threading.Thread(target=_hot_request, args=(order, started, 0.3))
    kiosk.start()
    started.wait(5)
    YieldBudget(5.0).pause()  # what apply_push does between its steps
    order.append("sync step")
    kiosk.join()
    assert order == ["kiosk answered", "sync step"]
    assert HOT.in_flight == 0


def test_a_push_is_not_starved_by_a_kiosk_that_keeps_busy() -> None:
    order: list[str] = []
    started = threading.Event()
    kiosk = threading.Thread(target=_hot_request, args=(order, started, 1.0))
    kiosk.start()
    started.wait(5)
    budget = YieldBudget(0.05)
    budget.pause()
    budget.pause()  # the budget is spent: the push goes on (the station must be answered in time)
    order.append("sync step")
    kiosk.join()
    assert order == ["sync step", "kiosk answered"]
    assert budget.left <= 0


def test_a_busy_parent_asks_the_station_for_smaller_batches(tmp_path: Path) -> None:
    """A push answered while the parent's own kiosks are busy carries batch_max; once they are
    quiet it does not."""
    url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=tmp_path / "city", db_url=url, data_key=KEY))
    try:
        seed(ctx.db, city_data())
        bundle = stations.add_station(ctx.db, STATION, [VILLAGE], "测试村")
        cred = bundle["credential"]
        base = stations.pull(ctx, cred, None, 0)["bases"][VILLAGE]

        def push(seq: int) -> dict[str, Any]:
            body = PushIn(station_id=STATION, epoch="e" * 32, events=_fake_events(base, [seq]))  # type: ignore[arg-type]
            return stations.push(ctx, cred, body, YieldBudget(0.0))

        HOT.enter()  # a kiosk's ticket is being issued at the city
        try:
            busy = push(base + 1)
        finally:
            HOT.leave()
        assert busy["applied"][VILLAGE] == base + 1
        assert busy["batch_max"] == SYNC_BATCH_UNDER_LOAD
        HOT.last_seen = time.monotonic() - SYNC_HOT_RECENT_S - 1  # the kiosks went quiet
        quiet = push(base + 2)
        assert quiet["applied"][VILLAGE] == base + 2 and "batch_max" not in quiet
    finally:
        ctx.close()
