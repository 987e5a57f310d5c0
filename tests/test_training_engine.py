"""Training physics (FLOPs, memory by term, step time), the GPU-count planner, calibration accuracy and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import architecture
import calibration
import measurements
import config
import training_engine as te
from config import BYTES_PER_GIB
from llm_forecast_engine import LLMForecastEngine
from models import GPUConfig, InfeasibleError, InputError, ModelConfig, TrainingInput

EFF = te.TrainingEfficiency.fitted()
H100 = config.get_gpu("H100-80GB")


def job(model="llama-3.1-8b", method="full", precision="BF16", mixed=True, optimizer="AdamW", seq=2048,
        global_batch=64, rank=16, arch=None):
    return te.Job(arch=arch or config.get_model(model), method=method, precision=precision, mixed_precision=mixed,
                  optimizer=optimizer, lora_rank=rank, sequence_length=seq, global_batch_size=global_batch)


def runs_arch(name):
    """A calibration run's model shape (data/calibration/training_runs.json)."""
    shape = {k: v for k, v in measurements.load_training_runs()["shapes"][name].items() if k != "source"}
    from models import ModelArchitecture

    return ModelArchitecture(id=name, name=name, **shape)


# --------------------------------------------------------------------------- FLOPs


def _slow_forward_flops(arch, seq):
    """Obvious reference: 2 FLOPs per multiply-add of every matrix a token meets, plus QK^T and AV."""
    h, layers = arch.hidden_size, arch.num_layers
    q, kv = arch.num_attention_heads * arch.head_dim, arch.num_kv_heads * arch.head_dim
    per_layer = 0
    for rows, cols in [(h, q), (h, kv), (h, kv), (q, h), (h, arch.intermediate_size), (h, arch.intermediate_size),
                       (arch.intermediate_size, h)]:
        per_layer += 2 * rows * cols
    per_layer += 2 * seq * q + 2 * seq * q  # scores and weighted values over the whole sequence
    return layers * per_layer + 2 * h * arch.vocab_size  # LM head


@pytest.mark.parametrize("model,seq", [("llama-3.1-8b", 2048), ("llama-2-70b", 4096), ("qwen2.5-7b", 8192)])
def test_full_training_is_three_forwards_of_the_slow_reference(model, seq):
    arch = config.get_model(model)
    flops = te.training_flops_per_token(arch, seq)
    reference = 3 * _slow_forward_flops(arch, seq)
    assert flops.model == pytest.approx(reference, rel=0.002)  # norms and biases are the only difference
    assert flops.hardware == flops.model


def test_megatron_formula_with_recomputation():
    """Narayanan et al. 2021 eq. (3): 96 B s l h^2 (1 + s/6h + V/16lh) FLOPs per batch with full recomputation."""
    arch = runs_arch("gpt3-175b")
    s, layers, h, vocab = 2048, arch.num_layers, arch.hidden_size, arch.vocab_size
    megatron = 96 * s * layers * h**2 * (1 + s / (6 * h) + vocab / (16 * layers * h)) / s
    ours = te.training_flops_per_token(arch, s, recompute=True).hardware
    assert ours == pytest.approx(megatron, rel=0.01)


def test_six_n_plus_attention_convention():
    """PaLM/MosaicML MFU convention: 6 x matmul params + 12 x layers x hidden x seq."""
    arch = config.get_model("llama-2-7b")
    expected = 6 * architecture.matmul_params_per_token(arch) + 12 * arch.num_layers * arch.hidden_size * 4096
    assert te.training_flops_per_token(arch, 4096).model == pytest.approx(expected)


def test_lora_skips_frozen_weight_gradients():
    arch = config.get_model("llama-3.1-8b")
    full = te.training_flops_per_token(arch, 2048, "full")
    lora = te.training_flops_per_token(arch, 2048, "lora", 16)
    matmul = 2 * architecture.matmul_params_per_token(arch)
    adapters = 2 * te.lora_params(arch, 16)  # adapter forward; their backward is twice that
    assert full.model - lora.model == pytest.approx(matmul - 3 * adapters, rel=1e-9)
    assert 0.64 < lora.model / full.model < 0.70


