"""Alembic migrations of the hall server (run with `hall-server migrate`)."""
