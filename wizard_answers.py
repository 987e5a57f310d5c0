"""What the wizard accepts and offers: typed text -> values, the choices that can work, errors in its words.

No prompts here (``llm_agent.py`` asks the questions): every function is pure or reads a file or a catalog,
so tests call them directly. A refused answer raises :class:`models.InputError` whose text the prompt shows
under the question before asking again.
"""

from __future__ import annotations

import decimal
import functools
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from models import InputError, InfeasibleError, PlannerError, check_number

SUFFIXES = {"ki": 2**10, "k": 10**3, "m": 10**6, "b": 10**9}
"""Multipliers a number may end with where its prompt says so (token counts, dataset sizes): decimal ``4k`` is
4,000; ``4Ki`` is 4,096, the power-of-two size benchmarks use (``--input-tokens 2048``)."""
COMMA = ("a number without a comma, which is ambiguous (1,5: 1.5 or 15? 1,500: 1.5 or 1500?); type 1.5 or 15, "
         "and 1500 or 1_500 for thousands")
MAX_EXPONENT = 30
"""Past 1e30 a typed number is a slip (every bound is far below), refused before it is made an integer."""
NONE_WORDS = ("none", "-")
"""What clears an optional answer (Enter keeps the one shown)."""


# --------------------------------------------------------------------------- numbers and names


def parse_number(text: str, label: str, *, integer: bool = False, minimum: float = 0.0, inclusive: bool = False,
                 maximum: float | None = None, suffixes: bool = False) -> float | int:
    """A number from typed text: ``20``, ``1.5``, ``1_000``, ``1e9``; ``4k``/``4Ki``/``500M``/``2B`` only with
    ``suffixes`` (``4k`` = 4,000, ``4Ki`` = 4,096).

    A comma is refused (``1,5`` reads as 1.5 in half the world and 15 in the other); nothing typed is changed
    silently: the range check is :func:`models.check_number`'s, reported with the text as typed.
    """
    typed = text.strip()
    if "," in typed:
        raise InputError(label, typed, COMMA)
    scale = 1
    suffix = next((s for s in SUFFIXES if typed.lower().endswith(s) and len(typed) > len(s)), None)
    if suffix is not None:
        if not suffixes:
            raise InputError(label, typed, "a plain number here (k, Ki, M and B suffixes only where the question "
                                           "says so)")
        scale, typed = SUFFIXES[suffix], typed[:-len(suffix)]
    kind = "a whole number" if integer else "a number"
    try:
        exact = decimal.Decimal(typed) * scale if "_" not in typed or _underscores_ok(typed) else None
    except decimal.DecimalException:  # not a number, or past Decimal's exponent range
        exact = None
    if exact is None or not exact.is_finite() or exact.adjusted() > MAX_EXPONENT:
        raise InputError(label, text.strip(), f"{kind}{_range(minimum, inclusive, maximum)}")
    value: float | int = int(exact) if integer and exact == exact.to_integral_value() else float(exact)
    try:
        return check_number(label, value, minimum=minimum, inclusive=inclusive, maximum=maximum, integer=integer)
    except InputError as exc:
        raise InputError(label, text.strip(), exc.accepted) from None


def _underscores_ok(text: str) -> bool:
    """``1_000`` (Python's rule: one underscore between digits)."""
    return re.fullmatch(r"[+-]?\d+(_\d+)*(\.\d+(_\d+)*)?([eE][+-]?\d+)?", text) is not None


def _range(minimum: float, inclusive: bool, maximum: float | None) -> str:
    bound = f" >= {minimum:g}" if inclusive else f" > {minimum:g}"
    return bound + (f" and <= {maximum:g}" if maximum is not None else "")


