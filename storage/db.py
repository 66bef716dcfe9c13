"""Database engine and sessions. SQLite (aiosqlite, WAL) by default; PostgreSQL via asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_URL = "sqlite+aiosqlite:///data/tocsin.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (below) instead of the
    # driver's lazy BEGIN, so a read-then-write transaction holds the write lock from
    # its first read and cannot overwrite a change committed in between.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "tocsin_read_only"


def _begin_immediate(connection: Connection) -> None:
    """Writers take the lock at BEGIN; readers (``Database.read``) need no lock: in WAL
    mode a deferred transaction reads a consistent snapshot while a writer works."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url: str = DEFAULT_URL) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    """Owns the engine and hands out sessions; one per process, passed explicitly."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        """SQLite has one writer at a time: writers of this process queue here, in
        order, rather than in SQLite's busy handler, which sleeps up to 100 ms between
        tries (seen as 4 s answers under 200 concurrent clicks). Other processes on the
        same file still wait in the busy handler."""

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.
        Not to be nested: on SQLite an inner one would wait for the outer forever."""
        async with self._writer, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only: on SQLite it neither takes nor waits for the write
        lock, so listings, health checks and scrapes never queue behind a tick."""
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(**{READ_ONLY: True})
            async with (
                AsyncSession(bind=connection, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session

    async def migrate(self) -> None:
        from storage.migrate import upgrade_to_head

        await upgrade_to_head(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()
