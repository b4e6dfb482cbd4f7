"""Indicator arithmetic for ratings (好差评) and waiting/service times; pure, see docs/indicators.md."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from . import const
from .steps import FOLLOWUP

logger = logging.getLogger(__name__)

# Levels 5..1: 非常满意, 满意, 基本满意, 不满意, 非常不满意. 3..5 count as satisfied (好评), 1..2 as 差评.
GOOD_MIN_LEVEL = const.BAD_RATING_MAX + 1
LEVEL_NAMES_ZH = {level: zh for level, (zh, _en) in const.RATING_LABELS.items()}
LEVEL_NAMES_EN = {level: en for level, (_zh, en) in const.RATING_LABELS.items()}

# Follow-up case steps, in order (the step machine in queueing.steps owns them).
CASE_STEPS: tuple[str, ...] = FOLLOWUP.steps


def is_good(level: int) -> bool:
    """A satisfied rating (好评: 非常满意, 满意, 基本满意)."""
    return level >= GOOD_MIN_LEVEL


def is_bad(level: int) -> bool:
    """A bad rating (差评: 不满意, 非常不满意)."""
    return level <= const.BAD_RATING_MAX


def ratio(num: int, den: int) -> float | None:
    """num/den, or None when there is nothing to divide (shown as "—", never as 0 %)."""
    return None if den == 0 else num / den


@dataclass(frozen=True)
class RatingFact:
    """One rating as the indicators need it."""

    level: int
    prompted: bool


@dataclass(frozen=True)
class CaseFact:
    """One bad rating's follow-up case: how far it got, and what the rater said at the return visit."""

    step: str
    revisit_satisfied: bool | None = None

    def reached(self, step: str) -> bool:
        """True when the case is at `step` or beyond."""
        return CASE_STEPS.index(self.step) >= CASE_STEPS.index(step)


@dataclass(frozen=True)
class RatingIndicators:
    """The six 好差评 indicators with their counts; rates are None when undefined."""

    finished: int
    rated: int
    good: int
    bad: int
    unprompted: int
    unprompted_good: int
    unrated: int
    cases: int
    answered: int
    fixed_revisited: int
    revisit_satisfied: int
    good_rate: float | None
    unprompted_good_rate: float | None
    unrated_rate: float | None
    bad_reply_rate: float | None
    revisit_fix_rate: float | None
    revisit_satisfaction_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (every field is a number: no deep copy, which cost a city-year's breakdown most of its time)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def rating_indicators(
    ratings: Iterable[RatingFact],
    finished_tickets: int,
    rated_finished_tickets: int,
    cases: Iterable[CaseFact],
) -> RatingIndicators:
    """Compute the indicators exactly as docs/indicators.md defines them.

    finished_tickets: tickets finished in the scope; rated_finished_tickets: how many of them carry a rating.
    """
    level_counts: dict[tuple[int, bool], int] = {}
    for r in ratings:
        level_counts[(r.level, r.prompted)] = level_counts.get((r.level, r.prompted), 0) + 1
    case_counts: dict[tuple[str, bool | None], int] = {}
    for c in cases:
        key = (c.step, c.revisit_satisfied)
        case_counts[key] = case_counts.get(key, 0) + 1
    return indicators_from_counts(level_counts, finished_tickets, rated_finished_tickets, case_counts)


def indicators_from_counts(
    level_counts: Mapping[tuple[int, bool], int],
    finished_tickets: int,
    rated_finished_tickets: int,
    case_counts: Mapping[tuple[str, bool | None], int],
) -> RatingIndicators:
    """The same indicators from aggregated counts: {(level, prompted): n} and {(step, satisfied): n}."""
    rated = good = bad = unprompted = unprompted_good = 0
    for (level, prompted), n in level_counts.items():
        if not 1 <= level <= 5:
            raise ValueError(f"rating level out of range: {level}")
        rated += n
        g = is_good(level)
        good += n if g else 0
        bad += n if is_bad(level) else 0
        if not prompted:
            unprompted += n
            unprompted_good += n if g else 0
    if rated_finished_tickets > finished_tickets:
        raise ValueError("more rated finished tickets than finished tickets")
    unrated = finished_tickets - rated_finished_tickets
    n_cases = answered = fixed_revisited = satisfied = 0
    for (step, sat), n in case_counts.items():
        fact = CaseFact(step, sat)
        n_cases += n
        answered += n if fact.reached("answered") else 0
        if fact.reached("revisited"):
            fixed_revisited += n
            satisfied += n if sat else 0
    return RatingIndicators(
        finished=finished_tickets,
        rated=rated,
        good=good,
        bad=bad,
        unprompted=unprompted,
        unprompted_good=unprompted_good,
        unrated=unrated,
        cases=n_cases,
        answered=answered,
        fixed_revisited=fixed_revisited,
        revisit_satisfied=satisfied,
        good_rate=ratio(good, rated),
        unprompted_good_rate=ratio(unprompted_good, unprompted),
        unrated_rate=ratio(unrated, finished_tickets),
        bad_reply_rate=ratio(answered, n_cases),
        revisit_fix_rate=ratio(fixed_revisited, n_cases),
        revisit_satisfaction_rate=ratio(satisfied, fixed_revisited),
    )


def percentile_from_counts(counts: Mapping[int, int], q: float) -> float | None:
    """Nearest-rank percentile from a {value: count} histogram (exact for integer values)."""
    total = sum(counts.values())
    if total == 0:
        return None
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    rank = max(math.ceil(q / 100 * total), 1)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    return float(max(counts))


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    rank = math.ceil(q / 100 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


@dataclass(frozen=True)
class DurationStats:
    """Average, 90th percentile and share above a target, in seconds."""

    count: int
    average: float | None
    p90: float | None
    above_target: int
    above_target_share: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (every field is a number: no deep copy, which cost a city-year's breakdown most of its time)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def duration_stats(seconds: Iterable[float], target_seconds: float | None) -> DurationStats:
    """Statistics of durations (waits or services); values above target_seconds count as over."""
    values = sorted(float(s) for s in seconds if s is not None and s >= 0)
    n = len(values)
    above = 0 if target_seconds is None else sum(1 for v in values if v > target_seconds)
    return DurationStats(
        count=n,
        average=(sum(values) / n) if n else None,
        p90=percentile(values, 90),
        above_target=above,
        above_target_share=ratio(above, n) if target_seconds is not None else None,
    )


def visits_per_matter(visit_counts: Iterable[int]) -> dict[str, Any]:
    """'最多跑一次': share of matters done in at most one visit, average visits, and the histogram."""
    counts = [c for c in visit_counts if c > 0]
    hist: dict[int, int] = {}
    for c in counts:
        hist[c] = hist.get(c, 0) + 1
    return {
        "matters": len(counts),
        "at_most_once": sum(1 for c in counts if c <= 1),
        "at_most_once_rate": ratio(sum(1 for c in counts if c <= 1), len(counts)),
        "average_visits": (sum(counts) / len(counts)) if counts else None,
        "histogram": dict(sorted(hist.items())),
    }
