"""Schemathesis against the server's own OpenAPI: every operation, with valid and invalid inputs,
as one principal on SQLite and PostgreSQL: no answer is a 5xx.

The tests are tests/hall_server/test_fuzz_openapi_<principal>.py (manager, clerk, kiosk, anonymous),
one file per principal so that pytest-xdist (`--dist loadfile`) runs the four on parallel workers.

Bounded and reproducible: a few derandomized examples per operation, principal and mode, and a
time budget per database and principal (every operation must be reached within it), so CI sees
the same requests on every run. The schema is read from the app under test and the requests go
through the fixture's client, so the app's one lifespan serves them (schemathesis' own ASGI client
would start a second one).

Generating the requests costs more than sending them (most of it in hypothesis' search for an
invalid input of an operation that has none, about 460 draws before it gives up), and the
requests do not depend on the database or on whose token goes in the Authorization header: a
principal's token is a fixed header (never generated), and so are the real ids put into the path.
So the cases of an operation and mode are generated once per process and header shape ("bearer":
some token, "none": no header, where schemathesis also generates the header) and replayed with the
test's token and real ids; the requests sent are the ones a fresh generation would send.
Under pytest-xdist the workers of a run also share them: the first worker to reach an operation
and mode generates its cases and stores them in the run's temporary folder, and the others load
them (three of the four principals hold a token, so they need the same cases).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Loaded before the app under test: hypothesis reads sys.modules["numpy"].ndarray on the test's
# thread, and the app's background pass may be loading its lazy numpy (hall_server/lazy.py) on
# another thread meanwhile; Python 3.11's LazyLoader is not thread-safe, and that read then
# failed with AttributeError (seen twice under -n 4).
import numpy  # noqa: F401
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core import NOT_SET

from hall_server.const import POLICY_BOOKING
from hall_server.services.hall_settings import DEFAULTS
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY, ID_YOUNG

logger = logging.getLogger(__name__)

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
# The token cases are generated with: the principal's own replaces it when a case is sent.
PLACEHOLDER = {"Authorization": "Bearer fuzz-placeholder"}
# Path parameters the cases are generated with where a run names real rows: the test's real ids
# replace them when a case is sent (fixed values, never drawn).
PLACEHOLDER_IDS: dict[str, Any] = {
    "hall_id": CITY,
    "window_id": 1,
    "ticket_id": 1,
    "track_token": "fuzz-placeholder",
    "code": "S-A1",
    "matter_id": 1,
    "document_id": 1,
}
MODES = (
    (GenerationMode.POSITIVE, False),
    (GenerationMode.NEGATIVE, False),
    (GenerationMode.POSITIVE, True),
    (GenerationMode.NEGATIVE, True),
)

# Per process: the parsed schema and the generated cases, by schema digest (and header shape).
_SCHEMAS: dict[str, Any] = {}
_CASES: dict[tuple[str, str, str, str, str, bool], list[Any] | str] = {}
NO_FORM = "no form"  # an operation with no negative form
BARREN = "barren"  # no invalid input to generate (hypothesis' Unsatisfiable)
PENDING = "pending"  # another worker is generating these cases right now


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


def _schema(raw: dict[str, Any]) -> tuple[str, Any]:
    """The schemathesis schema of the app's OpenAPI document (parsed once per process)."""
    _name_free_form_keys(raw)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    if digest not in _SCHEMAS:
        _SCHEMAS[digest] = schemathesis.openapi.from_dict(raw)
    return digest, _SCHEMAS[digest]


def _generate(strategy: Any) -> list[Any] | str:
    """A few derandomized cases of one operation and mode; BARREN if it has no input to generate."""
    cases: list[Any] = []

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
        cases.append(case)

    try:
        run()
    except Unsatisfiable:  # nothing to break in this operation (negative mode with no inputs)
        return BARREN
    return cases


