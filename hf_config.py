"""Hugging Face ``config.json`` -> :class:`models.ModelArchitecture`, layer by layer.

Reads the field names of the Llama, Mistral/Mixtral, Qwen2/2.5/3 (dense, MoE, Next), Gemma 2/3, Phi-3/4,
gpt-oss, Llama 4, DeepSeek-V3/Kimi K2, GLM-4.5, BLOOM, Nemotron-H and Jamba families, including a multimodal
wrapper's nested ``text_config`` and the per-layer layouts: ``layer_types``, ``sliding_window_pattern``,
``use_sliding_window`` + ``max_window_layers``, Llama 4 ``attention_chunk_size``/``no_rope_layers`` and
``interleave_moe_layer_step``, Qwen3-Next ``full_attention_interval`` and ``linear_*``, Nemotron-H
``hybrid_override_pattern``, Jamba ``attn_layer_period/offset`` and ``expert_layer_period/offset``, and the
checkpoint's ``quantization_config``.

Type-strict: counts are positive whole numbers (``num_key_value_heads: 0`` is refused, not read as "one KV head
per attention head"), booleans are JSON booleans (``"false"`` is refused, not read as true), and without an
explicit ``head_dim`` the hidden size must split evenly over the heads. Every error names the file and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from models import (
    MAX_CONTEXT_TOKENS, MAX_SHAPE_DIM, InputError, LinearAttentionShape, MambaShape, ModelArchitecture,
    WeightQuantization, check_number, layer_counts, layer_spec,
)

_ALIASES = {
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}
PLAIN_MLP_TYPES = ("bloom", "gpt2", "gpt_neox", "opt", "falcon", "nemotron_h", "starcoder2", "gpt_bigcode", "phi")
"""Model types whose MLP is up + down without a gate (GELU or squared ReLU)."""
TIED_BY_DEFAULT = ("bloom", "gemma", "gemma2", "gemma3", "gemma3_text")
BIASED_QKV_BY_DEFAULT = ("qwen2", "qwen2_moe", "bloom")
ALTERNATING_TYPES = ("gemma2", "gpt_oss", "cohere2")
"""Sliding and full attention alternate, sliding first, when the config has no ``layer_types``."""
_LAYER_TYPES = {"full_attention": "full", "attention": "full", "global": "full", "sliding_attention": "sliding",
                "chunked_attention": "chunked", "linear_attention": "linear", "mamba": "mamba2", "mamba2": "mamba2",
                "mamba1": "mamba"}
_PATTERN = {"M": ("mamba2", "none"), "*": ("full", "none"), "-": ("none", "dense"), "E": ("none", "moe")}
"""Nemotron-H ``hybrid_override_pattern``: one character per block."""


def _required(hf: dict, name: str, path: str) -> Any:
    """The first present value among a required field's spellings; a missing field is an :class:`InputError`."""
    for key in _ALIASES[name]:
        if hf.get(key) is not None:
            return hf[key]
    raise InputError(f"{path}: {_ALIASES[name][0]}", "missing", "a Hugging Face config.json with this field")


def _count(hf: dict, key: str, path: str, default: Any = None, positive: bool = True) -> int:
    """``hf[key]`` as a whole number, > 0 (or >= 0 when not ``positive``); ``default`` when absent or null."""
    raw = hf.get(key)
    if raw is None:
        return default
    return check_number(f"{path}: {key}", raw, integer=True, minimum=0, inclusive=not positive,
                        maximum=MAX_CONTEXT_TOKENS)


def _flag(hf: dict, key: str, path: str, default: bool) -> bool:
    raw = hf.get(key)
    if raw is None:
        return default
    if not isinstance(raw, bool):
        raise InputError(f"{path}: {key}", raw, "true or false (a JSON boolean)")
    return raw


def _int_list(hf: dict, key: str, path: str, n: int | None = None) -> list[int] | None:
    raw = hf.get(key)
    if raw is None:
        return None
    if not isinstance(raw, list) or (n is not None and len(raw) != n):
        raise InputError(f"{path}: {key}", raw, f"a list of whole numbers{f' with one entry per layer ({n})' if n else ''}")
    return [check_number(f"{path}: {key}", item, integer=True, minimum=0, inclusive=True, maximum=MAX_SHAPE_DIM)
            for item in raw]


