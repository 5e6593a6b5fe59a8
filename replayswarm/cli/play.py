"""Commands of the play stage: play, validate, and steer a running run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..db import open_db
from ..errors import UserError
from .base import _print_json, _print_table, _table, cli, db_option, json_option, parse_duration, parse_processes, parse_size

# -- play --------------------------------------------------------------------------------------------


_SHARED = [
    click.option("--host", help="Where to send the load: replaces the recorded origin (http[s]://host[:port])."),
    click.option("--host-map", multiple=True, metavar="ORIGIN=URL", help="Map each of several recorded origins (repeatable)."),
    click.option("--think-scale", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Scale the observed think times."),
    click.option("--think", metavar="MIN-MAX", help="Think uniformly between MIN and MAX seconds instead of what was observed."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True, help="Seconds a request may take, from connecting to its last byte."),
    click.option("--stop-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds in-flight requests get to finish when the run stops."),
    click.option("--max-body", default="1MiB", show_default=True, metavar="SIZE", help="The most of a response body held for extractions; the rest is counted and dropped."),
    click.option("--label", help="A name for this run (a build, a branch)."),
    click.option("--tag", multiple=True, metavar="KEY=VALUE", help="Stored with the run (git sha, build number); repeatable."),
    click.option("--processes", default="1", show_default=True, metavar="N|auto", help="Worker processes (auto: one per core)."),
    click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), help="CSV with one row of variables per virtual user (username,password,...)."),
    click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Give a variable to every user (repeatable)."),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed for the scenario interleave and think-time sampling."),
    click.option("--insecure", is_flag=True, help="Do not verify the target's TLS certificate."),
    click.option("--no-validate", is_flag=True, help="Swarm without a validation replay of each scenario first."),
    click.option("--allow-recorded-origin", is_flag=True, help="Allow load on the origin the recording was made on (often production)."),
    click.option("--max-rps", type=click.FloatRange(min=0, min_open=True), help="Cap the total request rate (all processes)."),
    click.option("--spawn-rate", "-r", type=click.FloatRange(min=0, min_open=True), default=10, show_default=True, help="Users started per second."),
    click.option("--max-users", type=click.IntRange(min=1), help="The most users at once (with --step, --arrival-rate; capacity: where the search ends)."),
    click.option("--arrival-rate", metavar="RATE", help="Open model: start this many visits a second (20/s, 600/m), whatever the response times."),
    click.option("--master", is_flag=True, help="Run the users on worker hosts (`replayswarm worker`), through Locust's distributed runner."),
    click.option("--expect-workers", type=click.IntRange(min=1), default=1, show_default=True, help="With --master: worker hosts to wait for before starting."),
    click.option("--expect-workers-max-wait", default="2m", show_default=True, metavar="DURATION", help="With --master: how long to wait for them."),
    click.option("--master-bind-host", default="127.0.0.1", show_default=True, help="With --master: the interface worker hosts connect to (0.0.0.0 for other machines: a private network only)."),
    click.option("--master-bind-port", type=click.IntRange(1, 65535), default=5557, show_default=True, help="With --master: the port they connect to."),
    click.option("--quiet", "-q", is_flag=True, help="No live table or progress lines."),
    json_option,
    db_option,
]


def play_options(f: Any) -> Any:
    """The options `play` and `capacity` share: aim, users' behaviour, data, limits, output."""
    for option in reversed(_SHARED):
        f = option(f)
    return f


def base_settings(*, source: str, host: str | None, host_map: tuple[str, ...], think_scale: float, think: str | None,
                  timeout: float, stop_timeout: float, max_body: str, label: str | None, tag: tuple[str, ...], processes: str,
                  data_file: Path | None, variables: tuple[str, ...], seed: int, insecure: bool, no_validate: bool,
                  allow_recorded_origin: bool, max_rps: float | None, spawn_rate: float, max_users: int | None,
                  master: bool = False, expect_workers: int = 1, expect_workers_max_wait: str = "2m", master_bind_host: str = "127.0.0.1",
                  master_bind_port: int = 5557, **_: Any) -> Any:
    """PlaySettings from the shared options; the load shape is the caller's."""
    from ..play.job import UserSettings
    from ..play.runner import PlaySettings

    cluster = None
    if master:
        if processes != "1":
            raise UserError("--processes is each worker host's (`replayswarm worker --processes`), not the master's")
        from ..play.remote import ClusterSettings

        cluster = ClusterSettings(master_bind_host, master_bind_port, expect_workers, parse_duration(expect_workers_max_wait, "--expect-workers-max-wait"))
    count = parse_processes(processes)
    return PlaySettings(
        source=source, host=host, host_map=host_map, users=1, spawn_rate=spawn_rate, duration=None, processes=count,
        label=label, tags=_pairs(tag, "--tag"), stop_timeout=stop_timeout, validate=not no_validate,
        allow_recorded_origin=allow_recorded_origin, max_rps=max_rps, max_users=max_users, cluster=cluster,
        user=UserSettings(
            seed=seed, think_scale=think_scale, think_range=_think_range(think), timeout=timeout, insecure=insecure,
            max_body=parse_size(max_body, "--max-body"), variables=_pairs(variables, "--var"),
            data=_read_data(data_file) if data_file else (), use_recorded=True,
        ),
    )


