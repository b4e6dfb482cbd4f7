"""Storage: SQLAlchemy 2 models, engines and the one transaction helper."""
