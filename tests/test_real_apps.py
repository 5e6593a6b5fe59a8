"""Record real applications in real Chromium through `replayswarm record`, convert, replay against
a fresh copy, and check what a user relies on (issue 9): the visits found, the objects the replay
really created on the copy (in the copy's own database), no failure, no token sent literally,
no typed password in a scenario file, and no request line that no person sent.

- Roundup (PyPI), an issue tracker nobody here wrote: one-time @csrf tokens, constant hidden
  inputs (@action, @sort, @template), Origin/Referer checks, the login form on its front page,
  absolute redirects (`Location: http://127.0.0.1:PORT/tracker/issue3?@ok_message=...`).
- Django's own admin on the notes site: redirects that carry the new object's id.
- The notes site with visitors who carry no cookie.

Harness trouble (a server that does not start, a browser step that fails, a recorder that
exits badly) raises at once. Everything about replay fidelity is measured in full and reported
together, in one assertion per test whose message lists every problem with its numbers.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browse import MIXED, Person, browse
from tests.dbutil import rows
from tests.fidelity import (
    access_log_lines,
    assert_no_secret_in,
    describe_lines,
    log_complaints,
    log_size,
    recorded_lines,
    sent_form_values,
    unrecorded_lines,
)
from tests.helpers import cli, start_notes_site, start_recorder

EDITORS_TITLE = "%'s list"  # tests.browse names each editor's issue or note "<user>'s list"
# What Roundup hands out per visit in its forms: the one-time CSRF token, and the issue's last
# activity. @lastactivity drives its edit-collision check: an edit that sends an @lastactivity
# older than the issue's and changes a property someone else changed since (the replay's `nosy`,
# see check_issues) gets "Edit Error: someone else has edited this issue", status 200, nothing saved.
ROUNDUP_ISSUED = ["@csrf", "@lastactivity"]
DATA_USERS = {"carol": "carol-pass-123", "dave": "dave-pass-123", "erin": "erin-pass-123"}


class Findings:
    """Fidelity checks collected in full, then asserted together with every number."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.facts: list[str] = []
        self.problems: list[str] = []

    def note(self, text: str) -> None:
        self.facts.append(text)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)

    def assert_all(self) -> None:
        report = "\n".join(f"  - {p}" for p in self.problems)
        facts = "\n".join(f"    {f}" for f in self.facts)
        print(f"{self.name}:\n{facts}")
        assert not self.problems, f"{self.name}: {len(self.problems)} fidelity problems:\n{report}\n  facts:\n{facts}"


def record(db: str, confdir: Path, name: str, site: str, people: list[Person], stagger: float = 0.15) -> float:
    """People browse `site` at once through a real recorder; returns the seconds it took."""
    started = time.monotonic()
    rec = start_recorder(db, name, confdir, "--allow", "127.0.0.1")
    try:
        browse(rec.port, site, people, stagger)
    finally:
        code, _, err = rec.stop()
    assert code == 0, f"recorder exited {code}: {err}"
    return time.monotonic() - started


def convert(db: str, recording: str, out: Path) -> tuple[dict, dict]:
    result = cli("convert", recording, "--db", db, "-o", str(out), "--json")
    assert result.returncode == 0, f"convert exited {result.returncode}: {result.stderr}"
    summary = json.loads(result.stdout)
    doc = json.loads(cli("scenario", summary["name"], "--json", "--db", db).stdout)
    return summary, doc


