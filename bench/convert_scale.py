"""convert at scale: time and peak memory of `replayswarm convert` on a long recording of many
people, and whether it finds the visits they made.

Generates a synthetic HAR 1.2 file of a small shop (`http://shop.test`) visited by many people
at once (hundreds of overlapping visits), every visit starting anonymous, most of them logging in:

- the front page (HTML with a login form: a per-page CSRF hidden input, a constant hidden
  `action=login`; links to /items/ID/), its CSS, JS and logo on several connections (HAR
  `connection`, `Referer`, `Sec-Fetch-Dest`), a JSON call;
- a login POST (form body with the token, username, password) answered by a 302 that sets the
  session cookie; list pages, item pages (image, JSON stock call); a create POST answered by a
  302 with an absolute `Location: http://shop.test/items/ID/`; JSON API calls with bodies and an
  X-CSRFToken header echoing a cookie.

Browsers behave like Chromium on HTTP/1.1: at most 6 connections per host, the most recently
used idle connection is reused, the server closes one after 60 s idle, CSS/JS come from the cache
after the first page. Nothing but the connection, the Referer, timing and the values handed out
ties a visit's anonymous start to its logged-in rest. Seeded: the same arguments give the same file.

For each size it imports the file into a fresh SQLite database (`replayswarm import`, timed but
not part of the goal), then times `replayswarm convert NAME --json` as a subprocess: wall time,
CPU time and the peak RSS of that process alone (`os.wait4`'s rusage). Goal (issue 9): 100,000
flows in under a minute, under 5 KB of memory a flow, growing linearly. The generator knows every visit, so the
report also says whether convert found exactly those visits: how many, and how many with exactly
the same flows (first flow, last flow and flow count from `--json`'s `explain`).

    .venv/bin/python bench/convert_scale.py                      # 25k, 50k, 100k flows; ~3 minutes
    .venv/bin/python bench/convert_scale.py --flows 20000        # 5k, 10k, 20k
    .venv/bin/python bench/convert_scale.py --sizes 1000,100000 --profile  # + cProfile
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import re
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import ROOT, code_fingerprint, code_version

SITE = "http://shop.test"
HOST = "shop.test"
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()

KEEPALIVE = 60.0  # the server closes a connection idle this long (seconds)
MAX_CONNS = 6  # per host, as browsers do on HTTP/1.1
CATALOG = 3000  # items that exist before the recording
PER_PAGE = 10
GOAL_SECONDS = 60.0
GOAL_KB_PER_FLOW = 5.0

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
ASSETS = (  # the front page's sub-resources: path, Sec-Fetch-Dest, MIME type, HAR resource type
    ("/static/app.3f9a2c1d.css", "style", "text/css", "stylesheet"),
    ("/static/vendor.8b1e0f44.js", "script", "application/javascript", "script"),
    ("/static/app.c07d5e92.js", "script", "application/javascript", "script"),
    ("/static/logo.svg", "image", "image/svg+xml", "image"),
)
AGENTS = (  # (weight, User-Agent): many people share a browser's string
    (40, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    (20, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    (15, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    (10, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"),
    (10, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
    (5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
)
ADJECTIVES = ("blue", "small", "copper", "linen", "oak", "glass", "wool", "stone", "brass", "paper", "clay", "silver", "green")
NOUNS = ("teapot", "lamp", "bowl", "chair", "scarf", "vase", "clock", "notebook", "mug", "basket", "rug", "kettle", "frame", "jar")
LOREM = (
    "Made by hand in a small workshop, each piece differs a little from the photograph. The materials "
    "come from suppliers we have known for years; nothing is varnished or treated beyond what the "
    "craft requires. Ships within three working days in recycled packaging. Returns are free for "
    "thirty days: write to us and we send a label. Care: wipe with a dry cloth, keep out of direct "
    "sun, and it will last for decades. Dimensions and weight are in the table below; colours may "
    "look slightly different on your screen. Questions about this item? Ask in the comments and the "
    "maker answers within a day or two. "
)
CSS = ("body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#222}header{display:flex;gap:1rem;padding:.5rem 1rem;"
       "background:#f6f3ee}nav a{margin-right:1rem}.price{font-weight:600}.featured ul{display:grid;grid-template-"
       "columns:repeat(3,1fr);gap:1rem;list-style:none;padding:0}form label{display:block;margin:.25rem 0}button{pad"
       "ding:.4rem 1rem;border:1px solid #999;border-radius:4px;background:#fff}footer{margin-top:3rem;color:#777}")
JS_VENDOR = ("/*! tiny-dom 1.4.2 */(function(w){'use strict';function q(s,c){return(c||document).querySelector(s)}"
             "function on(e,t,f){e.addEventListener(t,f,false)}function get(u){return fetch(u,{credentials:'same-origin',"
             "headers:{Accept:'application/json'}}).then(function(r){return r.json()})}w.tiny={q:q,on:on,get:get}})(window);")
JS_APP = ("(function(){var t=window.tiny;function cookie(n){var m=document.cookie.match('(^|; )'+n+'=([^;]*)');return m?"
          "m[2]:''}function post(u,b){return fetch(u,{method:'POST',credentials:'same-origin',headers:{'Content-Type':"
          "'application/json','X-CSRFToken':cookie('csrftoken')},body:JSON.stringify(b)}).then(function(r){return r.json()"
          "})}var s=t.q('#stock');if(s){t.get('/api/items/'+s.dataset.item+'/stock').then(function(d){s.textContent=d.sto"
          "ck+' in stock'})}var b=t.q('#banner');if(b){t.get('/api/banner/').then(function(d){b.textContent=d.text})}})();")
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="32" viewBox="0 0 96 32"><rect width="96" height="32" '
       'rx="6" fill="#2d6a4f"/><text x="48" y="21" font-family="sans-serif" font-size="14" fill="#fff" '
       'text-anchor="middle">shop</text></svg>')
BODIES = {ASSETS[0][0]: CSS, ASSETS[1][0]: JS_VENDOR, ASSETS[2][0]: JS_APP, ASSETS[3][0]: SVG}


def title(item: int) -> str:
    return f"{ADJECTIVES[item % len(ADJECTIVES)].title()} {NOUNS[(item // len(ADJECTIVES)) % len(NOUNS)]} no. {item}"


def price(item: int) -> str:
    return f"{5 + (item * 37) % 120}.{(item * 13) % 100:02d}"


def iso(t_us: int) -> str:
    return datetime.fromtimestamp(t_us / 1e6, tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- pages -------------------------------------------------------------------------------------

HEAD = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title} · Shop</title>\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<link rel="stylesheet" href="{ASSETS[0][0]}">\n<script src="{ASSETS[1][0]}" defer></script>\n'
        f'<script src="{ASSETS[2][0]}" defer></script>\n</head><body>\n'
        '<header><a href="/"><img src="/static/logo.svg" alt="Shop" width="96" height="32"></a>\n'
        '<nav><a href="/items/">All items</a> <a href="/about/">About us</a> <a href="/help/">Help</a>{nav}</nav>\n'
        '<form class="search" method="get" action="/search/"><input type="search" name="q" placeholder="Search">'
        '<button type="submit">Search</button></form></header>\n<main>\n')
FOOT = ('</main>\n<footer><p>Shop · 12 Market Street · <a href="/terms/">Terms</a> · <a href="/privacy/">Privacy</a>'
        '</p><p>Prices include VAT. Free shipping from 60.00.</p></footer>\n</body></html>\n')


def head(page_title: str, user: str | None, token: str | None) -> str:
    nav = ""
    if user:
        nav = (f' <a href="/items/new/">Sell an item</a> <span class="who">Signed in as {user}</span>'
               f'<form id="logout" method="post" action="/logout/"><input type="hidden" name="csrf_token" value="{token}">'
               '<button type="submit">Log out</button></form>')
    return HEAD.format(title=page_title, nav=nav)


def item_li(item: int, thumb: bool | None) -> str:
    img = f'<img src="/media/thumbs/{item}.jpg" alt=""{"" if thumb else " loading=lazy"}> ' if thumb is not None else ""
    return f'<li>{img}<a href="/items/{item}/">{title(item)}</a> <span class="price">{price(item)}</span></li>\n'


def front_page(token: str, featured: list[int]) -> str:
    items = "".join(item_li(i, None) for i in featured)
    return (head("Home", None, None)
            + '<h1>Things made by hand</h1>\n<p id="banner"></p>\n'
            + f'<section class="featured"><h2>Featured this week</h2><ul>\n{items}</ul></section>\n'
            + '<section class="account"><h2>Sign in</h2>\n'
            + '<form id="login" method="post" action="/login/">\n'
            + f'<input type="hidden" name="csrf_token" value="{token}">\n'
            + '<input type="hidden" name="action" value="login">\n'
            + '<label>User name <input type="text" name="username" autocomplete="username" required></label>\n'
            + '<label>Password <input type="password" name="password" autocomplete="current-password" required></label>\n'
            + '<button type="submit">Sign in</button>\n</form>\n<p><a href="/signup/">New here? Create an account</a></p></section>\n'
            + FOOT)


def list_items(page: int) -> list[int]:
    first = (page - 1) * PER_PAGE
    return [CATALOG - ((first + k) % CATALOG) for k in range(PER_PAGE)]


def list_page(page: int, user: str | None, token: str | None) -> str:
    items = "".join(item_li(i, k < 4) for k, i in enumerate(list_items(page)))
    pager = "".join(f'<a href="/items/?page={p}">{p}</a> ' for p in range(max(1, page - 2), page + 3) if p != page)
    return head(f"All items, page {page}", user, token) + f"<h1>All items</h1>\n<ul class=\"items\">\n{items}</ul>\n<p class=\"pager\">{pager}</p>\n" + FOOT


def related(item: int) -> list[int]:
    return [1 + (item * k * 7919) % CATALOG for k in (1, 2, 3)]


def item_page(item: int, user: str | None, token: str | None, owner: bool = False) -> str:
    text = LOREM[: 200 + (item * 97) % 500]
    links = "".join(f'<li><a href="/items/{r}/">{title(r)}</a></li>' for r in related(item))
    edit = f'<p><a href="/items/{item}/edit/">Edit your item</a></p>\n' if owner else ""
    return (head(title(item), user, token)
            + f'<h1>{title(item)}</h1>\n<img src="/media/items/{item}.jpg" alt="" width="480" height="360">\n'
            + f'<p class="price">{price(item)}</p>\n<p id="stock" data-item="{item}"></p>\n{edit}<p>{text}</p>\n'
            + f'<h2>You may also like</h2><ul>{links}</ul>\n<p><a href="/items/">Back to all items</a></p>\n' + FOOT)


def new_item_page(user: str, token: str) -> str:
    return (head("Sell an item", user, token)
            + '<h1>Sell an item</h1>\n<form id="new-item" method="post" action="/items/new/">\n'
            + f'<input type="hidden" name="csrf_token" value="{token}">\n'
            + '<label>Title <input type="text" name="title" required></label>\n'
            + '<label>Price <input type="text" name="price" inputmode="decimal" required></label>\n'
            + '<label>Description <textarea name="description" rows="6"></textarea></label>\n'
            + '<button type="submit" name="save" value="Save">Save</button>\n</form>\n' + FOOT)


# -- browsers ----------------------------------------------------------------------------------


@dataclass
class Conn:
    id: str
    free: float  # when its current exchange ends
    dead: bool = False


@dataclass
class Sim:
    rng: random.Random
    entries: list[tuple[int, int, int, str]] = field(default_factory=list)  # (start µs, order, visit, HAR entry JSON)
    next_conn: int = 40000
    next_item: int = CATALOG + 1
    next_id: int = 1
    flows: int = 0
    spans: list[tuple[float, float]] = field(default_factory=list)  # each visit's first start, last end

    def token(self, n: int = 64) -> str:
        return "".join(self.rng.choices(ALNUM, k=n))


class Browser:
    """One person's browser for one visit: its connections, its cookies, its cache."""

    def __init__(self, sim: Sim, visit: int, agent: str) -> None:
        self.sim, self.rng, self.visit, self.agent = sim, sim.rng, visit, agent
        self.conns: list[Conn] = []
        self.cookies: dict[str, str] = {}
        self.cached: set[str] = set()
        self.user: str | None = None
        self.last_end = 0.0

    # The connection a request starting at `t` goes out on, when it can start, and whether it is new.
    def connection(self, t: float) -> tuple[Conn, float, bool]:
        for c in self.conns:
            if not c.dead and c.free <= t and t - c.free > KEEPALIVE:
                c.dead = True
        open_ = [c for c in self.conns if not c.dead]
        idle = [c for c in open_ if c.free <= t]
        if idle:  # Chromium reuses the most recently used idle socket
            return max(idle, key=lambda c: c.free), t, False
        if len(open_) < MAX_CONNS:
            conn = Conn(id=str(self.sim.next_conn), free=t)
            self.sim.next_conn += 1
            self.conns.append(conn)
            return conn, t, True
        conn = min(open_, key=lambda c: c.free)
        return conn, conn.free, False

    def send(self, t: float, method: str, url: str, *, dest: str, referer: str | None, resource: str,
             status: int = 200, mime: str | None = None, text: str | None = None, binary: int = 0,
             body: str | None = None, body_type: str | None = None, headers: Sequence[tuple[str, str]] = (),
             response_headers: Sequence[tuple[str, str]] = (), wait: tuple[float, float] = (20, 90)) -> float:
        """One exchange; returns when its response ended."""
        rng = self.rng
        conn, start, new = self.connection(t)
        blocked = rng.uniform(0.3, 2.5)
        connect = rng.uniform(0.3, 1.2) if new else -1
        send_ms = rng.uniform(0.05, 0.3)
        wait_ms = rng.uniform(*wait)
        content = (text or "").encode()
        size = len(content) if text is not None else binary
        receive = 0.1 + size / 8000.0
        total = blocked + max(connect, 0) + send_ms + wait_ms + receive
        end = start + total / 1000.0
        conn.free = end

        navigate = dest == "document"
        req = [("Host", HOST), ("Connection", "keep-alive")]
        if navigate:
            req.append(("Upgrade-Insecure-Requests", "1"))
        req.append(("User-Agent", self.agent))
        if body_type:
            req.append(("Content-Type", body_type))
        if method == "POST":
            req.append(("Origin", SITE))
        req += list(headers)
        accept = {"document": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
                  "style": "text/css,*/*;q=0.1", "script": "*/*", "image": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
                  "empty": "application/json"}[dest]
        req.append(("Accept", accept))
        req += [("Sec-Fetch-Site", "same-origin" if referer else "none"),
                ("Sec-Fetch-Mode", "navigate" if navigate else "cors" if dest == "empty" else "no-cors")]
        if navigate:
            req.append(("Sec-Fetch-User", "?1"))
        req.append(("Sec-Fetch-Dest", dest))
        if referer:
            req.append(("Referer", referer))
        req += [("Accept-Encoding", "gzip, deflate"), ("Accept-Language", "en-US,en;q=0.9")]
        if self.cookies:
            req.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))

        resp = [("Server", "nginx/1.22.1"), ("Date", datetime.fromtimestamp(end, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"))]
        if mime:
            resp.append(("Content-Type", mime + ("; charset=utf-8" if mime.startswith("text/") or mime == "application/json" else "")))
        resp.append(("Content-Length", str(size)))
        resp.append(("Connection", "keep-alive"))
        resp += list(response_headers)
        if mime == "text/html":
            resp += [("Vary", "Cookie"), ("Cache-Control", "private, no-cache"), ("X-Frame-Options", "DENY")]
        elif dest in ("style", "script", "image"):
            resp.append(("Cache-Control", "public, max-age=31536000, immutable"))

        query = url[len(SITE):].partition("?")[2]
        entry: dict[str, Any] = {
            "startedDateTime": None,
            "time": round(total, 3),
            "request": {
                "method": method, "url": url, "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in req],
                "queryString": [{"name": k, "value": v} for k, _, v in (p.partition("=") for p in query.split("&") if p)],
                "cookies": [], "headersSize": -1, "bodySize": len(body.encode()) if body else 0,
            },
            "response": {
                "status": status, "statusText": {200: "OK", 201: "Created", 302: "Found"}[status], "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in resp], "cookies": [],
                "content": {"size": size, "mimeType": mime or "x-unknown"},
                "redirectURL": next((v for k, v in response_headers if k == "Location"), ""),
                "headersSize": -1, "bodySize": size, "_transferSize": size + 300,
            },
            "cache": {},
            "timings": {"blocked": round(blocked, 3), "dns": -1, "ssl": -1, "connect": round(connect, 3),
                        "send": round(send_ms, 3), "wait": round(wait_ms, 3), "receive": round(receive, 3)},
            "serverIPAddress": "192.0.2.10",
            "connection": conn.id,
            "_resourceType": resource,
        }
        if body is not None:
            entry["request"]["postData"] = {"mimeType": body_type, "text": body}
        if text is not None:
            entry["response"]["content"]["text"] = text
        elif binary:
            entry["response"]["content"]["text"] = base64.b64encode(self.rng.randbytes(min(binary, 240))).decode()
            entry["response"]["content"]["encoding"] = "base64"
        t_us = round(start * 1e6)
        entry["startedDateTime"] = iso(t_us)
        self.sim.entries.append((t_us, len(self.sim.entries), self.visit, json.dumps(entry, separators=(",", ":"))))
        self.sim.flows += 1
        self.last_end = max(self.last_end, end)
        return end

    def html(self, t: float, url: str, text: str, referer: str | None, method: str = "GET", **kw: Any) -> float:
        return self.send(t, method, url, dest="document", referer=referer, resource="document", mime="text/html", text=text, **kw)

    def subresources(self, t: float, page_url: str, wanted: list[tuple[str, str, str, str, int]]) -> tuple[float, float]:
        """Fetched once the HTML is in, in document order; returns (scripts done, all done)."""
        scripts = done = t
        for path, dest, mime, resource, size in wanted:
            if path in self.cached:
                continue
            start = t + self.rng.uniform(0.003, 0.030)
            text = BODIES.get(path)
            end = self.send(start, "GET", SITE + path, dest=dest, referer=page_url, resource=resource, mime=mime,
                            text=text, binary=0 if text is not None else size, wait=(2, 15))
            if path.startswith("/static/"):
                self.cached.add(path)
            if dest == "script":
                scripts = max(scripts, end)
            done = max(done, end)
        return scripts, done

    def api(self, t: float, method: str, path: str, page_url: str, doc: Any, status: int = 200, sent: Any = None) -> float:
        headers = [("X-CSRFToken", self.cookies["csrftoken"])] if method == "POST" and "csrftoken" in self.cookies else []
        body = json.dumps(sent, separators=(",", ":")) if sent is not None else None
        return self.send(t, method, SITE + path, dest="empty", referer=page_url, resource="fetch", status=status,
                         mime="application/json", text=json.dumps(doc, separators=(",", ":")), body=body,
                         body_type="application/json" if body else None, headers=headers, wait=(8, 45))

    # -- what people do --------------------------------------------------------------------------

    def front(self, t: float, referer: str | None) -> tuple[float, str, list[int]]:
        token = self.sim.token()
        featured = [self.rng.randint(1, CATALOG) for _ in range(6)]
        end = self.html(t, SITE + "/", front_page(token, featured), referer, wait=(30, 120))
        wanted = [(p, d, m, r, 0) for p, d, m, r in ASSETS]
        scripts, done = self.subresources(end, SITE + "/", wanted)
        banner = {"id": 3, "text": "Free shipping this week", "until": "2026-03-09"}
        done = max(done, self.api(scripts + self.rng.uniform(0.005, 0.04), "GET", "/api/banner/", SITE + "/", banner))
        return done, token, featured

    def item(self, t: float, item: int, referer: str, owner: bool = False) -> float:
        url = f"{SITE}/items/{item}/"
        token = self.sim.token() if self.user else None
        end = self.html(t, url, item_page(item, self.user, token, owner), referer, wait=(25, 110))
        scripts, done = self.subresources(end, url, [(f"/media/items/{item}.jpg", "image", "image/jpeg", "image", 18000 + item % 9000)])
        stock = {"item_id": item, "stock": (item * 7) % 23, "updated": "2026-03-02T08:00:00Z"}
        return max(done, self.api(max(end, scripts) + self.rng.uniform(0.01, 0.05), "GET", f"/api/items/{item}/stock", url, stock))

    def listing(self, t: float, page: int, referer: str) -> tuple[float, str]:
        url = f"{SITE}/items/" + (f"?page={page}" if page > 1 else "")
        token = self.sim.token() if self.user else None
        end = self.html(t, url, list_page(page, self.user, token), referer, wait=(40, 150))
        thumbs = [(f"/media/thumbs/{i}.jpg", "image", "image/jpeg", "image", 2500 + i % 900) for i in list_items(page)[:4]]
        _, done = self.subresources(end, url, thumbs)
        return done, url

    def login(self, t: float, token: str, referer: str, number: int) -> tuple[float, str]:
        self.user = f"shopper{number}"
        form = f"csrf_token={token}&action=login&username={self.user}&password=Pw-{self.sim.token(10)}"
        session, csrf = "".join(self.rng.choices(HEX + "ghijklmnopqrstuvwxyz", k=32)), self.sim.token(32)
        set_cookies = [
            ("Set-Cookie", f"csrftoken={csrf}; expires=Mon, 01 Mar 2027 09:00:00 GMT; Max-Age=31449600; Path=/; SameSite=Lax"),
            ("Set-Cookie", f"sessionid={session}; expires=Mon, 16 Mar 2026 09:00:00 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"),
        ]
        end = self.send(t, "POST", SITE + "/login/", dest="document", referer=referer, resource="document", status=302,
                        mime="text/html", text="", body=form, body_type="application/x-www-form-urlencoded",
                        response_headers=[("Location", "/items/"), *set_cookies], wait=(60, 180))
        self.cookies = {"csrftoken": csrf, "sessionid": session}
        return self.listing(end + self.rng.uniform(0.001, 0.005), 1, referer)

    def create(self, t: float, referer: str) -> tuple[float, str]:
        url = SITE + "/items/new/"
        token = self.sim.token()
        end = self.html(t, url, new_item_page(self.user or "", token), referer, wait=(25, 90))
        t = end + self.think(20, 0.5)  # typing
        item = self.sim.next_item
        self.sim.next_item += 1
        form = f"csrf_token={token}&title=Hand-thrown+{NOUNS[item % len(NOUNS)]}&price={price(item)}&description=Glazed+stoneware.&save=Save"
        end = self.send(t, "POST", url, dest="document", referer=url, resource="document", status=302, mime="text/html",
                        text="", body=form, body_type="application/x-www-form-urlencoded",
                        response_headers=[("Location", f"{SITE}/items/{item}/")], wait=(60, 200))
        new_url = f"{SITE}/items/{item}/"
        end = self.item(end + self.rng.uniform(0.001, 0.005), item, url, owner=True)
        watch = {"id": self.next_id(), "item_id": item, "created": iso(round(end * 1e6))}
        end = self.api(end + self.rng.uniform(0.5, 3), "POST", f"/api/items/{item}/watch", new_url, watch, 201, {"item_id": item})
        return end, new_url

    def cart(self, t: float, item: int, page_url: str) -> float:
        line = self.next_id()
        end = self.api(t, "POST", "/api/cart/", page_url, {"id": line, "item_id": item, "qty": 1}, 201, {"item_id": item, "qty": 1})
        cart = {"lines": [{"id": line, "item_id": item, "qty": 1, "price": price(item)}], "count": 1, "total": price(item)}
        return self.api(end + self.rng.uniform(0.02, 0.2), "GET", "/api/cart/", page_url, cart)

    def next_id(self) -> int:
        self.sim.next_id += 1
        return self.sim.next_id

    def think(self, median: float = 9.0, sigma: float = 0.9) -> float:
        return min(240.0, max(0.8, self.rng.lognormvariate(math.log(median), sigma)))


def visit(sim: Sim, number: int, t0: float) -> None:
    rng = sim.rng
    agent = rng.choices([a for _, a in AGENTS], weights=[w for w, _ in AGENTS])[0]
    b = Browser(sim, number, agent)
    t, token, featured = b.front(t0, None)
    here = SITE + "/"
    logs_in = rng.random() < 0.7
    # Anonymous browsing first: featured items, related items, a list page.
    wander = rng.choice((0, 0, 1, 2)) if logs_in else rng.randint(1, 5)
    items = featured
    for _ in range(wander):
        t += b.think()
        if rng.random() < 0.25:
            t, url = b.listing(t, rng.randint(1, 4), here)
            items, here = list_items(int(url.rpartition("=")[2]) if "=" in url else 1), url
        else:
            item = rng.choice(items)
            t = b.item(t, item, here)
            items, here = related(item), f"{SITE}/items/{item}/"
    if logs_in:
        if wander:  # back to the front page to sign in: a fresh token
            t += b.think()
            t, token, _ = b.front(t, here)
            here = SITE + "/"
        t += b.think(12)
        t, here = b.login(t, token, here, number)
        page = 1
        for _ in range(rng.choice((0, 0, 1, 2))):
            t += b.think()
            page += 1
            t, here = b.listing(t, page, here)
        item = rng.choice(list_items(page))
        for k in range(rng.randint(1, 4)):
            t += b.think()
            t = b.item(t, item, here)
            here = f"{SITE}/items/{item}/"
            if k == 0 and rng.random() < 0.5:
                t = b.cart(t + b.think(4), item, here)
            item = rng.choice(related(item))
        if rng.random() < 0.5:
            t, here = b.create(t + b.think(), here)
    sim.spans.append((t0, b.last_end))


@dataclass
class Generated:
    flows: int
    visits: int
    seconds: float  # recording span
    concurrency: int  # most visits under way at once
    bytes: int
    expected: set[tuple[int, int, int]]  # per visit: (first seq, last seq, flows)
    visit_of: list[int]  # the visit of each flow, by seq - 1


def generate(path: Path, flows: int, seed: int, rate: float) -> Generated:
    """Visits arrive at `rate` a second until `flows` flows exist; the last one is cut short."""
    sim = Sim(rng=random.Random(seed))
    t = EPOCH
    number = 0
    while sim.flows < flows:
        t += sim.rng.expovariate(rate)
        number += 1
        visit(sim, number, t)
    # Import orders flows by start time, stably: seq is the position in this order.
    entries = sorted(sim.entries)
    if len(entries) > flows:  # cut the last visit short (its latest flows), keep the count exact
        last = number
        drop = {e[1] for e in sorted((e for e in entries if e[2] == last), reverse=True)[: len(entries) - flows]}
        entries = [e for e in entries if e[1] not in drop]
    visits: dict[int, list[int]] = {}
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"log":{"version":"1.2","creator":{"name":"replayswarm bench/convert_scale.py","version":"1"},"pages":[],"entries":[\n')
        for seq, (_, _, v, text) in enumerate(entries, 1):
            out.write(text if seq == 1 else ",\n" + text)
            visits.setdefault(v, []).append(seq)
        out.write("\n]}}\n")
    events = sorted([(a, 1) for a, _ in sim.spans] + [(b, -1) for _, b in sim.spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return Generated(
        flows=len(entries),
        visits=len(visits),
        seconds=max(b for _, b in sim.spans) - min(a for a, _ in sim.spans),
        concurrency=peak,
        bytes=path.stat().st_size,
        expected={(s[0], s[-1], len(s)) for s in visits.values()},
        visit_of=[e[2] for e in entries],
    )


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Ran:
    seconds: float
    peak_rss_kb: int  # ru_maxrss of the process (Linux: KiB)
    cpu_seconds: float  # its user + system time: steadier than wall time on a busy machine
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str


def run(argv: list[str], cwd: Path, timeout: float) -> Ran:
    """Run `argv`, its output into files (no pipe to fill), and read its own rusage on exit."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    with open(out, "wb") as o, open(err, "wb") as e:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=o, stderr=e, stdin=subprocess.DEVNULL, env=child_env())
        deadline = started + timeout
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline and not killed:
                proc.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped already: tell Popen
    return Ran(seconds, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, None if killed else proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace"))


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYSWARM_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


_EXPLAIN = re.compile(r"^flows #(\d+)…#(\d+) \((\d+)\)")


def found_visits(summary: dict[str, Any]) -> set[tuple[int, int, int]]:
    found = set()
    for line in summary.get("explain", []):
        m = _EXPLAIN.match(line)
        if m:
            found.add((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return found


def measure(size: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    work = tmp / f"n{size}"
    work.mkdir()
    har, db = work / "shop.har", work / "convert.db"
    t0 = time.perf_counter()
    gen = generate(har, size, args.seed, args.rate)
    generated_s = time.perf_counter() - t0
    print(f"[{size}] generated {gen.flows} flows of {gen.visits} visits ({gen.bytes / 1e6:.0f} MB HAR, "
          f"{gen.seconds / 60:.0f} min recorded, up to {gen.concurrency} visits at once) in {generated_s:.1f}s", flush=True)
    python = [sys.executable, "-m", "replayswarm"]
    imported = run(python + ["import", str(har), "--name", "shop", "--db", str(db)], work, args.timeout)
    if imported.returncode != 0:
        raise SystemExit(f"[{size}] import failed ({'timed out' if imported.returncode is None else imported.returncode}):\n{imported.stderr[-3000:]}")
    print(f"[{size}] imported in {imported.seconds:.1f}s: {imported.stdout.strip()}", flush=True)
    har.unlink()  # the database holds it all now
    before = code_fingerprint()
    converted = run(python + ["convert", "shop", "--json", "--db", str(db)], work, args.timeout)
    changed = code_fingerprint() != before
    killed = None
    if converted.returncode is None:
        killed = "--timeout"
    elif converted.returncode < 0:
        killed = f"signal {-converted.returncode}, not sent by this benchmark"
    if killed:
        print(f"[{size}] convert killed after {converted.seconds:.0f}s ({killed})", flush=True)
        summary: dict[str, Any] = {}
    elif converted.returncode != 0:
        raise SystemExit(f"[{size}] convert failed ({converted.returncode}):\n{converted.stderr[-3000:]}")
    else:
        summary = json.loads(converted.stdout)
    found = found_visits(summary)
    result = {
        "flows": gen.flows,
        "visits_generated": gen.visits,
        "recording_minutes": round(gen.seconds / 60, 1),
        "concurrent_visits_max": gen.concurrency,
        "har_mb": round(gen.bytes / 1e6, 1),
        "import_s": round(imported.seconds, 2),
        "import_peak_rss_mb": round(imported.peak_rss_kb / 1024, 1),
        "convert_s": round(converted.seconds, 2) if not killed else None,
        "convert_killed": killed,
        "convert_wall_s": round(converted.seconds, 2),  # also when killed
        "convert_cpu_s": round(converted.cpu_seconds, 2),
        "convert_peak_rss_mb": round(converted.peak_rss_kb / 1024, 1),
        "kb_per_flow": round(converted.peak_rss_kb / gen.flows, 2),
        "visits_found": summary.get("sessions"),
        "visits_exact": len(found & gen.expected),
        # (first seq, last seq, flows) of generated visits convert did not find whole, and of what it found instead
        "visits_missed": sorted(gen.expected - found)[:20],
        "visits_instead": sorted(found - gen.expected)[:20],
        "uncertain": summary.get("uncertain"),
        "scenarios": len(summary.get("scenarios", [])),
        "page_steps": summary.get("page_steps"),
        "correlations": summary.get("correlations"),
        "literals": len(summary.get("literals", [])),
        "code_changed_during_convert": changed,
        "code": before,
        **code_version(),
    }
    if not killed:
        print(f"[{size}] convert: {result['convert_s']}s ({result['convert_cpu_s']}s CPU), peak RSS {result['convert_peak_rss_mb']} MB; "
              f"{result['visits_found']} visits of {gen.visits}, {result['scenarios']} scenarios", flush=True)
    if killed or not args.profile:
        if not args.keep:
            db.unlink()
    else:
        result["_db"] = db  # kept for the profile (of the largest size convert finished)
    return result


def profile(db: Path, work: Path, flows: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """convert once more under cProfile (slower than the timed run): where its time goes."""
    import linecache
    import pstats

    out = work / "convert.prof"
    before = code_fingerprint()
    ran = run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "replayswarm", "convert", "shop", "--name", "shop-profiled",
               "--json", "--db", str(db)], work, args.timeout * 3)
    if ran.returncode != 0 or not out.exists():
        print(f"profile run failed ({ran.returncode}): {ran.stderr[-2000:]}")
        return []
    if code_fingerprint() != before:
        print("replayswarm's sources changed while the profile ran: its file:line may not match the files now")
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
        rows.append({"where": f"{where}:{line}({func})", "calls": nc, "self_s": round(tt, 2), "cum_s": round(ct, 2),
                     "source": linecache.getline(filename, line).strip()[:60] if line else ""})
    print(f"\nProfile of convert at {flows} flows under cProfile ({ran.seconds:.1f}s with profiling, {total:.1f}s profiled):")
    for key, label in (("self_s", "self time"), ("cum_s", "cumulative time, replayswarm functions")):
        chosen = sorted(rows, key=lambda r: -r[key])
        if key == "cum_s":
            chosen = [r for r in chosen if r["where"].startswith("replayswarm/")]
        print(f"  top {args.top} by {label}:")
        print(f"    {'self s':>7} {'cum s':>7} {'calls':>10}  where")
        for r in chosen[: args.top]:
            print(f"    {r['self_s']:7.2f} {r['cum_s']:7.2f} {r['calls']:10d}  {r['where']}  {r['source']}")
    return sorted(rows, key=lambda r: -r["self_s"])[:40]


def report(results: list[dict[str, Any]]) -> None:
    print(f"\n{'flows':>8} {'visits':>7} {'import s':>9} {'convert s':>10} {'CPU s':>7} {'peak RSS MB':>12} {'KB/flow':>8} "
          f"{'visits found':>13} {'exact':>6} {'uncertain':>10} {'scenarios':>10}")
    for r in results:
        convert_s = f"{r['convert_s']:.1f}" if r["convert_s"] is not None else "killed"
        found = r["visits_found"] if r["visits_found"] is not None else "-"
        if r["convert_s"] is None:
            print(f"{r['flows']:8d} {r['visits_generated']:7d} {r['import_s']:9.1f} {convert_s:>10} {r['convert_cpu_s']:7.1f} "
                  f"{r['convert_peak_rss_mb']:12.0f} {'-':>8} {'-':>13} {'-':>6} {'-':>10} {'-':>10}")
            continue
        print(f"{r['flows']:8d} {r['visits_generated']:7d} {r['import_s']:9.1f} {convert_s:>10} {r['convert_cpu_s']:7.1f} {r['convert_peak_rss_mb']:12.0f} "
              f"{r['kb_per_flow']:8.2f} {found!s:>13} {r['visits_exact']:6d} {r['uncertain']!s:>10} {r['scenarios']:10d}")
    ok = [r for r in results if r["convert_s"] is not None]
    if len(ok) >= 2:
        a, b = ok[-2], ok[-1]
        growth = b["flows"] / a["flows"]
        print(f"\nfrom {a['flows']} to {b['flows']} flows (x{growth:.2f}): convert time x{b['convert_s'] / a['convert_s']:.2f}, "
              f"peak RSS x{b['convert_peak_rss_mb'] / a['convert_peak_rss_mb']:.2f}, "
              f"marginal memory {(b['convert_peak_rss_mb'] - a['convert_peak_rss_mb']) * 1024 / (b['flows'] - a['flows']):.2f} KB/flow")
        # Time ~ flows^k: k near 1 is linear, near 2 quadratic.
        k = math.log(b["convert_s"] / a["convert_s"]) / math.log(growth)
        kc = math.log(b["convert_cpu_s"] / a["convert_cpu_s"]) / math.log(growth)
        km = math.log(b["convert_peak_rss_mb"] / a["convert_peak_rss_mb"]) / math.log(growth)
        print(f"growth exponents (1 = linear, 2 = quadratic): wall time {k:.2f}, CPU time {kc:.2f}, peak RSS {km:.2f}")
    for r in results:
        if r["convert_s"] is None:
            print(f"  {r['flows']} flows: convert killed after {r['convert_wall_s']:.0f} s ({r['convert_killed']}); nothing to check")
            continue
        problems = []
        if r["visits_found"] != r["visits_generated"]:
            problems.append(f"convert found {r['visits_found']} visits where {r['visits_generated']} were generated")
        if r["visits_exact"] != r["visits_generated"]:
            problems.append(f"{r['visits_generated'] - r['visits_exact']} of {r['visits_generated']} generated visits not found with exactly their flows "
                            f"(e.g. generated #first…#last (flows) {fmt_visits(r['visits_missed'][:2])}; found {fmt_visits(r['visits_instead'][:2])})")
        if r["code_changed_during_convert"]:
            problems.append("replayswarm's sources changed while convert ran: the numbers may mix two versions")
        print(f"  {r['flows']} flows: " + ("; ".join(problems) if problems else "every generated visit found, with exactly its flows"))
    big = results[-1]
    if big["convert_s"] is None:
        print(f"\nGoal at {big['flows']} flows: convert < {GOAL_SECONDS:.0f} s: NO (killed after {big['convert_wall_s']:.0f} s, {big['convert_killed']}; "
              f"{big['convert_cpu_s']:.0f} s CPU by then, {big['convert_peak_rss_mb']:.0f} MB peak RSS)")
    else:
        fast = big["convert_s"] < GOAL_SECONDS
        small = big["kb_per_flow"] < GOAL_KB_PER_FLOW
        marginal = ""
        if len(ok) >= 2 and ok[-1] is big:
            a = ok[-2]
            marginal = f"; {(big['convert_peak_rss_mb'] - a['convert_peak_rss_mb']) * 1024 / (big['flows'] - a['flows']):.2f} KB/flow marginal"
        print(f"\nGoal at {big['flows']} flows: convert < {GOAL_SECONDS:.0f} s: {'yes' if fast else 'NO'} ({big['convert_s']:.1f} s); "
              f"< {GOAL_KB_PER_FLOW:.0f} KB/flow: {'yes' if small else 'NO'} ({big['kb_per_flow']:.2f} KB/flow of peak RSS{marginal})")
    if big.get("correlations") is not None:
        print(f"correlations at {big['flows']} flows: {big['correlations']}; values left literal: {big['literals']}")


def fmt_visits(visits: list[tuple[int, int, int]]) -> str:
    return ", ".join(f"#{a}…#{b} ({n})" for a, b, n in visits)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=100_000, help="the largest size; also run at a quarter and a half of it (default 100000)")
    parser.add_argument("--sizes", help="comma-separated flow counts instead (e.g. 1000,50000,100000)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--rate", type=float, default=3.0, help="visits starting a second (default 3: ~300 under way at once)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to each import and convert (default 900)")
    parser.add_argument("--profile", action="store_true", help="then run convert under cProfile at the largest size it finished and print its hot spots")
    parser.add_argument("--top", type=int, default=10, help="rows of the profile to print (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (HAR is deleted after import; database kept)")
    args = parser.parse_args()
    args.sizes = sorted({int(s) for s in args.sizes.split(",")}) if args.sizes else [args.flows // 4, args.flows // 2, args.flows]
    if min(args.sizes) < 10:
        parser.error("sizes must be at least 10 flows")
    return args


def main() -> None:
    args = parse_args()
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="convert-scale-"))
    try:
        for size in args.sizes:
            results.append(measure(size, args, tmp))
        finished = [r for r in results if "_db" in r]
        if args.profile and finished:
            if finished[-1] is not results[-1]:
                print(f"\nconvert did not finish at {results[-1]['flows']} flows within --timeout: profiling at {finished[-1]['flows']}")
            finished[-1]["profile"] = profile(finished[-1]["_db"], finished[-1]["_db"].parent, finished[-1]["flows"], args)
        for r in results:
            db = r.pop("_db", None)
            if db is not None and not args.keep:
                db.unlink()
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "convert_scale.json").write_text(json.dumps({"args": {k: v for k, v in vars(args).items()}, "results": results}, indent=2))
    print(f"\nwrote {out / 'convert_scale.json'}")


if __name__ == "__main__":
    main()
