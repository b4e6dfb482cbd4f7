"""Benchmark: the pure domain core (calling policy, queue order, ID checks, announcements); prints JSON.

Run: .venv/bin/python benchmarks/bench_queueing.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from queueing.announce import call_words
from queueing.idnumber import check_character, parse_id_number
from queueing.model import HallPolicy
from queueing.policy import CallHistory, Candidate, WindowServing, choose_next, people_ahead
from queueing.sim import demo_hall

logger = logging.getLogger(__name__)


def per_call_us(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median and p90 microseconds per call over `repeat` calls."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 1),
        "p90_us": round(samples[int(len(samples) * 0.9)], 1),
    }


def make_queue(n: int, rnd: random.Random) -> list[Candidate]:
    """A busy hall's waiting list: four groups, 10% green channel, 5% appointments, a few bound."""
    return [
        Candidate(
            ticket_id=i,
            group=rnd.choice("ABCD"),
            issued_order=i,
            priority=rnd.random() < 0.1,
            appointment=rnd.random() < 0.05,
            bound_window_id=7 if rnd.random() < 0.01 else None,
        )
        for i in range(1, n + 1)
    ]


def bench_policy(repeat: int) -> dict[str, object]:
    rnd = random.Random(7)
    window = WindowServing(1, {"A": 3, "B": 2, "C": 1, "D": 1})
    history = CallHistory.of((rnd.choice("ABCD"), rnd.random() < 0.3) for _ in range(60))
    out: dict[str, object] = {}
    for mode in ("absolute", "ratio"):
        policy = HallPolicy(green_mode=mode, green_ratio=(1, 2))
        for n in (10, 100, 1000, 10_000):
            queue = make_queue(n, rnd)
            reps = repeat if n <= 1000 else max(10, repeat // 10)
            out[f"choose_next_{mode}_{n}_waiting"] = per_call_us(
                lambda q=queue, p=policy: choose_next(q, window, history, p), reps
            )
        queue = make_queue(1000, rnd)
        last = queue[-1].ticket_id
        out[f"people_ahead_{mode}_1000_waiting"] = per_call_us(
            lambda q=queue, p=policy, t=last: people_ahead(t, q, p), repeat
        )
    return out


def bench_ids(repeat: int) -> dict[str, object]:
    rnd = random.Random(11)
    numbers = []
    for _ in range(1000):
        first17 = f"510102{rnd.randint(1930, 2010)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{rnd.randint(1, 999):03d}"
        numbers.append(first17 + check_character(first17))
    t0 = time.perf_counter()
    rounds = max(1, repeat // 20)
    for _ in range(rounds):
        for n in numbers:
            parse_id_number(n)
    per_second = rounds * len(numbers) / (time.perf_counter() - t0)
    return {
        "parse_id_number_per_second": round(per_second),
        "call_words": per_call_us(lambda: call_words("A123", 12), repeat),
    }


def bench_sim_day(tickets: int) -> dict[str, object]:
    """A whole simulated day through the reference hall: issue, call, start, finish."""
    hall = demo_hall()
    hall.login(1, "c1")
    hall.login(2, "c2")
    t0 = time.perf_counter()
    for i in range(tickets):
        hall.issue("BDC-001" if i % 3 else "SB-001")
    t_issue = time.perf_counter() - t0
    t1 = time.perf_counter()
    served = 0
    while True:
        progressed = False
        for w in (1, 2):
            if hall.call_next(w) is not None:
                hall.start(w)
                hall.advance(180)
                hall.finish(w)
                served += 1
                progressed = True
        if not progressed:
            break
    t_serve = time.perf_counter() - t1
    return {
        "sim_day_tickets": tickets,
        "sim_issue_per_second": round(tickets / t_issue),
        "sim_serve_cycles_per_second": round(served / t_serve),
        "sim_served": served,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--day", type=int, default=600, help="tickets in the simulated day")
    args = parser.parse_args()
    result: dict[str, object] = {
        "benchmark": "queueing",
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    result.update(bench_policy(args.repeat))
    result.update(bench_ids(args.repeat))
    result.update(bench_sim_day(args.day))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
