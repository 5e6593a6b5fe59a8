"""Did a replay send only what people sent? Helpers for tests that record a real application,
replay it against a fresh copy and compare.

- `recorded_lines(db, recording)`: the request lines a recording holds (`GET /path?query`).
- `access_log_lines(log, start)`: the request lines a server's access log shows (Django's
  runserver and roundup-server formats, or any log that quotes `"METHOD TARGET HTTP/x.y"`).
- `unrecorded_lines(recorded, replayed)`: the replayed lines no person sent, once the values
  that legitimately differ between runs are normalised (ids, UUIDs, long tokens, timestamps).
- `assert_no_secret_in(paths, secrets)`: no typed password in scenario files or logs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus

from tests.dbutil import flows

# A request line as access logs quote it: "GET /tracker/issue3?@template=item HTTP/1.1"
_LOGGED = re.compile(r'"([A-Z]+) (\S+) HTTP/\d(?:\.\d)?"')

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# 2026-11-30T18:31:46.123+00:00, 2026-11-30 18:31:46, Roundup's 2026-11-30.18:31:46, 2026-11-30
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T .]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
# CSRF tokens, session ids, nonces, hashes: 20+ letters, digits, - and _, with a letter and a digit
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])")
_DIGITS = re.compile(r"\d+")


def normalise_value(value: str, per_run: Sequence[str] = ()) -> str:
    """Replace what is legitimately per-run in a decoded path segment or query value; `per_run`
    names literal values that are too (the user names a replay takes from --data)."""
    for literal in per_run:
        value = value.replace(literal, "{var}")
    value = _UUID.sub("{uuid}", value)
    value = _TIMESTAMP.sub("{time}", value)
    value = _TOKEN.sub("{token}", value)
    return _DIGITS.sub("{n}", value)


Constants = dict[tuple[str, str, str], str]


def _split(line: str) -> tuple[str, str, list[tuple[str, str | None]]]:
    method, _, target = line.partition(" ")
    if "://" in target:  # an absolute-form target (sent to a proxy)
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    path, _, query = target.partition("?")
    pairs: list[tuple[str, str | None]] = []
    for item in query.split("&") if query else []:
        name, eq, value = item.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value) if eq else None))
    return method.upper(), path, pairs


def normalise_line(line: str, per_run: Sequence[str] = (), constants: Constants | None = None) -> tuple[str, str, tuple[tuple[str, str | None], ...]]:
    """`METHOD /path?query` -> (method, normalised path, sorted normalised query pairs).

    Percent-encoding is decoded first (`%40sort` and `@sort` are one parameter to the server),
    query names are kept as they are (`@sort0` is not `@sort1`), values are normalised, and the
    order of the query's parameters does not count. A query value listed in `constants` (same
    method, path and name) is kept as it is."""
    method, path, pairs = _split(line)
    path = "/".join(normalise_value(unquote(segment), per_run) for segment in path.split("/"))
    constants = constants or {}
    normal = [
        (name, value if value is None or (method, path, name) in constants else normalise_value(value, per_run))
        for name, value in pairs
    ]
    return method, path, tuple(sorted(normal, key=lambda p: (p[0], p[1] or "")))


def recorded_constants(recorded: Iterable[str], per_run: Sequence[str] = ()) -> Constants:
    """Query values with digits that the recording shows to be constants: the same parameter of
    the same request (method, normalised path, name) sent at least twice, always with the same
    value (Roundup's `@verbose=2`, `@pagesize=50`). A replay that sends another value there sent
    something no person did, although it is only digits."""
    seen: dict[tuple[str, str, str], Counter[str]] = {}
    for line in recorded:
        method, path, pairs = _split(line)
        path = "/".join(normalise_value(unquote(segment), per_run) for segment in path.split("/"))
        for name, value in pairs:
            if value is not None:
                seen.setdefault((method, path, name), Counter())[value] += 1
    return {
        key: value
        for key, values in seen.items()
        for value, n in values.items()
        if len(values) == 1 and n >= 2 and _DIGITS.search(value)
    }


def unrecorded_lines(recorded: Iterable[str], replayed: Iterable[str], per_run: Iterable[str] = ()) -> list[str]:
    """The replayed request lines (`METHOD /path?query`) that match no recorded line once
    per-run values are normalised: requests no person sent. In replay order, repeats kept.

    Per-run values: runs of digits in path segments and query values (ids, cache-busters),
    UUIDs, long tokens, timestamps, except query values the recording shows to be constants
    (`recorded_constants`). `per_run`: literal values that legitimately differ too, such as the
    user names recorded and the ones given to play with --data (a tracker that redirects to
    `?@ok_message=Welcome+carol!` after carol logs in sends what alice's recorded redirect did)."""
    recorded = list(recorded)
    per_run = sorted({v for v in per_run if v}, key=len, reverse=True)
    constants = recorded_constants(recorded, per_run)
    known = {normalise_line(line, per_run, constants) for line in recorded}
    return [line for line in replayed if normalise_line(line, per_run, constants) not in known]


def describe_lines(lines: Sequence[str], most: int = 15) -> str:
    """`N× line` for the most frequent lines: for assertion messages."""
    counted = Counter(lines)
    shown = "\n".join(f"  {n}x {line}" for line, n in counted.most_common(most))
    more = len(counted) - most
    return f"{len(lines)} lines ({len(counted)} distinct):\n{shown}" + (f"\n  ... and {more} more" if more > 0 else "")


def recorded_lines(db: str, recording: str, port: int | None = None) -> list[str]:
    """The request lines of a recording's flows (optionally only those to one port)."""
    return [
        f"{f['method']} {f['path']}" + (f"?{f['query']}" if f["query"] else "")
        for f in flows(db, recording)
        if port is None or f["port"] == port
    ]


def access_log_lines(log: Path, start: int = 0) -> list[str]:
    """The request lines in an access log from byte offset `start` on (take `log.stat().st_size`
    before a replay to see only the replay's). Lines that are not requests are skipped."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    return [f"{m.group(1)} {m.group(2)}" for m in _LOGGED.finditer(text)]


def sent_form_values(db: str, recording: str, names: Iterable[str]) -> set[str]:
    """The values a recording's requests sent in the form fields or query parameters with these
    names (urlencoded or multipart bodies): e.g. every CSRF token a person posted."""
    names = set(names)
    found: set[str] = set()
    for f in flows(db, recording):
        for name, value in parse_qsl(f["query"] or "", keep_blank_values=True):
            if name in names:
                found.add(value)
        body = f["request_body"] or ""
        if "Content-Disposition: form-data" in body:
            for m in _MULTIPART_FIELD.finditer(body):
                if m.group(1) in names:
                    found.add(m.group(2))
        elif body and "=" in body and not body.lstrip().startswith(("{", "[")):
            for name, value in parse_qsl(body, keep_blank_values=True):
                if name in names:
                    found.add(value)
    return {v for v in found if v}


_MULTIPART_FIELD = re.compile(r'Content-Disposition: form-data; name="([^"]*)"\r?\n(?:[^\r\n]+\r?\n)*\r?\n(.*?)\r?\n--', re.DOTALL)


_COMPLAINT = re.compile(r"\b(?:ERROR|WARNING|CRITICAL)\b.*")


def log_complaints(log: Path, start: int = 0) -> Counter[str]:
    """What a server said was wrong from byte offset `start` on (Roundup's `ERROR Csrf mismatch
    ...`, Django's `WARNING django.security.csrf: Forbidden ...`), with per-run values
    normalised so that alike complaints count together."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if _LOGGED.search(line):
            continue
        m = _COMPLAINT.search(line)
        if m:
            found[normalise_value(m.group(0))[:200]] += 1
    return found


def log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def assert_no_secret_in(paths: Iterable[Path | str], secrets: Iterable[str]) -> None:
    """Fail if any secret (as typed, or URL-encoded as a form or query would carry it) appears
    in the files given, or in any file under the directories given."""
    secrets = [s for s in secrets if s]
    forms = {s: {s, quote(s, safe=""), quote_plus(s)} for s in secrets}
    found: list[str] = []
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.exists():
            files.append(p)
        else:
            raise AssertionError(f"nothing to scan at {p}")
    for file in files:
        text = file.read_bytes().decode("utf-8", "replace")
        for secret, variants in forms.items():
            for variant in variants:
                at = text.find(variant)
                if at >= 0:
                    line = text.count("\n", 0, at) + 1
                    found.append(f"{file}:{line}: {secret!r}")
                    break
    assert not found, "typed passwords found:\n" + "\n".join(found)
