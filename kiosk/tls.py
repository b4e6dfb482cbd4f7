"""Certificate pinning: the kiosk trusts exactly the hall server whose certificate's SHA-256 it was given.

A hall server usually has a self-signed certificate (no public CA reaches a hall's LAN), so the
pin replaces the CA check: both the HTTP client (a requests adapter, through urllib3's
fingerprint check) and the event socket (an SSL context whose sockets check the pin right
after the TLS handshake, before the first byte of HTTP — and so before any token — is sent).
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
from typing import Any

from requests.adapters import HTTPAdapter

from kiosk.errors import ConfigError, PinMismatch

logger = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalise_pin(pin: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits; colons, spaces and a sha256/ prefix allowed."""
    text = pin.strip().lower()
    if text.startswith("sha256/") or text.startswith("sha256:"):
        text = text[7:]
    text = text.replace(":", "").replace(" ", "")
    if not _HEX64.match(text):
        raise ConfigError(
            "服务器证书指纹格式有误，应为 64 位十六进制的 SHA-256",
            "server_pin must be a SHA-256 fingerprint (64 hex digits, colons allowed)",
        )
    return text


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as 64 lower-case hex digits."""
    return hashlib.sha256(der).hexdigest()


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that accepts only the server certificate with the pinned SHA-256."""

    def __init__(self, pin: str, **kw: Any) -> None:
        self.pin = normalise_pin(pin)
        super().__init__(**kw)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Every pooled connection checks the peer's fingerprint after the handshake (urllib3 does it)."""
        pool_kwargs["assert_fingerprint"] = self.pin
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def send(self, request: Any, **kw: Any) -> Any:
        """Send with the CA check off: the pin is the stricter check and a hall certificate is self-signed."""
        kw["verify"] = False
        return super().send(request, **kw)


def _pinned_socket_class(pin: str) -> type[ssl.SSLSocket]:
    class PinnedSSLSocket(ssl.SSLSocket):
        """An SSL socket that closes itself unless the peer's certificate has the pinned fingerprint."""

        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            der = self.getpeercert(binary_form=True) or b""
            got = fingerprint(der)
            if got != pin:
                self.close()
                raise PinMismatch(expected=pin, got=got)

    return PinnedSSLSocket


def pinned_context(pin: str) -> ssl.SSLContext:
    """An SSL context for a client socket that trusts only the pinned certificate."""
    pin = normalise_pin(pin)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The pin replaces the CA chain and the host name: a hall server is found by address.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.sslsocket_class = _pinned_socket_class(pin)
    return ctx


def is_pin_mismatch(exc: BaseException) -> bool:
    """Whether an error (or one it was raised from) is a refused certificate fingerprint."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, PinMismatch) or "Fingerprints did not match" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
