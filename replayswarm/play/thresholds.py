"""Pass/fail conditions on a run: `p95<800ms`, `errors<1%`, `rps>100`,
`GET /notes/{id}/:p99<2s`. Pure: parsed once, checked against plain numbers."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UserError

_GRAMMAR = re.compile(
    r"^\s*(?:(?P<endpoint>.+?)\s*:\s*)?"
    r"(?P<metric>p\d{1,2}(?:\.\d+)?|max|avg|mean|errors|failures|rps|requests)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us|%)?\s*$",
    re.IGNORECASE,
)
_OPS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, None: 1.0}


@dataclass(frozen=True)
class Threshold:
    text: str
    endpoint: str | None
    metric: str  # p95, max, avg, errors (a rate, %), failures (a count), rps, requests
    op: str
    limit: float  # milliseconds for times, percent for errors

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)


def parse_threshold(text: str, option: str = "--threshold") -> Threshold:
    m = _GRAMMAR.match(text)
    if m is None:
        raise UserError(
            f"{option} {text!r} is not a threshold (like p95<800ms, errors<1%, rps>100, 'GET /x/:p99<2s')"
        )
    metric, unit = m.group("metric").lower(), (m.group("unit") or "").lower() or None
    value = float(m.group("value"))
    if metric.startswith("p"):
        if not 0 < float(metric[1:]) < 100:
            raise UserError(f"{option} {text!r}: a percentile is between p0 and p100")
    if metric.startswith("p") or metric in ("max", "avg", "mean"):
        if unit == "%":
            raise UserError(f"{option} {text!r}: a time is in us, ms or s")
        value *= _TIME_UNITS[unit]
    elif metric == "errors":
        if unit not in ("%", None):
            raise UserError(f"{option} {text!r}: errors are a percentage, like errors<1%")
    elif unit is not None:
        raise UserError(f"{option} {text!r}: {metric} takes no unit")
    return Threshold(text=text.strip(), endpoint=m.group("endpoint"), metric=metric, op=m.group("op"), limit=value)


@dataclass(frozen=True)
class ErrorGuard:
    """Stop a run whose failures stay at or above `ratio` for `seconds` (`--abort-on-errors`)."""

    ratio: float  # 0..1
    seconds: float

    def tripped(self, requests: int, failures: int) -> bool:
        # A handful of requests says nothing about the target.
        return requests >= 10 and failures >= self.ratio * requests


def parse_error_guard(text: str) -> ErrorGuard | None:
    """`90%/30s` (or `off`)."""
    if text.strip().lower() == "off":
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*%\s*/\s*(\d+(?:\.\d+)?)\s*(s|m)?\s*$", text, re.IGNORECASE)
    if not m or not 0 < float(m.group(1)) <= 100 or float(m.group(2)) <= 0:
        raise UserError(f"--abort-on-errors {text!r}: expected PERCENT/DURATION like 90%/30s, or off")
    return ErrorGuard(float(m.group(1)) / 100, float(m.group(2)) * (60 if (m.group(3) or "s").lower() == "m" else 1))
