"""Finds the hall server on the LAN by zeroconf (_hall._tcp.local.)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kiosk import const
from kiosk.errors import DiscoveryFailed, UnpinnedDiscovery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundServer:
    """One advertised hall server."""

    name: str
    base_url: str
    hall_id: str
    api_path: str
    tls: bool = False


def discover(hall_id: str | None = None, timeout: float = const.ZEROCONF_TIMEOUT_S) -> FoundServer:
    """Browse for a hall server (the one of hall_id if given) and return the first found."""
    from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

    found: list[FoundServer] = []
    done = threading.Event()
    zc = Zeroconf()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Added:
            return
        info = zeroconf.get_service_info(service_type, name, timeout=1500)
        if info is None:
            return
        props = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v or "")
            for k, v in (info.properties or {}).items()
        }
        hall = props.get("hall") or props.get("hall_id") or ""
        if hall_id and hall and hall != hall_id:
            return
        addrs = info.parsed_addresses()
        if not addrs:
            return
        host = addrs[0]
        if ":" in host:
            host = f"[{host}]"
        tls = props.get("tls") == "1"
        scheme = "https" if tls else "http"
        api = props.get("api", const.API_PATH)
        found.append(FoundServer(name, f"{scheme}://{host}:{info.port}", hall, api, tls))
        done.set()

    browser = ServiceBrowser(zc, const.ZEROCONF_TYPE, handlers=[on_change])
    try:
        done.wait(timeout)
    finally:
        browser.cancel()
        zc.close()
    if not found:
        raise DiscoveryFailed()
    logger.info("found hall server %s at %s", found[0].name, found[0].base_url)
    return found[0]


def trusted_server(found: FoundServer, pin: str, allow_unpinned: bool) -> str:
    """The base URL of a discovered server this machine may use; refused without a pin to check.

    Anyone on the LAN can advertise _hall._tcp: without a certificate pin a kiosk would send its
    token (and visitors' ID data) to whoever answered first.
    """
    if pin:
        if not found.tls:
            raise UnpinnedDiscovery(
                "发现的服务器未启用加密连接，无法核对证书指纹，已拒绝",
                f"{found.base_url} offers no TLS, so the pinned certificate cannot be checked",
            )
        return found.base_url
    if not allow_unpinned:
        raise UnpinnedDiscovery()
    logger.warning(
        "using %s found by discovery without a certificate pin (allowed by config)", found.base_url
    )
    return found.base_url