def _make(op: Any, mode: GenerationMode, fixed: dict[str, Any], shape: str) -> list[Any] | str:
    """Generate the cases of one operation, mode and header shape."""
    try:
        strategy = op.as_strategy(
            generation_mode=mode,
            headers=PLACEHOLDER if shape == "bearer" else {},
            path_parameters={k: PLACEHOLDER_IDS[k] for k in fixed},
        )
    except Exception as exc:  # an operation with no negative form, say
        if mode is GenerationMode.NEGATIVE:
            return NO_FORM
        raise AssertionError(f"{op.method.upper()} {op.path}: {exc}") from exc
    return _generate(strategy)


def _rebuild_case(cls: type, state: dict[str, Any]) -> Any:
    """A Case from its slots (Case's own __setattr__ needs its metadata set first)."""
    case = object.__new__(cls)
    for name, value in state.items():
        object.__setattr__(case, name, value)
    return case


class _CasePickler(pickle.Pickler):
    """Pickles cases without their operation (the loading worker has its own) and keeps
    schemathesis' NOT_SET marker the one object it is compared with."""

    def __init__(self, file: Any, op: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.op = op

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Case):
            state = {n: getattr(obj, n) for n in Case.__slots__ if hasattr(obj, n)}
            return _rebuild_case, (type(obj), state)
        return NotImplemented

    def persistent_id(self, obj: Any) -> str | None:
        if obj is self.op:
            return "operation"
        if obj is NOT_SET:
            return "not-set"
        return None


class _CaseUnpickler(pickle.Unpickler):
    """The other half of _CasePickler."""

    def __init__(self, file: Any, op: Any) -> None:
        super().__init__(file)
        self.op = op

    def persistent_load(self, pid: Any) -> Any:
        return {"operation": self.op, "not-set": NOT_SET}[pid]


def _shared(shared: Path, key: tuple[Any, ...], op: Any, make: Any, wait: bool) -> list[Any] | str:
    """The cases of key from the run's shared folder, generated here if no worker has yet;
    PENDING if another worker is generating them and wait is False."""
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    path, lock_path = shared / f"{name}.pickle", shared / f"{name}.lock"
    with open(lock_path, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return PENDING
        try:
            if path.exists():
                with open(path, "rb") as f:
                    return _CaseUnpickler(f, op).load()
            cases = make()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                _CasePickler(f, op).dump(cases)
            tmp.replace(path)
            return cases
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cases(
    digest: str,
    op: Any,
    mode: GenerationMode,
    fixed: dict[str, Any],
    shape: str,
    shared: Path | None = None,
    wait: bool = True,
) -> list[Any] | str:
    """The cases of one operation, mode and header shape (generated once per process, and once
    per run where the workers share a folder); PENDING as in _shared."""
    key = (digest, shape, op.method, op.path, str(mode), bool(fixed))
    if key not in _CASES:
        make = lambda: _make(op, mode, fixed, shape)  # noqa: E731
        cases = make() if shared is None else _shared(shared, key, op, make, wait)
        if cases == PENDING:
            return PENDING
        _CASES[key] = cases
    return _CASES[key]


def _send(hall: Hall, case: Any, headers: dict[str, str], fixed: dict[str, Any]) -> Any:
    """One case through the app's client, with the principal's token and the real ids."""
    if fixed:
        case.path_parameters = {**case.path_parameters, **fixed}
    kw = case.as_transport_kwargs(base_url="http://testserver", headers=headers or None)
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


def real_ids(hall: Hall) -> dict[str, Any]:
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


@dataclass
class Tally:
    """What one principal's run sent and found."""

    failures: list[str] = field(default_factory=list)
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: {"requests": 0, "runs": 0, "unsatisfiable": 0})


