"""Request templates: `${name}`, `${name:url}` (URL-encoded), `$${` for a literal `${`. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote_plus

# `$${` is always a literal `${` (whatever follows: recorded bodies hold any text); `${name}` a hole.
PLACEHOLDER = re.compile(r"(\$\$\{)|\$\{([A-Za-z_][\w.:-]*?)(?::(url))?\}")


class MissingVariable(KeyError):
    """A template names a variable that has no value (an extraction failed, or no --var/--data)."""


def escape(literal: str) -> str:
    """A recorded value as template text: any `${` in it stays literal."""
    return literal.replace("${", "$${")


def placeholder(name: str, url: bool = False) -> str:
    return "${" + name + (":url" if url else "") + "}"


def names(template: str) -> list[str]:
    return [m.group(2) for m in PLACEHOLDER.finditer(template) if not m.group(1)]


def render(template: str, lookup: Mapping[str, str] | Callable[[str], str | None]) -> str:
    get = lookup.get if isinstance(lookup, Mapping) else lookup

    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # $${...} is the literal text ${...}
            return match.group(0)[1:]
        value = get(match.group(2))
        if value is None:
            raise MissingVariable(match.group(2))
        return quote_plus(value) if match.group(3) else value

    if "${" not in template:
        return template
    return PLACEHOLDER.sub(replace, template)
