"""Request bodies replay byte for byte: recorded through the real proxy, converted, played, and
compared by SHA-256 at the target. A body the recorder did not keep is never replaced by another."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from tests.helpers import cli

BINARY = bytes(range(256)) * 8  # 2 KB with every byte value, NULs included
GZIPPED = gzip.compress(json.dumps({"title": "compressed", "items": list(range(50))}).encode())
LATIN1 = "name=Jos\xe9&city=K\xf6ln".encode("latin-1")
FILE = os.urandom(3000)
BOUNDARY = "----replayswarmUpload7MA4YWxk"
UPLOAD = (
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nholiday photo\r\n"
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
).encode() + FILE + f"\r\n--{BOUNDARY}--\r\n".encode()
OVER_CAP = b"x" * 5000


class _Hashing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path, hashlib.sha256(body).hexdigest(), self.headers.get("Content-Encoding")))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


SENT = {
    "/binary": (BINARY, {"Content-Type": "application/octet-stream"}),
    "/gzipped": (GZIPPED, {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    "/latin1": (LATIN1, {"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"}),
    "/upload": (UPLOAD, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}),
    "/over-cap": (OVER_CAP, {"Content-Type": "text/plain"}),
}


def test_bodies_arrive_byte_for_byte_and_an_unkept_one_is_never_sent(db, recorder_factory, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hashing)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        rec = recorder_factory("bodies", "--body-cap", "4000")
        with requests.Session() as browser:
            for path, (body, headers) in SENT.items():
                assert browser.post(url + path, data=body, headers=headers, proxies={"http": rec.proxy}, timeout=10).status_code == 200
        code, _, err = rec.stop()
        assert code == 0, err
        recorded = list(server.seen)  # type: ignore[attr-defined]
        assert [p for p, _, _ in recorded] == list(SENT)
        assert cli("convert", "bodies", "--db", db, "-o", str(tmp_path / "bodies.yaml")).returncode == 0

        # Validation stops at the body that was not kept, and says so.
        checked = cli("validate", "bodies", "--host", url, "--db", db)
        assert checked.returncode == 1 and "POST /over-cap: no answer (body not recorded" in checked.stdout, checked.stdout
        server.seen.clear()  # type: ignore[attr-defined]
        played = cli("play", "bodies", "--host", url, "--users", "1", "--iterations", "2", "--think-scale", "0",
                     "--no-validate", "--db", db, "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert played.returncode == 0, played.stderr
    summary = json.loads(played.stdout)
    expected = [(p, hashlib.sha256(b).hexdigest(), h.get("Content-Encoding")) for p, (b, h) in SENT.items() if p != "/over-cap"]
    assert server.seen == expected * 2  # type: ignore[attr-defined]
    by_name = {e["name"]: e for e in summary["endpoints"]}
    assert by_name["POST /over-cap"]["failures"] == 2 and summary["failures"] == 2
    errors = json.loads(cli("run", str(summary["run_id"]), "--json", "--db", db).stdout)["errors"]
    assert [(e["endpoint"], e["kind"]) for e in errors] == [("POST /over-cap", "body not recorded")]
