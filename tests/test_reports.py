"""Reports: golden text of a fixed plan, labels and units of real plans, clean JSON, colour rules, PNG plots."""

from __future__ import annotations

import io
import json
import re
import threading
import time

import pytest

import reports
from models import (GPUResources, InferenceCost, InferencePlan, InputError, Latency, ModelSummary, PriceQuote,
                    SLOReport, SLOTarget, Throughput)

PLAN_FLAGS = ["--mode", "inference", "--rps", "20", "--input-tokens", "500", "--output-tokens", "200",
              "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--itl-slo-ms", "40", "--cost"]


def fixed_plan(**changes) -> InferencePlan:
    """A plan with fixed numbers, so the whole report can be compared as text."""
    plan = InferencePlan(
        inputs={"mode": "inference",
                "workload": {"requests_per_second": 10.0, "avg_input_tokens": 500, "avg_output_tokens": 200,
                             "itl_slo_ms": 50.0},
                "model": {"model": "llama-3.1-70b", "precision": "FP16"}, "gpu": {"gpu_type": "H100-80GB"},
                "options": {"include_cost": True}},
        model=ModelSummary(id="llama-3.1-70b", name="Llama-3.1-70B", params_b=70.55, active_params_b=70.55,
                           num_layers=80, hidden_size=8192, num_attention_heads=64, num_kv_heads=8, head_dim=128,
                           intermediate_size=28672, vocab_size=128256, num_experts=0, experts_per_token=0,
                           kv_cache_kib_per_token=320.0, precision="FP16", kv_precision="FP16", source="catalog"),
        gpu_resources=GPUResources(gpu_type="H100-80GB", recommended_gpu="H200-141GB", gpus_per_replica=4,
                                   tensor_parallel=4, memory_per_replica_gib=284.4,
                                   memory_breakdown_gib={"weights": 131.4, "kv_cache": 140.0, "activations": 6.0,
                                                         "overhead": 7.0},
                                   gpu_memory_gib=80.0, max_concurrency_per_replica=57, replicas=2, replicas_min=1,
                                   replicas_max=2, total_gpus=8, nodes=1, gpus_per_node=8,
                                   recommendation_reason="H200-141GB (TP 2, 4 GPUs, $15,000/month) meets the same "
                                                         "targets for less than H100-80GB ($17,520/month)."),
        throughput=Throughput(batch_size=24, output_tokens_per_second_per_replica=1500.0,
                              max_output_tokens_per_second_per_replica=2100.0, total_output_tokens_per_second=3000.0,
                              max_rps_per_replica=10.5, max_rps_capacity=21.0),
        latency=Latency(ttft_ms=120.5, itl_ms=61.2, e2e_ms=6360.5, prefill_ms=80.0, queueing_ms=40.5),
        cost=InferenceCost(monthly_gpu_cost=17520.0, cost_per_replica_month=8760.0, cost_per_million_tokens=2.2222,
                           cost_per_million_total_tokens=0.6349, tokens_counted="output", usd_per_gpu_hour=3.0,
                           gpu_hours_monthly_cost=17520.0, whole_instance_monthly_cost=17520.0,
                           price=PriceQuote(gpu_type="H100-80GB", usd_per_gpu_hour=3.0, provider="aws",
                                            instance_type="p5.48xlarge", gpus_per_instance=8,
                                            usd_per_instance_hour=24.0, pricing="on-demand", region="us-east-1",
                                            as_of_date="2026-01-21", age_days=30, source="test")),
        assumptions=["Model Llama-3.1-70B: shape from the catalog."],
        warnings=["Price is 30 days old."],
        slo=SLOReport(ttft_ms=SLOTarget(target=None, predicted=120.5, met=None),
                      itl_ms=SLOTarget(target=50.0, predicted=61.2, met=False)),
        alternatives=[{"gpu_type": "H200-141GB", "tensor_parallel": 2, "precision": "FP16", "total_gpus": 4,
                       "replicas": 2, "monthly_gpu_cost": 20000.0, "feasible": True, "reason": ""},
                      {"gpu_type": "A100-80GB", "tensor_parallel": 4, "precision": "FP16", "total_gpus": 16,
                       "replicas": 4, "monthly_gpu_cost": 23360.0, "feasible": True, "reason": ""}],
    )
    return InferencePlan(**{**plan.__dict__, **changes})


