"""mitmproxy flows → `Exchange`: shared by the live recorder and the dump importer.

This runs in the proxy's event loop once per flow, so it reads headers straight from
`Headers.fields` (raw bytes) instead of through `Headers.get`/`items`, whose per-call conversions
cost more than the rest of the work here; the values are the same.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from mitmproxy import http
from mitmproxy.net import encoding

from .capture import DEFAULT_BODY_CAP, Body, BodyTap, Exchange


def _text(raw: bytes) -> str:
    # Header bytes that are not UTF-8 are ISO-8859-1, as HTTP/1.1 once said; either way the
    # text can be stored (mitmproxy's surrogate escapes cannot be encoded for the database).
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header_value(headers: http.Headers, name: bytes) -> str | None:
    """What `headers.get(name)` gives for a lower-case `name`: every value of that header,
    folded with ", ", or None when there is none."""
    values = [v for k, v in headers.fields if k.lower() == name]
    if not values:
        return None
    if len(values) == 1:
        return _text(values[0])
    return ", ".join([_text(v) for v in values])


def header_pairs(headers: http.Headers) -> list[tuple[str, str]]:
    """`list(headers.items(multi=True))`: every header in order, repeats included."""
    return [(_text(k), _text(v)) for k, v in headers.fields]


def exchange_from_flow(
    flow: http.HTTPFlow,
    cap: int = DEFAULT_BODY_CAP,
    request_tap: BodyTap | None = None,
    response_tap: BodyTap | None = None,
) -> Exchange:
    request = flow.request
    parts = urlsplit(request.path)
    response = flow.response
    failure = flow.error
    if response is not None:
        ended: float | None = response.timestamp_end
    elif failure is not None:
        ended = failure.timestamp
    else:
        ended = time.time()
    peer = flow.client_conn.peername
    websocket = flow.websocket
    kind = "websocket" if websocket is not None else "http"
    error = failure.msg if failure is not None else None
    if websocket is not None and websocket.close_code not in (None, 1000, 1001, 1005):
        error = error or f"websocket closed with {websocket.close_code}: {websocket.close_reason}"
    return Exchange(
        client=flow.client_conn.id,
        client_addr=f"{peer[0]}:{peer[1]}" if peer else None,
        started=request.timestamp_start,
        ended=ended,
        method=request.method,
        scheme=request.scheme,
        host=request.host,
        port=request.port,
        path=parts.path or "/",
        query=parts.query,
        http_version=request.http_version,
        request_headers=header_pairs(request.headers),
        request_body=_body(request, request_tap, cap),
        status=response.status_code if response is not None else None,
        reason=response.reason if response is not None else None,
        response_headers=header_pairs(response.headers) if response is not None else [],
        response_body=_body(response, response_tap, cap) if response is not None else Body(),
        kind=kind,
        error=error,
    )


def _body(message: http.Message, tap: BodyTap | None, cap: int) -> Body:
    if tap is None:
        raw = message.raw_content or b""
    else:
        kept = tap.kept
        if kept is None:
            return tap.body()
        raw = kept
    if not raw:
        return Body()  # what an empty body always becomes, whatever its headers say
    headers = message.headers
    content_encoding = header_value(headers, b"content-encoding")
    if content_encoding is None or content_encoding == "identity":
        data = raw  # what encoding.decode gives for no or the identity encoding
    else:
        try:
            data = encoding.decode(raw, content_encoding)
        except ValueError:
            data = raw  # undecodable (e.g. a truncated gzip): keep what came over the wire
    content_type = header_value(headers, b"content-type")
    if isinstance(message, http.Request):
        return Body.of_request(data or b"", content_type, cap, wire=raw)
    return Body.of(data or b"", content_type, cap)