def test_recomputation_adds_the_layers_forward_not_the_lm_head():
    arch = config.get_model("llama-3.1-8b")
    plain = te.training_flops_per_token(arch, 4096)
    ckpt = te.training_flops_per_token(arch, 4096, recompute=True)
    assert ckpt.model == plain.model
    assert ckpt.hardware - plain.hardware == pytest.approx(plain.model / 3 - 2 * te.lm_head_params(arch))


def test_moe_flops_follow_active_parameters():
    arch = config.get_model("mixtral-8x7b")
    flops = te.training_flops_per_token(arch, 4096).model
    assert flops < 6 * architecture.active_params(arch) * 1.2
    assert flops < 0.5 * 6 * architecture.total_params(arch)


@pytest.mark.parametrize("model,rank,expected", [
    ("llama-3-8b", 16, 41_943_040),  # peft print_trainable_parameters, r=16 on q,k,v,o,gate,up,down
    ("llama-2-7b", 8, 19_988_480),   # 32 x 8 x (4 x 8192 + 3 x 15104)
])
def test_lora_parameter_count(model, rank, expected):
    assert te.lora_params(config.get_model(model), rank) == expected


def test_linear_shapes_cover_every_weight_but_embeddings_and_norms():
    for name in ("llama-3.1-70b", "mixtral-8x7b", "deepseek-v3", "qwen2.5-7b"):
        arch = config.get_model(name)
        matrices = sum(i * o * n for i, o, n in te.linear_shapes(arch))
        rest = architecture.total_params(arch) - architecture.embedding_params(arch) - matrices
        assert 0 <= rest < 0.01 * architecture.total_params(arch), name


# --------------------------------------------------------------------------- memory terms


def _terms(j, layout):
    return te.memory_estimate(j, layout, EFF).terms


def test_mixed_precision_adamw_is_sixteen_bytes_per_parameter():
    j = job()
    n = architecture.total_params(j.arch)
    terms = _terms(j, te.Layout(1))
    assert terms["master_weights"] + terms["gradients"] + terms["optimizer_states"] == pytest.approx(16 * n)


def test_pure_bf16_keeps_everything_in_two_bytes():
    j = job(mixed=False)
    n = architecture.total_params(j.arch)
    terms = _terms(j, te.Layout(1))
    assert (terms["weights"], terms["master_weights"], terms["gradients"], terms["optimizer_states"]) == \
        pytest.approx((2 * n, 0, 2 * n, 4 * n))


@pytest.mark.parametrize("optimizer,bytes_per_param", [("AdamW", 8), ("Adam", 8), ("SGD", 4), ("AdamW-8bit", 2.004)])
def test_optimizer_states(optimizer, bytes_per_param):
    j = job(optimizer=optimizer)
    assert te.optimizer_bytes(j) == pytest.approx(bytes_per_param * architecture.total_params(j.arch), rel=1e-3)


def test_adafactor_factors_its_second_moment():
    j = job(optimizer="Adafactor")
    assert te.optimizer_bytes(j) < 0.01 * 8 * architecture.total_params(j.arch)


SHARDED = [  # (zero stage, terms divided by the 8 data-parallel ranks)
    (1, {"master_weights", "optimizer_states"}),
    (2, {"master_weights", "optimizer_states", "gradients"}),
    (3, {"master_weights", "optimizer_states", "gradients"}),
]


@pytest.mark.parametrize("stage,divided", SHARDED, ids=[f"zero{s}" for s, _ in SHARDED])
def test_zero_stages_shard_what_they_should(stage, divided):
    j = job()
    one = _terms(j, te.Layout(2, zero_stage=stage))
    eight = _terms(j, te.Layout(16, zero_stage=stage))
    for name in ("master_weights", "gradients", "optimizer_states", "activations", "logits"):
        ratio = eight[name] / one[name]
        assert ratio == pytest.approx(2 / 16 if name in divided else 1.0), name