GOLDEN_INFERENCE = """\
LLM INFERENCE CAPACITY PLAN

INPUT SUMMARY
   Requests per Second:  10.00 req/s (peak 15.00 req/s at 1.5x)
   Input Tokens:         500 tokens per request
   Output Tokens:        200 tokens per request
   Model:                Llama-3.1-70B (llama-3.1-70b)
   Model Size:           70.55B params (70.55B active per token)
   Precision:            FP16 weights, FP16 KV cache (320.0 KiB per token)
   Serving Engine:       vLLM

GPU RESOURCES
   GPU Memory per Replica:  284.40 GiB
     Weights:               131.40 GiB
     KV cache:              140.00 GiB
     Activations:           6.00 GiB
     Overhead:              7.00 GiB
   GPU:                     H100-80GB (as asked)
   GPUs per Replica:        4 x H100-80GB (80.00 GiB each), tensor parallel 4
   Max Concurrency:         57 sequences per replica
   Replicas:                2 (range 1 - 2)
   Total GPUs:              8 (1 node)

CHEAPER OPTION
   - H200-141GB (TP 2, 4 GPUs, $15,000/month) meets the same targets for less than H100-80GB
     ($17,520/month).

THROUGHPUT
   Batch Size:           24 sequences per decode step (operating point)
   TPS per Replica:      1,500.00 output tokens/s at peak load (saturated: 2,100.00 at 57 sequences)
   Total TPS Capacity:   3,000.00 output tokens/s within the targets
   Max RPS per Replica:  10.50 req/s
   Max RPS Capacity:     21.00 req/s (peak load 15.00 req/s)

LATENCY
   Est. TTFT:   120.5 ms
   Est. ITL:    61.2 ms (target <= 50.0 ms: MISSED)
   Prefill:     80.0 ms
   Queueing:    40.5 ms
   End to End:  6,360.5 ms per request

COST ESTIMATES
   Monthly GPU Cost:        $17,520.00 per month for 1 instance of p5.48xlarge (8 GPUs each)
   GPUs Alone:              $17,520.00 for the 8 GPUs at $3.00 per GPU-hour ($8,760.00 per replica)
   Cost per 1M Tokens:      $2.2222 per 1M output tokens
   Cost per 1M All Tokens:  $0.6349 per 1M input + output tokens
   Price:                   $3.00 per GPU-hour (aws, p5.48xlarge, on-demand, us-east-1; as of
                            2026-01-21, 30 days old)

OTHER OPTIONS (runners-up, best first)

 GPU         TP  Prec.  Repl.  GPUs  $/month
 ───────────────────────────────────────────
 H200-141GB   2  FP16       2     4  $20,000
 A100-80GB    4  FP16       4    16  $23,360


ASSUMPTIONS
   - Model Llama-3.1-70B: shape from the catalog.

WARNINGS
   - Price is 30 days old.
"""


