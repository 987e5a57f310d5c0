"""Decoder shapes, layer by layer: parameter counts, KV cache, per-sequence state and attention spans.

Everything here is a pure function of a :class:`models.ModelArchitecture`; no file or catalog access
(``config.py`` loads the catalog, ``hf_config.py`` reads Hugging Face configs). Each layer has a token
mixer (full, sliding-window or chunked attention, MLA, Gated DeltaNet linear attention, Mamba-1/2, or
none) and an MLP (dense, MoE, or none); the model-level quantities are sums over the layers, grouped
by kind so the planner's inner loops stay cheap.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

from models import ATTENTION_MIXERS, ModelArchitecture

# --------------------------------------------------------------------------- weights per block


def attention_params(arch: ModelArchitecture) -> int:
    """Weights of one attention block (Q, K, V, O and, for MLA, the low-rank projections)."""
    if arch.kv_lora_rank:
        return _mla_attention_params(arch)
    h, d = arch.hidden_size, arch.head_dim
    gate = 2 if arch.attention_output_gate else 1  # Qwen3-Next gated attention: q_proj also emits the output gate
    q = h * arch.num_attention_heads * d * gate
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


def linear_attention_params(arch: ModelArchitecture) -> int:
    """One Gated DeltaNet block (transformers ``Qwen3NextGatedDeltaNet``): q/k/v/z and beta/alpha projections,
    a depthwise causal conv over q, k, v, per-head dt bias and A, the gated output norm, the output projection."""
    la, h = arch.linear_attention, arch.hidden_size
    conv_dim = 2 * la.key_dim + la.value_dim
    projections = h * (2 * la.key_dim + 2 * la.value_dim) + h * 2 * la.num_value_heads + la.value_dim * h
    return projections + conv_dim * la.conv_kernel + 2 * la.num_value_heads + la.value_head_dim


def mamba2_params(arch: ModelArchitecture) -> int:
    """One Mamba-2 mixer (Dao & Gu 2024, arXiv:2405.21060; transformers ``NemotronHMamba2Mixer``): in_proj to
    x, z, B, C and dt; a depthwise conv over x, B, C; dt bias, A and D per head; gated RMSNorm; out_proj."""
    m, h = arch.mamba, arch.hidden_size
    conv_dim = m.d_inner + 2 * m.n_groups * m.state_size
    in_features = 2 * m.d_inner + 2 * m.n_groups * m.state_size + m.num_heads
    projections = h * in_features + m.d_inner * h + ((in_features + h) if m.proj_bias else 0)
    conv = conv_dim * m.conv_kernel + (conv_dim if m.conv_bias else 0)
    return projections + conv + 3 * m.num_heads + m.d_inner


def mamba1_params(arch: ModelArchitecture) -> int:
    """One Mamba-1 mixer (Gu & Dao 2023, arXiv:2312.00752; transformers ``JambaMambaMixer``): in_proj to x and z,
    a depthwise conv, x_proj to dt, B, C, dt_proj, A (d_inner x d_state), D, out_proj, Jamba's dt/B/C norms."""
    m, h = arch.mamba, arch.hidden_size
    d, n, r = m.d_inner, m.state_size, m.dt_rank
    projections = h * 2 * d + d * (r + 2 * n) + r * d + d + d * h + ((2 * d + h) if m.proj_bias else 0)
    conv = d * m.conv_kernel + (d if m.conv_bias else 0)
    return projections + conv + d * n + d + r + 2 * n


def mixer_params(arch: ModelArchitecture, mixer: str) -> int:
    """Weights of one layer's token mixer."""
    if mixer in ATTENTION_MIXERS:
        return attention_params(arch)
    return {"linear": linear_attention_params, "mamba": mamba1_params, "mamba2": mamba2_params}.get(
        mixer, lambda _: 0)(arch)


def mlp_params(hidden_size: int, intermediate_size: int, gated: bool, bias: bool = False) -> int:
    """One feed-forward block: gate+up+down (SwiGLU/GeGLU) or up+down (GPT/BLOOM, squared ReLU)."""
    matrices = 3 if gated else 2
    biases = (intermediate_size * (matrices - 1) + hidden_size) if bias else 0
    return matrices * hidden_size * intermediate_size + biases


