"""Forecast accuracy and band coverage in rolling-origin backtests (the numbers in issue 4's note).

For each series the last ``origins`` windows of ``horizon`` periods are forecast from the data before
them, with the automatic choice (its own inner backtest) exactly as ``Forecaster.fit`` runs it.

    python benchmarks/eval_forecast.py                       # the shared traces
    python benchmarks/eval_forecast.py extra.csv:column ...  # plus other CSVs (hourly, 7 daily origins)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRACES = ROOT / "data" / "traces"
# name -> (file, value column, horizon periods, outer origins)
SERIES = {
    "burstgpt all, hourly": ("burstgpt1_per_hour.csv", "requests", 24, 7),
    "burstgpt conversation, hourly": ("burstgpt1_per_hour.csv", "requests_conversation", 24, 7),
    "servegen m-large, hourly": ("servegen_m-large_per_hour.csv", "requests", 24, 7),
    "servegen m-mid, hourly": ("servegen_m-mid_per_hour.csv", "requests", 24, 7),
    "servegen m-small, hourly": ("servegen_m-small_per_hour.csv", "requests", 24, 7),
    "azure 2024 conversation, hourly": ("azure2024_conv_per_hour.csv", "requests", 24, 3),
    "burstgpt all, daily (7-day horizon)": ("burstgpt1_per_day.csv", "requests", 7, 4),
}


PICK_LETTERS = {"seasonal_naive": "n", "stl": "s", "arima": "a", "ets": "e", "ensemble": "E"}
"""One letter per origin in the ``picks`` column: the method the automatic choice used there."""


def evaluate(path: Path, column: str | None, horizon: int, origins: int) -> dict:
    from demand_history import load_history
    from forecasting import rolling_evaluation

    start = time.perf_counter()
    result = rolling_evaluation(load_history(path, value_column=column), horizon=horizon, outer_origins=origins)
    return {**result, "seconds": time.perf_counter() - start}


def main(extra: list[str]) -> None:
    rows = {name: evaluate(TRACES / f, c, h, o) for name, (f, c, h, o) in SERIES.items()}
    for spec in extra:
        path, _, column = spec.partition(":")
        rows[Path(path).stem] = evaluate(Path(path), column or None, 24, 7)
    print(f"{'series':38} {'MASE auto':>9} {'sn short':>9} {'sn long':>9} {'ratio':>6} {'80% held':>9} "
          f"{'95% held':>9} {'picks':>8} {'s':>5}")
    for name, r in rows.items():
        picks = "".join(PICK_LETTERS[o["method"]] for o in r["origins"])
        print(f"{name:38} {r['mase']:9.3f} {r['mase_seasonal_naive_shortest']:9.3f} {r['mase_seasonal_naive']:9.3f} "
              f"{r['ratio_to_seasonal_naive']:6.3f} {r['coverage_80']:9.1%} {r['coverage_95']:9.1%} {picks:>8} "
              f"{r['seconds']:5.1f}")
    for label, keys in (("shared hourly traces", [k for k in SERIES if "hourly" in k]), ("all", list(rows))):
        subset = [rows[k] for k in keys]
        mean = {k: sum(r[k] for r in subset) / len(subset) for k in ("ratio_to_seasonal_naive", "coverage_80", "coverage_95")}
        print(f"mean over {label} ({len(subset)}): ratio {mean['ratio_to_seasonal_naive']:.3f}, "
              f"80% held {mean['coverage_80']:.1%}, 95% held {mean['coverage_95']:.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
