"""Harness of the station-sync fault tests and benchmarks: a real city server (PostgreSQL or
SQLite), a station registered with `hall-server station add`, a real station server (SQLite)
whose HALL_PARENT_URL points at a FaultProxy in front of the city, and counts of both sides.

Everything runs as `hall-server serve` subprocesses (tests/fixtures/server.py), so a station or
the city can be killed -9 and started again on the same database.

    with FaultProxy(city.address) as proxy:
        st = start_station(factory, city, proxy.url, tmp_path)
        st.issue(); proxy.refuse(); ...; proxy.restore()
        wait_caught_up(st)
        assert_same_records(st)
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine

from hall_server.api.deps import lookup
from hall_server.api.schemas import IssueIn, RatingIn
from hall_server.api.tickets import issue_input
from hall_server.auth import Principal, create_token
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.engine import Database
from hall_server.services import ratings, stations, tickets, windows
from tests.fixtures.server import HOST, HallServer, HallServerFactory, prepare_database, run_cli
from tests.hall_server.hs_city import COUNTY, PASSWORD, tiny_city
from tests.support.netfault import FaultProxy
from tests.support.waiting import wait_until

VILLAGE = "t-village"  # the village halls are t-village-1, t-village-2 ...
STATION = "st-village"  # ... served by the stations st-village-1, st-village-2 ...
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
AUDIT = "audit:"
# The station's round: fast in tests; every request to the parent times out after SYNC_TIMEOUT_S.
SYNC_SECONDS = 0.2
SYNC_TIMEOUT_S = 2.0
# The longest back-off between failed rounds (30 s in production): a restored link is used soon.
SYNC_BACKOFF_MAX_S = 2.0
CATCH_UP_S = 60.0


def village_hall(n: int) -> dict[str, Any]:
    """Village hall n: one group, one window, a clerk v<n> and a manager m-v<n>."""
    return {
        "id": f"{VILLAGE}-{n}",
        "name": f"测试村{n}便民服务站",
        "short_name": f"村站{n}",
        "level": "village",
        "parent": COUNTY,
        "opening_hours": [],
        "policy": {"allow_anonymous": True, "per_person_daily_limit": 5},
        "groups": [{"prefix": "A", "name": "综合", "services": ["S-A1", "S-A2"]}],
        "windows": [{"number": 1, "name": "一体机窗口", "kind": "comprehensive", "groups": {"A": 1}}],
        "clerks": [{"username": f"v{n}", "name": f"村干部{n}", "password": PASSWORD}],
    }


def city_data(villages: int = 1) -> dict[str, Any]:
    """The tiny city (tests/hall_server/hs_city.py) with village halls below its county."""
    data = tiny_city()
    for n in range(1, villages + 1):
        data["halls"].append(village_hall(n))
        data["managers"].append(
            {"username": f"m-v{n}", "name": f"站长{n}", "password": PASSWORD, "hall": f"{VILLAGE}-{n}"}
        )
    return data


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


def login(api: str, username: str) -> str:
    """A session token of a user of the tiny city (every one has PASSWORD) at a server's API."""
    r = requests.post(api + "/auth/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def noise_jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG of noise (width, height): every seed another photo, and it hardly compresses."""
    import numpy as np  # only the photo tests need them, not the benchmarks using this harness
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def document_blob(engine: Engine, document_id: int) -> bytes | None:
    """A document's stored photo as the server keeps it (ciphertext; b"" not yet received; None: no row)."""
    with engine.connect() as conn:
        blob = conn.execute(
            text("SELECT data_enc FROM ticket_documents WHERE id = :i"), {"i": document_id}
        ).scalar()
    return None if blob is None else bytes(blob)


def has_ticket(engine: Engine, ticket_id: int) -> bool:
    """Whether the server's database holds the ticket."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1 FROM tickets WHERE id = :i"), {"i": ticket_id}).first() is not None


def wait_photo(api: str, document_id: int, token: str, timeout_s: float, message: str) -> requests.Response:
    """GET /documents/{id} until it answers 200 (the photo has reached that server); the answer."""

    def fetched() -> requests.Response | None:
        r = requests.get(f"{api}/documents/{document_id}", headers=bearer(token), timeout=10)
        return r if r.status_code == 200 else None

    got: requests.Response = wait_until(fetched, timeout_s, message=message)
    return got


# --- the city ----------------------------------------------------------------------------------
@dataclass
class Village:
    """A village hall, the station registered for it, its setup bundle and its tokens."""

    n: int
    window: int
    tokens: dict[str, str]
    bundle: dict[str, Any] = field(default_factory=dict)
    bundle_path: Path | None = None

    @property
    def hall(self) -> str:
        return f"{VILLAGE}-{self.n}"

    @property
    def station_id(self) -> str:
        return f"{STATION}-{self.n}"

    @property
    def clerk(self) -> str:
        return f"v{self.n}"

    @property
    def manager(self) -> str:
        return f"m-v{self.n}"

    @property
    def streams(self) -> tuple[str, str]:
        """The event logs the station sends: the hall's and its audit stream."""
        return self.hall, AUDIT + self.hall


@dataclass
class City:
    """The parent server with its village halls, each registered for a station."""

    server: HallServer
    backend: str
    admin: str
    villages: list[Village]
    taken: int = 0
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.server.db_url

    @property
    def address(self) -> tuple[str, int]:
        """Where the fault proxy forwards to."""
        return HOST, self.server.port

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.url, pool_size=1, max_overflow=1)
        return self._engine

    def take(self) -> Village:
        """The next village nobody used yet (a test shares the city, never a village)."""
        if self.taken >= len(self.villages):
            raise RuntimeError(f"all {len(self.villages)} villages of this city are used; make more")
        self.taken += 1
        return self.villages[self.taken - 1]

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.server.api + path, headers=bearer(self.admin), timeout=30, **kw)

    def station_row(self, station_id: str) -> dict[str, Any]:
        """The station as GET /stations shows it."""
        r = self.get("/stations")
        assert r.status_code == 200, r.text
        return next(x for x in r.json()["stations"] if x["id"] == station_id)

    def cli(self, *args: str) -> str:
        return self.server.cli(*args).stdout

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def city_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "HALL_DATA_KEY": KEY,
        "HALL_WORKER_SECONDS": "0",
        "HALL_AUDIT_VERIFY_SECONDS": "0",
        **(extra or {}),
    }


