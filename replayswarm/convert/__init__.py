"""convert: recorded flows → sessions → page steps → endpoint names → correlation → weighted
scenarios with the think times really observed. Pure functions over plain data; the shell that
reads the database and writes YAML is `replayswarm.convert.shell`."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..hosts import host_matcher
from ..scenario.model import Scenario, ScenarioSet, Variable
from .cluster import DEFAULT_SIMILARITY, align, cluster
from .correlate import Correlated, Evidence, correlate
from .names import endpoint_names
from .pages import Page, is_subresource, page_steps
from .provenance import Index
from .recorded import Recorded
from .sessions import DEFAULT_GAP, split_visits

DEFAULT_MAX_THINK = 120.0


@dataclass(frozen=True)
class Options:
    assets: bool = True
    exclude: Sequence[str] = ()  # regexes searched in each flow's URL
    allowed_hosts: Sequence[str] = ()  # host patterns from the recording; empty = all
    gap: float = DEFAULT_GAP
    max_think: float = DEFAULT_MAX_THINK  # a longer recorded pause (a person who left) is clamped
    similarity: float = DEFAULT_SIMILARITY
    # Values a validation replay saw vary (`--validate-against`): correlated even when short.
    varies: frozenset[str] = frozenset()


@dataclass
class Summary:
    sessions: int = 0
    uncertain: int = 0  # visits whose boundaries rest on ambiguous evidence
    clamped: int = 0  # recorded pauses longer than max_think, replayed as max_think
    scenarios: list[tuple[str, int]] = field(default_factory=list)
    page_steps: int = 0
    correlations: dict[str, int] = field(default_factory=dict)
    literals: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)
    explain: list[str] = field(default_factory=list)  # why each visit was joined or cut


@dataclass
class Conversion:
    scenario_set: ScenarioSet
    summary: Summary
    # Recorded values of secret variables, per scenario: kept in the database, never in a file.
    secrets: dict[str, dict[str, str]]
    # Per scenario, the recorded flow (seq) each step replays: where validation compares.
    step_flows: dict[str, list[int]] = field(default_factory=dict)


class NothingToConvert(ValueError):
    pass


def convert(flows: Sequence[Recorded], name: str, options: Options = Options(), recording: str | None = None) -> Conversion:
    kept, excluded = _select(flows, options)
    if not kept:
        raise NothingToConvert("no replayable flows" + (f" ({_describe(excluded)} excluded)" if excluded else ""))
    # The provenance index: what every response handed out, read by splitting and correlation.
    index = Index(kept)
    split = split_visits(kept, options.gap, index)
    evidence = Evidence(index=index, origins=sorted({f.origin for f in kept}), varies=options.varies)
    pages = [page_steps(s, options.assets) for s in split.sessions]
    pages = [p for p in pages if p]
    mains = [(p.main.method, p.main.path) for session in pages for p in session]
    assets = [(r.method, r.path) for session in pages for p in session for r in p.resources]
    names = endpoint_names(mains, assets)
    signatures = [[names[(p.main.method, p.main.path)] for p in session] for session in pages]

    scenarios: list[Scenario] = []
    secrets: dict[str, dict[str, str]] = {}
    defaults: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    literals: list[str] = []
    taken: set[str] = set()
    step_flows: dict[str, list[int]] = {}
    clamped = 0
    for group in cluster(signatures, options.similarity):
        representative = group[0]
        done: Correlated = correlate(pages[representative], names, evidence)
        for member in group[1:]:
            for i, j in align(signatures[representative], signatures[member]):
                done.steps[i].think_times.append(pages[member][j].think)
        for step in done.steps:
            clamped += sum(t > options.max_think for t in step.think_times)
            # Milliseconds are all a think time needs, and they survive the YAML round trip.
            step.think_times = [round(min(t, options.max_think), 3) for t in step.think_times]
            step.think_time = round(statistics.median(step.think_times), 3)
        scenario_name = _unique(_scenario_name(pages[representative], names), taken)
        scenarios.append(Scenario(name=scenario_name, weight=len(group), sessions=len(group), steps=done.steps))
        step_flows[scenario_name] = [p.main.seq for p in pages[representative]]
        if done.secrets:
            secrets[scenario_name] = done.secrets
        defaults.update(done.defaults)
        kinds.update(done.kinds)
        literals.extend(f"{scenario_name}: {item}" for item in done.literals)

    secret_names = sorted({v for values in secrets.values() for v in values})
    variables = [Variable(name=v, secret=True) for v in secret_names] + [
        Variable(name=k, default=v) for k, v in sorted(defaults.items()) if k not in secret_names
    ]
    scenario_set = ScenarioSet(
        name=name,
        recording=recording,
        origins=sorted({f.origin for f in kept}),
        variables=variables,
        scenarios=sorted(scenarios, key=lambda s: -s.weight),
    )
    summary = Summary(
        sessions=len(pages),
        uncertain=split.uncertain,
        clamped=clamped,
        scenarios=[(s.name, s.weight) for s in scenario_set.scenarios],
        page_steps=sum(len(s.steps) for s in scenarios),
        correlations=dict(sorted(kinds.items())),
        literals=literals,
        excluded=excluded,
        explain=split.explain,
    )
    return Conversion(scenario_set=scenario_set, summary=summary, secrets=secrets, step_flows=step_flows)


def _select(flows: Sequence[Recorded], options: Options) -> tuple[list[Recorded], dict[str, int]]:
    patterns = [re.compile(p) for p in options.exclude]
    allowed = host_matcher(tuple(options.allowed_hosts))
    kept: list[Recorded] = []
    excluded: Counter[str] = Counter()
    for flow in flows:
        if allowed is not None and not allowed.match(f"{flow.host.lower()}:{flow.port}"):
            excluded["outside the allow-list"] += 1
        elif any(rx.search(flow.url) for rx in patterns):
            excluded["--exclude"] += 1
        elif not flow.replayable:
            excluded["not replayable (WebSocket, event stream)"] += 1
        elif flow.status is None:
            excluded["failed when recorded"] += 1
        elif not options.assets and is_subresource(flow):
            excluded["static assets (--no-assets)"] += 1
        else:
            kept.append(flow)
    return kept, dict(excluded)


def _describe(excluded: dict[str, int]) -> str:
    return ", ".join(f"{n} {why}" for why, n in excluded.items())


def _scenario_name(pages: Sequence[Page], names: dict[tuple[str, str], str]) -> str:
    """Named for what the visit does: its form posts and API writes, else the pages it reads."""
    def words(page: Page) -> str:
        segments = [s for s in names[(page.main.method, page.main.path)].split(" ", 1)[1].split("/") if s and not s.startswith("{")]
        return " ".join(segments[-1:]) or "home"

    writes = [words(p) for p in pages if p.main.method not in ("GET", "HEAD", "OPTIONS")]
    if writes:
        return " + ".join(dict.fromkeys(writes))
    reads = [words(p) for p in pages]
    return "browse " + " + ".join(list(dict.fromkeys(reads))[:3])


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    taken.add(candidate)
    return candidate
