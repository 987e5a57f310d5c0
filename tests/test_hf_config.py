"""Reading Hugging Face config.json files: type-strict fields, per-layer layouts, quantization_config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hf_config
from config_loader import resolve_architecture
from models import InputError, ModelConfig

ROOT = Path(__file__).resolve().parent.parent
LLAMA = json.loads((ROOT / "tests" / "data" / "hf_configs" / "llama-3.1-8b.json").read_text())
QWEN_NEXT = json.loads((ROOT / "data" / "model_configs" / "qwen3-next-80b-a3b.json").read_text())
GPT_OSS = json.loads((ROOT / "data" / "model_configs" / "gpt-oss-20b.json").read_text())
NEMOTRON = json.loads((ROOT / "data" / "model_configs" / "nemotron-h-8b.json").read_text())
JAMBA = json.loads((ROOT / "data" / "model_configs" / "jamba-v0.1.json").read_text())


def parse(config: dict, path: str = "cfg.json"):
    return hf_config.architecture_from_hf_config(config, path)


# --------------------------------------------------------------------------- type-strict fields (issue 15, item 6)

BAD_FIELDS = [
    # booleans are JSON booleans: the string "false" is truthy in Python and was read as true
    ("tie-string", LLAMA, {"tie_word_embeddings": "false"}, r"cfg.json: tie_word_embeddings: got 'false'; expected true or false"),
    ("tie-number", LLAMA, {"tie_word_embeddings": 0}, r"tie_word_embeddings: got 0; expected true or false"),
    ("bias-string", LLAMA, {"attention_bias": "true"}, r"attention_bias: got 'true'; expected true or false"),
    ("sliding-flag-string", {**LLAMA, "model_type": "qwen2", "sliding_window": 4096}, {"use_sliding_window": "false"},
     r"use_sliding_window: got 'false'; expected true or false"),
    # counts are positive whole numbers: 0 KV heads was silently turned into one KV head per attention head
    ("kv-heads-zero", LLAMA, {"num_key_value_heads": 0}, r"cfg.json: num_key_value_heads: got 0; expected a whole number > 0"),
    ("kv-heads-negative", LLAMA, {"num_key_value_heads": -8}, r"num_key_value_heads: got -8; expected a whole number > 0"),
    ("kv-heads-fraction", LLAMA, {"num_key_value_heads": 8.5}, r"num_key_value_heads: got 8.5; expected a whole number"),
    ("kv-heads-text", LLAMA, {"num_key_value_heads": "8"}, r"num_key_value_heads: got '8'; expected a whole number"),
    ("layers-text", LLAMA, {"num_hidden_layers": "32"}, r"num_hidden_layers: got '32'; expected a whole number > 0"),
    ("head-dim-zero", LLAMA, {"head_dim": 0}, r"head_dim: got 0; expected a whole number > 0"),
    ("experts-per-token-zero", LLAMA, {"num_local_experts": 8, "num_experts_per_tok": 0},
     r"experts_per_token: got 0; expected between 1 and num_experts \(8\)"),
    # shapes divide
    ("kv-heads-do-not-divide", LLAMA, {"num_key_value_heads": 3}, r"num_key_value_heads: got 3; expected a divisor of "
                                                                   r"num_attention_heads \(32\)"),
    ("hidden-not-split-by-heads", LLAMA, {"hidden_size": 4100}, r"cfg.json: hidden_size: got 4100; expected a multiple "
                                                                r"of num_attention_heads \(32\) when the config gives no head_dim"),
    ("linear-value-heads", QWEN_NEXT, {"linear_num_value_heads": 24}, r"linear_num_value_heads: got 24; expected a "
                                                                       r"multiple of linear_num_key_heads \(16\)"),
    ("mamba-groups", NEMOTRON, {"n_groups": 3}, r"n_groups: got 3; expected a divisor of the mamba heads \(128\)"),
    # layouts: one entry per layer, known kinds, the windows they need
    ("layer-types-short", GPT_OSS, {"layer_types": ["full_attention"] * 3}, r"layer_types: got '3 entries'; expected "
                                                                             r"one entry per layer \(24\)"),
    ("layer-types-unknown", GPT_OSS, {"layer_types": ["local"] * 24}, r"layer_types: .*among full_attention"),
    ("layer-types-no-window", GPT_OSS, {"sliding_window": None}, r"sliding_window: got None; expected a window in "
                                                                  r"tokens for the sliding layers"),
    ("pattern-length", NEMOTRON, {"hybrid_override_pattern": "M*-"}, r"hybrid_override_pattern: got 'M\*-'; expected "
                                                                      r"one character per layer \(52\)"),
    ("pattern-char", NEMOTRON, {"hybrid_override_pattern": "X" * 52}, r"hybrid_override_pattern: .*M mamba, \* attention"),
    ("jamba-offset", JAMBA, {"attn_layer_offset": 8}, r"attn_layer_offset: got 8; expected less than attn_layer_period"),
    ("pattern-zero", {**LLAMA, "model_type": "gemma3_text", "sliding_window": 512}, {"sliding_window_pattern": 0},
     r"sliding_window_pattern: got 0; expected a whole number > 0"),
    ("linear-missing", {k: v for k, v in QWEN_NEXT.items() if k != "linear_num_value_heads"}, {},
     r"linear_num_value_heads: got 'missing'"),
    ("quantization-text", GPT_OSS, {"quantization_config": "mxfp4"}, r"quantization_config: got 'mxfp4'; expected a "
                                                                       r"JSON object"),
    ("text-config-list", LLAMA, {"text_config": [1]}, r"--model-config: got 'cfg.json'; expected a JSON object"),
]


@pytest.mark.parametrize("base,changes,message", [case[1:] for case in BAD_FIELDS], ids=[case[0] for case in BAD_FIELDS])
def test_bad_fields_are_refused_with_the_field_named(base, changes, message):
    with pytest.raises(InputError, match=message):
        parse({**base, **changes})


def test_explicit_head_dim_need_not_split_the_hidden_size():
    """Gemma, Qwen3 and gpt-oss give head_dim explicitly and heads x head_dim differs from the hidden size."""
    arch = parse({**LLAMA, "hidden_size": 4100, "head_dim": 128})
    assert (arch.hidden_size, arch.head_dim) == (4100, 128)


def test_the_cli_refuses_a_string_boolean_in_one_line(tmp_path, cli):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "tie_word_embeddings": "false"}))
    result = cli("--rps", "1", "--input-tokens", "100", "--output-tokens", "10", "--model-config", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: tie_word_embeddings: got 'false'; expected true or false (a JSON boolean)"]


# --------------------------------------------------------------------------- layouts


def test_qwen_sliding_window_applies_only_when_enabled():
    """Qwen2.5 configs carry sliding_window 131072 with use_sliding_window false: every layer attends fully; with
    use_sliding_window true, layers from max_window_layers on slide."""
    qwen = json.loads((ROOT / "tests" / "data" / "hf_configs" / "qwen2.5-7b.json").read_text())
    assert {layer.mixer for layer in parse({**qwen, "sliding_window": 131072}).layers} == {"full"}
    enabled = parse({**qwen, "sliding_window": 4096, "use_sliding_window": True, "max_window_layers": 20})
    assert [layer.mixer for layer in enabled.layers] == ["full"] * 20 + ["sliding"] * 8


def test_gemma2_alternates_sliding_first():
    gemma = json.loads((ROOT / "tests" / "data" / "hf_configs" / "gemma-2-9b.json").read_text())
    assert [(layer.mixer, layer.window) for layer in parse(gemma).layers] == [("sliding", 4096), ("full", 0)] * 21


def test_text_config_fields_win_over_the_wrapper():
    """A multimodal wrapper's top level may carry the vision tower's sizes; the decoder's are in text_config."""
    wrapped = {"model_type": "llava", "hidden_size": 1152, "num_hidden_layers": 27, "text_config": LLAMA}
    arch = parse(wrapped)
    assert (arch.hidden_size, arch.num_layers) == (4096, 32)


