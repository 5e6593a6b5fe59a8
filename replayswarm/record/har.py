"""HAR 1.2 (as Chrome, Firefox and Playwright export it) → `Exchange`s. Plain Python."""

from __future__ import annotations

import base64
import binascii
import codecs
import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ..errors import UserError
from .capture import DEFAULT_BODY_CAP, Body, Exchange, charset, media_type

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Firefox and others store URLs decoded ("/café?q=crème"); a browser sends them percent-encoded
# as UTF-8. What it encodes is the WHATWG URL standard's path and query percent-encode sets (plus
# every control and non-ASCII character); "%" is not among them, so a "%XX" already there stays.
_PATH_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"#<>?`{}')
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"#<>'")

# The phases of HAR `timings` that add up to `time` (`ssl` is inside `connect`); -1 is "unknown".
_TIMING_PHASES = ("blocked", "dns", "connect", "send", "wait", "receive")

# When a multipart body must be rebuilt from `params` and no boundary was recorded.
_BOUNDARY = "----replayswarmHarBoundary7MA4YWxkTrZu0gW"


def read_har(path: str, text: str, cap: int = DEFAULT_BODY_CAP) -> tuple[list[Exchange], int]:
    """The exchanges that went over the network, and how many entries the browser's cache served."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); truncated?") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise UserError(f"{path}: JSON but not a HAR file (no log.entries)")
    exchanges = []
    cached = 0
    for index, entry in enumerate(entries, 1):
        try:
            if _from_cache(entry):
                cached += 1
                continue
            exchanges.append(_exchange(entry, cap))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            # Whatever the shape, an entry our reading trips over is not a HAR entry we can replay.
            raise UserError(f"{path}: entry {index} is not a valid HAR entry ({_describe(exc)})") from None
    return exchanges, cached


def _from_cache(entry: dict[str, Any]) -> bool:
    """Browsers list what their cache served; a proxy never sees it, and a replay must not send it."""
    response = entry["response"]
    return bool(entry.get("_fromCache")) or response.get("_transferSize") == 0


def _describe(exc: Exception) -> str:
    return f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)


def _exchange(entry: dict[str, Any], cap: int) -> Exchange:
    request, response = entry["request"], entry["response"]
    url = urlsplit(request["url"])
    if url.scheme not in _DEFAULT_PORTS or not url.hostname:
        raise ValueError(f"unsupported URL {request['url']!r}")
    started = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00")).timestamp()
    duration = _duration(entry)
    status = int(response["status"])
    if status and not 100 <= status <= 999:
        raise ValueError(f"status {response['status']!r} is not an HTTP status")
    method = request["method"]
    if not isinstance(method, str) or not method.isascii() or not method.isalpha():
        raise ValueError(f"method {method!r} is not an HTTP method")
    request_headers = _headers(request.get("headers"))
    response_headers = _headers(response.get("headers"))
    request_body = _request_body(request, request_headers, cap)
    error = entry.get("_error") or response.get("_error") or response.get("_failureText")
    kind = "websocket" if _is_websocket(entry, url.scheme, request_headers) else "http"
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return Exchange(
        client=str(entry.get("connection") or "har"),
        client_addr=None,
        started=started,
        ended=started + duration if duration is not None else None,
        method=method.upper(),
        scheme=scheme,
        # A name stored in Unicode goes on the wire in its IDNA (xn--) form, as a browser sends it.
        host=url.hostname if url.hostname.isascii() else url.hostname.encode("idna").decode("ascii"),
        port=url.port or _DEFAULT_PORTS[url.scheme],
        path=quote(url.path or "/", safe=_PATH_SAFE),
        query=quote(url.query, safe=_QUERY_SAFE),
        http_version=str(request.get("httpVersion") or "HTTP/1.1"),
        request_headers=request_headers,
        request_body=request_body,
        # Browsers write status 0 for a request that got no response (refused, reset, blocked).
        status=status or None,
        reason=(_text(response.get("statusText")) or None) if status else None,
        response_headers=response_headers if status else [],
        response_body=_response_body(response, cap) if status else Body(),
        kind=kind,
        error=(_text(error) if error else "no response") if not status else (_text(error) if error else None),
    )


def _duration(entry: dict[str, Any]) -> float | None:
    """Seconds from request start to response end: `time`, else the sum of the known `timings`
    phases. Writers put -1 (or nothing) where they did not measure."""
    total = entry.get("time")
    if _measured(total):
        return total / 1000.0
    timings = entry.get("timings")
    if isinstance(timings, dict):
        phases = [timings[k] for k in _TIMING_PHASES if _measured(timings.get(k))]
        if phases:
            return sum(phases) / 1000.0
    return None


def _measured(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e12


def _headers(raw: list[Any] | None) -> list[tuple[str, str]]:
    pairs = []
    for item in raw or []:
        name, value = (item.get("name"), item.get("value")) if isinstance(item, dict) else (item[0], item[1])
        # HTTP/2 pseudo-headers are not headers; a nameless one cannot be sent.
        if name and not str(name).startswith(":"):
            pairs.append((str(name), "" if value is None else str(value)))
    return pairs


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _request_body(request: dict[str, Any], headers: list[tuple[str, str]], cap: int) -> Body:
    """The body as the browser sent it. May set the Content-Type in `headers`: a multipart body
    rebuilt under a boundary of our own must be sent under that boundary."""
    post = request.get("postData")
    if not post:
        return Body()
    mime = post.get("mimeType") or _header(headers, "content-type")
    text = post.get("text")
    params = post.get("params")
    if text or not params:
        if text is None:
            return Body(size=max(int(request.get("bodySize") or 0), 0))
        if post.get("encoding") == "base64":
            return Body.of_request(_base64(text, "request postData"), mime, cap)
        return Body.of_request(_encode(text, _codec(mime)), mime, cap)
    # Older writers keep a form's fields as `params` only: the body is rebuilt from them.
    kind = media_type(mime)
    if kind == "multipart/form-data":
        header = _header(headers, "content-type")
        boundary = _boundary(header) or _boundary(mime)
        if boundary is None:
            boundary = _BOUNDARY
            header = f"multipart/form-data; boundary={boundary}"
            headers[:] = [(k, v) for k, v in headers if k.lower() != "content-type"] + [("Content-Type", header)]
        return Body.of_request(_multipart(params, boundary, _codec(mime)), header or mime, cap)
    if kind in ("", "application/x-www-form-urlencoded"):
        pairs = [(str(p["name"]), _text(p.get("value"))) for p in params]
        return Body.of_request(urlencode(pairs, encoding=_codec(mime)).encode("ascii"), mime, cap)
    # Fields of a body of another kind cannot be put back together: only its size is kept, as
    # for a body over the cap, so play knows it does not have it.
    return Body(size=max(int(request.get("bodySize") or 0), 0))


def _codec(content_type: str | None) -> str:
    """The codec of a body's declared charset (UTF-8 if none or unknown)."""
    try:
        return codecs.lookup(charset(content_type)).name
    except LookupError:
        return "utf-8"


