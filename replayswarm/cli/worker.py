"""A worker host of a distributed run: `replayswarm worker --master-host HOST`."""

from __future__ import annotations

import click

from ..errors import UserError
from .base import cli, parse_duration, parse_processes


@cli.command()
@click.option("--master-host", required=True, help="The host running `replayswarm play --master` (or capacity --master).")
@click.option("--master-port", type=click.IntRange(1, 65535), default=5557, show_default=True)
@click.option("--processes", default="1", show_default=True, metavar="N|auto", help="Worker processes on this host (auto: one per core).")
@click.option("--master-wait", default="5m", show_default=True, metavar="DURATION", help="How long to wait for the master to listen.")
def worker(master_host: str, master_port: int, processes: str, master_wait: str) -> int:
    """Run virtual users for a master on another host: it sends the plan, the data rows and the
    settings; this host sends back its statistics. Serves one run, then exits."""
    count = parse_processes(processes)
    wait = parse_duration(master_wait, "--master-wait")
    try:
        import locust  # noqa: F401  (the distributed engine; it makes this process a gevent one)
    except ImportError:
        raise UserError("replayswarm worker needs Locust, the distributed engine: pip install 'replayswarm[distributed]'") from None
    from ..play.bridge import serve

    return serve(master_host, master_port, count, wait)
