"""Calibration: predict measurements, check the planner against them, and fit its efficiencies.

Every measurement, shipped or a user's, is a :class:`measurements.Measurement`; :func:`predict` gives the
engines' prediction for one. :func:`validate` compares predictions with a set of measurements. :func:`map_fit`
is the one fit: a MAP estimate of the efficiencies (``inference_engine.Efficiency``,
``training_engine.TrainingEfficiency``) on log errors, each kind weighted equally, with log-priors.
The shipped fits (``data/efficiency_fit.json``, ``data/training_fit.json``) use weak physical priors
(:data:`FIT_PRIORS`); a user's profile (:func:`fit_profile`) uses the shipped fit as its prior and moves only
the parameters its rows inform. :func:`profile_in_use` makes the planners use a profile.

    python calibration.py import RESULT.json... [--output measurements.csv] [--model M --gpu G ...]
    python calibration.py validate [--measurements FILE.csv] [--efficiency-profile profile.json]
    python calibration.py fit --measurements FILE.csv --output profile.json
    python calibration.py refit-shipped        # rewrite data/efficiency_fit.json and data/training_fit.json
    python calibration.py crossval             # shipped holdout groups
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import math
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from config import DATA_DIR  # the checkout's data/, or an installed copy's
from measurements import Measurement, read_measurements, shipped_measurements
from models import InputError, UnknownKeyError, ValidationReport, check_number

SMALLEST_PREDICTION = 1e-9
"""Floor of a prediction inside log errors (a replica that holds no sequence predicts 0 tokens/s)."""


# --------------------------------------------------------------------------- prediction


def predict(row: Measurement, inference, training) -> float:
    """The engines' prediction of ``row`` (in its kind's unit) with efficiencies ``inference``
    (:class:`inference_engine.Efficiency`) and ``training`` (:class:`training_engine.TrainingEfficiency`)."""
    if row.group == "inference":
        return _predict_inference(row, inference)
    return _predict_training(row, training)


@functools.lru_cache(maxsize=512)
def _deployment(arch, gpu_id: str, precision: str, kv_precision: str, tensor_parallel: int, engine: str):
    import config
    import inference_engine as ie

    return ie.deployment(arch, config.get_gpu(gpu_id), precision, kv_precision, tensor_parallel, engine)


def _predict_inference(row: Measurement, eff) -> float:
    import inference_engine as ie
    from serving_engines import engine_of

    dep = _deployment(row.architecture, row.gpu, row.precision, row.kv, row.tensor_parallel, engine_of(row.engine))
    if row.kind == "decode_step_ms":
        return ie.decode_step_s(dep, eff, row.batch, row.context_tokens) * 1e3
    if row.kind == "prefill_ms":
        return ie.prefill_s(dep, eff, row.input_tokens, row.batch) * 1e3
    isl, osl = row.input_tokens, row.output_tokens
    if row.kind == "saturated_output_tokens_per_s":
        return ie.saturated_output_tokens_per_s(dep, eff, isl, osl)
    if row.batch is not None:  # a static batch (vllm bench latency, trtllm-bench latency)
        run = ie.static_batch(dep, eff, row.batch, isl, osl)
        return {"ttft_ms": run.ttft_s * 1e3, "itl_ms": run.itl_s * 1e3, "e2e_latency_ms": run.e2e_s * 1e3,
                "output_tokens_per_s": row.batch * osl / run.e2e_s}[row.kind]
    most = max(ie.max_concurrency(dep, None, dep.policy.tokens_held(isl, osl)), 1)
    if row.concurrency is not None:
        point = ie.operating_point(dep, eff, min(row.concurrency, most), isl, osl)
    else:
        from models import LLMWorkloadInput

        workload = LLMWorkloadInput(requests_per_second=row.request_rate, avg_input_tokens=isl, avg_output_tokens=osl)
        point = ie.point_at_rate(dep, eff, row.request_rate, workload, most)
    return {"ttft_ms": point.ttft_s * 1e3, "itl_ms": point.step_s * 1e3, "e2e_latency_ms": point.e2e_s * 1e3,
            "output_tokens_per_s": point.rps * osl}[row.kind]


@functools.lru_cache(maxsize=512)
def _job_and_layout(row: Measurement):
    import training_engine as te

    setup = row.training
    job = te.Job(arch=row.architecture, method=setup.method, precision=row.precision,
                 mixed_precision=setup.mixed_precision, optimizer=setup.optimizer, lora_rank=setup.lora_rank,
                 sequence_length=row.context_tokens, global_batch_size=row.batch, loss_chunks=setup.loss_chunks)
    layout = te.Layout(data_parallel=setup.data_parallel, tensor_parallel=row.tensor_parallel,
                       pipeline_parallel=setup.pipeline_parallel, zero_stage=setup.zero_stage,
                       micro_batch_size=setup.micro_batch, gradient_checkpointing=setup.gradient_checkpointing)
    return job, layout


def _predict_training(row: Measurement, eff) -> float:
    import config
    import training_engine as te

    job, layout = _job_and_layout(row)
    if row.kind.endswith("memory_gib"):
        return te.memory_estimate(job, layout, eff).reserved / config.BYTES_PER_GIB
    gpu = config.get_gpu(row.gpu)
    if row.kind == "training_gpu_hours":
        tokens = row.training.dataset_tokens
        candidate = te.best_on(job, gpu, te.Constraints(), eff, tokens)
        return te.duration_hours(job, candidate, gpu, tokens) * candidate.layout.gpus
    tokens_per_s = job.global_batch_size * job.sequence_length / te.step_time(job, layout, gpu, eff).total_s
    if row.kind == "training_tokens_per_s":
        return tokens_per_s
    if row.kind == "training_tokens_per_s_per_gpu":
        return tokens_per_s / layout.gpus
    flops = te.training_flops_per_token(job.arch, job.sequence_length, job.method, job.lora_rank,
                                        layout.gradient_checkpointing)
    if row.kind == "training_mfu":  # MosaicML's MFU: model FLOPs over the BF16 peak, in percent
        return 100 * flops.model * tokens_per_s / (layout.gpus * te.peak_flops(gpu, job.precision))
    return flops.hardware * tokens_per_s / layout.gpus / 1e12  # Megatron-LM counts the recomputed forward


def predictions(rows, values: dict) -> list[float]:
    """Predictions of ``rows`` with parameter ``values`` (:func:`parameters` keys); a row the engines refuse
    raises :class:`models.InputError` naming it."""
    inference, training = efficiencies(values)
    out = []
    for row in rows:
        try:
            out.append(predict(row, inference, training))
        except InputError as exc:
            raise InputError(f"{row.source or row.label}: {exc.field}", exc.value, exc.accepted) from None
    return out


# --------------------------------------------------------------------------- validation


def error_row(row: Measurement, predicted: float) -> dict:
    """One validation line: signed relative error of ``predicted`` against the measured value."""
    return {
        "id": row.label,
        "quantity": row.kind,
        "predicted": round(predicted, 4),
        "measured": round(row.value, 4),
        "unit": row.unit,
        "error_pct": round(100.0 * (predicted - row.value) / row.value, 2),
        "source": row.source,
    }


def summarize(rows: list[dict]) -> dict:
    """Median and largest absolute error per quantity."""
    by_quantity: dict[str, list[float]] = {}
    for row in rows:
        by_quantity.setdefault(row["quantity"], []).append(abs(row["error_pct"]))
    return {q: _error_stats(v) for q, v in by_quantity.items()}


def _error_stats(errors: list[float]) -> dict:
    return {"rows": len(errors), "median_abs_error_pct": round(statistics.median(errors), 2),
            "max_abs_error_pct": round(max(errors), 2)}


def validate(measurements=None, profile=None) -> ValidationReport:
    """Predicted vs measured for every row of ``measurements`` (a measurements CSV path, or rows; ``None``:
    the shipped calibration data), with the efficiencies of ``profile`` (a profile path; ``None``: the shipped
    fits), the rows farthest off first."""
    if measurements is None:
        rows, label = shipped_measurements(), "shipped calibration data (data/calibration)"
    elif isinstance(measurements, (str, Path)):
        rows, label = read_measurements(measurements), str(measurements)
    else:
        rows = tuple(measurements)
        label = f"{len(rows)} measurements"
    if profile is None:
        values, used = stock_values(), "shipped fits (data/efficiency_fit.json, data/training_fit.json)"
    else:
        loaded = load_profile(profile)
        values, used = values_of(loaded.inference, loaded.training), loaded.description
    lines = [error_row(r, p) for r, p in zip(rows, predictions(rows, values))]
    lines.sort(key=lambda line: -abs(line["error_pct"]))
    return ValidationReport(rows=tuple(lines), summary=summarize(lines), measurements=label, efficiencies=used)


def validate_inference(eff=None) -> list[dict]:
    """Predicted vs measured for every shipped inference row (``eff``: the shipped fit)."""
    values = values_of(eff, None) if eff else stock_values()
    rows = inference_cases()
    return [error_row(r, p) for r, p in zip(rows, predictions(rows, values))]


def validate_training(eff=None) -> list[dict]:
    """Predicted vs measured for every shipped training row (``eff``: the shipped fit)."""
    values = values_of(None, eff) if eff else stock_values()
    rows = training_cases()
    return [error_row(r, p) for r, p in zip(rows, predictions(rows, values))]


# --------------------------------------------------------------------------- parameters

FIT_BOUNDS = {
    "weight_bandwidth": (0.3, 1.0),
    "quantized_weight_bandwidth": (0.2, 1.0),
    "kv_bandwidth": (0.2, 1.0),
    "matmul": (0.2, 1.0),
    "matmul_fp8": (0.2, 1.0),
    "step_overhead_us_per_layer": (0.0, 200.0),
    "fused_overhead_us_per_layer": (0.0, 200.0),
    "allreduce_latency_us": (1.0, 200.0),
    "roofline_sharpness": (1.0, 8.0),
    "nvlink_allreduce_bandwidth": (0.2, 1.2),
    "pcie_allreduce_bandwidth": (0.05, 1.0),
    "pcie_cross_socket_share": (0.1, 1.0),
    "pcie_allreduce_latency_us": (1.0, 500.0),
    "matmul_half_width": (0.0, 4096.0),
    "elementwise_traffic": (0.0, 40.0),
}

# Weak priors (MAP fit): where the data say little about a parameter, it stays physical.
FIT_PRIORS = {
    "weight_bandwidth": 0.75,  # H200 ceilings: decode-shaped GEMV 3182 GB/s of 4800 (0.66), D2D copy 0.88
    "quantized_weight_bandwidth": 0.6,  # weight-only INT8/INT4 GEMV kernels dequantize in registers (gpt-fast, Marlin)
    "kv_bandwidth": 0.85,  # attention kernels stream KV near copy bandwidth at batch >= 32
    "matmul": 0.75,  # share of the MAMF ceiling: LLM shapes are smaller and less regular than MAMF's best shape
    "matmul_fp8": 0.65,  # FP8 adds activation quantization and keeps attention and the LM head in 16-bit
    "step_overhead_us_per_layer": 20.0,  # about ten kernels per layer at ~2 us each under CUDA graphs
    "fused_overhead_us_per_layer": 10.0,  # TensorRT-LLM fuses norm+residual, QKV+rotary, gate+up+SiLU: about half the kernels
    "allreduce_latency_us": 10.0,  # NCCL small-message all-reduce within an NVLink node (nccl-tests)
    "roofline_sharpness": 2.0,
    "nvlink_allreduce_bandwidth": 0.8,  # nccl-tests all_reduce busbw: 8x A100 SXM ~232 GB/s of 300 (nccl-tests#175), 8x H100 ~360-480 of 450
    "pcie_allreduce_bandwidth": 0.5,  # PCIe Gen4 x16 ring busbw ~15-20 GB/s of 32 one-way (nccl-tests issues on 4090/A40/A100-PCIe boxes)
    "pcie_cross_socket_share": 0.5,  # a ring across two CPU sockets crosses UPI/xGMI twice and loses P2P: about half
    "pcie_allreduce_latency_us": 30.0,  # small all-reduce over PCIe: ~20-40 us (nccl-tests 8-byte rows on PCIe boxes)
    "matmul_half_width": 256.0,  # cuBLAS/CUTLASS reach half the wide-GEMM rate near N ~ 256 on H100-class parts
    "elementwise_traffic": 8.0,  # two RMSNorms (read+write), two residual adds (2 reads + write), rotary on q,k: ~8 x hidden
}
PRIOR_WEIGHT = 0.1

TRAINING_FIT_BOUNDS = {"activation_scale": (0.5, 2.0), "reserved_over_allocated": (1.0, 1.5),
                       "matmul": (0.2, 1.0), "attention": (0.1, 1.0), "elementwise_traffic": (0.0, 40.0),
                       "kernel_overhead_us": (0.0, 50.0)}
TRAINING_FIT_PRIORS = {
    "activation_scale": 1.0,  # the tensor-by-tensor count is right
    "reserved_over_allocated": 1.05,  # PyTorch caching allocator: a few percent of fragmentation
    "matmul": 0.7,  # training GEMMs near the MAMF shapes, minus attention and small GEMMs
    "attention": 0.6,  # FlashAttention-2 forward+backward: 50-70% of A100 peak (Dao 2023, arXiv:2307.08691)
    "elementwise_traffic": 4.0,  # each saved activation written once, read back a few times
    "kernel_overhead_us": 5.0,  # CUDA launch latency and kernel tail, a few microseconds
}

PROFILE_PRIOR_WEIGHT = 0.1
PROFILE_BALANCE_KINDS = False
"""A user's profile: every row weighs alike (a likelihood: more rows, more evidence) and the shipped fit is a
log-prior of weight 0.1 (about 5% row noise against 50% spread of efficiencies between stacks). Chosen among
{0.1, 0.3} x {rows alike, kinds alike} on benchmarks/eval_calibration.py, where it moved the held-out error
most (README_calibration_section.md)."""
INFORMED_ELASTICITY = 0.05
"""A parameter is informed by rows when some row's prediction moves at least 0.05% per 1% of the parameter."""
GROUP_FITS = {"inference": "efficiency_fit.json", "training": "training_fit.json"}


