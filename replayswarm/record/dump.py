"""mitmproxy dump files (`mitmdump -w`) → `Exchange`s, built exactly as the live recorder builds them."""

from __future__ import annotations

from typing import BinaryIO

from mitmproxy import exceptions, http, io

from ..errors import UserError
from .capture import DEFAULT_BODY_CAP, Exchange
from .flows import exchange_from_flow


def read_dump(path: str, stream: BinaryIO, cap: int = DEFAULT_BODY_CAP) -> list[Exchange]:
    exchanges = []
    try:
        for flow in io.FlowReader(stream).stream():
            if isinstance(flow, http.HTTPFlow):
                exchanges.append(exchange_from_flow(flow, cap))
    except exceptions.FlowReadException as exc:
        raise UserError(f"{path}: not a readable mitmproxy dump ({exc}); truncated?") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a readable mitmproxy dump ({type(exc).__name__}: {exc}); truncated?") from None
    return exchanges
