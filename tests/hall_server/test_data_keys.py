"""Issue 9, hole 2 and 国密: one data key per database, key files, AES→SM4 switch, the chain under SM3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from hall_server import audit, chain
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.crypto import DataKeyError, DataProtector
from hall_server.db.models import Event, Ticket
from hall_server.services import tickets
from tests.fixtures.server import SMALL_SEED, HallServer, free_port, prepare_database
from tests.hall_server.conftest import KEY_HEX, Hall
from tests.hall_server.hs_city import CITY, ID_YOUNG, ID_YOUNG_2

HALL = "t-hall"
OTHER_KEY = "ff" * 32


def _server(db_url: str, data_dir: Path, *extra: str) -> HallServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    return HallServer(db_url=db_url, data_dir=data_dir, port=free_port(), extra_args=list(extra))


@pytest.mark.postgres
def test_second_process_with_another_key_refuses_to_start(pg_url: str, tmp_path: Path) -> None:
    """Two data folders, two keys, one database: the second process stops with a clear message."""
    prepare_database(pg_url, tmp_path / "a", SMALL_SEED)
    first = _server(pg_url, tmp_path / "a")
    second = _server(pg_url, tmp_path / "b")
    try:
        first.start()
        second.launch()
        assert second.proc is not None
        assert second.proc.wait(timeout=60) == 2
        assert "data key is not the key of this database" in second.log_tail()
        assert "HALL_DATA_KEY_FILE" in second.log_tail()
        assert requests.get(first.api + "/health", timeout=5).status_code == 200
    finally:
        first.stop()
        second.stop()


@pytest.mark.postgres
def test_one_key_file_two_processes_serve_each_others_tickets(pg_url: str, tmp_path: Path) -> None:
    """The same key from a file: a ticket issued with an ID card through one is called through the other."""
    key_file = tmp_path / "city.key"
    key_file.write_text(KEY_HEX + "\n")
    key_file.chmod(0o600)
    prepare_database(pg_url, tmp_path / "a", SMALL_SEED)
    one = _server(pg_url, tmp_path / "a", "--data-key-file", str(key_file))
    two = _server(pg_url, tmp_path / "b", "--data-key-file", str(key_file))
    try:
        one.start()
        two.start()
        assert not (tmp_path / "a" / "data.key").exists() and not (tmp_path / "b" / "data.key").exists()
        kiosk = one.create_token("kiosk", HALL)
        r = one.session(kiosk).post(
            f"{one.api}/halls/{HALL}/tickets",
            json={"service_code": "T-001", "identity": {"id_number": ID_YOUNG}},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        issued = r.json()
        wid = {int(w["number"]): int(w["id"]) for w in two.hall(HALL, kiosk)["windows"]}[1]
        clerk = two.login("clerk1", "test-pass-1", wid)["token"]
        s2 = two.session(clerk)
        s2.post(f"{two.api}/windows/{wid}/open", json={}, timeout=30)
        called = s2.post(f"{two.api}/windows/{wid}/call-next", json={}, timeout=30)
        assert called.status_code == 200, called.text
        assert called.json()["id"] == issued["id"]
        # The serving clerk sees the full number: decrypted by the other process.
        got = s2.get(f"{two.api}/tickets/{issued['id']}", timeout=30)
        assert got.status_code == 200, got.text
        assert got.json()["holder"]["id_number"] == ID_YOUNG
    finally:
        one.stop()
        two.stop()


def test_a_wrong_key_is_refused_in_process(hall: Hall, tmp_path: Path) -> None:
    """ServerContext on the fixture's database with another key raises DataKeyError, key not shown."""
    key_file = tmp_path / "other.key"
    key_file.write_text(OTHER_KEY)
    with pytest.raises(DataKeyError) as err:
        ServerContext.create(Settings(data_dir=tmp_path / "x", db_url=hall.db_url, data_key_file=key_file))
    assert OTHER_KEY not in str(err.value) and KEY_HEX not in str(err.value)
    missing = tmp_path / "missing.key"
    with pytest.raises(DataKeyError, match="cannot read the data key file"):
        ServerContext.create(Settings(data_dir=tmp_path / "y", db_url=hall.db_url, data_key_file=missing))


def _issue(ctx: ServerContext, hall: Hall, id_number: str) -> Any:
    from hall_server.auth import authenticate

    with ctx.db.read_conn() as conn:
        p = authenticate(conn, hall.tokens[f"kiosk:{CITY}"])
    view = tickets.issue_ticket(ctx, p, CITY, tickets.IssueInput("S-A1", "kiosk", id_number=id_number))[0]
    with ctx.db.read() as s:
        return s.execute(select(Ticket.id_enc).where(Ticket.id == view["id"])).scalar()


def test_switch_from_aes_to_sm4_keeps_old_records_readable(hall: Hall, tmp_path: Path) -> None:
    """A hall switches its cipher to SM4 (and its chain to SM3): old and new records both read."""
    key = bytes.fromhex(KEY_HEX)
    old_blob = _issue(hall.ctx, hall, ID_YOUNG)
    assert old_blob[0] == 0x01  # AES-GCM
    sm = ServerContext.create(
        Settings(
            data_dir=hall.data_dir, db_url=hall.db_url, pool_size=2, data_cipher="sm4-gcm", audit_hash="sm3"
        )
    )
    try:
        new_blob = _issue(sm, hall, ID_YOUNG_2)
        assert new_blob[0] == 0x02  # SM4-GCM
        assert sm.protector.decrypt(old_blob, "id_number") == ID_YOUNG
        assert sm.protector.decrypt(new_blob, "id_number") == ID_YOUNG_2
        # A process still on AES reads the SM4 record too (the prefix names the cipher).
        assert DataProtector(key).decrypt(new_blob, "id_number") == ID_YOUNG_2
        # Ciphertexts from before the prefix existed (nonce || AES-GCM) still decrypt.
        aes = AESGCM(DataProtector._derive(key, b"hall-pii-encryption"))
        nonce = bytes([0x01]) + bytes(11)  # even a nonce that looks like a version byte
        legacy = nonce + aes.encrypt(nonce, "张三".encode(), b"name")
        assert sm.protector.decrypt(legacy, "name") == "张三"
        # The chain holds both algorithms and verifies.
        with sm.db.read() as s:
            hashes = [h for (h,) in s.execute(select(Event.hash).where(Event.hall_id == CITY))]
        assert any(h.startswith("sha256:") for h in hashes) and hashes[-1].startswith("sm3:")
        verdict = audit.verify_all(sm.db, CITY)[0]
        assert verdict.ok, verdict
        # Through the API, after the switch, the old ticket is still served.
        r = hall.client.get(f"/api/v1/halls/{CITY}/tickets", headers=hall.auth("admin"))
        assert r.status_code == 200
    finally:
        sm.close()
        chain.set_algorithm("sha256")
