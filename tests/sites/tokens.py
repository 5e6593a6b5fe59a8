"""A single-page app that logs in through a JSON token API, as many do: the page posts the
credentials as JSON, gets an access token and a refresh token in the answer, and sends
`Authorization: Bearer ...` with every API call. An access token is good for one write only, so
the app refreshes it mid-visit. Standard library only; `python -m tests.sites.tokens PORT`."""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = {"carol": "carol-pass-123", "dave": "dave-pass-123"}

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Items</title></head><body>
<input id="u" name="u" autocomplete="username"><input id="p" type="password" autocomplete="current-password">
<button id="go">Sign in and add two items</button><p id="state">ready</p>
<script>
document.getElementById('go').onclick = async () => {
  const json = {'Content-Type': 'application/json'};
  const login = await (await fetch('/api/login', {method: 'POST', headers: json,
      body: JSON.stringify({username: document.getElementById('u').value, password: document.getElementById('p').value})})).json();
  let token = login.access_token;
  const add = (title) => fetch('/api/items', {method: 'POST', headers: {...json, Authorization: 'Bearer ' + token},
      body: JSON.stringify({title})});
  await add('first');
  // The access token is spent: refresh it, as the app's token library does.
  token = (await (await fetch('/api/token/refresh', {method: 'POST', headers: json,
      body: JSON.stringify({refresh_token: login.refresh_token})})).json()).access_token;
  const item = await (await add('second')).json();
  await fetch('/api/items/' + item.id, {headers: {Authorization: 'Bearer ' + token}});
  document.getElementById('state').textContent = 'done';
};
</script></body></html>"""


class App:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access: dict[str, str] = {}  # token → user
        self.spent: set[str] = set()  # tokens that made their one write
        self.refresh: dict[str, str] = {}
        self.items: list[dict[str, object]] = []
        self.rejected = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: object) -> None:
        self._send(status, json.dumps(doc).encode())

    def _user(self, spend: bool) -> str | None:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.app.lock:
            user = self.app.access.get(token)
            if user is None or spend and token in self.app.spent:
                self.app.rejected += 1
                return None
            if spend:
                self.app.spent.add(token)
            return user

    def do_GET(self) -> None:
        if self.path == "/":
            return self._send(200, PAGE, "text/html; charset=utf-8")
        if self.path == "/api/stats":
            with self.app.lock:
                return self._json(200, {"items": self.app.items, "rejected": self.app.rejected})
        if self.path.startswith("/api/items/"):
            if self._user(spend=False) is None:
                return self._json(401, {"error": "bad token"})
            wanted = self.path.rsplit("/", 1)[1]
            found = [i for i in self.app.items if str(i["id"]) == wanted]
            return self._json(200, found[0]) if found else self._json(404, {"error": "no such item"})
        self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/api/login":
            if USERS.get(doc.get("username")) != doc.get("password"):
                return self._json(403, {"error": "wrong credentials"})
            return self._json(200, self._issue(doc["username"]))
        if self.path == "/api/token/refresh":
            with self.app.lock:
                user = self.app.refresh.pop(doc.get("refresh_token"), None)
            if user is None:
                return self._json(401, {"error": "bad refresh token"})
            return self._json(200, self._issue(user))
        if self.path == "/api/items":
            user = self._user(spend=True)
            if user is None:
                return self._json(401, {"error": "bad token"})
            with self.app.lock:
                item = {"id": len(self.app.items) + 101, "title": doc.get("title"), "owner": user}
                self.app.items.append(item)
            return self._json(201, item)
        self._json(404, {"error": "not found"})

    def _issue(self, user: str) -> dict[str, str]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self.app.lock:
            self.app.access[access] = user
            self.app.refresh[refresh] = user
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.app = App()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    serve(int(sys.argv[1]))
    threading.Event().wait()
