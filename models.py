"""Typed, validated inputs and results shared by the engines, the CLI and the wizard.

Inputs are frozen dataclasses validated at construction: every problem raises
:class:`InputError` naming the field, the value given and what is accepted. Results are
frozen dataclasses with ``to_dict()`` for JSON; the plan's JSON keys are these field names.
Units are in the names: ``_gib`` (2**30 bytes), ``_ms``, ``_s``, ``_usd``, ``_b`` (1e9 params).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable

# --------------------------------------------------------------------------- errors


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""


class InputError(PlannerError):
    """Something the user can fix: a flag, a config key, a file, an API argument."""

    def __init__(self, field_name: str, value: Any, accepted: str):
        self.field = field_name
        self.value = value
        self.accepted = accepted
        super().__init__(f"{field_name}: got {_shown(value)}; expected {accepted}")


MAX_SHOWN_CHARS = 240
"""Longest quoted value in an error line (a pasted file or a 100 KB flag stays one readable line)."""


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit limit for str()
        text = "a number too long to print"
    return text if len(text) <= MAX_SHOWN_CHARS else f"{text[:MAX_SHOWN_CHARS - 3]}... ({len(text)} characters)"


class UnknownKeyError(InputError):
    """A config section or key the planner does not know, with the closest known name."""

    def __init__(self, where: str, key: str, known: Iterable[str]):
        known = list(known)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        InputError.__init__(self, where, key, "")
        self.args = (f"{where}: unknown key {key!r}; {hint}known: {', '.join(known)}",)


class InfeasibleError(PlannerError):
    """The request is well-formed but no hardware configuration can serve it."""


class NotFoundError(InputError):
    """A name (GPU, model, service, request) that is not in its catalog or registry."""

    def __init__(self, field_name: str, value: Any, known: Iterable[str], kind: str = "name"):
        known = sorted(known)
        close = difflib.get_close_matches(str(value), known, n=3, cutoff=0.5)
        lower = {k.lower(): k for k in known}
        close += [lower[c] for c in difflib.get_close_matches(str(value).lower(), list(lower), n=3, cutoff=0.5)]
        close = list(dict.fromkeys(close))[:3]
        hint = f"did you mean {' or '.join(close)}?" if close else f"one of: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}"
        super().__init__(field_name, value, f"a known {kind} ({hint})")


# --------------------------------------------------------------------------- validators


def check_number(name: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False,
                 maximum: float | None = None, integer: bool = False) -> float | int:
    """Return ``value`` if it is a finite number in range, else raise :class:`InputError`."""
    kind = "a whole number" if integer else "a finite number"
    bound = f">= {_limit(minimum)}" if inclusive else f"> {_limit(minimum)}"
    accepted = f"{kind} {bound}" + (f" and <= {_limit(maximum)}" if maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy scalars are Real, Decimal is not
        raise InputError(name, value, accepted)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int past the float range (a 400-digit JSON number)
        finite = False
    if not finite or (integer and value != int(value)):
        raise InputError(name, value, accepted)
    too_low = value < minimum if inclusive else value <= minimum
    if too_low or (maximum is not None and value > maximum):
        raise InputError(name, value, accepted)
    return int(value) if integer else float(value)


def _limit(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e16 else f"{bound:g}"


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return the canonical spelling of ``value`` among ``choices`` (case-insensitive)."""
    choices = list(choices)
    by_lower = {c.lower(): c for c in choices}
    if isinstance(value, str) and value.lower() in by_lower:
        return by_lower[value.lower()]
    raise InputError(name, value, "one of " + ", ".join(choices))


