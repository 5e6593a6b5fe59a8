"""Where options come from: the command line, then REPLAYSWARM_* environment variables, then
`replayswarm.toml` in the working directory, then the built-in defaults.

click already ranks the first two above its `default_map`; this module turns the TOML file into
that map. Top-level keys apply to every command, a `[command]` table to one command:

    db = "postgresql://loadtest@db/replayswarm"
    [record]
    listen-port = 8081
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click

from .errors import UserError

CONFIG_FILE = "replayswarm.toml"


def load_defaults(group: click.Group, path: Path = Path(CONFIG_FILE)) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    return _defaults_for(group, data, {})


def _defaults_for(group: click.Group, table: dict[str, Any], inherited: dict[str, Any]) -> dict[str, Any]:
    common = {**inherited, **{_key(k): v for k, v in table.items() if not isinstance(v, dict)}}
    result: dict[str, Any] = {}
    for name, command in group.commands.items():
        own = table.get(name)
        own = own if isinstance(own, dict) else {}  # `db = "..."` is an option, not the `db` group
        if isinstance(command, click.Group):
            result[name] = _defaults_for(command, own, common)
        else:
            result[name] = {**common, **{_key(k): v for k, v in own.items()}}
    return result


def _key(name: str) -> str:
    return name.replace("-", "_")