def start_city(
    factory: HallServerFactory,
    root: Path,
    backend: str = "sqlite",
    pg_server: Any = None,
    villages: int = 1,
    cli_add: int = 1,
    env: dict[str, str] | None = None,
    relays: dict[int, int] | None = None,
) -> City:
    """Seed a city (PostgreSQL on pg_server, else SQLite) with village halls, register a station
    for each (the first cli_add with `hall-server station add --out`, the others through the same
    use case in-process, which is quicker), make the villages' tokens and start the city server.
    relays {n: m}: village n's station reaches the city through village m's (`--via`)."""
    relays = relays or {}
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "city"
    if backend == "postgres":
        url = pg_server.url(pg_server.create_database(f"city_{uuid.uuid4().hex[:10]}"))
    else:
        url = f"sqlite:///{root / 'city.sqlite3'}"
    envs = city_env(env)
    seed_file = root / "city.json"
    seed_file.write_text(json.dumps(city_data(villages), ensure_ascii=False), encoding="utf-8")
    prepare_database(url, data_dir, seed_file, env=envs)
    db = Database(url, pool_size=1)
    out: list[Village] = []
    try:
        with db.write() as s:
            admin = create_token(s, "admin")[1]
            for n in range(1, villages + 1):
                hall = f"{VILLAGE}-{n}"
                window = int(
                    s.execute(text("SELECT id FROM windows WHERE hall_id = :h"), {"h": hall}).scalar_one()
                )
                tokens = {
                    "kiosk": create_token(s, "kiosk", hall_id=hall)[1],
                    "display": create_token(s, "display", hall_id=hall)[1],
                    "rating": create_token(s, "rating", window_id=window)[1],
                }
                out.append(Village(n, window, tokens))
        _forget_village_logs(db, [v.hall for v in out])
        for v in out:
            v.bundle_path = root / f"bundle-{v.n}.json"
            via = ["--via", f"{STATION}-{relays[v.n]}"] if v.n in relays else []
            if v.n <= cli_add:
                run_cli(
                    "station", "add", v.station_id, "--halls", v.hall, "--name", f"测试村{v.n}",
                    "--out", str(v.bundle_path), *via, db_url=url, data_dir=data_dir, env=envs,
                )  # fmt: skip
                v.bundle = json.loads(v.bundle_path.read_text(encoding="utf-8"))
            else:
                v.bundle = stations.add_station(
                    db, v.station_id, [v.hall], f"测试村{v.n}", via=via[1] if via else None
                )
                v.bundle_path.write_text(json.dumps(v.bundle), encoding="utf-8")
    finally:
        db.dispose()
    server = factory(url, data_dir, prepare=False, env=envs)
    return City(server, backend, admin, out)


