"""The command line: seed examples, config files and overrides, and one clean line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_FLAGS = ["--mode", "inference", "--rps", "10", "--input-tokens", "500", "--output-tokens", "200",
              "--model-size", "70", "--precision", "FP16", "--gpu-type", "A100-80GB"]


def test_seed_inference_example_writes_the_plan(cli, tmp_path):
    out = tmp_path / "inference_plan.json"
    result = cli(*SEED_FLAGS, "--cost", "--output", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(out.read_text())
    assert plan == json.loads(result.stdout)
    for section in ("inputs", "model", "gpu_resources", "throughput", "latency", "cost", "assumptions", "warnings"):
        assert section in plan
    for key in ("gpu_type", "gpus_per_replica", "tensor_parallel", "memory_per_replica_gib", "memory_breakdown_gib",
                "max_concurrency_per_replica", "replicas", "replicas_min", "replicas_max", "total_gpus"):
        assert key in plan["gpu_resources"]
    assert set(plan["gpu_resources"]["memory_breakdown_gib"]) == {"weights", "kv_cache", "activations", "overhead"}
    assert {"ttft_ms", "itl_ms", "e2e_ms"} <= set(plan["latency"])
    assert {"monthly_gpu_cost", "cost_per_million_tokens"} <= set(plan["cost"])
    assert plan["model"]["params_b"] == pytest.approx(70, rel=0.02)


def test_generate_config_then_run_with_override(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("--generate-config", "inference").exit_code == 0
    assert (tmp_path / "inference_config.json").exists()
    result = cli("--config", "inference_config.json", "--rps", "20", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["inputs"]["workload"]["requests_per_second"] == 20.0
    assert plan["inputs"]["workload"]["avg_input_tokens"] == 500


def test_generate_config_never_overwrites(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training_config.json").write_text('{"mode": "training"}')
    result = cli("--generate-config", "training")
    assert result.exit_code == 2 and "exists" in result.stderr
    assert (tmp_path / "training_config.json").read_text() == '{"mode": "training"}'


def generated_kinds() -> tuple:
    """Every ``--generate-config`` choice the parser offers (a new template is tested without editing this file)."""
    from commands.forecast import build_parser

    return tuple(next(action.choices for action in build_parser()._actions if action.dest == "generate_config"))


SAMPLE_FLEET_SERVICES = {"chat", "qwen-large", "qwen-mid", "qwen-small"}  # data/fleet/README.md


@pytest.mark.parametrize("kind", generated_kinds())
def test_every_generated_config_runs_as_written(cli, tmp_path, monkeypatch, kind):
    """``--generate-config KIND`` then ``--config KIND_config.json`` from the repo root: the history a forecast or
    fleet template names is a shipped file (data/traces, data/fleet), named from the directory it was written in."""
    import config_loader

    monkeypatch.chdir(tmp_path)  # elsewhere: the shipped data is named in full
    assert cli("--generate-config", kind).exit_code == 0
    elsewhere = json.loads((tmp_path / f"{kind}_config.json").read_text())
    assert elsewhere == config_loader.template(kind, here=tmp_path)
    history = elsewhere.get("forecast", {}).get("history")
    assert history is None or (Path(history).is_absolute() and Path(history).is_file())
    monkeypatch.chdir(ROOT)  # what `cd repo && --generate-config KIND` writes, run where it was written
    written = tmp_path / "from_root.json"
    written.write_text(json.dumps(config_loader.template(kind, here=ROOT)))
    as_written = json.loads(written.read_text()).get("forecast", {}).get("history")
    assert as_written is None or (as_written.startswith("data/") and (ROOT / as_written).is_file())
    result = cli("--config", str(written), "--format", "json")
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    plan = json.loads(result.stdout)
    if kind == "fleet":
        assert {row["service"]: row["status"] for row in plan["services"]} == dict.fromkeys(SAMPLE_FLEET_SERVICES, "ok")
    if kind == "forecast":  # Azure 2024 conversation: 144 hours, the first 91,156 requests (the file's first row)
        assert len(plan["history"]) == 144
        assert plan["history"][0] == {"timestamp": "2024-05-12T00:00:00+00:00", "value": 91156.0}


def test_sample_fleet_is_built_as_documented(tmp_path, monkeypatch):
    """data/fleet/README.md's recipe rebuilds the shipped table; its ServeGen services keep the traces' tokens per
    request (data/traces/token_stats.csv, computed apart from this table), so the 1% scaling changed only the load."""
    import re

    import pandas as pd

    recipe = re.search(r"```python\n(.*?)```", (ROOT / "data/fleet/README.md").read_text(), re.S).group(1)
    rebuilt = tmp_path / "rebuilt.parquet"
    assert recipe.count('"data/fleet/sample_fleet.parquet"') == 1
    monkeypatch.chdir(ROOT)
    exec(recipe.replace('"data/fleet/sample_fleet.parquet"', repr(str(rebuilt))), {})
    shipped = pd.read_parquet(ROOT / "data/fleet/sample_fleet.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(rebuilt), shipped)
    stats = pd.read_csv(ROOT / "data/traces/token_stats.csv").set_index("trace")
    for service, trace in (("qwen-large", "servegen_m-large"), ("qwen-mid", "servegen_m-mid"),
                           ("qwen-small", "servegen_m-small")):
        rows = shipped[shipped["service"] == service]
        known = (rows["requests"] * rows["token_coverage"]).sum()
        assert rows["input_tokens"].sum() / known == pytest.approx(stats.loc[trace, "input_mean"], rel=2e-3)
        assert rows["output_tokens"].sum() / known == pytest.approx(stats.loc[trace, "output_mean"], rel=2e-3)


def test_override_changes_the_plan(cli, tmp_path):
    base = json.loads(cli(*SEED_FLAGS, "--format", "json").stdout)
    more = json.loads(cli(*SEED_FLAGS, "--rps", "40", "--format", "json").stdout)
    assert more["gpu_resources"]["total_gpus"] > base["gpu_resources"]["total_gpus"]


def test_model_config_flag(cli):
    path = ROOT / "tests" / "data" / "hf_configs" / "qwen2.5-7b.json"
    result = cli("--rps", "5", "--input-tokens", "1000", "--output-tokens", "100", "--model-config", str(path),
                 "--gpu-type", "L40S", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"]["num_kv_heads"] == 4


def test_table_output_is_the_default(cli):
    result = cli(*SEED_FLAGS, "--cost")
    assert result.exit_code == 0, result.stderr
    assert "GPU RESOURCES" in result.stdout.upper()


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_INPUTS = [
    (["--rps", "-3"], "--rps"),
    (["--rps", "nan"], "--rps"),
    (["--rps", "inf"], "--rps"),
    (["--input-tokens", "0"], "--input-tokens"),
    (["--input-tokens", "1.5"], "--input-tokens"),
    (["--gpu-type", "X900"], "X900"),
    (["--model", "llama-3-7b"], "did you mean"),
    (["--precision", "FP12"], "precision"),
    (["--tensor-parallel", "3", "--gpu-type", "H100"], "tensor_parallel"),
    (["--target-utilization", "1.5"], "target_gpu_utilization"),
    (["--peak-multiplier", "0.5"], "--peak-multiplier"),
    (["--model", "llama-3.1-405b", "--gpu-type", "T4", "--precision", "FP16"], "needs at least"),
    (["--bogus-flag"], "unrecognized arguments"),
    (["--mode", "nope"], "invalid choice"),
    (["--config", "/nonexistent/config.json"], "no such file"),
    (["--model-config", "/nonexistent/config.json"], "no such file"),
    (["--input-tokens", "200000", "--model", "llama-3.1-8b"], "context window"),
]


def _without_size(flags: list[str]) -> list[str]:
    """The flags less ``--model-size N`` (a named model and a different size contradict each other)."""
    at = flags.index("--model-size")
    return flags[:at] + flags[at + 2:]


@pytest.mark.parametrize("extra,message", BAD_INPUTS, ids=[" ".join(b[0])[:40] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_no_file(cli, tmp_path, extra, message):
    out = tmp_path / "plan.json"
    seed = _without_size(SEED_FLAGS) if {"--model", "--model-config"} & set(extra) else SEED_FLAGS
    result = cli(*seed, *extra, "--output", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


BAD_CONFIGS = [
    ('{"mode": "inference", "workload": {"requests_per_secnd": 10}}', "did you mean 'requests_per_second'"),
    ('{"mode": "inference", "workload": {"requests_per_second": "ten", "avg_input_tokens": 5, "avg_output_tokens": 5}, '
     '"model": {"model_size_billions": 7}}', "workload.requests_per_second"),
    ('{"mode": "inference", "workload": {"requests_per_second": 1}, "model": {"model_size_billions": 7}}', "missing"),
    ('{"mode": "inference", "model": {"model_size_billions": 7, "precision": "FP16"}, "workload": '
     '{"requests_per_second": 1, "avg_input_tokens": 10, "avg_output_tokens": 10}, "gpu": {"gpu_type": "H100", '
     '"target_gpu_utilization": 0}}', "target_gpu_utilization"),
    ("{not json", "valid JSON"),
    ("", "non-empty"),
    ("[]", "JSON object"),
]


@pytest.mark.parametrize("text,message", BAD_CONFIGS, ids=["typo", "string-number", "missing-key", "zero-util",
                                                            "malformed", "empty", "array"])
def test_bad_config_file(cli, tmp_path, text, message):
    config = _write(tmp_path, "bad.json", text)
    out = tmp_path / "plan.json"
    result = cli("--config", config, "--output", str(out))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert not out.exists()


def test_binary_config_file(cli, tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    result = cli("--config", str(path))
    assert result.exit_code == 2 and "UTF-8" in result.stderr


def test_output_into_missing_directory(cli, tmp_path):
    result = cli(*SEED_FLAGS, "--output", str(tmp_path / "missing" / "plan.json"))
    assert result.exit_code == 2 and "existing directory" in result.stderr


def test_no_arguments_without_a_terminal_is_one_error_line_and_exits_2():
    proc = subprocess.run([sys.executable, str(ROOT / "commands" / "forecast.py")], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "--config" in proc.stderr and proc.stdout == ""


def test_seed_programmatic_usage_runs_as_written():
    """SEED.md's inference and comparison snippet, verbatim."""
    code = '''
from llm_forecast_engine import LLMForecastEngine
from models import LLMWorkloadInput, TrainingInput, ModelConfig, GPUConfig

engine = LLMForecastEngine()
workload = LLMWorkloadInput(
    requests_per_second=10.0,
    avg_input_tokens=500,
    avg_output_tokens=200
)
model = ModelConfig(
    model_size_billions=70,
    precision="FP16"
)

inference_plan = engine.generate_inference_plan(workload, model, include_cost=True)
print(f"Total GPUs: {inference_plan.gpu_resources.total_gpus}")
print(f"Cost/M tokens: ${inference_plan.cost.cost_per_million_tokens:.4f}")

comparison = engine.compare_gpu_options(workload, model)
for c in comparison:
    print(f"{c['gpu_type']}: {c['total_gpus']} GPUs, ${c['monthly_gpu_cost']:,.0f}/month")
'''
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Total GPUs:" in proc.stdout and "/month" in proc.stdout