def render_text(result, width: int = 100) -> str:
    """The report as plain text at a fixed width, trailing cell padding removed."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None)
    reports.render(result, console=console)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()).strip("\n") + "\n"


def test_inference_report_golden_text():
    assert render_text(fixed_plan()) == GOLDEN_INFERENCE


def test_inference_report_without_cost_or_runners_up_leaves_those_sections_out():
    text = render_text(fixed_plan(cost=None, alternatives=[], warnings=[]))
    for gone in ("COST ESTIMATES", "OTHER OPTIONS", "WARNINGS"):
        assert gone not in text
    assert "LATENCY" in text and "ASSUMPTIONS" in text


# label -> pattern its value must match (a number followed by its unit)
REAL_PLAN_LABELS = [
    ("Requests per Second", r"20\.00 req/s"),
    ("Input Tokens", r"500 tokens per request"),
    ("GPU Memory per Replica", r"[\d,.]+ GiB"),
    ("GPUs per Replica", r"\d+ x H100-80GB"),
    ("Total GPUs", r"\d+ \((\d+ nodes of 8 GPUs(, the last one using \d of its 8)?|1 node(, \d of its 8 GPUs)?)\)"),
    ("TPS per Replica", r"[\d,.]+ output tokens/s"),
    ("Max RPS Capacity", r"[\d,.]+ req/s"),
    ("Est. TTFT", r"[\d,.]+ ms"),
    ("Est. ITL", r"[\d,.]+ ms \(target <= 40\.0 ms: met\)"),
    ("Monthly GPU Cost", r"\$[\d,.]+ per month for \d+ instances? of "),
    ("GPUs Alone", r"\$[\d,.]+ for the \d+ GPUs? at \$[\d.]+ per GPU-hour"),
    ("Cost per 1M Tokens", r"\$[\d.]+ per 1M output tokens"),
]


@pytest.fixture(scope="module")
def real_plan():
    from commands.forecast import apply_overrides, build_parser
    from config_loader import plan_request
    from llm_forecast_engine import LLMForecastEngine

    args = build_parser().parse_args(PLAN_FLAGS)
    return LLMForecastEngine().plan(plan_request(apply_overrides({}, args, "inference")))


@pytest.mark.parametrize("label,pattern", REAL_PLAN_LABELS, ids=[label for label, _ in REAL_PLAN_LABELS])
def test_real_inference_plan_labels_carry_units(real_plan, label, pattern):
    text = render_text(real_plan)
    assert re.search(rf"^ +{re.escape(label)}: +{pattern}", text, re.MULTILINE), text


def test_real_inference_report_has_the_seed_sections_in_order(real_plan):
    text = render_text(real_plan)
    titles = ["LLM INFERENCE CAPACITY PLAN", "INPUT SUMMARY", "GPU RESOURCES", "THROUGHPUT", "LATENCY",
              "COST ESTIMATES", "ASSUMPTIONS"]
    positions = [text.index(f"{t}\n") for t in titles]
    assert positions == sorted(positions)


def test_json_output_is_clean_and_table_output_has_no_escape_codes(cli):
    as_json = cli(*PLAN_FLAGS, "--format", "json")
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout)["gpu_resources"]["gpu_type"] == "H100-80GB"
    assert "\x1b" not in as_json.stdout and as_json.stderr == ""
    as_table = cli(*PLAN_FLAGS)
    assert "GPU RESOURCES" in as_table.stdout and "\x1b" not in as_table.stdout


class _Terminal(io.StringIO):
    """A string buffer that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("no_color,coloured", [(None, True), ("1", False)], ids=["terminal", "NO_COLOR"])
def test_colour_on_a_terminal_unless_no_color(monkeypatch, no_color, coloured):
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = _Terminal()
    reports.render(fixed_plan(), out, width=100)
    colour_codes = re.findall(r"\x1b\[[0-9;]*3[0-9](;[0-9]+)*m", out.getvalue())
    assert bool(colour_codes) == coloured


# --------------------------------------------------------------------------- other results


def test_compare_report_shows_options_and_rejected_with_reasons(cli):
    result = cli("--mode", "compare", "--rps", "5", "--input-tokens", "500", "--output-tokens", "200",
                 "--model", "llama-3.1-70b", "--itl-slo-ms", "40")
    assert result.exit_code == 0, result.stderr
    assert "OPTIONS THAT MEET THE TARGETS (cheapest first)" in result.stdout
    assert "REJECTED" in result.stdout and "does not fit" in result.stdout


def test_validate_report_rows_and_summary():
    from models import ValidationReport

    result = ValidationReport(
        rows=[{"id": "h200-decode-b1", "quantity": "decode_step", "predicted": 12.3, "measured": 12.0,
               "unit": "ms", "error_pct": 2.5, "source": "h200"}],
        summary={"decode_step": {"rows": 1, "median_abs_error_pct": 2.5, "max_abs_error_pct": 2.5}})
    text = render_text(result)
    assert "CALIBRATION CHECK" in text and "h200-decode-b1" in text and "Median |error| %" in text


@pytest.mark.parametrize("result", [
    {"answer": 42, "latency_ms": 3.5, "nested": {"a": 1}},
    [{"x": 1, "y": "two"}, {"x": 3}],
    ["just", "strings"],
    [],
    "a plain string",
], ids=["dict", "list-of-dicts", "list-of-strings", "empty-list", "string"])
def test_unknown_results_render_generically(result):
    assert render_text(result).strip()


def test_generic_dict_values_carry_units_from_their_names():
    text = render_text({"latency_ms": 3.5, "monthly_cost": 1200.0, "memory_gib": 2.0})
    for pattern in (r"Latency: +3\.50 ms", r"Monthly cost: +\$1,200\.00", r"Memory: +2\.00 GiB"):
        assert re.search(pattern, text), pattern