def test_zero3_holds_only_gathered_units_of_the_weights():
    j = job(model="llama-3.1-70b")
    ddp = _terms(j, te.Layout(8, zero_stage=1))
    fsdp = _terms(j, te.Layout(8, zero_stage=3))
    assert ddp["weights"] == pytest.approx(2 * architecture.total_params(j.arch))
    assert fsdp["weights"] == 0 and fsdp["buffers"] < 0.1 * ddp["weights"]


def test_tensor_parallel_splits_states_activations_and_logits():
    j = job(model="llama-3.1-70b")
    one, four = _terms(j, te.Layout(1, zero_stage=0)), _terms(j, te.Layout(1, tensor_parallel=4, zero_stage=0))
    for name in ("master_weights", "optimizer_states", "activations", "logits"):
        assert four[name] == pytest.approx(one[name] / 4), name


def test_checkpointing_keeps_only_layer_inputs():
    j = job(mixed=False)
    full = _terms(j, te.Layout(1, micro_batch_size=4))["activations"]
    ckpt = _terms(j, te.Layout(1, micro_batch_size=4, gradient_checkpointing=True))["activations"]
    layer_inputs = 4 * 2048 * j.arch.num_layers * j.arch.hidden_size * 2
    assert ckpt < full / 5
    assert ckpt > layer_inputs


def test_attention_without_flash_keeps_the_probabilities():
    """Eager attention saves the softmax in fp32 and its 16-bit copy: heads x seq per token, per layer."""
    arch = config.get_model("llama-3.1-8b")
    kwargs = dict(compute_bytes=2, residual_bytes=2, frozen_base=False, autocast=False, sequence_length=4096)
    flash = te.layer_activation_bytes_per_token(arch, flash_attention=True, **kwargs)
    eager = te.layer_activation_bytes_per_token(arch, flash_attention=False, **kwargs)
    assert eager - flash == pytest.approx((4 + 2) * arch.num_attention_heads * 4096)


def test_logits_are_micro_batch_x_seq_x_vocab_x_fourteen_bytes():
    j = job()
    logits = _terms(j, te.Layout(1, micro_batch_size=2))["logits"]
    assert logits == pytest.approx(2 * 2048 * j.arch.vocab_size * (2 + 3 * 4))


def test_qlora_base_is_nf4_with_16_bit_embeddings():
    j = job(method="qlora")
    arch = j.arch
    linear = sum(i * o * n for i, o, n in te.linear_shapes(arch))
    other = architecture.total_params(arch) - linear
    assert te.base_weight_bytes(j) == pytest.approx(linear * 4.127 / 8 + other * 2)
    assert te.base_weight_bytes(j) < 0.4 * te.base_weight_bytes(job(method="lora"))


def test_breakdown_adds_up_to_the_total():
    for layout in (te.Layout(1, micro_batch_size=4), te.Layout(8, zero_stage=3, gradient_checkpointing=True),
                   te.Layout(2, tensor_parallel=4, zero_stage=2, micro_batch_size=2)):
        gib = te.memory_estimate(job(), layout, EFF).breakdown_gib()
        parts = sum(v for k, v in gib.items() if k != "total_per_gpu")
        assert parts == pytest.approx(gib["total_per_gpu"], abs=0.01)
        assert gib["not_resident_at_peak"] <= 0 and gib["overhead"] >= 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=st.sampled_from([512, 1024, 2048, 4096, 8192]), micro=st.sampled_from([1, 2, 4]),
       zero=st.integers(0, 3), ckpt=st.booleans(), method=st.sampled_from(["full", "lora", "qlora"]))
def test_longer_sequences_and_bigger_micro_batches_never_need_less_memory(seq, micro, zero, ckpt, method):
    """(With gradient accumulation in both: a single micro-step frees the gradients before the forward.)"""
    base = te.Layout(8, zero_stage=zero, micro_batch_size=micro, gradient_checkpointing=ckpt)
    peak = te.memory_estimate(job(method=method, seq=seq, global_batch=1024), base, EFF).reserved
    assert te.memory_estimate(job(method=method, seq=2 * seq, global_batch=1024), base, EFF).reserved >= peak
    assert te.memory_estimate(job(method=method, seq=seq, global_batch=1024),
                              dataclasses.replace(base, micro_batch_size=2 * micro), EFF).reserved >= peak