def check_name(name: str, value: Any, example: str) -> str:
    """``value`` if it is a non-empty string (a GPU, model, path or region name), else :class:`InputError`."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(name, value, f"a non-empty name such as {example}")
    return value


def _optional(check, name: str, value: Any, **kwargs):
    return None if value is None else check(name, value, **kwargs)


PRECISIONS = ("FP32", "FP16", "BF16", "FP8", "INT8", "INT4")
KV_PRECISIONS = ("FP32", "FP16", "BF16", "FP8", "INT8")
TRAINING_METHODS = ("full", "lora", "qlora")
OPTIMIZERS = ("AdamW", "Adam", "Adafactor", "SGD", "AdamW-8bit")
CLOUDS = ("aws", "gcp", "azure", "lambda", "coreweave", "runpod")
PRICING_MODELS = ("on-demand", "spot", "reserved-1y", "reserved-3y")
SCENARIOS = ("optimistic", "baseline", "pessimistic")
"""Forecast scenarios: the lower 80% band, the median, the upper 80% band of demand."""
REQUEST_STATES = ("draft", "submitted", "approved", "rejected", "fulfilled", "cancelled")
"""Capacity-request states (``services.RequestState`` holds the same values)."""
SERVING_ENGINES = ("vllm", "trtllm", "sglang")
"""Serving engines whose memory and batching policies the planner models (``data/serving_engines.json``)."""
MAX_SHAPE_DIM = 2**20
"""Plausibility limit on one shape dimension (layers, widths, heads, vocabulary, experts); published: under 2**18."""
MAX_CONTEXT_TOKENS = 2**30
"""Plausibility limit on a model's context window (published windows reach 10M tokens, about 2**23)."""
MAX_USD_PER_GPU_HOUR = 1000.0
"""Plausibility limit on a GPU-hour price: listed prices are $0.1-$15 (data/cloud_prices.csv); more is a slip."""
MIN_MFU = 0.01
"""Lowest model FLOPs utilization accepted: measured runs reach 0.2-0.6; below 1% a duration is no plan."""

# --------------------------------------------------------------------------- hardware and shapes


@dataclass(frozen=True)
class ModelArchitecture:
    """A transformer's shape; parameter counts are derived from it (``architecture.py``)."""

    id: str
    name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 131072
    mlp: str = "gated"
    """``gated`` (SwiGLU/GeGLU: gate, up, down) or ``plain`` (up, down)."""
    attention_bias: bool = False
    num_experts: int = 0
    """Routed experts per MoE layer (0 for a dense model)."""
    experts_per_token: int = 0
    num_shared_experts: int = 0
    moe_intermediate_size: int = 0
    first_dense_layers: int = 0
    """Leading layers with a dense MLP in an MoE (DeepSeek ``first_k_dense_replace``)."""
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    """MLA compressed KV rank (DeepSeek-V2/V3); 0 for standard multi-head/grouped attention."""
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    sliding_window: int = 0
    nominal_params_b: float | None = None
    hf_id: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim",
                     "intermediate_size", "vocab_size"):
            object.__setattr__(self, name, check_number(f"model.{name}", getattr(self, name), integer=True,
                                                        maximum=MAX_SHAPE_DIM))
        for name in ("num_experts", "experts_per_token", "num_shared_experts", "moe_intermediate_size", "q_lora_rank",
                     "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window"):
            object.__setattr__(self, name, check_number(f"model.{name}", getattr(self, name), integer=True, minimum=0,
                                                        inclusive=True, maximum=MAX_SHAPE_DIM))
        object.__setattr__(self, "first_dense_layers", check_number(
            "model.first_dense_layers", self.first_dense_layers, integer=True, minimum=0, inclusive=True,
            maximum=self.num_layers))
        object.__setattr__(self, "max_position_embeddings", check_number(
            "model.max_position_embeddings", self.max_position_embeddings, integer=True, maximum=MAX_CONTEXT_TOKENS))
        check_choice("model.mlp", self.mlp, ("gated", "plain"))
        if self.num_attention_heads % self.num_kv_heads:
            raise InputError("model.num_key_value_heads", self.num_kv_heads,
                             f"a divisor of num_attention_heads ({self.num_attention_heads})")
        if self.num_experts and not 0 < self.experts_per_token <= self.num_experts:
            raise InputError("model.experts_per_token", self.experts_per_token,
                             f"between 1 and num_experts ({self.num_experts})")

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0


