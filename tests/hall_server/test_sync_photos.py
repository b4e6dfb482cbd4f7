"""Document photos reach the city (sync/photos.py): a village's photo, kept encrypted at its
station, is viewable by the county's manager at the city once it has come up, through a real
fault proxy that cuts every upload of it until the link is restored; meanwhile the record stream
is not held back and the city says plainly that the photo has not arrived yet.

Real `hall-server serve` processes: the city on SQLite and on PostgreSQL, the station on SQLite.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import insert, text

from hall_server.const import SYNC_PHOTOS_WANTED
from hall_server.db.models import TicketDocument
from tests.fixtures.server import HallServerFactory
from tests.hall_server.sync_harness import (
    City,
    Station,
    bearer,
    document_blob,
    has_ticket,
    login,
    noise_jpeg,
    start_city,
    start_station,
    wait_caught_up,
    wait_photo,
)
from tests.support.netfault import FaultProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(600)

# Every connection through the proxy may carry this many bytes up before it is reset: the
# records' small pushes and pulls pass, a photo of several times this size never does.
CUT_AFTER = 40_000


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def city(
    request: pytest.FixtureRequest, servers: HallServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    pg = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    c = start_city(servers, tmp_path_factory.mktemp(f"photos-{request.param}"), request.param, pg, villages=4)
    try:
        yield c  # each test takes a village (and its station) of its own
    finally:
        c.close()


def _photo(seed: int) -> bytes:
    """A JPEG of noise, about 270 KB: several times what one connection may carry (CUT_AFTER)."""
    return noise_jpeg(seed, (640, 480))


def test_a_village_photo_reaches_the_county_manager_at_the_city_once(
    servers: HallServerFactory, city: City, tmp_path: Path
) -> None:
    with FaultProxy(city.address) as proxy:
        st = start_station(servers, city, proxy.url, tmp_path)
        try:
            _check_photo_flow(city, st, proxy)
        finally:
            st.server.kill()
            st.close()


def _check_photo_flow(city: City, st: Station, proxy: FaultProxy) -> None:
    wait_caught_up(st)
    st.login_clerk()
    manager = login(city.server.api, "m-county")  # the county's manager, at the city

    # The link carries small requests but cuts every upload of the photo.
    proxy.reset(after_bytes=CUT_AFTER, direction="up")
    data = _photo(7)
    assert len(data) > 4 * CUT_AFTER
    ticket_id, doc_id = st.keep_photo(data)

    # The record comes up; the photo does not: the city says so instead of failing.
    wait_until(
        lambda: document_blob(city.engine, doc_id) is not None,
        60,
        message="the document's record reaches the city",
    )
    listed = requests.get(
        f"{city.server.api}/tickets/{ticket_id}/documents", headers=bearer(manager), timeout=10
    )
    assert listed.status_code == 200, listed.text
    assert [(d["id"], d["received"]) for d in listed.json()] == [(doc_id, False)]
    r = requests.get(f"{city.server.api}/documents/{doc_id}", headers=bearer(manager), timeout=10)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "document.not_received" and "尚未" in err["message"], err

    # The stuck photo does not hold the records back: a ticket issued now reaches the city.
    later = int(st.issue()["id"])
    wait_until(
        lambda: has_ticket(city.engine, later),
        60,
        message="a later ticket passes the photo that cannot go up",
    )
    wait_until(lambda: proxy.stats.resets >= 2, 30, message="uploads of the photo cut more than once")
    assert document_blob(city.engine, doc_id) == b"", "a cut upload left part of a photo at the city"
    r = requests.get(f"{city.server.api}/documents/{doc_id}", headers=bearer(manager), timeout=10)
    assert r.status_code == 409, r.text

    # The link is restored: the photo comes up whole, and the county's manager sees the JPEG taken.
    proxy.restore()
    got = wait_photo(city.server.api, doc_id, manager, 60, "the photo reaches the city")
    assert got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    listed = requests.get(
        f"{city.server.api}/tickets/{ticket_id}/documents", headers=bearer(manager), timeout=10
    )
    assert [(d["id"], d["received"]) for d in listed.json()] == [(doc_id, True)]
    # Stored as the station stores it: the same ciphertext (personal data never travelled in clear).
    at_station = document_blob(st.engine, doc_id)
    assert at_station and document_blob(city.engine, doc_id) == at_station
    assert data not in at_station

    # Exactly once: the city wants nothing more, and the same photo sent again changes nothing.
    cred = bearer(st.village.bundle["credential"])
    wanted = requests.get(f"{city.server.api}/sync/photos", headers=cred, timeout=10)
    assert wanted.status_code == 200 and wanted.json() == {"documents": [], "more": False}, wanted.text
    again = requests.put(
        f"{city.server.api}/sync/photos/{doc_id}",
        data=at_station,
        headers={**cred, "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert again.status_code == 200 and again.json() == {"document_id": doc_id, "stored": False}, again.text
    assert document_blob(city.engine, doc_id) == at_station


def test_the_city_refuses_a_photo_that_is_not_the_documents(
    servers: HallServerFactory, city: City, tmp_path: Path
) -> None:
    """Garbage, another document's photo, an unknown document, a stranger: refused with a
    clear code, nothing kept; the right photo is then taken."""
    st = start_station(servers, city, city.server.base_url, tmp_path)
    try:
        wait_caught_up(st)
        st.login_clerk()
        a = st.keep_photo(_photo(1))[1]
        b = st.keep_photo(_photo(2))[1]
        # Hold the photos back at the city: drop them there after their records came up, and
        # stop the station so it does not send them again meanwhile.
        wait_until(
            lambda: document_blob(city.engine, b) is not None, 60, message="the records reach the city"
        )
        wait_until(lambda: document_blob(city.engine, b), 60, message="the photos reach the city")
        st.server.kill()
        with city.engine.begin() as conn:
            conn.execute(text("UPDATE ticket_documents SET data_enc = :e WHERE id IN (:a, :b)"),
                         {"e": b"", "a": a, "b": b})  # fmt: skip
        cred = {**bearer(st.village.bundle["credential"]), "Content-Type": "application/octet-stream"}
        api = city.server.api
        wanted = requests.get(f"{api}/sync/photos", headers=cred, timeout=10).json()
        assert wanted == {"documents": [a, b], "more": False}
        blob_a = document_blob(st.engine, a)
        assert blob_a

        def put(doc: int, body: bytes, headers: dict[str, str] = cred) -> requests.Response:
            return requests.put(f"{api}/sync/photos/{doc}", data=body, headers=headers, timeout=10)

        for doc, body, status, code in (
            (a, b"\x01" + b"x" * 100, 422, "sync.bad_photo"),  # does not decrypt
            (b, blob_a, 422, "sync.bad_photo"),  # a's photo is bound to a's ticket
            (a, b"", 422, "document.empty"),
            (999_999_999_999, blob_a, 409, "sync.no_document"),
        ):
            r = put(doc, body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert put(a, blob_a, {"Content-Type": "application/octet-stream"}).status_code == 401
        assert put(a, blob_a, {**cred, "Authorization": "Bearer " + city.admin}).status_code == 403
        assert document_blob(city.engine, a) == b"" and document_blob(city.engine, b) == b""
        r = put(a, blob_a)
        assert r.status_code == 200 and r.json()["stored"] is True, r.text
        assert requests.get(f"{api}/sync/photos", headers=cred, timeout=10).json()["documents"] == [b]
    finally:
        st.server.kill()
        st.close()


def test_a_photo_the_city_refuses_is_not_sent_again_every_round(
    servers: HallServerFactory, city: City, tmp_path: Path
) -> None:
    """A station on another data key than the city's: its photo can never be taken (422
    sync.bad_photo). It is offered once, not re-sent over the village's link round after round."""
    other_key = "ff" * 32
    st = start_station(servers, city, city.server.base_url, tmp_path, data_key=other_key)
    try:
        wait_caught_up(st)
        _ticket, doc = st.keep_photo(_photo(5))
        refused = f"photo of document {doc} not taken: sync.bad_photo"
        wait_until(lambda: refused in st.server.log_tail(200_000), 60, message="the city refuses the photo")
        # Several rounds later (idle rounds come every SYNC_IDLE_FACTOR x 0.2 s), and after a
        # push with records, which makes the station ask again which photos the city lacks.
        st.issue()
        wait_caught_up(st)
        time.sleep(5)
        assert st.server.log_tail(200_000).count(refused) == 1
        assert document_blob(city.engine, doc) == b""
    finally:
        st.server.kill()
        st.close()


