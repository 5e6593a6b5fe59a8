"""The scenario file: versioned YAML that a person can read, edit and commit.

`dump` never writes a secret's value; `load` checks everything play relies on and names the
line of the first problem.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import asdict
from typing import Any

import yaml

from ..errors import UserError
from .model import Extract, Request, Resource, Scenario, ScenarioSet, Step, Substitution, Variable

VERSION = 1
SOURCES = ("body", "header", "json", "cookie", "form")


# -- dump --------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.strip() == "" else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Pair(list):
    """A [name, value] header pair, written on one line."""


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Pair, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def dump(scenario_set: ScenarioSet) -> str:
    doc: dict[str, Any] = {"version": VERSION, "name": scenario_set.name}
    if scenario_set.recording:
        doc["recording"] = scenario_set.recording
    doc["origins"] = list(scenario_set.origins)
    doc["variables"] = {
        v.name: ({"secret": True} if v.secret else {"default": v.default}) for v in scenario_set.variables
    }
    doc["scenarios"] = [_scenario_doc(s) for s in scenario_set.scenarios]
    header = "# replayswarm scenario file: edit freely; `replayswarm play FILE` runs it.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _scenario_doc(scenario: Scenario) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "weight": scenario.weight,
        "sessions": scenario.sessions,
        "steps": [_step_doc(step) for step in scenario.steps],
    }


def _step_doc(step: Step) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": step.name, "think_time": step.think_time}
    if step.think_times != [step.think_time]:
        doc["think_times"] = list(step.think_times)
    request: dict[str, Any] = {"method": step.request.method, "url": step.request.url}
    if step.request.headers:
        request["headers"] = [_Pair(h) for h in step.request.headers]
    if step.request.body is not None:
        request["body"] = step.request.body
    if step.request.body_raw is not None:
        request["body_base64"] = base64.b64encode(step.request.body_raw).decode("ascii")
    for key in ("charset", "coding", "unrecorded"):
        if getattr(step.request, key) is not None:
            request[key] = getattr(step.request, key)
    doc["request"] = request
    expect = {k: v for k, v in (("status", step.expect_status), ("type", step.expect_type), ("size", step.expect_size), ("location", step.expect_location)) if v is not None}
    if expect:
        doc["expect"] = expect
    if step.extract:
        doc["extract"] = [{k: v for k, v in asdict(e).items() if v is not None and (k, v) != ("index", 0)} for e in step.extract]
    if step.substitute:
        doc["substitute"] = [asdict(s) for s in step.substitute]
    if step.resources:
        doc["resources"] = [
            {k: v for k, v in (("method", r.method), ("url", r.url), ("headers", [_Pair(h) for h in r.headers] or None), ("status", r.expect_status)) if v is not None}
            for r in step.resources
        ]
    return doc


# -- load --------------------------------------------------------------------------------------


class _Map(dict):
    line: int = 0


class _Seq(list):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    result = _Map(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_sequence(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


class _Invalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def load(text: str, path: str = "<scenarios>") -> ScenarioSet:
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}: not valid YAML ({problem})") from None
    try:
        return _scenario_set(doc)
    except _Invalid as exc:
        raise UserError(f"{path}:{exc.line}: {exc}") from None


def _need(doc: Any, key: str, kind: type | tuple[type, ...], where: _Map, what: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise _Invalid(getattr(doc, "line", where.line), f"{what} needs `{key}`")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _Invalid(getattr(value, "line", doc.line), f"{what}: `{key}` must be {_a(expected)}")
    return value


def _a(name: str) -> str:
    return {"str": "a string", "int": "an integer", "list": "a list", "dict": "a mapping"}.get(name, name)


def _scenario_set(doc: Any) -> ScenarioSet:
    if not isinstance(doc, _Map):
        raise _Invalid(getattr(doc, "line", 1), "a scenario file is a mapping with `version` and `scenarios`")
    version = doc.get("version")
    if version != VERSION:
        raise _Invalid(doc.line, f"unsupported version {version!r} (this replayswarm reads version {VERSION})")
    scenarios = _need(doc, "scenarios", list, doc, "the file")
    if not scenarios:
        raise _Invalid(scenarios.line, "`scenarios` is empty")
    variables = doc.get("variables") or {}
    if not isinstance(variables, dict):
        raise _Invalid(getattr(variables, "line", doc.line), "`variables` must be a mapping")
    parsed = [_scenario(s, doc) for s in scenarios]
    names = [s.name for s in parsed]
    for s, raw in zip(parsed, scenarios):
        if names.count(s.name) > 1:
            raise _Invalid(raw.line, f"scenario name {s.name!r} is used twice")
    if not any(s.weight > 0 for s in parsed):
        raise _Invalid(scenarios.line, "every scenario has weight 0: nothing to run")
    return ScenarioSet(
        name=str(doc.get("name") or "scenarios"),
        recording=doc.get("recording"),
        origins=[str(o) for o in doc.get("origins") or []],
        variables=[_variable(name, spec, doc) for name, spec in variables.items()],
        scenarios=parsed,
    )


def _variable(name: str, spec: Any, doc: _Map) -> Variable:
    spec = spec or {}
    if not isinstance(spec, dict):
        raise _Invalid(doc.line, f"variable {name!r}: expected a mapping like {{secret: true}} or {{default: VALUE}}")
    default = spec.get("default")
    return Variable(name=str(name), secret=bool(spec.get("secret", False)), default=None if default is None else str(default))


def _scenario(raw: Any, parent: _Map) -> Scenario:
    if not isinstance(raw, _Map):
        raise _Invalid(getattr(raw, "line", parent.line), "each scenario is a mapping with `name`, `weight` and `steps`")
    name = _need(raw, "name", str, raw, "a scenario")
    weight = raw.get("weight", 1)
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
        raise _Invalid(raw.line, f"scenario {name!r}: `weight` must be a whole number ≥ 0")
    steps = _need(raw, "steps", list, raw, f"scenario {name!r}")
    if not steps:
        raise _Invalid(steps.line, f"scenario {name!r} has no steps")
    return Scenario(name=name, weight=weight, sessions=int(raw.get("sessions", weight) or 0), steps=[_step(s, raw, name) for s in steps])


def _step(raw: Any, parent: _Map, scenario: str) -> Step:
    if not isinstance(raw, _Map):
        raise _Invalid(getattr(raw, "line", parent.line), f"scenario {scenario!r}: each step is a mapping")
    request = _need(raw, "request", dict, raw, "a step")
    method = _need(request, "method", str, raw, "a step's request")
    url = _need(request, "url", str, raw, "a step's request")
    if not re.match(r"^https?://", url):
        raise _Invalid(request.line, f"request url {url!r} must start with http:// or https://")
    think = raw.get("think_time", 0)
    if not isinstance(think, (int, float)) or isinstance(think, bool) or think < 0:
        raise _Invalid(raw.line, "`think_time` must be a number of seconds ≥ 0")
    think_times = raw.get("think_times") or [float(think)]
    if not isinstance(think_times, list) or not all(isinstance(t, (int, float)) and t >= 0 for t in think_times):
        raise _Invalid(getattr(think_times, "line", raw.line), "`think_times` must be a list of seconds ≥ 0")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise _Invalid(raw.line, "`expect` must be a mapping (status, type, size)")
    body = request.get("body")
    return Step(
        name=str(raw.get("name") or f"{method} {url}"),
        request=Request(
            method=method.upper(), url=url, headers=_headers(request.get("headers"), request), body=None if body is None else str(body),
            body_raw=_base64(request), charset=_codec(request, "charset"), coding=_codec(request, "coding"),
            unrecorded=_optional_int(request, "unrecorded"),
        ),
        think_time=float(think),
        think_times=[float(t) for t in think_times],
        expect_status=_optional_int(expect, "status"),
        expect_type=expect.get("type"),
        expect_size=_optional_int(expect, "size"),
        expect_location=None if expect.get("location") is None else str(expect["location"]),
        extract=[_extract(e, raw) for e in raw.get("extract") or []],
        substitute=[_substitution(s, raw) for s in raw.get("substitute") or []],
        resources=[_resource(r, raw) for r in raw.get("resources") or []],
    )


def _base64(request: _Map) -> bytes | None:
    text = request.get("body_base64")
    if text is None:
        return None
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid(request.line, "`body_base64` is not valid base64") from None


def _codec(request: _Map, key: str) -> str | None:
    value = request.get(key)
    if value is None:
        return None
    value = str(value).lower()
    if key == "charset":
        try:
            codecs.lookup(value)
        except LookupError:
            raise _Invalid(request.line, f"unknown charset {value!r}") from None
    elif value not in ("gzip", "deflate", "br", "zstd"):
        raise _Invalid(request.line, f"unknown content coding {value!r} (gzip, deflate, br or zstd)")
    return value


def _optional_int(doc: _Map, key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(doc.line, f"`{key}` must be a whole number")
    return value


def _headers(raw: Any, parent: _Map) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [(str(k), str(v)) for k, v in raw.items()]
    if not isinstance(raw, list) or not all(isinstance(h, list) and len(h) == 2 for h in raw):
        raise _Invalid(getattr(raw, "line", parent.line), "`headers` must be a list of [name, value] pairs")
    return [(str(k), str(v)) for k, v in raw]


def _extract(raw: Any, parent: _Map) -> Extract:
    if not isinstance(raw, _Map):
        raise _Invalid(getattr(raw, "line", parent.line), "each extraction is a mapping with `var` and `source`")
    var = _need(raw, "var", str, raw, "an extraction")
    source = _need(raw, "source", str, raw, "an extraction")
    if source not in SOURCES:
        raise _Invalid(raw.line, f"extraction {var!r}: unknown source {source!r} (one of {', '.join(SOURCES)})")
    for key in ("regex", "name", "path", "form", "kind"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _Invalid(raw.line, f"extraction {var!r}: `{key}` must be a string")
    regex = raw.get("regex")
    if regex is not None:
        try:
            if re.compile(regex).groups < 1:
                raise _Invalid(raw.line, f"extraction {var!r}: the regex needs a group around the value")
        except re.error as exc:
            raise _Invalid(raw.line, f"extraction {var!r}: bad regex ({exc})") from None
    if source == "body" and regex is None:
        raise _Invalid(raw.line, f"extraction {var!r}: a body extraction needs `regex`")
    if source in ("header", "cookie", "form") and not raw.get("name"):
        raise _Invalid(raw.line, f"extraction {var!r}: a {source} extraction needs `name`")
    if source == "json" and raw.get("path") is None:
        raise _Invalid(raw.line, f"extraction {var!r}: a json extraction needs `path`")
    index = raw.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        raise _Invalid(raw.line, f"extraction {var!r}: `index` must be a whole number (0 the first match, -1 the last)")
    form = raw.get("form")
    if source == "form" and not isinstance(form, str):
        raise _Invalid(raw.line, f"extraction {var!r}: a form extraction needs `form` (id=X, name=X, action=/path or #N)")
    return Extract(var=var, source=source, name=raw.get("name"), regex=regex, path=raw.get("path"),
                   kind=str(raw.get("kind", "value")), index=index, form=form)


def _substitution(raw: Any, parent: _Map) -> Substitution:
    if not isinstance(raw, _Map):
        raise _Invalid(getattr(raw, "line", parent.line), "each substitution is a mapping with `var` and `where`")
    return Substitution(var=_need(raw, "var", str, raw, "a substitution"), where=str(raw.get("where", "")), kind=str(raw.get("kind", "value")))


def _resource(raw: Any, parent: _Map) -> Resource:
    if not isinstance(raw, _Map):
        raise _Invalid(getattr(raw, "line", parent.line), "each resource is a mapping with `url`")
    url = _need(raw, "url", str, raw, "a resource")
    return Resource(method=str(raw.get("method", "GET")).upper(), url=url, headers=_headers(raw.get("headers"), raw), expect_status=raw.get("status"))
