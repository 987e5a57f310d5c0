"""Serving physics and the replica planner."""

from __future__ import annotations

import json
import math
import re

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
    # Llama-3.1-70B: 70,553,706,496 parameters (the safetensors index of meta-llama/Llama-3.1-70B); 2 bytes each
    assert ie.weight_bytes(config.get_model("llama-3.1-70b"), "FP16") == pytest.approx(141.107e9, rel=1e-4)


def test_int4_keeps_embeddings_in_16_bit():
    # Llama-3.1-8B by hand: 8,030,261,248 parameters, of which the untied input and output embeddings are
    # 2 x 128,256 x 4,096 = 1,050,673,152 (kept 16-bit: 2.101 GB); the other 6,979,588,096 in INT4 with a 16-bit
    # scale and zero per group of 128 (0.5 + 4/128 = 0.53125 bytes each: 3.708 GB). Total 5.809 GB.
    assert ie.weight_bytes(config.get_model("llama-3.1-8b"), "INT4") == pytest.approx(5.809e9, rel=1e-3)


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
    # Llama-3.1-8B FP16 on one H200 under vLLM, by hand: KV per token 2 x 32 layers x 8 KV heads x 128 x 2 bytes
    # = 128 KiB, so a 2,048-token sequence holds 256 MiB. Budget: 141 GiB x 0.99 usable x 0.9 (vLLM
    # gpu_memory_utilization) = 134.9 GB, less 16.06 GB of weights and about 2.1 GB of workspace and CUDA context
    # = 116.7 GB; / 268.4 MB = 434 sequences (under vLLM's 1,024 cap on a GPU this size).
    d = dep(gpu="H200-141GB")
    assert ie.max_concurrency(d, 0.9, 2048) == 434
    assert ie.max_concurrency(d, 0.9, 32768) == 434 * 2048 // 32768  # 16x the tokens, a sixteenth of the sequences


def test_model_too_big_has_no_kv_budget():
    assert ie.max_concurrency(dep(model="llama-3.1-70b", gpu="A100-80GB"), 0.9, 1024) == 0


# --------------------------------------------------------------------------- time


def test_decode_is_bandwidth_bound_at_batch_one():
    """Batch 1 on an H100: 16.06 GB of weights over 3.35 TB/s is 4.79 ms at full bandwidth (the floor); at the
    60-80% of bandwidth decode kernels reach (the H200 measurements in data/calibration show 66%), plus some
    tens of microseconds per layer for 32 layers, 6-9 ms."""
    step_ms = ie.decode_step_s(dep(gpu="H100-80GB"), EFF, 1, 128) * 1e3
    assert 6.0 < step_ms < 9.0


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


def test_missed_target_on_a_fixed_gpu_is_planned_and_flagged():
    """On a GPU the user named, a target no configuration meets still gets its plan, with met false and a warning."""
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=0.5)
    plan = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"))
    itl = plan.slo.itl_ms
    assert itl.target == 0.5 and itl.met is False and itl.predicted == plan.latency.itl_ms > 0.5
    assert plan.slo.ttft_ms.target is None and plan.slo.ttft_ms.met is None
    warning = next(w for w in plan.warnings if w.startswith("ITL target"))
    assert "0.5 ms" in warning and f"{itl.predicted:,.1f} ms" in warning
    assert plan.gpu_resources.total_gpus >= 1


def test_planner_names_the_closest_option_when_nothing_meets_the_targets():
    """A 1 ms ITL for an 8B model: no GPU reaches it at batch 1 (a step streams ~16 GB of weights; even B200's
    8 TB/s at 8-way TP leaves the per-layer fixed cost of 32 layers). The error names the fastest option: B200,
    the catalog's highest-bandwidth GPU, not the first failure found."""
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=1.0)
    with pytest.raises(InfeasibleError, match="closest is 8 x B200") as error:
        ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-8b"), GPUConfig())
    assert "V100" not in str(error.value)


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


