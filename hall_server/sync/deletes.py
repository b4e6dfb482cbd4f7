"""Deletes flow up: a station-owned row the station deletes is deleted at its parent too.

Of the station-owned tables only ticket documents are ever deleted (a clerk deletes a photo; the
retention sweep purges old ones); every other record is kept for the statistics. The station's
capture trigger records a delete like any change (table, pk) in `sync_changes`; when the batch is
read, a changed key whose row is gone is sent in the push's `deletes` (`deleted_keys`). So the
change log's order holds: an insert and its delete in one batch reach the parent as a delete of a
row it never had (a no-op), across batches as an upsert followed later by the delete. The parent
deletes after the upserts (`apply_deletes`), only rows of the station's halls and id ranges, and a
replayed delete finds nothing: exactly once in effect.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from hall_server.const import SYNC_MAX_ROWS
from hall_server.db.models import TicketDocument
from hall_server.errors import HallError
from hall_server.sync.protocol import pk_column, pk_value

logger = logging.getLogger(__name__)

# Station-owned tables whose rows a station deletes (and the parent deletes after it).
DELETABLE: dict[str, Table] = {t.name: t for t in (TicketDocument.__table__,)}  # type: ignore[misc]
_CHUNK = 500


def deleted_keys(s: Session, changes: list[Any]) -> dict[str, list[str]]:
    """Station side: the changed keys of deletable tables whose rows are gone (primary key text)."""
    keys: dict[str, set[str]] = {}
    for c in changes:
        if c.table_name in DELETABLE:
            keys.setdefault(c.table_name, set()).add(c.pk)
    out: dict[str, list[str]] = {}
    for name, pks in keys.items():
        table = DELETABLE[name]
        pk = pk_column(table)
        values = sorted(pk_value(table, k) for k in pks)
        present: set[Any] = set()
        for i in range(0, len(values), _CHUNK):
            present.update(
                s.execute(select(table.c[pk]).where(table.c[pk].in_(values[i : i + _CHUNK]))).scalars()
            )
        gone = [str(v) for v in values if v not in present]
        if gone:
            out[name] = gone
    return out


def apply_deletes(
    s: Session, deletes: dict[str, list[str]], halls: set[str], ranges: list[tuple[int, int]]
) -> int:
    """Parent side: delete what the station deleted, in the push's transaction; returns rows deleted."""
    if not deletes:
        return 0
    if sum(len(v) for v in deletes.values()) > SYNC_MAX_ROWS:
        raise HallError("request.invalid", reason=f"at most {SYNC_MAX_ROWS} deletes per push")
    done = 0
    for name, pks in deletes.items():
        table = DELETABLE.get(name)
        if table is None:
            raise HallError("sync.bad_row", table=str(name)[:64], reason="not a table a station deletes from")
        pk = pk_column(table)
        try:
            values = sorted({pk_value(table, str(k)) for k in pks})
        except ValueError:
            raise HallError("sync.bad_row", table=name, reason="a key that is not an id") from None
        for v in values:
            if not any(lo <= int(v) < hi for lo, hi in ranges):
                raise HallError("sync.wrong_hall", table=name, id=v, reason="id outside the station's range")
        for i in range(0, len(values), _CHUNK):
            chunk = values[i : i + _CHUNK]
            other = s.execute(
                select(table.c.hall_id).where(table.c[pk].in_(chunk), table.c.hall_id.not_in(sorted(halls)))
            ).first()
            if other is not None:
                raise HallError("sync.wrong_hall", table=name, hall_id=other.hall_id)
            done += s.execute(delete(table).where(table.c[pk].in_(chunk))).rowcount or 0
    if done:
        logger.info("deleted %d row(s) a station deleted", done)
    return done
