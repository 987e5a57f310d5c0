"""Typed, validated inputs and results shared by the engines, the CLI and the wizard.

Inputs are frozen dataclasses validated at construction: every problem raises
:class:`InputError` naming the field, the value given and what is accepted. Results are
frozen dataclasses with ``to_dict()`` for JSON; the plan's JSON keys are these field names.
Units are in the names: ``_gib`` (2**30 bytes), ``_ms``, ``_s``, ``_usd``, ``_b`` (1e9 params).
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

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


def plural(count: float, noun: str, many: str | None = None) -> str:
    """A count and its noun, the noun plural unless the count is one: ``1 GPU``, ``1,024 sequences``, ``0.5 days``
    (``many``: an irregular plural)."""
    shown = f"{count:,}" if isinstance(count, int) else f"{count:,.10g}"
    return f"{shown} {noun if count == 1 else many or noun + 's'}"


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


class NotInModeError(InputError):
    """A flag or config key that means nothing in the mode asked (the plan would silently ignore it)."""

    def __init__(self, field_name: str, value: Any, modes: Iterable[str], mode: str):
        modes = "/".join(modes)
        InputError.__init__(self, field_name, value, f"--mode {modes}")
        self.args = (f"{field_name} applies to --mode {modes}, not {mode}",)


class InfeasibleError(PlannerError):
    """The request is well-formed but no hardware configuration can serve it.

    ``fields`` names the inputs whose change could make it servable, most likely first (``workload.itl_slo_ms``
    for a latency target no GPU reaches), so a door can offer to change them without reading the message.
    """

    def __init__(self, message: str, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.fields = tuple(fields)


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


PRECISIONS = ("FP32", "FP16", "BF16", "FP8", "INT8", "INT4", "MXFP4", "NVFP4")
KV_PRECISIONS = ("FP32", "FP16", "BF16", "FP8", "INT8")
TRAINING_METHODS = ("full", "lora", "qlora")
OPTIMIZERS = ("AdamW", "Adam", "Adafactor", "SGD", "AdamW-8bit")
CLOUDS = ("aws", "gcp", "azure", "lambda", "coreweave", "runpod")
PRICING_MODELS = ("on-demand", "spot", "reserved-1y", "reserved-3y")
SCENARIOS = ("optimistic", "baseline", "pessimistic")
"""Forecast scenarios: the lower 80% band, the median, the upper 80% band of demand."""
FORECAST_METHODS = ("auto", "stl", "arima", "ets", "seasonal_naive", "ensemble")
"""Forecasting methods; ``auto`` chooses among the others by rolling-origin backtest."""
MODES = ("inference", "training", "forecast", "compare", "validate", "fleet", "latency")
"""What a :class:`PlanRequest` asks for (the CLI's ``--mode``, a config's ``mode``)."""
PROVISION_STEPS = ("1d", "1w")
"""How often capacity is provisioned: sized for each day's or each week's peak demand."""
FLEET_EXECUTORS = ("local", "dask")
"""Where a fleet's services are planned: processes on this machine, or a Dask cluster (``dask.distributed``)."""
MAX_FLEET_WORKERS = 4096
"""Plausibility limit on worker processes for one fleet."""
MAX_HORIZON_DAYS = 3660
"""Longest forecast horizon accepted (ten years)."""
MAX_DB_INT = 2**31 - 1
"""Largest value an INTEGER column holds on PostgreSQL (GPU counts, replicas, token averages, request ids)."""
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


MIXERS = ("full", "sliding", "chunked", "mla", "linear", "mamba", "mamba2", "none")
"""A layer's token mixer: full attention, sliding-window attention (window W), chunked attention (chunk C, Llama 4),
multi-head latent attention (DeepSeek MLA), linear attention (Gated DeltaNet, Qwen3-Next), Mamba-1 (Jamba),
Mamba-2 (Nemotron-H), or none (a block that is only an MLP, as in Nemotron-H)."""
ATTENTION_MIXERS = ("full", "sliding", "chunked", "mla")
"""Mixers that cache keys and values per token."""
MLP_KINDS = ("dense", "moe", "none")
STATE_DTYPES = ("FP32", "FP16", "BF16")