def users_csv(path: Path, users: dict[str, str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["username", "password"])
        w.writerows(users.items())
    return path


@dataclass
class Replay:
    summary: dict  # play --json
    run: dict  # replayswarm run ID --json
    extra: Counter  # scenario -> single replays outside the swarm (play's validation replay)

    def iterations(self, scenarios: set[str]) -> int:
        return sum(n for s, n in self.summary["iterations"].items() if s in scenarios)

    def replays(self, scenarios: set[str]) -> tuple[int, int]:
        """(iterations of these scenarios in the swarm, at most that plus their validation replays)."""
        n = self.iterations(scenarios)
        return n, n + sum(self.extra[s] for s in scenarios)


def play(f: Findings, db: str, doc: dict, host: str, data: Path, iterations: int) -> Replay:
    """The swarm of the brief: 3 users, `iterations` iterations, think times x0.05, users from
    `data`. play first replays each scenario once to validate it (those replays change the
    copy too, and are counted in `extra`); a scenario it refuses is a finding, and if it refuses
    them all the swarm is run again with --no-validate to measure the rest."""
    args = ["play", doc["name"], "--db", db, "--host", host, "--users", "3", "--iterations", str(iterations),
            "--think-scale", "0.05", "--data", str(data), "--json"]
    extra: Counter = Counter()
    result = cli(*args, timeout=170)
    if result.returncode != 0 and not result.stdout.strip() and "--no-validate" in result.stderr:
        refusal = " ".join(line for line in result.stderr.splitlines() if line.startswith("Error:"))
        f.check(False, f"play refused to swarm: {refusal or result.stderr.strip()}")
        f.note("the numbers below come from the same swarm with --no-validate")
        extra.update(s["name"] for s in doc["scenarios"])  # the refused run's validation replays
        result = cli(*args, "--no-validate", timeout=170)
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"play exited {result.returncode} without a summary:\n{result.stdout}\n{result.stderr}") from None
    run = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)
    for verdict in (run.get("config") or {}).get("validation") or []:
        extra[verdict["scenario"]] += 1
        f.check(verdict["passed"], f"play's validation replay of {verdict['scenario']!r} failed and it was not swarmed: "
                                   f"{verdict['divergence']} (suspect: {verdict.get('suspect')})")
    return Replay(summary, run, extra)


def editing(doc: dict) -> set[str]:
    """The names of the scenarios that post anything (the editors', not the visitors')."""
    return {s["name"] for s in doc["scenarios"] if any(st["name"].startswith("POST") for st in s["steps"])}


def check_conversion(f: Findings, db: str, recording: str, summary: dict, doc: dict, visits: int, weights: list[int], out: Path,
                     issued: list[str], passwords: list[str]) -> None:
    """Visits, scenarios and weights; no value the server issued per visit (`issued`: the form
    fields that carry them, such as CSRF tokens) written literally into the scenario file's
    requests, nor reported left literal; no typed password in the file."""
    found = sorted(s["weight"] for s in doc["scenarios"])
    f.note(f"convert: {summary['sessions']} visits -> {len(doc['scenarios'])} scenarios "
           f"{ {s['name']: s['weight'] for s in doc['scenarios']} }; correlations {summary.get('correlations')}; "
           f"{len(summary['literals'])} values reported left literal")
    f.check(summary["sessions"] == visits, f"convert found {summary['sessions']} visits, people made {visits}")
    f.check(found == sorted(weights), f"scenarios weighted {found}, expected {sorted(weights)}")
    token_literals = [item for item in summary["literals"] if "csrf" in item.lower() or any(k.lower() in item.lower() for k in issued)]
    f.check(not token_literals, f"convert reports {len(token_literals)} server-issued values left literal: {token_literals[:5]}")
    text = out.read_text()
    for field in issued:
        sent = sent_form_values(db, recording, [field])
        literal = sorted(v for v in sent if v in text)
        f.note(f"{len(sent)} distinct {field} values sent while recording; {len(literal)} written literally in {out.name}")
        f.check(not literal, f"{len(literal)} of the {len(sent)} {field} values people sent are written literally in the "
                             f"scenario file's requests (a replay sends them as they are): {literal[:2]}")
    try:
        assert_no_secret_in([out], passwords)
    except AssertionError as exc:
        f.check(False, str(exc))


def check_roles(f: Findings, doc: dict, visitor: list[str], editor: list[str], visitor_only: list[str]) -> None:
    """Each scenario holds what its kind of person did, and nothing of the other kind: a
    visitor's scenario has every page a visitor opened (`visitor`: regexes over `NAME URL` of
    its steps); an editor's has every post (`editor`) and none of the pages only visitors
    opened (`visitor_only`), which would mean visits were joined across people."""
    import re

    def lines(scenario: dict) -> list[str]:
        return [f"{st['name']} {st.get('url', '')}" for st in scenario["steps"]]

    editors = editing(doc)
    for scenario in doc["scenarios"]:
        have = lines(scenario)
        if scenario["name"] in editors:
            missing = [p for p in editor if not any(re.search(p, line) for line in have)]
            foreign = [line for line in have if any(re.search(p, line) for p in visitor_only)]
            f.check(not missing, f"editing scenario {scenario['name']!r} lacks {missing}")
            f.check(not foreign, f"editing scenario {scenario['name']!r} holds pages only visitors opened (visits joined "
                                 f"across people): {[line[:110] for line in foreign]}")
        else:
            missing = [p for p in visitor if not any(re.search(p, line) for line in have)]
            f.check(not missing, f"visitor scenario {scenario['name']!r} ({len(have)} steps) lacks pages every visitor "
                                 f"opened: {missing}")


