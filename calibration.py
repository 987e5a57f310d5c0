"""Calibration: fit the planner's efficiencies to measurements, and validate predictions against them.

``python calibration.py fit`` refits the inference efficiencies on ``data/calibration`` and writes
``data/efficiency_fit.json``; ``python calibration.py fit-training`` refits the training efficiencies and
writes ``data/training_fit.json``; ``validate()`` (``commands/forecast.py --mode validate``) prints
predicted vs measured for every calibration row. The engines never read calibration data.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from pathlib import Path

CALIBRATION_DIR = Path(__file__).resolve().parent / "data" / "calibration"


def load_h200() -> dict:
    """The H200 measurements (``h200_measured.json``)."""
    return json.loads((CALIBRATION_DIR / "h200_measured.json").read_text(encoding="utf-8"))


def load_published() -> list[dict]:
    """Published engine and training results (``published.csv``), one dict per row."""
    with open(CALIBRATION_DIR / "published.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def error_row(row_id: str, quantity: str, predicted: float, measured: float, unit: str, source: str) -> dict:
    """One validation line: signed relative error of ``predicted`` against ``measured``."""
    return {
        "id": row_id,
        "quantity": quantity,
        "predicted": round(predicted, 4),
        "measured": round(measured, 4),
        "unit": unit,
        "error_pct": round(100.0 * (predicted - measured) / measured, 2),
        "source": source,
    }


def summarize(rows: list[dict]) -> dict:
    """Median absolute error per quantity."""
    by_quantity: dict[str, list[float]] = {}
    for row in rows:
        by_quantity.setdefault(row["quantity"], []).append(abs(row["error_pct"]))
    return {q: {"rows": len(v), "median_abs_error_pct": round(statistics.median(v), 2),
                "max_abs_error_pct": round(max(v), 2)} for q, v in by_quantity.items()}


# --------------------------------------------------------------------------- inference cases


PRECISION_WORDS = (("fp8", "FP8"), ("int8", "INT8"), ("int4", "INT4"), ("bf16", "BF16"), ("fp16", "FP16"),
                   ("16-bit", "FP16"))


def precision_of(text: str) -> str:
    """The precision a free-text calibration label describes (``FP8 (weights/act...)`` -> FP8)."""
    lower = text.lower()
    return next((p for word, p in PRECISION_WORDS if word in lower), "BF16")


def gpu_of(text: str) -> str:
    """The catalog GPU a calibration label names (``H100-SXM-80GB (HBM3)`` -> H100-80GB)."""
    import config

    label = text.split("(")[0].strip()
    for candidate in (label, label.replace("-SXM", ""), label.split()[0]):
        try:
            return config.get_gpu(candidate).id
        except Exception:
            continue
    raise ValueError(f"calibration GPU {text!r} is not in the catalog")


def inference_cases(fitted_only: bool = False) -> list[dict]:
    """Every inference measurement as a case the engine can predict: kind, model, GPU, TP, shape, value
    (``fitted_only``: without the rows too vague to fit on)."""
    h200 = load_h200()
    cases = [dict(id=f"H200-decode-b{r['batch']}-c{r['context']}", kind="decode_step_ms", model="llama-3-8b",
                  gpu="H200-141GB", precision="BF16", tp=1, batch=r["batch"], context=r["context"],
                  measured=r["ms_per_step"], unit="ms", source="h200_measured.json decode (CUDA graph)")
             for r in h200["decode"]]
    cases += [dict(id=f"H200-prefill-b{r['batch']}-s{r['seq']}", kind="prefill_ms", model="llama-3-8b",
                   gpu="H200-141GB", precision="BF16", tp=1, batch=r["batch"], seq=r["seq"],
                   measured=r["ms"], unit="ms", source="h200_measured.json prefill (eager PyTorch, SDPA)")
              for r in h200["prefill"]]
    for row in load_published():
        case = _published_case(row)
        if case:
            cases.append(case)
    return [c for c in cases if c.get("fit", True)] if fitted_only else cases


def _published_case(row: dict) -> dict | None:
    from serving_engines import engine_of

    if not row["category"].startswith("inference"):
        return None
    common = dict(id=row["id"], model=row["model"].lower().replace(" ", "-"), gpu=gpu_of(row["gpu"]),
                  precision=precision_of(row["precision"]), tp=int(row["num_gpus"] or 1), engine=engine_of(row["engine"]),
                  source=f"published.csv {row['id']}: {row['engine'][:60]}")
    if row["category"] == "inference_throughput":
        return dict(common, kind="saturated_output_tokens_per_s", isl=int(row["isl"]), osl=int(row["osl"]),
                    measured=float(row["value"]), unit="tokens/s")
    if row["category"] in ("inference_static_batch", "inference_online"):
        return _batch_case(row, common)
    if row["category"] == "inference_latency" and row["metric"].startswith("decode_tokens_per_s"):
        # gpt-fast generates 200 tokens after a 5-token prompt: mean context about 100 tokens
        return dict(common, kind="decode_step_ms", batch=1, context=100, measured=1000.0 / float(row["value"]),
                    unit="ms")
    if row["category"] == "inference_latency" and row["metric"].startswith("TPOT_ms"):
        # 'about 13 ms under light load' (vLLM ~0.5): batch and context unstated; read as 4 sequences at 1024
        # tokens. Shown by validate, left out of the fit: too vague to pin an efficiency.
        return dict(common, kind="decode_step_ms", batch=4, context=1024, measured=float(row["value"]), unit="ms",
                    fit=False, source=common["source"] + " (batch 4, context 1024 assumed)")
    return None


def _batch_case(row: dict, common: dict) -> dict:
    """A static-batch row (``static batch B``: per-GPU output tokens/s, or TTFT/ITL/E2E in ms) or an online row at
    a closed-loop concurrency (``concurrency C``: TTFT or ITL in ms)."""
    size = int(row["batch_or_concurrency"].split()[-1])
    metric = row["metric"].split()[0]
    shape = dict(common, batch=size, isl=int(row["isl"]), osl=int(row["osl"]), metric=metric, measured=float(row["value"]))
    if row["category"] == "inference_online":
        return dict(shape, kind="online_latency_ms", unit="ms")
    if metric.startswith("output_tokens"):
        return dict(shape, kind="static_output_tokens_per_s_per_gpu", unit="tokens/s/GPU")
    return dict(shape, kind="static_latency_ms", unit="ms")


def _predict_batch_case(case: dict, dep, eff) -> float:
    import inference_engine as ie

    isl, osl = case["isl"], case["osl"]
    if case["kind"] == "online_latency_ms":
        point = ie.operating_point(dep, eff, case["batch"], isl, osl)
        return (point.ttft_s if case["metric"] == "ttft_ms" else point.step_s) * 1e3
    result = ie.static_batch(dep, eff, case["batch"], isl, osl)
    if case["kind"] == "static_output_tokens_per_s_per_gpu":
        return case["batch"] * osl / result.e2e_s / case["tp"]
    return {"ttft_ms": result.ttft_s, "itl_ms": result.itl_s, "e2e_ms": result.e2e_s}[case["metric"]] * 1e3


def predict_case(case: dict, eff) -> float:
    """The engine's prediction for one calibration case with efficiencies ``eff``."""
    import config
    import inference_engine as ie

    arch = config.get_model(case["model"])
    gpu = config.get_gpu(case["gpu"])
    kv = "FP8" if case["precision"] == "FP8" else "FP16"
    dep = ie.deployment(arch, gpu, case["precision"], kv, case["tp"], case.get("engine", "vllm"))
    if case["kind"] == "decode_step_ms":
        return ie.decode_step_s(dep, eff, case["batch"], case["context"]) * 1e3
    if case["kind"] == "prefill_ms":
        return ie.prefill_s(dep, eff, case["seq"], case["batch"]) * 1e3
    if case["kind"] != "saturated_output_tokens_per_s":
        return _predict_batch_case(case, dep, eff)
    return ie.saturated_output_tokens_per_s(dep, eff, case["isl"], case["osl"])


