"""The vectorised grouping agrees with the pure reference arithmetic of queueing.kpi on random data."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hall_server.services.stats_facts import FINISHED, NO_SHOW, Facts, aggregate
from queueing.kpi import CASE_STEPS, CaseFact, RatingFact, duration_stats, rating_indicators

ticket = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["w1", "w2", "w3"]),
        "status": st.sampled_from([0, FINISHED, NO_SHOW]),
        "wait": st.one_of(st.just(-1), st.integers(0, 3600)),
        "serve": st.one_of(st.just(-1), st.integers(0, 1800)),
        "level": st.integers(0, 5),
        "prompted": st.integers(0, 1),
        "step": st.integers(-1, 5),
        "sat": st.integers(-1, 1),
    }
)


@settings(max_examples=120, deadline=None)
@given(st.lists(ticket, min_size=1, max_size=60))
def test_aggregate_matches_reference(rows: list[dict]) -> None:
    for r in rows:  # keep the data consistent: only finished tickets are served and rated
        if r["status"] != FINISHED:
            r["serve"], r["level"] = -1, 0
        if r["level"] == 0 or r["level"] > 2:
            r["step"], r["sat"] = -1, -1
    n = len(rows)
    codes, labels = [], []
    for r in rows:
        if r["key"] not in labels:
            labels.append(r["key"])
        codes.append(labels.index(r["key"]))

    def arr(name: str, dtype: type = np.int64) -> np.ndarray:
        return np.array([r[name] for r in rows], dtype=dtype)

    facts = Facts(
        n=n,
        keys={"window": (np.array(codes, dtype=np.int32), labels)},
        status=arr("status"),
        transfers=np.zeros(n, dtype=np.int64),
        appointment=np.zeros(n, dtype=np.int64),
        wait=arr("wait", np.float64),
        serve=arr("serve", np.float64),
        target=np.full(n, 600.0),
        level=arr("level"),
        prompted=arr("prompted"),
        step=arr("step"),
        satisfied=arr("sat"),
    )
    out = aggregate(facts, "window")
    for key in labels:
        mine = [r for r in rows if r["key"] == key]
        got = out[key]
        waits = duration_stats([r["wait"] for r in mine if r["wait"] >= 0], 600)
        assert got["wait_n"] == waits.count and got["wait_over"] == waits.above_target
        assert got["wait_p90"] == waits.p90
        assert (got["wait_avg"] is None) == (waits.average is None)
        if waits.average is not None:
            assert abs(got["wait_avg"] - waits.average) < 1e-6
        serves = duration_stats([r["serve"] for r in mine if r["serve"] >= 0], None)
        assert got["serve_p90"] == serves.p90
        ref = rating_indicators(
            [RatingFact(r["level"], bool(r["prompted"])) for r in mine if r["level"]],
            sum(1 for r in mine if r["status"] == FINISHED),
            sum(1 for r in mine if r["status"] == FINISHED and r["level"]),
            [
                CaseFact(CASE_STEPS[r["step"]], None if r["sat"] < 0 else bool(r["sat"]))
                for r in mine
                if r["step"] >= 0
            ],
        ).as_dict()
        assert {k: got["ratings"][k] for k in ref} == ref
        assert got["issued"] == len(mine)
        assert got["served"] == sum(1 for r in mine if r["status"] == FINISHED)
        assert got["no_show"] == sum(1 for r in mine if r["status"] == NO_SHOW)
