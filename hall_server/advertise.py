"""Advertise the server on the LAN with zeroconf (_hall._tcp.local.) so kiosks find it."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from hall_server.const import ADVERTISE_STOP_WAIT_S, API_PREFIX, VERSION, ZEROCONF_TYPE

logger = logging.getLogger(__name__)


def _addresses(host: str) -> list[str]:
    if host in ("0.0.0.0", "", "::"):
        addrs: set[str] = set()
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
                addrs.add(str(info[4][0]))
        except OSError:
            pass
        return sorted(addrs) or ["127.0.0.1"]
    return [host]


class Advertiser:
    """Registers one service while the server runs."""

    def __init__(
        self,
        *,
        hall_id: str | None,
        hall_name: str,
        host: str,
        port: int,
        interfaces: Any = None,
        tls: bool = False,
    ) -> None:
        self.hall_id = hall_id or ""
        # Kiosks finding the server use https:// when it says so (and then pin its certificate).
        self.tls = tls
        self.hall_name = hall_name or "hall-server"
        self.host = host
        self.port = port
        self.interfaces = interfaces
        self._zc: Any = None
        self._info: Any = None
        self._thread: threading.Thread | None = None
        # start() and stop() one at a time: a server stopped while the thread still registers.
        self._lock = threading.Lock()

    def start_in_background(self, main_hall: Callable[[], tuple[str | None, str]] | None = None) -> None:
        """start() on a thread of its own, after main_hall() names the hall (id, short name).

        Zeroconf probes the network for the name for about two seconds before it announces;
        the server answers meanwhile (nothing a request needs depends on being announced).
        """

        def run() -> None:
            if main_hall is not None:
                try:
                    hall_id, name = main_hall()
                except Exception:
                    logger.warning(
                        "could not read the hall to advertise; advertising without it", exc_info=True
                    )
                else:
                    self.hall_id, self.hall_name = hall_id or "", name or "hall-server"
            self.start()

        self._thread = threading.Thread(target=run, name="hall-advertiser", daemon=True)
        self._thread.start()

    def start(self) -> None:
        """Register the service (failures are logged, never fatal)."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        try:
            from zeroconf import ServiceInfo, Zeroconf
        except ImportError:
            logger.warning("zeroconf is not installed (pip install zeroconf); not advertising")
            return
        addresses = _addresses(self.host)
        name = f"{self.hall_name} ({self.hall_id or 'hall'}:{self.port}).{ZEROCONF_TYPE}"
        self._info = ServiceInfo(
            ZEROCONF_TYPE,
            name,
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self.port,
            properties={
                "hall": self.hall_id,
                "hall_id": self.hall_id,
                "api": API_PREFIX,
                "version": VERSION,
                "tls": "1" if self.tls else "0",
            },
            server=f"{socket.gethostname()}.local.",
        )
        try:
            interfaces = self.interfaces
            if interfaces is None and self.host not in ("0.0.0.0", "", "::"):
                # Bound to one address: announce there only (loopback for a station's own kiosk).
                interfaces = [self.host]
            self._zc = Zeroconf(interfaces=interfaces) if interfaces else Zeroconf()
            self._zc.register_service(self._info, allow_name_change=True)
            logger.info("advertised %s on %s:%s", name, addresses, self.port)
        except Exception:
            logger.warning("zeroconf advertisement failed", exc_info=True)
            self._stop()

    def stop(self) -> None:
        """Unregister and close (after a registration still under way, up to ADVERTISE_STOP_WAIT_S)."""
        if self._thread is not None:
            self._thread.join(ADVERTISE_STOP_WAIT_S)
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._zc is not None:
            try:
                if self._info is not None:
                    self._zc.unregister_service(self._info)
            except Exception:
                logger.debug("unregister failed", exc_info=True)
            self._zc.close()
            self._zc = None
