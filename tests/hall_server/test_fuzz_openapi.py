"""Schemathesis against the server's own OpenAPI: every operation, as a manager, a clerk, a kiosk
and nobody, with valid and invalid inputs, on SQLite and PostgreSQL: no answer is a 5xx.

Bounded and reproducible: a few derandomized examples per operation and principal and a time
budget per database, so CI sees the same requests on every run. The schema is read from the app
under test and the requests go through the fixture's client, so the app's one lifespan serves
them (schemathesis' own ASGI client would start a second one).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from tests.hall_server.conftest import Hall  # noqa: E402
from tests.hall_server.hs_city import CITY  # noqa: E402

pytestmark = pytest.mark.slow

# Who asks: the token names of the conftest's template (None: no Authorization header).
PRINCIPALS: dict[str, str | None] = {
    "manager": "m-city",
    "clerk": f"clerk:{CITY}:1",
    "kiosk": f"kiosk:{CITY}",
    "anonymous": None,
}
EXAMPLES = int(os.environ.get("HALL_FUZZ_EXAMPLES", "6"))  # per operation, principal and mode
BUDGET_S = float(os.environ.get("HALL_FUZZ_BUDGET_S", "150"))  # per database
# Operations that may end the fuzzer's own sessions or tokens run last, so they cannot starve the
# rest of the run of authenticated requests.
LAST = ("/auth/logout", "/auth/password", "/auth/refresh", "/tokens/")


def _order(op: Any) -> tuple[int, str, str]:
    return (any(p in op.path for p in LAST), op.path, op.method)


def _send(hall: Hall, case: Any) -> Any:
    kw = case.as_transport_kwargs(base_url="http://testserver")
    kw.pop("verify", None)
    kw.pop("cert", None)
    kw.pop("timeout", None)
    kw.pop("allow_redirects", None)
    if not kw.get("cookies"):
        kw.pop("cookies", None)
    data = kw.pop("data", None)
    if data is not None:
        if isinstance(data, (bytes, str)):
            kw["content"] = data
        else:
            kw["data"] = data
    return hall.client.request(follow_redirects=False, **kw)


def _fuzz_one(
    hall: Hall,
    op: Any,
    principal: str,
    strategy: Any,
    deadline: float,
    seen: set[tuple[str, str, int]],
    failures: list[str],
    counts: dict[str, int],
) -> None:
    """A few derandomized examples of one operation as one principal; 5xx answers are collected."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if time.monotonic() > deadline:
            return
        response = _send(hall, case)
        counts["requests"] += 1
        if response.status_code >= 500:
            key = (op.method, op.path, response.status_code)
            if key in seen:
                return
            seen.add(key)
            failures.append(
                f"{response.status_code} {op.method.upper()} {op.path} as {principal}: "
                f"{case.path_parameters} q={case.query} body={case.body!r:.300} "
                f"-> {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:  # nothing to break in this operation (negative mode with no inputs)
        counts["unsatisfiable"] += 1


def test_no_server_error_for_any_generated_request(hall: Hall) -> None:
    raw = hall.client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) > 50
    failures: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    counts = {"requests": 0, "runs": 0, "unsatisfiable": 0}
    deadline = time.monotonic() + BUDGET_S
    for op in operations:
        for principal, who in PRINCIPALS.items():
            headers = hall.auth(who) if who else {}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if time.monotonic() > deadline:
                    break
                try:
                    strategy = op.as_strategy(generation_mode=mode, headers=headers)
                except Exception as exc:  # an operation with no negative form, say
                    if mode is GenerationMode.NEGATIVE:
                        continue
                    raise AssertionError(f"{op.method.upper()} {op.path}: {exc}") from exc

                counts["runs"] += 1
                _fuzz_one(hall, op, principal, strategy, deadline, seen, failures, counts)
    print(f"fuzz: {len(operations)} operations, {counts}, {time.monotonic() - deadline + BUDGET_S:.0f} s")
    assert not failures, "\n".join(failures)