def _check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a real boolean; the strings ``"false"``/``"true"`` and numbers are refused, not guessed."""
    if not isinstance(value, bool):
        raise InputError(name, value, "true or false (a JSON boolean)")
    return value


def _check_dims(owner: Any, where: str, names: Iterable[str], minimum: float = 0.0, inclusive: bool = False) -> None:
    """Validate shape fields of a frozen dataclass in place (whole numbers, at most ``MAX_SHAPE_DIM``)."""
    for name in names:
        object.__setattr__(owner, name, check_number(f"{where}.{name}", getattr(owner, name), integer=True,
                                                     minimum=minimum, inclusive=inclusive, maximum=MAX_SHAPE_DIM))


class _LayerFields(NamedTuple):
    mixer: str
    mlp: str
    window: int


class LayerSpec(_LayerFields):
    """One decoder layer: its token mixer (one of :data:`MIXERS`), its feed-forward block (``dense``, ``moe`` for
    routed experts, ``none`` for a mixer-only block) and ``window``: the tokens a ``sliding`` layer attends (W) or a
    ``chunked`` layer's chunk (C), 0 otherwise. Frozen and validated like the dataclasses here, but a tuple, so the
    per-layer sums hash and compare it at C speed even for a model with a very large layer count."""

    __slots__ = ()

    def __new__(cls, mixer: str = "full", mlp: str = "dense", window: int = 0):
        check_choice("model.layers.mixer", mixer, MIXERS)
        check_choice("model.layers.mlp", mlp, MLP_KINDS)
        windowed = mixer in ("sliding", "chunked")
        window = check_number("model.layers.window", window, integer=True, minimum=0, inclusive=not windowed,
                              maximum=MAX_CONTEXT_TOKENS)
        if window and not windowed:
            raise InputError("model.layers.window", window, f"0 for a {mixer} layer (only sliding and chunked "
                             "layers have a window)")
        return super().__new__(cls, mixer, mlp, window)


def layer_counts(layers: tuple) -> dict:
    """``{LayerSpec: layers of that kind}`` (the physics sums over kinds, not over every layer)."""
    return dict(collections.Counter(layers))


@functools.lru_cache(maxsize=1024)
def layer_spec(mixer: str = "full", window: int = 0, mlp: str = "dense") -> LayerSpec:
    """One shared, validated :class:`LayerSpec` per kind (a model repeats a handful of kinds over its layers)."""
    return LayerSpec(mixer=mixer, window=window, mlp=mlp)


@dataclass(frozen=True)
class LinearAttentionShape:
    """Gated DeltaNet linear attention (Qwen3-Next ``linear_*`` keys): per value head a key_dim x value_dim state."""

    num_key_heads: int
    num_value_heads: int
    key_head_dim: int
    value_head_dim: int
    conv_kernel: int

    def __post_init__(self) -> None:
        _check_dims(self, "model.linear_attention", ("num_key_heads", "num_value_heads", "key_head_dim",
                                                     "value_head_dim", "conv_kernel"))
        if self.num_value_heads % self.num_key_heads:
            raise InputError("model.linear_num_value_heads", self.num_value_heads,
                             f"a multiple of linear_num_key_heads ({self.num_key_heads})")

    @property
    def key_dim(self) -> int:
        return self.num_key_heads * self.key_head_dim

    @property
    def value_dim(self) -> int:
        return self.num_value_heads * self.value_head_dim


@dataclass(frozen=True)
class MambaShape:
    """A Mamba mixer's shape. Mamba-2 (Nemotron-H): ``num_heads`` x ``head_dim`` channels, each head with a
    ``state_size`` state, B/C shared by ``n_groups``. Mamba-1 (Jamba): ``num_heads`` = d_inner channels of head_dim 1,
    with a ``dt_rank`` delta projection."""

    num_heads: int
    head_dim: int
    state_size: int
    conv_kernel: int
    n_groups: int = 1
    dt_rank: int = 0
    proj_bias: bool = False
    conv_bias: bool = True

    def __post_init__(self) -> None:
        _check_dims(self, "model.mamba", ("num_heads", "head_dim", "state_size", "conv_kernel", "n_groups"))
        _check_dims(self, "model.mamba", ("dt_rank",), inclusive=True)
        _check_bool("model.mamba.proj_bias", self.proj_bias)
        _check_bool("model.mamba.conv_bias", self.conv_bias)
        if self.num_heads % self.n_groups:
            raise InputError("model.n_groups", self.n_groups, f"a divisor of the mamba heads ({self.num_heads})")

    @property
    def d_inner(self) -> int:
        return self.num_heads * self.head_dim


@dataclass(frozen=True)
class WeightQuantization:
    """How a checkpoint stores its weights (its ``quantization_config``)."""

    precision: str
    """The planner's name for the format: MXFP4, NVFP4, FP8, INT8 or INT4."""
    method: str
    """``quant_method`` as the config writes it (mxfp4, fp8, awq, gptq, modelopt, compressed-tensors...)."""
    experts_only: bool = False
    """True when ``modules_to_not_convert`` keeps attention and routers in 16-bit, so only routed experts are
    quantized (gpt-oss)."""
    group_size: int = 0

    def __post_init__(self) -> None:
        check_choice("model.quantization_config", self.precision, PRECISIONS)
        _check_bool("model.quantization_config.experts_only", self.experts_only)
        _check_dims(self, "model.quantization_config", ("group_size",), inclusive=True)


