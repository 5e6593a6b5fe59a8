"""JSON under /api/: runs, one run (with its time series), comparisons."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from ..compare import compare
from ..errors import UserError
from ..runs import get_run, list_runs, series
from . import engine

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/runs")
def runs() -> ResponseReturnValue:
    status = request.args.get("status")
    return jsonify([r for r in list_runs(engine()) if status is None or r["status"] == status])


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    try:
        data = get_run(engine(), run_id)
    except UserError as exc:
        return jsonify({"error": str(exc)}), 404
    return jsonify({**data, "series": series(engine(), run_id)})


@bp.get("/compare")
def compare_runs() -> ResponseReturnValue:
    # The earliest run is the baseline the others are judged against.
    ids = sorted({int(i) for i in request.args.getlist("run") if i.isdigit()})
    if len(ids) < 2:
        abort(400, description="give two or more ?run=ID")
    try:
        runs = [get_run(engine(), i) for i in ids]
    except UserError as exc:
        return jsonify({"error": str(exc)}), 404
    return jsonify({"comparisons": [compare(runs[0], other) for other in runs[1:]]})