def _text_config(hf: Any, path: str) -> dict:
    """The language model's fields: a multimodal wrapper's ``text_config`` over the top level."""
    if not isinstance(hf, dict) or not isinstance(hf.get("text_config") or {}, dict):
        raise InputError("--model-config", path, "a JSON object (a Hugging Face config.json)")
    return {**hf, **(hf.get("text_config") or {})}


# --------------------------------------------------------------------------- the parser


def architecture_from_hf_config(hf: Any, path: str = "config.json", **catalog: Any) -> ModelArchitecture:
    """A :class:`models.ModelArchitecture` from a Hugging Face ``config.json`` dict; ``catalog`` sets the
    descriptive fields (id, name, hf_id, family, aliases, stated parameter counts, source)."""
    cfg = _text_config(hf, path)
    kind = str(cfg.get("model_type", "")).lower()
    fields = _shape_fields(cfg, kind, path)
    try:
        flat = ModelArchitecture(**fields)
        layers = _layers(cfg, kind, flat, path)
        arch = ModelArchitecture(**fields | _mixer_fields(cfg, flat.hidden_size, layers, path) | {
            "layers": layers, "quantization": quantization(hf, kind, flat, path)} | catalog)
    except InputError as exc:  # name the file: "config.json: model.vocab_size: got ..."
        raise _in_file(exc, path) from None
    except TypeError as exc:
        raise InputError("--model-config", path, f"numeric shape fields ({exc})") from None
    return arch


def _in_file(exc: InputError, path: str) -> InputError:
    return exc if str(exc.field).startswith(f"{path}:") else InputError(f"{path}: {exc.field}", exc.value, exc.accepted)


def _shape_fields(cfg: dict, kind: str, path: str) -> dict:
    """The shapes every layer shares, read type-strictly."""
    layers, hidden, heads = (check_number(f"{path}: {_ALIASES[k][0]}", _required(cfg, k, path), integer=True)
                             for k in ("num_layers", "hidden_size", "num_attention_heads"))
    head_dim = _head_dim(cfg, hidden, heads, path)
    experts = cfg.get("num_local_experts") or cfg.get("n_routed_experts") or cfg.get("num_experts") or 0
    dense_width, expert_width = _mlp_widths(cfg, kind, hidden, path)
    name = cfg.get("_name_or_path") if isinstance(cfg.get("_name_or_path"), str) else ""
    return dict(
        id=name or Path(path).parent.name or "custom",
        name=f"{name or kind or 'custom'} (from {path})",
        num_layers=layers, hidden_size=hidden, num_attention_heads=heads,
        num_kv_heads=_count(cfg, "num_key_value_heads", path, default=heads),
        head_dim=head_dim,
        intermediate_size=dense_width,
        vocab_size=_required(cfg, "vocab_size", path),
        tie_word_embeddings=_flag(cfg, "tie_word_embeddings", path, kind in TIED_BY_DEFAULT),
        max_position_embeddings=(cfg.get("max_position_embeddings") or cfg.get("seq_length")
                                 or cfg.get("n_positions") or 2048),
        mlp="plain" if kind in PLAIN_MLP_TYPES else "gated",
        attention_bias=_flag(cfg, "attention_bias", path, kind in BIASED_QKV_BY_DEFAULT),
        mlp_bias=_flag(cfg, "mlp_bias", path, kind == "gpt_oss"),
        num_experts=experts,
        experts_per_token=(cfg.get("num_experts_per_tok") or cfg.get("experts_per_token") or 0) if experts else 0,
        num_shared_experts=_shared_experts(cfg, kind, path) if experts else 0,
        moe_intermediate_size=expert_width if experts else 0,
        shared_expert_intermediate_size=(cfg.get("shared_expert_intermediate_size")
                                         or cfg.get("moe_shared_expert_intermediate_size") or 0) if experts else 0,
        first_dense_layers=cfg.get("first_k_dense_replace") or 0,
        q_lora_rank=cfg.get("q_lora_rank") or 0,
        kv_lora_rank=cfg.get("kv_lora_rank") or 0,
        qk_rope_head_dim=cfg.get("qk_rope_head_dim") or 0,
        qk_nope_head_dim=cfg.get("qk_nope_head_dim") or 0,
        v_head_dim=cfg.get("v_head_dim") or 0,
        sliding_window=cfg.get("sliding_window") or 0,
        attention_output_gate=_flag(cfg, "attn_output_gate", path, kind == "qwen3_next"),
        state_dtype="FP32" if cfg.get("mamba_ssm_cache_dtype") == "float32" else "BF16",
        source=f"Hugging Face config {path}",
    )