@dataclass(frozen=True)
class Parameter:
    """One fitted efficiency: ``group.name`` (``inference.matmul``, ``training.matmul``) and its bounds."""

    key: str
    group: str
    name: str
    low: float
    high: float
    physical_prior: float
    """Prior of the shipped fit (:data:`FIT_PRIORS`, :data:`TRAINING_FIT_PRIORS`)."""


def _classes() -> dict:
    import inference_engine as ie
    import training_engine as te

    return {"inference": ie.Efficiency, "training": te.TrainingEfficiency}


def parameters() -> dict[str, Parameter]:
    """Every field of ``Efficiency`` and ``TrainingEfficiency`` as a fitted parameter. A field without an entry in
    the bounds and priors here is bounded to a quarter and four times its shipped value, its prior that value."""
    stock = stock_values()
    tables = {"inference": (FIT_BOUNDS, FIT_PRIORS), "training": (TRAINING_FIT_BOUNDS, TRAINING_FIT_PRIORS)}
    space = {}
    for group, cls in _classes().items():
        bounds, priors = tables[group]
        for field in dataclasses.fields(cls):
            key, value = f"{group}.{field.name}", stock[f"{group}.{field.name}"]
            low, high = bounds.get(field.name, (value / 4, value * 4))
            space[key] = Parameter(key, group, field.name, low, high, priors.get(field.name, value))
    return space