# --------------------------------------------------------------------------- flags that do not apply are refused

HISTORY = "data/traces/servegen_m-large_per_hour.csv"
FLEET_SAMPLE = "data/fleet/sample_fleet.parquet"
NOT_IN_MODE = [
    # (command, the one error line expected: the flag and the modes whose plan uses it)
    ([*SEED_FLAGS, "--history", HISTORY], "--history applies to --mode forecast/fleet, not inference"),
    ([*SEED_FLAGS, "--epochs", "3"], "--epochs applies to --mode training, not inference"),
    ([*SEED_FLAGS, "--no-mixed-precision"], "--no-mixed-precision applies to --mode training, not inference"),
    (["--mode", "training", "--model", "llama-3.1-8b", "--dataset-size", "1e9", "--sequence-length", "4096",
      "--epochs", "1", "--global-batch-size", "64", "--rps", "10"], "--rps applies to --mode inference/compare, "
                                                                      "not training"),
    (["--mode", "forecast", "--history", HISTORY, "--rps", "10"], "--rps applies to --mode inference/compare, "
                                                                  "not forecast"),
    (["--mode", "forecast", "--history", HISTORY, "--cost"], "--cost applies to --mode "
                                                             "inference/training/compare, not forecast"),
    (["--mode", "fleet", "--history", FLEET_SAMPLE, "--cost"], "--cost applies to --mode "
                                                               "inference/training/compare, not fleet"),
    (["--mode", "latency", "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--input-tokens", "100",
      "--output-tokens", "10", "--peak-multiplier", "2"], "--peak-multiplier applies to --mode "
                                                          "inference/forecast/compare/fleet, not latency"),
    (["--mode", "validate", "--gpu-type", "H100-80GB"], "--gpu-type applies to --mode "
                                                         "inference/training/forecast/compare/fleet/latency, not validate"),
]