def test_accumulating_gradients_stay_resident_through_the_forward():
    layout = te.Layout(8, micro_batch_size=8)
    one_step = te.memory_estimate(job(seq=512, global_batch=64), layout, EFF)
    accumulating = te.memory_estimate(job(seq=512, global_batch=128), layout, EFF)
    assert accumulating.allocated - one_step.allocated == pytest.approx(one_step.terms["gradients"])


@settings(max_examples=30, deadline=None)
@given(d=st.sampled_from([2, 4, 8, 16, 32]), stage=st.integers(1, 3))
def test_more_data_parallel_ranks_never_need_more_memory_per_gpu(d, stage):
    j = job(model="llama-3.1-70b")
    small = te.memory_estimate(j, te.Layout(d, zero_stage=stage, gradient_checkpointing=True), EFF).reserved
    big = te.memory_estimate(j, te.Layout(2 * d, zero_stage=stage, gradient_checkpointing=True), EFF).reserved
    assert big <= small


# --------------------------------------------------------------------------- time


def test_step_time_scales_with_tokens_and_pipeline_bubble():
    j = job(global_batch=64)
    one = te.step_time(j, te.Layout(8, zero_stage=3, micro_batch_size=2), H100, EFF)
    bigger = te.step_time(dataclasses.replace(j, global_batch_size=128), te.Layout(8, zero_stage=3, micro_batch_size=2), H100, EFF)
    assert bigger.compute_s == pytest.approx(2 * one.compute_s, rel=1e-6)
    piped = te.step_time(j, te.Layout(2, pipeline_parallel=4, micro_batch_size=2), H100, EFF)
    micro_steps = 64 // (2 * 2)
    assert piped.pipeline_bubble_s == pytest.approx((4 - 1) * (piped.compute_s - piped.pipeline_bubble_s) / micro_steps)


def test_a100_is_slower_than_h100():
    j, layout = job(), te.Layout(8, zero_stage=3, micro_batch_size=4)
    assert te.step_time(j, layout, config.get_gpu("A100-80GB"), EFF).total_s > 2 * te.step_time(j, layout, H100, EFF).total_s


def test_zero3_over_a_slow_network_is_communication_bound():
    j = job(model="llama-3.1-70b", seq=4096)
    layout = te.Layout(64, zero_stage=3, gradient_checkpointing=True)
    time = te.step_time(j, layout, H100, EFF)
    assert time.data_parallel_exposed_s > 0


# --------------------------------------------------------------------------- calibration


SUMMARY = calibration.summarize(calibration.validate_training())


@pytest.mark.parametrize("quantity,limit", [
    ("training_peak_memory_gib", 10.0),      # H200 peak reserved (fitted: activation scale, allocator ratio)
    ("training_tokens_per_s", 20.0),         # H200 tokens/s
    ("training_tokens_per_s_per_gpu", 20.0),  # MosaicML llm-foundry tokens/s/GPU
    ("training_tflops_per_gpu", 20.0),       # Megatron-LM TFLOP/s per GPU
    ("training_mfu", 20.0),                  # MosaicML MFU (not fitted on: same runs as the tokens/s rows)
    ("training_gpu_hours", 20.0),            # Llama 2 GPU-hours (never fitted on)
])
def test_calibration_median_errors(quantity, limit):
    assert SUMMARY[quantity]["median_abs_error_pct"] <= limit, SUMMARY[quantity]


def test_every_training_row_is_validated_or_explained():
    runs = measurements.load_training_runs()
    ids = {r["id"] for r in calibration.validate_training()}
    published = {r["id"] for r in measurements.load_published()
                 if r["category"] in ("training_time", "training_mfu", "finetune_memory")}
    assert published <= ids | set(runs["not_validated"])
    assert len([i for i in ids if i.startswith("H200-train")]) == 2 * len(measurements.load_h200()["train"])