@dataclass(frozen=True)
class GPUSpec:
    """One accelerator's datasheet limits (dense FLOPS) from ``data/gpus.csv``."""

    id: str
    name: str
    vendor: str
    memory_gib: float
    """Nominal memory as marketed (``80GB`` parts expose about 79 GiB to programs)."""
    hbm_bandwidth_gb_s: float
    tflops: dict
    """Dense tensor TFLOPS by precision name (FP32 uses TF32 tensor cores where present)."""
    interconnect: str
    interconnect_gb_s: float
    """One-way GPU-to-GPU bandwidth within a node (NVLink, xGMI, PCIe)."""
    gpus_per_node: int
    tdp_w: float
    confidence: str
    aliases: tuple = ()
    source: str = ""

    def peak_tflops(self, precision: str) -> float:
        """Dense peak for ``precision``; falls back to the 16-bit rate where a type has no tensor path."""
        return self.tflops.get(precision) or self.tflops["FP16"]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class LLMWorkloadInput:
    """Serving traffic and latency targets."""

    requests_per_second: float
    avg_input_tokens: int
    avg_output_tokens: int
    peak_load_multiplier: float = 1.5
    """Peak over average load; replicas are sized for ``rps x peak_load_multiplier``."""
    ttft_slo_ms: float | None = None
    """Time-to-first-token target at the operating point (none = no target)."""
    itl_slo_ms: float | None = None
    """Inter-token latency (one decode step) target at the operating point."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests_per_second", check_number("workload.requests_per_second", self.requests_per_second))
        object.__setattr__(self, "avg_input_tokens", check_number("workload.avg_input_tokens", self.avg_input_tokens, integer=True))
        object.__setattr__(self, "avg_output_tokens", check_number("workload.avg_output_tokens", self.avg_output_tokens, integer=True))
        object.__setattr__(self, "peak_load_multiplier", check_number(
            "workload.peak_load_multiplier", self.peak_load_multiplier, minimum=1.0, inclusive=True))
        for name in ("ttft_slo_ms", "itl_slo_ms"):
            object.__setattr__(self, name, _optional(check_number, f"workload.{name}", getattr(self, name)))

    @property
    def peak_rps(self) -> float:
        return self.requests_per_second * self.peak_load_multiplier


@dataclass(frozen=True)
class ModelConfig:
    """Which model and at which precision (catalog id, HF ``config.json`` path, or a size alone)."""

    model_size_billions: float | None = None
    precision: str = "FP16"
    context_window: int | None = None
    """The engine's maximum model length (vLLM ``--max-model-len``): one sequence this long must fit in the KV cache;
    above the model's trained length it is allowed with a warning (RoPE scaling). ``None``: the workload's own
    input + output tokens."""
    batch_size: int | None = None
    """Cap on sequences running per replica (vLLM ``--max-num-seqs``, TensorRT-LLM ``max_batch_size``); in latency
    mode, the static batch."""
    model: str | None = None
    """Catalog id (``llama-3.1-70b``) or Hugging Face id (``meta-llama/Llama-3.1-70B``)."""
    model_config_path: str | None = None
    kv_precision: str | None = None
    """KV-cache precision; defaults to FP8 for FP8 weights, else 16-bit."""

    def __post_init__(self) -> None:
        if self.model_size_billions is None and self.model is None and self.model_config_path is None:
            raise InputError("model", None, "model_size_billions, a model id or a model config path")
        object.__setattr__(self, "model_size_billions", _optional(
            check_number, "model.model_size_billions", self.model_size_billions, maximum=100_000))
        _optional(check_name, "model.model", self.model, example="llama-3.1-70b")
        _optional(check_name, "model.model_config_path", self.model_config_path, example="config.json")
        object.__setattr__(self, "precision", check_choice("model.precision", self.precision, PRECISIONS))
        if self.kv_precision is not None:
            object.__setattr__(self, "kv_precision", check_choice("model.kv_precision", self.kv_precision, KV_PRECISIONS))
        for name in ("context_window", "batch_size"):
            object.__setattr__(self, name, _optional(check_number, f"model.{name}", getattr(self, name), integer=True))

    @property
    def effective_kv_precision(self) -> str:
        if self.kv_precision:
            return self.kv_precision
        return {"FP32": "FP32", "BF16": "BF16", "FP8": "FP8"}.get(self.precision, "FP16")


@dataclass(frozen=True)
class GPUConfig:
    """Hardware choice and how hard to drive it."""

    gpu_type: str | None = None
    """GPU to plan on; ``None`` lets the planner choose the cheapest that meets the targets."""
    target_gpu_utilization: float = 0.7
    """Fraction of a replica's sustainable load to plan for (headroom for bursts)."""
    tensor_parallel: int | None = None
    gpu_memory_utilization: float | None = None
    """The engine's memory fraction: vLLM ``gpu_memory_utilization`` and SGLang ``mem_fraction_static`` (of all
    GPU memory), TensorRT-LLM ``free_gpu_memory_fraction`` (of the memory left after weights); ``None`` takes the
    engine's documented default (``data/serving_engines.json``)."""
    engine: str = "vllm"
    """Serving engine whose KV-cache policy and batch limits the plan follows: vllm, trtllm or sglang."""

    def __post_init__(self) -> None:
        _optional(check_name, "gpu.gpu_type", self.gpu_type, example="H100-80GB")
        object.__setattr__(self, "target_gpu_utilization", check_number(
            "gpu.target_gpu_utilization", self.target_gpu_utilization, maximum=1.0))
        object.__setattr__(self, "gpu_memory_utilization", _optional(
            check_number, "gpu.gpu_memory_utilization", self.gpu_memory_utilization, maximum=1.0))
        object.__setattr__(self, "tensor_parallel", _optional(
            check_number, "gpu.tensor_parallel", self.tensor_parallel, integer=True, maximum=64))
        object.__setattr__(self, "engine", check_choice("gpu.engine", self.engine, SERVING_ENGINES))


