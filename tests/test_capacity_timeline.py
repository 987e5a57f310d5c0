"""Forecast demand -> replicas per period with few planner calls, and what to add by when, in words.

The oracle is the inference planner itself called once for every period (the slow, obvious way):
``capacity_timeline`` must give the same replicas with far fewer calls.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from capacity_timeline import capacity_timeline, default_peak_multiplier, default_tokens
from inference_engine import plan_inference
from llm_forecast_engine import LLMForecastEngine
from models import ForecastInput, GPUConfig, LLMWorkloadInput, ModelConfig

MODEL = ModelConfig(model="llama-3.1-8b", precision="BF16")
GPU = GPUConfig(gpu_type="H100-80GB", target_gpu_utilization=0.7)


def planner(rps: float, gpu: GPUConfig):
    """The real inference planner for an 8B chat service (1,000 tokens in, 250 out, no burst multiplier)."""
    load = LLMWorkloadInput(requests_per_second=rps, avg_input_tokens=1000, avg_output_tokens=250,
                            peak_load_multiplier=1.0, itl_slo_ms=40)
    return plan_inference(load, MODEL, gpu)


def daily(values):
    return pd.date_range("2026-12-01", periods=len(values), freq="D", tz="UTC"), list(values)


def replicas_one_call_per_period(demand, gpu: GPUConfig) -> list[int]:
    """Slow reference: plan every period on the replica shape chosen at the peak."""
    peak = planner(max(demand), gpu).gpu_resources
    fixed = dataclasses.replace(gpu, gpu_type=peak.gpu_type, tensor_parallel=peak.tensor_parallel)
    return [planner(d, fixed).gpu_resources.replicas for d in demand]


def test_replicas_match_the_planner_called_for_every_period_with_far_fewer_calls():
    when, demand = daily([5.0 + 3.0 * i for i in range(40)])  # 5 .. 122 rps
    result = capacity_timeline(when, demand, planner, GPU, label="p90", current_replicas=3)
    expected = replicas_one_call_per_period(demand, GPU)
    assert [r["replicas"] for r in result["timeline"]] == expected
    gpus_per_replica = result["replica"]["gpus_per_replica"]
    assert [r["gpus_needed"] for r in result["timeline"]] == [gpus_per_replica * r for r in expected]
    assert len(set(expected)) > 3  # the ramp crosses several replica counts
    assert result["planner_calls"] <= 2 + len(set(expected)) < len(demand)


def test_recommendation_names_the_first_period_beyond_current_capacity():
    when, demand = daily([5.0] * 10 + [60.0] * 10 + [120.0] * 10)
    result = capacity_timeline(when, demand, planner, GPU, label="p90", current_replicas=1)
    expected = replicas_one_call_per_period(demand, GPU)
    first_short = next(i for i, r in enumerate(expected) if r > 1)
    first, second = result["recommendations"]
    day = when[first_short].strftime("%Y-%m-%d")
    assert first.startswith(f"p90 demand reaches {demand[first_short]:.4g} rps on {day}, beyond the ")
    assert f"add {expected[first_short] - 1} replica" in first
    assert second.startswith(f"By {when[20].strftime('%Y-%m-%d')} p90 demand peaks at 120 rps: {max(expected)} replicas")


def test_enough_capacity_says_how_long_it_lasts_and_what_is_idle():
    when, demand = daily([1.0, 1.5, 1.2])
    result = capacity_timeline(when, demand, planner, GPU, label="median", current_replicas=4)
    first, second = result["recommendations"]
    assert first.startswith("Current capacity, 4 replicas (4x H100-80GB, ")
    assert "covers median demand through 2026-12-03: its peak is 1.5 rps on 2026-12-02" in first
    assert second == "3 of 4 replicas stay idle even at the median demand: 1 would do (1 GPUs)."


def test_current_capacity_defaults_to_what_the_recent_peak_needs_and_says_so():
    when, demand = daily([1.0, 2.0])
    result = capacity_timeline(when, demand, planner, GPU, label="p90", recent_peak_rps=90.0)
    assert result["current"]["replicas"] == planner(90.0, GPU).gpu_resources.replicas > 1
    assert result["current"]["basis"].startswith("assumed: the replicas")


def test_zero_demand_still_runs_one_replica():
    when, demand = daily([0.0, 0.0, 0.4])
    result = capacity_timeline(when, demand, planner, GPU, label="p10", current_replicas=1)
    assert [r["replicas"] for r in result["timeline"]] == [1, 1, 1]


def test_default_tokens_come_from_the_trace_statistics():
    stats = pd.read_csv(__import__("config").DATA_DIR / "traces" / "token_stats.csv").set_index("trace")
    inputs, outputs, source = default_tokens()
    assert (inputs, outputs) == (round(stats.loc["azure2023_conv", "input_mean"]),
                                 round(stats.loc["azure2023_conv", "output_mean"]))
    assert "token_stats.csv" in source


@pytest.mark.parametrize("step_s, expected", [(60, 1.0), (3600, 1.0), (86_400, 1.5)])
def test_peak_multiplier_rule(step_s, expected):
    # An hourly value is that hour's load (1); a daily average hides its busy hours (the planner's 1.5 default).
    assert default_peak_multiplier(step_s)[0] == expected


def _hourly_history(days: int = 21) -> pd.Series:
    index = pd.date_range("2026-01-01", periods=days * 24, freq="h", tz="UTC")
    return pd.Series([5.0 + (i % 24 >= 8) * 3 + 0.3 * ((i * 7) % 5) for i in range(len(index))], index=index,
                     name="rps")


def test_scenarios_order_the_capacity():
    engine = LLMForecastEngine()
    results = {s: engine.forecast(ForecastInput(history=_hourly_history(), horizon_days=1, scenario=s,
                                                method="seasonal_naive", avg_input_tokens=1000, avg_output_tokens=250),
                                  ModelConfig(model_size_billions=8), GPUConfig(target_gpu_utilization=0.5))
               for s in ("optimistic", "baseline", "pessimistic")}
    peak = {s: max(r["replicas"] for r in v["capacity_timeline"]) for s, v in results.items()}
    assert peak["optimistic"] <= peak["baseline"] <= peak["pessimistic"]
    assert {s: r["scenario_column"] for s, r in results.items()} == {
        "optimistic": "lower_80", "baseline": "mean", "pessimistic": "upper_80"}


def test_given_tokens_win_over_the_history_token_columns():
    frame = _hourly_history().rename("requests_per_second").reset_index()
    frame["avg_input_tokens"], frame["avg_output_tokens"] = 914.0, 155.0
    engine = LLMForecastEngine()
    given = engine.forecast(ForecastInput(history=frame, horizon_days=1, method="seasonal_naive",
                                          avg_input_tokens=282, avg_output_tokens=232), MODEL, GPU)
    from_history = engine.forecast(ForecastInput(history=frame, horizon_days=1, method="seasonal_naive"), MODEL, GPU)
    assert (given.capacity["avg_input_tokens"], given.capacity["avg_output_tokens"]) == (282, 232)
    assert (from_history.capacity["avg_input_tokens"], from_history.capacity["avg_output_tokens"]) == (914, 155)


# --------------------------------------------------------------------------- provisioning schedule


@pytest.fixture(scope="module")
def ramp_forecast():
    """Four weeks of hourly rates with a daily cycle growing 3% a day, an 8B model on H100s, 1 replica now."""
    index = pd.date_range("2026-01-05", periods=28 * 24, freq="h", tz="UTC")
    history = pd.Series([(20.0 + 40.0 * (8 <= t.hour < 20)) * 1.03 ** (i / 24) for i, t in enumerate(index)],
                        index=index, name="rps")
    question = ForecastInput(history=history, horizon_days=7, avg_input_tokens=1000, avg_output_tokens=250,
                             current_replicas=1)
    return LLMForecastEngine().forecast(question, MODEL, GPU)


def test_each_day_is_sized_for_at_least_its_busiest_hour(ramp_forecast):
    schedule, hourly = ramp_forecast.provisioning_schedule, ramp_forecast.capacity_timeline
    assert len(schedule) == 7 and len(hourly) == 7 * 24
    for day in schedule:
        hours = [h for h in hourly if day["start"] <= h["timestamp"] <= day["end"]]
        assert len(hours) == 24
        # the p90 of the day's peak is at least the largest hourly p90 of that day (a max of the paths)
        assert day["peak_demand_rps"] >= max(h["demand_rps"] for h in hours) * (1 - 1e-6)
        assert day["gpus_needed"] >= max(h["gpus_needed"] for h in hours)


def test_the_schedule_says_what_to_add_and_by_when(ramp_forecast):
    schedule = ramp_forecast.provisioning_schedule
    held_gpus = ramp_forecast.capacity["current"]["gpus"]
    for day in schedule:  # by hand: add what the day needs beyond the most held so far
        assert day["add_gpus"] == max(day["gpus_needed"] - held_gpus, 0)
        held_gpus = max(held_gpus, day["gpus_needed"])
    assert sum(d["add_gpus"] for d in schedule) == max(d["gpus_needed"] for d in schedule) - 1 > 0
    first_add = next(d for d in schedule if d["add_gpus"])
    assert first_add["start"][:10] in ramp_forecast.scaling_recommendations[0]


def test_weekly_provisioning_covers_every_day_of_its_week(ramp_forecast):
    weekly = LLMForecastEngine().forecast(
        dataclasses.replace(ForecastInput(**{k: v for k, v in ramp_forecast.inputs["forecast"].items()
                                              if k != "history"}, history=ramp_forecast.results.history.series),
                            provision_every="1w"), MODEL, GPU)
    assert ramp_forecast.forecast == weekly.forecast  # the same forecast, provisioned per week
    assert weekly.capacity["provision_every"] == "1w"
    # 2026-02-02 is a Monday: the 7 days fall in one aligned week, whose peak covers each day's
    assert len(weekly.provisioning_schedule) == 1
    assert weekly.provisioning_schedule[0]["gpus_needed"] >= max(d["gpus_needed"] for d in
                                                                   ramp_forecast.provisioning_schedule)
