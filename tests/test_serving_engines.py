"""Serving-engine policies read from data/serving_engines.json (each default cited from the engine's source)."""

from __future__ import annotations

import pytest

import config
import inference_engine as ie
from models import GPUConfig, InputError
from serving_engines import engine_of, engine_policy


@pytest.mark.parametrize("gpu,seqs,tokens", [("H100-80GB", 1024, 8192), ("H200-141GB", 1024, 8192),
                                             ("A100-80GB", 256, 2048), ("L40S-48GB", 256, 2048)])
def test_vllm_batch_limits_follow_its_gpu_classes(gpu, seqs, tokens):
    """vllm/engine/arg_utils.py: GPUs with >= 70 GiB that are not A100 get max_num_seqs 1024 and 8192 batched
    tokens for the API server; the rest 256 and 2048."""
    policy = engine_policy("vllm", config.get_gpu(gpu))
    assert (policy.max_num_seqs, policy.max_num_batched_tokens) == (seqs, tokens)
    assert policy.kv_memory_basis == "total" and policy.memory_fraction == 0.9 and policy.chunked_prefill


def test_trtllm_reserves_whole_sequences_from_free_memory():
    policy = engine_policy("trtllm", config.get_gpu("H100-80GB"), 4)
    assert (policy.kv_memory_basis, policy.memory_fraction, policy.admission) == ("free", 0.9, "reserve_full")
    assert (policy.max_num_seqs, policy.max_num_batched_tokens) == (2048, 8192)
    assert policy.tokens_held(1000, 1000) == 2000


@pytest.mark.parametrize("tp,fraction", [(1, 0.88), (2, 0.87), (4, 0.85), (8, 0.81)])
def test_sglang_memory_fraction_falls_with_tensor_parallel(tp, fraction):
    assert engine_policy("sglang", config.get_gpu("H100-80GB"), tp).memory_fraction == fraction


def test_on_demand_engines_hold_the_prompt_and_half_the_output():
    assert engine_policy("vllm", config.get_gpu("H100-80GB")).tokens_held(1000, 1000) == 1500


def test_a_given_memory_fraction_overrides_the_engine_default():
    assert engine_policy("sglang", config.get_gpu("H100-80GB"), 8, memory_fraction=0.7).memory_fraction == 0.7


def test_free_memory_policy_gives_more_kv_when_weights_fill_the_gpu():
    """70B FP16 at TP2 leaves ~13 GiB per GPU after weights: 90% of it (TensorRT-LLM) beats 90% of 79 GiB minus
    66 GiB of weights (vLLM) by more than 2x."""
    arch, gpu = config.get_model("llama-3.1-70b"), config.get_gpu("H100-80GB")
    vllm = ie.kv_budget_bytes(ie.deployment(arch, gpu, "FP16", "FP16", 2, "vllm"))
    trt = ie.kv_budget_bytes(ie.deployment(arch, gpu, "FP16", "FP16", 2, "trtllm"))
    assert trt > 2 * vllm > 0


def test_every_engine_cites_its_sources():
    for name in ("vllm", "trtllm", "sglang"):
        policy = engine_policy(name, config.get_gpu("H100-80GB"))
        assert len(policy.sources) >= 3 and all(len(s) > 40 for s in policy.sources)


@pytest.mark.parametrize("text,engine", [("TensorRT-LLM 0.14.0 (trtllm-bench)", "trtllm"), ("SGLang v0.4", "sglang"),
                                         ("vLLM nightly benchmark", "vllm"), ("gpt-fast (PyTorch)", "vllm")])
def test_engine_of_labels(text, engine):
    assert engine_of(text) == engine


def test_unknown_engine_is_an_input_error():
    with pytest.raises(InputError, match="gpu.engine"):
        GPUConfig(engine="tgi")
