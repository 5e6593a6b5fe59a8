"""What one recorded exchange is, as plain data, and how its bodies are kept.

The proxy, the HAR importer and the mitmproxy-dump importer all build an `Exchange` and turn it
into a row the same way, so a visit gives the same rows however it was captured.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BODY_CAP = 1 << 20  # text bodies above this are kept as size and hash only

_TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
    "application/xhtml+xml",
    "image/svg+xml",
)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def _is_text_media(mt: str) -> bool:
    return (
        mt.startswith("text/")
        or mt in _TEXT_TYPES
        or mt.endswith("+json")
        or mt.endswith("+xml")
        or mt.startswith("multipart/form-data")
    )


@dataclass(frozen=True)
class Body:
    """A message body: its text when it is text and fits the cap, else only size and sha256.
    A request body also keeps its exact bytes (`raw`) when its text cannot give them back
    (binary, a charset other than UTF-8, a content coding on the wire): a replay sends what the
    browser sent, byte for byte."""

    text: str | None = None
    size: int = 0
    sha256: str | None = None
    raw: bytes | None = None

    @classmethod
    def of(cls, data: bytes, content_type: str | None, cap: int = DEFAULT_BODY_CAP) -> Body:
        if not data:
            return cls()
        digest = hashlib.sha256(data).hexdigest()
        text = None
        if len(data) <= cap:
            mt = media_type(content_type)
            if not mt or _is_text_media(mt):
                text = _decode(data, charset(content_type))
        return cls(text=text, size=len(data), sha256=digest)

    @classmethod
    def of_request(cls, data: bytes, content_type: str | None, cap: int = DEFAULT_BODY_CAP, wire: bytes | None = None) -> Body:
        """`data` decoded of its content coding, `wire` as it was sent (when they differ)."""
        body = cls.of(data, content_type, cap)
        if not data or len(wire if wire is not None else data) > cap:
            return body
        if wire is not None and wire != data:
            raw: bytes | None = wire
        elif body.text is None or body.text.encode("utf-8") != data:
            raw = data
        else:
            raw = None
        return cls(text=body.text, size=body.size, sha256=body.sha256, raw=raw)


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    # A NUL means binary mislabelled as text: keeping it as text would not round-trip.
    return None if "\x00" in text else text


class BodyTap:
    """Watches a streamed body pass through: counts and hashes every chunk, keeps at most `keep`
    bytes, so a huge download never grows the recorder's memory."""

    def __init__(self, keep: int = DEFAULT_BODY_CAP) -> None:
        self.keep = keep
        self.size = 0
        self._hash = hashlib.sha256()
        self._kept = bytearray()
        self.overflowed = False

    def __call__(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        self._hash.update(chunk)
        if not self.overflowed:
            if len(self._kept) + len(chunk) <= self.keep:
                self._kept += chunk
            else:
                self.overflowed = True
                self._kept = bytearray()
        return chunk

    @property
    def kept(self) -> bytes | None:
        """The whole body as it came over the wire, or None when it was over the cap."""
        return None if self.overflowed else bytes(self._kept)

    def body(self) -> Body:
        """Size and hash of the bytes on the wire, for a body too big to keep."""
        return Body(size=self.size, sha256=self._hash.hexdigest() if self.size else None)


@dataclass
class Exchange:
    """One request and what became of it: a response, an error, or both."""

    client: str
    client_addr: str | None
    started: float
    ended: float | None
    method: str
    scheme: str
    host: str
    port: int
    path: str
    query: str
    http_version: str
    request_headers: list[tuple[str, str]]
    request_body: Body = field(default_factory=Body)
    status: int | None = None
    reason: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: Body = field(default_factory=Body)
    kind: str = "http"
    error: str | None = None

    @property
    def content_type(self) -> str | None:
        return header(self.response_headers, "content-type")

    def row(self, seq: int) -> dict[str, Any]:
        """The `flows` row, without its recording id."""
        content_type = self.content_type
        kind = self.kind
        if kind == "http" and media_type(content_type) == "text/event-stream":
            kind = "sse"
        return {
            "seq": seq,
            "client": self.client[:64],
            "client_addr": self.client_addr,
            "started": self.started,
            "ended": self.ended,
            "method": self.method,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "path": self.path,
            "query": self.query,
            "http_version": normalize_http_version(self.http_version),
            "request_headers": [list(pair) for pair in self.request_headers],
            "request_body": self.request_body.text,
            "request_size": self.request_body.size,
            "request_hash": self.request_body.sha256,
            "request_raw": self.request_body.raw,
            "status": self.status,
            "reason": self.reason,
            "response_headers": [list(pair) for pair in self.response_headers],
            "response_body": self.response_body.text,
            "response_size": self.response_body.size,
            "response_hash": self.response_body.sha256,
            "content_type": (content_type or None) and content_type[:255],
            # WebSocket and event streams are kept for the record; a replay cannot reproduce them.
            "kind": kind,
            "replayable": kind == "http",
            "error": self.error,
        }


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def normalize_http_version(version: str) -> str:
    v = version.strip().upper()
    if v in ("H2", "HTTP/2", "HTTP/2.0"):
        return "HTTP/2.0"
    if v in ("H3", "HTTP/3", "HTTP/3.0"):
        return "HTTP/3"
    if v in ("HTTP/1.0", "HTTP/0.9"):
        return v
    return "HTTP/1.1"
