"""GPU and model catalogs: names, aliases, sources."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from models import InputError, NotFoundError

SEED_AND_ISSUE_GPUS = ["A100-40GB", "A100-80GB", "H100-80GB", "L4", "T4", "V100", "H200", "B200", "L40S", "A10G",
                       "H100-PCIe", "MI300X"]


@pytest.mark.parametrize("name", SEED_AND_ISSUE_GPUS)
def test_seed_and_issue_gpus_are_in_the_catalog(name):
    gpu = config.get_gpu(name)
    assert gpu.memory_gib > 0 and gpu.hbm_bandwidth_gb_s > 0 and gpu.peak_tflops("FP16") > 0
    assert gpu.source


@pytest.mark.parametrize("alias,canonical", [
    ("H100", "H100-80GB"), ("h100-sxm", "H100-80GB"), ("H100-SXM5-80GB", "H100-80GB"), ("h200", "H200-141GB"),
    ("a100-80gb", "A100-80GB"), ("l40s", "L40S-48GB"), ("NVIDIA H100-SXM5-80GB", "H100-80GB"), ("mi300x", "MI300X-192GB"),
])
def test_aliases_are_case_insensitive(alias, canonical):
    assert config.get_gpu(alias).id == canonical


def test_dense_flops_not_sparse():
    """Datasheets headline sparse FLOPS; the catalog must hold dense ones (H100 SXM BF16 989, not 1979)."""
    assert config.get_gpu("H100-80GB").peak_tflops("FP16") == pytest.approx(989.4)
    assert config.get_gpu("H100-80GB").peak_tflops("FP8") == pytest.approx(1978.9)


def test_unknown_gpu_suggests_close_names():
    with pytest.raises(NotFoundError, match="did you mean.*H100"):
        config.get_gpu("H10-80GB")


@pytest.mark.parametrize("model_id", ["llama-3-8b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-2-7b",
                                      "llama-2-70b", "mistral-7b", "mixtral-8x7b", "qwen2.5-7b", "qwen2.5-72b",
                                      "gemma-2-9b", "gemma-2-27b", "phi-3-mini", "deepseek-v3", "bloom-176b"])
def test_issue_model_ids_resolve(model_id):
    assert config.get_model(model_id).id == model_id


def test_every_shared_model_is_in_the_catalog():
    """Every row of shared/data/model_architectures.csv has a catalog entry (by Hugging Face id)."""
    import csv

    index = Path(__file__).resolve().parent.parent / "data" / "models.csv"
    hf_ids = {m.hf_id for m in config.list_models()}
    assert "meta-llama/Meta-Llama-3-70B" in hf_ids and "mistralai/Mixtral-8x7B-v0.1" in hf_ids
    with open(index, encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(config.list_models()) >= 40


# the issue's families, by catalog id
CURRENT_MODELS = ["llama-3.3-70b", "llama-3.2-1b", "llama-4-scout", "llama-4-maverick", "qwen2.5-72b", "qwen3-8b",
                  "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b", "qwen3-next-80b-a3b", "gpt-oss-20b", "gpt-oss-120b",
                  "gemma-2-27b", "gemma-3-27b", "mistral-7b", "mixtral-8x22b", "deepseek-v3", "deepseek-r1", "kimi-k2",
                  "glm-4.5", "phi-4", "nemotron-h-56b", "jamba-v0.1"]


@pytest.mark.parametrize("model_id", CURRENT_MODELS)
def test_current_models_are_in_the_catalog_with_sources(model_id):
    arch = config.get_model(model_id)
    assert arch.source and arch.nominal_params_b and arch.family


@pytest.mark.parametrize("name,model_id", [
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"), ("Llama-3.1-8B-Instruct", "llama-3.1-8b"),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama-3.1-70b"), ("google/gemma-3-27b-it", "gemma-3-27b"),
    ("google/gemma-2-9b-it", "gemma-2-9b"), ("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"),
    ("mistralai/Mixtral-8x22B-Instruct-v0.1", "mixtral-8x22b"), ("mistralai/Mixtral-8x22B-v0.1", "mixtral-8x22b"),
    ("deepseek-ai/DeepSeek-R1", "deepseek-r1"), ("Qwen/Qwen3-Next-80B-A3B-Thinking", "qwen3-next-80b-a3b"),
    ("https://huggingface.co/openai/gpt-oss-120b", "gpt-oss-120b"), ("  OPENAI/GPT-OSS-20B ", "gpt-oss-20b"),
])
def test_instruct_and_chat_variants_resolve(name, model_id):
    assert config.get_model(name).id == model_id


def test_no_spelling_names_two_models():
    """Ids, names, Hugging Face ids and aliases (with and without the organisation) point at one model each."""
    import collections

    seen = collections.defaultdict(set)
    for arch in config.list_models():
        for name in (arch.id, arch.name, arch.hf_id, *arch.aliases):
            seen[name.lower()].add(arch.id)
    assert {name: ids for name, ids in seen.items() if len(ids) > 1} == {}


@pytest.mark.parametrize("name", ["meta-llama/Llama-3.1-70B", "META-LLAMA/LLAMA-3.1-70B", "Llama-3.1-70B"])
def test_hugging_face_ids_accepted(name):
    assert config.get_model(name).id == "llama-3.1-70b"


def test_unknown_model_suggests():
    with pytest.raises(NotFoundError, match="did you mean"):
        config.get_model("llama-3.1-7b")


@pytest.mark.parametrize("name,first,allowed", [
    # a Mixtral 8x22B release the catalog does not hold: 8x22B first, never the 3x smaller 8x7B
    ("mistralai/Mixtral-8x22B-v0.3", "mixtral-8x22b", {"mixtral-8x22b"}),
    # Qwen3-14B is not in the catalog: its family's nearest sizes (8.2B, 30.5B, 32.8B), no Qwen2.5
    ("Qwen/Qwen3-14B", "qwen3-8b", {"qwen3-8b", "qwen3-30b-a3b", "qwen3-32b"}),
    ("meta-llama/Llama-3.1-7B", "llama-3.1-8b", {"llama-3.1-8b", "llama-2-7b", "llama-3-8b"}),
    ("google/gemma-3-9b-it", "gemma-3-12b", {"gemma-3-12b", "gemma-3-4b", "gemma-2-9b"}),
])
def test_unknown_model_names_the_closest_by_family_and_size(name, first, allowed):
    closest = config.closest_models(name)
    assert closest[0] == first and set(closest) <= allowed
    with pytest.raises(NotFoundError) as error:
        config.get_model(name)
    assert first in str(error.value) and "--model-config" in str(error.value) and "--list-models" in str(error.value)


def test_nonsense_model_gets_no_wild_guess():
    with pytest.raises(NotFoundError, match=r"expected a known model \(--list-models lists all \d+\), or any model's"):
        config.get_model("foo-bar")


def test_model_records_filter_by_family():
    records = config.model_records("qwen")
    assert records and {r["family"] for r in records} == {"Qwen"}
    next_record = next(r for r in records if r["id"] == "qwen3-next-80b-a3b")
    assert next_record["attention"] == "36 linear, 12 full" and next_record["context_tokens"] == 262144
    assert next(r for r in config.model_records() if r["id"] == "gpt-oss-120b")["quantization"] == "MXFP4"
    with pytest.raises(InputError, match="--family: got 'foo'; expected one of BLOOM, DeepSeek"):
        config.model_records("foo")


def test_gpu_records_carry_fp4_where_published():
    records = {r["id"]: r for r in config.gpu_records()}
    assert records["B200-180GB"]["fp4_tflops"] == 9000 and records["GB200-186GB"]["fp4_tflops"] == 10000
    assert records["H100-80GB"]["fp4_tflops"] is None and records["H100-80GB"]["fp8_tflops"] == pytest.approx(1978.9)


@pytest.mark.parametrize("precision,expected", [("FP16", 2), ("BF16", 2), ("FP8", 1), ("INT8", 1), ("FP32", 4),
                                                ("INT4", 0.5 + 4 / 128),
                                                ("MXFP4", 0.5 + 1 / 32),  # OCP MX: 4-bit E2M1 + an E8M0 scale per 32
                                                ("NVFP4", 0.5 + 1 / 16)])  # E2M1 + an FP8 E4M3 scale per 16
def test_bytes_per_element_include_quantization_scales(precision, expected):
    assert config.bytes_per_element(precision) == pytest.approx(expected)


def test_int4_scales_follow_the_checkpoint_group_size():
    """AWQ with q_group_size 64: a 4-byte scale and zero per 64 weights instead of per 128."""
    assert config.bytes_per_element("INT4", 64) == pytest.approx(0.5 + 4 / 64)


@pytest.mark.parametrize("precision,gpu,compute", [("MXFP4", "B200", "FP4"), ("NVFP4", "GB200", "FP4"),
                                                   ("MXFP4", "H100", "FP16"), ("NVFP4", "MI300X", "FP16"),
                                                   ("FP8", "H100", "FP8"), ("INT4", "B200", "FP16")])
def test_fp4_compute_where_the_gpu_has_fp4_tensor_cores(precision, gpu, compute):
    assert config.compute_precision(precision, config.get_gpu(gpu)) == compute
