"""HTTP/1.1 over gevent sockets: the virtual users' client. Worker processes only.

Ours on top of a parser because it is the hot path and needs little: keep-alive connections,
one deadline per request, and each response read once as it arrives. geventhttpclient (what
Locust's FastHttpUser uses) probes every pooled socket with select() before use, builds header
objects and arms a timer per socket operation; play doubled its rate when it left it (bench/).

Responses are parsed by httptools (llhttp, Node's parser, as uvicorn uses it): it parses a
response 1.3x as fast as the hand-written parser it replaced (bench/parser_speed.py), and is
fuzzed in tests/test_transport.py. The body streams through: its size is counted, it is
decoded as it comes, and only its first `keep` bytes are held (what extractions and checks
read, at most --max-body), so a worker's memory does not grow with response size.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import zlib
from dataclasses import dataclass

import brotli
import gevent
import httptools
import zstandard

from .plan import Target

_RECV = 65536
_MAX_HEAD = 64 * 1024


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str | list[str]]  # lower-case names; a repeated header gives a list
    body: bytes  # decoded; only its first `keep` bytes (see Transport.send)
    size: int  # the decoded length of the whole body
    wire_bytes: int  # the body's length as it came over the wire
    clipped: bool  # the body went on beyond what was kept


class TransportError(Exception):
    """A request that got no usable response; `kind` is how it is counted."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Stale(Exception):
    """A kept-alive connection the server had already closed: the request was not seen."""


class _Reset(Exception):
    """A kept-alive connection reset before any of the response: the request had gone out."""


class _Beyond(Exception):
    """Bytes after the response: another message began on the connection."""


class Transport:
    """One virtual user's connections: kept alive per target, as a browser keeps them."""

    __slots__ = ("_targets", "_idle", "_timeout", "_insecure", "reset")

    def __init__(self, targets: tuple[Target, ...], timeout: float, insecure: bool = False) -> None:
        self._targets = targets
        self._idle: list[list[socket.socket] | None] = [None] * len(targets)
        self._timeout = timeout
        self._insecure = insecure
        # Set by send() when the request was first sent on a kept-alive connection that the
        # server reset after taking it: the caller counts that attempt, then the retry's result.
        self.reset: TransportError | None = None

    def send(self, target: int, method: str, uri: str, headers: dict[str, str], body: bytes | None, keep: int = 0) -> Reply:
        """Send one request and read its response whole within the timeout, holding the first
        `keep` bytes of the decoded body. Raises TransportError (or lets a GreenletExit through)."""
        t = self._targets[target]
        request = _request_bytes(method, uri, t.authority, headers, body)
        idle = self._idle[target]
        self.reset = None
        reading = _Reading(keep)
        timer = gevent.Timeout(self._timeout)
        timer.start()
        sock: socket.socket | None = None
        try:
            if idle:
                sock = idle.pop()
                try:
                    alive = _exchange(sock, request, method, reading, fresh=False)
                except (_Stale, _Reset) as exc:
                    # A browser retries once on a new connection. A server that had closed the
                    # idle connection (its FIN came first: the request was never read) is no
                    # failure; a reset after the request went out was the server's answer to it
                    # (servers close idle connections gracefully, as nginx's lingering close), and counts.
                    if isinstance(exc, _Reset):
                        self.reset = TransportError("connection reset", "reset by the server before any response")
                    sock.close()
                    sock = None
                    sock = self._connect(t)
                    reading = _Reading(keep)
                    alive = _exchange(sock, request, method, reading, fresh=True)
            else:
                sock = self._connect(t)
                alive = _exchange(sock, request, method, reading, fresh=True)
        except BaseException as exc:
            if sock is not None:
                sock.close()  # half a response may be left on it
            raise _failure(exc, timer, self._timeout, reading) from None
        finally:
            timer.close()
        if alive:
            if idle is None:
                idle = self._idle[target] = []
            idle.append(sock)
        else:
            sock.close()
        return reading.reply()

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


def _exchange(sock: socket.socket, request: bytes, method: str, reading: _Reading, fresh: bool) -> bool:
    """Send the request and read the response into `reading`; whether the connection may be kept."""
    try:
        sock.sendall(request)
    except (ConnectionResetError, BrokenPipeError):
        if fresh:
            raise
        raise _Stale() from None
    try:
        data = sock.recv(_RECV)
    except ConnectionResetError:
        if fresh:
            raise
        raise _Reset() from None
    if not data:
        if fresh:
            raise ConnectionResetError("the server closed the connection without a response")
        raise _Stale()
    parser = httptools.HttpResponseParser(reading)
    reading.parser = parser
    head = 0
    try:
        while True:
            parser.feed_data(data)
            if reading.done or (reading.head and method == "HEAD"):
                break
            if not reading.head:
                head += len(data)
                if head > _MAX_HEAD:
                    raise TransportError("bad response", "response headers over 64 KiB")
            data = sock.recv(_RECV)
            if not data:
                return reading.closed()
    except httptools.HttpParserUpgrade:
        reading.complete()
        return False  # 101 Switching Protocols: the connection is no longer HTTP
    except httptools.HttpParserCallbackError as exc:
        if isinstance(exc.__context__, _Beyond):
            return False  # bytes after the response: the connection is out of step
        if isinstance(exc.__context__, TransportError):
            raise exc.__context__ from None
        raise
    except httptools.HttpParserError as exc:
        raise TransportError("bad response", str(exc) or type(exc).__name__) from None
    finally:
        reading.parser = None
    return reading.keep


