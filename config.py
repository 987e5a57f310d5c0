"""Reference data loaded once from ``data/``: GPUs, model architectures, precisions, constants.

No figures live in this module: each lookup reads a data file that names its sources.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import functools
import json
import math
import re
import sys
from pathlib import Path

from models import GPUSpec, InputError, ModelArchitecture, NotFoundError

BYTES_PER_GIB = 2**30


def _data_dir() -> Path:
    """``data/`` beside this module in a checkout; in an installed copy (``pip install .``), the data files the wheel
    puts under ``<prefix>/share/llm-capacity/data``."""
    import site
    import sysconfig

    here = Path(__file__).resolve().parent / "data"
    prefixes = [sysconfig.get_paths()["data"], sys.prefix, getattr(site, "USER_BASE", None) or ""]
    candidates = [here] + [Path(prefix) / "share" / "llm-capacity" / "data" for prefix in prefixes if prefix]
    return next((path for path in candidates if (path / "gpus.csv").is_file()), here)


DATA_DIR = _data_dir()


def _rows(name: str) -> list[dict]:
    with open(DATA_DIR / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _float(text: str) -> float:
    return float(text) if text not in ("", None) else 0.0


# --------------------------------------------------------------------------- constants


@functools.lru_cache(maxsize=None)
def _defaults() -> dict:
    return json.loads((DATA_DIR / "planner_defaults.json").read_text(encoding="utf-8"))


def default(name: str):
    """A planner constant from ``data/planner_defaults.json``."""
    return _defaults()[name]["value"]


_FITS_IN_FORCE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fits_in_force", default=None)


def fitted_parameters(file_name: str) -> dict:
    """The efficiencies the engines plan with: a shipped fit (``efficiency_fit.json``, ``training_fit.json``,
    written by ``python calibration.py refit-shipped``), or a calibration profile's inside :func:`fits_in_force`."""
    override = _FITS_IN_FORCE.get()
    if override is not None and file_name in override:
        return dict(override[file_name])
    return dict(shipped_fit(file_name)["parameters"])


@functools.lru_cache(maxsize=None)
def shipped_fit(file_name: str) -> dict:
    """A fit file of ``data/`` as ``calibration.py`` wrote it: parameters and provenance."""
    return json.loads((DATA_DIR / file_name).read_text(encoding="utf-8"))


@contextlib.contextmanager
def fits_in_force(parameters: dict[str, dict]):
    """Plan with ``parameters`` ({fit file name: parameters}, a calibration profile's) inside the block."""
    token = _FITS_IN_FORCE.set(parameters)
    try:
        yield
    finally:
        _FITS_IN_FORCE.reset(token)


# --------------------------------------------------------------------------- precisions


@functools.lru_cache(maxsize=None)
def _precisions() -> dict[str, dict]:
    return {row["precision"]: row for row in _rows("precisions.csv")}


@functools.lru_cache(maxsize=None)
def bytes_per_element(precision: str, group_size: int | None = None) -> float:
    """Stored bytes per weight or cache element, including quantization scales (one scale per ``group_size``
    weights when a checkpoint says so, else the format's group from ``data/precisions.csv``)."""
    row = _precisions()[precision]
    group = group_size or int(row["quant_group_size"])
    scales = _float(row["scale_bytes_per_group"]) / group if int(row["quant_group_size"]) else 0.0
    return float(row["bytes_per_element"]) + scales


def compute_precision(precision: str, gpu: GPUSpec | None = None) -> str:
    """The tensor-core rate the matmuls of weights stored in ``precision`` run at: the format's own (FP4 for
    MXFP4/NVFP4) on a ``gpu`` that has it, else its fallback (16-bit, the weights dequantized in the kernel)."""
    row = _precisions()[precision]
    native = row["compute_precision"]
    if gpu is not None and native not in gpu.tflops and row["fallback_compute_precision"]:
        return row["fallback_compute_precision"]
    return native


def weight_only(precision: str, compute: str) -> bool:
    """True when weights stored in ``precision`` are dequantized to 16-bit for a ``compute`` matmul (INT8/INT4,
    MXFP4/NVFP4 on GPUs without FP4 tensor cores): their bandwidth share is the quantized-kernel one."""
    return compute in ("FP16", "BF16", "FP32") and precision not in ("FP32", "FP16", "BF16")


