"""Measurements: one benchmark result per row, in the planner's own terms.

A measurements CSV (format in ``data/calibration/README.md``) has the columns of :data:`HEADER`, plus
the optional ones of :data:`OPTIONAL_COLUMNS`; :func:`read_measurements` validates every cell and
names the file, the row and the column of a bad one. :func:`shipped_measurements` turns the shipped
calibration data (``h200_measured.json``, ``published.csv``, ``training_runs.json``) into the same
:class:`Measurement` rows, so validation and fitting have one path for shipped and user data.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from config import DATA_DIR
from models import (
    KV_PRECISIONS, OPTIMIZERS, PRECISIONS, TRAINING_METHODS, InputError, ModelArchitecture, check_choice, check_number,
)

CALIBRATION_DIR = DATA_DIR / "calibration"  # the checkout's data/, or an installed copy's

HEADER = ("kind", "model", "gpu", "precision", "kv_precision", "tensor_parallel", "batch", "context_tokens",
          "input_tokens", "output_tokens", "engine", "value", "unit", "source")
"""The columns every measurements CSV has, in this order."""
OPTIONAL_COLUMNS = ("request_rate", "concurrency", "num_gpus", "pipeline_parallel", "zero_stage", "micro_batch",
                    "gradient_checkpointing", "method", "lora_rank", "optimizer")
"""Columns a file may add: online serving (``request_rate``, ``concurrency``) and training layouts."""
TRAINING_COLUMNS = OPTIONAL_COLUMNS[2:]

INTEGER_COLUMNS = ("tensor_parallel", "batch", "context_tokens", "input_tokens", "output_tokens", "concurrency",
                   "num_gpus", "pipeline_parallel", "micro_batch", "lora_rank")
NUMBER_COLUMNS = ("value", "request_rate")
BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class Kind:
    """One kind of measurement: its unit, the group of efficiencies it informs and the cells it needs."""

    name: str
    unit: str
    group: str
    """``inference`` (``inference_engine.Efficiency``) or ``training`` (``training_engine.TrainingEfficiency``)."""
    needs: tuple[str, ...]
    """Columns that must be filled."""
    regimes: tuple[str, ...] = ()
    """Exactly one of these must be filled (static batch, open-loop request rate, closed-loop concurrency)."""
    in_files: bool = True
    """Accepted in a user's measurements file (``False``: shipped data only)."""
    meaning: str = ""


SERVING_REGIMES = ("batch", "request_rate", "concurrency")
TRAINING_NEEDS = ("batch", "context_tokens")
KINDS = {k.name: k for k in (
    Kind("decode_step_ms", "ms", "inference", ("batch", "context_tokens"),
         meaning="one decode step of `batch` sequences holding `context_tokens` each"),
    Kind("prefill_ms", "ms", "inference", ("batch", "input_tokens"),
         meaning="prefill of `batch` prompts of `input_tokens` on an idle GPU"),
    Kind("ttft_ms", "ms", "inference", ("input_tokens", "output_tokens"), SERVING_REGIMES,
         meaning="mean time to first token"),
    Kind("itl_ms", "ms", "inference", ("input_tokens", "output_tokens"), SERVING_REGIMES,
         meaning="mean inter-token latency (time per output token after the first)"),
    Kind("e2e_latency_ms", "ms", "inference", ("input_tokens", "output_tokens"), SERVING_REGIMES,
         meaning="mean request latency, first byte in to last token out (vllm bench latency: the whole batch)"),
    Kind("output_tokens_per_s", "tokens/s", "inference", ("input_tokens", "output_tokens"), SERVING_REGIMES,
         meaning="output tokens per second of the replica: a static batch (batch x output / its latency), a fixed "
                 "number of requests in flight, or a request rate"),
    Kind("saturated_output_tokens_per_s", "tokens/s", "inference", ("input_tokens", "output_tokens"),
         meaning="output tokens per second of the replica with every request queued at once (offline)"),
    Kind("training_tokens_per_s", "tokens/s", "training", TRAINING_NEEDS,
         meaning="training tokens per second of the whole job"),
    Kind("training_tokens_per_s_per_gpu", "tokens/s/GPU", "training", TRAINING_NEEDS,
         meaning="training tokens per second per GPU"),
    Kind("training_tflops_per_gpu", "TFLOP/s", "training", TRAINING_NEEDS,
         meaning="hardware FLOPs per second per GPU (recomputation counted, as Megatron-LM reports)"),
    Kind("training_mfu", "%", "training", TRAINING_NEEDS,
         meaning="model FLOPs utilization against the dense 16-bit peak, percent"),
    Kind("training_peak_memory_gib", "GiB", "training", TRAINING_NEEDS,
         meaning="peak memory per GPU the caching allocator reserves (torch.cuda.max_memory_reserved)"),
    Kind("finetune_peak_memory_gib", "GiB", "training", TRAINING_NEEDS, in_files=False,
         meaning="torchtune peak memory per GPU (shipped, validated only)"),
    Kind("training_gpu_hours", "GPU-hours", "training", TRAINING_NEEDS, in_files=False,
         meaning="GPU-hours of a whole pretraining run (shipped, validated only)"),
)}
"""Every kind of measurement the planner can predict."""

