"""Sessions that expire, refresh and password change, log-in back-off and lock, device token rotation,
one-time event-socket tickets: on SQLite and PostgreSQL through the real app."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from hall_server.cli import main as cli_main
from hall_server.config import SECURITY_FIELDS, Settings
from hall_server.db.models import ApiToken
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, PASSWORD

pytestmark = pytest.mark.timeout(120)

NEW_PASSWORD = "Neu-Passw0rt-2026"


def _policy(hall: Hall, **kw: Any) -> None:
    """Set the server's security policy for this test (what a city sets through the environment)."""
    defaults = Settings()
    for name in SECURITY_FIELDS:
        setattr(hall.ctx.settings, name, kw.get(name, getattr(defaults, name)))


def _login(hall: Hall, username: str = "m-city", password: str = PASSWORD, **body: Any) -> Any:
    return hall.client.post(f"{API}/auth/login", json={"username": username, "password": password, **body})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me(hall: Hall, token: str) -> Any:
    return hall.client.get(f"{API}/auth/me", headers=_bearer(token))


def _types(hall: Hall, since: int, hall_id: str = CITY) -> list[str]:
    return [e["type"] for e in hall.events(since, hall_id)]


# --- sessions ----------------------------------------------------------------------------
def test_an_idle_session_expires_but_one_in_use_does_not(hall: Hall) -> None:
    _policy(hall, session_idle_s=3)
    r = _login(hall)
    assert r.status_code == 200 and r.json()["idle_s"] == 3 and r.json()["expires_at"]
    token = r.json()["token"]
    # In use every second for longer than the idle time: still alive.
    for _ in range(5):
        assert _me(hall, token).status_code == 200
        time.sleep(1.0)
    time.sleep(3.2)
    r = _me(hall, token)
    assert r.status_code == 401 and error_code(r) == "auth.expired"
    assert r.json()["error"]["message"] == "登录已过期，请重新登录"
    assert r.json()["error"]["detail"]["reason"] == "idle"


def test_a_session_ends_at_its_lifetime_even_in_use(hall: Hall) -> None:
    _policy(hall, session_absolute_s=3)
    token = _login(hall).json()["token"]
    assert _me(hall, token).status_code == 200
    time.sleep(3.2)
    r = _me(hall, token)
    assert r.status_code == 401 and error_code(r) == "auth.expired"
    assert r.json()["error"]["detail"]["reason"] == "lifetime"
    # Device tokens never expire.
    assert hall.client.get(f"{API}/halls/{CITY}", headers=hall.auth(f"kiosk:{CITY}")).status_code == 200


def test_the_idle_clock_costs_no_write_per_request(hall: Hall) -> None:
    body = _login(hall).json()
    for _ in range(10):
        assert _me(hall, body["token"]).status_code == 200
    with hall.ctx.db.read() as s:
        used = s.execute(select(ApiToken.last_used_at).where(ApiToken.id == body["token_id"])).scalar_one()
    # Within the first minute nothing is written: the log-in time serves as the last use.
    assert used is None


def test_refresh_rotates_the_secret_and_keeps_the_deadline(hall: Hall) -> None:
    first = _login(hall).json()
    r = hall.client.post(f"{API}/auth/refresh", headers=_bearer(first["token"]))
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["token"] != first["token"] and second["expires_at"] == first["expires_at"]
    assert _me(hall, second["token"]).json()["user"]["username"] == "m-city"
    r = _me(hall, first["token"])
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    # Refreshing the old one again does not fork the session.
    r = hall.client.post(f"{API}/auth/refresh", headers=_bearer(first["token"]))
    assert r.status_code == 401
    # Devices have no session to refresh.
    r = hall.client.post(f"{API}/auth/refresh", headers=hall.auth(f"kiosk:{CITY}"))
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    r = hall.client.post(f"{API}/auth/refresh")
    assert r.status_code == 401 and error_code(r) == "auth.required"