def _head_dim(cfg: dict, hidden: int, heads: int, path: str) -> int:
    """``head_dim`` as given; without one, hidden / heads, which must divide (Llama, Mistral, BLOOM derive it so)."""
    if cfg.get("kv_lora_rank"):  # MLA: the query/key head is nope + rope
        return sum(check_number(f"{path}: {key}", cfg.get(key), integer=True)
                   for key in ("qk_nope_head_dim", "qk_rope_head_dim"))
    for key in ("head_dim", "attention_head_dim", "kv_channels"):
        if cfg.get(key) is not None:
            return _count(cfg, key, path)
    if hidden % heads:
        raise InputError(f"{path}: hidden_size", hidden,
                         f"a multiple of num_attention_heads ({heads}) when the config gives no head_dim")
    return hidden // heads


def _mlp_widths(cfg: dict, kind: str, hidden: int, path: str) -> tuple[int, int]:
    """(dense MLP width, routed expert width). Llama 4 names its dense width ``intermediate_size_mlp`` and its
    expert width ``intermediate_size``; DeepSeek/Qwen-MoE/GLM give ``moe_intermediate_size``."""
    dense = cfg.get("intermediate_size") or cfg.get("ffn_dim") or cfg.get("n_inner") or 4 * hidden
    if kind == "llama4_text" or cfg.get("intermediate_size_mlp") is not None:
        return cfg.get("intermediate_size_mlp") or dense, dense
    return dense, cfg.get("moe_intermediate_size") or dense


def _shared_experts(cfg: dict, kind: str, path: str) -> int:
    """Shared experts per MoE layer: DeepSeek/GLM/Nemotron ``n_shared_experts``; one in every Llama 4 MoE layer
    and in Qwen2-MoE/Qwen3-Next when ``shared_expert_intermediate_size`` is set."""
    if cfg.get("n_shared_experts") is not None:
        return _count(cfg, "n_shared_experts", path, positive=False)
    if kind == "llama4_text" or cfg.get("shared_expert_intermediate_size"):
        return 1
    return 0


# --------------------------------------------------------------------------- per-layer layout


def _layers(cfg: dict, kind: str, flat: ModelArchitecture, path: str) -> tuple:
    """One :class:`LayerSpec` per layer from the config's layout keys."""
    mixers, mlps = _mixers(cfg, kind, flat, path), _mlps(cfg, kind, flat, path)
    if len(set(mixers)) == 1 and len(set(mlps)) == 1:  # one kind throughout: no per-layer work (and fast at any depth)
        return (layer_spec(*mixers[0], mlps[0]),) * flat.num_layers
    return tuple(layer_spec(m, w, p) for (m, w), p in zip(mixers, mlps))