@pytest.mark.parametrize("argv,line", NOT_IN_MODE, ids=[a[-2] for a, _ in NOT_IN_MODE])
def test_a_flag_the_mode_would_ignore_is_refused(cli, argv, line):
    result = cli(*argv)
    assert (result.exit_code, result.stderr) == (2, f"error: {line}\n")


def test_a_config_key_the_mode_would_ignore_is_refused(cli, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"mode": "training", "workload": {"requests_per_second": 5},
                                  "training": {"dataset_size_tokens": 10**9, "sequence_length": 4096,
                                               "num_epochs": 1, "global_batch_size": 64},
                                  "model": {"model": "llama-3.1-8b"}}))
    result = cli("--config", str(config))
    assert (result.exit_code, result.stderr) == (
        2, "error: workload.requests_per_second applies to --mode inference/compare, not training\n")


def test_a_written_plan_of_another_mode_reads_back(cli, tmp_path):
    """A plan's ``inputs`` list every key at its default (gpu.engine "vllm" in a training plan): not refused."""
    out = tmp_path / "train.json"
    argv = ["--mode", "training", "--model", "llama-3.1-8b", "--dataset-size", "1e9", "--sequence-length", "4096",
            "--epochs", "1", "--global-batch-size", "64", "--gpu-type", "H100-80GB"]
    assert cli(*argv, "--output", str(out)).exit_code == 0
    assert json.loads(out.read_text())["inputs"]["gpu"]["engine"] == "vllm"
    result = cli("--config", str(out))
    assert result.exit_code == 0, result.stderr


