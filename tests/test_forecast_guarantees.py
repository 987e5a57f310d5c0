"""What a forecast promises whatever the history: units do not matter, bands nest, long horizons and poor
backtests are said out loud, library errors never reach the warnings, and step peaks follow the error model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

import forecasting
from demand_history import load_history
from forecasting import Forecaster

TRACES = Path(__file__).resolve().parent.parent / "data" / "traces"
LIBRARY_TEXT = re.compile(r"[A-Z]\w*(Error|Exception|Warning)\b|Traceback|axis \d|dimension|out of bounds|numpy|"
                          r"statsmodels|array|datapoints|heuristic|singular matrix")
"""What a library's exception message looks like (none of it belongs in a warning)."""


def daily_pattern(hours: int, seed: int = 5, noise: float = 0.5, start: str = "2025-03-03") -> pd.Series:
    """Hourly demand with a daily and a weekday/weekend shape plus noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    hour = np.arange(hours)
    shape = (10 + 4 * np.sin(2 * np.pi * hour / 24)) * (1 + 0.2 * (index.day_of_week < 5))
    return pd.Series(shape + rng.normal(0, noise, hours), index=index, name="requests_per_second").clip(lower=0.1)


def assert_nested(frame: pd.DataFrame) -> None:
    columns = ["lower_95", "lower_80", "mean", "upper_80", "upper_95"]
    values = frame[columns].to_numpy()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all(), frame[columns][(np.diff(values, axis=1) < 0).any(axis=1)]


# --------------------------------------------------------------------------- units


@settings(max_examples=5, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate))
@given(factor=st.floats(min_value=1e-3, max_value=1e5), method=st.sampled_from(forecasting.METHOD_CHOICES))
@example(factor=1 / 3600, method="stl")
@example(factor=3600.0, method="arima")
def test_scaling_the_history_scales_forecast_and_bands(factor, method):
    series = daily_pattern(8 * 24)
    base = Forecaster(load_history(series), method, horizon_days=1).fit()
    scaled = Forecaster(load_history(series * factor), method, horizon_days=1).fit()
    assert scaled.method == base.method
    # the optimizers see the same normalized numbers up to rounding; they converge to within ~1e-5
    np.testing.assert_allclose(scaled.frame.to_numpy(), factor * base.frame.to_numpy(), rtol=1e-4,
                               atol=1e-9 * factor * float(series.mean()))


def test_requests_per_hour_and_per_second_give_the_same_rps_forecast():
    """The issue's case: the Azure 2024 trace as counts per hour and as rates (counts / 3600) over 30 days."""
    counts = pd.read_csv(TRACES / "azure2024_conv_per_hour.csv")[["timestamp", "requests"]]
    rates = counts.assign(requests=counts["requests"] / 3600).rename(columns={"requests": "requests_per_second"})
    per_hour = Forecaster(load_history(counts), "auto", horizon_days=30).fit()
    per_second = Forecaster(load_history(rates), "auto", horizon_days=30).fit()
    assert per_hour.history.rps_per_unit == pytest.approx(1 / 3600)
    np.testing.assert_allclose(per_hour.frame.to_numpy() / 3600, per_second.frame.to_numpy(), rtol=1e-4)


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize("hours", list(range(3, 31)) + [40, 49, 60, 100])
def test_bands_nest_for_every_history_length(hours):
    results = Forecaster(load_history(daily_pattern(hours)), "auto", horizon_days=1).fit()
    assert len(results.frame) == 24
    assert_nested(results.frame)


def test_short_history_bands_come_from_the_stated_fallback():
    """24 hourly values: 1 backtest origin, fewer than the 3 needed, so the naive fallback and a warning."""
    results = Forecaster(load_history(daily_pattern(24)), "auto", horizon_days=1).fit()
    assert results.error_model.kind == "naive_fallback" and results.to_dict()["bands_from"] == "naive_fallback"
    assert any(w.startswith("only 24 periods (1 day) of history") and "Student's t" in w for w in results.warnings)
    assert any("too little history for a backtest" in a for a in results.assumptions)
    # Student's t with 22 degrees of freedom (23 lag-1 changes): t_0.9 = 1.321 > the normal 1.2816, so the
    # upper 80% band sits 1.321 x rms(normalized changes) x scale above the point forecast at the first period
    changes = np.diff(daily_pattern(24).to_numpy())
    y = daily_pattern(24).to_numpy()
    rms = np.sqrt(np.mean((changes / (y[:-1] + 0.5 * y.mean())) ** 2))
    first = results.frame.iloc[0]
    scale = first["mean"] + 0.5 * y.mean()
    assert first["upper_80"] - first["mean"] == pytest.approx(1.321 * rms * scale, rel=2e-3)


