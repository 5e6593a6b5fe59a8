"""The command line: thin click commands. The one place that maps errors to exit codes.

Heavy imports (mitmproxy, gevent, Flask) happen inside the commands that need them, so
`replayswarm --help` stays fast and imports neither gevent nor mitmproxy.
"""

from __future__ import annotations

import dataclasses

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .config import load_defaults
from .db import DEFAULT_URL, open_db
from .errors import ReplayswarmError, UserError, describe

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
    from .record.proxy import ProxySettings
    from .record.proxy import record as run_proxy
    from .record.store import summaries

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
    from .record.importer import import_files

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
    from .record.store import summaries

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
    from .record.show import flow_view
    from .record.store import delete_recording, get_recording

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


# -- convert -------------------------------------------------------------------------------------


@cli.command()
@click.argument("recording")
@click.option("--name", help="Name of the scenario set (default: the recording's name).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the set as a scenario YAML file.")
@click.option("--no-assets", is_flag=True, help="Drop static assets (CSS, JS, images, fonts).")
@click.option("--exclude", multiple=True, metavar="REGEX", help="Drop flows whose URL matches (repeatable): analytics, third parties.")
@click.option("--session-gap", default="30m", show_default=True, metavar="DURATION", help="An idle gap this long starts a new session.")
@click.option("--max-think", default="2m", show_default=True, metavar="DURATION", help="A longer recorded pause is replayed as this long.")
@click.option("--similarity", default=0.8, show_default=True, type=click.FloatRange(0, 1), help="How alike two sessions must be to share a scenario.")
@click.option("--replace", is_flag=True, help="Replace a scenario set of the same name.")
@click.option("--explain", is_flag=True, help="Say why each visit was joined or cut.")
@click.option("--validate-against", metavar="URL", help="Replay each scenario once against URL (a fresh copy) and correlate every value seen to vary.")
@json_option
@db_option
def convert(
    recording: str, name: str | None, output: Path | None, no_assets: bool, exclude: tuple[str, ...],
    session_gap: str, max_think: str, similarity: float, replace: bool, explain: bool, validate_against: str | None, as_json: bool, db: str,
) -> None:
    """Turn a recording into weighted, correlated scenarios with the think times observed."""
    import re

    from .convert import Options
    from .convert.shell import converted, read_recording, store

    for pattern in exclude:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(f"--exclude {pattern!r} is not a regular expression ({exc})") from None
    options = Options(assets=not no_assets, exclude=exclude, gap=parse_duration(session_gap, "--session-gap"),
                      max_think=parse_duration(max_think, "--max-think"), similarity=similarity)
    engine = open_db(db)
    flows, options = read_recording(engine, recording, options)
    conversion = converted(flows, recording, name, options)
    if validate_against:
        varies = _seen_to_vary(conversion, flows, validate_against)
        conversion = converted(flows, recording, name, dataclasses.replace(options, varies=varies))
    store(engine, conversion, output, replace)
    summary = conversion.summary
    if as_json:
        _print_json({"name": conversion.scenario_set.name, **asdict(summary)})
        return
    s = conversion.scenario_set
    click.echo(f"Converted {recording!r} into scenario set {s.name!r}: {summary.sessions} sessions -> {len(s.scenarios)} scenarios")
    if summary.clamped:
        click.echo(f"  recorded pauses longer than --max-think {max_think}: {summary.clamped}, replayed as {max_think}")
    if summary.uncertain:
        click.echo(f"  visits joined on ambiguous evidence: {summary.uncertain} (--explain says why)")
    if explain:
        for n, line in enumerate(summary.explain, 1):
            click.echo(f"  visit {n}: {line}")
    for scenario in s.scenarios:
        click.echo(f"  {scenario.name}: weight {scenario.weight}, {len(scenario.steps)} page steps")
    click.echo(f"  page steps: {summary.page_steps}")
    kinds = ", ".join(f"{k} {n}" for k, n in summary.correlations.items()) or "none"
    click.echo(f"  correlations: {kinds}")
    variables = ", ".join(f"{v.name}{' (secret)' if v.secret else ''}" for v in s.variables) or "none"
    click.echo(f"  variables for play (--data/--var): {variables}")
    click.echo(f"  values left literal: {len(summary.literals) or 'none'}")
    for literal in summary.literals:
        click.echo(f"    {literal}")
    excluded = ", ".join(f"{n} {why}" for why, n in summary.excluded.items()) or "none"
    click.echo(f"  flows excluded: {excluded}")
    if output:
        click.echo(f"Wrote {output}")


