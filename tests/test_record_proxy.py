"""`replayswarm record` as a real process, a real HTTP client through it, the real notes site."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import sqlite3
import threading
import time

import requests

from tests.dbutil import BOTH, as_json, flows, rows
from tests.faults import FaultServer, body_bytes
from tests.helpers import cli, free_port
from tests.websocket import EchoWebSocketServer, websocket_roundtrip


def session_through(proxy: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxy or CA bundle from the environment
    s.proxies = {"http": proxy, "https": proxy}
    return s


def csrf_from(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def login_and_create(s: requests.Session, url: str) -> str:
    page = s.get(f"{url}/accounts/login/")
    r = s.post(
        f"{url}/accounts/login/",
        data={"csrfmiddlewaretoken": csrf_from(page.text), "username": "alice", "password": "alice-pass-123", "next": ""},
        headers={"Referer": f"{url}/accounts/login/"},
        allow_redirects=False,
    )
    assert r.status_code == 302, r.text
    form = s.get(f"{url}/notes/new/")
    r = s.post(
        f"{url}/notes/new/",
        data={"csrfmiddlewaretoken": csrf_from(form.text), "title": "Recorded note", "body": "hello", "public": "on"},
        headers={"Referer": f"{url}/notes/new/"},
        allow_redirects=False,
    )
    assert r.status_code == 302
    return r.headers["Location"]


@BOTH
def test_every_flow_of_a_login_session_is_stored_whole(site, db, recorder_factory):
    rec = recorder_factory("login")
    s = session_through(rec.proxy)
    location = login_and_create(s, site.url)
    s.get(f"{site.url}{location}")
    s.get(f"{site.url}/api/notes/?page=1")
    code, out, err = rec.stop(signal.SIGINT)
    assert code == 0, err
    assert "Recorded 6 flows from 1 host(s) (127.0.0.1)" in out

    stored = flows(db, "login")
    assert [(f["method"], f["path"], f["status"]) for f in stored] == [
        ("GET", "/accounts/login/", 200),
        ("POST", "/accounts/login/", 302),
        ("GET", "/notes/new/", 200),
        ("POST", "/notes/new/", 302),
        ("GET", location, 200),
        ("GET", "/api/notes/", 200),
    ]
    login_post = next(f for f in stored if f["method"] == "POST" and f["path"] == "/accounts/login/")
    assert "password=alice-pass-123" in login_post["request_body"]
    assert login_post["request_size"] == len(login_post["request_body"])
    assert any(k.lower() == "set-cookie" and v.startswith("sessionid=") for k, v in as_json(login_post["response_headers"]))
    api = next(f for f in stored if f["path"] == "/api/notes/")
    assert api["query"] == "page=1"
    assert api["content_type"] == "application/json"
    assert json.loads(api["response_body"])["count"] >= 1
    for f in stored:
        assert f["scheme"] == "http" and f["host"] == "127.0.0.1" and f["port"] == site.port
        assert f["client_addr"].startswith("127.0.0.1:")
        assert f["ended"] >= f["started"] > 0
        assert f["response_hash"] is None or len(f["response_hash"]) == 64
        assert f["kind"] == "http" and f["replayable"] and f["error"] is None
    # one keep-alive connection carried the whole session
    assert len({f["client"] for f in stored}) == 1


def test_failed_flows_are_stored_with_their_error(db, recorder_factory):
    faults = FaultServer()
    closed_port = free_port()
    rec = recorder_factory("faults")
    s = session_through(rec.proxy)
    try:
        assert s.get(f"{faults.url}/ok").text == "ok"
        assert s.get(f"http://127.0.0.1:{closed_port}/refused").status_code == 502
        assert s.get(f"{faults.url}/reset").status_code == 502
        try:
            s.get(f"{faults.url}/cut", timeout=10)
        except requests.RequestException:
            pass
        try:
            s.get(f"{faults.url}/hang", timeout=1)
        except requests.Timeout:
            pass
        code, _, err = rec.stop()
    finally:
        faults.close()
    assert code == 0, err
    by_path = {f["path"]: f for f in flows(db, "faults")}
    assert by_path["/ok"]["status"] == 200 and by_path["/ok"]["error"] is None
    assert "refused" in by_path["/refused"]["error"].lower() or "connect" in by_path["/refused"]["error"].lower()
    assert by_path["/refused"]["status"] is None
    assert by_path["/reset"]["error"] and by_path["/reset"]["status"] is None
    assert by_path["/cut"]["error"], "a response cut mid-body is an error, not a success"
    assert by_path["/hang"]["error"], "a request the client gave up on is stored with why"
    assert set(by_path) == {"/ok", "/refused", "/reset", "/cut", "/hang"}


def vm_hwm_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@BOTH
def test_large_bodies_stream_through_and_keep_only_size_and_hash(db, recorder_factory):
    faults = FaultServer()
    rec = recorder_factory("large", "--body-cap", "65536")
    s = session_through(rec.proxy)
    size = 96 * 1024 * 1024
    try:
        s.get(f"{faults.url}/ok")
        before = vm_hwm_kib(rec.process.pid)
        for path in ("/bytes", "/chunked"):
            with s.get(f"{faults.url}{path}?n={size}", stream=True) as r:
                digest = hashlib.sha256()
                received = 0
                for piece in r.iter_content(1 << 20):
                    digest.update(piece)
                    received += len(piece)
            assert received == size
        growth_mib = (vm_hwm_kib(rec.process.pid) - before) / 1024
        small = s.get(f"{faults.url}/bytes?n=1000")
        code, _, err = rec.stop()
    finally:
        faults.close()
    assert code == 0, err
    stored = {(f["path"], f["response_size"]): f for f in flows(db, "large")}
    expected = hashlib.sha256(body_bytes(size)).hexdigest()
    for path in ("/bytes", "/chunked"):
        big = stored[(path, size)]
        assert big["response_body"] is None and big["response_hash"] == expected
    assert stored[("/bytes", 1000)]["response_body"] == small.text
    # 192 MiB passed through; a recorder that buffered bodies would have grown by at least 96 MiB.
    assert growth_mib < 48, f"recorder peak memory grew {growth_mib:.0f} MiB"


def test_websocket_flows_are_stored_and_marked_not_replayable(db, recorder_factory):
    server = EchoWebSocketServer()
    rec = recorder_factory("ws")
    try:
        replies = websocket_roundtrip(rec.port, server.port, ["hello", "world"])
        code, _, err = rec.stop()
    finally:
        server.close()
    assert replies == ["hello", "world"]
    assert code == 0, err
    [flow] = flows(db, "ws")
    assert flow["kind"] == "websocket" and not flow["replayable"]
    assert flow["status"] == 101 and flow["path"] == "/socket"


def test_only_allowed_hosts_are_recorded(site, db, recorder_factory):
    rec = recorder_factory("allowed", "--allow", "localhost")
    s = session_through(rec.proxy)
    assert s.get(f"http://localhost:{site.port}/notes/").status_code == 200
    assert s.get(f"http://127.0.0.1:{site.port}/").status_code == 200  # passes through
    code, out, err = rec.stop()
    assert code == 0, err
    assert [(f["host"], f["path"]) for f in flows(db, "allowed")] == [("localhost", "/notes/")]
    assert rows(db, "SELECT allowed_hosts FROM recordings")[0]["allowed_hosts"] == '["localhost"]'


def test_refuses_to_proxy_to_the_ui_port(site, db, recorder_factory):
    rec = recorder_factory("ui", "--ui-port", str(site.port))
    r = session_through(rec.proxy).get(f"{site.url}/")
    assert r.status_code == 403 and "refuses" in r.text
    rec.stop()
    assert flows(db, "ui") == []


def test_refuses_clients_that_are_not_on_loopback():
    from mitmproxy import connection

    from replayswarm.record.addon import Recorder, RecorderOptions

    recorder = Recorder(RecorderOptions(), put=lambda row: None, shutdown=lambda: None)
    remote = connection.Client(peername=("192.0.2.7", 40000), sockname=("127.0.0.1", 8080), timestamp_start=0)
    local = connection.Client(peername=("::ffff:127.0.0.1", 40001), sockname=("127.0.0.1", 8080), timestamp_start=0)
    recorder.client_connected(remote)
    recorder.client_connected(local)
    assert remote.error and "192.0.2.7" in remote.error
    assert local.error is None
    trusting = Recorder(RecorderOptions(allow_remote_clients=True), put=lambda row: None, shutdown=lambda: None)
    remote2 = connection.Client(peername=("192.0.2.7", 40002), sockname=("127.0.0.1", 8080), timestamp_start=0)
    trusting.client_connected(remote2)
    assert remote2.error is None


@BOTH
def test_sigterm_mid_recording_loses_no_finished_flow(site, db, recorder_factory):
    rec = recorder_factory("busy")
    done: list[float] = []
    stop = threading.Event()

    def browse() -> None:
        s = session_through(rec.proxy)
        while not stop.is_set():
            try:
                if s.get(f"{site.url}/notes/", timeout=5).status_code == 200:
                    done.append(time.time())
            except requests.RequestException:
                return

    threads = [threading.Thread(target=browse) for _ in range(4)]
    for t in threads:
        t.start()
    while len(done) < 150:
        time.sleep(0.01)
    signalled = time.time()
    code, out, err = rec.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join()
    assert code == 0, err
    finished_before_stop = sum(1 for t in done if t < signalled)
    stored = flows(db, "busy")
    assert len(stored) >= finished_before_stop >= 150
    assert all(f["status"] == 200 for f in stored)
    assert [f["seq"] for f in stored] == sorted({f["seq"] for f in stored})
    assert f"Recorded {len(stored)} flows" in out


def test_kill_9_mid_recording_leaves_a_database_that_opens_with_every_stored_flow_whole(db, recorder_factory, tmp_path):
    faults = FaultServer()
    rec = recorder_factory("killed")
    stop = threading.Event()

    def browse(n: int) -> None:
        s = session_through(rec.proxy)
        while not stop.is_set():
            try:
                s.get(f"{faults.url}/bytes?n={n}", timeout=5)
            except requests.RequestException:
                return

    threads = [threading.Thread(target=browse, args=(n,)) for n in (2_000, 300_000, 5_000_000)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while len(flows(db, "killed")) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        rec.process.kill()  # kill -9: no handler runs, mid-write as likely as not
        rec.process.wait()
    finally:
        stop.set()
        for t in threads:
            t.join()
        faults.close()
    path = str(tmp_path / "replayswarm.db")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    listed = json.loads(cli("recordings", "--json", "--db", db).stdout)
    assert [r["name"] for r in listed] == ["killed"] and listed[0]["ended"] is None and listed[0]["flows"] >= 50
    for flow in rows(db, "SELECT response_size, length(response_body) AS kept, response_hash FROM flows"):
        # Whole: a stored body is the whole body (under the cap), a larger one its size and hash.
        assert flow["response_size"] in (2_000, 300_000, 5_000_000)
        assert flow["kept"] == flow["response_size"] or flow["response_size"] > 1 << 20 and flow["response_hash"]


def test_recorder_stops_loudly_when_the_database_cannot_be_written(site, db, recorder_factory, tmp_path):
    rec = recorder_factory("locked")
    s = session_through(rec.proxy)
    assert s.get(f"{site.url}/").status_code == 200
    deadline = time.monotonic() + 10
    while not flows(db, "locked") and time.monotonic() < deadline:
        time.sleep(0.05)
    # A database that no wait cures: the table the flows go to is gone.
    breaker = sqlite3.connect(str(tmp_path / "replayswarm.db"), isolation_level=None)
    breaker.execute("ALTER TABLE flows RENAME TO flows_gone")
    breaker.close()
    s.get(f"{site.url}/notes/")
    rec.process.wait(30)
    code, out, err = rec.stop()
    assert code == 1
    assert "cannot write to the database" in err
    assert err.strip().splitlines()[-1].startswith("Error: cannot write to the database, recording stopped after 1 flows (1 more could not be stored)")
    # Nothing passes unrecorded afterwards: the proxy is gone.
    try:
        s.get(f"{site.url}/", timeout=2)
        raise AssertionError("proxy still forwarding after the recorder failed")
    except requests.ConnectionError:
        pass


def test_a_database_locked_by_another_process_holds_flows_until_it_answers(site, db, recorder_factory, tmp_path):
    from tests.test_play_limits import hold_write_lock

    rec = recorder_factory("stalled")
    s = session_through(rec.proxy)
    assert s.get(f"{site.url}/").status_code == 200
    locker = hold_write_lock(str(tmp_path / "replayswarm.db"), 8)  # past the busy timeout (5 s)
    passed = 1
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:  # the browser is not held up by the database
        assert s.get(f"{site.url}/notes/", timeout=5).status_code == 200
        passed += 1
    locker.wait(30)
    code, out, err = rec.stop()
    assert code == 0, err
    assert "Warning: the database is busy" in err
    assert len(flows(db, "stalled")) == passed > 20 and f"Recorded {passed} flows" in out


def test_a_taken_name_or_a_busy_port_is_a_one_line_error(db, confdir, recorder_factory):
    rec = recorder_factory("taken")
    again = cli("record", "--name", "taken", "--db", db, "--listen-port", str(free_port()), "--confdir", str(confdir))
    assert again.returncode == 2
    assert again.stderr.strip() == "Error: a recording named 'taken' already exists"
    busy = cli("record", "--name", "other", "--db", db, "--listen-port", str(rec.port), "--confdir", str(confdir))
    assert busy.returncode == 2
    assert busy.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{rec.port}: already in use"
    rec.stop()
    assert [r["name"] for r in rows(db, "SELECT name FROM recordings")] == ["taken"]


def test_the_folder_that_holds_the_ca_key_is_private(db, confdir, recorder_factory):
    import os
    import stat

    confdir.mkdir(mode=0o755)  # as an older replayswarm, or mitmproxy itself, left it
    recorder_factory("private")
    assert stat.S_IMODE(os.stat(confdir).st_mode) == 0o700
    assert (confdir / "mitmproxy-ca.pem").is_file()
