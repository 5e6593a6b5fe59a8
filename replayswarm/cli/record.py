"""Commands of the record stage: record through the proxy, import files, look at recordings."""

from __future__ import annotations

import click

from ..db import open_db
from .base import _print_json, _print_table, _table, cli, db_option, json_option

# -- record ----------------------------------------------------------------------------------


@cli.command()
@click.option("--name", required=True, help="Name of the new recording (unique).")
@click.option("--listen-host", default="127.0.0.1", show_default=True, help="Address the proxy listens on.")
@click.option("--listen-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allow", multiple=True, metavar="HOST", help="Record only this host (repeatable; `*.example.com`, `host:port`). Others pass through untouched.")
@click.option("--confdir", default="~/.mitmproxy", show_default=True, help="Where mitmproxy keeps its CA certificate.")
@click.option("--ssl-insecure", is_flag=True, help="Do not verify the certificates of upstream servers.")
@click.option("--ui-port", default=8089, show_default=True, type=click.IntRange(1, 65535), help="replayswarm UI port, never proxied to.")
@click.option("--body-cap", default=1 << 20, show_default=True, type=click.IntRange(0), help="Bytes of a text body kept; larger bodies keep size and hash.")
@click.option("--allow-remote-clients", is_flag=True, help="Accept proxy clients that are not on loopback.")
@db_option
def record(
    name: str,
    listen_host: str,
    listen_port: int,
    allow: tuple[str, ...],
    confdir: str,
    ssl_insecure: bool,
    ui_port: int,
    body_cap: int,
    allow_remote_clients: bool,
    db: str,
) -> None:
    """Record browsing through an HTTP(S) proxy until Ctrl-C."""
    from ..record.proxy import ProxySettings
    from ..record.proxy import record as run_proxy
    from ..record.store import summaries

    engine = open_db(db)
    settings = ProxySettings(
        listen_host=listen_host,
        listen_port=listen_port,
        allow=allow,
        confdir=confdir,
        ssl_insecure=ssl_insecure,
        ui_port=ui_port,
        body_cap=body_cap,
        allow_remote_clients=allow_remote_clients,
    )
    result = run_proxy(engine, name, settings, announce=lambda line: click.echo(line, err=True))
    summary = summaries(engine, name)[0]
    hosts = ", ".join(summary.hosts) or "none"
    click.echo(
        f"Recorded {summary.flows} flows from {len(summary.hosts)} host(s) ({hosts}) "
        f"in {result.duration:.1f}s as {name!r}."
    )
    # Closing the connections folds SQLite's write-ahead log into the database file.
    engine.dispose()


@cli.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--name", required=True, help="Name of the new recording (unique).")
@db_option
def import_(files: tuple[str, ...], name: str, db: str) -> None:
    """Import HAR 1.2 files or mitmproxy dumps as one recording."""
    from ..record.importer import import_files

    engine = open_db(db)
    result = import_files(engine, files, name)
    cached = f"; {result.cached} served from the browser's cache left out" if result.cached else ""
    click.echo(f"Imported {result.flows} flows from {len(files)} file(s) as {name!r} (source {result.source}{cached}).")


# -- inspecting ------------------------------------------------------------------------------


@cli.command()
@json_option
@db_option
def recordings(as_json: bool, db: str) -> None:
    """List recordings."""
    from ..record.store import summaries

    rows = summaries(open_db(db))
    if as_json:
        _print_json([r.as_dict() for r in rows])
        return
    table = _table("name", "source", "created", "flows", "hosts", "duration")
    for r in rows:
        table.add_row(r.name, r.source, r.created, str(r.flows), ", ".join(r.hosts), f"{r.duration:.1f}s")
    _print_table(table, empty="No recordings yet: `replayswarm record --name NAME` or `replayswarm import FILE --name NAME`.")


@cli.command("recording")
@click.argument("name")
@json_option
@click.option("--delete", is_flag=True, help="Delete the recording and its flows.")
@db_option
def recording_(name: str, as_json: bool, delete: bool, db: str) -> None:
    """Show a recording's flows (secrets masked), or delete it."""
    from ..record.show import flow_view
    from ..record.store import delete_recording, get_recording

    engine = open_db(db)
    if delete:
        count = delete_recording(engine, name)
        click.echo(f"Deleted recording {name!r} and its {count} flows.")
        return
    summary, flows = get_recording(engine, name)
    views = [flow_view(f) for f in flows]
    if as_json:
        _print_json({**summary.as_dict(), "flows": views})
        return
    click.echo(f"{summary.name}: {summary.flows} flows from {', '.join(summary.hosts) or 'no hosts'} ({summary.source}, {summary.created})")
    table = _table("#", "+s", "method", "url", "status", "type", "bytes", "ms")
    first = flows[0].started if flows else 0.0
    for f, v in zip(flows, views):
        ms = f"{(f.ended - f.started) * 1000:.0f}" if f.ended is not None else ""
        status = str(f.status) if f.status is not None else f"error: {f.error}"
        kind = v["content_type"] or "" if f.kind == "http" else f"{f.kind} (not replayable)"
        table.add_row(str(f.seq), f"{f.started - first:.2f}", f.method, v["url"], status, kind.split(";")[0], str(f.response_size), ms)
    _print_table(table, empty="(no flows)")
