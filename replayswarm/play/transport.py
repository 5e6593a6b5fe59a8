"""HTTP/1.1 over gevent sockets: the virtual users' client. Worker processes only.

Ours rather than a library's because it is the hot path and needs little: keep-alive
connections, one deadline per request, status, headers and a decoded body. geventhttpclient
(what Locust's FastHttpUser uses) probes every pooled socket with select() before use, builds
header objects and arms a timer per socket operation; a loop on this client's approach does
twice its requests per core, and play doubled its own rate when it moved here (bench/).
"""

from __future__ import annotations

import gzip
import socket
import ssl
import zlib
from dataclasses import dataclass

import brotli
import gevent
import zstandard

from .plan import Target

_RECV = 65536
_MAX_HEAD = 64 * 1024
_NO_BODY = frozenset((204, 304))


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str | list[str]]  # lower-case names; a repeated header gives a list
    body: bytes  # decoded
    wire_bytes: int


class TransportError(Exception):
    """A request that got no usable response; `kind` is how it is counted."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Stale(Exception):
    """A kept-alive connection the server had already closed: the request was not seen."""


class Transport:
    """One virtual user's connections: kept alive per target, as a browser keeps them."""

    __slots__ = ("_targets", "_idle", "_timeout", "_insecure")

    def __init__(self, targets: tuple[Target, ...], timeout: float, insecure: bool = False) -> None:
        self._targets = targets
        self._idle: list[list[socket.socket] | None] = [None] * len(targets)
        self._timeout = timeout
        self._insecure = insecure

    def send(self, target: int, method: str, uri: str, headers: dict[str, str], body: bytes | None) -> Reply:
        t = self._targets[target]
        request = _request_bytes(method, uri, t.authority, headers, body)
        idle = self._idle[target]
        timer = gevent.Timeout(self._timeout)
        timer.start()
        sock: socket.socket | None = None
        try:
            if idle:
                # A browser retries a request that met a closed kept-alive connection once,
                # on a new one; the server never saw it.
                sock = idle.pop()
                try:
                    reply, keep = _exchange(sock, request, method, fresh=False)
                except _Stale:
                    sock.close()
                    sock = None
                    sock = self._connect(t)
                    reply, keep = _exchange(sock, request, method, fresh=True)
            else:
                sock = self._connect(t)
                reply, keep = _exchange(sock, request, method, fresh=True)
        except BaseException as exc:
            if sock is not None:
                sock.close()  # half a response may be left on it
            raise _failure(exc, timer, self._timeout) from None
        finally:
            timer.close()
        if keep:
            if idle is None:
                idle = self._idle[target] = []
            idle.append(sock)
        else:
            sock.close()
        return reply

    def _connect(self, t: Target) -> socket.socket:
        sock = socket.create_connection((t.host, t.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if t.scheme == "https":
            sock = _tls_context(self._insecure).wrap_socket(sock, server_hostname=t.host)
        return sock

    def close(self) -> None:
        for idle in self._idle:
            for sock in idle or ():
                sock.close()
        self._idle = [None] * len(self._targets)


# OpenSSL's verification codes, as the failures people tell apart.
_TLS_KINDS = {
    10: "tls: certificate expired",
    18: "tls: unknown certificate authority",  # self-signed
    19: "tls: unknown certificate authority",  # self-signed in the chain
    20: "tls: unknown certificate authority",
    21: "tls: unknown certificate authority",
    62: "tls: hostname mismatch",
    64: "tls: hostname mismatch",  # an IP address the certificate does not name
}


def _failure(exc: BaseException, timer: gevent.Timeout, seconds: float) -> BaseException:
    """How a failed exchange is counted; anything else (a greenlet being killed) goes on as it is."""
    if exc is timer:
        return TransportError("timeout", f"no complete response in {seconds:g}s")
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("connection refused", exc.strerror or str(exc))
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, _Stale)):
        return TransportError("connection reset", str(exc) or "the server closed the connection")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransportError(_TLS_KINDS.get(exc.verify_code, "tls error"), exc.verify_message or str(exc))
    if isinstance(exc, ssl.SSLError):
        return TransportError("tls error", str(exc))
    if isinstance(exc, socket.gaierror):
        return TransportError("name not found", exc.strerror or str(exc))
    if isinstance(exc, OSError):
        return TransportError("connection error", str(exc) or type(exc).__name__)
    return exc


_contexts: dict[bool, ssl.SSLContext] = {}


def _tls_context(insecure: bool) -> ssl.SSLContext:
    context = _contexts.get(insecure)
    if context is None:
        context = ssl.create_default_context()
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["http/1.1"])
        _contexts[insecure] = context
    return context


