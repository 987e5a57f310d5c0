"""Reports in an 80-column terminal: no line wider than 80, notes wrapped between words (not inside them) and
kept readable, numbers right-aligned, counts with the right plural, usage lines with the program's name.

Oracles are the texts themselves (every word of a note must come back whole), hand-counted layouts and
hand-written expectations, not the code's own formatting."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reports
from models import plural

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 80


def render80(*blocks) -> list[str]:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    for block in blocks:
        console.print(block)
    return console.file.getvalue().splitlines()


def assert_fits_and_words_whole(lines: list[str], texts: list[str]) -> None:
    """No line past 80 columns, and every word of ``texts`` printed whole (a word broken across lines would
    come back as two tokens that are not words of the text)."""
    assert max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    tokens = {token for line in lines for token in line.split()}
    broken = [word for text in texts for word in text.split() if word not in tokens]
    assert broken == [], "\n".join(lines)


def right_aligned(lines: list[str], header: str, cells: list[str]) -> bool:
    """True when each cell ends in the column where ``header`` ends (the header line is the first holding it)."""
    header_line = next(line for line in lines if f" {header} " in f" {line} ")
    end = header_line.index(header) + len(header)
    rows = [line for line in lines if line is not header_line]
    return all(any(line[:end].endswith(cell) and line[end:end + 1] in (" ", "") for line in rows) for cell in cells)


# --------------------------------------------------------------------------- 1. request list reasons


LONG_REASON = "plan (forecast, 30 days): 28 H100-80GB needed, 8 held; the approver asked for a cheaper replica layout"


def test_request_list_wraps_the_reason_between_words_at_80_columns():
    from commands.services import _blocks

    payload = [{"id": 1, "service": "chat-assistant", "state": "submitted", "gpus": 20, "gpu_type": "H100-80GB",
                "requested_by": "alice", "updated_at": "2026-11-30T10:55:52+00:00", "reason": LONG_REASON},
               {"id": 12, "service": "chat", "state": "draft", "gpus": 4, "gpu_type": "H100-80GB",
                "requested_by": "bob", "updated_at": "2026-11-30T11:00:00+00:00", "reason": "more traffic"}]
    lines = render80(*_blocks(("request", "list"), payload))
    assert_fits_and_words_whole(lines, [LONG_REASON])
    # 104 characters in a column of at least 30 (reports.WRAP_MIN_WIDTH): 4 lines at most
    first = next(i for i, line in enumerate(lines) if "plan (forecast," in line)
    assert "replica layout" in "\n".join(lines[first:first + 4])
    assert right_aligned(lines, "id", ["1", "12"]) and right_aligned(lines, "GPUs", ["20", "4"])


def test_a_word_longer_than_the_column_is_folded_not_cut():
    from commands.services import _blocks

    path = "/var/lib/capacity/" + "x" * 90 + ".csv"
    lines = render80(*_blocks(("request", "list"), [{"id": 1, "service": "s", "state": "draft", "gpus": 1,
                                                      "gpu_type": "L4-24GB", "reason": f"from {path} ok"}]))
    assert max(len(line) for line in lines) <= WIDTH
    assert path in "".join(line.strip() for line in lines).replace(" ", "")  # every character kept, in order


# --------------------------------------------------------------------------- 2. runners-up notes


NOTE = "does not fit: needs at least 145.7 GiB per replica; 1 x A100-80GB = 80 GiB"


def test_runners_up_note_keeps_a_readable_width_at_80_columns():
    from test_reports import fixed_plan

    alternatives = [{"gpu_type": "A100-80GB", "tensor_parallel": 2, "precision": "FP16", "total_gpus": 18,
                     "replicas": 9, "usd_per_gpu_hour": 2.7,
                     "monthly_gpu_cost": 47304.0,  # 18 GPUs in 3 instances of 8: 24 x $2.70 x 730 h
                     "ttft_ms": 322.0,
                     "itl_ms": 86.0, "feasible": True, "reason": ""},
                    {"gpu_type": "A100-80GB", "tensor_parallel": 1, "precision": "FP16", "feasible": False,
                     "reason": NOTE}]
    lines = render80(*reports.report(fixed_plan(alternatives=alternatives)))
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("OTHER OPTIONS")):]
    table = table[:next(i for i, line in enumerate(table) if line.startswith("ASSUMPTIONS"))]
    assert_fits_and_words_whole(table, [NOTE])
    note_lines = [line for line in table if line.strip() and "GPU " not in line and "──" not in line][2:]
    # 75 characters in a column of at least 30: three lines at most (it was eleven before)
    assert 1 <= len([line for line in note_lines if line.strip()]) <= 3, "\n".join(table)
    for kept in ("GPU", "TP", "GPUs", "$/month", "TTFT ms", "ITL ms", "Note"):
        assert f" {kept} " in f" {table[2]} ", table[2]
    assert right_aligned(table, "$/month", ["$47,304"]) and right_aligned(table, "TTFT ms", ["322"])


# --------------------------------------------------------------------------- 3. numeric columns


@pytest.mark.parametrize("text", ["0", "-3", "12", "1,234", "$2.70", "$35,478", "474k", "1.17M", "2.80B", "86.0",
                                  "12 d", "145.7 GiB", "1.5x", "25%", "1e+03"])
def test_numbers_with_units_read_as_numbers(text):
    assert reports.is_number_text(text)


@pytest.mark.parametrize("text", ["H100-80GB", "yes", "2024-01-15", "2024-01-15 06:00", "llama-3.1-8b", "FP16",
                                  "does not fit", "4 x H100", "-", ""])
def test_names_dates_and_words_are_not_numbers(text):
    assert not reports.is_number_text(text)


def test_forecast_table_numbers_are_right_aligned():
    rows = [{"timestamp": "2024-01-15T06:00:00", "mean": 1_170_000.0, "lower_80": 474_000.0, "upper_80": 2_080_000.0,
             "lower_95": 0.0, "upper_95": 3_580_000.0},
            {"timestamp": "2024-01-18T11:00:00", "mean": 872_000.0, "lower_80": 310_000.0, "upper_80": 1_590_000.0,
             "lower_95": 0.0, "upper_95": 2_800_000.0}]
    table = reports._records_table(rows, reports.FORECAST_COLUMNS, title="FORECAST", cell=reports._forecast_cell)
    lines = render80(table)
    assert right_aligned(lines, "Median", ["1.17M", "872k"])
    assert right_aligned(lines, "80% low", ["474k", "310k"])
    assert right_aligned(lines, "95% high", ["3.58M", "2.80M"])  # trailing zero kept: the column reads evenly
    assert any(line.startswith(" 2024-01-15 06:00") for line in lines)  # dates stay left


# --------------------------------------------------------------------------- 4. wording


@pytest.mark.parametrize("count, noun, expected", [(1, "GPU", "1 GPU"), (2, "GPU", "2 GPUs"), (0, "GPU", "0 GPUs"),
                                                   (1024, "sequence", "1,024 sequences"), (1.0, "day", "1 day"),
                                                   (0.5, "day", "0.5 days"), (3, "entry", "3 entries")])
def test_plural(count, noun, expected):
    assert plural(count, noun, "entries" if noun == "entry" else None) == expected


@pytest.mark.parametrize("gpus, nodes, per_node, expected", [
    (28, 4, 8, "4 nodes of 8 GPUs, the last one using 4 of its 8"),  # 3 x 8 + 4 = 28
    (32, 4, 8, "4 nodes of 8 GPUs"),                                  # 4 x 8 = 32
    (8, 1, 8, "1 node"),
    (3, 1, 8, "1 node, 3 of its 8 GPUs"),
])
def test_nodes_text_adds_up(gpus, nodes, per_node, expected):
    assert reports._nodes_text(gpus, nodes, per_node) == expected


def test_static_batch_of_one_reads_in_the_singular(cli):
    done = cli("--mode", "latency", "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--batch-size", "1",
               "--input-tokens", "512", "--output-tokens", "1")
    assert done.exit_code == 0, done.stderr
    assert re.search(r"Batch: +1 sequence of 512 input \+ 1 output token *$", done.stdout, re.MULTILINE), done.stdout
    assert "(1 prompt)" in done.stdout
    for slip in ("1 sequences", "1 prompts", "all 1 ", "1 GPUs", "1 output tokens"):
        assert slip not in done.stdout


# --------------------------------------------------------------------------- 6. training GPU rows


@pytest.fixture(scope="module")
def training_reports():
    from commands.forecast import apply_overrides, build_parser
    from config_loader import plan_request
    from llm_forecast_engine import LLMForecastEngine

    flags = ["--mode", "training", "--dataset-size", "100000000", "--sequence-length", "2048", "--epochs", "1",
             "--global-batch-size", "32", "--model", "llama-3.1-8b", "--precision", "BF16"]
    plans = {}
    for name, extra in (("asked", ["--gpu-type", "A100-80GB"]), ("chosen", [])):
        args = build_parser().parse_args(flags + extra)
        plans[name] = "\n".join(render80(*reports.report(
            LLMForecastEngine().plan(plan_request(apply_overrides({}, args, "training"))))))
    return plans


def test_a_gpu_the_user_named_is_not_called_recommended(training_reports):
    text = training_reports["asked"]
    assert "Recommended GPU: A100-80GB" not in text
    assert "GPU:" in text and "A100-80GB (as asked)" in text


def test_a_gpu_the_planner_chose_is_the_seeds_recommended_gpu_with_why(training_reports):
    text = training_reports["chosen"]
    (row,) = [line for line in text.splitlines() if "Recommended GPU:" in line]
    assert "(the cheapest priced GPU type that fits" in row


# --------------------------------------------------------------------------- 5. usage lines and no terminal


def _run(script: Path, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, timeout=120,
                          env=env, **kwargs)


@pytest.mark.parametrize("name, module", [("llm-capacity", "commands.forecast"),
                                          ("llm-capacity-services", "commands.services")])
def test_installed_scripts_show_their_own_name(tmp_path, name, module):
    script = tmp_path / name  # what pip writes for a [project.scripts] entry point
    script.write_text(f"import sys\nfrom {module} import main\nsys.exit(main())\n")
    done = _run(script, "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"usage: {name} "), done.stdout[:200]
    assert _run(ROOT / "commands" / Path(module.split(".")[1] + ".py"), "--help").stdout.startswith(
        f"usage: {module.split('.')[1]}.py ")


def test_no_arguments_and_no_terminal_is_one_error_line(tmp_path):
    script = tmp_path / "llm-capacity"
    script.write_text("import sys\nfrom commands.forecast import main\nsys.exit(main())\n")
    done = _run(script, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: ") and "--mode" in done.stderr and "--config" in done.stderr
    assert "llm-capacity" in done.stderr and "usage:" not in done.stderr