@dataclass(frozen=True)
class ModelArchitecture:
    """A decoder's shape, layer by layer; parameter counts, KV cache and state are derived from it (``architecture.py``).

    The flat fields describe the attention and MLP shapes every layer shares; ``layers`` says which mixer and which
    MLP each layer has (derived from the flat fields when not given: every layer full attention, or MLA, or sliding
    when ``sliding_window`` is set; MoE after ``first_dense_layers`` for an MoE)."""

    id: str
    name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    """Dense MLP width (the MLP of dense layers)."""
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
    """Total parameters the model card states, billions."""
    hf_id: str = ""
    source: str = ""
    layers: tuple = ()
    """One :class:`LayerSpec` per layer."""
    linear_attention: LinearAttentionShape | None = None
    mamba: MambaShape | None = None
    shared_expert_intermediate_size: int = 0
    """Width of each shared expert when it differs from ``moe_intermediate_size`` (Qwen2-MoE, Nemotron 3)."""
    mlp_bias: bool = False
    """Biases on the MLP and expert projections (gpt-oss)."""
    attention_output_gate: bool = False
    """Gated attention: the query projection also emits a per-channel output gate (Qwen3-Next)."""
    quantization: WeightQuantization | None = None
    """The checkpoint's own weight format (``quantization_config``); None for 16-bit checkpoints."""
    state_dtype: str = "BF16"
    """Precision of the per-sequence linear-attention/Mamba state (``mamba_ssm_cache_dtype``)."""
    family: str = ""
    aliases: tuple = ()
    """Other Hugging Face ids with the same shape (instruct, chat, -it variants)."""
    nominal_active_params_b: float | None = None
    """Active parameters per token the model card states, billions (MoE)."""

    def __post_init__(self) -> None:
        _check_dims(self, "model", ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim",
                                    "intermediate_size", "vocab_size"))
        _check_dims(self, "model", ("num_experts", "experts_per_token", "num_shared_experts", "moe_intermediate_size",
                                    "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim",
                                    "sliding_window", "shared_expert_intermediate_size"), inclusive=True)
        object.__setattr__(self, "first_dense_layers", check_number(
            "model.first_dense_layers", self.first_dense_layers, integer=True, minimum=0, inclusive=True,
            maximum=self.num_layers))
        object.__setattr__(self, "max_position_embeddings", check_number(
            "model.max_position_embeddings", self.max_position_embeddings, integer=True, maximum=MAX_CONTEXT_TOKENS))
        check_choice("model.mlp", self.mlp, ("gated", "plain"))
        check_choice("model.state_dtype", self.state_dtype, STATE_DTYPES)
        for name in ("tie_word_embeddings", "attention_bias", "mlp_bias", "attention_output_gate"):
            _check_bool(f"model.{name}", getattr(self, name))
        if self.num_attention_heads % self.num_kv_heads:
            raise InputError("model.num_key_value_heads", self.num_kv_heads,
                             f"a divisor of num_attention_heads ({self.num_attention_heads})")
        if self.num_experts and not 0 < self.experts_per_token <= self.num_experts:
            raise InputError("model.experts_per_token", self.experts_per_token,
                             f"between 1 and num_experts ({self.num_experts})")
        object.__setattr__(self, "layers", self._checked_layers())
        key = tuple(getattr(self, f.name) for f in dataclasses.fields(self))
        object.__setattr__(self, "_key", (hash(key), key))
        object.__setattr__(self, "_counts", layer_counts(self.layers))

    def __hash__(self) -> int:
        """Computed once: the physics caches (``architecture.py``) key on the architecture, layers and all."""
        return self._key[0]

    def __eq__(self, other: object) -> bool:
        """Field by field, on a tuple built once (the layers as plain tuples), so cache look-ups stay cheap."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or self._key == other._key

    def _checked_layers(self) -> tuple:
        """``layers`` as given (one per layer, each mixer with its shape), or derived from the flat fields."""
        if not self.layers:
            return self._uniform_layers()
        layers = tuple(self.layers)
        if len(layers) != self.num_layers or not set(map(type, layers)) <= {LayerSpec}:
            raise InputError("model.layers", f"{len(layers)} entries", f"one LayerSpec per layer ({self.num_layers})")
        needs = {"linear": self.linear_attention, "mamba": self.mamba, "mamba2": self.mamba,
                 "mla": self.kv_lora_rank or None, "moe": self.num_experts or None}
        kinds = layer_counts(layers)
        for kind in {layer.mixer for layer in kinds} | {layer.mlp for layer in kinds}:
            if kind in needs and needs[kind] is None:
                raise InputError("model.layers", kind, f"a shape for its {kind} layers (none was given)")
        return layers

    def _uniform_layers(self) -> tuple:
        mixer = "mla" if self.kv_lora_rank else ("sliding" if self.sliding_window else "full")
        window = self.sliding_window if mixer == "sliding" else 0
        dense = self.first_dense_layers if self.is_moe else self.num_layers
        return (layer_spec(mixer, window, "dense"),) * dense + (layer_spec(mixer, window, "moe"),) * (self.num_layers - dense)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def layer_kinds(self) -> dict:
        """``{LayerSpec: count}``: the physics sums over these, not over every layer."""
        return self._counts


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


def default_kv_precision(precision: str | None) -> str:
    """The KV cache's precision when none is asked: FP32, BF16 and FP8 weights keep theirs, the rest 16-bit."""
    return {"FP32": "FP32", "BF16": "BF16", "FP8": "FP8"}.get(precision or "FP16", "FP16")