def validate_inference(eff=None) -> list[dict]:
    """Predicted vs measured for every inference calibration case."""
    import inference_engine as ie

    eff = eff or ie.Efficiency.fitted()
    return [error_row(c["id"], c["kind"], predict_case(c, eff), c["measured"], c["unit"], c["source"])
            for c in inference_cases()]


# --------------------------------------------------------------------------- fitting

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


def fit_efficiency(cases: list[dict]):
    """MAP fit of the handful of efficiencies: least squares on log(predicted / measured), each kind of
    measurement weighted equally (1/sqrt(rows of that kind)), plus weak log-priors (``FIT_PRIORS``)."""
    import numpy as np
    from scipy.optimize import least_squares

    import inference_engine as ie

    names = list(FIT_BOUNDS)
    low, high = (np.array([FIT_BOUNDS[n][i] for n in names]) for i in (0, 1))
    kinds = {c["kind"] for c in cases}
    weight = {k: 1 / math.sqrt(sum(c["kind"] == k for c in cases)) for k in kinds}

    def residuals(x):
        eff = ie.Efficiency(**dict(zip(names, x)))
        data = [weight[c["kind"]] * math.log(predict_case(c, eff) / c["measured"]) for c in cases]
        prior = [PRIOR_WEIGHT * math.log(v / FIT_PRIORS[n]) for n, v in zip(names, x)]
        return data + prior

    start = np.array([FIT_PRIORS[n] for n in names])
    result = least_squares(residuals, start, bounds=(low, high), loss="soft_l1", f_scale=0.1)
    return ie.Efficiency(**{n: round(float(v), 4) for n, v in zip(names, result.x)})


