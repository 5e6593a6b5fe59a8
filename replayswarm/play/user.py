"""Virtual users: greenlets that replay scenarios as a browser would. Worker processes only."""

from __future__ import annotations

import random
from collections.abc import Callable
import time
import traceback
import uuid
from urllib.parse import quote_plus

import gevent
from gevent import GreenletExit
from gevent.event import Event
from gevent.pool import Pool

from ..scenario.extract import apply
from ..scenario.model import Extract
from ..scenario.template import MissingVariable
from .cookies import CookieJar
from .job import UserSettings
from .plan import PER_HOST, Plan, PlannedRequest, PlannedScenario, PlannedStep, Template, size_differs, status_differs
from .stats import INTERNAL, Stats
from .transport import Reply, Transport, TransportError, encode


class Swarm:
    """One worker's virtual users and what they share: the plan, the stats, the stop signal."""

    def __init__(self, plan: Plan, settings: UserSettings, stats: Stats, iterations: int | None, max_rps: float | None = None,
                 open_model: bool = False) -> None:
        self.plan = plan
        self.open = open_model  # latency is also measured from when each request was due
        self.settings = settings
        self.stats = stats
        self.iterations_left = iterations
        self.stopping = Event()
        self.active = 0
        self.told = False  # an internal error's traceback was printed
        # --max-rps: requests leave at most this often, evenly spaced (None: as fast as they come).
        self.interval = 1.0 / max_rps if max_rps else None
        self.next_slot = 0.0
        # Validation watches each step's reply (None: no reply) and the variables it could not extract.
        self.observe: Callable[[PlannedStep, Reply | None, list[str]], None] | None = None
        # One generator for the worker's think-time sampling: a Random per user would cost
        # ~5 KB each, a third of an idle user's memory.
        self.rng = random.Random(settings.seed)

    def pace(self) -> None:
        """Wait for this request's slot under --max-rps. A late slot is not made up for: no burst."""
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval  # type: ignore[operator]
        if slot > now:
            gevent.sleep(slot - now)

    def take_iteration(self) -> bool:
        if self.stopping.is_set():
            return False
        if self.iterations_left is None:
            return True
        if self.iterations_left <= 0:
            return False
        self.iterations_left -= 1
        return True


