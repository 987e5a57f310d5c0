"""Transformer shapes: parameter counts and KV-cache size derived from the architecture.

Everything here is a pure function of a :class:`models.ModelArchitecture`; no file or
catalog access (``config.py`` loads the catalog, ``config_loader.py`` reads HF configs).
"""

from __future__ import annotations

import functools
import math

from models import ModelArchitecture


def attention_params(arch: ModelArchitecture) -> int:
    """Weights of one attention block (Q, K, V, O and, for MLA, the low-rank projections)."""
    if arch.kv_lora_rank:
        return _mla_attention_params(arch)
    h, d = arch.hidden_size, arch.head_dim
    q = h * arch.num_attention_heads * d
    kv = 2 * h * arch.num_kv_heads * d
    o = arch.num_attention_heads * d * h
    bias = (arch.num_attention_heads + 2 * arch.num_kv_heads) * d if arch.attention_bias else 0
    return q + kv + o + bias


def _mla_attention_params(arch: ModelArchitecture) -> int:
    """DeepSeek-V2/V3 multi-head latent attention (arXiv:2405.04434 section 2.1)."""
    h, heads = arch.hidden_size, arch.num_attention_heads
    qk_dim = arch.qk_nope_head_dim + arch.qk_rope_head_dim
    if arch.q_lora_rank:
        q = h * arch.q_lora_rank + arch.q_lora_rank + arch.q_lora_rank * heads * qk_dim
    else:
        q = h * heads * qk_dim
    kv_down = h * (arch.kv_lora_rank + arch.qk_rope_head_dim) + arch.kv_lora_rank
    kv_up = arch.kv_lora_rank * heads * (arch.qk_nope_head_dim + arch.v_head_dim)
    o = heads * arch.v_head_dim * h
    return q + kv_down + kv_up + o


def mlp_params(hidden_size: int, intermediate_size: int, gated: bool, bias: bool = False) -> int:
    """One feed-forward block: gate+up+down (SwiGLU/GeGLU) or up+down (GPT/BLOOM)."""
    matrices = 3 if gated else 2
    biases = (intermediate_size * (matrices - 1) + hidden_size) if bias else 0
    return matrices * hidden_size * intermediate_size + biases


def _mlp_params_per_layer(arch: ModelArchitecture, experts: int) -> tuple[int, int]:
    """(dense-layer MLP weights, MoE-layer MLP weights counting ``experts`` routed experts)."""
    gated = arch.mlp == "gated"
    dense = mlp_params(arch.hidden_size, arch.intermediate_size, gated, arch.attention_bias and not gated)
    if not arch.is_moe:
        return dense, dense
    expert = mlp_params(arch.hidden_size, arch.moe_intermediate_size, gated)
    router = arch.hidden_size * arch.num_experts
    return dense, (experts + arch.num_shared_experts) * expert + router


def _norm_params(arch: ModelArchitecture) -> int:
    """Per-layer norms: two RMSNorm/LayerNorm weight vectors (LayerNorm adds bias)."""
    per_norm = arch.hidden_size * (2 if arch.mlp == "plain" else 1)
    return 2 * per_norm


def embedding_params(arch: ModelArchitecture) -> int:
    """Token embedding plus LM head (one matrix when tied)."""
    tables = 1 if arch.tie_word_embeddings else 2
    return tables * arch.vocab_size * arch.hidden_size


def total_params(arch: ModelArchitecture) -> int:
    """All weights resident in memory (every expert of an MoE)."""
    return _params(arch, arch.num_experts)


def active_params(arch: ModelArchitecture) -> int:
    """Weights one token passes through (routed experts per token for an MoE)."""
    return _params(arch, arch.experts_per_token)


