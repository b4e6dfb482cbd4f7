"""TLS and pinning: a real `hall-server serve --tls-cert/--tls-key` with a self-signed certificate made
here; the kiosk's HTTP client and event channel talk to it only with the right fingerprint, and a
server found by zeroconf is refused without a pin."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.api import HallClient
from kiosk.app import resolve_server
from kiosk.config import KioskConfig
from kiosk.errors import ConfigError, PinMismatch, ServerUnreachable, UnpinnedDiscovery
from kiosk.events import EventChannel
from tests.fixtures.postgres import sqlite_url
from tests.fixtures.server import SMALL_SEED, HallServer, hall_servers
from tests.kiosk.conftest import HALL

pytestmark = pytest.mark.timeout(180)


@dataclass
class TlsServer:
    """The server over TLS, its certificate's fingerprint and a kiosk token."""

    server: HallServer
    pin: str
    kiosk_token: str


def _self_signed(folder: Path) -> tuple[Path, Path, str]:
    """A certificate for 127.0.0.1 and its key (PEM files), and the SHA-256 of the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hall-server test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "hall.crt", folder / "hall.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """hall-server on SQLite over TLS with the small seed hall."""
    data = tmp_path_factory.mktemp("tls-hall")
    cert, key, pin = _self_signed(data)
    with hall_servers() as factory:
        srv = factory(
            sqlite_url(data),
            data / "data",
            seed_file=SMALL_SEED,
            extra_args=["--tls-cert", str(cert), "--tls-key", str(key)],
            tls=True,
        )
        yield TlsServer(srv, pin, srv.create_token("kiosk", HALL))


def test_the_server_speaks_only_tls(tls_server: TlsServer) -> None:
    assert tls_server.server.base_url.startswith("https://")
    plain = tls_server.server.base_url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(plain + "/api/v1/health", timeout=5)


def test_a_kiosk_with_the_right_pin_works(tls_server: TlsServer) -> None:
    # The pin may be written as openssl prints it (upper case, colons).
    pretty = ":".join(tls_server.pin[i : i + 2] for i in range(0, 64, 2)).upper()
    client = HallClient(tls_server.server.base_url, tls_server.kiosk_token, pin=pretty)
    try:
        assert client.health().status == "ok"
        ticket = client.issue_ticket(HALL, "T-001")
        assert ticket.number.startswith("A")
    finally:
        client.close()


def test_a_wrong_pin_is_refused_with_a_clear_error(tls_server: TlsServer) -> None:
    wrong = hashlib.sha256(b"another server").hexdigest()
    client = HallClient(tls_server.server.base_url, tls_server.kiosk_token, pin=wrong, retries=0)
    try:
        with pytest.raises(PinMismatch) as err:
            client.health()
        assert err.value.code == "net.pin_mismatch"
        assert "指纹不符" in err.value.message_zh
    finally:
        client.close()


def test_without_a_pin_a_self_signed_server_is_not_trusted(tls_server: TlsServer) -> None:
    client = HallClient(tls_server.server.base_url, tls_server.kiosk_token, retries=0)
    try:
        with pytest.raises(ServerUnreachable) as err:
            client.health()
        assert "加密连接失败" in err.value.message_zh
    finally:
        client.close()


def test_a_pin_needs_https() -> None:
    with pytest.raises(ConfigError):
        HallClient("http://127.0.0.1:1", pin="ab" * 32)
    with pytest.raises(ConfigError):
        KioskConfig(server_pin="not-a-fingerprint")


def _wait(cond: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_event_channel_pins_the_server(tls_server: TlsServer) -> None:
    srv = tls_server.server
    client = HallClient(srv.base_url, tls_server.kiosk_token, pin=tls_server.pin)
    ws_url = client.ws_url(f"/halls/{HALL}/events/ws")
    assert ws_url.startswith("wss://")
    since = max([0, *[e.seq for e in client.events(HALL)]])
    got: list[dict] = []
    seen = threading.Event()
    good = EventChannel(ws_url, tls_server.kiosk_token, since, pin=tls_server.pin, backoff_start=0.1)
    good.subscribe(lambda ev: (got.append(ev), seen.set()))
    wrong = EventChannel(
        ws_url, tls_server.kiosk_token, since, pin=hashlib.sha256(b"x").hexdigest(), backoff_start=0.1
    )
    try:
        good.start()
        wrong.start()
        assert _wait(lambda: good.online), good.last_error
        ticket = client.issue_ticket(HALL, "T-001")
        assert seen.wait(20)
        assert got[0]["type"] == "ticket.issued" and got[0]["payload"]["ticket"]["id"] == ticket.id
        assert _wait(lambda: isinstance(wrong.last_error, PinMismatch))
        assert not wrong.online and wrong.connects == 0
    finally:
        good.stop()
        wrong.stop()
        client.close()


def test_discovery_without_a_pin_is_refused(tls_server: TlsServer) -> None:
    from zeroconf import ServiceInfo, Zeroconf

    hall_id = "t-hall-tls-zc"
    port = tls_server.server.port
    info = ServiceInfo(
        "_hall._tcp.local.",
        "test-hall-tls._hall._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"hall": hall_id, "api": "/api/v1", "version": "test", "tls": "1"},
        server="test-hall-tls.local.",
    )
    try:
        zc = Zeroconf(interfaces=["127.0.0.1"])
    except OSError as exc:  # no multicast on this machine
        pytest.skip(f"multicast not available: {exc}")
    try:
        zc.register_service(info)
        with pytest.raises(UnpinnedDiscovery) as err:
            resolve_server(KioskConfig(server="zeroconf", hall=hall_id))
        assert err.value.code == "config.unpinned_discovery" and "证书指纹" in err.value.message_zh
        url = f"https://127.0.0.1:{port}"
        assert resolve_server(KioskConfig(server="zeroconf", hall=hall_id, server_pin=tls_server.pin)) == url
        allowed = KioskConfig(server="zeroconf", hall=hall_id, allow_unpinned_discovery=True)
        assert resolve_server(allowed) == url
    finally:
        zc.unregister_all_services()
        zc.close()