UNITS = {
    "ms": {"ms": 1.0, "s": 1e3, "us": 1e-3},
    "tokens/s": {"tokens/s": 1.0, "tok/s": 1.0},
    "tokens/s/GPU": {"tokens/s/GPU": 1.0, "tok/s/gpu": 1.0},
    "TFLOP/s": {"TFLOP/s": 1.0, "TFLOPS": 1.0},
    "%": {"%": 1.0},
    "GiB": {"GiB": 1.0, "GB": 1e9 / 2**30, "MiB": 1 / 1024},
    "GPU-hours": {"GPU-hours": 1.0},
}
"""Accepted units of each canonical unit and their factor to it (``s`` -> ``ms`` x 1000)."""


def file_kinds() -> list[str]:
    return [k for k, spec in KINDS.items() if spec.in_files]


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class TrainingSetup:
    """How a training measurement ran, beyond the model, GPU, precision and tensor parallelism."""

    data_parallel: int = 1
    pipeline_parallel: int = 1
    zero_stage: int = 0
    micro_batch: int = 1
    gradient_checkpointing: bool = False
    method: str = "full"
    optimizer: str = "AdamW"
    lora_rank: int = 16
    mixed_precision: bool = True
    """fp32 master weights beside 16-bit compute (PyTorch AMP, DeepSpeed, FSDP mixed precision)."""
    loss_chunks: int = 1
    dataset_tokens: float | None = None
    """Tokens of a whole run (``training_gpu_hours``): the layout is then the planner's own choice."""

    def __post_init__(self) -> None:
        for name in ("data_parallel", "pipeline_parallel", "micro_batch", "lora_rank", "loss_chunks"):
            check_number(name, getattr(self, name), integer=True)
        check_number("zero_stage", self.zero_stage, integer=True, minimum=0, inclusive=True, maximum=3)
        object.__setattr__(self, "method", check_choice("method", self.method, TRAINING_METHODS))
        object.__setattr__(self, "optimizer", check_choice("optimizer", self.optimizer, OPTIMIZERS))


