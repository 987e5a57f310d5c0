"""Reports people read: rich text of every planner result, and matplotlib pictures.

``render(result, stdout)`` writes the report of a result, chosen by its type (``report`` is a
``functools.singledispatch``): an inference plan, a training plan, a demand forecast, a GPU comparison,
a registered service's plan, a fleet's plan or a calibration check, with the seed's sections, a unit on every number,
and the plan's assumptions and warnings. ``working(text)`` shows progress on a terminal's stderr for
work that runs longer than a second: a spinner, then a bar once the work reports how far it is (a forecast's
fitting windows, a fleet's services). Pictures are ``plots.py``'s.

Colour follows rich: none when the output is not a terminal, none under ``NO_COLOR``. rich is
imported inside the functions that use it, so importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import threading
from contextlib import contextmanager
from typing import Any

from models import (
    FleetPlan, ForecastPlan, GPUComparison, InferencePlan, LatencyPlan, ServicePlan, TrainingPlan, ValidationReport,
    plural,
)

INDENT = 3
"""Spaces before a section's rows (the seed's reports indent them by three)."""
SPINNER_DELAY_S = 1.0
"""Work that finishes sooner shows no spinner."""

# --------------------------------------------------------------------------- number formats


def _num(value: float, decimals: int = 2) -> str:
    return f"{value:,.{decimals}f}"


def _usd(value: float, decimals: int = 2) -> str:
    return f"${value:,.{decimals}f}"


def _gib(value: float) -> str:
    return f"{value:,.2f} GiB"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


# Key suffix -> unit, for fields rendered from their names (the project's names carry units). Pure unit
# suffixes (``_gib``) leave the label; words that read as part of the name (``tokens_per_second``) stay.
_SUFFIX_UNITS = (
    ("_gib", "GiB"), ("_gb_s", "GB/s"), ("_gb", "GB"), ("_ms", "ms"), ("_hours", "h"), ("_days", "days"),
    ("_pct", "%"), ("_tflops", "TFLOPS"), ("_usd", "USD"), ("_s", "s"), ("_b", "B"), ("_w", "W"),
)
_NAME_UNITS = (("tokens_per_second", "tokens/s"), ("tokens_per_s", "tokens/s"), ("_tokens", "tokens"),
               ("_rps", "req/s"), ("requests_per_second", "req/s"))


def split_unit(key: str) -> tuple[str, str]:
    """``("estimated_duration", "h")`` from ``estimated_duration_hours``; ``(key, "")`` without a unit."""
    lower = key.lower()
    named = next((unit for suffix, unit in _NAME_UNITS if lower.endswith(suffix)), None)
    if named:
        return key, named
    for suffix, unit in _SUFFIX_UNITS:
        if lower.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], unit
    return key, ""


def value_text(key: str, value: Any) -> str:
    """``value`` as text with the unit its key names (``itl_ms`` -> ``12.3 ms``, ``*_cost`` -> ``$``)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {value_text(k, v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(key, v) for v in value)
    if not isinstance(value, (int, float)):
        return str(value)
    name = key.lower()
    if "usd" in name or "cost" in name or "price" in name:
        return _usd(value, 4 if abs(value) < 1 else 2)
    text = f"{value:,}" if isinstance(value, int) else _num(value, 4 if 0 < abs(value) < 0.01 else 2)
    unit = split_unit(key)[1]
    return f"{text} {unit}" if unit else text


_ACRONYMS = {"kv": "KV", "gpu": "GPU", "gpus": "GPUs", "rps": "RPS", "tps": "TPS", "ttft": "TTFT", "itl": "ITL",
             "mfu": "MFU", "usd": "USD", "gib": "GiB", "ms": "ms", "lora": "LoRA", "zero": "ZeRO", "tp": "TP",
             "pp": "PP"}


def label_text(key: str) -> str:
    """A field name as a label: ``max_rps_capacity`` -> ``Max RPS capacity``."""
    words = [_ACRONYMS.get(w, w) for w in key.split("_") if w]
    return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else key


# --------------------------------------------------------------------------- building blocks


def _section(title: str, rows: list[tuple[str, str]]):
    """A titled block of ``label: value`` rows, indented as in the seed's reports."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(f"{label}:", value)
    return Group(Text(title, style="bold cyan"), Padding(grid, (0, 0, 1, INDENT), expand=False))


def _bullets(title: str, lines: list[str], style: str = ""):
    """A titled list (assumptions, warnings, recommendations) with hanging indents; nothing when empty."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    if not lines:
        return Group()
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(style=style or None)
    for line in lines:
        grid.add_row("-", str(line))
    return Group(Text(title, style=f"bold {style or 'cyan'}"), Padding(grid, (0, 0, 1, INDENT), expand=False))


def _fields(obj: Any) -> dict:
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return dict(obj) if isinstance(obj, dict) else {}


def _generic_rows(obj: Any, skip: tuple = ()) -> list[tuple[str, str]]:
    """Every scalar field of a dataclass or dict as ``(label, value with unit)``."""
    return [(label_text(split_unit(k)[0]), value_text(k, v)) for k, v in _fields(obj).items()
            if k not in skip and not dataclasses.is_dataclass(v)]


def _title(text: str):
    from rich.text import Text

    return Text(text + "\n", style="bold")


def _with_defaults(values: dict, model_type: type) -> dict:
    """A config section with the model's defaults filled in (no validation: the plan was made)."""
    out = {f.name: f.default for f in dataclasses.fields(model_type) if f.default is not dataclasses.MISSING}
    out.update({k: v for k, v in (values or {}).items() if v is not None})
    return out


# --------------------------------------------------------------------------- tables


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a record table: which key, its header, how a value reads, how soon it goes when narrow."""

    key: str
    header: str
    text: Any = None
    """``value -> str`` (default: :func:`_cell`)."""
    drop_rank: int = 0
    """Columns with a higher rank are left out first when the table is wider than the console."""


def _money(value: float) -> str:
    return _usd(value, 0 if abs(value) >= 100 else 2)


def _one_decimal(value: float) -> str:
    return _num(value, 1)


def _whole(value: float) -> str:
    return f"{value:,.0f}"


COMPARE_COLUMNS = (  # drop_rank: what goes first on a narrow terminal, so that the note keeps a readable width
    Column("gpu_type", "GPU"), Column("tensor_parallel", "TP"), Column("precision", "Prec.", drop_rank=1),
    Column("replicas", "Repl.", drop_rank=5), Column("total_gpus", "GPUs"), Column("cloud", "Cloud"),
    Column("usd_per_gpu_hour", "$/GPU-h", _money, drop_rank=4), Column("monthly_gpu_cost", "$/month", _money),
    Column("ttft_ms", "TTFT ms", _whole), Column("itl_ms", "ITL ms", _one_decimal),
    Column("max_rps_per_replica", "RPS/repl.", _one_decimal, drop_rank=6),
    Column("cost_per_million_tokens", "$/1M tok", _money, drop_rank=7),
    Column("price_age_days", "Price age", lambda v: f"{v:,} d", drop_rank=8),
    Column("instance_type", "Instance", drop_rank=9),
    Column("feasible", "OK", drop_rank=3), Column("meets_targets", "Meets targets", drop_rank=2),
    Column("reason", "Note"),
)
"""Runners-up and GPU comparisons. A row that does not fit or misses the targets says so in its note (and shows
``-`` for what it cannot have), so the OK columns and what the others imply go before the note is squeezed. ``$/month``
is the monthly bill in whole instances (``monthly_gpu_cost``)."""


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _one_decimal(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _column_cell(columns: tuple[Column, ...]):
    """``(key, value) -> str`` formatting each value by its column in ``columns`` (``-`` for none)."""
    formats = {c.key: c.text for c in columns if c.text}

    def cell(key: str, value: Any) -> str:
        return "-" if value is None else formats.get(key, _cell)(value)

    return cell


_compare_cell = _column_cell(COMPARE_COLUMNS)


def _informative(records: list[dict], key: str) -> bool:
    """False for a column with no values, or a yes/no column that says the same on every row."""
    values = [r.get(key) for r in records]
    if all(v in (None, "") for v in values):
        return False
    return not (all(isinstance(v, bool) for v in values) and len(set(values)) == 1)


def _records_table(records: list[dict], columns: tuple = (), title: str | None = None, cell=None):
    """A compact table of dict rows: the named columns that say something, else every scalar key; columns
    left out, least important first, until it fits the console (see :class:`FittedTable`)."""
    columns = tuple(c if isinstance(c, Column) else Column(*c) for c in columns)
    present = [c for c in columns if any(c.key in r for r in records)]
    if not present:
        keys = dict.fromkeys(k for r in records for k, v in r.items() if not isinstance(v, (dict, list)))
        present = [Column(k, label_text(k)) for k in keys]
    present = [c for c in present if _informative(records, c.key)]
    return FittedTable(records, tuple(present), title, cell or _compare_cell)


WRAP_MIN_WIDTH = 30
"""A wrapping text column (a note, a reason) keeps at least this many characters (fewer when its longest text is
shorter, more when one of its words is longer, up to ``WRAP_MAX_WORD``): lower-priority columns go first."""
WRAP_MAX_WORD = 40
"""Longer words (paths, URLs) are folded across lines rather than given a column of their own width."""
_NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(\.\d+)?([eE][-+]?\d+)?([%x]|[kMBT]| [A-Za-z][A-Za-z/%.-]*)?")
"""A number as the tables write it: sign, ``$``, thousands commas, decimals, and a unit (``474k``, ``1.5x``,
``12 d``, ``80.0 GiB``)."""


def is_number_text(text: str) -> bool:
    """True for a cell that reads as one number with an optional unit (``$2.70``, ``-3``, ``1.17M``, ``12 d``)."""
    return _NUMBER.fullmatch(text) is not None


class FittedTable:
    """A rich table of records that leaves out its highest-``drop_rank`` columns until it fits the width.

    The last column, when it holds text, wraps at word boundaries (a note or a reason) and is given at least
    ``WRAP_MIN_WIDTH`` characters before a lower-priority column is kept; the others never wrap and never
    lose characters to an ellipsis: a column is left out whole rather than shown as ``6…``. Columns whose
    cells are all numbers (``-`` for none) are right-aligned.
    """

    def __init__(self, records: list[dict], columns: tuple[Column, ...], title: str | None, cell):
        self.records, self.columns, self.title, self.cell = records, columns, title, cell

    def _rows(self, columns) -> list[list[str]]:
        return [[self.cell(c.key, _shown(r, c.key)) for c in columns] for r in self.records]

    def _width(self, columns, rows) -> int:
        from rich.cells import cell_len

        widths = [max([cell_len(c.header), *(cell_len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
        if columns and self._wraps(columns, rows):
            words = [cell_len(word) for row in rows for word in row[-1].split()]
            widths[-1] = min(widths[-1], max(WRAP_MIN_WIDTH, min(max(words, default=0), WRAP_MAX_WORD)))
        return sum(widths) + 2 * max(len(columns) - 1, 0) + 2  # two spaces between columns, one at each edge

    def _wraps(self, columns, rows) -> bool:
        return not self._numeric(len(columns) - 1, rows)

    @staticmethod
    def _numeric(index: int, rows) -> bool:
        values = [row[index] for row in rows if row[index] not in ("-", "")]
        return bool(values) and all(is_number_text(v) for v in values)

    def __rich_console__(self, console, options):
        from rich import box
        from rich.table import Table

        columns = list(self.columns)
        rows = self._rows(columns)
        while len(columns) > 1 and self._width(columns, rows) > options.max_width:
            worst = max(range(len(columns)), key=lambda i: (columns[i].drop_rank, i))
            if columns[worst].drop_rank == 0:
                break
            del columns[worst]
            rows = self._rows(columns)
        table = Table(title=self.title, title_justify="left", title_style="bold cyan", header_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
        for index, column in enumerate(columns):
            numeric = self._numeric(index, rows)
            wraps = index == len(columns) - 1 and not numeric
            # "fold" with wrapping on breaks lines between words and splits only a word longer than the column
            table.add_column(column.header, justify="right" if numeric else "left", no_wrap=not wraps,
                             overflow="fold" if wraps else "ellipsis")
        for row in rows:
            table.add_row(*row)
        yield table


def _shown(record: dict, key: str) -> Any:
    """A row's value, with the zeros of an option that is not feasible shown as absent."""
    value = record.get(key)
    if record.get("feasible") is False and not isinstance(value, bool) and value == 0:
        return None
    return value


# --------------------------------------------------------------------------- inference


def inference_report(plan: InferencePlan) -> list:
    """The renderables of an inference plan, in the seed's section order."""
    from models import LLMWorkloadInput

    work = _with_defaults(plan.inputs.get("workload"), LLMWorkloadInput)
    model, res, tput, lat = plan.model, plan.gpu_resources, plan.throughput, plan.latency
    peak = work["requests_per_second"] * work["peak_load_multiplier"]
    asked = _gpu_asked(plan)
    blocks = [
        _title("LLM INFERENCE CAPACITY PLAN"),
        _section("INPUT SUMMARY", [
            ("Requests per Second", f"{_num(work['requests_per_second'])} req/s "
                                    f"(peak {_num(peak)} req/s at {work['peak_load_multiplier']:g}x)"),
            ("Input Tokens", f"{work['avg_input_tokens']:,} tokens per request"),
            ("Output Tokens", f"{work['avg_output_tokens']:,} tokens per request"),
            ("Model", f"{model.name} ({model.id})"),
            ("Model Size", f"{_num(model.params_b)}B params ({_num(model.active_params_b)}B active per token)"),
            ("Precision", f"{model.precision} weights, {model.kv_precision} KV cache "
                          f"({_num(model.kv_cache_kib_per_token, 1)} KiB per token)"),
            ("Serving Engine", ENGINE_NAMES.get(plan.engine, plan.engine)),
        ]),
        _section("GPU RESOURCES", [
            ("GPU Memory per Replica", _gib(res.memory_per_replica_gib)),
            *((f"  {label_text(k)}", _gib(v)) for k, v in res.memory_breakdown_gib.items()),
            ("GPU", f"{res.gpu_type} ({'as asked' if asked else 'the cheapest that meets the targets'})"),
            ("GPUs per Replica", f"{res.gpus_per_replica} x {res.gpu_type} ({_gib(res.gpu_memory_gib)} each), "
                                 f"tensor parallel {res.tensor_parallel}"),
            ("Max Concurrency", f"{plural(res.max_concurrency_per_replica, 'sequence')} per replica"),
            ("Replicas", f"{res.replicas} (range {res.replicas_min} - {res.replicas_max})"),
            ("Total GPUs", f"{res.total_gpus} ({_nodes_text(res.total_gpus, res.nodes, res.gpus_per_node)})"),
        ]),
        _bullets("CHEAPER OPTION", [res.recommendation_reason] if res.recommendation_reason else []),
        _section("THROUGHPUT", [
            ("Batch Size", f"{plural(tput.batch_size, 'sequence')} per decode step (operating point)"),
            ("TPS per Replica", f"{_num(tput.output_tokens_per_second_per_replica)} output tokens/s at peak load "
                                f"(saturated: {_num(tput.max_output_tokens_per_second_per_replica)} at "
                                f"{plural(res.max_concurrency_per_replica, 'sequence')})"),
            ("Total TPS Capacity", f"{_num(tput.total_output_tokens_per_second)} output tokens/s within the targets"),
            ("Max RPS per Replica", f"{_num(tput.max_rps_per_replica)} req/s"),
            ("Max RPS Capacity", f"{_num(tput.max_rps_capacity)} req/s (peak load {_num(peak)} req/s)"),
        ]),
        _section("LATENCY", [
            ("Est. TTFT", _latency_text(lat.ttft_ms, plan.slo.ttft_ms if plan.slo else None)),
            ("Est. ITL", _latency_text(lat.itl_ms, plan.slo.itl_ms if plan.slo else None)),
            ("Prefill", _ms(lat.prefill_ms)),
            ("Queueing", _ms(lat.queueing_ms)),
            ("End to End", f"{_ms(lat.e2e_ms)} per request"),
        ]),
    ]
    if plan.cost is not None:
        blocks.append(_inference_cost(plan.cost, res))
    if plan.alternatives:
        blocks += [_records_table(plan.alternatives, COMPARE_COLUMNS, title="OTHER OPTIONS (runners-up, best first)"),
                   _blank()]
    return blocks + _notes(plan.assumptions, plan.warnings)


ENGINE_NAMES = {"vllm": "vLLM", "trtllm": "TensorRT-LLM", "sglang": "SGLang"}


def _gpu_asked(plan) -> bool:
    """Whether the question named the GPU type (else the planner chose it)."""
    return bool((plan.inputs.get("gpu") or {}).get("gpu_type"))


def _latency_text(value_ms: float, target) -> str:
    """A latency, with its target and whether the plan meets it (``target``: a ``models.SLOTarget``)."""
    if target is None or target.target is None:
        return _ms(value_ms)
    return f"{_ms(value_ms)} (target <= {_ms(target.target)}: {'met' if target.met else 'MISSED'})"


def _nodes_text(gpus: int, nodes: int, gpus_per_node: int) -> str:
    """Where ``gpus`` GPUs sit: nodes of ``gpus_per_node``, the last one partly used when they do not fill it."""
    if nodes <= 1:
        return f"1 node, {gpus} of its {plural(gpus_per_node, 'GPU')}" if gpus < gpus_per_node else "1 node"
    last = gpus - (nodes - 1) * gpus_per_node
    whole = f"{plural(nodes, 'node')} of {plural(gpus_per_node, 'GPU')}"
    return whole if last == gpus_per_node else f"{whole}, the last one using {last} of its {gpus_per_node}"


def latency_report(plan: LatencyPlan) -> list:
    """The renderables of a static-batch latency plan (what ``vllm bench latency`` would measure)."""
    lat, tput = plan.latency, plan.throughput
    return [
        _title("STATIC-BATCH LATENCY (one replica, all prompts start together)"),
        _section("INPUT SUMMARY", [
            ("Batch", f"{plural(plan.batch_size, 'sequence')} of {plan.input_tokens:,} input + "
                      f"{plural(plan.output_tokens, 'output token')}"),
            ("Model", f"{plan.model.name} ({plan.model.id}), {plan.model.precision} weights, "
                      f"{plan.model.kv_precision} KV cache"),
            ("GPUs", f"{plan.tensor_parallel} x {plan.gpu_type}, tensor parallel {plan.tensor_parallel}"),
            ("Serving Engine", ENGINE_NAMES.get(plan.engine, plan.engine)),
        ]),
        _section("LATENCY", [
            ("TTFT", f"{_latency_text(lat.ttft_ms, plan.slo.ttft_ms)}: the prefill of the whole batch "
                     f"({plural(plan.batch_size, 'prompt')})"),
            ("ITL", f"{_latency_text(lat.itl_ms, plan.slo.itl_ms)}: the mean decode step as contexts grow"),
            ("End to End", _ms(lat.e2e_ms)),
        ]),
        _section("THROUGHPUT", [
            ("Output Tokens/s", f"{_num(tput.output_tokens_per_second)} ({_num(tput.output_tokens_per_second_per_gpu)} "
                                "per GPU)"),
            ("Requests/s", _num(tput.requests_per_second, 3)),
        ]),
        _section("MEMORY", [
            *((label_text(k), _gib(v)) for k, v in plan.memory_breakdown_gib.items()),
            ("Per GPU", f"{_gib(plan.memory_per_gpu_gib)} of {_gib(plan.gpu_memory_gib)}"),
            ("Largest Batch", f"{plural(plan.max_batch_size, 'sequence')} of this length (what the KV cache holds)"),
        ]),
    ] + _notes(plan.assumptions, plan.warnings)


def _price_text(price) -> str:
    where = ", ".join(p for p in (price.provider, price.instance_type, price.pricing, price.region) if p)
    age = f"as of {price.as_of_date}, {plural(price.age_days, 'day')} old" if price.as_of_date else "no date"
    return f"{_usd(price.usd_per_gpu_hour)} per GPU-hour ({where}; {age})"


def _inference_cost(cost, res) -> Any:
    price = cost.price
    instances = -(-res.total_gpus // price.gpus_per_instance) if price.gpus_per_instance else 0
    rented = (f"{_usd(cost.monthly_gpu_cost)} per month for {plural(instances, 'instance')} of "
              f"{price.instance_type or 'the listed size'} ({plural(price.gpus_per_instance, 'GPU')} each)"
              if instances else f"{_usd(cost.monthly_gpu_cost)} per month")
    return _section("COST ESTIMATES", [
        ("Monthly GPU Cost", rented),
        ("GPUs Alone", f"{_usd(cost.gpu_hours_monthly_cost)} for the {plural(res.total_gpus, 'GPU')} at "
                       f"{_usd(cost.usd_per_gpu_hour)} per GPU-hour ({_usd(cost.cost_per_replica_month)} per replica)"),
        ("Cost per 1M Tokens", f"{_usd(cost.cost_per_million_tokens, 4)} per 1M output tokens"),
        ("Cost per 1M All Tokens", f"{_usd(cost.cost_per_million_total_tokens, 4)} per 1M input + output tokens"),
        ("Price", _price_text(price)),
    ])


def _blank():
    from rich.text import Text

    return Text("")


def _notes(assumptions, warnings) -> list:
    return [_bullets("ASSUMPTIONS", list(assumptions or [])),
            _bullets("WARNINGS", list(warnings or []), style="yellow")]


# --------------------------------------------------------------------------- training

_TRAINING_INPUT_LABELS = (
    ("dataset_size_tokens", "Dataset Size", lambda v: plural(v, "token")),
    ("sequence_length", "Sequence Length", lambda v: plural(v, "token")),
    ("num_epochs", "Epochs", lambda v: f"{v:g}"),
    ("global_batch_size", "Global Batch Size", lambda v: f"{plural(v, 'sequence')} per step"),
    ("method", "Method", str),
    ("optimizer_type", "Optimizer", str),
    ("gradient_checkpointing", "Gradient Checkpointing", lambda v: "yes" if v else "no"),
)


def training_report(plan: TrainingPlan) -> list:
    """The renderables of a training plan, in the seed's section order."""
    from models import TrainingInput

    train = _with_defaults(plan.inputs.get("training"), TrainingInput)
    model = plan.model
    inputs = [(label, fmt(train[key])) for key, label, fmt in _TRAINING_INPUT_LABELS if key in train]
    inputs += [("Model", f"{model.name} ({_num(model.params_b)}B params)"), ("Precision", model.precision)]
    memory = [(_memory_label(k), _gib(v)) for k, v in plan.memory_breakdown_gib.items() if v or k == "total_per_gpu"]
    blocks = [
        _title("LLM TRAINING CAPACITY PLAN"),
        _section("INPUT SUMMARY", inputs),
        _section("GPU MEMORY BREAKDOWN (per GPU)", memory),
        _section("GPU REQUIREMENTS", _training_gpu_rows(plan.gpu_resources, _gpu_asked(plan))),
        _section("TRAINING ESTIMATES", _training_metric_rows(plan.training_metrics)),
    ]
    if plan.cost is not None:
        cost = plan.cost
        blocks.append(_section("COST ESTIMATES", [
            ("Total Training Cost", _usd(cost.total_training_cost)),
            ("Cost per Epoch", _usd(cost.cost_per_epoch)),
            ("Whole Instances", f"{_usd(cost.whole_instance_total_cost)} for the job's wall-clock hours"),
            ("Price", _price_text(cost.price)),
        ]))
    return blocks + _notes(plan.assumptions, plan.warnings)


def _memory_label(key: str) -> str:
    """Training memory terms; the (negative) correction says what it is."""
    return "Freed before the peak" if key == "not_resident_at_peak" else label_text(key)


def _training_gpu_choice(res, asked: bool) -> list[tuple[str, str]]:
    """The seed's "Recommended GPU" row: the planner's choice and why; when the plan is on another GPU (the user's,
    or one fixed by other answers), that GPU first and the recommendation (a cheaper type) after it."""
    if res.recommended_gpu == res.gpu_type and not asked:
        return [("Recommended GPU", f"{res.gpu_type} ({res.recommendation_reason})")]
    rows = [("GPU", f"{res.gpu_type} ({'as asked' if asked else 'planned on'})")]
    if res.recommended_gpu != res.gpu_type:
        rows.append(("Recommended GPU", res.recommendation_reason))
    return rows


def _training_gpu_rows(res, asked: bool) -> list[tuple[str, str]]:
    fits = "fits" if res.fits else "DOES NOT FIT"
    return [
        ("Required GPUs", f"{res.required_gpus:,} x {res.gpu_type} (memory alone needs {res.min_gpus_for_memory:,})"),
        *_training_gpu_choice(res, asked),
        ("Nodes", _nodes_text(res.required_gpus, res.nodes, res.gpus_per_node)),
        ("Parallelism", f"data {res.data_parallel} x tensor {res.tensor_parallel} x pipeline {res.pipeline_parallel}, "
                        f"ZeRO stage {res.zero_stage}"),
        ("Layout", res.sharding),
        ("Memory per GPU", f"{fits}: {_gib(res.memory_headroom_gib)} headroom of {_gib(res.gpu_memory_gib)} usable"),
    ]


def _training_metric_rows(m) -> list[tuple[str, str]]:
    step = ", ".join(f"{k.replace('_', ' ')} {v:,.3f} s" for k, v in m.time_breakdown_s.items())
    return [
        ("Duration", f"{_num(m.estimated_duration_hours, 1)} hours ({_num(m.estimated_duration_days, 1)} days)"),
        ("GPU Hours", f"{_num(m.gpu_hours, 0 if m.gpu_hours >= 100 else 2)} GPU-hours"),
        ("Total Tokens", f"{plural(m.total_tokens, 'token')} in {plural(m.steps, 'step')} of "
                         f"{plural(m.global_batch_tokens, 'token')}"),
        ("Throughput", f"{_num(m.tokens_per_second, 0)} tokens/s ({_num(m.tokens_per_second_per_gpu, 0)} per GPU)"),
        ("MFU", f"{m.mfu * 100:.1f}% of dense peak ({m.mfu_source})"),
        ("Step Time", f"{m.step_time_s:,.3f} s ({step})" if step else f"{m.step_time_s:,.3f} s"),
        ("Batching", f"micro-batch {plural(m.micro_batch_size, 'sequence')} x "
                     f"{plural(m.gradient_accumulation_steps, 'accumulation step')}"),
        ("Compute", f"{m.total_flops:.3e} FLOPs ({m.model_flops_per_token:.3e} FLOPs per token)"),
    ]


# --------------------------------------------------------------------------- forecast, validate, generic


FORECAST_COLUMNS = (("timestamp", "Peak at"), ("mean", "Median"), ("lower_80", "80% low"), ("upper_80", "80% high"),
                    ("lower_95", "95% low"), ("upper_95", "95% high"))
SCHEDULE_COLUMNS = (("start", "From"), ("peak_demand_rps", "Peak req/s"), ("replicas", "Replicas"),
                    ("gpus_needed", "GPUs"), ("add_gpus", "Add GPUs"), ("gpu_type", "GPU"))
MAX_DAILY_ROWS = 21
"""Forecast tables show the peak of each day up to this many days, of each week beyond."""


def forecast_report(plan: ForecastPlan) -> list:
    """The renderables of a demand forecast: method and scores, capacity, forecast, timeline, recommendations."""
    unit = plan.unit or plan.value_column
    backtest = plan.backtest
    scores = ", ".join(f"{m} {v:.3f}" for m, v in backtest["scores"].items())
    blocks = [_title("DEMAND FORECAST"), _section("SUMMARY", _forecast_summary_rows(plan, unit)),
              _section("BACKTEST", [
                  ("Metric", str(backtest["metric"])),
                  ("Origins", f"{plural(backtest['origins'], 'window')} of {plural(backtest['horizon_periods'], 'period')}"),
                  ("Scores", scores or "-"),
                  ("Selection", str(backtest["selection"])),
              ]),
              _section("CAPACITY", _capacity_rows(plan.capacity))]
    rows, period = _peaks(plan.forecast, "mean")
    blocks += [_records_table(rows, FORECAST_COLUMNS, title=f"FORECAST ({_unit_words(unit, plan.frequency)}): each "
                                                             f"{period}'s peak", cell=_forecast_cell), _blank()]
    if plan.provisioning_schedule:
        every = "week" if plan.capacity.get("provision_every") == "1w" else "day"
        blocks += [_records_table(plan.provisioning_schedule, SCHEDULE_COLUMNS, cell=_forecast_cell,
                                  title=f"PROVISIONING SCHEDULE ({plan.scenario} peak of each {every})"),
                   _blank()]
    blocks.append(_bullets("SCALING RECOMMENDATIONS", [str(r) for r in plan.scaling_recommendations]))
    return blocks + _notes(plan.assumptions, plan.warnings)


def _unit_words(unit: str, frequency: str) -> str:
    """``requests per period`` with the period's length and how it reads as req/s (the schedule's unit)."""
    if unit != "requests per period":
        return unit
    import pandas as pd

    try:
        seconds = pd.to_timedelta(pd.tseries.frequencies.to_offset(frequency)).total_seconds()
    except ValueError:  # a calendar step (months) has no fixed length
        return unit
    period = {60: "minute", 3600: "hour", 86_400: "day"}.get(int(seconds), f"{frequency} period")
    return f"requests per {period}, / {seconds:,.0f} = req/s"


def _forecast_summary_rows(plan: ForecastPlan, unit: str) -> list[tuple[str, str]]:
    method = plan.method
    asked = plan.requested_method
    rows = [("Method", f"{method} (asked for {asked})" if asked != method else method),
            ("Horizon", f"{plural(plan.horizon_days, 'day')} ({plural(plan.horizon_periods, 'period')} of {plan.frequency})")]
    if plan.seasonal_periods:
        rows.append(("Seasons", ", ".join(plural(p, "period") for p in plan.seasonal_periods)))
    rows += [("Demand", f"{plan.value_column} ({unit})"),
             ("Scenario", f"{plan.scenario} ({plan.scenario_column} of the forecast)")]
    return rows


def _capacity_rows(capacity: dict) -> list[tuple[str, str]]:
    if not capacity.get("included"):
        return [("Capacity", str(capacity.get("reason", "not planned")))]
    replica, now = capacity["replica"], capacity["current"]
    return [
        ("Replica", f"{replica['gpus_per_replica']} x {replica['gpu_type']}, tensor parallel "
                    f"{replica['tensor_parallel']}, planned for {_num(replica['planned_rps_per_replica'])} req/s"),
        ("Now", f"{plural(now['replicas'], 'replica')} = {plural(now['gpus'], 'GPU')}, {_num(now['capacity_rps'])} req/s "
                f"({now['basis']})"),
        ("Tokens per Request", f"{capacity['avg_input_tokens']} in / {capacity['avg_output_tokens']} out"),
        ("Peak Multiplier", f"{capacity['peak_load_multiplier']:g}x the forecast within a period"),
    ]


def _forecast_cell(key: str, value: Any) -> str:
    if key in ("timestamp", "start"):
        return str(value)[:16].replace("T", " ").removesuffix(" 00:00")
    if isinstance(value, float):
        return _compact(value)
    return _compare_cell(key, value)


def _compact(value: float) -> str:
    """Three significant figures with k/M/B/T, trailing zeros kept so a column reads evenly: ``7.19M``, ``67.0``,
    ``474k``; ``0`` for zero."""
    if value == 0:
        return "0"
    scale, suffix = next(((scale, suffix) for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
                          if abs(value) >= scale * 0.9995), (1.0, ""))  # 999.6 reads 1.00k, not 1.00e+03
    return f"{value / scale:#.3g}".rstrip(".") + suffix


def _peaks(records: list[dict], key: str) -> tuple[list[dict], str]:
    """The record with the highest ``key`` in each day (each week past ``MAX_DAILY_ROWS`` days), in time order."""
    from datetime import date, timedelta

    days = {str(r["timestamp"])[:10] for r in records}
    period = "week" if len(days) > MAX_DAILY_ROWS else "day"
    peaks: dict = {}
    for record in records:
        day = date.fromisoformat(str(record["timestamp"])[:10])
        group = day - timedelta(days=day.weekday()) if period == "week" else day
        if group not in peaks or record[key] > peaks[group][key]:
            peaks[group] = record
    return [peaks[g] for g in sorted(peaks)], period


def _quantity_label(quantity: str) -> str:
    """A measured quantity in words: ``saturated_output_tokens_per_s`` -> ``saturated output tok/s``."""
    name = split_unit(quantity)[0] if quantity.endswith(("_ms", "_gib")) else quantity
    return name.replace("tokens_per_s", "tok/s").replace("_", " ")


def _two_decimals(value: float) -> str:
    return _num(value, 2)


VALIDATE_COLUMNS = (
    Column("quantity", "Quantity", _quantity_label), Column("predicted", "Predicted", _two_decimals),
    Column("measured", "Measured", _two_decimals), Column("unit", "Unit", drop_rank=1),
    Column("error_pct", "Error %", lambda v: f"{v:+.1f}"), Column("id", "Case"), Column("source", "Source", drop_rank=2),
)
SUMMARY_COLUMNS = (
    Column("quantity", "Quantity", _quantity_label), Column("rows", "Rows"),
    Column("median_abs_error_pct", "Median |error| %", _one_decimal), Column("max_abs_error_pct", "Max |error| %", _one_decimal),
)


def validate_report(result: ValidationReport) -> list:
    """Predicted against measured, row by row, then the error summary per quantity."""
    summary = [{"quantity": q, **s} for q, s in result.summary.items()]
    return [
        _title("CALIBRATION CHECK: PREDICTED VS MEASURED"),
        _section("CHECKED", [("Measurements", result.measurements), ("Efficiencies", result.efficiencies)]),
        _records_table(list(result.rows), VALIDATE_COLUMNS, title="ROWS (farthest off first)", cell=_column_cell(VALIDATE_COLUMNS)),
        _blank(),
        _records_table(summary, SUMMARY_COLUMNS, title="SUMMARY", cell=_column_cell(SUMMARY_COLUMNS)),
    ]


CROSSVAL_COLUMNS = (
    Column("rows", "Rows"), Column("median_abs_error_pct", "Median |error| %", _one_decimal),
    Column("max_abs_error_pct", "Max |error| %", _one_decimal), Column("group", "Held-out group (fit on)"),
)


def render_crossval(results: dict[str, dict[str, dict]], stdout=None, width: int | None = None) -> None:
    """``calibration.py crossval``: per kind (inference, training), each held-out group's error when the
    efficiencies are refit without it."""
    console = make_console(stdout, width)
    for kind, groups in results.items():
        records = [{"group": group, **errors} for group, errors in groups.items()]
        console.print(_records_table(records, CROSSVAL_COLUMNS, title=f"{kind.upper()}: HELD-OUT GROUPS",
                                     cell=_column_cell(CROSSVAL_COLUMNS)))
        console.print()


def compare_report(result: GPUComparison) -> list:
    """GPU options that meet the targets (cheapest first), then the rejected ones with their reasons."""
    blocks = [_title("GPU COMPARISON"),
              _records_table(list(result.options), COMPARE_COLUMNS, title="OPTIONS THAT MEET THE TARGETS (cheapest first)")
              if result.options else _bullets("OPTIONS THAT MEET THE TARGETS", ["none"]), _blank()]
    if result.rejected:
        columns = (("gpu_type", "GPU"), ("tensor_parallel", "TP"), ("precision", "Precision"), ("reason", "Reason"))
        blocks += [_records_table(list(result.rejected), columns, title="REJECTED"), _blank()]
    if result.assumptions:
        blocks.append(_bullets("ASSUMPTIONS", result.assumptions))
    return blocks


def service_report(result: ServicePlan) -> list:
    """A registered service's plan: what it holds and needs, then the forecast or inference plan behind it."""
    horizon = f", {plural(result.horizon_days, 'day')} ahead" if result.horizon_days else ""
    rows = [("Service", result.service), ("Basis", f"{result.basis}{horizon}"), ("GPU", result.gpu_type),
            ("GPUs Held", plural(result.current_gpus, "GPU")), ("GPUs Needed", plural(result.required_gpus, "GPU")),
            ("To Add", plural(result.additional_gpus, "GPU")), ("Spare", plural(result.spare_gpus, "GPU"))]
    blocks = [_title("SERVICE CAPACITY PLAN"), _section("SERVICE", rows)]
    if result.note:
        blocks.append(_bullets("NOTE", [result.note]))
    blocks += report(result.plan)
    if result.request is not None:
        title = "REQUEST OPENED" if result.note is None else "REQUEST ALREADY OPEN"
        blocks.append(_section(title, [(label_text(k), value_text(k, v)) for k, v in result.request.items()
                                                     if not isinstance(v, (dict, list))]))
    return blocks


GPU_TOTAL_COLUMNS = (("key", ""), ("services", "Services"), ("current_gpus", "GPUs held"),
                     ("required_gpus", "GPUs needed"), ("additional_gpus", "To add"), ("spare_gpus", "Spare"))
SHORT_SERVICE_COLUMNS = (("service", "Service"), ("team", "Team"), ("gpu_type", "GPU"), ("current_gpus", "Held"),
                         ("required_gpus", "Needed"), ("additional_gpus", "To add"), ("shortfall_at", "Short from"))
FLEET_REQUEST_COLUMNS = (("id", "Request"), ("service", "Service"), ("state", "State"), ("gpus", "GPUs"),
                         ("gpu_type", "GPU"), ("opened", ""))
MAX_FLEET_ROWS = 25
"""Services listed per table of a fleet report (all of them are in ``--output``)."""


def fleet_report(plan: FleetPlan) -> list:
    """A fleet's plan: counts and GPU totals, per GPU type and team, the services short of GPUs (most first), the
    fleet's GPUs per day, and the services that failed with their errors."""
    totals = plan.totals
    blocks = [_title("FLEET CAPACITY PLAN"), _section("SUMMARY", _fleet_summary_rows(plan))]
    for group, title in (("by_gpu_type", "GPUS BY GPU TYPE"), ("by_team", "GPUS BY TEAM")):
        if totals[group]:
            rows = [{"key": name, **values} for name, values in totals[group].items()]
            blocks += [_records_table(rows, GPU_TOTAL_COLUMNS, title=title), _blank()]
    short = sorted((r for r in plan.services if r["additional_gpus"]), key=lambda r: (-r["additional_gpus"], r["service"]))
    if short:
        blocks += [_records_table(short[:MAX_FLEET_ROWS], SHORT_SERVICE_COLUMNS, cell=_fleet_cell,
                                  title=f"SERVICES THAT NEED MORE GPUS: {_listed(len(short))}, most first"), _blank()]
    if plan.requests:
        blocks += [_records_table([{**r, "opened": "opened now" if r["opened"] else "already open"} for r in plan.requests],
                                  FLEET_REQUEST_COLUMNS, title=_requests_title(plan.requests)), _blank()]
    if totals["by_date"]:
        rows, period = _fleet_days(totals["by_date"])
        blocks += [_records_table(rows, title=f"FLEET GPUS NEEDED: the peak of each {period}"), _blank()]
    failed = plan.failed
    blocks.append(_bullets(f"FAILED SERVICES: {_listed(len(failed))}",
                           [f"{row['service']}: {row['error']}" for row in failed[:MAX_FLEET_ROWS]], style="red"))
    return blocks + _notes(plan.assumptions, plan.warnings)


def _requests_title(requests: tuple) -> str:
    opened = sum(1 for r in requests if r["opened"])
    return f"CAPACITY REQUESTS: {opened:,} opened, {len(requests) - opened:,} already open"


def _fleet_cell(key: str, value: Any) -> str:
    if key.endswith("_at") and value is not None:
        return str(value)[:16].replace("T", " ")
    return _compare_cell(key, value)


def _listed(count: int) -> str:
    return f"{count:,}" + (f" (the first {MAX_FLEET_ROWS} shown; all in --output)" if count > MAX_FLEET_ROWS else "")


def _fleet_summary_rows(plan: FleetPlan) -> list[tuple[str, str]]:
    totals, where = plan.totals, plan.executor
    rows = [("Services", f"{totals['services']:,}: {totals['ok']:,} planned, {totals['failed']:,} failed"),
            ("Ran On", f"{where['kind']}, {plural(where['workers'], 'worker')}, "
                       f"{plural(where['partitions'], 'partition')} for {plural(where['services_planned'], 'service')}"
                       + (f" ({where['scheduler']})" if where.get("scheduler") else ""))]
    if totals["planned"]:
        assumed = sum(1 for row in plan.services if row["current_gpus_basis"] == "assumed")
        held = (f" ({plural(assumed, 'service')} with no current_replicas or current_gpus value in the history "
                "table: each counted as holding what its recent peak needs)" if assumed else "")
        rows += [("GPUs Held", plural(totals["current_gpus"], "GPU") + held),
                 ("GPUs Needed", f"{plural(totals['required_gpus'], 'GPU')} (each service at its peak)"),
                 ("To Add", plural(totals["additional_gpus"], "GPU")), ("Spare", plural(totals["spare_gpus"], "GPU"))]
    return rows


def _fleet_days(by_date: list[dict]) -> tuple[list[dict], str]:
    """One row per day (per week past ``MAX_DAILY_ROWS`` days), a column per GPU type: the most GPUs needed."""
    from datetime import date, timedelta

    types = sorted({cell["gpu_type"] for cell in by_date})
    days = sorted({cell["date"] for cell in by_date})
    period = "week" if len(days) > MAX_DAILY_ROWS else "day"
    per_day: dict[str, dict] = {}
    for cell in by_date:
        per_day.setdefault(cell["date"], dict.fromkeys(types, 0))[cell["gpu_type"]] = cell["gpus_needed"]
    rows: dict[str, dict] = {}
    for day in days:
        start = date.fromisoformat(day)
        key = (start - timedelta(days=start.weekday())).isoformat() if period == "week" else day
        row = rows.setdefault(key, {"date": key, **dict.fromkeys(types, 0), "total": 0})
        for gpu_type in types:
            row[gpu_type] = max(row[gpu_type], per_day[day][gpu_type])
        row["total"] = max(row["total"], sum(per_day[day].values()))
    return list(rows.values()), period


@functools.singledispatch
def report(result: Any) -> list:
    """The renderables for ``result``, chosen by its type: any other value as ``key: value`` rows."""
    rows = _generic_rows(result) or [("Result", str(result))]
    nested = [(k, v) for k, v in _fields(result).items() if dataclasses.is_dataclass(v)]
    return [_section("RESULT", rows)] + [_section(label_text(k).upper(), _generic_rows(v)) for k, v in nested]


report.register(InferencePlan, inference_report)
report.register(LatencyPlan, latency_report)
report.register(TrainingPlan, training_report)
report.register(ForecastPlan, forecast_report)
report.register(GPUComparison, compare_report)
report.register(ValidationReport, validate_report)
report.register(ServicePlan, service_report)
report.register(FleetPlan, fleet_report)


def make_console(stdout=None, width: int | None = None):
    """A rich console on ``stdout``: colour only on a terminal and never under ``NO_COLOR``."""
    from rich.console import Console

    return Console(file=stdout or sys.stdout, width=width, highlight=False, emoji=False, soft_wrap=False)


def render(result: Any, stdout=None, *, width: int | None = None, console=None) -> None:
    """Write the report of ``result`` to ``stdout`` (or to ``console`` when one is given)."""
    console = console or make_console(stdout, width)
    for block in report(result):
        console.print(block)


# --------------------------------------------------------------------------- in short


@functools.singledispatch
def in_short(result: Any) -> list[str]:
    """The plan's answer in a line or two, for the foot of a report that scrolled off a small terminal; empty for
    results without one answer."""
    return []


@in_short.register
def _(plan: InferencePlan) -> list[str]:
    res, lat = plan.gpu_resources, plan.latency
    missed = [name for name, target in (("TTFT", plan.slo and plan.slo.ttft_ms), ("ITL", plan.slo and plan.slo.itl_ms))
              if target and target.met is False]
    lines = [f"{plural(res.total_gpus, 'GPU')} x {res.gpu_type}: {plural(res.replicas, 'replica')} of "
             f"{res.gpus_per_replica}; TTFT {_num(lat.ttft_ms, 0)} ms, ITL {_num(lat.itl_ms, 1)} ms"
             + (f" ({' and '.join(missed)} target missed)" if missed else "")]
    if plan.cost is not None:
        lines.append(f"{_usd(plan.cost.monthly_gpu_cost)} per month")
    return lines


@in_short.register
def _(plan: LatencyPlan) -> list[str]:
    lat = plan.latency
    return [f"batch {plan.batch_size} on {plan.tensor_parallel} x {plan.gpu_type}: TTFT {_num(lat.ttft_ms, 1)} ms, "
            f"ITL {_num(lat.itl_ms, 2)} ms, E2E {_num(lat.e2e_ms / 1000, 2)} s"]


@in_short.register
def _(plan: TrainingPlan) -> list[str]:
    res, m = plan.gpu_resources, plan.training_metrics
    lines = [f"{plural(res.required_gpus, 'GPU')} x {res.gpu_type} for {_num(m.estimated_duration_hours, 1)} hours"]
    if plan.cost is not None:
        lines.append(f"{_usd(plan.cost.total_training_cost)} in total")
    return lines


@in_short.register
def _(plan: ForecastPlan) -> list[str]:
    return [str(plan.scaling_recommendations[0])] if plan.scaling_recommendations else []


def render_in_short(result: Any, console) -> None:
    """The IN SHORT block of :func:`in_short` on ``console`` (nothing for a result without one)."""
    console.print(_bullets("IN SHORT", in_short(result)))


# --------------------------------------------------------------------------- progress


@contextmanager
def working(description: str, stream=None, delay_s: float = SPINNER_DELAY_S):
    """Show work in progress on ``stream`` (stderr) once it runs past ``delay_s``; yields
    ``update(done, total, description=None)``.

    A spinner with elapsed time until the work reports its progress through ``update``, then a bar with the
    share done. Nothing is shown when ``stream`` is not a terminal, so piped output and ``--format json``
    stay clean (``update`` is then a no-op).
    """
    stream = stream or sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield lambda done, total, description=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), console=Console(file=stream), transient=True)
    task = progress.add_task(description, total=None)
    lock, state = threading.Lock(), {"started": False, "done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                progress.start()
                state["started"] = True

    def update(done: int, total: int, description: str | None = None) -> None:
        progress.update(task, completed=done, total=total, **({"description": description} if description else {}))

    timer = threading.Timer(delay_s, start)
    timer.daemon = True
    timer.start()
    try:
        yield update
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                progress.stop()


# --------------------------------------------------------------------------- catalogs (--list-models, --list-gpus)

CATALOG_COLUMNS = {
    "models": (("id", "Model"), ("params_b", "Params B"), ("active_params_b", "Active B"),
               ("context_tokens", "Context"), ("quantization", "Weights"), ("attention", "Token mixers (layers)")),
    "gpus": (("id", "GPU"), ("memory_gib", "Mem GB"), ("hbm_bandwidth_gb_s", "HBM GB/s"), ("fp16_tflops", "BF16"),
             ("fp8_tflops", "FP8"), ("fp4_tflops", "FP4"), ("interconnect_gb_s", "Link GB/s")),
}
"""Table columns of the catalogs (BF16/FP8/FP4: dense TFLOPS; link: one-way GB/s); ``--format json`` has every
field."""


def _catalog_cell(key: str, value: Any) -> str:
    if value in (None, ""):
        return "-"
    if key == "context_tokens":
        return f"{value / 2**20:g}M" if value >= 2**20 else f"{value / 2**10:g}K"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return str(value)


def render_catalog(records: list[dict], kind: str, stdout=None, width: int | None = None) -> None:
    """The ``--list-models`` (``kind="models"``) or ``--list-gpus`` table of ``config.model_records`` /
    ``config.gpu_records``."""
    title = "Models (parameters in billions)" if kind == "models" else "GPUs (dense TFLOPS)"
    make_console(stdout, width).print(_records_table(records, CATALOG_COLUMNS[kind], title=title, cell=_catalog_cell))