def test_password_change_ends_every_session_of_the_user(hall: Hall) -> None:
    seq = hall.last_seq()
    one = _login(hall).json()["token"]
    other = hall.tokens["m-city"]  # the same user's session on another machine
    url = f"{API}/auth/password"
    r = hall.client.post(
        url, json={"old_password": "wrong", "new_password": NEW_PASSWORD}, headers=_bearer(one)
    )
    assert r.status_code == 401 and error_code(r) == "auth.bad_credentials"
    r = hall.client.post(url, json={"old_password": PASSWORD, "new_password": "short"}, headers=_bearer(one))
    assert r.status_code == 422 and error_code(r) == "auth.weak_password"
    assert "长度至少 10 位" in r.json()["error"]["message"]
    r = hall.client.post(
        url, json={"old_password": PASSWORD, "new_password": "m-city-Pass-1"}, headers=_bearer(one)
    )
    assert r.status_code == 422 and "不能包含用户名" in r.json()["error"]["detail"]["problems"]
    r = hall.client.post(
        url, json={"old_password": PASSWORD, "new_password": "x" * 201}, headers=_bearer(one)
    )
    assert r.status_code == 422 and error_code(r) == "request.invalid"
    r = hall.client.post(
        url, json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=_bearer(one)
    )
    assert r.status_code == 200, r.text
    fresh = r.json()["token"]
    assert _me(hall, fresh).status_code == 200
    for old in (one, other):
        assert _me(hall, old).status_code == 401
    assert _login(hall).status_code == 401
    assert _login(hall, password=NEW_PASSWORD).status_code == 200
    assert "auth.password_changed" in _types(hall, seq)
    # Devices have no password.
    r = hall.client.post(
        url, json={"old_password": "a", "new_password": NEW_PASSWORD}, headers=hall.auth(f"kiosk:{CITY}")
    )
    assert r.status_code == 403


def test_logout_revokes_the_session(hall: Hall) -> None:
    token = _login(hall).json()["token"]
    assert hall.client.post(f"{API}/auth/logout", headers=_bearer(token)).status_code == 204
    r = _me(hall, token)
    assert r.status_code == 401 and error_code(r) == "auth.invalid"


# --- log-in throttling -------------------------------------------------------------------
def test_eighteen_wrong_passwords_no_longer_all_answer_401(hall: Hall) -> None:
    # The attempts come in one instant of the server's clock: on a loaded machine a password
    # check can take longer than the first back-off (1 s), which would let the next one through.
    at = hall.ctx.now()
    hall.ctx.clock = lambda: at
    codes = [_login(hall, password=f"guess-{i}").status_code for i in range(18)]
    # The first five are checked; after that the attempts are refused before any password check.
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) <= {429, 423} and codes[5] == 429
    r = _login(hall)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert (
        error_code(r) == "auth.throttled" and r.json()["error"]["message"] == "登录失败次数过多，请稍后再试"
    )


def test_backoff_then_lock_with_audit_and_alert(hall: Hall) -> None:
    _policy(hall, login_backoff_after=2, login_lock_after=4, login_lock_s=60)
    seq = hall.last_seq()
    assert _login(hall, "c1", "bad-1").status_code == 401
    assert _login(hall, "c1", "bad-2").status_code == 401
    r = _login(hall, "c1", "bad-3")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["detail"]["scope"] == "user"
    time.sleep(1.1)
    assert _login(hall, "c1", "bad-3").status_code == 401
    r = _login(hall, "c1", "bad-4")
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    time.sleep(2.1)
    assert _login(hall, "c1", "bad-4").status_code == 401  # the fourth failure locks the account
    r = _login(hall, "c1", PASSWORD, window_id=hall.wid(1))
    assert r.status_code == 423 and error_code(r) == "auth.locked"
    assert 50 <= int(r.headers["retry-after"]) <= 60
    assert "账号已临时锁定" in r.json()["error"]["message"]
    # Another account from the same address is not locked (an address has higher limits).
    assert _login(hall, "c2", PASSWORD, window_id=hall.wid(2)).status_code == 200
    events = hall.events(seq)
    failed = [e for e in events if e["type"] == "auth.login_failed"]
    assert len(failed) == 4 and failed[-1]["payload"]["username"] == "c1"
    assert failed[-1]["payload"]["failures"] == 4
    locked = [e for e in events if e["type"] == "auth.locked"]
    assert len(locked) == 1 and locked[0]["payload"]["scope"] == "user"
    assert "auth.login" in [e["type"] for e in events]
    alerts = hall.client.get(f"{API}/halls/{CITY}/alerts", headers=hall.auth("m-city")).json()
    lock_alerts = [a for a in alerts if a["code"] == "auth.locked"]
    assert len(lock_alerts) == 1 and "c1" in lock_alerts[0]["message"] and "锁定" in lock_alerts[0]["message"]