def fuzz_as(hall: Hall, principal: str, shared: Path | None = None) -> None:
    """Every operation of the app's OpenAPI, as principal: no generated request answers a 5xx.

    shared: a folder the run's workers share the generated cases through (None: this process only).
    """
    real = real_ids(hall)
    digest, schema = _schema(hall.client.get("/openapi.json").json())
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
    assert len(operations) > 50
    tally = Tally()
    barren: set[tuple[str, str, bool]] = set()  # operations with no invalid input to generate
    reached: set[tuple[str, str]] = set()
    who = PRINCIPALS[principal]
    headers = hall.auth(who) if who else {}
    shape = "bearer" if who else "none"
    # Generation first (bounded by the hypothesis settings; the first test of a process pays it),
    # then the budget bounds the requests. Cases another worker is generating are taken once it
    # is done, after this worker has made (or loaded) the rest.
    deferred = []
    for op in operations:
        names = {p.name for p in op.path_parameters}
        fixed = {k: v for k, v in real.items() if k in names}
        for mode, with_ids in MODES:
            if not with_ids or fixed:
                args = (digest, op, mode, fixed if with_ids else {}, shape, shared)
                if _cases(*args, wait=False) == PENDING:
                    deferred.append(args)
    for args in deferred:
        _cases(*args, wait=True)
    started = time.monotonic()
    deadline = started + BUDGET_S
    for op in operations:
        names = {p.name for p in op.path_parameters}
        fixed = {k: v for k, v in real.items() if k in names}
        for mode, with_ids in MODES:
            if time.monotonic() > deadline:
                break
            if with_ids and not fixed:
                continue
            if mode is GenerationMode.NEGATIVE and (op.method, op.path, with_ids) in barren:
                continue
            t0, n0 = time.monotonic(), tally.counts["requests"]
            cases = _cases(digest, op, mode, fixed if with_ids else {}, shape)
            if cases == NO_FORM:
                continue
            tally.counts["runs"] += 1
            reached.add((op.method, op.path))
            if cases == BARREN:  # nothing is sent
                tally.counts["unsatisfiable"] += 1
                barren.add((op.method, op.path, with_ids))
                continue
            for case in cases:
                if time.monotonic() > deadline:
                    break
                _check(hall, op, principal, case, headers, fixed if with_ids else {}, tally)
            if os.environ.get("HALL_FUZZ_TRACE"):
                print(
                    f"{time.monotonic() - t0:6.2f}s {tally.counts['requests'] - n0:3d} "
                    f"{op.method} {op.path} {principal} {mode} {with_ids}"
                )
    print(f"\nfuzz: {len(operations)} operations, {tally.counts}, {time.monotonic() - started:.0f} s")
    assert not tally.failures, "\n".join(tally.failures)
    missed = [f"{op.method.upper()} {op.path}" for op in operations if (op.method, op.path) not in reached]
    assert not missed, f"the time budget ({BUDGET_S:.0f} s, HALL_FUZZ_BUDGET_S) ran out before: {missed}"


def _check(
    hall: Hall,
    op: Any,
    principal: str,
    case: Any,
    headers: dict[str, str],
    fixed: dict[str, Any],
    tally: Tally,
) -> None:
    """Send one case; a 5xx answer is recorded once per operation and status."""
    response = _send(hall, case, headers, fixed)
    tally.counts["requests"] += 1
    if os.environ.get("HALL_FUZZ_LOG"):  # every request, to compare two runs' requests
        with open(os.environ["HALL_FUZZ_LOG"], "a", encoding="utf-8") as log:
            log.write(
                f"{principal} {op.method} {op.path} {case.path_parameters} q={case.query} "
                f"h={sorted((k, v) for k, v in case.headers.items() if k.lower() != 'authorization')} "
                f"body={case.body!r:.200} -> {response.status_code}\n"
            )
    if response.status_code < 500:
        return
    key = (op.method, op.path, response.status_code)
    if key in tally.seen:
        return
    tally.seen.add(key)
    tally.failures.append(
        f"{response.status_code} {op.method.upper()} {op.path} as {principal} (real ids: {bool(fixed)}): "
        f"{case.path_parameters} q={case.query} body={case.body!r:.300} -> {response.text[:300]}"
    )
