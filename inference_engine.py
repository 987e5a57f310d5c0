"""Inference physics and the serving planner.

Memory and time are derived from the architecture and the GPU's limits (HBM bandwidth, dense
FLOPS, interconnect), times efficiencies fitted on measurements (``calibration.py``):

- weights stream from HBM once per forward pass; matmul FLOPs are 2 x active params per token;
  the two combine as a smooth roofline ``(t_mem^p + t_flops^p)^(1/p)``;
- every decode step reads each running sequence's KV cache;
- tensor parallelism adds two all-reduces per layer (Megatron-LM, arXiv:1909.08053 section 3);
- a continuous-batching replica at arrival rate lambda holds N = lambda x E2E sequences
  (Little's law); each step serves every running sequence plus the interleaved prefill tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import architecture
import config
from config import BYTES_PER_GIB
from models import (
    PRECISIONS, GPUComparison, GPUConfig, GPUResources, GPUSpec, InfeasibleError, InferencePlan, InputError, Latency,
    LLMWorkloadInput, ModelArchitecture, ModelConfig, ModelSummary, Throughput, check_choice,
)

ACTIVATION_BYTES = 2  # activations in 16-bit during inference


# --------------------------------------------------------------------------- efficiencies


@dataclass(frozen=True)
class Efficiency:
    """Achieved fractions of the datasheet limits and fixed costs, fitted in ``calibration.py``."""

    weight_bandwidth: float
    """Share of HBM bandwidth reached streaming 16-bit or FP8 weights through GEMV/GEMM kernels."""
    quantized_weight_bandwidth: float
    """The same for weight-only INT8/INT4 weights, which are dequantized inside the kernel."""
    kv_bandwidth: float
    """Share of HBM bandwidth reached reading the KV cache in attention kernels."""
    matmul: float
    """Share of the GPU's measured 16-bit matmul ceiling (MAMF) reached by a whole forward pass's matmuls."""
    matmul_fp8: float
    """The same for FP8 (activation quantization, scaling, and the attention and LM head left in 16-bit)."""
    step_overhead_us_per_layer: float
    """Fixed time per layer per forward pass (norms, rotary, kernel gaps) in microseconds."""
    allreduce_latency_us: float
    """Latency of one small tensor-parallel all-reduce in microseconds."""
    roofline_sharpness: float
    """p in (t_mem^p + t_flops^p)^(1/p): large p is the hard max() roofline."""

    @classmethod
    def fitted(cls) -> "Efficiency":
        return cls(**config.fitted_parameters("efficiency_fit.json"))

    def weight_share(self, precision: str, compute_precision: str) -> float:
        """Achieved share of HBM bandwidth streaming weights stored in ``precision``."""
        return self.quantized_weight_bandwidth if config.weight_only(precision, compute_precision) else self.weight_bandwidth

    def matmul_share(self, compute_precision: str) -> float:
        """Achieved share of peak for matmuls at ``compute_precision``."""
        return self.matmul_fp8 if compute_precision == "FP8" else self.matmul


# --------------------------------------------------------------------------- deployment


@dataclass(frozen=True)
class Deployment:
    """One replica's per-GPU quantities: a model at a precision on ``tensor_parallel`` GPUs."""

    arch: ModelArchitecture
    gpu: GPUSpec
    precision: str
    kv_precision: str
    tensor_parallel: int
    resident_weight_bytes: float
    """Weights held by each GPU."""
    dense_weight_bytes: float
    """Weights each GPU streams every forward pass, routed experts excluded."""
    expert_bytes: float
    """One routed expert's weights on each GPU (0 for dense models)."""
    matmul_params: float
    """Active weights per GPU that multiply each token, LM head included."""
    lm_head_params: float
    """LM-head weights per GPU (a prefill computes logits for each prompt's last token only)."""
    kv_bytes_per_token: float
    """KV cache bytes per token on each GPU while the context is within every window (``kv_bytes_per_sequence``
    caps sliding and chunked layers)."""
    peak_flops: float
    """Dense peak at the matmul precision times the GPU's measured matmul ceiling (MAMF share)."""
    compute_precision: str
    bandwidth_bytes_s: float
    link_bytes_s: float


def weight_bytes(arch: ModelArchitecture, precision: str) -> float:
    """Bytes of weights: linear layers at ``precision`` (+ quantization scales), embeddings at 16-bit.

    Quantized checkpoints (AWQ/GPTQ, FP8, MXFP4) keep embeddings and the LM head in 16-bit, and whatever their
    ``quantization_config`` does not convert (gpt-oss: attention and routers; ``architecture.quantized_params``).
    """
    params = architecture.total_params(arch)
    quantized = architecture.quantized_params(arch) if precision not in ("FP32", "FP16", "BF16") else \
        params - architecture.embedding_params(arch)
    other_bytes = config.bytes_per_element(precision if precision == "FP32" else "FP16")
    return quantized * config.bytes_per_element(precision) + (params - quantized) * other_bytes


def kv_bytes_per_token(arch: ModelArchitecture, kv_precision: str) -> float:
    """KV-cache bytes per token over all layers (GQA-aware; MLA latent for DeepSeek)."""
    return architecture.kv_cache_elements_per_token(arch) * config.bytes_per_element(kv_precision)


