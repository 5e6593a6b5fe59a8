"""What a person watching a run sees: a live table like Locust's on a terminal, a progress line
every few seconds elsewhere (CI logs), nothing with --quiet."""

from __future__ import annotations

import sys
import time
from typing import Any

from .stats import RunStats

LINE_EVERY = 5.0


def make_view(quiet: bool, notes: bool = False) -> Any:
    """quiet: warnings only; notes: warnings and notes (a capacity search's steps beside --json)."""
    if quiet:
        return NotesView() if notes else QuietView()
    if sys.stdout.isatty():
        return LiveView()
    return LineView()


class QuietView:
    def update(self, stats: RunStats, elapsed: float, users: int) -> None:
        pass

    def warn(self, message: str) -> None:
        print(f"Warning: {message}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        """Progress worth a line of its own (a capacity step): not with --quiet."""

    def close(self) -> None:
        pass


class NotesView(QuietView):
    def note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


class LineView(NotesView):
    def __init__(self) -> None:
        self.last = 0.0

    def update(self, stats: RunStats, elapsed: float, users: int) -> None:
        now = time.monotonic()
        if now - self.last < LINE_EVERY:
            return
        self.last = now
        print(progress_line(stats, elapsed, users), file=sys.stderr, flush=True)


class LiveView(QuietView):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=2, transient=False)
        self.live.start()

    def update(self, stats: RunStats, elapsed: float, users: int) -> None:
        from rich.console import Group
        from rich.text import Text

        self.live.update(Group(endpoint_table(stats, elapsed), Text(progress_line(stats, elapsed, users))))

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]Warning:[/] {message}")

    def note(self, message: str) -> None:
        self.console.print(message, markup=False)

    def close(self) -> None:
        self.live.stop()


def progress_line(stats: RunStats, elapsed: float, users: int) -> str:
    total = stats.total()
    recent = [s for sec, s in stats.seconds.items() if sec >= int(stats.started + elapsed) - 10]
    rps = sum(s.requests for s in recent) / 10.0 if recent else 0.0
    failure = 100.0 * total.failures / total.count if total.count else 0.0
    return (
        f"{elapsed:6.0f}s  users {users}  requests {total.count}  failures {total.failures} ({failure:.1f}%)  "
        f"{rps:.0f} req/s  p50 {total.hist.percentile(0.5) / 1000:.0f} ms  p95 {total.hist.percentile(0.95) / 1000:.0f} ms"
    )


def endpoint_table(stats: RunStats, elapsed: float) -> Any:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("endpoint", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "req/s"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    duration = max(elapsed, 0.001)
    rows = sorted(stats.endpoints.items())
    for name, c in rows + [("Aggregated", stats.total())]:
        h = c.hist
        table.add_row(
            name, str(c.count), str(c.failures), f"{h.percentile(0.5) / 1000:.0f}", f"{h.percentile(0.95) / 1000:.0f}",
            f"{h.percentile(0.99) / 1000:.0f}", f"{c.count / duration:.1f}",
        )
    return table