def _encode(text: str, codec: str) -> bytes:
    """The bytes of a body a HAR writer stored as text: it decoded them by their charset, so
    they are encoded back by it (a Latin-1 form must not gain bytes)."""
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _boundary(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        value = value.strip().strip('"')
        if key.strip().lower() == "boundary" and value:
            return value
    return None


def _multipart(params: list[dict[str, Any]], boundary: str, codec: str) -> bytes:
    """multipart/form-data as a browser writes it (HTML's form-data encoding algorithm). A file
    part holds what the HAR kept of the file, which may be nothing."""
    parts = []
    for param in params:
        disposition = f'form-data; name="{_escape(param["name"])}"'
        if param.get("fileName") is not None:
            disposition += f'; filename="{_escape(param["fileName"])}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if param.get("contentType"):
            head += f"Content-Type: {param['contentType']}\r\n"
        parts.append(_encode(head + "\r\n", codec) + _encode(_text(param.get("value")), codec) + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts)


def _escape(name: Any) -> str:
    # What browsers do to a field or file name in Content-Disposition.
    return str(name).replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def _base64(text: str, what: str) -> bytes:
    try:
        # Some writers wrap base64 in lines; whitespace is not data.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


def _response_body(response: dict[str, Any], cap: int) -> Body:
    content = response.get("content") or {}
    text = content.get("text")
    mime = content.get("mimeType")
    if text is None:
        # Firefox leaves some bodies out: their size is all there is.
        return Body(size=max(int(content.get("size") or 0), 0))
    data = _base64(text, "response content") if content.get("encoding") == "base64" else text.encode("utf-8")
    return Body.of(data, mime or _content_type(response), cap)


def _content_type(response: dict[str, Any]) -> str | None:
    return _header(_headers(response.get("headers")), "content-type")


def _is_websocket(entry: dict[str, Any], scheme: str, headers: list[tuple[str, str]]) -> bool:
    """A WebSocket handshake by what it is, whichever writer stored it: a ws:// URL, an Upgrade
    request, a 101 answer, its messages (Chrome's `_webSocketMessages`) or Chrome's resource type."""
    status = entry["response"].get("status")
    return (
        scheme in ("ws", "wss")
        or any(k.lower() == "upgrade" and "websocket" in v.lower() for k, v in headers)
        or status == 101
        or "_webSocketMessages" in entry
        or entry.get("_resourceType") == "websocket"
    )