def stock_values() -> dict[str, float]:
    """The shipped fits as ``{"group.name": value}`` (whatever profile is in force)."""
    import config

    return {f"{group}.{name}": value for group, file in GROUP_FITS.items()
            for name, value in config.shipped_fit(file)["parameters"].items()}


def values_of(inference=None, training=None) -> dict[str, float]:
    """``{"group.name": value}`` of efficiency objects; a group not given keeps the shipped fit."""
    values = stock_values()
    for group, eff in (("inference", inference), ("training", training)):
        if eff is not None:
            values.update({f"{group}.{k}": v for k, v in dataclasses.asdict(eff).items()})
    return values


def efficiencies(values: dict[str, float]):
    """``(Efficiency, TrainingEfficiency)`` from ``{"group.name": value}``."""
    return tuple(cls(**{f.name: values[f"{group}.{f.name}"] for f in dataclasses.fields(cls)})
                 for group, cls in _classes().items())


# --------------------------------------------------------------------------- the fit


def _kind_weights(rows) -> list[float]:
    counts = Counter(r.kind for r in rows)
    return [1 / math.sqrt(counts[r.kind]) for r in rows]


def map_fit(rows, names: list[str], prior: dict[str, float], prior_weight: float, start: dict[str, float],
            balance_kinds: bool = True) -> dict:
    """MAP estimate of the parameters ``names`` on ``rows``: least squares (soft-L1) on log(predicted /
    measured), each kind weighted equally (1 / sqrt(its rows); ``balance_kinds=False``: every row alike), plus
    ``prior_weight`` x log(value / prior) per parameter. Every other parameter stays at ``start``; returns all
    values."""
    import numpy as np
    from scipy.optimize import least_squares

    space = parameters()
    low, high = (np.array([getattr(space[n], side) for n in names]) for side in ("low", "high"))
    weights = _kind_weights(rows) if balance_kinds else [1.0] * len(rows)

    def residuals(x):
        values = {**start, **dict(zip(names, x))}
        data = [w * math.log(max(p, SMALLEST_PREDICTION) / r.value)
                for r, w, p in zip(rows, weights, predictions(rows, values))]
        return data + [prior_weight * math.log(max(v, 1e-3) / prior[n]) for n, v in zip(names, x)]

    x0 = np.clip([start[n] for n in names], low, high)
    result = least_squares(residuals, x0, bounds=(low, high), loss="soft_l1", f_scale=0.1)
    return {**start, **{n: float(v) for n, v in zip(names, result.x)}}


