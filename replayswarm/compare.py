"""Compare stored runs: per-endpoint deltas and a verdict. Pure; the CLI, the web UI and
reports share it, so "slower" means the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Changes smaller than these are noise on a shared machine.
LATENCY_NOISE_PCT = 10.0
LATENCY_NOISE_MS = 2.0
ERROR_NOISE_PP = 1.0
RPS_NOISE_PCT = 10.0
MIN_REQUESTS = 20  # fewer requests than this on either side: percentiles are anecdotes

METRICS = ("p50_ms", "p95_ms", "p99_ms", "rps", "error_pct")


@dataclass(frozen=True)
class Change:
    metric: str
    base: float
    new: float

    @property
    def delta(self) -> float:
        return round(self.new - self.base, 3)

    @property
    def pct(self) -> float | None:
        return round(100.0 * (self.new - self.base) / self.base, 1) if self.base else None

    def judged(self, comparable: bool) -> str:
        return self.verdict if comparable else "same"

    @property
    def verdict(self) -> str:
        """regression, improvement or same."""
        if self.metric == "error_pct":
            if abs(self.delta) < ERROR_NOISE_PP:
                return "same"
            return "regression" if self.delta > 0 else "improvement"
        pct = self.pct if self.pct is not None else (100.0 if self.delta else 0.0)
        if self.metric == "rps":
            if abs(pct) < RPS_NOISE_PCT:
                return "same"
            return "regression" if pct < 0 else "improvement"
        if abs(pct) < LATENCY_NOISE_PCT or abs(self.delta) < LATENCY_NOISE_MS:
            return "same"
        return "regression" if self.delta > 0 else "improvement"


def compare(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two runs as `runs.get_run` returns them → rows per endpoint and a one-line verdict."""
    base_endpoints = {e["name"]: e for e in base["endpoints"]}
    new_endpoints = {e["name"]: e for e in new["endpoints"]}
    # Throughput is only comparable under the same load.
    same_load = base["users"] == new["users"]
    rows = []
    for name in sorted(set(base_endpoints) | set(new_endpoints)):
        a, b = base_endpoints.get(name), new_endpoints.get(name)
        if a is None or b is None:
            rows.append({"name": name, "only_in": "base" if b is None else "new", "changes": {}})
            continue
        enough = min(a["requests"], b["requests"]) >= MIN_REQUESTS
        rows.append({"name": name, "changes": {m: _change(Change(m, a[m], b[m]), enough and (same_load or m != "rps")) for m in METRICS}})
    enough = min(base["total"]["requests"], new["total"]["requests"]) >= MIN_REQUESTS
    total = {m: _change(Change(m, base["total"][m], new["total"][m]), enough and (same_load or m != "rps")) for m in METRICS}
    regressions = [(r["name"], m) for r in rows for m, c in r["changes"].items() if c["verdict"] == "regression"]
    improvements = [(r["name"], m) for r in rows for m, c in r["changes"].items() if c["verdict"] == "improvement"]
    saturated = [r["id"] for r in (base, new) if r.get("saturated")]
    unlike = []
    if base.get("kind") != new.get("kind"):
        unlike.append(f"run {base['id']} is a {base.get('kind')} run and run {new['id']} a {new.get('kind')} run")
    elif not same_load:
        unlike.append(f"the runs had different loads ({base['users']} and {new['users']} users): only latency and errors are judged")
    capacity = compare_capacity(base["answer"], new["answer"]) if base.get("answer") and new.get("answer") else None
    verdict = _verdict(base, new, total, regressions, improvements)
    if capacity is not None:
        unit = "arrivals a second" if new["answer"].get("model") == "open" else "users"
        verdict = (f"REGRESSION: run {new['id']} holds fewer {unit} than run {base['id']}: " + "; ".join(capacity["fewer"])
                   if capacity["fewer"] else f"SAME: run {new['id']} holds as many {unit} as run {base['id']}, within the searches' resolution")
    return {
        "capacity": capacity,
        "base": base["id"],
        "new": new["id"],
        "saturated": saturated,
        "total": total,
        "endpoints": rows,
        "regressions": [{"endpoint": n, "metric": m} for n, m in regressions],
        "improvements": [{"endpoint": n, "metric": m} for n, m in improvements],
        "verdict": verdict + "".join(
            f"; caution: run {i}'s load generator was saturated, its numbers understate the target" for i in saturated)
            + "".join(f"; caution: {u}" for u in unlike),
    }


def compare_capacity(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two capacity answers → each figure's change, and whether the new build holds less load.
    A drop counts only beyond the search's own resolution (the gap to the load that broke), and
    only where the new build did break: a figure that is a lower bound (nothing broke up to where
    the search stopped) cannot show fewer users. SLOs are compared where both searches had them."""
    def sure(answer: dict[str, Any], key: str) -> dict[str, Any]:
        return answer.get("certainty", {}).get(key, {})

    figures = [("without failures", base["max_users_without_failures"], new["max_users_without_failures"], "without_failures")]
    for text, value in base["max_users_within_slo"].items():
        if text in new["max_users_within_slo"]:
            figures.append((f"within {text}", value, new["max_users_within_slo"][text], f"within {text}"))
    if base.get("knee_users") and new.get("knee_users"):
        figures.append(("knee", base["knee_users"], new["knee_users"], None))
    rows, fewer = [], []
    for name, a, b, key in figures:
        if a is None or b is None:
            continue
        new_sure = sure(new, key) if key else {}
        base_sure = sure(base, key) if key else {}
        slack = max(new_sure.get("uncertainty") or 0, base_sure.get("uncertainty") or 0, 0.05 * a)
        if b < a - slack and not new_sure.get("lower_bound"):
            verdict = "fewer"
        elif b > a + slack and not base_sure.get("lower_bound"):
            verdict = "more"
        else:
            verdict = "same"
        rows.append({"figure": name, "base": a, "new": b, "pct": round(100.0 * (b - a) / a, 1) if a else None, "verdict": verdict})
        if verdict == "fewer":
            fewer.append(f"{name} {a} → {b}")
    return {"figures": rows, "fewer": fewer}


def _change(c: Change, judged: bool) -> dict[str, Any]:
    return {"base": c.base, "new": c.new, "delta": c.delta, "pct": c.pct, "verdict": c.judged(judged)}


def _verdict(base: dict[str, Any], new: dict[str, Any], total: dict[str, Any], regressions: list, improvements: list) -> str:
    p95 = total["p95_ms"]
    change = f"p95 {p95['base']:.0f} → {p95['new']:.0f} ms" + (f" ({p95['pct']:+.0f}%)" if p95["pct"] is not None else "")
    if regressions:
        endpoints = sorted({n for n, _ in regressions})
        return f"REGRESSION: run {new['id']} is worse than run {base['id']} on {len(endpoints)} endpoint(s) ({', '.join(endpoints[:3])}{'…' if len(endpoints) > 3 else ''}); {change}"
    if improvements:
        return f"IMPROVED: run {new['id']} is better than run {base['id']}; {change}"
    return f"SAME: run {new['id']} is within noise of run {base['id']}; {change}"
