"""Validation replay: one virtual user plays each scenario once and every answer is compared
with the recording's (status, redirect target by path shape, content type), before any load
is sent. At the first divergence it names the request and the value most likely left literal.

`judge` is pure (observations and the scenario set in, verdicts out); `probe` runs the replay in
a process of its own (`replayswarm.play.probe`), since gevent never runs in the caller. play
validates before it swarms; `replayswarm validate` does only this; `convert --validate-against`
feeds what varied back into correlation.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..convert.names import location_shape
from ..convert.provenance import id_like, strong
from ..errors import UserError
from ..scenario.model import ScenarioSet, Step
from .job import UserSettings
from .lifeline import child_environment
from .plan import Plan, size_differs, status_differs


@dataclass
class Verdict:
    """One scenario's validation: passed, or where it first diverged and the likely cause."""

    scenario: str
    steps: int  # steps that got an answer
    passed: bool
    divergence: str | None = None  # "POST /login: status 403 where 302 was recorded"
    suspect: str | None = None  # the value most likely left literal
    notes: list[str] = field(default_factory=list)  # differences that do not fail (sizes)


def probe(plan: Plan, settings: UserSettings, keep_bodies: bool = False, timeout: float = 300) -> list[dict[str, Any]]:
    """Run the validation replay; one observation per step that was sent."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "replayswarm.play.probe"],
            input=pickle.dumps((plan, settings, keep_bodies)),
            capture_output=True,
            timeout=timeout,
            env=child_environment(),
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"the validation replay took over {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the validation replay failed: {last}")
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


def judge(scenario_set: ScenarioSet, observations: list[dict[str, Any]], planned: dict[str, int]) -> list[Verdict]:
    """`planned`: scenario name → how many of its steps the plan holds (its hosts were named)."""
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for entry in observations:
        by_scenario.setdefault(entry["scenario"], []).append(entry)
    verdicts = []
    for scenario in scenario_set.scenarios:
        if scenario.name not in planned:
            continue
        seen = by_scenario.get(scenario.name, [])
        verdict = Verdict(scenario=scenario.name, steps=len(seen), passed=True)
        for entry in seen:
            step = scenario.steps[entry["position"]]
            problem, note = _compare(step, entry)
            if note:
                verdict.notes.append(f"{step.name}: {note}")
            if problem:
                verdict.passed = False
                verdict.divergence = f"{step.name}: {problem}"
                if entry.get("status") is not None:  # the server answered, and did not like what it got
                    verdict.suspect = suspect(scenario.steps[: entry["position"] + 1])
                break
        else:
            if len(seen) < planned[scenario.name]:
                verdict.passed = False
                verdict.divergence = f"stopped after {len(seen)} of {planned[scenario.name]} steps"
        verdicts.append(verdict)
    return verdicts


def _compare(step: Step, entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """(what fails, what only differs) for one step's answer."""
    if entry.get("status") is None:
        return f"no answer ({entry.get('error') or 'not sent'})", None
    status = entry["status"]
    if status_differs(status, step.expect_status):
        return f"status {status} where {step.expect_status} was recorded", None
    if entry.get("missing"):
        return f"could not extract {', '.join(entry['missing'])} from the answer", None
    if step.expect_location and status // 100 == 3:
        shape = location_shape(entry.get("location"))
        if shape != step.expect_location:
            return f"redirected to {shape} where {step.expect_location} was recorded", None
    if step.expect_type and entry.get("type") and entry["type"] != step.expect_type:
        return f"answered {entry['type']} where {step.expect_type} was recorded", None
    size = entry.get("size", 0)
    if size_differs(size, step.expect_size):
        return None, f"{size} bytes where {step.expect_size} were recorded"
    return None, None


def suspect(steps: list[Step]) -> str | None:
    """The value most likely left literal: the nearest request, from the diverging one back,
    that sends a token-like value, or an id in its path, as recorded."""
    for step in reversed(steps):
        tokens = literal_tokens(step)
        if tokens:
            return tokens[0] + " is sent as recorded"
        path = urlsplit(step.request.url).path
        for segment in path.split("/"):
            if segment and "${" not in segment and id_like(segment) and not segment.isalpha():
                return f"path segment {segment!r} of {step.name} is sent as recorded"
    return None


def literal_tokens(step: Step) -> list[str]:
    """Query and form values of a step's request that look like tokens but are literal."""
    url = urlsplit(step.request.url)
    found = [("query", k, v) for k, v in parse_qsl(url.query)]
    body = step.request.body or ""
    if "=" in body and "\n" not in body and not body.lstrip().startswith(("{", "[")):
        found += [("form", k, v) for k, v in parse_qsl(body)]
    return [f"{where} value {key}={_short(value)} of {step.name}" for where, key, value in found if "${" not in value and strong(value)]


def _short(value: str) -> str:
    return value if len(value) <= 8 else value[:4] + "…" + f" ({len(value)} characters)"
