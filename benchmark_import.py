"""Benchmark results people already have, read into :class:`measurements.Measurement` rows.

Formats (field names from the tools' source, cited beside each reader):

- ``vllm bench latency --output-json``: ``avg_latency`` (s) of one batch -> ``e2e_latency_ms`` (static batch).
- ``vllm bench throughput --output-json``: ``requests_per_second`` with every request queued at once
  -> ``saturated_output_tokens_per_s``.
- ``vllm bench serve --save-result`` (one JSON object, or one per line with ``--append-result``):
  ``mean_ttft_ms``, ``mean_tpot_ms``, ``output_throughput`` at ``request_rate`` / ``max_concurrency``.
- ``trtllm-bench latency|throughput --report_json``: ``streaming_metrics`` and ``performance``.

A result file rarely records everything: the model, GPU, tensor parallelism, precision and token counts come
from the file when it has them, else from :class:`ImportContext` (the import command's flags), else the
import stops with a line naming the flag to pass. A value in both must agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from measurements import Measurement, cell_architecture
from models import InputError

# Field names read from (repo, path, commit):
#   vllm-project/vllm vllm/benchmarks/latency.py 00cae0753b8d50118a960888a6aff57f9b098ac6
#   vllm-project/vllm vllm/benchmarks/throughput.py 020283147c84ad8cc97eadffcdb033ea56322563
#   vllm-project/vllm vllm/benchmarks/serve.py 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1
#   NVIDIA/TensorRT-LLM tensorrt_llm/bench/dataclasses/reporting.py 0249976575050d2c624a5f285683c66de311a3b7
#   NVIDIA/TensorRT-LLM tensorrt_llm/bench/dataclasses/statistics.py 385626572df16175dd327fa785e4434cb7866a64
#   NVIDIA/TensorRT-LLM tensorrt_llm/bench/benchmark/low_latency.py, throughput.py 000a01de66f0eab4ab05640711f0253f50f5209c


@dataclass(frozen=True)
class ImportContext:
    """What the import command's flags say about the runs (``None``: not given)."""

    model: str | None = None
    gpu: str | None = None
    tensor_parallel: int | None = None
    precision: str | None = None
    kv_precision: str | None = None
    engine: str | None = None
    batch: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    concurrency: int | None = None
    request_rate: float | None = None


FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in fields(ImportContext)}


class _Run:
    """One result file's settings: the file's own values, completed by the flags."""

    def __init__(self, path: str, found: dict, context: ImportContext):
        self.path = path
        self.values = {}
        for name in FLAGS:
            mine, flag = found.get(name), getattr(context, name)
            if mine is not None and flag is not None and not _same(name, mine, flag):
                raise InputError(FLAGS[name], flag, f"the value {path} records ({mine!r}), or no {FLAGS[name]}")
            self.values[name] = mine if mine is not None else flag

    def need(self, name: str, why: str):
        value = self.values.get(name)
        if value is None:
            raise InputError(FLAGS[name], None, f"a value: {self.path} does not record it ({why})")
        return value

    def row(self, kind: str, value: float, source: str, **cells) -> Measurement:
        """A measurement of this run; an invalid one names the file."""
        settings = dict(model=self.need("model", "the model benchmarked"), gpu=self.need("gpu", "the GPU type"),
                        precision=self.values["precision"] or "BF16", kv_precision=self.values["kv_precision"],
                        tensor_parallel=self.values["tensor_parallel"] or 1, engine=self.values["engine"] or "")
        try:
            return Measurement(kind=kind, value=value, source=source, **settings, **cells)
        except InputError as exc:
            raise InputError(f"{self.path}: {exc.field}", exc.value, exc.accepted) from None