def test_batch_size_caps_the_running_batch():
    """--batch-size is vLLM's max-num-seqs: under heavy load each replica runs at most that many sequences."""
    heavy = LLMWorkloadInput(requests_per_second=200.0, avg_input_tokens=500, avg_output_tokens=200)
    plan = ENGINE.generate_inference_plan(heavy, ModelConfig(model="llama-3.1-8b", batch_size=16), GPUConfig(gpu_type="H100"))
    assert plan.gpu_resources.max_concurrency_per_replica == 16
    assert plan.throughput.batch_size <= 16
    uncapped = ENGINE.generate_inference_plan(heavy, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100"))
    assert plan.gpu_resources.replicas > uncapped.gpu_resources.replicas


def test_batch_cap_at_light_load_serves_the_offered_load():
    """The issue's example: 1 rps of 2048-in / 2-out with a cap of 64. At peak (1.5 rps) one replica generates
    1.5 x 2 = 3 output tokens/s; the batch is ~1, so ITL is about one decode step (not 64 prompts' prefill)
    and TTFT about one prefill (no phantom queue)."""
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=2048, avg_output_tokens=2)
    plan = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3-8b", batch_size=64),
                                          GPUConfig(gpu_type="H100-80GB"))
    assert plan.gpu_resources.replicas == 1
    assert plan.throughput.output_tokens_per_second_per_replica == pytest.approx(3.0, rel=1e-3)
    assert plan.throughput.batch_size == 1
    d = dep(model="llama-3-8b")
    one_step, prefill = ie.decode_step_s(d, EFF, 1, 2048) * 1e3, ie.prefill_s(d, EFF, 2048) * 1e3
    assert plan.latency.itl_ms < 2 * one_step
    assert prefill <= plan.latency.ttft_ms < 1.15 * prefill


def test_light_load_ttft_is_about_one_prefill():
    """0.1 rps with batch 1: the replica is idle most of the time, so TTFT is the prefill plus a few percent."""
    workload = LLMWorkloadInput(requests_per_second=0.1, avg_input_tokens=2048, avg_output_tokens=200)
    plan = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3-8b", batch_size=1),
                                          GPUConfig(gpu_type="H100-80GB"))
    prefill = ie.prefill_s(dep(model="llama-3-8b"), EFF, 2048) * 1e3
    assert plan.latency.ttft_ms == pytest.approx(prefill, rel=0.05)
    assert plan.throughput.output_tokens_per_second_per_replica == pytest.approx(0.15 * 200, rel=1e-3)


