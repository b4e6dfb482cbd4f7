"""The frameworks' floor for bench_cold_start: one /api/v1/health route on one SQLite engine.

    python benchmarks/_floor_app.py PORT DB_URL

What any server on the same frameworks pays before its first answer: the interpreter, FastAPI,
pydantic (and pydantic-settings), SQLAlchemy's ORM and uvicorn imported, one route declared, one
query, served as `hall-server serve` serves (uvloop, httptools, the same WebSocket protocol,
the collector off while it starts). Nothing of the hall server is imported.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """Serve the one route until stopped."""
    gc.disable()  # as cli.main does for serve
    import pydantic_settings  # noqa: F401  (the hall server's settings are built on it)
    import sqlalchemy.orm  # noqa: F401  (its models are ORM classes)
    import uvicorn
    from fastapi import FastAPI
    from sqlalchemy import create_engine, text

    port, db_url = int(sys.argv[1]), sys.argv[2]
    engine = create_engine(db_url)
    app = FastAPI()

    @app.get("/api/v1/health")
    def health() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    gc.freeze()
    gc.enable()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")


if __name__ == "__main__":
    main()
