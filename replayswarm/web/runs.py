"""Runs: the history, one run, and the comparison of two or more."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from ..compare import compare
from ..errors import UserError
from ..runs import get_run, list_runs, series
from . import engine

bp = Blueprint("runs", __name__)

SORTABLE = ("id", "label", "source", "host", "users", "duration_s", "requests", "error_pct", "p95_ms", "rps", "status", "started")


@bp.get("/")
def index() -> str:
    runs = list_runs(engine())
    text = request.args.get("q", "").strip().lower()
    status = request.args.get("status", "")
    if text:
        runs = [r for r in runs if text in " ".join([str(r["label"] or ""), r["source"], r["host"], *(f"{k}={v}" for k, v in r["tags"].items())]).lower()]
    if status:
        runs = [r for r in runs if r["status"] == status]
    sort = request.args.get("sort", "id")
    sort = sort if sort in SORTABLE else "id"
    descending = request.args.get("order", "desc") == "desc"
    runs.sort(key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0), reverse=descending)
    return render_template("runs.html", runs=runs, q=text, status=status, sort=sort, descending=descending, sortable=SORTABLE)


def _run_or_404(run_id: int) -> dict[str, Any]:
    try:
        return get_run(engine(), run_id)
    except UserError:
        abort(404, description=f"No run {run_id}")


@bp.get("/runs/<int:run_id>")
def detail(run_id: int) -> str:
    run = _run_or_404(run_id)
    return render_template("run.html", run=run, series=series(engine(), run_id))


@bp.get("/compare")
def compare_runs() -> str:
    # The earliest run is the baseline the others are judged against.
    ids = sorted({int(i) for i in request.args.getlist("run") if i.isdigit()})
    if len(ids) < 2:
        abort(400, description="Pick two or more runs to compare")
    runs = [_run_or_404(i) for i in ids]
    base = runs[0]
    comparisons = [compare(base, other) for other in runs[1:]]
    return render_template(
        "compare.html", runs=runs, comparisons=comparisons,
        series={r["id"]: series(engine(), r["id"]) for r in runs},
    )
