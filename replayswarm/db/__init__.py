"""Storage: engine and transactions, typed models, migrations."""

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ..errors import UserError, describe
from .engine import DEFAULT_URL, busy, make_engine, reading, writing
from .migrate import ensure_schema


def open_db(url: str = DEFAULT_URL) -> Engine:
    """An engine on a database whose schema matches this code (created if new).
    Raises UserError when the database cannot be reached or its schema is not this code's."""
    engine = make_engine(url)
    try:
        ensure_schema(engine)
    except OperationalError as exc:
        if engine.dialect.name == "sqlite":
            raise
        raise UserError(f"cannot reach database {engine.url.render_as_string(hide_password=True)}: {describe(exc)}") from None
    return engine


__all__ = ["DEFAULT_URL", "busy", "make_engine", "open_db", "reading", "writing", "ensure_schema"]
