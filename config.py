"""Reference data loaded once from ``data/``: GPUs, model architectures, precisions, constants.

No figures live in this module: each lookup reads a data file that names its sources.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import functools
import json
from pathlib import Path

from models import GPUSpec, InputError, ModelArchitecture, NotFoundError

DATA_DIR = Path(__file__).resolve().parent / "data"
BYTES_PER_GIB = 2**30


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


def bytes_per_element(precision: str) -> float:
    """Stored bytes per weight or cache element, including quantization scales."""
    row = _precisions()[precision]
    group = int(row["quant_group_size"])
    scales = _float(row["scale_bytes_per_group"]) / group if group else 0.0
    return float(row["bytes_per_element"]) + scales


def compute_precision(precision: str) -> str:
    """The tensor-core rate the matmuls of weights stored in ``precision`` run at."""
    return _precisions()[precision]["compute_precision"]


# --------------------------------------------------------------------------- GPUs

_TFLOPS_COLUMNS = {"FP32": "tf32_tflops_dense", "FP16": "fp16_bf16_tflops_dense", "BF16": "fp16_bf16_tflops_dense",
                   "FP8": "fp8_tflops_dense", "INT8": "int8_tops_dense", "INT4": "int4_tops_dense"}


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

_INT_FIELDS = ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "intermediate_size",
               "vocab_size", "max_position_embeddings", "num_experts", "experts_per_token", "num_shared_experts",
               "moe_intermediate_size", "first_dense_layers", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim",
               "qk_nope_head_dim", "v_head_dim", "sliding_window")


def _model_from_row(row: dict) -> ModelArchitecture:
    return ModelArchitecture(
        id=row["id"],
        name=row["name"],
        hf_id=row["hf_id"],
        mlp=row["mlp"],
        tie_word_embeddings=row["tie_word_embeddings"] == "true",
        attention_bias=row["attention_bias"] == "true",
        nominal_params_b=_float(row["nominal_params_b"]) or None,
        source=row["source"],
        **{name: int(row[name]) for name in _INT_FIELDS},
    )


@functools.lru_cache(maxsize=None)
def _models() -> dict[str, ModelArchitecture]:
    return {row["id"]: _model_from_row(row) for row in _rows("models.csv")}


def list_models() -> list[ModelArchitecture]:
    """Every model in the catalog."""
    return list(_models().values())


def get_model(name: str, field_name: str = "model.model") -> ModelArchitecture:
    """A catalog model by short id (``llama-3.1-70b``) or Hugging Face id, any case."""
    if not isinstance(name, str):
        raise InputError(field_name, name, "a model id such as llama-3.1-70b")
    wanted = name.strip().lower()
    for model in _models().values():
        if wanted in (model.id, model.hf_id.lower(), model.name.lower(), model.hf_id.lower().split("/")[-1]):
            return model
    raise NotFoundError(field_name, name, _models(), kind="model")


# --------------------------------------------------------------------------- all at once


def load_all() -> None:
    """Read every catalog and fit file now (each is read once per process): what a fleet worker does before its
    first service, so no service pays for the files."""
    for loader in (_defaults, _precisions, _gpus, _gpu_names, _matmul_ceilings, _models):
        loader()
    for name in ("efficiency_fit.json", "training_fit.json"):
        shipped_fit(name)
