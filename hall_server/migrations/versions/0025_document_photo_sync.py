"""Document photos reach the parent: an index of the documents whose photo is still missing.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 15:00:00

A station's document rows reach its parent without their photo (empty `data_enc`); the photo
follows on its own channel (hall_server/sync/photos.py). The parent looks up, every round of
every station, which of the station's documents still lack it: a partial index keeps that
look-up to the missing ones instead of every document of the halls.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

MISSING = sa.text("length(data_enc) = 0")


def upgrade() -> None:
    op.create_index(
        "ix_ticket_documents_photo_missing",
        "ticket_documents",
        ["hall_id", "id"],
        sqlite_where=MISSING,
        postgresql_where=MISSING,
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_documents_photo_missing", table_name="ticket_documents")