def _mixers(cfg: dict, kind: str, flat: ModelArchitecture, path: str) -> list[tuple[str, int]]:
    """``(mixer, window)`` per layer."""
    n, attention = flat.num_layers, "mla" if flat.kv_lora_rank else "full"
    window = flat.sliding_window
    if cfg.get("hybrid_override_pattern") is not None:
        return [(mixer, 0) for mixer, _ in _pattern(cfg, n, path)]
    if cfg.get("layer_types") is not None:
        return _typed_layers(cfg, n, window, path)
    if kind == "jamba" or cfg.get("attn_layer_period") is not None:
        period, offset = _period(cfg, "attn_layer_period", "attn_layer_offset", path, 8, 4)
        return [(attention if i % period == offset else "mamba", 0) for i in range(n)]
    if kind == "qwen3_next" or cfg.get("full_attention_interval") is not None:
        interval = _count(cfg, "full_attention_interval", path, default=4)
        return [(attention if (i + 1) % interval == 0 else "linear", 0) for i in range(n)]
    if cfg.get("attention_chunk_size") is not None:
        return _chunked_layers(cfg, n, attention, path)
    if kind in ("gemma3", "gemma3_text") or cfg.get("sliding_window_pattern") is not None:
        pattern = _count(cfg, "sliding_window_pattern", path, default=6)
        return [_windowed(window, (i + 1) % pattern != 0, attention) for i in range(n)]
    if kind in ALTERNATING_TYPES:
        return [_windowed(window, i % 2 == 0, attention) for i in range(n)]
    if cfg.get("use_sliding_window") is not None:  # Qwen2/3: sliding from layer max_window_layers on, if enabled
        enabled = _flag(cfg, "use_sliding_window", path, False)
        start = min(_count(cfg, "max_window_layers", path, default=0, positive=False), n) if enabled else n
        return [_windowed(window, False, attention)] * start + [_windowed(window, True, attention)] * (n - start)
    return [_windowed(window, True, attention)] * n


def _windowed(window: int, sliding: bool, attention: str) -> tuple[str, int]:
    return ("sliding", window) if sliding and window else (attention, 0)


def _typed_layers(cfg: dict, n: int, window: int, path: str) -> list[tuple[str, int]]:
    types = cfg["layer_types"]
    if not isinstance(types, list) or len(types) != n or not all(t in _LAYER_TYPES for t in types if isinstance(t, str)) \
            or not all(isinstance(t, str) for t in types):
        raise InputError(f"{path}: layer_types", types if not isinstance(types, list) else f"{len(types)} entries",
                         f"one entry per layer ({n}) among {', '.join(_LAYER_TYPES)}")
    chunk = _count(cfg, "attention_chunk_size", path, default=0)
    mixers = [_LAYER_TYPES[t] for t in types]
    for mixer, needed, key in (("sliding", window, "sliding_window"), ("chunked", chunk, "attention_chunk_size")):
        if mixer in mixers and not needed:
            raise InputError(f"{path}: {key}", cfg.get(key), f"a window in tokens for the {mixer} layers of layer_types")
    return [(m, window if m == "sliding" else chunk if m == "chunked" else 0) for m in mixers]


def _chunked_layers(cfg: dict, n: int, attention: str, path: str) -> list[tuple[str, int]]:
    """Llama 4: layers with RoPE attend within chunks of ``attention_chunk_size``; every
    ``no_rope_layer_interval``-th layer (NoPE) attends globally (transformers ``Llama4TextConfig``)."""
    chunk = _count(cfg, "attention_chunk_size", path)
    rope = _int_list(cfg, "no_rope_layers", path, n)
    if not rope:
        interval = _count(cfg, "no_rope_layer_interval", path, default=4)
        rope = [int((i + 1) % interval != 0) for i in range(n)]
    return [("chunked", chunk) if uses_rope else (attention, 0) for uses_rope in rope]


def _pattern(cfg: dict, n: int, path: str) -> list[tuple[str, str]]:
    pattern = cfg["hybrid_override_pattern"]
    if not isinstance(pattern, str) or len(pattern) != n or set(pattern) - set(_PATTERN):
        raise InputError(f"{path}: hybrid_override_pattern", pattern,
                         f"one character per layer ({n}): M mamba, * attention, - MLP, E MoE")
    return [_PATTERN[char] for char in pattern]


def _period(cfg: dict, period_key: str, offset_key: str, path: str, period: int, offset: int) -> tuple[int, int]:
    period = _count(cfg, period_key, path, default=period)
    offset = _count(cfg, offset_key, path, default=offset, positive=False)
    if offset >= period:
        raise InputError(f"{path}: {offset_key}", offset, f"less than {period_key} ({period})")
    return period, offset


