"""The field cases in shared/cases/ (see its README), done as a user does them: the case's server
as a real process, then `replayswarm import`, `convert` and `play` as real processes, and what the
server received or judged is what the README says is right."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.dbutil import flows
from tests.helpers import cli, free_port, wait_for_port

# CI runs a fresh clone in another folder, with a copy of shared/ beside it.
CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
HAR_CASES = ("har-postdata-base64.har", "har-postdata-params-only.har", "har-nonascii-path.har")
SERVER_CASES = ("cookie-same-name-two-paths", "cookie-quoted-value")


def case(name: str) -> Path:
    path = CASES / name
    # A missing folder must fail, not skip: a skipped case is a case nobody runs.
    assert path.exists(), f"field case {path} is missing (shared/cases/ must sit beside the repository)"
    return path


def test_every_case_in_the_folder_has_a_test():
    listed = {p.name for p in case("").iterdir() if p.suffix == ".har" or (p / "server.py").is_file()}
    assert listed == {*HAR_CASES, *SERVER_CASES}


@contextmanager
def serving(script: Path, *args: str, output: Path) -> Iterator[int]:
    """The case's server on a free loopback port, its output in `output`; stopped however the test ends."""
    port = free_port()
    with open(output, "w") as out:
        process = subprocess.Popen([sys.executable, str(script), str(port), *args], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def replay(db: str, har: Path, name: str, port: int) -> dict[str, Any]:
    """Import, convert and play as a user would; play's JSON summary."""
    imported = cli("import", str(har), "--name", name, "--db", db)
    assert imported.returncode == 0, imported.stderr
    converted = cli("convert", name, "--db", db)
    assert converted.returncode == 0, converted.stderr
    played = cli("play", name, "--db", db, "--host", f"http://127.0.0.1:{port}",
                 "--users", "2", "--iterations", "4", "--think-scale", "0", "--json", timeout=180)
    assert played.returncode == 0, f"{played.stdout}\n{played.stderr}"
    return json.loads(played.stdout)


def echo_replay(db: str, har: Path, tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`har` replayed against the echo server; play's summary and every request the server got."""
    log = tmp_path / f"{har.stem}.jsonl"
    log.touch()
    with serving(case("echo_server.py"), str(log), output=tmp_path / "echo.out") as port:
        summary = replay(db, har, har.stem, port)
    received = [json.loads(line) for line in log.read_text().splitlines()]
    assert summary["failures"] == 0 and summary["requests"] == 8, summary  # 4 iterations of 2 steps
    # Play may send more than its swarm did (a validation pass first): every request counts.
    assert len(received) >= summary["requests"]
    assert not any(r["request_line_hex_nonascii"] for r in received)
    return summary, received


def lines_and_bodies(received: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The distinct (request line, body) pairs the server got; each at least once per iteration."""
    counts = Counter((r["request_line"], r["body"]) for r in received)
    assert min(counts.values()) >= 4, counts
    return set(counts)


# -- HAR cases -----------------------------------------------------------------------------------

def test_har_postdata_base64_reaches_the_server_decoded(db, tmp_path):
    _, received = echo_replay(db, case("har-postdata-base64.har"), tmp_path)
    assert lines_and_bodies(received) == {
        ("GET /form HTTP/1.1", ""),
        ("POST /submit HTTP/1.1", "param1=value1&param2=value2"),
    }


def test_har_postdata_params_only_reaches_the_server_as_a_form(db, tmp_path):
    _, received = echo_replay(db, case("har-postdata-params-only.har"), tmp_path)
    assert lines_and_bodies(received) == {
        ("GET /form HTTP/1.1", ""),
        ("POST /submit HTTP/1.1", "a=1&b=two+words"),
    }


def test_har_nonascii_path_is_sent_percent_encoded_as_a_browser_sends_it(db, tmp_path):
    _, received = echo_replay(db, case("har-nonascii-path.har"), tmp_path)
    assert lines_and_bodies(received) == {
        ("GET /caf%C3%A9?q=cr%C3%A8me HTTP/1.1", ""),
        ("GET /caf%C3%A9/%D0%97%D0%B0%D0%B3?q=%C3%BCber HTTP/1.1", ""),
    }


# -- servers with a recorded visit ---------------------------------------------------------------

def judged_replay(db: str, name: str, tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    """The case's visit played against its server; play's summary and the server's verdicts."""
    output = tmp_path / f"{name}.out"
    with serving(case(name) / "server.py", output=output) as port:
        summary = replay(db, case(name) / "visit.har", name, port)
    return summary, output.read_text().splitlines()


def test_cookie_same_name_two_paths_each_application_gets_its_own_session(db, tmp_path):
    summary, verdicts = judged_replay(db, "cookie-same-name-two-paths", tmp_path)
    assert summary["failures"] == 0 and summary["requests"] == 16, summary
    assert not [v for v in verdicts if v.startswith("BAD")], verdicts
    assert set(verdicts) == {"GOOD app1 account", "GOOD app2 account"}
    assert min(Counter(verdicts).values()) >= 4  # every iteration reached both accounts


def test_cookie_quoted_value_comes_back_exactly_as_set(db, tmp_path):
    summary, verdicts = judged_replay(db, "cookie-quoted-value", tmp_path)
    assert summary["failures"] == 0 and summary["requests"] == 8, summary
    assert not [v for v in verdicts if v.startswith("BAD")], verdicts
    assert set(verdicts) == {"GOOD account"} and len(verdicts) >= 4


# -- the same kinds of fault, beyond the files in the folder --------------------------------------

def quirky_har() -> dict[str, Any]:
    """The params-only case's form page and POST, reshaped as other HAR writers write them."""
    doc = json.loads(case("har-postdata-params-only.har").read_text())
    page, post = doc["log"]["entries"]
    entries: list[dict[str, Any]] = []

    def add(base: dict[str, Any], url: str, **changes: Any) -> dict[str, Any]:
        entry = json.loads(json.dumps(base))
        entry["startedDateTime"] = f"2026-11-30T10:00:{3 * len(entries):02d}.000Z"
        entry["request"]["url"] = url
        for key, value in changes.items():
            where, _, field = key.rpartition("__")
            target = entry
            for step in where.split("__") if where else []:
                target = target[step]
            if value is None:
                target.pop(field, None)
            else:
                target[field] = value
        entries.append(entry)
        return entry

    # No `time` measured and no `timings`; a header without a value; no response content.
    add(page, "http://shop.test/a%20b/caf%C3%A9/100%/x y?k=%41&q=é d", time=-1, timings=None,
        request__headers=[*page["request"]["headers"], {"name": "X-Empty", "value": None}], response__content=None)
    # Only `timings`, some unknown (-1).
    add(page, "http://shop.test/only-timings", time=None, timings={"blocked": -1, "send": 1, "wait": 10, "receive": 2})
    multipart = [{"name": "title", "value": "crème"}, {"name": "note", "value": "two words"},
                 {"name": "file", "fileName": 'a"b.txt', "contentType": "text/plain", "value": "hello"}]
    # Multipart params, the boundary in mimeType only.
    add(post, "http://shop.test/upload", request__postData={"mimeType": "multipart/form-data; boundary=XyZ", "params": multipart},
        request__headers=[h for h in post["request"]["headers"] if h["name"] != "Content-Type"]
        + [{"name": "Content-Type", "value": "multipart/form-data; boundary=XyZ"}])
    # Multipart params and no boundary recorded anywhere: one is made, header and body agree.
    add(post, "http://shop.test/upload-nb", request__postData={"mimeType": "multipart/form-data", "params": multipart},
        request__headers=[h for h in post["request"]["headers"] if h["name"] != "Content-Type"]
        + [{"name": "Content-Type", "value": "multipart/form-data"}])
    # Base64 wrapped in lines, as some writers store it.
    add(post, "http://shop.test/b64", request__postData={
        "mimeType": "application/x-www-form-urlencoded", "encoding": "base64", "text": "cGFyYW0xPXZh\nbHVlMQ=="})
    return {"log": {**doc["log"], "entries": entries}}


def test_har_quirks_of_every_kind_import_and_replay_as_the_browser_sent_them(db, tmp_path):
    har = tmp_path / "quirks.har"
    har.write_text(json.dumps(quirky_har()))
    log = tmp_path / "quirks.jsonl"
    log.touch()
    with serving(case("echo_server.py"), str(log), output=tmp_path / "echo.out") as port:
        summary = replay(db, har, "quirks", port)
    stored = flows(db, "quirks")
    # Durations from `timings` where `time` is unknown; none at all where nothing is.
    assert stored[0]["ended"] is None
    assert stored[1]["ended"] - stored[1]["started"] == pytest.approx(0.013)
    received = [json.loads(line) for line in log.read_text().splitlines()]
    assert summary["failures"] == 0 and summary["requests"] == 20 and len(received) >= 20, summary
    by_line = {r["request_line"].split(" ")[1]: r for r in received}
    # Decoded characters encoded as UTF-8; "%41", "%20" and a bare "%" left as they were.
    assert "/a%20b/caf%C3%A9/100%/x%20y?k=%41&q=%C3%A9%20d" in by_line
    assert "X-Empty: " in by_line["/a%20b/caf%C3%A9/100%/x%20y?k=%41&q=%C3%A9%20d"]["headers"]
    assert by_line["/b64"]["body"] == "param1=value1"
    for path in ("/upload", "/upload-nb"):
        request = by_line[path]
        [content_type] = [h.split(":", 1)[1].strip() for h in request["headers"] if h.lower().startswith("content-type:")]
        boundary = content_type.split("boundary=", 1)[1]
        body = request["body"].encode("latin-1").decode("utf-8")
        assert body == (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\ncrème\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\ntwo words\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a%22b.txt"\r\n'
            f'Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n'
        ), path
    assert by_line["/upload"]["headers"].count("Content-Type: multipart/form-data; boundary=XyZ") == 1


def test_an_undecodable_base64_body_is_refused_naming_the_entry(db, tmp_path):
    doc = json.loads(case("har-postdata-base64.har").read_text())
    doc["log"]["entries"][1]["request"]["postData"]["text"] = "not base64 at all!"
    har = tmp_path / "bad.har"
    har.write_text(json.dumps(doc))
    result = cli("import", str(har), "--name", "bad", "--db", db)
    assert result.returncode == 2
    assert result.stderr == f"Error: {har}: entry 2 is not a valid HAR entry (request postData is not valid base64)\n"
