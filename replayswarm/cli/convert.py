"""Commands of the convert stage: recordings into scenario sets, and looking at them."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..db import open_db
from ..errors import UserError
from .base import _print_json, _print_table, _table, cli, db_option, json_option, parse_duration

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

    from ..convert import Options
    from ..convert.shell import converted, read_recording, store

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
    click.echo(f"Converted {recording!r} into scenario set {s.name!r}: {_count(summary.sessions, 'session')} -> {_count(len(s.scenarios), 'scenario')}")
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
    from ..scenario.store import list_sets

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
    from ..scenario.store import delete_set, load_set
    from ..scenario.yamlfile import load

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
    click.echo(f"{scenario_set.name}: {_count(len(scenario_set.scenarios), 'scenario')} from {', '.join(scenario_set.origins)}")
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


def _seen_to_vary(conversion: Any, flows: list[Any], url: str) -> frozenset[str]:
    """One validation replay of the first conversion against `url`: the values of recorded
    answers that the live answers hold differently."""
    from ..convert.provenance import varying
    from ..play.job import UserSettings
    from ..play.plan import compile_plan, map_origins
    from ..play.validation import probe

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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
