"""Config files, templates, HF config.json parsing and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import architecture
import config
import config_loader
from models import InputError, ModelConfig

HF_DIR = Path(__file__).parent / "data" / "hf_configs"


@pytest.mark.parametrize("name", ["llama-3.1-8b", "mistral-7b", "qwen2.5-7b", "gemma-2-9b", "mixtral-8x7b", "deepseek-v3"])
def test_hf_config_gives_the_catalog_shape(name):
    """Parsing the model's real config.json reproduces the catalog's parameter count and KV size."""
    parsed = config_loader.architecture_from_hf_config(json.loads((HF_DIR / f"{name}.json").read_text()), name)
    catalog = config.get_model(name)
    assert architecture.total_params(parsed) == architecture.total_params(catalog)
    assert architecture.active_params(parsed) == architecture.active_params(catalog)
    assert architecture.kv_cache_elements_per_token(parsed) == architecture.kv_cache_elements_per_token(catalog)


def test_gemma_explicit_head_dim_and_tied_embeddings():
    arch = config_loader.architecture_from_hf_config(json.loads((HF_DIR / "gemma-2-9b.json").read_text()))
    assert arch.head_dim == 256 and arch.hidden_size // arch.num_attention_heads == 224
    assert arch.tie_word_embeddings


def test_resolve_model_config_path():
    arch, notes = config_loader.resolve_architecture(ModelConfig(model_config_path=str(HF_DIR / "mixtral-8x7b.json")))
    assert arch.num_experts == 8 and arch.experts_per_token == 2
    assert "mixtral-8x7b.json" in notes[0]


def test_size_only_says_so():
    _, notes = config_loader.resolve_architecture(ModelConfig(model_size_billions=13))
    assert "Only a size was given" in notes[0]


@pytest.mark.parametrize("content,match", [
    ("{not json", "valid JSON"),
    ('{"num_hidden_layers": 2}', "hidden_size"),
    ("[1, 2]", "a JSON object"),
], ids=["malformed", "missing-field", "not-an-object"])
def test_bad_hf_config(tmp_path, content, match):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        config_loader.resolve_architecture(ModelConfig(model_config_path=str(path)))


@pytest.mark.parametrize("config,match", [
    ({"workload": {"requests_per_secnd": 1}}, "did you mean 'requests_per_second'"),
    ({"wrokload": {}}, "unknown key 'wrokload'; did you mean 'workload'"),
    ({"mode": "infer"}, "one of inference"),
    ({"gpu": "H100"}, "a JSON object"),
], ids=["typo-key", "typo-section", "bad-mode", "section-not-object"])
def test_structure_errors_name_the_key(config, match):
    with pytest.raises(InputError, match=match):
        config_loader.validate_structure(config)


@pytest.mark.parametrize("mode", ["inference", "training", "forecast"])
def test_templates_are_valid(mode):
    assert config_loader.validate_structure(config_loader.template(mode))["mode"] == mode


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = config_loader.write_json_atomic(tmp_path / "plan.json", {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_atomic_write_refuses_missing_directory(tmp_path):
    with pytest.raises(InputError, match="existing directory"):
        config_loader.write_json_atomic(tmp_path / "nope" / "plan.json", {})


def test_atomic_write_keeps_old_file_when_payload_fails(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text('{"old": true}')
    with pytest.raises(ValueError):
        config_loader.write_json_atomic(target, {"bad": float("nan")})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