def kv_bytes_per_sequence(dep: Deployment, tokens: float) -> float:
    """KV cache bytes one sequence of ``tokens`` tokens holds on each GPU: a sliding layer keeps at most its
    window, a chunked layer at most its chunk (``architecture.kv_cache_elements``)."""
    elements = architecture.kv_cache_elements(dep.arch, tokens)
    return elements * config.bytes_per_element(dep.kv_precision) / kv_shards(dep.arch, dep.tensor_parallel)


def state_bytes_per_sequence(dep: Deployment) -> float:
    """Linear-attention and Mamba state of one sequence on each GPU (fixed at any context; heads split by TP)."""
    elements = architecture.state_elements_per_sequence(dep.arch)
    return elements * config.bytes_per_element(dep.arch.state_dtype) / dep.tensor_parallel if elements else 0.0


def kv_shards(arch: ModelArchitecture, tensor_parallel: int) -> int:
    """How many ways tensor parallelism splits the KV cache: KV heads are replicated past t = kv_heads; MLA's latent is not split."""
    return 1 if arch.kv_lora_rank else min(tensor_parallel, arch.num_kv_heads)


def deployment(arch: ModelArchitecture, gpu: GPUSpec, precision: str, kv_precision: str, tensor_parallel: int) -> Deployment:
    """Per-GPU bytes, FLOPs and rates of ``arch`` on ``tensor_parallel`` x ``gpu``."""
    t = tensor_parallel
    expert = 0.0
    routed_total = 0.0
    if arch.is_moe:
        expert = architecture.expert_params(arch) * config.bytes_per_element(precision)
        routed_total = expert * arch.num_experts * architecture.moe_layer_count(arch)
    input_embedding = 0 if arch.tie_word_embeddings else arch.vocab_size * arch.hidden_size * 2
    resident = weight_bytes(arch, precision)
    return Deployment(
        arch=arch, gpu=gpu, precision=precision, kv_precision=kv_precision, tensor_parallel=t,
        resident_weight_bytes=resident / t,
        dense_weight_bytes=(resident - routed_total - input_embedding) / t,
        expert_bytes=expert / t,
        matmul_params=architecture.matmul_params_per_token(arch) / t,
        lm_head_params=arch.vocab_size * arch.hidden_size / t,
        kv_bytes_per_token=kv_bytes_per_token(arch, kv_precision) / kv_shards(arch, t),
        peak_flops=gpu.peak_tflops(config.compute_precision(precision, gpu)) * 1e12
        * config.matmul_ceiling(gpu.id, config.compute_precision(precision, gpu))[0],
        compute_precision=config.compute_precision(precision, gpu),
        bandwidth_bytes_s=gpu.hbm_bandwidth_gb_s * 1e9,
        link_bytes_s=gpu.interconnect_gb_s * 1e9,
    )


# --------------------------------------------------------------------------- step physics