def _same(name: str, a, b) -> bool:
    import config

    if name == "gpu":
        return config.get_gpu(a, field_name="--gpu").id == config.get_gpu(b, field_name="--gpu").id
    if name == "model":
        return cell_architecture(a) == cell_architecture(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return math.isclose(float(a), float(b), rel_tol=0.01)


def import_files(paths, context: ImportContext = ImportContext()) -> list[Measurement]:
    """The measurements in every result file of ``paths`` (each file's format found from its fields)."""
    rows = []
    for path in paths:
        rows += import_file(path, context)
    return rows


def import_file(path: str | Path, context: ImportContext = ImportContext()) -> list[Measurement]:
    """The measurements in one result file: vLLM ``bench latency``/``throughput``/``serve`` JSON or a
    ``trtllm-bench --report_json`` report."""
    from config_loader import parse_json, read_text_file

    label = str(path)
    text = read_text_file(label, "import")
    stripped = text.strip()
    if stripped.startswith("{") and "\n{" in stripped:  # vllm bench serve --append-result: one object per line
        documents = [parse_json(line, f"{label} line {n}", "invalid JSON")
                     for n, line in enumerate(stripped.splitlines(), start=1) if line.strip()]
    else:
        documents = [parse_json(text, label, "invalid JSON")]
    rows = []
    for document in documents:
        rows += _read_document(label, document, context)
    return rows


def _read_document(label: str, data, context: ImportContext) -> list[Measurement]:
    if not isinstance(data, dict):
        raise InputError(label, type(data).__name__, ACCEPTED)
    if "avg_latency" in data and "latencies" in data:
        return _vllm_latency(label, data, context)
    if "requests_per_second" in data and "elapsed_time" in data:
        return _vllm_throughput(label, data, context)
    if "request_rate" in data and ("mean_ttft_ms" in data or "output_throughput" in data):
        return _vllm_serve(label, data, context)
    if "performance" in data and "request_info" in data:
        return _trtllm(label, data, context)
    raise InputError(label, sorted(data)[:8], ACCEPTED)


ACCEPTED = ("a vllm bench latency/throughput --output-json result, a vllm bench serve --save-result JSON, "
            "or a trtllm-bench --report_json report")


def _number(label: str, data: dict, key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{label}: {key}", value, "a positive number")
    return float(value)


# --------------------------------------------------------------------------- vLLM


def _vllm_latency(label: str, data: dict, context: ImportContext) -> list[Measurement]:
    """``vllm bench latency``: ``avg_latency`` is the mean time of one batch of ``--batch-size`` prompts of
    ``--input-len`` generating ``--output-len`` tokens, in seconds; the file records none of the three
    (vllm-project/vllm vllm/benchmarks/latency.py @00cae07, ``results`` in ``main``)."""
    run = _Run(label, {}, context)
    seconds = _number(label, data, "avg_latency")
    source = f"{Path(label).name}: vllm bench latency avg_latency over {len(data.get('latencies') or [])} iterations"
    return [run.row("e2e_latency_ms", seconds * 1e3, source,
                    batch=run.need("batch", "vllm bench latency --batch-size"),
                    input_tokens=run.need("input_tokens", "vllm bench latency --input-len"),
                    output_tokens=run.need("output_tokens", "vllm bench latency --output-len"))]


def _vllm_throughput(label: str, data: dict, context: ImportContext) -> list[Measurement]:
    """``vllm bench throughput``: every request queued at once; ``requests_per_second`` and
    ``total_num_tokens`` / ``num_requests`` (prompt + output tokens per request) are recorded, the split
    into input and output is not (vllm/benchmarks/throughput.py @0202831, ``results`` in ``main``)."""
    per_request = _number(label, data, "total_num_tokens") / _number(label, data, "num_requests")
    found = {}
    if context.output_tokens and not context.input_tokens:
        found["input_tokens"] = round(per_request - context.output_tokens)
    run = _Run(label, found, context)
    isl = run.need("input_tokens", "vllm bench throughput --input-len")
    osl = run.need("output_tokens", "vllm bench throughput --output-len")
    if abs(isl + osl - per_request) > 0.05 * per_request:
        raise InputError("--input-tokens / --output-tokens", f"{isl} + {osl}", f"about the {per_request:.0f} tokens "
                         f"per request {label} records (total_num_tokens / num_requests)")
    rate = _number(label, data, "requests_per_second")
    source = f"{Path(label).name}: vllm bench throughput, {int(data['num_requests'])} requests queued at once"
    return [run.row("saturated_output_tokens_per_s", rate * osl, source, input_tokens=isl, output_tokens=osl)]


SERVE_METADATA = {"gpu": "gpu", "tensor_parallel": "tensor_parallel", "tp": "tensor_parallel",
                  "precision": "precision", "kv_precision": "kv_precision", "engine": "engine"}
"""``vllm bench serve --metadata KEY=VALUE`` keys read as context (they land at the result's top level)."""


def _vllm_serve(label: str, data: dict, context: ImportContext) -> list[Measurement]:
    """``vllm bench serve``: TTFT and TPOT (ms) at an open-loop ``request_rate`` ("inf": all at once) and an
    optional ``max_concurrency`` cap; tokens per request from ``total_input_tokens`` / ``total_output_tokens``
    over ``completed`` (vllm/benchmarks/serve.py @009e6d4: ``result_json`` in ``main``, ``result`` and
    ``process_one_metric`` in ``benchmark``). TPOT (excluding the first token) is read as ITL."""
    completed = _number(label, data, "completed")
    found = {"model": data.get("model_id"),
             "input_tokens": round(_number(label, data, "total_input_tokens") / completed),
             "output_tokens": round(_number(label, data, "total_output_tokens") / completed)}
    for key, name in SERVE_METADATA.items():
        if data.get(key) not in (None, ""):
            found[name] = _metadata(label, key, data[key], name)
    rate, cap = data.get("request_rate"), data.get("max_concurrency")
    if rate not in ("inf", None) and not isinstance(rate, str):
        found["request_rate"] = float(rate)
    if cap is not None:
        found["concurrency"] = int(cap)
    run = _Run(label, found, context)
    if run.values["engine"] is None:
        run.values["engine"] = f"vllm (bench serve, backend {data.get('backend', 'unknown')})"
    tokens = dict(input_tokens=run.values["input_tokens"], output_tokens=run.values["output_tokens"])
    source = f"{Path(label).name}: vllm bench serve {data.get('date', '')}".strip()
    if run.values["request_rate"] is None and run.values["concurrency"] is None:
        return [run.row("saturated_output_tokens_per_s", _number(label, data, "output_throughput"),
                        source + ", request rate inf", **tokens)]
    regime = ({"request_rate": run.values["request_rate"]} if run.values["request_rate"] is not None
              else {"concurrency": run.values["concurrency"]})
    rows = [run.row("ttft_ms", _number(label, data, "mean_ttft_ms"), source + " mean_ttft_ms", **tokens, **regime),
            run.row("itl_ms", _number(label, data, "mean_tpot_ms"), source + " mean_tpot_ms", **tokens, **regime)]
    if "concurrency" in regime:
        rows.append(run.row("output_tokens_per_s", _number(label, data, "output_throughput"),
                            source + " output_throughput", **tokens, **regime))
    return rows


def _metadata(label: str, key: str, value, name: str):
    """A ``--metadata KEY=VALUE`` value (always text in the file) as its column's type."""
    if name != "tensor_parallel":
        return str(value)
    if not str(value).strip().isdigit():
        raise InputError(f"{label}: {key}", value, "a whole number (vllm bench serve --metadata tensor_parallel=N)")
    return int(value)


# --------------------------------------------------------------------------- TensorRT-LLM


QUANTIZATION_PRECISIONS = {"FP8": "FP8", "FP8_BLOCK_SCALES": "FP8", "W8A16": "INT8", "W4A16": "INT4",
                           "W4A16_AWQ": "INT4", "W4A16_GPTQ": "INT4", "W8A8_SQ_PER_CHANNEL": "INT8"}
DTYPE_PRECISIONS = {"bfloat16": "BF16", "float16": "FP16", "float32": "FP32"}


def _trtllm(label: str, data: dict, context: ImportContext) -> list[Measurement]:
    """``trtllm-bench --report_json``: ``engine`` (model, dtype, quantization, kv_cache_dtype), ``machine.name``,
    ``world_info`` (tp_size, pp_size, max_batch_size), ``request_info`` (avg_input_length, avg_output_length),
    ``performance`` and, when streamed, ``streaming_metrics`` (avg_ttft_ms, avg_tpot_ms). ``trtllm-bench
    latency`` runs one request at a time (max_batch_size 1, concurrency 1): TTFT, TPOT and request latency at
    batch 1. ``throughput`` queues every request unless ``--concurrency`` was given (pass it: the report does
    not record it)."""
    engine, world = data.get("engine") or {}, data.get("world_info") or {}
    requests, perf = data.get("request_info") or {}, data.get("performance") or {}
    if (world.get("pp_size") or 1) > 1:
        raise InputError(f"{label}: world_info.pp_size", world["pp_size"], "1 (the planner models tensor parallelism)")
    found = {"model": engine.get("model"), "gpu": _catalog_gpu_name((data.get("machine") or {}).get("name")),
             "tensor_parallel": world.get("tp_size"), "precision": _trtllm_precision(engine),
             "kv_precision": "FP8" if str(engine.get("kv_cache_dtype") or "").upper() == "FP8" else None,
             "engine": f"trtllm {engine.get('version', '')} ({engine.get('backend', 'backend not stated')})".strip(),
             "input_tokens": round(_number(label, requests, "avg_input_length")),
             "output_tokens": round(_number(label, requests, "avg_output_length"))}
    run = _Run(label, found, context)
    tokens = dict(input_tokens=run.values["input_tokens"], output_tokens=run.values["output_tokens"])
    streaming = data.get("streaming_metrics") or {}
    source = f"{Path(label).name}: trtllm-bench"
    if world.get("max_batch_size") == 1:
        rows = [run.row("e2e_latency_ms", _number(label, perf, "avg_request_latency_ms"),
                        source + " latency avg_request_latency_ms", batch=1, **tokens)]
        if streaming:
            rows += [run.row("ttft_ms", _number(label, streaming, "avg_ttft_ms"), source + " latency avg_ttft_ms",
                             batch=1, **tokens),
                     run.row("itl_ms", _number(label, streaming, "avg_tpot_ms"), source + " latency avg_tpot_ms",
                             batch=1, **tokens)]
        return rows
    throughput = _number(label, perf, "system_output_throughput_tok_s")
    if run.values["concurrency"] is None:
        return [run.row("saturated_output_tokens_per_s", throughput, source + " throughput (all requests queued)",
                        **tokens)]
    regime = {"concurrency": run.values["concurrency"]}
    rows = [run.row("output_tokens_per_s", throughput, source + " throughput", **tokens, **regime)]
    if streaming:
        rows += [run.row("ttft_ms", _number(label, streaming, "avg_ttft_ms"), source + " avg_ttft_ms", **tokens, **regime),
                 run.row("itl_ms", _number(label, streaming, "avg_tpot_ms"), source + " avg_tpot_ms", **tokens, **regime)]
    return rows


def _trtllm_precision(engine: dict) -> str | None:
    quantization = str(engine.get("quantization") or "").upper()
    if quantization in QUANTIZATION_PRECISIONS:
        return QUANTIZATION_PRECISIONS[quantization]
    return DTYPE_PRECISIONS.get(str(engine.get("dtype") or "").lower())


def _catalog_gpu_name(name) -> str | None:
    """The catalog GPU a device name names (``NVIDIA H100 80GB HBM3`` -> H100-80GB), else ``None``."""
    import config

    if not isinstance(name, str):
        return None
    words = name.replace("NVIDIA", "").split()
    for end in range(len(words), 0, -1):
        try:
            return config.get_gpu(" ".join(words[:end])).id
        except InputError:
            continue
    return None
