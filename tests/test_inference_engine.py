"""Serving physics and the replica planner."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import architecture
import config
import inference_engine as ie
from llm_forecast_engine import LLMForecastEngine
from models import GPUConfig, InfeasibleError, InputError, LLMWorkloadInput, ModelConfig

EFF = ie.Efficiency.fitted()


def dep(model="llama-3.1-8b", gpu="H100-80GB", precision="FP16", kv="FP16", tp=1):
    return ie.deployment(config.get_model(model), config.get_gpu(gpu), precision, kv, tp)


# --------------------------------------------------------------------------- memory


def test_fp16_weights_are_two_bytes_per_parameter():
    arch = config.get_model("llama-3.1-70b")
    assert ie.weight_bytes(arch, "FP16") == pytest.approx(2 * architecture.total_params(arch))


def test_int4_keeps_embeddings_in_16_bit():
    arch = config.get_model("llama-3.1-8b")
    embed = architecture.embedding_params(arch)
    linear = architecture.total_params(arch) - embed
    assert ie.weight_bytes(arch, "INT4") == pytest.approx(linear * (0.5 + 4 / 128) + embed * 2)


def test_tensor_parallel_splits_weights_and_kv():
    one, four = dep(tp=1), dep(tp=4)
    assert four.resident_weight_bytes == pytest.approx(one.resident_weight_bytes / 4)
    assert four.kv_bytes_per_token == pytest.approx(one.kv_bytes_per_token / 4)


def test_kv_heads_are_replicated_past_their_count():
    """Llama-3.1-8B has 8 KV heads: at TP 8 each GPU holds one; the split cannot go further."""
    assert ie.kv_shards(config.get_model("llama-3.1-8b"), 8) == 8
    assert ie.kv_shards(config.get_model("qwen2.5-7b"), 8) == 4  # 4 KV heads
    assert ie.kv_shards(config.get_model("deepseek-v3"), 8) == 1  # MLA latent is not split


def test_max_concurrency_follows_the_kv_budget():
    d = dep(gpu="H200-141GB")
    budget = ie.kv_budget_bytes(d, 0.9)
    per_seq = d.kv_bytes_per_token * 2048
    assert ie.max_concurrency(d, 0.9, 2048) == min(int(budget / per_seq), config.default("max_num_seqs"))
    assert ie.max_concurrency(d, 0.9, 32768) < ie.max_concurrency(d, 0.9, 2048)


def test_model_too_big_has_no_kv_budget():
    assert ie.max_concurrency(dep(model="llama-3.1-70b", gpu="A100-80GB"), 0.9, 1024) == 0


# --------------------------------------------------------------------------- time


def test_decode_is_bandwidth_bound_at_batch_one():
    """Batch 1: the step is about weights / (bandwidth x efficiency) plus the fixed per-layer cost."""
    d = dep(gpu="H100-80GB")
    step = ie.decode_step_s(d, EFF, 1, 128)
    stream = d.dense_weight_bytes / (d.bandwidth_bytes_s * EFF.weight_bandwidth)
    assert stream < step < stream * 1.5


@pytest.mark.parametrize("batch", [1, 8, 64, 256])
def test_decode_step_grows_with_batch_and_context(batch):
    d = dep()
    assert ie.decode_step_s(d, EFF, batch * 2, 1024) > ie.decode_step_s(d, EFF, batch, 1024)
    assert ie.decode_step_s(d, EFF, batch, 4096) > ie.decode_step_s(d, EFF, batch, 1024)


def test_tensor_parallel_speeds_up_a_big_model_at_batch_one():
    t1 = ie.decode_step_s(dep(model="llama-3.1-70b", gpu="H200-141GB", tp=2), EFF, 1, 512)
    t8 = ie.decode_step_s(dep(model="llama-3.1-70b", gpu="H200-141GB", tp=8), EFF, 1, 512)
    assert t8 < t1 / 2


def test_prefill_is_compute_bound_for_long_prompts():
    d = dep(gpu="H100-80GB")
    flops = 2 * (d.matmul_params - d.lm_head_params) * 8192
    ideal = flops / (d.peak_flops * EFF.matmul)
    assert ie.prefill_s(d, EFF, 8192) > ideal


def test_fp8_is_faster_than_fp16_when_compute_bound():
    fp16, fp8 = dep(precision="FP16"), dep(precision="FP8", kv="FP8")
    assert ie.prefill_s(fp8, EFF, 4096) < ie.prefill_s(fp16, EFF, 4096)


@pytest.mark.parametrize("tokens,expected", [(1, 2), (1000, 8)])
def test_moe_experts_touched(tokens, expected):
    """One token touches k experts; a large batch touches all of them (Mixtral: 8 experts, top-2)."""
    assert ie.experts_touched(8, 2, tokens) == pytest.approx(expected, rel=1e-3)


def test_moe_decode_reads_fewer_weights_than_resident():
    d = dep(model="mixtral-8x7b", tp=2)
    assert ie.streamed_weight_bytes(d, 1) < 0.4 * d.resident_weight_bytes
    assert ie.streamed_weight_bytes(d, 512) == pytest.approx(d.resident_weight_bytes, rel=0.05)


# --------------------------------------------------------------------------- the planner

ENGINE = LLMForecastEngine()
SEED_WORKLOAD = LLMWorkloadInput(requests_per_second=10.0, avg_input_tokens=500, avg_output_tokens=200)
SEED_MODEL = ModelConfig(model_size_billions=70, precision="FP16")


def test_seed_example_is_defensible():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, SEED_MODEL, GPUConfig(gpu_type="A100-80GB"), include_cost=True)
    res = plan.gpu_resources
    assert res.gpu_type == "A100-80GB"
    assert res.total_gpus == res.replicas * res.gpus_per_replica
    # 70B FP16 is ~140 GB of weights: it needs TP >= 2 on 80 GB GPUs, and far fewer than the seed's 236 GPUs
    assert res.tensor_parallel >= 2 and res.total_gpus <= 40
    assert res.memory_breakdown_gib["weights"] / res.tensor_parallel < res.gpu_memory_gib
    assert plan.throughput.max_rps_capacity >= SEED_WORKLOAD.peak_rps
    assert plan.cost.monthly_gpu_cost > 0
    assert any("Only a size was given" in a for a in plan.assumptions)


def test_planned_capacity_covers_peak_at_target_utilization():
    gpu = GPUConfig(gpu_type="H100-80GB", target_gpu_utilization=0.6)
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-70b"), gpu)
    capacity = plan.gpu_resources.replicas * plan.throughput.max_rps_per_replica * 0.6
    assert capacity >= SEED_WORKLOAD.peak_rps * (1 - 1e-6)
    fewer = (plan.gpu_resources.replicas - 1) * plan.throughput.max_rps_per_replica * 0.6
    assert fewer < SEED_WORKLOAD.peak_rps


def test_itl_target_costs_replicas():
    loose = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"))
    tight_workload = LLMWorkloadInput(requests_per_second=10.0, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=9)
    tight = ENGINE.generate_inference_plan(tight_workload, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"))
    assert tight.latency.itl_ms <= 9
    assert tight.gpu_resources.total_gpus >= loose.gpu_resources.total_gpus


def test_impossible_latency_target_is_infeasible():
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=0.5)
    with pytest.raises(InfeasibleError, match="latency targets"):
        ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"))


def test_model_that_fits_nowhere_says_how_much_it_needs():
    with pytest.raises(InfeasibleError, match=r"needs at least [\d.]+ GiB per replica"):
        ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-405b"), GPUConfig(gpu_type="T4"))


def test_context_beyond_window_is_refused():
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=4000, avg_output_tokens=500)
    with pytest.raises(InputError, match="context window"):
        ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-2-7b"), GPUConfig(gpu_type="H100"))


def test_tensor_parallel_must_divide_heads():
    with pytest.raises(InputError, match="divides"):
        ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"),
                                       GPUConfig(gpu_type="H100", tensor_parallel=3))


def test_fixed_batch_sets_the_operating_point():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b", batch_size=16),
                                          GPUConfig(gpu_type="H100"))
    d = dep(gpu="H100-80GB")
    step = ie.serving_step_s(d, EFF, 16, 500, 200)
    assert plan.throughput.batch_size == 16
    assert plan.latency.itl_ms == pytest.approx(step * 1e3, rel=1e-3)
    assert plan.gpu_resources.max_concurrency_per_replica == 16


def test_planner_picks_cheapest_gpu_when_none_named():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"), GPUConfig(), include_cost=True)
    options = ENGINE.compare_gpu_options(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"))
    same_precision = [o for o in options if o["precision"] == "FP16"]
    assert plan.gpu_resources.gpu_type == same_precision[0]["gpu_type"]


def test_comparison_is_sorted_and_explains_rejections():
    options = ENGINE.compare_gpu_options(SEED_WORKLOAD, SEED_MODEL)
    costs = [o["monthly_gpu_cost"] for o in options]
    assert costs == sorted(costs) and len(options) >= 5
    assert all(r["reason"] for r in options.rejected)
    t4 = [r for r in options.rejected if r["gpu_type"] == "T4-16GB" and r["precision"] == "FP16"]
    assert "does not fit" in t4[0]["reason"]


def test_moe_plan_uses_active_parameters():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="mixtral-8x7b"), GPUConfig(gpu_type="H100"))
    assert plan.model.params_b == pytest.approx(46.7, rel=0.01)
    assert plan.model.active_params_b == pytest.approx(12.9, rel=0.01)
    assert any("MoE" in a for a in plan.assumptions)


def test_deepseek_mla_plans_on_h200():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="deepseek-v3", precision="FP8"),
                                          GPUConfig(gpu_type="H200"))
    assert plan.gpu_resources.tensor_parallel == 8
    assert plan.model.kv_cache_kib_per_token == pytest.approx(61 * 576 / 1024, rel=1e-3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rps=st.floats(0.1, 200), more=st.floats(1.0, 5.0))
def test_more_traffic_never_needs_fewer_gpus(rps, more):
    gpu, model = GPUConfig(gpu_type="H100"), ModelConfig(model="llama-3.1-8b")
    low = ENGINE.generate_inference_plan(LLMWorkloadInput(rps, 500, 200), model, gpu)
    high = ENGINE.generate_inference_plan(LLMWorkloadInput(rps * more, 500, 200), model, gpu)
    assert high.gpu_resources.total_gpus >= low.gpu_resources.total_gpus


@settings(max_examples=25, deadline=None)
@given(tokens=st.integers(64, 4000), longer=st.integers(1, 4000))
def test_longer_context_never_needs_less_memory(tokens, longer):
    d = dep(gpu="H100-80GB")
    short = sum(ie.memory_breakdown_gib(d, 8, tokens).values())
    long = sum(ie.memory_breakdown_gib(d, 8, tokens + longer).values())
    assert long >= short
    assert ie.max_concurrency(d, 0.9, tokens + longer) <= ie.max_concurrency(d, 0.9, tokens)


def test_sweep_batch_sizes_for_plots():
    rows = ie.sweep_batch_sizes(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"), [1, 8, 64])
    assert [r["batch_size"] for r in rows] == [1, 8, 64]
    assert rows[0]["itl_ms"] < rows[2]["itl_ms"]
    assert rows[0]["output_tokens_per_second"] < rows[2]["output_tokens_per_second"]
    assert all(math.isfinite(r["itl_ms"]) for r in rows)
