"""Demand forecasting: accuracy and band coverage on the shared traces, method choice, the SEED API and the CLI."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forecasting
from demand_history import history_from_frame, load_history
from forecast_intervals import calibrated_quantiles
from forecasting import Forecaster, rolling_evaluation, select_method

TRACES = Path(__file__).resolve().parent.parent / "data" / "traces"
# (file, value column, outer origins): hourly traces, 24-hour horizon, the last 7 days (Azure 2024 has 6 days: 3)
TRACE_CASES = {
    "burstgpt-all": ("burstgpt1_per_hour.csv", "requests", 7),
    "burstgpt-conversation": ("burstgpt1_per_hour.csv", "requests_conversation", 7),
    "servegen-large": ("servegen_m-large_per_hour.csv", "requests", 7),
    "servegen-mid": ("servegen_m-mid_per_hour.csv", "requests", 7),
    "servegen-small": ("servegen_m-small_per_hour.csv", "requests", 7),
    "azure2024-conversation": ("azure2024_conv_per_hour.csv", "requests", 3),
}


@functools.lru_cache(maxsize=None)
def evaluate_trace(case: str) -> dict:
    file, column, origins = TRACE_CASES[case]
    return rolling_evaluation(load_history(TRACES / file, value_column=column), horizon=24, outer_origins=origins)


def seeded_series(days: int = 21, step: str = "h", seed: int = 7, growth_per_day: float = 0.0) -> pd.Series:
    """Daily and weekly seasonality with noise (hourly by default)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-03-03", periods=days * 24 if step == "h" else days, freq=step, tz="UTC")
    hours = np.arange(len(index)) * (1 if step == "h" else 24)
    daily = 1 + 0.5 * np.sin(2 * np.pi * hours / 24)
    weekly = 1 + 0.2 * (index.day_of_week < 5)
    level = 10 + growth_per_day * hours / 24
    return pd.Series(level * daily * weekly + rng.normal(0, 0.5, len(index)), index=index, name="requests_per_second")


# --------------------------------------------------------------------------- accuracy on real traces


@pytest.mark.parametrize("case", list(TRACE_CASES), ids=list(TRACE_CASES))
def test_auto_beats_weekly_seasonal_naive_and_bands_hold(case):
    result = evaluate_trace(case)
    assert result["ratio_to_seasonal_naive"] < 1.0, result
    assert 0.6 <= result["coverage_80"] <= 0.95, result
    assert result["coverage_95"] >= 0.8, result


def test_mean_over_traces_meets_the_targets():
    results = {case: evaluate_trace(case) for case in TRACE_CASES}
    ratio = np.mean([r["ratio_to_seasonal_naive"] for r in results.values()])
    coverage_80 = np.mean([r["coverage_80"] for r in results.values()])
    coverage_95 = np.mean([r["coverage_95"] for r in results.values()])
    assert ratio <= 0.9, results
    assert 0.70 <= coverage_80 <= 0.90, results
    assert 0.88 <= coverage_95 <= 0.99, results


def test_evaluation_refits_exactly_as_fit_does():
    history = history_from_frame(seeded_series(days=12).to_frame().reset_index())
    evaluation = rolling_evaluation(history, horizon=24, outer_origins=1)
    cut = evaluation["origins"][0]["origin"]
    truncated = history_from_frame(seeded_series(days=12).iloc[:cut].to_frame().reset_index())
    results = Forecaster(truncated, "auto", horizon_days=1).fit()
    actual = history.series.to_numpy()[cut:cut + 24]
    mase = np.mean(np.abs(actual - results.frame["mean"].to_numpy())) / forecasting.mase_scale(
        truncated.series.to_numpy()[-forecasting.window_points((24, 168)):], (24, 168))
    assert results.method == evaluation["origins"][0]["method"]
    assert mase == pytest.approx(evaluation["mase"], rel=1e-9)


# --------------------------------------------------------------------------- methods and choice


@pytest.mark.parametrize("method", forecasting.METHOD_CHOICES, ids=forecasting.METHOD_CHOICES)
def test_every_method_forecasts_the_horizon_with_ordered_bands(method):
    history = load_history(seeded_series(days=16))
    results = Forecaster(history, method, horizon_days=2).fit()
    frame = results.summary_frame()
    assert len(frame) == 48 and list(frame.columns) == ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert results.method == (method if method != "auto" else results.method)
    assert (frame["lower_95"] <= frame["lower_80"] + 1e-9).all() and (frame["upper_80"] <= frame["upper_95"] + 1e-9).all()
    assert (frame["lower_80"] <= frame["upper_80"]).all() and (frame >= 0).all().all()
    assert frame.index[0] == history.series.index[-1] + pd.Timedelta(hours=1)


