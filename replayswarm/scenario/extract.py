"""Extraction rules applied to a response: the one implementation convert verifies its rules
with and play runs on every live response. Pure: plain strings and mappings in, a value out.

HTML forms are read with regular expressions, not a DOM: the hot path of play runs this for
every extraction, and a form's inputs are all it needs.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Extract

# Absolute URLs in responses name the recorded origin; a rule matches any origin in its place.
ANY_ORIGIN = r"(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?(?://[^/\s\"'<>]*)?"

_FORM = re.compile(r"<form\b([^>]*)>(.*?)(?:</form\s*>|(?=<form\b)|\Z)", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"<(input|button|textarea|select)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def attributes(tag_inside: str) -> dict[str, str]:
    """The attributes of a tag (the text between its name and `>`), names lower-cased, values
    unescaped; a bare attribute (`checked`) has the value ""."""
    out: dict[str, str] = {}
    for m in _ATTR.finditer(tag_inside):
        value = next((g for g in m.groups()[1:] if g is not None), "")
        out.setdefault(m.group(1).lower(), html.unescape(value))
    return out


@dataclass(frozen=True)
class Field:
    tag: str  # input, button, textarea, select
    name: str
    type: str  # the input's type, lower-cased ("text" when absent)
    value: str


@dataclass(frozen=True)
class Form:
    position: int  # among the page's forms, from 0
    attrs: Mapping[str, str]
    fields: tuple[Field, ...]

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def forms(body: str) -> list[Form]:
    """Every `<form>` of an HTML page with its named fields, in document order."""
    if "<form" not in body and "<FORM" not in body:
        return []
    found = []
    for position, m in enumerate(_FORM.finditer(body)):
        fields = []
        for f in _FIELD.finditer(m.group(2)):
            attrs = attributes(f.group(2))
            if "name" in attrs:
                tag = f.group(1).lower()
                kind = attrs.get("type", "text" if tag == "input" else tag).lower()
                fields.append(Field(tag=tag, name=attrs["name"], type=kind, value=attrs.get("value", "")))
        found.append(Form(position=position, attrs=attributes(m.group(1)), fields=tuple(fields)))
    return found


def select_form(page_forms: list[Form], selector: str) -> Form | None:
    """`id=X`, `name=X`, `action=PATH` (the action's path and query, whatever its origin) or
    `#N` (the N-th form)."""
    if selector.startswith("#"):
        n = int(selector[1:]) if selector[1:].isdigit() else -1
        return page_forms[n] if 0 <= n < len(page_forms) else None
    key, _, wanted = selector.partition("=")
    for form in page_forms:
        value = form.attrs.get(key, "")
        if key == "action":
            value = strip_origin(value)
        if value == wanted:
            return form
    return None


ORIGIN = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^/]*")  # scheme://host:port, or //host


def strip_origin(url: str) -> str:
    """`http://host:8000/a?b` → `/a?b`; a relative URL stays as it is."""
    m = ORIGIN.match(url)
    return (url[m.end():] or "/") if m else url


def apply(
    extract: Extract,
    headers: Mapping[str, str | list[str]],
    body: Callable[[], str],
    cookie: Callable[[str], str | None],
) -> str | None:
    """The value `extract` pulls out of a response, or None when nothing matches.
    `headers` maps lower-case names to a value (a list when repeated); `body` gives the decoded
    text (called only when needed); `cookie` reads the virtual user's jar."""
    source = extract.source
    if source == "cookie":
        return cookie(extract.name or "")
    if source == "header":
        value = headers.get((extract.name or "").lower())
        if isinstance(value, list):
            value = value[-1] if value else None
        if value is None or extract.regex is None:
            return value
        return _nth(extract.regex, value, extract.index, unescape=False)
    text = body()
    if source == "body":
        return _nth(extract.regex or "", text, extract.index, unescape=True)
    if source == "form":
        form = select_form(forms(text), extract.form or "#0")
        field = form.field(extract.name or "") if form is not None else None
        return field.value if field is not None else None
    try:
        node: Any = json.loads(text)
    except ValueError:
        return None
    return json_at(node, extract.path or "")


def json_at(node: Any, path: str) -> str | None:
    """The scalar at a dotted path (`id`, `notes.0.id`), as text; None for a missing path, an
    object or a list."""
    for key in path.split(".") if path else []:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    if isinstance(node, (dict, list)) or node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _nth(regex: str, text: str, index: int, unescape: bool) -> str | None:
    """The first group of the index-th match (negative counts from the end)."""
    if index == 0:
        m = re.search(regex, text)
        found = m.group(1) if m else None
    else:
        matches = [m.group(1) for m in re.finditer(regex, text)]
        found = matches[index] if -len(matches) <= index < len(matches) else None
    return html.unescape(found) if unescape and found is not None else found
