"""What every command line of the planner shares: exit statuses, an argparse that raises, value
types that refuse bad numbers in one line, guarded output streams, and the one place errors become
exit statuses."""

from __future__ import annotations

import argparse
import contextlib
import enum
import math
import os
import sys
from typing import Callable

from models import PlannerError, plural


class ExitStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    """128 + SIGPIPE: what ``yes | head`` reports for ``yes``; nothing is printed."""


class UsageError(PlannerError):
    """A command-line problem argparse found (unknown flag, missing value)."""


class ServicesFailed(PlannerError):
    """Some services of a fleet could not be planned on their input (the others were; exit status 2)."""


class ServicesHitABug(Exception):
    """Some services of a fleet met an internal error (the others were planned; exit status 1)."""


class HelpShown(Exception):
    """``--help`` printed its text: the command is done (exit status 0)."""


def program_name(argv: list[str] | None, default: str) -> str:
    """The name a usage line shows: what the program was started as (``llm-capacity`` for the installed script,
    ``forecast.py`` for ``python commands/forecast.py``) when it reads ``sys.argv`` (``argv`` is None), else
    ``default`` (a call in-process, ``python -c``)."""
    started_as = os.path.basename(sys.argv[0] if argv is None and sys.argv else "")
    return started_as if started_as and not started_as.startswith("-") else default


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line and
    ``main(argv)`` returns its status in-process even after ``--help``."""

    def error(self, message: str):
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None):
        raise HelpShown(status)


class StreamError(PlannerError):
    """Standard output cannot be written (a full disk, ``/dev/full``, a closed descriptor)."""


class PipeClosed(Exception):
    """The reader of stdout went away (``| head``). Not an ``OSError``, so that no library on the way
    (rich exits with status 1 on a ``BrokenPipeError``) handles it before :func:`guarded`."""


def parse(parser: argparse.ArgumentParser, argv: list[str], stdout) -> argparse.Namespace:
    """``parser.parse_args(argv)`` with ``--help`` written to ``stdout`` (argparse writes to ``sys.stdout``).

    An argument that is not UTF-8 text (bytes Python kept as surrogate escapes) is a :class:`UsageError`."""
    for position, arg in enumerate(argv, 1):
        if any("\udc80" <= ch <= "\udcff" for ch in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {position} ({shown!r}) is not UTF-8 text: give names and paths in UTF-8")
    with contextlib.redirect_stdout(stdout):
        return parser.parse_args(argv)


class GuardedStream:
    """A text stream whose write failures are user-facing: characters the terminal's encoding lacks are
    replaced (an ASCII-only terminal), a closed or full stream is a :class:`StreamError`, and a closed pipe
    is :class:`PipeClosed` for :func:`guarded` to end quietly. Everything else is the wrapped stream's."""

    def __init__(self, stream, name: str):
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        if self._stream is None:
            raise StreamError(f"cannot write to {self._name}: it is closed")
        try:
            return self._call(self._stream.write, text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            return self._call(self._stream.write, text.encode(encoding, "replace").decode(encoding))

    def flush(self) -> None:
        if self._stream is not None:
            self._call(self._stream.flush)

    def _call(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise PipeClosed(self._name) from None
        except OSError as exc:
            raise StreamError(f"cannot write to {self._name}: {exc.strerror or exc}") from None

    def isatty(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.isatty())
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def streams(stdout=None, stderr=None) -> tuple[GuardedStream, GuardedStream]:
    """``stdout`` and ``stderr`` (default: the process's, which may be ``None`` when closed), guarded."""
    return (GuardedStream(stdout if stdout is not None else sys.stdout, "stdout"),
            GuardedStream(stderr if stderr is not None else sys.stderr, "stderr"))


def _whole(text: str) -> int:
    """``text`` as an int; scientific notation that names a whole number (``1e9``, ``2.5e6``) is accepted."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise ValueError(text)
        return int(value)


LARGEST_WHOLE = 10**18
"""No count the planner takes (tokens, GPUs, requests) comes near this; a larger one is a typo."""


def _number(kind, *, minimum: float = 0.0, inclusive: bool = False, maximum: int = LARGEST_WHOLE):
    noun = "a whole number" if kind is int else "a finite number"
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
    if kind is int:
        bound += f" and <= {maximum:.0e}" if maximum == LARGEST_WHOLE else f" and <= {maximum}"

    def parse(text: str):
        try:
            value = (_whole if kind is int else kind)(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {noun} {bound}")
        too_low = value < minimum if inclusive else value <= minimum
        too_high = kind is int and value > maximum
        if (kind is float and not math.isfinite(value)) or too_low or too_high:
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
    message = f"{len(failed)} of {plural(len(plan.services), 'service')} failed, the others are planned{hint}: {named}{more}"
    if any(row["error"].startswith("internal error") for row in failed):
        raise ServicesHitABug(message)
    raise ServicesFailed(message)


def guarded(action: Callable[[], int], *, debug: bool, stderr, stdout=None) -> int:
    """Run ``action`` and map what it raises to an exit status: a user error or an environment fault is one
    ``error:`` line and 2, Ctrl-C is 130, a closed pipe on ``stdout`` ends quietly with 141, anything else is a
    short internal-error line and 1 (the traceback only with ``debug``). ``stdout`` is flushed here, so a
    full disk under it is reported while the command can still say so."""
    try:
        status = action()
        if stdout is not None:
            stdout.flush()
        return status
    except HelpShown:
        return ExitStatus.OK
    except (PipeClosed, BrokenPipeError):
        _detach(stdout)
        return ExitStatus.BROKEN_PIPE
    except PlannerError as exc:
        if isinstance(exc, StreamError):
            _detach(stdout)
        _say(stderr, f"error: {_redacted(exc)}")
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        _say(stderr, "interrupted")
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # an internal error: short message, traceback only on request
        if debug:
            raise
        _say(stderr, f"internal error: {type(exc).__name__}: {_redacted(exc)} (run with --debug for the traceback)")
        return ExitStatus.ERROR


def _redacted(exc: BaseException) -> str:
    """The message of ``exc`` with every database credential masked (:func:`services.redact`)."""
    text = str(exc)
    if "://" not in text and "password" not in text.lower() and not os.environ.get("PGPASSWORD"):
        return text
    from services import redact

    return redact(text)


def _say(stderr, line: str) -> None:
    """Print ``line`` on ``stderr``; a closed or broken stderr loses it (there is nowhere else to say it)."""
    with contextlib.suppress(OSError, ValueError, PlannerError):
        print(line, file=stderr if stderr is not None else GuardedStream(None, "stderr"))


def _detach(stdout) -> None:
    """Point the process's stdout at /dev/null after a broken pipe or a failed write, so the interpreter's own
    flush at exit does not fail again (and print a traceback) on what is still buffered."""
    stream = getattr(stdout, "_stream", stdout)
    if stream is not sys.stdout or stream is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
