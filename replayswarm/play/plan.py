"""A scenario set compiled for replay: templates pre-split, origins mapped to targets, scenario
order interleaved by weight. Pure and picklable: the parent builds it, the workers run it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from ..errors import UserError
from ..scenario.model import CONNECTION_HEADERS, Extract, Request, ScenarioSet
from ..scenario.template import PLACEHOLDER

# A browser opens at most this many connections to one host; a virtual user keeps to it.
PER_HOST = 6
# Variables the replay makes up itself.
BUILTINS = ("__timestamp_ms", "__timestamp", "__uuid", "__random", "__user", "__iteration")


@dataclass(frozen=True)
class Template:
    """Literal text and (variable, url-encode) holes, in order."""

    parts: tuple[str | tuple[str, bool], ...]

    @classmethod
    def compile(cls, text: str) -> Template:
        parts: list[str | tuple[str, bool]] = []
        last = 0
        for m in PLACEHOLDER.finditer(text):
            literal = text[last:m.start()] + (m.group(0)[1:] if m.group(1) else "")
            if literal:
                parts.append(literal)
            if not m.group(1):
                parts.append((m.group(2), bool(m.group(3))))
            last = m.end()
        if text[last:]:
            parts.append(text[last:])
        merged: list[str | tuple[str, bool]] = []
        for p in parts:  # adjacent literals become one
            if isinstance(p, str) and merged and isinstance(merged[-1], str):
                merged[-1] += p
            else:
                merged.append(p)
        return cls(tuple(merged))

    @property
    def constant(self) -> str | None:
        if not self.parts:
            return ""
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @property
    def variables(self) -> list[str]:
        return [p[0] for p in self.parts if isinstance(p, tuple)]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        """What the Host header says."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True)
class PlannedRequest:
    name: str  # endpoint name, the unit of statistics
    target: int  # index into Plan.targets
    method: str
    uri: Template  # path and query
    # Headers the same on every request are rendered once; the rest hold variables.
    static_headers: Mapping[str, str]
    dynamic_headers: tuple[tuple[str, Template], ...]
    body: Template | None
    expect_status: int | None
    raw_body: bytes | None = None  # sent exactly as recorded
    charset: str = "utf-8"  # of the rendered body
    coding: str | None = None  # content coding applied after rendering
    unrecorded: int | None = None  # the size of a body the recorder did not keep: never sent


@dataclass(frozen=True)
class PlannedStep:
    request: PlannedRequest
    think_times: tuple[float, ...]
    expect_type: str | None
    expect_size: int | None
    expect_location: str | None
    extract: tuple[Extract, ...]
    resources: tuple[PlannedRequest, ...]
    # A failure here breaks the rest of the iteration: later steps need what it hands out,
    # or it changes state (a login, a form post).
    critical: bool
    position: int = 0
    reads_body: bool = False  # an extraction reads the body: play keeps up to --max-body of it  # its index among the scenario's steps (some may not be planned)


@dataclass(frozen=True)
class PlannedScenario:
    name: str
    weight: int
    steps: tuple[PlannedStep, ...]
    recorded: Mapping[str, str] = field(default_factory=dict)  # recorded values of its variables


@dataclass(frozen=True)
class Plan:
    scenarios: tuple[PlannedScenario, ...]
    targets: tuple[Target, ...]
    order: tuple[int, ...]  # one weighted cycle of scenario indices
    skipped: tuple[str, ...] = ()  # requests to origins that were not named, never sent
    defaults: Mapping[str, str] = field(default_factory=dict)  # the set's non-secret variables
    folded: int = 0  # sub-resource names counted together as OTHER (over MAX_ENDPOINTS)


def parse_target(url: str, option: str = "--host") -> Target:
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
    except ValueError as exc:  # an unclosed IPv6 bracket
        raise UserError(f"{option} {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{option} {url!r} is not an http:// or https:// URL")
    if parts.path not in ("", "/") or parts.query:
        raise UserError(f"{option} {url!r}: give only scheme, host and port")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UserError(f"{option} {url!r} has an invalid port") from None
    return Target(parts.scheme, parts.hostname, port)