def _mlps(cfg: dict, kind: str, flat: ModelArchitecture, path: str) -> list[str]:
    """``dense``, ``moe`` or ``none`` per layer."""
    n = flat.num_layers
    if cfg.get("hybrid_override_pattern") is not None:
        return [mlp for _, mlp in _pattern(cfg, n, path)]
    if not flat.is_moe:
        return ["dense"] * n
    if kind == "jamba" or cfg.get("expert_layer_period") is not None:
        period, offset = _period(cfg, "expert_layer_period", "expert_layer_offset", path, 2, 1)
        return ["moe" if i % period == offset else "dense" for i in range(n)]
    if kind == "llama4_text" or cfg.get("interleave_moe_layer_step") is not None:
        moe_layers = _int_list(cfg, "moe_layers", path)
        if moe_layers is None:
            step = _count(cfg, "interleave_moe_layer_step", path, default=1)
            moe_layers = list(range(step - 1, n, step))
        return ["moe" if i in set(moe_layers) else "dense" for i in range(n)]
    if cfg.get("decoder_sparse_step") is not None or cfg.get("mlp_only_layers") is not None:
        step = _count(cfg, "decoder_sparse_step", path, default=1)
        dense_only = set(_int_list(cfg, "mlp_only_layers", path) or [])
        return ["moe" if i not in dense_only and (i + 1) % step == 0 else "dense" for i in range(n)]
    freq = _count(cfg, "moe_layer_freq", path, default=1)
    first = min(flat.first_dense_layers, n)
    return ["moe" if i >= first and i % freq == 0 else "dense" for i in range(n)]


# --------------------------------------------------------------------------- state-mixer shapes


def _mixer_fields(cfg: dict, hidden: int, layers: tuple, path: str) -> dict:
    """The linear-attention or Mamba shape the layers need."""
    mixers = {layer.mixer for layer in layer_counts(layers)}
    fields: dict = {}
    if "linear" in mixers:
        fields["linear_attention"] = LinearAttentionShape(**{
            name: _first(cfg, (key,), path)
            for name, key in (("num_key_heads", "linear_num_key_heads"), ("num_value_heads", "linear_num_value_heads"),
                              ("key_head_dim", "linear_key_head_dim"), ("value_head_dim", "linear_value_head_dim"),
                              ("conv_kernel", "linear_conv_kernel_dim"))})
    if "mamba2" in mixers:
        fields["mamba"] = _mamba2(cfg, path)
    if "mamba" in mixers:
        fields["mamba"] = _mamba1(cfg, hidden, path)
    return fields


def _first(cfg: dict, keys: tuple[str, ...], path: str, default: int | None = None) -> int:
    """The first present spelling of a state-mixer field; required when ``default`` is None."""
    for key in keys:
        if cfg.get(key) is not None:
            return _count(cfg, key, path)
    if default is None:
        raise InputError(f"{path}: {keys[0]}", "missing", "a whole number > 0 (the layer layout needs it)")
    return default


def _mamba2(cfg: dict, path: str) -> MambaShape:
    """Nemotron-H (``mamba_num_heads``...) or Falcon-H1/Zamba2 (``mamba_n_heads``...) field names."""
    return MambaShape(
        num_heads=_first(cfg, ("mamba_num_heads", "mamba_n_heads"), path),
        head_dim=_first(cfg, ("mamba_head_dim", "mamba_d_head"), path),
        state_size=_first(cfg, ("ssm_state_size", "mamba_d_state", "state_size"), path),
        conv_kernel=_first(cfg, ("conv_kernel", "mamba_d_conv"), path, default=4),
        n_groups=_first(cfg, ("n_groups", "mamba_n_groups"), path, default=1),
        proj_bias=_flag(cfg, "mamba_proj_bias", path, False),
        conv_bias=_flag(cfg, "use_conv_bias", path, _flag(cfg, "mamba_conv_bias", path, True)),
    )


