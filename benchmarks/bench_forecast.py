"""Forecast speed: time per series of ``Forecaster(history, "auto").fit()`` (5-origin backtest of 4 methods +
the ensemble, bands, 14-day horizon) against statsforecast's MSTL + AutoETS (one fit and prediction with
80%/95% levels on the whole history, the same seasons), and the README's CLI example end to end.

statsforecast is for this benchmark only (not in requirements.txt; its pins may not suit the project's
pandas: install it apart, e.g. ``pip install --target DIR statsforecast`` and run with ``PYTHONPATH=DIR``);
without it those columns are skipped with a message.

    python benchmarks/bench_forecast.py

Measured on branch forecast14 (2 cores shared with five other engineers' work, load average 7-8, so
CPU seconds are the steadier number; statsforecast 2.1.1, statsmodels 0.15.0; medians of 3):

    series                           values  ours CPU s  ours wall s  statsforecast CPU s  wall s
    burstgpt all, hourly               1464        2.21         7.16                 0.42    1.32
    burstgpt conversation, hourly      1464        2.95         8.58                 0.49    1.38
    servegen m-large, hourly            336        1.58         4.42                 0.11    0.27
    servegen m-mid, hourly              336        1.53         4.26                 0.13    0.38
    servegen m-small, hourly            336        1.64         4.68                 0.13    0.33
    azure 2024 conversation, hourly     144        1.51         3.98                 0.03    0.06
    burstgpt all, daily                  61        0.65         1.52                 0.01    0.03
    README example (CLI, one process, imports included): 5.2 s CPU on the loaded machine. On the quiet
    machine (load < 1) before this branch: 5.3 s wall / 7.3 s CPU, and 3.7 s wall / 3.5 s CPU with
    OPENBLAS_NUM_THREADS=1, which is what the fix (libraries imported before the limit) achieves in-process.

Ours is a whole backtested forecast (6 fitting windows x 4 methods, about 0.2 s each for MSTL and for the
ARIMA order search) against one statsforecast fit, so it costs 4-50x more CPU on these short series.
statsforecast's first import and fit took 3.2 s (not counted above: a warm-up fit runs first). Its cost grows with the history (one fit on all of it); ours is bounded by the
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
