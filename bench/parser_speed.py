"""Which HTTP response parser play's transport should use: httptools (llhttp) as play uses it
now, the hand-written parser it replaced (loaded from git history, commit 42eecb1), and h11.

Each parser reads the same responses from memory, many times, in this process: the per-response
cost of parsing a status line, headers and body, with no socket in the way (the end-to-end rate
against nginx is bench/play_throughput.py's). Three shapes: a small page with Content-Length (what
a load test mostly reads), a 64 KiB chunked body, and a 1 MiB body that arrives in 16 pieces.
Medians of --rounds runs, contenders alternating within a round (the host is noisy).

Run from the repository root:  .venv/bin/python bench/parser_speed.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h11
import httptools

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replayswarm.play import transport  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "parser_speed.json"
OLD = "42eecb1"  # the last commit with the hand-written parser

_HEAD = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 30 Nov 2026 21:00:00 GMT\r\n"
         b"Content-Type: text/html\r\nLast-Modified: Mon, 30 Nov 2026 20:00:00 GMT\r\nConnection: keep-alive\r\n"
         b"ETag: \"abc-400\"\r\nAccept-Ranges: bytes\r\n")


def shapes() -> dict[str, list[bytes]]:
    """Each response as the pieces recv() would hand over."""
    small = _HEAD + b"Content-Length: 1024\r\n\r\n" + b"x" * 1024
    chunk = b"y" * 8192
    chunked = _HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(b"2000\r\n" + chunk + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    big = _HEAD + b"Content-Length: 1048576\r\n\r\n" + b"z" * (1 << 20)
    return {
        "1 KiB, Content-Length": [small],
        "64 KiB, chunked": [chunked],
        "1 MiB in 64 KiB pieces": [big[i:i + 65536] for i in range(0, len(big), 65536)],
    }


class _Pieces:
    """A socket stand-in whose recv() hands over the next piece."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.i = 1

    def recv(self, n: int) -> bytes:
        if self.i >= len(self.pieces):
            return b""
        self.i += 1
        return self.pieces[self.i - 1]


def load_old() -> object:
    """The hand-written parser's module, as it was at OLD."""
    source = subprocess.run(["git", "show", f"{OLD}:replayswarm/play/transport.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_transport.py"
    path.write_text(source.replace("from .plan import Target", "Target = object"))
    spec = importlib.util.spec_from_file_location("old_transport", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["old_transport"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def parse_old(old: object) -> Callable[[list[bytes]], int]:
    def parse(pieces: list[bytes]) -> int:
        buf = old._Buffer(_Pieces(pieces), pieces[0])  # type: ignore[attr-defined]
        status, _, headers = old._parse_head(buf.head())  # type: ignore[attr-defined]
        body = buf.chunked() if "transfer-encoding" in headers else buf.exactly(int(headers["content-length"]))
        return len(body)
    return parse


def parse_httptools(pieces: list[bytes]) -> int:
    # What the transport does for a step without body extractions: count, keep nothing.
    reading = transport._Reading(0)
    parser = httptools.HttpResponseParser(reading)
    reading.parser = parser
    for piece in pieces:
        parser.feed_data(piece)
    assert reading.done
    return reading.size


def parse_h11(pieces: list[bytes]) -> int:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    size = 0
    for piece in pieces:
        conn.receive_data(piece)
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Data):
                size += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return size
    raise AssertionError("h11 did not finish the response")


def rate(parse: Callable[[list[bytes]], int], pieces: list[bytes], seconds: float) -> float:
    """Responses parsed per second, over about `seconds`."""
    n, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            parse(pieces)
        n += 50
    return n / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0, help="per contender, shape and round")
    args = p.parse_args()
    contenders = {"httptools (play now)": parse_httptools, "hand-written (before)": parse_old(load_old()), "h11": parse_h11}
    results: dict[str, dict[str, float]] = {}
    for shape, pieces in shapes().items():
        sizes = {name: parse(pieces) for name, parse in contenders.items()}
        assert len(set(sizes.values())) == 1, sizes  # they all read the same body
        runs: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(args.rounds):
            order = list(contenders)[r % len(contenders):] + list(contenders)[:r % len(contenders)]
            for name in order:
                runs[name].append(rate(contenders[name], pieces, args.seconds))
        results[shape] = {name: statistics.median(v) for name, v in runs.items()}
    base = "hand-written (before)"
    print(f"{'shape':<26}" + "".join(f"{name:>24}" for name in contenders))
    for shape, by in results.items():
        print(f"{shape:<26}" + "".join(f"{by[n]:>14,.0f}/s {by[n] / by[base]:>5.2f}x" for n in contenders))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"responses_per_second": results, "rounds": args.rounds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