def test_stored_training_fit_is_what_the_fit_produces():
    stored = config.fitted_parameters("training_fit.json")
    refit = calibration.fit_training().__dict__
    for name, value in stored.items():
        assert refit[name] == pytest.approx(value, rel=0.02, abs=0.02), name


def test_fitted_efficiencies_are_physical():
    assert 0.4 <= EFF.matmul <= 1.0 and 0.2 <= EFF.attention <= 1.0
    assert 0.8 <= EFF.activation_scale <= 1.25 and 1.0 <= EFF.reserved_over_allocated <= 1.2
    assert 0 <= EFF.kernel_overhead_us <= 20


@pytest.mark.parametrize("group", ["A100 (fit on H100/H200)", "H100/H200 (fit on A100)",
                                   "H200 measurements (fit on published)", "pipeline parallel (fit on the rest)",
                                   "LoRA (fit on full training)", "pure BF16 (fit on mixed precision)"])
def test_held_out_groups_within_twenty_five_percent(group):
    report = calibration.cross_validate_training({group: calibration.TRAINING_HOLDOUT_GROUPS[group]})
    assert report[group]["median_abs_error_pct"] <= 25.0, report


# --------------------------------------------------------------------------- the planner


SEED_TRAINING = dict(dataset_size_tokens=1_000_000_000, sequence_length=4096, num_epochs=3, global_batch_size=64)


def plan(model=None, gpu="H100-80GB", include_cost=False, **training):
    model = model or ModelConfig(model_size_billions=70, precision="BF16")
    return LLMForecastEngine().generate_training_plan(TrainingInput(**{**SEED_TRAINING, **training}), model,
                                                      GPUConfig(gpu_type=gpu), include_cost=include_cost)


def test_seed_example_fits_on_h100_and_says_how():
    p = plan(optimizer_type="AdamW", gradient_checkpointing=True, include_cost=True)
    res, mem = p.gpu_resources, p.memory_breakdown_gib
    assert res.fits and res.gpu_type == "H100-80GB"
    assert mem["total_per_gpu"] + config.default("cuda_context_gib") <= 80 * config.default("usable_memory_fraction")
    params = p.model.params_b * 1e9
    assert res.required_gpus >= 16 * params / (80 * BYTES_PER_GIB)  # 16 bytes/param cannot fit on fewer
    assert res.required_gpus == res.nodes * res.gpus_per_node
    assert res.zero_stage == 3 or res.tensor_parallel > 1
    assert any(line.startswith("Sharding:") and "ZeRO-3" in line for line in p.assumptions)
    assert p.cost.total_training_cost == pytest.approx(p.cost.cost_per_epoch * 3)
    assert p.cost.total_training_cost == pytest.approx(p.training_metrics.gpu_hours * p.cost.usd_per_gpu_hour)


def test_seed_api_snippet_runs_as_written():
    engine = LLMForecastEngine()
    model = ModelConfig(model_size_billions=70, precision="FP16")
    training = TrainingInput(dataset_size_tokens=1_000_000_000, sequence_length=4096, num_epochs=3, global_batch_size=64)
    training_plan = engine.generate_training_plan(training, model, include_cost=True)
    assert training_plan.gpu_resources.required_gpus >= 1
    assert training_plan.training_metrics.estimated_duration_hours > 0
    assert training_plan.cost.total_training_cost > 0
    assert training_plan.gpu_resources.fits
    json.dumps(training_plan.to_dict(), default=str)