def _forget_village_logs(db: Database, halls: list[str]) -> None:
    """Empty the village halls' logs at the city before their stations take them over.

    `hall-server seed` writes one hall.updated event per hall, and `station add` (as of the sync
    core commit) refuses a hall whose log the city already has ("the hall already has events
    here"): the station starts the log at seq 1. A hall created for its station is in that
    state. Harmless once the city continues such a log after its end (the sync branch's bases).
    """
    streams = [x for h in halls for x in (h, AUDIT + h)]
    with db.write() as s:
        for table in ("events", "hall_seq"):
            s.execute(
                text(f"DELETE FROM {table} WHERE hall_id IN :h").bindparams(bindparam("h", expanding=True)),
                {"h": streams},
            )


# --- the station -------------------------------------------------------------------------------
@dataclass
class Station:
    """A station server (SQLite) of one village; the village's tokens reach it with the first pull."""

    server: HallServer
    city: City
    village: Village
    clerk_token: str | None = None
    http: requests.Session = field(default_factory=requests.Session)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def hall(self) -> str:
        return self.village.hall

    @property
    def db_path(self) -> Path:
        return Path(self.server.db_url.removeprefix("sqlite:///"))

    @property
    def tokens(self) -> dict[str, str]:
        return self.village.tokens

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.server.db_url, pool_size=1, max_overflow=1)
        return self._engine

    def link(self) -> dict[str, Any]:
        """GET /sync/link (the village screen's view of the link)."""
        r = self.http.get(self.server.api + "/sync/link", headers=bearer(self.tokens["kiosk"]), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def token_status(self, token: str) -> int:
        """The HTTP status GET /sync/link answers a token with here (200 known, 401 not or revoked)."""
        return self.http.get(self.server.api + "/sync/link", headers=bearer(token), timeout=10).status_code

    def issue(self, service: str = "S-A1", timeout: float = 10) -> dict[str, Any]:
        r = self.http.post(
            f"{self.server.api}/halls/{self.hall}/tickets",
            json={"service_code": service},
            headers=bearer(self.tokens["kiosk"]),
            timeout=timeout,
        )
        assert r.status_code == 201, r.text
        return r.json()

    def login_clerk(self) -> str:
        """Log the clerk in at the village's window and open it if it is closed."""
        r = self.http.post(
            self.server.api + "/auth/login",
            json={"username": self.village.clerk, "password": PASSWORD, "window_id": self.village.window},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        self.clerk_token = token = r.json()["token"]
        # A window that came down from the city starts closed (as of the sync core commit).
        r = self.http.get(
            f"{self.server.api}/windows/{self.village.window}", headers=bearer(token), timeout=10
        )
        if r.status_code == 200 and r.json().get("status") == "closed":
            self.window_post("open")
        return token

    def manager_token(self) -> str:
        r = self.http.post(
            self.server.api + "/auth/login",
            json={"username": self.village.manager, "password": PASSWORD},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def window_post(self, action: str, body: dict[str, Any] | None = None, timeout: float = 10) -> Any:
        """POST /windows/{window}/{action} as the clerk; returns the answer's JSON."""
        token = self.clerk_token or self.login_clerk()
        r = self.http.post(
            f"{self.server.api}/windows/{self.village.window}/{action}",
            json=body,
            headers=bearer(token),
            timeout=timeout,
        )
        assert r.status_code == 200, f"{action}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def call_next(self) -> dict[str, Any]:
        return self.window_post("call-next")

    def keep_photo(self, data: bytes) -> tuple[int, int]:
        """A ticket issued and called at the village's window, a photo kept with it, the window
        freed again: (ticket id, document id)."""
        self.issue()
        called = self.call_next()
        r = self.http.post(
            f"{self.server.api}/tickets/{called['id']}/documents",
            data=data,
            headers={**bearer(self.clerk_token or self.login_clerk()), "Content-Type": "image/jpeg"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        self.window_post("start")
        self.window_post("finish")
        return int(called["id"]), int(r.json()["id"])

    def next(self, ticket_id: int, close: str = "finish") -> dict[str, Any]:
        """下一位: close the ticket in hand and call the next."""
        return self.window_post("next", {"close": close, "ticket_id": ticket_id})

    def rate(self, ticket_id: int, level: int = 5) -> dict[str, Any]:
        body: dict[str, Any] = {"ticket_id": ticket_id, "level": level, "channel": "device"}
        if level <= 2:
            body["reasons"] = ["服务态度"]
        r = self.http.post(
            self.server.api + "/ratings", json=body, headers=bearer(self.tokens["rating"]), timeout=10
        )
        assert r.status_code == 201, r.text
        return r.json()

    def start_service(self) -> Any:
        return self.window_post("start")

    def serve_some(
        self, tickets: int, rate_every: int = 3, no_show_every: int = 10, chunk: int | None = None
    ) -> list[int]:
        """Serve tickets over HTTP (see work_the_queue); returns the ticket ids."""
        return work_the_queue(self, tickets, rate_every, no_show_every, chunk)

    def state(self) -> Any:
        """The station's sync_state row, read from its database."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT * FROM sync_state WHERE id = 1")).first()

    def close(self) -> None:
        self.http.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class Desk(Protocol):
    """A station's kiosk, window and rating device: over HTTP (Station) or in-process (LocalDesk)."""

    def issue(self) -> dict[str, Any]: ...
    def call_next(self) -> dict[str, Any]: ...
    def start_service(self) -> Any: ...
    def next(self, ticket_id: int, close: str = "finish") -> dict[str, Any]: ...
    def rate(self, ticket_id: int, level: int = 5) -> dict[str, Any]: ...


def work_the_queue(
    desk: Desk, tickets: int, rate_every: int = 3, no_show_every: int = 10, chunk: int | None = None
) -> list[int]:
    """Issue tickets and work them all at the window (called, started, 下一位 finishes it and
    calls the next), chunk at a time (default: all issued first); the n-th ticket called is
    a no-show if n % no_show_every == 0, else finished and rated if n % rate_every == 0
    (rated 1, which opens a follow-up case at the city, if n % (4 * rate_every) == 0).
    Returns the ticket ids."""
    ids: list[int] = []
    n = 0
    while len(ids) < tickets:
        ids += [int(desk.issue()["id"]) for _ in range(min(chunk or tickets, tickets - len(ids)))]
        current: dict[str, Any] | None = desk.call_next()
        while current is not None:
            n += 1
            tid = int(current["id"])
            if n % no_show_every == 0:
                current = desk.next(tid, close="no_show")["called"]
                continue
            desk.start_service()
            current = desk.next(tid)["called"]
            if n % rate_every == 0:
                desk.rate(tid, level=1 if n % (rate_every * 4) == 0 else 5)
    return ids


@dataclass
class LocalDesk:
    """The station's kiosk, window and rating device as the server's own use cases, called in
    this process on the station's database while its server runs (the capture triggers record
    what any process writes, so the server sends it up as its own). The same records as over
    HTTP, without a request's round trip through the server process."""

    ctx: ServerContext
    station: Station
    kiosk: Principal
    clerk: Principal
    rating_device: Principal

    @classmethod
    @contextlib.contextmanager
    def open(cls, st: Station) -> Iterator[LocalDesk]:
        """The desk of a running station whose clerk is logged in at the window (opened)."""
        token = st.clerk_token or st.login_clerk()
        settings = Settings(data_dir=st.server.data_dir, db_url=st.server.db_url, data_key=KEY, pool_size=2)
        ctx = ServerContext.create(settings)
        try:
            yield cls(
                ctx,
                st,
                lookup(ctx, st.tokens["kiosk"]),
                lookup(ctx, token),
                lookup(ctx, st.tokens["rating"]),
            )
        finally:
            ctx.close()

    def issue(self) -> dict[str, Any]:
        req = issue_input(IssueIn(service_code="S-A1"), None)
        return tickets.issue_ticket(self.ctx, self.kiosk, self.station.hall, req)[0]

    def call_next(self) -> dict[str, Any]:
        return windows.call_next(self.ctx, self.clerk, self.station.village.window)

    def start_service(self) -> Any:
        return windows.start(self.ctx, self.clerk, self.station.village.window)

    def next(self, ticket_id: int, close: str = "finish") -> dict[str, Any]:
        return windows.next_ticket(
            self.ctx, self.clerk, self.station.village.window, close=close, ticket_id=ticket_id
        )

    def rate(self, ticket_id: int, level: int = 5) -> dict[str, Any]:
        body = RatingIn(ticket_id=ticket_id, level=level, reasons=["服务态度"] if level <= 2 else [])
        wire = ratings.RatingInputWire(
            ticket_id=body.ticket_id,
            level=body.level,
            reasons=body.reasons,
            text=body.text,
            channel=body.channel,
            prompted=body.prompted,
        )
        return ratings.record_rating(self.ctx, self.rating_device, wire)[0]


def station_env(village: Village, parent_url: str, **extra: Any) -> dict[str, str]:
    """The HALL_* variables of village's station behind parent_url (a FaultProxy's url);
    extra settings as keywords (sync_timeout_s=1 -> HALL_SYNC_TIMEOUT_S=1)."""
    env = {
        "HALL_DATA_KEY": KEY,
        "HALL_PARENT_URL": parent_url,
        "HALL_STATION_ID": village.station_id,
        "HALL_STATION_CREDENTIAL_FILE": str(village.bundle_path),
        "HALL_SYNC_SECONDS": str(SYNC_SECONDS),
        "HALL_SYNC_TIMEOUT_S": str(SYNC_TIMEOUT_S),
        "HALL_SYNC_BACKOFF_MAX_S": str(SYNC_BACKOFF_MAX_S),
        "HALL_WORKER_SECONDS": "0",
        "HALL_AUDIT_VERIFY_SECONDS": "0",
    }
    env.update({f"HALL_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def start_station(
    factory: HallServerFactory,
    city: City,
    parent_url: str,
    root: Path,
    village: Village | None = None,
    name: str = "station",
    wait_first_round: bool = True,
    **extra: Any,
) -> Station:
    """A station server on a fresh SQLite database in root/name for village (default: the city's
    next unused one), syncing with parent_url; extra settings as keywords (see station_env)."""
    village = village or city.take()
    data_dir = root / name
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'station.sqlite3'}"
    # `serve` brings the schema up itself.
    server = factory(url, data_dir, prepare=False, env=station_env(village, parent_url, **extra))
    st = Station(server, city, village)
    if wait_first_round:
        wait_until(
            lambda: link_state(st) == "ok", CATCH_UP_S, message="the station's first round with the city"
        )
    return st


@contextmanager
def station_chain(
    factory: HallServerFactory, root: Path, pg_server: Any, names: list[str]
) -> Iterator[tuple[City, list[Station], list[FaultProxy]]]:
    """The city on PostgreSQL and one station per name, each behind the one before it (the
    first behind the city) through a fault proxy of its own: (city, stations, proxies), the
    proxy in front of the city first. Everything is stopped afterwards, also after a failed start."""
    n = len(names)
    # Village k's station reaches the city through village k-1's (the first directly).
    city = start_city(
        factory, root, "postgres", pg_server, villages=n, relays={k + 1: k for k in range(1, n)}
    )
    stations: list[Station] = []
    proxies: list[FaultProxy] = []
    try:
        parent = city.address
        for village, name in zip(city.villages, names, strict=True):
            proxies.append(FaultProxy(parent).start())
            stations.append(start_station(factory, city, proxies[-1].url, root, village=village, name=name))
            parent = (HOST, stations[-1].server.port)
        yield city, stations, proxies
    finally:
        for st in reversed(stations):
            st.server.kill()
            st.close()
        for proxy in proxies:
            proxy.close()
        city.close()


def link_state(st: Station) -> str | None:
    """The link state the station shows (None while it has no tokens yet, or is down itself)."""
    try:
        r = st.http.get(st.server.api + "/sync/link", headers=bearer(st.tokens["kiosk"]), timeout=10)
    except requests.RequestException:
        return None
    return r.json().get("state") if r.status_code == 200 else None


def caught_up(st: Station) -> bool:
    """The link is ok and nothing waits (every event and row acknowledged by the city)."""
    link = st.link()
    return link["state"] == "ok" and link["waiting"] == 0


def wait_caught_up(st: Station, timeout_s: float = CATCH_UP_S) -> dict[str, Any]:
    """Wait until the station has sent everything; returns its link view."""
    return wait_until(lambda: caught_up(st) and st.link(), timeout_s, message="the station caught up")


# --- counting both sides -----------------------------------------------------------------------
def stream_counts(engine: Engine, stream: str, above: int = 0) -> dict[str, int]:
    """Events of a stream above a seq: how many, distinct seqs, lowest and highest seq."""
    with engine.connect() as conn:
        r = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT seq), coalesce(min(seq), 0), coalesce(max(seq), 0) "
                "FROM events WHERE hall_id = :h AND seq > :a"
            ),
            {"h": stream, "a": above},
        ).one()
    return {"count": int(r[0]), "distinct": int(r[1]), "min": int(r[2]), "max": int(r[3])}


def stream_events(engine: Engine, stream: str, above: int = 0) -> list[tuple[int, str, str | None]]:
    """(seq, type, hash) of a stream's events above a seq, in seq order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq, type, hash FROM events WHERE hall_id = :h AND seq > :a ORDER BY seq"),
            {"h": stream, "a": above},
        ).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def records(engine: Engine, hall: str) -> dict[str, Any]:
    """A hall's operational records: tickets, ratings, calls (called events) and served tickets."""
    with engine.connect() as conn:
        tickets = conn.execute(
            text("SELECT id, number, status, window_id FROM tickets WHERE hall_id = :h ORDER BY id"),
            {"h": hall},
        ).all()
        ratings = conn.execute(
            text("SELECT id, ticket_id, level FROM ratings WHERE hall_id = :h ORDER BY id"), {"h": hall}
        ).all()
        calls = conn.execute(
            text("SELECT count(*) FROM events WHERE hall_id = :h AND type = 'ticket.called'"), {"h": hall}
        ).scalar()
    return {
        "tickets": [tuple(r) for r in tickets],
        "ratings": [tuple(r) for r in ratings],
        "calls": int(calls or 0),
        "served": sum(1 for r in tickets if r.status == "finished"),
    }


def station_streams(st: Station) -> dict[str, tuple[int, int]]:
    """Per stream of the station: (base, head); the station's events are base+1 .. head."""
    out = {}
    for stream in st.village.streams:
        c = stream_counts(st.engine, stream)
        out[stream] = (c["min"] - 1 if c["count"] else c["max"], c["max"])
    return out


def city_counts(st: Station) -> dict[str, Any]:
    """What the city holds of the station's streams and records (to show nothing changed)."""
    out: dict[str, Any] = {s: stream_counts(st.city.engine, s) for s in st.village.streams}
    out["records"] = records(st.city.engine, st.hall)
    return out


def assert_same_records(st: Station) -> dict[str, Any]:
    """0 lost, 0 duplicated: the city holds exactly the station's events (seq for seq, hash for
    hash, each (hall, seq) once) and its tickets and ratings; returns the station's records."""
    city = st.city
    for stream, (base, head) in station_streams(st).items():
        mine = stream_events(st.engine, stream)
        theirs = stream_events(city.engine, stream, base)
        assert len(theirs) == len(mine), (
            f"{stream}: the city has {len(theirs)} events, the station {len(mine)}"
        )
        assert theirs == mine, f"{stream}: the city's events differ from the station's"
        c = stream_counts(city.engine, stream, base)
        assert c["count"] == c["distinct"] == head - base, f"{stream}: {c} for seqs {base + 1}..{head}"
    mine_rec = records(st.engine, st.hall)
    theirs_rec = records(city.engine, st.hall)
    assert theirs_rec == mine_rec, "the city's tickets, ratings or calls differ from the station's"
    return mine_rec


def stats_of(server: HallServer, token: str, hall: str) -> dict[str, Any]:
    """GET /halls/{hall}/stats without the moment it was made."""
    r = requests.get(f"{server.api}/halls/{hall}/stats", headers=bearer(token), timeout=30)
    assert r.status_code == 200, r.text
    return {k: v for k, v in r.json().items() if k not in ("generated_at", "as_of", "now")}


def copy_sqlite(src: Path, dst: Path) -> None:
    """Copy a (stopped) SQLite database with its -wal and -shm files."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        s, d = Path(str(src) + suffix), Path(str(dst) + suffix)
        if s.exists():
            shutil.copyfile(s, d)
        else:
            d.unlink(missing_ok=True)


# --- a test's faulty link ----------------------------------------------------------------------
@dataclass
class Net:
    """A test's fault proxy in front of the city, and the stations it started (killed after)."""

    servers: HallServerFactory
    city: City
    proxy: FaultProxy
    root: Path
    stations: list[Station] = field(default_factory=list)

    def station(self, name: str = "station", **kw: Any) -> Station:
        st = start_station(self.servers, self.city, self.proxy.url, self.root, name=name, **kw)
        self.stations.append(st)
        return st


def open_net(servers: HallServerFactory, city: City, root: Path) -> Iterator[Net]:
    """A fault proxy in front of city for one test (a fixture's body): its stations are killed
    after, and a city the test killed is started again for the module's next test."""
    proxy = FaultProxy(city.address).start()
    net = Net(servers, city, proxy, root)
    try:
        yield net
    finally:
        for st in net.stations:
            st.server.kill()
            st.close()
        proxy.close()
        if not city.server.alive:  # a test that killed the city and failed before restarting it
            city.server.restart()


def assert_same_stats(st: Station) -> None:
    """GET /halls/{hall}/stats of the village's manager: the same at the station and the city."""
    mine = stats_of(st.server, st.manager_token(), st.hall)
    r = st.city.server.login(st.village.manager, "pw-测试-1234")
    assert stats_of(st.city.server, r["token"], st.hall) == mine
