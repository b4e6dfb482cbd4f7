"""The OpenAPI fuzz (tests/hall_server/fuzz_openapi.py) as a manager of the city:
every operation, with valid and invalid inputs, on SQLite and PostgreSQL; no answer is a 5xx."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")

from tests.hall_server.conftest import Hall
from tests.hall_server.fuzz_openapi import fuzz_as

pytestmark = pytest.mark.slow


def test_no_server_error_for_any_generated_request(hall: Hall) -> None:
    fuzz_as(hall, "manager")