def elasticity_matrix(rows, values: dict[str, float]) -> dict[str, list[float]]:
    """Per parameter, each row's d log prediction / d log parameter (a 10% step; 0 for the other group's rows)."""
    base = predictions(rows, values)
    matrix = {}
    for key, param in parameters().items():
        value = values[key] or param.high * 0.05
        step = value * 1.1 if value * 1.1 <= param.high else value / 1.1
        members = [i for i, r in enumerate(rows) if r.group == param.group and base[i] > 0]
        column = [0.0] * len(rows)
        for i, after in zip(members, predictions([rows[i] for i in members], {**values, key: step})):
            column[i] = math.log(max(after, SMALLEST_PREDICTION) / base[i]) / math.log(step / value)
        matrix[key] = column
    return matrix


def informed_parameters(rows, values: dict[str, float], matrix: dict | None = None) -> dict[str, tuple[str, ...]]:
    """The parameters ``rows`` inform (some row's |elasticity| >= :data:`INFORMED_ELASTICITY`) and the kinds
    that inform each."""
    matrix = matrix or elasticity_matrix(rows, values)
    informed = {key: tuple(sorted({r.kind for r, e in zip(rows, column) if abs(e) >= INFORMED_ELASTICITY}))
                for key, column in matrix.items()}
    return {key: kinds for key, kinds in informed.items() if kinds}


CONFOUNDED_CORRELATION = 0.98
"""Two parameters whose elasticities correlate this closely over the rows cannot be told apart by them."""


def confounded_pairs(rows, matrix: dict[str, list[float]], keys) -> list[tuple[str, str]]:
    """Pairs of ``keys`` the rows inform only in a fixed combination (|correlation| of their kind-weighted
    elasticities >= :data:`CONFOUNDED_CORRELATION`): the prior splits that combination between them. One model
    size, for one, cannot tell weight-streaming bandwidth from the fixed time per layer."""
    import numpy as np

    weights = np.array(_kind_weights(rows))
    keys = sorted(keys)
    columns = {k: np.array(matrix[k]) * weights for k in keys}
    pairs = []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            x, y = columns[a], columns[b]
            norm = np.linalg.norm(x - x.mean()) * np.linalg.norm(y - y.mean())
            if norm and abs(np.dot(x - x.mean(), y - y.mean()) / norm) >= CONFOUNDED_CORRELATION:
                pairs.append((a, b))
    return pairs


# --------------------------------------------------------------------------- the shipped fits


def inference_cases(fitted_only: bool = False) -> list[Measurement]:
    """Every shipped inference measurement (``fitted_only``: without the rows too vague to fit on)."""
    return [m for m in shipped_measurements() if m.group == "inference" and (m.fitted or not fitted_only)]


def training_cases() -> list[Measurement]:
    """Every shipped training measurement."""
    return [m for m in shipped_measurements() if m.group == "training"]


def _fit_group(group: str, rows) -> dict[str, float]:
    """The shipped procedure on ``rows``: every parameter of ``group`` from its physical prior."""
    space = {k: p for k, p in parameters().items() if p.group == group}
    prior = {k: p.physical_prior for k, p in space.items()}
    rows = [r for r in rows if r.group == group and r.fitted]
    if not rows:
        return {**stock_values(), **prior}
    values = map_fit(rows, list(space), prior, PRIOR_WEIGHT, {**stock_values(), **prior})
    return {k: round(v, 4) if k in space else v for k, v in values.items()}


def fit_efficiency(cases=None):
    """The shipped inference fit (``data/efficiency_fit.json``) on ``cases`` (default: the shipped rows)."""
    return efficiencies(_fit_group("inference", inference_cases(True) if cases is None else cases))[0]


def fit_training(cases=None):
    """The shipped training fit (``data/training_fit.json``) on ``cases`` (default: the shipped rows); memory
    and time parameters touch only their own predictions, so one fit serves both."""
    return efficiencies(_fit_group("training", training_cases() if cases is None else cases))[1]


def _holdout(rows, groups: dict[str, Callable], group: str) -> dict:
    """Refit ``group`` without each holdout group of ``rows`` and report that group's errors."""
    report = {}
    for name, member in groups.items():
        held = [r for r in rows if member(r) and r.fitted]
        values = _fit_group(group, [r for r in rows if not member(r)])
        errors = [abs(p / r.value - 1) * 100 for r, p in zip(held, predictions(held, values))]
        report[name] = _error_stats(errors)
    return report


