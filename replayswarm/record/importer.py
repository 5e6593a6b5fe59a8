"""`replayswarm import`: files → one recording, exactly as if the visit had been proxied."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from ..errors import UserError
from .capture import Exchange
from .har import read_har
from .store import import_recording


def sniff(path: str, head: bytes) -> str:
    """"har" or "mitmproxy", from the first bytes; a file's name says little."""
    start = head.lstrip()[:1]
    if start in (b"{", b"["):
        return "har"
    # mitmproxy dumps are tnetstrings: "<length>:<payload>"
    digits = head[:12].split(b":", 1)[0]
    if digits.isdigit() and b":" in head[:12]:
        return "mitmproxy"
    raise UserError(f"{path}: unknown format (expected a HAR file or a mitmproxy dump)")


@dataclass(frozen=True)
class Imported:
    source: str
    flows: int
    cached: int  # HAR entries the browser's cache served: never on the network, not imported


def import_files(engine: Engine, paths: Sequence[str], name: str) -> Imported:
    """Read every file first, then store them as one recording in one transaction."""
    exchanges: list[Exchange] = []
    cached = 0
    sources = set()
    for path in paths:
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror})") from None
        if not data.strip():
            raise UserError(f"{path}: empty file")
        source = sniff(path, data[:64])
        sources.add(source)
        if source == "har":
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise UserError(f"{path}: not UTF-8 text, so not a HAR file") from None
            found, skipped = read_har(path, text)
            exchanges.extend(found)
            cached += skipped
        else:
            from .dump import read_dump  # mitmproxy only when a dump is imported

            exchanges.extend(read_dump(path, io.BytesIO(data)))
    source = "har" if "har" in sources else "mitmproxy"
    return Imported(source, import_recording(engine, name, source, exchanges), cached)
