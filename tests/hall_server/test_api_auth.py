"""Roles and scopes: 401 vs 403 with stable codes, clerk logins, manager subtrees, tokens."""

from __future__ import annotations

import json

from hall_server.cli import main as cli_main
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, COUNTY, PASSWORD


def test_kiosk_display_and_rating_cannot_call(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    for who in (f"kiosk:{CITY}", f"display:{CITY}", f"rating:{CITY}:1"):
        r = hall.op(1, "call-next", who=who)
        assert r.status_code == 403, who
        assert error_code(r) == "auth.forbidden"
        assert r.json()["error"]["message"] == "无权执行此操作"
    r = hall.client.post(f"{API}/windows/{hall.wid(1)}/call-next")
    assert r.status_code == 401 and error_code(r) == "auth.required"
    assert r.headers["www-authenticate"] == "Bearer"


def test_clerk_cannot_operate_another_window(hall: Hall) -> None:
    hall.ok_issue("S-A1")
    r = hall.op(2, "call-next", who=f"clerk:{CITY}:1")
    assert r.status_code == 403 and error_code(r) == "auth.wrong_window"
    r = hall.op(1, "call-next", hall=COUNTY, who=f"clerk:{CITY}:1")
    assert r.status_code == 403 and error_code(r) == "auth.wrong_window"
    assert hall.events(hall.last_seq() - 1)[-1]["type"] == "ticket.issued"  # nothing happened


def test_manager_scope_is_a_subtree(hall: Hall) -> None:
    hall.ok_issue("S-A1", who=f"kiosk:{COUNTY}", hall=COUNTY)
    # The city manager may act in the county below; the county manager not in the city above.
    r = hall.client.get(f"{API}/halls/{COUNTY}/snapshot", headers=hall.auth("m-city"))
    assert r.status_code == 200
    r = hall.client.get(f"{API}/halls/{CITY}/snapshot", headers=hall.auth("m-county"))
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.op(1, "pause", hall=COUNTY, who="m-city")
    assert r.status_code == 200 and r.json()["status"] == "paused"
    r = hall.op(1, "pause", who="m-county")
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    r = hall.client.get(f"{API}/halls/{CITY}/events", headers=hall.auth(f"display:{COUNTY}"))
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"


def test_login_logout_and_me(hall: Hall) -> None:
    r = hall.client.post(f"{API}/auth/login", json={"username": "c2", "password": "wrong"})
    assert r.status_code == 401 and error_code(r) == "auth.bad_credentials"
    r = hall.client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401 and error_code(r) == "auth.bad_credentials"
    r = hall.client.post(f"{API}/auth/login", json={"username": "c2", "password": PASSWORD})
    assert r.status_code == 422 and error_code(r) == "auth.window_required"
    r = hall.client.post(
        f"{API}/auth/login", json={"username": "c2", "password": PASSWORD, "window_id": hall.wid(1, COUNTY)}
    )
    assert r.status_code == 403 and error_code(r) == "auth.wrong_hall"
    seq = hall.last_seq()
    # c3 is signed in at window 3: c2 is refused there, c3's session goes on (one clerk per window).
    r = hall.client.post(
        f"{API}/auth/login", json={"username": "c2", "password": PASSWORD, "window_id": hall.wid(3)}
    )
    assert r.status_code == 409 and error_code(r) == "auth.window_occupied"
    assert "王五" in r.json()["error"]["message"] and "交接" in r.json()["error"]["message"]
    assert hall.client.get(f"{API}/auth/me", headers=hall.auth(f"clerk:{CITY}:3")).status_code == 200
    # A manager hands window 3 over: c3's session ends, and c2 may sit down.
    r = hall.client.post(
        f"{API}/windows/{hall.wid(3)}/hand-over", json={"reason": "换班"}, headers=hall.auth("m-city")
    )
    assert r.status_code == 200 and r.json()["ended"] == 1
    r = hall.client.post(
        f"{API}/auth/login", json={"username": "c2", "password": PASSWORD, "window_id": hall.wid(3)}
    )
    assert r.status_code == 200
    body = r.json()
    assert (
        body["role"] == "clerk"
        and body["window"]["number"] == 3
        and body["window"]["clerk"]["name"] == "李四"
    )
    assert "password" not in json.dumps(body) and "hash" not in json.dumps(body)
    new = {"Authorization": f"Bearer {body['token']}"}
    r = hall.op(3, "call-next", who=f"clerk:{CITY}:3")
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    me = hall.client.get(f"{API}/auth/me", headers=new).json()
    assert me["role"] == "clerk" and me["window_id"] == hall.wid(3) and me["user"]["username"] == "c2"
    assert hall.events(seq)[-1]["type"] == "clerk.logged_in"
    r = hall.client.post(f"{API}/auth/logout", headers=new)
    assert r.status_code == 204
    assert hall.client.get(f"{API}/auth/me", headers=new).status_code == 401
    ev = hall.events(seq)[-1]
    assert ev["type"] == "clerk.logged_out" and ev["payload"]["window"]["clerk"] is None
    # Without a clerk the window cannot call.
    hall.ok_issue("S-B1")
    r = hall.op(3, "call-next", who="m-city")
    assert r.status_code == 409 and error_code(r) == "window.no_clerk"


def test_manager_login_gets_a_manager_token(hall: Hall) -> None:
    r = hall.client.post(f"{API}/auth/login", json={"username": "m-county", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "manager" and r.json()["window"] is None


def test_token_cli_create_list_revoke(hall: Hall, capsys) -> None:
    args = ["--db", hall.db_url, "--data-dir", str(hall.data_dir)]
    assert cli_main(["token", "create", "--role", "kiosk", "--hall", COUNTY, *args]) == 0
    created = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert created["role"] == "kiosk" and len(created["token"]) > 30
    headers = {"Authorization": f"Bearer {created['token']}"}
    r = hall.client.post(f"{API}/halls/{COUNTY}/tickets", json={"service_code": "S-A1"}, headers=headers)
    assert r.status_code == 201
    assert cli_main(["token", "list", *args]) == 0
    listed = [
        json.loads(line) for line in capsys.readouterr().out.strip().splitlines() if line.startswith("{")
    ]
    mine = [t for t in listed if t["id"] == created["id"]]
    assert mine and mine[0]["revoked"] is False and "token" not in mine[0]
    assert created["token"] not in json.dumps(listed)
    assert cli_main(["token", "revoke", str(created["id"]), *args]) == 0
    r = hall.client.post(f"{API}/halls/{COUNTY}/tickets", json={"service_code": "S-A1"}, headers=headers)
    assert r.status_code == 401 and error_code(r) == "auth.invalid"
    assert cli_main(["token", "revoke", str(created["id"]), *args]) == 1
    assert cli_main(["token", "create", "--role", "kiosk", "--hall", "nope", *args]) == 2
    assert cli_main(["token", "create", "--role", "rating", "--hall", CITY, *args]) == 2  # needs --window


def test_tokens_are_stored_hashed(hall: Hall) -> None:
    from sqlalchemy import text

    with hall.ctx.db.read() as s:
        stored = [r[0] for r in s.execute(text("SELECT token_hash FROM api_tokens"))]
    for token in hall.tokens.values():
        assert token not in stored


def test_a_clerk_sits_at_one_window_only(hall: Hall) -> None:
    old = hall.auth(f"clerk:{CITY}:1")  # c1 at window 1
    # c3 leaves window 3 first (a window with a clerk signed in is refused to another clerk).
    assert hall.client.post(f"{API}/auth/logout", headers=hall.auth(f"clerk:{CITY}:3")).status_code == 204
    r = hall.client.post(
        f"{API}/auth/login", json={"username": "c1", "password": PASSWORD, "window_id": hall.wid(3)}
    )
    assert r.status_code == 200
    # The session at window 1 ended; window 1 has no clerk now.
    assert hall.client.get(f"{API}/auth/me", headers=old).status_code == 401
    w1 = hall.client.get(f"{API}/windows/{hall.wid(1)}", headers=hall.auth("admin")).json()
    assert w1["clerk"] is None
    # The log-in's own audit record (auth.login) comes just before clerk.logged_in.
    types = [e["type"] for e in hall.events(hall.last_seq() - 3)]
    assert types == ["clerk.logged_out", "auth.login", "clerk.logged_in"]