def load_shape(users: int | None, spawn_rate: float, stages: str | None, step: str | None, max_users: int | None,
               arrival_rate: str | None) -> tuple[Any, int]:
    """The run's load shape from the options that give one, and its peak user count (for the
    open model, --max-users or the peak rate)."""
    from ..play import shape

    given = [o for o, v in (("--users", users), ("--stages", stages), ("--step", step), ("--arrival-rate", arrival_rate)) if v is not None]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)} both shape the load: give one")
    if not given:
        raise UserError("play needs --users N (or --stages, --step, --arrival-rate)")
    if users is not None:
        if users < 1:
            raise UserError(f"--users {users} is not a number of users (at least 1)")
        if max_users is not None:
            raise UserError("--max-users goes with --step or --arrival-rate; with --users, --users is the count")
        return shape.spawn(users, spawn_rate), users
    if stages is not None:
        found = shape.parse_stages(stages)
    elif step is not None:
        found = shape.steps(step, max_users, spawn_rate)
    else:
        arrivals = shape.rate(arrival_rate or "", "--arrival-rate")
        if arrivals <= 0:
            raise UserError(f"--arrival-rate {arrival_rate!r} starts no visits: give more than 0")
        found = shape.Shape((shape.Stage(0.0, arrivals),), rate=True)
    if found.rate:
        return found, max(1, max_users or round(found.peak))  # users at once are not known ahead
    return found, max(1, int(found.peak))