def test_seasonal_methods_follow_the_daily_shape():
    history = load_history(seeded_series(days=21))
    truth = seeded_series(days=22).iloc[-24:].to_numpy()
    for method in ("stl", "arima", "ets", "ensemble"):
        forecast = Forecaster(history, method, horizon_days=1).fit().frame["mean"].to_numpy()
        assert np.corrcoef(forecast, truth)[0, 1] > 0.9, method


def test_auto_reports_every_candidates_score():
    results = Forecaster(load_history(seeded_series(days=21)), "auto", horizon_days=1).fit()
    backtest = results.to_dict()["backtest"]
    assert set(backtest["scores"]) == set(forecasting.CANDIDATES)
    assert backtest["origins"] == forecasting.BACKTEST_ORIGINS and backtest["horizon_periods"] == 24
    assert results.method in forecasting.CANDIDATES and backtest["selection"]


@pytest.mark.parametrize("scores, origins, expected", [
    ({"stl": [1.0, 1.1, 0.9], "ensemble": [0.8, 0.9, 0.85]}, 3, "ensemble"),
    ({"stl": [0.5, 0.52, 0.48], "ensemble": [0.8, 0.85, 0.9]}, 3, "stl"),
    ({"stl": [0.7, 1.3, 0.6], "ensemble": [0.8, 0.9, 0.85]}, 3, "ensemble"),
    ({"ets": [0.1, 0.1], "ensemble": [0.4, 0.45]}, 2, "ets"),
    ({"ets": [0.3, 0.3], "ensemble": [0.4, 0.45]}, 2, "ensemble"),
    ({"arima": [0.9], "seasonal_naive": [1.0]}, 1, "arima"),
], ids=["ensemble-best", "clear-winner", "winner-within-noise", "few-origins-factor-two", "few-origins-close",
        "no-ensemble"])
def test_select_method_keeps_the_ensemble_unless_beaten_clearly(scores, origins, expected):
    assert select_method(scores, origins)[0] == expected


def test_calibrated_quantiles_match_normal_errors_with_many_origins():
    rng = np.random.default_rng(3)
    errors = rng.normal(0, 1, (200, 24))
    quantiles = calibrated_quantiles(errors, horizon=24, test_horizon=24)
    expected = [-1.96, -1.2816, 1.2816, 1.96]
    assert quantiles[:, 0] == pytest.approx(expected, abs=0.15)


def test_bands_widen_past_the_backtest_horizon():
    rng = np.random.default_rng(4)
    errors = rng.normal(0, 1, (5, 24)) + rng.normal(0, 1, (5, 1))
    quantiles = calibrated_quantiles(errors, horizon=96, test_horizon=24)
    width = quantiles[2] - quantiles[1]
    assert width[-1] > 1.3 * width[0] and width[:24].std() < 0.05 * width[0]


def test_too_little_history_falls_back_with_a_warning():
    history = load_history(seeded_series(days=1).iloc[:30])
    results = Forecaster(history, "auto", horizon_days=1).fit()
    assert any("too little history for a seasonal model" in w and "fitted without seasonality" in w
               for w in results.warnings), results.warnings
    assert len(results.frame) == 24 and results.seasonal_periods == ()


def test_horizon_days_must_be_positive():
    history = load_history(seeded_series(days=3))
    with pytest.raises(forecasting.InputError, match=r"forecast.horizon_days: got 0; expected a finite number > 0 and <= 3660"):
        Forecaster(history, "auto", horizon_days=0)
    with pytest.raises(forecasting.InputError, match=r"forecast.method: got 'prophet'; expected one of auto, "):
        Forecaster(history, "prophet")


# --------------------------------------------------------------------------- API as SEED.md writes it