def compute_note(precision: str, gpu: GPUSpec) -> str:
    """A sentence for the plan's assumptions when the GPU lacks the format's own tensor-core path."""
    compute = compute_precision(precision, gpu)
    native = _precisions()[precision]["compute_precision"]
    if compute == native:
        return ""
    return (f"{precision} weights: {gpu.id} has no {native} tensor cores, so they are dequantized to 16-bit inside "
            f"the matmul kernels (weight-only; {native} compute needs B200/GB200).")


# --------------------------------------------------------------------------- GPUs

_TFLOPS_COLUMNS = {"FP32": "tf32_tflops_dense", "FP16": "fp16_bf16_tflops_dense", "BF16": "fp16_bf16_tflops_dense",
                   "FP8": "fp8_tflops_dense", "INT8": "int8_tops_dense", "INT4": "int4_tops_dense",
                   "FP4": "fp4_tflops_dense"}


def _gpu_from_row(row: dict) -> GPUSpec:
    tflops = {p: _float(row[col]) for p, col in _TFLOPS_COLUMNS.items() if _float(row[col])}
    if "FP32" not in tflops and _float(row["fp32_tflops"]):
        tflops["FP32"] = _float(row["fp32_tflops"])
    return GPUSpec(
        id=row["id"],
        name=row["name"],
        vendor=row["vendor"],
        memory_gib=_float(row["memory_gb"]),
        hbm_bandwidth_gb_s=_float(row["hbm_bandwidth_gb_s"]),
        tflops=tflops,
        interconnect=row["interconnect"],
        interconnect_gb_s=_float(row["interconnect_gb_s_unidirectional"]) or default("pcie_gb_s_unidirectional"),
        gpus_per_node=int(_float(row["gpus_per_standard_node"]) or 8),
        tdp_w=_float(row["tdp_w"]),
        confidence=row["confidence"],
        aliases=tuple(a for a in row["aliases"].split(";") if a),
        source=row["sources"],
    )


@functools.lru_cache(maxsize=None)
def _gpus() -> dict[str, GPUSpec]:
    return {row["id"]: _gpu_from_row(row) for row in _rows("gpus.csv")}


@functools.lru_cache(maxsize=None)
def _gpu_names() -> dict[str, str]:
    names = {}
    for gpu in _gpus().values():
        for name in (gpu.id, gpu.name, *gpu.aliases):
            names[_normalize(name)] = gpu.id
    return names