def cross_validate(groups: dict[str, callable]) -> dict:
    """Refit without each group of cases and report the group's errors: how well the physics
    generalizes to measurements it did not see."""
    cases = inference_cases(fitted_only=True)
    report = {}
    for name, member in groups.items():
        held = [c for c in cases if member(c)]
        eff = fit_efficiency([c for c in cases if not member(c)])
        errors = [abs(predict_case(c, eff) / c["measured"] - 1) * 100 for c in held]
        report[name] = {"rows": len(held), "median_abs_error_pct": round(statistics.median(errors), 2),
                        "max_abs_error_pct": round(max(errors), 2)}
    return report


HOLDOUT_GROUPS = {
    "A100 SXM (fit on other GPUs)": lambda c: c["gpu"] in ("A100-80GB", "A100-40GB"),
    "H100 (fit on other GPUs)": lambda c: c["gpu"].startswith("H100"),
    "H200 (fit on other GPUs)": lambda c: c["gpu"].startswith("H200"),
    "L40S and A100-PCIe, PCIe only (fit on NVLink GPUs)": lambda c: c["gpu"] in ("L40S-48GB", "A100-PCIe-80GB"),
    "tensor parallel 8 over NVLink (fit on TP 1-4 and PCIe)": lambda c: c["tp"] == 8 and c["gpu"] not in ("L40S-48GB", "A100-PCIe-80GB"),
    "tensor parallel 2-8 (fit on TP1)": lambda c: c["tp"] > 1,
    "FP8 (fit on 16-bit)": lambda c: c["precision"] == "FP8",
    "static batch (fit on the rest)": lambda c: c["kind"].startswith("static"),
    "online serving (fit on the rest)": lambda c: c["kind"].startswith("online"),
    "TensorRT-LLM 0.17 and 1.0 (fit on the rest)": lambda c: c["source"].split(": ")[-1].startswith(
        ("TensorRT-LLM 0.17", "TensorRT-LLM 1.0")),
    "H200 PyTorch measurements (fit on published)": lambda c: c["gpu"].startswith("H200") and c["kind"] in ("decode_step_ms", "prefill_ms"),
}


def _write_fit_file(name: str, eff, fitter: str, summary: dict, fitted_on: list[str], path: Path | None,
                    **extra) -> dict:
    """Write a fit's parameters and provenance to ``data/<name>`` atomically; return the payload."""
    import datetime

    from config_loader import write_json_atomic

    payload = {
        "parameters": eff.__dict__,
        "fitted_on": fitted_on,
        **extra,
        "method": f"scipy least_squares, soft-L1 loss on log(predicted/measured), calibration.py {fitter}",
        "fitted_at": datetime.date.today().isoformat(),
        "summary": summary,
    }
    write_json_atomic(path or Path(__file__).resolve().parent / "data" / name, payload, "calibration")
    return payload


