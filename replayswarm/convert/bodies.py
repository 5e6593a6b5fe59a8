"""Request bodies, parsed per format into their fields and rebuilt around new field text. Pure.

Every format a browser posts with fields: urlencoded forms, JSON (values at any depth and in
lists), multipart (each field; file parts, part headers and the boundary kept exactly). What
lies between the fields is kept as it was recorded, so a body whose fields are all kept comes
back byte for byte. text/plain and other bodies have no fields: they stay as recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ..scenario.template import escape


@dataclass(frozen=True)
class Field:
    key: str  # the field's name (for JSON, the nearest object key)
    value: str  # what it holds, decoded
    raw: str  # how it was written
    url: bool  # a placeholder in its place is URL-encoded


@dataclass(frozen=True)
class Parsed:
    kind: str  # form | json | multipart
    fields: tuple[Field, ...]
    # Field template texts (a placeholder, or the escaped literal) → the body's template.
    rebuild: Callable[[list[str]], str]


def parse(body: str, content_type: str) -> Parsed | None:
    """The body's fields, or None when it has none (or cannot be parsed: then it is replayed
    as recorded)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return urlencoded(body)
    if media == "application/json" or media.endswith("+json"):
        try:
            return _json(json.loads(body), body)
        except ValueError:
            return None
    if media == "multipart/form-data":
        m = re.search(r'boundary="?([^";]+)"?', content_type)
        return _multipart(body, "--" + m.group(1)) if m else None
    return None


def urlencoded(body: str) -> Parsed:
    """`k=v&k2=v2`: a form body, or a query string."""
    parts = body.split("&")
    fields, places = [], []
    for i, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if sep:
            fields.append(Field(unquote_plus(key), unquote_plus(value), value, True))
            places.append(i)

    def rebuild(texts: list[str]) -> str:
        out = [escape(p) for p in parts]
        for i, text in zip(places, texts):
            out[i] = escape(parts[i].partition("=")[0]) + "=" + text
        return "&".join(out)

    return Parsed("form", tuple(fields), rebuild)


def _json(doc: Any, raw: str) -> Parsed:
    fields: list[Field] = []
    numbers: list[bool] = []

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif not isinstance(node, bool) and node is not None:
            fields.append(Field(key or "", str(node), str(node), False))
            numbers.append(not isinstance(node, str))

    walk(doc, None)

    def rebuild(texts: list[str]) -> str:
        if all(text == escape(f.raw) for text, f in zip(texts, fields)):
            return escape(raw)  # nothing changed: byte for byte as recorded
        marks: dict[str, str] = {}
        queue = iter(zip(texts, fields, numbers))

        def put(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: put(v) for k, v in node.items()}
            if isinstance(node, list):
                return [put(v) for v in node]
            if isinstance(node, bool) or node is None:
                return node
            text, field, number = next(queue)
            if text == escape(field.raw):
                return node
            mark = f"\x00{len(marks)}\x00"
            # A number stays a number: its placeholder goes in unquoted.
            marks[json.dumps(mark)] = text if number else f'"{text}"'
            return mark

        out = escape(json.dumps(put(doc), separators=(",", ":"), ensure_ascii=False))
        for mark, text in marks.items():
            out = out.replace(mark, text)
        return out

    return Parsed("json", tuple(fields), rebuild)


def _multipart(body: str, delimiter: str) -> Parsed:
    pieces = body.split(delimiter)
    fields, places, heads = [], [], []
    for i, piece in enumerate(pieces[1:-1], 1):
        head, sep, value = piece.partition("\r\n\r\n")
        name = re.search(r'\bname="([^"]*)"', head)
        if not sep or name is None or "filename=" in head or not value.endswith("\r\n"):
            continue  # a file part, or one that is not a field: kept exactly
        fields.append(Field(name.group(1), value[:-2], value[:-2], False))
        places.append(i)
        heads.append(head)

    def rebuild(texts: list[str]) -> str:
        out = [escape(p) for p in pieces]
        for i, head, text in zip(places, heads, texts):
            out[i] = escape(head) + "\r\n\r\n" + text + "\r\n"
        return escape(delimiter).join(out)

    return Parsed("multipart", tuple(fields), rebuild)