@functools.lru_cache(maxsize=256)
def _params(arch: ModelArchitecture, experts: int) -> int:
    """All weights with ``experts`` routed experts per MoE layer; leading dense layers use the dense MLP."""
    dense_mlp, moe_mlp = _mlp_params_per_layer(arch, experts)
    dense_layers = arch.first_dense_layers if arch.is_moe else arch.num_layers
    per_layer = attention_params(arch) + _norm_params(arch)
    layers = arch.num_layers * per_layer + dense_layers * dense_mlp + (arch.num_layers - dense_layers) * moe_mlp
    return layers + embedding_params(arch) + arch.hidden_size


def matmul_params_per_token(arch: ModelArchitecture) -> int:
    """Active weights that multiply every token (excludes the embedding lookup, keeps the LM head)."""
    return active_params(arch) - arch.vocab_size * arch.hidden_size * (0 if arch.tie_word_embeddings else 1)


def kv_cache_elements_per_token(arch: ModelArchitecture) -> int:
    """Cached elements per token over all layers.

    GQA/MQA: 2 x layers x kv_heads x head_dim (K and V); MLA caches the compressed latent plus the
    decoupled RoPE key: layers x (kv_lora_rank + qk_rope_head_dim) (DeepSeek-V2 paper, Table 1).
    """
    if arch.kv_lora_rank:
        return arch.num_layers * (arch.kv_lora_rank + arch.qk_rope_head_dim)
    return 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim


def dense_shape_for_size(params_b: float) -> ModelArchitecture:
    """A dense Llama-style shape with about ``params_b`` billion parameters.

    Follows the Llama recipe: head_dim 128, FFN 3.5 x hidden (Llama-3: 14336/4096), 8 KV heads
    from 30B up (Llama-2-70B, Llama-3), vocabulary 128256; the width is interpolated in log-log
    between Llama 3.2-1B (2048), Llama-3-8B (4096), Llama-3-70B (8192) and Llama-3.1-405B (16384),
    and the depth is whatever reaches the requested size.
    """
    if not math.isfinite(params_b) or params_b <= 0:
        raise ValueError("params_b must be a positive finite number")
    vocab, head_dim = 128256, 128
    hidden = _interpolated_width(params_b)
    heads = hidden // head_dim
    kv_heads = _gqa_kv_heads(heads, 8 if params_b >= 30 else max(1, heads // 4))
    ffn = int(round(hidden * 3.5 / 256) * 256)
    per_layer = 2 * hidden * hidden + 2 * hidden * kv_heads * head_dim + 3 * hidden * ffn + 2 * hidden
    layers = max(1, round((params_b * 1e9 - 2 * vocab * hidden) / per_layer))
    return ModelArchitecture(
        id=f"dense-{params_b:g}b",
        name=f"Dense Llama-style {params_b:g}B (shape derived from size)",
        num_layers=layers,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=ffn,
        vocab_size=vocab,
        max_position_embeddings=131072,
        nominal_params_b=params_b,
        source="derived from model_size_billions with the Llama-3 shape recipe",
    )


def _gqa_kv_heads(heads: int, wanted: int) -> int:
    """The largest divisor of ``heads`` not above ``wanted`` (KV heads must split the query heads evenly)."""
    return max(k for k in range(1, wanted + 1) if heads % k == 0)


_WIDTH_ANCHORS = ((1.2, 2048), (8.0, 4096), (70.0, 8192), (405.0, 16384))  # (params_b, hidden): Llama 3.x


def _interpolated_width(params_b: float) -> int:
    """Hidden size for a dense model of ``params_b`` B, log-log between the Llama-3 anchors."""
    points = [(math.log(p), math.log(h)) for p, h in _WIDTH_ANCHORS]
    x = math.log(params_b)
    (x0, y0), (x1, y1) = next(
        ((a, b) for a, b in zip(points, points[1:]) if x <= b[0]), (points[-2], points[-1])
    )
    if x < points[0][0]:
        (x0, y0), (x1, y1) = points[0], points[1]
    width = math.exp(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    step = 256 if width < 4096 else 1024
    return max(512, int(round(width / step)) * step)
