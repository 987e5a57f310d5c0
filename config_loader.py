"""JSON config files <-> validated inputs, config templates, and atomic file writes.

A config file has a ``mode`` and one section per input model::

    {"mode": "inference", "workload": {...}, "model": {...}, "gpu": {...}, "options": {...}}

Section keys are the field names of the models in ``models.py``; unknown sections or keys are
refused with a close-match suggestion. CLI flags override keys before the inputs are built, so
the effective configuration (``inputs`` in every plan) has the same shape as the file.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, BinaryIO, Callable

from hf_config import architecture_from_hf_config, quantization_note
from models import (
    MODES, CostOptions, FleetInput, ForecastInput, GPUConfig, InputError, LatencyInput, LLMWorkloadInput, ModelConfig,
    NotInModeError, PlanRequest, TrainingInput, UnknownKeyError,
)

SECTION_MODELS = {
    "workload": LLMWorkloadInput,
    "model": ModelConfig,
    "gpu": GPUConfig,
    "training": TrainingInput,
    "forecast": ForecastInput,
    "fleet": FleetInput,
    "latency": LatencyInput,
}
EXTRA_SECTION_KEYS = {
    "options": ("include_cost", *(f.name for f in dataclasses.fields(CostOptions))),
}
TOP_LEVEL_KEYS = ("mode", "profile", "measurements")
"""Keys of a config that are not sections: what to plan, a calibration profile, measurements to validate against."""
CONFIG_KEYS = (*TOP_LEVEL_KEYS, *SECTION_MODELS, *EXTRA_SECTION_KEYS)
"""Every top-level key of a config file."""
_RATE = ("inference", "compare", "forecast", "fleet")
"""Modes that size replicas for a request rate (a forecast's rate is its history's)."""
_SERVING = (*_RATE, "latency")
"""Modes that serve a model (a static batch too): engine, KV cache and tensor parallel matter."""
APPLIES_IN: dict[str, tuple[str, ...]] = {
    "workload": ("inference", "compare"),
    "workload.avg_input_tokens": _RATE,  # a forecast takes the request shape from a workload section
    "workload.avg_output_tokens": _RATE,
    "workload.ttft_slo_ms": _RATE,
    "workload.itl_slo_ms": _RATE,
    "latency": ("latency",),
    "training": ("training",),
    "forecast": ("forecast", "fleet"),
    "fleet": ("fleet",),
    "model": (*_SERVING, "training"),
    "model.kv_precision": _SERVING,
    "model.context_window": _SERVING,
    "model.batch_size": _RATE,  # latency: latency.batch_size; training: training.micro_batch_size
    "gpu": (*_SERVING, "training"),
    "gpu.tensor_parallel": _SERVING,  # training: training.tensor_parallel
    "gpu.engine": _SERVING,
    "gpu.gpu_memory_utilization": _SERVING,
    "gpu.target_gpu_utilization": _RATE,
    "options": ("inference", "compare", "training"),  # forecasts (a fleet's too) and static batches are not priced
    "measurements": ("validate",),
}
"""The modes whose plan uses a section (``workload``), a key (``workload.avg_input_tokens``, which wins over its
section's entry) or a top-level key; one absent applies in every mode (``profile``). What the CLI's flags and a
config file's keys are checked against (:func:`applies_in`), so nothing given is silently ignored."""
MISSING_KEY_FLAGS = {"workload": "--rps, --input-tokens, --output-tokens",
                     "latency": "--input-tokens, --output-tokens (and --batch-size)",
                     "training": "--dataset-size, --sequence-length, --epochs, --global-batch-size",
                     "forecast": "--history FILE"}
"""The flags that give a section's required keys, named when one is missing."""
FORECAST_SHAPE_KEYS = ("avg_input_tokens", "avg_output_tokens", "ttft_slo_ms", "itl_slo_ms")
"""Request-shape keys a forecast takes from a ``workload`` section when its own section lacks them (not the peak
multiplier: a workload's is peak over an average rate, a forecast's is the burst within one period)."""

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
        "forecast": {"history": None, "horizon_days": 30, "method": "auto", "scenario": "pessimistic",
                     "avg_input_tokens": 500, "avg_output_tokens": 200, "ttft_slo_ms": None, "itl_slo_ms": None},
        "model": {"model": "llama-3.1-70b", "precision": "FP16"},
        "gpu": {"gpu_type": "H100-80GB"},
    },
    "fleet": {
        "mode": "fleet",
        "forecast": {"history": None, "horizon_days": 30, "method": "auto", "scenario": "pessimistic"},
        "fleet": {"service_column": "service", "executor": "local", "dask_scheduler": None, "workers": None},
        "model": {"model": "llama-3.1-70b", "precision": "FP16"},
        "gpu": {"gpu_type": "H100-80GB"},
    },
}
SAMPLE_HISTORIES = {"forecast": ("traces", "azure2024_conv_per_hour.csv"), "fleet": ("fleet", "sample_fleet.parquet")}
"""The shipped history (folder and file under the data directory) a template's ``forecast.history`` names, so a
generated config runs as written (data/traces/README.md, data/fleet/README.md)."""