@dataclass(frozen=True)
class ModelConfig:
    """Which model and at which precision (catalog id, HF ``config.json`` path, or a size alone)."""

    model_size_billions: float | None = None
    precision: str | None = None
    """Weights: FP32, FP16, BF16, FP8, INT8, INT4, MXFP4, NVFP4; ``None`` serves the checkpoint as published (its
    ``quantization_config``: MXFP4 experts for gpt-oss, block FP8 for DeepSeek-V3), else FP16, and trains in FP16."""
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
        if self.model is not None and self.model_config_path is not None:
            raise InputError("model.model_config_path (--model-config)", self.model_config_path,
                             f"either a model id ({self.model}) or a config.json path, not both: one would be ignored")
        object.__setattr__(self, "model_size_billions", _optional(
            check_number, "model.model_size_billions", self.model_size_billions, maximum=100_000))
        _optional(check_name, "model.model", self.model, example="llama-3.1-70b")
        _optional(check_name, "model.model_config_path", self.model_config_path, example="config.json")
        if self.precision is not None:
            object.__setattr__(self, "precision", check_choice("model.precision", self.precision, PRECISIONS))
        if self.kv_precision is not None:
            object.__setattr__(self, "kv_precision", check_choice("model.kv_precision", self.kv_precision, KV_PRECISIONS))
        for name in ("context_window", "batch_size"):
            object.__setattr__(self, name, _optional(check_number, f"model.{name}", getattr(self, name), integer=True))

    @property
    def effective_kv_precision(self) -> str:
        return self.kv_precision or default_kv_precision(self.precision)


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