PCIE_GPUS = ("L40S-48GB", "A100-PCIe-80GB")
HOLDOUT_GROUPS = {
    "A100 SXM (fit on other GPUs)": lambda m: m.gpu in ("A100-80GB", "A100-40GB"),
    "H100 (fit on other GPUs)": lambda m: m.gpu.startswith("H100"),
    "H200 (fit on other GPUs)": lambda m: m.gpu.startswith("H200"),
    "L40S and A100-PCIe, PCIe only (fit on NVLink GPUs)": lambda m: m.gpu in PCIE_GPUS,
    "tensor parallel 8 over NVLink (fit on TP 1-4 and PCIe)": lambda m: m.tensor_parallel == 8 and m.gpu not in PCIE_GPUS,
    "tensor parallel 2-8 (fit on TP1)": lambda m: m.tensor_parallel > 1,
    "FP8 (fit on 16-bit)": lambda m: m.precision == "FP8",
    "static batch (fit on the rest)": lambda m: m.batch is not None and m.kind not in ("decode_step_ms", "prefill_ms"),
    "online serving (fit on the rest)": lambda m: m.concurrency is not None or m.request_rate is not None,
    "TensorRT-LLM 0.17 and 1.0 (fit on the rest)": lambda m: m.engine.startswith(("TensorRT-LLM 0.17", "TensorRT-LLM 1.0")),
    "H200 PyTorch measurements (fit on published)": lambda m: m.gpu.startswith("H200") and m.engine == "pytorch",
}

TRAINING_HOLDOUT_GROUPS = {
    "A100 (fit on H100/H200)": lambda m: (m.gpu or "").startswith("A100"),
    "H100/H200 (fit on A100)": lambda m: (m.gpu or "").startswith(("H100", "H200")),
    "H200 measurements (fit on published)": lambda m: m.id.startswith("H200"),
    "pure BF16 (fit on mixed precision)": lambda m: not m.training.mixed_precision,
    "LoRA (fit on full training)": lambda m: m.training.method != "full",
    "pipeline parallel (fit on the rest)": lambda m: m.training.dataset_tokens is None and m.training.pipeline_parallel > 1,
}


def cross_validate(groups: dict[str, Callable] | None = None) -> dict:
    """Refit the inference efficiencies without each group of shipped rows and report the group's errors."""
    return _holdout(inference_cases(), groups or HOLDOUT_GROUPS, "inference")


def cross_validate_training(groups: dict[str, Callable] | None = None) -> dict:
    """Refit the training efficiencies without each group of shipped rows and report the group's errors."""
    return _holdout(training_cases(), groups or TRAINING_HOLDOUT_GROUPS, "training")


def write_shipped_fit(group: str, path: Path | None = None) -> dict:
    """Refit ``group`` on the shipped rows and write its fit file (``data/efficiency_fit.json`` or
    ``data/training_fit.json``) atomically with its provenance; return the payload."""
    from config_loader import write_json_atomic

    rows = [r for r in shipped_measurements() if r.group == group]
    values = _fit_group(group, rows)
    lines = [error_row(r, p) for r, p in zip(rows, predictions(rows, values))]
    payload = {
        "parameters": {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(group + ".")},
        "fitted_on": sorted(r.label for r in rows if r.fitted),
        **({"held_out": sorted(r.label for r in rows if not r.fitted)} if group == "training" else {}),
        "method": f"scipy least_squares, soft-L1 loss on log(predicted/measured), calibration.map_fit "
                  f"(physical priors, weight {PRIOR_WEIGHT})",
        "fitted_at": datetime.date.today().isoformat(),
        "summary": summarize(lines),
    }
    write_json_atomic(path or DATA_DIR / GROUP_FITS[group], payload, "calibration")
    return payload


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfileFit:
    """A user's fit: every parameter's value, which ones the rows inform, and how well they pin them."""

    values: dict
    base: dict
    """The prior (the shipped fit, unless given)."""
    informed: dict
    """``{"group.name": kinds}``: the parameters the rows inform and the kinds that inform each."""
    fitted: tuple[str, ...]
    """The parameters the fit moved (informed, and asked for)."""
    confounded: tuple[tuple[str, str], ...] = ()
    """Pairs the rows inform only in combination (:func:`confounded_pairs`): the prior splits them."""
    options: dict = dataclasses.field(default_factory=dict)
    """The :func:`fit_profile` options it was fitted with (``parameters``, ``prior_weight``, ``balance_kinds``),
    for cross-validation."""
    uncertainty_pct: dict = dataclasses.field(default_factory=dict)
    """One standard deviation of each fitted parameter, percent (:func:`_uncertainty_pct`)."""

    def at_bound(self) -> list[str]:
        """Fitted parameters that stopped at a bound: the rows ask for more than the physics allows, so
        something the planner does not model is at work."""
        space = parameters()
        return [k for k in self.fitted if not space[k].low * 1.005 < self.values[k] < space[k].high * 0.995]


def fit_profile(rows, *, parameters: list[str] | None = None, base: dict | None = None,
                prior_weight: float = PROFILE_PRIOR_WEIGHT, balance_kinds: bool = PROFILE_BALANCE_KINDS) -> ProfileFit:
    """MAP fit of the parameters ``rows`` inform, with ``base`` (default: the shipped fit) as the prior;
    the rest stay at ``base``. Refuses (:class:`models.InputError`) rows that inform no parameter, or a
    parameter in ``parameters`` they do not inform, saying which kinds would."""
    base = dict(base or stock_values())
    rows = list(rows)
    matrix = elasticity_matrix(rows, base) if rows else {}
    informed = informed_parameters(rows, base, matrix) if rows else {}
    wanted = list(parameters) if parameters else sorted(informed)
    unknown = [p for p in wanted if p not in base]
    if unknown:
        raise UnknownKeyError("--parameters", unknown[0], sorted(base))
    missing = [p for p in wanted if p not in informed]
    if missing or not wanted:
        raise InputError("--measurements", f"{len(rows)} rows ({', '.join(sorted({r.kind for r in rows}))})",
                         _what_informs(missing or sorted(base)))
    values = map_fit(rows, wanted, base, prior_weight, base, balance_kinds)
    options = dict(parameters=parameters, base=base, prior_weight=prior_weight, balance_kinds=balance_kinds)
    return ProfileFit(values=values, base=base, informed=informed, fitted=tuple(wanted),
                      confounded=tuple(confounded_pairs(rows, matrix, wanted)), options=options,
                      uncertainty_pct=_uncertainty_pct(rows, values, wanted, prior_weight, balance_kinds))


