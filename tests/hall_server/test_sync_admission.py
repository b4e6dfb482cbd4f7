"""The parent's admission of pushes (api/sync.py _PushGate): a push either starts within
SYNC_PUSH_WAIT_S or is turned away at once with a turn to come back at, so no station's batch
is applied after the station gave up waiting, and a crowd is spread over time."""

from __future__ import annotations

import asyncio

from hall_server.api.sync import _PushGate
from hall_server.const import SYNC_BUSY_RETRY_MAX_S, SYNC_PUSH_QUEUE, SYNC_PUSH_SLOTS, SYNC_PUSH_WAIT_S


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