def write_fit(path: Path | None = None) -> dict:
    """Refit on every case and write ``data/efficiency_fit.json`` with its provenance."""
    cases = inference_cases(fitted_only=True)
    eff = fit_efficiency(cases)
    return _write_fit_file("efficiency_fit.json", eff, "fit_efficiency", summarize(validate_inference(eff)),
                           sorted({c["id"] for c in cases}), path)


# --------------------------------------------------------------------------- training validation
# (owned by the training engine's author: validate_training() -> list of error_row dicts)
#
# Each training row becomes a case: the job and layout it ran (data/calibration/training_runs.json)
# and what was measured. ``fit_training`` fits the five TrainingEfficiency parameters: the two memory
# ones on the H200 peak-reserved rows, the three time ones on H200 tokens/s, MosaicML tokens/s and
# Megatron-LM TFLOP/s. Llama 2 GPU-hours, MosaicML MFU and torchtune peak memory are never fitted on.

TRAINING_MEMORY_PARAMS = ("activation_scale", "reserved_over_allocated")
TRAINING_TIME_PARAMS = ("matmul", "attention", "elementwise_traffic", "kernel_overhead_us")
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
TRAINING_FIT_KINDS = {"training_peak_memory_gib": TRAINING_MEMORY_PARAMS,
                      "training_tokens_per_s": TRAINING_TIME_PARAMS,
                      "training_tokens_per_s_per_gpu": TRAINING_TIME_PARAMS,
                      "training_tflops_per_gpu": TRAINING_TIME_PARAMS}


def load_training_runs() -> dict:
    """How each training calibration row was run (``training_runs.json``)."""
    return json.loads((CALIBRATION_DIR / "training_runs.json").read_text(encoding="utf-8"))


def _training_arch(name: str, shapes: dict):
    import config
    from models import ModelArchitecture

    if name not in shapes:
        return config.get_model(name)
    fields = {k: v for k, v in shapes[name].items() if k != "source"}
    return ModelArchitecture(id=name, name=name, source=shapes[name]["source"], **fields)


def _training_job(arch, run: dict, method: str = "full", optimizer: str = "AdamW"):
    import training_engine as te

    return te.Job(arch=arch, method=run.get("method", method), precision=run.get("precision", "BF16"),
                  mixed_precision=run.get("mixed", True), optimizer=run.get("optimizer", optimizer),
                  lora_rank=run.get("lora_rank", 16), sequence_length=run["seq"],
                  global_batch_size=run.get("global_batch", run.get("micro", 1) * run.get("dp", 1)),
                  loss_chunks=run.get("loss_chunks", 1))


def _training_layout(run: dict):
    import training_engine as te

    return te.Layout(data_parallel=run.get("dp", 1), tensor_parallel=run.get("tp", 1),
                     pipeline_parallel=run.get("pp", 1), zero_stage=run.get("zero", 0),
                     micro_batch_size=run.get("micro", 1), gradient_checkpointing=run["ckpt"])


def training_cases() -> list[dict]:
    """Every training calibration row as a case: ``kind``, job, layout, GPU, measured value."""
    runs = load_training_runs()
    shapes = runs["shapes"]
    cases = _h200_training_cases(runs["h200"], shapes)
    published = {row["id"]: row for row in load_published()}
    for row_id, run in runs["runs"].items():
        row = published[row_id]
        run = runs["runs"][run["same_as"]] if "same_as" in run else run
        cases.append(dict(id=row_id, kind=_published_kind(row), job=_training_job(_training_arch(run["model"], shapes), run),
                          layout=_training_layout(run), gpu=run["gpu"], measured=float(row["value"]), unit=row["unit"],
                          source=f"published.csv {row_id} ({row['engine'][:40]}){_assumed(run)}"))
    for row_id, run in runs["gpu_hours"].items():
        cases.append(dict(id=row_id, kind="training_gpu_hours", job=_training_job(_training_arch(run["model"], shapes), run),
                          gpu=run["gpu"], tokens=run["tokens"], measured=float(published[row_id]["value"]),
                          unit="GPU-hours", source=f"published.csv {row_id}{_assumed(run)}"))
    for row_id, run in runs["finetune_memory"].items():
        if row_id.startswith("_"):
            continue
        row = published[row_id]
        to_gib = 1e9 / 2**30 if row["unit"] == "GB" else 1.0
        cases.append(dict(id=row_id, kind="finetune_peak_memory_gib", job=_training_job(_training_arch(run["model"], shapes), run),
                          layout=_training_layout(run), measured=float(row["value"]) * to_gib, unit="GiB",
                          source=f"published.csv {row_id} torchtune; not modeled: {run['not_modeled']}"))
    return cases