class VirtualUser:
    # Thousands of these sit idle in a think time: no per-instance __dict__.
    __slots__ = ("swarm", "index", "transport", "given", "position", "iteration", "jar", "vars", "pool", "micros",
                 "retired", "busy", "due", "due_micros")

    def __init__(self, swarm: Swarm, index: int) -> None:
        self.swarm = swarm
        self.index = index
        settings = swarm.settings
        self.transport = Transport(swarm.plan.targets, settings.timeout, settings.insecure)
        row = settings.data[index % len(settings.data)] if settings.data else {}
        self.given = {**row, **settings.variables}
        # Users start at different points of the weighted cycle, deterministically.
        self.position = (settings.seed + index * 7919) % len(swarm.plan.order)
        self.iteration = 0
        self.jar = CookieJar()
        self.vars: dict[str, str] = {}
        self.pool: Pool | None = None  # made when the first page with sub-resources is fetched
        self.micros = 0
        self.retired = False  # asked to leave (fewer users): it does after its current step
        self.busy = False  # in a step: a retired user is not interrupted mid-request
        self.due: float | None = None  # open model: perf_counter() when the next request was due
        self.due_micros: int | None = None  # open model: the last page request's time from when it was due

    def run(self) -> None:
        swarm = self.swarm
        swarm.active += 1
        try:
            while not self.retired and swarm.take_iteration():
                self.one_iteration()
        finally:
            swarm.active -= 1
            self.transport.close()

    def visit(self) -> None:
        """Open model: one iteration, its place in the schedule already taken, then leave."""
        swarm = self.swarm
        swarm.active += 1
        try:
            self.one_iteration()
        finally:
            swarm.active -= 1
            self.transport.close()

    def one_iteration(self) -> None:
        plan = self.swarm.plan
        scenario = plan.scenarios[plan.order[(self.position + self.iteration) % len(plan.order)]]
        self.iteration += 1
        # Counted when started: the shares then follow the weights exactly.
        self.swarm.stats.iteration(scenario.name)
        self.run_iteration(scenario)

    def run_iteration(self, scenario: PlannedScenario) -> None:
        # A fresh visit: new cookies, only the values given to this user. The user keeps its
        # connections, as a browser does between visits to one site (and as Locust's users do).
        self.jar = CookieJar()
        recorded = scenario.recorded if self.swarm.settings.use_recorded else {}
        self.vars = {**self.swarm.plan.defaults, **recorded, **self.given}
        stopping = self.swarm.stopping
        first = True
        for step in scenario.steps:
            pause = self.think(step)
            if self.swarm.open:
                # Due after the think time: from the visit's arrival for its first request (the
                # generator may have started it late), else from now.
                self.due = (self.due if first and self.due is not None else time.perf_counter()) + pause
            first = False
            # A zero think time does not go round the event loop: the request itself yields.
            if stopping.wait(pause) if pause > 0 else stopping.is_set():
                return
            if self.retired:
                return
            self.busy = True
            try:
                ok = self.run_step(step)
            except Exception as exc:  # a virtual user never dies of an exception
                self.swarm.stats.request(step.request.name, None, 0, True)
                self.swarm.stats.error(step.request.name, INTERNAL, f"{type(exc).__name__}: {exc}")
                if not self.swarm.told:  # once, with where it happened: it is our bug, not the target's
                    self.swarm.told = True
                    traceback.print_exc()
                ok = False
            finally:
                self.busy = False
            if not ok and step.critical:
                return

    def think(self, step: PlannedStep) -> float:
        settings = self.swarm.settings
        if settings.think_range is not None:
            low, high = settings.think_range
            return self.swarm.rng.uniform(low, high)
        times = step.think_times
        return (times[0] if len(times) == 1 else self.swarm.rng.choice(times)) * settings.think_scale

    # -- one step ------------------------------------------------------------------------------

    def run_step(self, step: PlannedStep) -> bool:
        stats = self.swarm.stats
        request = step.request
        observe = self.swarm.observe
        keep = self.swarm.settings.max_body if step.reads_body or observe is not None else 0
        reply = self.send(request, keep)
        if reply is None:
            if observe is not None:
                observe(step, None, [])
            return False
        failed = status_differs(reply.status, request.expect_status)
        if failed:
            stats.error(request.name, f"status {reply.status}", f"{reply.status} where {request.expect_status} was recorded")
        missing = []
        for extract in step.extract:
            value = _extract(extract, reply, self.jar)
            if value is None:
                failed = True
                missing.append(extract.var)
                cut = f" (its first {len(reply.body)} bytes, --max-body)" if reply.clipped and extract.source not in ("header", "cookie") else ""
                stats.error(request.name, "extraction failed", f"{extract.var}: nothing matched in the {extract.source}{cut}")
            else:
                self.vars[extract.var] = value
        if observe is not None:
            observe(step, reply, missing)
        stats.request(request.name, self.micros, reply.wire_bytes, failed, _deviates(step, reply), due_micros=self.due_micros)
        if step.resources and not failed:
            pool = self.pool
            if pool is None:
                pool = self.pool = Pool(PER_HOST)
            for resource in step.resources:
                pool.spawn(self.fetch, resource)
            pool.join()
        return not failed

    def fetch(self, resource: PlannedRequest) -> None:
        reply = self.send(resource)
        if reply is not None:
            failed = status_differs(reply.status, resource.expect_status)
            if failed:
                self.swarm.stats.error(resource.name, f"status {reply.status}", f"{reply.status} where {resource.expect_status} was recorded")
            # A sub-resource is due when its page arrived: its time from due is its own time.
            micros = self.micros
            self.swarm.stats.request(resource.name, micros, reply.wire_bytes, failed, due_micros=micros if self.swarm.open else None)

    def send(self, request: PlannedRequest, keep: int = 0) -> Reply | None:
        """Render, send, and count a request that got no response; sets self.micros. The reply
        holds the first `keep` bytes of the decoded body."""
        stats = self.swarm.stats
        if request.unrecorded is not None:
            stats.request(request.name, None, 0, True)
            stats.error(request.name, "body not recorded", f"the recorder kept only the size of this {request.unrecorded}-byte body (over --body-cap): not sent")
            return None
        target = self.swarm.plan.targets[request.target]
        jar = self.jar
        try:
            # A `${cookie:NAME}` in the URL is read before the URL is known: the jar's most
            # specific cookie of that name.
            jar.aim(None)
            uri = self.render(request.uri)
            # Once the URL is known, so is the Cookie header; `${cookie:NAME}` in headers and body
            # then reads the cookie this request carries (one name can live on several paths).
            cookie = jar.header(target, uri)
            headers = dict(request.static_headers)
            for key, template in request.dynamic_headers:
                headers[key] = self.render(template)
            if request.raw_body is not None:
                body: bytes | None = request.raw_body
            elif request.body is not None:
                body = self.render(request.body).encode(request.charset)
                if request.coding is not None:
                    body = encode(body, request.coding)
            else:
                body = None
        except MissingVariable as missing:
            stats.request(request.name, None, 0, True)
            stats.error(request.name, "missing variable", f"${{{missing.args[0]}}} has no value")
            return None
        if cookie:
            headers["Cookie"] = cookie
        if self.swarm.interval is not None:
            self.swarm.pace()
        start = time.perf_counter()
        transport = self.transport
        try:
            reply = transport.send(request.target, request.method, uri, headers, body, keep)
        except GreenletExit:
            # In flight when the run stopped: it reached the target, or may have; it counts.
            self.count_reset(request)
            stats.request(request.name, None, 0, True)
            stats.error(request.name, "interrupted", "in flight when the run stopped")
            raise
        except TransportError as exc:
            self.count_reset(request)
            stats.request(request.name, None, 0, True)
            stats.error(request.name, exc.kind, str(exc))
            return None
        self.count_reset(request)
        end = time.perf_counter()
        self.micros = int((end - start) * 1_000_000)
        if self.swarm.open:
            self.due_micros = int((end - min(self.due or start, start)) * 1_000_000)
        # Also when nothing is set: a cookie extraction after this reads this request's cookies.
        jar.update(target, uri, reply.headers.get("set-cookie"))
        return reply

    def count_reset(self, request: PlannedRequest) -> None:
        """The first attempt of a request the server reset on a kept-alive connection, before
        the browser-like retry: it reached the target, so it counts, as the failure it was."""
        reset = self.transport.reset
        if reset is not None:
            self.swarm.stats.request(request.name, None, 0, True)
            self.swarm.stats.error(request.name, reset.kind, str(reset))

    def render(self, template: Template) -> str:
        constant = template.constant
        if constant is not None:
            return constant
        out = []
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, url = part
            value = self.lookup(name)
            if value is None:
                raise MissingVariable(name)
            out.append(quote_plus(value) if url else value)
        return "".join(out)

    def lookup(self, name: str) -> str | None:
        value = self.vars.get(name)
        if value is not None:
            return value
        if name.startswith("cookie:"):
            return self.jar.get(name[7:])
        if name == "__timestamp_ms":
            return str(int(time.time() * 1000))
        if name == "__timestamp":
            return str(int(time.time()))
        if name == "__uuid":
            return str(uuid.uuid4())
        if name == "__random":
            return str(self.swarm.rng.randrange(1 << 30))
        if name == "__user":
            return str(self.index)
        if name == "__iteration":
            return str(self.iteration)
        return None


def _deviates(step: PlannedStep, reply: Reply) -> bool:
    """The response is far from the recording: another content type, or a very different size.
    An error page or a login form served with 200 shows up here."""
    if step.expect_type:
        ctype = reply.headers.get("content-type")
        if isinstance(ctype, str) and ctype.split(";", 1)[0].strip().lower() != step.expect_type:
            return True
    return size_differs(reply.size, step.expect_size)


def _extract(extract: Extract, reply: Reply, jar: CookieJar) -> str | None:
    return apply(extract, reply.headers, lambda: reply.body.decode("utf-8", "replace"), jar.get)
