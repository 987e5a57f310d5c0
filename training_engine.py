"""Training and fine-tuning physics and the GPU-count planner.

Everything is derived from the architecture (``architecture.py``) and the GPU's limits, times a
handful of efficiencies fitted on measured and published runs (``calibration.py``,
``data/training_fit.json``):

- FLOPs per token: forward matmuls ``2 x active params`` plus attention ``4 x layers x heads x
  head_dim x seq`` (no causal halving, as PaLM, Megatron-LM and MosaicML count MFU); the backward
  pass is twice the forward, except that LoRA/QLoRA skip the weight gradients of frozen weights;
  activation recomputation runs the transformer layers forward once more (hardware FLOPs).
- Memory per GPU is what ``torch.cuda.max_memory_reserved`` reports at the peak: the larger of
  the forward/backward boundary (weights, optimizer states, every saved activation and the loss's
  vocabulary-sized tensors) and the end of the backward pass (gradients in full), times the caching
  allocator's reserved/allocated ratio. ZeRO stage 1 shards optimizer states and fp32 master weights
  over data-parallel ranks, stage 2 also gradients, stage 3 (FSDP full shard) also the weights.
- Step time: matmul FLOPs at a share of the GPU's achievable matmul rate, memory-bound elementwise
  traffic at HBM bandwidth, a fixed time per kernel launched, the 1F1B pipeline bubble,
  tensor-parallel all-reduces on the critical path, data-parallel collectives overlapped with
  compute, and the optimizer step.

The planner (:func:`plan_training`) searches data-parallel degree, ZeRO stage, tensor parallel,
activation checkpointing and micro-batch for the fewest GPUs whose memory fits (whole nodes past one
node), the fastest layout at that count, and more GPUs when a deadline asks for them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import architecture
import config
from config import BYTES_PER_GIB
from models import (
    GPUConfig, GPUSpec, InfeasibleError, InputError, ModelArchitecture, ModelConfig, ModelSummary, TrainingCost,
    TrainingGPUResources, TrainingInput, TrainingMetrics, TrainingPlan, plural,
)

FP32_BYTES = 4
"""fp32 master weights, gradients, optimizer moments and loss tensors under mixed precision."""
SECONDS_PER_HOUR = 3600
GB = 1e9
TFLOPS = 1e12
TRAINING_PRECISIONS = ("FP32", "FP16", "BF16", "FP8")
ZERO_NAMES = {0: "no sharding (DDP)", 1: "ZeRO-1 (optimizer states sharded)",
              2: "ZeRO-2 (optimizer states and gradients sharded)",
              3: "ZeRO-3 / FSDP full shard (weights, gradients and optimizer states sharded)"}


# --------------------------------------------------------------------------- efficiencies


@dataclass(frozen=True)
class TrainingEfficiency:
    """Fitted shares and costs (``data/training_fit.json``; ``calibration.fit_training``)."""

    matmul: float
    """Share of the GPU's achievable matmul rate (MAMF) that training matmuls reach."""
    attention: float
    """Share of the achievable matmul rate that fused (flash) attention reaches, forward and backward."""
    elementwise_traffic: float
    """HBM bytes moved by norms, activation functions, casts and adds per byte of saved activations."""
    kernel_overhead_us: float
    """Fixed time per kernel launched (launch latency and tail), microseconds."""
    activation_scale: float
    """Saved activations measured / counted by :func:`layer_activation_bytes_per_token`."""
    reserved_over_allocated: float
    """Peak memory the caching allocator reserves / peak memory allocated to tensors (fragmentation)."""

    @classmethod
    def fitted(cls) -> "TrainingEfficiency":
        return cls(**config.fitted_parameters("training_fit.json"))


# --------------------------------------------------------------------------- the job and its layout


@dataclass(frozen=True)
class Job:
    """What is trained, apart from how it is laid out on GPUs."""

    arch: ModelArchitecture
    method: str
    precision: str
    """Compute precision of matmuls and activations (the frozen base's storage under LoRA)."""
    mixed_precision: bool
    """fp32 master weights, gradients and optimizer states beside 16-bit compute."""
    optimizer: str
    lora_rank: int
    sequence_length: int
    global_batch_size: int
    flash_attention: bool = True
    loss_chunks: int = 1
    """Chunks the loss upcasts the logits in (1: transformers' cross-entropy over all of them at once)."""

    @property
    def compute_bytes(self) -> int:
        """Bytes of an activation or a compute copy of a weight (FP8 matmuls keep 16-bit tensors)."""
        return FP32_BYTES if self.precision == "FP32" else 2

    @property
    def is_mixed(self) -> bool:
        return self.mixed_precision and self.compute_bytes < FP32_BYTES

    @property
    def frozen_base(self) -> bool:
        return self.method in ("lora", "qlora")