@cli.command()
@click.argument("source", metavar="SOURCE")
@click.option("--users", "-u", type=int, help="Virtual users (closed model), started at --spawn-rate.")
@click.option("--stages", metavar="STAGES", help="Load over time, as k6: 30s:50,2m:50,30s:200 (users) or 1m:10/s,5m:50/s (arrivals).")
@click.option("--step", metavar="USERS/DURATION", help="Add USERS every DURATION up to --max-users (50/1m).")
@click.option("--duration", "-t", metavar="DURATION", help="How long to run (90s, 5m, 1h; 0 or forever: until stopped); default: the stages, --iterations, else 1m.")
@click.option("--iterations", "-i", type=click.IntRange(min=1), help="Stop after this many scenario iterations in all.")
@click.option("--threshold", multiple=True, metavar="EXPR", help="p95<800ms, errors<1%, rps>100, 'GET /x/{id}/:p99<2s'; exit 1 when one fails.")
@click.option("--abort-on-threshold", is_flag=True, help="Stop as soon as a threshold fails.")
@click.option("--abort-on-errors", default="90%/30s", show_default=True, metavar="PERCENT/DURATION|off", help="Stop when failures stay this high this long.")
@play_options
def play(users: int | None, stages: str | None, step: str | None, duration: str | None, iterations: int | None,
         threshold: tuple[str, ...], abort_on_threshold: bool, abort_on_errors: str, arrival_rate: str | None,
         quiet: bool, as_json: bool, db: str, **options: Any) -> int:
    """Swarm virtual users through a scenario set, a scenario file or a recording."""
    import dataclasses

    from ..play.console import make_view
    from ..play.runner import play as run_play
    from ..play.thresholds import parse_error_guard, parse_threshold

    shape, peak = load_shape(users, options["spawn_rate"], stages, step, options["max_users"], arrival_rate)
    if arrival_rate and iterations:
        raise UserError("--iterations counts a closed model's rounds: with --arrival-rate give --duration")
    seconds = _run_length(duration, iterations, shape if (stages or step) else None)
    settings = base_settings(**options)
    settings = dataclasses.replace(
        settings, users=peak, duration=seconds, iterations=iterations, shape=shape,
        processes=min(settings.processes, peak), thresholds=tuple(parse_threshold(t) for t in threshold),
        abort_on_threshold=abort_on_threshold, abort_on_errors=parse_error_guard(abort_on_errors),
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


def _run_length(duration: str | None, iterations: int | None, shaped: Any) -> float | None:
    """Seconds the run lasts, or None: until its iterations are done, or until it is stopped."""
    if duration is not None:
        if duration.strip().lower() in ("forever", "0", "0s"):
            return None
        seconds = parse_duration(duration, "--duration")
        if seconds <= 0:
            raise UserError(f"--duration {duration!r} must be longer than 0s (or 0/forever: until stopped)")
        return seconds
    if iterations:
        return None
    return shaped.seconds if shaped is not None else 60.0


@cli.command()
@click.argument("source", metavar="SOURCE")
@click.option("--slo", multiple=True, metavar="EXPR", help="What must hold: p95<800ms, errors<1%, 'GET /login:p95<500ms' (repeatable).")
@click.option("--start", type=click.IntRange(min=1), default=10, show_default=True, help="The first load (users, or arrivals a second).")
@click.option("--step", "step_by", type=click.IntRange(min=1), default=10, show_default=True, help="Load added at each step.")
@click.option("--step-duration", default="60s", show_default=True, metavar="DURATION", help="How long each load is held (its first quarter settles).")
@click.option("--max-time", default="30m", show_default=True, metavar="DURATION", help="The whole search's budget.")
@click.option("--max-rate", metavar="RATE", help="Open model: the most arrivals a second tried (default 100x --arrival-rate).")
@play_options
def capacity(slo: tuple[str, ...], start: int, step_by: int, step_duration: str, max_time: str, max_rate: str | None,
             arrival_rate: str | None, quiet: bool, as_json: bool, db: str, **options: Any) -> int:
    """Find the breaking point: raise the load step by step until requests fail or an SLO breaks,
    then refine. Answers how many users the site takes, where throughput stops growing, and which
    requests break first and why."""
    import dataclasses

    from ..play.console import make_view
    from ..play.runner import CapacitySettings
    from ..play.runner import play as run_play
    from ..play.shape import rate
    from ..play.thresholds import parse_threshold

    slos = tuple(parse_threshold(s, "--slo") for s in slo)
    hold = parse_duration(step_duration, "--step-duration")
    budget = parse_duration(max_time, "--max-time")
    if hold < 4:
        raise UserError(f"--step-duration {step_duration!r}: a step needs 4s at least to settle and be measured")
    if budget < hold:
        raise UserError(f"--max-time {max_time!r} is shorter than one step (--step-duration {step_duration})")
    open_model = arrival_rate is not None
    users_cap = options["max_users"]
    if open_model:
        # Loads are arrivals a second: the first is --arrival-rate, the top --max-rate; --max-users
        # only caps the users at once (visits past it are dropped, and stop the search).
        start = round(rate(arrival_rate or "", "--arrival-rate"))
        if start < 1:
            raise UserError(f"--arrival-rate {arrival_rate!r}: a search starts at 1 visit a second at least")
        top = round(rate(max_rate, "--max-rate")) if max_rate else 100 * start
        if start > top:
            raise UserError(f"--arrival-rate {arrival_rate} is above --max-rate {max_rate}")
    else:
        if max_rate:
            raise UserError("--max-rate goes with --arrival-rate (the open model); the closed model's top is --max-users")
        top = users_cap or 2000
        if start > top:
            raise UserError(f"--start {start} is above --max-users {top}")
    search = CapacitySettings(slos=slos, start=start, step=step_by, hold=hold, top=top, max_time=budget, rate=open_model)
    settings = base_settings(**options)
    peak = (users_cap or 10 * top) if open_model else top
    settings = dataclasses.replace(settings, users=peak, duration=None, capacity=search, abort_on_errors=None,
                                   processes=min(settings.processes, peak), max_users=users_cap if open_model else None)
    view = make_view(quiet or as_json, notes=as_json and not quiet)  # one line a step beside the JSON
    outcome = run_play(open_db(db), settings, view)
    found = outcome.answer or {}
    if as_json:
        _print_json(found)
    else:
        print_capacity(found)
    return 130 if outcome.status == "stopped" else (1 if outcome.status == "failed" else 0)


def print_capacity(found: dict[str, Any]) -> None:
    unit = "/s" if found.get("model") == "open" else " users"
    table = _table("step", "load", "req/s", "p50 ms", "p95 ms", "p99 ms", "failures", "broke")
    for s in sorted(found.get("steps", []), key=lambda s: s["users"]):
        table.add_row(str(s["k"]), f"{s['users']}{unit}", f"{s['rps']:.1f}", f"{s['p50_ms']:.0f}", f"{s['p95_ms']:.0f}",
                      f"{s['p99_ms']:.0f}", str(s["failures"]), ", ".join(s["breaches"]) or "-")
    _print_table(table, empty="No step finished.")
    certainty = found.get("certainty", {})

    def figure(value: Any, sure: dict[str, Any]) -> str:
        if value is None:
            return "not measured (no step measured the target)"
        bound = "at least " if sure.get("lower_bound") else ""
        gap = f" (next step {sure['first_breach_at']}{unit} broke)" if sure.get("first_breach_at") is not None else ""
        return f"{bound}{value}{unit}{gap}"

    click.echo(f"Run {found.get('run_id')}: most load without failed requests: "
               f"{figure(found.get('max_users_without_failures'), certainty.get('without_failures', {}))}, "
               f"{found.get('rps_without_failures') or 0:.0f} req/s")
    for text, value in found.get("max_users_within_slo", {}).items():
        click.echo(f"  most load within {text}: {figure(value, certainty.get(f'within {text}', {}))}")
    if found.get("knee_users") is not None:
        click.echo(f"  throughput stops growing near {found['knee_users']}{unit} ({found['knee_rps']:.0f} req/s)")
    else:
        click.echo("  throughput still grew with load at the heaviest step: its knee is further")
    for b in found.get("first_breaches", [])[:5]:
        kinds = ", ".join(f"{k} ×{n}" for k, n in b["errors"].items())
        why = kinds or ", ".join(b["slo"]) or f"p95 {b['p95_ms']:.0f} ms"
        click.echo(f"  broke at {b['at']}{unit}: {b['endpoint']}: {why}")
    if found.get("caveat"):
        click.echo(f"  Note: {found['caveat']}")


@cli.command()
@click.argument("run_id", type=int)
@click.option("--users", "-u", type=click.IntRange(min=0), help="The user count the run should go to (at its spawn rate).")
@click.option("--stop", is_flag=True, help="Stop the run, keeping everything it measured.")
@db_option
def control(run_id: int, users: int | None, stop: bool, db: str) -> None:
    """Steer a running run from anywhere that reaches its database: more or fewer users, or stop."""
    from ..runs import control as set_control

    if users is None and not stop:
        raise UserError("control needs --users N or --stop")
    set_control(open_db(db), run_id, users=users, stop=stop)
    click.echo(f"Run {run_id}: {'a stop' if stop else f'{users} users'} asked for (read within a second).")


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
    from ..play.job import UserSettings
    from ..play.runner import PlaySettings, prepare
    from ..play.validation import judge, probe

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
    due = "due_p95_ms" in s  # the open model: latency from when each request was due, beside service time
    table = _table("endpoint", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s",
                   *(["due p95 ms", "due p99 ms"] if due else []))
    for e in s["endpoints"] + [{"name": "Aggregated", **s}]:
        table.add_row(e["name"], str(e["requests"]), str(e["failures"]), f"{e['p50_ms']:.1f}", f"{e['p95_ms']:.1f}",
                      f"{e['p99_ms']:.1f}", f"{e['max_ms']:.1f}", f"{e['rps']:.1f}",
                      *([f"{e.get('due_p95_ms', 0):.1f}", f"{e.get('due_p99_ms', 0):.1f}"] if due else []))
    _print_table(table, empty="No requests were made.")
    if due:
        click.echo("p50-max: service time, from sending to the last byte; due: from when the request was due "
                   "(its visit's arrival or the end of its think time), which a generator running late cannot hide.")
    for t in outcome.thresholds:
        click.echo(f"threshold {t['threshold']}: {'held' if t['held'] else 'FAILED'} (measured {t['value']})")
    if outcome.saturated:
        click.echo("Warning: the load generator ran above 90% CPU; the numbers understate the target.")
    click.echo(f"Run {outcome.run_id} {outcome.status}: {s['requests']} requests, {s['failures']} failures, "
               f"{s['rps']:.1f} req/s. See it with `replayswarm run {outcome.run_id}`.")