@dataclass(frozen=True)
class ForecastInput:
    """A demand-forecast question: the history and how to read it, how far ahead, which scenario to plan for,
    and how each period's demand becomes GPUs (tokens, latency targets, bursts within a period)."""

    history: Any
    """A CSV path, the seed's ``(datetime, rps)`` pairs, a pandas Series or DataFrame
    (anything :func:`demand_history.load_history` reads)."""
    timestamp_column: str | None = None
    value_column: str | None = None
    frequency: str | None = None
    """pandas offset alias to aggregate to (``h``, ``D``); request logs default to hourly."""
    date_format: str | None = None
    """strftime format of the timestamps (``%d/%m/%Y %H:%M``) when they are day-first or otherwise ambiguous."""
    horizon_days: float = 30
    scenario: str = "pessimistic"
    """``optimistic`` (lower 80% band), ``baseline`` (median) or ``pessimistic`` (upper 80% band)."""
    method: str = "auto"
    current_replicas: int | None = None
    """Replicas running now; ``None`` assumes what the planner sizes for the history's recent peak."""
    provision_every: str = "1d"
    """Provisioning step: capacity is sized for the scenario's quantile of each day's (``1d``) or week's
    (``1w``) peak demand."""
    avg_input_tokens: int | None = None
    """Prompt tokens per request; when given they win over the history's token columns."""
    avg_output_tokens: int | None = None
    peak_load_multiplier: float | None = None
    """Load within a period over the period's forecast value; ``None`` applies
    :func:`capacity_timeline.default_peak_multiplier` (1 for hourly or finer history)."""
    ttft_slo_ms: float | None = None
    itl_slo_ms: float | None = None

    def __post_init__(self) -> None:
        if self.history is None or (isinstance(self.history, str) and not self.history.strip()):
            raise InputError("forecast.history", self.history,
                             "a traffic history: a CSV path (--history FILE), (datetime, rps) pairs or a pandas frame")
        for name in ("timestamp_column", "value_column", "frequency", "date_format"):
            _optional(check_name, f"forecast.{name}", getattr(self, name), example="timestamp")
        object.__setattr__(self, "horizon_days", check_number("forecast.horizon_days", self.horizon_days,
                                                              maximum=MAX_HORIZON_DAYS))
        object.__setattr__(self, "scenario", check_choice("forecast.scenario", self.scenario, SCENARIOS))
        object.__setattr__(self, "method", check_choice("forecast.method", self.method, FORECAST_METHODS))
        object.__setattr__(self, "provision_every", check_choice("forecast.provision_every", self.provision_every,
                                                                 PROVISION_STEPS))
        for name in ("current_replicas", "avg_input_tokens", "avg_output_tokens"):
            object.__setattr__(self, name, _optional(check_number, f"forecast.{name}", getattr(self, name), integer=True))
        object.__setattr__(self, "peak_load_multiplier", _optional(
            check_number, "forecast.peak_load_multiplier", self.peak_load_multiplier, minimum=1.0, inclusive=True))
        for name in ("ttft_slo_ms", "itl_slo_ms"):
            object.__setattr__(self, name, _optional(check_number, f"forecast.{name}", getattr(self, name)))

    def to_config(self) -> dict:
        """The ``forecast`` section of a config file (an in-memory history is named, not copied)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if not isinstance(self.history, str):
            values["history"] = f"<{type(self.history).__name__} given in Python>"
        return values


MODEL_OPTION_KEYS = ("precision", "kv_precision", "context_window", "batch_size")
"""``ModelConfig`` keys a fleet applies to the models its table names (``FleetInput.model_options``)."""


@dataclass(frozen=True)
class FleetInput:
    """How a fleet question is split and run.

    The question every service asks is the request's ``forecast`` (its ``history`` is the long table: a CSV or
    Parquet path or a pandas frame, one row per service and period); this says which column names the service,
    where the services are planned, and which earlier run to complete. A service's own columns in the table
    (``fleet.SERVICE_COLUMNS``: model, precision, gpu_type, team, current_replicas, ...) override the fleet's
    values for that service.
    """

    service_column: str = "service"
    executor: str = "local"
    """``local`` (processes on this machine) or ``dask`` (``dask.distributed``): the same plans either way."""
    dask_scheduler: str | None = None
    """Address of a running Dask scheduler (``tcp://host:8786``); ``None`` with ``dask`` starts a LocalCluster."""
    workers: int | None = None
    """Worker processes here or in the LocalCluster (default: the CPUs this process may use)."""
    retry_failed: str | None = None
    """A previous fleet result (JSON or Parquet): its failed services, and services it lacks, are planned again and
    merged with its successful ones."""
    model_options: dict | None = None
    """``MODEL_OPTION_KEYS`` for services whose model comes from the table's ``model`` column (the ``--precision``
    flag when no ``--model`` is given for the whole fleet)."""
    services_per_partition: int | None = None
    """Services shipped to a worker at once (default: about four partitions per worker, at most 100 services)."""

    def __post_init__(self) -> None:
        check_name("fleet.service_column", self.service_column, example="service")
        object.__setattr__(self, "executor", check_choice("fleet.executor", self.executor, FLEET_EXECUTORS))
        _optional(check_name, "fleet.dask_scheduler", self.dask_scheduler, example="tcp://scheduler:8786")
        if self.dask_scheduler is not None and self.executor != "dask":
            raise InputError("fleet.dask_scheduler", self.dask_scheduler, "a scheduler only with --executor dask")
        object.__setattr__(self, "workers", _optional(check_number, "fleet.workers", self.workers, integer=True,
                                                      maximum=MAX_FLEET_WORKERS))
        _optional(check_name, "fleet.retry_failed", self.retry_failed, example="fleet.json")
        object.__setattr__(self, "services_per_partition", _optional(
            check_number, "fleet.services_per_partition", self.services_per_partition, integer=True, maximum=100_000))
        if self.model_options is not None:
            _check_model_options(self.model_options)


def _check_model_options(options: Any) -> None:
    """``options`` as ``ModelConfig`` keys of ``MODEL_OPTION_KEYS`` with valid values (checked on a stand-in model)."""
    if not isinstance(options, dict) or not set(options) <= set(MODEL_OPTION_KEYS):
        raise InputError("fleet.model_options", options, "an object with keys among " + ", ".join(MODEL_OPTION_KEYS))
    try:
        ModelConfig(model="stand-in", **options)
    except InputError as exc:
        raise InputError(f"fleet.model_options: {exc.field}", exc.value, exc.accepted) from None


@dataclass(frozen=True)
class LatencyInput:
    """A static-batch benchmark (``vllm bench latency``, ``trtllm-bench latency``): ``batch_size`` prompts of
    ``input_tokens`` start together and each generates ``output_tokens``; no arrivals, no queueing."""

    input_tokens: int
    output_tokens: int
    batch_size: int = 1
    ttft_slo_ms: float | None = None
    itl_slo_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "batch_size"):
            object.__setattr__(self, name, check_number(f"latency.{name}", getattr(self, name), integer=True))
        for name in ("ttft_slo_ms", "itl_slo_ms"):
            object.__setattr__(self, name, _optional(check_number, f"latency.{name}", getattr(self, name)))