def _request_bytes(method: str, uri: str, authority: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {uri} HTTP/1.1\r\nHost: {authority}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    try:
        data = head.encode("latin-1")
    except UnicodeEncodeError:
        data = head.encode("utf-8")
    return data + body if body else data


def _exchange(sock: socket.socket, request: bytes, method: str, fresh: bool) -> tuple[Reply, bool]:
    try:
        sock.sendall(request)
        first = sock.recv(_RECV)
    except (ConnectionResetError, BrokenPipeError):
        if fresh:
            raise
        raise _Stale() from None
    if not first:
        if fresh:
            raise ConnectionResetError("the server closed the connection without a response")
        raise _Stale()
    buf = _Buffer(sock, first)
    while True:
        status, version, headers = _parse_head(buf.head())
        if not 100 <= status < 200 or status == 101:
            break  # 100 Continue and other interim responses: the real one follows
    connection = headers.get("connection", "")
    connection = (connection if isinstance(connection, str) else ",".join(connection)).lower()
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    if method == "HEAD" or status in _NO_BODY:
        raw = b""
    elif "chunked" in str(headers.get("transfer-encoding", "")).lower():
        raw = buf.chunked()
    elif "content-length" in headers:
        length = headers["content-length"]
        if not isinstance(length, str) or not length.isdigit():
            raise TransportError("bad response", f"Content-Length {length!r}")
        raw = buf.exactly(int(length))
    else:
        raw = buf.to_close()
        keep = False
    if buf.data:
        keep = False  # bytes after the response: the connection is out of step
    body = raw
    encoding = headers.get("content-encoding")
    if encoding and raw:
        body = _decode(raw, encoding if isinstance(encoding, str) else encoding[-1])
    return Reply(status, headers, body, len(raw)), keep


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str | list[str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise TransportError("bad response", f"status line {lines[0][:80]!r}")
    headers: dict[str, str | list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise TransportError("bad response", f"header line {line[:80]!r}")
        name = name.strip().lower()
        value = value.strip()
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            headers[name] = [old, value]
    return int(parts[1]), parts[0], headers


class _Buffer:
    """What has been received of one response and not yet consumed."""

    __slots__ = ("sock", "data")

    def __init__(self, sock: socket.socket, first: bytes) -> None:
        self.sock = sock
        self.data = first

    def _fill(self, what: str) -> None:
        more = self.sock.recv(_RECV)
        if not more:
            raise TransportError("truncated body", f"the connection closed inside {what}")
        # A bytearray grows in place: a long body is not copied again with every piece.
        if not isinstance(self.data, bytearray):
            self.data = bytearray(self.data)
        self.data += more

    def head(self) -> bytes:
        end = self.data.find(b"\r\n\r\n")
        while end < 0:
            if len(self.data) > _MAX_HEAD:
                raise TransportError("bad response", "response headers over 64 KiB")
            try:
                self._fill("the response headers")
            except TransportError:
                raise ConnectionResetError("the server closed the connection inside the response headers") from None
            end = self.data.find(b"\r\n\r\n")
        head = bytes(self.data[:end])
        self.data = self.data[end + 4:]
        return head

    def exactly(self, length: int) -> bytes:
        while len(self.data) < length:
            try:
                self._fill("the body")
            except TransportError:
                raise TransportError("truncated body", f"got {len(self.data)} of {length} bytes") from None
        body = bytes(self.data[:length])
        self.data = self.data[length:]
        return body

    def line(self) -> bytes:
        end = self.data.find(b"\r\n")
        while end < 0:
            self._fill("a chunked body")
            end = self.data.find(b"\r\n")
        line = bytes(self.data[:end])
        self.data = self.data[end + 2:]
        return line

    def chunked(self) -> bytes:
        pieces = []
        while True:
            size_text = self.line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise TransportError("bad response", f"chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self.line():
                    pass  # trailers, up to the empty line
                return b"".join(pieces)
            pieces.append(self.exactly(size))
            if self.line():
                raise TransportError("bad response", "a chunk longer than its size")

    def to_close(self) -> bytes:
        pieces = [bytes(self.data)]
        while more := self.sock.recv(_RECV):
            pieces.append(more)
        self.data = b""
        return b"".join(pieces)


def encode(data: bytes, coding: str) -> bytes:
    """Apply a content coding to a request body, as the recorded request had it."""
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        return brotli.compress(data)
    if coding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def _decode(raw: bytes, encodings: str) -> bytes:
    """Undo the content codings, last applied first; a body that does not decode under its
    declared coding is a failure, never a success with garbage."""
    for coding in reversed([c.strip().lower() for c in encodings.split(",") if c.strip()]):
        raw = _undo(raw, coding)
    return raw


def _undo(raw: bytes, coding: str) -> bytes:
    try:
        if coding in ("gzip", "x-gzip"):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(raw) + d.flush()
            if not d.eof:
                raise TransportError("decode error", "gzip body ends before its end")
            return data
        if coding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS)
        if coding == "br":
            return brotli.decompress(raw)
        if coding == "zstd":
            z = zstandard.ZstdDecompressor().decompressobj()
            data = z.decompress(raw)
            if not z.eof:
                raise TransportError("decode error", "zstd body ends before its end")
            return data
    except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
        raise TransportError("decode error", f"{coding}: {exc}") from None
    if coding == "identity":
        return raw
    raise TransportError("decode error", f"unknown content coding {coding!r}")