def test_one_address_trying_many_accounts_is_throttled(hall: Hall) -> None:
    _policy(hall, login_addr_backoff_after=3, login_addr_lock_after=50)
    for name in ("c1", "c2", "c3"):
        assert _login(hall, name, "wrong").status_code == 401
    r = _login(hall, "d1", "wrong")
    assert r.status_code == 429 and r.json()["error"]["detail"]["scope"] == "addr"


def test_unknown_usernames_are_throttled_like_known_ones(hall: Hall) -> None:
    _policy(hall, login_backoff_after=2)
    seq = hall.last_seq()
    assert _login(hall, "nobody", "x").status_code == 401
    assert _login(hall, "nobody", "x").status_code == 401
    assert _login(hall, "nobody", "x").status_code == 429
    failed = [e for e in hall.events(seq) if e["type"] == "auth.login_failed"]
    # What was typed as an unknown username is not written to the log (it may be a password).
    assert failed and all(e["payload"]["username"] is None for e in failed)


# --- device tokens -----------------------------------------------------------------------
def _token_id(hall: Hall, who: str) -> int:
    return int(hall.client.get(f"{API}/auth/me", headers=hall.auth(who)).json()["token_id"])


def test_device_tokens_are_rotated_and_revoked_by_managers_of_their_hall(hall: Hall) -> None:
    kiosk_id = _token_id(hall, f"kiosk:{COUNTY}")
    # The county manager may not touch the city's devices; clerks and devices nothing.
    city_kiosk = _token_id(hall, f"kiosk:{CITY}")
    r = hall.client.post(f"{API}/tokens/{city_kiosk}/rotate", headers=hall.auth("m-county"))
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.post(f"{API}/tokens/{kiosk_id}/rotate", headers=hall.auth(f"clerk:{CITY}:1"))
    assert r.status_code == 403 and error_code(r) == "auth.forbidden"
    # Sessions are not rotated here.
    r = hall.client.post(f"{API}/tokens/{_token_id(hall, 'm-county')}/rotate", headers=hall.auth("admin"))
    assert r.status_code == 422 and error_code(r) == "token.not_device"
    r = hall.client.post(f"{API}/tokens/999999/rotate", headers=hall.auth("admin"))
    assert r.status_code == 404 and error_code(r) == "token.unknown"
    r = hall.client.post(f"{API}/tokens/{2**70}/rotate", headers=hall.auth("admin"))
    assert r.status_code == 422
    # The city manager's subtree holds the county.
    r = hall.client.post(f"{API}/tokens/{kiosk_id}/rotate", headers=hall.auth("m-city"))
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["replaces"] == kiosk_id and new["role"] == "kiosk" and new["hall_id"] == COUNTY
    issue = {"service_code": "S-A1"}
    r = hall.client.post(f"{API}/halls/{COUNTY}/tickets", json=issue, headers=hall.auth(f"kiosk:{COUNTY}"))
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    r = hall.client.post(f"{API}/halls/{COUNTY}/tickets", json=issue, headers=_bearer(new["token"]))
    assert r.status_code == 201
    r = hall.client.post(f"{API}/tokens/{new['id']}/revoke", headers=hall.auth("m-county"))
    assert r.status_code == 204
    r = hall.client.post(f"{API}/halls/{COUNTY}/tickets", json=issue, headers=_bearer(new["token"]))
    assert r.status_code == 401
    r = hall.client.post(f"{API}/tokens/{new['id']}/revoke", headers=hall.auth("m-county"))
    assert r.status_code == 404 and error_code(r) == "token.unknown"
    assert {"auth.token_rotated", "auth.token_revoked"} <= set(_types(hall, 0, COUNTY))


