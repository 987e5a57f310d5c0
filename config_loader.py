"""JSON config files <-> validated inputs, config templates, and atomic file writes.

A config file has a ``mode`` and one section per input model::

    {"mode": "inference", "workload": {...}, "model": {...}, "gpu": {...}, "options": {...}}

Section keys are the field names of the models in ``models.py``; unknown sections or keys are
refused with a close-match suggestion. CLI flags override keys before the inputs are built, so
the effective configuration (``inputs`` in every plan) has the same shape as the file.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from models import (
    MODES, CostOptions, FleetInput, ForecastInput, GPUConfig, InputError, LLMWorkloadInput, ModelConfig, PlanRequest,
    TrainingInput, UnknownKeyError, check_number,
)

SECTION_MODELS = {
    "workload": LLMWorkloadInput,
    "model": ModelConfig,
    "gpu": GPUConfig,
    "training": TrainingInput,
    "forecast": ForecastInput,
    "fleet": FleetInput,
}
EXTRA_SECTION_KEYS = {
    "options": ("include_cost", *(f.name for f in dataclasses.fields(CostOptions))),
}
TOP_LEVEL_KEYS = ("mode", "profile", "measurements")
"""Keys of a config that are not sections: what to plan, a calibration profile, measurements to validate against."""
MISSING_KEY_FLAGS = {"workload": "--rps, --input-tokens, --output-tokens",
                     "training": "--dataset-size, --sequence-length, --epochs, --global-batch-size",
                     "forecast": "--history FILE"}
"""The flags that give a section's required keys, named when one is missing."""
FORECAST_SHAPE_KEYS = ("avg_input_tokens", "avg_output_tokens", "peak_load_multiplier", "ttft_slo_ms", "itl_slo_ms")
"""Request-shape keys a forecast takes from a ``workload`` section when its own section lacks them."""

TEMPLATES: dict[str, dict] = {
    "inference": {
        "mode": "inference",
        "workload": {"requests_per_second": 10.0, "avg_input_tokens": 500, "avg_output_tokens": 200,
                     "peak_load_multiplier": 1.5, "ttft_slo_ms": None, "itl_slo_ms": None},
        "model": {"model_size_billions": 70, "precision": "FP16", "context_window": 8192, "batch_size": None},
        "gpu": {"gpu_type": "A100-80GB", "target_gpu_utilization": 0.7},
        "options": {"include_cost": True},
    },
    "training": {
        "mode": "training",
        "training": {"dataset_size_tokens": 1_000_000_000, "sequence_length": 4096, "num_epochs": 3,
                     "global_batch_size": 64, "optimizer_type": "AdamW", "gradient_checkpointing": True},
        "model": {"model_size_billions": 70, "precision": "BF16"},
        "gpu": {"gpu_type": "H100-80GB"},
        "options": {"include_cost": True},
    },
    "forecast": {
        "mode": "forecast",
        "forecast": {"history": "traffic.csv", "horizon_days": 30, "method": "auto", "scenario": "pessimistic",
                     "avg_input_tokens": 500, "avg_output_tokens": 200, "ttft_slo_ms": None, "itl_slo_ms": None},
        "model": {"model": "llama-3.1-70b", "precision": "FP16"},
        "gpu": {"gpu_type": "H100-80GB"},
    },
    "fleet": {
        "mode": "fleet",
        "forecast": {"history": "fleet.parquet", "horizon_days": 30, "method": "auto", "scenario": "pessimistic"},
        "fleet": {"service_column": "service", "executor": "local", "dask_scheduler": None, "workers": None},
        "model": {"model": "llama-3.1-70b", "precision": "FP16"},
        "gpu": {"gpu_type": "H100-80GB"},
    },
}


def section_keys(section: str) -> tuple[str, ...]:
    """Keys a config section accepts."""
    if section in SECTION_MODELS:
        return tuple(f.name for f in dataclasses.fields(SECTION_MODELS[section]))
    return EXTRA_SECTION_KEYS[section]


