"""Forecast speed: 8 weeks of hourly history, ``method="auto"`` with its rolling-origin backtest
(5 origins x 4 methods + the ensemble), a 30-day horizon (target < 10 s on the 2-core machine).

    python benchmarks/bench_forecast.py
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WEEKS = 8
HISTORY = ROOT / "data" / "traces" / "burstgpt1_per_hour.csv"


def time_auto_fit(repeats: int = 3) -> tuple[float, str]:
    from demand_history import load_history
    from forecasting import Forecaster

    history = load_history(HISTORY, value_column="requests")
    history = dataclasses.replace(history, series=history.series.iloc[-WEEKS * 168:])
    samples, method = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        method = Forecaster(history, "auto", horizon_days=30).fit().method
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), method


def main() -> None:
    seconds, method = time_auto_fit()
    print(f"auto forecast, {WEEKS} weeks hourly ({WEEKS * 168} values), 30-day horizon: {seconds:.2f} s "
          f"(median of 3; chose {method}; target < 10 s)")


if __name__ == "__main__":
    main()
