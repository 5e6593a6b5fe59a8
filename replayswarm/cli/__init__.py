"""The command line: thin click commands, one module per stage. Heavy imports (mitmproxy,
gevent, Flask) happen inside the commands that need them, so `replayswarm --help` stays fast."""

from . import convert, database, play, record, runs, worker  # noqa: F401  (each adds its commands)
from .base import cli, main, parse_duration, parse_size

__all__ = ["cli", "main", "parse_duration", "parse_size"]
