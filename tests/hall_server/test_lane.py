"""The lane: one thread runs the calls handed to it in order, off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from hall_server.db.lane import Lane

var: contextvars.ContextVar[str] = contextvars.ContextVar("lane_test", default="unset")


def test_calls_run_in_order_on_one_thread_with_the_callers_context() -> None:
    lane = Lane(name="lane-test")

    async def main() -> list[tuple[int, str, str]]:
        var.set("caller")

        def call(i: int) -> tuple[int, str, str]:
            return i, threading.current_thread().name, var.get()

        return list(await asyncio.gather(*(lane.run(lambda i=i: call(i)) for i in range(50))))

    try:
        results = asyncio.run(main())
    finally:
        lane.close()
    assert [r[0] for r in results] == list(range(50))
    assert {r[1] for r in results} == {"lane-test"} and {r[2] for r in results} == {"caller"}


def test_an_error_reaches_the_caller_and_the_lane_goes_on() -> None:
    lane = Lane()

    def boom() -> None:
        raise LookupError("nope")

    async def main() -> int:
        with pytest.raises(LookupError, match="nope"):
            await lane.run(boom)
        return await lane.run(lambda: 7)

    try:
        assert asyncio.run(main()) == 7
    finally:
        lane.close()


def test_close_lets_queued_calls_finish() -> None:
    lane = Lane()
    done: list[int] = []
    gate = threading.Event()

    async def main() -> None:
        lane.run(gate.wait)
        for i in range(3):
            lane.run(lambda i=i: done.append(i))

    asyncio.run(main())  # the loop is gone before the calls end: their results are dropped
    gate.set()
    lane.close()
    assert done == [0, 1, 2]