@dataclass(frozen=True)
class Layout:
    """How a job is spread over GPUs."""

    data_parallel: int
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    zero_stage: int = 0
    micro_batch_size: int = 1
    gradient_checkpointing: bool = False

    @property
    def gpus(self) -> int:
        return self.data_parallel * self.tensor_parallel * self.pipeline_parallel

    @property
    def model_parallel(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    def accumulation_steps(self, global_batch_size: int) -> int:
        """Micro-steps per optimizer step: global batch / (micro-batch x data-parallel ranks)."""
        return global_batch_size // (self.micro_batch_size * self.data_parallel)

    def describe(self) -> str:
        parts = [ZERO_NAMES[self.zero_stage] + f" over {plural(self.data_parallel, 'data-parallel rank')}"]
        if self.tensor_parallel > 1:
            parts.append(f"tensor parallel {self.tensor_parallel} (with sequence parallelism)")
        if self.pipeline_parallel > 1:
            parts.append(f"pipeline parallel {self.pipeline_parallel} (1F1B)")
        parts.append("activation checkpointing on" if self.gradient_checkpointing else "no activation checkpointing")
        parts.append(f"micro-batch {self.micro_batch_size}")
        return ", ".join(parts)


# --------------------------------------------------------------------------- shapes


def linear_shapes(arch: ModelArchitecture, active: bool = False) -> list[tuple[int, int, int]]:
    """``(in, out, count)`` of every mixer and MLP weight matrix (routed experts: all, or the active ones),
    layer by layer (``architecture.linear_shapes``: attention, MLA, linear-attention and Mamba projections)."""
    return architecture.linear_shapes(arch, active)


def lora_params(arch: ModelArchitecture, rank: int, active: bool = False) -> int:
    """LoRA adapter weights: rank x (in + out) on every attention and MLP matrix (Hu et al. 2021, arXiv:2106.09685)."""
    return sum(rank * (i + o) * n for i, o, n in linear_shapes(arch, active))


def lm_head_params(arch: ModelArchitecture) -> int:
    """Weights of the output projection (the tied embedding when tied)."""
    return arch.vocab_size * arch.hidden_size


def trainable_params(arch: ModelArchitecture, method: str, rank: int) -> int:
    """Parameters that get gradients and optimizer states."""
    return architecture.total_params(arch) if method == "full" else lora_params(arch, rank)


def adafactor_state_elements(arch: ModelArchitecture, method: str, rank: int) -> int:
    """Adafactor's factored second moment: rows + columns per matrix, vectors in full (Shazeer & Stern 2018)."""
    if method != "full":
        return sum((i + 2 * rank + o) * n for i, o, n in linear_shapes(arch))
    shapes = linear_shapes(arch)
    matrices = sum(i * o * n for i, o, n in shapes) + architecture.embedding_params(arch)
    tables = 1 if arch.tie_word_embeddings else 2
    factored = sum((i + o) * n for i, o, n in shapes) + tables * (arch.vocab_size + arch.hidden_size)
    return factored + architecture.total_params(arch) - matrices


def optimizer_bytes(job: Job) -> float:
    """Optimizer state bytes for all trainable parameters (before sharding).

    AdamW/Adam: two moments; SGD: one momentum buffer; Adafactor: factored second moment;
    AdamW-8bit: two 8-bit moments with block-wise scales. States are fp32 under mixed precision,
    else in the compute precision.
    """
    params = trainable_params(job.arch, job.method, job.lora_rank)
    state = FP32_BYTES if job.is_mixed else job.compute_bytes
    if job.optimizer == "AdamW-8bit":
        return 2 * params * config.default("adamw_8bit_state_bytes")
    if job.optimizer == "Adafactor":
        return state * adafactor_state_elements(job.arch, job.method, job.lora_rank)
    moments = {"AdamW": 2, "Adam": 2, "SGD": 1}[job.optimizer]
    return moments * state * params


# --------------------------------------------------------------------------- FLOPs


def attention_flops_per_token(arch: ModelArchitecture, sequence_length: int) -> float:
    """Forward score and value matmuls per token: 2 x layers x heads x (qk_dim + v_dim) x seq.

    Equals 4 x layers x hidden x seq for standard attention (PaLM, arXiv:2204.02311 appendix B);
    the causal mask is not halved, as published MFU figures count it; a sliding window (or a chunk) caps seq in
    its layers; linear-attention and Mamba layers add their recurrence instead.
    """
    qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim if arch.kv_lora_rank else arch.head_dim
    v = arch.v_head_dim if arch.kv_lora_rank else arch.head_dim
    keys = architecture.attended_tokens(arch, sequence_length)  # summed over attention layers, windows capped
    return 2 * arch.num_attention_heads * (qk + v) * keys + architecture.recurrent_flops_per_token(arch)


@dataclass(frozen=True)
class FlopsPerToken:
    """Training FLOPs per token."""

    model: float
    """What the method needs (forward + backward), as MFU counts it."""
    hardware: float
    """What the GPUs execute: ``model`` plus the recomputed forward under activation checkpointing."""


def training_flops_per_token(arch: ModelArchitecture, sequence_length: int, method: str = "full",
                             lora_rank: int = 16, recompute: bool = False) -> FlopsPerToken:
    """Model and hardware FLOPs per trained token.

    Forward = 2 x matmul params (LM head included) + attention + LoRA adapters. Full training:
    backward = 2 x forward (input and weight gradients; Kaplan et al. 2020 "6N"). LoRA/QLoRA: the
    frozen weights need input gradients only (1 x their forward), attention and adapters 2 x.
    Recomputation adds the forward of the transformer layers (not the LM head).
    """
    matmul = 2 * architecture.matmul_params_per_token(arch)
    attention = attention_flops_per_token(arch, sequence_length)
    adapters = 2 * lora_params(arch, lora_rank, active=True) if method != "full" else 0
    forward = matmul + attention + adapters
    backward = 2 * forward if method == "full" else matmul + 2 * (attention + adapters)
    model = forward + backward
    recomputed = forward - 2 * lm_head_params(arch) if recompute else 0
    return FlopsPerToken(model=model, hardware=model + recomputed)


# --------------------------------------------------------------------------- memory: activations


def _mlp_width(arch: ModelArchitecture) -> float:
    """FFN width a token's activations pass through, averaged over layers (MoE: its routed and shared experts)."""
    if not arch.is_moe:
        return arch.intermediate_size
    dense_layers = sum(count for layer, count in arch.layer_kinds.items() if layer.mlp == "dense")
    routed = arch.moe_intermediate_size * (arch.experts_per_token + arch.num_shared_experts)
    return (architecture.moe_layer_count(arch) * routed + dense_layers * arch.intermediate_size) / arch.num_layers


def layer_activation_bytes_per_token(arch: ModelArchitecture, *, compute_bytes: int, residual_bytes: int,
                                     frozen_base: bool, autocast: bool, flash_attention: bool = True,
                                     sequence_length: int = 0) -> float:
    """Bytes one transformer layer saves for the backward pass, per token.

    Counted tensor by tensor for a Llama-style layer in PyTorch (after Korthikanti et al. 2022,
    arXiv:2205.05198 section 4, with flash attention and no dropout):
    - two RMSNorms: the fp32 upcast of their input, plus their output for the weight gradient
      when the norm weight trains (in the residual-stream dtype);
    - attention: q, k, v and the output kept by the flash/SDPA backward;
    - every linear layer's input (autocast casts it once per consumer: q, k, v and gate, up);
    - gated MLP: gate output, activation output and up output (plain MLP: the pre-activation);
    - without flash attention: the softmax probabilities in fp32 and their 16-bit copy.
    """
    h, heads = arch.hidden_size, arch.num_attention_heads
    c, f = compute_bytes, _mlp_width(arch)
    qk = arch.qk_nope_head_dim + arch.qk_rope_head_dim if arch.kv_lora_rank else arch.head_dim
    v_dim = arch.v_head_dim if arch.kv_lora_rank else arch.head_dim
    kv_heads = heads if arch.kv_lora_rank else arch.num_kv_heads
    q_dim, k_dim, v_all, out_dim = heads * qk, kv_heads * qk, kv_heads * v_dim, heads * v_dim
    gated = arch.mlp == "gated"
    norms = 2 * h * (FP32_BYTES + (0 if frozen_base else residual_bytes))
    attention = c * (q_dim + k_dim + v_all + out_dim)
    if not flash_attention:
        attention += (FP32_BYTES + c) * heads * sequence_length
    casts_qkv, casts_mlp = (3, 2 if gated else 1) if autocast else (1, 1)
    inputs = c * (casts_qkv * h + out_dim + casts_mlp * h + f)
    mlp = c * f * (3 if gated else 1)
    return norms + attention + inputs + mlp


def logits_bytes_per_token(arch: ModelArchitecture, compute_bytes: int, loss_chunks: int = 1) -> float:
    """Vocabulary-sized tensors alive in the loss backward, per token: the logits in the compute dtype
    plus fp32 copies (upcast/log-softmax output and two gradients; ``data/planner_defaults.json``),
    of one chunk at a time when the loss works in chunks (torchtune ``CEWithChunkedOutputLoss``)."""
    fp32_tensors = config.default("logits_fp32_tensors_in_loss")
    return arch.vocab_size * (compute_bytes + FP32_BYTES * fp32_tensors / loss_chunks)


def _autocast(job: Job, layout: Layout) -> bool:
    """PyTorch AMP (HF Trainer/DDP): fp32 parameters, autocast copies, fp32 residual stream."""
    return job.is_mixed and not job.frozen_base and layout.zero_stage == 0


def activation_bytes(job: Job, layout: Layout, eff: TrainingEfficiency) -> tuple[float, float]:
    """(kept, recomputed): saved activations on the busiest GPU (pipeline stage 0) at the forward/backward
    boundary, and the one layer rebuilt at a time during the backward pass under recomputation.

    Without recomputation every layer keeps :func:`layer_activation_bytes_per_token` per token; with it,
    each layer keeps only its input. Tensor parallelism with sequence parallelism divides both;
    1F1B keeps ``min(pp, micro-steps)`` micro-batches of its ``layers / pp`` layers in flight
    (Korthikanti et al. 2022 section 4.2.3).
    """
    arch = job.arch
    residual = FP32_BYTES if _autocast(job, layout) else job.compute_bytes
    per_layer = eff.activation_scale * _layer_bytes(job, layout)
    tokens = layout.micro_batch_size * job.sequence_length / layout.tensor_parallel
    in_flight = min(layout.pipeline_parallel, layout.accumulation_steps(job.global_batch_size))
    layers = arch.num_layers / layout.pipeline_parallel * in_flight
    if layout.gradient_checkpointing:
        return tokens * layers * residual * arch.hidden_size, tokens * per_layer
    return tokens * layers * per_layer, 0.0


def _layer_bytes(job: Job, layout: Layout) -> float:
    """:func:`layer_activation_bytes_per_token` for this job's precision regime."""
    autocast = _autocast(job, layout)
    return layer_activation_bytes_per_token(
        job.arch, compute_bytes=job.compute_bytes, residual_bytes=FP32_BYTES if autocast else job.compute_bytes,
        frozen_base=job.frozen_base, autocast=autocast, flash_attention=job.flash_attention,
        sequence_length=job.sequence_length)


def logits_bytes(job: Job, layout: Layout) -> float:
    """Loss tensors of one micro-batch (vocabulary-parallel over tensor-parallel ranks)."""
    tokens = layout.micro_batch_size * job.sequence_length
    return tokens * logits_bytes_per_token(job.arch, job.compute_bytes, job.loss_chunks) / layout.tensor_parallel


# --------------------------------------------------------------------------- memory: states


def base_weight_bytes(job: Job) -> float:
    """The model's own weights: compute precision, or NF4 linear layers (QLoRA) with 16-bit embeddings and norms."""
    arch, total = job.arch, architecture.total_params(job.arch)
    if job.method != "qlora":
        return total * job.compute_bytes
    linear = sum(i * o * n for i, o, n in linear_shapes(arch))
    return linear * config.default("nf4_bits_per_param") / 8 + (total - linear) * job.compute_bytes


def _unit_params(job: Job, layout: Layout) -> float:
    """Largest ZeRO-3/FSDP unit (one layer, or the embedding) on one model-parallel rank."""
    arch = job.arch
    layer = (architecture.total_params(arch) - architecture.embedding_params(arch)) / arch.num_layers
    return max(layer, lm_head_params(arch)) / layout.tensor_parallel


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-GPU memory of one layout, by term, in bytes."""

    terms: dict
    """``weights``, ``master_weights``, ``gradients``, ``optimizer_states``, ``activations``, ``logits``, ``buffers``."""
    allocated: float
    """Peak bytes allocated to tensors (``torch.cuda.max_memory_allocated``)."""
    reserved: float
    """Peak bytes the caching allocator holds (``torch.cuda.max_memory_reserved``)."""
    peak_phase: str

    def breakdown_gib(self) -> dict:
        """Terms in GiB; ``not_resident_at_peak`` (<= 0) removes what is freed before the peak, so the terms add up."""
        gib = {name: value / BYTES_PER_GIB for name, value in self.terms.items()}
        gib["not_resident_at_peak"] = (self.allocated - sum(self.terms.values())) / BYTES_PER_GIB
        gib["overhead"] = (self.reserved - self.allocated) / BYTES_PER_GIB
        gib["total_per_gpu"] = self.reserved / BYTES_PER_GIB
        return {name: round(value, 3) for name, value in gib.items()}


def _states(job: Job, layout: Layout) -> dict:
    """Weights, master weights, gradients and optimizer states per GPU, and which are transient."""
    arch, d, z = job.arch, layout.data_parallel, layout.zero_stage
    mp = layout.model_parallel
    trainable = trainable_params(arch, job.method, job.lora_rank) / mp
    shard = lambda stage: d if z >= stage else 1  # noqa: E731
    opt = optimizer_bytes(job) / mp / shard(1)
    c = job.compute_bytes
    if job.frozen_base:
        adapter = FP32_BYTES if job.is_mixed else c
        return {"weights": (base_weight_bytes(job) / mp + adapter * trainable) / shard(3), "master_weights": 0.0,
                "gradients": adapter * trainable / shard(2), "optimizer_states": opt, "weights_transient": 0.0}
    if _autocast(job, layout):  # fp32 parameters are the master copy; autograd keeps autocast's 16-bit copies
        kept = lm_head_params(arch) if layout.gradient_checkpointing else architecture.matmul_params_per_token(arch)
        copies = c * kept / mp
        return {"weights": 0.0, "master_weights": FP32_BYTES * trainable, "gradients": FP32_BYTES * trainable,
                "optimizer_states": opt, "weights_transient": copies}
    master = FP32_BYTES * trainable / shard(1) if job.is_mixed else 0.0
    grad_bytes = FP32_BYTES if job.is_mixed and z == 3 else c  # FSDP keeps fp32 sharded grads; DeepSpeed 16-bit
    resident = 0.0 if (z == 3 and job.is_mixed) else c * trainable / shard(3)
    return {"weights": resident, "master_weights": master, "gradients": grad_bytes * trainable / shard(2),
            "optimizer_states": opt, "weights_transient": 0.0}


def _buffers(job: Job, layout: Layout, states: dict) -> tuple[float, float]:
    """(persistent, transient) working buffers: DDP gradient buckets, ZeRO-3 gathered units, QLoRA dequantization."""
    persistent = states["gradients"] if layout.zero_stage == 0 and layout.data_parallel > 1 and not job.frozen_base else 0.0
    transient = 0.0
    if layout.zero_stage == 3 and layout.data_parallel > 1:  # gathered units (+ one unit's gradients)
        unit_bytes = base_weight_bytes(job) / architecture.total_params(job.arch) if job.frozen_base else job.compute_bytes
        units = config.default("fsdp_prefetch_units") + (0 if job.frozen_base else 1)
        transient += units * unit_bytes * _unit_params(job, layout)
    if job.method == "qlora":  # each NF4 matrix is dequantized to the compute dtype just before its matmul
        transient += job.compute_bytes * max(i * o for i, o, _ in linear_shapes(job.arch)) / layout.tensor_parallel
    return persistent, transient


def memory_estimate(job: Job, layout: Layout, eff: TrainingEfficiency) -> MemoryEstimate:
    """Peak memory per GPU of ``job`` laid out as ``layout``.

    Peak allocated = resident states + the larger of two moments:
    - the forward/backward boundary (the loss backward): transient weight copies, every kept
      activation and the loss's vocabulary-sized tensors (under recomputation the one rebuilt layer
      comes later, once those are freed);
    - the end of the backward pass: every gradient, plus the rebuilt first layer under recomputation.
    Gradients stay resident throughout when micro-steps accumulate into them or ZeRO-1/2 keeps
    contiguous buffers. DDP (ZeRO-0, several ranks) keeps gradient buckets the size of the gradients
    (``gradient_as_bucket_view=False``, the default). Reserved = allocated x the fitted ratio.
    """
    states = _states(job, layout)
    persistent_buffers, transient_buffers = _buffers(job, layout, states)
    kept, recomputed = activation_bytes(job, layout, eff)
    logits = logits_bytes(job, layout)
    grads = states["gradients"]
    grads_resident = layout.accumulation_steps(job.global_batch_size) > 1 or layout.zero_stage in (1, 2)
    resident = states["weights"] + states["master_weights"] + states["optimizer_states"] + persistent_buffers
    resident += grads if grads_resident else 0.0
    boundary = resident + states["weights_transient"] + transient_buffers + kept + max(logits, recomputed)
    backward_end = resident + (0.0 if grads_resident else grads) + transient_buffers + recomputed
    allocated = max(boundary, backward_end)
    terms = {"weights": states["weights"] + states["weights_transient"], "master_weights": states["master_weights"],
             "gradients": grads, "optimizer_states": states["optimizer_states"], "activations": kept + recomputed,
             "logits": logits, "buffers": persistent_buffers + transient_buffers}
    phase = "forward/backward boundary" if boundary >= backward_end else "end of the backward pass"
    return MemoryEstimate(terms=terms, allocated=allocated, reserved=allocated * eff.reserved_over_allocated,
                          peak_phase=phase)


def usable_memory_gib(gpu: GPUSpec) -> float:
    """Memory a training process can reserve: what the device exposes less the CUDA context."""
    return gpu.memory_gib * config.default("usable_memory_fraction") - config.default("cuda_context_gib")


# --------------------------------------------------------------------------- time


def achievable_matmul_fraction(gpu: GPUSpec) -> float:
    """Measured best BF16 matmul rate over the datasheet peak (MAMF, ``data/gpu_matmul_ceilings.csv``)."""
    return config.matmul_ceiling(gpu.id, "BF16")[0]


def peak_flops(gpu: GPUSpec, precision: str) -> float:
    """Dense tensor-core FLOP/s of the compute precision."""
    return gpu.peak_tflops(config.compute_precision(precision)) * TFLOPS


def link_bytes_s(gpu: GPUSpec, gpus: int) -> float:
    """Per-GPU bandwidth of a collective over ``gpus`` ranks: NVLink within a node, the network past it."""
    if gpus <= gpu.gpus_per_node:
        return gpu.interconnect_gb_s * GB
    table = config.default("internode_gb_s_per_gpu")
    return table.get(gpu.id, table["default"]) * GB


@dataclass(frozen=True)
class StepTime:
    """One optimizer step on one GPU, in seconds."""

    compute_s: float
    """Micro-steps of matmuls, elementwise traffic and fixed per-layer costs, with the pipeline bubble."""
    pipeline_bubble_s: float
    pipeline_p2p_s: float
    """Activations sent forward and gradients back between pipeline stages, on the critical path."""
    tensor_parallel_s: float
    data_parallel_exposed_s: float
    """Data-parallel collectives not hidden behind compute."""
    optimizer_s: float
    total_s: float


def step_time(job: Job, layout: Layout, gpu: GPUSpec, eff: TrainingEfficiency) -> StepTime:
    """Time of one optimizer step (see the module docstring for the terms)."""
    arch = job.arch
    micro_steps = layout.accumulation_steps(job.global_batch_size)
    tokens = layout.micro_batch_size * job.sequence_length
    flops = training_flops_per_token(arch, job.sequence_length, job.method, job.lora_rank,
                                     layout.gradient_checkpointing).hardware
    attention = attention_flops_per_token(arch, job.sequence_length) * (4 if layout.gradient_checkpointing else 3)
    rate = peak_flops(gpu, job.precision) * achievable_matmul_fraction(gpu) * layout.model_parallel
    matmul_s = tokens * ((flops - attention) / eff.matmul + attention / eff.attention) / rate
    micro_s = matmul_s + _elementwise_s(job, layout, gpu, eff, tokens) + dequantize_s(job, layout, gpu)
    micro_s += arch.num_layers / layout.pipeline_parallel * kernels_per_layer(job, layout) * eff.kernel_overhead_us * 1e-6
    micro_s *= stage_imbalance(arch.num_layers, layout.pipeline_parallel)
    bubble_s = (layout.pipeline_parallel - 1) * micro_s
    tp_s = micro_steps * _tensor_parallel_s(job, layout, gpu, tokens)
    p2p_s = (micro_steps + layout.pipeline_parallel - 1) * _pipeline_p2p_s(job, layout, gpu, tokens)
    dp_s = _data_parallel_exposed_s(job, layout, gpu, micro_s, micro_steps)
    opt_s = _optimizer_s(job, layout, gpu)
    compute_s = micro_steps * micro_s + bubble_s
    return StepTime(compute_s=compute_s, pipeline_bubble_s=bubble_s, pipeline_p2p_s=p2p_s, tensor_parallel_s=tp_s,
                    data_parallel_exposed_s=dp_s, optimizer_s=opt_s,
                    total_s=compute_s + p2p_s + tp_s + dp_s + opt_s)


def stage_imbalance(layers: int, stages: int) -> float:
    """The slowest pipeline stage over the mean: every micro-batch waits for the stage with ceil(layers / stages)
    layers (BLOOM's 70 layers over 12 stages: 6 against 5.83)."""
    return math.ceil(layers / stages) / (layers / stages)


def dequantize_s(job: Job, layout: Layout, gpu: GPUSpec) -> float:
    """QLoRA: every NF4 matrix is dequantized before each use (forward, recomputed forward, backward for
    the input gradient): read the NF4 weights, write 16-bit ones, read them in the matmul, at HBM bandwidth.
    A lower bound: bitsandbytes' dequantization kernels reach less than full bandwidth."""
    if job.method != "qlora":
        return 0.0
    linear = sum(i * o * n for i, o, n in linear_shapes(job.arch, active=True)) / layout.model_parallel
    per_pass = linear * (config.default("nf4_bits_per_param") / 8 + 2 * job.compute_bytes)
    passes = 3 if layout.gradient_checkpointing else 2
    return passes * per_pass / (gpu.hbm_bandwidth_gb_s * GB)


def adapter_traffic_bytes_per_token(arch: ModelArchitecture, method: str) -> float:
    """Extra memory traffic of LoRA adapters per token per layer, forward: each adapted matrix reads its
    input in fp32 and writes, scales and adds its fp32 output (PEFT's ``lora_B(lora_A(x)) * scaling``)."""
    if method == "full":
        return 0.0
    return sum(FP32_BYTES * (i + 3 * o) * n for i, o, n in linear_shapes(arch, active=True)) / arch.num_layers


def _elementwise_s(job: Job, layout: Layout, gpu: GPUSpec, eff: TrainingEfficiency, tokens: int) -> float:
    """Memory-bound kernels: traffic proportional to the activations each layer writes and reads back."""
    per_token = _layer_bytes(job, layout) + adapter_traffic_bytes_per_token(job.arch, job.method)
    passes = 4 / 3 if layout.gradient_checkpointing else 1.0  # the recomputed forward moves its share again
    layers = job.arch.num_layers / layout.pipeline_parallel
    traffic = eff.elementwise_traffic * passes * layers * tokens * per_token / layout.tensor_parallel
    return traffic / (gpu.hbm_bandwidth_gb_s * GB)


def kernels_per_layer(job: Job, layout: Layout) -> float:
    """Kernels one layer launches per micro-step: its forward, a backward of twice as many, a recomputed
    forward under checkpointing; LoRA adds each adapter's own (``data/planner_defaults.json``)."""
    adapters = sum(n for _, _, n in linear_shapes(job.arch, active=True)) / job.arch.num_layers if job.frozen_base else 0
    forward = config.default("kernels_per_layer_forward") + adapters * config.default("kernels_per_adapter_forward")
    return forward * (1 + config.default("backward_kernels_per_forward_kernel") + (1 if layout.gradient_checkpointing else 0))


def _tensor_parallel_s(job: Job, layout: Layout, gpu: GPUSpec, tokens: int) -> float:
    """Megatron-LM all-reduces per micro-step: 2 forward + 2 backward per layer (+2 recomputed), ring 2(t-1)/t."""
    t = layout.tensor_parallel
    if t == 1:
        return 0.0
    per_layer = 6 if layout.gradient_checkpointing else 4
    volume = 2 * (t - 1) / t * tokens * job.arch.hidden_size * job.compute_bytes
    return job.arch.num_layers / layout.pipeline_parallel * per_layer * volume / link_bytes_s(gpu, t)


def _pipeline_p2p_s(job: Job, layout: Layout, gpu: GPUSpec, tokens: int) -> float:
    """One micro-batch's stage-to-stage transfers (1F1B: activations forward, their gradients back), each GPU
    sending its 1/t share (sequence parallelism) over NVLink inside a node, the network once stages span nodes."""
    if layout.pipeline_parallel == 1:
        return 0.0
    volume = 2 * tokens * job.arch.hidden_size * job.compute_bytes / layout.tensor_parallel
    return volume / link_bytes_s(gpu, layout.model_parallel)


def _data_parallel_exposed_s(job: Job, layout: Layout, gpu: GPUSpec, micro_s: float, micro_steps: int) -> float:
    """Gradient all-reduce (ZeRO 0-2, once per step, behind the last backward) or ZeRO-3 gathers and
    reduce-scatters (every micro-step, behind its compute); only what exceeds the compute is exposed."""
    d = layout.data_parallel
    if d == 1:
        return 0.0
    trainable = trainable_params(job.arch, job.method, job.lora_rank) / layout.model_parallel
    bandwidth = link_bytes_s(gpu, layout.gpus)
    ring = (d - 1) / d
    if layout.zero_stage == 3:
        per_micro = 3 * ring * job.compute_bytes * architecture.total_params(job.arch) / layout.model_parallel
        return micro_steps * max(0.0, per_micro / bandwidth - micro_s)
    grad_bytes = FP32_BYTES if _autocast(job, layout) else job.compute_bytes
    allreduce_s = 2 * ring * grad_bytes * trainable / bandwidth
    return max(0.0, allreduce_s - 2 / 3 * micro_s)


def _optimizer_s(job: Job, layout: Layout, gpu: GPUSpec) -> float:
    """The optimizer step streams master weights, gradients and states in and out of HBM once."""
    states = _states(job, layout)
    touched = 2 * (states["master_weights"] + states["optimizer_states"]) + states["gradients"]
    touched += states["weights"] if not job.frozen_base else 0.0
    return touched / (gpu.hbm_bandwidth_gb_s * GB)


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Candidate:
    """A layout evaluated on a GPU: its memory, its step time and whether it fits."""

    layout: Layout
    memory: MemoryEstimate
    time: StepTime
    fits: bool


def evaluate(job: Job, layout: Layout, gpu: GPUSpec, eff: TrainingEfficiency) -> Candidate:
    """Memory and step time of one layout."""
    memory = memory_estimate(job, layout, eff)
    return Candidate(layout, memory, step_time(job, layout, gpu, eff), memory_fits(memory, gpu))


def memory_fits(memory: MemoryEstimate, gpu: GPUSpec) -> bool:
    """Predicted peak reserved, plus the planning margin for the model's error, within what a process can reserve."""
    margin = 1 + config.default("training_memory_margin_fraction")
    return memory.reserved * margin / BYTES_PER_GIB <= usable_memory_gib(gpu)


@dataclass(frozen=True)
class Constraints:
    """Layout choices the user fixed (``None``: the planner chooses)."""

    num_gpus: int | None = None
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None
    """``None``: 1, or searched over the divisors of ``num_gpus`` when the count is fixed."""
    zero_stage: int | None = None
    gradient_checkpointing: bool | None = None
    micro_batch_size: int | None = None

    @classmethod
    def of(cls, training: TrainingInput) -> "Constraints":
        return cls(num_gpus=training.num_gpus, tensor_parallel=training.tensor_parallel,
                   pipeline_parallel=training.pipeline_parallel, zero_stage=training.zero_stage,
                   gradient_checkpointing=training.gradient_checkpointing, micro_batch_size=training.micro_batch_size)

    def relaxed(self) -> "Constraints":
        """Only the GPU count kept: what any sharding could do on these GPUs."""
        return Constraints(num_gpus=self.num_gpus, pipeline_parallel=self.pipeline_parallel)


def tensor_parallel_options(arch: ModelArchitecture, gpu: GPUSpec, fixed: int | None) -> list[int]:
    """Degrees within one node that split the attention heads evenly."""
    if fixed is not None:
        return [fixed]
    return [t for t in config.default("tensor_parallel_degrees")
            if t <= gpu.gpus_per_node and arch.num_attention_heads % t == 0]


def pipeline_options(job: Job, cons: Constraints, gpus: int | None) -> list[int]:
    """Pipeline degrees to try: the fixed one; with a fixed GPU count and neither TP nor PP fixed, every divisor of
    it up to the layer count (stages may hold unequal layer counts, as Megatron-DeepSpeed partitions BLOOM's 70
    layers over 12); else 1."""
    if cons.pipeline_parallel is not None:
        return [cons.pipeline_parallel]
    if cons.num_gpus is None or gpus is None or cons.tensor_parallel is not None:
        return [1]
    return [p for p in range(1, min(gpus, job.arch.num_layers) + 1) if gpus % p == 0]


def _shardings(job: Job, gpu: GPUSpec, cons: Constraints, pipeline: int = 1) -> list[tuple[int, int, bool]]:
    """(tensor parallel, ZeRO stage, checkpointing) combinations allowed by the constraints; with pipeline
    parallelism only ZeRO 0-1 (DeepSpeed's pipeline engine refuses ZeRO-2/3, which shard the gradients the
    pipeline accumulates over micro-batches)."""
    zeros = [cons.zero_stage] if cons.zero_stage is not None else [0, 1, 2, 3]
    if pipeline > 1 and cons.zero_stage is None:
        zeros = [0, 1]
    ckpts = [cons.gradient_checkpointing] if cons.gradient_checkpointing is not None else [False, True]
    return [(t, z, c) for t in tensor_parallel_options(job.arch, gpu, cons.tensor_parallel) for z in zeros for c in ckpts]


def _data_parallel_options(job: Job, gpu: GPUSpec, model_parallel: int, num_gpus: int | None) -> list[int]:
    """Data-parallel degrees that divide the global batch and give whole nodes past one node."""
    if num_gpus is not None:
        d = num_gpus // model_parallel
        return [d] if num_gpus % model_parallel == 0 and job.global_batch_size % d == 0 else []
    limit, node = config.default("max_training_gpus"), gpu.gpus_per_node
    return [d for d in _divisors(job.global_batch_size)
            if d * model_parallel <= limit and (d * model_parallel <= node or d * model_parallel % node == 0)]


def _divisors(n: int) -> list[int]:
    """Divisors of ``n``, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _micro_batches(job: Job, data_parallel: int, fixed: int | None) -> list[int]:
    """Micro-batches to try: the fixed one, or powers of two that divide each rank's share of the batch."""
    per_rank = job.global_batch_size // data_parallel
    if fixed is not None:
        return [fixed] if per_rank % fixed == 0 else []
    cap = config.default("training_micro_batch_max")
    return [m for m in (2 ** k for k in range(int(math.log2(cap)) + 1)) if m <= per_rank and per_rank % m == 0]


def _fastest(job: Job, gpu: GPUSpec, eff: TrainingEfficiency, layouts) -> Candidate | None:
    """The fitting candidate with the shortest step among ``layouts`` (ties: fewer GPUs, lower ZeRO stage)."""
    fitting = [c for c in (evaluate(job, lay, gpu, eff) for lay in layouts) if c.fits]
    return min(fitting, key=lambda c: (c.time.total_s, c.layout.gpus, c.layout.zero_stage, c.layout.tensor_parallel),
               default=None)


def _layouts_at(job: Job, gpu: GPUSpec, cons: Constraints, gpus: int) -> list[Layout]:
    """Every allowed layout on exactly ``gpus`` GPUs: TP x PP x DP = gpus with DP dividing the global batch."""
    layouts = []
    for pp in pipeline_options(job, cons, gpus):
        for t, z, ckpt in _shardings(job, gpu, cons, pp):
            for d in _data_parallel_options(job, gpu, t * pp, gpus):
                if z == 0 or d > 1:  # ZeRO shards over data-parallel ranks: stages 1-3 need two or more
                    layouts += [Layout(d, t, pp, z, m, ckpt) for m in _micro_batches(job, d, cons.micro_batch_size)]
    return layouts


def fewest_gpus(job: Job, gpu: GPUSpec, cons: Constraints, eff: TrainingEfficiency) -> int | None:
    """Fewest GPUs on which some allowed layout fits (memory falls as data parallelism grows)."""
    best = None
    micro, pp = cons.micro_batch_size or 1, cons.pipeline_parallel or 1
    for t, z, ckpt in _shardings(job, gpu, cons, pp):
        mp = t * pp
        for d in _data_parallel_options(job, gpu, mp, None):
            if best is not None and d * mp >= best:
                break
            if job.global_batch_size % (d * micro) or (z > 0 and d == 1):
                continue
            if evaluate(job, Layout(d, t, pp, z, micro, ckpt), gpu, eff).fits:
                best = d * mp
                break
    return best


def best_on(job: Job, gpu: GPUSpec, cons: Constraints, eff: TrainingEfficiency, tokens: float,
            deadline_hours: float | None = None, mfu: float | None = None) -> Candidate | None:
    """The planned layout on ``gpu``: the fastest that fits on the fewest GPUs, or on the fewest that
    meet ``deadline_hours``; ``None`` when nothing fits."""
    if cons.num_gpus is not None:
        return _fastest(job, gpu, eff, _layouts_at(job, gpu, cons, cons.num_gpus))
    fewest = fewest_gpus(job, gpu, cons, eff)
    if fewest is None:
        return None
    best = _fastest(job, gpu, eff, _layouts_at(job, gpu, cons, fewest))
    if deadline_hours is None or duration_hours(job, best, gpu, tokens, mfu) <= deadline_hours:
        return best
    for count in _counts_above(job, gpu, cons, fewest):
        candidate = _fastest(job, gpu, eff, _layouts_at(job, gpu, cons, count))
        if candidate is None:
            continue
        best = min(best, candidate, key=lambda c: duration_hours(job, c, gpu, tokens, mfu))
        if duration_hours(job, candidate, gpu, tokens, mfu) <= deadline_hours:
            return candidate
    return best


def _counts_above(job: Job, gpu: GPUSpec, cons: Constraints, fewest: int) -> list[int]:
    """GPU counts past ``fewest`` that some allowed layout can use, ascending."""
    pp = cons.pipeline_parallel or 1
    counts = {d * t * pp for t in tensor_parallel_options(job.arch, gpu, cons.tensor_parallel)
              for d in _data_parallel_options(job, gpu, t * pp, None)}
    return sorted(c for c in counts if c > fewest)


# --------------------------------------------------------------------------- duration


def step_seconds(job: Job, candidate: Candidate, gpu: GPUSpec, mfu: float | None = None) -> float:
    """Step time: the physics (:func:`step_time`), or model FLOPs at a given MFU when the user sets one."""
    if mfu is None:
        return candidate.time.total_s
    flops = training_flops_per_token(job.arch, job.sequence_length, job.method, job.lora_rank).model
    step_flops = flops * job.global_batch_size * job.sequence_length
    return step_flops / (candidate.layout.gpus * peak_flops(gpu, job.precision) * mfu)


def steps_for(job: Job, tokens: float) -> int:
    """Optimizer steps to consume ``tokens`` (the last partial step counts whole)."""
    return math.ceil(tokens / (job.global_batch_size * job.sequence_length))


def duration_hours(job: Job, candidate: Candidate, gpu: GPUSpec, tokens: float, mfu: float | None = None) -> float:
    """Wall-clock hours of the whole job."""
    return steps_for(job, tokens) * step_seconds(job, candidate, gpu, mfu) / SECONDS_PER_HOUR


# --------------------------------------------------------------------------- the planner


QLORA_COMPUTE_PRECISIONS = ("BF16", "FP16", "FP32")
"""What a QLoRA job computes in: its base is stored in 4-bit NF4 whatever the weights' precision."""


def method_precisions(method: str) -> tuple[str, ...]:
    """Precisions a training method can use (QLoRA: the compute precision over its NF4 base)."""
    return QLORA_COMPUTE_PRECISIONS if method == "qlora" else TRAINING_PRECISIONS


def gpu_trains_at(gpu: GPUSpec, precision: str) -> bool:
    """Whether ``gpu`` can train at ``precision`` (FP8 needs FP8 tensor cores)."""
    return precision != "FP8" or "FP8" in gpu.tflops


def make_job(training: TrainingInput, model: ModelConfig, arch: ModelArchitecture) -> tuple[Job, list[str]]:
    """The :class:`Job` a training input describes, with the assumptions its precision rests on."""
    notes = []
    precision = model.precision
    if training.method == "qlora":
        if precision not in QLORA_COMPUTE_PRECISIONS:
            notes.append(f"QLoRA: the base is stored in NF4 whatever --precision says ({precision}); "
                         "it computes in BF16.")
            precision = "BF16"
    elif precision not in TRAINING_PRECISIONS:
        raise InputError("model.precision", precision,
                         f"one of {', '.join(TRAINING_PRECISIONS)} for {training.method} training "
                         "(a 4-bit base is --method qlora)")
    if precision == "FP8":
        notes.append("FP8 training: matmuls at the FP8 tensor-core rate (Transformer Engine style); weights, "
                     "activations and gradients kept in 16 bit.")
    job = Job(arch=arch, method=training.method, precision=precision, mixed_precision=training.mixed_precision,
              optimizer=training.optimizer_type, lora_rank=training.lora_rank,
              sequence_length=training.sequence_length, global_batch_size=training.global_batch_size)
    return job, notes


def plan_training(training: TrainingInput, model: ModelConfig, gpu_cfg: GPUConfig,
                  include_cost: bool = False, cost=None) -> TrainingPlan:
    """Plan a training or fine-tuning job: GPUs, sharding, memory per GPU, duration and cost.

    Parameters
    ----------
    training : TrainingInput
        Tokens, epochs, batch, optimizer, method and any layout choices the user fixed.
    model : ModelConfig
        The model (catalog id, HF config or size) and its precision.
    gpu_cfg : GPUConfig
        The GPU type; ``None`` plans on the cheapest priced GPU that fits (and meets the deadline).
    include_cost : bool
        Attach :class:`models.TrainingCost` (``pricing.quote`` / ``pricing.training_cost``).
    cost : CostOptions, optional
        Cloud, pricing model, region and price overrides.

    Returns
    -------
    TrainingPlan

    Raises
    ------
    InputError
        A precision training cannot use, or a global batch the micro-batch and GPU count cannot split.
    InfeasibleError
        No sharding fits the model on the GPUs allowed; the message says what would.

    Notes
    -----
    GPUs: the fewest on which some layout's predicted peak memory fits (whole nodes past one node);
    at that count the layout with the shortest step; more GPUs while a deadline is missed.
    Duration = steps x step time; step time from :func:`step_time`, or from model FLOPs at
    ``training.mfu`` when given. The recommended GPU is the cheapest (total cost) that fits and meets
    the deadline.
    """
    from config_loader import resolve_model

    model, arch, assumptions = resolve_model(model, default_precision="FP16")
    job, notes = make_job(training, model, arch)
    cons = dataclasses.replace(Constraints.of(training), tensor_parallel=training.tensor_parallel or gpu_cfg.tensor_parallel)
    check_limits(training, arch, cons)
    ask = _Request(job, cons, TrainingEfficiency.fitted(), training.dataset_size_tokens * training.num_epochs,
                   training.deadline_hours, training.mfu, cost)
    _check_batch(ask)
    if gpu_cfg.gpu_type:
        gpu = config.get_gpu(gpu_cfg.gpu_type)
        if not gpu_trains_at(gpu, ask.job.precision):
            raise InputError("model.precision", ask.job.precision, f"a precision {gpu.id} has tensor cores for "
                             "(it has no FP8); choose BF16, or a GPU with FP8 (H100, H200, B200, MI300X)")
        chosen = _option(ask, gpu) or _unfitted_option(ask, gpu)
        recommended = _recommended(ask, chosen)
    else:
        chosen = recommended = _cheapest(ask, _options(ask, _candidate_gpus(ask.job.precision)), arch)
    return _build_plan(ask, chosen, recommended, assumptions + notes, training, model, gpu_cfg, include_cost)


def check_limits(training: TrainingInput, arch: ModelArchitecture, cons: Constraints) -> None:
    """Refuse jobs no cluster runs: more tokens or a larger batch than the plausibility limits
    (``data/planner_defaults.json``), a pipeline deeper than the layers, a tensor-parallel degree that splits heads."""
    tokens, most = training.dataset_size_tokens * training.num_epochs, config.default("max_training_tokens")
    if tokens > most:
        raise InputError("training.dataset_size_tokens x num_epochs", tokens, f"at most {most:.0e} tokens (30x the "
                         "largest published pretraining runs; is --dataset-size in tokens?)")
    batch = config.default("max_global_batch_size")
    if training.global_batch_size > batch:
        raise InputError("training.global_batch_size", training.global_batch_size, f"at most {batch:,} sequences")
    most_gpus = config.default("max_training_gpus")
    if cons.num_gpus and cons.num_gpus > most_gpus:
        raise InputError("training.num_gpus", cons.num_gpus, f"at most {most_gpus:,} GPUs (the largest runs published)")
    if cons.pipeline_parallel and cons.pipeline_parallel > arch.num_layers:
        raise InputError("training.pipeline_parallel", cons.pipeline_parallel,
                         f"at most the model's {arch.num_layers} layers (one stage holds at least one layer)")
    if cons.tensor_parallel and arch.num_attention_heads % cons.tensor_parallel:
        raise InputError("training.tensor_parallel", cons.tensor_parallel,
                         f"a divisor of the model's {arch.num_attention_heads} attention heads")


@dataclass(frozen=True)
class _Request:
    """One planning request: the job, what the user fixed, and what it is judged by."""

    job: Job
    cons: Constraints
    eff: TrainingEfficiency
    tokens: float
    deadline_hours: float | None
    mfu: float | None
    cost: object


@dataclass(frozen=True)
class GPUOption:
    """The planned layout on one GPU type, with its duration and price."""

    gpu: GPUSpec
    candidate: Candidate
    duration_hours: float
    usd_per_gpu_hour: float | None

    @property
    def gpu_hours(self) -> float:
        return self.duration_hours * self.candidate.layout.gpus

    @property
    def total_usd(self) -> float | None:
        return None if self.usd_per_gpu_hour is None else self.gpu_hours * self.usd_per_gpu_hour

    def meets(self, deadline_hours: float | None) -> bool:
        return deadline_hours is None or self.duration_hours <= deadline_hours


def _check_batch(ask: _Request) -> None:
    """With a fixed GPU count the global batch must split into micro-batches over the data-parallel ranks of at
    least one allowed TP x PP split; otherwise refuse, naming the nearest GPU counts that split it."""
    cons, job = ask.cons, ask.job
    if cons.num_gpus is None:
        return
    if _batch_splits(job, cons, cons.num_gpus):
        return
    micro = cons.micro_batch_size or 1
    closest = _nearest_splitting_counts(job, cons)
    hint = f"; {' or '.join(map(str, closest))} GPUs would" if closest else ""
    raise InputError("training.num_gpus", cons.num_gpus,
                     f"a GPU count whose data-parallel ranks (GPUs / tensor parallel / pipeline parallel) divide the "
                     f"global batch of {job.global_batch_size} sequences into micro-batches of {micro}{hint}")


def _nearest_splitting_counts(job: Job, cons: Constraints, reach: int = 1024) -> list[int]:
    """The nearest GPU count below and above ``cons.num_gpus`` (within ``reach``) whose ranks split the batch."""
    below = next((n for n in range(cons.num_gpus - 1, max(0, cons.num_gpus - reach), -1)
                  if _batch_splits(job, cons, n)), None)
    above = next((n for n in range(cons.num_gpus + 1, cons.num_gpus + reach) if _batch_splits(job, cons, n)), None)
    return [n for n in (below, above) if n is not None]


def _batch_splits(job: Job, cons: Constraints, gpus: int) -> bool:
    """Some allowed TP x PP degree leaves ``gpus / (TP x PP)`` data-parallel ranks that split the global batch."""
    micro = cons.micro_batch_size or 1
    degrees = [cons.tensor_parallel] if cons.tensor_parallel else config.default("tensor_parallel_degrees")
    stages = pipeline_options(job, dataclasses.replace(cons, num_gpus=gpus), gpus)
    return any(gpus % (t * p) == 0 and job.global_batch_size % (micro * (gpus // (t * p))) == 0
               for t in degrees for p in stages)


def _node_quote(ask: _Request, gpu: GPUSpec, gpus: int):
    """The cheapest price for instances that hold a whole node's share of the job (``min(gpus, node)``
    GPUs under one NVLink/PCIe domain, as the step-time model assumes); ``None`` where none is listed."""
    import pricing

    per_instance = min(gpus, gpu.gpus_per_node)
    quotes = pricing.offers(gpu.id, ask.cost, gpus_per_replica=per_instance)
    return next((q for q in quotes if q.gpus_per_instance >= per_instance or q.provider == "user"), None)


def _price(ask: _Request, gpu: GPUSpec, gpus: int) -> float | None:
    """USD per GPU-hour for ``gpu`` on instances that hold the job's node (``None``: not listed)."""
    quote = _node_quote(ask, gpu, gpus)
    return None if quote is None else quote.usd_per_gpu_hour


def _option(ask: _Request, gpu: GPUSpec) -> GPUOption | None:
    """The planned layout on ``gpu``, or ``None`` when nothing allowed fits."""
    best = best_on(ask.job, gpu, ask.cons, ask.eff, ask.tokens, ask.deadline_hours, ask.mfu)
    if best is None:
        return None
    return GPUOption(gpu, best, duration_hours(ask.job, best, gpu, ask.tokens, ask.mfu),
                     _price(ask, gpu, best.layout.gpus))


def _candidate_gpus(precision: str) -> list[GPUSpec]:
    """GPU types the planner may choose among: those CUDA/ROCm training stacks run on, at ``precision``."""
    return [g for g in config.list_gpus() if g.vendor in ("NVIDIA", "AMD") and gpu_trains_at(g, precision)]


def _options(ask: _Request, gpus: list[GPUSpec]) -> list[GPUOption]:
    return [o for o in (_option(ask, g) for g in gpus) if o is not None]


def _ranking(ask: _Request):
    """Sort key: meets the deadline, has a price, cheapest, then shortest."""
    return lambda o: (not o.meets(ask.deadline_hours), o.total_usd is None, o.total_usd or 0.0, o.duration_hours)


def _choosable(option: GPUOption) -> bool:
    """GPU types sold as one-GPU machines (GH200) are chosen automatically only for one-GPU jobs: past
    one GPU the step-time model assumes a cluster network those machines are not rented with."""
    return option.gpu.gpus_per_node > 1 or option.candidate.layout.gpus == 1


def _cheapest(ask: _Request, options: list[GPUOption], arch: ModelArchitecture) -> GPUOption:
    priced = [o for o in options if o.usd_per_gpu_hour is not None and _choosable(o)]
    if not priced:
        raise InfeasibleError(f"no priced GPU type fits {arch.name} for this job; name one with --gpu-type")
    return min(priced, key=_ranking(ask))


def _recommended(ask: _Request, chosen: GPUOption) -> GPUOption:
    """The cheapest option over every priced GPU type (the user's choice when nothing is cheaper, or when
    --price-per-gpu-hour prices only the user's GPU)."""
    if ask.cost is not None and ask.cost.price_per_gpu_hour is not None:
        return chosen
    free = dataclasses.replace(ask, cons=dataclasses.replace(ask.cons, num_gpus=None))
    others = [o for o in _options(free, _candidate_gpus(ask.job.precision))
              if o.usd_per_gpu_hour is not None and _choosable(o)]
    best = min(others, key=_ranking(ask), default=chosen)
    if chosen.candidate.fits and chosen.total_usd is not None and _ranking(ask)(best) >= _ranking(ask)(chosen):
        return chosen
    return best


def _unfitted_option(ask: _Request, gpu: GPUSpec) -> GPUOption:
    """Nothing the user allowed fits. With a fixed GPU count and another sharding that would fit on it,
    plan the least-memory allowed layout with ``fits`` false; otherwise raise :class:`InfeasibleError`."""
    fixed_count = ask.cons.num_gpus is not None
    layouts = _layouts_at(ask.job, gpu, ask.cons, ask.cons.num_gpus) if fixed_count else []
    if not layouts or _option(dataclasses.replace(ask, cons=ask.cons.relaxed()), gpu) is None:
        raise InfeasibleError(_nothing_fits(ask, gpu))
    least = min((evaluate(ask.job, lay, gpu, ask.eff) for lay in layouts), key=lambda c: c.memory.reserved)
    return GPUOption(gpu, least, duration_hours(ask.job, least, gpu, ask.tokens, ask.mfu),
                     _price(ask, gpu, least.layout.gpus))


def _nothing_fits(ask: _Request, gpu: GPUSpec) -> str:
    """One line: what does not fit where, and the GPU counts or types on which it would."""
    job, cons = ask.job, ask.cons
    count = cons.num_gpus
    free = Constraints(pipeline_parallel=cons.pipeline_parallel)
    fixed = [f"{name} {value}" for name, value in (("ZeRO stage", cons.zero_stage), ("tensor parallel", cons.tensor_parallel),
             ("checkpointing", cons.gradient_checkpointing), ("micro-batch", cons.micro_batch_size)) if value is not None]
    how = f"with the layout you fixed ({', '.join(fixed)})" if fixed else "even fully sharded (ZeRO-3, tensor parallel, checkpointing)"
    where = f"{count} x {gpu.id}" if count else f"any count of {gpu.id} up to {config.default('max_training_gpus')}"
    hints = []
    here = fewest_gpus(job, gpu, free, ask.eff)
    if here and (count is None or here != count):
        hints.append(f"{here} x {gpu.id}" + (" with the planner choosing the layout" if fixed and here <= (count or here) else ""))
    larger = (g for g in _candidate_gpus(ask.job.precision) if g.memory_gib > gpu.memory_gib)
    for other in sorted(larger, key=lambda g: g.memory_gib):
        n = count if count and best_on(job, other, dataclasses.replace(free, num_gpus=count), ask.eff, ask.tokens) \
            else fewest_gpus(job, other, free, ask.eff)
        if n and len(hints) < 3:
            hints.append(f"{n} x {other.id}")
    fix = (f": it would fit on {' or '.join(hints)}" if hints else
           ": one micro-batch's activations alone exceed a GPU's memory (shorten --sequence-length, or add "
           "--pipeline-parallel)")
    return (f"{job.arch.name} ({job.method}, sequence {job.sequence_length}) does not fit on {where} "
            f"({usable_memory_gib(gpu):.0f} GiB usable per GPU) {how}{fix}")


# --------------------------------------------------------------------------- the plan


def _build_plan(ask: _Request, chosen: GPUOption, recommended: GPUOption, assumptions: list[str],
                training: TrainingInput, model: ModelConfig, gpu_cfg: GPUConfig, include_cost: bool) -> TrainingPlan:
    job, gpu, cand = ask.job, chosen.gpu, chosen.candidate
    layout = cand.layout
    step_s = step_seconds(job, cand, gpu, ask.mfu)
    flops = training_flops_per_token(job.arch, job.sequence_length, job.method, job.lora_rank,
                                     layout.gradient_checkpointing)
    steps = steps_for(job, ask.tokens)
    step_tokens = job.global_batch_size * job.sequence_length
    tokens_per_s = step_tokens / step_s
    peak = layout.gpus * peak_flops(gpu, job.precision)
    cost = _cost(ask, chosen, training.num_epochs) if include_cost else None
    breakdown = cand.memory.breakdown_gib()
    metrics = TrainingMetrics(
        total_tokens=int(round(ask.tokens)), total_flops=flops.model * ask.tokens,
        model_flops_per_token=flops.model, hardware_flops_per_token=flops.hardware,
        tokens_per_second=round(tokens_per_s, 1), tokens_per_second_per_gpu=round(tokens_per_s / layout.gpus, 2),
        mfu=round(flops.model * tokens_per_s / peak, 4), hardware_flops_utilization=round(flops.hardware * tokens_per_s / peak, 4),
        step_time_s=round(step_s, 4), estimated_duration_hours=chosen.duration_hours,
        estimated_duration_days=chosen.duration_hours / 24, gpu_hours=chosen.gpu_hours, steps=steps,
        micro_batch_size=layout.micro_batch_size,
        gradient_accumulation_steps=layout.accumulation_steps(job.global_batch_size), global_batch_tokens=step_tokens,
        time_breakdown_s=_time_breakdown(cand.time, ask.mfu),
        mfu_source="given (--mfu)" if ask.mfu else "predicted from the step-time physics (calibration.fit_training)",
    )
    resources = _resources(ask, chosen, recommended, breakdown)
    return TrainingPlan(
        inputs={}, model=_summary(job, model), memory_breakdown_gib=breakdown, gpu_resources=resources,
        training_metrics=metrics, cost=cost, assumptions=assumptions + _assumptions(ask, chosen),
        warnings=_warnings(ask, chosen, recommended, metrics),
    )


def _time_breakdown(time: StepTime, mfu: float | None) -> dict:
    if mfu is not None:
        return {}
    return {"compute": round(time.compute_s, 4), "pipeline_bubble": round(time.pipeline_bubble_s, 4),
            "pipeline_p2p": round(time.pipeline_p2p_s, 4),
            "tensor_parallel": round(time.tensor_parallel_s, 4),
            "data_parallel_exposed": round(time.data_parallel_exposed_s, 4), "optimizer": round(time.optimizer_s, 4)}


def _resources(ask: _Request, chosen: GPUOption, recommended: GPUOption, breakdown: dict) -> TrainingGPUResources:
    gpu, layout = chosen.gpu, chosen.candidate.layout
    usable = usable_memory_gib(gpu)
    free = dataclasses.replace(ask.cons, num_gpus=None)
    fewest = (fewest_gpus(ask.job, gpu, free, ask.eff)  # with the user's fixed layout, else with the planner's
              or fewest_gpus(ask.job, gpu, Constraints(pipeline_parallel=ask.cons.pipeline_parallel), ask.eff)
              or layout.gpus)
    if recommended.gpu.id == gpu.id:
        reason = "the GPU planned on" if ask.cons.num_gpus else ("the cheapest priced GPU type that fits"
                                                                 + (" and meets the deadline" if ask.deadline_hours else ""))
    else:
        reason = (f"{recommended.candidate.layout.gpus} x {recommended.gpu.id} would cost "
                  f"{_usd(recommended.total_usd)} over {_hours(recommended.duration_hours)}"
                  + (f" against {_usd(chosen.total_usd)} over {_hours(chosen.duration_hours)}"
                     if chosen.total_usd is not None else ""))
    return TrainingGPUResources(
        gpu_type=gpu.id, recommended_gpu=recommended.gpu.id, recommendation_reason=reason,
        required_gpus=layout.gpus, gpus_per_node=min(layout.gpus, gpu.gpus_per_node),
        nodes=math.ceil(layout.gpus / gpu.gpus_per_node), data_parallel=layout.data_parallel,
        tensor_parallel=layout.tensor_parallel, pipeline_parallel=layout.pipeline_parallel,
        zero_stage=layout.zero_stage, gradient_checkpointing=layout.gradient_checkpointing,
        fits=chosen.candidate.fits, sharding=layout.describe(), gpu_memory_gib=round(usable, 2),
        memory_headroom_gib=round(usable - breakdown["total_per_gpu"], 2), min_gpus_for_memory=fewest,
    )


def _cost(ask: _Request, chosen: GPUOption, epochs: float) -> TrainingCost:
    import pricing

    gpus = chosen.candidate.layout.gpus
    quote = _node_quote(ask, chosen.gpu, gpus) or pricing.quote(chosen.gpu.id, ask.cost,
                                                               gpus_per_replica=min(gpus, chosen.gpu.gpus_per_node))
    figures = pricing.training_cost(chosen.gpu_hours, gpus, epochs, quote)
    return TrainingCost(total_training_cost=figures["total_training_cost"], cost_per_epoch=figures["cost_per_epoch"],
                        usd_per_gpu_hour=figures["usd_per_gpu_hour"],
                        whole_instance_total_cost=figures["whole_instance_total_cost"], price=quote)


def _summary(job: Job, model: ModelConfig) -> ModelSummary:
    arch = job.arch
    kv_bytes = architecture.kv_cache_elements_per_token(arch) * config.bytes_per_element(model.effective_kv_precision)
    return ModelSummary(
        id=arch.id, name=arch.name, params_b=round(architecture.total_params(arch) / 1e9, 3),
        active_params_b=round(architecture.active_params(arch) / 1e9, 3), num_layers=arch.num_layers,
        hidden_size=arch.hidden_size, num_attention_heads=arch.num_attention_heads, num_kv_heads=arch.num_kv_heads,
        head_dim=arch.head_dim, intermediate_size=arch.intermediate_size, vocab_size=arch.vocab_size,
        num_experts=arch.num_experts, experts_per_token=arch.experts_per_token,
        kv_cache_kib_per_token=round(kv_bytes / 1024, 2), precision=job.precision,
        kv_precision=model.effective_kv_precision, source=arch.source,
    )


def _assumptions(ask: _Request, chosen: GPUOption) -> list[str]:
    job, gpu, cand = ask.job, chosen.gpu, chosen.candidate
    layout, eff = cand.layout, ask.eff
    c = job.compute_bytes
    states = ("fp32 master weights, fp32 gradients and fp32 optimizer states beside 16-bit compute copies"
              if job.is_mixed and not job.frozen_base else
              f"frozen base in {'NF4 (4.127 bits/param) with 16-bit embeddings' if job.method == 'qlora' else job.precision}, "
              f"rank-{job.lora_rank} adapters on every attention and MLP matrix trained in "
              f"{'fp32' if job.is_mixed else job.precision}" if job.frozen_base else f"everything in {job.precision}")
    fits = "fits" if cand.fits else "does NOT fit"
    lines = [
        f"Sharding: {layout.describe()} on {layout.gpus} x {gpu.id}: the peak memory per GPU "
        f"({cand.memory.reserved / BYTES_PER_GIB:.1f} GiB, at the {cand.memory.peak_phase}) {fits} the "
        f"{usable_memory_gib(gpu):.1f} GiB a process can reserve; "
        + ("the GPU count was fixed (--num-gpus)." if ask.cons.num_gpus else
           "the fewest GPUs on which a layout fits" + (", then more to meet the deadline." if ask.deadline_hours else
                                                        ", with the fastest layout at that count.")),
        f"Memory: {states}; {job.optimizer} states; activations saved per layer for the backward pass "
        f"({'only each layer input kept, one layer recomputed at a time' if layout.gradient_checkpointing else 'all layers kept'}"
        f", flash/SDPA attention); the loss holds micro-batch x sequence x vocabulary logits in {c}-byte plus "
        f"{config.default('logits_fp32_tensors_in_loss')} fp32 copies (transformers' cross-entropy); peak reserved = allocated x "
        f"{eff.reserved_over_allocated:.3f} (PyTorch caching allocator, fitted); CUDA context "
        f"{config.default('cuda_context_gib')} GiB outside it.",
    ]
    if ask.mfu is None:
        lines.append(
            f"Time: matmul FLOPs at {eff.matmul:.0%} and flash attention at {eff.attention:.0%} of {gpu.id}'s achievable "
            f"matmul rate ({achievable_matmul_fraction(gpu):.0%} of its {peak_flops(gpu, job.precision) / TFLOPS:.0f} TFLOPS peak), "
            f"elementwise traffic at HBM bandwidth, {eff.kernel_overhead_us:.1f} us per kernel, 1F1B pipeline bubble, "
            f"tensor-parallel all-reduces, data-parallel collectives overlapped with compute at "
            f"{link_bytes_s(gpu, layout.gpus) / GB:.0f} GB/s per GPU; fitted on H200 measurements and published "
            "Megatron-LM / MosaicML runs (--mode validate shows the errors).")
    else:
        lines.append(f"Time: model FLOPs at the given MFU of {ask.mfu:.0%} of the {job.precision} peak.")
    return lines


def _warnings(ask: _Request, chosen: GPUOption, recommended: GPUOption, metrics: TrainingMetrics) -> list[str]:
    job, cand = ask.job, chosen.candidate
    usable = usable_memory_gib(chosen.gpu)
    warnings = []
    if not cand.fits:
        warnings.append(f"The layout you fixed does not fit: {cand.memory.reserved / BYTES_PER_GIB:.1f} GiB per GPU "
                        f"against {usable:.1f} GiB; another sharding on these GPUs would fit (leave --zero-stage, "
                        "--gradient-checkpointing, --tensor-parallel or --micro-batch-size to the planner).")
    elif cand.memory.reserved / BYTES_PER_GIB > 0.9 * usable:
        warnings.append(f"Peak memory {cand.memory.reserved / BYTES_PER_GIB:.1f} GiB is within 10% of the "
                        f"{usable:.1f} GiB usable: inside the planner's error; keep headroom (smaller micro-batch, "
                        "checkpointing, more GPUs).")
    if ask.deadline_hours and chosen.duration_hours > ask.deadline_hours:
        warnings.append(f"The deadline of {ask.deadline_hours:g} h is not met: {chosen.duration_hours:,.1f} h on "
                        f"{cand.layout.gpus} GPUs is the best found (a global batch of {job.global_batch_size} "
                        "sequences caps data parallelism; raise it, or allow more GPUs).")
    if chosen.duration_hours > config.default("long_training_warning_hours"):
        warnings.append(f"The job runs {chosen.duration_hours / 24:,.0f} days on {cand.layout.gpus} GPUs: the planner "
                        "takes the fewest GPUs that fit; set --deadline-hours (or --num-gpus) for a useful duration.")
    if job.sequence_length > job.arch.max_position_embeddings:
        warnings.append(f"Sequence length {job.sequence_length} is past the model's {job.arch.max_position_embeddings}-token "
                        "window: training extends the context (RoPE scaling) at this cost.")
    bubble = metrics.time_breakdown_s.get("pipeline_bubble", 0.0)
    if bubble > 0.1 * metrics.step_time_s:
        warnings.append(f"Pipeline-bound: {bubble:.2f} s of each {metrics.step_time_s:.2f} s step is the pipeline "
                        f"filling and draining ({metrics.gradient_accumulation_steps} micro-batches over "
                        f"{cand.layout.pipeline_parallel} stages); a larger global batch or fewer stages keep the GPUs busy.")
    exposed = metrics.time_breakdown_s.get("data_parallel_exposed", 0.0)
    if exposed > 0.1 * metrics.step_time_s:
        warnings.append(f"Communication-bound: {exposed:.2f} s of each {metrics.step_time_s:.2f} s step waits on "
                        "data-parallel collectives; larger micro-batches or fewer, larger nodes help.")
    if recommended.gpu.id != chosen.gpu.id:
        warnings.append(f"{recommended.gpu.id} would be cheaper: {recommended.candidate.layout.gpus} GPUs, "
                        f"{_hours(recommended.duration_hours)}, {_usd(recommended.total_usd)}.")
    return warnings


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value < 1000 else f"${value:,.0f}"


def _hours(value: float) -> str:
    return f"{value:,.2f} h" if value < 10 else f"{value:,.1f} h"
