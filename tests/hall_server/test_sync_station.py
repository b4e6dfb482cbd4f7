"""Station sync end to end: a real station (SQLite, in-process app with its sync thread) and a
real parent server (subprocess, on SQLite and on PostgreSQL), over HTTP. No mocks."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from hall_server.app import create_app
from hall_server.auth import create_token, revoke_token
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.engine import Database
from hall_server.db.models import Event, Window, WorkCalendarYear
from hall_server.migrate import upgrade
from hall_server.seed import seed
from hall_server.services import stations
from hall_server.sync import capture
from hall_server.sync.station import StationSync
from tests.fixtures.server import HallServer
from tests.hall_server.hs_city import COUNTY, PASSWORD, tiny_city

API = "/api/v1"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
VILLAGE = "t-village"
STATION = "st-village"


def city_data() -> dict[str, Any]:
    data = tiny_city()
    data["halls"].append(
        {
            "id": VILLAGE,
            "name": "测试村便民服务站",
            "short_name": "村站",
            "level": "village",
            "parent": COUNTY,
            "opening_hours": [],
            "policy": {"allow_anonymous": True, "per_person_daily_limit": 5},
            "groups": [{"prefix": "A", "name": "综合", "services": ["S-A1", "S-A2"]}],
            "windows": [{"number": 1, "name": "一体机窗口", "kind": "comprehensive", "groups": {"A": 1}}],
            "clerks": [{"username": "v1", "name": "村干部", "password": PASSWORD}],
        }
    )
    data["managers"].append({"username": "m-v", "name": "站长", "password": PASSWORD, "hall": VILLAGE})
    return data


@dataclass
class City:
    server: HallServer
    url: str
    bundle: dict[str, Any]
    bundle_path: Path
    tokens: dict[str, str]
    window: int

    @property
    def api(self) -> str:
        return self.server.api

    def get(self, path: str, who: str = "admin", **kw: Any) -> requests.Response:
        return requests.get(self.api + path, headers=_h(self.tokens[who]), timeout=30, **kw)

    def post(self, path: str, who: str = "admin", **kw: Any) -> requests.Response:
        return requests.post(self.api + path, headers=_h(self.tokens[who]), timeout=30, **kw)

    def db(self) -> Database:
        return Database(self.url, pool_size=1)

    def station(self) -> dict[str, Any]:
        rows = self.get("/stations").json()["stations"]
        return next(r for r in rows if r["id"] == STATION)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def city(
    request: pytest.FixtureRequest, tmp_path: Path, hall_server_proc: Callable[..., HallServer]
) -> Iterator[City]:
    """A parent server with the tiny city and a village station registered for t-village."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
        dropper: Callable[[], None] = lambda: None  # noqa: E731
    else:
        pg = request.getfixturevalue("pg_server")
        name = pg.create_database(f"city_{uuid.uuid4().hex[:10]}")
        url = pg.url(name)
        dropper = lambda: pg.drop_database(name)  # noqa: E731
    data_dir = tmp_path / "city"
    upgrade(url)
    ctx = ServerContext.create(Settings(data_dir=data_dir, db_url=url, data_key=KEY, pool_size=2))
    try:
        seed(ctx.db, city_data())
        bundle = stations.add_station(ctx.db, STATION, [VILLAGE], "测试村")
        with ctx.db.read() as s:
            window = s.execute(select(Window.id).where(Window.hall_id == VILLAGE)).scalar_one()
        tokens = {}
        with ctx.db.write() as s:
            tokens["admin"] = create_token(s, "admin")[1]
            tokens["kiosk"] = create_token(s, "kiosk", hall_id=VILLAGE)[1]
            tokens["kiosk2"] = create_token(s, "kiosk", hall_id=VILLAGE)[1]
            tokens["rating"] = create_token(s, "rating", window_id=window)[1]
            tokens["kiosk-county"] = create_token(s, "kiosk", hall_id=COUNTY)[1]
    finally:
        ctx.close()
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(bundle))
    env = {"HALL_DATA_KEY": KEY, "HALL_WORKER_SECONDS": "0.5", "HALL_AUDIT_VERIFY_SECONDS": "0"}
    server = hall_server_proc(url, data_dir, prepare=False, env=env)
    try:
        yield City(server, url, bundle, bundle_path, tokens, window)
    finally:
        server.kill()
        dropper()


