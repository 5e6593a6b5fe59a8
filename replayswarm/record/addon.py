"""The recorder: a mitmproxy addon that hands every finished flow to the writer.

It runs in mitmproxy's asyncio loop, so each hook only builds a row and queues it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mitmproxy import connection, http

from ..errors import describe
from ..hosts import host_matcher, is_loopback, is_loopback_name
from .capture import DEFAULT_BODY_CAP, BodyTap
from .flows import exchange_from_flow, header_value

log = logging.getLogger(__name__)

SEQ = "replayswarm.seq"
REQUEST_TAP = "replayswarm.request_tap"
RESPONSE_TAP = "replayswarm.response_tap"


@dataclass(frozen=True)
class RecorderOptions:
    allow: Sequence[str] = ()
    # Ports on loopback the proxy will not forward to: replayswarm's UI, and itself.
    refuse_ports: frozenset[int] = field(default_factory=frozenset)
    allow_remote_clients: bool = False
    body_cap: int = DEFAULT_BODY_CAP


class Recorder:
    def __init__(self, options: RecorderOptions, put: Callable[[dict], None], shutdown: Callable[[], None]) -> None:
        self.options = options
        self._put = put
        self._shutdown = shutdown
        self._allow = host_matcher(tuple(options.allow))
        self._seq = itertools.count(1)
        self.failed: Exception | None = None

    # -- connections -------------------------------------------------------------------------

    def client_connected(self, client: connection.Client) -> None:
        if not self.options.allow_remote_clients and not is_loopback(client.peername[0]):
            client.error = f"replayswarm only records loopback clients, not {client.peername[0]}"

    # -- requests ----------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.failed is not None:
            # Never pass traffic that cannot be recorded.
            flow.kill()
            return
        request = flow.request
        # The port first: it is a set lookup, the loopback check parses an address.
        if request.port in self.options.refuse_ports and is_loopback_name(request.host):
            flow.metadata["replayswarm.refused"] = True
            return
        if not self.records(request.host, request.port):
            return
        flow.metadata[SEQ] = next(self._seq)
        if _streams(request, self.options.body_cap):
            flow.metadata[REQUEST_TAP] = request.stream = BodyTap(self.options.body_cap)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get("replayswarm.refused"):
            flow.response = http.Response.make(
                403, b"replayswarm record refuses to proxy to its own ports\n", {"content-type": "text/plain"}
            )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if SEQ in flow.metadata and flow.response is not None and _streams(flow.response, self.options.body_cap):
            flow.metadata[RESPONSE_TAP] = flow.response.stream = BodyTap(self.options.body_cap)

    # -- finished flows ----------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:  # a WebSocket is stored when it ends
            self._store(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._store(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._store(flow)

    def _store(self, flow: http.HTTPFlow) -> None:
        seq = flow.metadata.pop(SEQ, None)
        if seq is None or self.failed is not None:
            return
        exchange = exchange_from_flow(
            flow,
            self.options.body_cap,
            request_tap=flow.metadata.pop(REQUEST_TAP, None),
            response_tap=flow.metadata.pop(RESPONSE_TAP, None),
        )
        self._put(exchange.row(seq))

    # -- failure -----------------------------------------------------------------------------

    def fail(self, exc: Exception) -> None:
        """The writer could not store flows: say so and stop the proxy."""
        if self.failed is None:
            self.failed = exc
            log.error("replayswarm: cannot write to the database, stopping the recorder: %s", describe(exc))
            self._shutdown()

    def records(self, host: str, port: int) -> bool:
        return self._allow is None or self._allow.match(f"{host.lower()}:{port}") is not None


def _streams(message: http.Message, cap: int) -> bool:
    """Bodies that are large or of unknown length stream through a tap that keeps at most the
    cap; mitmproxy buffers the small ones with a known length, which is faster."""
    headers = message.headers
    length = header_value(headers, b"content-length")
    if length is None:
        # A request without a length has no body unless chunked; a response is read to its end.
        if isinstance(message, http.Response):
            return True
        return "chunked" in (header_value(headers, b"transfer-encoding") or "").lower()
    try:
        return int(length) > cap
    except ValueError:
        return True
