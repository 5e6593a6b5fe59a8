"""A child process of a run never outlives it: it dies with its parent. No gevent here."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT = "REPLAYSWARM_PARENT_PID"  # set by the parent for each child it starts
_PR_SET_PDEATHSIG = 1


def child_environment() -> dict[str, str]:
    """The environment for a child of this process: it names its parent."""
    return {**os.environ, PARENT: str(os.getpid())}


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux), and exit at once if
    the parent is already gone: a load generator whose parent died sends nothing more."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # no prctl: the closed pipe and the run's deadline still stop the worker
    parent = os.environ.get(PARENT)
    if parent is not None and os.getppid() != int(parent):
        os._exit(1)