def check_replay(f: Findings, replay: Replay, recorded: list[str], log: Path, start: int, per_run: list[str]) -> None:
    """Play's own numbers, and the fresh server's log from `start` on: the request lines it
    served, compared with the recording's, and what it complained about."""
    summary, run = replay.summary, replay.run
    replayed = access_log_lines(log, start)
    complaints = log_complaints(log, start)
    if complaints:
        f.note(f"the fresh server complained {sum(complaints.values())} times: "
               + "; ".join(f"{n}x {c}" for c, n in complaints.most_common(6)))
    errors: Counter = Counter()
    samples = {}
    for e in run["errors"]:
        errors[(e["endpoint"], e["kind"])] += e["count"]
        samples.setdefault((e["endpoint"], e["kind"]), e["sample"])
    by_kind = ", ".join(f"{n}x {endpoint}: {kind}" for (endpoint, kind), n in errors.most_common()) or "none"
    f.note(f"play: status {summary['status']}, {summary['requests']} requests, {summary['failures']} failures "
           f"({by_kind}), iterations {summary['iterations']}, validation replays {dict(replay.extra)}")
    f.check(summary["status"] == "completed", f"play ended {summary['status']}")
    f.check(summary["failures"] == 0, f"play reported {summary['failures']} failures: {by_kind}; samples: "
                                     + "; ".join(f"{k[0]} {str(v)[:160]!r}" for k, v in list(samples.items())[:4]))
    stray = unrecorded_lines(recorded, replayed, per_run)
    f.note(f"access log: {len(replayed)} replayed request lines, {len(stray)} that no person sent")
    f.check(not stray, "the replay sent request lines no person sent: " + describe_lines(stray))


def check_issues(f: Findings, created: list, replays: tuple[int, int], status: str, what: str) -> None:
    """Every replayed editing iteration left one issue with its 2 messages and the status set,
    created by one of the users --data named."""
    lo, hi = replays
    complete = [i for i in created if i.messages == 2 and i.status == status]
    f.note(f"fresh copy: {len(created)} issues for {lo} {what} (+{hi - lo} validation replays): "
           f"{dict(Counter((i.creator, i.status, i.messages) for i in created))}")
    f.check(lo > 0, f"no {what} ran")
    f.check(lo <= len(created) <= hi, f"{len(created)} issues created on the fresh tracker for {lo} {what}"
                                      + (f" (+{hi - lo} validation replays)" if hi > lo else ""))
    f.check(len(complete) == len(created), f"{len(created) - len(complete)} of {len(created)} issues lack their comment "
                                           f"(2 messages) or status {status!r}")
    strangers = sorted({i.creator for i in created} - set(DATA_USERS))
    f.check(not strangers, f"issues created as {strangers}, not as the users --data named ({sorted(DATA_USERS)})")
    # The issue form's `nosy` input comes filled in with the user's name: sent back as recorded,
    # the replay puts the recorded person on every issue it edits.
    foreign = sorted({n for i in created for n in i.nosy if n != i.creator})
    f.check(not foreign, f"the replay put {foreign} on the nosy lists of issues created by others "
                         f"({sum(1 for i in created if set(i.nosy) - {i.creator})} issues)")


# -- Roundup ---------------------------------------------------------------------------------