@dataclass
class Station:
    client: TestClient
    ctx: ServerContext
    db_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def link(self, who: str = "kiosk") -> dict[str, Any]:
        r = self.client.get(f"{API}/sync/link", headers=_h(self.tokens[who]))
        assert r.status_code == 200, r.text
        return r.json()

    def state(self) -> Any:
        with self.ctx.db.read() as s:
            return s.execute(text("SELECT * FROM sync_state WHERE id = 1")).first()

    def issue(self, service: str = "S-A1") -> dict[str, Any]:
        r = self.client.post(
            f"{API}/halls/{VILLAGE}/tickets", json={"service_code": service}, headers=_h(self.tokens["kiosk"])
        )
        assert r.status_code == 201, r.text
        return r.json()

    def login(self, username: str, window: int | None = None) -> str:
        body: dict[str, Any] = {"username": username, "password": PASSWORD}
        if window is not None:
            body["window_id"] = window
        r = self.client.post(f"{API}/auth/login", json=body)
        assert r.status_code == 200, r.text
        return r.json()["token"]


@contextmanager
def run_station(city: City, root: Path, db_file: str = "station.sqlite3", **extra: Any) -> Iterator[Station]:
    data_dir = root / "station"
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / db_file
    settings = Settings(
        data_dir=data_dir,
        db_url=f"sqlite:///{db_path}",
        data_key=KEY,
        pool_size=3,
        parent_url=city.server.base_url,
        station_id=STATION,
        station_credential_file=city.bundle_path,
        sync_seconds=0.2,
        sync_timeout_s=2,
        worker_seconds=0,
        audit_verify_seconds=0,
        **extra,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        st = Station(client, app.state.ctx, db_path, dict(city.tokens))
        yield st


@contextmanager
def pulled_station(city: City, tmp_path: Path, **settings: Any) -> Iterator[StationSync]:
    """A station database set up and pulled from the city, driven by its sync code directly (no
    server, no sync thread: the test calls push_batch itself)."""
    data_dir = tmp_path / "station"
    url = f"sqlite:///{data_dir / 'station.sqlite3'}"
    data_dir.mkdir()
    upgrade(url)
    config = Settings(
        data_dir=data_dir,
        db_url=url,
        data_key=KEY,
        pool_size=2,
        parent_url=city.server.base_url,
        station_id=STATION,
        station_credential_file=city.bundle_path,
        worker_seconds=0,
        audit_verify_seconds=0,
        **settings,
    )
    ctx = ServerContext.create(config)
    try:
        sync = StationSync(ctx)
        capture.setup_station(ctx.db, config, sync.bundle)
        while sync.pull():  # the station's number, halls and tokens
            pass
        yield sync
    finally:
        ctx.close()


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last {last!r}")


def link_state(st: Station) -> str | None:
    """The station's link state, None while it has not pulled the city's tokens yet."""
    r = st.client.get(f"{API}/sync/link", headers=_h(st.tokens["kiosk"]))
    return r.json()["state"] if r.status_code == 200 else None


def synced(st: Station) -> bool:
    r = st.client.get(f"{API}/sync/link", headers=_h(st.tokens["kiosk"]))
    if r.status_code != 200:  # before the first pull the city's tokens are not here yet
        return False
    link = r.json()
    return link["state"] == "ok" and link["waiting"] == 0


def events_of(db: Database, stream: str, after: int = 0) -> list[tuple[int, str, str | None]]:
    with db.read() as s:
        rows = s.execute(
            select(Event.seq, Event.type, Event.hash)
            .where(Event.hall_id == stream, Event.seq > after)
            .order_by(Event.seq)
        ).all()
    return [(int(r.seq), r.type, r.hash) for r in rows]


# --- the tests -------------------------------------------------------------------------------------
def test_station_records_reach_the_city_with_identical_totals(city: City, tmp_path: Path) -> None:
    """Tickets, calls, a bad rating: the city's read endpoints and stats equal the station's; the
    follow-up case opened at the city gets a step there and the step shows at the station."""
    with run_station(city, tmp_path) as st:
        wait_until(lambda: st.state().config_version, what="first pull")
        assert st.link()["mode"] == "station" and st.link()["parent"] == "127.0.0.1"
        tickets = [st.issue() for _ in range(3)]
        assert all(t["id"] >= city.bundle["station_no"] * 10**10 for t in tickets)
        clerk = st.login("v1", city.window)
        w = f"{API}/windows/{city.window}"
        for action in ("call-next", "start", "finish"):
            r = st.client.post(f"{w}/{action}", headers=_h(clerk))
            assert r.status_code == 200, r.text
        body = {"ticket_id": tickets[0]["id"], "level": 1, "reasons": ["服务态度"], "channel": "device"}
        r = st.client.post(f"{API}/ratings", json=body, headers=_h(st.tokens["rating"]))
        assert r.status_code == 201, r.text
        for action in ("call-next", "no-show"):
            assert st.client.post(f"{w}/{action}", headers=_h(clerk)).status_code == 200
        wait_until(lambda: synced(st), what="everything acknowledged")

        # The same log, seq for seq and hash for hash.
        city_db = city.db()
        try:
            mine = events_of(st.ctx.db, VILLAGE)
            # The city keeps the hall's history from before the station (seed) below the base.
            assert mine and events_of(city_db, VILLAGE, mine[0][0] - 1) == mine
            assert events_of(city_db, "audit:" + VILLAGE)[-1] == events_of(st.ctx.db, "audit:" + VILLAGE)[-1]
        finally:
            city_db.dispose()
        # The city's read endpoints and statistics show the station's records.
        r = city.get(f"/tickets/{tickets[0]['id']}")
        assert r.status_code == 200 and r.json()["status"] == "finished", r.text
        mgr = st.login("m-v")
        wait_until(lambda: synced(st), what="the log-in acknowledged")
        info = city.station()
        assert info["waiting"] == 0 and info["silent"] is False and info["conflict"] is None
        assert info["applied"][VILLAGE] == events_of(st.ctx.db, VILLAGE)[-1][0]

        # The city opens the follow-up case of the bad rating and works it; the step comes down.
        case = wait_until(lambda: city.get(f"/halls/{VILLAGE}/followups").json(), what="case at the city")[0]
        r = city.post(f"/followups/{case['id']}/steps", json={"step": "verified", "note": "已核实"})
        assert r.status_code == 200, r.text

        def step_at_station() -> Any:
            r = st.client.get(f"{API}/followups/{case['id']}", headers=_h(mgr))
            return r.status_code == 200 and "verified" in [x["step"] for x in r.json().get("steps", [])]

        wait_until(step_at_station, what="the city's step at the station")
        # Statistics (tickets, ratings, the follow-up case) are the same on both sides.
        st_stats = st.client.get(f"{API}/halls/{VILLAGE}/stats", headers=_h(mgr))
        city_stats = city.get(f"/halls/{VILLAGE}/stats")
        assert st_stats.status_code == 200 and city_stats.status_code == 200, city_stats.text
        assert _totals(st_stats.json()) == _totals(city_stats.json())
        r = st.client.post(f"{API}/followups/{case['id']}/steps", json={"step": "answered"}, headers=_h(mgr))
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.managed_by_city"
        # The city's own events about the station's hall went to its own stream.
        city_db = city.db()
        try:
            assert any(t == "followup.step" for _, t, _ in events_of(city_db, VILLAGE + "@city"))
        finally:
            city_db.dispose()


def _totals(stats: dict[str, Any]) -> Any:
    keep = {k: v for k, v in stats.items() if k not in ("generated_at", "as_of", "now")}
    return json.dumps(keep, sort_keys=True, default=str)


def _fake_events(base: int, seqs: list[int], hall: str = VILLAGE) -> list[dict[str, Any]]:
    out = []
    for seq in seqs:
        out.append(
            {
                "hall_id": hall,
                "seq": seq,
                "type": "ticket.issued",
                "at": "2027-01-10T01:00:00+00:00",
                "actor_kind": "system",
                "actor_id": None,
                "payload": json.dumps({"n": seq}),
                "prev_hash": f"genesis:{hall}:{base}" if seq == base + 1 else f"sha256:{seq - 1:064x}",
                "hash": f"sha256:{seq:064x}",
            }
        )
    return out


def test_replay_gap_foreign_hall_epoch_rewind_and_revocation(city: City) -> None:
    """The parent's rules for a push, over HTTP with the station's credential."""
    cred = _h(city.bundle["credential"])
    pull = requests.get(city.api + "/sync/pull", headers=cred, timeout=30).json()
    assert pull["station_no"] == city.bundle["station_no"] and pull["halls"] == [VILLAGE]
    assert pull["config"]["halls"][0]["id"] == "t-city"  # ancestors first
    base = pull["bases"][VILLAGE]
    epoch = "e" * 32

    def push(events: list[dict[str, Any]], **kw: Any) -> requests.Response:
        body = {"station_id": STATION, "epoch": kw.pop("epoch", epoch), "events": events, **kw}
        return requests.post(city.api + "/sync/push", json=body, headers=kw.pop("headers", cred), timeout=30)

    r = push(_fake_events(base, [base + 1, base + 2]))
    assert r.status_code == 200 and r.json()["applied"][VILLAGE] == base + 2, r.text
    city_db = city.db()
    try:
        before = events_of(city_db, VILLAGE)
        r = push(_fake_events(base, [base + 1, base + 2]))  # a replay is a no-op
        assert r.status_code == 200 and r.json()["applied"][VILLAGE] == base + 2
        assert events_of(city_db, VILLAGE) == before
        r = push(_fake_events(base, [base + 4]))  # a gap is refused with the seq to resend from
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.gap"
        assert r.json()["error"]["detail"]["expected"] == base + 3
        # A hall the station does not own: 403 and nothing of the batch applied.
        r = push(_fake_events(base, [base + 3]) + _fake_events(0, [1], hall=COUNTY))
        assert r.status_code == 403 and r.json()["error"]["code"] == "sync.wrong_hall"
        assert events_of(city_db, VILLAGE) == before
        # A row outside the station's id range (a city row) is refused too.
        row = {"id": 5, "hall_id": VILLAGE}
        r = push([], rows={"ratings": [row]})
        assert r.status_code in (403, 422), r.text
        # A different epoch once the stream made progress: refused, and shown on the station list.
        r = push(_fake_events(base, [base + 3]), epoch="f" * 32)
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.epoch_changed"
        assert city.station()["conflict"] == "epoch_changed"
        assert events_of(city_db, VILLAGE) == before
        # The same epoch with a head below what was applied: a restored backup.
        r = push([], heads={VILLAGE: base + 1})
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.rewound"
        # The recovered stream goes on from the expected seq.
        r = push(_fake_events(base, [base + 3]), heads={VILLAGE: base + 3})
        assert r.status_code == 200 and r.json()["applied"][VILLAGE] == base + 3, r.text
        assert city.station()["conflict"] is None
    finally:
        city_db.dispose()
    # Other principals may not sync; no token is 401.
    r = requests.post(
        city.api + "/sync/push",
        json={"station_id": STATION, "epoch": epoch},
        headers=_h(city.tokens["kiosk"]),
        timeout=30,
    )
    assert r.status_code == 403
    r = requests.get(city.api + "/sync/pull", timeout=30)
    assert r.status_code == 401
    db = city.db()
    try:
        stations.revoke_station(db, STATION)
    finally:
        db.dispose()
    r = push([])
    assert r.status_code == 401 and r.json()["error"]["code"] == "sync.revoked"


def test_city_config_reaches_the_station_in_one_round(city: City, tmp_path: Path) -> None:
    """A renamed service item and a revoked token: at the station within a round; the token stops."""
    with run_station(city, tmp_path) as st:
        wait_until(lambda: st.state().config_version, what="first pull")
        url = f"{API}/halls/{VILLAGE}/tickets"
        r = st.client.post(url, json={"service_code": "S-A1"}, headers=_h(st.tokens["kiosk2"]))
        assert r.status_code == 201, r.text
        version = st.state().config_version
        db = city.db()
        try:
            with db.write() as s:
                s.execute(text("UPDATE service_items SET name = '社保卡申领（新）' WHERE code = 'S-A1'"))
                # A year of the calendar the city checked: stations count deadlines with it too.
                s.add(
                    WorkCalendarYear(
                        region="CN",
                        year=2031,
                        data={"holidays": [{"name": "元旦", "days": ["2031-01-01"]}]},
                        verified=True,
                        updated_at=datetime.now(UTC),
                        updated_by="test",
                    )
                )
                tid = s.execute(
                    text(
                        "SELECT id FROM api_tokens WHERE hall_id = :h AND role = 'kiosk' ORDER BY id DESC LIMIT 1"
                    ),
                    {"h": VILLAGE},
                ).scalar()
                assert revoke_token(s, int(tid))
        finally:
            db.dispose()
        wait_until(lambda: st.state().config_version != version, timeout=10, what="the new configuration")
        r = st.client.post(url, json={"service_code": "S-A1"}, headers=_h(st.tokens["kiosk2"]))
        assert r.status_code == 401, r.text
        with st.ctx.db.read() as s:
            assert (
                s.execute(text("SELECT name FROM service_items WHERE code = 'S-A1'")).scalar()
                == "社保卡申领（新）"
            )
            cal = s.execute(text("SELECT verified FROM work_calendars WHERE year = 2031")).scalar()
            assert cal in (True, 1)
        # The city owns the configuration: the station refuses to change it.
        mgr = st.login("m-v")
        r = st.client.put(f"{API}/halls/{VILLAGE}/ext-settings", json={}, headers=_h(mgr))
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.managed_by_city"
        for path, body in (
            (f"/halls/{VILLAGE}/rules", {"notices": ["x"]}),
            (f"/halls/{VILLAGE}/services/S-A1/guide", {"location": "村委会一楼"}),
        ):
            r = st.client.put(f"{API}{path}", json=body, headers=_h(mgr))
            assert r.status_code == 409 and r.json()["error"]["code"] == "sync.managed_by_city", path


def test_staff_number_and_photo_reach_the_station(city: City, tmp_path: Path) -> None:
    """The village clerk's 工号 and photo, set at the city, show on the station's rating device (the
    photo travels as ciphertext under the shared data key); the station cannot change them."""
    import base64
    import io

    from PIL import Image

    from tests.fixtures.photos import BLUE, near, portrait

    admin = _h(city.tokens["admin"])
    v1 = next(u for u in city.get("/staff", params={"hall_id": VILLAGE}).json() if u["username"] == "v1")
    r = requests.patch(
        f"{city.api}/staff/{v1['id']}", json={"staff_number": "V-001"}, headers=admin, timeout=30
    )
    assert r.status_code == 200, r.text
    r = requests.put(
        f"{city.api}/staff/{v1['id']}/photo",
        data=portrait(BLUE),
        headers={**admin, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["has_photo"], r.text
    with run_station(city, tmp_path) as st:
        wait_until(lambda: st.state().config_version, what="first pull")
        st.login("v1", city.window)
        r = st.client.get(f"{API}/windows/{city.window}/clerk", headers=_h(st.tokens["rating"]))
        assert r.status_code == 200, r.text
        clerk = r.json()["clerk"]
        assert (clerk["name"], clerk["staff_number"]) == ("村干部", "V-001")
        with Image.open(io.BytesIO(base64.b64decode(clerk["photo_jpeg"]))) as img:
            assert near(img.convert("RGB").getpixel((img.width // 2, img.height // 2)), BLUE)
        mgr = st.login("m-v")
        r = st.client.put(
            f"{API}/staff/{v1['id']}/photo",
            content=portrait(),
            headers={**_h(mgr), "Content-Type": "image/jpeg"},
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "sync.managed_by_city"


def test_link_down_keeps_serving_then_catches_up(city: City, tmp_path: Path) -> None:
    """With the parent gone the station serves and counts what waits; it all goes up later."""
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        city.server.kill()
        for _ in range(3):
            st.issue()
        link = wait_until(lambda: (lk := st.link())["state"] == "down" and lk, timeout=20, what="link down")
        assert link["waiting"] >= 3 and link["error_code"] == "sync.unreachable"
        assert link["message"] and link["message_en"]
        city.server.restart()
        wait_until(lambda: synced(st), timeout=45, what="catching up")
        db = city.db()
        try:
            mine = events_of(st.ctx.db, VILLAGE)
            assert events_of(db, VILLAGE, mine[0][0] - 1) == mine
        finally:
            db.dispose()


def test_restored_backup_and_second_machine_are_refused(city: City, tmp_path: Path) -> None:
    """A station database put back to an older copy is detected (rewound); a fresh database with
    the same identity (another epoch) is refused (epoch_conflict); neither is merged."""
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        st.issue()
        wait_until(lambda: synced(st), what="first ticket up")
        backup = tmp_path / "backup.sqlite3"
        with sqlite3.connect(st.db_path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        st.issue()
        st.issue()
        wait_until(lambda: synced(st), what="more tickets up")
        db_path = st.db_path
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db_path)
    with run_station(city, tmp_path) as st:
        link = wait_until(lambda: (lk := st.link())["state"] == "rewound" and lk, what="rewound")
        assert link["error_code"] == "sync.rewound"
    assert city.station()["conflict"] == "rewound"
    with run_station(city, tmp_path / "second", db_file="other.sqlite3") as st2:
        # Its devices' tokens arrive with its first pull: until then its own server refuses them.
        wait_until(lambda: link_state(st2) == "epoch_conflict", what="epoch conflict")
    assert city.station()["conflict"] == "epoch_changed"


def test_revoked_station_shows_revoked(city: City, tmp_path: Path) -> None:
    with run_station(city, tmp_path) as st:
        wait_until(lambda: synced(st), what="first round")
        db = city.db()
        try:
            stations.revoke_station(db, STATION)
        finally:
            db.dispose()
        link = wait_until(lambda: (lk := st.link())["state"] == "revoked" and lk, what="revoked")
        assert link["error_code"] == "sync.revoked"
        assert city.station()["revoked"] is True


def _ticket_image(ticket_id: int, **over: Any) -> dict[str, Any]:
    image = {
        "id": ticket_id,
        "hall_id": VILLAGE,
        "business_day": "2027-01-10",
        "prefix": "A",
        "seq": ticket_id % 1000,
        "number": f"A{ticket_id % 1000:03d}",
        "group_prefix": "A",
        "service_code": "S-A1",
        "status": "waiting",
        "priority": False,
        "channel": "kiosk",
        "issued_at": "2027-01-10T01:00:00+00:00",
        "recall_count": 0,
        "transfer_count": 0,
        "track_token": f"t{ticket_id}",
        "id_enc": "AAEC/w==",
    }
    return {**image, **over}


def test_a_catch_up_batch_is_checked_whole_and_stored_as_sent(city: City) -> None:
    """A big batch (past the per-event path): a payload that is not JSON, or a bad row value,
    refuses the whole push with nothing applied; a good one is stored exactly as sent (times
    in UTC, binary columns as bytes, a time without an offset taken as UTC)."""
    cred = _h(city.bundle["credential"])
    base = requests.get(city.api + "/sync/pull", headers=cred, timeout=30).json()["bases"][VILLAGE]
    lo = city.bundle["station_no"] * 10**10
    events = _fake_events(base, list(range(base + 1, base + 301)))

    def push(events: list[dict[str, Any]], rows: dict[str, Any]) -> requests.Response:
        body = {"station_id": STATION, "epoch": "e" * 32, "events": events, "rows": rows}
        return requests.post(city.api + "/sync/push", json=body, headers=cred, timeout=60)

    broken = [dict(e) for e in events]
    broken[250]["payload"] = "{not json"
    r = push(broken, {"tickets": [_ticket_image(lo + 1)]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "sync.bad_row", r.text
    r = push(events, {"tickets": [_ticket_image(lo + 1, priority="yes")]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "sync.bad_row", r.text
    r = push(events, {"tickets": [_ticket_image(lo + 1, number="A" * 17)]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "sync.bad_row", r.text
    db = city.db()
    try:
        assert events_of(db, VILLAGE, base) == []
        naive = _ticket_image(lo + 2, issued_at="2027-01-10T02:00:00", id_enc=None)
        r = push(events, {"tickets": [_ticket_image(lo + 1), naive]})
        assert r.status_code == 200 and r.json()["applied"][VILLAGE] == base + 300, r.text
        stored = events_of(db, VILLAGE, base)
        assert [(seq, h) for seq, _type, h in stored] == [(e["seq"], e["hash"]) for e in events]
        with db.read() as s:
            got = {
                r.id: r
                for r in s.execute(
                    text("SELECT id, issued_at, id_enc, number FROM tickets WHERE id IN (:a, :b)"),
                    {"a": lo + 1, "b": lo + 2},
                )
            }
            payloads = [
                r[0]
                for r in s.execute(
                    text("SELECT payload FROM events WHERE hall_id = :h AND seq > :b ORDER BY seq"),
                    {"h": VILLAGE, "b": base},
                )
            ]
        assert payloads == [e["payload"] for e in events]  # the text the hash covers, as sent
        assert bytes(got[lo + 1].id_enc) == b"\x00\x01\x02\xff" and got[lo + 2].id_enc is None
        first, second = (got[k].issued_at for k in (lo + 1, lo + 2))
        as_utc = [
            t if isinstance(t, str) else t.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
            for t in (first, second)
        ]
        assert as_utc[0].startswith("2027-01-10 01:00:00") and as_utc[1].startswith("2027-01-10 02:00:00")
        # The same batch again is a replay: nothing changes.
        r = push(events, {"tickets": [_ticket_image(lo + 1), naive]})
        assert r.status_code == 200 and events_of(db, VILLAGE, base) == stored
    finally:
        db.dispose()