# --------------------------------------------------------------------------- horizons and poor backtests


def test_a_horizon_longer_than_the_history_is_warned_about_and_its_level_held():
    history = load_history(TRACES / "azure2024_conv_per_hour.csv", value_column="requests")  # 144 hours
    results = Forecaster(history, "auto", horizon_days=30).fit()
    warning = next(w for w in results.warnings if w.startswith("the horizon of 720 periods (30 days)"))
    assert "longer than the history (144 periods (6 days))" in warning and "30.0 x the 24 periods (1 day)" in warning
    mean = results.frame["mean"].to_numpy()
    np.testing.assert_array_equal(mean[144:], np.tile(mean[120:144], 24)[:576])  # the last day before lead 144 repeats
    width = (results.frame["upper_80"] - results.frame["lower_80"]).to_numpy()
    assert width[-1] == pytest.approx(width[143 + 24 * 20], rel=0.05)  # bands stop widening where the level is held
    assert any("level held" in a and "after 144 periods" in a for a in results.assumptions)


def test_a_horizon_past_four_backtest_horizons_is_warned_about():
    """Daily data: the backtest checks one week ahead (the weekly season); 30 days is 4.3 weeks."""
    index = pd.date_range("2025-01-01", periods=120, freq="D", tz="UTC")
    series = pd.Series(100 + 10 * (index.day_of_week < 5) + np.random.default_rng(3).normal(0, 2, 120), index=index,
                       name="requests_per_second")
    results = Forecaster(load_history(series), "ets", horizon_days=30).fit()
    assert results.backtest_horizon == 7
    assert any(w.startswith("the horizon of 30 periods (30 days) is 4.3 x the 7 periods (7 days) the backtest checked")
               for w in results.warnings), results.warnings


def _exact_repeats(days: int) -> pd.Series:
    """A random one-week shape repeated exactly: seasonal naive (the week before) is perfect; with under two
    weeks the other methods model only the daily season and cannot follow it."""
    shape = np.random.default_rng(11).uniform(1, 20, 168)
    index = pd.date_range("2025-03-03", periods=days * 24, freq="h", tz="UTC")
    return pd.Series(np.resize(shape, days * 24), index=index, name="requests_per_second")


def test_when_every_method_backtests_worse_than_naive_naive_is_used_and_said():
    results = Forecaster(load_history(_exact_repeats(12)), "auto", horizon_days=1).fit()
    assert results.method == "seasonal_naive", results.selection
    assert any(w.startswith("every method backtested worse than seasonal naive") and w.endswith("seasonal naive is used")
               for w in results.warnings), results.warnings
    np.testing.assert_allclose(results.frame["mean"], _exact_repeats(13).to_numpy()[-24:], rtol=1e-9)


def test_a_chosen_method_worse_than_naive_is_warned_about():
    results = Forecaster(load_history(_exact_repeats(12)), "arima", horizon_days=1).fit()
    assert results.method == "arima"
    assert any(w.startswith("arima backtested worse than seasonal naive (MASE") for w in results.warnings)


def test_a_poor_backtest_is_never_silent():
    """Two quiet weeks, then demand five times higher: the backtest windows straddle the jump."""
    series = daily_pattern(17 * 24, noise=0.05)
    series.iloc[-3 * 24:] *= 5
    results = Forecaster(load_history(series), "auto", horizon_days=1).fit()
    mase = results.backtest_scores[results.method]
    assert mase > forecasting.POOR_MASE
    assert any(w.startswith(f"the backtest MASE of {results.method} is {mase:.2f}") for w in results.warnings)


# --------------------------------------------------------------------------- library errors in words


def test_stl_keeps_both_seasons_on_a_two_week_window():
    """The ServeGen traces' 336 hourly values: MSTL drops a period of half the series, so the weekly season
    needs more than two cycles; before the fix this raised 'axis 1 is out of bounds'."""
    y = daily_pattern(336).to_numpy()
    assert forecasting.decomposable_periods(336, (24, 168)) == (24,)
    forecast = forecasting.stl_forecast(y / y.mean(), 24, (24, 168))
    assert forecast.shape == (24,) and np.isfinite(forecast).all()