@dataclass(frozen=True)
class CostOptions:
    """Where prices come from."""

    cloud: str | None = None
    """Provider to price on; ``None`` takes the cheapest listed on-demand price."""
    pricing: str = "on-demand"
    region: str | None = None
    price_per_gpu_hour: float | None = None
    """Direct override in USD per GPU-hour."""
    price_file: str | None = None

    def __post_init__(self) -> None:
        if self.cloud is not None:
            object.__setattr__(self, "cloud", check_choice("options.cloud", self.cloud, CLOUDS))
        object.__setattr__(self, "pricing", check_choice("options.pricing", self.pricing, PRICING_MODELS))
        _optional(check_name, "options.region", self.region, example="us-east-1")
        _optional(check_name, "options.price_file", self.price_file, example="prices.csv")
        object.__setattr__(self, "price_per_gpu_hour", _optional(
            check_number, "options.price_per_gpu_hour", self.price_per_gpu_hour, maximum=MAX_USD_PER_GPU_HOUR))


@dataclass(frozen=True)
class TrainingInput:
    """A training or fine-tuning job."""

    dataset_size_tokens: int
    sequence_length: int
    num_epochs: float
    global_batch_size: int
    """Sequences per optimizer step (gradient accumulation follows from it)."""
    optimizer_type: str = "AdamW"
    gradient_checkpointing: bool | None = None
    """Recompute activations in the backward pass; ``None`` lets the planner turn it on only where it must to fit."""
    micro_batch_size: int | None = None
    """Sequences per GPU per forward pass; ``None`` picks the fastest that fits."""
    method: str = "full"
    lora_rank: int = 16
    zero_stage: int | None = None
    """ZeRO stage 0-3 (FSDP full shard = 3); ``None`` picks the fastest that fits."""
    tensor_parallel: int | None = None
    """Tensor-parallel degree; ``None`` picks 1 unless a higher degree within a node is needed to fit."""
    pipeline_parallel: int | None = None
    """Pipeline stages; ``None``: 1, or with ``num_gpus`` and no ``tensor_parallel`` the planner searches
    TP x PP x DP = num_gpus."""
    mixed_precision: bool = True
    mfu: float | None = None
    deadline_hours: float | None = None
    num_gpus: int | None = None

    def __post_init__(self) -> None:
        for name in ("dataset_size_tokens", "sequence_length", "global_batch_size", "lora_rank"):
            object.__setattr__(self, name, check_number(f"training.{name}", getattr(self, name), integer=True))
        if self.sequence_length > MAX_CONTEXT_TOKENS:
            raise InputError("training.sequence_length", self.sequence_length, f"at most {MAX_CONTEXT_TOKENS} tokens")
        object.__setattr__(self, "num_epochs", check_number("training.num_epochs", self.num_epochs))
        object.__setattr__(self, "optimizer_type", check_choice("training.optimizer_type", self.optimizer_type, OPTIMIZERS))
        object.__setattr__(self, "method", check_choice("training.method", self.method, TRAINING_METHODS))
        for name in ("micro_batch_size", "tensor_parallel", "num_gpus", "pipeline_parallel"):
            object.__setattr__(self, name, _optional(check_number, f"training.{name}", getattr(self, name), integer=True))
        object.__setattr__(self, "zero_stage", _optional(
            check_number, "training.zero_stage", self.zero_stage, integer=True, minimum=0, inclusive=True, maximum=3))
        object.__setattr__(self, "mfu", _optional(
            check_number, "training.mfu", self.mfu, minimum=MIN_MFU, inclusive=True, maximum=1.0))
        object.__setattr__(self, "deadline_hours", _optional(check_number, "training.deadline_hours", self.deadline_hours))
        for name in ("gradient_checkpointing", "mixed_precision"):
            value = getattr(self, name)
            if not (isinstance(value, bool) or (value is None and name == "gradient_checkpointing")):
                raise InputError(f"training.{name}", value, "true or false")
        self._check_batch_and_gpus()

    def _check_batch_and_gpus(self) -> None:
        """Cross-field checks: the micro-batch divides the global batch; the GPU count holds whole model replicas."""
        if self.micro_batch_size and self.global_batch_size % self.micro_batch_size:
            raise InputError("training.global_batch_size", self.global_batch_size,
                             f"a multiple of micro_batch_size ({self.micro_batch_size})")
        model_parallel = (self.tensor_parallel or 1) * (self.pipeline_parallel or 1)
        if self.num_gpus and self.num_gpus % model_parallel:
            raise InputError("training.num_gpus", self.num_gpus,
                             f"a multiple of tensor_parallel x pipeline_parallel ({model_parallel})")


