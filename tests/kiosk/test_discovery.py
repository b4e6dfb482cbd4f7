"""Zeroconf discovery: a kiosk finds its hall's server on the LAN."""

from __future__ import annotations

import socket

import pytest

from kiosk.discovery import discover
from kiosk.errors import DiscoveryFailed

pytestmark = pytest.mark.timeout(120)


def test_discover_finds_an_advertised_hall_server():
    from zeroconf import ServiceInfo, Zeroconf

    port = 48123
    info = ServiceInfo(
        "_hall._tcp.local.",
        "test-hall-kiosk._hall._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"hall": "t-hall-zc", "api": "/api/v1", "version": "test"},
        server="test-hall-kiosk.local.",
    )
    try:
        zc = Zeroconf(interfaces=["127.0.0.1"])
    except OSError as exc:  # no multicast on this machine
        pytest.skip(f"multicast not available: {exc}")
    try:
        zc.register_service(info)
        found = discover("t-hall-zc", timeout=5)
        assert found.base_url == f"http://127.0.0.1:{port}"
        assert found.hall_id == "t-hall-zc" and found.api_path == "/api/v1"
        with pytest.raises(DiscoveryFailed) as err:
            discover("another-hall", timeout=1.5)
        assert "局域网" in err.value.message_zh
    finally:
        zc.unregister_all_services()
        zc.close()