@dataclass(frozen=True)
class Measurement:
    """One measured result and the setting it was measured in (a row of a measurements CSV)."""

    kind: str
    """A key of :data:`KINDS`."""
    model: str
    """Catalog id, Hugging Face id or path to a ``config.json`` (resolved into ``architecture``)."""
    gpu: str | None
    """Catalog GPU id (``None`` only for memory kinds of shipped rows, whose GPU does not matter)."""
    value: float
    """The measured value in the kind's unit (:data:`KINDS`)."""
    precision: str = "BF16"
    kv_precision: str | None = None
    """KV-cache precision; ``None``: FP8 for FP8 weights, else 16-bit."""
    tensor_parallel: int = 1
    batch: int | None = None
    """Static batch (inference) or global batch in sequences per optimizer step (training)."""
    context_tokens: int | None = None
    """KV-cache tokens per sequence (decode step) or sequence length (training)."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    request_rate: float | None = None
    """Open-loop arrival rate, requests per second (``vllm bench serve --request-rate``)."""
    concurrency: int | None = None
    """Closed-loop requests in flight (``vllm bench serve --max-concurrency``, ``trtllm-bench --concurrency``)."""
    engine: str = ""
    source: str = ""
    id: str = ""
    training: TrainingSetup | None = None
    architecture: ModelArchitecture | None = None
    """The model's shape; resolved from ``model`` when not given."""
    fitted: bool = True
    """Used by fits (``False``: shipped rows too vague to fit on, shown by validation only)."""

    def __post_init__(self) -> None:
        spec = KINDS.get(self.kind)
        if spec is None:
            raise InputError("kind", self.kind, "one of " + ", ".join(KINDS))
        check_number("value", self.value)
        object.__setattr__(self, "precision", check_choice("precision", self.precision, PRECISIONS))
        if self.kv_precision is not None:
            object.__setattr__(self, "kv_precision", check_choice("kv_precision", self.kv_precision, KV_PRECISIONS))
        check_number("tensor_parallel", self.tensor_parallel, integer=True)
        if self.architecture is None:
            object.__setattr__(self, "architecture", cell_architecture(self.model))
        heads = self.architecture.num_attention_heads
        if heads % self.tensor_parallel:
            raise InputError("tensor_parallel", self.tensor_parallel, f"a divisor of the model's {heads} attention heads")
        if self.gpu is not None or not spec.name.endswith("memory_gib"):
            object.__setattr__(self, "gpu", _catalog_gpu(self.gpu))
        if spec.group == "training" and self.training is None:
            object.__setattr__(self, "training", TrainingSetup())
        _check_cells(self, spec)

    @property
    def group(self) -> str:
        return KINDS[self.kind].group

    @property
    def unit(self) -> str:
        return KINDS[self.kind].unit

    @property
    def kv(self) -> str:
        """The KV-cache precision in force: given, else FP8 for FP8 weights, else 16-bit."""
        return self.kv_precision or ("FP8" if self.precision == "FP8" else "FP16")

    @property
    def label(self) -> str:
        """The row's id, else a short description of it."""
        return self.id or f"{self.kind} {self.model} {self.gpu} TP{self.tensor_parallel}"


def _catalog_gpu(name) -> str:
    import config

    return config.get_gpu(name, field_name="gpu").id


def _check_cells(row: Measurement, spec: Kind) -> None:
    """Every cell the kind needs is filled, every other one is empty, and the numbers are in range."""
    used = set(spec.needs) | set(spec.regimes)
    for name in ("batch", "context_tokens", "input_tokens", "output_tokens", "request_rate", "concurrency"):
        value = getattr(row, name)
        if name in spec.needs and value is None:
            raise InputError(name, None, f"a value: {spec.name} needs {', '.join(spec.needs)}")
        if value is not None and name not in used:
            raise InputError(name, value, f"an empty cell: {spec.name} uses {', '.join(sorted(used))}")
        if value is not None:
            check_number(name, value, integer=name != "request_rate")
    if spec.regimes and sum(getattr(row, r) is not None for r in spec.regimes) != 1:
        raise InputError(" / ".join(spec.regimes), None, f"exactly one of them for {spec.name}: a static batch, an "
                         "open-loop request rate or a closed-loop concurrency")
    if spec.group == "inference" and row.training is not None:
        raise InputError("num_gpus", row.training, f"empty training columns for {spec.name}")
    if spec.group == "training":
        _check_training(row)


