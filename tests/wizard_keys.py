"""Typing into the wizard the way a person does.

``drive(*keys)`` runs the real wizard in-process on prompt_toolkit's pipe input (the keys are buffered as
typed-ahead keystrokes; the input closes after them, so a wizard still asking gets EOF and leaves with 130).
``Terminal`` runs ``python main.py`` on a pseudo-terminal of a given size and reads its screen, for what only
a real terminal shows (what a typed key does to a shown default, what the line says afterwards).
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTER, DOWN, UP, CTRL_C, CTRL_U, ESC, BACKSPACE = "\r", "\x1b[B", "\x1b[A", "\x03", "\x15", "\x1b", "\x7f"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


def typed(text: str) -> str:
    """Type ``text`` and press Enter (nothing to clear: a default is shown, not pre-typed)."""
    return text + ENTER


def drive(*keys: str, output=None) -> tuple[int, str, str]:
    """Run the wizard on these keystrokes; return its exit status, stdout and stderr."""
    import llm_agent
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as pipe:
        pipe.send_text("".join(keys))
        pipe.close()
        out, err = io.StringIO(), io.StringIO()
        code = llm_agent.run_wizard(stdout=out, stderr=err, input=pipe, output=output or DummyOutput())
    return code, out.getvalue(), err.getvalue()


def screen(columns: int = 120):
    """A prompt_toolkit output recording what a terminal of ``columns`` would show, and its buffer."""
    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.output.vt100 import Vt100_Output

    buffer = io.StringIO()
    return Vt100_Output(buffer, lambda: Size(rows=40, columns=columns), term="xterm", enable_cpr=False), buffer


def visible(buffer: io.StringIO) -> str:
    return ANSI.sub("", buffer.getvalue())


def drive_on_screen(steps: list[tuple[str, str]], timeout_s: float = 20.0) -> tuple[int, str, str, str]:
    """Type each step's keys once its text is on the screen; ``(status, stdout, stderr, screen)``."""
    import llm_agent
    from prompt_toolkit.input import create_pipe_input

    output, buffer = screen()
    with create_pipe_input() as pipe:
        def typist() -> None:
            for needle, keys in steps:
                deadline = time.monotonic() + timeout_s
                while needle not in visible(buffer) and time.monotonic() < deadline:
                    time.sleep(0.02)
                pipe.send_text(keys)
            pipe.close()

        thread = threading.Thread(target=typist, daemon=True)
        thread.start()
        out, err = io.StringIO(), io.StringIO()
        code = llm_agent.run_wizard(stdout=out, stderr=err, input=pipe, output=output)
        thread.join(timeout=1)
    return code, out.getvalue(), err.getvalue(), visible(buffer)


class Terminal:
    """``python main.py`` on a pseudo-terminal: read what it shows, type keys, as a person at a terminal."""

    def __init__(self, cwd: Path, env: dict | None = None, columns: int = 80, rows: int = 24):
        import fcntl
        import struct
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environment = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS=str(columns), LINES=str(rows), **(env or {}))
        self.process = subprocess.Popen([sys.executable, str(ROOT / "main.py")], stdin=slave, stdout=slave,
                                        stderr=slave, cwd=cwd, env=environment, start_new_session=True)
        os.close(slave)
        self.text = ""
        self.mark = 0

    def _read(self, wait_s: float) -> None:
        ready, _, _ = select.select([self.master], [], [], wait_s)
        if ready:
            try:
                self.text += ANSI.sub("", os.read(self.master, 65536).decode("utf-8", "replace"))
            except OSError:  # the program ended
                time.sleep(wait_s)

    def expect(self, pattern: str, timeout_s: float = 30.0) -> str:
        """Wait until ``pattern`` (a regex) shows after the last match; return what was shown since then."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text[self.mark:])
            if found:
                seen = self.text[self.mark:self.mark + found.end()]
                self.mark += found.end()
                return seen
            self._read(0.1)
        raise AssertionError(f"{pattern!r} never shown; the screen ended with: {self.text[-800:]!r}")

    def settle(self, quiet_s: float = 0.5) -> None:
        """Read until nothing new comes for ``quiet_s`` (the prompt is drawn and waiting)."""
        last = len(self.text)
        while True:
            self._read(quiet_s)
            if len(self.text) == last:
                return
            last = len(self.text)

    def type(self, keys: str) -> None:
        self.settle(0.3)
        os.write(self.master, keys.encode())

    def close(self, timeout_s: float = 30.0) -> int:
        """Wait for the program to end (reading what it still shows); its exit status."""
        deadline = time.monotonic() + timeout_s
        try:
            while self.process.poll() is None and time.monotonic() < deadline:
                self._read(0.1)
            self._read(0.1)
            return self.process.wait(timeout=1)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, 9)
            os.close(self.master)
