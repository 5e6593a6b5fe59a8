"""The only code that knows the HTTP client (geventhttpclient). Runs in worker processes only."""

from __future__ import annotations

import ssl
import zlib
from dataclasses import dataclass

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

from .plan import Target

# A browser opens at most this many connections to one host.
PER_HOST = 6


@dataclass(slots=True)
class Reply:
    status: int
    headers: object  # the client's header object: .get(name) gives a str or a list
    body: bytes  # decoded
    wire_bytes: int


class TransportError(Exception):
    """A request that got no usable response; `kind` is how it is counted."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _insecure_context(*_args: object, **_kwargs: object) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Transport:
    """One virtual user's connections: a small pool per target, like a browser's."""

    __slots__ = ("_clients", "_targets", "_timeout", "_insecure")

    def __init__(self, targets: tuple[Target, ...], timeout: float, insecure: bool = False) -> None:
        self._targets = targets
        self._clients: list[HTTPClient | None] = [None] * len(targets)
        self._timeout = timeout
        self._insecure = insecure

    def _client(self, target: int) -> HTTPClient:
        client = self._clients[target]
        if client is None:
            t = self._targets[target]
            options = {"ssl_context_factory": _insecure_context} if (t.scheme == "https" and self._insecure) else {}
            client = HTTPClient(
                t.host, t.port, ssl=t.scheme == "https", concurrency=PER_HOST,
                connection_timeout=self._timeout, network_timeout=self._timeout, **options,
            )
            self._clients[target] = client
        return client

    def send(self, target: int, method: str, uri: str, headers: dict[str, str], body: bytes | None) -> Reply:
        try:
            with gevent.Timeout(self._timeout * 2, TransportError("timeout", f"no complete response in {self._timeout * 2:.0f}s")):
                response = self._client(target).request(method, uri, body=body or b"", headers=headers)
                try:
                    raw = response.read()
                finally:
                    response.release()
        except TransportError:
            raise
        except (TimeoutError, gevent.Timeout) as exc:
            raise TransportError("timeout", str(exc) or "timed out") from None
        except ConnectionRefusedError as exc:
            raise TransportError("connection refused", str(exc)) from None
        except (ConnectionResetError, BrokenPipeError, HTTPConnectionClosed) as exc:
            raise TransportError("connection reset", str(exc) or type(exc).__name__) from None
        except HTTPParseError as exc:
            raise TransportError("bad response", str(exc) or type(exc).__name__) from None
        except OSError as exc:
            kind = "timeout" if "timed out" in str(exc) else "connection error"
            raise TransportError(kind, str(exc) or type(exc).__name__) from None
        status = response.status_code
        content_length = response.get("content-length")
        if content_length is not None and isinstance(content_length, str) and content_length.isdigit() and int(content_length) != len(raw):
            raise TransportError("truncated body", f"got {len(raw)} of {content_length} bytes")
        encoding = response.get("content-encoding")
        body = raw
        if encoding and raw:
            body = _decode(raw, encoding if isinstance(encoding, str) else encoding[-1])
        return Reply(status=status, headers=response, body=body, wire_bytes=len(raw))

    def close(self) -> None:
        for client in self._clients:
            if client is not None:
                client.close()
        self._clients = [None] * len(self._targets)


def _decode(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(raw) + d.flush()
            if not d.eof:
                raise TransportError("decode error", "gzip body ends before its end")
            return data
        if encoding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise TransportError("decode error", f"{encoding}: {exc}") from None
    return raw