def map_origins(origins: Sequence[str], host: str | None, host_map: Sequence[str]) -> dict[str, Target]:
    """Recorded origin → target. `--host` replaces the one recorded origin (or every origin
    `--host-map` leaves out, when the recording spoke to one site on several names)."""
    mapping: dict[str, Target] = {}
    for item in host_map:
        original, sep, new = item.partition("=")
        if not sep:
            raise UserError(f"--host-map {item!r}: expected ORIGINAL=NEW")
        mapping[parse_target(original, "--host-map").origin] = parse_target(new, "--host-map")
    unmapped = [o for o in origins if o not in mapping]
    if host is not None:
        target = parse_target(host)
        if len(unmapped) > 1 and not host_map:
            raise UserError(f"the scenarios speak to {len(unmapped)} origins ({', '.join(unmapped)}): name each with --host-map ORIGIN=URL")
        for origin in unmapped:
            mapping[origin] = target
    if not mapping:
        raise UserError("play needs --host URL (where to send the load)")
    return mapping


def weighted_order(weights: Sequence[int]) -> tuple[int, ...]:
    """Smooth weighted round-robin: weights 3:2 give A B A B A, not A A A B B."""
    total = sum(weights)
    current = [0] * len(weights)
    order = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        order.append(best)
    return tuple(order)


def compile_plan(scenario_set: ScenarioSet, origins: Mapping[str, Target], recorded: Mapping[str, Mapping[str, str]] | None = None) -> Plan:
    targets = sorted(set(origins.values()), key=lambda t: t.origin)
    index = {t: i for i, t in enumerate(targets)}
    skipped: list[str] = []
    # A recorded origin written anywhere in a request (Origin, Referer, a `came_from` field,
    # URL-encoded in a query) names the target instead: the replay never points back at it.
    moves = {**{o: t.origin for o, t in origins.items()}, **{quote(o, safe=""): quote(t.origin, safe="") for o, t in origins.items()}}
    # An origin ends where its host and port end: not inside `127.0.0.1:80001` or `shop.test.evil`.
    ends = r"(?![\w.-]|:|%3[Aa])"
    recorded_origin = re.compile("(?:" + "|".join(re.escape(o) for o in sorted(moves, key=len, reverse=True)) + ")" + ends) if moves else None

    def retarget(text: str) -> str:
        return recorded_origin.sub(lambda m: moves[m.group(0)], text) if recorded_origin is not None else text

    def request(name: str, method: str, url: str, headers: Sequence[tuple[str, str]], recorded: Request | None, status: int | None) -> PlannedRequest | None:
        try:
            origin, rest = _split_origin(url)
        except ValueError as exc:
            raise UserError(f"step {name!r}: {url!r} is not a valid URL ({exc})") from None
        if origin not in origins:
            skipped.append(f"{method} {url}")
            return None
        target = origins[origin]
        planned_headers = []
        for key, value in headers:
            lower = key.lower()
            if lower in CONNECTION_HEADERS:
                continue
            planned_headers.append((key, Template.compile(retarget(value))))
        return PlannedRequest(
            name=name, target=index[target], method=method, uri=Template.compile(retarget(rest) or "/"),
            static_headers={k: t.constant for k, t in planned_headers if t.constant is not None},
            dynamic_headers=tuple((k, t) for k, t in planned_headers if t.constant is None),
            body=Template.compile(retarget(recorded.body)) if recorded is not None and recorded.body is not None else None,
            expect_status=status,
            raw_body=recorded.body_raw if recorded is not None else None,
            charset=(recorded.charset if recorded is not None else None) or "utf-8",
            coding=recorded.coding if recorded is not None else None,
            unrecorded=recorded.unrecorded if recorded is not None else None,
        )

    scenarios = []
    for s in scenario_set.scenarios:
        steps = []
        for position, step in enumerate(s.steps):
            main = request(step.name, step.request.method, step.request.url, step.request.headers, step.request, step.expect_status)
            if main is None:
                continue
            resources = []
            for r in step.resources:
                path = urlsplit(r.url).path or "/"
                planned = request(f"{r.method} {path}", r.method, r.url, r.headers, None, r.expect_status)
                if planned is not None:
                    resources.append(planned)
            steps.append(PlannedStep(
                request=main,
                think_times=tuple(step.think_times) or (step.think_time,),
                expect_type=step.expect_type,
                expect_size=step.expect_size,
                expect_location=step.expect_location,
                extract=tuple(step.extract),
                resources=tuple(resources),
                critical=bool(step.extract) or step.request.method not in ("GET", "HEAD", "OPTIONS"),
                position=position,
                reads_body=any(e.source not in ("header", "cookie") for e in step.extract),
            ))
        if steps:
            scenarios.append(PlannedScenario(name=s.name, weight=s.weight, steps=tuple(steps), recorded=dict((recorded or {}).get(s.name, {}))))
    if not scenarios:
        raise UserError("no step of any scenario goes to a host named by --host/--host-map")
    defaults = {v.name: v.default for v in scenario_set.variables if v.default is not None and not v.secret}
    scenarios, folded = _fold_endpoints(scenarios)
    return Plan(scenarios=tuple(scenarios), targets=tuple(targets), order=weighted_order([s.weight for s in scenarios]),
                skipped=tuple(skipped), defaults=defaults, folded=folded)


