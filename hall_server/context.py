"""The server's long-lived parts in one object: database, catalog, data protector, event bus."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hall_server.bus import EventBus
from hall_server.catalog import Catalog
from hall_server.config import Settings
from hall_server.crypto import DataProtector, load_or_create_key
from hall_server.db.engine import Database
from hall_server.events import last_seq, read_events
from hall_server.services.queue import EstimateCache

logger = logging.getLogger(__name__)


@dataclass
class ServerContext:
    """Everything a request handler needs besides the request."""

    settings: Settings
    db: Database
    catalog: Catalog
    protector: DataProtector
    bus: EventBus
    estimates: EstimateCache = field(default_factory=EstimateCache)
    # The one clock of the server's use cases; tests move it to cross days and deadlines.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return self.clock()

    @classmethod
    def create(cls, settings: Settings) -> ServerContext:
        """Open the database and key; the bus is attached to a loop at app start-up."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.database_url, pool_size=settings.pool_size, pg_writers=settings.writers)
        protector = DataProtector(load_or_create_key(settings.data_dir, settings.data_key))

        def fetch(hall_id: str, since: int, limit: int) -> list[dict]:
            with db.read() as s:
                return read_events(s, hall_id, since, limit)

        def read_seq(hall_id: str) -> int:
            with db.read() as s:
                return last_seq(s, hall_id)

        bus = EventBus(fetch, read_seq)
        db.after_commit.append(bus.publish)
        return cls(settings=settings, db=db, catalog=Catalog(db), protector=protector, bus=bus)

    def close(self) -> None:
        """Release the database."""
        self.db.dispose()