def _check_training(row: Measurement) -> None:
    setup = row.training
    if row.kv_precision is not None:
        raise InputError("kv_precision", row.kv_precision, f"an empty cell for {row.kind} (training)")
    if setup.dataset_tokens is None and row.batch % (setup.micro_batch * setup.data_parallel):
        raise InputError("batch", row.batch, f"a multiple of micro_batch x data-parallel ranks "
                         f"({setup.micro_batch} x {setup.data_parallel})")


@functools.lru_cache(maxsize=256)
def cell_architecture(text: str, base_dir: str = "") -> ModelArchitecture:
    """The architecture a ``model`` cell names: a catalog or Hugging Face id, or a path to a ``config.json``
    (relative to ``base_dir``, the measurements file's folder)."""
    import config
    from config_loader import architecture_from_hf_config, parse_json, read_text_file

    if not isinstance(text, str) or not text.strip():
        raise InputError("model", text, "a catalog model id, a Hugging Face id or a path to a config.json")
    if not text.lower().endswith(".json"):
        return config.get_model(text, field_name="model")
    path = Path(base_dir) / text if base_dir and not Path(text).is_absolute() else Path(text)
    return architecture_from_hf_config(parse_json(read_text_file(str(path), "model"), "model", text), text)


# --------------------------------------------------------------------------- files


def read_measurements(path: str | Path) -> tuple[Measurement, ...]:
    """The validated rows of a measurements CSV; :class:`models.InputError` names the file, row and column
    of the first bad cell."""
    from config_loader import read_text_file

    text = read_text_file(str(path), "--measurements")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    _check_header(reader.fieldnames or [], str(path))
    rows = []
    for number, raw in enumerate(reader, start=1):
        where = f"{path} row {number} (line {reader.line_num})"
        if None in raw:
            raise InputError(f"{where}, beyond the header", raw[None], f"at most {len(reader.fieldnames)} cells")
        rows.append(_row_from_cells(raw, where, Path(path).resolve().parent, number))
    if not rows:
        raise InputError("--measurements", str(path), "a CSV with at least one measurement row")
    return tuple(rows)


def _check_header(columns: list[str], path: str) -> None:
    import difflib

    missing = [c for c in HEADER if c not in columns]
    if missing:
        raise InputError(f"{path} header", ",".join(map(str, columns)),
                         "the columns " + ",".join(HEADER) + " (missing: " + ", ".join(missing) + ")")
    for column in columns:
        if column not in HEADER + OPTIONAL_COLUMNS:
            close = difflib.get_close_matches(str(column), HEADER + OPTIONAL_COLUMNS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"{path} header", column, "one of " + ", ".join(HEADER + OPTIONAL_COLUMNS) + hint)


def _row_from_cells(raw: dict, where: str, base_dir: Path, number: int) -> Measurement:
    cells = {k: (v or "").strip() for k, v in raw.items()}
    column = "kind"
    try:
        kind = cells["kind"]
        if kind not in KINDS or not KINDS[kind].in_files:
            raise InputError("kind", kind, "one of " + ", ".join(file_kinds()))
        values = {name: _cell(name, cells.get(name, "")) for name in HEADER + OPTIONAL_COLUMNS if name != "kind"}
        column = "unit"
        values["value"] = _in_unit(kind, values.pop("value"), values.pop("unit"))
        column = "model"
        architecture = cell_architecture(values["model"] or "", str(base_dir))
        column = "num_gpus"
        training = _training_setup(kind, values)
        return Measurement(kind=kind, architecture=architecture, training=training, precision=values["precision"],
                           source=values["source"] or f"{Path(where.split(' row ')[0]).name} row {number}",
                           id=f"row {number}", **{k: values[k] for k in _MEASUREMENT_CELLS})
    except InputError as exc:
        if exc.field in HEADER + OPTIONAL_COLUMNS:
            column = exc.field
        elif " / " in exc.field:  # the serving regime: batch / request_rate / concurrency
            column = exc.field.replace(" / ", ", ")
        raise InputError(f"{where}, column {column}", exc.value, exc.accepted) from None