def test_roundup_two_people_at_once_replay_their_issues_on_a_fresh_tracker(db, confdir, tmp_path):
    from tests.browse_roundup import STATUS, editor, visitor
    from tests.sites.roundup_site import USERS, issues, start_tracker

    f = Findings("Roundup, 2 visitors + 2 editors at once")
    people = [Person(visitor), Person(editor, "alice"), Person(visitor), Person(editor, "bob")]
    with start_tracker(tmp_path / "recorded") as recorded_site:
        took = record(db, confdir, "roundup", recorded_site.url, people)
        made = issues(recorded_site)
    # The browsing itself worked: each editor's issue, with its comment and status.
    assert sorted((i.creator, i.status, i.messages) for i in made if i.title.endswith("'s list")) == [
        ("alice", STATUS, 2), ("bob", STATUS, 2)], made
    f.note(f"recorded in {took:.1f}s on port {recorded_site.port}")

    out = tmp_path / "roundup.yaml"
    summary, doc = convert(db, "roundup", out)
    check_conversion(f, db, "roundup", summary, doc, visits=4, weights=[2, 2], out=out, issued=ROUNDUP_ISSUED, passwords=list(USERS.values()))
    check_roles(f, doc, visitor=[r"^GET /tracker/ ", r"@dispname=Show%20All", r"(@|%40)sort0=title", r"^GET /tracker/issue(\{id\}|\d+) "],
                editor=[r"^POST /tracker/ ", r"^POST /tracker/issue ", r"^POST /tracker/issue(\{id\}|\d+) ", r"@action=logout"],
                visitor_only=[r"@dispname=Show%20All", r"(@|%40)sort0="])
    recorded = recorded_lines(db, "roundup")

    with start_tracker(tmp_path / "fresh", users={**USERS, **DATA_USERS}) as fresh:
        start = log_size(fresh.access_log)
        replay = play(f, db, doc, fresh.origin, users_csv(tmp_path / "users.csv", DATA_USERS), iterations=12)
        created = [i for i in issues(fresh) if i.title.endswith("'s list")]
        check_replay(f, replay, recorded, fresh.access_log, start, per_run=[*USERS, *DATA_USERS])
    check_issues(f, created, replay.replays(editing(doc)), STATUS, "editing iterations")
    f.assert_all()


def test_roundup_one_person_logging_in_from_the_front_page_replays_the_login(db, confdir, tmp_path):
    from tests.browse_roundup import STATUS, editor
    from tests.sites.roundup_site import USERS, issues, start_tracker

    f = Findings("Roundup, one person alone logs in from the front page")
    with start_tracker(tmp_path / "recorded") as recorded_site:
        record(db, confdir, "login", recorded_site.url, [Person(editor, "alice")])
    first = json.loads(rows(db, "SELECT request_headers FROM flows ORDER BY seq LIMIT 1")[0]["request_headers"])
    assert not any(k.lower() == "cookie" for k, _ in first), "the first page of the visit carried a cookie"

    out = tmp_path / "login.yaml"
    summary, doc = convert(db, "login", out)
    check_conversion(f, db, "login", summary, doc, visits=1, weights=[1], out=out, issued=ROUNDUP_ISSUED, passwords=list(USERS.values()))
    recorded = recorded_lines(db, "login")
    with start_tracker(tmp_path / "fresh", users={**USERS, **DATA_USERS}) as fresh:
        start = log_size(fresh.access_log)
        replay = play(f, db, doc, fresh.origin, users_csv(tmp_path / "users.csv", DATA_USERS), iterations=6)
        created = [i for i in issues(fresh) if i.title.endswith("'s list")]
        check_replay(f, replay, recorded, fresh.access_log, start, per_run=[*USERS, *DATA_USERS])
    check_issues(f, created, replay.replays(editing(doc)), STATUS, "replayed logins")
    f.assert_all()


# -- Django's admin on the notes site --------------------------------------------------------


