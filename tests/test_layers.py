"""Per-layer architecture on real config.json files: which mixer each layer has, KV cache by context length,
per-sequence state, and what the serving planner makes of them.

The configs are the catalog's copies of the published config.json files (``data/model_configs``, sources in
``data/models.csv``); every expected number below is derived by hand from the config's fields in the comment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import architecture
import config
import inference_engine as ie
from hf_config import architecture_from_hf_config
from models import GPUConfig, LLMWorkloadInput, ModelConfig

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "model_configs"


def parsed(model_id: str):
    """The config file read as ``--model-config`` reads it (not through the catalog)."""
    return architecture_from_hf_config(json.loads((CONFIGS / f"{model_id}.json").read_text()), f"{model_id}.json")


def kinds(arch) -> list[tuple[str, int, str]]:
    return [(layer.mixer, layer.window, layer.mlp) for layer in arch.layers]


# --------------------------------------------------------------------------- gpt-oss


def test_gpt_oss_alternates_sliding_and_full_layers():
    """gpt-oss-120b layer_types: sliding_attention (window 128) on even layers, full_attention on odd; 36 layers,
    every MLP a 128-expert MoE."""
    arch = parsed("gpt-oss-120b")
    assert kinds(arch) == [("sliding", 128, "moe"), ("full", 0, "moe")] * 18


def test_gpt_oss_kv_cache_by_context():
    """Per token per layer: K and V, 8 KV heads x 64 dims = 1024 elements. Short context: 36 layers x 1024 = 36,864.
    At 32K: 18 full layers hold 32,768 tokens, 18 sliding layers 128: 1024 x 18 x (32,768 + 128) = 606,339,072,
    about half of the 36 x 1024 x 32,768 = 1,207,959,552 a full-attention count gives."""
    arch = parsed("gpt-oss-120b")
    assert architecture.kv_cache_elements_per_token(arch) == 36_864
    assert architecture.kv_cache_elements(arch, 32_768) == 606_339_072
    assert architecture.kv_cache_elements(arch, 100) == 36_864 * 100  # inside every window: no cap yet


def test_gpt_oss_mxfp4_experts_fit_one_80_gb_gpu():
    """quantization_config mxfp4 keeps self_attn, router, embeddings and lm_head in BF16 (modules_to_not_convert).
    One expert: gate+up 2880 x 5760 with bias 5760, down 2880 x 2880 with bias 2880 = 24,891,840 weights;
    x 128 experts x 36 layers = 114,701,598,720 at 4 + 8/32 bits (0.53125 bytes) = 60.94 GB; the other
    116.83B - 114.70B = 2.13B weights at 2 bytes = 4.26 GB: 65.2 GB in all (60.7 GiB; the checkpoint is 60.8 GiB)."""
    arch = config.get_model("openai/gpt-oss-120b")
    assert arch.quantization.precision == "MXFP4" and arch.quantization.experts_only
    experts = 24_891_840 * 128 * 36
    assert architecture.routed_expert_params(arch) == experts
    expected = experts * 0.53125 + (architecture.total_params(arch) - experts) * 2
    assert ie.weight_bytes(arch, "MXFP4") == pytest.approx(expected)
    assert 64e9 < ie.weight_bytes(arch, "MXFP4") < 66e9
    plan = ie.plan_inference(LLMWorkloadInput(1, 1000, 200), ModelConfig(model="gpt-oss-120b", precision="MXFP4"),
                             GPUConfig(gpu_type="H100-80GB"))
    assert plan.gpu_resources.tensor_parallel == 1
    assert any("MXFP4" in note and "dequantized" in note for note in plan.assumptions)


def test_fp4_compute_only_where_the_gpu_has_it():
    """B200 and GB200 have FP4 tensor cores (data/gpus.csv fp4_tflops_dense); on H100 MXFP4 is weight-only."""
    arch = config.get_model("gpt-oss-120b")
    on_b200 = ie.deployment(arch, config.get_gpu("B200"), "MXFP4", "FP16", 1)
    on_h100 = ie.deployment(arch, config.get_gpu("H100"), "MXFP4", "FP16", 1)
    assert on_b200.compute_precision == "FP4" and on_h100.compute_precision == "FP16"
    assert on_b200.peak_flops > 4 * on_h100.peak_flops
    assert config.weight_only("MXFP4", "FP16") and not config.weight_only("MXFP4", "FP4")


# --------------------------------------------------------------------------- Gemma 3


def test_gemma3_reads_the_nested_text_config_and_the_5_to_1_pattern():
    """gemma-3-27b is a Gemma3ForConditionalGeneration wrapper: the decoder's fields sit in text_config.
    sliding_window_pattern 6: layers 6, 12, ... (index 5, 11, ...) are global, the other five of every six slide
    over 1024 tokens: 62 layers = 10 global + 52 sliding."""
    arch = parsed("gemma-3-27b")
    assert (arch.num_layers, arch.hidden_size, arch.head_dim, arch.vocab_size) == (62, 5376, 128, 262208)
    globals_ = [i for i, layer in enumerate(arch.layers) if layer.mixer == "full"]
    assert globals_ == list(range(5, 62, 6))
    assert all(layer.window == 1024 for layer in arch.layers if layer.mixer == "sliding")


def test_gemma3_27b_at_32k_needs_about_a_sixth_of_the_full_attention_kv():
    """Per token per layer 2 x 16 KV heads x 128 = 4096 elements. At 32,768 tokens: 10 global layers x 32,768 +
    52 sliding layers x 1024 = 380,928 token-layers, against 62 x 32,768 = 2,031,616 if every layer cached
    everything: 0.1875, about a sixth (1/5.3)."""
    arch = config.get_model("google/gemma-3-27b-it")
    full = architecture.kv_cache_elements_per_token(arch) * 32_768
    windowed = architecture.kv_cache_elements(arch, 32_768)
    assert windowed == 4096 * 380_928
    assert windowed / full == pytest.approx(380_928 / 2_031_616)
    assert 1 / 6.5 < windowed / full < 1 / 5


def test_sliding_layers_let_more_long_sequences_fit():
    """The planner's KV budget per sequence uses the windowed count: at 32K tokens Gemma-3-27B on one H200 holds
    more than 4x the sequences a full-attention count would allow."""
    d = ie.deployment(config.get_model("gemma-3-27b"), config.get_gpu("H200"), "BF16", "BF16", 1)
    budget = ie.kv_budget_bytes(d, 0.9)
    full_attention_fit = int(budget / (d.kv_bytes_per_token * 32_768))
    assert ie.max_concurrency(d, 0.9, 32_768) > 4 * full_attention_fit
    assert ie.kv_bytes_per_sequence(d, 32_768) == pytest.approx(4096 * 380_928 * 2)


def test_mistral_sliding_window_caps_every_layer():
    """Mistral-7B v0.1: sliding_window 4096 on all 32 layers: past 4096 tokens the cache stops growing."""
    d = ie.deployment(config.get_model("mistral-7b"), config.get_gpu("H100"), "FP16", "FP16", 1)
    assert ie.kv_bytes_per_sequence(d, 8192) == ie.kv_bytes_per_sequence(d, 4096) == 4096 * d.kv_bytes_per_token


# --------------------------------------------------------------------------- Llama 4 Scout


def test_llama4_scout_chunked_and_global_layers():
    """attention_chunk_size 8192; no_rope_layers absent, so every 4th layer (index 3, 7, ...) is a NoPE global
    layer and the other 36 attend within their 8192-token chunk; interleave_moe_layer_step 1: all 48 MLPs are MoE
    (16 experts, 1 per token, plus the shared expert)."""
    arch = parsed("llama-4-scout")
    assert [i for i, layer in enumerate(arch.layers) if layer.mixer == "full"] == list(range(3, 48, 4))
    assert sum(layer.mixer == "chunked" and layer.window == 8192 for layer in arch.layers) == 36
    assert {layer.mlp for layer in arch.layers} == {"moe"} and arch.num_shared_experts == 1


def test_llama4_scout_kv_at_128k():
    """2 x 8 KV heads x 128 = 2048 elements per token per layer. At 131,072 tokens: 12 global layers keep all of
    them, 36 chunked layers at most 8192: 2048 x (12 x 131,072 + 36 x 8192) = 2048 x 1,867,776."""
    arch = config.get_model("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert architecture.kv_cache_elements(arch, 131_072) == 2048 * 1_867_776


def test_llama4_maverick_interleaves_dense_and_moe_layers():
    """interleave_moe_layer_step 2: layers 1, 3, 5, ... are MoE (128 experts of width 8192 plus a shared one), the
    others dense with intermediate_size_mlp 16384."""
    arch = parsed("llama-4-maverick")
    assert [layer.mlp for layer in arch.layers] == ["dense", "moe"] * 24
    assert (arch.intermediate_size, arch.moe_intermediate_size, arch.num_experts) == (16384, 8192, 128)


# --------------------------------------------------------------------------- Qwen3 MoE and Qwen3-Next


def test_qwen3_moe_layers_and_kv():
    """Qwen3-30B-A3B: use_sliding_window false (sliding_window null), 48 full-attention layers, all MoE
    (decoder_sparse_step 1, mlp_only_layers []): KV per token 48 x 2 x 4 KV heads x 128 = 49,152."""
    arch = parsed("qwen3-30b-a3b")
    assert {(m, w, p) for m, w, p in kinds(arch)} == {("full", 0, "moe")}
    assert architecture.kv_cache_elements_per_token(arch) == 49_152
    assert architecture.moe_layer_count(arch) == 48


def test_qwen3_next_linear_and_gated_attention_layers():
    """full_attention_interval 4: layers 3, 7, ..., 47 are gated full attention, the other 36 Gated DeltaNet."""
    arch = parsed("qwen3-next-80b-a3b")
    assert [i for i, layer in enumerate(arch.layers) if layer.mixer == "full"] == list(range(3, 48, 4))
    assert sum(layer.mixer == "linear" for layer in arch.layers) == 36
    assert arch.attention_output_gate


def test_qwen3_next_kv_and_state():
    """KV: 12 full layers x 2 x 2 KV heads x 256 = 12,288 elements per token, at any context.
    State per linear layer: 32 value heads x 128 key dims x 128 value dims = 524,288, plus the conv window of
    kernel-1 = 3 steps over q, k, v (2 x 16 x 128 + 32 x 128 = 8192 channels) = 24,576: 548,864; x 36 layers =
    19,759,104 elements, 39.5 MB per sequence in BF16, the same at 1K or 256K tokens."""
    arch = config.get_model("qwen3-next-80b-a3b")
    assert architecture.kv_cache_elements_per_token(arch) == 12_288
    assert architecture.kv_cache_elements(arch, 262_144) == 12_288 * 262_144
    assert architecture.state_elements_per_sequence(arch) == 19_759_104
    d = ie.deployment(arch, config.get_gpu("H200"), "BF16", "BF16", 2)
    assert ie.state_bytes_per_sequence(d) == pytest.approx(19_759_104 * 2 / 2)  # heads split over TP 2


def test_state_is_its_own_memory_component():
    d = ie.deployment(config.get_model("qwen3-next-80b-a3b"), config.get_gpu("H200"), "BF16", "BF16", 2)
    parts = ie.memory_breakdown_gib(d, 10, 4096)
    assert parts["sequence_state"] == pytest.approx(10 * 19_759_104 * 2 / 2**30)
    assert parts["kv_cache"] == pytest.approx(10 * 12_288 * 4096 * 2 / 2**30)
    assert "sequence_state" not in ie.memory_breakdown_gib(
        ie.deployment(config.get_model("llama-3.1-8b"), config.get_gpu("H100"), "BF16", "BF16", 1), 10, 4096)


def test_decode_reads_state_and_only_the_attention_layers_kv():
    """A Qwen3-Next decode step at 200K context reads 12 layers of KV, far less than a 48-layer full-attention
    model of the same attention shape would: the step is much shorter than one whose every layer attends."""
    arch = config.get_model("qwen3-next-80b-a3b")
    hybrid = ie.deployment(arch, config.get_gpu("H200"), "BF16", "BF16", 4)
    from dataclasses import replace

    uniform = replace(arch, layers=(), linear_attention=None)  # the same shapes, every layer full attention
    dense = ie.deployment(uniform, config.get_gpu("H200"), "BF16", "BF16", 4)
    eff = ie.Efficiency.fitted()
    assert ie.decode_step_s(hybrid, eff, 16, 200_000) < 0.5 * ie.decode_step_s(dense, eff, 16, 200_000)


# --------------------------------------------------------------------------- Mamba hybrids


def test_nemotron_h_pattern():
    """hybrid_override_pattern: M = Mamba-2 block, * = attention block, - = MLP block, one character per layer.
    Nemotron-H-56B: 118 blocks = 54 M + 10 * + 54 -."""
    arch = parsed("nemotron-h-56b")
    mixers = [layer.mixer for layer in arch.layers]
    assert (mixers.count("mamba2"), mixers.count("full"), mixers.count("none")) == (54, 10, 54)
    assert all(layer.mlp == ("dense" if layer.mixer == "none" else "none") for layer in arch.layers)


def test_nemotron_h_kv_and_state():
    """KV: 10 attention layers x 2 x 8 KV heads x 128 = 20,480 elements per token.
    Mamba-2 state per layer: 256 heads x 64 head dims x 256 state = 4,194,304, plus the conv window of 3 steps over
    x, B, C (256 x 64 + 2 x 8 groups x 256 = 20,480 channels) = 61,440: 4,255,744; x 54 = 229,810,176 elements."""
    arch = config.get_model("nemotron-h-56b")
    assert architecture.kv_cache_elements_per_token(arch) == 20_480
    assert architecture.state_elements_per_sequence(arch) == 229_810_176


def test_jamba_periods_and_mamba1_state():
    """attn_layer_period 8, offset 4: attention at layers 4, 12, 20, 28; Mamba-1 elsewhere. expert_layer_period 2,
    offset 1: odd layers MoE (16 experts, top 2). KV: 4 x 2 x 8 x 128 = 8192 elements per token. Mamba-1 state per
    layer: d_inner = 2 x 4096 = 8192 channels x 16 states = 131,072, plus 3 conv steps x 8192 = 24,576; x 28 layers
    = 4,358,144 elements."""
    arch = parsed("jamba-v0.1")
    assert [i for i, layer in enumerate(arch.layers) if layer.mixer == "full"] == [4, 12, 20, 28]
    assert [layer.mlp for layer in arch.layers] == ["dense", "moe"] * 16
    assert architecture.kv_cache_elements_per_token(arch) == 8192
    assert architecture.state_elements_per_sequence(arch) == 4_358_144


def test_hybrids_plan_end_to_end():
    workload = LLMWorkloadInput(2, 4000, 500)
    for model in ("nemotron-h-56b", "jamba-v0.1", "qwen3-next-80b-a3b", "llama-4-scout", "gemma-3-27b"):
        plan = ie.plan_inference(workload, ModelConfig(model=model, precision="BF16"), GPUConfig(gpu_type="H200"))
        assert plan.gpu_resources.total_gpus >= 1
        state = plan.gpu_resources.memory_breakdown_gib.get("sequence_state", 0)
        assert (state > 0) == (model in ("nemotron-h-56b", "jamba-v0.1", "qwen3-next-80b-a3b"))


# --------------------------------------------------------------------------- attention work


def test_attended_tokens_cap_windows():
    """gpt-oss at 10,000 tokens: 18 full layers attend 10,000 keys, 18 sliding ones 128."""
    assert architecture.attended_tokens(config.get_model("gpt-oss-20b"), 10_000) == 12 * 10_000 + 12 * 128
    assert architecture.attended_tokens(config.get_model("gpt-oss-120b"), 10_000) == 18 * 10_000 + 18 * 128


def test_training_attention_flops_follow_the_layers():
    """Training counts 2 x heads x (qk + v) x keys per layer (PaLM convention): for Gemma-3-27B at 8192 tokens the
    sliding layers attend 1024: 2 x 32 x 256 x (10 x 8192 + 52 x 1024)."""
    import training_engine as te

    arch = config.get_model("gemma-3-27b")
    assert te.attention_flops_per_token(arch, 8192) == 2 * 32 * 256 * (10 * 8192 + 52 * 1024)
