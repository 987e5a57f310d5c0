"""Forecast speed: time per series of ``Forecaster(history, "auto").fit()`` (5-origin backtest of 4 methods +
the ensemble, bands, 14-day horizon) against statsforecast's MSTL + AutoETS (one fit and prediction with
80%/95% levels on the whole history, the same seasons), and the README's CLI example end to end.

statsforecast is for this benchmark only (not in requirements.txt; its pins may not suit the project's
pandas: install it apart, e.g. ``pip install --target DIR statsforecast`` and run with ``PYTHONPATH=DIR``);
without it those columns are skipped with a message.

    python benchmarks/bench_forecast.py

Measured on branch forecast14 (2 cores shared with five other engineers' work, load average 6-10, so
CPU seconds are the steadier number; statsforecast 2.1.1, statsmodels 0.15.0; medians of 3):

    series                           values  ours CPU s  ours wall s  statsforecast CPU s  wall s
    burstgpt all, hourly               1464        2.09         4.53                 1.85    3.98
    burstgpt conversation, hourly      1464        2.46         5.25                 2.36    4.69
    servegen m-large, hourly            336        0.94         1.98                 0.21    0.34
    servegen m-mid, hourly              336        1.03         2.17                 0.18    0.36
    servegen m-small, hourly            336        1.02         2.19                 0.29    0.43
    azure 2024 conversation, hourly     144        0.77         1.44                 0.14    0.25
    burstgpt all, daily                  61        0.22         0.34                 0.02    0.04
    README example (CLI, one process, imports included): 4.0 s CPU (was 7.3 s before the BLAS fix)

statsforecast's first call also compiles/loads its kernels (about 3 s, not counted above: a warm-up
fit runs first). Its cost grows with the history (one fit on all of it); ours is bounded by the
4-week training windows and grows with the number of backtest windows instead.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRACES = ROOT / "data" / "traces"
SERIES = {
    "burstgpt all, hourly": ("burstgpt1_per_hour.csv", "requests"),
    "burstgpt conversation, hourly": ("burstgpt1_per_hour.csv", "requests_conversation"),
    "servegen m-large, hourly": ("servegen_m-large_per_hour.csv", "requests"),
    "servegen m-mid, hourly": ("servegen_m-mid_per_hour.csv", "requests"),
    "servegen m-small, hourly": ("servegen_m-small_per_hour.csv", "requests"),
    "azure 2024 conversation, hourly": ("azure2024_conv_per_hour.csv", "requests"),
    "burstgpt all, daily": ("burstgpt1_per_day.csv", "requests"),
}
HORIZON_DAYS = 14
REPEATS = 3
README_EXAMPLE = ["commands/forecast.py", "--mode", "forecast", "--history", "data/traces/burstgpt1_per_hour.csv",
                  "--horizon-days", "14", "--format", "json"]


def timed(call, repeats: int = REPEATS) -> tuple[float, float]:
    """Median CPU seconds and wall seconds of ``call()``."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def ours(history):
    from forecasting import Forecaster

    return lambda: Forecaster(history, "auto", horizon_days=HORIZON_DAYS).fit()


def statsforecast_call(history):
    """MSTL (the history's seasons) with an AutoETS trend, fitted on the whole history, 80%/95% intervals."""
    import math

    from statsforecast.models import MSTL, AutoETS

    from forecasting import season_periods, usable_periods

    y = history.series.to_numpy(dtype=float)
    seasons = list(usable_periods(len(y), season_periods(history.step_s))) or [1]
    horizon = math.ceil(HORIZON_DAYS * 86_400 / history.step_s)
    return lambda: MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")).fit(y).predict(horizon, level=[80, 95])


def readme_example() -> float:
    """CPU seconds of the README's CLI example in a fresh process (imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, *README_EXAMPLE], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    from demand_history import load_history

    try:
        import statsforecast  # noqa: F401
        have_statsforecast = True
    except ImportError:
        have_statsforecast = False
        print("statsforecast not installed: its columns are skipped (pip install statsforecast, benchmark only)")
    histories = {name: load_history(TRACES / f, value_column=c) for name, (f, c) in SERIES.items()}
    if have_statsforecast:  # warm-up: statsforecast loads its kernels on first use
        statsforecast_call(histories["azure 2024 conversation, hourly"])()
    print(f"{'series':32} {'values':>6} {'ours CPU s':>11} {'ours wall s':>12} {'statsforecast CPU s':>20} {'wall s':>7}")
    for name, history in histories.items():
        cpu, wall = timed(ours(history))
        theirs = f"{'':>20} {'':>7}"
        if have_statsforecast:
            their_cpu, their_wall = timed(statsforecast_call(history))
            theirs = f"{their_cpu:20.2f} {their_wall:7.2f}"
        print(f"{name:32} {len(history.series):6d} {cpu:11.2f} {wall:12.2f} {theirs}")
    print(f"README example (CLI, one process, imports included): {statistics.median(readme_example() for _ in range(REPEATS)):.1f} s CPU")


if __name__ == "__main__":
    main()