def test_django_admin_add_change_delete_replay_on_a_fresh_site(db, confdir, tmp_path):
    from tests.browse_admin import CHANGED_BODY, KEPT, SCRATCH, admin
    from tests.sites.notes.__main__ import ADMIN_PASSWORD, ADMIN_USER

    f = Findings("Django admin: log in, add, change, delete")
    site = start_notes_site(tmp_path)
    try:
        record(db, confdir, "admin", site.url, [Person(admin)])
    finally:
        site.stop()
    out = tmp_path / "admin.yaml"
    summary, doc = convert(db, "admin", out)
    check_conversion(f, db, "admin", summary, doc, visits=1, weights=[1], out=out, issued=["csrfmiddlewaretoken"], passwords=[ADMIN_PASSWORD])
    recorded = recorded_lines(db, "admin")

    fresh = start_notes_site(tmp_path)
    log = tmp_path / f"notes-{fresh.port}.log"
    try:
        start = log_size(log)
        replay = play(f, db, doc, fresh.url, users_csv(tmp_path / "users.csv", {ADMIN_USER: ADMIN_PASSWORD}), iterations=6)
    finally:
        fresh.stop()
    check_replay(f, replay, recorded, log, start, per_run=[])
    site_db = f"sqlite:///{fresh.db}"
    lo, hi = replay.replays({s["name"] for s in doc["scenarios"]})
    kept = rows(site_db, "SELECT body FROM notes_note WHERE title = :t", t=KEPT)
    changed = sum(k["body"] == CHANGED_BODY for k in kept)
    scratch = rows(site_db, "SELECT id FROM notes_note WHERE title = :t", t=SCRATCH)
    actions = Counter({1: 0, 2: 0, 3: 0})
    actions.update({r["action_flag"]: r["n"] for r in rows(site_db, "SELECT action_flag, count(*) AS n FROM django_admin_log GROUP BY action_flag")})
    f.note(f"fresh copy after {lo} iterations (+{hi - lo} validation replays): {len(kept)} notes {KEPT!r} ({changed} changed), "
           f"{len(scratch)} {SCRATCH!r} left; admin log: {actions[1]} added, {actions[2]} changed, {actions[3]} deleted")
    f.check(lo <= len(kept) <= hi and changed == len(kept),
            f"{len(kept)} notes {KEPT!r} ({changed} changed) for {lo} iterations" + (f" (+{hi - lo} validation replays)" if hi > lo else ""))
    f.check(not scratch, f"{len(scratch)} notes {SCRATCH!r} left undeleted")
    f.check((actions[1], actions[2], actions[3]) == (2 * len(kept), len(kept), len(kept)),
            f"admin log has {actions[1]} adds, {actions[2]} changes, {actions[3]} deletes for {len(kept)} replayed visits "
            f"(each adds 2 notes, changes 1, deletes 1)")
    f.assert_all()


# -- the notes site, visitors without cookies ------------------------------------------------


@pytest.mark.alone  # browsers loading pages in one moment are told apart by timing: a busy machine blurs them
def test_notes_visitors_without_cookies_are_five_visits_in_two_scenarios(db, confdir, tmp_path):
    from tests.browse import USERS

    f = Findings("notes site, --anonymous-visitors, 3 visitors + 2 editors at once")
    site = start_notes_site(tmp_path, anonymous_visitors=True)
    try:
        # Their visits overlap throughout; their first page loads do not all land in the same
        # instant: pages loaded by several anonymous browsers in one moment are told apart by
        # what each fetched, which a stalled machine can blur (convert counts those as uncertain).
        record(db, confdir, "anonymous", site.url, MIXED, stagger=0.5)
    finally:
        site.stop()
    homes = [json.loads(r["response_headers"]) for r in rows(db, "SELECT response_headers FROM flows WHERE path = '/'")]
    assert homes and not any(k.lower() == "set-cookie" for h in homes for k, _ in h), \
        "the home page set a cookie although the site runs with --anonymous-visitors"

    out = tmp_path / "anonymous.yaml"
    summary, doc = convert(db, "anonymous", out)
    check_conversion(f, db, "anonymous", summary, doc, visits=5, weights=[3, 2], out=out, issued=["csrfmiddlewaretoken"],
                     passwords=list(USERS.values()))
    check_roles(f, doc, visitor=[r"^GET / ", r"^GET /notes/ ", r"^GET /notes/(\{id\}|\d+)/ "],
                editor=[r"^POST /accounts/login/ ", r"^POST /notes/new/ ", r"^POST /notes/(\{id\}|\d+)/edit/ ", r"^POST /accounts/logout/ "],
                visitor_only=[r"^GET /notes/ "])
    recorded = recorded_lines(db, "anonymous")

    fresh = start_notes_site(tmp_path, anonymous_visitors=True)
    log = tmp_path / f"notes-{fresh.port}.log"
    try:
        start = log_size(log)
        replay = play(f, db, doc, fresh.url, users_csv(tmp_path / "users.csv", USERS), iterations=10)
    finally:
        fresh.stop()
    check_replay(f, replay, recorded, log, start, per_run=list(USERS))
    lo, hi = replay.replays(editing(doc))
    [made] = rows(f"sqlite:///{fresh.db}", "SELECT count(*) AS n, coalesce(sum(edited IS NOT NULL), 0) AS edited "
                  "FROM notes_note WHERE title LIKE :t", t=EDITORS_TITLE)
    f.note(f"fresh copy: {made['n']} notes created, {made['edited']} edited, for {lo} editing iterations (+{hi - lo} validation replays)")
    f.check(lo <= made["n"] <= hi and made["edited"] == made["n"],
            f"{made['n']} notes created and {made['edited']} edited for {lo} editing iterations"
            + (f" (+{hi - lo} validation replays)" if hi > lo else ""))
    f.assert_all()
