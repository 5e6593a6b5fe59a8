"""The database's own commands."""

from __future__ import annotations

import click

from .base import cli, db_option

# -- database --------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@db_option
def db_upgrade(db: str) -> None:
    """Create or upgrade the schema to this version of replayswarm."""
    from ..db.engine import make_engine
    from ..db.migrate import upgrade

    engine = make_engine(db)
    before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{where}: schema {after}, up to date.")
    else:
        click.echo(f"{where}: schema {before or 'empty'} -> {after}.")