def test_seed_forecast_example_runs_as_written():
    from llm_forecast_engine import LLMForecastEngine
    from models import ModelConfig

    engine = LLMForecastEngine()
    model = ModelConfig(model_size_billions=70, precision="FP16")
    rps_history = [(datetime.now() - timedelta(days=30 - i), 10 + i * 0.1) for i in range(30)]
    forecast = engine.forecast_future_needs(rps_history, model, horizon_days=30, scenario="pessimistic")
    assert isinstance(forecast["scaling_recommendations"][0], str) and "p90 daily-peak demand" in forecast["scaling_recommendations"][0]
    assert {"method", "backtest", "forecast", "capacity_timeline", "scaling_recommendations"} <= set(forecast)
    records = forecast["forecast"]
    assert len(records) == 30 and set(records[0]) == {"timestamp", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
    assert records[-1]["mean"] > 12.9  # the trend carries on
    timeline = forecast["capacity_timeline"]
    assert len(timeline) == 30 and all(r["gpus_needed"] >= r["replicas"] >= 1 for r in timeline)
    assert json.loads(json.dumps(forecast.to_dict(), allow_nan=False))["method"] == forecast["method"]


# --------------------------------------------------------------------------- CLI


def test_cli_one_day_of_hourly_history_gives_24_points(cli, tmp_path):
    out = tmp_path / "forecast.json"
    result = cli("--mode", "forecast", "--history", str(TRACES / "servegen_m-large_per_hour.csv"),
                 "--horizon-days", "1", "--method", "seasonal_naive", "--output", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(out.read_text())
    assert payload == json.loads(result.stdout)
    assert len(payload["forecast"]) == 24 and payload["capacity_timeline"] is None
    assert payload["capacity"] == {"included": False, "reason": "no model given: the forecast stands alone"}
    assert payload["scaling_recommendations"][-1].startswith("No model given")


def test_cli_forecast_with_a_model_sizes_the_timeline_and_plots(cli, tmp_path):
    history = tmp_path / "traffic.csv"
    seeded_series(days=15).rename("rps").to_csv(history, index_label="timestamp")
    plot = tmp_path / "forecast.png"
    result = cli("--mode", "forecast", "--history", str(history), "--horizon-days", "2", "--method", "ets",
                 "--model-size", "8", "--gpu-type", "L4", "--input-tokens", "500", "--output-tokens", "100",
                 "--current-replicas", "2", "--plot", str(plot), "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["capacity_timeline"]) == 48 and payload["capacity"]["current"]["replicas"] == 2
    assert payload["capacity"]["avg_input_tokens"] == 500
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


HOURS = [f"2025-01-01T{h:02d}:00:00" for h in range(24)]
BAD_INPUT = {
    "missing-file": (lambda d: str(d / "nope.csv"), [], r"--history: got '.*nope.csv'; expected an existing file"),
    "empty-file": (lambda d: _write(d / "empty.csv", ""), [], r"--history: got '.*empty.csv'; expected a non-empty file"),
    "non-numeric": (lambda d: _write(d / "text.csv", "timestamp,rps\n" + "".join(
        f"{t},{'abc' if i == 5 else i + 1}\n" for i, t in enumerate(HOURS))), [],
        r"history: rps: got 'abc'; expected numbers \(row 6 is not a number\)"),
    "single-point": (lambda d: _write(d / "one.csv", "timestamp,rps\n2025-01-01T00:00:00,5\n"), [],
                     r"history: got '1 point'; expected at least 3 time-stamped values"),
    "all-zeros": (lambda d: _write(d / "zeros.csv", "timestamp,rps\n" + "".join(f"{t},0\n" for t in HOURS)), [],
                  r"history: got 'all 24 values are zero'; expected some non-zero demand"),
    "nan-run": (lambda d: _write(d / "nan.csv", "timestamp,rps\n" + "".join(
        f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:00:00,{'' if 10 <= i < 40 else 5}\n" for i in range(72))), [],
        r"history: rps: got '30 missing periods in a row from 2025-01-01 10:00:00'; expected gaps of at most 24"),
    "horizon-zero": (lambda d: str(TRACES / "azure2024_conv_per_hour.csv"), ["--horizon-days", "0"],
                     r"argument --horizon-days: got '0'; expected a finite number > 0"),
    "horizon-negative": (lambda d: str(TRACES / "azure2024_conv_per_hour.csv"), ["--horizon-days", "-3"],
                         r"argument --horizon-days: got '-3'; expected a finite number > 0"),
    "unknown-method": (lambda d: str(TRACES / "azure2024_conv_per_hour.csv"), ["--method", "prophet"],
                       r"forecast.method: got 'prophet'; expected one of auto, "),
    "unknown-column": (lambda d: str(TRACES / "azure2024_conv_per_hour.csv"), ["--value-column", "rps"],
                       r"--value-column: got 'rps'; expected a column of the history: timestamp, requests"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_no_file(cli, tmp_path, case):
    import re

    make, extra, message = BAD_INPUT[case]
    out = tmp_path / "out.json"
    result = cli("--mode", "forecast", "--history", make(tmp_path), *extra, "--output", str(out))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_config_horizon_zero_is_refused(cli, tmp_path):
    config = tmp_path / "forecast_config.json"
    config.write_text(json.dumps({"mode": "forecast", "forecast": {
        "history": str(TRACES / "azure2024_conv_per_hour.csv"), "horizon_days": 0}}))
    result = cli("--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: forecast.horizon_days: got 0; expected a finite number > 0 and <= 3660"