def experts_touched(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Expected distinct routed experts hit by ``tokens`` tokens under uniform routing: E(1-(1-k/E)^n)."""
    return num_experts * (1.0 - (1.0 - experts_per_token / num_experts) ** tokens)


def streamed_weight_bytes(dep: Deployment, tokens: float) -> float:
    """Weight bytes one forward pass over ``tokens`` tokens reads from HBM on each GPU."""
    arch = dep.arch
    if not arch.is_moe:
        return dep.dense_weight_bytes
    moe_layers = architecture.moe_layer_count(arch)
    touched = experts_touched(arch.num_experts, arch.experts_per_token, tokens)
    return dep.dense_weight_bytes + moe_layers * touched * dep.expert_bytes


def attention_flops(dep: Deployment, query_tokens: float, mean_context: float) -> float:
    """QK^T and AV FLOPs per GPU: 4 x queries x heads x head_dim / t x the keys each attention layer attends
    (the context, capped at a sliding layer's window or a chunked layer's chunk), plus the linear-attention and
    Mamba recurrences (``architecture.recurrent_flops_per_token``)."""
    arch = dep.arch
    heads = arch.num_attention_heads / dep.tensor_parallel
    dim = (arch.kv_lora_rank + arch.qk_rope_head_dim) if arch.kv_lora_rank else arch.head_dim  # MLA: absorbed
    keys = architecture.attended_tokens(arch, mean_context)
    recurrent = architecture.recurrent_flops_per_token(arch) / dep.tensor_parallel
    return query_tokens * (4.0 * heads * dim * keys + recurrent)


def allreduce_s(dep: Deployment, eff: Efficiency, tokens: float) -> float:
    """Two ring all-reduces per layer of tokens x hidden activations: latency + 2(t-1)/t x bytes / link."""
    t = dep.tensor_parallel
    if t == 1:
        return 0.0
    payload = tokens * dep.arch.hidden_size * ACTIVATION_BYTES
    one = eff.allreduce_latency_us * 1e-6 + 2.0 * (t - 1) / t * payload / dep.link_bytes_s
    return 2 * dep.arch.num_layers * one


def forward_pass_s(dep: Deployment, eff: Efficiency, decode_batch: float, decode_context: float,
                   prefill_tokens: float = 0.0, prefill_length: float = 0.0) -> float:
    """One forward pass serving ``decode_batch`` decodes at ``decode_context`` plus ``prefill_tokens``
    prompt tokens from prompts of ``prefill_length`` (a chunked-prefill step), in seconds."""
    tokens = decode_batch + prefill_tokens
    t_weights = streamed_weight_bytes(dep, tokens) / (dep.bandwidth_bytes_s * eff.weight_share(dep.precision, dep.compute_precision))
    prompts = prefill_tokens / prefill_length if prefill_tokens else 0.0
    flops = 2.0 * (dep.matmul_params - dep.lm_head_params) * tokens + 2.0 * dep.lm_head_params * (decode_batch + prompts)
    flops += attention_flops(dep, decode_batch, decode_context) + attention_flops(dep, prefill_tokens, prefill_length / 2)
    t_flops = flops / (dep.peak_flops * eff.matmul_share(dep.compute_precision))
    p = eff.roofline_sharpness
    t_linear = (t_weights**p + t_flops**p) ** (1.0 / p)
    cache = kv_bytes_per_sequence(dep, decode_context) + 2.0 * state_bytes_per_sequence(dep)  # state read and written
    t_kv = decode_batch * cache / (dep.bandwidth_bytes_s * eff.kv_bandwidth)
    t_fixed = dep.arch.num_layers * eff.step_overhead_us_per_layer * 1e-6
    return t_linear + t_kv + allreduce_s(dep, eff, tokens) + t_fixed


def prefill_s(dep: Deployment, eff: Efficiency, prompt_tokens: int, batch: int = 1) -> float:
    """Time to prefill ``batch`` prompts of ``prompt_tokens`` on an idle replica, in chunks of
    ``max_num_batched_tokens`` (each chunk streams the weights again)."""
    total = prompt_tokens * batch
    chunks = math.ceil(total / config.default("max_num_batched_tokens"))
    return chunks * forward_pass_s(dep, eff, 0, 0, total / chunks, prompt_tokens)


def decode_step_s(dep: Deployment, eff: Efficiency, batch: float, context: float) -> float:
    """One decode step for ``batch`` sequences each holding ``context`` tokens of KV cache."""
    return forward_pass_s(dep, eff, batch, context)


def serving_step_s(dep: Deployment, eff: Efficiency, concurrency: float, input_tokens: int, output_tokens: int) -> float:
    """Steady-state continuous-batching step: N decodes at mean context input + output/2 plus the
    N x input/output prompt tokens that must be prefilled per step to keep N sequences running."""
    prefill_tokens = concurrency * input_tokens / output_tokens
    budget = config.default("max_num_batched_tokens")
    passes = max(1.0, (concurrency + prefill_tokens) / budget)
    step = forward_pass_s(dep, eff, concurrency / passes, input_tokens + output_tokens / 2,
                          prefill_tokens / passes, input_tokens)
    return passes * step


# --------------------------------------------------------------------------- memory


def workspace_bytes(dep: Deployment) -> float:
    """Activation workspace per GPU for the largest forward pass (``max_num_batched_tokens`` tokens):
    hidden states, QKV, the gated MLP's intermediate, and last-token logits in fp32."""
    arch, t = dep.arch, dep.tensor_parallel
    tokens = config.default("max_num_batched_tokens")
    ffn = arch.moe_intermediate_size * arch.experts_per_token if arch.is_moe else arch.intermediate_size
    qkv = (arch.num_attention_heads + 2 * arch.num_kv_heads) * arch.head_dim
    per_token = 4 * arch.hidden_size + (3 * ffn + qkv) / t
    logits = config.default("max_num_seqs") * arch.vocab_size / t * 4
    return tokens * per_token * ACTIVATION_BYTES + logits


def kv_budget_bytes(dep: Deployment, gpu_memory_utilization: float) -> float:
    """Per-GPU memory left for the KV cache after weights, workspace and the CUDA context."""
    usable = dep.gpu.memory_gib * config.default("usable_memory_fraction") * BYTES_PER_GIB
    context = config.default("cuda_context_gib") * BYTES_PER_GIB
    return usable * gpu_memory_utilization - dep.resident_weight_bytes - workspace_bytes(dep) - context


def max_concurrency(dep: Deployment, gpu_memory_utilization: float, tokens_per_sequence: int) -> int:
    """Sequences of ``tokens_per_sequence`` whose KV fits (reserved whole, as TensorRT-LLM's
    guaranteed-no-evict scheduler does), capped by the engine's ``max_num_seqs``."""
    per_sequence = kv_bytes_per_sequence(dep, tokens_per_sequence) + state_bytes_per_sequence(dep)
    budget = kv_budget_bytes(dep, gpu_memory_utilization)
    if per_sequence <= 0:  # no cache and no state at all: only the engine's cap
        return config.default("max_num_seqs") if budget > 0 else 0
    return max(0, min(int(budget / per_sequence), config.default("max_num_seqs")))


def memory_breakdown_gib(dep: Deployment, concurrency: int, tokens_per_sequence: int) -> dict:
    """Memory one replica (all its GPUs) needs at ``concurrency`` sequences, by component, GiB; models with
    linear-attention or Mamba layers add ``sequence_state`` (their fixed per-sequence state)."""
    t = dep.tensor_parallel
    parts = {
        "weights": dep.resident_weight_bytes * t / BYTES_PER_GIB,
        "kv_cache": concurrency * kv_bytes_per_sequence(dep, tokens_per_sequence) * t / BYTES_PER_GIB,
        "activations": workspace_bytes(dep) * t / BYTES_PER_GIB,
        "overhead": config.default("cuda_context_gib") * t,
    }
    state = concurrency * state_bytes_per_sequence(dep) * t / BYTES_PER_GIB
    return parts | ({"sequence_state": state} if state else {})


# --------------------------------------------------------------------------- operating points


@dataclass(frozen=True)
class OperatingPoint:
    """A replica's state at concurrency N in steady continuous batching."""

    concurrency: float
    step_s: float
    ttft_s: float
    prefill_s: float
    queueing_s: float
    e2e_s: float
    rps: float


def operating_point(dep: Deployment, eff: Efficiency, concurrency: float, input_tokens: int, output_tokens: int) -> OperatingPoint:
    """Latencies and arrival rate of a replica holding ``concurrency`` sequences.

    Rate = N / E2E (Little's law); TTFT = idle prefill + half a step (the step in flight) + the mean
    M/D/1 wait for the prefill (Pollaczek-Khinchine with deterministic service: rho / (2(1 - rho)) x S).
    """
    step = serving_step_s(dep, eff, concurrency, input_tokens, output_tokens)
    prefill = prefill_s(dep, eff, input_tokens)
    unqueued_ttft = prefill + 0.5 * step
    decode = (output_tokens - 1) * step
    rho = min(concurrency / (unqueued_ttft + decode) * prefill, 0.95)
    queue = rho / (2.0 * (1.0 - rho)) * prefill
    e2e = unqueued_ttft + queue + decode
    return OperatingPoint(concurrency, step, unqueued_ttft + queue, prefill, queue, e2e, concurrency / e2e)


def _meets(point: OperatingPoint, workload: LLMWorkloadInput) -> bool:
    itl_ok = workload.itl_slo_ms is None or point.step_s * 1e3 <= workload.itl_slo_ms
    ttft_ok = workload.ttft_slo_ms is None or point.ttft_s * 1e3 <= workload.ttft_slo_ms
    return itl_ok and ttft_ok


def best_point(dep: Deployment, eff: Efficiency, workload: LLMWorkloadInput, max_sequences: int) -> OperatingPoint | None:
    """The highest-rate operating point with at most ``max_sequences`` running that meets the SLOs
    (bisection on N: latency grows with N)."""
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    if max_sequences < 1:
        return None
    top = operating_point(dep, eff, max_sequences, isl, osl)
    if _meets(top, workload):
        return top
    low = operating_point(dep, eff, 1, isl, osl)
    if not _meets(low, workload):
        return None
    lo, hi = 1, max_sequences
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _meets(operating_point(dep, eff, mid, isl, osl), workload):
            lo = mid
        else:
            hi = mid
    return operating_point(dep, eff, lo, isl, osl)


def point_at_rate(dep: Deployment, eff: Efficiency, rate: float, workload: LLMWorkloadInput, max_sequences: int) -> OperatingPoint:
    """The operating point that carries ``rate`` requests/s (bisection on N, rate grows with N)."""
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    lo, hi = 0.0, float(max_sequences)
    for _ in range(40):
        mid = (lo + hi) / 2
        if operating_point(dep, eff, max(mid, 1e-6), isl, osl).rps < rate:
            lo = mid
        else:
            hi = mid
    return operating_point(dep, eff, max(hi, 1e-6), isl, osl)


def sweep_batch_sizes(workload: LLMWorkloadInput, model: ModelConfig, gpu: GPUConfig,
                      batch_sizes: list[int]) -> list[dict]:
    """ITL and output throughput per replica at each batch size (for plots), on the planned GPU/TP."""
    plan = plan_inference(workload, model, gpu)
    arch, _ = _resolve(model)
    dep = deployment(arch, config.get_gpu(plan.gpu_resources.gpu_type), model.precision,
                     model.effective_kv_precision, plan.gpu_resources.tensor_parallel)
    eff = Efficiency.fitted()
    rows = []
    for batch in batch_sizes:
        step = serving_step_s(dep, eff, batch, workload.avg_input_tokens, workload.avg_output_tokens)
        rows.append({"batch_size": batch, "itl_ms": step * 1e3, "output_tokens_per_second": batch / step})
    return rows


# --------------------------------------------------------------------------- options and the planner


@dataclass(frozen=True)
class Option:
    """One way to serve the workload: a GPU type, TP degree and precision, and what it achieves."""

    gpu_type: str
    tensor_parallel: int | None
    """``None`` when no degree was evaluated (the GPU cannot run the precision at all)."""
    precision: str
    feasible: bool
    reason: str
    replicas: int = 0
    total_gpus: int = 0
    max_rps_per_replica: float = 0.0
    max_concurrency: int = 0
    usd_per_gpu_hour: float | None = None
    monthly_gpu_cost: float | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def valid_tensor_parallel(arch: ModelArchitecture, gpu: GPUSpec) -> list[int]:
    """TP degrees within one node that split the attention heads evenly."""
    return [t for t in config.default("tensor_parallel_degrees")
            if t <= gpu.gpus_per_node and arch.num_attention_heads % t == 0
            and (arch.num_kv_heads % t == 0 or t % arch.num_kv_heads == 0)]


def evaluate_option(arch, gpu: GPUSpec, precision: str, kv_precision: str, tp: int, workload: LLMWorkloadInput,
                    model: ModelConfig, gpu_cfg: GPUConfig, eff: Efficiency) -> Option:
    """Fit, capacity and replica count of one (GPU, TP, precision)."""
    dep = deployment(arch, gpu, precision, kv_precision, tp)
    tokens = workload.avg_input_tokens + workload.avg_output_tokens
    limit = max_concurrency(dep, gpu_cfg.gpu_memory_utilization, tokens)
    base = dict(gpu_type=gpu.id, tensor_parallel=tp, precision=precision)
    if limit < 1:
        need = _min_replica_gib(dep, tokens)
        return Option(**base, feasible=False, reason=f"does not fit: needs at least {need:.1f} GiB per replica, "
                      f"{tp} x {gpu.id} give {gpu.memory_gib * tp:.0f} GiB")
    if model.batch_size:
        limit = min(limit, model.batch_size)
    point = best_point(dep, eff, workload, limit)
    if point is None:
        one = operating_point(dep, eff, 1, workload.avg_input_tokens, workload.avg_output_tokens)
        return Option(**base, feasible=False, reason=f"misses the latency targets even at one sequence per replica "
                      f"(best ITL {one.step_s * 1e3:.1f} ms, TTFT {one.ttft_s * 1e3:.0f} ms on {tp} x {gpu.id})")
    rate = point.rps * gpu_cfg.target_gpu_utilization
    needed = workload.peak_rps / rate
    replicas = max(1, math.ceil(needed - 1e-9)) if math.isfinite(needed) else math.inf
    fleet = config.default("max_inference_gpus")
    if replicas * tp > fleet:
        return Option(**base, feasible=False, reason=f"needs more GPUs than the {fleet:,}-GPU fleet limit: one replica "
                      f"({tp} x {gpu.id}) is planned for {rate:.4g} rps, so at most "
                      f"{fleet // tp * rate / workload.peak_load_multiplier:.4g} average rps fit")
    return Option(**base, feasible=True, reason="", replicas=replicas, total_gpus=replicas * tp,
                  max_rps_per_replica=point.rps, max_concurrency=limit)


def gpus_that_hold(arch: ModelArchitecture, precision: str, kv_precision: str, tokens_per_sequence: int,
                   gpu_memory_utilization: float = 0.9) -> list[tuple[GPUSpec, int]]:
    """``(gpu, smallest tensor-parallel degree)`` for each catalog GPU where one replica of ``arch`` holds a sequence
    of ``tokens_per_sequence`` within one node (:func:`evaluate_option`'s fit rule; FP8 needs FP8 tensor cores)."""
    held = []
    for gpu in config.list_gpus():
        if precision == "FP8" and "FP8" not in gpu.tflops:
            continue
        fits = (t for t in valid_tensor_parallel(arch, gpu) if max_concurrency(
            deployment(arch, gpu, precision, kv_precision, t), gpu_memory_utilization, tokens_per_sequence) >= 1)
        degree = next(fits, None)
        if degree is not None:
            held.append((gpu, degree))
    return held


def _min_replica_gib(dep: Deployment, tokens: int) -> float:
    parts = memory_breakdown_gib(dep, 1, tokens)
    return sum(parts.values()) / config.default("gpu_memory_utilization")


def _resolve(model: ModelConfig) -> tuple[ModelArchitecture, list[str]]:
    from config_loader import resolve_architecture

    return resolve_architecture(model)


def _check_context(arch: ModelArchitecture, workload: LLMWorkloadInput, model: ModelConfig) -> list[str]:
    tokens = workload.avg_input_tokens + workload.avg_output_tokens
    window = min(model.context_window or arch.max_position_embeddings, arch.max_position_embeddings)
    if tokens > arch.max_position_embeddings:
        raise InputError("workload.avg_input_tokens + avg_output_tokens", tokens,
                         f"at most the model's context window ({arch.max_position_embeddings} tokens)")
    if tokens > window:
        raise InputError("model.context_window", model.context_window,
                         f"at least input + output tokens ({tokens})")
    return []


def _gpu_candidates(gpu_cfg: GPUConfig) -> list[GPUSpec]:
    if gpu_cfg.gpu_type:
        return [config.get_gpu(gpu_cfg.gpu_type)]
    return config.list_gpus()


def _tp_candidates(arch: ModelArchitecture, gpu: GPUSpec, gpu_cfg: GPUConfig) -> list[int]:
    valid = valid_tensor_parallel(arch, gpu)
    if gpu_cfg.tensor_parallel is None:
        return valid
    if gpu_cfg.tensor_parallel not in valid:
        raise InputError("gpu.tensor_parallel", gpu_cfg.tensor_parallel,
                         f"a degree that divides {arch.num_attention_heads} attention heads and "
                         f"{arch.num_kv_heads} KV heads within one {gpu.id} node: {valid}")
    return [gpu_cfg.tensor_parallel]


def _ranking_key(option: Option):
    """Feasible first, then cheapest, fewest GPUs, smallest TP; failures by largest TP (their reason is the most telling)."""
    if not option.feasible:
        return (True, 0.0, 0, -(option.tensor_parallel or 0))
    cost = option.monthly_gpu_cost if option.monthly_gpu_cost is not None else math.inf
    return (False, cost, option.total_gpus, option.tensor_parallel)


def _price_quote(gpu_id: str, cost, gpus_per_replica: int):
    """The price row for ``gpu_id`` or ``None`` when none is listed (cost is then left out of the ranking)."""
    import pricing

    try:
        return pricing.quote(gpu_id, cost, gpus_per_replica=gpus_per_replica)
    except InputError:
        return None


def _priced(option: Option, cost) -> Option:
    if not option.feasible:
        return option
    quote = _price_quote(option.gpu_type, cost, option.tensor_parallel)
    if quote is None:
        return option
    import pricing

    return replace(option, usd_per_gpu_hour=quote.usd_per_gpu_hour,
                   monthly_gpu_cost=pricing.monthly_cost_usd(option.total_gpus, quote))


def evaluate_options(arch: ModelArchitecture, gpus: list[GPUSpec], precisions: list[str], workload: LLMWorkloadInput,
                     model: ModelConfig, gpu_cfg: GPUConfig, cost=None) -> list[Option]:
    """Every (GPU, TP, precision) option, priced, best first."""
    eff = Efficiency.fitted()
    options = []
    for gpu in gpus:
        for precision in precisions:
            kv = model.kv_precision or ModelConfig(model="x", precision=precision).effective_kv_precision
            if precision == "FP8" and "FP8" not in gpu.tflops:
                options.append(Option(gpu.id, None, precision, False, f"{gpu.id} has no FP8 tensor cores"))
                continue
            for tp in _tp_candidates(arch, gpu, gpu_cfg):
                option = evaluate_option(arch, gpu, precision, kv, tp, workload, model, gpu_cfg, eff)
                options.append(_priced(option, cost))
    return sorted(options, key=_ranking_key)


def comparison_precisions(model: ModelConfig) -> list[str]:
    """The user's precision, plus FP8 for 16-bit models (the usual serving trade-off)."""
    return [model.precision, "FP8"] if model.precision in ("FP16", "BF16") else [model.precision]


def compare_options(workload: LLMWorkloadInput, model: ModelConfig, gpu_cfg: GPUConfig, cost=None,
                    gpu_types: list[str] | None = None, precisions: list[str] | None = None) -> GPUComparison:
    """GPU type x tensor parallel x precision x cloud: for each (GPU, precision) the tensor-parallel degree
    that needs the fewest GPUs, priced on every cloud that lists the GPU (or the chosen one), cheapest
    monthly cost first; options that fail are in ``rejected`` with the reason."""
    for name, names in (("gpu_types", gpu_types), ("precisions", precisions)):
        if names is not None and not isinstance(names, (list, tuple)):
            raise InputError(name, names, "a list of names")
    precisions = [check_choice("precisions", p, PRECISIONS) for p in precisions] if precisions else None
    arch, _ = _resolve(model)
    _check_context(arch, workload, model)
    gpus = [config.get_gpu(g) for g in gpu_types] if gpu_types else _gpu_candidates(gpu_cfg)
    options = evaluate_options(arch, gpus, precisions or comparison_precisions(model), workload, model, gpu_cfg, cost)
    best: dict[tuple, Option] = {}
    for option in options:
        best.setdefault((option.gpu_type, option.precision), option)
    rows = [row for option in best.values() if option.feasible for row in _cloud_rows(option, cost)]
    priced = {(r["gpu_type"], r["precision"]) for r in rows}
    rejected = [o.to_dict() | {"reason": o.reason or "no price listed for this GPU and pricing model"}
                for key, o in best.items() if key not in priced]
    return GPUComparison(tuple(sorted(rows, key=lambda r: (r["monthly_gpu_cost"], r["total_gpus"]))), tuple(rejected))


def _cloud_rows(option: Option, cost) -> list[dict]:
    """One comparison row per cloud offering ``option``'s GPU (instances large enough for a replica)."""
    import pricing

    rows = []
    for quote in pricing.offers(option.gpu_type, cost, gpus_per_replica=option.tensor_parallel):
        rows.append(option.to_dict() | {
            "meets_targets": True, "cloud": quote.provider, "instance_type": quote.instance_type,
            "pricing": quote.pricing, "usd_per_gpu_hour": quote.usd_per_gpu_hour,
            "monthly_gpu_cost": round(pricing.monthly_cost_usd(option.total_gpus, quote), 2),
            "whole_instance_monthly_cost": round(pricing.whole_instance_monthly_cost_usd(option.total_gpus, quote), 2),
            "price_as_of": quote.as_of_date, "price_age_days": quote.age_days,
        })
    return rows


def _chosen(options: list[Option], arch: ModelArchitecture) -> Option:
    """The best feasible option, or an :class:`InfeasibleError` that says what would have to change: the
    latency miss of the fastest option, else the memory shortfall of the option with the most memory."""
    feasible = [o for o in options if o.feasible]
    if feasible:
        return feasible[0]
    latency = [o for o in options if o.reason.startswith("misses")]
    if latency:
        reason = max(latency, key=lambda o: o.tensor_parallel or 0).reason
    else:
        reason = max(options, key=lambda o: (o.tensor_parallel or 0) * config.get_gpu(o.gpu_type).memory_gib).reason
    raise InfeasibleError(f"no configuration serves {arch.name}: {reason}")


def plan_inference(workload: LLMWorkloadInput, model: ModelConfig, gpu_cfg: GPUConfig,
                   include_cost: bool = False, cost=None) -> InferencePlan:
    """Plan the replicas, GPUs, throughput, latency and (optionally) cost of serving ``workload``.

    The GPU is the one named in ``gpu_cfg`` (or the cheapest that meets the targets); the tensor-
    parallel degree is the one that needs the fewest GPUs in total (ties: the smaller degree).
    """
    arch, assumptions = _resolve(model)
    _check_context(arch, workload, model)
    options = evaluate_options(arch, _gpu_candidates(gpu_cfg), [model.precision], workload, model, gpu_cfg, cost)
    chosen = _chosen(options, arch)
    recommended = _recommended(arch, workload, model, gpu_cfg, cost, chosen)
    return _build_plan(arch, assumptions, chosen, recommended, options, workload, model, gpu_cfg, include_cost, cost)


def _recommended(arch, workload, model, gpu_cfg, cost, chosen: Option) -> Option:
    """The cheapest option over every priced GPU (the user's choice when nothing is cheaper, or when
    --price-per-gpu-hour prices only the user's GPU)."""
    if gpu_cfg.gpu_type is None or (cost is not None and cost.price_per_gpu_hour is not None):
        return chosen
    free = replace(gpu_cfg, gpu_type=None, tensor_parallel=None)
    others = [o for o in evaluate_options(arch, config.list_gpus(), [model.precision], workload, model, free, cost)
              if o.feasible and o.monthly_gpu_cost is not None]
    if others and chosen.monthly_gpu_cost is not None and others[0].monthly_gpu_cost < chosen.monthly_gpu_cost:
        return others[0]
    return chosen


def _build_plan(arch, assumptions, chosen: Option, recommended: Option, options, workload, model, gpu_cfg,
                include_cost, cost) -> InferencePlan:
    eff = Efficiency.fitted()
    gpu = config.get_gpu(chosen.gpu_type)
    kv_precision = model.effective_kv_precision
    dep = deployment(arch, gpu, model.precision, kv_precision, chosen.tensor_parallel)
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    tokens = isl + osl
    if model.batch_size:
        point = operating_point(dep, eff, min(model.batch_size, chosen.max_concurrency), isl, osl)
    else:
        point = point_at_rate(dep, eff, workload.peak_rps / chosen.replicas, workload, chosen.max_concurrency)
    saturated_step = serving_step_s(dep, eff, chosen.max_concurrency, isl, osl)
    breakdown = memory_breakdown_gib(dep, math.ceil(point.concurrency), tokens)
    replicas_min = max(1, math.ceil(workload.requests_per_second / (chosen.max_rps_per_replica * gpu_cfg.target_gpu_utilization) - 1e-9))
    resources = GPUResources(
        gpu_type=gpu.id, recommended_gpu=recommended.gpu_type, gpus_per_replica=chosen.tensor_parallel,
        tensor_parallel=chosen.tensor_parallel, memory_per_replica_gib=round(sum(breakdown.values()), 2),
        memory_breakdown_gib={k: round(v, 2) for k, v in breakdown.items()},
        gpu_memory_gib=gpu.memory_gib, max_concurrency_per_replica=chosen.max_concurrency,
        replicas=chosen.replicas, replicas_min=min(replicas_min, chosen.replicas), replicas_max=chosen.replicas,
        total_gpus=chosen.total_gpus, nodes=math.ceil(chosen.total_gpus / gpu.gpus_per_node),
        gpus_per_node=gpu.gpus_per_node,
    )
    throughput = Throughput(
        batch_size=max(1, round(point.concurrency)),
        output_tokens_per_second_per_replica=round(point.rps * osl, 2),
        max_output_tokens_per_second_per_replica=round(chosen.max_concurrency / saturated_step, 2),
        total_output_tokens_per_second=round(chosen.replicas * chosen.max_rps_per_replica * osl, 2),
        max_rps_per_replica=round(chosen.max_rps_per_replica, 4),
        max_rps_capacity=round(chosen.replicas * chosen.max_rps_per_replica, 4),
    )
    latency = Latency(ttft_ms=round(point.ttft_s * 1e3, 2), itl_ms=round(point.step_s * 1e3, 3),
                      e2e_ms=round(point.e2e_s * 1e3, 1), prefill_ms=round(point.prefill_s * 1e3, 2),
                      queueing_ms=round(point.queueing_s * 1e3, 2))
    warnings = _warnings(workload, latency, chosen, recommended)
    if model.batch_size and model.batch_size > chosen.max_concurrency:
        warnings.append(f"Batch size {model.batch_size} does not fit in memory: one replica holds at most "
                        f"{chosen.max_concurrency} sequences of {tokens} tokens; planned at {chosen.max_concurrency}.")
    plan_cost = _cost(chosen, workload, include_cost, cost, warnings)
    return InferencePlan(
        inputs=_inputs(workload, model, gpu_cfg, include_cost, cost),
        model=_summary(arch, model, kv_precision),
        gpu_resources=resources, throughput=throughput, latency=latency, cost=plan_cost,
        assumptions=assumptions + _assumptions(dep, eff, workload, gpu_cfg),
        warnings=warnings,
        alternatives=[o.to_dict() for o in options[1:6]],
    )


def _cost(chosen: Option, workload: LLMWorkloadInput, include_cost: bool, cost, warnings: list):
    if not include_cost:
        return None
    import pricing

    quote = pricing.quote(chosen.gpu_type, cost, gpus_per_replica=chosen.tensor_parallel)
    warnings.extend(pricing.price_warnings(quote))
    output_rate = workload.requests_per_second * workload.avg_output_tokens
    total_rate = workload.requests_per_second * (workload.avg_input_tokens + workload.avg_output_tokens)
    return pricing.inference_cost(chosen.total_gpus, chosen.tensor_parallel, output_rate, total_rate, quote)


def _warnings(workload: LLMWorkloadInput, latency: Latency, chosen: Option, recommended: Option) -> list[str]:
    warnings = []
    if recommended.gpu_type != chosen.gpu_type:
        warnings.append(
            f"{recommended.gpu_type} (TP {recommended.tensor_parallel}, {recommended.total_gpus} GPUs, "
            f"${recommended.monthly_gpu_cost:,.0f}/month) meets the same targets for less than "
            f"{chosen.gpu_type} (${chosen.monthly_gpu_cost:,.0f}/month)."
        )
    if workload.ttft_slo_ms is None and workload.itl_slo_ms is None:
        warnings.append("No latency targets given: replicas are sized for throughput only "
                        "(set --ttft-slo-ms / --itl-slo-ms for interactive services).")
    return warnings


def _inputs(workload, model, gpu_cfg, include_cost, cost) -> dict:
    from dataclasses import asdict

    options = {"include_cost": include_cost, **(asdict(cost) if cost else {})}
    return {"mode": "inference", "workload": asdict(workload), "model": asdict(model), "gpu": asdict(gpu_cfg),
            "options": options}


def _summary(arch: ModelArchitecture, model: ModelConfig, kv_precision: str) -> ModelSummary:
    return ModelSummary(
        id=arch.id, name=arch.name, params_b=round(architecture.total_params(arch) / 1e9, 3),
        active_params_b=round(architecture.active_params(arch) / 1e9, 3), num_layers=arch.num_layers,
        hidden_size=arch.hidden_size, num_attention_heads=arch.num_attention_heads, num_kv_heads=arch.num_kv_heads,
        head_dim=arch.head_dim, intermediate_size=arch.intermediate_size, vocab_size=arch.vocab_size,
        num_experts=arch.num_experts, experts_per_token=arch.experts_per_token,
        kv_cache_kib_per_token=round(kv_bytes_per_token(arch, kv_precision) / 1024, 2),
        precision=model.precision, kv_precision=kv_precision, source=arch.source,
    )


def _assumptions(dep: Deployment, eff: Efficiency, workload: LLMWorkloadInput, gpu_cfg: GPUConfig) -> list[str]:
    arch, gpu = dep.arch, dep.gpu
    kv_kib = kv_bytes_per_token(arch, dep.kv_precision) / 1024
    moe = (f" MoE: {arch.num_experts} experts, {arch.experts_per_token} per token; FLOPs follow the "
           f"{architecture.active_params(arch) / 1e9:.1f}B active parameters, weight reads follow the experts a batch touches."
           if arch.is_moe else "")
    layout = "MLA latent" if arch.kv_lora_rank else (
        f"{arch.num_kv_heads} KV heads x {arch.head_dim} dims x {architecture.attention_layer_count(arch)} attention "
        "layers x K,V")
    return [
        f"KV cache {kv_kib:.0f} KiB/token in {dep.kv_precision} ({layout}).{moe}",
        f"Serving engine with continuous batching and paged KV cache (vLLM / TensorRT-LLM / SGLang): "
        f"{gpu_cfg.gpu_memory_utilization:.0%} of GPU memory for the engine, the rest after weights and "
        f"a {config.default('max_num_batched_tokens')}-token activation workspace goes to the KV cache; "
        f"each sequence reserves input + output tokens; at most {config.default('max_num_seqs')} sequences per replica.",
        f"{gpu.id}: {gpu.hbm_bandwidth_gb_s:,.0f} GB/s HBM, {gpu.peak_tflops(dep.compute_precision):,.0f} dense TFLOPS at "
        f"{dep.compute_precision}, {gpu.interconnect_gb_s:,.0f} GB/s one-way interconnect; "
        f"fitted efficiencies: {eff.weight_bandwidth:.0%} of bandwidth streaming weights, {eff.kv_bandwidth:.0%} "
        f"reading KV, {eff.matmul_share(dep.compute_precision):.0%} of the measured matmul ceiling "
        f"({config.matmul_ceiling(gpu.id, dep.compute_precision)[0]:.0%} of peak"
        f"{'' if config.matmul_ceiling(gpu.id, dep.compute_precision)[1] else ', median of measured GPUs'}) in matmuls, {eff.step_overhead_us_per_layer:.0f} us/layer per "
        f"step, {eff.allreduce_latency_us:.0f} us per tensor-parallel all-reduce (calibration.py; --mode validate).",
        f"Replicas are sized for peak load {workload.peak_rps:g} rps (average {workload.requests_per_second:g} x "
        f"peak multiplier {workload.peak_load_multiplier:g}) at {gpu_cfg.target_gpu_utilization:.0%} of the "
        f"highest load one replica holds within memory and the latency targets.",
        "ITL is one decode step with every running sequence at context input + output/2 and the interleaved "
        "prefill chunks; TTFT is the prefill of one prompt plus half a step and M/D/1 queueing at the operating point.",
    ] + [note for note in [config.compute_note(dep.precision, gpu)] if note]
