"""`replayswarm convert` on real recordings: people browsing the notes site at the same time."""

from __future__ import annotations

import json
from pathlib import Path

from replayswarm.scenario.yamlfile import load
from tests.dbutil import rows
from tests.helpers import cli


def convert(db: str, *args: str):
    result = cli("convert", "mixed", "--db", db, *args)
    assert result.returncode == 0, result.stderr
    return result


def test_concurrent_visitors_and_editors_become_two_scenarios_weighted_3_to_2(mixed_db, mixed_recording, tmp_path):
    out = tmp_path / "scenarios.yaml"
    result = convert(mixed_db, "--name", "shop", "-o", str(out))
    assert "5 sessions -> 2 scenarios" in result.stdout
    doc = json.loads(cli("scenario", "shop", "--json", "--db", mixed_db).stdout)
    weights = sorted((s["weight"], s["name"]) for s in doc["scenarios"])
    assert [w for w, _ in weights] == [2, 3], weights
    by_weight = {s["weight"]: s for s in doc["scenarios"]}
    visit, edit = by_weight[3], by_weight[2]
    assert not any(st["name"].startswith("POST") for st in visit["steps"])

    steps = {st["name"]: st for st in edit["steps"]}
    names = [st["name"] for st in edit["steps"]]
    for expected in ("GET /accounts/login/", "POST /accounts/login/", "POST /notes/new/", "GET /notes/{id}/", "GET /notes/{id}/edit/", "POST /notes/{id}/edit/", "POST /accounts/logout/"):
        assert expected in names, names
    # The CSRF token: extracted from the login page, sent back in the login form.
    [token] = steps["GET /accounts/login/"]["extract"]
    # ... from the login form itself (named by its action), not from whichever input of that name comes first.
    assert (token["source"], token["kind"], token["name"]) == ("form", "csrf", "csrfmiddlewaretoken") and token["form"]
    login = steps["POST /accounts/login/"]
    assert {(s["var"], s["where"]) for s in login["substitute"]} >= {(token["var"], "form"), ("username", "form"), ("password", "form")}
    # The created note's id: extracted from the redirect's Location, used in later paths.
    [note] = [e for e in steps["POST /notes/new/"]["extract"] if e["kind"] == "id"]
    assert note["source"] == "header" and note["name"] == "Location"
    assert "${" + note["var"] + "}" in steps["GET /notes/{id}/edit/"]["url"]
    assert (note["var"], "path") in {(s["var"], s["where"]) for s in steps["POST /notes/{id}/edit/"]["substitute"]}
    # The page's API call keeps a fresh cache-buster.
    api = next(st for st in visit["steps"] if st["name"] == "GET /api/notes/")
    assert "${__timestamp_ms}" in api["url"]

    # Think times: every session a scenario stands for contributed one per step.
    assert all(len(st["think_times"]) == 3 for st in visit["steps"])
    assert all(len(st["think_times"]) == 2 for st in edit["steps"])
    notes_page = next(st for st in visit["steps"] if st["name"] == "GET /notes/")
    # The visitors paused 0.4 s on each page; a click takes a while more on a busy 2-core machine.
    assert 0.3 < notes_page["think_time"] < 3.0

    text = out.read_text()
    for secret in ("alice-pass-123", "bob-pass-123", "sessionid"):
        assert secret not in text
    assert {v["name"]: v for v in doc["variables"]}["password"]["secret"] is True
    stored = rows(mixed_db, "SELECT secrets FROM scenarios WHERE secrets != '{}'")
    assert json.loads(stored[0]["secrets"])["password"] in ("alice-pass-123", "bob-pass-123")