def test_token_cli_rotate(hall: Hall, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--db", hall.db_url, "--data-dir", str(hall.data_dir)]
    display_id = _token_id(hall, f"display:{CITY}")
    assert cli_main(["token", "rotate", str(display_id), *args]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["replaces"] == display_id and len(out["token"]) > 30
    assert (
        hall.client.get(f"{API}/halls/{CITY}/events", headers=hall.auth(f"display:{CITY}")).status_code == 401
    )
    assert hall.client.get(f"{API}/halls/{CITY}/events", headers=_bearer(out["token"])).status_code == 200
    assert cli_main(["token", "rotate", str(display_id), *args]) == 1
    assert "已注销" in capsys.readouterr().err


# --- event-socket tickets ----------------------------------------------------------------
def _ticket(hall: Hall, who: str, hall_id: str = CITY) -> Any:
    return hall.client.post(f"{API}/halls/{hall_id}/events/ticket", headers=hall.auth(who))


def _refused(hall: Hall, url: str, code: int, err: str) -> None:
    with hall.client.websocket_connect(url) as ws:
        assert json.loads(ws.receive_text())["error"]["code"] == err
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == code


def test_socket_ticket_opens_one_socket_once(hall: Hall) -> None:
    r = _ticket(hall, "m-city")
    assert r.status_code == 200 and r.json()["expires_in"] == 30
    ticket = r.json()["ticket"]
    start = hall.last_seq()
    hall.ok_issue("S-A1")
    url = f"{API}/halls/{CITY}/events/ws?since={start}&ticket={ticket}"
    with hall.client.websocket_connect(url) as ws:
        ev = json.loads(ws.receive_text())
        assert ev["seq"] == start + 1 and ev["type"] == "ticket.issued"
    _refused(hall, url, 4401, "auth.ticket_invalid")  # used up


def test_socket_refusals(hall: Hall) -> None:
    base = f"{API}/halls/{CITY}/events/ws"
    _refused(hall, f"{base}?token={hall.tokens['m-city']}", 4401, "auth.token_in_url")
    _refused(hall, f"{base}?ticket=made-up", 4401, "auth.ticket_invalid")
    # A ticket is for one hall.
    county = _ticket(hall, "m-county", COUNTY).json()["ticket"]
    _refused(hall, f"{base}?ticket={county}", 4401, "auth.ticket_invalid")
    # Only for a hall the caller may watch, and only with a token.
    r = _ticket(hall, "m-county", CITY)
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.post(f"{API}/halls/{CITY}/events/ticket")
    assert r.status_code == 401 and error_code(r) == "auth.required"
    r = _ticket(hall, "admin", "no-such-hall")
    assert r.status_code == 404 and error_code(r) == "hall.unknown"
    # Logging out in between closes the door too.
    token = _login(hall).json()["token"]
    ticket = hall.client.post(f"{API}/halls/{CITY}/events/ticket", headers=_bearer(token)).json()["ticket"]
    assert hall.client.post(f"{API}/auth/logout", headers=_bearer(token)).status_code == 204
    _refused(hall, f"{base}?ticket={ticket}", 4401, "auth.invalid")


def test_a_city_sets_the_policy_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALL_SESSION_IDLE_S", "900")
    monkeypatch.setenv("HALL_PASSWORD_MIN_LENGTH", "12")
    policy = Settings().security
    assert policy.session_idle_s == 900 and policy.password_min_length == 12
    # A typo cannot switch locking off or make sessions endless: the server refuses to start.
    monkeypatch.setenv("HALL_LOGIN_LOCK_AFTER", "1")
    with pytest.raises(ValidationError, match="login_lock_after"):
        Settings()
    monkeypatch.delenv("HALL_LOGIN_LOCK_AFTER")
    monkeypatch.setenv("HALL_SESSION_ABSOLUTE_S", "soon")
    with pytest.raises(ValidationError, match="session_absolute_s"):
        Settings()


def test_an_open_socket_closes_when_its_session_ends(hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    import hall_server.api.events as events_api

    monkeypatch.setattr(events_api, "WS_AUTH_RECHECK_S", 0.3)
    token = _login(hall).json()["token"]
    start = hall.last_seq()
    with hall.client.websocket_connect(
        f"{API}/halls/{CITY}/events/ws?since={start}", headers=_bearer(token)
    ) as ws:
        hall.ok_issue("S-A1")
        assert json.loads(ws.receive_text())["type"] == "ticket.issued"
        assert hall.client.post(f"{API}/auth/logout", headers=_bearer(token)).status_code == 204
        body = json.loads(ws.receive_text())
        assert body["error"]["code"] == "auth.invalid"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 4401


def test_serve_wants_both_tls_files(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cert = tmp_path / "hall.crt"
    cert.write_text("not used")
    args = ["serve", "--data-dir", str(tmp_path / "data"), "--no-zeroconf", "--tls-cert", str(cert)]
    assert cli_main(args) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
    assert cli_main([*args, "--tls-key", str(tmp_path / "missing.key")]) == 2
    assert "TLS file not found" in capsys.readouterr().err