@cli.command()
@json_option
@db_option
def scenarios(as_json: bool, db: str) -> None:
    """List scenario sets."""
    from .scenario.store import list_sets

    rows = list_sets(open_db(db))
    if as_json:
        _print_json(rows)
        return
    table = _table("name", "recording", "created", "scenarios (weight)", "steps")
    for r in rows:
        table.add_row(r["name"], r["recording"] or "", r["created"], ", ".join(f"{s['name']} ({s['weight']})" for s in r["scenarios"]), str(r["steps"]))
    _print_table(table, empty="No scenario sets yet: `replayswarm convert RECORDING`.")


@cli.command("scenario")
@click.argument("source", metavar="SET|FILE")
@json_option
@click.option("--delete", is_flag=True, help="Delete the scenario set.")
@db_option
def scenario_(source: str, as_json: bool, delete: bool, db: str) -> None:
    """Show a scenario set from the database, or check and show a scenario YAML file."""
    from .scenario.store import delete_set, load_set
    from .scenario.yamlfile import load

    if delete:
        delete_set(open_db(db), source)
        click.echo(f"Deleted scenario set {source!r}.")
        return
    if source.endswith((".yaml", ".yml")) or Path(source).is_file():
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{source}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        scenario_set = load(text, source)
    else:
        scenario_set = load_set(open_db(db), source)[0]
    if as_json:
        _print_json(scenario_view(scenario_set))
        return
    click.echo(f"{scenario_set.name}: {len(scenario_set.scenarios)} scenarios from {', '.join(scenario_set.origins)}")
    for s in scenario_set.scenarios:
        click.echo(f"\n{s.name} (weight {s.weight})")
        table = _table("#", "think", "step", "expect", "extract", "substitute")
        for i, step in enumerate(s.steps, 1):
            table.add_row(
                str(i), f"{step.think_time:.2f}s", step.name, str(step.expect_status or ""),
                ", ".join(e.var for e in step.extract), ", ".join(dict.fromkeys(x.var for x in step.substitute)),
            )
        _print_table(table, empty="(no steps)")


def scenario_view(scenario_set: Any) -> dict[str, Any]:
    return {
        "name": scenario_set.name,
        "origins": scenario_set.origins,
        "variables": [asdict(v) for v in scenario_set.variables],
        "scenarios": [
            {
                "name": s.name,
                "weight": s.weight,
                "steps": [
                    {
                        "name": st.name,
                        "method": st.request.method,
                        "url": st.request.url,
                        "think_time": st.think_time,
                        "think_times": st.think_times,
                        "expect_status": st.expect_status,
                        "extract": [asdict(e) for e in st.extract],
                        "substitute": [asdict(x) for x in st.substitute],
                        "resources": len(st.resources),
                    }
                    for st in s.steps
                ],
            }
            for s in scenario_set.scenarios
        ],
    }