# --------------------------------------------------------------------------- results


class _Result:
    """Shared verbs of result objects."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelSummary(_Result):
    """The architecture a plan used."""

    id: str
    name: str
    params_b: float
    active_params_b: float
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    num_experts: int
    experts_per_token: int
    kv_cache_kib_per_token: float
    precision: str
    kv_precision: str
    source: str


@dataclass(frozen=True)
class PriceQuote(_Result):
    """The price row a cost used."""

    gpu_type: str
    usd_per_gpu_hour: float
    provider: str
    instance_type: str
    gpus_per_instance: int
    usd_per_instance_hour: float
    pricing: str
    region: str
    as_of_date: str
    age_days: int
    source: str
    price_era: str = ""
    """Price-change tag of the row (``pre_2025-06_cut`` / ``post_2025-06_cut`` for AWS P-family), or empty."""
    selection: str = ""
    """Which row this is (file and row) and why it was chosen among the others (``pricing.quote``)."""


@dataclass(frozen=True)
class GPUResources(_Result):
    gpu_type: str
    recommended_gpu: str
    gpus_per_replica: int
    tensor_parallel: int
    memory_per_replica_gib: float
    memory_breakdown_gib: dict
    """``weights``, ``kv_cache``, ``activations``, ``overhead`` for one replica (all its GPUs)."""
    gpu_memory_gib: float
    max_concurrency_per_replica: int
    replicas: int
    replicas_min: int
    replicas_max: int
    total_gpus: int
    nodes: int
    gpus_per_node: int


@dataclass(frozen=True)
class Throughput(_Result):
    """Output-token rates of an inference plan (output tokens only)."""

    batch_size: int
    """Sequences running per replica at the operating point (peak load over the replicas), at most the cap."""
    output_tokens_per_second_per_replica: float
    """What one replica generates at the planned peak load (peak rps / replicas x output tokens)."""
    max_output_tokens_per_second_per_replica: float
    """Saturated offline throughput: as many fixed-length requests as the engine admits into its KV cache (and the
    batch cap allows), no latency limit (``trtllm-bench throughput``, ``vllm bench throughput``)."""
    total_output_tokens_per_second: float
    """All replicas at the most load each holds within the latency targets and memory."""
    max_rps_per_replica: float
    """Requests/s one replica holds within the latency targets and memory (before the target utilization)."""
    max_rps_capacity: float
    """``max_rps_per_replica`` x replicas."""


@dataclass(frozen=True)
class Latency(_Result):
    """Latencies at the operating point (peak load over the planned replicas)."""

    ttft_ms: float
    """Time to first token: prefill + half a step in flight (when the replica is busy) + queueing for the prefill."""
    itl_ms: float
    """Inter-token latency: one decode step with every sequence at input + output/2, prefill interleaved."""
    e2e_ms: float
    """TTFT + (output tokens - 1) x ITL."""
    prefill_ms: float
    """Prefill of one prompt on an idle replica."""
    queueing_ms: float
    """Mean wait for the prefill (M/D/1) at the operating point's arrival rate."""


