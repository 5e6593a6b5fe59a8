"""Every parser of user input, fuzzed (Hypothesis): any HAR, mitmproxy dump, scenario YAML,
threshold, duration, size or URL gives a result or a one-line UserError (exit 2 at the CLI),
never another exception, which would reach the user as a traceback."""

from __future__ import annotations

import copy
import io
import json
import uuid

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from replayswarm.cli import parse_duration, parse_size
from replayswarm.errors import UserError
from replayswarm.play.plan import compile_plan, map_origins, parse_target
from replayswarm.play.shape import parse_stages, rate, steps
from replayswarm.play.thresholds import parse_error_guard, parse_threshold
from replayswarm.record.dump import read_dump
from replayswarm.record.har import read_har
from replayswarm.record.importer import sniff
from replayswarm.scenario.yamlfile import load

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=20) | st.sampled_from(["", "ab", "http://[::1/x", "-1", "1e999", "GET", "text/html; charset=nope"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)

HAR_ENTRY = {
    "startedDateTime": "2026-11-30T10:00:00.000Z",
    "time": 12.5,
    "request": {"method": "POST", "url": "https://shop.example.com/cart?item=3", "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 6,
                "postData": {"mimeType": "application/x-www-form-urlencoded", "text": "item=3", "params": [{"name": "item", "value": "3"}]}},
    "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                 "headers": [{"name": "Content-Type", "value": "text/html"}], "cookies": [],
                 "content": {"size": 5, "mimeType": "text/html", "text": "aGVsbG8=", "encoding": "base64"},
                 "redirectURL": "", "headersSize": -1, "bodySize": 5},
    "cache": {}, "timings": {"send": 1, "wait": 10, "receive": 1},
}


def paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document, as a path of keys and indices."""
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += paths(v, (*prefix, i))
    return found


def replaced(doc: object, path: tuple, value: object) -> object:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def mutated(base: object) -> st.SearchStrategy:
    """`base` with a few of its places replaced by any JSON value (or removed)."""
    places = paths(base)

    @st.composite
    def build(draw: st.DrawFn) -> object:
        doc = base
        for _ in range(draw(st.integers(1, 3))):
            where = draw(st.sampled_from(paths(doc) or places))
            if where and draw(st.booleans()) and isinstance(_at(doc, where[:-1]), dict):
                doc = copy.deepcopy(doc)
                _at(doc, where[:-1]).pop(where[-1], None)
            else:
                doc = replaced(doc, where, draw(json_values))
        return doc
    return build()


def _at(doc: object, path: tuple) -> object:
    for key in path:
        doc = doc[key]  # type: ignore[index]
    return doc


_engine = None


def scratch_db():
    """One SQLite file for every example: what a HAR reads as must also store."""
    global _engine
    if _engine is None:
        import tempfile

        from replayswarm.db import open_db

        _engine = open_db(f"sqlite:///{tempfile.mkdtemp()}/fuzz.db")
    return _engine


@FUZZ
@given(mutated({"log": {"version": "1.2", "entries": [HAR_ENTRY, HAR_ENTRY]}}))
def test_any_har_structure_imports_or_is_refused_in_one_line(doc):
    from replayswarm.record.store import import_recording

    text = json.dumps(doc, allow_nan=True)
    try:
        exchanges, _ = read_har("visit.har", text)
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    import_recording(scratch_db(), f"fuzz-{uuid.uuid4()}", "har", exchanges)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_sniffed_and_read_as_a_dump_or_refused(data):
    try:
        kind = sniff("x", data[:64])
    except UserError:
        return
    if kind == "mitmproxy":
        try:
            read_dump("x", io.BytesIO(data))
        except UserError as exc:
            assert "\n" not in str(exc)


SCENARIOS = {
    "version": 1, "name": "shop", "origins": ["https://shop.example.com"],
    "variables": [{"name": "password", "secret": True}],
    "scenarios": [{"name": "buy", "weight": 2, "steps": [
        {"name": "GET /", "think_time": 1.5, "request": {"method": "GET", "url": "https://shop.example.com/", "headers": [["Accept", "*/*"]]},
         "expect": {"status": 200, "type": "text/html", "size": 300},
         "extract": [{"var": "csrf", "source": "body", "regex": "csrf=(\\w+)"}],
         "resources": [{"url": "https://shop.example.com/app.js"}]},
        {"name": "POST /login", "think_time": 0.5,
         "request": {"method": "POST", "url": "https://shop.example.com/login", "body": "csrf=${csrf}&p=${password}"},
         "expect": {"status": 302}},
    ]}],
}


@FUZZ
@given(mutated(SCENARIOS))
def test_any_scenario_yaml_loads_and_plans_or_is_refused_in_one_line(doc):
    try:
        text = yaml.safe_dump(doc)
    except (yaml.YAMLError, ValueError):
        assume(False)
    try:
        scenario_set = load(text, "fuzz.yaml")
        compile_plan(scenario_set, map_origins(scenario_set.origins, "http://127.0.0.1:8000", ()))
    except UserError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(st.text(max_size=60))
def test_any_yaml_text_loads_or_is_refused_in_one_line(text):
    try:
        load(text, "fuzz.yaml")
    except UserError as exc:
        assert "\n" not in str(exc)


option_text = st.text(max_size=30) | st.from_regex(r"(\d{0,3}(\.\d)?[hms]{0,2}:\d{0,4}(/[sm])?,?){1,3}", fullmatch=True) | st.from_regex(r"\s*[A-Za-z /:{}]{0,12}:?(p\d{1,3}|errors|rps|max|avg)\s*[<>]=?\s*-?\d{0,4}(\.\d+)?\s*(ms|s|us|%|m)?\s*", fullmatch=True)


@FUZZ
@given(option_text)
def test_any_threshold_duration_size_guard_or_host_parses_or_is_refused_in_one_line(text):
    for parse in (parse_threshold, parse_error_guard, lambda t: parse_duration(t, "--duration"),
                  lambda t: parse_size(t, "--max-body"), parse_target, parse_stages, lambda t: rate(t, "--arrival-rate"),
                  lambda t: steps(t, 500, 10.0)):
        try:
            parse(text)
        except UserError as exc:
            assert "\n" not in str(exc)
