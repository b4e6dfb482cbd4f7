"""The declarative base every hall-server table derives from."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every hall-server table."""


# The integer id of a table whose rows a station creates and replicates: 64-bit on PostgreSQL
# (a station's ids start at station_no * 10**10, const.STATION_ID_SPAN), and SQLite's own
# INTEGER PRIMARY KEY (already 64-bit, the rowid) so AUTOINCREMENT stays possible there.
BIG_ID = BigInteger().with_variant(Integer, "sqlite")
# Table options of those tables: AUTOINCREMENT on SQLite, so a station's sqlite_sequence seed
# (not the largest id present, which may be the city's) decides the next id.
STATION_RANGED = {"sqlite_autoincrement": True}