@pytest.mark.parametrize("key,value,expected", [
    ("itl_ms", 12.345, "12.35 ms"),
    ("memory_per_gpu_gib", 18.1, "18.10 GiB"),
    ("estimated_duration_hours", 11.0, "11.00 h"),
    ("monthly_gpu_cost", 1234.5, "$1,234.50"),
    ("usd_per_gpu_hour", 0.35, "$0.3500"),
    ("output_tokens_per_second", 1.5, "1.50 tokens/s"),
    ("avg_input_tokens", 500, "500 tokens"),
    ("replicas", 3, "3"),
    ("fits", True, "yes"),
    ("gpu_type", None, "-"),
], ids=lambda v: str(v))
def test_value_text_units(key, value, expected):
    assert reports.value_text(key, value) == expected


# --------------------------------------------------------------------------- training and forecast


def test_training_report_has_the_seed_sections(cli):
    result = cli("--mode", "training", "--dataset-size", "1000000000", "--sequence-length", "4096", "--epochs", "3",
                 "--global-batch-size", "64", "--model-size", "70", "--precision", "BF16", "--optimizer", "AdamW",
                 "--gradient-checkpointing", "--gpu-type", "H100-80GB", "--cost")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for title in ("LLM TRAINING CAPACITY PLAN", "INPUT SUMMARY", "GPU MEMORY BREAKDOWN (per GPU)",
                  "GPU REQUIREMENTS", "TRAINING ESTIMATES", "COST ESTIMATES"):
        assert f"{title}\n" in text
    for pattern in (r"Dataset Size: +1,000,000,000 tokens", r"Optimizer states: +[\d,.]+ GiB",
                    r"Total per GPU: +[\d,.]+ GiB", r"Required GPUs: +\d+ x H100-80GB",
                    r"Duration: +[\d,.]+ hours \([\d,.]+ days\)", r"Total Training Cost: +\$[\d,.]+",
                    r"Cost per Epoch: +\$[\d,.]+"):
        assert re.search(pattern, text), pattern