def section_keys(section: str) -> tuple[str, ...]:
    """Keys a config section accepts."""
    if section in SECTION_MODELS:
        return tuple(f.name for f in dataclasses.fields(SECTION_MODELS[section]))
    return EXTRA_SECTION_KEYS[section]


def validate_structure(config: Any, where: str = "config") -> dict:
    """Check sections and keys (not values); return the config unchanged."""
    if not isinstance(config, dict):
        raise InputError(where, type(config).__name__, "a JSON object with sections such as workload, model, gpu")
    sections = CONFIG_KEYS
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


def applies_in(target: tuple[str, ...] | str) -> tuple[str, ...]:
    """The modes whose plan uses a config key: ``("workload", "avg_input_tokens")``, ``"model.batch_size"``,
    ``("profile",)`` (:data:`APPLIES_IN`)."""
    dotted = target if isinstance(target, str) else ".".join(target)
    return APPLIES_IN.get(dotted) or APPLIES_IN.get(dotted.partition(".")[0]) or MODES


def check_keys_apply(config: dict, mode: str) -> None:
    """Refuse a section or key given a value the ``mode`` would ignore (:class:`models.NotInModeError`); a value
    left at its default (a written plan's ``inputs`` list them all) is not a value given."""
    for name, body in config.items():
        if name == "mode" or body is None:
            continue
        keys = body.items() if isinstance(body, dict) else [(None, body)]
        for key, value in keys:
            dotted = name if key is None else f"{name}.{key}"
            if value is not None and value != _default_of(name, key) and mode not in applies_in(dotted):
                raise NotInModeError(dotted, value, applies_in(dotted), mode)


def _default_of(section: str, key: str | None) -> Any:
    """The value a config key takes when left out (``None`` for one without a default)."""
    if key is None or section not in (*SECTION_MODELS, "options"):
        return None
    if section == "options":
        if key == "include_cost":
            return False
        section_type = CostOptions
    else:
        section_type = SECTION_MODELS[section]
    found = next((f for f in dataclasses.fields(section_type) if f.name == key), None)
    return None if found is None or found.default is dataclasses.MISSING else found.default


def load_config(path: str) -> dict:
    """Read and structurally validate a JSON config file; a written plan gives its ``inputs`` (its question)."""
    config = parse_json(read_text_file(path, "--config"), "--config", path)
    if isinstance(config, dict) and isinstance(config.get("inputs"), dict):
        config = config["inputs"]
    return validate_structure(config, where=path)


MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects read from a JSON file (configs are 3 deep, HF configs 4)."""


def parse_json(text: str, field_name: str, value: Any) -> Any:
    """``json.loads(text)``, or an :class:`InputError` (``field_name``, ``value``) saying where the JSON breaks.

    Nesting deeper than :data:`MAX_JSON_DEPTH` is refused (100,000 brackets exhaust the parser's recursion;
    a few hundred would exhaust later copies of the config)."""
    too_deep = f"JSON nested at most {MAX_JSON_DEPTH} levels deep"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(field_name, value, f"valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise InputError(field_name, value, too_deep) from None
    except ValueError as exc:  # a number past Python's 4300-digit limit for int()
        raise InputError(field_name, value, f"valid JSON ({exc})") from None
    if _too_deep(data):
        raise InputError(field_name, value, too_deep)
    return data


def _too_deep(data: Any) -> bool:
    """Whether ``data`` nests lists and dicts deeper than :data:`MAX_JSON_DEPTH` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def read_text_file(path: str, field_name: str, max_bytes: int = 200 * 2**20) -> str:
    """The UTF-8 text of ``path``, or an :class:`InputError` that says what is wrong with it."""
    check_input_file(path, field_name, max_bytes)
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(field_name, path, "a UTF-8 text file (this one is binary or another encoding)") from None
    except OSError as exc:
        raise InputError(field_name, path, f"a readable file ({exc.strerror})") from None


