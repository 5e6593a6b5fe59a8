"""Who may use the UI, and which POSTs are really theirs.

Loopback is no boundary: any local process, and the recording proxy, can reach a loopback port.
So every route but static assets needs one of
- the token printed at start (`?token=` once, as Jupyter does), exchanged for a session cookie;
- `Authorization: Bearer TOKEN`, for scripts;
- HTTP basic auth, when the UI was started with `--auth USER:PASSWORD`.

A cookie or basic credentials travel with any request a browser makes, including a form another
page posts. So a POST must also carry the session's CSRF token and come from this UI's own
origin (`Origin`, else `Referer`): a page on another local port is same-site, but not same-origin.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

PUBLIC = ("static", "plotly_js", "auth.login")  # endpoints anyone may fetch: assets, and the login form


@dataclass(frozen=True)
class Access:
    """How requests authenticate: a token (the default) or basic credentials (`--auth`)."""

    token: str | None = None
    basic: tuple[str, str] | None = None


bp = Blueprint("auth", __name__)


def install(app: Flask, access: Access, port: int) -> None:
    """Guard every request of `app`; the session cookie is this UI's alone (cookies ignore ports)."""
    app.secret_key = secrets.token_bytes(32)  # a restart signs out: the token is asked again
    app.config.update(SESSION_COOKIE_NAME=f"replayswarm-{port}", SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.extensions["replayswarm.access"] = access
    app.register_blueprint(bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.before_request(_authenticate)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def _access() -> Access:
    return current_app.extensions["replayswarm.access"]  # type: ignore[no-any-return]


def _same(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _authenticate() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC:
        return _checked_post() if request.method == "POST" else None
    access = _access()
    header = request.headers.get("Authorization", "")
    if access.token and header.startswith("Bearer "):
        # A header no page can make a browser add: no ambient credential, so no CSRF check.
        return None if _same(header[7:].strip(), access.token) else _refuse("the bearer token is not this UI's")
    if access.basic is not None:
        given = request.authorization
        if given is None or given.type != "basic" or not (_same(given.username, access.basic[0]) and _same(given.password, access.basic[1])):
            return Response("Authentication required\n", 401, {"WWW-Authenticate": 'Basic realm="replayswarm"'})
    elif not session.get("signed_in"):
        offered = request.args.get("token")
        if offered is None or not _same(offered, access.token):
            return _refuse("this UI needs the token it printed at start" if offered is None else "that is not this UI's token")
        _sign_in()
        # Take the token out of the address bar and the history; the cookie carries on.
        query = request.args.to_dict(flat=False)
        query.pop("token")
        return redirect(request.base_url + ("?" + urlencode(query, doseq=True) if query else ""), 303)
    return _checked_post() if request.method == "POST" else None


def _sign_in() -> None:
    session.clear()
    session["signed_in"] = True
    csrf_token()


def _refuse(reason: str) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return jsonify({"error": f"authentication required: {reason}"}), 401
    return render_template("login.html", reason=reason, next=request.full_path.rstrip("?")), 401


def _checked_post() -> None:
    """A POST made by this UI's own pages: same origin, and the session's CSRF token."""
    own = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin") or _origin(request.headers.get("Referer"))
    if origin != own:
        abort(403, description=f"a form posted from {origin or 'an unknown page'} is refused: only this UI's pages ({own}) may post")
    if request.endpoint == "auth.login":
        return  # signing in makes the session: there is no token to match yet
    if not _same(request.form.get("csrf") or request.headers.get("X-CSRF-Token"), session.get("csrf")):
        abort(403, description="the form's CSRF token is missing or stale: reload the page and try again")


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    access = _access()
    target = request.values.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"  # never off this UI
    if request.method == "POST":
        if access.token and _same(request.form.get("token", "").strip(), access.token):
            _sign_in()
            return redirect(target, 303)
        return render_template("login.html", reason="that is not this UI's token", next=target), 401
    return render_template("login.html", reason=None, next=target)
