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
from serving_engines import EnginePolicy, engine_policy
from config import BYTES_PER_GIB
from models import (
    PRECISIONS, GPUComparison, GPUConfig, GPUResources, GPUSpec, InfeasibleError, InferencePlan, InputError, Latency,
    LatencyPlan, LLMWorkloadInput, ModelArchitecture, ModelConfig, ModelSummary, SLOReport, SLOTarget,
    StaticBatchLatency, StaticBatchThroughput, Throughput, check_choice, check_number, default_kv_precision,
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
    """Fixed time per layer per forward pass (kernel launches and gaps) in microseconds, for engines that run the
    model as PyTorch modules (vLLM, SGLang, and the PyTorch measurements)."""
    allreduce_latency_us: float
    """Latency of one small tensor-parallel all-reduce over NVLink/xGMI in microseconds."""
    roofline_sharpness: float
    """p in (t_mem^p + t_flops^p)^(1/p): large p is the hard max() roofline."""
    nvlink_allreduce_bandwidth: float
    """All-reduce bus bandwidth (nccl-tests ``busbw``) over NVLink/xGMI as a share of the one-way link rate."""
    pcie_allreduce_bandwidth: float
    """The same over PCIe, GPUs under one CPU socket."""
    pcie_cross_socket_share: float
    """Share of that PCIe bus bandwidth left once the ring crosses CPU sockets (UPI/xGMI between sockets)."""
    pcie_allreduce_latency_us: float
    """Latency of one small all-reduce over PCIe in microseconds."""
    matmul_half_width: float
    """Per-GPU shard width (hidden size / TP) at which matmul efficiency halves: narrow shards fill fewer SMs."""
    fused_overhead_us_per_layer: float
    """The same for engines that compile the model into fused kernels (TensorRT-LLM)."""
    elementwise_traffic: float
    """Activation bytes that norms, residual adds and rotary read and write per token per layer, in units of
    hidden size x 2 bytes; every GPU of a tensor-parallel group repeats them (the residual stream is replicated)."""

    @classmethod
    def fitted(cls) -> "Efficiency":
        return cls(**config.fitted_parameters("efficiency_fit.json"))

    def weight_share(self, precision: str, compute_precision: str) -> float:
        """Achieved share of HBM bandwidth streaming weights stored in ``precision``."""
        return self.quantized_weight_bandwidth if config.weight_only(precision, compute_precision) else self.weight_bandwidth

    def overhead_us_per_layer(self, policy: EnginePolicy) -> float:
        """Fixed time per layer per forward pass under ``policy``'s kind of kernels."""
        return self.fused_overhead_us_per_layer if policy.fused_kernels else self.step_overhead_us_per_layer

    def matmul_share(self, compute_precision: str) -> float:
        """Achieved share of peak for matmuls at ``compute_precision``."""
        return self.matmul_fp8 if compute_precision == "FP8" else self.matmul


# --------------------------------------------------------------------------- deployment


@dataclass(frozen=True)
class Deployment:
    """One replica's per-GPU quantities: a model at a precision on ``tensor_parallel`` GPUs under a serving engine."""

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
    policy: EnginePolicy
    """The serving engine's memory policy and batch limits on this GPU and degree."""


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


def deployment(arch: ModelArchitecture, gpu: GPUSpec, precision: str, kv_precision: str, tensor_parallel: int,
               engine: str = "vllm", memory_fraction: float | None = None) -> Deployment:
    """Per-GPU bytes, FLOPs and rates of ``arch`` on ``tensor_parallel`` x ``gpu`` served by ``engine``
    (``memory_fraction`` overrides the engine's memory share)."""
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
        policy=engine_policy(engine, gpu, t, memory_fraction),
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


def pcie_only(gpu: GPUSpec) -> bool:
    """GPUs whose only GPU-to-GPU path is PCIe: the catalog's interconnect is 'none' or 'PCIe ...'."""
    return gpu.interconnect.lower().startswith(("none", "pcie"))


def allreduce_one_s(dep: Deployment, eff: Efficiency, payload_bytes: float) -> float:
    """One all-reduce of ``payload_bytes`` over the replica's ``t`` GPUs: latency + the ring's 2(t-1)/t x bytes over
    the achieved bus bandwidth (nccl-tests' busbw definition). NVLink reaches a fitted share of its one-way rate;
    PCIe a lower one, lower again when the ring leaves one CPU socket (``pcie_gpus_per_socket``)."""
    t = dep.tensor_parallel
    if t == 1:
        return 0.0
    if pcie_only(dep.gpu):
        bus = dep.link_bytes_s * eff.pcie_allreduce_bandwidth
        if t > config.default("pcie_gpus_per_socket"):
            bus *= eff.pcie_cross_socket_share
        latency_us = eff.pcie_allreduce_latency_us
    else:
        bus = dep.link_bytes_s * eff.nvlink_allreduce_bandwidth
        latency_us = eff.allreduce_latency_us
    return latency_us * 1e-6 + 2.0 * (t - 1) / t * payload_bytes / bus


def allreduce_s(dep: Deployment, eff: Efficiency, tokens: float) -> float:
    """Two all-reduces per layer of tokens x hidden activations (Megatron-LM tensor parallelism)."""
    payload = tokens * dep.arch.hidden_size * ACTIVATION_BYTES
    return 2 * dep.arch.num_layers * allreduce_one_s(dep, eff, payload)


def matmul_width_share(dep: Deployment, eff: Efficiency) -> float:
    """Share of the matmul ceiling a per-GPU shard reaches: w / (w + w_half) for shard width w = hidden / t
    (the ceiling is measured on wide square GEMMs; narrow tensor-parallel shards fill fewer SMs)."""
    width = dep.arch.hidden_size / dep.tensor_parallel
    return width / (width + eff.matmul_half_width)


def forward_pass_s(dep: Deployment, eff: Efficiency, decode_batch: float, decode_context: float,
                   prefill_tokens: float = 0.0, prefill_length: float = 0.0) -> float:
    """One forward pass serving ``decode_batch`` decodes at ``decode_context`` plus ``prefill_tokens``
    prompt tokens from prompts of ``prefill_length`` (a chunked-prefill step), in seconds."""
    tokens = decode_batch + prefill_tokens
    t_weights = streamed_weight_bytes(dep, tokens) / (dep.bandwidth_bytes_s * eff.weight_share(dep.precision, dep.compute_precision))
    prompts = prefill_tokens / prefill_length if prefill_tokens else 0.0
    flops = 2.0 * (dep.matmul_params - dep.lm_head_params) * tokens + 2.0 * dep.lm_head_params * (decode_batch + prompts)
    flops += attention_flops(dep, decode_batch, decode_context) + attention_flops(dep, prefill_tokens, prefill_length / 2)
    t_flops = flops / (dep.peak_flops * eff.matmul_share(dep.compute_precision) * matmul_width_share(dep, eff))
    p = eff.roofline_sharpness
    t_linear = (t_weights**p + t_flops**p) ** (1.0 / p)
    cache = kv_bytes_per_sequence(dep, decode_context) + 2.0 * state_bytes_per_sequence(dep)  # state read and written
    t_kv = decode_batch * cache / (dep.bandwidth_bytes_s * eff.kv_bandwidth)
    t_fixed = dep.arch.num_layers * eff.overhead_us_per_layer(dep.policy) * 1e-6
    return t_linear + t_kv + elementwise_s(dep, eff, tokens) + allreduce_s(dep, eff, tokens) + t_fixed


def elementwise_s(dep: Deployment, eff: Efficiency, tokens: float) -> float:
    """Norms, residual adds and rotary: ``elementwise_traffic`` x hidden x 2 bytes per token per layer through HBM
    (at the KV-read share of bandwidth), on every GPU of the group."""
    traffic = tokens * dep.arch.num_layers * eff.elementwise_traffic * dep.arch.hidden_size * ACTIVATION_BYTES
    return traffic / (dep.bandwidth_bytes_s * eff.kv_bandwidth)


def prefill_passes(dep: Deployment, prompt_tokens: int, batch: int) -> int:
    """Forward passes that prefill ``batch`` prompts: chunks of the engine's token budget under chunked prefill,
    else whole prompts packed up to the budget (a prompt longer than the budget is one pass of its own)."""
    budget = dep.policy.max_num_batched_tokens
    if dep.policy.chunked_prefill:
        return math.ceil(prompt_tokens * batch / budget)
    return math.ceil(batch / max(1, budget // prompt_tokens))


def prefill_s(dep: Deployment, eff: Efficiency, prompt_tokens: int, batch: int = 1) -> float:
    """Time to prefill ``batch`` prompts of ``prompt_tokens`` on an idle replica, in the engine's passes
    (each pass streams the weights again)."""
    passes = prefill_passes(dep, prompt_tokens, batch)
    return passes * forward_pass_s(dep, eff, 0, 0, prompt_tokens * batch / passes, prompt_tokens)


def decode_step_s(dep: Deployment, eff: Efficiency, batch: float, context: float) -> float:
    """One decode step for ``batch`` sequences each holding ``context`` tokens of KV cache."""
    return forward_pass_s(dep, eff, batch, context)


def serving_step_s(dep: Deployment, eff: Efficiency, concurrency: float, input_tokens: int, output_tokens: int) -> float:
    """Steady-state continuous-batching step: N decodes at mean context input + output/2 plus the
    N x input/output prompt tokens that must be prefilled per step to keep N sequences running."""
    prefill_tokens = concurrency * input_tokens / output_tokens
    budget = dep.policy.max_num_batched_tokens
    passes = max(1.0, (concurrency + prefill_tokens) / budget)
    step = forward_pass_s(dep, eff, concurrency / passes, input_tokens + output_tokens / 2,
                          prefill_tokens / passes, input_tokens)
    return passes * step


# --------------------------------------------------------------------------- static batch


@dataclass(frozen=True)
class StaticBatch:
    """B prompts started together and decoded to the end, no arrivals (``vllm bench latency``)."""

    ttft_s: float
    itl_s: float
    e2e_s: float


EXACT_DECODE_STEPS = 64
"""Up to this many decode steps the mean step is summed step by step; beyond, by Simpson's rule."""
SIMPSON_INTERVALS = 32


def mean_decode_step_s(dep: Deployment, eff: Efficiency, batch: int, input_tokens: int, output_tokens: int) -> float:
    """Mean of the ``output_tokens - 1`` decode steps whose KV context grows from input + 1 to input + output - 1
    (the first token comes from the prefill); the one step at input + 1 when there is no decode step."""
    steps = output_tokens - 1
    if steps <= EXACT_DECODE_STEPS:
        contexts = range(input_tokens + 1, input_tokens + max(steps, 1) + 1)
        return sum(decode_step_s(dep, eff, batch, c) for c in contexts) / len(contexts)
    # the sum over integer contexts equals the integral over [input + 1/2, input + steps + 1/2] (midpoint rule)
    low, width = input_tokens + 0.5, steps / SIMPSON_INTERVALS
    weights = [1 if i in (0, SIMPSON_INTERVALS) else 4 if i % 2 else 2 for i in range(SIMPSON_INTERVALS + 1)]
    total = sum(w * decode_step_s(dep, eff, batch, low + i * width) for i, w in enumerate(weights))
    return total * width / 3 / steps


def static_batch(dep: Deployment, eff: Efficiency, batch: int, input_tokens: int, output_tokens: int) -> StaticBatch:
    """TTFT = prefill of all ``batch`` prompts; ITL = mean decode step; E2E = TTFT + (output - 1) x ITL."""
    ttft = prefill_s(dep, eff, input_tokens, batch)
    itl = mean_decode_step_s(dep, eff, batch, input_tokens, output_tokens)
    return StaticBatch(ttft, itl, ttft + (output_tokens - 1) * itl)


# --------------------------------------------------------------------------- memory


def workspace_bytes(dep: Deployment) -> float:
    """Activation workspace per GPU for the largest forward pass (the engine's token budget):
    hidden states, QKV, the gated MLP's intermediate, and last-token logits in fp32 for the largest batch."""
    arch, t = dep.arch, dep.tensor_parallel
    tokens = dep.policy.max_num_batched_tokens
    ffn = arch.moe_intermediate_size * arch.experts_per_token if arch.is_moe else arch.intermediate_size
    qkv = (arch.num_attention_heads + 2 * arch.num_kv_heads) * arch.head_dim
    per_token = 4 * arch.hidden_size + (3 * ffn + qkv) / t
    logits = min(dep.policy.max_num_seqs, tokens) * arch.vocab_size / t * 4
    return tokens * per_token * ACTIVATION_BYTES + logits


def kv_budget_bytes(dep: Deployment, gpu_memory_utilization: float | None = None) -> float:
    """Per-GPU KV-cache memory under the engine's policy: ``fraction`` x usable memory - weights - workspace -
    CUDA context (vLLM, SGLang), or ``fraction`` x what those leave free (TensorRT-LLM); ``None`` takes the
    engine's own fraction."""
    fraction = gpu_memory_utilization or dep.policy.memory_fraction
    usable = dep.gpu.memory_gib * config.default("usable_memory_fraction") * BYTES_PER_GIB
    taken = dep.resident_weight_bytes + workspace_bytes(dep) + config.default("cuda_context_gib") * BYTES_PER_GIB
    if dep.policy.kv_memory_basis == "free":
        return fraction * (usable - taken)
    return usable * fraction - taken


def max_concurrency(dep: Deployment, gpu_memory_utilization: float | None, tokens_per_sequence: float) -> int:
    """Sequences of ``tokens_per_sequence`` whose KV cache (and any per-sequence state) fits the budget, reserved
    whole as TensorRT-LLM's guaranteed-no-evict scheduler does, capped by the engine's running-sequence limit
    (vLLM ``max_num_seqs``, TensorRT-LLM ``max_batch_size``)."""
    per_sequence = kv_bytes_per_sequence(dep, tokens_per_sequence) + state_bytes_per_sequence(dep)
    budget = kv_budget_bytes(dep, gpu_memory_utilization)
    if per_sequence <= 0:  # no cache and no state at all: only the engine's cap
        return dep.policy.max_num_seqs if budget > 0 else 0
    return max(0, min(int(budget / per_sequence), dep.policy.max_num_seqs))


def memory_breakdown_gib(dep: Deployment, concurrency: float, tokens_per_sequence: float) -> dict:
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


def operating_point(dep: Deployment, eff: Efficiency, concurrency: float, input_tokens: int, output_tokens: int,
                    prefill: float | None = None) -> OperatingPoint:
    """Latencies and arrival rate of a replica holding ``concurrency`` sequences on average.

    Rate = N / E2E (Little's law). TTFT = idle prefill + half the step in flight, which an arrival meets with
    probability min(N, 1) (the share of time a sequence is running), + the mean M/D/1 wait for the prefill
    (Pollaczek-Khinchine with deterministic service: rho / (2(1 - rho)) x S). ``prefill``: the idle prefill
    time when the caller has it (it does not depend on N).
    """
    step = serving_step_s(dep, eff, concurrency, input_tokens, output_tokens)
    prefill = prefill_s(dep, eff, input_tokens) if prefill is None else prefill
    unqueued_ttft = prefill + 0.5 * min(concurrency, 1.0) * step
    decode = (output_tokens - 1) * step
    rho = min(concurrency / (unqueued_ttft + decode) * prefill, 0.95)
    queue = rho / (2.0 * (1.0 - rho)) * prefill
    e2e = unqueued_ttft + queue + decode
    return OperatingPoint(concurrency, step, unqueued_ttft + queue, prefill, queue, e2e, concurrency / e2e)


def _meets(point: OperatingPoint, workload: LLMWorkloadInput) -> bool:
    itl_ok = workload.itl_slo_ms is None or point.step_s * 1e3 <= workload.itl_slo_ms
    ttft_ok = workload.ttft_slo_ms is None or point.ttft_s * 1e3 <= workload.ttft_slo_ms
    return itl_ok and ttft_ok


def shortfall(point: OperatingPoint, workload: LLMWorkloadInput) -> float:
    """How far ``point`` is from the targets: the largest predicted / target ratio (<= 1 meets them all)."""
    ratios = [point.step_s * 1e3 / workload.itl_slo_ms if workload.itl_slo_ms else 0.0,
              point.ttft_s * 1e3 / workload.ttft_slo_ms if workload.ttft_slo_ms else 0.0]
    return max(ratios)


def best_point(dep: Deployment, eff: Efficiency, workload: LLMWorkloadInput, max_sequences: int) -> OperatingPoint | None:
    """The highest-rate operating point with at most ``max_sequences`` running that meets the SLOs
    (bisection on N: latency grows with N)."""
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    if max_sequences < 1:
        return None
    prefill = prefill_s(dep, eff, isl)
    top = operating_point(dep, eff, max_sequences, isl, osl, prefill)
    if _meets(top, workload):
        return top
    low = operating_point(dep, eff, 1, isl, osl, prefill)
    if not _meets(low, workload):
        return None
    lo, hi = 1, max_sequences
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _meets(operating_point(dep, eff, mid, isl, osl, prefill), workload):
            lo = mid
        else:
            hi = mid
    return operating_point(dep, eff, lo, isl, osl, prefill)


def point_at_rate(dep: Deployment, eff: Efficiency, rate: float, workload: LLMWorkloadInput, max_sequences: int) -> OperatingPoint:
    """The operating point that carries ``rate`` requests/s with at most ``max_sequences`` running (bisection on N,
    rate grows with N); the ``max_sequences`` point when ``rate`` is more than it carries."""
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    prefill = prefill_s(dep, eff, isl)
    lo, hi = 0.0, float(max_sequences)
    while hi - lo > 1e-4 * hi + 1e-6:  # N to 0.01%
        mid = (lo + hi) / 2
        if operating_point(dep, eff, max(mid, 1e-6), isl, osl, prefill).rps < rate:
            lo = mid
        else:
            hi = mid
    return operating_point(dep, eff, max(hi, 1e-6), isl, osl, prefill)


def saturated_concurrency(dep: Deployment, input_tokens: int, output_tokens: int, cap: int | None = None,
                          gpu_memory_utilization: float | None = None) -> int:
    """Sequences an engine keeps running when requests queue without limit: its KV budget over the tokens each
    holds (its admission policy), capped by its running-sequence limit and ``cap``."""
    held = dep.policy.tokens_held(input_tokens, output_tokens)
    limit = max_concurrency(dep, gpu_memory_utilization, held)
    return min(limit, cap) if cap else limit


def saturated_output_tokens_per_s(dep: Deployment, eff: Efficiency, input_tokens: int, output_tokens: int,
                                  cap: int | None = None, gpu_memory_utilization: float | None = None) -> float:
    """Offline throughput (``trtllm-bench throughput``, ``vllm bench throughput``): output tokens/s of one
    replica with every request queued at once; 0 when not one sequence fits."""
    concurrency = saturated_concurrency(dep, input_tokens, output_tokens, cap, gpu_memory_utilization)
    if concurrency < 1:
        return 0.0
    return concurrency / serving_step_s(dep, eff, concurrency, input_tokens, output_tokens)


def sweep_batch_sizes(workload: LLMWorkloadInput, model: ModelConfig, gpu: GPUConfig,
                      batch_sizes: list[int]) -> list[dict]:
    """ITL and output throughput per replica at each batch size (for plots) on ``gpu.gpu_type`` at
    ``gpu.tensor_parallel`` (a plan's replica)."""
    model, arch, _ = _resolve(model)
    dep = deployment(arch, config.get_gpu(gpu.gpu_type), model.precision, model.effective_kv_precision,
                     gpu.tensor_parallel, gpu.engine, gpu.gpu_memory_utilization)
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
    """What renting the option's GPUs costs a month in whole instances (``pricing.inference_cost``): the ranking."""
    ttft_ms: float | None = None
    """TTFT at the operating point (peak load over the replicas); at one sequence when it misses the targets."""
    itl_ms: float | None = None
    misses_targets: bool = False
    """It fits and is sized for the load, but even one sequence per replica misses a latency target."""
    shortfall: float = 0.0
    """Largest predicted / target latency ratio of the best the option can do (> 1 misses)."""
    engine: str = "vllm"

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def valid_tensor_parallel(arch: ModelArchitecture, gpu: GPUSpec) -> list[int]:
    """TP degrees within one node that split the attention heads evenly."""
    return [t for t in config.default("tensor_parallel_degrees")
            if t <= gpu.gpus_per_node and arch.num_attention_heads % t == 0
            and (arch.num_kv_heads % t == 0 or t % arch.num_kv_heads == 0)]


def evaluate_option(arch, gpu: GPUSpec, precision: str, kv_precision: str, tp: int, workload: LLMWorkloadInput,
                    model: ModelConfig, gpu_cfg: GPUConfig, eff: Efficiency) -> Option:
    """Fit, capacity, replica count and latencies of one (GPU, TP, precision)."""
    dep = deployment(arch, gpu, precision, kv_precision, tp, gpu_cfg.engine, gpu_cfg.gpu_memory_utilization)
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    base = dict(gpu_type=gpu.id, tensor_parallel=tp, precision=precision, engine=gpu_cfg.engine)
    limit = saturated_concurrency(dep, isl, osl, model.batch_size)
    if limit < 1:
        need = _min_replica_gib(dep, isl + osl)
        return Option(**base, feasible=False, reason=f"does not fit: needs at least {need:.1f} GiB per replica; "
                      f"{tp} x {gpu.id} = {gpu.memory_gib * tp:.0f} GiB")
    window = model.context_window
    full_length = kv_bytes_per_sequence(dep, window) + state_bytes_per_sequence(dep) if window else 0.0
    if full_length > kv_budget_bytes(dep):
        return Option(**base, feasible=False, reason=f"does not fit one full-length sequence: {window:,} tokens need "
                      f"{full_length / BYTES_PER_GIB:.1f} GiB of KV cache per GPU; the KV budget on {tp} x {gpu.id} is "
                      f"{max(kv_budget_bytes(dep), 0) / BYTES_PER_GIB:.1f} GiB per GPU")
    point = best_point(dep, eff, workload, limit)
    misses = point is None
    if misses:  # sized for throughput alone, flagged; the planner uses it only on a GPU the user fixed
        point = best_point(dep, eff, replace(workload, ttft_slo_ms=None, itl_slo_ms=None), limit)
    rate = point.rps * gpu_cfg.target_gpu_utilization
    needed = workload.peak_rps / rate
    replicas = max(1, math.ceil(needed - 1e-9)) if math.isfinite(needed) else math.inf
    fleet = config.default("max_inference_gpus")
    if replicas * tp > fleet:
        return Option(**base, feasible=False, reason=f"needs more GPUs than the {fleet:,}-GPU fleet limit: one replica "
                      f"({tp} x {gpu.id}) is planned for {rate:.4g} rps, so at most "
                      f"{fleet // tp * rate / workload.peak_load_multiplier:.4g} average rps fit")
    sized = dict(replicas=replicas, total_gpus=replicas * tp, max_rps_per_replica=point.rps, max_concurrency=limit)
    if misses:
        one = operating_point(dep, eff, 1, isl, osl)
        return Option(**base, **sized, feasible=False, reason=_miss_reason(one, workload, tp, gpu.id),
                      misses_targets=True, shortfall=shortfall(one, workload), ttft_ms=round(one.ttft_s * 1e3, 2),
                      itl_ms=round(one.step_s * 1e3, 3))
    return Option(**base, **sized, feasible=True, reason="")


def with_latency(option: Option, arch: ModelArchitecture, workload: LLMWorkloadInput, model: ModelConfig,
                 gpu_cfg: GPUConfig) -> Option:
    """``option`` with the TTFT and ITL of its operating point (peak load over its replicas); options that miss
    the targets already carry their best (one sequence)."""
    if not option.feasible:
        return option
    dep = deployment(arch, config.get_gpu(option.gpu_type), option.precision, _kv_precision(model, option.precision),
                     option.tensor_parallel, gpu_cfg.engine, gpu_cfg.gpu_memory_utilization)
    load = point_at_rate(dep, Efficiency.fitted(), workload.peak_rps / option.replicas, workload, option.max_concurrency)
    return replace(option, ttft_ms=round(load.ttft_s * 1e3, 2), itl_ms=round(load.step_s * 1e3, 3))


def _miss_reason(one: OperatingPoint, workload: LLMWorkloadInput, tp: int, gpu_id: str) -> str:
    return (f"misses the latency targets even at one sequence per replica (best ITL {one.step_s * 1e3:.1f} ms, "
            f"TTFT {one.ttft_s * 1e3:.0f} ms on {tp} x {gpu_id}; targets ITL {_target(workload.itl_slo_ms)}, "
            f"TTFT {_target(workload.ttft_slo_ms)})")


def _target(value: float | None) -> str:
    return "none" if value is None else f"{value:g} ms"


def _kv_precision(model: ModelConfig, precision: str) -> str:
    """The KV-cache precision at weight ``precision``: the user's, else the default for that precision."""
    return model.kv_precision or default_kv_precision(precision)


def gpus_that_hold(arch: ModelArchitecture, precision: str, kv_precision: str, tokens_per_sequence: int,
                   engine: str = "vllm") -> list[tuple[GPUSpec, int]]:
    """``(gpu, smallest tensor-parallel degree)`` for each catalog GPU where one replica of ``arch`` holds a sequence
    of ``tokens_per_sequence`` within one node under ``engine``'s memory policy (:func:`evaluate_option`'s fit rule;
    FP8 needs FP8 tensor cores)."""
    held = []
    for gpu in config.list_gpus():
        if precision == "FP8" and "FP8" not in gpu.tflops:
            continue
        fits = (t for t in valid_tensor_parallel(arch, gpu) if max_concurrency(
            deployment(arch, gpu, precision, kv_precision, t, engine), None, tokens_per_sequence) >= 1)
        degree = next(fits, None)
        if degree is not None:
            held.append((gpu, degree))
    return held


def _min_replica_gib(dep: Deployment, tokens: int) -> float:
    parts = memory_breakdown_gib(dep, 1, tokens)
    return sum(parts.values()) / dep.policy.memory_fraction


def _resolve(model: ModelConfig) -> tuple[ModelConfig, ModelArchitecture, list[str]]:
    """The model with its precision resolved (the checkpoint's own when none was asked), its architecture and the
    assumptions they rest on."""
    from config_loader import resolve_model

    return resolve_model(model)


def check_context(arch: ModelArchitecture, model: ModelConfig, tokens: int) -> list[str]:
    """Refuse sequences longer than the engine's maximum model length (``model.context_window``, else the
    model's trained length); warn when the context window goes past the trained length (RoPE scaling)."""
    trained = arch.max_position_embeddings
    window = model.context_window
    if window is None and tokens > trained:
        raise InputError("workload.avg_input_tokens + avg_output_tokens", tokens,
                         f"at most the model's context window ({trained} tokens)")
    if window is not None and tokens > window:
        raise InputError("model.context_window", window, f"at least input + output tokens ({tokens})")
    if window is not None and window > trained:
        return [f"Context window {window:,} tokens is longer than {arch.name}'s trained {trained:,}: the engine "
                f"needs RoPE scaling (e.g. YaRN) for it, and quality past {trained:,} tokens is not guaranteed."]
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
    """Feasible first (the smallest monthly bill, then the fewest GPUs: the spare GPUs of a whole instance stay free
    for other work, then the smallest TP); then those that only miss the latency targets, closest first; then the
    rest by largest TP (their reason is the most telling)."""
    if option.feasible:
        billed = option.monthly_gpu_cost if option.monthly_gpu_cost is not None else math.inf
        return (0, billed, option.total_gpus, option.tensor_parallel)
    if option.misses_targets:
        return (1, option.shortfall, option.total_gpus, option.tensor_parallel)
    return (2, 0.0, 0, -(option.tensor_parallel or 0))


def _option_quote(option: Option, cost):
    """The price row that bills least for ``option``'s GPUs in whole instances, or ``None`` when none is listed
    (cost is then left out of the ranking)."""
    import pricing

    try:
        return pricing.quote(option.gpu_type, cost, gpus_per_replica=option.tensor_parallel,
                             total_gpus=option.total_gpus)
    except InputError:
        return None


def _priced(option: Option, cost) -> Option:
    if not option.replicas:
        return option
    quote = _option_quote(option, cost)
    if quote is None:
        return option
    import pricing

    return replace(option, usd_per_gpu_hour=quote.usd_per_gpu_hour,
                   monthly_gpu_cost=pricing.whole_instance_monthly_cost_usd(option.total_gpus, quote))


def evaluate_options(arch: ModelArchitecture, gpus: list[GPUSpec], precisions: list[str], workload: LLMWorkloadInput,
                     model: ModelConfig, gpu_cfg: GPUConfig, cost=None) -> list[Option]:
    """Every (GPU, TP, precision) option, priced, best first."""
    eff = Efficiency.fitted()
    options = []
    for gpu in gpus:
        for precision in precisions:
            kv = _kv_precision(model, precision)
            if precision == "FP8" and "FP8" not in gpu.tflops:
                options.append(Option(gpu.id, None, precision, False, f"{gpu.id} has no FP8 tensor cores",
                                      engine=gpu_cfg.engine))
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
    monthly cost first; options that fail are in ``rejected`` with the reason. Every row carries its TTFT and
    ITL at the operating point and ``slo`` (each target, the prediction, met or not)."""
    for name, names in (("gpu_types", gpu_types), ("precisions", precisions)):
        if names is not None and not isinstance(names, (list, tuple)):
            raise InputError(name, names, "a list of names")
    precisions = [check_choice("precisions", p, PRECISIONS) for p in precisions] if precisions else None
    model, arch, _ = _resolve(model)
    check_context(arch, model, workload.avg_input_tokens + workload.avg_output_tokens)
    gpus = [config.get_gpu(g) for g in gpu_types] if gpu_types else _gpu_candidates(gpu_cfg)
    compared = precisions or comparison_precisions(model)
    options = evaluate_options(arch, gpus, compared, workload, model, gpu_cfg, cost)
    best: dict[tuple, Option] = {}
    for option in options:
        best.setdefault((option.gpu_type, option.precision), option)
    best = {key: with_latency(o, arch, workload, model, gpu_cfg) for key, o in best.items()}
    rows = [row for option in best.values() if option.feasible for row in _cloud_rows(option, workload, cost)]
    priced = {(r["gpu_type"], r["precision"]) for r in rows}
    rejected = [_option_row(o, workload) | {"reason": o.reason or "no price listed for this GPU and pricing model"}
                for key, o in best.items() if key not in priced]
    ranked = sorted(rows, key=lambda r: (r["monthly_gpu_cost"], r["total_gpus"]))
    return GPUComparison(tuple(ranked), tuple(rejected), assumptions=_comparison_assumptions(model, compared))


def _comparison_assumptions(model: ModelConfig, compared: list[str]) -> list[str]:
    added = [p for p in compared if p != model.precision]
    why = (f" ({', '.join(added)} beside the {model.precision} asked: the usual serving trade-off for 16-bit weights)"
           if added and model.precision in compared else "")
    return [f"Weight precisions compared: {', '.join(compared)}{why}.",
            "Ranked by the monthly bill (monthly_gpu_cost, the $/month column): whole instances of each cloud's "
            "instance that bills least for the option's GPUs; gpu_hours_monthly_cost is the GPUs alone at the "
            "GPU-hour price."]


def _option_row(option: Option, workload: LLMWorkloadInput) -> dict:
    row = option.to_dict()
    if option.itl_ms is not None:
        row["slo"] = slo_report(option.ttft_ms, option.itl_ms, workload).to_dict()
    return row


def _cloud_rows(option: Option, workload: LLMWorkloadInput, cost) -> list[dict]:
    """One comparison row per cloud offering ``option``'s GPU (instances large enough for a replica)."""
    import pricing

    rows = []
    for quote in pricing.offers(option.gpu_type, cost, gpus_per_replica=option.tensor_parallel,
                                total_gpus=option.total_gpus):
        bill = round(pricing.whole_instance_monthly_cost_usd(option.total_gpus, quote), 2)
        rows.append(_option_row(option, workload) | {
            "meets_targets": True, "cloud": quote.provider, "instance_type": quote.instance_type,
            "pricing": quote.pricing, "usd_per_gpu_hour": quote.usd_per_gpu_hour,
            "monthly_gpu_cost": bill, "whole_instance_monthly_cost": bill,
            "gpu_hours_monthly_cost": round(pricing.monthly_cost_usd(option.total_gpus, quote), 2),
            "cost_per_million_tokens": round(pricing.usd_per_million_tokens(
                bill, workload.requests_per_second * workload.avg_output_tokens), 4),
            "price_as_of": quote.as_of_date, "price_age_days": quote.age_days,
        })
    return rows



def _chosen(options: list[Option], arch: ModelArchitecture, fixed_gpu: bool, workload: LLMWorkloadInput) -> Option:
    """The best feasible option. When none meets the latency targets: on a GPU the user fixed, the option closest
    to them (planned, flagged); else an :class:`InfeasibleError` naming that closest option. When nothing fits,
    the memory shortfall of the option with the most memory."""
    if options[0].feasible:
        return options[0]
    closest = [o for o in options if o.misses_targets]
    if closest and fixed_gpu:
        return closest[0]
    if closest:
        best = closest[0]
        missed = tuple(f"workload.{name}" for name, predicted in (("itl_slo_ms", best.itl_ms), ("ttft_slo_ms", best.ttft_ms))
                       if getattr(workload, name) is not None and predicted > getattr(workload, name))
        raise InfeasibleError(
            f"no configuration serves {arch.name} within the latency targets; the closest is {best.tensor_parallel} x "
            f"{best.gpu_type} ({best.precision}), which at one sequence per replica reaches ITL {best.itl_ms:,.1f} ms "
            f"and TTFT {best.ttft_ms:,.0f} ms", fields=(*missed, "gpu.gpu_type", "model.precision"))
    latency = [o for o in options if o.reason.startswith("misses")]
    reason = latency[0].reason if latency else max(
        options, key=lambda o: (o.tensor_parallel or 0) * config.get_gpu(o.gpu_type).memory_gib).reason
    raise InfeasibleError(f"no configuration serves {arch.name}: {reason}",
                          fields=("gpu.gpu_type", "model.precision", "model"))


def plan_inference(workload: LLMWorkloadInput, model: ModelConfig, gpu_cfg: GPUConfig,
                   include_cost: bool = False, cost=None) -> InferencePlan:
    """Plan the replicas, GPUs, throughput, latency and (optionally) cost of serving ``workload``.

    The GPU is the one named in ``gpu_cfg`` (or the cheapest that meets the targets); the tensor-
    parallel degree is the one that needs the fewest GPUs in total (ties: the smaller degree). On a GPU the
    user named, a plan that cannot meet a latency target is still made, with ``slo`` and a warning saying so.
    """
    model, arch, assumptions = _resolve(model)
    context_warnings = check_context(arch, model, workload.avg_input_tokens + workload.avg_output_tokens)
    options = evaluate_options(arch, _gpu_candidates(gpu_cfg), [model.precision], workload, model, gpu_cfg, cost)
    chosen = _chosen(options, arch, fixed_gpu=gpu_cfg.gpu_type is not None, workload=workload)
    recommended = _recommended(arch, workload, model, gpu_cfg, cost, chosen)
    plan = _build_plan(arch, assumptions, chosen, recommended, options, workload, model, gpu_cfg, include_cost, cost)
    return replace(plan, warnings=context_warnings + plan.warnings)


def _recommended(arch, workload, model, gpu_cfg, cost, chosen: Option) -> Option:
    """The cheapest option over every priced GPU (the user's choice when nothing is cheaper, or when
    --price-per-gpu-hour prices only the user's GPU)."""
    if gpu_cfg.gpu_type is None or (cost is not None and cost.price_per_gpu_hour is not None):
        return chosen
    free = replace(gpu_cfg, gpu_type=None, tensor_parallel=None)
    others = [o for o in evaluate_options(arch, config.list_gpus(), [model.precision], workload, model, free, cost)
              if o.feasible and o.monthly_gpu_cost is not None]
    billed = chosen.monthly_gpu_cost
    if others and billed is not None and others[0].monthly_gpu_cost < billed:
        return others[0]
    return chosen


def slo_report(ttft_ms: float, itl_ms: float, workload: LLMWorkloadInput) -> SLOReport:
    """Each latency target against its prediction."""
    def one(target: float | None, predicted: float) -> SLOTarget:
        return SLOTarget(target=target, predicted=predicted, met=None if target is None else predicted <= target)

    return SLOReport(ttft_ms=one(workload.ttft_slo_ms, ttft_ms), itl_ms=one(workload.itl_slo_ms, itl_ms))


def slo_warnings(slo: SLOReport, where: str) -> list[str]:
    """One line per missed target: the target and the predicted value."""
    names = {"ttft_ms": "TTFT", "itl_ms": "ITL"}
    return [f"{names[name]} target {getattr(slo, name).target:g} ms is missed: predicted "
            f"{getattr(slo, name).predicted:,.1f} ms {where}." for name in slo.missed]


def _build_plan(arch, assumptions, chosen: Option, recommended: Option, options, workload, model, gpu_cfg,
                include_cost, cost) -> InferencePlan:
    eff = Efficiency.fitted()
    gpu = config.get_gpu(chosen.gpu_type)
    kv_precision = model.effective_kv_precision
    dep = deployment(arch, gpu, model.precision, kv_precision, chosen.tensor_parallel, gpu_cfg.engine,
                     gpu_cfg.gpu_memory_utilization)
    isl, osl = workload.avg_input_tokens, workload.avg_output_tokens
    held = dep.policy.tokens_held(isl, osl)
    point = point_at_rate(dep, eff, workload.peak_rps / chosen.replicas, workload, chosen.max_concurrency)
    saturated_step = serving_step_s(dep, eff, chosen.max_concurrency, isl, osl)
    breakdown = memory_breakdown_gib(dep, math.ceil(point.concurrency), held)
    replicas_min = max(1, math.ceil(workload.requests_per_second / (chosen.max_rps_per_replica * gpu_cfg.target_gpu_utilization) - 1e-9))
    resources = GPUResources(
        gpu_type=gpu.id, recommended_gpu=recommended.gpu_type, gpus_per_replica=chosen.tensor_parallel,
        tensor_parallel=chosen.tensor_parallel, memory_per_replica_gib=round(sum(breakdown.values()), 2),
        memory_breakdown_gib={k: round(v, 2) for k, v in breakdown.items()},
        gpu_memory_gib=gpu.memory_gib, max_concurrency_per_replica=chosen.max_concurrency,
        replicas=chosen.replicas, replicas_min=min(replicas_min, chosen.replicas), replicas_max=chosen.replicas,
        total_gpus=chosen.total_gpus, nodes=math.ceil(chosen.total_gpus / gpu.gpus_per_node),
        gpus_per_node=gpu.gpus_per_node, recommendation_reason=_recommendation(chosen, recommended),
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
    slo = slo_report(latency.ttft_ms, latency.itl_ms, workload)
    warnings = _target_warnings(workload)
    warnings += slo_warnings(slo, f"on {chosen.tensor_parallel} x {gpu.id} at the planned load (even one sequence "
                                  f"per replica gives ITL {chosen.itl_ms:,.1f} ms, TTFT {chosen.ttft_ms:,.0f} ms)"
                             if chosen.misses_targets else f"on {chosen.tensor_parallel} x {gpu.id} at the planned load")
    limit = saturated_concurrency(dep, isl, osl)
    if model.batch_size and model.batch_size > limit:
        warnings.append(f"Batch size {model.batch_size} does not fit in memory: one replica holds at most "
                        f"{limit} sequences of {isl + osl} tokens under {dep.policy.name}; planned at {limit}.")
    plan_cost = _cost(chosen, workload, include_cost, cost, warnings)
    return InferencePlan(
        inputs={},  # the question as asked: LLMForecastEngine fills it in
        model=_summary(arch, model, kv_precision),
        gpu_resources=resources, throughput=throughput, latency=latency, cost=plan_cost,
        assumptions=assumptions + _assumptions(dep, eff, workload, gpu_cfg, model),
        warnings=warnings,
        alternatives=[with_latency(o, arch, workload, model, gpu_cfg).to_dict() for o in options if o is not chosen][:5],
        slo=slo, engine=gpu_cfg.engine,
    )


def _cost(chosen: Option, workload: LLMWorkloadInput, include_cost: bool, cost, warnings: list):
    if not include_cost:
        return None
    import pricing

    quote = pricing.quote(chosen.gpu_type, cost, gpus_per_replica=chosen.tensor_parallel, total_gpus=chosen.total_gpus)
    warnings.extend(pricing.price_warnings(quote))
    output_rate = workload.requests_per_second * workload.avg_output_tokens
    total_rate = workload.requests_per_second * (workload.avg_input_tokens + workload.avg_output_tokens)
    return pricing.inference_cost(chosen.total_gpus, chosen.tensor_parallel, output_rate, total_rate, quote)


def _recommendation(chosen: Option, recommended: Option) -> str:
    """Why a cheaper GPU type than the plan's is suggested; empty when there is none."""
    if recommended.gpu_type == chosen.gpu_type:
        return ""
    return (f"{recommended.gpu_type} (TP {recommended.tensor_parallel}, {recommended.total_gpus} GPUs, "
            f"${recommended.monthly_gpu_cost:,.0f}/month) meets the same targets for less than "
            f"{chosen.gpu_type} (${chosen.monthly_gpu_cost:,.0f}/month), each in whole instances.")


def _target_warnings(workload: LLMWorkloadInput) -> list[str]:
    if workload.ttft_slo_ms is None and workload.itl_slo_ms is None:
        return ["No latency targets given: replicas are sized for throughput only; give TTFT and ITL targets "
                "(--ttft-slo-ms, --itl-slo-ms; ttft_slo_ms, itl_slo_ms in a config) for an interactive service."]
    return []


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


def _physics_assumptions(dep: Deployment, eff: Efficiency) -> list[str]:
    arch, gpu = dep.arch, dep.gpu
    kv_kib = kv_bytes_per_token(arch, dep.kv_precision) / 1024
    moe = (f" MoE: {arch.num_experts} experts, {arch.experts_per_token} per token; FLOPs follow the "
           f"{architecture.active_params(arch) / 1e9:.1f}B active parameters, weight reads follow the experts a batch touches."
           if arch.is_moe else "")
    ceiling, measured = config.matmul_ceiling(gpu.id, dep.compute_precision)
    layout = "MLA latent" if arch.kv_lora_rank else (
        f"{arch.num_kv_heads} KV heads x {arch.head_dim} dims x {architecture.attention_layer_count(arch)} attention "
        "layers x K,V")
    return [
        f"KV cache {kv_kib:.0f} KiB/token in {dep.kv_precision} ({layout}).{moe}",
        dep.policy.describe(),
        f"{gpu.id}: {gpu.hbm_bandwidth_gb_s:,.0f} GB/s HBM, {gpu.peak_tflops(dep.compute_precision):,.0f} dense TFLOPS at "
        f"{dep.compute_precision}, {gpu.interconnect_gb_s:,.0f} GB/s one-way interconnect; "
        f"fitted efficiencies: {eff.weight_bandwidth:.0%} of bandwidth streaming weights, {eff.kv_bandwidth:.0%} "
        f"reading KV, {eff.matmul_share(dep.compute_precision):.0%} of the measured matmul ceiling "
        f"({ceiling:.0%} of peak{'' if measured else ', median of measured GPUs'}) in matmuls, "
        f"{eff.overhead_us_per_layer(dep.policy):.0f} us/layer per step, {eff.allreduce_latency_us:.0f} us per "
        f"tensor-parallel all-reduce (calibration.py; --mode validate).",
    ]


def _assumptions(dep: Deployment, eff: Efficiency, workload: LLMWorkloadInput, gpu_cfg: GPUConfig,
                 model: ModelConfig) -> list[str]:
    window = (f"Maximum model length {model.context_window:,} tokens (--context-window): one sequence that long "
              f"fits the KV cache." if model.context_window else
              "Maximum model length: the workload's input + output tokens (set --context-window to plan for longer).")
    cap = (f" Running sequences capped at {model.batch_size} per replica (--batch-size)." if model.batch_size else "")
    return _physics_assumptions(dep, eff) + [
        window,
        f"Replicas are sized for peak load {workload.peak_rps:g} rps (average {workload.requests_per_second:g} x "
        f"peak multiplier {workload.peak_load_multiplier:g}) at {gpu_cfg.target_gpu_utilization:.0%} of the "
        f"highest load one replica holds within memory and the latency targets.{cap}",
        "The operating point follows the offered load: each replica runs the sequences its share of the peak "
        "load keeps busy (Little's law). ITL is one decode step with every running sequence at context "
        "input + output/2 and the interleaved prefill chunks; TTFT is the prefill of one prompt, half a step in "
        "flight when the replica is busy, and M/D/1 queueing for the prefill.",
    ] + [note for note in [config.compute_note(dep.precision, dep.gpu)] if note]


# --------------------------------------------------------------------------- static-batch latency mode


def plan_latency(model: ModelConfig, gpu_cfg: GPUConfig, batch_size: int, input_tokens: int, output_tokens: int,
                 ttft_slo_ms: float | None = None, itl_slo_ms: float | None = None) -> LatencyPlan:
    """What a static-batch benchmark (``vllm bench latency``, ``trtllm-bench latency``) measures: ``batch_size``
    prompts of ``input_tokens`` start together and each generates ``output_tokens``; no arrivals, no queueing, no
    interleaved prefill. The GPU is ``gpu_cfg.gpu_type``; the tensor-parallel degree is ``gpu_cfg``'s, else the
    smallest whose KV cache holds the batch. :class:`InfeasibleError` names the largest batch that fits."""
    batch_size = check_number("batch_size", batch_size, integer=True)
    input_tokens = check_number("input_tokens", input_tokens, integer=True)
    output_tokens = check_number("output_tokens", output_tokens, integer=True)
    targets = LLMWorkloadInput(1.0, input_tokens, output_tokens, ttft_slo_ms=ttft_slo_ms, itl_slo_ms=itl_slo_ms)
    if gpu_cfg.gpu_type is None:
        raise InputError("gpu.gpu_type", None, "the GPU the benchmark runs on (--gpu-type)")
    model, arch, assumptions = _resolve(model)
    warnings = check_context(arch, model, input_tokens + output_tokens)
    gpu = config.get_gpu(gpu_cfg.gpu_type)
    deployments = [deployment(arch, gpu, model.precision, model.effective_kv_precision, tp, gpu_cfg.engine,
                              gpu_cfg.gpu_memory_utilization) for tp in _tp_candidates(arch, gpu, gpu_cfg)]
    tokens = input_tokens + output_tokens
    dep = next((d for d in deployments if _static_fit(d, tokens) >= batch_size), None)
    if dep is None:
        raise InfeasibleError(_static_refusal(deployments, batch_size, tokens))
    eff = Efficiency.fitted()
    result = static_batch(dep, eff, batch_size, input_tokens, output_tokens)
    latency = StaticBatchLatency(ttft_ms=round(result.ttft_s * 1e3, 3), itl_ms=round(result.itl_s * 1e3, 3),
                                 e2e_ms=round(result.e2e_s * 1e3, 2))
    rate = batch_size * output_tokens / result.e2e_s
    throughput = StaticBatchThroughput(output_tokens_per_second=round(rate, 2),
                                       output_tokens_per_second_per_gpu=round(rate / dep.tensor_parallel, 2),
                                       requests_per_second=round(batch_size / result.e2e_s, 4))
    breakdown = memory_breakdown_gib(dep, batch_size, tokens)
    slo = slo_report(latency.ttft_ms, latency.itl_ms, targets)
    return LatencyPlan(
        inputs={},  # the question as asked: LLMForecastEngine fills it in
        model=_summary(arch, model, model.effective_kv_precision), gpu_type=gpu.id,
        tensor_parallel=dep.tensor_parallel, engine=gpu_cfg.engine, batch_size=batch_size,
        input_tokens=input_tokens, output_tokens=output_tokens, latency=latency, throughput=throughput,
        memory_breakdown_gib={k: round(v, 2) for k, v in breakdown.items()},
        memory_per_gpu_gib=round(sum(breakdown.values()) / dep.tensor_parallel, 2), gpu_memory_gib=gpu.memory_gib,
        max_batch_size=_static_fit(dep, tokens), slo=slo,
        assumptions=assumptions + _physics_assumptions(dep, eff) + [
            "Static batch: every prompt is prefilled before the first decode step (TTFT = that prefill, in the "
            "engine's token-budget passes); ITL is the mean decode step as each sequence's context grows from "
            "input to input + output tokens; every sequence keeps its KV cache to the end."],
        warnings=warnings + slo_warnings(slo, f"for a batch of {batch_size} on {dep.tensor_parallel} x {gpu.id}"),
    )


def _static_fit(dep: Deployment, tokens: int) -> int:
    """Largest batch of ``tokens``-token sequences whose whole KV cache (and state) fits the engine's budget."""
    per_sequence = kv_bytes_per_sequence(dep, tokens) + state_bytes_per_sequence(dep)
    return max(0, int(kv_budget_bytes(dep) / per_sequence)) if per_sequence > 0 else dep.policy.max_num_seqs


def _static_refusal(deployments: list[Deployment], batch_size: int, tokens: int) -> str:
    best = max(deployments, key=lambda d: _static_fit(d, tokens))
    fit = _static_fit(best, tokens)
    where = f"{best.tensor_parallel} x {best.gpu.id} under {best.policy.name}"
    if fit < 1:
        need = _min_replica_gib(best, tokens)
        return f"one sequence of {tokens} tokens does not fit on {where}: it needs at least {need:.1f} GiB"
    return (f"a batch of {batch_size} sequences of {tokens} tokens does not fit on {where}: its KV cache holds at "
            f"most {fit} (--batch-size {fit})")