def _uncertainty_pct(rows, values: dict, keys: list[str], prior_weight: float, balance_kinds: bool) -> dict:
    """One standard deviation of each fitted parameter, in percent (Laplace approximation at the fit: the
    inverse of J'J + prior_weight^2 in log-parameters, scaled by the spread of the rows' log errors, at least
    2%). Large when the rows pin the parameter only in combination with others."""
    import numpy as np

    matrix = elasticity_matrix(rows, values)
    weights = np.array(_kind_weights(rows) if balance_kinds else [1.0] * len(rows))
    jacobian = np.array([matrix[k] for k in keys]).T * weights[:, None]
    logs = np.array([math.log(max(p, SMALLEST_PREDICTION) / r.value) for r, p in zip(rows, predictions(rows, values))])
    spread = max(float(np.sqrt(np.sum((weights * logs) ** 2) / max(len(rows) - len(keys), 1))), 0.02)
    covariance = np.linalg.inv(jacobian.T @ jacobian + prior_weight**2 * np.eye(len(keys))) * spread**2
    return {k: round(100 * (math.exp(math.sqrt(covariance[i, i])) - 1), 1) for i, k in enumerate(keys)}


def _what_informs(keys: list[str]) -> str:
    """Which kinds inform ``keys`` (from the shipped rows and :data:`KINDS`), for a refusal."""
    table = informed_parameters(shipped_measurements(), stock_values())
    parts = [f"{key} ({', '.join(table.get(key, ())) or 'no kind'})" for key in keys]
    return "rows that inform the parameters to fit: " + "; ".join(parts)


def _folds(n: int) -> list[list[int]]:
    """Leave-one-out up to 12 rows, else 10 folds (every 10th row)."""
    k = n if n <= 12 else 10
    return [list(range(i, n, k)) for i in range(k)]


def cross_validated_predictions(rows, **fit_options) -> tuple[list[float], str]:
    """Each row predicted by a profile fitted without it (k-fold, :func:`_folds`), and how it was split."""
    rows = list(rows)
    base = dict(fit_options.get("base") or stock_values())
    out: list[float] = [0.0] * len(rows)
    folds = _folds(len(rows))
    for held in folds:
        rest = [r for i, r in enumerate(rows) if i not in held]
        try:
            values = fit_profile(rest, **fit_options).values if rest else base
        except InputError:  # the other rows inform nothing: the prior stands
            values = base
        for i, p in zip(held, predictions([rows[i] for i in held], values)):
            out[i] = p
    split = "leave-one-out" if len(folds) == len(rows) else f"{len(folds)}-fold"
    return out, f"{split} over {len(rows)} rows"


def error_summary(rows, predicted: list[float]) -> dict:
    """Median and largest |error| over all rows and per kind."""
    errors = [abs(p / r.value - 1) * 100 for r, p in zip(rows, predicted)]
    by_kind: dict[str, list[float]] = {}
    for row, e in zip(rows, errors):
        by_kind.setdefault(row.kind, []).append(e)
    return {**_error_stats(errors), "by_kind": {k: _error_stats(v) for k, v in by_kind.items()}}


PROFILE_KEYS = ("profile_version", "name", "created", "description", "measurements", "method", "parameters",
                "moved", "held_at_prior", "confounded", "fit_error")
PROFILE_VERSION = 1


def profile_payload(rows, fit: ProfileFit, source: str, name: str) -> dict:
    """The profile JSON: the parameters, the rows it was fitted on, what moved, and the fit's errors before
    (the prior), after (in-sample) and after cross-validation (:func:`cross_validated_predictions`)."""
    before = error_summary(rows, predictions(rows, fit.base))
    after = error_summary(rows, predictions(rows, fit.values))
    cv, split = cross_validated_predictions(rows, **fit.options)
    after_cv = error_summary(rows, cv)
    bounded = fit.at_bound()
    groups: dict[str, dict] = {g: {} for g in GROUP_FITS}
    for key, value in fit.values.items():
        group, field = key.split(".", 1)
        groups[group][field] = round(value, 5)
    return {
        "profile_version": PROFILE_VERSION,
        "name": name,
        "created": datetime.date.today().isoformat(),
        "description": (f"calibration profile {name}: {len(rows)} rows of {source} "
                        f"({', '.join(sorted({r.engine for r in rows if r.engine})) or 'engine not stated'}); "
                        f"median |error| {before['median_abs_error_pct']:.1f}% with the shipped fit, "
                        f"{after_cv['median_abs_error_pct']:.1f}% cross-validated with the profile"),
        "measurements": {"file": source, "rows": len(rows), "kinds": dict(Counter(r.kind for r in rows)),
                         "engines": sorted({r.engine for r in rows if r.engine}),
                         "gpus": sorted({r.gpu for r in rows if r.gpu}), "models": sorted({r.model for r in rows})},
        "method": (f"MAP: soft-L1 least squares on log(predicted/measured) "
                   f"({'each kind weighted equally' if fit.options.get('balance_kinds') else 'every row alike'}), "
                   f"plus {fit.options.get('prior_weight')} x log(value/prior) with the shipped fit as the prior "
                   "(calibration.fit_profile); only parameters the rows inform move"),
        "parameters": groups,
        "moved": {key: {"prior": round(fit.base[key], 5), "fitted": round(fit.values[key], 5),
                        "change_pct": round(100 * (fit.values[key] / fit.base[key] - 1), 2) if fit.base[key] else None,
                        "uncertainty_pct": fit.uncertainty_pct.get(key), "at_bound": key in bounded,
                        "informed_by": list(fit.informed.get(key, ()))} for key in fit.fitted},
        "held_at_prior": sorted(k for k in fit.values if k not in fit.fitted),
        "confounded": [list(pair) for pair in fit.confounded],
        "fit_error": {"before": before, "after_in_sample": after, "after_cross_validated": after_cv,
                      "cross_validation": split},
    }


