"""Runs: the history, one run, the comparison of two or more; starting a run and steering one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..compare import compare
from ..errors import UserError
from ..record.store import summaries
from ..runs import control, get_run, list_runs, series
from ..scenario.store import list_sets
from . import engine
from .launch import Policy, command, start

MAX_DATA = 16 * 1024 * 1024  # a --data CSV sent with the form: rows of variables, not a data set

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
    runs.sort(key=lambda r: r["status"] != "running")  # stable: running runs first, each part as sorted
    return render_template("runs.html", runs=runs, q=text, status=status, sort=sort, descending=descending, sortable=SORTABLE)


def _run_or_404(run_id: int) -> dict[str, Any]:
    try:
        return get_run(engine(), run_id)
    except UserError:
        abort(404, description=f"No run {run_id}")


@bp.get("/runs/<int:run_id>")
def detail(run_id: int) -> str:
    run = _run_or_404(run_id)
    return render_template("run.html", run=run, series=series(engine(), run_id), policy=_policy())


def _policy() -> Policy:
    return current_app.extensions["replayswarm.policy"]  # type: ignore[no-any-return]


@bp.route("/runs/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    """The New run form; posting it starts `replayswarm play` (or `capacity`) as its own process."""
    sets = [s["name"] for s in list_sets(engine())]
    # A recording converted under its own name is its scenario set, which play picks by that name.
    recordings = [r.name for r in summaries(engine()) if r.name not in sets]
    policy = _policy()
    form = request.form if request.method == "POST" else request.args
    if request.method == "GET" or not policy.targets:
        page = render_template("new_run.html", sets=sets, recordings=recordings, policy=policy, form=form, error=None)
        return page if request.method == "GET" else (page, 403)  # a UI without --allow-target only looks
    try:
        args = command(form, {*sets, *recordings}, policy)
        upload = request.files.get("data")
        data = upload.stream.read(MAX_DATA + 1) if upload and upload.filename else None
        if data is not None and len(data) > MAX_DATA:
            raise UserError(f"the data file is over {MAX_DATA // 2**20} MiB")
        started = start(engine(), current_app.config["REPLAYSWARM_DB"], args, data)
    except UserError as exc:
        return render_template("new_run.html", sets=sets, recordings=recordings, policy=policy, form=form, error=str(exc)), 400
    if started.run_id is None:
        flash(f"The run (process {started.pid}) is still validating its scenarios: it shows here once it starts.")
        return redirect(url_for("runs.index"), 303)
    return redirect(url_for("runs.detail", run_id=started.run_id), 303)


@bp.post("/runs/<int:run_id>/control")
def steer(run_id: int) -> ResponseReturnValue:
    """Stop a running run, or change its user count (within this UI's cap); CLI runs too."""
    try:
        if request.form.get("action") == "stop":
            control(engine(), run_id, stop=True)
            flash("Stop asked for: the run ends within a second or two, keeping what it measured.")
        else:
            text = request.form.get("users", "").strip()
            if not text.isdigit():
                raise UserError(f"users {text!r} is not a whole number")
            users = _policy().capped(int(text), "Users")
            control(engine(), run_id, users=users)
            flash(f"{users} users asked for: the run moves there at its spawn rate.")
    except UserError as exc:
        flash(f"Refused: {exc}", "error")
    return redirect(url_for("runs.detail", run_id=run_id), 303)


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