def dense_mlp_params(arch: ModelArchitecture) -> int:
    """The MLP of a dense layer (BLOOM-style plain MLPs carry biases with their attention biases)."""
    bias = arch.mlp_bias or (arch.attention_bias and arch.mlp == "plain")
    return mlp_params(arch.hidden_size, arch.intermediate_size, arch.mlp == "gated", bias)


def expert_params(arch: ModelArchitecture) -> int:
    """One routed expert (gpt-oss experts carry biases)."""
    return mlp_params(arch.hidden_size, arch.moe_intermediate_size, arch.mlp == "gated", arch.mlp_bias)


def _shared_experts_params(arch: ModelArchitecture) -> int:
    width = arch.shared_expert_intermediate_size or arch.moe_intermediate_size
    return arch.num_shared_experts * mlp_params(arch.hidden_size, width, arch.mlp == "gated", arch.mlp_bias)


def moe_params(arch: ModelArchitecture, experts: int) -> int:
    """One MoE block counting ``experts`` routed experts, plus its shared experts and router."""
    return experts * expert_params(arch) + _shared_experts_params(arch) + arch.hidden_size * arch.num_experts


def _norm_params(arch: ModelArchitecture, sublayers: int) -> int:
    """One RMSNorm/LayerNorm weight vector per sublayer (LayerNorm adds a bias)."""
    return sublayers * arch.hidden_size * (2 if arch.mlp == "plain" else 1)


def embedding_params(arch: ModelArchitecture) -> int:
    """Token embedding plus LM head (one matrix when tied)."""
    tables = 1 if arch.tie_word_embeddings else 2
    return tables * arch.vocab_size * arch.hidden_size


# --------------------------------------------------------------------------- model totals


def total_params(arch: ModelArchitecture) -> int:
    """All weights resident in memory (every expert of an MoE)."""
    return _params(arch, arch.num_experts)


def active_params(arch: ModelArchitecture) -> int:
    """Weights one token passes through (routed experts per token for an MoE)."""
    return _params(arch, arch.experts_per_token)


@functools.lru_cache(maxsize=256)
def _params(arch: ModelArchitecture, experts: int) -> int:
    """All weights with ``experts`` routed experts per MoE layer, summed over the layer kinds."""
    total = embedding_params(arch) + arch.hidden_size  # + the final norm
    for (mixer, mlp), count in _layer_kinds(arch).items():
        mlp_weights = {"dense": dense_mlp_params(arch), "moe": moe_params(arch, experts), "none": 0}[mlp]
        norms = _norm_params(arch, (mixer != "none") + (mlp != "none"))
        total += count * (mixer_params(arch, mixer) + mlp_weights + norms)
    return total


def matmul_params_per_token(arch: ModelArchitecture) -> int:
    """Active weights that multiply every token (excludes the embedding lookup, keeps the LM head)."""
    return active_params(arch) - arch.vocab_size * arch.hidden_size * (0 if arch.tie_word_embeddings else 1)


def moe_layer_count(arch: ModelArchitecture) -> int:
    """Layers whose MLP is a mixture of experts."""
    return sum(count for layer, count in arch.layer_kinds.items() if layer.mlp == "moe")


def routed_expert_params(arch: ModelArchitecture) -> int:
    """Every routed expert of every MoE layer."""
    return moe_layer_count(arch) * arch.num_experts * expert_params(arch)


def quantized_params(arch: ModelArchitecture) -> int:
    """Weights a quantized format stores at its precision: all but the embeddings, or only the routed experts when
    the checkpoint's ``quantization_config`` keeps attention and routers in 16-bit (gpt-oss ``modules_to_not_convert``)."""
    if arch.quantization is not None and arch.quantization.experts_only:
        return routed_expert_params(arch)
    return total_params(arch) - embedding_params(arch)


def checkpoint_precision(arch: ModelArchitecture) -> str | None:
    """The weight format the checkpoint ships in (MXFP4, NVFP4, FP8, INT8, INT4), or None for 16-bit weights."""
    return arch.quantization.precision if arch.quantization is not None else None


@functools.lru_cache(maxsize=256)
def _layer_kinds(arch: ModelArchitecture) -> Counter:
    kinds: Counter = Counter()
    for layer, count in arch.layer_kinds.items():
        kinds[(layer.mixer, layer.mlp)] += count
    return kinds