def check_input_file(path: str, field_name: str, max_bytes: int | None = 200 * 2**20) -> os.stat_result:
    """``path``'s status if it is an existing, non-empty file of at most ``max_bytes`` (``None``: any size)."""
    info = _stat(Path(path), field_name, path)
    if info is None:
        raise InputError(field_name, path, "an existing file (no such file)")
    if stat.S_ISDIR(info.st_mode):
        raise InputError(field_name, path, "a file, not a directory")
    if info.st_size == 0 and stat.S_ISREG(info.st_mode):
        raise InputError(field_name, path, "a non-empty file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise InputError(field_name, path, f"a file under {max_bytes // 2**20} MiB")
    return info


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
    check_keys_apply(config, mode)
    include_cost, cost = cost_options(config)
    sections: dict[str, Any] = {"gpu": section_input(config, "gpu")}
    if mode in ("inference", "compare"):
        sections.update(workload=section_input(config, "workload"), model=section_input(config, "model"))
    elif mode == "training":
        sections.update(training=section_input(config, "training"), model=section_input(config, "model"))
    elif mode == "latency":
        sections.update(latency=section_input(config, "latency"), model=section_input(config, "model"))
    elif mode in ("forecast", "fleet"):
        sections.update(forecast=section_input(_forecast_section(config), "forecast"),
                        model=section_input(config, "model") if _names_a_model(config) else None)
    if mode == "fleet":
        sections["fleet"] = section_input(_fleet_section(config), "fleet")
    return PlanRequest(mode, include_cost=include_cost, cost=cost, profile=config.get("profile"),
                       measurements=config.get("measurements"), **sections)


def _forecast_section(config: dict) -> dict:
    """The forecast section with the request shape (tokens, latency targets) a ``workload`` section gives."""
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


def template(mode: str, here: str | os.PathLike = ".") -> dict:
    """The config template for ``mode`` (what ``--generate-config`` writes); its history is the shipped sample,
    named relative to ``here`` (the directory the config is run from) when the data lies under it, else in full."""
    if mode not in TEMPLATES:
        raise InputError("--generate-config", mode, "one of " + ", ".join(TEMPLATES))
    result = copy.deepcopy(TEMPLATES[mode])
    if mode in SAMPLE_HISTORIES:
        result["forecast"]["history"] = sample_history_path(mode, here)
    return result


def sample_history_path(mode: str, here: str | os.PathLike = ".") -> str:
    """The shipped sample history of ``mode``'s template, as a path from ``here`` (POSIX separators)."""
    import config

    sample = config.DATA_DIR.joinpath(*SAMPLE_HISTORIES[mode]).resolve()
    base = Path(here).resolve()
    return (sample.relative_to(base) if sample.is_relative_to(base) else sample).as_posix()


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


TEMP_SUFFIX = ".partial"
"""Ending of the hidden name a file has while :func:`write_atomic` writes it (``.NAME.PID.RANDOM.partial``)."""
MAX_NAME_BYTES = 255
"""Longest file name (one path component, in bytes) the common file systems allow."""


def input_paths(config: dict, config_path: str | None = None) -> dict[str, str]:
    """The files a run reads, by the flag or key that names them (``--config``, ``forecast.history``...)."""
    named = {"--config": config_path,
             "forecast.history": config.get("forecast", {}).get("history"),
             "model.model_config_path": config.get("model", {}).get("model_config_path"),
             "options.price_file": config.get("options", {}).get("price_file")}
    return {label: os.fspath(path) for label, path in named.items() if isinstance(path, (str, os.PathLike))}


def check_outputs_apart(outputs: dict[str, str | os.PathLike | None], inputs: dict[str, str | os.PathLike]) -> None:
    """Refuse an output file that is one of the inputs, or another output (through symlinks, ``..`` and hard
    links): ``--config plan.json --output plan.json`` would replace the user's config with the plan."""
    seen: list[tuple[str, str]] = [(label, path) for label, path in inputs.items() if path]
    for flag, path in outputs.items():
        if path is None:
            continue
        for label, other in seen:
            if _same_file(path, other):
                raise InputError(flag, os.fspath(path), f"a file other than the {label} file it would overwrite")
        seen.append((flag, os.fspath(path)))


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.samefile(a, b)  # hard links; False or an error when either is missing
    except (OSError, ValueError):
        return False


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], Any], field_name: str = "--output") -> Path:
    """Write ``path`` through ``write(handle)`` on a temp file in the same directory, then fsync and rename:
    a failure leaves the old file or none, never half of the new one.

    The temp file is ``.NAME.PID.RANDOM.partial`` (its mode what ``open()`` gives); one left by a writer that
    was killed (``kill -9``) is removed by the next write of ``NAME``. A full disk or a read-only location
    is an :class:`InputError` naming ``field_name``."""
    target = check_output_path(path, field_name)
    _remove_stale_temps(target)
    tmp = _temp_path(target)
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(field_name, str(path), f"a writable location with room for the file ({exc.strerror or exc})") \
            from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _temp_path(target: Path) -> Path:
    """``.NAME.PID.RANDOM.partial`` beside ``target``, ``NAME`` cut (the same way for every process) so the
    whole name stays within :data:`MAX_NAME_BYTES`."""
    room = MAX_NAME_BYTES - len(f".{'9' * 10}.{'f' * 8}{TEMP_SUFFIX}") - 1
    stem = os.fsencode(target.name)[:room].decode("utf-8", "ignore") if len(os.fsencode(target.name)) > room \
        else target.name
    return target.parent / f".{stem}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _remove_stale_temps(target: Path) -> None:
    """Delete temp files of ``target`` left by writers that were killed (their process is gone)."""
    prefix = _temp_path(target).name.rsplit(".", 3)[0] + "."
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix) and n.endswith(TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                (target.parent / name).unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def write_json_atomic(path: str | os.PathLike, payload: Any, field_name: str = "--output") -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (:func:`write_atomic`)."""
    check_output_path(path, field_name)
    data = (json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n").encode("utf-8")
    return write_atomic(path, lambda handle: handle.write(data), field_name)


# --------------------------------------------------------------------------- model architectures

def resolve_model(model, default_precision: str | None = None) -> tuple[Any, Any, list[str]]:
    """``(model with its precision resolved, architecture, assumptions)``: a precision left unset serves the
    checkpoint as published (``quantization_config``), else FP16; ``default_precision`` (training) overrides
    the checkpoint's."""
    import dataclasses

    import architecture

    arch, notes = resolve_architecture(model)
    if model.precision is None:
        precision = default_precision or architecture.checkpoint_precision(arch) or "FP16"
        model = dataclasses.replace(model, precision=precision)
    return model, arch, [note for note in [*notes, _checkpoint_note(arch, model.precision)] if note]


def resolve_architecture(model) -> tuple[Any, list[str]]:
    """The architecture a :class:`models.ModelConfig` names (a ``--model-config`` file, a catalog model, or a size
    alone; ``hf_config.architecture_from_hf_config`` reads Hugging Face configs), with the assumptions it rests on."""
    import architecture
    import config

    if model.model_config_path:
        path = model.model_config_path
        hf = parse_json(read_text_file(path, "--model-config"), "--model-config", path)
        arch = architecture_from_hf_config(hf, path)
        notes = [f"Model shape read from {path}.", quantization_note(hf)]
    elif model.model:
        arch = config.get_model(model.model)
        notes = [f"Model {arch.name}: shape from the catalog ({arch.source})."]
    else:
        arch = architecture.dense_shape_for_size(model.model_size_billions)
        _check_derived_size(arch, model.model_size_billions)
        notes = [
            f"Only a size was given ({model.model_size_billions:g}B): planned as a dense Llama-style model with "
            f"{arch.num_layers} layers, hidden {arch.hidden_size}, {arch.num_attention_heads} heads, "
            f"{arch.num_kv_heads} KV heads (GQA), FFN {arch.intermediate_size}, vocabulary {arch.vocab_size}. "
            "Pass --model or --model-config for the real architecture."
        ]
    if model.model_size_billions is not None and (model.model_config_path or model.model):
        _check_named_size(arch, model.model_size_billions, model.model_config_path or model.model)
    return arch, [note for note in notes + [_layout_note(arch)] if note]


def _check_named_size(arch, size_b: float, named: str) -> None:
    """Refuse a size that contradicts the model named beside it (``--model-size 70 --model llama-3.1-8b``): the
    named shape would win silently. Its rounded size passes (``model_size_match`` in planner_defaults.json)."""
    import architecture
    import config

    actual_b = architecture.total_params(arch) / 1e9
    sizes = {actual_b, *([arch.nominal_params_b] if arch.nominal_params_b else [])}
    slack = config.default("model_size_match")
    if not any(abs(size_b - s) <= max(slack["share"] * s, slack["billions"]) for s in sizes):
        raise InputError("model.model_size_billions (--model-size)", size_b,
                         f"the size of the model named ({named}: {actual_b:.3g}B), or no size: the named model's "
                         "shape is what is planned")


def _layout_note(arch) -> str:
    """What the per-layer mixers mean for memory, when the layers are not all alike."""
    import architecture

    kinds = architecture.mixer_counts(arch)
    if len(kinds) == 1:
        return ""
    layout = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    state = " Linear-attention and Mamba layers keep a fixed state per sequence instead of a per-token cache." \
        if architecture.state_elements_per_sequence(arch) else ""
    return (f"Layers: {layout}. A sliding layer caches at most its window and a chunked layer at most its chunk."
            + state)


def _checkpoint_note(arch, precision: str) -> str:
    """How the checkpoint stores its weights (``quantization_config``) against the precision planned."""
    quant = arch.quantization
    if quant is None:
        return ""
    what = "its routed experts" if quant.experts_only else "its linear weights"
    planned = ("as published" if precision == quant.precision
               else f"at {precision} as asked (--precision {quant.precision} plans the checkpoint as published)")
    return f"The checkpoint stores {what} in {quant.precision} (quantization_config {quant.method}); planned {planned}."


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
