"""Hardening (issue 8): no input makes the CLI or the API crash, files are never half-written, every limit is stated.

Three parts:

- fuzzers (hypothesis, derandomized): generated flags, config files, Hugging Face configs, API arguments, price
  files, traffic histories and services commands; each run must end in a plan (exit 0, strict JSON, the
  ``--output`` file equal to stdout) or one ``error:`` line (exit 2, no output file, no temp file, the database
  unchanged), never exit 1 or a traceback; the API raises nothing but ``models.PlannerError``;
- properties of the plans: more traffic never needs fewer GPUs, longer contexts never need less memory, more GPUs
  never make training slower unless the plan says why;
- a table of bad inputs across the whole surface, each with its exit status and its pinned message.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.forecast import main as forecast_main
from config_loader import applies_in
from commands.services import main as services_main
from models import (
    CostOptions, GPUConfig, InputError, LLMWorkloadInput, ModelConfig, PlannerError, TrainingInput,
)

ROOT = Path(__file__).resolve().parent.parent
HF_CONFIGS = sorted((ROOT / "tests" / "data" / "hf_configs").glob("*.json"))

# Generated cases per fuzzer (the issue asks for at least 2,000 in all; test_fuzz_budget checks the sum).
BUDGET = {"flags": 1500, "configs": 800, "api": 300, "hf_configs": 250, "price_files": 200, "histories": 250,
          "traffic_csv": 200, "services": 300}


def fuzz(name: str):
    """Hypothesis settings of one fuzzer: derandomized (the same cases on every run), no deadline, no database."""
    return settings(max_examples=BUDGET[name], derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def property_settings(examples: int):
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- running the CLIs


def assert_mixed(codes: list[int], name: str, share: float = 0.1) -> None:
    """The fuzzer ran its budget and both outcomes are common: a working base keeps it from testing only errors."""
    assert len(codes) >= BUDGET[name]
    assert min(codes.count(0), codes.count(2)) >= share * len(codes), (codes.count(0), codes.count(2))


def run_cli(main, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return int(code), out.getvalue(), err.getvalue()


def _no_nan(constant: str):
    raise AssertionError(f"non-standard JSON constant {constant}")


def assert_clean(code: int, stdout: str, stderr: str, output: Path | None = None, json_out: bool = True) -> None:
    """A run ends in a result (0) or in one ``error:`` line (2); an output file exists only with a result, whole."""
    assert code in (0, 2), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    if output is not None:
        leftovers = [p.name for p in output.parent.iterdir() if p.name.endswith((".tmp", ".partial"))]
        assert leftovers == [], leftovers
    if code == 2:
        assert stderr.startswith("error: ") and stderr.count("\n") == 1 and stdout == "", stderr
        assert output is None or not output.exists()
        return
    assert stderr == "", stderr
    if json_out:
        payload = json.loads(stdout, parse_constant=_no_nan)
        if output is not None:
            assert json.loads(output.read_text(encoding="utf-8"), parse_constant=_no_nan) == payload


# --------------------------------------------------------------------------- value strategies

NUMBER_TEXTS = st.one_of(
    st.sampled_from(["0", "-1", "1", "2", "3", "8", "64", "0.5", "0.999", "1.5", "nan", "NaN", "inf", "-inf",
                     "1e308", "1e-300", "1e400", "1e12", "abc", "", " 5", "1_000", "0x10", "\uff11\uff10", "9" * 30,
                     "99999999999999999999", "4096", "131072", "2147483648"]),
    st.integers(-10, 10**7).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
EXTREMES = ["1e308", "1e300", "1e-300", "1e-9", "0.001", "1e12", "2147483648", "9223372036854775808"]
PLAUSIBLE_TEXTS = st.one_of(  # numbers a flag may well accept, from tiny to absurd
    st.integers(1, 10**6).map(str), st.floats(1e-3, 1e6).map(lambda v: f"{v:.4g}"),
    st.sampled_from(["1", "2", "4", "8", "0.7", "0.95", "1e12", "1e-9", "1e300", "16384", "1048576"]),
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.sampled_from([0, 1, 2, 7, 64, 4096, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["FP16", "bf16", "H100", "llama-3.1-8b", "aws", "spot", "full", "x" * 300, "/nonexistent", "."]),
)
JSON_VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3),
                        st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2))
PLAUSIBLE_JSON = st.one_of(st.none(), st.booleans(), st.integers(1, 4096), st.floats(0.01, 1e4))

INFERENCE_BASE = {"--rps": "5", "--input-tokens": "200", "--output-tokens": "100", "--model-size": "7"}
TRAINING_BASE = {"--dataset-size": "1000000", "--sequence-length": "512", "--epochs": "1", "--global-batch-size": "16",
                 "--model": "phi-3-mini", "--gpu-type": "H100"}
CHOICES = {
    "--precision": ["FP16", "bf16", "FP8", "INT4", "int8", "FP32", "FP12", ""],
    "--kv-precision": ["FP8", "INT4", "fp16", "x"],
    "--gpu-type": ["H100", "A100-80GB", "T4", "L4", "MI300X", "X900", "", "h200", "GH200", "B200"],
    "--model": ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "qwen2.5-7b", "qwen", "gpt-5", ""],
    "--cloud": ["aws", "gcp", "mars", "AWS", ""],
    "--pricing": ["spot", "on-demand", "free", "reserved-1y", ""],
    "--region": ["us-east-1", "nowhere", ""],
    "--optimizer": ["AdamW", "sgd", "Adafactor", "lion", "AdamW-8bit"],
    "--method": ["full", "lora", "qlora", "auto", "x", ""],
    "--mode": ["inference", "compare", "training", "nope"],
}
INFERENCE_NUMBERS = ["--rps", "--input-tokens", "--output-tokens", "--peak-multiplier", "--ttft-slo-ms",
                     "--itl-slo-ms", "--model-size", "--context-window", "--batch-size", "--tensor-parallel",
                     "--target-utilization", "--gpu-memory-utilization", "--price-per-gpu-hour"]
TRAINING_NUMBERS = ["--dataset-size", "--sequence-length", "--epochs", "--global-batch-size", "--micro-batch-size",
                    "--lora-rank", "--zero-stage", "--pipeline-parallel", "--mfu", "--deadline-hours", "--num-gpus",
                    "--tensor-parallel", "--model-size", "--price-per-gpu-hour"]
SWITCHES = ["--cost", "--gradient-checkpointing", "--no-mixed-precision", "--debug"]


@st.composite
def flag_argv(draw) -> list[str]:
    """A command line in inference, compare or training mode: a working base, then 0-5 flags changed or dropped."""
    mode = draw(st.sampled_from(["inference", "inference", "compare", "training", "training"]))
    flags = dict(TRAINING_BASE if mode == "training" else INFERENCE_BASE)
    numbers = TRAINING_NUMBERS if mode == "training" else INFERENCE_NUMBERS
    for _ in range(draw(st.integers(0, 5))):
        flag = draw(st.sampled_from(numbers + list(CHOICES)))
        values = (st.sampled_from(CHOICES[flag]) if flag in CHOICES
                  else st.one_of(PLAUSIBLE_TEXTS, NUMBER_TEXTS, st.sampled_from(EXTREMES)))
        flags[flag] = draw(values)
    dropped = draw(st.lists(st.sampled_from(sorted(flags)), max_size=1)) if draw(st.sampled_from(range(10))) == 0 else []
    argv = ["--mode", mode]
    for flag, value in flags.items():
        if flag not in dropped:
            argv += [flag, value]
    argv += draw(st.lists(st.sampled_from(SWITCHES), max_size=2, unique=True))
    slip = draw(st.sampled_from([None] * 20 + ["--rps", "--mode", "positional", "--bogus-flag"]))
    return argv + [slip] if slip else argv  # a flag without its value, a stray word, an unknown flag


def test_fuzz_flags(tmp_path):
    output = tmp_path / "plan.json"
    seen = []

    @fuzz("flags")
    @given(argv=flag_argv())
    def check(argv):
        output.unlink(missing_ok=True)
        code, stdout, stderr = run_cli(forecast_main, [*argv, "--format", "json", "--output", str(output)])
        seen.append(code)
        assert_clean(code, stdout, stderr, output)

    check()
    assert_mixed(seen, "flags")


@pytest.mark.parametrize("mode", ["inference", "compare", "training"])
def test_every_number_flag_at_its_extremes(tmp_path, mode):
    """Each number flag of a mode alone at each extreme value: a plan or one error, never an overflow."""
    base = dict(TRAINING_BASE if mode == "training" else INFERENCE_BASE)
    output = tmp_path / "plan.json"
    for flag in TRAINING_NUMBERS if mode == "training" else INFERENCE_NUMBERS:
        for value in EXTREMES:
            output.unlink(missing_ok=True)
            argv = ["--mode", mode, *_flags({**base, flag: value}), "--cost", "--format", "json", "--output", str(output)]
            code, stdout, stderr = run_cli(forecast_main, argv)
            assert code in (0, 2), (flag, value, stderr)
            assert_clean(code, stdout, stderr, output)


@pytest.mark.parametrize("written, meaning", [("1e6", "1000000"), ("2.5e5", "250000"), ("1_000_000", "1000000")])
def test_whole_number_flags_take_notation_that_names_a_whole_number(written, meaning):
    """``--dataset-size 1e6`` is one million tokens: the same plan as the digits typed out."""
    plans = [json.loads(run_cli(forecast_main, ["--mode", "training", *_flags({**TRAINING_BASE, "--dataset-size": text}),
                                                "--format", "json"])[1])
             for text in (written, meaning)]
    assert plans[0]["inputs"]["training"]["dataset_size_tokens"] == int(meaning)
    assert plans[0]["training_metrics"] == plans[1]["training_metrics"]


@pytest.mark.parametrize("text", ["1.5e0", "1e-3", "inf", "1e19", "1e308"])
def test_whole_number_flags_refuse_fractions_and_absurd_sizes(text):
    code, stdout, stderr = run_cli(forecast_main, ["--mode", "training",
                                                   *_flags({**TRAINING_BASE, "--dataset-size": text})])
    assert code == 2 and stdout == "" and stderr.startswith("error: argument --dataset-size: got ")
    assert len(stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- config files

CONFIG_BASES = {
    "inference": {"workload": {"requests_per_second": 5, "avg_input_tokens": 200, "avg_output_tokens": 100},
                  "model": {"model_size_billions": 7}, "gpu": {"gpu_type": "H100"}, "options": {"include_cost": True}},
    "compare": {"workload": {"requests_per_second": 5, "avg_input_tokens": 200, "avg_output_tokens": 100},
                "model": {"model": "llama-3.1-8b"}},
    "training": {"training": {"dataset_size_tokens": 1000000, "sequence_length": 512, "num_epochs": 1,
                              "global_batch_size": 16}, "model": {"model": "phi-3-mini"}, "gpu": {"gpu_type": "H100"}},
}
SECTION_KEYS = {
    "workload": ["requests_per_second", "avg_input_tokens", "avg_output_tokens", "peak_load_multiplier",
                 "ttft_slo_ms", "itl_slo_ms", "requests_per_secnd"],
    "model": ["model_size_billions", "precision", "context_window", "batch_size", "model", "model_config_path",
              "kv_precision", "modle"],
    "gpu": ["gpu_type", "target_gpu_utilization", "tensor_parallel", "gpu_memory_utilization"],
    "training": ["dataset_size_tokens", "sequence_length", "num_epochs", "global_batch_size", "optimizer_type",
                 "gradient_checkpointing", "micro_batch_size", "method", "lora_rank", "zero_stage", "tensor_parallel",
                 "pipeline_parallel", "mixed_precision", "mfu", "deadline_hours", "num_gpus"],
    "options": ["include_cost", "cloud", "pricing", "region", "price_per_gpu_hour", "price_file", "clod"],
    "forecast": ["history", "horizon_days", "scenario", "plot", "current_replicas"],
    "wrkload": ["x"],
}


@st.composite
def config_text(draw) -> str:
    """A config file: a working base for a mode, then 1-3 keys set to any JSON value (NaN and Infinity included),
    sometimes a whole section or the mode replaced, sometimes not JSON at all."""
    mode = draw(st.sampled_from(sorted(CONFIG_BASES)))
    config = json.loads(json.dumps(CONFIG_BASES[mode]))
    config["mode"] = mode
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from(sorted(SECTION_KEYS)))
        key = draw(st.sampled_from(SECTION_KEYS[section]))
        if mode not in applies_in(f"{section}.{key}") and draw(st.integers(0, 9)):  # a key the mode ignores is
            continue  # always refused: kept 1 time in 10, so most configs reach planning
        config.setdefault(section, {})[key] = draw(st.one_of(PLAUSIBLE_JSON, JSON_VALUES))
    kind = draw(st.sampled_from(range(20)))
    if kind == 0:
        config[draw(st.sampled_from(["mode", "workload", "gpu"]))] = draw(JSON_VALUES)
    if kind == 1:
        return draw(st.sampled_from(["", "{", "[]", "null", "\x00\x01", '{"mode": "inference"}', "1" * 5000]))
    return json.dumps(config, allow_nan=True)


def test_fuzz_config_files(tmp_path):
    config, output = tmp_path / "config.json", tmp_path / "plan.json"
    seen = []

    @fuzz("configs")
    @given(text=config_text())
    def check(text):
        output.unlink(missing_ok=True)
        config.write_text(text, encoding="utf-8")
        result = run_cli(forecast_main, ["--config", str(config), "--format", "json", "--output", str(output)])
        seen.append(result[0])
        assert_clean(*result, output)

    check()
    assert_mixed(seen, "configs")


# --------------------------------------------------------------------------- the Python API


def _strict_json(result) -> None:
    json.loads(json.dumps(result.to_dict() if hasattr(result, "to_dict") else result, allow_nan=False, default=str),
               parse_constant=_no_nan)


API_FIELDS = {
    LLMWorkloadInput: {"requests_per_second": [5, 0.5, 1e6], "avg_input_tokens": [200, 4000], "avg_output_tokens": [100],
                       "peak_load_multiplier": [1, 3], "ttft_slo_ms": [None, 2000], "itl_slo_ms": [None, 50]},
    ModelConfig: {"model_size_billions": [7, 70], "precision": ["FP16", "FP8", "int4"], "context_window": [None, 8192],
                  "batch_size": [None, 16], "kv_precision": [None, "FP8"]},
    GPUConfig: {"gpu_type": ["H100", "L4", None], "target_gpu_utilization": [0.7, 1.0], "tensor_parallel": [None, 2],
                "gpu_memory_utilization": [0.9, 0.5]},
    TrainingInput: {"dataset_size_tokens": [10**6], "sequence_length": [512, 4096], "num_epochs": [1, 0.5],
                    "global_batch_size": [16, 64], "method": ["full", "lora"], "zero_stage": [None, 3],
                    "num_gpus": [None, 8], "micro_batch_size": [None, 2], "mfu": [None, 0.4]},
    CostOptions: {"cloud": [None, "aws"], "pricing": ["on-demand", "spot"], "price_per_gpu_hour": [None, 2.5]},
}


@st.composite
def api_kwargs(draw, kind):
    """Constructor arguments: mostly plausible values, each field sometimes replaced by any JSON-like value."""
    kwargs = {name: draw(st.sampled_from(good)) if draw(st.sampled_from(range(8))) else draw(JSON_VALUES)
              for name, good in API_FIELDS[kind].items()}
    if kind is ModelConfig and kwargs.get("model_size_billions") is None:
        kwargs["model"] = "llama-3.1-8b"
    return kwargs


def _build(kind, kwargs):
    try:
        return kind(**kwargs)
    except PlannerError:
        return None


def test_fuzz_api(tmp_path):
    from llm_forecast_engine import LLMForecastEngine

    engine = LLMForecastEngine(db_path=tmp_path / "api.db")
    seen = []

    @fuzz("api")
    @given(which=st.sampled_from(["inference", "compare", "training"]), data=st.data())
    def check(which, data):
        first = TrainingInput if which == "training" else LLMWorkloadInput
        parts = [_build(kind, data.draw(api_kwargs(kind))) for kind in (first, ModelConfig, GPUConfig, CostOptions)]
        if None in parts[:2]:
            seen.append("refused input")
            return
        job, model, gpu, cost = parts
        include_cost = data.draw(st.sampled_from([True, False, "yes"]))
        try:
            if which == "inference":
                result = engine.generate_inference_plan(job, model, gpu, include_cost=include_cost, cost=cost)
            elif which == "training":
                result = engine.generate_training_plan(job, model, gpu, include_cost=include_cost, cost=cost)
            else:
                result = engine.compare_gpu_options(job, model, gpu, cost=cost)
        except PlannerError:
            seen.append("refused plan")
            return
        _strict_json(result)
        seen.append("plan")

    check()
    assert len(seen) >= BUDGET["api"] and seen.count("plan") >= 0.1 * len(seen), seen

@pytest.mark.parametrize("call, message", [
    (lambda e: e.generate_inference_plan(None, ModelConfig(model_size_billions=7)), r"^workload: got None; expected a models"),
    (lambda e: e.generate_inference_plan(LLMWorkloadInput(5, 200, 100), {"model_size_billions": 7}),
     r"^model: got \{'model_size_billions': 7\}; expected a models.ModelConfig$"),
    (lambda e: e.generate_inference_plan(LLMWorkloadInput(5, 200, 100), ModelConfig(model_size_billions=7), "H100"),
     r"^gpu: got 'H100'; expected a models.GPUConfig or None$"),
    (lambda e: e.generate_training_plan(TrainingInput(10**6, 512, 1, 16), ModelConfig(model="phi-3-mini"),
                                        include_cost="yes"), r"^include_cost: got 'yes'; expected True or False$"),
    (lambda e: e.compare_gpu_options(LLMWorkloadInput(5, 200, 100), ModelConfig(model_size_billions=7),
                                     gpu_types="H100"), r"^gpu_types: got 'H100'; expected a list of names$"),
    (lambda e: e.forecast_future_needs([], model="llama-3.1-8b"), r"^model: got 'llama-3.1-8b'; expected a models"),
    (lambda e: ModelConfig(model=""), r"^model.model: got ''; expected a non-empty name"),
    (lambda e: GPUConfig(gpu_type=5), r"^gpu.gpu_type: got 5; expected a non-empty name such as H100-80GB$"),
    (lambda e: CostOptions(region=[]), r"^options.region: got \[\]; expected a non-empty name"),
    (lambda e: LLMWorkloadInput(10**400, 5, 5), r"^workload.requests_per_second: got 1000.*; expected a finite"),
    (lambda e: TrainingInput(10**6, 512, 1, 16, mfu=0.001), r"^training.mfu: got 0.001; expected a finite number >= 0.01"),
], ids=["workload-none", "model-dict", "gpu-str", "include-cost-str", "gpu-types-str", "forecast-model-str",
        "empty-model", "gpu-int", "region-list", "400-digit-rps", "mfu-floor"])
def test_api_refuses_wrong_types_with_one_clear_error(call, message):
    from llm_forecast_engine import LLMForecastEngine

    with pytest.raises(InputError, match=message):
        call(LLMForecastEngine())


def test_api_accepts_numpy_scalars_as_the_numbers_they_are():
    np = pytest.importorskip("numpy")
    workload = LLMWorkloadInput(np.float64(5), np.int64(200), np.int32(100))
    assert (type(workload.requests_per_second), type(workload.avg_input_tokens)) == (float, int)
    assert workload.avg_output_tokens == 100


# --------------------------------------------------------------------------- Hugging Face configs

HF_KEYS = ["num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
           "intermediate_size", "vocab_size", "max_position_embeddings", "num_local_experts", "num_experts_per_tok",
           "n_routed_experts", "n_shared_experts", "moe_intermediate_size", "first_k_dense_replace", "kv_lora_rank",
           "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window",
           "tie_word_embeddings", "model_type", "text_config", "_name_or_path"]


def test_fuzz_hugging_face_configs(tmp_path):
    bases = [json.loads(path.read_text()) for path in HF_CONFIGS]
    path, output = tmp_path / "config.json", tmp_path / "plan.json"
    seen = []

    @fuzz("hf_configs")
    @given(base=st.sampled_from(range(len(bases))), changes=st.dictionaries(st.sampled_from(HF_KEYS), JSON_VALUES,
                                                                             min_size=1, max_size=3))
    def check(base, changes):
        output.unlink(missing_ok=True)
        path.write_text(json.dumps({**bases[base], **changes}, allow_nan=True))
        argv = ["--rps", "2", "--input-tokens", "100", "--output-tokens", "50", "--model-config", str(path),
                "--gpu-type", "H200", "--format", "json", "--output", str(output)]
        result = run_cli(forecast_main, argv)
        seen.append(result[0])
        assert_clean(*result, output)

    check()
    assert_mixed(seen, "hf_configs")


# --------------------------------------------------------------------------- price files

PRICE_ROW = {"provider": "aws", "instance_type": "p5.48xlarge", "gpu": "H100-SXM5-80GB", "gpus_per_instance": "8",
             "region": "us-east-1", "price_model": "on_demand", "usd_per_instance_hour": "", "usd_per_gpu_hour": "5.0",
             "source": "test quote", "as_of_date": "2026-06-01"}
CELL_TEXTS = st.one_of(NUMBER_TEXTS, st.sampled_from(["", "H100", "X900", "spot", "2999-01-01", "2026-13-01", "\x00",
                                                      "a,b", 'q"uote', "1e308"]), st.text(max_size=8))


def test_fuzz_price_files(tmp_path):
    output = tmp_path / "out" / "plan.json"
    output.parent.mkdir()
    seen = []

    @fuzz("price_files")
    @given(cells=st.dictionaries(st.sampled_from([*PRICE_ROW, "extra_column"]),
                                 st.one_of(st.sampled_from(["4.5", "8", "H100", "gcp", "2026-01-15", "spot"]),
                                           CELL_TEXTS), max_size=2),
           as_json=st.booleans(), rows=st.sampled_from([1, 1, 2, 0]))
    def check(cells, as_json, rows):
        output.unlink(missing_ok=True)
        path = tmp_path / f"prices{len(seen)}.{'json' if as_json else 'csv'}"  # a new file: the loader caches by name
        records = [{**PRICE_ROW, **cells}] * rows
        if as_json:
            path.write_text(json.dumps(records), encoding="utf-8")
        else:
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list({**PRICE_ROW, **cells}))
                writer.writeheader()
                writer.writerows(records)
        argv = [*_flags(INFERENCE_BASE), "--gpu-type", "H100", "--cost", "--price-file", str(path), "--format", "json",
                "--output", str(output)]
        result = run_cli(forecast_main, argv)
        seen.append(result[0])
        assert_clean(*result, output)

    check()
    assert_mixed(seen, "price_files")


def _flags(values: dict) -> list[str]:
    return [item for pair in values.items() for item in pair]


# --------------------------------------------------------------------------- traffic histories


@st.composite
def history_text(draw) -> str:
    """A short traffic CSV: one of several headers, timestamps of several kinds, mostly sensible values."""
    header = draw(st.sampled_from(["timestamp,rps", "timestamp,rps", "time,requests", "date,value",
                                   "timestamp,rps,input_tokens,output_tokens", "a,b", "timestamp,rps,rps", "timestamp"]))
    kind = draw(st.sampled_from(["iso", "iso", "unix", "ms", "day", "bad", "repeat"]))
    cells, rows = header.count(",") + 1, draw(st.integers(0, 80))
    bad_row = draw(st.integers(-3 * rows, rows))  # one row with a bad value in about a quarter of the files
    lines = [header]
    for i in range(rows):
        stamp = {"iso": f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00:00", "unix": str(1704067200 + 3600 * i),
                 "ms": str(1704067200000 + 3600000 * i), "day": f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}",
                 "bad": draw(st.sampled_from(["x", "2024-13-01", ""])), "repeat": "2024-01-01T00:00:00"}[kind]
        value = (draw(st.sampled_from(["", "-1", "abc", "nan", "0", "1e308", "inf", "1e300"])) if i == bad_row
                 else f"{draw(st.floats(0, 1e4)):.3f}")
        lines.append(",".join([stamp, value] + ["500", "200"][: max(0, cells - 2)]))
    return "\n".join(lines) + "\n"


def test_fuzz_forecast_histories(tmp_path):
    history, output = tmp_path / "history.csv", tmp_path / "forecast.json"
    seen = []

    @fuzz("histories")
    @given(text=history_text(), horizon=st.sampled_from(["1", "2", "3", "1", "2", "3", "1", "0", "nan", "3661"]),
           extra=st.sampled_from([[], [], [], [], ["--model", "llama-3.1-8b", "--gpu-type", "H100"],
                                  ["--model", "llama-3.1-8b", "--input-tokens", "500", "--output-tokens", "100",
                                   "--current-replicas", "2"], ["--scenario", "nope"], ["--timestamp-column", "nope"],
                                  ["--value-column", "timestamp"], ["--frequency", "0h"], ["--frequency", "1s"],
                                  ["--frequency", "D"], ["--frequency", "x"], ["--method", "ets"]]))
    def check(text, horizon, extra):
        output.unlink(missing_ok=True)
        history.write_text(text, encoding="utf-8")
        argv = ["--mode", "forecast", "--history", str(history), "--method", "seasonal_naive", "--horizon-days",
                horizon, *extra, "--format", "json", "--output", str(output)]
        result = run_cli(forecast_main, argv)
        seen.append(result[0])
        assert_clean(*result, output)

    check()
    assert_mixed(seen, "histories")


def test_fuzz_services_traffic_csv(tmp_path):
    from demand_history import read_observations

    path = tmp_path / "traffic.csv"
    seen = []

    @fuzz("traffic_csv")
    @given(text=history_text())
    def check(text):
        seen.append(text)
        path.write_text(text, encoding="utf-8")
        try:
            frames = list(read_observations(path))
        except PlannerError as exc:
            assert "\n" not in str(exc)
            return
        assert frames and all((f["requests_per_second"] >= 0).all() for f in frames)

    check()
    assert len(seen) >= BUDGET["traffic_csv"]


# --------------------------------------------------------------------------- services commands

NAMES = st.sampled_from(["chat", "chat", "chat", "embed", "embed", "nope", "Chat", "", "x" * 70, "a b", "bad\x01name"])
TEXTS = st.one_of(st.sampled_from(["alice", "bob", "carol", "", " ", "x" * 300, "a\x00b", "line\nbreak"]),
                  st.text(max_size=6))
COUNTS = st.one_of(st.integers(1, 16).map(str), NUMBER_TEXTS, st.sampled_from(["2147483647", "2147483648", "1"]))


@st.composite
def services_argv(draw) -> list[str]:
    """One services command with generated arguments (names, people, GPU counts, request ids, flags)."""
    command = draw(st.sampled_from(["add", "update", "show", "remove", "list", "fleet", "create", "transition",
                                    "request-show", "request-list", "plan"]))
    name = draw(NAMES)
    if command == "add":
        argv = ["add", name, "--owner", draw(TEXTS), "--model", draw(st.sampled_from(CHOICES["--model"])),
                "--gpu-type", draw(st.sampled_from(CHOICES["--gpu-type"]))]
        argv += draw(st.sampled_from([[], ["--rps", draw(COUNTS), "--input-tokens", draw(COUNTS), "--output-tokens", "5"],
                                      ["--replicas", draw(COUNTS)], ["--gpus", draw(COUNTS)], ["--tags", draw(TEXTS)]]))
    elif command == "update":
        flag = draw(st.sampled_from(["--owner", "--rps", "--replicas", "--gpus", "--precision", "--tags", "--itl-slo-ms"]))
        argv = ["update", name, flag, draw(TEXTS if flag in ("--owner", "--tags", "--precision") else COUNTS)]
    elif command in ("show", "remove", "plan"):
        argv = [command, name]
    elif command == "create":
        argv = ["request", "create", name, "--gpus", draw(COUNTS), "--reason", draw(TEXTS), "--by", draw(TEXTS)]
    elif command == "transition":
        argv = ["request", draw(st.sampled_from(["submit", "approve", "reject", "fulfill", "cancel"])), draw(COUNTS),
                "--by", draw(TEXTS)]
    elif command == "request-show":
        argv = ["request", "show", draw(COUNTS)]
    elif command == "request-list":
        argv = ["request", "list", "--state", draw(st.sampled_from(["draft", "open", ""]))]
    else:
        argv = [command]
    return argv


def _dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


def test_fuzz_services_commands(tmp_path):
    db = tmp_path / "services.db"
    for argv in (["add", "chat", "--owner", "alice", "--model", "llama-3.1-8b", "--gpu-type", "H100", "--rps", "5",
                  "--input-tokens", "500", "--output-tokens", "200", "--replicas", "1", "--gpus", "1"],
                 ["request", "create", "chat", "--gpus", "2", "--reason", "launch", "--by", "alice"]):
        assert run_cli(services_main, ["--db", str(db), *argv])[0] == 0
    seen = []

    @fuzz("services")
    @given(argv=services_argv())
    def check(argv):
        before = _dump(db)
        code, stdout, stderr = run_cli(services_main, ["--db", str(db), "--format", "json", *argv])
        seen.append(code)
        assert_clean(code, stdout, stderr)
        if code == 2:
            assert _dump(db) == before, argv  # a refused command changes nothing

    check()
    assert_mixed(seen, "services")


def test_fuzz_budget_is_at_least_two_thousand_cases():
    assert sum(BUDGET.values()) >= 2000


# --------------------------------------------------------------------------- properties of the plans

INFERENCE_MODELS = st.sampled_from([{"model": "llama-3.1-8b"}, {"model": "llama-3.1-70b"}, {"model": "mixtral-8x7b"},
                                    {"model": "qwen2.5-7b"}, {"model_size_billions": 13.0},
                                    {"model": "llama-3.1-70b", "precision": "FP8"}])
SLOS = st.sampled_from([{}, {"itl_slo_ms": 50.0}, {"ttft_slo_ms": 2000.0, "itl_slo_ms": 80.0}])


def _inference(workload: dict, model: dict, gpu: dict, include_cost: bool = False):
    """The plan, or ``None`` where the planner refuses it (``InfeasibleError`` or a limit)."""
    from inference_engine import plan_inference

    try:
        return plan_inference(LLMWorkloadInput(**workload), ModelConfig(**model), GPUConfig(**gpu),
                              include_cost=include_cost)
    except PlannerError:
        return None


@property_settings(60)
@given(model=INFERENCE_MODELS, gpu=st.sampled_from(["H100", "L4", "A100-80GB", "H200", "L40S"]), slo=SLOS,
       tokens=st.tuples(st.integers(50, 4000), st.integers(10, 1000)), rps=st.floats(0.05, 500), more=st.floats(1, 20))
def test_more_rps_never_needs_fewer_gpus(model, gpu, slo, tokens, rps, more):
    """On a given GPU type; a refusal counts as needing more GPUs than any plan (it must persist as load grows)."""
    base = {"avg_input_tokens": tokens[0], "avg_output_tokens": tokens[1], **slo}
    low = _inference({**base, "requests_per_second": rps}, model, {"gpu_type": gpu})
    high = _inference({**base, "requests_per_second": rps * more}, model, {"gpu_type": gpu})
    if low is None:
        assert high is None
    elif high is not None:
        assert high.gpu_resources.total_gpus >= low.gpu_resources.total_gpus


@property_settings(25)
@given(model=INFERENCE_MODELS, slo=SLOS, rps=st.floats(0.1, 200), more=st.floats(1, 10))
def test_more_rps_never_costs_less_when_the_planner_picks_the_gpu(model, slo, rps, more):
    """Across GPU types counts are not comparable (two H200s can replace five L40S); the monthly cost is."""
    base = {"avg_input_tokens": 500, "avg_output_tokens": 200, **slo}
    low = _inference({**base, "requests_per_second": rps}, model, {}, include_cost=True)
    high = _inference({**base, "requests_per_second": rps * more}, model, {}, include_cost=True)
    if low is not None and high is not None:
        assert high.cost.monthly_gpu_cost >= low.cost.monthly_gpu_cost - 0.01


@property_settings(50)
@given(model=INFERENCE_MODELS, gpu=st.sampled_from([("H100", 2), ("L4", 8), ("H200", 1), ("A100-80GB", 4)]),
       batch=st.integers(1, 256), tokens=st.tuples(st.integers(50, 4000), st.integers(10, 1000)),
       longer=st.tuples(st.integers(0, 8000), st.integers(0, 2000)))
def test_longer_contexts_never_need_less_memory(model, gpu, batch, tokens, longer):
    """With the GPU, tensor parallelism and decode batch fixed, a replica's memory grows with the context unless
    the plan says the batch no longer fits; a context too large for memory stays too large when it grows; a replica
    holds fewer sequences."""
    gpu_cfg = {"gpu_type": gpu[0], "tensor_parallel": gpu[1]}
    model = {**model, "batch_size": batch}
    short = _inference({"requests_per_second": 1, "avg_input_tokens": tokens[0], "avg_output_tokens": tokens[1]},
                       model, gpu_cfg)
    long = _inference({"requests_per_second": 1, "avg_input_tokens": tokens[0] + longer[0],
                       "avg_output_tokens": tokens[1] + longer[1]}, model, gpu_cfg)
    if short is None or long is None:
        assert short is not None or long is None
        return
    capped = any("does not fit in memory" in w for w in long.warnings)
    assert capped or long.gpu_resources.memory_per_replica_gib >= short.gpu_resources.memory_per_replica_gib
    assert long.gpu_resources.max_concurrency_per_replica <= short.gpu_resources.max_concurrency_per_replica


def _training(seq: int, *, model: str = "llama-3.1-8b", gpu: str = "H100", **fields):
    from training_engine import plan_training

    job = TrainingInput(dataset_size_tokens=10**8, sequence_length=seq, num_epochs=1, **fields)
    try:
        return plan_training(job, ModelConfig(model=model, precision="BF16"), GPUConfig(gpu_type=gpu))
    except PlannerError:
        return None


TRAINING_MODELS = st.sampled_from(["phi-3-mini", "llama-3.1-8b", "qwen2.5-7b", "mixtral-8x7b"])


@property_settings(30)
@given(model=TRAINING_MODELS, gpu=st.sampled_from(["H100", "A100-80GB", "L40S", "H200"]),
       method=st.sampled_from(["full", "lora", "qlora"]), seq=st.sampled_from([256, 512, 1024, 2048, 4096]),
       layout=st.fixed_dictionaries({"zero_stage": st.integers(0, 3), "tensor_parallel": st.sampled_from([1, 2]),
                                     "micro_batch_size": st.sampled_from([1, 2]),
                                     "gradient_checkpointing": st.booleans()}))
def test_longer_training_sequences_never_need_less_memory(model, gpu, method, seq, layout):
    """A fixed layout on 8 GPUs: peak memory per GPU grows with the sequence; with the layout left to the planner,
    the fewest GPUs that hold the job never fall."""
    fixed = dict(global_batch_size=16, method=method, num_gpus=8, **layout)
    short, long = _training(seq, model=model, gpu=gpu, **fixed), _training(2 * seq, model=model, gpu=gpu, **fixed)
    if short is not None and long is not None:
        assert long.memory_breakdown_gib["total_per_gpu"] >= short.memory_breakdown_gib["total_per_gpu"]
    free = dict(global_batch_size=16, method=method)
    short, long = _training(seq, model=model, gpu=gpu, **free), _training(2 * seq, model=model, gpu=gpu, **free)
    if short is None:
        assert long is None
    elif long is not None:
        assert long.gpu_resources.min_gpus_for_memory >= short.gpu_resources.min_gpus_for_memory


SLOWER_REASONS = ("Communication-bound", "Pipeline-bound", "does not fit")


@property_settings(40)
@given(model=TRAINING_MODELS, gpu=st.sampled_from(["H100", "A100-80GB", "H200"]),
       method=st.sampled_from(["full", "lora", "qlora"]), batch=st.sampled_from([8, 16, 64, 256]),
       seq=st.sampled_from([512, 1024, 2048]), gpus=st.sampled_from([(1, 2), (2, 4), (4, 8), (8, 16), (8, 32),
                                                                     (16, 32), (32, 64)]))
def test_more_gpus_never_make_training_slower_unless_the_plan_says_why(model, gpu, method, batch, seq, gpus):
    """``--num-gpus`` raised: the job finishes no later, or the larger plan carries the warning that explains it
    (data-parallel collectives exposed past the compute, or a layout that does not fit)."""
    few = _training(seq, model=model, gpu=gpu, global_batch_size=batch, method=method, num_gpus=gpus[0])
    many = _training(seq, model=model, gpu=gpu, global_batch_size=batch, method=method, num_gpus=gpus[1])
    if few is None or many is None:
        return
    slower = (many.training_metrics.estimated_duration_hours
              > few.training_metrics.estimated_duration_hours * (1 + 1e-9))
    assert not slower or any(reason in w for w in many.warnings for reason in SLOWER_REASONS), many.warnings


# --------------------------------------------------------------------------- bad inputs across the surface

INFERENCE = _flags(INFERENCE_BASE)
TRAINING = ["--mode", "training", *_flags(TRAINING_BASE)]
HOURLY = "timestamp,rps\n" + "".join(f"2024-01-{1 + i // 24:02d}T{i % 24:02d}:00:00,{5 + i % 24}\n" for i in range(72))


def _files(tmp: Path) -> dict[str, Path]:
    """Input files the table refers to by name (``{name}`` in an argv is replaced by the path)."""
    hf = json.loads((ROOT / "tests" / "data" / "hf_configs" / "llama-3.1-8b.json").read_text())
    texts = {
        "empty.json": "", "binary.json": b"\xff\xfe\x00\x01" * 8, "nan.json": '{"workload": {"requests_per_second": NaN}}',
        "region.json": '{"options": {"region": 5}}', "price_file.json": '{"options": {"price_file": true}}',
        "config_path.json": '{"model": {"model_config_path": 1}}',
        "digits.json": '{"workload": {"requests_per_second": 1' + "0" * 5000 + "}}",
        "section.json": '{"wrkload": {}}', "key.json": '{"options": {"clod": "aws"}}',
        "mode.json": '{"mode": "inferense"}', "forecast_key.json": '{"forecast": {"horizon": 3}}',
        "hf_text.json": json.dumps({**hf, "text_config": 1.5}), "hf_heads.json": json.dumps({**hf, "num_attention_heads": 0}),
        "hf_experts.json": json.dumps({**hf, "num_local_experts": 1e308, "num_experts_per_tok": 2}),
        "hf_window.json": json.dumps({**hf, "sliding_window": "x"}),
        "hf_dense.json": json.dumps({**hf, "num_local_experts": 8, "num_experts_per_tok": 2, "first_k_dense_replace": 99}),
        "history.csv": HOURLY, "history_empty.csv": "", "history_binary.csv": b"\x00\xff" * 40,
        "history_header.csv": "timestamp,rps\n", "history_text.csv": HOURLY.replace(",10\n", ",ten\n"),
        "history_negative.csv": HOURLY.replace(",10\n", ",-10\n"),
        "history_huge_value.csv": HOURLY.replace(",10\n", ",1e308\n"),
        "history_inf_time.csv": "ts,rps\n1,5\n2,6\ninf,7\n", "history_span.csv": "ts,rps\n1,5\n2,6\n3,6\n50000000,7\n",
        "prices_column.csv": "provider,instance,gpu\n", "prices_huge.csv": _price_csv(usd_per_gpu_hour="1e308"),
        "prices_negative.csv": _price_csv(usd_per_gpu_hour="-3"), "prices_gpu.csv": _price_csv(gpu="X900"),
        "prices_binary.csv": b"\xff\xfe\x00" * 20, "prices_empty.json": "[]",
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = tmp / "in" / name
        paths[name].parent.mkdir(exist_ok=True)
        paths[name].write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    paths["huge.json"] = tmp / "in" / "huge.json"
    with open(paths["huge.json"], "wb") as handle:
        handle.truncate(201 * 2**20)  # sparse: 201 MiB of zeros that take no disk
    return paths


def _price_csv(**cells) -> str:
    row = {**PRICE_ROW, **cells}
    return ",".join(row) + "\n" + ",".join(row.values()) + "\n"


BAD_FLAGS = [
    ("rps-beyond-any-fleet", [*INFERENCE, "--rps", "1e12", "--gpu-type", "H100"],
     r"^error: no configuration serves .*: needs more GPUs than the 100,000-GPU fleet limit: one replica "
     r"\(\d x H100-80GB\) is planned for [\d.]+ rps, so at most [\d.e+]+ average rps fit$"),
    ("peak-multiplier-overflow", [*INFERENCE, "--peak-multiplier", "1e308", "--gpu-type", "H100"],
     r"100,000-GPU fleet limit"),
    ("utilization-near-zero", [*INFERENCE, "--target-utilization", "1e-9", "--gpu-type", "L4"],
     r"100,000-GPU fleet limit"),
    ("price-overflow", [*INFERENCE, "--cost", "--price-per-gpu-hour", "1e308"],
     r"^error: options.price_per_gpu_hour: got 1e\+308; expected a finite number > 0 and <= 1000$"),
    ("size-below-recipe", [*INFERENCE, "--model-size", "0.01"],
     r"^error: model.model_size_billions: got 0.01; expected a size the Llama-3 shape recipe can derive \(it gives "
     r"0.13B here: its 128256-token vocabulary alone holds 0.13B\); pass --model or --model-config"),
    ("context-beyond-window", [*_flags({k: v for k, v in INFERENCE_BASE.items() if k != "--model-size"}),
                               "--model", "llama-3.1-8b", "--input-tokens", "200000"],
     r"^error: workload.avg_input_tokens \+ avg_output_tokens: got 200100; expected at most the model's context "
     r"window \(131072 tokens\)$"),
    ("empty-gpu", [*INFERENCE, "--gpu-type", ""], r"^error: gpu.gpu_type: got ''; expected a non-empty name"),
    ("empty-region", [*INFERENCE, "--cost", "--region", ""], r"^error: options.region: got ''; expected a non-empty"),
    ("empty-output", [*INFERENCE, "--output", ""], r"^error: --output: got ''; expected a file path, not a directory$"),
    ("plot-not-png", [*INFERENCE, "--plot", "{tmp}/plan.txt"], r"^error: --plot: got '.*plan.txt'; expected a file "
                                                                r"name ending in .png$"),
    ("output-dir-missing-no-plot-left", [*INFERENCE, "--plot", "{tmp}/plan.png", "--output", "{tmp}/no/plan.json"],
     r"^error: --output: got '.*no/plan.json'; expected a path in an existing directory$"),
    ("long-value-shortened", [*INFERENCE, "--model", "m" * 5000], r"\.\.\. \(5002 characters\); expected a known"),
    ("epochs-overflow", [*TRAINING, "--epochs", "1e300"],
     r"^error: training.dataset_size_tokens x num_epochs: got 1e\+306; expected at most 1e\+15 tokens"),
    ("batch-beyond-limit", [*TRAINING, "--global-batch-size", "99999999999999"],
     r"^error: training.global_batch_size: got 99999999999999; expected at most 1,048,576 sequences$"),
    ("pipeline-deeper-than-layers", [*TRAINING, "--pipeline-parallel", "1000"],
     r"^error: training.pipeline_parallel: got 1000; expected at most the model's 32 layers"),
    ("tensor-parallel-splits-heads", [*TRAINING, "--tensor-parallel", "3"],
     r"^error: training.tensor_parallel: got 3; expected a divisor of the model's 32 attention heads$"),
    ("mfu-below-floor", [*TRAINING, "--mfu", "0.001"],
     r"^error: training.mfu: got 0.001; expected a finite number >= 0.01 and <= 1$"),
    ("sequence-beyond-any-window", [*TRAINING, "--sequence-length", "2000000000"],
     r"^error: training.sequence_length: got 2000000000; expected at most 1073741824 tokens$"),
    ("flag-without-value", [*INFERENCE, "--rps"], r"^error: argument --rps: expected one argument$"),
    ("typo-flag", [*INFERENCE, "--rsp", "3"], r"^error: unrecognized arguments: --rsp 3$"),
]
BAD_CONFIGS = [
    ("config-empty", ["--config", "{empty.json}"], r"^error: --config: got '.*empty.json'; expected a non-empty file$"),
    ("config-binary", ["--config", "{binary.json}"], r"expected a UTF-8 text file \(this one is binary"),
    ("config-huge", ["--config", "{huge.json}"], r"^error: --config: got '.*huge.json'; expected a file under 200 MiB$"),
    ("config-name-too-long", ["--config", "c" * 300], r"\.\.\. \(302 characters\); expected a usable path \(File name "
                                                         r"too long\)$"),
    ("hf-huge", [*INFERENCE, "--model-config", "{huge.json}"], r"^error: --model-config: .*a file under 200 MiB$"),
    ("config-nan", ["--config", "{nan.json}", *INFERENCE[2:]],
     r"^error: workload.requests_per_second: got nan; expected a finite number > 0$"),
    ("config-region-type", ["--config", "{region.json}", *INFERENCE, "--cost"],
     r"^error: options.region: got 5; expected a non-empty name such as us-east-1$"),
    ("config-price-file-type", ["--config", "{price_file.json}", *INFERENCE, "--cost"],
     r"^error: options.price_file: got True; expected a non-empty name"),
    ("config-model-path-type", ["--config", "{config_path.json}", *INFERENCE],
     r"^error: model.model_config_path: got 1; expected a non-empty name"),
    ("config-5000-digits", ["--config", "{digits.json}"], r"^error: --config: got '.*digits.json'; expected valid JSON "
                                                          r"\(Exceeds the limit \(4300 digits\)"),
    ("config-unknown-section", ["--config", "{section.json}"], r"unknown key 'wrkload'; did you mean 'workload'\?"),
    ("config-unknown-option", ["--config", "{key.json}"], r"options: unknown key 'clod'; did you mean 'cloud'\?"),
    ("config-bad-mode", ["--config", "{mode.json}"], r"mode: got 'inferense'; expected one of inference, training"),
    ("config-unknown-forecast-key", ["--config", "{forecast_key.json}"], r"forecast: unknown key 'horizon'"),
    ("hf-text-config", [*INFERENCE, "--model-config", "{hf_text.json}"],
     r"^error: --model-config: got '.*hf_text.json'; expected a JSON object"),
    ("hf-zero-heads", [*INFERENCE, "--model-config", "{hf_heads.json}"],
     r"^error: .*hf_heads.json: num_attention_heads: got 0; expected a whole number > 0$"),
    ("hf-experts-overflow", [*INFERENCE, "--model-config", "{hf_experts.json}"],
     r"hf_experts.json: model.num_experts: got 1e\+308; expected a whole number >= 0 and <= 1048576$"),
    ("hf-window-text", [*INFERENCE, "--model-config", "{hf_window.json}"],
     r"hf_window.json: model.sliding_window: got 'x'; expected a whole number >= 0"),
    ("hf-dense-layers", [*INFERENCE, "--model-config", "{hf_dense.json}"],
     r"hf_dense.json: model.first_dense_layers: got 99; expected a whole number >= 0 and <= 32$"),
]
FORECAST = ["--mode", "forecast", "--method", "seasonal_naive", "--horizon-days", "2"]
BAD_HISTORIES = [
    ("history-missing", [*FORECAST, "--history", "{tmp}/none.csv"], r"^error: --history: got '.*none.csv'; expected an "
                                                                     r"existing file"),
    ("history-empty", [*FORECAST, "--history", "{history_empty.csv}"], r"^error: --history: got .*; expected a non-empty"),
    ("history-binary", [*FORECAST, "--history", "{history_binary.csv}"], r"^error: --history: .*UTF-8"),
    ("history-huge", [*FORECAST, "--history", "{huge.json}"], r"^error: --history: .*a file under 200 MiB$"),
    ("history-frequency-zero", [*FORECAST, "--history", "{history.csv}", "--frequency", "0h"],
     r"^error: --frequency: got '0h'; expected a pandas frequency alias such as h, D, 15min$"),
    ("history-horizon-periods", [*FORECAST[:-1], "30", "--history", "{history.csv}", "--frequency", "1s"],
     r"^error: forecast.horizon_days: got 30.0; expected at most 100000 periods of the history's 1 s step"),
    ("history-value-overflow", [*FORECAST, "--history", "{history_huge_value.csv}"],
     r"^error: history: rps: got 1e\+308; expected demand values <= 1e\+12 \(row 6\)$"),
    ("history-timestamp-overflow", [*FORECAST, "--history", "{history_inf_time.csv}"],
     r"^error: history: ts: got inf; expected Unix seconds or milliseconds"),
    ("history-grid-too-large", [*FORECAST, "--history", "{history_span.csv}"],
     r"^error: history: ts: got '\d+ periods of s from .*'; expected at most 1000000 \(check the timestamps"),
    ("history-header-only", [*FORECAST, "--history", "{history_header.csv}"], r"^error: --history: .*data row"),
    ("history-text-value", [*FORECAST, "--history", "{history_text.csv}"], r"^error: history: rps: got 'ten'"),
    ("history-negative", [*FORECAST, "--history", "{history_negative.csv}"],
     r"^error: history: rps: got -10.0; expected demand values >= 0 \(row 6\)$"),
    ("history-directory", [*FORECAST, "--history", "{tmp}"], r"^error: --history: got '.*'; expected a file"),
    ("history-horizon", [*FORECAST[:-1], "4000", "--history", "{history.csv}"],
     r"^error: forecast.horizon_days: got 4000.0; expected a finite number > 0 and <= 3660$"),
    ("history-scenario", [*FORECAST, "--history", "{history.csv}", "--scenario", "worst"],
     r"^error: forecast.scenario: got 'worst'; expected one of optimistic, baseline, pessimistic$"),
]
BAD_PRICES = [
    ("prices-unknown-column", [*INFERENCE, "--cost", "--price-file", "{prices_column.csv}"],
     r"^error: --price-file .*prices_column.csv header, column .*: got 'missing'; expected the columns provider"),
    ("prices-overflow", [*INFERENCE, "--cost", "--price-file", "{prices_huge.csv}"],
     r"column usd_per_gpu_hour: got '1e308'; expected a price in USD > 0 and <= 1000 \(a plausibility limit\)$"),
    ("prices-negative", [*INFERENCE, "--cost", "--price-file", "{prices_negative.csv}"],
     r"column usd_per_gpu_hour: got '-3'; expected a price in USD > 0$"),
    ("prices-unknown-gpu", [*INFERENCE, "--cost", "--price-file", "{prices_gpu.csv}"], r"column gpu: got 'X900'"),
    ("prices-binary", [*INFERENCE, "--cost", "--price-file", "{prices_binary.csv}"], r"UTF-8 text file"),
    ("prices-huge", [*INFERENCE, "--cost", "--price-file", "{huge.json}"], r"^error: --price-file: .*under 200 MiB$"),
    ("prices-no-rows", [*INFERENCE, "--cost", "--price-file", "{prices_empty.json}"],
     r"prices_empty.json: got 'no rows'; expected at least one price row$"),
]


@pytest.mark.parametrize("argv, message", [row[1:] for row in BAD_FLAGS + BAD_CONFIGS + BAD_HISTORIES + BAD_PRICES],
                         ids=[row[0] for row in BAD_FLAGS + BAD_CONFIGS + BAD_HISTORIES + BAD_PRICES])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path, argv, message):
    files = _files(tmp_path)
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    argv = [str(files[arg[1:-1]]) if arg.startswith("{") and arg[1:-1] in files else arg for arg in argv]
    output = tmp_path / "out" / "plan.json"
    output.parent.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    code, stdout, stderr = run_cli(forecast_main, [*argv, "--output", str(output)] if "--output" not in argv else argv)
    assert (code, stdout) == (2, ""), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert re.search(message, stderr.rstrip("\n")), stderr
    assert list(output.parent.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- services under faults

ADD = ["add", "chat", "--owner", "alice", "--model", "llama-3.1-8b", "--gpu-type", "H100", "--replicas", "1"]


@pytest.fixture
def filled_db(tmp_path) -> Path:
    db = tmp_path / "services.db"
    for argv in (ADD, ["request", "create", "chat", "--gpus", "2", "--reason", "launch", "--by", "alice"]):
        assert run_cli(services_main, ["--db", str(db), *argv])[0] == 0
    return db


BAD_SERVICES = [
    ("huge-id", ["request", "show", "99999999999999999999999"],
     r"^error: argument id: got '99999999999999999999999'; expected a whole number > 0 and <= 2147483647$"),
    ("huge-gpus", ["request", "create", "chat", "--gpus", "2147483648", "--reason", "x", "--by", "bob"],
     r"^error: argument --gpus: got '2147483648'; expected a whole number > 0 and <= 2147483647$"),
    ("huge-replicas", ["update", "chat", "--replicas", "99999999999"], r"^error: argument --replicas: got '99999999999'; "),
    ("control-characters", ["update", "chat", "--owner", "a\x00b"], r"without control characters$"),
    ("long-owner", ["update", "chat", "--owner", "o" * 100000], r"\.\.\. \(100002 characters\); expected non-empty"),
    ("csv-binary", ["traffic", "import", "chat", "--csv", "{binary}"], r"^error: --csv: .*expected a UTF-8 text file "
                                                                         r"\(this one is binary or another encoding\)$"),
    ("csv-nan", ["traffic", "import", "chat", "--csv", "{nan}"], r"rps: got 'nan'; expected numbers \(row 1 is not a "
                                                                  r"number\)$"),
    ("csv-huge", ["traffic", "import", "chat", "--csv", "{huge}"], r"^error: --csv: got '.*huge.csv'; expected a file "
                                                                     r"under 200 MiB$"),
    ("csv-nul-cell", ["traffic", "import", "chat", "--csv", "{nul}"], r"^error: --csv: .*expected a UTF-8 text file "),
    ("plan-beyond-any-fleet", ["plan", "chat"], r"100,000-GPU fleet limit"),
]


@pytest.mark.parametrize("argv, message", [row[1:] for row in BAD_SERVICES], ids=[row[0] for row in BAD_SERVICES])
def test_bad_services_input_is_one_line_exit_2_and_changes_nothing(filled_db, tmp_path, argv, message):
    (tmp_path / "binary.csv").write_bytes(b"\xff\x00" * 50)
    (tmp_path / "nan.csv").write_text("timestamp,rps\n2024-01-01T00:00:00,nan\n")
    (tmp_path / "nul.csv").write_bytes(b"timestamp,rps\n" + b"\x00" * 200_000 + b"\n")
    with open(tmp_path / "huge.csv", "wb") as handle:
        handle.truncate(201 * 2**20)  # sparse
    run_cli(services_main, ["--db", str(filled_db), "update", "chat", "--rps", "1e300", "--input-tokens", "100",
                            "--output-tokens", "50"])
    argv = [str(tmp_path / f"{a[1:-1]}.csv") if a in ("{binary}", "{nan}", "{nul}", "{huge}") else a for a in argv]
    before = _dump(filled_db)
    code, stdout, stderr = run_cli(services_main, ["--db", str(filled_db), "--format", "json", *argv])
    assert (code, stdout) == (2, ""), stderr
    assert stderr.count("\n") == 1 and re.search(message, stderr.rstrip("\n")), stderr
    assert _dump(filled_db) == before


def _read_only_url(db: Path) -> str:
    return f"sqlite:///file:{db}?mode=ro&uri=true"


def test_read_only_database_reads_and_refuses_writes_cleanly(filled_db):
    before = _dump(filled_db)
    code, stdout, _ = run_cli(services_main, ["--db", _read_only_url(filled_db), "--format", "json", "list"])
    assert code == 0 and [s["name"] for s in json.loads(stdout)] == ["chat"]
    for argv in (["add", "other", "--owner", "bob", "--model", "llama-3.1-8b", "--gpu-type", "L4"],
                 ["request", "submit", "1", "--by", "alice"]):
        code, stdout, stderr = run_cli(services_main, ["--db", _read_only_url(filled_db), *argv])
        assert (code, stdout) == (2, "")
        assert re.fullmatch(r"error: database sqlite:///file%3A.*services.db\?mode=ro&uri=true: attempt to write a "
                            r"readonly database\n", stderr), stderr
    assert _dump(filled_db) == before  # no row lost, none half-written
    assert not (Path.cwd() / "file:").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_file_permissions_refuse_writes_cleanly(filled_db):
    filled_db.chmod(0o444)
    filled_db.parent.chmod(0o555)
    try:
        code, _, stderr = run_cli(services_main, ["--db", str(filled_db), *ADD[:1], "other", *ADD[2:]])
    finally:
        filled_db.parent.chmod(0o755)
        filled_db.chmod(0o644)
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert re.fullmatch(r"error: (cannot open )?database .*: (attempt to write a readonly database|unable to open "
                        r"database file)\n", stderr), stderr


@pytest.mark.parametrize("damage, message", [
    ("truncate", r"^error: cannot open database sqlite:///.*: database disk image is malformed$"),
    ("scribble", r"^error: (cannot open )?database sqlite:///.*: (database disk image is malformed|file is "
                 r"not a database)$"),
    ("foreign", r"^error: cannot open database sqlite:///.*: table services already exists$"),
], ids=["truncated", "scribbled", "another-programs-database"])
def test_corrupt_or_foreign_database_is_one_clear_error(filled_db, tmp_path, damage, message):
    copy = tmp_path / "damaged.db"
    if damage == "foreign":
        with sqlite3.connect(copy) as conn:
            conn.execute("CREATE TABLE services (x TEXT)")
    else:
        with sqlite3.connect(filled_db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(filled_db, copy)
        with open(copy, "r+b") as handle:
            if damage == "truncate":
                handle.truncate(3000)
            else:
                handle.seek(1024)
                handle.write(b"\xa5" * 6000)
    for argv in (["list"], ADD):
        code, stdout, stderr = run_cli(services_main, ["--db", str(copy), *argv])
        assert (code, stdout) == (2, "")
        assert re.search(message, stderr.rstrip("\n")) and stderr.count("\n") == 1, stderr
    if damage == "foreign":
        with sqlite3.connect(copy) as conn:  # refused before any write: no schema added to the other program's file
            assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["services"]


# --------------------------------------------------------------------------- internal errors


def _broken(*args, **kwargs):
    raise ZeroDivisionError("a bug")


@pytest.mark.parametrize("cli", ["forecast", "services"])
def test_internal_error_is_one_line_exit_1_traceback_only_with_debug(monkeypatch, tmp_path, cli):
    import commands.forecast
    import commands.services

    if cli == "forecast":
        monkeypatch.setattr("llm_forecast_engine.LLMForecastEngine.generate_inference_plan", _broken)
        main, argv = forecast_main, [*INFERENCE, "--output", str(tmp_path / "plan.json")]
    else:
        monkeypatch.setitem(commands.services.COMMANDS, "list", _broken)
        main, argv = services_main, ["--db", str(tmp_path / "s.db"), "list"]
    code, stdout, stderr = run_cli(main, argv)
    assert (code, stdout) == (1, "")
    assert stderr == "internal error: ZeroDivisionError: a bug (run with --debug for the traceback)\n"
    assert not (tmp_path / "plan.json").exists()
    with pytest.raises(ZeroDivisionError):  # --debug lets it through: Python prints the traceback, exit status 1
        run_cli(main, [*argv, "--debug"])


def test_ctrl_c_is_exit_130(monkeypatch):
    import commands.forecast

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("llm_forecast_engine.LLMForecastEngine.generate_inference_plan", interrupted)
    assert run_cli(forecast_main, INFERENCE) == (130, "", "interrupted\n")


# --------------------------------------------------------------------------- help


def test_help_of_both_commands_exits_0_in_process_and_as_programs():
    for main, argv in ((forecast_main, ["--help"]), (services_main, ["--help"]),
                       (services_main, ["request", "approve", "--help"])):
        code, stdout, stderr = run_cli(main, argv)
        assert (code, stderr) == (0, "") and stdout.startswith("usage: ")
    for script in ("commands/forecast.py", "commands/services.py"):
        done = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stderr) == (0, "") and "usage:" in done.stdout


def _options(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)
        elif action.option_strings and action.dest != "help":
            yield parser.prog, action


def test_every_flag_has_help_text():
    from commands.forecast import build_parser as forecast_parser
    from commands.services import build_parser as services_parser

    missing = [f"{prog} {action.option_strings[0]}" for parser in (forecast_parser(), services_parser())
               for prog, action in _options(parser) if not (action.help or "").strip()]
    assert missing == []


# =========================================================================== round two (issue 15)
# --------------------------------------------------------------------------- files: outputs never replace inputs

DAY_FIRST = "timestamp,rps\n" + "".join(f"{1 + i // 24:02d}/01/2024 {i % 24:02d}:00,{5 + i % 24}\n" for i in range(14 * 24))
MONTH_FIRST = "timestamp,rps\n" + "".join(f"01/{1 + i // 24:02d}/2024 {i % 24:02d}:00,{5 + i % 24}\n"
                                          for i in range(14 * 24))
AMBIGUOUS = "timestamp,rps\n" + "".join(f"{1 + i // 24:02d}/01/2024 {i % 24:02d}:00,{5 + i % 24}\n" for i in range(72))


def _round_two_files(tmp: Path) -> dict[str, Path]:
    texts = {"config.json": json.dumps({"mode": "inference", "workload": {"requests_per_second": 5,
                                        "avg_input_tokens": 200, "avg_output_tokens": 100},
                                        "model": {"model_size_billions": 7}}),
             "config.png": json.dumps({"mode": "inference"}), "history.csv": HOURLY, "hf.json": (
                 ROOT / "tests" / "data" / "hf_configs" / "llama-3.1-8b.json").read_text(),
             "prices.csv": _price_csv(), "deep.json": "[" * 100_000 + "]" * 100_000,
             "deep65.json": '{"workload": ' + "[" * 65 + "]" * 65 + "}", "day_first.csv": DAY_FIRST,
             "month_first.csv": MONTH_FIRST, "ambiguous.csv": AMBIGUOUS, "year1.csv": "timestamp,rps\n0001-01-01,1\n"
             "0001-01-02,2\n0001-01-03,3\n", "year9999.csv": "timestamp,rps\n9999-01-01,1\n9999-01-02,2\n9999-01-03,3\n"}
    paths = {}
    for name, text in texts.items():
        paths[name] = tmp / "in" / name
        paths[name].parent.mkdir(exist_ok=True)
        paths[name].write_text(text, encoding="utf-8")
    (tmp / "in" / "link.json").symlink_to(paths["config.json"])
    os.link(paths["config.json"], tmp / "in" / "hard.json")
    return paths


ONTO_INPUTS = [
    ("output-is-config", ["--config", "{in}/config.json", "--output", "{in}/config.json"], "--output", "--config"),
    ("output-is-config-by-symlink", ["--config", "{in}/config.json", "--output", "{in}/link.json"], "--output",
     "--config"),
    ("output-is-config-by-hard-link", ["--config", "{in}/config.json", "--output", "{in}/hard.json"], "--output",
     "--config"),
    ("output-is-config-by-dots", ["--config", "{in}/config.json", "--output", "{in}/../in/./config.json"], "--output",
     "--config"),
    ("plot-is-config", ["--config", "{in}/config.png", *INFERENCE, "--plot", "{in}/config.png"], "--plot", "--config"),
    ("output-is-history", [*FORECAST, "--history", "{in}/history.csv", "--output", "{in}/history.csv"], "--output",
     "forecast.history"),
    ("output-is-model-config", [*INFERENCE, "--model-config", "{in}/hf.json", "--output", "{in}/hf.json"], "--output",
     "model.model_config_path"),
    ("output-is-price-file", [*INFERENCE, "--cost", "--price-file", "{in}/prices.csv", "--output", "{in}/prices.csv"],
     "--output", "options.price_file"),
    ("output-is-plot", [*INFERENCE, "--plot", "{in}/../plan.png", "--output", "{in}/../plan.png"], "--plot", "--output"),
]


@pytest.mark.parametrize("argv, flag, other", [c[1:] for c in ONTO_INPUTS], ids=[c[0] for c in ONTO_INPUTS])
def test_an_output_onto_an_input_is_refused_and_the_input_kept(tmp_path, argv, flag, other):
    files = _round_two_files(tmp_path)
    before = {name: path.read_bytes() for name, path in files.items()}
    argv = [a.replace("{in}", str(tmp_path / "in")) for a in argv]
    code, stdout, stderr = run_cli(forecast_main, argv)
    assert (code, stdout, stderr.count("\n")) == (2, "", 1), stderr
    assert re.match(rf"^error: {flag}: got '.*'; expected a file other than the {re.escape(other)} file it would "
                    r"overwrite$", stderr.rstrip("\n")), stderr
    assert {name: path.read_bytes() for name, path in files.items()} == before
    assert not (tmp_path / "plan.png").exists()


# argv with {in} for the input folder -> the one error line expected
ROUND_TWO_BAD = [
    ("json-100000-deep", ["--config", "{in}/deep.json"], r"^error: --config: got '.*deep.json'; expected JSON nested at "
                                                          r"most 64 levels deep$"),
    ("json-65-deep", ["--config", "{in}/deep65.json"], r"expected JSON nested at most 64 levels deep$"),
    ("frequency-month-end", [*FORECAST, "--history", "{in}/history.csv", "--frequency", "ME"],
     r"^error: --frequency: got 'ME'; expected a fixed step such as min, 15min, h, D or 7D \(calendar frequencies like "
     r"ME, W and B have periods of different lengths\)$"),
    ("frequency-week", [*FORECAST, "--history", "{in}/history.csv", "--frequency", "W"], r"^error: --frequency: got 'W'"),
    ("frequency-business-day", [*FORECAST, "--history", "{in}/history.csv", "--frequency", "B"],
     r"^error: --frequency: got 'B'"),
    ("frequency-quarter", [*FORECAST, "--history", "{in}/history.csv", "--frequency", "QS"],
     r"^error: --frequency: got 'QS'"),
    ("day-first-dates", [*FORECAST, "--history", "{in}/day_first.csv"],
     r"^error: history: timestamp: got '13/01/2024 00:00'; expected dates pandas reads one way: this one is day first "
     r"\(row 289\), which is read only with --date-format"),
    ("ambiguous-dates", [*FORECAST, "--history", "{in}/ambiguous.csv"],
     r"^error: history: timestamp: got '02/01/2024 00:00'; expected dates whose order is clear: day and month could "
     r"be either way round \(row 25\); give --date-format"),
    ("wrong-date-format", [*FORECAST, "--history", "{in}/day_first.csv", "--date-format", "%m/%d/%Y %H:%M"],
     r"^error: history: timestamp: got '13/01/2024 00:00'; expected a date and time written as --date-format "
     r"'%m/%d/%Y %H:%M' \(row 289\)$"),
    ("year-1", [*FORECAST, "--history", "{in}/year1.csv"],
     r"^error: history: timestamp: got '0001-01-01'; expected a timestamp from 1677-09-22 to 2262-04-11, the range "
     r"pandas holds \(row 1\)$"),
    ("year-9999", [*FORECAST, "--history", "{in}/year9999.csv"], r"^error: history: timestamp: got '9999-01-01'"),
    ("non-utf8-argument", [*INFERENCE, "--model", "\udcff\udcfe"],
     r"^error: argument \d+ \('\\\\xff\\\\xfe'\) is not UTF-8 text: give names and paths in UTF-8$"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in ROUND_TWO_BAD], ids=[c[0] for c in ROUND_TWO_BAD])
def test_round_two_user_mistakes_are_one_line_exit_2(tmp_path, argv, message):
    _round_two_files(tmp_path)
    output = tmp_path / "plan.json"
    argv = [a.replace("{in}", str(tmp_path / "in")) for a in argv] + ["--output", str(output)]
    code, stdout, stderr = run_cli(forecast_main, argv)
    assert_clean(code, stdout, stderr, output)
    assert code == 2 and re.search(message, stderr.rstrip("\n")), stderr


@pytest.mark.parametrize("name, date_format", [("day_first.csv", "%d/%m/%Y %H:%M"), ("month_first.csv", None)],
                         ids=["day-first-with-format", "month-first-detected"])
def test_dates_read_with_a_format_or_an_unambiguous_order_give_a_regular_history(tmp_path, name, date_format):
    from demand_history import load_history

    files = _round_two_files(tmp_path)
    history = load_history(files[name], date_format=date_format)
    # 14 days of hourly rows, every one on the grid: nothing missing, nothing moved
    assert len(history.series) == 14 * 24 and history.frequency == "h"
    assert str(history.series.index[0]) == "2024-01-01 00:00:00" and str(history.series.index[-1]) == "2024-01-14 23:00:00"
    assert not any("missing" in w or "moved" in w for w in history.warnings)


def test_a_csv_without_a_header_keeps_its_first_row(tmp_path):
    from demand_history import load_history

    path = tmp_path / "bare.csv"
    path.write_text(HOURLY.split("\n", 1)[1])  # the hourly rows, no header line
    history = load_history(path)
    assert len(history.series) == 72 and history.series.iloc[0] == 5.0  # the first row: 00:00 -> 5 rps
    assert any("no header row" in w for w in history.warnings)


def test_the_size_limit_counts_decompressed_bytes(tmp_path, monkeypatch):
    import gzip

    import demand_history

    monkeypatch.setattr(demand_history, "MAX_TEXT_BYTES", 2**20)
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wt") as handle:  # ~20 KB compressed, 6 MB of text
        handle.write("timestamp,rps\n" + "2024-01-01T00:00:00,1\n" * 280_000)
    assert bomb.stat().st_size < 100_000
    code, stdout, stderr = run_cli(forecast_main, [*FORECAST, "--history", str(bomb)])
    assert (code, stdout) == (2, "") and re.match(r"^error: --history: got '.*bomb.csv.gz'; expected at most 1 MiB of "
                                                  r"text \(counted after decompression\)\n$", stderr), stderr
    small = tmp_path / "small.csv.gz"
    with gzip.open(small, "wt") as handle:
        handle.write(HOURLY)
    assert len(demand_history.load_history(small).series) == 72


# --------------------------------------------------------------------------- files: names and temp files


def test_a_255_byte_output_name_is_written_and_no_temp_file_stays(tmp_path):
    output = tmp_path / ("p" * 250 + ".json")
    code, stdout, stderr = run_cli(forecast_main, [*INFERENCE, "--format", "json", "--output", str(output)])
    assert_clean(code, stdout, stderr, output)
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == [output.name]


def test_a_temp_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    from config_loader import write_json_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".plan.json.{dead.stdout.strip()}.0123abcd.partial"
    stale.write_text('{"half": ')
    alive = tmp_path / f".plan.json.{os.getpid()}.89abcdef.partial"  # a writer still running: left alone
    alive.write_text("")
    write_json_atomic(tmp_path / "plan.json", {"whole": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "plan.json"])


KILLED_WRITER = """
import os, sys, time
sys.path.insert(0, {root!r})
from config_loader import write_atomic
def slow(handle):
    handle.write(b'{{"half": ')
    handle.flush()
    open(sys.argv[2], "w").close()
    time.sleep(60)
