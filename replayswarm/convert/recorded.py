"""What convert reads: a recorded flow as plain, immutable data."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..record.capture import header


@dataclass(frozen=True, slots=True)
class Recorded:
    seq: int
    client: str
    started: float
    ended: float
    method: str
    scheme: str
    host: str
    port: int
    path: str
    query: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str | None
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: str | None
    response_size: int
    content_type: str | None
    replayable: bool = True
    error: str | None = None
    request_raw: bytes | None = None  # the exact bytes, when request_body cannot give them back
    request_size: int = 0

    @classmethod
    def of(cls, row: Any) -> Recorded:
        """From a `flows` row (or anything with its attributes)."""
        return cls(
            seq=row.seq,
            client=_shared(row.client),
            started=row.started,
            ended=row.ended if row.ended is not None else row.started,
            method=_shared(row.method),
            scheme=_shared(row.scheme),
            host=_shared(row.host),
            port=row.port,
            path=row.path,
            query=row.query or "",
            request_headers=_headers(row.request_headers),
            request_body=row.request_body,
            status=row.status,
            response_headers=_headers(row.response_headers),
            response_body=row.response_body,
            response_size=row.response_size,
            content_type=_shared(row.content_type),
            replayable=row.replayable,
            error=row.error,
            request_raw=row.request_raw,
            request_size=row.request_size,
        )

    @property
    def origin(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    @property
    def url(self) -> str:
        return self.origin + self.path + (f"?{self.query}" if self.query else "")

    def header(self, name: str) -> str | None:
        return header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return header(self.response_headers, name)

    def response_headers_named(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.response_headers if k.lower() == name]

    @property
    def media_type(self) -> str:
        return (self.content_type or "").split(";", 1)[0].strip().lower()


def _shared(text: str | None) -> str | None:
    return sys.intern(text) if text is not None else None


def _headers(pairs: Any) -> tuple[tuple[str, str], ...]:
    """Header names and the short values that repeat across a recording (User-Agent, Accept)
    are held once: a long recording is mostly the same headers again."""
    return tuple((sys.intern(k), sys.intern(v) if len(v) < 256 else v) for k, v in pairs)


def same_url(a: str, b: str) -> bool:
    """Two URLs name the same page (ignoring the fragment)."""
    return urlsplit(a)._replace(fragment="") == urlsplit(b)._replace(fragment="")


_TOKEN_CHARS = re.compile(r"^[\w\-.%+/=:]+$")
_UNIQUE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[\w\-.%+/=:]{12,}$|^[0-9a-f]{16,}$", re.IGNORECASE)


def looks_unique(value: str) -> bool:
    """A value that names one browser or one page view: long and mixed, like a session id or
    a CSRF token. A random token may hold no digit (one in 230 of 32 URL-safe characters):
    then a long run with upper and lower case near evenly mixed, as no CamelCase word is."""
    if _UNIQUE.match(value):
        return True
    if len(value) < 20 or not _TOKEN_CHARS.match(value):
        return False
    upper = sum(c.isupper() for c in value)
    lower = sum(c.islower() for c in value)
    return min(upper, lower) >= len(value) // 3


def request_cookies(flow: Recorded) -> list[tuple[str, str]]:
    pairs = []
    for name, value in flow.request_headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                key, sep, val = part.strip().partition("=")
                if sep:
                    pairs.append((key, val))
    return pairs


def set_cookies(flow: Recorded) -> list[tuple[str, str]]:
    pairs = []
    for value in flow.response_headers_named("set-cookie"):
        key, sep, val = value.split(";", 1)[0].strip().partition("=")
        if sep and val and val != '""':
            pairs.append((key, val))
    return pairs