@dataclass(frozen=True)
class SLOTarget(_Result):
    """One latency target against the plan's prediction, in milliseconds."""

    target: float | None
    """The target (``None``: none was set)."""
    predicted: float
    met: bool | None
    """``predicted <= target``; ``None`` when no target was set."""


@dataclass(frozen=True)
class SLOReport(_Result):
    """The plan's latencies against the user's targets (``--ttft-slo-ms``, ``--itl-slo-ms``)."""

    ttft_ms: SLOTarget
    itl_ms: SLOTarget

    @property
    def missed(self) -> list[str]:
        """Names of the targets the prediction misses."""
        return [name for name in ("ttft_ms", "itl_ms") if getattr(self, name).met is False]


@dataclass(frozen=True)
class StaticBatchLatency(_Result):
    """A static batch (``vllm bench latency``, ``trtllm-bench latency``): B prompts start together, no arrivals."""

    ttft_ms: float
    """Prefill of all B prompts (the first token of every sequence)."""
    itl_ms: float
    """Mean decode step while each sequence's context grows from input to input + output tokens."""
    e2e_ms: float
    """TTFT + (output tokens - 1) x ITL."""


@dataclass(frozen=True)
class StaticBatchThroughput(_Result):
    output_tokens_per_second: float
    """B x output tokens / E2E, for the whole group of GPUs."""
    output_tokens_per_second_per_gpu: float
    requests_per_second: float
    """B / E2E."""


@dataclass(frozen=True)
class LatencyPlan(_Result):
    """What a static-batch benchmark measures on one replica: ``to_dict()`` is the JSON contract."""

    inputs: dict
    model: ModelSummary
    gpu_type: str
    tensor_parallel: int
    engine: str
    batch_size: int
    input_tokens: int
    output_tokens: int
    latency: StaticBatchLatency
    throughput: StaticBatchThroughput
    memory_breakdown_gib: dict
    """``weights``, ``kv_cache``, ``activations``, ``overhead`` for the replica (all its GPUs)."""
    memory_per_gpu_gib: float
    gpu_memory_gib: float
    max_batch_size: int
    """Largest batch of these sequences whose KV cache fits the engine's budget."""
    slo: SLOReport
    assumptions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


@dataclass(frozen=True)
class InferenceCost(_Result):
    monthly_gpu_cost: float
    cost_per_replica_month: float
    cost_per_million_tokens: float
    """USD per million output tokens at the planned load (the seed's ``Cost per 1M Tokens``)."""
    cost_per_million_total_tokens: float
    tokens_counted: str
    usd_per_gpu_hour: float
    whole_instance_monthly_cost: float
    price: PriceQuote