def test_planner_picks_cheapest_gpu_when_none_named():
    plan = ENGINE.generate_inference_plan(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"), GPUConfig(), include_cost=True)
    options = ENGINE.compare_gpu_options(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"))
    same_precision = [o for o in options if o["precision"] == "FP16"]
    assert plan.gpu_resources.gpu_type == same_precision[0]["gpu_type"]


def test_comparison_is_sorted_and_explains_rejections():
    options = ENGINE.compare_gpu_options(SEED_WORKLOAD, SEED_MODEL)
    billed = [o["monthly_gpu_cost"] for o in options]  # ranked by what is billed: whole instances
    assert billed == sorted(billed) and len(options) >= 5
    # whole instances never bill less than the GPUs alone (instance and GPU-hour prices agree within 1%)
    assert all(o["monthly_gpu_cost"] >= 0.99 * o["gpu_hours_monthly_cost"] for o in options)
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
    rows = ie.sweep_batch_sizes(SEED_WORKLOAD, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100", tensor_parallel=1), [1, 8, 64])
    assert [r["batch_size"] for r in rows] == [1, 8, 64]
    assert rows[0]["itl_ms"] < rows[2]["itl_ms"]
    assert rows[0]["output_tokens_per_second"] < rows[2]["output_tokens_per_second"]
    assert all(math.isfinite(r["itl_ms"]) for r in rows)


# --------------------------------------------------------------------------- static-batch latency mode


def _slow_static_batch(d, batch, isl, osl):
    """Reference: prefill of all prompts, then every decode step summed one by one."""
    ttft = ie.prefill_s(d, EFF, isl, batch)
    steps = [ie.decode_step_s(d, EFF, batch, isl + k) for k in range(1, osl)]
    itl = sum(steps) / len(steps)
    return ttft, itl, ttft + sum(steps)


@pytest.mark.parametrize("batch,isl,osl", [(1, 128, 33), (8, 1024, 300), (32, 2048, 2048)])
def test_latency_mode_equals_the_prefill_and_decode_step_functions(batch, isl, osl):
    plan = ie.plan_latency(ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100-80GB"), batch, isl, osl)
    ttft, itl, e2e = _slow_static_batch(dep(), batch, isl, osl)
    assert plan.tensor_parallel == 1
    assert plan.latency.ttft_ms == pytest.approx(ttft * 1e3, rel=1e-3)
    assert plan.latency.itl_ms == pytest.approx(itl * 1e3, rel=1e-3)
    assert plan.latency.e2e_ms == pytest.approx(e2e * 1e3, rel=1e-3)
    assert plan.throughput.output_tokens_per_second == pytest.approx(batch * osl / e2e, rel=1e-3)


def test_latency_mode_refuses_a_batch_that_does_not_fit_and_names_the_largest():
    model, gpu = ModelConfig(model="llama-3.1-70b"), GPUConfig(gpu_type="H100-80GB", tensor_parallel=4)
    with pytest.raises(InfeasibleError, match=r"holds at most (\d+)") as error:
        ie.plan_latency(model, gpu, 4096, 4096, 4096)
    largest = int(re.search(r"holds at most (\d+)", str(error.value)).group(1))
    assert largest >= 1
    assert ie.plan_latency(model, gpu, largest, 4096, 4096).max_batch_size == largest
    with pytest.raises(InfeasibleError):
        ie.plan_latency(model, gpu, largest + 1, 4096, 4096)


def test_latency_mode_picks_the_smallest_degree_that_holds_the_batch():
    """Llama-3.1-70B in FP16 is 141 GB of weights: it needs at least 2 x 80 GB, and the batch's KV cache more."""
    plan = ie.plan_latency(ModelConfig(model="llama-3.1-70b"), GPUConfig(gpu_type="H100-80GB"), 1, 128, 128)
    assert plan.tensor_parallel == 2
    assert plan.memory_per_gpu_gib < 80


def test_latency_mode_reports_missed_targets():
    plan = ie.plan_latency(ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="L4"), 1, 512, 64,
                           itl_slo_ms=5.0)
    assert plan.slo.itl_ms.met is False and plan.slo.itl_ms.target == 5.0
    assert any("ITL target 5 ms is missed" in w for w in plan.warnings)
    json.dumps(plan.to_dict())


# --------------------------------------------------------------------------- engines, context window, comparison


def test_trtllm_admits_more_sequences_than_vllm_for_70b_fp16_on_2_h100():
    """Llama-3.1-70B FP16 on 2 x H100 (1000 in / 1000 out): 141 GB of weights leave ~13 GiB per GPU. vLLM takes 90%
    of all memory (0.9 x 79 = 71 GiB, ~5 GiB after weights); TensorRT-LLM takes 90% of what is left after weights
    (~11 GiB) and reserves whole sequences. Published TensorRT-LLM 0.14: 785.5 output tokens/s (perf-overview)."""
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=1000, avg_output_tokens=1000)
    model = ModelConfig(model="llama-3.1-70b")
    plans = {e: ENGINE.generate_inference_plan(workload, model, GPUConfig(gpu_type="H100", tensor_parallel=2, engine=e))
             for e in ("vllm", "trtllm")}
    assert plans["trtllm"].gpu_resources.max_concurrency_per_replica > plans["vllm"].gpu_resources.max_concurrency_per_replica
    assert plans["trtllm"].throughput.max_output_tokens_per_second_per_replica == pytest.approx(785.4931, rel=0.15)
    assert any("TensorRT-LLM: 90% of the memory left after weights" in a for a in plans["trtllm"].assumptions)


def test_context_window_needs_one_full_length_sequence_in_the_kv_cache():
    """128K tokens of Llama-3.1-70B KV at TP2 is 131072 x 160 KiB = 20 GiB per GPU, more than the ~5 GiB vLLM
    leaves after 66 GiB of weights per GPU: the planner must go to TP 4 or 8."""
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=1000, avg_output_tokens=200)
    short = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-70b"), GPUConfig(gpu_type="H100"))
    long = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-70b", context_window=131072),
                                          GPUConfig(gpu_type="H100"))
    assert short.gpu_resources.tensor_parallel == 2
    assert long.gpu_resources.tensor_parallel >= 4
    with pytest.raises(InfeasibleError, match="one full-length sequence"):
        ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-70b", context_window=131072),
                                       GPUConfig(gpu_type="H100", tensor_parallel=2))