def _h200_training_cases(setup: dict, shapes: dict) -> list[dict]:
    cases = []
    for r in load_h200()["train"]:
        run = dict(setup, method=r["mode"], seq=r["seq"], micro=r["micro_batch"], ckpt=r["grad_ckpt"],
                   global_batch=r["micro_batch"])
        job = _training_job(_training_arch(r["model"].replace("llama3-8b", "llama-3-8b"), shapes), run)
        label = f"H200-train-{r['model']}-{r['mode']}-mb{r['micro_batch']}{'-ckpt' if r['grad_ckpt'] else ''}"
        common = dict(job=job, layout=_training_layout(run), gpu=setup["gpu"], source="h200_measured.json train (HF transformers)")
        cases.append(dict(common, id=label + "-memory", kind="training_peak_memory_gib",
                          measured=r["peak_reserved_gib"], unit="GiB"))
        cases.append(dict(common, id=label + "-speed", kind="training_tokens_per_s", measured=r["tok_per_s"],
                          unit="tokens/s"))
    return cases


def _published_kind(row: dict) -> str:
    if row["metric"].startswith("train_tokens_per_s_per_gpu"):
        return "training_tokens_per_s_per_gpu"
    return "training_mfu" if row["unit"] == "%" else "training_tflops_per_gpu"


def _assumed(run: dict) -> str:
    return f"; assumed: {run['assumed']}" if run.get("assumed") else ""


def predict_training_case(case: dict, eff) -> float:
    """The training engine's prediction for one case with efficiencies ``eff``."""
    import config
    import training_engine as te

    job, kind = case["job"], case["kind"]
    if kind.endswith("memory_gib"):
        return te.memory_estimate(job, case["layout"], eff).reserved / config.BYTES_PER_GIB
    gpu = config.get_gpu(case["gpu"])
    if kind == "training_gpu_hours":
        candidate = te.best_on(job, gpu, te.Constraints(), eff, case["tokens"])
        return te.duration_hours(job, candidate, gpu, case["tokens"]) * candidate.layout.gpus
    layout = case["layout"]
    tokens_per_s = job.global_batch_size * job.sequence_length / te.step_time(job, layout, gpu, eff).total_s
    if kind == "training_tokens_per_s":
        return tokens_per_s
    if kind == "training_tokens_per_s_per_gpu":
        return tokens_per_s / layout.gpus
    flops = te.training_flops_per_token(job.arch, job.sequence_length, job.method, job.lora_rank,
                                        layout.gradient_checkpointing)
    if kind == "training_mfu":  # MosaicML's MFU: model FLOPs over the BF16 peak, in percent
        return 100 * flops.model * tokens_per_s / (layout.gpus * te.peak_flops(gpu, job.precision))
    return flops.hardware * tokens_per_s / layout.gpus / 1e12  # Megatron-LM counts the recomputed forward


def validate_training(eff=None) -> list[dict]:
    """Predicted vs measured for every training calibration case."""
    import training_engine as te

    eff = eff or te.TrainingEfficiency.fitted()
    return [error_row(c["id"], c["kind"], predict_training_case(c, eff), c["measured"], c["unit"], c["source"])
            for c in training_cases()]


