"""Are the forecast's daily-peak quantiles calibrated? (the numbers a provisioning schedule is sized on)

For each shipped hourly trace, non-overlapping windows at the end of the history are forecast from the data
before them (``Forecaster.fit``, the automatic choice, as the planner runs it); each day's realized peak hour is
compared with the forecast's p10 / p50 / p90 of that day's peak (``ForecastResults.step_peaks``). A calibrated
forecast has about 10% / 50% / 90% of the realized peaks at or below them.

    python benchmarks/eval_step_peaks.py

Measured 2026-11-30 on main (2 cores, ~2 min; days within a window are correlated, so the effective sample
is nearer the 30 windows than the 109 days):

    trace                       days   <= p10   <= p50   <= p90
    burstgpt all                  42      24%      62%     100%
    burstgpt conversation         42      19%      76%     100%
    servegen m-large               8      25%      50%      88%
    servegen m-mid                 8      50%      88%     100%
    servegen m-small               8       0%      62%      75%
    azure 2024 conversation        1     100%     100%     100%
    all                          109      23%      69%      97%

With each origin's MEAN error as its level (before): all 13% / 76% / 97%, burstgpt all 2% / 81% / 100% (one
burst in one backtest origin lifted every path).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name -> (file, value column, window days, windows)
TRACES = {
    "burstgpt all": ("burstgpt1_per_hour.csv", "requests", 7, 6),
    "burstgpt conversation": ("burstgpt1_per_hour.csv", "requests_conversation", 7, 6),
    "servegen m-large": ("servegen_m-large_per_hour.csv", "requests", 2, 4),
    "servegen m-mid": ("servegen_m-mid_per_hour.csv", "requests", 2, 4),
    "servegen m-small": ("servegen_m-small_per_hour.csv", "requests", 2, 4),
    "azure 2024 conversation": ("azure2024_conv_per_hour.csv", "requests", 1, 1),
}
QUANTILES = (0.1, 0.5, 0.9)


def realized_vs_quantiles(file: str, column: str, days: int, windows: int) -> list[tuple[float, list[float]]]:
    """(realized daily peak, [p10, p50, p90] forecast for that day) for each day of each window."""
    from demand_history import load_history
    from forecasting import Forecaster

    series = load_history(ROOT / "data" / "traces" / file, value_column=column).series
    periods = 24 * days
    out = []
    for k in range(windows, 0, -1):
        cut = len(series) - k * periods
        results = Forecaster(load_history(series.iloc[:cut].rename(column)), horizon_days=days).fit()
        peaks = results.step_peaks(24, QUANTILES, align=False)[[f"p{q * 100:g}" for q in QUANTILES]].to_numpy()
        realized = series.iloc[cut:cut + periods].to_numpy().reshape(days, 24).max(axis=1)
        out += [(float(r), list(map(float, q))) for r, q in zip(realized, peaks)]
    return out


def main() -> None:
    print(f"{'trace':26} {'days':>5} " + " ".join(f"{'<= p%g' % (q * 100):>8}" for q in QUANTILES))
    pooled = []
    for name, spec in TRACES.items():
        rows = realized_vs_quantiles(*spec)
        pooled += rows
        shares = [sum(r <= q[i] for r, q in rows) / len(rows) for i in range(len(QUANTILES))]
        print(f"{name:26} {len(rows):5d} " + " ".join(f"{s:8.0%}" for s in shares), flush=True)
    shares = [sum(r <= q[i] for r, q in pooled) / len(pooled) for i in range(len(QUANTILES))]
    print(f"{'all':26} {len(pooled):5d} " + " ".join(f"{s:8.0%}" for s in shares))


if __name__ == "__main__":
    main()