@dataclass(frozen=True)
class InferencePlan(_Result):
    """An inference capacity plan: ``to_dict()`` is the JSON contract."""

    inputs: dict
    model: ModelSummary
    gpu_resources: GPUResources
    throughput: Throughput
    latency: Latency
    cost: InferenceCost | None
    assumptions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    alternatives: list = field(default_factory=list)
    """Runners-up from the GPU comparison when the planner chose the GPU."""
    slo: SLOReport | None = None
    """TTFT and ITL at the operating point against the targets (``met`` false: the plan misses it)."""
    engine: str = "vllm"
    """Serving engine whose memory policy and batch limits the plan follows."""


# --------------------------------------------------------------------------- training results
# (owned by training_engine.py's author; the plan's JSON keys are these field names)


@dataclass(frozen=True)
class TrainingGPUResources(_Result):
    """Where a training job runs and how it is sharded."""

    gpu_type: str
    recommended_gpu: str
    """Cheapest GPU type (total job cost) whose memory fits and that meets the deadline; may differ from ``gpu_type``."""
    recommendation_reason: str
    required_gpus: int
    gpus_per_node: int
    nodes: int
    data_parallel: int
    tensor_parallel: int
    pipeline_parallel: int
    zero_stage: int
    gradient_checkpointing: bool
    fits: bool
    """Whether the predicted peak memory per GPU plus the CUDA context fits the GPU."""
    sharding: str
    """The layout in words (ZeRO stage, parallel degrees, checkpointing, micro-batch)."""
    gpu_memory_gib: float
    """Memory the training process can reserve on one GPU (device memory less the CUDA context)."""
    memory_headroom_gib: float
    min_gpus_for_memory: int
    """Fewest GPUs whose memory holds the job on this GPU type (before any deadline)."""


@dataclass(frozen=True)
class TrainingMetrics(_Result):
    """Work, speed and duration of a training job."""

    total_tokens: int
    total_flops: float
    """Model FLOPs of the whole job (forward + backward, without recomputation)."""
    model_flops_per_token: float
    hardware_flops_per_token: float
    """Model FLOPs plus the recomputed forward under activation checkpointing."""
    tokens_per_second: float
    tokens_per_second_per_gpu: float
    mfu: float
    """Model FLOPs per second over the GPUs' dense peak."""
    hardware_flops_utilization: float
    step_time_s: float
    estimated_duration_hours: float
    estimated_duration_days: float
    gpu_hours: float
    steps: int
    micro_batch_size: int
    gradient_accumulation_steps: int
    global_batch_tokens: int
    time_breakdown_s: dict
    """One optimizer step: ``compute`` (with ``pipeline_bubble``), ``tensor_parallel``, ``data_parallel_exposed``, ``optimizer``."""
    mfu_source: str


@dataclass(frozen=True)
class TrainingCost(_Result):
    """Cost of a training job at the quoted price."""

    total_training_cost: float
    cost_per_epoch: float
    usd_per_gpu_hour: float
    whole_instance_total_cost: float
    """Cost when only whole instances can be rented for the job's wall-clock hours."""
    price: PriceQuote


@dataclass(frozen=True)
class TrainingPlan(_Result):
    """A training or fine-tuning capacity plan: ``to_dict()`` is the JSON contract."""

    inputs: dict
    model: ModelSummary
    memory_breakdown_gib: dict
    """Per GPU after sharding: ``weights``, ``master_weights``, ``gradients``, ``optimizer_states``, ``activations``,
    ``logits``, ``buffers``, ``not_resident_at_peak`` (<= 0), ``overhead`` (allocator), ``total_per_gpu`` (the peak
    ``torch.cuda.max_memory_reserved``); the terms add up to the total."""
    gpu_resources: TrainingGPUResources
    training_metrics: TrainingMetrics
    cost: TrainingCost | None
    assumptions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