def test_the_yaml_file_round_trips_to_the_same_scenario_set(mixed_db, tmp_path):
    out = tmp_path / "set.yaml"
    convert(mixed_db, "--name", "trip", "-o", str(out))
    from_file = json.loads(cli("scenario", str(out), "--json", "--db", mixed_db).stdout)
    from_db = json.loads(cli("scenario", "trip", "--json", "--db", mixed_db).stdout)
    assert from_file == from_db
    first = load(out.read_text(), str(out))
    from replayswarm.scenario.yamlfile import dump

    assert load(dump(first)) == first


def test_summary_lists_what_was_found_and_what_was_left_out(mixed_db):
    result = convert(mixed_db, "--name", "lean", "--no-assets", "--exclude", r"/api/", "--json")
    summary = json.loads(result.stdout)
    assert summary["sessions"] == 5 and summary["page_steps"] > 0
    assert summary["correlations"]["csrf"] >= 3 and summary["correlations"]["id"] >= 2
    assert summary["excluded"]["--exclude"] >= 5
    assert summary["excluded"]["static assets (--no-assets)"] > 0
    doc = json.loads(cli("scenario", "lean", "--json", "--db", mixed_db).stdout)
    assert all(st["resources"] == 0 and "/api/" not in st["url"] for s in doc["scenarios"] for st in s["steps"])
    listed = json.loads(cli("scenarios", "--json", "--db", mixed_db).stdout)
    assert [s["name"] for s in listed] == ["lean"]


def test_unknown_or_empty_recordings_and_taken_names_are_refused(mixed_db, tmp_path):
    unknown = cli("convert", "nope", "--db", mixed_db)
    assert (unknown.returncode, unknown.stderr) == (2, "Error: no recording named 'nope' (see `replayswarm recordings`)\n")
    empty = tmp_path / "empty.har"
    empty.write_text(json.dumps({"log": {"version": "1.2", "entries": []}}))
    assert cli("import", str(empty), "--name", "empty", "--db", mixed_db).returncode == 0
    nothing = cli("convert", "empty", "--db", mixed_db)
    assert (nothing.returncode, nothing.stderr) == (2, "Error: recording 'empty' is empty: nothing to convert\n")
    convert(mixed_db, "--name", "once")
    again = cli("convert", "mixed", "--name", "once", "--db", mixed_db, "-o", str(tmp_path / "x.yaml"))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert not (tmp_path / "x.yaml").exists() and not list(tmp_path.glob(".x.yaml*"))
    assert cli("convert", "mixed", "--name", "once", "--replace", "--db", mixed_db).returncode == 0
    bad = cli("convert", "mixed", "--exclude", "([", "--db", mixed_db)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --exclude '([' is not a regular expression")


BROKEN = {
    "not YAML": ("version: 1\nscenarios: [\n", ":3: not valid YAML"),
    "wrong version": ("version: 7\nscenarios: []\n", ":1: unsupported version 7"),
    "no scenarios": ("version: 1\nname: x\n", ":1: the file needs `scenarios`"),
    "step without url": (
        "version: 1\nscenarios:\n  - name: a\n    weight: 1\n    steps:\n      - name: GET /\n        request:\n          method: GET\n",
        ":8: a step's request needs `url`",
    ),
    "negative weight": ("version: 1\nscenarios:\n  - name: a\n    weight: -2\n    steps: []\n", ":3: scenario 'a': `weight` must be"),
    "bad regex": (
        "version: 1\nscenarios:\n  - name: a\n    steps:\n      - request: {method: GET, url: 'http://x/'}\n        extract:\n          - {var: t, source: body, regex: '(['}\n",
        ":7: extraction 't': bad regex",
    ),
}


def test_a_broken_scenario_file_is_refused_with_its_line_number(tmp_path: Path, db):
    for label, (text, message) in BROKEN.items():
        path = tmp_path / f"{label.replace(' ', '-')}.yaml"
        path.write_text(text)
        result = cli("scenario", str(path), "--db", db)
        assert result.returncode == 2, label
        assert result.stderr.startswith(f"Error: {path}{message}"), f"{label}: {result.stderr}"
        assert result.stderr.count("\n") == 1
