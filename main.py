#!/usr/bin/env python3
"""Entry point: ``python main.py`` starts the interactive planner on a terminal.

With arguments it is the command line (``python main.py --config inference_config.json`` is
``python commands/forecast.py --config inference_config.json``); with no arguments and no terminal
it prints usage and exits with status 2 instead of waiting for answers that cannot come.
"""

import sys

from commands.forecast import main

if __name__ == "__main__":
    sys.exit(main())
