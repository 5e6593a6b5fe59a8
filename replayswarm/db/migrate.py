"""Alembic, configured in code: no alembic.ini to ship or to find at run time."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from ..errors import UserError
from ..resources import migrations_dir

def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    _refuse_newer(engine, before)
    command.upgrade(_config(engine), revision)
    after = current_revision(engine)
    assert after is not None
    return before, after


def ensure_schema(engine: Engine) -> None:
    """Create the schema on a new database; refuse one that is older or newer than the code."""
    current = current_revision(engine)
    if current is None:
        if inspect(engine).get_table_names():
            raise UserError(f"{_where(engine)} is not a replayswarm database (it has tables but no schema version)")
        command.upgrade(_config(engine), "head")
        return
    _refuse_newer(engine, current)
    heads = ScriptDirectory.from_config(_config(engine)).get_heads()
    if current not in heads:
        raise UserError(
            f"{_where(engine)} has schema {current}, older than this replayswarm's {heads[0]}: "
            "run `replayswarm db upgrade`"
        )


def _refuse_newer(engine: Engine, current: str | None) -> None:
    if current is None:
        return
    script = ScriptDirectory.from_config(_config(engine))
    try:
        known = script.get_revision(current)
    except Exception:
        known = None
    if known is None:
        raise UserError(
            f"{_where(engine)} has schema {current}, newer than this replayswarm knows: upgrade replayswarm"
        )


def _where(engine: Engine) -> str:
    return f"database {engine.url.render_as_string(hide_password=True)}"