_MEASUREMENT_CELLS = ("model", "gpu", "value", "kv_precision", "tensor_parallel", "batch", "context_tokens",
                      "input_tokens", "output_tokens", "request_rate", "concurrency", "engine")


def _cell(name: str, text: str):
    """One cell as its column's type (``None`` when empty)."""
    if name == "precision":
        return text or None
    if not text:
        return {"tensor_parallel": 1, "engine": "", "source": ""}.get(name)
    if name in INTEGER_COLUMNS or name == "zero_stage":
        whole = re.fullmatch(r"[+-]?\d+", text)
        if not whole:
            raise InputError(name, text, "a whole number")
        return int(text)
    if name in NUMBER_COLUMNS:
        try:
            return float(text)
        except ValueError:
            raise InputError(name, text, "a number") from None
    if name == "gradient_checkpointing":
        if text.lower() not in BOOLEAN_WORDS:
            raise InputError(name, text, "true or false")
        return BOOLEAN_WORDS[text.lower()]
    return text


def _in_unit(kind: str, value, unit) -> float:
    """``value`` converted to the kind's unit from ``unit`` (``s`` -> ``ms``, ``GB`` -> ``GiB``)."""
    if value is None:
        raise InputError("value", None, "the measured number")
    canonical = KINDS[kind].unit
    factors = {u.lower(): f for u, f in UNITS[canonical].items()}
    if not unit or unit.lower() not in factors:
        raise InputError("unit", unit, f"the unit of {kind}: one of {', '.join(UNITS[canonical])}")
    return check_number("value", value) * factors[unit.lower()]