@pytest.fixture(scope="module")
def real_forecast():
    """A real forecast plan (seasonal naive on three weeks of hourly rates, an 8B model on H100)."""
    import pandas as pd

    from llm_forecast_engine import LLMForecastEngine
    from models import ForecastInput, GPUConfig, ModelConfig

    index = pd.date_range("2026-01-01", periods=21 * 24, freq="h", tz="UTC")
    history = pd.Series([40.0 + 30.0 * (8 <= i % 24 < 20) for i in range(len(index))], index=index, name="rps")
    question = ForecastInput(history=history, horizon_days=3, method="seasonal_naive", avg_input_tokens=1000,
                             avg_output_tokens=250)
    return LLMForecastEngine().forecast(question, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100-80GB"))


def test_forecast_report_sections(real_forecast):
    text = render_text(real_forecast)
    for title in ("DEMAND FORECAST", "BACKTEST", "CAPACITY", "FORECAST (rps): each day's peak",
                  "PROVISIONING SCHEDULE (pessimistic peak of each day)", "SCALING RECOMMENDATIONS", "ASSUMPTIONS"):
        assert title in text
    assert real_forecast.scaling_recommendations[0][:40] in text.replace("\n   ", " ")
    assert re.search(r"Peak Multiplier: +1x the forecast within a period", text)


def test_reports_dispatch_on_the_result_type_not_on_keys():
    # A dict with a forecast's keys is not a forecast: it renders generically.
    text = render_text({"forecast": [], "scaling_recommendations": ["x"], "rows": [], "summary": {}})
    assert "DEMAND FORECAST" not in text and "CALIBRATION CHECK" not in text and "RESULT" in text


# --------------------------------------------------------------------------- progress


def test_working_is_silent_when_not_a_terminal():
    out = io.StringIO()
    with reports.working("planning", out, delay_s=0.0):
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_working_shows_a_spinner_only_after_the_delay():
    quick, slow = _Terminal(), _Terminal()
    with reports.working("quick work", quick, delay_s=5.0):
        pass
    assert quick.getvalue() == ""
    with reports.working("slow work", slow, delay_s=0.0):
        time.sleep(0.3)
    assert "slow work" in slow.getvalue()
    assert threading.active_count() < 20


# --------------------------------------------------------------------------- 80 columns


@pytest.mark.parametrize("argv", [
    ["--mode", "compare", "--rps", "10", "--input-tokens", "500", "--output-tokens", "200", "--model", "llama-3.1-70b",
     "--itl-slo-ms", "50"],
    ["--mode", "validate"],
], ids=["compare", "validate"])
def test_tables_stay_readable_at_80_columns(cli, monkeypatch, argv):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(*argv)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in result.stdout  # columns are left out whole, never cut to "6…"
    if "compare" in argv:
        header = next(line for line in lines if line.lstrip().startswith("GPU ") and "$/GPU-h" in line)
        assert "$/month" in header


def test_one_gpu_is_a_share_of_one_node_not_a_node_of_eight():
    plan = fixed_plan(gpu_resources=GPUResources(
        gpu_type="H100-80GB", recommended_gpu="H100-80GB", gpus_per_replica=1, tensor_parallel=1,
        memory_per_replica_gib=40.0, memory_breakdown_gib={"weights": 16.0, "kv_cache": 20.0, "activations": 2.0,
                                                          "overhead": 2.0},
        gpu_memory_gib=80.0, max_concurrency_per_replica=64, replicas=1, replicas_min=1, replicas_max=1, total_gpus=1,
        nodes=1, gpus_per_node=8))
    text = render_text(plan)
    assert re.search(r"Total GPUs: +1 \(1 node, 1 of its 8 GPUs\)", text)
    assert "CHEAPER OPTION" not in text  # the plan's GPU is the cheapest


def test_static_batch_latency_mode_through_the_cli(cli):
    argv = ["--mode", "latency", "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--batch-size", "8",
            "--input-tokens", "1024", "--output-tokens", "128", "--itl-slo-ms", "5"]
    result = cli(*argv)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "STATIC-BATCH LATENCY" in text and re.search(r"ITL: +[\d.]+ ms \(target <= 5.0 ms: MISSED\)", text)
    plan = json.loads(cli(*argv, "--format", "json").stdout)
    assert plan["slo"]["itl_ms"]["met"] is False and plan["batch_size"] == 8
    assert any("ITL" in w and "5" in w for w in plan["warnings"])


def test_in_short_states_the_plans_answer_in_two_lines():
    """The wizard's foot-of-report recap: the fixture's 8 GPUs (2 replicas of 4 H100s), TTFT 120.5 ms, ITL
    61.2 ms against a 50 ms target (missed), $17,520 a month; a result without one answer has none."""
    line = "8 GPUs x H100-80GB: 2 replicas of 4; TTFT 120 ms, ITL 61.2 ms (ITL target missed)"
    assert reports.in_short(fixed_plan()) == [line, "$17,520.00 per month"]
    assert reports.in_short(fixed_plan(cost=None, slo=None)) == [line.replace(" (ITL target missed)", "")]
    assert reports.in_short({"anything": 1}) == []


@pytest.mark.parametrize("frequency, words", [
    ("h", "requests per hour, / 3,600 = req/s"),          # 1 h = 3,600 s
    ("D", "requests per day, / 86,400 = req/s"),          # 24 x 3,600 s
    ("15min", "requests per 15min period, / 900 = req/s"),  # 15 x 60 s
])
def test_a_count_forecast_says_how_it_reads_as_req_per_s(frequency, words):
    """The forecast table counts requests per period; the schedule below it is in req/s."""
    assert reports._unit_words("requests per period", frequency) == words
    assert reports._unit_words("rps", frequency) == "rps"


def test_the_bill_and_the_gpus_alone_are_not_swapped():
    """The bill (one 8-GPU $24/h instance, 24 x 730 = $17,520) set apart from the GPUs alone ($13,140, as when an
    instance holds GPUs the plan does not use): the headline and the recap show the bill."""
    import dataclasses

    plan = fixed_plan(cost=dataclasses.replace(fixed_plan().cost, gpu_hours_monthly_cost=13140.0))
    text = render_text(plan)
    assert re.search(r"Monthly GPU Cost: +\$17,520\.00 per month for 1 instance", text)
    assert re.search(r"GPUs Alone: +\$13,140\.00 for the 8 GPUs", text)
    assert reports.in_short(plan)[1] == "$17,520.00 per month"