write_atomic(sys.argv[1], slow)
"""


def test_kill_9_during_a_write_leaves_the_old_file_and_a_temp_the_next_write_removes(tmp_path):
    from config_loader import write_json_atomic

    target, marker = tmp_path / "plan.json", tmp_path / "writing"
    target.write_text('{"old": true}')
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER.format(root=str(ROOT)), str(target), str(marker)])
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child.kill()
    child.wait()
    assert json.loads(target.read_text()) == {"old": True}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".plan.json.")  # recognisable: whose and what
    write_json_atomic(target, {"new": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "writing"]


# --------------------------------------------------------------------------- the environment


def _program(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "commands" / "forecast.py"), *argv], capture_output=True,
                          timeout=300, **kwargs)


def _limit_file_size():
    import resource
    import signal as signals

    signals.signal(signals.SIGXFSZ, signals.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


def test_a_full_disk_under_output_is_exit_2_and_leaves_nothing(tmp_path):
    output = tmp_path / "plan.json"
    done = _program([*INFERENCE, "--format", "json", "--output", str(output)], preexec_fn=_limit_file_size)
    assert done.returncode == 2, done.stderr
    assert re.fullmatch(rb"error: --output: got '.*plan.json'; expected a writable location with room for the file "
                        rb"\(File too large\)\n", done.stderr), done.stderr
    assert list(tmp_path.iterdir()) == [] and done.stdout == b""


ENVIRONMENT = [  # (case, how the program runs, exit status, what stderr says)
    ("stdout-on-dev-full", {"stdout": "/dev/full"}, 2, rb"^error: cannot write to stdout: No space left on device\n$"),
    ("stdout-closed", {"close": 1}, 2, rb"^error: cannot write to stdout: it is closed\n$"),
    ("stdin-closed-no-arguments", {"close": 0, "argv": []}, 2, rb"error: no arguments and no terminal"),
    ("ascii-only-terminal", {"env": {"PYTHONIOENCODING": "ascii"}}, 0, rb"^$"),
    ("latin-1-terminal", {"env": {"PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}}, 0, rb"^$"),
    ("closed-pipe", {"pipe": True}, 141, rb"^$"),
    ("non-utf8-bytes", {"argv": [*INFERENCE, "--model", b"\xff\xfe"]}, 2, rb"^error: argument \d+ .* is not UTF-8 text"),
]


@pytest.mark.parametrize("how, status, message", [c[1:] for c in ENVIRONMENT], ids=[c[0] for c in ENVIRONMENT])
def test_environment_faults_are_exit_2_or_quiet(tmp_path, how, status, message):
    argv = how.get("argv", [*INFERENCE, "--cost"])
    env = {**os.environ, **how.get("env", {})}
    command = [sys.executable, str(ROOT / "commands" / "forecast.py"), *argv]
    if how.get("pipe"):  # `forecast.py ... | head -c 1`: the reader leaves after one byte
        producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        producer.stdout.read(1)
        producer.stdout.close()
        code, stderr = producer.wait(timeout=300), producer.stderr.read()
    else:
        stdout = open(how["stdout"], "wb") if "stdout" in how else subprocess.PIPE
        closed = how.get("close")
        done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=300,
                              stdin=subprocess.DEVNULL if closed != 0 else None,
                              preexec_fn=(lambda: os.close(closed)) if closed is not None else None)
        code, stderr = done.returncode, done.stderr
        if status == 0:
            assert done.stdout.decode("ascii")  # every character the terminal lacks was replaced
    assert code == status and re.search(message, stderr), stderr


def test_no_home_directory_and_no_passwd_entry_is_a_user_error(monkeypatch):
    import pwd

    for name in ("HOME", "XDG_DATA_HOME", "LLM_CAPACITY_DB"):
        monkeypatch.delenv(name, raising=False)

    def no_entry(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    code, stdout, stderr = run_cli(services_main, ["list"])
    assert (code, stdout) == (2, "")
    assert re.fullmatch(r"error: --db: got '\(the default database\)'; expected a home directory to keep it in \(HOME "
                        r"is unset and user id \d+ has no passwd entry\): give --db PATH or set \$LLM_CAPACITY_DB\n",
                        stderr), stderr
    code, _, stderr = run_cli(services_main, ["--db", "~/services.db", "list"])
    assert code == 2 and "a path that does not start with ~" in stderr