def mixer_counts(arch: ModelArchitecture) -> dict[str, int]:
    """Layers per token-mixer kind, windows spelled out (``{"sliding 1024": 52, "full": 10}``); MLP-only blocks left out."""
    names: Counter = Counter()
    for layer, count in arch.layer_kinds.items():
        if layer.mixer != "none":
            names[f"{layer.mixer} {layer.window}" if layer.window else layer.mixer] += count
    return dict(names)


# --------------------------------------------------------------------------- KV cache and per-sequence state


def kv_elements_per_token_per_layer(arch: ModelArchitecture, mixer: str) -> int:
    """Cached elements per token in one layer.

    GQA/MQA: K and V, 2 x kv_heads x head_dim; MLA caches the compressed latent plus the decoupled RoPE key,
    kv_lora_rank + qk_rope_head_dim (DeepSeek-V2 paper, Table 1); linear-attention, Mamba and MLP-only layers: none.
    """
    if mixer == "mla":
        return arch.kv_lora_rank + arch.qk_rope_head_dim
    if mixer in ATTENTION_MIXERS:
        return 2 * arch.num_kv_heads * arch.head_dim
    return 0


def kv_cache_elements_per_token(arch: ModelArchitecture) -> int:
    """Cached elements per token over all layers while the context is within every window (short contexts)."""
    return sum(elements * count for elements, _, count in _kv_groups(arch))


def kv_cache_elements(arch: ModelArchitecture, context_tokens: float) -> float:
    """Cached elements of one sequence holding ``context_tokens`` tokens: a sliding layer keeps at most its window
    W, a chunked layer at most its chunk C (vLLM's sliding-window and chunked-local KV managers), others every token."""
    total = 0.0
    for elements, window, count in _kv_groups(arch):  # a loop: this runs in the planner's inner loops
        total += elements * count * (context_tokens if context_tokens < window else window)
    return total


@functools.lru_cache(maxsize=256)
def _kv_groups(arch: ModelArchitecture) -> tuple:
    """``(elements per token, window or inf, layers)`` per kind of caching layer."""
    groups: Counter = Counter()
    for layer, count in arch.layer_kinds.items():
        if layer.mixer in ATTENTION_MIXERS:
            groups[(kv_elements_per_token_per_layer(arch, layer.mixer), layer.window or math.inf)] += count
    return tuple((elements, window, count) for (elements, window), count in groups.items())


def state_elements_per_layer(arch: ModelArchitecture, mixer: str) -> int:
    """Fixed per-sequence state of one layer, the same at every context length.

    Gated DeltaNet: a key_head_dim x value_head_dim matrix per value head, plus the causal-conv window of
    (kernel - 1) inputs over q, k, v (vLLM ``MambaStateShapeCalculator.gated_delta_net_state_shape``).
    Mamba-2: heads x head_dim x d_state, plus the conv window over x, B, C. Mamba-1: d_inner x d_state plus the
    conv window over x (vLLM ``mamba1_state_shape`` / ``mamba2_state_shape``).
    """
    if mixer == "linear":
        la = arch.linear_attention
        return la.num_value_heads * la.key_head_dim * la.value_head_dim + (2 * la.key_dim + la.value_dim) * (la.conv_kernel - 1)
    if mixer == "mamba2":
        m = arch.mamba
        return m.num_heads * m.head_dim * m.state_size + (m.d_inner + 2 * m.n_groups * m.state_size) * (m.conv_kernel - 1)
    if mixer == "mamba":
        m = arch.mamba
        return m.d_inner * m.state_size + m.d_inner * (m.conv_kernel - 1)
    return 0


@functools.lru_cache(maxsize=256)
def state_elements_per_sequence(arch: ModelArchitecture) -> int:
    """Per-sequence state over all linear-attention and Mamba layers."""
    return sum(count * state_elements_per_layer(arch, mixer) for (mixer, _), count in _layer_kinds(arch).items())


# --------------------------------------------------------------------------- attention spans and recurrent FLOPs


def attended_tokens(arch: ModelArchitecture, context_tokens: float) -> float:
    """Keys one query attends, summed over the attention layers: the context, at most W in a sliding layer
    and C in a chunked layer. Times the per-layer score and value FLOPs per key, this is the attention work."""
    total = 0.0
    for _, window, count in _kv_groups(arch):
        total += count * (context_tokens if context_tokens < window else window)
    return total


