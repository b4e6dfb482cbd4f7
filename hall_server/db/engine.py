"""Engines and the one transaction helper: SQLite (WAL, BEGIN IMMEDIATE writers) or PostgreSQL."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session

from hall_server.const import (
    PG_PING_IDLE_S,
    PG_PREPARE_THRESHOLD,
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_WAL_BACKSTOP_PAGES,
)
from hall_server.db.lane import Lane
from hall_server.errors import HallError

logger = logging.getLogger(__name__)

IMMEDIATE = "hall_immediate"


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    """An Engine tuned for the hall server on SQLite or PostgreSQL."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _tune_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        connect_args={"prepare_threshold": PG_PREPARE_THRESHOLD},
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    _ping_idle(engine)
    return engine


def _ping_idle(engine: Engine) -> None:
    """Ping a pooled connection at check-out only if it sat unused PG_PING_IDLE_S or more.

    pool_pre_ping would ping at every check-out: a round trip per request for connections
    that were in use a few milliseconds before. A dead one that the rule lets through fails
    its first statement; the request's token look-up is that statement and is retried on
    another connection (Database.first_read).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["hall_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("hall_idle_since", None)
        if since is None or time.monotonic() - since < PG_PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool replaces the connection and tries again (SQLAlchemy's own rule).
            raise DisconnectionError(str(exc)) from exc


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The driver must not open transactions itself: we issue BEGIN [IMMEDIATE] below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL is durable across application crashes in WAL mode; only power loss may drop
        # the last commits, which is the usual trade for a kiosk hall.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # A serving process checkpoints in a thread of its own (db/checkpoint.py); SQLite's own
        # checkpoint in the committing thread is only the backstop.
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_BACKSTOP_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front so two writers never deadlock on upgrade.
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        # Straight to the driver: this runs once per transaction on every hot path.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Tx:
    """A writing transaction on one Connection: the part of a Session the hot use cases use.

    No ORM unit of work, identity map or session events: about a third of the fixed cost of a
    Session transaction. Events appended to it (`info["events"]`) are published after commit
    exactly as with `Database.write()`.
    """

    __slots__ = ("conn", "info")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.info: dict[str, Any] = {}

    def connection(self) -> Connection:
        """The transaction's Connection."""
        return self.conn

    def get_bind(self) -> Connection:
        """Like Session.get_bind(): something with a `dialect`."""
        return self.conn

    def execute(self, statement: Any, params: Any = None) -> Any:
        """Execute a Core statement in this transaction."""
        return self.conn.execute(statement, params)

    def scalar(self, statement: Any, params: Any = None) -> Any:
        """The first column of the first row."""
        return self.conn.execute(statement, params).scalar()


class DriverConn:
    """A pooled driver connection with what a Prepared statement needs (`connection`, `dialect`)."""

    __slots__ = ("connection", "dialect", "owner")

    def __init__(self, pooled: Any, dialect: Any, owner: Connection | None = None) -> None:
        self.connection = pooled  # .dbapi_connection, like a Connection's .connection
        self.dialect = dialect
        self.owner = owner  # the Connection it belongs to, if any

    def invalidate(self, exc: BaseException) -> None:
        """The connection is dead: drop it (through its Connection, which then takes a new one)."""
        if self.owner is not None:
            self.owner.invalidate(exc)
        else:
            self.connection.invalidate(exc)


class _Group:
    """A lane group's state on the lane thread: its one connection and transaction, once begun."""

    __slots__ = ("conn", "depth", "pending", "trans")

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.trans: Any = None
        self.depth = 0  # savepoints open now
        # The current call's committed blocks' events, one list per block (published later).
        self.pending: list[list[Any]] = []


