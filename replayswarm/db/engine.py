"""Engines and transactions.

SQLite is the embedded default: WAL so the UI can read while a run writes, a busy timeout so
short lock waits are not errors, and writers that take the write lock when their transaction
begins (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from ..errors import UserError

# A plain postgresql:// URL means psycopg 3, replayswarm's driver, where SQLAlchemy alone would
# pick psycopg2; the URL stays as the user wrote it, in messages too.
registry.register("postgresql", "sqlalchemy.dialects.postgresql.psycopg", "dialect")

DEFAULT_URL = "sqlite:///replayswarm.db"
BUSY_TIMEOUT_MS = 5000
WAL_LIMIT = 64 * 1024 * 1024
_WRITE = "replayswarm_write"


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    return None if database in (None, "", ":memory:") else database


def normalize_url(url: str) -> str:
    """Accept a bare file path as shorthand for a SQLite database."""
    if "://" not in url:
        return f"sqlite:///{url}"
    return url


def make_engine(url: str = DEFAULT_URL) -> Engine:
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(f"--db {url!r} is not a database URL") from None
    if parsed.drivername == "postgres":  # the older spelling, still common in hosted settings
        parsed = parsed.set(drivername="postgresql")
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UserError("PostgreSQL needs the psycopg driver: pip install 'replayswarm[postgres]'") from None
    path = sqlite_path(url)
    if path is not None:
        _create_private_file(path)
    try:
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except Exception as exc:  # unknown dialect, missing driver
        raise UserError(f"cannot use database {parsed.render_as_string(hide_password=True)!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine


def _create_private_file(path: str) -> None:
    # Recordings hold cookies and passwords: the file is readable by its owner only. SQLite
    # gives its -wal and -shm files the same mode as the database file.
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError(f"cannot create database {path!r}: directory {directory!r} does not exist")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UserError(f"cannot open database {path!r}: {exc.strerror}") from None
    os.close(fd)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # After a checkpoint the WAL shrinks back to this: a long recording's one big batch
        # does not leave a file of its size behind.
        cursor.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def busy(exc: Exception) -> bool:
    """A database error that waiting cures: SQLite's lock held by another process past the busy
    timeout, a lock wait that timed out, a connection that dropped."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "locked" in text or "busy" in text or "lock timeout" in text or bool(getattr(exc, "connection_invalidated", False))


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction: committed whole on success, rolled back on error."""
    with Session(engine.execution_options(**{_WRITE: True}), expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
