"""Commands that look at runs: list, show, compare, the web UI and reports."""

from __future__ import annotations

from pathlib import Path

import click

from ..db import open_db
from ..errors import UserError
from .base import _print_json, _print_table, _table, cli, db_option, json_option

@cli.command()
@json_option
@db_option
def runs(as_json: bool, db: str) -> None:
    """List runs."""
    from ..runs import list_runs

    rows = list_runs(open_db(db))
    if as_json:
        _print_json(rows)
        return
    table = _table("id", "kind", "label", "source", "host", "users", "status", "requests", "fail %", "p95 ms", "req/s", "started")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], r["label"] or "", r["source"], r["host"], str(r["users"]), r["status"] + (" (saturated)" if r["saturated"] else ""),
                      str(r["requests"]), f"{r['error_pct']:.1f}", f"{r['p95_ms']:.1f}", f"{r['rps']:.1f}", r["started"])
    _print_table(table, empty="No runs yet: `replayswarm play SOURCE --host URL --users N`.")


@cli.command("run")
@click.argument("run_id", type=int)
@json_option
@db_option
def run_(run_id: int, as_json: bool, db: str) -> None:
    """Show one run: totals, endpoints, errors, thresholds."""
    from ..runs import get_run

    run = get_run(open_db(db), run_id)
    if as_json:
        _print_json(run)
        return
    tags = " ".join(f"{k}={v}" for k, v in run["tags"].items())
    insecure = ", TLS not verified (--insecure)" if run["config"].get("insecure") else ""
    click.echo(f"Run {run['id']} {run['status']}{' (generator saturated)' if run['saturated'] else ''}: {run['source']} -> {run['host']}, "
               f"{run['users']} users, {run['duration_s']:.0f}s{', ' + run['label'] if run['label'] else ''}{' ' + tags if tags else ''}"
               f"{insecure}")
    table = _table("endpoint", "requests", "failures", "p50", "p90", "p95", "p99", "max", "avg size", "req/s")
    for e in run["endpoints"] + [run["total"]]:
        table.add_row(e["name"], str(e["requests"]), str(e["failures"]), f"{e['p50_ms']:.1f}", f"{e['p90_ms']:.1f}", f"{e['p95_ms']:.1f}",
                      f"{e['p99_ms']:.1f}", f"{e['max_ms']:.1f}", str(e["avg_size"]), f"{e['rps']:.1f}")
    _print_table(table, empty="No requests.")
    if run["config"].get("workers"):
        click.echo("worker hosts: " + ", ".join(f"{w['host']} ({w['processes']} processes)" for w in run["config"]["workers"]))
    for e in run["errors"]:
        click.echo(f"error {e['endpoint']}: {e['kind']} x{e['count']} ({e['sample']})")
    for t in run["thresholds"]:
        click.echo(f"threshold {t['threshold']}: {'held' if t['held'] else 'FAILED'} (measured {t['value']})")
    if run["answer"]:
        from .play import print_capacity

        print_capacity(run["answer"])


@cli.command("compare")
@click.argument("base", type=int)
@click.argument("new", type=int)
@json_option
@db_option
def compare_(base: int, new: int, as_json: bool, db: str) -> None:
    """Compare two runs: per-endpoint deltas of p50/p95/p99, req/s and error rate, and a verdict."""
    from ..compare import compare
    from ..runs import get_run

    engine = open_db(db)
    result = compare(get_run(engine, base), get_run(engine, new))
    if as_json:
        _print_json(result)
        return
    table = _table("endpoint", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors %")
    for row in result["endpoints"] + [{"name": "Aggregated", "changes": result["total"]}]:
        if not row["changes"]:
            table.add_row(row["name"], f"only in {row['only_in']}", "", "", "", "")
            continue
        cells = []
        for metric in ("p50_ms", "p95_ms", "p99_ms", "rps", "error_pct"):
            c = row["changes"][metric]
            mark = {"regression": " !", "improvement": " +"}.get(c["verdict"], "")
            pct = f" ({c['pct']:+.0f}%)" if c["pct"] is not None else ""
            cells.append(f"{c['base']:.1f} -> {c['new']:.1f}{pct}{mark}")
        table.add_row(row["name"], *cells)
    _print_table(table, empty="Nothing to compare.")
    click.echo(result["verdict"])


# -- ui and reports ------------------------------------------------------------------------------


@cli.command()
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8089, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allow-target", multiple=True, metavar="URL", help="A host runs started here may load (repeatable); with none, the UI only looks.")
@click.option("--max-users", default=1000, show_default=True, type=click.IntRange(min=1), help="The most users one run started or steered here may use.")
@click.option("--token", metavar="TOKEN", help="The token to sign in with (default: a random one, printed) [env REPLAYSWARM_UI_TOKEN].")
@click.option("--auth", metavar="USER:PASSWORD", help="HTTP basic auth instead of a token (needed to bind beyond loopback).")
@db_option
def ui(bind: str, port: int, allow_target: tuple[str, ...], max_users: int, token: str | None, auth: str | None, db: str) -> None:
    """Serve the web UI: start, watch and steer runs; compare them; recordings and scenario sets.

    Every page needs signing in, on loopback too: with the token printed at start (once, in the
    address; a cookie carries on) or with --auth."""
    import secrets

    from ..hosts import is_loopback_name
    from ..play.plan import parse_target
    from ..web.auth import Access
    from ..web.launch import Policy

    credentials = None
    if auth is not None:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise UserError("--auth expects USER:PASSWORD")
        credentials = (user, password)
    if not is_loopback_name(bind) and credentials is None:
        raise UserError(f"--bind {bind} is reachable from other machines: add --auth USER:PASSWORD")
    if token is not None and len(token) < 16:
        raise UserError("--token is too short to guess-proof: give 16 characters or more")
    for target in allow_target:
        parse_target(target, "--allow-target")  # a typo is said now, not at the first Start
    from werkzeug.serving import run_simple

    from ..web import create_app

    access = Access(basic=credentials) if credentials else Access(token=token or secrets.token_urlsafe(24))
    app = create_app(db, bind=bind, port=port, access=access, policy=Policy(targets=allow_target, max_users=max_users))
    shown = f"[{bind}]" if ":" in bind else bind
    address = f"http://{shown}:{port}/" + (f"?token={access.token}" if access.token else "")
    may = f"runs may load {', '.join(allow_target)} (at most {max_users} users)" if allow_target else "it only looks (no --allow-target)"
    click.echo(f"replayswarm UI on {address} ({may}; Ctrl-C to stop)", err=True)
    run_simple(bind, port, app, threaded=True, use_reloader=False)


@cli.command()
@click.argument("run_id", type=int, metavar="RUN")
@click.option("--baseline", type=int, metavar="RUN", help="Compare against this run.")
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write the report (- for stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv", "junit"]), default="html", show_default=True)
@db_option
def report(run_id: int, baseline: int | None, output: str, fmt: str, db: str) -> None:
    """Write a run (and its comparison with a baseline) as a self-contained HTML file, JSON, CSV or JUnit."""
    from ..report import build

    text = build(open_db(db), run_id, baseline, fmt)
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {output} ({fmt}, run {run_id}{f' against run {baseline}' if baseline is not None else ''}).")
