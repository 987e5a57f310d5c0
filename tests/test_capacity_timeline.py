"""Forecast demand -> replicas per period with few planner calls, and what to add by when, in words."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
from capacity_timeline import capacity_timeline, default_tokens, forecast_future_needs
from models import GPUConfig, ModelConfig

RPS_PER_REPLICA = 2.0  # the fake planner's sustainable rate per replica
GPUS_PER_REPLICA = 4


class FakePlanner:
    """The planner's replica rule, ceil(rps / (max rps per replica x target utilization)), with a call log."""

    def __init__(self):
        self.calls: list[tuple[float, str | None]] = []

    def __call__(self, rps: float, gpu: GPUConfig):
        self.calls.append((rps, gpu.gpu_type))
        replicas = max(1, math.ceil(rps / (RPS_PER_REPLICA * gpu.target_gpu_utilization) - 1e-9))
        return SimpleNamespace(
            gpu_resources=SimpleNamespace(gpu_type=gpu.gpu_type or "H100-80GB", gpus_per_replica=GPUS_PER_REPLICA,
                                          tensor_parallel=GPUS_PER_REPLICA, replicas=replicas,
                                          total_gpus=replicas * GPUS_PER_REPLICA),
            throughput=SimpleNamespace(max_rps_per_replica=RPS_PER_REPLICA),
        )


def daily(values):
    return pd.date_range("2026-12-01", periods=len(values), freq="D", tz="UTC"), list(values)


def test_replicas_follow_the_planner_with_one_call_per_level():
    planner = FakePlanner()
    when, demand = daily([1.0 + 0.25 * i for i in range(40)])  # 1 .. 10.75 rps
    result = capacity_timeline(when, demand, planner, GPUConfig(target_gpu_utilization=0.5), label="p90",
                               current_replicas=3)
    expected = [max(1, math.ceil(d / 1.0 - 1e-9)) for d in demand]
    assert [r["replicas"] for r in result["timeline"]] == expected
    assert [r["gpus_needed"] for r in result["timeline"]] == [4 * r for r in expected]
    assert result["planner_calls"] == 1 + len(set(expected)) < len(demand)
    assert {gpu for _, gpu in planner.calls[1:]} == {"H100-80GB"}  # the GPU chosen at the peak is kept


def test_recommendation_says_when_capacity_runs_out_and_what_to_add():
    when, demand = daily([2.0] * 10 + [3.5] * 10 + [5.2] * 10)
    result = capacity_timeline(when, demand, FakePlanner(), GPUConfig(gpu_type="H100-80GB", target_gpu_utilization=0.5),
                               label="p90", current_replicas=3)
    first, second = result["recommendations"]
    assert first.startswith("p90 demand reaches 3.5 rps on 2026-12-11, beyond the 3 rps of the current 3 replicas; "
                            "add 1 replica (4x H100-80GB each) before then")
    assert second == ("By 2026-12-21 p90 demand peaks at 5.2 rps: 6 replicas (24x H100-80GB) in total, "
                      "3 more than now.")


def test_enough_capacity_says_how_long_it_lasts_and_what_is_idle():
    when, demand = daily([1.0, 1.5, 1.2])
    result = capacity_timeline(when, demand, FakePlanner(), GPUConfig(gpu_type="A100-80GB", target_gpu_utilization=0.5),
                               label="median", current_replicas=4)
    assert result["recommendations"] == [
        "Current capacity, 4 replicas (16x A100-80GB, 4 rps), covers median demand through 2026-12-03: its peak is "
        "1.5 rps on 2026-12-02, 38% of capacity.",
        "2 of 4 replicas stay idle even at the median peak: 2 would do (8 GPUs).",
    ]


def test_current_capacity_defaults_to_the_recent_peak_and_says_so():
    when, demand = daily([1.0, 2.0])
    result = capacity_timeline(when, demand, FakePlanner(), GPUConfig(target_gpu_utilization=0.5), label="p90",
                               recent_peak_rps=2.5)
    assert result["current"]["replicas"] == 3 and result["current"]["basis"].startswith("assumed: the replicas")


def test_zero_demand_still_runs_one_replica():
    when, demand = daily([0.0, 0.0, 0.4])
    result = capacity_timeline(when, demand, FakePlanner(), GPUConfig(), label="p10", current_replicas=1)
    assert [r["replicas"] for r in result["timeline"]] == [1, 1, 1]


def test_default_tokens_come_from_the_trace_statistics():
    stats = pd.read_csv(__import__("config").DATA_DIR / "traces" / "token_stats.csv").set_index("trace")
    inputs, outputs, source = default_tokens()
    assert (inputs, outputs) == (round(stats.loc["azure2023_conv", "input_mean"]),
                                 round(stats.loc["azure2023_conv", "output_mean"]))
    assert "token_stats.csv" in source


def test_scenarios_order_the_capacity(monkeypatch):
    planner = FakePlanner()
    monkeypatch.setattr("capacity_timeline._planner", lambda *args: planner)
    index = pd.date_range("2026-01-01", periods=21 * 24, freq="h", tz="UTC")
    history = pd.Series([5.0 + (i % 24 >= 8) * 3 + 0.3 * ((i * 7) % 5) for i in range(len(index))], index=index,
                        name="rps")
    results = {s: forecast_future_needs(history, ModelConfig(model_size_billions=8), horizon_days=1, scenario=s,
                                        method="seasonal_naive", gpu=GPUConfig(target_gpu_utilization=0.5))
               for s in ("optimistic", "baseline", "pessimistic")}
    peak = {s: max(r["replicas"] for r in v["capacity_timeline"]) for s, v in results.items()}
    assert peak["optimistic"] <= peak["baseline"] <= peak["pessimistic"]
    assert {s: r["scenario_column"] for s, r in results.items()} == {
        "optimistic": "lower_80", "baseline": "mean", "pessimistic": "upper_80"}
