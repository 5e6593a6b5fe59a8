"""Read what the stages stored, straight from the database file."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text

# A database-facing test marked @BOTH runs on SQLite and on PostgreSQL (a throwaway server).
BOTH = pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)


def _engine(db: str):  # type: ignore[no-untyped-def]
    # psycopg 3, the driver replayswarm uses for a plain postgresql:// URL
    return create_engine(db.replace("postgresql://", "postgresql+psycopg://", 1))


def rows(db: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = _engine(db)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def execute(db: str, sql: str, **params: Any) -> None:
    """Change the database behind replayswarm's back, as another program (or an old version) would."""
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def as_json(value: Any) -> Any:
    """A JSON column's value: SQLite gives its text, PostgreSQL (psycopg) the value itself."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def flows(db: str, recording: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT f.* FROM flows f JOIN recordings r ON r.id = f.recording_id WHERE r.name = :name ORDER BY f.seq",
        name=recording,
    )