def test_a_size_that_contradicts_the_named_model_is_refused(cli):
    flags = ["--mode", "inference", "--rps", "1", "--input-tokens", "500", "--output-tokens", "200",
             "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB"]
    refused = cli(*flags, "--model-size", "70")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: model.model_size_billions (--model-size): got 70.0; expected the size "
                                     "of the model named (llama-3.1-8b: 8.03B)")
    assert cli(*flags, "--model-size", "8").exit_code == 0  # Llama 3.1 8B: 8.03B parameters (Meta's model card)


def test_a_model_id_and_a_config_file_together_are_refused(cli):
    """Both name the model: whichever won, the other would be ignored without a word."""
    flags = ["--mode", "inference", "--rps", "1", "--input-tokens", "500", "--output-tokens", "200",
             "--gpu-type", "H100-80GB"]
    both = cli(*flags, "--model", "llama-3.1-8b", "--model-config", "data/model_configs/bloom-176b.json")
    assert both.exit_code == 2 and both.stdout == ""
    assert both.stderr == ("error: model.model_config_path (--model-config): got 'data/model_configs/bloom-176b.json'; "
                           "expected either a model id (llama-3.1-8b) or a config.json path, not both: one would be "
                           "ignored\n")
    assert cli(*flags, "--model-config", "data/model_configs/bloom-176b.json").exit_code == 0


def test_an_unknown_region_is_refused_with_the_listed_ones(cli):
    flags = [*SEED_FLAGS, "--cost"]
    on_aws = cli(*flags, "--cloud", "aws", "--region", "mars")
    # data/cloud_prices.csv lists aws rows in us-east-1, us-east-2 and us-west-2
    assert (on_aws.exit_code, on_aws.stderr) == (2, "error: options.region (--region): got 'mars'; expected a region "
                                                    "the price data lists for aws (us-east-1, us-east-2, us-west-2)\n")
    anywhere = cli(*flags, "--region", "mars")
    assert anywhere.exit_code == 2 and "aws: us-east-1, us-east-2, us-west-2; azure: " in anywhere.stderr
    assert cli(*flags, "--cloud", "aws", "--region", "us-east-1").exit_code == 0