def test_photos_the_city_refused_do_not_hold_back_newer_ones(
    servers: HallServerFactory, city: City, tmp_path: Path
) -> None:
    """More photos the city refuses than it names at once (SYNC_PHOTOS_WANTED) are the station's
    oldest: a document photographed after them still reaches the county's manager at the city,
    and the refused ones stay listed there as not received (and are each offered once)."""
    st = start_station(servers, city, city.server.base_url, tmp_path)
    try:
        wait_caught_up(st)
        st.login_clerk()
        # The oldest documents of the station: photos that do not decrypt at the city (as after
        # a disk fault), so each is refused with sync.bad_photo.
        broken_ticket = int(st.issue()["id"])
        taken = datetime.now(UTC)
        rows = [
            {
                "ticket_id": broken_ticket,
                "hall_id": st.village.hall,
                "taken_at": taken,
                "content_type": "image/jpeg",
                "size": 4,
                "sha256": hashlib.sha256(b"bad%d" % k).hexdigest(),
                "label": "",
                "data_enc": b"\x01broken%d" % k,
            }
            for k in range(SYNC_PHOTOS_WANTED + 1)
        ]
        with st.engine.begin() as conn:
            conn.execute(insert(TicketDocument.__table__), rows)
            broken = [
                int(i)
                for i in conn.execute(
                    text("SELECT id FROM ticket_documents WHERE ticket_id = :t ORDER BY id"),
                    {"t": broken_ticket},
                ).scalars()
            ]
        assert len(broken) == SYNC_PHOTOS_WANTED + 1
        wait_until(
            lambda: st.server.log_tail(400_000).count("not taken: sync.bad_photo") >= SYNC_PHOTOS_WANTED,
            90,
            message="the city refuses the broken photos it names first",
        )

        # A document photographed now, after all of them, reaches the county's manager.
        data = _photo(11)
        _ticket, doc = st.keep_photo(data)
        assert doc > broken[-1]
        manager = login(city.server.api, "m-county")
        got = wait_photo(city.server.api, doc, manager, 90, "a newer photo passes the refused ones")
        assert got.content == data

        # The refused ones are still reported: the city lists them as not received, and names
        # them to the station page by page (the cursor), the first page full of them.
        listed = requests.get(
            f"{city.server.api}/tickets/{broken_ticket}/documents", headers=bearer(manager), timeout=10
        )
        assert listed.status_code == 200, listed.text
        received = {d["id"]: d["received"] for d in listed.json()}
        assert [received.get(i) for i in broken] == [False] * len(broken)
        cred = bearer(st.village.bundle["credential"])
        first = requests.get(f"{city.server.api}/sync/photos", headers=cred, timeout=10).json()
        assert first == {"documents": broken[:SYNC_PHOTOS_WANTED], "more": True}
        rest = requests.get(
            f"{city.server.api}/sync/photos",
            params={"after": first["documents"][-1]},
            headers=cred,
            timeout=10,
        ).json()
        assert rest == {"documents": broken[SYNC_PHOTOS_WANTED:], "more": False}
        bad = requests.get(f"{city.server.api}/sync/photos", params={"after": -1}, headers=cred, timeout=10)
        assert bad.status_code == 422, bad.text
        # Each refused photo crossed the link once, not every round.
        log = st.server.log_tail(400_000)
        for i in broken:
            assert log.count(f"photo of document {i} not taken: sync.bad_photo") == 1, i
    finally:
        st.server.kill()
        st.close()
