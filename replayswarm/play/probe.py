"""The validation replay's process: one virtual user plays each scenario once, without think
times, and reports what every step got back. Started as `python -m replayswarm.play.probe` with
`(plan, settings, keep_bodies)` pickled on stdin; writes one JSON object per step to stdout.
Monkey-patches first, like a worker: gevent never runs in the parent."""

from gevent import monkey

monkey.patch_all()

import dataclasses  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from .job import UserSettings  # noqa: E402
from .lifeline import die_with_parent  # noqa: E402
from .plan import Plan, PlannedStep  # noqa: E402
from .stats import Stats  # noqa: E402
from .transport import Reply  # noqa: E402
from .user import Swarm, VirtualUser  # noqa: E402


class _Errors(Stats):
    """Stats that also remember the last error, to say why a step got no reply."""

    last: str | None = None

    def error(self, name: str, kind: str, message: str) -> None:
        self.last = f"{kind}: {message}"
        super().error(name, kind, message)


def probe(plan: Plan, settings: UserSettings, keep_bodies: bool) -> list[dict[str, Any]]:
    settings = dataclasses.replace(settings, think_scale=0.0, think_range=None)
    stats = _Errors()
    swarm = Swarm(plan, settings, stats, None)
    seen: list[dict[str, Any]] = []
    for scenario in plan.scenarios:
        def observe(step: PlannedStep, reply: Reply | None, missing: list[str], name: str = scenario.name) -> None:
            entry: dict[str, Any] = {"scenario": name, "position": step.position, "name": step.request.name}
            if reply is None:
                entry["error"] = stats.last
            else:
                ctype = reply.headers.get("content-type")
                location = reply.headers.get("location")
                entry.update(
                    status=reply.status,
                    type=ctype.split(";", 1)[0].strip().lower() if isinstance(ctype, str) else None,
                    location=location if isinstance(location, str) else None,
                    size=reply.size,
                    missing=missing,
                )
                if keep_bodies:
                    entry["headers"] = {k: v for k, v in reply.headers.items() if isinstance(v, str)}
                    entry["body"] = reply.body.decode("utf-8", "replace")
            seen.append(entry)

        swarm.observe = observe
        user = VirtualUser(swarm, 0)
        try:
            user.run_iteration(scenario)
        finally:
            user.transport.close()
    return seen


def main() -> None:
    die_with_parent()
    plan, settings, keep_bodies = pickle.load(sys.stdin.buffer)
    for entry in probe(plan, settings, keep_bodies):
        sys.stdout.write(json.dumps(entry) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