class _LaneGrouping:
    """Group commit for the lane (db/lane.py): the calls of a group share one SQLite transaction.

    Inside a group, `write()`/`tx()` open a SAVEPOINT on the group's connection (its BEGIN
    IMMEDIATE happens at the first of them and holds the process's write lock until the group
    ends); leaving the block RELEASEs it, an error rolls back to it. `read()`, `read_conn()` and
    `read_driver()` use the same connection once it is open, so a call sees what the calls
    before it in the group wrote, as if they had run one after another. Events are published
    by `publish()`, after `commit()`.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        # The lane's own connection, kept from group to group: a pool check-out and check-in
        # and a new Connection per group cost more CPU than most of a group's statements.
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        """The lane's connection (opened on first use, and again after an invalidation)."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self._conn = self._db._write_engine.connect()
            # Each call of a group is a SAVEPOINT, and SQLite copies every page a savepoint
            # changes first into its sub-journal, which spills to a temporary file past 64 KiB:
            # a 下一位 or an issue touches about that much (tickets and their indexes, windows,
            # events, counters), so most group transactions created, wrote and deleted a file
            # (issue's event insert 143-153 -> 60-73 us, 下一位's 310-397 -> 110-152 us of CPU in
            # bench_server_core --breakdown). In memory it is bounded by a group's pages
            # (GROUP_MAX_CALLS calls); the pool's other users (exports, statistics) keep the
            # default, so their large sorts still go to files.
            conn.connection.dbapi_connection.execute("PRAGMA temp_store=MEMORY")
        return conn

    def close(self) -> None:
        """Give the connection back to the pool (the lane stops, or its BEGIN failed)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if not conn.invalidated:
                try:
                    conn.connection.dbapi_connection.execute("PRAGMA temp_store=DEFAULT")
                except Exception:  # the connection is unusable: the pool must not hand it out
                    logger.debug("lane connection not reset", exc_info=True)
                    conn.invalidate()
            conn.close()

    def open(self) -> None:
        self._db._local.group = _Group()

    def end_call(self) -> Any:
        g: _Group = self._db._local.group
        token, g.pending = g.pending, []
        return token

    def broken(self) -> BaseException | None:
        g: _Group = self._db._local.group
        if g.conn is not None and not g.conn.connection.dbapi_connection.in_transaction:
            return OperationalError("COMMIT", None, Exception("the group's transaction was rolled back"))
        return None

    def commit(self) -> None:
        g: _Group = self._db._local.group
        if g.trans is None:
            self._end()
            return
        try:
            g.trans.commit()
        except OperationalError as exc:
            if _is_busy(exc):
                raise HallError("server.busy") from exc
            raise
        self._end()

    def abort(self) -> None:
        g: _Group | None = getattr(self._db._local, "group", None)
        try:
            if g is not None and g.conn is not None:
                if g.trans is not None and g.trans.is_active:
                    g.trans.rollback()
                # A failed COMMIT leaves SQLAlchemy's transaction inactive but SQLite's may
                # still be open: end it on the driver before the connection goes back.
                raw = g.conn.connection.dbapi_connection
                if raw is not None and raw.in_transaction:
                    raw.rollback()
        except Exception:
            logger.exception("group rollback failed")
            if g is not None and g.conn is not None:
                g.conn.invalidate()
        finally:
            # After a failed group the connection's state is not to be trusted (SQLAlchemy may
            # still hold the transaction a failed COMMIT left): the next group takes a new one.
            self.close()
            self._end()

    def _end(self) -> None:
        g: _Group | None = getattr(self._db._local, "group", None)
        self._db._local.group = None
        if g is not None and g.conn is not None:
            # The connection stays the lane's (its transaction has ended); the slot is freed.
            self._db._write_lock.release()

    def publish(self, token: Any) -> None:
        for published in token:
            self._db._publish(published)


class Database:
    """Owns the engine; `write()` and `read()` give a Session in one transaction each."""

    def __init__(self, url: str, *, pool_size: int = 20, pg_writers: int | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self._pool_capacity = 2 * pool_size  # pool_size and as many again in overflow
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._write_engine = (
            self.engine.execution_options(**{IMMEDIATE: True}) if self.is_sqlite else self.engine
        )
        # One writer at a time inside this process: SQLite would serialise them anyway, and
        # queueing on a lock is fairer and cheaper than SQLite's sleeping busy handler.
        self._write_lock: Any = threading.Lock() if self.is_sqlite else None
        if self.is_postgres:
            # A few writers at a time: more only contend for the same hot rows and index pages
            # (the queue heads, the hall's seq row), which on a small machine burns the CPU
            # the database needs; the rest wait here, asleep, for a few milliseconds.
            self._write_lock = threading.BoundedSemaphore(pg_writers or max(2, 2 * (os.cpu_count() or 1)))
        # Hooks get [(event, wire_text), ...] of each committed transaction.
        self.after_commit: list[Callable[[list[tuple[dict[str, Any], str]]], None]] = []
        self._lane: Lane | None = None
        self._grouping: _LaneGrouping | None = None
        self._lane_lock = threading.Lock()
        # The lane thread's open group (group commit), if any; None on every other thread.
        self._local = threading.local()
        self.group_commit = True
        # tx(queue=...): one writer at a time per queue name (a hall's issues), in this process.
        self._queues: dict[str, threading.Lock] = {}

    @contextmanager
    def request(self) -> Iterator[None]:
        """PostgreSQL: the request's token look-up and use case share one pooled connection.

        One check-out instead of one per step (each was a pool round and, with pre-ping, a
        network round trip). read_driver(), tx(), read_conn(), read() and write() use it while
        it is outside a transaction; one opened inside another's transaction takes its own
        connection from the pool, as everywhere else. SQLite: nothing (its hot use cases run
        on the lane, whose group holds one connection already).
        """
        if not self.is_postgres or getattr(self._local, "pinned", None) is not None:
            yield
            return
        self._local.pinned = self._connect()
        try:
            yield
        finally:
            conn, self._local.pinned = self._local.pinned, None
            conn.close()

    def _connect(self) -> Connection:
        """A Connection from the pool; a database that is down is SQLAlchemy's OperationalError."""
        return self.engine.connect()

    def _free_pinned(self) -> Connection | None:
        """The request's connection (Database.request) if it is not in a transaction now."""
        conn: Connection | None = getattr(self._local, "pinned", None)
        if conn is None or conn.in_transaction():
            return None
        return conn

    def first_read(self, fn: Callable[[DriverConn], Any]) -> Any:
        """fn on read_driver(): a request's first statement, retried on a connection found dead.

        The pool pings only connections idle for a while (_ping_idle), so after a database
        restart a connection in steady use fails its next statement; this read is then run
        again on another one, as many times as the pool may hold dead connections.
        """
        attempts = self._pool_capacity + 1 if self.is_postgres else 1
        for attempt in range(attempts):
            try:
                with self.read_driver() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == attempts - 1:
                    raise
                logger.warning("connection found dead, reading again on another: %s", exc.orig)
        raise AssertionError("unreachable")

    @property
    def lane(self) -> Lane | None:
        """SQLite: the one thread of the hot use cases (db/lane.py), started on first use.

        None on PostgreSQL, whose writers run side by side in the thread pool.
        """
        if not self.is_sqlite:
            return None
        lane = self._lane
        if lane is None:
            with self._lane_lock:
                if self._lane is None:
                    self._grouping = _LaneGrouping(self) if self.group_commit else None
                    self._lane = Lane(grouping=self._grouping)
                lane = self._lane
        return lane

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A writer's slot in this process; a database still busy after the timeout is server.busy."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            yield
        except OperationalError as exc:
            if _is_busy(exc):
                logger.warning("database busy: %s", exc)
                raise HallError("server.busy") from exc
            raise
        finally:
            if lock is not None:
                lock.release()

    def _lane_grouping(self) -> _LaneGrouping:
        """The lane's grouping (only the lane thread, inside a group, asks for it)."""
        grouping = self._grouping
        assert grouping is not None, "a lane group without its grouping"
        return grouping

    def _group(self) -> _Group | None:
        """The lane group running on this thread (only the lane thread ever has one)."""
        return getattr(self._local, "group", None)

    def _group_conn(self, g: _Group) -> Connection:
        """The group's connection, beginning its IMMEDIATE transaction at the first write."""
        if g.conn is None:
            self._write_lock.acquire()
            try:
                grouping = self._lane_grouping()
                conn = grouping.connection()
                try:
                    g.trans = conn.begin()
                except BaseException:
                    grouping.close()  # a fresh connection for the next group
                    raise
            except OperationalError as exc:
                self._write_lock.release()
                if _is_busy(exc):
                    logger.warning("database busy: %s", exc)
                    raise HallError("server.busy") from exc
                raise
            except BaseException:
                self._write_lock.release()
                raise
            g.conn = conn
        return g.conn

    @contextmanager
    def _savepoint(self, g: _Group) -> Iterator[Connection]:
        """A SAVEPOINT on the group's connection: released at the end, rolled back on error."""
        conn = self._group_conn(g)
        raw = conn.connection.dbapi_connection
        g.depth += 1
        name = f"hall_sp{g.depth}"
        raw.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            try:
                raw.execute(f"ROLLBACK TO {name}")
                raw.execute(f"RELEASE {name}")
            except Exception:  # the transaction is gone: the lane sees it (broken())
                logger.debug("rollback to savepoint failed", exc_info=True)
            raise
        else:
            raw.execute(f"RELEASE {name}")
        finally:
            g.depth -= 1

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One use case = one writing transaction; events appended are published after commit."""
        published: list[tuple[dict[str, Any], str]] = []
        g = self._group()
        if g is not None:
            # The Session's own transaction is a SAVEPOINT on the group's connection.
            session = Session(
                bind=self._group_conn(g),
                expire_on_commit=False,
                autoflush=False,
                join_transaction_mode="create_savepoint",
            )
            with _events_of(session, published) as s:
                yield s
            if published:
                g.pending.append(published)
            return
        with self._writing():
            session = Session(
                self._free_pinned() or self._write_engine, expire_on_commit=False, autoflush=False
            )
            with _events_of(session, published) as s:
                yield s
        if published:
            self._publish(published)

    @contextmanager
    def tx(self, *, queue: str | None = None) -> Iterator[Tx]:
        """Like write(), on a bare Connection (Core statements only); for the hot use cases.

        queue (PostgreSQL): writers that name the same queue run one at a time in this process,
        waiting for it before they take a writer slot. For writers that would serialise on one
        hot row anyway (a hall's number counter): in the database each waiter would hold a
        writer slot and a connection while the row lock is held, and the hall's windows and
        station sync wait for a slot behind them. SQLite's hot writers run in one lane already.
        """
        if queue is not None and self.is_postgres and self._group() is None:
            with self._queue(queue), self.tx() as tx:
                yield tx
            return
        g = self._group()
        if g is not None:
            with self._savepoint(g) as conn:
                tx = Tx(conn)
                yield tx
                for hook in tx.info.pop("before_commit", ()):
                    hook()
            published = tx.info.get("events")
            if published:
                g.pending.append(published)
            return
        pinned = self._free_pinned()
        with self._writing(), ExitStack() as own:
            conn = pinned if pinned is not None else own.enter_context(self._write_engine.connect())
            tx = Tx(conn)
            with conn.begin():
                yield tx
                # Work the use case left for last (hall_server.events.stage_event).
                for hook in tx.info.pop("before_commit", ()):
                    hook()
        published = tx.info.get("events")
        if published:
            self._publish(published)

    def _queue(self, name: str) -> threading.Lock:
        """The in-process lock of a writers' queue (tx(queue=...)), made on first use."""
        lock = self._queues.get(name)
        if lock is None:
            with self._lane_lock:
                lock = self._queues.setdefault(name, threading.Lock())
        return lock

    def _publish(self, published: list[Any]) -> None:
        for hook in self.after_commit:
            try:
                hook(published)
            except Exception:
                logger.exception("after-commit hook failed")

    @contextmanager
    def read(self, *, consistent: bool = False) -> Iterator[Session]:
        """A read-only transaction; `consistent` makes every statement see one snapshot."""
        g = self._group()
        if g is not None and g.conn is not None:
            session = Session(
                bind=g.conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
            )
            try:
                with session.begin():
                    yield session
            finally:
                session.close()
            return
        # A consistent read changes the isolation level: not on the request's connection.
        bind = None if consistent else self._free_pinned()
        session = Session(bind or self.engine, expire_on_commit=False, autoflush=False)
        try:
            with session.begin():
                if consistent and self.is_postgres:
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                yield session
        finally:
            session.close()

    @contextmanager
    def read_conn(self) -> Iterator[Connection]:
        """A bare Connection for hot read paths (no ORM session); its read transaction ends at the end."""
        g = self._group()
        if g is not None and g.conn is not None:
            yield g.conn
            return
        pinned = self._free_pinned()
        with ExitStack() as own:
            conn = pinned if pinned is not None else own.enter_context(self.engine.connect())
            yield conn
            if self.is_postgres and conn.in_transaction():
                # COMMIT, not the pool's ROLLBACK: the same for a read, but psycopg drops the
                # connection's prepared statements at every ROLLBACK.
                conn.commit()

    @contextmanager
    def read_driver(self) -> Iterator[DriverConn]:
        """A pooled driver connection for one hot read by a Prepared statement (db/prepared.py).

        Half the cost of read_conn(): no Connection object, no transaction begun and rolled back
        around a single SELECT (both databases run it in autocommit).
        """
        g = self._group()
        if g is not None:
            # On the lane: its own connection, in the group's transaction if one has begun,
            # else on its own (SQLite runs a lone SELECT in autocommit).
            conn = g.conn if g.conn is not None else self._lane_grouping().connection()
            yield DriverConn(conn.connection, self.engine.dialect, conn)
            return
        # The pool hands out the driver's own errors here; they are raised as SQLAlchemy's, so a
        # database that is down answers 503 as on every other path (api/errors.py).
        dbapi_error = self.engine.dialect.loaded_dbapi.OperationalError
        pinned = self._free_pinned()
        try:
            # The request's connection (Database.request); it stays checked out afterwards.
            pooled = pinned.connection if pinned is not None else self.engine.raw_connection()
        except dbapi_error as exc:
            raise OperationalError("connect", None, exc) from exc
        raw = pooled.dbapi_connection
        if self.is_postgres:
            # One SELECT needs no transaction: without BEGIN and the pool's ROLLBACK it is one
            # round trip instead of three, and no ROLLBACK means psycopg keeps the connection's
            # prepared statements (it drops them all at every ROLLBACK, and every hot statement
            # was then planned again on each use).
            raw.autocommit = True
        try:
            yield DriverConn(pooled, self.engine.dialect, pinned)
        except dbapi_error as exc:
            raise OperationalError("read", None, exc) from exc
        finally:
            if self.is_postgres and pooled.is_valid:
                try:
                    raw.autocommit = False
                except self.engine.dialect.loaded_dbapi.Error:
                    pooled.invalidate()  # the connection is gone: the pool must not hand it out
            if pinned is None:
                pooled.close()

    def dispose(self) -> None:
        """Stop the lane (after its queued calls) and close every pooled connection."""
        with self._lane_lock:
            lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
        self.engine.dispose()


@contextmanager
def _events_of(session: Session, published: list[tuple[dict[str, Any], str]]) -> Iterator[Session]:
    """Run the session's transaction; the events it appended land in `published`, and it closes."""
    try:
        with session.begin():
            yield session
    finally:
        published.extend(session.info.pop("events", None) or [])
        session.close()


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text
