"""The response parser under play's transport, fuzzed: whatever a server sends, a request ends
as a reply or as a typed failure, never as an exception of another kind; and every well-formed
response, however it is framed and cut into pieces, gives back its body exactly."""

from __future__ import annotations

import gzip

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replayswarm.play.transport import TransportError, _exchange, _Reading

TYPED = (TransportError, ConnectionResetError)


class _Wire:
    """A socket stand-in: the request goes nowhere, the response comes in the given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)

    def sendall(self, data: bytes) -> None:
        pass

    def recv(self, n: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(marks, marks[1:]) if b > a] or [b""]


def read(pieces: list[bytes], method: str = "GET", keep: int = 1 << 20) -> tuple[_Reading, bool]:
    reading = _Reading(keep)
    alive = _exchange(_Wire(pieces), b"GET / HTTP/1.1\r\n\r\n", method, reading, fresh=True)
    return reading, alive


token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-0123456789"), min_size=1, max_size=12)
header = st.tuples(st.sampled_from(["Content-Type", "Set-Cookie", "X-Thing", "Content-Length", "Transfer-Encoding",
                                    "Content-Encoding", "Connection"]) | token,
                   st.binary(max_size=30) | token.map(str.encode))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.binary(max_size=40) | st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.0 204 No Content", b"HTTP/1.1 100 Continue",
                                                      b"HTTP/1.1 101 Switching", b"HTTP/2 200", b"HTTP/1.1 99999999999999 X"]),
    headers=st.lists(header, max_size=6),
    body=st.binary(max_size=300),
    points=st.lists(st.integers(min_value=0, max_value=400), max_size=5),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_anything_a_server_sends_ends_as_a_reply_or_a_typed_failure(status, headers, body, points, method):
    data = status + b"\r\n" + b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers) + b"\r\n" + body
    try:
        reading, _ = read(cut(data, points), method)
    except TYPED:
        return
    reply = reading.reply()
    assert 100 <= reply.status <= 999 and reply.size >= len(reply.body)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=5000),
    framing=st.sampled_from(["length", "chunked", "close"]),
    gzipped=st.booleans(),
    chunk=st.integers(min_value=1, max_value=700),
    points=st.lists(st.integers(min_value=0, max_value=6000), max_size=8),
    keep=st.integers(min_value=0, max_value=6000),
)
def test_a_well_formed_body_comes_back_exactly_however_it_is_cut(body, framing, gzipped, chunk, points, keep):
    wire = gzip.compress(body) if gzipped else body
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" + (b"Content-Encoding: gzip\r\n" if gzipped else b"")
    if framing == "length":
        data = head + f"Content-Length: {len(wire)}\r\n\r\n".encode() + wire
    elif framing == "chunked":
        pieces = [wire[i:i + chunk] for i in range(0, len(wire), chunk)]
        data = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    else:
        data = head + b"Connection: close\r\n\r\n" + wire
    reading, alive = read(cut(data, points), keep=keep)
    reply = reading.reply()
    assert reply.status == 200 and reply.size == len(body) and reply.wire_bytes == len(wire)
    assert reply.body == body[:keep] and reply.clipped == (len(body) > keep)
    assert alive == (framing != "close")


def test_a_body_cut_short_is_a_truncated_body_and_bytes_after_a_response_drop_the_connection():
    try:
        read([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"])
    except TransportError as exc:
        assert exc.kind == "truncated body" and str(exc) == "got 5 of 10 bytes"
    else:
        raise AssertionError("a short body was taken whole")
    reading, alive = read([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"])
    assert reading.reply().body == b"ok" and not alive
    reading, alive = read([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"])
    assert reading.reply().status == 201 and alive