def test_a_failing_method_is_reported_in_words(monkeypatch):
    def broken(y, horizon, seasons):
        raise ValueError("axis 1 is out of bounds for array of dimension 1")

    monkeypatch.setitem(forecasting.METHOD_FUNCTIONS, "arima", broken)
    results = Forecaster(load_history(daily_pattern(10 * 24)), "auto", horizon_days=1).fit()
    skipped = [w for w in results.warnings if w.startswith("arima (ARIMA with Fourier seasons) was skipped")]
    assert skipped == ["arima (ARIMA with Fourier seasons) was skipped on 6 of 6 fitting windows, the final one "
                       "included: that stretch of history did not suit its model (too short or too regular); "
                       "seasonal naive stood in for it there"]
    assert not any(LIBRARY_TEXT.search(w) for w in results.warnings)


TRACE_SERIES = [("azure2024_conv_per_hour.csv", "requests"), ("burstgpt1_per_day.csv", "requests"),
                ("burstgpt1_per_hour.csv", "requests_api"), ("servegen_m-large_per_hour.csv", "requests"),
                ("servegen_m-mid_per_hour.csv", "requests"), ("servegen_m-small_per_hour.csv", "requests"),
                ("AzureLLMInferenceTrace_conv.csv.gz", None)]


@pytest.mark.parametrize("file, column", TRACE_SERIES, ids=[f"{f}:{c}" for f, c in TRACE_SERIES])
def test_no_library_text_in_any_warning_over_the_shipped_traces(file, column):
    history = load_history(TRACES / file, value_column=column)
    results = Forecaster(history, "auto", horizon_days=1, origins=2).fit()
    assert not [w for w in results.warnings if LIBRARY_TEXT.search(w)], results.warnings
    assert not [w for w in results.warnings if "was skipped" in w], results.warnings
    assert_nested(results.frame)


# --------------------------------------------------------------------------- progress and step peaks


def test_progress_reports_each_fitting_window():
    calls = []
    Forecaster(load_history(daily_pattern(10 * 24)), "auto", horizon_days=1).fit(progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 6) for i in range(7)]  # 5 backtest origins + the final fit


@pytest.fixture(scope="module")
def hourly_results():
    series = daily_pattern(21 * 24 + 13)  # ends at 13:00, so aligned days start with a partial one
    return Forecaster(load_history(series), "auto", horizon_days=3).fit()


def test_step_peaks_of_single_periods_are_the_bands(hourly_results):
    """A one-period step's peak is that period's demand: its p10/p90 from the sample paths must match the
    80% band computed from the pooled error draws (two separate computations of one distribution)."""
    peaks = hourly_results.step_peaks(1, (0.1, 0.9), align=False)
    frame = hourly_results.frame
    scale = float(frame["mean"].mean())
    np.testing.assert_allclose(peaks["p90"], frame["upper_80"], atol=0.04 * scale)
    np.testing.assert_allclose(peaks["p10"], np.maximum(frame["lower_80"], 0), atol=0.04 * scale)


def test_daily_peaks_are_aligned_ordered_and_above_every_hours_p90(hourly_results):
    peaks = hourly_results.step_peaks(24)
    assert list(peaks["periods"]) == [11, 24, 24, 13]  # 13:00 to midnight, two whole days, the rest
    assert peaks.index[1] == pd.Timestamp("2025-03-25", tz="UTC")
    assert (peaks["p10"] <= peaks["p50"]).all() and (peaks["p50"] <= peaks["p90"]).all()
    hourly_p90_max = hourly_results.frame["upper_80"].groupby(hourly_results.frame.index.floor("D")).max()
    assert (peaks["p90"].to_numpy() >= 0.97 * hourly_p90_max.to_numpy()).all()
    pessimistic = hourly_results.scenario_step_peaks("pessimistic", 24)
    np.testing.assert_allclose(pessimistic.to_numpy(), peaks["p90"].to_numpy())


def test_fully_dependent_fallback_peaks_are_the_max_of_the_hourly_band():
    """Under the fallback model every path is the point plus one common t draw x the error scale, so the
    peak's p90 is the largest hourly upper_80 of the step (comonotone errors)."""
    results = Forecaster(load_history(daily_pattern(24)), "auto", horizon_days=2).fit()
    assert results.error_model.kind == "naive_fallback"
    peaks = results.step_peaks(24, (0.9,), align=False)
    expected = results.frame["upper_80"].to_numpy().reshape(2, 24).max(axis=1)
    np.testing.assert_allclose(peaks["p90"], expected, rtol=0.03)
