"""Finds the hall server on the LAN by zeroconf (_hall._tcp.local.)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kiosk import const
from kiosk.errors import DiscoveryFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundServer:
    """One advertised hall server."""

    name: str
    base_url: str
    hall_id: str
    api_path: str


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
        found.append(FoundServer(name, f"http://{host}:{info.port}", hall, props.get("api", const.API_PATH)))
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