def parse_duration(text: str, option: str) -> float:
    """`90`, `90s`, `5m`, `1h30m` → seconds."""
    import re

    match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None:
        raise UserError(f"{option} {text!r} is not a duration (like 90s, 5m, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_size(text: str, option: str) -> int:
    """`65536`, `512KiB`, `1MiB`, `2MB` → bytes."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise UserError(f"{option} {text!r} is not a size (like 65536, 512KiB, 1MiB)")
    return int(float(match.group(1)) * unit)


# -- play --------------------------------------------------------------------------------------------


def _positive_users(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 1:
        raise click.BadParameter(f"{value} is not a number of users (at least 1)")
    return value


@cli.command()
@click.argument("source", metavar="SOURCE")
@click.option("--host", help="Where to send the load: replaces the recorded origin (http[s]://host[:port]).")
@click.option("--host-map", multiple=True, metavar="ORIGIN=URL", help="Map each of several recorded origins (repeatable).")
@click.option("--users", "-u", type=int, required=True, callback=_positive_users, help="Virtual users (closed model).")
@click.option("--spawn-rate", "-r", type=click.FloatRange(min=0, min_open=True), default=10, show_default=True, help="Users started per second.")
@click.option("--duration", "-t", metavar="DURATION", help="How long to run (90s, 5m, 1h); default: until --iterations are done, else 1m.")
@click.option("--iterations", "-i", type=click.IntRange(min=1), help="Stop after this many scenario iterations in all.")
@click.option("--think-scale", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Scale the observed think times.")
@click.option("--think", metavar="MIN-MAX", help="Think uniformly between MIN and MAX seconds instead of what was observed.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True, help="Seconds a request may take, from connecting to its last byte.")
@click.option("--stop-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds in-flight requests get to finish when the run stops.")
@click.option("--max-body", default="1MiB", show_default=True, metavar="SIZE", help="The most of a response body held for extractions; the rest is counted and dropped.")
@click.option("--label", help="A name for this run (a build, a branch).")
@click.option("--tag", multiple=True, metavar="KEY=VALUE", help="Stored with the run (git sha, build number); repeatable.")
@click.option("--threshold", multiple=True, metavar="EXPR", help="p95<800ms, errors<1%, rps>100, 'GET /x/{id}/:p99<2s'; exit 1 when one fails.")
@click.option("--abort-on-threshold", is_flag=True, help="Stop as soon as a threshold fails.")
@click.option("--processes", default="1", show_default=True, metavar="N|auto", help="Worker processes (auto: one per core).")
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), help="CSV with one row of variables per virtual user (username,password,...).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Give a variable to every user (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the scenario interleave and think-time sampling.")
@click.option("--insecure", is_flag=True, help="Do not verify the target's TLS certificate.")
@click.option("--no-validate", is_flag=True, help="Swarm without a validation replay of each scenario first.")
@click.option("--allow-recorded-origin", is_flag=True, help="Allow load on the origin the recording was made on (often production).")
@click.option("--max-rps", type=click.FloatRange(min=0, min_open=True), help="Cap the total request rate (all processes).")
@click.option("--abort-on-errors", default="90%/30s", show_default=True, metavar="PERCENT/DURATION|off", help="Stop when failures stay this high this long.")
@click.option("--quiet", "-q", is_flag=True, help="No live table or progress lines.")
@json_option
@db_option
def play(
    source: str, host: str | None, host_map: tuple[str, ...], users: int, spawn_rate: float, duration: str | None,
    iterations: int | None, think_scale: float, think: str | None, timeout: float, stop_timeout: float, max_body: str,
    label: str | None, tag: tuple[str, ...], threshold: tuple[str, ...], abort_on_threshold: bool, processes: str,
    data_file: Path | None, variables: tuple[str, ...], seed: int, insecure: bool, no_validate: bool,
    allow_recorded_origin: bool, max_rps: float | None,
    abort_on_errors: str, quiet: bool,
    as_json: bool, db: str,
) -> int:
    """Swarm virtual users through a scenario set, a scenario file or a recording."""
    import os

    from .play.console import make_view
    from .play.job import UserSettings
    from .play.runner import PlaySettings
    from .play.runner import play as run_play
    from .play.thresholds import parse_error_guard, parse_threshold

    seconds = parse_duration(duration, "--duration") if duration else (None if iterations else 60.0)
    if seconds is not None and seconds <= 0:
        raise UserError(f"--duration {duration!r} must be longer than 0s")
    if processes == "auto":
        count = os.cpu_count() or 1
    elif processes.isdigit() and int(processes) >= 1:
        count = int(processes)
    else:
        raise UserError(f"--processes {processes!r} is not a number of processes (or auto)")
    settings = PlaySettings(
        source=source, host=host, host_map=host_map, users=users, spawn_rate=spawn_rate, duration=seconds,
        iterations=iterations, processes=min(count, users), thresholds=tuple(parse_threshold(t) for t in threshold),
        abort_on_threshold=abort_on_threshold, label=label, tags=_pairs(tag, "--tag"), stop_timeout=stop_timeout,
        validate=not no_validate, allow_recorded_origin=allow_recorded_origin, max_rps=max_rps, abort_on_errors=parse_error_guard(abort_on_errors),
        user=UserSettings(
            seed=seed, think_scale=think_scale, think_range=_think_range(think), timeout=timeout, insecure=insecure,
            max_body=parse_size(max_body, "--max-body"), variables=_pairs(variables, "--var"), data=_read_data(data_file) if data_file else (),
            use_recorded=True,
        ),
    )
    engine = open_db(db)
    view = make_view(quiet or as_json)
    outcome = run_play(engine, settings, view)
    if as_json:
        _print_json({"run_id": outcome.run_id, "status": outcome.status, **outcome.summary,
                     "thresholds": outcome.thresholds, "saturated": outcome.saturated, "iterations": outcome.iterations})
    else:
        _print_run_summary(outcome)
    return outcome.exit_code


@cli.command()
@click.argument("source", metavar="SOURCE")
@click.option("--host", help="The target: replaces the recorded origin (http[s]://host[:port]).")
@click.option("--host-map", multiple=True, metavar="ORIGIN=URL", help="Map each of several recorded origins (repeatable).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True, help="Seconds a request may take.")
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), help="CSV of variables; the first row is used.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Give a variable (repeatable).")
@click.option("--insecure", is_flag=True, help="Do not verify the target's TLS certificate.")
@json_option
@db_option
def validate(
    source: str, host: str | None, host_map: tuple[str, ...], timeout: float, data_file: Path | None,
    variables: tuple[str, ...], insecure: bool, as_json: bool, db: str,
) -> int:
    """Replay each scenario once with one user and compare every answer with the recording."""
    from .play.job import UserSettings
    from .play.runner import PlaySettings, prepare
    from .play.validation import judge, probe

    user = UserSettings(timeout=timeout, insecure=insecure, variables=_pairs(variables, "--var"),
                        data=_read_data(data_file)[:1] if data_file else (), use_recorded=True)
    settings = PlaySettings(source=source, host=host, host_map=host_map, users=1, spawn_rate=1, duration=None, user=user)
    plan, resolved = prepare(open_db(db), settings)
    verdicts = judge(resolved.scenario_set, probe(plan, user), {s.name: len(s.steps) for s in plan.scenarios})
    if as_json:
        _print_json([asdict(v) for v in verdicts])
    else:
        for v in verdicts:
            click.echo(f"{'passed' if v.passed else 'FAILED'}  {v.scenario}: {v.steps} steps answered")
            if v.divergence:
                click.echo(f"  first divergence: {v.divergence}")
            if v.suspect:
                click.echo(f"  likely cause: {v.suspect}")
            for note in v.notes:
                click.echo(f"  differs (not a failure): {note}")
    return 0 if all(v.passed for v in verdicts) else 1


def _seen_to_vary(conversion: Any, flows: list[Any], url: str) -> frozenset[str]:
    """One validation replay of the first conversion against `url`: the values of recorded
    answers that the live answers hold differently."""
    from .convert.provenance import varying
    from .play.job import UserSettings
    from .play.plan import compile_plan, map_origins
    from .play.validation import probe

    scenario_set = conversion.scenario_set
    plan = compile_plan(scenario_set, map_origins(scenario_set.origins, url, ()), conversion.secrets)
    by_seq = {f.seq: f for f in flows}
    origins = scenario_set.origins
    varies: set[str] = set()
    for entry in probe(plan, UserSettings(use_recorded=True), keep_bodies=True):
        if "body" in entry:
            recorded = by_seq[conversion.step_flows[entry["scenario"]][entry["position"]]]
            varies |= varying(recorded, entry["headers"], entry["body"], origins)
    return frozenset(varies)


def _pairs(items: tuple[str, ...], option: str) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{option} {item!r}: expected NAME=VALUE")
        result[key] = value
    return result


def _think_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    low, sep, high = text.partition("-")
    try:
        pair = (float(low), float(high))
    except ValueError:
        pair = (-1.0, -1.0)
    if not sep or pair[0] < 0 or pair[1] < pair[0]:
        raise UserError(f"--think {text!r}: expected MIN-MAX seconds, like 1-3")
    return pair


def _read_data(path: Path) -> list[dict[str, str]]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--data {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not rows:
        raise UserError(f"--data {path}: no rows (a header line, then one row per user)")
    return rows


def _print_run_summary(outcome: Any) -> None:
    s = outcome.summary
    table = _table("endpoint", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s")
    for e in s["endpoints"] + [{"name": "Aggregated", **s}]:
        table.add_row(e["name"], str(e["requests"]), str(e["failures"]), f"{e['p50_ms']:.1f}", f"{e['p95_ms']:.1f}",
                      f"{e['p99_ms']:.1f}", f"{e['max_ms']:.1f}", f"{e['rps']:.1f}")
    _print_table(table, empty="No requests were made.")
    for t in outcome.thresholds:
        click.echo(f"threshold {t['threshold']}: {'held' if t['held'] else 'FAILED'} (measured {t['value']})")
    if outcome.saturated:
        click.echo("Warning: the load generator ran above 90% CPU; the numbers understate the target.")
    click.echo(f"Run {outcome.run_id} {outcome.status}: {s['requests']} requests, {s['failures']} failures, "
               f"{s['rps']:.1f} req/s. See it with `replayswarm run {outcome.run_id}`.")


@cli.command()
@json_option
@db_option
def runs(as_json: bool, db: str) -> None:
    """List runs."""
    from .runs import list_runs

    rows = list_runs(open_db(db))
    if as_json:
        _print_json(rows)
        return
    table = _table("id", "label", "source", "host", "users", "status", "requests", "fail %", "p95 ms", "req/s", "started")
    for r in rows:
        table.add_row(str(r["id"]), r["label"] or "", r["source"], r["host"], str(r["users"]), r["status"] + (" (saturated)" if r["saturated"] else ""),
                      str(r["requests"]), f"{r['error_pct']:.1f}", f"{r['p95_ms']:.1f}", f"{r['rps']:.1f}", r["started"])
    _print_table(table, empty="No runs yet: `replayswarm play SOURCE --host URL --users N`.")


@cli.command("run")
@click.argument("run_id", type=int)
@json_option
@db_option
def run_(run_id: int, as_json: bool, db: str) -> None:
    """Show one run: totals, endpoints, errors, thresholds."""
    from .runs import get_run

    run = get_run(open_db(db), run_id)
    if as_json:
        _print_json(run)
        return
    tags = " ".join(f"{k}={v}" for k, v in run["tags"].items())
    click.echo(f"Run {run['id']} {run['status']}{' (generator saturated)' if run['saturated'] else ''}: {run['source']} -> {run['host']}, "
               f"{run['users']} users, {run['duration_s']:.0f}s{', ' + run['label'] if run['label'] else ''}{' ' + tags if tags else ''}")
    table = _table("endpoint", "requests", "failures", "p50", "p90", "p95", "p99", "max", "avg size", "req/s")
    for e in run["endpoints"] + [run["total"]]:
        table.add_row(e["name"], str(e["requests"]), str(e["failures"]), f"{e['p50_ms']:.1f}", f"{e['p90_ms']:.1f}", f"{e['p95_ms']:.1f}",
                      f"{e['p99_ms']:.1f}", f"{e['max_ms']:.1f}", str(e["avg_size"]), f"{e['rps']:.1f}")
    _print_table(table, empty="No requests.")
    for e in run["errors"]:
        click.echo(f"error {e['endpoint']}: {e['kind']} x{e['count']} ({e['sample']})")
    for t in run["thresholds"]:
        click.echo(f"threshold {t['threshold']}: {'held' if t['held'] else 'FAILED'} (measured {t['value']})")


@cli.command("compare")
@click.argument("base", type=int)
@click.argument("new", type=int)
@json_option
@db_option
def compare_(base: int, new: int, as_json: bool, db: str) -> None:
    """Compare two runs: per-endpoint deltas of p50/p95/p99, req/s and error rate, and a verdict."""
    from .compare import compare
    from .runs import get_run

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
@click.option("--auth", metavar="USER:PASSWORD", help="Require HTTP basic auth (needed to bind beyond loopback).")
@db_option
def ui(bind: str, port: int, auth: str | None, db: str) -> None:
    """Serve the web UI: runs, comparisons, recordings, scenario sets."""
    from .hosts import is_loopback_name

    credentials = None
    if auth is not None:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise UserError("--auth expects USER:PASSWORD")
        credentials = (user, password)
    if not is_loopback_name(bind) and credentials is None:
        raise UserError(f"--bind {bind} is reachable from other machines: add --auth USER:PASSWORD")
    from werkzeug.serving import run_simple

    from .web import create_app

    app = create_app(db, bind=bind, port=port, auth=credentials)
    shown = f"[{bind}]" if ":" in bind else bind
    click.echo(f"replayswarm UI on http://{shown}:{port}/ (Ctrl-C to stop)", err=True)
    run_simple(bind, port, app, threaded=True, use_reloader=False)


@cli.command()
@click.argument("run_id", type=int, metavar="RUN")
@click.option("--baseline", type=int, metavar="RUN", help="Compare against this run.")
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write the report (- for stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv", "junit"]), default="html", show_default=True)
@db_option
def report(run_id: int, baseline: int | None, output: str, fmt: str, db: str) -> None:
    """Write a run (and its comparison with a baseline) as a self-contained HTML file, JSON, CSV or JUnit."""
    from .report import build

    text = build(open_db(db), run_id, baseline, fmt)
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {output} ({fmt}, run {run_id}{f' against run {baseline}' if baseline is not None else ''}).")


# -- database --------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@db_option
def db_upgrade(db: str) -> None:
    """Create or upgrade the schema to this version of replayswarm."""
    from .db.engine import make_engine
    from .db.migrate import upgrade

    engine = make_engine(db)
    before, after = upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{where}: schema {after}, up to date.")
    else:
        click.echo(f"{where}: schema {before or 'empty'} -> {after}.")


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
