#!/usr/bin/env python3
"""Entry point: ``python main.py`` starts the interactive planner on a terminal.

With arguments it is the command line (``python main.py --config inference_config.json`` is
``python commands/forecast.py --config inference_config.json``). With no arguments and stdin or stdout not
a terminal (``python main.py | tee log``, ``python main.py < /dev/null``) it says so in one line on stderr
and exits with status 2, instead of drawing prompts into a pipe or waiting for answers that cannot come.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from commands.common import program_name

    prog = program_name(argv, "main.py")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv:
        from commands.forecast import main as command_line

        return command_line(argv, prog=prog)
    from commands.common import guarded
    from llm_agent import run_wizard

    return guarded(lambda: run_wizard(prog=prog), debug=False, stderr=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
