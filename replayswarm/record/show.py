"""A flow as people see it: secrets masked. Shared by the CLI and, later, the web UI."""

from __future__ import annotations

from typing import Any

from ..db.models import Flow
from ..masking import mask_body, mask_headers, mask_query
from .capture import header


def flow_view(flow: Flow) -> dict[str, Any]:
    request_type = header([tuple(h) for h in flow.request_headers], "content-type")  # type: ignore[misc]
    url = flow.url
    if flow.query:
        url = url[: -len(flow.query)] + mask_query(flow.query)
    return {
        "seq": flow.seq,
        "client": flow.client,
        "started": flow.started,
        "ended": flow.ended,
        "method": flow.method,
        "url": url,
        "http_version": flow.http_version,
        "request_headers": mask_headers(flow.request_headers),
        "request_body": mask_body(flow.request_body, request_type),
        "request_size": flow.request_size,
        "status": flow.status,
        "reason": flow.reason,
        "response_headers": mask_headers(flow.response_headers),
        "response_body": mask_body(flow.response_body, flow.content_type),
        "response_size": flow.response_size,
        "response_hash": flow.response_hash,
        "content_type": flow.content_type,
        "kind": flow.kind,
        "replayable": flow.replayable,
        "error": flow.error,
    }