def _training_setup(kind: str, values: dict) -> TrainingSetup | None:
    """The training columns as a :class:`TrainingSetup` (``None`` for inference rows, whose cells must be empty)."""
    given = {name: values[name] for name in TRAINING_COLUMNS if values[name] is not None}
    if KINDS[kind].group == "inference":
        if given:
            name = next(iter(given))
            raise InputError(name, given[name], f"an empty cell: {kind} is an inference measurement")
        return None
    model_parallel = values["tensor_parallel"] * given.get("pipeline_parallel", 1)
    gpus = given.get("num_gpus", model_parallel)
    if gpus % model_parallel:
        raise InputError("num_gpus", gpus, f"a multiple of tensor_parallel x pipeline_parallel ({model_parallel})")
    data_parallel = gpus // model_parallel
    batch = values["batch"] or 0
    micro = given.get("micro_batch", max(1, batch // data_parallel))
    return TrainingSetup(data_parallel=data_parallel, pipeline_parallel=given.get("pipeline_parallel", 1),
                         zero_stage=given.get("zero_stage", 0), micro_batch=micro,
                         gradient_checkpointing=given.get("gradient_checkpointing", False),
                         method=given.get("method", "full"), optimizer=given.get("optimizer", "AdamW"),
                         lora_rank=given.get("lora_rank", 16))


def measurement_cells(row: Measurement) -> dict:
    """A row as CSV cells (the inverse of :func:`read_measurements`)."""
    cells = {name: getattr(row, name) for name in _MEASUREMENT_CELLS}
    cells.update(kind=row.kind, precision=row.precision, unit=row.unit, source=row.source)
    setup = row.training
    if setup is not None:
        cells.update(num_gpus=setup.data_parallel * row.tensor_parallel * setup.pipeline_parallel,
                     pipeline_parallel=setup.pipeline_parallel, zero_stage=setup.zero_stage,
                     micro_batch=setup.micro_batch, gradient_checkpointing=str(setup.gradient_checkpointing).lower(),
                     method=setup.method, lora_rank=setup.lora_rank, optimizer=setup.optimizer)
    return {k: ("" if v is None else _text(v)) for k, v in cells.items()}


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def measurements_csv(rows) -> str:
    """``rows`` as measurements CSV text (the optional columns only when some row fills them)."""
    records = [measurement_cells(r) for r in rows]
    extra = [c for c in OPTIONAL_COLUMNS if any(r.get(c) for r in records)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(HEADER) + extra, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def write_measurements(rows, path: str | Path) -> Path:
    """Write ``rows`` as a measurements CSV, atomically."""
    from config_loader import write_atomic

    data = measurements_csv(rows).encode("utf-8")
    return write_atomic(path, lambda handle: handle.write(data), "--output")


# --------------------------------------------------------------------------- shipped data


def load_h200() -> dict:
    """The H200 measurements (``h200_measured.json``)."""
    return json.loads((CALIBRATION_DIR / "h200_measured.json").read_text(encoding="utf-8"))


def load_published() -> list[dict]:
    """Published engine and training results (``published.csv``), one dict per row."""
    with open(CALIBRATION_DIR / "published.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_training_runs() -> dict:
    """How each training calibration row was run (``training_runs.json``)."""
    return json.loads((CALIBRATION_DIR / "training_runs.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def shipped_measurements() -> tuple[Measurement, ...]:
    """Every shipped calibration row as a :class:`Measurement`: the H200 measurements, the published engine
    results (``published.csv``, inference rows read by their category and metric) and the training runs."""
    runs = load_training_runs()
    published = load_published()
    rows = _h200_inference_rows(load_h200())
    rows += [m for m in map(published_measurement, published) if m is not None]
    rows += _h200_training_rows(runs)
    rows += _published_training_rows(runs, {row["id"]: row for row in published})
    return tuple(rows)


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
        except InputError:
            continue
    raise ValueError(f"calibration GPU {text!r} is not in the catalog")


def _h200_inference_rows(h200: dict) -> list[Measurement]:
    common = dict(model="llama-3-8b", gpu="H200-141GB", precision="BF16", kv_precision="FP16", engine="pytorch")
    rows = [Measurement(kind="decode_step_ms", batch=r["batch"], context_tokens=r["context"], value=r["ms_per_step"],
                        id=f"H200-decode-b{r['batch']}-c{r['context']}",
                        source="h200_measured.json decode (CUDA graph)", **common) for r in h200["decode"]]
    rows += [Measurement(kind="prefill_ms", batch=r["batch"], input_tokens=r["seq"], value=r["ms"],
                         id=f"H200-prefill-b{r['batch']}-s{r['seq']}",
                         source="h200_measured.json prefill (eager PyTorch, SDPA)", **common) for r in h200["prefill"]]
    return rows


REGIME_PATTERN = re.compile(r"^\s*(?:static\s+)?(batch|concurrency|rate)\s*[=:]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
"""``batch_or_concurrency`` of a published latency row: ``batch 8`` (or ``static batch 8``), ``concurrency 64``,
``rate 2.5`` (req/s)."""
PUBLISHED_METRICS = {"e2e_ms": ("e2e_latency_ms", False), "output_tokens_per_s_per_gpu": ("output_tokens_per_s", True)}
"""Metric names of published rows that are another kind: (kind, whether the value is per GPU of the group)."""


@functools.lru_cache(maxsize=None)
def validation_only() -> dict[str, str]:
    """Published rows shown by validate but left out of the shipped fit, with the reason
    (``data/calibration/validation_only.csv``)."""
    with open(CALIBRATION_DIR / "validation_only.csv", newline="", encoding="utf-8") as handle:
        return {row["id"]: row["reason"] for row in csv.DictReader(handle)}


def published_measurement(row: dict) -> Measurement | None:
    """A ``published.csv`` inference row as a measurement (``None`` for other categories).

    ``inference_throughput`` rows are saturated output tokens/s; ``inference_latency`` rows name their kind
    as the metric's first word (``ttft_ms``, ``itl_ms``, ``e2e_latency_ms``, ``decode_step_ms``, ...) and
    their regime in ``batch_or_concurrency`` (:data:`REGIME_PATTERN`); two older metrics are read as noted.
    """
    if not row["category"].startswith("inference"):
        return None
    held_out = validation_only().get(row["id"])
    common = dict(id=row["id"], model=row["model"].lower().replace(" ", "-"), gpu=gpu_of(row["gpu"]),
                  precision=precision_of(row["precision"]), tensor_parallel=int(row["num_gpus"] or 1),
                  engine=row["engine"], source=f"published.csv {row['id']}: {row['engine'][:60]}"
                                               + (" (validated, not fitted)" if held_out else ""),
                  **({"fitted": False} if held_out else {}))
    metric = row["metric"]
    if row["category"] == "inference_throughput":
        return Measurement(kind="saturated_output_tokens_per_s", input_tokens=int(row["isl"]),
                           output_tokens=int(row["osl"]), value=float(row["value"]), **common)
    if metric.startswith("decode_tokens_per_s"):
        # gpt-fast generates 200 tokens after a 5-token prompt: mean context about 100 tokens
        return Measurement(kind="decode_step_ms", batch=1, context_tokens=100, value=1000.0 / float(row["value"]),
                           **common)
    if metric.startswith("TPOT_ms"):
        # 'about 13 ms under light load' (vLLM ~0.5): batch and context unstated; read as 4 sequences at 1024
        # tokens. Shown by validate, left out of the fit: too vague to pin an efficiency.
        return Measurement(kind="decode_step_ms", batch=4, context_tokens=1024, value=float(row["value"]), fitted=False,
                           **{**common, "source": common["source"] + " (batch 4, context 1024 assumed)"})
    return _published_latency(row, common)


def _published_latency(row: dict, common: dict) -> Measurement:
    kind = re.split(r"[\s(]", row["metric"].strip(), maxsplit=1)[0]
    kind, per_gpu = PUBLISHED_METRICS.get(kind, (kind, False))
    value = float(row["value"]) * (common["tensor_parallel"] if per_gpu else 1)
    if kind not in KINDS or KINDS[kind].group != "inference":
        raise ValueError(f"published.csv {row['id']}: metric {row['metric']!r} does not start with an inference "
                         f"kind ({', '.join(k for k in KINDS if KINDS[k].group == 'inference')})")
    cells = {"input_tokens": _whole(row["isl"]), "output_tokens": _whole(row["osl"])}
    regime = REGIME_PATTERN.match(row["batch_or_concurrency"])
    if regime:
        name = {"batch": "batch", "concurrency": "concurrency", "rate": "request_rate"}[regime[1].lower()]
        cells[name] = float(regime[2]) if name == "request_rate" else int(float(regime[2]))
    if kind == "decode_step_ms":
        cells["context_tokens"] = cells.pop("input_tokens")
        cells.pop("output_tokens")
    if kind == "prefill_ms":
        cells.pop("output_tokens")
    used = set(KINDS[kind].needs) | set(KINDS[kind].regimes)
    return Measurement(kind=kind, value=value, **common,
                       **{k: v for k, v in cells.items() if k in used and v is not None})


def _whole(text: str) -> int | None:
    return int(float(text)) if re.fullmatch(r"\s*\d+(\.\d+)?\s*", text or "") else None


def _architecture(name: str, shapes: dict) -> ModelArchitecture:
    """A training run's model: a shape of ``training_runs.json``, else the catalog's."""
    if name not in shapes:
        return cell_architecture(name)
    fields = {k: v for k, v in shapes[name].items() if k != "source"}
    return ModelArchitecture(id=name, name=name, source=shapes[name]["source"], **fields)


def _training_row(kind: str, run: dict, shapes: dict, **cells) -> Measurement:
    """A training measurement from a run's settings (``training_runs.json`` keys)."""
    setup = TrainingSetup(data_parallel=run.get("dp", 1), pipeline_parallel=run.get("pp", 1),
                          zero_stage=run.get("zero", 0), micro_batch=run.get("micro", 1),
                          gradient_checkpointing=run.get("ckpt", False), method=run.get("method", "full"),
                          optimizer=run.get("optimizer", "AdamW"), lora_rank=run.get("lora_rank", 16),
                          mixed_precision=run.get("mixed", True), loss_chunks=run.get("loss_chunks", 1),
                          dataset_tokens=run.get("tokens"))
    return Measurement(kind=kind, model=run["model"], architecture=_architecture(run["model"], shapes),
                       gpu=run.get("gpu"), precision=run.get("precision", "BF16"), tensor_parallel=run.get("tp", 1),
                       batch=run.get("global_batch", run.get("micro", 1) * run.get("dp", 1)),
                       context_tokens=run["seq"], training=setup, **cells)


def _h200_training_rows(runs: dict) -> list[Measurement]:
    setup, shapes = runs["h200"], runs["shapes"]
    rows = []
    for r in load_h200()["train"]:
        run = dict(setup, model=r["model"].replace("llama3-8b", "llama-3-8b"), method=r["mode"], seq=r["seq"],
                   micro=r["micro_batch"], ckpt=r["grad_ckpt"], global_batch=r["micro_batch"])
        label = f"H200-train-{r['model']}-{r['mode']}-mb{r['micro_batch']}{'-ckpt' if r['grad_ckpt'] else ''}"
        common = dict(engine="HF transformers", source="h200_measured.json train (HF transformers)")
        rows.append(_training_row("training_peak_memory_gib", run, shapes, id=label + "-memory",
                                  value=r["peak_reserved_gib"], **common))
        rows.append(_training_row("training_tokens_per_s", run, shapes, id=label + "-speed", value=r["tok_per_s"],
                                  **common))
    return rows


TRAINING_VALIDATED_ONLY = ("training_mfu", "training_gpu_hours", "finetune_peak_memory_gib")
"""Shipped training kinds never fitted on: MosaicML MFU (the same runs as their tokens/s rows), Llama 2
GPU-hours (layout unstated) and torchtune peak memory (optimizations the planner does not model)."""


def _published_training_rows(runs: dict, published: dict) -> list[Measurement]:
    shapes, rows = runs["shapes"], []
    for row_id, run in runs["runs"].items():
        row = published[row_id]
        run = runs["runs"][run["same_as"]] if "same_as" in run else run
        kind = _published_kind(row)
        rows.append(_training_row(kind, run, shapes, id=row_id, value=float(row["value"]), engine=row["engine"],
                                  source=f"published.csv {row_id} ({row['engine'][:40]}){_assumed(run)}",
                                  fitted=kind not in TRAINING_VALIDATED_ONLY))
    for row_id, run in runs["gpu_hours"].items():
        rows.append(_training_row("training_gpu_hours", run, shapes, id=row_id,
                                  value=float(published[row_id]["value"]), engine=published[row_id]["engine"],
                                  source=f"published.csv {row_id}{_assumed(run)}", fitted=False))
    for row_id, run in runs["finetune_memory"].items():
        if row_id.startswith("_"):
            continue
        row = published[row_id]
        value = float(row["value"]) * UNITS["GiB"][row["unit"]]
        rows.append(_training_row("finetune_peak_memory_gib", run, shapes, id=row_id, value=value, engine="torchtune",
                                  source=f"published.csv {row_id} torchtune; not modeled: {run['not_modeled']}",
                                  fitted=False))
    return rows


def _published_kind(row: dict) -> str:
    if row["metric"].startswith("train_tokens_per_s_per_gpu"):
        return "training_tokens_per_s_per_gpu"
    return "training_mfu" if row["unit"] == "%" else "training_tflops_per_gpu"


def _assumed(run: dict) -> str:
    return f"; assumed: {run['assumed']}" if run.get("assumed") else ""