def _normalize(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def list_gpus() -> list[GPUSpec]:
    """Every GPU in the catalog."""
    return list(_gpus().values())


def get_gpu(name: str, field_name: str = "gpu.gpu_type") -> GPUSpec:
    """The GPU named ``name`` (canonical id or alias, any case); :class:`NotFoundError` otherwise."""
    if not isinstance(name, str):
        raise InputError(field_name, name, "a GPU name such as H100-80GB")
    gpu_id = _gpu_names().get(_normalize(name))
    if gpu_id is None:
        raise NotFoundError(field_name, name, _gpus(), kind="GPU")
    return _gpus()[gpu_id]


@functools.lru_cache(maxsize=None)
def _matmul_ceilings() -> dict[tuple[str, str], float]:
    return {(row["gpu_id"], row["precision"]): float(row["mamf_tflops"]) / float(row["peak_tflops"])
            for row in _rows("gpu_matmul_ceilings.csv")}


def matmul_ceiling(gpu_id: str, compute_precision: str) -> tuple[float, bool]:
    """Measured maximum achievable matmul FLOPS as a share of the dense peak (MAMF, ``data/gpu_matmul_ceilings.csv``),
    and whether it was measured; GPUs without a measurement get the median of the measured ones."""
    key = "FP16" if compute_precision in ("FP16", "BF16") else compute_precision
    table = _matmul_ceilings()
    if (gpu_id, key) in table:
        return table[(gpu_id, key)], True
    same_precision = sorted(v for (_, p), v in table.items() if p == key) or sorted(table.values())
    return same_precision[len(same_precision) // 2], False


# --------------------------------------------------------------------------- models

MAX_SUGGESTED_SIZE_RATIO = 2.5
"""Suggestions for an unknown model stay within this factor of the size its name states, when any does."""
_MODEL_SIZE = re.compile(r"(?:(\d+)x)?(\d+(?:\.\d+)?)b$")
"""A size token in a model name: ``70b``, ``0.6b``, ``8x22b`` (experts x size)."""


@functools.lru_cache(maxsize=None)
def _catalog() -> dict[str, dict]:
    """``data/models.csv`` rows by id: the Hugging Face id, family, aliases, the config file and the stated counts."""
    return {row["id"]: row for row in _rows("models.csv")}


@functools.lru_cache(maxsize=None)
def _model(model_id: str) -> ModelArchitecture:
    """One catalog model, parsed from its ``data/model_configs`` copy of the published config.json."""
    from hf_config import architecture_from_hf_config

    row = _catalog()[model_id]
    config_json = json.loads((DATA_DIR / row["config"]).read_text(encoding="utf-8"))
    return architecture_from_hf_config(
        config_json, row["config"], id=row["id"], name=row["name"], hf_id=row["hf_id"], family=row["family"],
        aliases=tuple(a for a in row["aliases"].split(";") if a), nominal_params_b=_float(row["params_b"]) or None,
        nominal_active_params_b=_float(row["active_params_b"]) or None, source=row["config_source"])


@functools.lru_cache(maxsize=None)
def _model_names() -> dict[str, str]:
    """Every accepted spelling (lower case) -> catalog id: the id, name, Hugging Face id and aliases, with and without
    the organisation."""
    names = {}
    for row in _catalog().values():
        for name in (row["id"], row["name"], row["hf_id"], *row["aliases"].split(";")):
            if name:
                names[name.lower()] = row["id"]
                names.setdefault(name.lower().split("/")[-1], row["id"])
    return names


def list_models(family: str | None = None) -> list[ModelArchitecture]:
    """Every model in the catalog, or those of one ``family`` (any case)."""
    wanted = _family(family)
    return [_model(model_id) for model_id, row in _catalog().items() if wanted in (None, row["family"])]


def model_families() -> list[str]:
    return sorted({row["family"] for row in _catalog().values()}, key=str.lower)


def _family(family: str | None) -> str | None:
    if family is None:
        return None
    by_lower = {name.lower(): name for name in model_families()}
    if not isinstance(family, str) or family.strip().lower() not in by_lower:
        raise InputError("--family", family, "one of " + ", ".join(model_families()))
    return by_lower[family.strip().lower()]


VARIANT_SUFFIXES = ("-instruct", "-chat", "-it", "-hf", "-fp8", "-fp4", "-awq", "-gptq", "-int4", "-int8",
                    "-dynamic", "-w8a8", "-w4a16", "-base")
"""Suffixes of fine-tuned or quantized checkpoints of a catalog model (same shape): ``...-Instruct-FP8``."""


def get_model(name: str, field_name: str = "model.model") -> ModelArchitecture:
    """A catalog model by short id (``llama-3.1-70b``), Hugging Face id or alias (``meta-llama/Llama-3.1-8B-Instruct``),
    any case, also a fine-tuned or quantized variant of one (``nvidia/Llama-3.1-8B-Instruct-FP8``: the same shape;
    its weights' format is ``--precision``'s); an unknown name is an :class:`UnknownModel` naming the closest models
    by family and size."""
    if not isinstance(name, str):
        raise InputError(field_name, name, "a model id such as llama-3.1-70b")
    wanted = name.strip().lower().removeprefix("https://huggingface.co/").removeprefix("hf.co/")
    model_id = _model_names().get(wanted) or _model_names().get(wanted.split("/")[-1]) or _variant_of(wanted)
    if model_id is None:
        raise UnknownModel(field_name, name, closest_models(name))
    return _model(model_id)


def _variant_of(name: str) -> str | None:
    """The catalog id of the model ``name`` is a variant of (its variant suffixes taken off), else ``None``."""
    stripped = name.split("/")[-1]
    while stripped.endswith(VARIANT_SUFFIXES):
        stripped = stripped[:stripped.rindex("-")]
    return _model_names().get(stripped)


class UnknownModel(NotFoundError):
    """A model the catalog does not hold: the closest by family and size, and how to plan it anyway."""

    def __init__(self, field_name: str, value, closest: list[str]):
        hint = f"did you mean {' or '.join(closest)}? " if closest else ""
        InputError.__init__(self, field_name, value, f"a known model ({hint}--list-models lists all {len(_catalog())}), "
                            "or any model's Hugging Face config.json with --model-config PATH")


def closest_models(name: str, count: int = 3) -> list[str]:
    """Catalog ids nearest to ``name``: those sharing its name tokens (family and version: ``qwen3``, ``mixtral``,
    ``3.1``), then by size ratio to the size the name states (``14b``, ``8x22b``), then by spelling."""
    import difflib

    tokens, size = _name_tokens(name)
    scored = []
    for model_id, row in _catalog().items():
        shared = max(len(tokens & _name_tokens(spelling)[0]) for spelling in _spellings(row))
        distance = abs(math.log(size / _row_size(row))) if size and _row_size(row) else math.inf
        scored.append((-shared, distance, model_id))
    family = [entry for entry in sorted(scored) if entry[0]]
    if not family:
        return difflib.get_close_matches(name.lower().split("/")[-1], list(_catalog()), n=count, cutoff=0.6)
    near = [entry for entry in family if entry[1] <= math.log(MAX_SUGGESTED_SIZE_RATIO)]
    return [model_id for _, _, model_id in (near or family)[:count]]


def _spellings(row: dict) -> list[str]:
    return [row["id"], row["hf_id"], *(a for a in row["aliases"].split(";") if a)]


def _name_tokens(name: str) -> tuple[set[str], float | None]:
    """(non-size tokens, the stated size in B) of a model name: ``Mixtral-8x22B-v0.1`` -> ({mixtral, v0.1}, 176)."""
    tokens, size = set(), None
    for token in re.split(r"[^a-z0-9.]+", str(name).lower().split("/")[-1]):
        match = _MODEL_SIZE.fullmatch(token)
        if match and size is None:
            size = float(match.group(1) or 1) * float(match.group(2))
        elif token and not match and token not in ("instruct", "chat", "it", "base", "hf", "pt"):
            tokens.add(token)
    return tokens, size


def _row_size(row: dict) -> float | None:
    """A catalog model's size on the same scale as names state it (``8x22b`` -> 176), else its stated total."""
    return _name_tokens(row["id"])[1] or _float(row["params_b"]) or None


def model_records(family: str | None = None) -> list[dict]:
    """One record per catalog model (for ``--list-models``): id, family, parameters (computed from the shapes and
    as the model card states them), context, attention layout, the checkpoint's weight format."""
    import architecture

    return [{
        "id": arch.id, "hf_id": arch.hf_id, "family": arch.family,
        "params_b": round(architecture.total_params(arch) / 1e9, 2),
        "active_params_b": round(architecture.active_params(arch) / 1e9, 2),
        "stated_params_b": arch.nominal_params_b, "stated_active_params_b": arch.nominal_active_params_b,
        "context_tokens": arch.max_position_embeddings, "layers": arch.num_layers,
        "attention": ", ".join(f"{count} {kind}" for kind, count in architecture.mixer_counts(arch).items()),
        "experts": f"{arch.experts_per_token}/{arch.num_experts}" if arch.is_moe else "",
        "quantization": architecture.checkpoint_precision(arch) or "",
        "aliases": list(arch.aliases),
    } for arch in list_models(family)]


def gpu_records() -> list[dict]:
    """One record per GPU (for ``--list-gpus``): memory, bandwidth, dense TFLOPS by precision, interconnect."""
    return [{
        "id": gpu.id, "name": gpu.name, "vendor": gpu.vendor, "memory_gib": gpu.memory_gib,
        "hbm_bandwidth_gb_s": gpu.hbm_bandwidth_gb_s,
        **{f"{precision.lower()}_tflops": gpu.tflops.get(precision) for precision in ("FP16", "FP8", "FP4")},
        "interconnect": gpu.interconnect, "interconnect_gb_s": gpu.interconnect_gb_s, "gpus_per_node": gpu.gpus_per_node,
        "aliases": list(gpu.aliases),
    } for gpu in list_gpus()]


# --------------------------------------------------------------------------- all at once


def load_all() -> None:
    """Read every catalog and fit file now (each is read once per process): what a fleet worker does before its
    first service, so no service pays for the files."""
    for loader in (_defaults, _precisions, _gpus, _gpu_names, _matmul_ceilings, _catalog, _model_names, list_models):
        loader()
    for name in ("efficiency_fit.json", "training_fit.json"):
        shipped_fit(name)