def test_plan_contract_keys():
    d = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), method="lora").to_dict()
    assert {"inputs", "model", "assumptions", "warnings", "memory_breakdown_gib", "gpu_resources",
            "training_metrics", "cost"} <= set(d)
    assert {"weights", "gradients", "optimizer_states", "activations", "overhead", "total_per_gpu",
            "master_weights", "logits"} <= set(d["memory_breakdown_gib"])
    assert {"gpu_type", "required_gpus", "gpus_per_node", "nodes", "data_parallel", "tensor_parallel",
            "pipeline_parallel", "zero_stage", "fits"} <= set(d["gpu_resources"])
    assert {"total_tokens", "total_flops", "tokens_per_second", "mfu", "estimated_duration_hours", "gpu_hours",
            "steps", "micro_batch_size", "gradient_accumulation_steps"} <= set(d["training_metrics"])
    metrics = d["training_metrics"]
    assert metrics["gradient_accumulation_steps"] * metrics["micro_batch_size"] * d["gpu_resources"]["data_parallel"] == 64


def test_full_fine_tune_of_8b_does_not_fit_one_80gb_gpu():
    p = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), sequence_length=2048)
    assert p.gpu_resources.required_gpus >= 2


def test_lora_fits_where_full_training_does_not():
    p = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), method="lora", sequence_length=2048)
    assert p.gpu_resources.required_gpus == 1 and p.gpu_resources.fits


def test_qlora_puts_a_70b_model_on_one_gpu():
    p = plan(model=ModelConfig(model="llama-3.1-70b", precision="BF16"), method="qlora", sequence_length=2048,
             global_batch_size=16)
    assert p.gpu_resources.required_gpus == 1 and p.gpu_resources.fits
    assert p.memory_breakdown_gib["weights"] < 45


def test_deadline_asks_for_more_gpus():
    base = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), method="lora", sequence_length=2048)
    hours = base.training_metrics.estimated_duration_hours
    fast = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), method="lora", sequence_length=2048,
                deadline_hours=hours / 5)
    assert fast.gpu_resources.required_gpus >= 5
    assert fast.training_metrics.estimated_duration_hours <= hours / 5


def test_mfu_override_sets_the_duration():
    p = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), mfu=0.4, num_gpus=8)
    m = p.training_metrics
    peak = 8 * config.get_gpu("H100-80GB").peak_tflops("BF16") * 1e12
    assert m.mfu == pytest.approx(0.4, rel=1e-3)
    assert m.estimated_duration_hours == pytest.approx(m.steps * 64 * 4096 * m.model_flops_per_token / (peak * 0.4) / 3600)


def test_fixed_gpu_count_reports_a_layout_that_does_not_fit():
    p = plan(model=ModelConfig(model="llama-3.1-8b", precision="BF16"), num_gpus=8, zero_stage=0, tensor_parallel=1,
             gradient_checkpointing=False, micro_batch_size=8)
    assert not p.gpu_resources.fits and p.gpu_resources.required_gpus == 8
    assert any("does not fit" in w for w in p.warnings)


def test_bloom_layout_is_found_on_384_gpus():
    """BLOOM-176B trained on 384 A100-80GB with Megatron-DeepSpeed: TP 4, PP 12, DP 8, ZeRO-1, global batch 2048
    sequences of 2048 (Le Scao et al. 2022, arXiv:2211.05100 section 3.4.2; bigscience/bloom model card). With
    --num-gpus 384 and no TP/PP the planner searches TP x PP x DP = 384; the layout it returns must be that one or
    one its own step-time model finds at least as fast."""
    training = dict(dataset_size_tokens=366_000_000_000, sequence_length=2048, num_epochs=1, global_batch_size=2048,
                    num_gpus=384)
    p = plan(model=ModelConfig(model="bloom-176b", precision="BF16"), gpu="A100-80GB", **training)
    res = p.gpu_resources
    assert res.fits and res.data_parallel * res.tensor_parallel * res.pipeline_parallel == 384
    assert 2048 % (res.data_parallel * p.training_metrics.micro_batch_size) == 0
    job, _ = te.make_job(TrainingInput(**{**SEED_TRAINING, **training}), ModelConfig(model="bloom-176b", precision="BF16"),
                         config.get_model("bloom-176b"))
    bloom = min((te.evaluate(job, te.Layout(8, 4, 12, z, m, c), config.get_gpu("A100-80GB"), EFF)
                 for z in (0, 1) for m in (1, 2) for c in (False, True)),
                key=lambda cand: (not cand.fits, cand.time.total_s))
    assert bloom.fits
    assert p.training_metrics.step_time_s <= round(bloom.time.total_s, 4)
    assert (res.tensor_parallel, res.pipeline_parallel, res.data_parallel) == (4, 12, 8)