def fit_training(cases: list[dict] | None = None):
    """MAP fit of the training efficiencies: least squares on log(predicted / measured), each kind weighted
    equally (1 / sqrt(rows)), plus weak log-priors; memory and time parameters are fitted apart (each
    touches only its own predictions)."""
    import numpy as np
    from scipy.optimize import least_squares

    import training_engine as te

    cases = [c for c in (cases if cases is not None else training_cases()) if c["kind"] in TRAINING_FIT_KINDS]
    values = dict(TRAINING_FIT_PRIORS)  # a group without data keeps its priors
    for names in (TRAINING_MEMORY_PARAMS, TRAINING_TIME_PARAMS):
        group = [c for c in cases if TRAINING_FIT_KINDS[c["kind"]] == names]
        if not group:
            continue
        kinds = {c["kind"] for c in group}
        weight = {k: 1 / math.sqrt(sum(c["kind"] == k for c in group)) for k in kinds}

        def residuals(x, names=names, group=group, weight=weight):
            eff = te.TrainingEfficiency(**{**values, **dict(zip(names, x))})
            data = [weight[c["kind"]] * math.log(predict_training_case(c, eff) / c["measured"]) for c in group]
            return data + [PRIOR_WEIGHT * math.log(max(v, 1e-3) / TRAINING_FIT_PRIORS[n]) for n, v in zip(names, x)]

        low, high = (np.array([TRAINING_FIT_BOUNDS[n][i] for n in names]) for i in (0, 1))
        start = np.array([TRAINING_FIT_PRIORS[n] for n in names])
        result = least_squares(residuals, start, bounds=(low, high), loss="soft_l1", f_scale=0.1)
        values.update({n: round(float(v), 4) for n, v in zip(names, result.x)})
    return te.TrainingEfficiency(**values)


TRAINING_HOLDOUT_GROUPS = {
    "A100 (fit on H100/H200)": lambda c: c.get("gpu", "").startswith("A100"),
    "H100/H200 (fit on A100)": lambda c: c.get("gpu", "").startswith(("H100", "H200")),
    "H200 measurements (fit on published)": lambda c: c["id"].startswith("H200"),
    "pure BF16 (fit on mixed precision)": lambda c: not c["job"].mixed_precision,
    "LoRA (fit on full training)": lambda c: c["job"].method != "full",
    "pipeline parallel (fit on the rest)": lambda c: "layout" in c and c["layout"].pipeline_parallel > 1,
}


def cross_validate_training(groups: dict | None = None) -> dict:
    """Refit without each group of cases and report that group's errors (rows it was not fitted on)."""
    cases = training_cases()
    report = {}
    for name, member in (groups or TRAINING_HOLDOUT_GROUPS).items():
        held = [c for c in cases if member(c) and c["kind"] in TRAINING_FIT_KINDS]
        eff = fit_training([c for c in cases if not member(c)])
        errors = [abs(predict_training_case(c, eff) / c["measured"] - 1) * 100 for c in held]
        report[name] = {"rows": len(held), "median_abs_error_pct": round(statistics.median(errors), 2),
                        "max_abs_error_pct": round(max(errors), 2)}
    return report


def write_training_fit(path: Path | None = None) -> dict:
    """Refit the training efficiencies and write ``data/training_fit.json`` with its provenance."""
    cases = training_cases()
    eff = fit_training(cases)
    return _write_fit_file("training_fit.json", eff, "fit_training", summarize(validate_training(eff)),
                           sorted(c["id"] for c in cases if c["kind"] in TRAINING_FIT_KINDS), path,
                           held_out=sorted(c["id"] for c in cases if c["kind"] not in TRAINING_FIT_KINDS))


# --------------------------------------------------------------------------- validate


def validate() -> dict:
    """Predicted vs measured for every calibration row, with the median absolute error per quantity."""
    rows = validate_inference()
    training = globals().get("validate_training")
    if training:
        rows += training()
    return {"rows": rows, "summary": summarize(rows)}


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "fit"
    if command == "fit":
        print(json.dumps(write_fit()["summary"], indent=1))
    elif command == "crossval":
        print(json.dumps(cross_validate(HOLDOUT_GROUPS), indent=1))
    elif command == "fit-training":
        print(json.dumps(write_training_fit()["summary"], indent=1))
    elif command == "crossval-training":
        print(json.dumps(cross_validate_training(), indent=1))
    else:
        sys.exit(f"usage: python calibration.py [fit|crossval|fit-training|crossval-training]")
