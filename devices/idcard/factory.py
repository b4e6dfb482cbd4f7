"""open_reader(url): serial:///dev/ttyUSB0?baud=115200, pcsc:// (first reader) or pcsc://<name>."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from devices.const import DEFAULT_BAUD, DEFAULT_READ_TIMEOUT, DEFAULT_TIMEOUT, MIN_POLL_INTERVAL
from devices.idcard.reader import CardReader

_TRUE = ("1", "true", "yes", "on")


def open_reader(url: str) -> CardReader:
    """Build (not open) the reader a URL names; query options: baud, timeout, read_timeout, poll, fingerprint, strict."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}

    def num(key: str, default: float) -> float:
        try:
            return float(query.get(key, default))
        except ValueError as exc:
            raise ValueError(f"{key}={query[key]!r} in {url!r} is not a number") from exc

    strict = query.get("strict", "").lower() in _TRUE
    poll = num("poll", MIN_POLL_INTERVAL)
    if parts.scheme == "serial":
        from devices.idcard.serial_reader import SamSerialReader

        port = unquote(parts.netloc + parts.path)
        if not port:
            raise ValueError(f"{url!r} names no serial port")
        return SamSerialReader(
            port,
            baudrate=int(num("baud", DEFAULT_BAUD)),
            timeout=num("timeout", DEFAULT_TIMEOUT),
            read_timeout=num("read_timeout", DEFAULT_READ_TIMEOUT),
            poll_interval=poll,
            fingerprint=query.get("fingerprint", "").lower() in _TRUE,
            strict=strict,
        )
    if parts.scheme == "pcsc":
        from devices.idcard.pcsc_reader import PcscReader

        name = unquote(parts.netloc + parts.path).strip("/") or None
        return PcscReader(name, poll_interval=poll, strict=strict)
    raise ValueError(f"unknown reader URL {url!r}; use serial:///dev/ttyUSB0?baud=115200 or pcsc://[name]")
