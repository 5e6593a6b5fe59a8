"""Hide secrets wherever recorded traffic is shown: CLI, web UI, reports. Pure functions.

The database keeps the real values (a replay from the DB may need them); what people see does not.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

MASK = "********"

_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-csrftoken",
    "x-csrf-token",
    "x-xsrf-token",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
}
SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|csrf|xsrf|api[-_]?key|auth|session|sid$|signature|credential",
    re.IGNORECASE,
)


def is_secret_key(name: str) -> bool:
    return bool(SECRET_KEY.search(name))


def mask_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower == "cookie":
        # Keep the cookie names: which cookies were sent matters, their values do not show.
        return "; ".join(f"{part.split('=', 1)[0].strip()}={MASK}" for part in value.split(";") if part.strip())
    if lower == "set-cookie":
        first, _, attributes = value.partition(";")
        return f"{first.split('=', 1)[0].strip()}={MASK}" + (f";{attributes}" if attributes else "")
    if lower in ("authorization", "proxy-authorization"):
        scheme, _, _ = value.partition(" ")
        return f"{scheme} {MASK}" if " " in value else MASK
    if lower in _SECRET_HEADERS or is_secret_key(lower):
        return MASK
    return value


def mask_headers(headers: list[list[str]] | list[tuple[str, str]]) -> list[list[str]]:
    return [[name, mask_header(name, value)] for name, value in headers]


def mask_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_secret_key(k) for k, _ in pairs):
        return query
    return urlencode([(k, MASK if is_secret_key(k) else v) for k, v in pairs], safe="*")


def mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(str(k)) and value_is_scalar(v) else mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def value_is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


_MULTIPART_FIELD = re.compile(r'(name="([^"]*)"\r?\n(?:[^\r\n]+\r?\n)*\r?\n)([^\r\n]*)')


_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""(\bvalue\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def _mask_input(match: re.Match[str]) -> str:
    """Hidden inputs carry CSRF tokens and the like: mask the value of a secret-named input."""
    tag = match.group(0)
    name = _NAME_ATTR.search(tag)
    if name is None or not (is_secret_key(name.group(1)) or 'type="password"' in tag.lower()):
        return tag
    return _VALUE_ATTR.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", tag)


def mask_body(body: str | None, content_type: str | None) -> str | None:
    if not body:
        return body
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded" or (not media and "=" in body and "\n" not in body):
        return mask_query(body)
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.dumps(mask_json(json.loads(body)))
        except ValueError:
            return body
    if media in ("text/html", "application/xhtml+xml"):
        return _INPUT.sub(_mask_input, body)
    if media.startswith("multipart/form-data"):
        return _MULTIPART_FIELD.sub(
            lambda m: m.group(1) + (MASK if is_secret_key(m.group(2)) else m.group(3)), body
        )
    return body