@dataclass(frozen=True)
class PlanRequest:
    """One question for :meth:`LLMForecastEngine.plan`: the mode and the inputs it needs.

    Every door builds one (the CLI from flags and a config file, the wizard from answers, the API
    directly), so the same question gets the same plan whichever door asked it.
    """

    mode: str
    model: ModelConfig | None = None
    workload: LLMWorkloadInput | None = None
    gpu: GPUConfig = field(default_factory=GPUConfig)
    training: TrainingInput | None = None
    forecast: ForecastInput | None = None
    include_cost: bool = False
    cost: CostOptions | None = None
    profile: str | None = None
    """A calibration profile (``python calibration.py fit``) to plan with instead of the shipped fits."""
    measurements: str | None = None
    """Validate mode: a measurements CSV to check the planner against (default: the shipped calibration data)."""
    fleet: FleetInput | None = None
    """Fleet mode: how the long table in ``forecast.history`` is split and run (default: ``FleetInput()``)."""
    latency: LatencyInput | None = None
    """Latency mode: the static batch to time."""

    _NEEDS = {"inference": ("model", "workload"), "compare": ("model", "workload"),
              "training": ("model", "training"), "forecast": ("forecast",), "validate": (), "fleet": ("forecast",),
              "latency": ("model", "latency")}

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", check_choice("mode", self.mode, MODES))
        for name, kind in (("model", ModelConfig), ("workload", LLMWorkloadInput), ("gpu", GPUConfig),
                           ("training", TrainingInput), ("forecast", ForecastInput), ("cost", CostOptions),
                           ("fleet", FleetInput), ("latency", LatencyInput)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise InputError(name, value, f"a models.{kind.__name__}")
        missing = [name for name in self._NEEDS[self.mode] if getattr(self, name) is None]
        if missing:
            raise InputError(self.mode, f"missing {', '.join(missing)}", f"the {' and '.join(missing)} of a "
                             f"{self.mode} question")
        if not isinstance(self.include_cost, bool):
            raise InputError("options.include_cost", self.include_cost, "true or false")
        _optional(check_name, "profile", self.profile, example="profile.json")
        _optional(check_name, "measurements", self.measurements, example="measurements.csv")

    def to_config(self) -> dict:
        """The question as a config file (``--config``): the ``inputs`` every result carries."""
        config: dict[str, Any] = {"mode": self.mode}
        for name in ("workload", "latency", "model", "gpu", "training", "fleet"):
            value = getattr(self, name)
            if value is not None:
                config[name] = dataclasses.asdict(value)
        if self.forecast is not None:
            config["forecast"] = self.forecast.to_config()
        config["options"] = {"include_cost": self.include_cost, **dataclasses.asdict(self.cost or CostOptions())}
        for name in ("profile", "measurements"):
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        return config


# --------------------------------------------------------------------------- results


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: results by their ``to_dict``, containers element by element."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


INTERNAL = {"internal": True}
"""Field metadata of a result attribute kept for Python callers and left out of ``to_dict()``."""


class _Result:
    """Shared verbs of result objects."""

    def to_dict(self) -> dict:
        """The JSON the CLI writes: every field but the internal ones, nested results as dicts."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not f.metadata.get("internal")}


class _ByName:
    """Fields read by name too (``forecast["scaling_recommendations"]``), as SEED.md indexes its results."""

    def __getitem__(self, key: str) -> Any:
        if isinstance(key, str) and key in self.keys():
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self) if not f.metadata.get("internal"))

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self.keys() else default


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
    """The GPU the plan runs on: the user's, else the cheapest that meets the targets."""
    recommended_gpu: str
    """The cheapest GPU type that meets the same targets (``gpu_type`` when none is cheaper)."""
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
    recommendation_reason: str = ""
    """Why ``recommended_gpu`` is suggested over ``gpu_type`` (empty when they are the same): a suggestion
    beside the plan, which stays on the GPU asked for."""


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
    """What renting the plan's GPUs costs a month (the seed's ``Monthly GPU Cost``): whole instances of the quoted
    instance type, the one that bills least for them; what options are ranked by."""
    cost_per_replica_month: float
    """One replica's GPUs at the GPU-hour price."""
    cost_per_million_tokens: float
    """USD per million output tokens at the planned load (the seed's ``Cost per 1M Tokens``), on the monthly bill."""
    cost_per_million_total_tokens: float
    tokens_counted: str
    usd_per_gpu_hour: float
    gpu_hours_monthly_cost: float
    """The GPUs alone at the GPU-hour price (below ``monthly_gpu_cost`` when an instance holds GPUs the plan does
    not use)."""
    whole_instance_monthly_cost: float
    """The same bill as ``monthly_gpu_cost`` (the name plans have carried since whole instances were first priced)."""
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


# --------------------------------------------------------------------------- forecast, comparison, validation, services


@dataclass(frozen=True)
class ForecastPlan(_ByName, _Result):
    """A demand forecast and, with a model, the capacity it needs: ``to_dict()`` is the JSON contract.

    Like statsmodels' results objects it holds its inputs and a few verbs (:meth:`summary_frame`,
    :meth:`scenario`); fields read by name as well (``plan["scaling_recommendations"]``).
    """

    inputs: dict
    """The question as a config file (``--config`` reads it back)."""
    method: str
    """The forecasting method used (``auto`` resolved)."""
    requested_method: str
    frequency: str
    """The history's step as a pandas alias (``h``, ``D``)."""
    horizon_periods: int
    horizon_days: float
    seasonal_periods: list
    value_column: str
    unit: str
    """``rps`` or ``requests per period``: the unit of ``forecast`` and ``history`` values."""
    backtest: dict
    """Backtest metric, origins, scores per method and why the method was chosen."""
    bands_from: str | None
    """Where the bands' spread comes from: the backtest errors, or the naive fallback for a short history."""
    forecast: list
    """One record per period: ``timestamp``, ``mean`` (median), ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95``."""
    history: list
    """The recent history the forecast continues (``timestamp``, ``value``)."""
    scenario: str
    scenario_column: str
    """The forecast column the scenario plans for (``upper_80`` for pessimistic)."""
    capacity: dict
    """``included``; with a model: the replica shape, current capacity, tokens per request, peak multiplier."""
    provisioning_schedule: list | None
    """Per provisioning step (a day or a week): ``start``, ``end``, ``peak_demand_rps`` (the scenario's quantile of
    the step's peak), ``replicas``, ``gpus_needed``, ``gpu_type``, ``add_gpus`` (to add by ``start`` beyond the most
    held so far); ``None`` without a model."""
    capacity_timeline: list | None
    """The hourly detail: per period ``demand_rps``, ``replicas``, ``gpus_needed``, ``gpu_type`` (``None`` without a
    model). Each period alone, at the scenario's band: provision by ``provisioning_schedule``, not by this."""
    scaling_recommendations: list
    """Sentences: when current capacity runs out and what to add by when (never empty)."""
    warnings: list = field(default_factory=list)
    assumptions: list = field(default_factory=list)
    results: Any = field(default=None, repr=False, compare=False, metadata=INTERNAL)
    """The fitted :class:`forecasting.ForecastResults` (Python callers only)."""

    def summary_frame(self):
        """The forecast as a pandas DataFrame: ``mean``, ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95``."""
        return self.results.summary_frame()

    def scenario_demand(self, name: str | None = None):
        """Demand per period (the history's unit) under ``name`` (default: the planned scenario)."""
        return self.results.scenario(name or self.scenario)


@dataclass(frozen=True)
class GPUComparison(_Result):
    """GPU type x tensor parallel x precision x cloud options that meet the targets, cheapest first.

    Iterating it gives the option records (``for c in comparison: c["gpu_type"]``, as SEED.md does);
    ``rejected`` holds the options that fail, each with its ``reason``.
    """

    options: tuple
    """Option records, cheapest monthly cost first."""
    rejected: tuple
    inputs: dict = field(default_factory=dict)
    assumptions: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)

    def __getitem__(self, index: int) -> dict:
        return self.options[index]