def parse_model(text: str) -> tuple[str, Any]:
    """``(config key, value)`` for a model answer: a catalog id, a size in billions (``70``, ``70B``) or a
    ``config.json`` path."""
    import config

    answer = text.strip()
    if not answer:
        raise InputError("model", text, "a catalog model id, a size in billions (70) or a path to config.json")
    if re.fullmatch(r"[\d.,_]+\s*[bB]?", answer):
        return "model_size_billions", parse_number(answer.rstrip("bB "), "model size in billions", maximum=100_000)
    if answer.endswith(".json") or ("/" in answer and os.path.exists(answer)):  # False for a name too long
        return "model_config_path", _model_config_path(answer)
    return "model", config.get_model(answer).id


def _model_config_path(text: str) -> str:
    from config_loader import architecture_from_hf_config, parse_json, read_text_file

    path = Path(text).expanduser()
    hf = parse_json(read_text_file(str(path), "model config"), "model config", text)
    architecture_from_hf_config(hf, str(path))
    return str(path.resolve())


def model_config(answer: tuple[str, Any], precision: str = "FP16", context_window: int | None = None):
    """The :class:`models.ModelConfig` of a model answer."""
    from models import ModelConfig

    key, value = answer
    return ModelConfig(**{key: value}, precision=precision, context_window=context_window)


def model_architecture(answer: tuple[str, Any]):
    """The architecture a model answer names (catalog, config.json or a size's derived shape)."""
    from config_loader import resolve_architecture

    return resolve_architecture(model_config(answer))[0]


# --------------------------------------------------------------------------- files


def existing_file(text: str, label: str) -> Path:
    """An existing, readable, non-empty file, as an absolute path (a saved config then works from anywhere)."""
    typed = text.strip()
    path = Path(typed).expanduser()
    if not typed or not os.path.exists(path):  # os.path: False, not OSError, for a name too long
        raise InputError(label, typed, "an existing file (no such file)")
    if os.path.isdir(path):
        raise InputError(label, typed, "a file, not a directory")
    if os.path.getsize(path) == 0 or not os.access(path, os.R_OK):
        raise InputError(label, typed, "a readable, non-empty file")
    return path.resolve()


def shipped_traces() -> list[str]:
    """The traffic traces shipped with the planner (``data/traces``), as paths the wizard offers to complete
    (relative to the working directory when they are under it)."""
    import os

    import config

    paths = sorted((config.DATA_DIR / "traces").glob("*_per_*.csv"))
    relative = [os.path.relpath(p) for p in paths]
    return [r if not r.startswith("..") else str(p) for r, p in zip(relative, paths)]


def parse_history(text: str):
    """A traffic history file: ``(absolute path, demand_history.HistoryColumns)``; its header is read now."""
    from demand_history import history_columns

    if not text.strip():
        raise InputError("history file", text, "a path to your traffic CSV, or a shipped trace (Tab lists them)")
    path = existing_file(text, "history file")
    return str(path), history_columns(path)


def parse_profile(text: str) -> str:
    """A calibration profile (``python calibration.py fit``), loaded and checked now; its absolute path."""
    from calibration import load_profile

    path = str(existing_file(text, "calibration profile"))
    load_profile(path)
    return path


def parse_measurements(text: str) -> str:
    """A measurements CSV (``calibration.py import``), read and checked now; its absolute path."""
    from measurements import read_measurements

    path = str(existing_file(text, "measurements file"))
    read_measurements(path)
    return path


def parse_output_path(text: str, suffix: str, label: str) -> Path:
    """A file to write: ending in ``suffix``, not a directory, in a directory where a file can be created now."""
    from config_loader import check_output_path

    typed = text.strip()
    if not typed:
        raise InputError(label, typed, f"a file name ending in {suffix}")
    target = check_output_path(Path(typed).expanduser(), label, suffix=suffix)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise InputError(label, typed, f"a place where a file can be written ({exc.strerror or exc})") from None
    return target


# --------------------------------------------------------------------------- what can work