def test_llama4_explicit_no_rope_layers():
    """no_rope_layers[i] = 1: layer i uses RoPE and attends within its chunk; 0: a NoPE global layer."""
    config = {**LLAMA, "model_type": "llama4_text", "attention_chunk_size": 8192, "num_hidden_layers": 4,
              "no_rope_layers": [1, 0, 1, 0]}
    assert [(layer.mixer, layer.window) for layer in parse(config).layers] == [("chunked", 8192), ("full", 0)] * 2


# --------------------------------------------------------------------------- quantization_config


@pytest.mark.parametrize("quantization,precision,experts_only", [
    ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]}, "MXFP4", True),
    ({"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}, "FP8", False),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, "INT4", False),
    ({"quant_method": "gptq", "bits": 8, "group_size": 128}, "INT8", False),
    ({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}, "NVFP4", False),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"type": "float", "num_bits": 8}}}}, "FP8", False),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"type": "float", "num_bits": 4, "group_size": 16}}}}, "NVFP4", False),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "INT4", False),
], ids=["mxfp4", "fp8-block", "awq", "gptq-8bit", "modelopt-nvfp4", "ct-fp8", "ct-nvfp4", "bnb-4bit"])
def test_quantization_config_gives_the_checkpoint_precision(quantization, precision, experts_only):
    base = GPT_OSS if experts_only else LLAMA
    arch = parse({**base, "quantization_config": quantization})
    assert arch.quantization.precision == precision and arch.quantization.experts_only == experts_only


def test_unknown_quantization_method_is_said_not_guessed(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "quantization_config": {"quant_method": "hqq", "nbits": 3}}))
    arch, notes = resolve_architecture(ModelConfig(model_config_path=str(path)))
    assert arch.quantization is None
    assert any("'hqq' is not one the planner reads" in note for note in notes)


def test_plan_notes_say_how_the_checkpoint_stores_its_weights():
    from config_loader import resolve_model

    _, _, notes = resolve_model(ModelConfig(model="gpt-oss-120b", precision="FP16"))
    assert any("stores its routed experts in MXFP4" in note and "--precision MXFP4" in note for note in notes)
    _, _, published = resolve_model(ModelConfig(model="gpt-oss-120b", precision="MXFP4"))
    assert any("planned as published" in note for note in published)
    # no precision asked: the checkpoint is served as published
    model, _, default = resolve_model(ModelConfig(model="gpt-oss-120b"))
    assert model.precision == "MXFP4" and any("planned as published" in note for note in default)
    assert resolve_model(ModelConfig(model="llama-3.1-8b"))[0].precision == "FP16"  # no quantization_config
    _, layout = resolve_architecture(ModelConfig(model="qwen3-next-80b-a3b"))
    assert any(note.startswith("Layers: 36 linear, 12 full.") and "fixed state" in note for note in layout)