def fit_measurements_file(path: str | Path, output: str | Path, parameters: list[str] | None = None) -> dict:
    """Read a measurements CSV, fit a profile, write it to ``output`` (atomically); return the payload."""
    from config_loader import check_output_path, write_json_atomic

    check_output_path(output, "--output", suffix=".json")
    rows = read_measurements(path)
    payload = profile_payload(rows, fit_profile(rows, parameters=parameters), str(path), Path(output).stem)
    write_json_atomic(output, payload)
    return payload


class Profile(NamedTuple):
    """A loaded calibration profile: the efficiencies to plan with and one line that names it."""

    inference: object
    """:class:`inference_engine.Efficiency`."""
    training: object
    """:class:`training_engine.TrainingEfficiency`."""
    description: str


def load_profile(path: str | Path) -> Profile:
    """A profile written by ``python calibration.py fit``, validated: an unknown key, a missing section or a
    parameter outside its bounds raises :class:`models.InputError` naming the file and the key. Parameters
    the planner gained after the profile was written take their shipped values (the description says so)."""
    from config_loader import parse_json, read_text_file

    label = str(path)
    data = parse_json(read_text_file(label, "--efficiency-profile"), "--efficiency-profile", label)
    if not isinstance(data, dict):
        raise InputError(f"--efficiency-profile {label}", type(data).__name__, "a JSON object (a calibration profile)")
    _refuse_config(data, label)
    for key in data:
        if key not in PROFILE_KEYS:
            raise UnknownKeyError(f"{label}", key, PROFILE_KEYS)
    if data.get("profile_version") != PROFILE_VERSION:
        raise InputError(f"{label}: profile_version", data.get("profile_version"), str(PROFILE_VERSION))
    sections = data.get("parameters")
    if not isinstance(sections, dict):
        raise InputError(f"{label}: parameters", sections, 'an object {"inference": {...}, "training": {...}}')
    values, defaulted = _profile_values(label, sections)
    description = data.get("description") if isinstance(data.get("description"), str) else f"calibration profile {label}"
    if defaulted:
        description += f" (not in the profile, shipped values: {', '.join(defaulted)})"
    inference, training = efficiencies(values)
    return Profile(inference, training, description)


def _refuse_config(data: dict, label: str) -> None:
    """A plan (its ``inputs``) or a config (``mode``, its sections) given where a profile goes says what it is,
    rather than which of its keys a profile lacks."""
    from config_loader import CONFIG_KEYS

    found = [key for key in data if key in (*CONFIG_KEYS, "inputs") and key not in PROFILE_KEYS]
    if found and "profile_version" not in data:
        raise InputError("--efficiency-profile", label, "a calibration profile (written by `python calibration.py "
                         f"fit`): this looks like a plan or config file (it has {found[0]!r}; give a config with --config)")


def _profile_values(label: str, sections: dict) -> tuple[dict, list[str]]:
    space, values, defaulted = parameters(), stock_values(), []
    for key in sections:
        if key not in GROUP_FITS:
            raise UnknownKeyError(f"{label}: parameters", key, GROUP_FITS)
    for group in GROUP_FITS:
        section = sections.get(group)
        if not isinstance(section, dict):
            raise InputError(f"{label}: parameters.{group}", section, "an object of efficiency values")
        known = [p.name for p in space.values() if p.group == group]
        for name, value in section.items():
            if name not in known:
                raise UnknownKeyError(f"{label}: parameters.{group}", name, known)
            param = space[f"{group}.{name}"]
            values[param.key] = check_number(f"{label}: parameters.{group}.{name}", value, minimum=param.low,
                                             inclusive=True, maximum=param.high)
        defaulted += [f"{group}.{n}" for n in known if n not in section]
    return values, defaulted


@contextlib.contextmanager
def profile_in_use(path: str | Path | None):
    """Inside the block every planner uses the profile at ``path`` (``None``: the shipped fits); yields the
    :class:`Profile` (or ``None``) so its ``description`` can go into the plan's assumptions."""
    import config

    if path is None:
        yield None
        return
    profile = load_profile(path)
    fits = {GROUP_FITS["inference"]: dataclasses.asdict(profile.inference),
            GROUP_FITS["training"]: dataclasses.asdict(profile.training)}
    with config.fits_in_force(fits):
        yield profile


# --------------------------------------------------------------------------- command line


