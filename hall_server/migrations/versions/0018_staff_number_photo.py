"""Staff number (工号) and photo of a staff member, for the rating terminal (好差评).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 11:40:00

`users.staff_number` is shown with the clerk's name; `users.photo_enc` holds the photo's
thumbnail (JPEG) encrypted with the data key, bound to the user id (hall_server/pii.py). Both
travel to stations in the config snapshot with the rest of the users row. Uniqueness of the
staff number is checked by the use case, not by an index: a station applies the city's users
row by row, and two numbers swapped at the city must not collide half-way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: the users table is not rebuilt.
    op.add_column("users", sa.Column("staff_number", sa.String(20), nullable=True))
    op.add_column("users", sa.Column("photo_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("photo_enc")
        batch.drop_column("staff_number")
