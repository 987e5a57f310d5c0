"""What every command line of the planner shares: exit statuses, an argparse that raises, value
types that refuse bad numbers in one line, and the one place errors become exit statuses."""

from __future__ import annotations

import argparse
import contextlib
import enum
import math
from typing import Callable

from models import PlannerError


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


class UsageError(PlannerError):
    """A command-line problem argparse found (unknown flag, missing value)."""


class ServicesFailed(PlannerError):
    """Some services of a fleet could not be planned on their input (the others were; exit status 2)."""


class ServicesHitABug(Exception):
    """Some services of a fleet met an internal error (the others were planned; exit status 1)."""


class HelpShown(Exception):
    """``--help`` printed its text: the command is done (exit status 0)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line and
    ``main(argv)`` returns its status in-process even after ``--help``."""

    def error(self, message: str):
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None):
        raise HelpShown(status)


def parse(parser: argparse.ArgumentParser, argv: list[str], stdout) -> argparse.Namespace:
    """``parser.parse_args(argv)`` with ``--help`` written to ``stdout`` (argparse writes to ``sys.stdout``)."""
    with contextlib.redirect_stdout(stdout):
        return parser.parse_args(argv)


def _number(kind, *, minimum: float = 0.0, inclusive: bool = False):
    noun = "a whole number" if kind is int else "a finite number"
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {noun} {bound}")
        too_low = value < minimum if inclusive else value <= minimum
        if (kind is float and not math.isfinite(value)) or too_low:
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {noun} {bound}")
        return value

    parse.__name__ = "whole number" if kind is int else "number"
    return parse


number = _number
POSITIVE = _number(float)
POSITIVE_INT = _number(int)
NON_NEGATIVE_INT = _number(int, minimum=0, inclusive=True)


SHOWN_FAILURES = 3
"""Failed services named in the closing error line (all of them are in the result)."""


def check_fleet(plan, rerun: str | None = None) -> None:
    """After a fleet's result is written and shown: one error line when services failed, naming the first few.

    Raises :class:`ServicesFailed`, or :class:`ServicesHitABug` when one failure is an internal error.
    """
    failed = plan.failed
    if not failed:
        return
    named = "; ".join(f"{row['service']}: {row['error']}" for row in failed[:SHOWN_FAILURES])
    more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
    hint = f" (plan only those again with --retry-failed {rerun})" if rerun else ""
    message = f"{len(failed)} of {len(plan.services)} services failed, the others are planned{hint}: {named}{more}"
    if any(row["error"].startswith("internal error") for row in failed):
        raise ServicesHitABug(message)
    raise ServicesFailed(message)


def guarded(action: Callable[[], int], *, debug: bool, stderr) -> int:
    """Run ``action`` and map what it raises to an exit status: a user error is one ``error:`` line and 2,
    Ctrl-C is 130, anything else is a short internal-error line and 1 (the traceback only with ``debug``)."""
    try:
        return action()
    except HelpShown:
        return ExitStatus.OK
    except PlannerError as exc:
        print(f"error: {exc}", file=stderr)
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # an internal error: short message, traceback only on request
        if debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=stderr)
        return ExitStatus.ERROR