def validate_structure(config: Any, where: str = "config") -> dict:
    """Check sections and keys (not values); return the config unchanged."""
    if not isinstance(config, dict):
        raise InputError(where, type(config).__name__, "a JSON object with sections such as workload, model, gpu")
    sections = (*TOP_LEVEL_KEYS, *SECTION_MODELS, *EXTRA_SECTION_KEYS)
    for name, body in config.items():
        if name not in sections:
            raise UnknownKeyError(where, name, sections)
        if name == "mode":
            if body not in MODES:
                raise InputError(f"{where}: mode", body, "one of " + ", ".join(MODES))
            continue
        if name in TOP_LEVEL_KEYS:
            continue  # paths, checked by PlanRequest
        if not isinstance(body, dict):
            raise InputError(f"{where}: {name}", body, "a JSON object")
        known = section_keys(name)
        for key in body:
            if key not in known:
                raise UnknownKeyError(f"{where}: {name}", key, known)
    return config


def load_config(path: str) -> dict:
    """Read and structurally validate a JSON config file; a written plan gives its ``inputs`` (its question)."""
    config = parse_json(read_text_file(path, "--config"), "--config", path)
    if isinstance(config, dict) and isinstance(config.get("inputs"), dict):
        config = config["inputs"]
    return validate_structure(config, where=path)


def parse_json(text: str, field_name: str, value: Any) -> Any:
    """``json.loads(text)``, or an :class:`InputError` (``field_name``, ``value``) saying where the JSON breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(field_name, value, f"valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:  # a number past Python's 4300-digit limit for int()
        raise InputError(field_name, value, f"valid JSON ({exc})") from None


def read_text_file(path: str, field_name: str, max_bytes: int = 200 * 2**20) -> str:
    """The UTF-8 text of ``path``, or an :class:`InputError` that says what is wrong with it."""
    file = Path(path)
    info = _stat(file, field_name, path)
    if info is None:
        raise InputError(field_name, path, "an existing file (no such file)")
    if stat.S_ISDIR(info.st_mode):
        raise InputError(field_name, path, "a file, not a directory")
    size = info.st_size
    if size == 0:
        raise InputError(field_name, path, "a non-empty file")
    if size > max_bytes:
        raise InputError(field_name, path, f"a file under {max_bytes // 2**20} MiB")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(field_name, path, "a UTF-8 text file (this one is binary or another encoding)") from None
    except OSError as exc:
        raise InputError(field_name, path, f"a readable file ({exc.strerror})") from None


def _stat(file: Path, field_name: str, value: Any) -> os.stat_result | None:
    """``file``'s status, ``None`` when it does not exist; a path the system refuses (a name too long, no
    permission to look) is an :class:`InputError`, where ``Path.exists`` would raise."""
    try:
        return file.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(field_name, value, f"a usable path ({exc.strerror})") from None


def section_input(config: dict, section: str, model_type: type | None = None):
    """Build the validated model of one config section (``None`` values mean 'use the default')."""
    model_type = model_type or SECTION_MODELS[section]
    values = {k: v for k, v in config.get(section, {}).items() if v is not None}
    fields = dataclasses.fields(model_type)
    required = [f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        hint = f" (flags {MISSING_KEY_FLAGS[section]})" if section in MISSING_KEY_FLAGS else ""
        raise InputError(section, f"missing {', '.join(missing)}", f"every required key of the {section} section{hint}")
    return model_type(**{k: v for k, v in values.items() if k in {f.name for f in fields}})


def cost_options(config: dict) -> tuple[bool, CostOptions]:
    """``(include_cost, CostOptions)`` from the ``options`` section."""
    options = dict(config.get("options", {}))
    include = options.pop("include_cost", False)
    if not isinstance(include, bool):
        raise InputError("options.include_cost", include, "true or false")
    return include, section_input({"options": options}, "options", CostOptions)


def plan_request(config: dict) -> PlanRequest:
    """The typed question a config asks: what every door (flags, config files, the wizard) hands the engine."""
    config = validate_structure(config)
    mode = config.get("mode") or "inference"
    include_cost, cost = cost_options(config)
    sections: dict[str, Any] = {"gpu": section_input(config, "gpu")}
    if mode in ("inference", "compare"):
        sections.update(workload=section_input(config, "workload"), model=section_input(config, "model"))
    elif mode == "training":
        sections.update(training=section_input(config, "training"), model=section_input(config, "model"))
    elif mode in ("forecast", "fleet"):
        sections.update(forecast=section_input(_forecast_section(config), "forecast"),
                        model=section_input(config, "model") if _names_a_model(config) else None)
    if mode == "fleet":
        sections["fleet"] = section_input(_fleet_section(config), "fleet")
    return PlanRequest(mode, include_cost=include_cost, cost=cost, profile=config.get("profile"),
                       measurements=config.get("measurements"), **sections)


def _forecast_section(config: dict) -> dict:
    """The forecast section with the request shape (tokens, targets, peak) a ``workload`` section gives."""
    workload = config.get("workload", {})
    shape = {key: workload[key] for key in FORECAST_SHAPE_KEYS if workload.get(key) is not None}
    return {"forecast": {**shape, **{k: v for k, v in config.get("forecast", {}).items() if v is not None}}}


def _fleet_section(config: dict) -> dict:
    """The fleet section; with no model named for the whole fleet, the model section's options (``--precision``)
    serve the models the table's ``model`` column names."""
    fleet = dict(config.get("fleet", {}))
    options = {k: v for k, v in config.get("model", {}).items() if v is not None}
    if options and not _names_a_model(config):
        fleet.setdefault("model_options", options)
    return {"fleet": fleet}


