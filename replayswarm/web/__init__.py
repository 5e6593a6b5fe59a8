"""The web UI: `create_app` and one Blueprint per area (runs, recordings, scenarios, api, auth).

It reads the database, and starts and steers runs as `replayswarm play` processes (`launch`),
only towards the hosts its policy allows. Templates and assets come from `ui/` (shipped in the wheel).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, abort, request, send_file

from ..db import open_db
from ..hosts import host_of, is_loopback_name
from ..masking import mask_header
from ..resources import plotly_path, ui_dir
from .auth import Access, install
from .launch import Policy


def create_app(db_url: str, bind: str = "127.0.0.1", port: int = 8089, access: Access | None = None, policy: Policy = Policy()) -> Flask:
    """The UI's Flask app. access: how requests authenticate (default: a fresh random token, in
    `app.config["REPLAYSWARM_TOKEN"]`); policy: where and how much load it may start."""
    ui = ui_dir()
    app = Flask(__name__, template_folder=str(ui / "templates"), static_folder=str(ui / "static"), static_url_path="/static")
    app.extensions["replayswarm.engine"] = open_db(db_url)
    app.extensions["replayswarm.policy"] = policy
    app.config.update(REPLAYSWARM_DB=db_url, REPLAYSWARM_BIND=bind, REPLAYSWARM_PORT=port)
    access = access or Access(token=secrets.token_urlsafe(24))
    app.config["REPLAYSWARM_TOKEN"] = access.token

    from .api import bp as api
    from .recordings import bp as recordings
    from .runs import bp as runs
    from .scenarios import bp as scenarios

    for blueprint in (runs, recordings, scenarios, api):
        app.register_blueprint(blueprint)

    @app.before_request
    def guard() -> None:
        # DNS rebinding: a page on another site must not reach this UI through a name it controls.
        host = host_of(request.host or "").lower()
        if not (is_loopback_name(host) or host == bind.lower()):
            abort(400, description=f"Host {request.host!r} is not this UI's address")

    install(app, access, port)  # after the Host check: a foreign Host is refused before anything else

    @app.after_request
    def headers(response: Response) -> Response:
        # Recorded traffic is shown here: nothing from it may run as script.
        # A page that starts load must not be framed by another one either (clickjacking).
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                    "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.template_filter("shown_header")
    def shown_header(value: str, name: str) -> str:
        # A template (`${csrf}`) says where a value goes and holds no secret; a literal may.
        return value if "${" in value else mask_header(name, value)

    @app.get("/vendor/plotly.min.js")
    def plotly_js() -> Response:
        return send_file(plotly_path(), mimetype="text/javascript", max_age=86400)

    return app


def engine():  # type: ignore[no-untyped-def]
    from flask import current_app

    return current_app.extensions["replayswarm.engine"]
