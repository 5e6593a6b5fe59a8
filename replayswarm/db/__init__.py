"""Storage: engine and transactions, typed models, migrations."""

from sqlalchemy import Engine

from .engine import DEFAULT_URL, busy, make_engine, reading, writing
from .migrate import ensure_schema


def open_db(url: str = DEFAULT_URL) -> Engine:
    """An engine on a database whose schema matches this code (created if new)."""
    engine = make_engine(url)
    ensure_schema(engine)
    return engine


__all__ = ["DEFAULT_URL", "busy", "make_engine", "open_db", "reading", "writing", "ensure_schema"]
