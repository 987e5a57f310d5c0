"""Forecast demand -> replicas and GPUs per period -> a provisioning schedule -> what to add by when.

``plan_forecast`` turns a fitted forecast into a :class:`ForecastPlan`: it picks the tokens per request (flags
over the history's token columns over the defaults) and the peak multiplier, sizes the scenario's demand hour by
hour (``capacity_timeline``), then steps it into whole days or weeks (``step_demand``, ``_schedule``: the GPUs
someone can actually provision) and words the recommendations.

``capacity_timeline(timestamps, demand_rps, plan, gpu)`` sizes every forecast period with the
inference planner. The planner is called once at the peak demand (which fixes the GPU type and
tensor-parallel degree), once for the current capacity, and once per distinct replica count, not
once per period: replicas per period follow the planner's own rule,
``ceil(demand / (max_rps_per_replica x target_gpu_utilization))``, and every distinct count is
confirmed by a planner call at the highest demand that needs it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from models import ForecastInput, ForecastPlan, GPUConfig, LLMWorkloadInput, ModelConfig, check_number, plural

SECONDS_PER_HOUR = 3600
MIN_PLANNED_RPS = 1e-6
"""Demand floor handed to the planner (a period forecast at zero still runs one replica)."""


@dataclass(frozen=True)
class ReplicaShape:
    """What one replica is and serves, from the planner."""

    gpu_type: str
    gpus_per_replica: int
    tensor_parallel: int
    planned_rps_per_replica: float
    """Requests per second one replica is planned for (its maximum x target utilization)."""


def replica_shape(plan: Any, gpu: GPUConfig) -> ReplicaShape:
    """The replica of ``plan`` (an :class:`models.InferencePlan`) at the utilization ``gpu`` targets."""
    res = plan.gpu_resources
    return ReplicaShape(res.gpu_type, res.gpus_per_replica, res.tensor_parallel,
                        round(plan.throughput.max_rps_per_replica * gpu.target_gpu_utilization, 6))


def replicas_for(demand_rps: float, shape: ReplicaShape) -> int:
    """Replicas for ``demand_rps`` by the planner's rule (at least one)."""
    return max(1, math.ceil(demand_rps / shape.planned_rps_per_replica - 1e-9))


def _planned_replicas(demand, plan: Callable, fixed: GPUConfig, shape: ReplicaShape) -> list[int]:
    """Replicas per period: one planner call per distinct count, at the highest demand needing it."""
    estimate = [replicas_for(d, shape) for d in demand]
    top = {}
    for level, d in zip(estimate, demand):
        top[level] = max(top.get(level, 0.0), d)
    confirmed = {level: plan(max(d, MIN_PLANNED_RPS), fixed).gpu_resources.replicas for level, d in top.items()}
    return [confirmed[level] for level in estimate]


def capacity_timeline(timestamps, demand_rps, plan: Callable, gpu: GPUConfig, *, label: str,
                      current_replicas: int | None = None, recent_peak_rps: float | None = None) -> dict:
    """Replicas and GPUs per forecast period and recommendations in words.

    Parameters
    ----------
    timestamps : sequence of pandas.Timestamp
    demand_rps : sequence of float
        Demand per period at the chosen scenario, requests per second.
    plan : callable ``(rps, GPUConfig) -> InferencePlan``
        The inference planner with the model, tokens, SLOs and the workload's peak multiplier bound (1 without a workload).
    gpu : GPUConfig
        The user's hardware choice (``gpu_type`` None lets the planner choose at the peak).
    label : str
        How to name the demand in sentences (``p90``, ``median``, ``p10``).
    current_replicas : int, optional
        Replicas running now; by default those the planner sizes for ``recent_peak_rps``.
    recent_peak_rps : float, optional
        Peak of the recent history, the basis of the current capacity when none is given.

    Returns
    -------
    dict
        ``timeline`` (records per period), ``current`` (replicas and its basis), ``replica``
        (the shape), ``recommendations`` (sentences) and ``planner_calls``.
    """
    demand = [float(d) for d in demand_rps]
    calls = {"n": 0}

    def counted(rps: float, cfg: GPUConfig):
        calls["n"] += 1
        return plan(rps, cfg)

    reference = counted(max(max(demand), MIN_PLANNED_RPS), gpu)
    shape = replica_shape(reference, gpu)
    fixed = dataclasses.replace(gpu, gpu_type=shape.gpu_type, tensor_parallel=shape.tensor_parallel)
    replicas = _planned_replicas(demand, counted, fixed, shape)
    current, basis = _current(current_replicas, recent_peak_rps, counted, fixed)
    timeline = [{"timestamp": t.isoformat(), "demand_rps": round(d, 4), "replicas": r,
                 "gpus_needed": r * shape.gpus_per_replica, "gpu_type": shape.gpu_type}
                for t, d, r in zip(timestamps, demand, replicas)]
    return {
        "timeline": timeline,
        "replica": dataclasses.asdict(shape),
        "current": {"replicas": current, "gpus": current * shape.gpus_per_replica, "basis": basis,
                    "capacity_rps": round(current * shape.planned_rps_per_replica, 4)},
        "recommendations": recommendations(list(timestamps), demand, replicas, current, shape, label),
        "planner_calls": calls["n"],
    }


