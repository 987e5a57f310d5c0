"""Traffic history input: pairs, Series, frames, CSVs, request logs; repairs are warned about, bad input refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demand_history import load_history
from models import InputError

TRACES = Path(__file__).resolve().parent.parent / "data" / "traces"


def hourly_frame(hours: int = 72, column: str = "rps") -> pd.DataFrame:
    index = pd.date_range("2025-01-01", periods=hours, freq="h")
    return pd.DataFrame({"timestamp": index, column: 5 + np.sin(np.arange(hours) / 24 * 2 * np.pi)})


def test_seed_pairs_are_requests_per_second_on_a_daily_grid():
    start = datetime(2026, 1, 1, 9, 30)
    history = load_history([(start + timedelta(days=i), 10 + i * 0.1) for i in range(30)])
    assert history.frequency == "D" and history.unit == "rps" and history.rps_per_unit == 1.0
    assert len(history.series) == 30 and history.series.iloc[-1] == pytest.approx(12.9)
    assert history.warnings == ()


def test_series_and_frame_give_the_same_history():
    frame = hourly_frame()
    from_frame = load_history(frame)
    from_series = load_history(frame.set_index("timestamp")["rps"])
    pd.testing.assert_series_equal(from_frame.series, from_series.series)


@pytest.mark.parametrize("file, column, unit, step_s", [
    ("burstgpt1_per_hour.csv", "requests", "requests per period", 3600),
    ("servegen_m-large_per_hour.csv", "requests", "requests per period", 3600),
    ("azure2024_conv_per_hour.csv", "requests", "requests per period", 3600),
    ("burstgpt1_per_day.csv", "requests", "requests per period", 86400),
], ids=["burstgpt-hourly", "servegen-hourly", "azure-iso-utc", "burstgpt-daily"])
def test_shared_traces_read_with_the_first_numeric_column(file, column, unit, step_s):
    history = load_history(TRACES / file)
    assert history.value_name == column and history.unit == unit and history.step_s == step_s
    assert history.rps_per_unit == pytest.approx(1 / step_s)
    assert history.series.notna().all() and history.series.index.freq is not None


def test_integer_timestamps_are_seconds_from_a_stated_epoch():
    history = load_history(TRACES / "burstgpt1_per_hour.csv", value_column="requests_conversation")
    assert str(history.series.index[0]) == "2024-01-01 00:00:00+00:00"
    assert any("read as seconds after 2024-01-01" in w for w in history.warnings)


def test_token_totals_become_means_per_request_with_coverage():
    history = load_history(TRACES / "servegen_m-large_per_hour.csv")
    frame = pd.read_csv(TRACES / "servegen_m-large_per_hour.csv")
    known = frame["requests"] * frame["token_coverage"]
    assert history.avg_input_tokens == pytest.approx(frame["input_tokens"].sum() / known.sum())
    assert 100 < history.avg_output_tokens < history.avg_input_tokens


def test_request_log_is_counted_into_rps_with_token_means():
    history = load_history(TRACES / "AzureLLMInferenceTrace_conv.csv.gz", frequency="5min")
    log = pd.read_csv(TRACES / "AzureLLMInferenceTrace_conv.csv.gz")
    assert history.unit == "rps" and history.frequency == "5min"
    assert history.avg_input_tokens == pytest.approx(log["ContextTokens"].mean())
    middle = history.series.sum() * 300  # interior periods only: the partial first and last are dropped
    assert 0.85 * len(log) < middle <= len(log)


def test_time_zones_are_converted_to_utc():
    frame = hourly_frame(48)
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("Europe/Berlin").map(lambda t: t.isoformat())
    history = load_history(frame)
    assert str(history.series.index.tz) == "UTC" and history.series.index[0].hour == 23


def test_unsorted_duplicates_and_gaps_are_repaired_and_reported():
    frame = hourly_frame(72)
    frame = pd.concat([frame.iloc[::-1], frame.iloc[[5]]]).drop(index=[30, 31, 32])
    frame.loc[len(frame) + 100] = [frame["timestamp"].iloc[-1], 99.0]
    history = load_history(frame)
    assert len(history.series) == 72 and history.series.index.is_monotonic_increasing
    text = " | ".join(history.warnings)
    assert "sorted by timestamp" in text and "repeat a timestamp" in text and "3 missing periods filled" in text


def test_off_grid_timestamps_snap_to_the_nearest_period():
    frame = hourly_frame(48)
    frame.loc[10, "timestamp"] += pd.Timedelta(seconds=40)
    history = load_history(frame)
    assert len(history.series) == 48 and any("moved to the nearest period" in w for w in history.warnings)


@pytest.mark.parametrize("column, expected", [("requests", "requests per period"), ("rps", "rps"),
                                              ("requests_per_second", "rps"), ("load", "rps")],
                         ids=["count", "rate", "rate-words", "unknown-is-rate"])
def test_value_unit_follows_the_column_name(column, expected):
    history = load_history(hourly_frame(column=column))
    assert history.unit == expected
    assert any("taken as requests per second" in w for w in history.warnings) == (column == "load")


def test_frequency_aggregates_counts_by_sum_and_rates_by_mean():
    counts = load_history(hourly_frame(72, "requests"), frequency="D")
    rates = load_history(hourly_frame(72, "rps"), frequency="D")
    assert counts.series.iloc[0] == pytest.approx(hourly_frame(24, "requests")["requests"].sum())
    assert rates.series.iloc[0] == pytest.approx(5.0)
    assert counts.rps_per_unit == pytest.approx(1 / 86400)


@pytest.mark.parametrize("source, message", [
    (3.5, r"history: got 'float'; expected a list of \(datetime, value\) pairs"),
    ([(datetime(2026, 1, 1), 1.0, 3)], r"rps_history\[0\]: got .*; expected a \(datetime, requests per second\) pair"),
    ([], r"rps_history: got \[\]; expected at least 3"),
    (pd.Series([1.0, 2.0, 3.0]), r"history: got 'Series indexed by RangeIndex'; expected a Series on a DatetimeIndex"),
    (hourly_frame().assign(rps=-1.0), r"history: rps: got -1.0; expected demand values >= 0"),
    (hourly_frame().assign(timestamp="yesterday"), r"history: timestamp: got 'yesterday'; expected a date and time"),
], ids=["scalar", "triples", "empty-pairs", "range-index", "negative", "bad-timestamp"])
def test_bad_history_names_the_problem(source, message):
    with pytest.raises(InputError, match=message):
        load_history(source)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "traffic.csv"
    path.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(InputError, match=r"--history: got '.*traffic.csv'; expected a UTF-8 text file"):
        load_history(path)
