"""The server's long-lived parts in one object: database, catalog, data protector, event bus."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hall_server import chain
from hall_server.bus import EventBus
from hall_server.catalog import Catalog
from hall_server.config import Settings
from hall_server.const import META_KEY_FINGERPRINT
from hall_server.crypto import DataKeyError, DataProtector, load_or_create_key
from hall_server.db.engine import Database
from hall_server.db.models import ServerMeta
from hall_server.db.upsert import upsert_do_nothing
from hall_server.events import last_seq, read_event_texts
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
        chain.set_algorithm(settings.audit_hash)
        master = load_or_create_key(settings.data_dir, settings.data_key_file, settings.data_key)
        protector = DataProtector(master, settings.data_cipher)
        db = Database(settings.database_url, pool_size=settings.pool_size, pg_writers=settings.writers)
        try:
            check_key_fingerprint(db, protector.fingerprint)
        except OperationalError:
            # The database is down at start (the server still starts and answers 503): the
            # check runs before the key is first used instead.
            logger.warning("database unreachable; the data key is checked on first use")
            protector.before_first_use(lambda: check_key_fingerprint(db, protector.fingerprint))
        except BaseException:
            db.dispose()
            raise

        def fetch(hall_id: str, since: int, limit: int) -> list[tuple[int, str]]:
            with db.read() as s:
                return read_event_texts(s, hall_id, since, limit)

        def read_seq(hall_id: str) -> int:
            with db.read() as s:
                return last_seq(s, hall_id)

        bus = EventBus(fetch, read_seq, queue_max=settings.ws_queue_max)
        db.after_commit.append(bus.publish)
        ctx = cls(settings=settings, db=db, catalog=Catalog(db), protector=protector, bus=bus)
        if settings.clock_offset_s:
            offset = timedelta(seconds=settings.clock_offset_s)
            ctx.clock = lambda: datetime.now(UTC) + offset
        return ctx

    def close(self) -> None:
        """Release the database."""
        self.db.dispose()


def check_key_fingerprint(db: Database, fingerprint: str) -> None:
    """The first process on a database records its key's fingerprint; any other key is refused.

    Without it, two processes with different data folders would each encrypt with their own
    key, and one could not read what the other wrote (a 500 on the first reveal).
    """
    table = ServerMeta.__table__
    with db.write() as s:
        s.execute(
            upsert_do_nothing(
                db.engine.dialect.name, table, {"key": META_KEY_FINGERPRINT, "value": fingerprint}
            )
        )
        stored = s.execute(select(table.c.value).where(table.c.key == META_KEY_FINGERPRINT)).scalar()
    if stored != fingerprint:
        raise DataKeyError(
            "数据密钥与数据库不符，拒绝启动 / this data key is not the key of this database "
            f"(database key fingerprint {str(stored)[:24]}…, this key {fingerprint[:24]}…). "
            "Give every server process of the database the same key: HALL_DATA_KEY, "
            "HALL_DATA_KEY_FILE or --data-key-file (see docs/security.md, Data keys)."
        )