MAX_ENDPOINTS = 1000  # statistics rows a run keeps per endpoint; beyond, sub-resources share one
OTHER = "(other sub-resources)"


def _fold_endpoints(scenarios: list[PlannedScenario]) -> tuple[list[PlannedScenario], int]:
    """Keep a run's endpoints bounded: pages keep their names, sub-resources past the bound (a
    page that pulls thousands of distinct URLs) are counted together under one name per method."""
    pages = {st.request.name for sc in scenarios for st in sc.steps}
    resources = [n for n in dict.fromkeys(r.name for sc in scenarios for st in sc.steps for r in st.resources) if n not in pages]
    room = max(0, MAX_ENDPOINTS - len(pages))
    if len(resources) <= room:
        return scenarios, 0
    kept = pages | set(resources[:room])

    def named(r: PlannedRequest) -> PlannedRequest:
        return r if r.name in kept else replace(r, name=f"{r.method} {OTHER}")

    folded = [
        replace(sc, steps=tuple(replace(st, resources=tuple(named(r) for r in st.resources)) for st in sc.steps))
        for sc in scenarios
    ]
    return folded, len(resources) - room


def status_differs(status: int, expected: int | None) -> bool:
    """A status of another class than recorded fails; a 304 where 200 was recorded does not."""
    if expected is None:
        return status >= 400
    if {status, expected} <= {200, 304}:
        return False
    return status // 100 != expected // 100


def size_differs(size: int, expected: int | None) -> bool:
    """An answer far from the recorded size (beyond 3x either way, with 512 bytes of slack):
    an error page or a login form served with 200 shows up here."""
    return bool(expected) and not (expected / 3 - 512 <= size <= expected * 3 + 512)  # type: ignore[operator]


def _split_origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")
    rest = url[len(parts.scheme) + 3 + len(parts.netloc):]
    return origin, rest


def needed_variables(plan: Plan) -> dict[str, set[str]]:
    """Per scenario, the variables its templates use that no extraction provides."""
    needs: dict[str, set[str]] = {}
    for s in plan.scenarios:
        provided: set[str] = set()
        wanted: set[str] = set()
        for step in s.steps:
            for r in (step.request, *step.resources):
                templates = [r.uri, *(t for _, t in r.dynamic_headers)] + ([r.body] if r.body else [])
                wanted.update(v for t in templates for v in t.variables if v not in provided)
            provided.update(e.var for e in step.extract)
        needs[s.name] = {v for v in wanted if v not in BUILTINS and not v.startswith("cookie:") and v not in plan.defaults}
    return needs
