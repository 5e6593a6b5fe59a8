"""HAR 1.2 (as Chrome, Firefox and Playwright export it) → `Exchange`s. Plain Python."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import UserError
from .capture import DEFAULT_BODY_CAP, Body, Exchange

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
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
    total = entry.get("time")
    status = int(response["status"])
    request_headers = _headers(request.get("headers", []))
    response_headers = _headers(response.get("headers", []))
    error = entry.get("_error") or response.get("_error") or response.get("_failureText")
    kind = "websocket" if entry.get("_resourceType") == "websocket" or url.scheme in ("ws", "wss") else "http"
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return Exchange(
        client=str(entry.get("connection") or "har"),
        client_addr=None,
        started=started,
        ended=started + total / 1000.0 if isinstance(total, (int, float)) and total >= 0 else None,
        method=request["method"],
        scheme=scheme,
        host=url.hostname,
        port=url.port or _DEFAULT_PORTS[url.scheme],
        path=url.path or "/",
        query=url.query,
        http_version=str(request.get("httpVersion") or "HTTP/1.1"),
        request_headers=request_headers,
        request_body=_request_body(request, cap),
        # Browsers write status 0 for a request that got no response (refused, reset, blocked).
        status=status or None,
        reason=(response.get("statusText") or None) if status else None,
        response_headers=response_headers if status else [],
        response_body=_response_body(response, cap) if status else Body(),
        kind=kind,
        error=(error or "no response") if not status else (error or None),
    )


def _headers(raw: list[Any]) -> list[tuple[str, str]]:
    pairs = []
    for item in raw:
        name, value = (item["name"], item["value"]) if isinstance(item, dict) else (item[0], item[1])
        if not str(name).startswith(":"):  # HTTP/2 pseudo-headers are not headers
            pairs.append((str(name), str(value)))
    return pairs


def _request_body(request: dict[str, Any], cap: int) -> Body:
    post = request.get("postData")
    if not post:
        return Body()
    text = post.get("text")
    if text is None:
        return Body(size=max(int(request.get("bodySize") or 0), 0))
    return Body.of(text.encode("utf-8"), post.get("mimeType"), cap)


def _response_body(response: dict[str, Any], cap: int) -> Body:
    content = response.get("content", {})
    text = content.get("text")
    mime = content.get("mimeType")
    if text is None:
        # Firefox leaves some bodies out: their size is all there is.
        return Body(size=max(int(content.get("size") or 0), 0))
    if content.get("encoding") == "base64":
        try:
            data = base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("response content is not valid base64") from None
    else:
        data = text.encode("utf-8")
    return Body.of(data, mime or _content_type(response), cap)


def _content_type(response: dict[str, Any]) -> str | None:
    for item in response.get("headers", []):
        if isinstance(item, dict) and item.get("name", "").lower() == "content-type":
            return item.get("value")
    return None
