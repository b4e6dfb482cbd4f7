"""The audit chain's arithmetic: each event carries hash(prev_hash || canonical record).

No I/O here: events.py computes hashes in the appending transaction, audit.py verifies them.
A stored hash reads "<algorithm>:<hex>", so a hall may switch from SHA-256 to SM3 (国密) and
its older records still verify under the algorithm they were written with.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from hall_server.const import CHAIN_ALGORITHMS, DEFAULT_CHAIN_ALGORITHM

logger = logging.getLogger(__name__)

_algorithm = DEFAULT_CHAIN_ALGORITHM


class ChainConfigError(ValueError):
    """An unknown chain algorithm was configured."""


def set_algorithm(name: str) -> None:
    """Choose the hash for newly appended records (sha256 or sm3); process-wide."""
    global _algorithm
    name = name.strip().lower()
    if name not in CHAIN_ALGORITHMS:
        raise ChainConfigError(
            f"unknown audit chain hash {name!r}; choose one of {', '.join(CHAIN_ALGORITHMS)}"
        )
    # hashlib reaches SM3 through OpenSSL; fail at start-up rather than at the first event.
    hashlib.new(name)
    _algorithm = name


def algorithm() -> str:
    """The hash used for new records."""
    return _algorithm


def genesis(hall_id: str, chain_start: int) -> str:
    """The prev_hash of a hall's first chained record (nothing before it is chained)."""
    return f"genesis:{hall_id}:{chain_start}"


def canonical_at(at: datetime) -> str:
    """A time as both databases give it back: UTC, microseconds, no offset."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def record_hash(
    prev_hash: str,
    hall_id: str,
    seq: int,
    type_: str,
    at: datetime,
    actor_kind: str,
    actor_id: str | None,
    payload: str,
    alg: str | None = None,
) -> str:
    """The hash of one record linked to its predecessor, as "<alg>:<hex>".

    H(prev_hash "\n" seq "\n" body): the seq stands outside the body so that PostgreSQL can
    hash in the statement that draws it (events.py); the rest is record_body().
    """
    alg = alg or _algorithm
    h = hashlib.new(alg)
    h.update(f"{prev_hash}\n{int(seq)}\n".encode())
    h.update(record_body(hall_id, type_, at, actor_kind, actor_id, payload))
    return f"{alg}:{h.hexdigest()}"


def record_body(
    hall_id: str, type_: str, at: datetime, actor_kind: str, actor_id: str | None, payload: str
) -> bytes:
    """A record without its seq and links, canonically: UTF-8 JSON of a fixed field list
    (unambiguous: no separator can be smuggled into a field)."""
    return json.dumps(
        [hall_id, type_, canonical_at(at), actor_kind, actor_id, payload],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def algorithm_of(stored: str) -> str | None:
    """The algorithm a stored hash was made with (None if it is not a chain hash)."""
    alg, sep, _ = stored.partition(":")
    return alg if sep and alg in CHAIN_ALGORITHMS else None
