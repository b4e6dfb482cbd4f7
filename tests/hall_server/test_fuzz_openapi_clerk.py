"""The OpenAPI fuzz (tests/hall_server/fuzz_openapi.py) as a clerk at the city's window 1:
every operation, with valid and invalid inputs, on SQLite and PostgreSQL; no answer is a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("schemathesis")

from tests.hall_server.conftest import Hall
from tests.hall_server.fuzz_openapi import fuzz_as

# The first test of a worker also generates the cases it does not find from another worker of the
# run (about 28 CPU-s for all of a header shape), which a loaded 2-core machine can stretch past the
# suite's 300 s hang guard.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_no_server_error_for_any_generated_request(hall: Hall, run_shared_dir: Path | None) -> None:
    fuzz_as(hall, "clerk", run_shared_dir)