def _mamba1(cfg: dict, hidden: int, path: str) -> MambaShape:
    """Jamba's Mamba-1 fields: d_inner = mamba_expand x hidden, dt_rank 'auto' = ceil(hidden / 16)."""
    rank = cfg.get("mamba_dt_rank", "auto")
    return MambaShape(
        num_heads=_count(cfg, "mamba_expand", path, default=2) * hidden, head_dim=1,
        state_size=_count(cfg, "mamba_d_state", path, default=16),
        conv_kernel=_count(cfg, "mamba_d_conv", path, default=4),
        dt_rank=math.ceil(hidden / 16) if rank == "auto" else _count(cfg, "mamba_dt_rank", path),
        proj_bias=_flag(cfg, "mamba_proj_bias", path, False),
        conv_bias=_flag(cfg, "mamba_conv_bias", path, True),
    )


# --------------------------------------------------------------------------- quantization_config


def quantization(hf: dict, kind: str, flat: ModelArchitecture, path: str) -> WeightQuantization | None:
    """The checkpoint's weight format from ``quantization_config``; None for 16-bit weights or a method the
    planner does not know (``quantization_note`` says so)."""
    qc = hf.get("quantization_config")
    if qc is None:
        return None
    if not isinstance(qc, dict):
        raise InputError(f"{path}: quantization_config", qc, "a JSON object")
    precision = _quantized_precision(qc)
    if precision is None:
        return None
    skipped = qc.get("modules_to_not_convert") or qc.get("ignore") or []
    if not isinstance(skipped, list):
        raise InputError(f"{path}: quantization_config.modules_to_not_convert", skipped, "a list of module names")
    experts_only = flat.is_moe and any(isinstance(m, str) and "attn" in m for m in skipped)
    group = qc.get("group_size") or qc.get("q_group_size") or 0
    group = group if isinstance(group, int) and not isinstance(group, bool) and group > 0 else 0
    return WeightQuantization(precision=precision, method=str(qc.get("quant_method", "")), experts_only=experts_only,
                              group_size=group)


def _quantized_precision(qc: dict) -> str | None:
    """MXFP4 (gpt-oss), FP8 (DeepSeek/Kimi block-wise, fbgemm, compressed-tensors), NVFP4 (ModelOpt),
    INT4/INT8 (AWQ, GPTQ, bitsandbytes)."""
    method = str(qc.get("quant_method", "")).lower()
    bits = qc.get("bits") or qc.get("w_bit")
    bits = bits if isinstance(bits, int) else None
    if method == "mxfp4":
        return "MXFP4"
    if method in ("fp8", "fbgemm_fp8"):
        return "FP8"
    if method == "modelopt":
        return {"FP8": "FP8", "NVFP4": "NVFP4"}.get(str(qc.get("quant_algo", "")).upper())
    if method in ("awq", "gptq"):
        return {4: "INT4", 8: "INT8"}.get(bits)
    if method == "bitsandbytes":
        return "INT4" if qc.get("load_in_4bit") is True else "INT8" if qc.get("load_in_8bit") is True else None
    if method == "compressed-tensors":
        return _compressed_tensors_precision(qc)
    return None


def _compressed_tensors_precision(qc: dict) -> str | None:
    groups = qc.get("config_groups") if isinstance(qc.get("config_groups"), dict) else {}
    for group in groups.values():
        weights = group.get("weights") if isinstance(group, dict) else None
        if isinstance(weights, dict):
            key = tuple(value if isinstance(value, (str, int)) else None
                        for value in (weights.get("type"), weights.get("num_bits"), weights.get("group_size")))
            found = {("float", 8): "FP8", ("int", 8): "INT8", ("int", 4): "INT4"}.get(key[:2])
            if key[:2] == ("float", 4):
                found = "NVFP4" if key[2] == 16 else "MXFP4"
            if found:
                return found
    return None


def quantization_note(hf: Any) -> str:
    """A sentence for the plan when ``quantization_config`` names a method the planner does not read."""
    qc = hf.get("quantization_config") if isinstance(hf, dict) else None
    if isinstance(qc, dict) and _quantized_precision(qc) is None:
        return (f"quantization_config method {str(qc.get('quant_method'))!r} is not one the planner reads "
                "(mxfp4, fp8, modelopt, awq, gptq, bitsandbytes, compressed-tensors): weights planned at --precision.")
    return ""
