"""The errors a user sees. The CLI is the one place that turns them into exit codes."""


class ReplayswarmError(Exception):
    """Base class; the message is shown to the user as one line."""

    exit_code = 1


class UserError(ReplayswarmError):
    """Bad usage or bad input: a one-line message, exit code 2, nothing half-written."""

    exit_code = 2


class RecorderFailed(ReplayswarmError):
    """The recorder could not store what it proxied, so it stopped rather than pass traffic unrecorded."""

    exit_code = 1


def describe(exc: BaseException) -> str:
    """One line for any exception; for a database error, the driver's own message."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
