"""mitmproxy flows → `Exchange`: shared by the live recorder and the dump importer."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from mitmproxy import http
from mitmproxy.net import encoding

from .capture import DEFAULT_BODY_CAP, Body, BodyTap, Exchange


def exchange_from_flow(
    flow: http.HTTPFlow,
    cap: int = DEFAULT_BODY_CAP,
    request_tap: BodyTap | None = None,
    response_tap: BodyTap | None = None,
) -> Exchange:
    request = flow.request
    parts = urlsplit(request.path)
    response = flow.response
    if response is not None:
        ended: float | None = response.timestamp_end
    elif flow.error is not None:
        ended = flow.error.timestamp
    else:
        ended = time.time()
    peer = flow.client_conn.peername
    kind = "websocket" if flow.websocket is not None else "http"
    error = flow.error.msg if flow.error is not None else None
    if flow.websocket is not None and flow.websocket.close_code not in (None, 1000, 1001, 1005):
        error = error or f"websocket closed with {flow.websocket.close_code}: {flow.websocket.close_reason}"
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
        request_headers=list(request.headers.items(multi=True)),
        request_body=_body(request, request_tap, cap),
        status=response.status_code if response is not None else None,
        reason=response.reason if response is not None else None,
        response_headers=list(response.headers.items(multi=True)) if response is not None else [],
        response_body=_body(response, response_tap, cap) if response is not None else Body(),
        kind=kind,
        error=error,
    )


def _body(message: http.Message, tap: BodyTap | None, cap: int) -> Body:
    content_type = message.headers.get("content-type")
    if tap is None:
        raw = message.raw_content or b""
    else:
        kept = tap.kept
        if kept is None:
            return tap.body()
        raw = kept
    try:
        data = encoding.decode(raw, message.headers.get("content-encoding", "identity"))
    except ValueError:
        data = raw  # undecodable (e.g. a truncated gzip): keep what came over the wire
    return Body.of(data or b"", content_type, cap)
