"""Pictures of results: matplotlib PNGs of an inference plan or a demand forecast.

``plot(result, path)`` draws an :class:`models.InferencePlan` (ITL and output throughput against batch
size, the operating point, the ITL target and the KV-cache limit marked) or a :class:`models.ForecastPlan`
(history, median, 80%/95% bands and the GPUs needed as steps) to a PNG, 1100 x 450 px, written atomically.
matplotlib (Agg backend) is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Any

from models import ForecastPlan, InferencePlan, InputError

PLOT_SIZE_IN = (11.0, 4.5)
PLOT_DPI = 100


def check_png_path(path: str | os.PathLike, field_name: str = "--plot") -> Path:
    """``path`` as a PNG target in an existing directory, or an :class:`InputError`."""
    from config_loader import check_output_path

    return check_output_path(path, field_name, suffix=".png")


def save_figure_atomic(figure, target: Path, field_name: str = "--plot") -> Path:
    """Save a matplotlib figure as PNG atomically (``config_loader.write_atomic``)."""
    from config_loader import write_atomic

    return write_atomic(target, lambda handle: figure.savefig(handle, format="png", dpi=PLOT_DPI), field_name)


def _figure(ncols: int):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_SIZE_IN, layout="constrained")
    return figure, figure.subplots(1, ncols, squeeze=False)[0]


def plot(result: Any, path: str | os.PathLike, field_name: str = "--plot") -> Path:
    """Draw ``result`` (an inference plan or a forecast) to the PNG file ``path``."""
    return _draw(result, check_png_path(path, field_name), field_name)


@functools.singledispatch
def _draw(result: Any, target: Path, field_name: str) -> Path:
    raise InputError(field_name, str(target), "an inference plan or a forecast to draw (this result has no picture)")


@_draw.register
def _(plan: InferencePlan, target: Path, field_name: str) -> Path:
    return plot_inference(plan, target, field_name)


@_draw.register
def _(plan: ForecastPlan, target: Path, field_name: str) -> Path:
    return plot_forecast(plan, target, field_name)


# --------------------------------------------------------------------------- inference


def batch_sweep(plan: InferencePlan) -> list[dict]:
    """ITL and throughput per replica at batch sizes up to the plan's max concurrency, on the plan's replica and
    with the efficiencies it was planned with (its calibration profile, if any)."""
    import inference_engine
    from calibration import profile_in_use
    from config_loader import section_input

    res = plan.gpu_resources
    gpu = dataclasses.replace(section_input(plan.inputs, "gpu"), gpu_type=res.gpu_type,
                              tensor_parallel=res.tensor_parallel)
    model = dataclasses.replace(section_input(plan.inputs, "model"), precision=plan.model.precision)
    top = max(res.max_concurrency_per_replica, plan.throughput.batch_size, 1)
    sizes = sorted({*(2**i for i in range(top.bit_length()) if 2**i <= top), top, plan.throughput.batch_size})
    with profile_in_use(plan.inputs.get("profile")):
        return inference_engine.sweep_batch_sizes(section_input(plan.inputs, "workload"), model, gpu, sizes)


def plot_inference(plan: InferencePlan, target: Path, field_name: str = "--plot") -> Path:
    """Draw :func:`inference_figure` to ``target``."""
    return save_figure_atomic(inference_figure(plan), target, field_name)


def inference_figure(plan: InferencePlan):
    """ITL and output throughput per replica against batch size, operating point and SLO marked."""
    points = batch_sweep(plan)
    batch = [p["batch_size"] for p in points]
    figure, (itl_ax, tps_ax) = _figure(2)
    op = plan.throughput.batch_size
    itl_ax.plot(batch, [p["itl_ms"] for p in points], marker="o", label="ITL (one decode step)")
    tps_ax.plot(batch, [p["output_tokens_per_second"] for p in points], marker="o", color="tab:green",
                label="output tokens/s per replica")
    itl_ax.plot([op], [plan.latency.itl_ms], marker="*", markersize=16, color="tab:red", linestyle="none",
                label=f"operating point (batch {op})")
    tps_ax.plot([op], [plan.throughput.output_tokens_per_second_per_replica], marker="*", markersize=16,
                color="tab:red", linestyle="none", label=f"operating point (batch {op})")
    slo = (plan.inputs.get("workload") or {}).get("itl_slo_ms")
    if slo:
        itl_ax.axhline(slo, color="tab:orange", linestyle="--", label=f"ITL target {slo:g} ms")
    res = plan.gpu_resources
    for ax, ylabel in ((itl_ax, "inter-token latency (ms)"), (tps_ax, "output tokens/s per replica")):
        ax.axvline(res.max_concurrency_per_replica, color="grey", linestyle=":",
                   label=f"KV-cache limit ({res.max_concurrency_per_replica} sequences)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("decode batch size (sequences)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    figure.suptitle(f"{plan.model.name} {plan.model.precision} on {res.gpus_per_replica} x {res.gpu_type} "
                    f"(tensor parallel {res.tensor_parallel})")
    return figure


# --------------------------------------------------------------------------- forecast


def _series(records: list[dict], key: str):
    import numpy as np

    when = np.array([np.datetime64(str(r["timestamp"])[:19]) for r in records])
    return when, np.array([float(r[key]) for r in records])


def plot_forecast(plan: ForecastPlan, target: Path, field_name: str = "--plot") -> Path:
    """Draw :func:`forecast_figure` to ``target``."""
    return save_figure_atomic(forecast_figure(plan), target, field_name)


def forecast_figure(plan: ForecastPlan):
    """History, median forecast, 80%/95% bands, and the provisioning schedule's GPUs as steps on a second axis."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import EngFormatter

    figure, (ax,) = _figure(1)
    if plan.history:
        ax.plot(*_series(plan.history, "value"), color="black", linewidth=1, label="history")
    when, mean = _series(plan.forecast, "mean")
    for low, high, alpha in (("lower_95", "upper_95", 0.15), ("lower_80", "upper_80", 0.3)):
        ax.fill_between(when, _series(plan.forecast, low)[1], _series(plan.forecast, high)[1], alpha=alpha,
                        color="tab:blue", label=f"{low[-2:]}% interval")
    ax.plot(when, mean, color="tab:blue", label="median forecast")
    ax.set_ylabel(demand_axis_label(plan))
    ax.yaxis.set_major_formatter(EngFormatter())
    ax.set_ylim(bottom=0)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if plan.provisioning_schedule:
        _draw_capacity(ax, plan.provisioning_schedule, plan.capacity.get("current") or {}, until=when[-1])
    ax.set_title(f"Demand forecast ({plan.method}), capacity for the {plan.scenario} scenario")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return figure


