"""GPU and model catalogs: names, aliases, sources."""

from __future__ import annotations

import pytest

import config
from models import NotFoundError

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
    hf_ids = {m.hf_id for m in config.list_models()}
    assert len(config.list_models()) == 17
    assert "meta-llama/Meta-Llama-3-70B" in hf_ids and "mistralai/Mixtral-8x7B-v0.1" in hf_ids


@pytest.mark.parametrize("name", ["meta-llama/Llama-3.1-70B", "META-LLAMA/LLAMA-3.1-70B", "Llama-3.1-70B"])
def test_hugging_face_ids_accepted(name):
    assert config.get_model(name).id == "llama-3.1-70b"


def test_unknown_model_suggests():
    with pytest.raises(NotFoundError, match="did you mean"):
        config.get_model("llama-3.1-7b")


@pytest.mark.parametrize("precision,expected", [("FP16", 2), ("BF16", 2), ("FP8", 1), ("INT8", 1), ("FP32", 4),
                                                ("INT4", 0.5 + 4 / 128)])
def test_bytes_per_element_include_quantization_scales(precision, expected):
    assert config.bytes_per_element(precision) == pytest.approx(expected)
