"""The command group, its shared options and output helpers, and `main`: the one place that maps
errors to exit codes.

Heavy imports (mitmproxy, gevent, Flask) happen inside the commands that need them, so
`replayswarm --help` stays fast and imports neither gevent nor mitmproxy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from .. import __version__
from ..config import load_defaults
from ..db import DEFAULT_URL
from ..errors import ReplayswarmError, UserError, describe
from ..play.shape import duration as parse_duration  # noqa: F401  (the commands' duration parser)

F = TypeVar("F", bound=Callable[..., Any])


def db_option(f: F) -> F:
    return click.option(
        "--db",
        envvar="REPLAYSWARM_DB",
        default=DEFAULT_URL,
        show_default=True,
        metavar="URL",
        help="SQLAlchemy URL or SQLite file path [env REPLAYSWARM_DB].",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "REPLAYSWARM"})
@click.version_option(__version__, prog_name="replayswarm")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Record real browsing through a proxy, replay it as a swarm of virtual users, compare runs."""
    assert isinstance(ctx.command, click.Group)
    ctx.default_map = load_defaults(ctx.command)



_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_size(text: str, option: str) -> int:
    """`65536`, `512KiB`, `1MiB`, `2MB` → bytes."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise UserError(f"{option} {text!r} is not a size (like 65536, 512KiB, 1MiB)")
    return int(float(match.group(1)) * unit)


def parse_processes(text: str) -> int:
    """`--processes N|auto` → a number of worker processes (auto: one per core)."""
    import os

    if text == "auto":
        return os.cpu_count() or 1
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise UserError(f"--processes {text!r} is not a number of processes (or auto)")


# -- output helpers --------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _table(*columns: str) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _print_table(table: Any, empty: str) -> None:
    from rich.console import Console

    if table.row_count == 0:
        click.echo(empty)
        return
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table)



# -- entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors become one line on stderr and an exit code (2 bad input, 1 failure)."""
    try:
        result = cli.main(args=argv, prog_name="replayswarm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        context = f"{exc.ctx.command_path}: " if getattr(exc, "ctx", None) else ""
        click.echo(f"Error: {context}{exc.format_message()}", err=True)
        sys.exit(2)
    except ReplayswarmError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except SQLAlchemyError as exc:
        click.echo(f"Error: database: {describe(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()