def test_pipeline_search_respects_fixed_degrees():
    """A fixed pipeline degree is kept; ZeRO-2/3 are not combined with pipeline stages (DeepSpeed refuses it)."""
    p = plan(model=ModelConfig(model="llama-3.1-70b", precision="BF16"), num_gpus=32, pipeline_parallel=4)
    assert p.gpu_resources.pipeline_parallel == 4 and p.gpu_resources.zero_stage <= 1
    assert p.inputs["training"]["pipeline_parallel"] == 4


def test_stage_imbalance_counts_the_fullest_stage():
    assert te.stage_imbalance(70, 12) == pytest.approx(6 / (70 / 12))
    assert te.stage_imbalance(80, 8) == 1.0


def test_no_cost_without_include_cost():
    assert plan(model=ModelConfig(model="llama-3.1-8b"), method="lora").cost is None


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(num_gpus=8, model=ModelConfig(model="llama-3.1-405b", precision="BF16")), InfeasibleError, "would fit on"),
    (dict(num_gpus=194), InputError, "192 or 196 GPUs would"),
    (dict(model=ModelConfig(model="llama-3.1-8b", precision="INT4")), InputError, "qlora"),
], ids=["405b-on-8", "batch-not-divisible", "int4-full"])
def test_planner_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        plan(**kwargs)


# --------------------------------------------------------------------------- CLI


TRAIN_FLAGS = ["--mode", "training", "--dataset-size", "1000000000", "--sequence-length", "4096", "--epochs", "3",
               "--global-batch-size", "64", "--model-size", "70", "--precision", "BF16", "--optimizer", "AdamW",
               "--gradient-checkpointing", "--gpu-type", "H100-80GB"]


def test_seed_training_command_writes_the_plan(cli, tmp_path):
    out = tmp_path / "training_plan.json"
    result = cli(*TRAIN_FLAGS, "--cost", "--output", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    saved = json.loads(out.read_text())
    assert saved == json.loads(result.stdout)
    assert saved["gpu_resources"]["fits"] and saved["cost"]["cost_per_epoch"] > 0


def test_generate_training_config_then_run(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("--generate-config", "training").exit_code == 0
    result = cli("--config", "training_config.json", "--method", "lora", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inputs"]["training"]["method"] == "lora"


BAD_TRAINING = [
    (["--dataset-size", "0"], "--dataset-size"),
    (["--sequence-length", "-4"], "--sequence-length"),
    (["--epochs", "0"], "--epochs"),
    (["--optimizer", "Lion"], "training.optimizer_type"),
    (["--method", "dora"], "training.method"),
    (["--micro-batch-size", "3"], "multiple of micro_batch_size"),
    (["--num-gpus", "194"], "192 or 196 GPUs would"),
    (["--zero-stage", "4"], "training.zero_stage"),
    (["--mfu", "1.5"], "training.mfu"),
    (["--precision", "INT8"], "model.precision"),
    (["--num-gpus", "2"], "would fit on"),
    (["--num-gpus", "8", "--tensor-parallel", "3"], "training.num_gpus"),
]


@pytest.mark.parametrize("extra,message", BAD_TRAINING, ids=[" ".join(b[0]) for b in BAD_TRAINING])
def test_bad_training_input_is_one_line_exit_2_no_file(cli, tmp_path, extra, message):
    out = tmp_path / "plan.json"
    result = cli(*TRAIN_FLAGS, *extra, "--output", str(out))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_validate_mode_includes_training_rows(cli):
    result = cli("--mode", "validate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["training_peak_memory_gib"]["median_abs_error_pct"] <= 10
    assert math.isfinite(summary["training_gpu_hours"]["median_abs_error_pct"])
