"""Read what the stages stored, straight from the database file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text


def rows(db: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def flows(db: str, recording: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT f.* FROM flows f JOIN recordings r ON r.id = f.recording_id WHERE r.name = :name ORDER BY f.seq",
        name=recording,
    )
