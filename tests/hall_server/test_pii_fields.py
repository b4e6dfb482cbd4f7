"""The list of personal fields (hall_server/pii.py) matches the schema: nothing personal is missed."""

from __future__ import annotations

import re

from hall_server.db import models  # noqa: F401 - registers every table
from hall_server.db.models import Base
from hall_server.pii import ENCRYPTED, PERSONAL_FIELDS

# Column names that smell of personal data; each must be listed in pii.py.
_PERSONAL = re.compile(r"(_enc|_hmac|_masked|phone|password|token_hash)$|^(text|note)$")


def test_every_personal_looking_column_is_listed() -> None:
    columns = {f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns}
    suspicious = {c for c in columns if _PERSONAL.search(c.split(".", 1)[1])}
    # halls.phone is the hall's public service number, not a person's.
    missing = suspicious - set(PERSONAL_FIELDS) - {"halls.phone"}
    assert not missing, f"add these to hall_server/pii.py: {sorted(missing)}"
    assert not set(PERSONAL_FIELDS) - columns, "pii.py lists a column the schema does not have"


def test_encrypted_columns_are_binary() -> None:
    for name, (kind, _ctx) in PERSONAL_FIELDS.items():
        if kind == ENCRYPTED:
            table, column = name.split(".")
            assert Base.metadata.tables[table].c[column].type.python_type is bytes, name
