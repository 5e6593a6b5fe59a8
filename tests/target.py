"""A fast, counting HTTP/1.1 target on loopback: knows exactly what it served, and when."""

from __future__ import annotations

import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one write

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server: CountingTarget = self.server.target  # type: ignore[attr-defined]
        status = server.serve(self.path)
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        server.log(self.path, self.headers.get("X-User"), time.time(), self.headers.get("X-Row"))

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


class CountingTarget:
    """`delay`: seconds every request takes. A target of known capacity: `workers` requests are
    served at a time, each for `service` seconds, the others wait their turn; beyond
    `reject_above` requests in the house it answers 503 at once. `slow`: a path whose time grows
    with the requests in the house (a login hashing passwords), `slow_per` seconds for each."""

    def __init__(self, delay: float = 0.0, workers: int | None = None, service: float = 0.0,
                 reject_above: int | None = None, slow: str | None = None, slow_per: float = 0.0) -> None:
        self.delay = delay
        self.service = service
        self.reject_above = reject_above
        self.slow, self.slow_per = slow, slow_per
        self.inside = 0
        self.rejected = 0
        # A FIFO queue in front of W worker threads, as a server's accept queue: first come, first served.
        self._queue: queue.SimpleQueue[threading.Event] | None = None
        if workers:
            self._queue = queue.SimpleQueue()
            for _ in range(workers):
                threading.Thread(target=self._work, daemon=True).start()
        self.stalled_until = 0.0  # every request before this moment waits for it (a GC pause, a lock)
        self.requests: list[tuple[float, str, str | None]] = []
        self.data_rows: list[tuple[str, str | None]] = []  # (X-Row, X-User) of requests that carried a --data row
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.target = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def log(self, path: str, user: str | None, when: float, row: str | None = None) -> None:
        with self._lock:
            self.requests.append((when, path, user))
            if row is not None:
                self.data_rows.append((row, user))

    def serve(self, path: str) -> int:
        """Spend the time this request takes here; its status."""
        with self._lock:
            self.inside += 1
            inside = self.inside
        try:
            if self.reject_above is not None and inside > self.reject_above:
                with self._lock:
                    self.rejected += 1
                return 503
            if self.delay:
                time.sleep(self.delay)
            if self._queue is not None:
                done = threading.Event()
                self._queue.put(done)
                done.wait()
            if self.slow is not None and path.startswith(self.slow):
                time.sleep(self.slow_per * inside)
            stalled = self.stalled_until - time.time()
            if stalled > 0:
                time.sleep(stalled)
            return 200
        finally:
            with self._lock:
                self.inside -= 1

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            done = self._queue.get()
            time.sleep(self.service)
            done.set()

    def stall(self, seconds: float) -> None:
        self.stalled_until = time.time() + seconds

    @property
    def served(self) -> int:
        return len(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def scenario_file(path, origin: str, scenarios: list[tuple[str, int, list[tuple[str, float]]]]) -> str:
    """Write a scenario YAML: (name, weight, [(path, think seconds), ...]) per scenario."""
    import yaml

    doc = {
        "version": 1,
        "name": "handmade",
        "origins": [origin],
        "scenarios": [
            {
                "name": name,
                "weight": weight,
                "steps": [
                    {"name": f"GET {p.split('?')[0]}", "think_time": think,
                     "request": {"method": "GET", "url": origin + p, "headers": [["X-User", "${__user}"]]},
                     "expect": {"status": 200}}
                    for p, think in steps
                ],
            }
            for name, weight, steps in scenarios
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)
