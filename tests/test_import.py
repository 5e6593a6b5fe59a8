"""`replayswarm import`: mitmproxy dumps and HAR files, and every kind of bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.dbutil import BOTH, flows, rows
from tests.helpers import cli, free_port, wait_for_port
from tests.test_record_browser import essence
from tests.test_record_proxy import login_and_create


def test_a_mitmdump_file_imports_to_the_same_rows_as_the_proxy_recorded(site, db, recorder_factory, tmp_path):
    # client -> mitmdump (writes the dump) -> replayswarm record -> site: both see the same visit.
    rec = recorder_factory("proxied")
    dump = tmp_path / "visit.mitm"
    port = free_port()
    mitmdump = subprocess.Popen(
        [str(Path(sys.executable).parent / "mitmdump"), "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--mode", f"upstream:{rec.proxy}", "-w", str(dump), "-q", "--set", f"confdir={tmp_path / 'mitmdump'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_port(port, mitmdump)
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"http": f"http://127.0.0.1:{port}"}
        location = login_and_create(s, site.url)
        assert s.get(f"{site.url}{location}").status_code == 200
    finally:
        mitmdump.send_signal(signal.SIGTERM)
        mitmdump.wait(30)
    assert rec.stop()[0] == 0

    result = cli("import", str(dump), "--name", "dumped", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "Imported 5 flows from 1 file(s) as 'dumped' (source mitmproxy)" in result.stdout
    assert list(map(essence, flows(db, "dumped"))) == list(map(essence, flows(db, "proxied")))
    assert rows(db, "SELECT source FROM recordings WHERE name = 'dumped'") == [{"source": "mitmproxy"}]


def minimal_har() -> dict:
    entry = {
        "startedDateTime": "2026-11-24T10:00:00.000Z",
        "time": 12.5,
        "request": {"method": "POST", "url": "http://127.0.0.1:8000/api/notes/?a=1", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                    "postData": {"mimeType": "application/json", "text": '{"title": "x"}'}},
        "response": {"status": 201, "statusText": "Created", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json"}],
                     "content": {"size": 11, "mimeType": "application/json", "text": '{"id": 42}\n'}},
    }
    failed = {**entry, "startedDateTime": "2026-11-24T10:00:01.000Z",
              "request": {**entry["request"], "method": "GET", "url": "http://127.0.0.1:8000/gone"},
              "response": {"status": 0, "statusText": "", "headers": [], "content": {"size": 0}, "_error": "net::ERR_CONNECTION_REFUSED"}}
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [entry, failed]}}


@BOTH
def test_a_har_file_becomes_a_recording(db, tmp_path):
    har = tmp_path / "small.har"
    har.write_text(json.dumps(minimal_har()))
    result = cli("import", str(har), "--name", "small", "--db", db)
    assert result.returncode == 0, result.stderr
    ok, failed = flows(db, "small")
    assert (ok["method"], ok["path"], ok["query"], ok["status"], ok["port"]) == ("POST", "/api/notes/", "a=1", 201, 8000)
    assert ok["request_body"] == '{"title": "x"}' and ok["response_body"] == '{"id": 42}\n'
    assert ok["ended"] - ok["started"] == pytest.approx(0.0125, abs=1e-6)
    assert failed["status"] is None and failed["error"] == "net::ERR_CONNECTION_REFUSED"


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = json.dumps(minimal_har())
    files = {
        "truncated HAR": ("cut.har", good[: len(good) // 2], "not valid JSON"),
        "JSON that is not HAR": ("other.json", '{"hello": "world"}', "not a HAR file"),
        "HAR entry without URL": ("nourl.har", json.dumps({"log": {"entries": [{"request": {}, "response": {}}]}}), "entry 1 is not a valid HAR entry"),
        "unknown format": ("notes.txt", "just some text\n", "unknown format"),
        "binary": ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00", "unknown format"),
        "empty": ("empty.har", "", "empty file"),
    }
    made = {}
    for label, (name, content, message) in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        made[label] = (path, message)
    made["missing file"] = (tmp_path / "nope.har", "cannot read")
    return made


@BOTH
def test_bad_input_is_a_one_line_error_and_leaves_the_database_unchanged(db, tmp_path):
    good = tmp_path / "good.har"
    good.write_text(json.dumps(minimal_har()))
    assert cli("import", str(good), "--name", "existing", "--db", db).returncode == 0
    before = rows(db, "SELECT * FROM recordings"), rows(db, "SELECT count(*) AS n FROM flows")

    for label, (path, message) in bad_inputs(tmp_path).items():
        # A good file beside the bad one must not be half-imported either.
        result = cli("import", str(good), str(path), "--name", f"new-{path.stem}", "--db", db)
        assert result.returncode == 2, label
        assert result.stderr.count("\n") == 1, f"{label}: {result.stderr!r}"
        assert result.stderr.startswith(f"Error: {path}: ") and message in result.stderr, f"{label}: {result.stderr}"
    taken = cli("import", str(good), "--name", "existing", "--db", db)
    assert (taken.returncode, taken.stderr) == (2, "Error: a recording named 'existing' already exists\n")
    assert (rows(db, "SELECT * FROM recordings"), rows(db, "SELECT count(*) AS n FROM flows")) == before


def test_a_truncated_mitmproxy_dump_is_refused(db, tmp_path):
    from mitmproxy import io
    from mitmproxy.test import tflow

    dump = tmp_path / "whole.mitm"
    with open(dump, "wb") as f:
        writer = io.FlowWriter(f)
        for _ in range(3):
            writer.add(tflow.tflow(resp=True))
    whole = cli("import", str(dump), "--name", "whole", "--db", db)
    assert whole.returncode == 0 and "Imported 3 flows" in whole.stdout
    cut = tmp_path / "cut.mitm"
    cut.write_bytes(dump.read_bytes()[:-40])
    result = cli("import", str(cut), "--name", "cut", "--db", db)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: {cut}: not a readable mitmproxy dump") and result.stderr.count("\n") == 1
    assert [r["name"] for r in rows(db, "SELECT name FROM recordings")] == ["whole"]


def test_websockets_and_event_streams_are_known_by_their_shape_and_left_out_with_a_line(db, tmp_path):
    page = minimal_har()["log"]["entries"][0]

    def entry(url: str, status: int, headers: list[dict], mime: str, **extra: object) -> dict:
        return {**page, "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": headers},
                "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                             "headers": [{"name": "Content-Type", "value": mime}], "content": {"size": 0, "mimeType": mime}}, **extra}

    upgrade = [{"name": "Upgrade", "value": "websocket"}, {"name": "Connection", "value": "Upgrade"}]
    har = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        page,
        entry("http://127.0.0.1:8000/firefox-ws", 101, upgrade, "x-unknown"),  # Firefox: an Upgrade answered 101
        entry("http://127.0.0.1:8000/chrome-ws", 101, [], "x-unknown", _webSocketMessages=[{"type": "send", "data": "hi"}]),
        entry("http://127.0.0.1:8000/events", 200, [], "text/event-stream"),
    ]}}
    path = tmp_path / "ws.har"
    path.write_text(json.dumps(har))
    assert cli("import", str(path), "--name", "ws", "--db", db).returncode == 0
    summary = json.loads(cli("convert", "ws", "--db", db, "--json").stdout)
    assert summary["excluded"] == {"not replayable (WebSocket, event stream)": 3}
    assert summary["page_steps"] == 1
