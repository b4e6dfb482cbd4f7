"""Rate limits of the public booking endpoints: per client address and per ID number, 429 rate.limited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from hall_server.api.rate_limit import RateConfig, TokenBucketLimiter
from hall_server.config import Settings
from hall_server.db.models import Appointment
from queueing.idnumber import check_character
from tests.hall_server.clock_app import API, ID_A, PHONE, Env, sqlite_env

TUE = date(2026, 3, 10)


def person(n: int) -> str:
    """A distinct valid ID number (Beijing Dongcheng, born 1990-03-07)."""
    first17 = f"11010119900307{n + 1:03d}"
    return first17 + check_character(first17)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The in-process server on SQLite with the default limits (no HALL_RATE_* set)."""
    for name in ("BOOK_PER_ADDRESS", "BOOK_PER_PERSON", "LOOKUP_PER_ADDRESS", "LOOKUP_PER_PERSON"):
        monkeypatch.delenv(f"HALL_RATE_{name}", raising=False)
    monkeypatch.delenv("HALL_RATE_EXEMPT", raising=False)
    yield from sqlite_env(tmp_path, monkeypatch)


def client_at(env: Env, address: str) -> TestClient:
    """A client of the same running app seen from another address (no second lifespan)."""
    return TestClient(env.client.app, client=(address, 40000))


def book(client: TestClient, id_number: str, start: str = "09:00", day: date = TUE):
    body = {
        "service_code": "S-001",
        "day": day.isoformat(),
        "start": start,
        "id_number": id_number,
        "phone": PHONE,
    }
    return client.post(f"{API}/halls/x-city/appointments", json=body)


def stored(env: Env) -> int:
    with env.ctx.db.read() as s:
        return int(s.scalar(select(func.count(Appointment.id))) or 0)


def assert_limited(r, limit: str) -> int:
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "rate.limited" and err["detail"]["limit"] == limit
    retry = int(r.headers["Retry-After"])
    assert retry >= 1 and err["detail"]["retry_after"] == retry
    assert err["message"] == f"请求过于频繁，请{retry}秒后再试"
    return retry


def test_ten_bookings_a_minute_per_address_then_429(env: Env) -> None:
    starts = ["09:00", "09:30", "10:00", "10:30", "11:00"]
    for i in range(10):
        r = book(env.client, person(i), start=starts[i % 5])
        assert r.status_code == 201, r.text
    r = book(env.client, person(10), start="14:00")
    retry = assert_limited(r, "book_per_address")
    assert stored(env) == 10  # the refused request stored nothing
    # Another address is not affected.
    assert book(client_at(env, "192.168.10.21"), person(11), start="14:00").status_code == 201
    # After Retry-After seconds a token is back for the first address: exactly one.
    env.clock.now += timedelta(seconds=retry)
    assert book(env.client, person(10), start="14:00").status_code == 201
    assert book(env.client, person(12), start="14:30").status_code == 429
    assert stored(env) == 12


def test_refused_attempts_count_too(env: Env) -> None:
    """Probing with invalid numbers or full slots uses up the address's bookings as well."""
    for i in range(10):
        good = person(300 + i)
        r = book(env.client, good[:-1] + ("1" if good[-1] == "0" else "0"))  # bad check digit
        assert r.status_code == 422 and r.json()["error"]["code"] == "id.invalid"
    assert_limited(book(env.client, ID_A), "book_per_address")
    assert stored(env) == 0


def test_one_id_number_from_many_addresses(env: Env) -> None:
    """Five booking attempts a minute per ID number, wherever they come from."""
    for i in range(5):
        r = book(client_at(env, f"10.9.0.{i + 1}"), ID_A, start="09:00", day=TUE + timedelta(days=i % 4))
        assert r.status_code in (201, 409), r.text
    c = client_at(env, "10.9.0.99")
    assert_limited(book(c, ID_A, start="14:00", day=date(2026, 3, 13)), "book_per_person")
    assert book(c, person(1)).status_code == 201  # someone else from that address is fine
    assert stored(env) == 5