def attention_layer_count(arch: ModelArchitecture) -> int:
    """Layers with softmax attention (full, sliding, chunked or MLA)."""
    return sum(count for _, _, count in _kv_groups(arch))


@functools.lru_cache(maxsize=256)
def recurrent_flops_per_token(arch: ModelArchitecture) -> float:
    """FLOPs of the linear-attention and Mamba recurrences per token (their projections are matmul weights).

    Gated DeltaNet: decay, delta-rule rank-1 update and read-out of each key_dim x value_dim state, about
    6 x key_head_dim x value_head_dim per value head (Yang et al. 2024, arXiv:2412.06464 eq. 10); Mamba: the
    state update h = exp(dt A) h + dt B x and read-out y = C h, about 6 x d_state per channel (arXiv:2405.21060).
    """
    per_layer = {"linear": 0.0, "mamba": 0.0, "mamba2": 0.0}
    if arch.linear_attention is not None:
        la = arch.linear_attention
        per_layer["linear"] = 6.0 * la.num_value_heads * la.key_head_dim * la.value_head_dim
    if arch.mamba is not None:
        per_layer["mamba"] = per_layer["mamba2"] = 6.0 * arch.mamba.d_inner * arch.mamba.state_size
    return sum(count * per_layer.get(mixer, 0.0) for (mixer, _), count in _layer_kinds(arch).items())


# --------------------------------------------------------------------------- weight matrices


def linear_shapes(arch: ModelArchitecture, active: bool = False) -> list[tuple[int, int, int]]:
    """``(in, out, count)`` of every mixer and MLP weight matrix (routed experts: all, or the active ones);
    embeddings, norms, routers and convolutions are not listed."""
    shapes: Counter = Counter()
    for (mixer, mlp), count in _layer_kinds(arch).items():
        for i, o, n in _mixer_shapes(arch, mixer) + _mlp_shapes(arch, mlp, active):
            shapes[(i, o)] += n * count
    return [(i, o, n) for (i, o), n in shapes.items() if n > 0]


def _mixer_shapes(arch: ModelArchitecture, mixer: str) -> list[tuple[int, int, int]]:
    h, heads = arch.hidden_size, arch.num_attention_heads
    if mixer == "mla":
        qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim
        q = [(h, arch.q_lora_rank, 1), (arch.q_lora_rank, heads * qk, 1)] if arch.q_lora_rank else [(h, heads * qk, 1)]
        return q + [(h, arch.kv_lora_rank + arch.qk_rope_head_dim, 1),
                    (arch.kv_lora_rank, heads * (arch.qk_nope_head_dim + arch.v_head_dim), 1),
                    (heads * arch.v_head_dim, h, 1)]
    if mixer in ATTENTION_MIXERS:
        q, kv = heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
        return [(h, q * (2 if arch.attention_output_gate else 1), 1), (h, kv, 2), (q, h, 1)]
    if mixer == "linear":
        la = arch.linear_attention
        return [(h, 2 * la.key_dim + 2 * la.value_dim, 1), (h, 2 * la.num_value_heads, 1), (la.value_dim, h, 1)]
    if mixer == "mamba2":
        m = arch.mamba
        return [(h, 2 * m.d_inner + 2 * m.n_groups * m.state_size + m.num_heads, 1), (m.d_inner, h, 1)]
    if mixer == "mamba":
        m = arch.mamba
        return [(h, 2 * m.d_inner, 1), (m.d_inner, m.dt_rank + 2 * m.state_size, 1), (m.dt_rank, m.d_inner, 1),
                (m.d_inner, h, 1)]
    return []


def _mlp_shapes(arch: ModelArchitecture, mlp: str, active: bool) -> list[tuple[int, int, int]]:
    h, up = arch.hidden_size, 2 if arch.mlp == "gated" else 1
    if mlp == "dense":
        return [(h, arch.intermediate_size, up), (arch.intermediate_size, h, 1)]
    if mlp != "moe":
        return []
    routed, f = (arch.experts_per_token if active else arch.num_experts), arch.moe_intermediate_size
    shared = arch.shared_expert_intermediate_size or f
    experts = [(h, f, routed * up), (f, h, routed)]
    return experts + [(h, shared, arch.num_shared_experts * up), (shared, h, arch.num_shared_experts)]


# --------------------------------------------------------------------------- shape from a size alone


@functools.lru_cache(maxsize=64)
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