def _current(current_replicas, recent_peak_rps, plan: Callable, fixed: GPUConfig) -> tuple[int, str]:
    if current_replicas is not None:
        return check_number("current_replicas", current_replicas, integer=True), "given"
    peak = max(float(recent_peak_rps or 0.0), MIN_PLANNED_RPS)
    replicas = plan(peak, fixed).gpu_resources.replicas
    return replicas, (f"assumed: the replicas the planner sizes for the recent history's peak of {peak:.4g} rps "
                      "(pass current_replicas / --current-replicas for the real count)")


def _when(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if (t.hour or t.minute) else t.strftime("%Y-%m-%d")


def _replica_words(count: int, shape: ReplicaShape) -> str:
    return f"{plural(count, 'replica')} ({shape.gpus_per_replica}x {shape.gpu_type} each)"


def recommendations(timestamps: list, demand: list[float], replicas: list[int], current: int, shape: ReplicaShape,
                    label: str) -> list[str]:
    """Sentences: when current capacity runs out, what to add by when, or how long it lasts."""
    capacity = current * shape.planned_rps_per_replica
    peak_i = max(range(len(demand)), key=demand.__getitem__)
    need = max(replicas)
    short = next((i for i, r in enumerate(replicas) if r > current), None)
    if short is None:
        lines = [f"Current capacity, {plural(current, 'replica')} ({current * shape.gpus_per_replica}x {shape.gpu_type}, "
                 f"{capacity:.4g} rps), covers {label} demand through {_when(timestamps[-1])}: its peak is "
                 f"{demand[peak_i]:.4g} rps on {_when(timestamps[peak_i])}, "
                 f"{100 * demand[peak_i] / capacity:.0f}% of capacity."]
        if need < current:
            lines.append(f"{current - need} of {current} replicas stay idle even at the {label} demand: "
                         f"{need} would do ({need * shape.gpus_per_replica} GPUs).")
        return lines
    lead = timestamps[short] - timestamps[0]
    when = ("now: the forecast's first period already needs them" if short == 0 else
            f"before then (within {lead.days} days {lead.seconds // 3600} hours of the forecast start)")
    lines = [f"{label} demand reaches {demand[short]:.4g} rps on {_when(timestamps[short])}, beyond the "
             f"{capacity:.4g} rps of the current {plural(current, 'replica')}; add "
             f"{_replica_words(replicas[short] - current, shape)} {when}."]
    if need > replicas[short]:
        lines.append(f"By {_when(timestamps[peak_i])} {label} demand peaks at {demand[peak_i]:.4g} rps: "
                     f"{need} replicas ({need * shape.gpus_per_replica}x {shape.gpu_type}) in total, "
                     f"{need - current} more than now.")
    return lines


# --------------------------------------------------------------------------- history -> forecast -> GPUs

DEFAULT_TOKENS_TRACE = "azure2023_conv"
"""Token averages used when neither the history nor the workload gives them (``data/traces/token_stats.csv``)."""


def default_tokens() -> tuple[int, int, str]:
    """Mean input and output tokens of the default trace, and where they come from."""
    import csv

    from config import DATA_DIR

    with open(DATA_DIR / "traces" / "token_stats.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["trace"] == DEFAULT_TOKENS_TRACE)
    return (round(float(row["input_mean"])), round(float(row["output_mean"])),
            f"the {DEFAULT_TOKENS_TRACE} trace's means (data/traces/token_stats.csv)")


def request_tokens(history, avg_input_tokens: int | None = None,
                   avg_output_tokens: int | None = None) -> tuple[int, int, str]:
    """Tokens per request a forecast plans with, and where they come from: given (``avg_input_tokens``,
    ``avg_output_tokens``), else the history's token columns, else the default trace's means (each of input and
    output on its own). The one rule: the planner and the wizard's GPU offer both call it."""
    default_in, default_out, default_where = default_tokens()
    picked = []
    for given, seen, default in ((avg_input_tokens, history.avg_input_tokens, default_in),
                                 (avg_output_tokens, history.avg_output_tokens, default_out)):
        if given is not None:
            picked.append((given, "given"))
        elif seen:
            picked.append((max(1, round(seen)), "the history's token columns"))
        else:
            picked.append((default, default_where))
    (tokens_in, where_in), (tokens_out, where_out) = picked
    return tokens_in, tokens_out, where_in if where_in == where_out else f"{where_in} (input), {where_out} (output)"


def default_peak_multiplier(step_s: float) -> tuple[float, str]:
    """The peak multiplier a forecast period is sized with when none is given, and why.

    A forecast value at an hourly (or finer) step is already that period's load: 1. A coarser value
    (a day's average rate) hides the busy hours inside it: the inference planner's default peak
    over average (1.5) applies.
    """
    if step_s <= SECONDS_PER_HOUR:
        return 1.0, "1: a forecast value at an hourly or finer step is already the load of that period"
    coarse = LLMWorkloadInput.__dataclass_fields__["peak_load_multiplier"].default
    return coarse, (f"{coarse:g}: the history's values average over {step_s / SECONDS_PER_HOUR:g} hours, so the busy "
                    "hours inside a period are assumed this much above its forecast (give --peak-multiplier)")


def _demand_only(frame_index, demand_rps, recent_peak_rps: float, label: str) -> list[str]:
    peak_i = max(range(len(demand_rps)), key=lambda i: demand_rps[i])
    change = 100 * (demand_rps[peak_i] / recent_peak_rps - 1) if recent_peak_rps > 0 else float("nan")
    return [f"{label} demand peaks at {demand_rps[peak_i]:.4g} rps on {_when(frame_index[peak_i])} "
            f"({change:+.0f}% against the recent peak of {recent_peak_rps:.4g} rps).",
            "No model given: add --model (or --model-size) and --gpu-type to turn the forecast into replicas and GPUs."]


def plan_forecast(question: ForecastInput, model: ModelConfig | None, gpu: GPUConfig, *, inputs: dict,
                  progress: Callable[[int, int], None] | None = None) -> ForecastPlan:
    """Forecast demand and, with a ``model``, the provisioning schedule, the hourly detail and scaling advice.

    Parameters
    ----------
    question : ForecastInput
        The history and how to read it, horizon, scenario, method, current replicas, the provisioning step and
        the request shape (tokens, latency targets, peak multiplier) that turns demand into replicas.
    model : ModelConfig or None
        Without a model the forecast stands alone and the capacity part says so.
    gpu : GPUConfig
        The hardware choice (``gpu_type`` None lets the planner choose at the peak).
    inputs : dict
        The question as a config file, carried by the result.
    progress : callable ``(done, total)``, optional
        Called as the forecaster's fitting windows complete.

    Notes
    -----
    Capacity is provisioned per step (a day or a week), sized for the scenario's quantile of the step's PEAK
    demand (``forecasting.step_peak_quantiles``: the p90 of the day's maximum for the pessimistic scenario), not
    for every hour's own band: an hourly line that follows the 80% band hour by hour adds up every hour's bad luck
    and swings more than anyone provisions. The hourly detail is kept in ``capacity_timeline``.
    """
    from demand_history import load_history
    from forecasting import SCENARIO_COLUMNS, SCENARIO_LABELS, Forecaster, season_periods, usable_periods, window_points

    history = load_history(question.history, timestamp_column=question.timestamp_column,
                           value_column=question.value_column, frequency=question.frequency,
                           date_format=question.date_format)
    results = Forecaster(history, question.method, question.horizon_days).fit(progress=progress)
    seasons = season_periods(history.step_s)
    forecast = results.to_dict(history_points=window_points(seasons))
    demand = [float(v) * history.rps_per_unit for v in results.scenario(question.scenario)]
    recent = max(usable_periods(len(history.series), seasons, cycles=1), default=len(history.series))
    recent_peak = float(history.series.iloc[-recent:].max()) * history.rps_per_unit
    label = SCENARIO_LABELS[question.scenario]
    plan = dict(forecast, inputs=inputs, scenario=question.scenario, horizon_days=question.horizon_days,
                scenario_column=SCENARIO_COLUMNS[question.scenario], results=results)
    if model is None:
        return ForecastPlan(**plan, capacity={"included": False, "reason": "no model given: the forecast stands alone"},
                            provisioning_schedule=None, capacity_timeline=None,
                            scaling_recommendations=_demand_only(results.frame.index, demand, recent_peak, label))
    input_tokens, output_tokens, token_source = request_tokens(history, question.avg_input_tokens,
                                                                question.avg_output_tokens)
    peak, peak_reason = ((question.peak_load_multiplier, f"{question.peak_load_multiplier:g}: given")
                         if question.peak_load_multiplier is not None else default_peak_multiplier(history.step_s))
    planner = _planner(model, input_tokens, output_tokens, peak, question)
    steps = step_demand(results, question.scenario, question.provision_every)
    every = STEP_WORDS[question.provision_every]
    capacity = capacity_timeline(steps.index, steps["peak_rps"], planner, gpu,
                                 label=f"{label} {STEP_ADJECTIVES[question.provision_every]}-peak",
                                 current_replicas=question.current_replicas, recent_peak_rps=recent_peak)
    shape = ReplicaShape(**capacity["replica"])
    fixed = dataclasses.replace(gpu, gpu_type=shape.gpu_type, tensor_parallel=shape.tensor_parallel)
    hourly = _planned_replicas(demand, planner, fixed, shape)
    plan["assumptions"] = plan["assumptions"] + [
        f"tokens per request {input_tokens} in / {output_tokens} out, from {token_source}",
        f"current capacity {plural(capacity['current']['replicas'], 'replica')}: {capacity['current']['basis']}",
        f"capacity is provisioned per {every}, for the {label} of each {every}'s peak demand (sample paths of the "
        f"forecast's error model, errors within a {every} dependent as in the backtest), x peak multiplier "
        f"{peak_reason}; the hourly capacity_timeline sizes each period alone at its own {label}",
    ]
    return ForecastPlan(
        **plan, scaling_recommendations=capacity["recommendations"],
        provisioning_schedule=_schedule(steps, capacity["timeline"], capacity["current"]["replicas"], shape),
        capacity_timeline=[{"timestamp": t.isoformat(), "demand_rps": round(d, 4), "replicas": r,
                            "gpus_needed": r * shape.gpus_per_replica, "gpu_type": shape.gpu_type}
                           for t, d, r in zip(results.frame.index, demand, hourly)],
        capacity={"included": True, "replica": capacity["replica"], "current": capacity["current"],
                  "avg_input_tokens": input_tokens, "avg_output_tokens": output_tokens,
                  "peak_load_multiplier": peak, "provision_every": question.provision_every,
                  "planner_calls": capacity["planner_calls"] + len(set(hourly))})


STEP_SECONDS = {"1d": 86_400, "1w": 7 * 86_400}
STEP_WORDS = {"1d": "day", "1w": "week"}
STEP_ADJECTIVES = {"1d": "daily", "1w": "weekly"}


def step_demand(results, scenario: str, every: str):
    """Each provisioning step's demand (rps): the scenario's quantile of the step's peak, from the forecaster.

    A DataFrame indexed by step start with ``end``, ``periods`` and ``peak_rps``; a history whose step is as
    long as the provisioning step (daily history, daily provisioning) has one period per step.
    """
    from forecasting import SCENARIO_QUANTILES

    periods = max(1, round(STEP_SECONDS[every] / results.history.step_s))
    q = SCENARIO_QUANTILES[scenario]
    frame = results.step_peaks(periods, (q,))
    frame["peak_rps"] = frame.pop(frame.columns[-1]) * results.history.rps_per_unit
    return frame


def _schedule(steps, timeline: list[dict], current: int, shape: ReplicaShape) -> list[dict]:
    """The provisioning schedule: each step's need and what to add by its start beyond the most held so far."""
    rows, held = [], current
    for (start, step), period in zip(steps.iterrows(), timeline):
        replicas = period["replicas"]
        rows.append({"start": start.isoformat(), "end": step["end"].isoformat(),
                     "peak_demand_rps": period["demand_rps"], "replicas": replicas,
                     "gpus_needed": period["gpus_needed"], "gpu_type": shape.gpu_type,
                     "add_gpus": max(replicas - held, 0) * shape.gpus_per_replica})
        held = max(held, replicas)
    return rows


def _planner(model: ModelConfig, input_tokens: int, output_tokens: int, peak: float,
             question: ForecastInput) -> Callable:
    """``(rps, GPUConfig) -> InferencePlan`` with the model, tokens, peak multiplier and SLOs bound."""
    from inference_engine import plan_inference

    def plan(rps: float, gpu: GPUConfig):
        load = LLMWorkloadInput(requests_per_second=rps, avg_input_tokens=input_tokens,
                                avg_output_tokens=output_tokens, peak_load_multiplier=peak,
                                ttft_slo_ms=question.ttft_slo_ms, itl_slo_ms=question.itl_slo_ms)
        return plan_inference(load, model, gpu)

    return plan