def test_lookups_cannot_probe_codes(env: Env) -> None:
    c = client_at(env, "172.16.0.5")
    for i in range(30):
        r = c.post(f"{API}/appointments/lookup", json={"code": f"ZZZZ{i:04d}", "id_number": person(100 + i)})
        assert r.status_code == 404 and r.json()["error"]["code"] == "booking.not_found"
    r = c.post(f"{API}/appointments/lookup", json={"code": "ZZZZ9999", "id_number": person(200)})
    assert_limited(r, "lookup_per_address")
    r = c.post(f"{API}/appointments/ZZZZ9999/cancel", json={"id_number": person(200)})
    assert_limited(r, "lookup_per_address")
    # One ID number trying codes from many addresses is limited too (10 a minute).
    for i in range(10):
        r = client_at(env, f"172.17.0.{i + 1}").post(
            f"{API}/appointments/lookup", json={"code": f"YYYY{i:04d}", "id_number": ID_A}
        )
        assert r.status_code == 404
    r = client_at(env, "172.17.1.1").post(
        f"{API}/appointments/lookup", json={"code": "YYYY9999", "id_number": ID_A}
    )
    assert_limited(r, "lookup_per_person")


def test_limits_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALL_RATE_BOOK_PER_ADDRESS", "2")
    monkeypatch.setenv("HALL_RATE_BOOK_PER_PERSON", "0")  # off
    for env in sqlite_env(tmp_path, monkeypatch):
        assert book(env.client, person(1)).status_code == 201
        assert book(env.client, person(2)).status_code == 201
        assert_limited(book(env.client, person(3)), "book_per_address")


def test_config_parsing_and_exempt_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALL_RATE_BOOK_PER_ADDRESS", "25")
    monkeypatch.setenv("HALL_RATE_EXEMPT", "10.20.0.0/16, 192.168.1.7")
    cfg = RateConfig.from_settings(Settings())
    assert cfg.limits["book_per_address"] == 25 and cfg.limits["lookup_per_person"] == 10
    assert cfg.is_exempt("10.20.3.4") and cfg.is_exempt("192.168.1.7")
    assert not cfg.is_exempt("192.168.1.8") and not cfg.is_exempt("testclient")
    monkeypatch.delenv("HALL_RATE_BOOK_PER_ADDRESS")
    assert RateConfig.from_settings(Settings()).limits["book_per_address"] == 10


def test_a_bad_setting_is_refused_at_start_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit that is not a number, or a network that is not one, stops the server with a clear error."""
    monkeypatch.setenv("HALL_RATE_LOOKUP_PER_PERSON", "many")
    with pytest.raises(ValidationError, match="rate_lookup_per_person"):
        Settings()
    monkeypatch.delenv("HALL_RATE_LOOKUP_PER_PERSON")
    monkeypatch.setenv("HALL_RATE_EXEMPT", "10.20.0.0/16, not-an-ip")
    with pytest.raises(ValidationError, match="not-an-ip"):
        Settings()


def test_bucket_refills_continuously_and_forgets_idle_keys() -> None:
    now = [0.0]
    lim = TokenBucketLimiter(clock=lambda: now[0], max_keys=3)
    assert [lim.take("a", 6) for _ in range(6)] == [0.0] * 6
    assert lim.take("a", 6) == pytest.approx(10.0)  # 6 a minute: one every 10 s
    now[0] += 10.0
    assert lim.take("a", 6) == 0.0 and lim.take("a", 6) > 0
    now[0] -= 1000.0  # a wall clock stepped back does not drain or refill
    assert lim.take("a", 6) > 0
    for key in ("b", "c", "d", "e"):
        lim.take(key, 6)
    now[0] += 2000.0
    lim.take("f", 6)  # over max_keys: the refilled buckets are dropped
    assert len(lim) <= 3
    assert lim.take("z", 0) == 0.0  # a limit of 0 is off
