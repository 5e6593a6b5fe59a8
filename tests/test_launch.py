"""The New run form's pure core: what command a form becomes, and what the UI's policy refuses."""

from __future__ import annotations

import pytest

from replayswarm.cli import cli
from replayswarm.errors import UserError
from replayswarm.web.launch import Policy, command

POLICY = Policy(targets=("http://staging.test:8000", "https://Shop.test"), max_users=100, max_processes=2)
SOURCES = {"checkout", "visit"}


def parsed(args: list[str]) -> dict:
    """The options play (or capacity) itself reads from the command: no guessing at our own format."""
    return cli.commands[args[0]].make_context(args[0], args[1:]).params


def test_a_form_becomes_the_play_command_a_person_would_type():
    args = command({"source": "checkout", "host": "http://staging.test:8000", "users": "50", "spawn_rate": "5",
                    "label": "build 42", "tags": "build=42 branch=main", "thresholds": "p95<800ms\n\nerrors<1%\n"}, SOURCES, POLICY)
    params = parsed(args)
    assert params["source"] == "checkout" and params["host"] == "http://staging.test:8000"
    assert params["users"] == 50 and params["spawn_rate"] == 5 and params["duration"] == "forever"
    assert params["label"] == "build 42" and params["tag"] == ("build=42", "branch=main")
    assert params["threshold"] == ("p95<800ms", "errors<1%") and params["quiet"]


def test_no_field_can_smuggle_an_option_or_another_source():
    args = command({"source": "visit", "host": "https://shop.test:443", "users": "2", "label": "--users=99999",
                    "tags": "--insecure"}, SOURCES, POLICY)
    params = parsed(args)
    assert params["users"] == 2 and params["label"] == "--users=99999" and not params["insecure"]
    assert params["tag"] == ("--insecure",)  # a malformed tag, which play refuses in one line
    with pytest.raises(UserError, match="no scenario set or recording named '--help'"):
        command({"source": "--help", "host": "http://staging.test:8000", "users": "1"}, SOURCES, POLICY)


@pytest.mark.parametrize("host", ["http://staging.test", "https://staging.test:8000", "http://staging.test:8001", "http://evil.test:8000"])
def test_only_the_allowed_origins_are_targets(host: str):
    with pytest.raises(UserError, match="is not a target this UI may load"):
        command({"source": "visit", "host": host, "users": "1"}, SOURCES, POLICY)


def test_the_cap_bounds_every_load_shape():
    base = {"source": "visit", "host": "https://shop.test"}
    with pytest.raises(UserError, match="Users 101 is over this UI's cap of 100"):
        command({**base, "users": "101"}, SOURCES, POLICY)
    with pytest.raises(UserError, match="stages peak at 150"):
        command({**base, "load": "stages", "stages": "10s:50,1m:150,10s:0"}, SOURCES, POLICY)
    assert parsed(command({**base, "load": "stages", "stages": "10s:50,1m:100"}, SOURCES, POLICY))["stages"] == "10s:50,1m:100"
    # The open model: visits come whatever the response times; users at once are what the cap bounds.
    assert parsed(command({**base, "load": "arrival", "arrival_rate": "20/s"}, SOURCES, POLICY))["max_users"] == 100
    assert parsed(command({**base, "load": "stages", "stages": "1m:10/s"}, SOURCES, POLICY))["max_users"] == 100
    search = parsed(command({**base, "kind": "capacity", "start": "10", "step": "10", "slos": "p95<500ms"}, SOURCES, POLICY))
    assert search["max_users"] == 100 and search["slo"] == ("p95<500ms",) and search["start"] == 10
    with pytest.raises(UserError, match="Max users 500 is over"):
        command({**base, "kind": "capacity", "start": "10", "max_users": "500"}, SOURCES, POLICY)
    # Nor may a form fork more workers than the machine has cores.
    with pytest.raises(UserError, match="give 1 to 2"):
        command({**base, "users": "10", "processes": "64"}, SOURCES, POLICY)
    assert parsed(command({**base, "users": "10", "processes": "auto"}, SOURCES, POLICY))["processes"] == "auto"


def test_a_ui_without_targets_starts_nothing():
    with pytest.raises(UserError, match="only looks"):
        command({"source": "visit", "host": "http://staging.test:8000", "users": "1"}, SOURCES, Policy())