@functools.lru_cache(maxsize=64)
def inference_gpus(model: tuple[str, Any], precision: str, tokens_per_sequence: int,
                   engine: str = "vllm") -> dict[str, int]:
    """``{gpu id: fewest GPUs per replica}`` for each GPU where one replica of the model at ``precision`` holds a
    sequence of ``tokens_per_sequence`` within a node under ``engine``'s memory policy."""
    from inference_engine import gpus_that_hold
    from models import default_kv_precision

    held = gpus_that_hold(model_architecture(model), precision, default_kv_precision(precision), tokens_per_sequence,
                          engine)
    return {gpu.id: degree for gpu, degree in held}


def tensor_parallel_degrees(model: tuple[str, Any], gpu_id: str, fewest: int) -> list[int]:
    """Tensor-parallel degrees from ``fewest`` (the least that holds a replica: :func:`inference_gpus`) up that the
    model's heads divide within one ``gpu_id`` node (``inference_engine.valid_tensor_parallel``)."""
    import config
    from inference_engine import valid_tensor_parallel

    return [d for d in valid_tensor_parallel(model_architecture(model), config.get_gpu(gpu_id)) if d >= fewest]


def training_gpus(precision: str) -> list[str]:
    """GPUs that can train at ``precision`` (``training_engine.gpu_trains_at``); a job shards over as many GPUs as
    it needs, so memory does not rule one out."""
    import config
    from training_engine import gpu_trains_at

    return [g.id for g in config.list_gpus() if gpu_trains_at(g, precision)]


def training_precisions(method: str) -> tuple[str, ...]:
    """Precisions a training method can use (``training_engine.method_precisions``)."""
    from training_engine import method_precisions

    return method_precisions(method)


def clouds_for(gpu_id: str | None, gpus_per_replica: int = 1) -> tuple[str, ...]:
    """Clouds that list a price for ``gpu_id`` (any GPU when ``None``) in an instance holding a replica."""
    from pricing import listed_pricing

    return tuple(listed_pricing(gpu_id, gpus_per_replica))


def pricing_for(gpu_id: str | None, cloud: str | None, gpus_per_replica: int = 1) -> tuple[str, ...]:
    """Pricing models ``cloud`` lists for ``gpu_id`` (``None``: any cloud / any GPU), on-demand first."""
    from models import PRICING_MODELS
    from pricing import listed_pricing

    listed = listed_pricing(gpu_id, gpus_per_replica)
    found = {p for c, models in listed.items() if cloud is None or c == cloud for p in models}
    return tuple(p for p in PRICING_MODELS if p in found)


def frequency_choices(recorded: str, request_log: bool = False) -> list[tuple[str | None, str]]:
    """``(alias, title)``: the history's own step first, then the steps it can be averaged (or counted) to:
    coarser ones for a series, any for a request log (its rows are counted per step)."""
    import pandas as pd

    step = _nanos(pd.tseries.frequencies.to_offset(recorded))
    own = f"{'counted per' if request_log else 'as recorded,'} {recorded}"
    others = [(alias, f"{title} ({alias})") for alias, title in (("15min", "every 15 minutes"), ("h", "hourly"),
                                                                  ("D", "daily"))
              if (request_log and alias != recorded) or _nanos(pd.tseries.frequencies.to_offset(alias)) > step]
    return [(None, own), *others]


def _nanos(offset) -> float:
    try:
        return offset.nanos
    except ValueError:  # a calendar offset (months): coarser than any fixed step offered
        return float("inf")


# --------------------------------------------------------------------------- errors in the wizard's words

FLAG_KEYS = {
    "--history": "forecast.history", "--timestamp-column": "forecast.timestamp_column",
    "--value-column": "forecast.value_column", "--frequency": "forecast.frequency",
    "--peak-multiplier": "forecast.peak_load_multiplier", "--current-replicas": "forecast.current_replicas",
    "--model": "model", "--model-size": "model", "--model-config": "model", "--gpu-type": "gpu.gpu_type",
    "--input-tokens": "workload.avg_input_tokens", "--output-tokens": "workload.avg_output_tokens",
    "--rps": "workload.requests_per_second", "--precision": "model.precision",
    "--context-window": "model.context_window", "--tensor-parallel": "gpu.tensor_parallel",
    "--cloud": "options.cloud", "--pricing": "options.pricing", "--method": "training.method",
    "--efficiency-profile": "profile", "--measurements": "measurements", "--plot": "picture file",
    "--output": "plan file", "--config": "config file", "--deadline-hours": "training.deadline_hours",
}
"""Flags that library messages name, and the answer each stands for in the wizard."""
_FLAG = re.compile(r"--[a-z][a-z-]+")
_FIELD = re.compile(r"\b(model|workload|gpu|training|forecast|options)\.([a-z_]+)")