def _parser():
    from commands.common import POSITIVE, POSITIVE_INT, Parser

    parser = Parser(prog="python calibration.py", description="Calibrate the planner's efficiencies to measurements.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    importing = commands.add_parser("import", help="benchmark results (vllm bench, trtllm-bench JSON) -> measurements CSV")
    importing.add_argument("files", nargs="+", metavar="FILE")
    importing.add_argument("--output", metavar="CSV", help="write the measurements here (default: stdout)")
    context = importing.add_argument_group("context a result file does not record")
    context.add_argument("--model", help="catalog id, Hugging Face id or config.json path")
    context.add_argument("--gpu", help="catalog GPU (H100-80GB, ...)")
    context.add_argument("--tensor-parallel", type=POSITIVE_INT, metavar="N")
    context.add_argument("--precision", help="weights precision (BF16, FP16, FP8, INT8, INT4)")
    context.add_argument("--kv-precision", help="KV-cache precision (default: FP8 for FP8 weights, else 16-bit)")
    context.add_argument("--engine", help="engine and version (vllm 0.8.5, trtllm 0.20, sglang ...)")
    context.add_argument("--batch", type=POSITIVE_INT, metavar="N", help="vllm bench latency --batch-size")
    context.add_argument("--input-tokens", type=POSITIVE_INT, metavar="N", help="--input-len of the run")
    context.add_argument("--output-tokens", type=POSITIVE_INT, metavar="N", help="--output-len of the run")
    context.add_argument("--concurrency", type=POSITIVE_INT, metavar="N", help="trtllm-bench throughput --concurrency")
    context.add_argument("--request-rate", type=POSITIVE, metavar="RPS", help="a request rate the file does not record")
    checking = commands.add_parser("validate", help="predicted vs measured, the rows farthest off first")
    checking.add_argument("--measurements", metavar="CSV", help="a measurements file (default: the shipped data)")
    checking.add_argument("--efficiency-profile", metavar="JSON", help="predict with this calibration profile")
    checking.add_argument("--format", choices=("table", "json"), default="table")
    fitting = commands.add_parser("fit", help="fit a calibration profile to a measurements file")
    fitting.add_argument("--measurements", metavar="CSV", required=True)
    fitting.add_argument("--output", metavar="JSON", required=True, help="the profile to write")
    fitting.add_argument("--parameters", metavar="A,B", help="fit only these (inference.weight_bandwidth, ...)")
    fitting.add_argument("--format", choices=("table", "json"), default="table")
    commands.add_parser("refit-shipped", help="refit the shipped efficiencies (data/*_fit.json)")
    crossval = commands.add_parser("crossval", help="refit without each shipped holdout group and predict it")
    crossval.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def _import(args, stdout) -> int:
    from benchmark_import import ImportContext, import_files
    from measurements import measurements_csv, write_measurements

    context = ImportContext(**{k: getattr(args, k) for k in ImportContext.__dataclass_fields__})
    rows = import_files(args.files, context)
    if args.output:
        write_measurements(rows, args.output)
        print(f"{len(rows)} measurements written to {args.output}", file=stdout)
    else:
        stdout.write(measurements_csv(rows))
    return 0


def _validate(args, stdout) -> int:
    report = validate(args.measurements, args.efficiency_profile)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2), file=stdout)
    else:
        from reports import render

        render(report, stdout)
    return 0


def _fit(args, stdout) -> int:
    wanted = [p.strip() for p in args.parameters.split(",") if p.strip()] if args.parameters else None
    payload = fit_measurements_file(args.measurements, args.output, wanted)
    if args.format == "json":
        print(json.dumps(payload, indent=2), file=stdout)
        return 0
    print(f"Profile written to {args.output}: {payload['description']}.", file=stdout)
    print(f"\n{'parameter':<40}{'prior':>9}{'fitted':>9}{'change':>9}{'+/- 1 sd':>10}  informed by", file=stdout)
    for key, moved in payload["moved"].items():
        change = f"{moved['change_pct']:+.1f}%" if moved["change_pct"] is not None else "-"
        bound = " (at its bound)" if moved["at_bound"] else ""
        print(f"{key:<40}{moved['prior']:>9.4g}{moved['fitted']:>9.4g}{change:>9}{moved['uncertainty_pct']:>9.1f}%  "
              f"{', '.join(moved['informed_by'])}{bound}", file=stdout)
    if any(m["at_bound"] for m in payload["moved"].values()):
        print("A parameter at its bound: the rows ask for more than the physics allows; something the planner "
              "does not model is at work (an engine's memory policy, speculative decoding, a different kernel).",
              file=stdout)
    print(f"\nHeld at the shipped fit (no row informs them or not asked): {', '.join(payload['held_at_prior'])}",
          file=stdout)
    for a, b in payload["confounded"]:
        print(f"Told apart only by the prior: {a} and {b} (the rows fix a combination of the two; rows of "
              "another model size, batch or context separate them)", file=stdout)
    errors = payload["fit_error"]
    print(f"\n|error| median / worst, %      before (shipped fit)   after ({errors['cross_validation']})"
          "   after (in-sample)", file=stdout)
    for kind in ["all"] + sorted(errors["before"]["by_kind"]):
        cells = [(e if kind == "all" else e["by_kind"][kind]) for e in
                 (errors["before"], errors["after_cross_validated"], errors["after_in_sample"])]
        text = [f"{c['median_abs_error_pct']:.1f} / {c['max_abs_error_pct']:.1f}" for c in cells]
        print(f"{kind:<31}{text[0]:>21}{text[1]:>30}{text[2]:>20}", file=stdout)
    return 0


def _crossval(args, stdout) -> int:
    results = {"inference": cross_validate(), "training": cross_validate_training()}
    if args.format == "json":
        print(json.dumps(results, indent=1), file=stdout)
        return 0
    from reports import render_crossval

    render_crossval(results, stdout)
    return 0


def _refit(args, stdout) -> int:
    summary = {group: write_shipped_fit(group)["summary"] for group in GROUP_FITS}
    print(json.dumps(summary, indent=1), file=stdout)
    return 0


def main(argv: list[str] | None = None, stdout=None, stderr=None) -> int:
    """The calibration command line; returns its exit status (0 ok, 1 internal error, 2 user error)."""
    from commands.common import guarded, parse

    argv = sys.argv[1:] if argv is None else list(argv)
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    actions = {"import": _import, "validate": _validate, "fit": _fit, "crossval": _crossval, "refit-shipped": _refit}

    def action() -> int:
        args = parse(_parser(), argv, stdout)
        return actions[args.command](args, stdout)

    return guarded(action, debug="--debug" in argv, stderr=stderr)


if __name__ == "__main__":
    sys.exit(main())
