"""Scenario sets: scenarios with weights, steps, think times and correlation rules."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..errors import UserError
from ..scenario.store import list_sets, load_set
from . import engine

bp = Blueprint("scenarios", __name__, url_prefix="/scenarios")


@bp.get("/")
def index() -> str:
    return render_template("scenarios.html", sets=list_sets(engine()))


@bp.get("/<path:name>")
def detail(name: str) -> str:
    try:
        scenario_set, _secrets, summary = load_set(engine(), name)
    except UserError:
        abort(404, description=f"No scenario set named {name!r}")
    return render_template("scenario.html", scenario_set=scenario_set, summary=summary)