def in_words(message: str, labels: dict[str, str]) -> str:
    """``message`` with flag names and config keys replaced by the wizard's answer labels (``labels``: key -> label)."""

    def label(key: str) -> str | None:
        found = labels.get(key) or labels.get(_mode_free(key)) or labels.get(_model_key(key))
        return found.lower() if found else None

    def flag(match: re.Match) -> str:
        key = FLAG_KEYS.get(match.group(0))
        return match.group(0) if key is None else label(key) or key

    return _FIELD.sub(lambda m: label(m.group(0)) or m.group(0), _FLAG.sub(flag, message))


def _mode_free(key: str) -> str:
    """``workload.avg_input_tokens`` <-> ``forecast.avg_input_tokens`` (a forecast keeps the request shape apart)."""
    section, _, name = key.partition(".")
    return {"workload": f"forecast.{name}", "forecast": f"workload.{name}"}.get(section, key)


def _model_key(key: str) -> str:
    """Shape and identity fields of a model all stand for the model answer."""
    section, _, name = key.partition(".")
    return "model" if section == "model" and name not in ("precision", "context_window", "kv_precision") else key


def culprit(error: PlannerError, asked: list[str], answers: dict) -> str | None:
    """The answer (one of ``asked``, in order) that most likely caused ``error``, or ``None``."""
    if isinstance(error, InfeasibleError):
        return _infeasible_culprit(error, asked, answers)
    if not isinstance(error, InputError):
        return None
    candidates = [key for key in ("profile", "measurements", "forecast.history") if answers.get(key)
                  and (str(answers[key]) in str(error.field) or error.value == answers[key])]
    model = answers.get("model")
    if model and model[0] == "model_config_path" and str(model[1]) in str(error.field):
        candidates.append("model")
    candidates += [FLAG_KEYS.get(f) for f in _FLAG.findall(str(error.field))]
    candidates += [m.group(0) for m in _FIELD.finditer(str(error.field))]
    if str(error.field).startswith("history"):
        column = str(error.field).partition(":")[2].strip()
        candidates += [k for k in ("forecast.timestamp_column", "forecast.value_column")
                       if column and answers.get(k) == column] + ["forecast.history"]
    for key in candidates:
        for option in _fix_for(key):
            if option in asked:
                return option
    return None


def _fix_for(key: str | None) -> list[str]:
    """The answers that can fix a problem with ``key``, best first."""
    if key is None:
        return []
    if key == "gpu.tensor_parallel":  # a pricing message: no listed instance holds the replica's GPUs
        return ["options.cloud", "gpu.tensor_parallel", "gpu.gpu_type"]
    if key == "gpu.gpu_type":
        return ["gpu.gpu_type", "options.include_cost", "options.cloud"]
    if key.startswith("options."):
        return [key, "options.cloud", "options.include_cost"]
    return [key, _mode_free(key), _model_key(key)]


def _infeasible_culprit(error: InfeasibleError, asked: list[str], answers: dict) -> str | None:
    """No hardware serves the question: the inputs the planner says could fix it (a latency target it misses
    first), else the GPU, precision, deadline or model."""
    targets = [field for field in error.fields if field.endswith("_slo_ms")]
    missed = [key for field in targets for key in (field, field.replace("workload.", "forecast."))
              if answers.get(key) is not None]
    order = missed + [f for f in error.fields if f not in targets] + [
        "gpu.gpu_type", "model.precision", "training.deadline_hours", "model"]
    return next((k for k in order if k in asked), None)