def _names_a_model(config: dict) -> bool:
    """Whether the ``model`` section names a model (a precision alone does not)."""
    return any(value is not None for key, value in config.get("model", {}).items() if key != "precision")


def effective_config(config: dict) -> dict:
    """A deep copy suitable for a plan's ``inputs`` (what was actually used)."""
    return copy.deepcopy(config)


def template(mode: str) -> dict:
    """The config template for ``mode`` (what ``--generate-config`` writes)."""
    if mode not in TEMPLATES:
        raise InputError("--generate-config", mode, "one of " + ", ".join(TEMPLATES))
    return copy.deepcopy(TEMPLATES[mode])


def check_output_path(path: str | os.PathLike, field_name: str = "--output", suffix: str | None = None) -> Path:
    """``path`` as a file to write: in an existing directory, not a directory, ending in ``suffix`` if given."""
    target = Path(path)
    if suffix and target.suffix.lower() != suffix:
        raise InputError(field_name, str(path), f"a file name ending in {suffix}")
    directory = target.parent if str(target.parent) else Path(".")
    parent = _stat(directory, field_name, str(path))
    if parent is None or not stat.S_ISDIR(parent.st_mode):
        raise InputError(field_name, str(path), "a path in an existing directory")
    existing = _stat(target, field_name, str(path))
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise InputError(field_name, str(path), "a file path, not a directory")
    return target


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask, read once (reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], Any], field_name: str = "--output") -> Path:
    """Write ``path`` through ``write(handle)`` on a temp file in the same directory, then fsync and rename:
    a failure leaves the old file or none, never half of the new one."""
    target = check_output_path(path, field_name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(field_name, str(path), f"a writable location ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(path: str | os.PathLike, payload: Any, field_name: str = "--output") -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (:func:`write_atomic`)."""
    check_output_path(path, field_name)
    data = (json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n").encode("utf-8")
    return write_atomic(path, lambda handle: handle.write(data), field_name)


# --------------------------------------------------------------------------- model architectures

_HF_ALIASES = {
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner"),
    "vocab_size": ("vocab_size",),
}


def _hf_value(hf: dict, name: str, path: str):
    for key in _HF_ALIASES[name]:
        if hf.get(key) is not None:
            return hf[key]
    raise InputError(f"{path}: {_HF_ALIASES[name][0]}", "missing", "a Hugging Face config.json with this field")


def architecture_from_hf_config(hf: dict, path: str = "config.json"):
    """A :class:`models.ModelArchitecture` from a Hugging Face ``config.json`` dict.

    Reads Llama, Mistral, Mixtral, Qwen2, Gemma2, Phi-3, BLOOM and DeepSeek-V3 field names: explicit
    ``head_dim``, ``num_key_value_heads`` (GQA), ``tie_word_embeddings``, MoE (``num_local_experts`` /
    ``n_routed_experts``, ``num_experts_per_tok``, ``n_shared_experts``, ``moe_intermediate_size``,
    ``first_k_dense_replace``) and MLA (``kv_lora_rank``, ``qk_rope_head_dim``...).
    """
    from models import ModelArchitecture

    if not isinstance(hf, dict) or not isinstance(hf.get("text_config", {}), dict):
        raise InputError("--model-config", path, "a JSON object (a Hugging Face config.json)")
    hf = {**hf.get("text_config", {}), **hf}
    layers, hidden, heads = (check_number(f"{path}: {_HF_ALIASES[k][0]}", _hf_value(hf, k, path), integer=True)
                             for k in ("num_layers", "hidden_size", "num_attention_heads"))
    model_type = str(hf.get("model_type", "")).lower()
    mlp = "plain" if model_type in ("bloom", "gpt2", "gpt_neox", "opt", "falcon") else "gated"
    intermediate = hf.get("intermediate_size") or hf.get("ffn_dim") or hf.get("n_inner") or 4 * hidden
    experts = hf.get("num_local_experts") or hf.get("n_routed_experts") or hf.get("num_experts") or 0
    arch = dict(
        id=str(hf.get("_name_or_path") or Path(path).parent.name or "custom"),
        name=f"{hf.get('_name_or_path') or model_type or 'custom'} (from {path})",
        num_layers=layers, hidden_size=hidden, num_attention_heads=heads,
        num_kv_heads=hf.get("num_key_value_heads") or heads,
        head_dim=hf.get("head_dim") or hidden // heads,
        intermediate_size=intermediate,
        vocab_size=_hf_value(hf, "vocab_size", path),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", model_type in ("bloom", "gemma", "gemma2"))),
        max_position_embeddings=hf.get("max_position_embeddings") or hf.get("seq_length") or 2048,
        mlp=mlp,
        attention_bias=bool(hf.get("attention_bias", model_type in ("qwen2", "bloom"))),
        num_experts=experts,
        experts_per_token=hf.get("num_experts_per_tok", 0) if experts else 0,
        num_shared_experts=hf.get("n_shared_experts") or 0,
        moe_intermediate_size=(hf.get("moe_intermediate_size") or intermediate) if experts else 0,
        first_dense_layers=hf.get("first_k_dense_replace") or 0,
        q_lora_rank=hf.get("q_lora_rank") or 0,
        kv_lora_rank=hf.get("kv_lora_rank") or 0,
        qk_rope_head_dim=hf.get("qk_rope_head_dim") or 0,
        qk_nope_head_dim=hf.get("qk_nope_head_dim") or 0,
        v_head_dim=hf.get("v_head_dim") or 0,
        sliding_window=hf.get("sliding_window") or 0,
        source=f"Hugging Face config {path}",
    )
    try:
        if arch["kv_lora_rank"]:
            arch["head_dim"] = sum(check_number(f"model.{k}", arch[k], integer=True)
                                   for k in ("qk_nope_head_dim", "qk_rope_head_dim"))
        return ModelArchitecture(**arch)
    except InputError as exc:  # name the file: "config.json: model.vocab_size: got ..."
        raise InputError(f"{path}: {exc.field}", exc.value, exc.accepted) from None
    except TypeError as exc:
        raise InputError("--model-config", path, f"numeric shape fields ({exc})") from None


def resolve_architecture(model) -> tuple[Any, list[str]]:
    """The architecture a :class:`models.ModelConfig` names, with the assumption it rests on."""
    import architecture
    import config

    if model.model_config_path:
        path = model.model_config_path
        hf = parse_json(read_text_file(path, "--model-config"), "--model-config", path)
        arch = architecture_from_hf_config(hf, path)
        return arch, [f"Model shape read from {path}."]
    if model.model:
        arch = config.get_model(model.model)
        return arch, [f"Model {arch.name}: shape from the catalog ({arch.source})."]
    arch = architecture.dense_shape_for_size(model.model_size_billions)
    _check_derived_size(arch, model.model_size_billions)
    return arch, [
        f"Only a size was given ({model.model_size_billions:g}B): planned as a dense Llama-style model with "
        f"{arch.num_layers} layers, hidden {arch.hidden_size}, {arch.num_attention_heads} heads, "
        f"{arch.num_kv_heads} KV heads (GQA), FFN {arch.intermediate_size}, vocabulary {arch.vocab_size}. "
        "Pass --model or --model-config for the real architecture."
    ]


def _check_derived_size(arch, size_b: float) -> None:
    """Refuse a size the dense recipe cannot reach: below about 0.3B its vocabulary alone outweighs the request."""
    import architecture
    import config

    derived_b = architecture.total_params(arch) / 1e9
    if derived_b > size_b * (1 + config.default("derived_size_tolerance")):
        embedding_b = architecture.embedding_params(arch) / 1e9
        raise InputError("model.model_size_billions", size_b,
                         f"a size the Llama-3 shape recipe can derive (it gives {derived_b:.2f}B here: its "
                         f"{arch.vocab_size}-token vocabulary alone holds {embedding_b:.2f}B); pass --model or "
                         "--model-config for a model this small")
