"""Schemathesis against the server's own OpenAPI: every operation, as a manager, a clerk, a kiosk
and nobody, with valid and invalid inputs, on SQLite and PostgreSQL: no answer is a 5xx.

Bounded and reproducible: a few derandomized examples per operation and principal and a time
budget per database and principal (every operation must be reached within it), so CI sees the
same requests on every run. The schema is read from the app
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

from hall_server.const import POLICY_BOOKING  # noqa: E402
from hall_server.services.hall_settings import DEFAULTS  # noqa: E402
from tests.hall_server.conftest import API, Hall  # noqa: E402
from tests.hall_server.hs_city import CITY, ID_YOUNG  # noqa: E402

pytestmark = pytest.mark.slow

# Who asks: the token names of the conftest's template (None: no Authorization header).
PRINCIPALS: dict[str, str | None] = {
    "manager": "m-city",
    "clerk": f"clerk:{CITY}:1",
    "kiosk": f"kiosk:{CITY}",
    "anonymous": None,
}
EXAMPLES = int(
    os.environ.get("HALL_FUZZ_EXAMPLES", "2")
)  # per operation, principal and mode (30: a deep run)
BUDGET_S = float(os.environ.get("HALL_FUZZ_BUDGET_S", "160"))  # per database and principal
# Operations that may end the fuzzer's own sessions or tokens run last, so they cannot starve the
# rest of the run of authenticated requests.
LAST = ("/auth/logout", "/auth/password", "/auth/refresh", "/tokens/")


def _order(op: Any) -> tuple[int, str, str]:
    return (any(p in op.path for p in LAST), op.path, op.method)


def _name_free_form_keys(raw: dict[str, Any]) -> None:
    """Let the fuzzer find the known keys of the free-form hall settings, with values of any type.

    The settings body is an open object in the OpenAPI, so random keys would only ever meet the
    unknown-key refusal; naming the keys (values left unconstrained) reaches the checks behind it.
    """
    body = raw["paths"][f"{API}/halls/{{hall_id}}/ext-settings"]["put"]["requestBody"]
    any_value: dict[str, Any] = {}
    booking = {"type": "object", "properties": {k: any_value for k in DEFAULTS[POLICY_BOOKING]}}
    props = {k: (booking if k == POLICY_BOOKING else any_value) for k in DEFAULTS}
    body["content"]["application/json"]["schema"] = {"type": "object", "properties": props}


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
    barren: set[tuple[str, str, bool]],
    fixed: bool,
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
                f"{response.status_code} {op.method.upper()} {op.path} as {principal} (real ids: {fixed}): "
                f"{case.path_parameters} q={case.query} body={case.body!r:.300} "
                f"-> {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:  # nothing to break in this operation (negative mode with no inputs)
        counts["unsatisfiable"] += 1
        barren.add((op.method, op.path, fixed))


def _real_ids(hall: Hall) -> dict[str, Any]:
    """Path parameters that name real rows: a ticket in service at window 1 with a matter and a photo."""
    t = hall.ok_issue("S-A1", identity={"id_number": ID_YOUNG, "name": "测试"})
    hall.ok(1, "call-next")
    hall.ok(1, "start")
    ids: dict[str, Any] = {
        "hall_id": CITY,
        "window_id": hall.wid(1),
        "ticket_id": t["id"],
        "track_token": t["track_token"],
        "code": "S-A1",
    }
    clerk = hall.auth(f"clerk:{CITY}:1")
    r = hall.client.post(f"{API}/tickets/{t['id']}/matters", json={}, headers=clerk)
    if r.status_code in (200, 201):
        ids["matter_id"] = r.json()["id"]
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
    r = hall.client.post(
        f"{API}/tickets/{t['id']}/documents", content=photo, headers={**clerk, "Content-Type": "image/jpeg"}
    )
    if r.status_code in (200, 201):
        ids["document_id"] = r.json()["id"]
    return ids


# One test per principal (each on its own copy of the database): the parts run on parallel
# workers, and one principal's logout or password change cannot reach another's requests.
@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_no_server_error_for_any_generated_request(hall: Hall, principal: str) -> None:
    real = _real_ids(hall)
    raw = hall.client.get("/openapi.json").json()
    _name_free_form_keys(raw)
    schema = schemathesis.openapi.from_dict(raw)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) > 50
    failures: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    barren: set[tuple[str, str, bool]] = set()  # operations with no invalid input to generate
    counts = {"requests": 0, "runs": 0, "unsatisfiable": 0}
    reached: set[tuple[str, str]] = set()
    deadline = time.monotonic() + BUDGET_S
    who = PRINCIPALS[principal]
    headers = hall.auth(who) if who else {}
    for op in operations:
        names = {p.name for p in op.path_parameters}
        fixed = {k: v for k, v in real.items() if k in names}
        for mode, path_parameters in (
            (GenerationMode.POSITIVE, {}),
            (GenerationMode.NEGATIVE, {}),
            (GenerationMode.POSITIVE, fixed),
            (GenerationMode.NEGATIVE, fixed),
        ):
            if time.monotonic() > deadline:
                break
            if path_parameters is fixed and not fixed:
                continue
            if mode is GenerationMode.NEGATIVE and (op.method, op.path, bool(path_parameters)) in barren:
                continue
            try:
                strategy = op.as_strategy(
                    generation_mode=mode, headers=headers, path_parameters=path_parameters
                )
            except Exception as exc:  # an operation with no negative form, say
                if mode is GenerationMode.NEGATIVE:
                    continue
                raise AssertionError(f"{op.method.upper()} {op.path}: {exc}") from exc

            counts["runs"] += 1
            reached.add((op.method, op.path))
            t0, n0 = time.monotonic(), counts["requests"]
            _fuzz_one(
                hall,
                op,
                principal,
                strategy,
                deadline,
                seen,
                failures,
                counts,
                barren,
                bool(path_parameters),
            )
            if os.environ.get("HALL_FUZZ_TRACE"):
                print(
                    f"{time.monotonic() - t0:6.2f}s {counts['requests'] - n0:3d} {op.method} {op.path} {principal} {mode}"
                )
    print(f"\nfuzz: {len(operations)} operations, {counts}, {time.monotonic() - deadline + BUDGET_S:.0f} s")
    assert not failures, "\n".join(failures)
    missed = [f"{op.method.upper()} {op.path}" for op in operations if (op.method, op.path) not in reached]
    assert not missed, f"the time budget ({BUDGET_S:.0f} s, HALL_FUZZ_BUDGET_S) ran out before: {missed}"