_STEP_NAMES = {"min": "minute", "h": "hour", "D": "day", "W": "week"}


def demand_axis_label(plan: ForecastPlan) -> str:
    """The demand axis in words: ``requests per hour`` for hourly counts, ``requests per second`` for rates."""
    if plan.unit == "rps":
        return "requests per second"
    step = plan.frequency.lstrip("0123456789")
    count = plan.frequency[: len(plan.frequency) - len(step)]
    return f"requests per {count + ' ' if count else ''}{_STEP_NAMES.get(step, step)}"


def _draw_capacity(ax, schedule: list[dict], current: dict, until) -> None:
    """The GPUs each provisioning step needs, as steps (to ``until``) on a second axis with whole-GPU ticks, and
    the GPUs now."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    starts = [np.datetime64(str(step["start"])[:19]) for step in schedule]
    gpus = [step["gpus_needed"] for step in schedule]
    twin = ax.twinx()
    twin.step([*starts, until], [*gpus, gpus[-1]], where="post", color="tab:red", linewidth=1.5,
              label="GPUs provisioned")
    if current.get("gpus"):
        twin.axhline(current["gpus"], color="tab:red", linestyle=":", label=f"GPUs now ({current['gpus']})")
    twin.set_ylim(bottom=0, top=max(gpus + [current.get("gpus") or 0]) * 1.15 + 1)
    twin.yaxis.set_major_locator(MaxNLocator(integer=True))
    twin.set_ylabel("GPUs")
    twin.legend(loc="upper right", fontsize="small")