@dataclass(frozen=True)
class ValidationReport(_Result):
    """Predicted against measured for each calibration row, and the error per quantity."""

    rows: tuple
    """One record per measurement (``id``, ``quantity``, ``predicted``, ``measured``, ``unit``, ``error_pct``,
    ``source``), the farthest off first."""
    summary: dict
    """Quantity -> ``rows``, ``median_abs_error_pct``, ``max_abs_error_pct``."""
    measurements: str = "shipped calibration data (data/calibration)"
    """What was validated: the shipped calibration data or a measurements file."""
    efficiencies: str = "shipped fits (data/efficiency_fit.json, data/training_fit.json)"
    """The efficiencies predicted with: the shipped fits or a calibration profile."""
    inputs: dict = field(default_factory=lambda: {"mode": "validate"})


@dataclass(frozen=True)
class ServicePlan(_ByName, _Result):
    """A registered service's capacity: what it holds, what the plan behind it needs, and any request opened."""

    service: str
    basis: str
    """``forecast`` (from its traffic history) or ``current traffic`` (its registered rps)."""
    gpu_type: str
    current_gpus: int
    required_gpus: int
    additional_gpus: int
    spare_gpus: int
    horizon_days: float | None
    plan: Any
    """The :class:`ForecastPlan` or :class:`InferencePlan` the numbers come from."""
    request: dict | None = None
    """The draft request opened (or the open one that already covers it), else ``None``."""
    note: str | None = None