class _Reading:
    """httptools' callbacks for one response: the final status, its headers, and its body as it
    streams (counted, decoded, the first `room` bytes kept)."""

    __slots__ = ("parser", "status", "headers", "head", "keep", "done", "wire", "size", "kept", "room", "clipped", "decoders")

    def __init__(self, room: int) -> None:
        self.parser: httptools.HttpResponseParser | None = None
        self.status = 0
        self.headers: dict[str, str | list[str]] = {}
        self.head = False  # the final response's headers are complete
        self.keep = False  # the connection may carry the next request
        self.done = False
        self.wire = 0
        self.size = 0
        self.kept: list[bytes] = []
        self.room = room
        self.clipped = False
        self.decoders: list[_Decoder] | None = None

    def on_message_begin(self) -> None:
        if self.done:
            raise _Beyond()

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        old = self.headers.get(key)
        if old is None:
            self.headers[key] = text
        elif isinstance(old, list):
            old.append(text)
        else:
            self.headers[key] = [old, text]

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()  # type: ignore[union-attr]
        if 100 <= status < 200 and status != 101:
            self.headers = {}  # 100 Continue and other interim responses: the real one follows
            return
        self.status = status
        self.head = True
        # Asked now: llhttp forgets the answer once the message is complete.
        self.keep = self.parser.should_keep_alive()  # type: ignore[union-attr]
        coding = self.headers.get("content-encoding")
        if coding:
            codings = coding if isinstance(coding, str) else ",".join(coding)
            # Undone last applied first.
            self.decoders = [_Decoder(c) for c in reversed([c.strip().lower() for c in codings.split(",")]) if c and c != "identity"]

    def on_body(self, data: bytes) -> None:
        self.wire += len(data)
        if self.decoders:
            for decoder in self.decoders:
                data = decoder.feed(data)
        self._take(data)

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        room = self.room
        if room <= 0:
            if data:
                self.clipped = True
            return
        if len(data) > room:
            self.clipped = True
            data = data[:room]
        self.kept.append(data)
        self.room = room - len(data)

    def on_message_complete(self) -> None:
        if self.head:
            self.complete()

    def complete(self) -> None:
        """The body is whole: a coding that ends before its end is a failure, never garbage."""
        if self.done:
            return
        self.done = True
        if self.decoders and self.wire:
            for i, decoder in enumerate(self.decoders):
                tail = decoder.finish()
                for later in self.decoders[i + 1:]:
                    tail = later.feed(tail)
                self._take(tail)

    def closed(self) -> bool:
        """The server closed the connection before the response was complete."""
        if not self.head:
            raise ConnectionResetError("the server closed the connection inside the response headers")
        if "content-length" in self.headers or "chunked" in str(self.headers.get("transfer-encoding", "")).lower():
            length = self.headers.get("content-length")
            raise TransportError("truncated body", f"got {self.wire} of {length} bytes" if length else f"the connection closed inside a chunked body after {self.wire} bytes")
        self.complete()  # a body delimited by the end of the connection
        return False

    def reply(self) -> Reply:
        body = self.kept[0] if len(self.kept) == 1 else b"".join(self.kept)
        return Reply(self.status, self.headers, body, self.size, self.wire, self.clipped)


class _Decoder:
    """One content coding, undone as the body streams."""

    __slots__ = ("coding", "obj")

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding in ("gzip", "x-gzip"):
            self.obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self.obj = None  # zlib-wrapped or raw: told by the first bytes
        elif coding == "br":
            self.obj = brotli.Decompressor()
        elif coding == "zstd":
            self.obj = zstandard.ZstdDecompressor().decompressobj()
        else:
            raise TransportError("decode error", f"unknown content coding {coding!r}")

    def feed(self, data: bytes) -> bytes:
        try:
            if self.coding == "br":
                return self.obj.process(data)
            if self.obj is None:  # deflate's first bytes
                self.obj = zlib.decompressobj()
                try:
                    return self.obj.decompress(data)
                except zlib.error:
                    self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.obj.decompress(data)
        except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
            raise TransportError("decode error", f"{self.coding}: {exc}") from None

    def finish(self) -> bytes:
        obj = self.obj
        if self.coding == "br":
            if not obj.is_finished():
                raise TransportError("decode error", "br body ends before its end")
            return b""
        if self.coding == "zstd":
            if not obj.eof:
                raise TransportError("decode error", "zstd body ends before its end")
            return b""
        tail = obj.flush() if obj is not None else b""
        if self.coding != "deflate" and not obj.eof:
            raise TransportError("decode error", "gzip body ends before its end")
        return tail


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


def _failure(exc: BaseException, timer: gevent.Timeout, seconds: float, reading: _Reading) -> BaseException:
    """How a failed exchange is counted; anything else (a greenlet being killed) goes on as it is."""
    if exc is timer:
        if reading.head:
            # The answer began but its body did not end: an event stream, a drip, a stalled download.
            return TransportError("body timeout", f"{reading.wire} bytes of the body in {seconds:g}s, and no end")
        return TransportError("timeout", f"no response in {seconds:g}s")
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, ConnectionRefusedError):
        return TransportError("connection refused", exc.strerror or str(exc))
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, _Stale, _Reset)):
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
