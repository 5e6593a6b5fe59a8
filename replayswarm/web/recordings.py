"""Recordings: sessions and flows, every secret masked and every value shown as text."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..convert.recorded import Recorded
from ..convert.sessions import split_sessions
from ..errors import UserError
from ..record.show import flow_view
from ..record.store import get_recording, summaries
from . import engine

bp = Blueprint("recordings", __name__, url_prefix="/recordings")


@bp.get("/")
def index() -> str:
    return render_template("recordings.html", recordings=summaries(engine()))


@bp.get("/<path:name>")
def detail(name: str) -> str:
    try:
        summary, flows = get_recording(engine(), name)
    except UserError:
        abort(404, description=f"No recording named {name!r}")
    views = {f.seq: flow_view(f) for f in flows}
    sessions = [[views[r.seq] for r in session] for session in split_sessions([Recorded.of(f) for f in flows])] if flows else []
    first = flows[0].started if flows else 0.0
    return render_template("recording.html", summary=summary, sessions=sessions, first=first)