@dataclass(frozen=True)
class FleetPlan(_ByName, _Result):
    """Every service of a fleet planned, and the fleet's totals: ``to_dict()`` is the JSON contract.

    A service that could not be planned is a record with ``status`` ``failed`` and its ``error`` (one line); the
    others are complete. ``services`` is ordered by name whichever executor ran them.
    """

    inputs: dict
    """The question as a config file (``--config`` reads it back)."""
    services: tuple
    """One record per service: ``service``, ``status`` (``ok`` or ``failed``), ``error``, ``required_gpus`` (the peak
    the plan needs), ``gpu_type``, ``current_gpus``, ``additional_gpus``, ``spare_gpus``, ``team``, ``model``,
    ``peak_demand_rps``, ``peak_at``, ``shortfall_at``, and ``plan`` (the service's plan without its history and
    per-period records; its ``provisioning_schedule`` holds the GPUs of each step, day or week)."""
    totals: dict
    """``services``, ``ok``, ``failed``, GPUs held / needed / to add / spare overall, ``by_gpu_type``, ``by_team``
    and ``by_date`` (per provisioning step's start date and GPU type: the sum of the services' GPUs for that step)."""
    executor: dict
    """Where it ran: ``kind``, ``workers``, ``scheduler``, ``partitions``, ``services_planned``."""
    warnings: list = field(default_factory=list)
    assumptions: list = field(default_factory=list)
    requests: tuple = ()
    """The capacity requests of ``services.py plan --all --request``, by service: ``id``, ``service``, ``gpus``,
    ``gpu_type``, ``state`` and ``opened`` (``True``: opened by this run; ``False``: one already open stands);
    each record's ``request`` holds the whole request. Empty without ``--request``."""

    @property
    def failed(self) -> tuple:
        """The records of the services that could not be planned."""
        return tuple(row for row in self.services if row["status"] == "failed")

    def summary_frame(self):
        """The services as a pandas DataFrame, one row each, without the nested ``plan``."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in row.items() if not isinstance(v, (dict, list))}
                             for row in self.services])
