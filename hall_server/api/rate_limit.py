"""Token buckets for the public booking endpoints: per client address and per ID-number hash."""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import Request

from hall_server.config import Settings
from hall_server.const import (
    RATE_MAX_KEYS,
)
from hall_server.errors import HallError
from queueing.idnumber import parse_id_number

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateConfig:
    """Requests per minute (also the burst) of each limit, 0 = off, and the exempt networks."""

    limits: Mapping[str, int]
    exempt: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateConfig:
        """The limits and exempt networks of the server's settings."""
        exempt = tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in settings.rate_exempt.split(",")
            if item.strip()
        )
        return cls(limits=settings.rate_limits, exempt=exempt)

    def is_exempt(self, address: str) -> bool:
        """Whether requests from address are never limited."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.exempt)


class TokenBucketLimiter:
    """Named token buckets refilled continuously at N per minute up to N; thread-safe."""

    def __init__(self, clock: Callable[[], float] | None = None, max_keys: int = RATE_MAX_KEYS) -> None:
        self.clock = clock or time.time
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float, int]] = {}  # key -> (tokens, at, per minute)
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int) -> float:
        """Take one token: 0.0 when allowed, else the seconds until a token is back."""
        if per_minute <= 0:
            return 0.0
        rate = per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, at, _n = self._buckets.get(key, (float(per_minute), now, per_minute))
            # max(0, ...): a wall clock stepped back must not drain a bucket.
            tokens = min(float(per_minute), tokens + max(0.0, now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now, per_minute)
                if len(self._buckets) > self.max_keys:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now, per_minute)
            return (1.0 - tokens) / rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: dropping it bounds the memory.
        full = [k for k, (t, at, n) in self._buckets.items() if t + max(0.0, now - at) * n / 60.0 >= n]
        for k in full:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class BookingGuard:
    """The limits of one app: its config and buckets."""

    config: RateConfig
    limiter: TokenBucketLimiter

    def check(self, request: Request, scope: str, id_number: str | None = None) -> None:
        """Count one request of scope ("book", "lookup", "slots"); raises rate.limited (429)."""
        address = request.client.host if request.client else "unknown"
        if self.config.is_exempt(address):
            return
        self._take(scope, "address", address)
        if id_number is not None:
            self._take(scope, "person", person_key(request, id_number))

    def _take(self, scope: str, kind: str, who: str) -> None:
        name = f"{scope}_per_{kind}"
        per_minute = self.config.limits.get(name, 0)
        wait = self.limiter.take(f"{name}:{who}", per_minute)
        if wait <= 0:
            return
        retry_after = max(1, math.ceil(wait))
        logger.warning("rate limit %s reached (%d/min); retry after %d s", name, per_minute, retry_after)
        err = HallError("rate.limited", retry_after=retry_after, limit=name, per_minute=per_minute)
        raise err


def person_key(request: Request, id_number: str) -> str:
    """The keyed hash of an ID number (the raw text's when it is not a valid number): never the number."""
    protector = request.app.state.ctx.protector
    try:
        text = parse_id_number(id_number).number
    except Exception:
        text = id_number
    return str(protector.lookup_hash(text))


_create_lock = threading.Lock()


def guard_of(request: Request) -> BookingGuard:
    """This app's guard, made from the server's settings on first use."""
    state = request.app.state
    guard = getattr(state, "booking_guard", None)
    if guard is None:
        with _create_lock:
            guard = getattr(state, "booking_guard", None)
            if guard is None:
                # The server's clock, so a test that moves the hall's time refills buckets too.
                ctx = state.ctx
                guard = BookingGuard(
                    RateConfig.from_settings(ctx.settings), TokenBucketLimiter(lambda: ctx.now().timestamp())
                )
                state.booking_guard = guard
    return guard