def test_context_window_past_the_trained_length_warns_and_shorter_than_the_request_is_refused():
    workload = LLMWorkloadInput(requests_per_second=1, avg_input_tokens=6000, avg_output_tokens=500)
    plan = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-2-7b", context_window=8192),
                                          GPUConfig(gpu_type="H100"))
    assert any("RoPE scaling" in w for w in plan.warnings)
    with pytest.raises(InputError, match="context_window"):
        ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-8b", context_window=4096),
                                       GPUConfig(gpu_type="H100"))


def test_comparison_rows_carry_latencies_prices_and_targets():
    workload = LLMWorkloadInput(requests_per_second=5, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=50)
    options = ENGINE.compare_gpu_options(workload, ModelConfig(model="llama-3.1-8b"))
    for row in options:
        assert row["ttft_ms"] > 0 and 0 < row["itl_ms"] <= 50
        assert row["usd_per_gpu_hour"] > 0 and row["total_gpus"] >= 1
        # the GPUs alone at the GPU-hour price, 730 h a month; the bill rents whole instances, never less
        assert row["gpu_hours_monthly_cost"] == pytest.approx(row["usd_per_gpu_hour"] * row["total_gpus"] * 730,
                                                              abs=0.01)
        assert row["monthly_gpu_cost"] >= 0.99 * row["gpu_hours_monthly_cost"]
        assert row["slo"]["itl_ms"] == {"target": 50, "predicted": row["itl_ms"], "met": True}


def test_a_plan_round_trips_through_json_and_its_inputs():
    """The JSON a plan writes holds its inputs; planning those inputs again gives the same plan."""
    workload = LLMWorkloadInput(requests_per_second=3, avg_input_tokens=800, avg_output_tokens=300, ttft_slo_ms=500)
    plan = ENGINE.generate_inference_plan(workload, ModelConfig(model="llama-3.1-8b", batch_size=32),
                                          GPUConfig(gpu_type="A100-80GB", engine="sglang"))
    payload = json.loads(json.dumps(plan.to_dict()))
    inputs = payload["inputs"]
    again = ENGINE.generate_inference_plan(LLMWorkloadInput(**inputs["workload"]), ModelConfig(**inputs["model"]),
                                           GPUConfig(**inputs["gpu"]))
    assert again.to_dict() == plan.to_dict()
    assert payload["slo"]["ttft_ms"]["met"] is True and payload["engine"] == "sglang"


def test_cli_missed_target_exits_0_on_a_named_gpu_and_2_when_the_planner_chooses(cli):
    flags = ["--mode", "inference", "--rps", "10", "--input-tokens", "500", "--output-tokens", "200",
             "--model", "llama-3.1-8b", "--itl-slo-ms", "0.1", "--format", "json"]
    named = cli(*flags, "--gpu-type", "A100-80GB")
    assert named.exit_code == 0, named.stderr
    assert json.loads(named.stdout)["slo"]["itl_ms"]["met"] is False
    chosen = cli(*flags)
    assert chosen.exit_code == 2 and "closest is" in chosen.stderr and len(chosen.stderr.strip().splitlines()) == 1


def test_a_cheaper_gpu_costs_what_a_plan_on_it_costs():
    """The suggestion and the headline are one cost basis (whole instances): planning on the suggested GPU bills
    the figure the suggestion quoted, and less than the plan it was suggested beside."""
    import re

    asked = ENGINE.generate_inference_plan(SEED_WORKLOAD, SEED_MODEL, GPUConfig(gpu_type="A100-80GB"),
                                           include_cost=True)
    suggested = asked.gpu_resources.recommended_gpu
    assert suggested != "A100-80GB"
    quoted = float(re.search(r"GPUs, \$([\d,]+)/month\)", asked.gpu_resources.recommendation_reason)[1].replace(",", ""))
    on_it = ENGINE.generate_inference_plan(SEED_WORKLOAD, SEED_MODEL, GPUConfig(gpu_type=suggested), include_cost=True)
    assert on_it.cost.monthly_gpu_cost == pytest.approx(quoted, abs=0.5)
    assert on_it.cost.monthly_gpu_cost < asked.cost.monthly_gpu_cost
    assert on_it.gpu_resources.recommended_gpu == suggested  # nothing cheaper again
