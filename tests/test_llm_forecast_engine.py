"""One engine, one answer: the same question through every door gives the same plan.

The doors are the CLI flags, a config file, the Python API, ``services.py plan`` (a registered service)
and the wizard (driven by keystrokes on prompt_toolkit's pipe input; ``tests/test_llm_agent.py`` has more). A written plan read back with ``--config`` asks the same question again.
"""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from llm_forecast_engine import LLMForecastEngine
from models import (
    ForecastInput, ForecastPlan, GPUComparison, GPUConfig, InputError, LLMWorkloadInput, ModelConfig, PlanRequest,
    ServicePlan, ValidationReport,
)

ROOT = Path(__file__).resolve().parent.parent
INFERENCE_FLAGS = ["--mode", "inference", "--rps", "20", "--input-tokens", "500", "--output-tokens", "1000",
                   "--itl-slo-ms", "40", "--model", "llama-3.1-8b", "--precision", "FP16", "--gpu-type", "H100-80GB"]
FORECAST_FLAGS = ["--mode", "forecast", "--horizon-days", "2", "--model", "llama-3.1-8b", "--precision", "FP16",
                  "--gpu-type", "H100-80GB", "--input-tokens", "600", "--output-tokens", "250", "--current-replicas", "2"]


def wizard_plan(keys: list[str], directory: Path, monkeypatch) -> dict:
    """The plan the wizard saves after these keystrokes (its last answers save the plan, and nothing else)."""
    from wizard_keys import ENTER, drive

    monkeypatch.chdir(directory)
    code, _, err = drive(*keys, ENTER, "y", ENTER, "n", "n")  # plan at the review; save the plan only
    assert code == 0, err
    [plan] = directory.glob("*_plan.json")
    return json.loads(plan.read_text())


def json_of(cli, *argv) -> dict:
    result = cli(*argv, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def numbers(plan: dict) -> dict:
    """What a plan answers (everything but the question it carries)."""
    return {k: v for k, v in plan.items() if k != "inputs"}


@pytest.fixture
def hourly_csv(tmp_path) -> Path:
    """Three weeks of hourly rates with a daily cycle whose daytime load needs several H100s."""
    index = pd.date_range("2026-03-02", periods=21 * 24, freq="h", tz="UTC")
    rps = [round(20.0 + 50.0 * (8 <= t.hour < 20) + 0.5 * (i % 7), 3) for i, t in enumerate(index)]
    path = tmp_path / "traffic.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "rps": rps}).to_csv(path, index=False)
    return path


@pytest.fixture
def registry(tmp_path):
    from services import Registry

    with Registry(str(tmp_path / "services.db")) as reg:
        yield reg


# --------------------------------------------------------------------------- the same question, every door


def test_inference_question_gets_the_same_plan_through_every_door(cli, tmp_path, registry, monkeypatch):
    from wizard_keys import ENTER, typed

    by_flags = json_of(cli, *INFERENCE_FLAGS)
    config = tmp_path / "question.json"
    config.write_text(json.dumps({"mode": "inference",
                                  "workload": {"requests_per_second": 20, "avg_input_tokens": 500,
                                               "avg_output_tokens": 1000, "itl_slo_ms": 40},
                                  "model": {"model": "llama-3.1-8b", "precision": "FP16"},
                                  "gpu": {"gpu_type": "H100-80GB"}}))
    by_config = json_of(cli, "--config", str(config))
    by_api = LLMForecastEngine().generate_inference_plan(
        LLMWorkloadInput(requests_per_second=20, avg_input_tokens=500, avg_output_tokens=1000, itl_slo_ms=40),
        ModelConfig(model="llama-3.1-8b", precision="FP16"), GPUConfig(gpu_type="H100-80GB")).to_dict()
    registry.add_service("chat", owner="alice", model="llama-3.1-8b", precision="FP16", gpu_type="H100-80GB",
                         requests_per_second=20, avg_input_tokens=500, avg_output_tokens=1000, itl_slo_ms=40)
    by_service = LLMForecastEngine(registry=registry).plan_service("chat").plan.to_dict()
    wizard_keys = [ENTER, typed("llama-3.1-8b"), ENTER,          # inference; the model; FP16
                   typed("20"), ENTER, typed("1000"), ENTER,     # 20 req/s, 500 (shown) and 1000 tokens, peak 1.5
                   ENTER, ENTER, typed("40"),                    # no context limit, no TTFT target, ITL 40 ms
                   ENTER, "H100-80GB", ENTER, ENTER,             # vLLM, the GPU, GPUs per replica: the fewest,
                   ENTER, "n", ENTER]                            # utilization 0.7, no cost, no profile
    (tmp_path / "wizard").mkdir()
    by_wizard = wizard_plan(wizard_keys, tmp_path / "wizard", monkeypatch)
    assert numbers(by_flags) == numbers(by_config) == numbers(by_api) == numbers(by_service) == numbers(by_wizard)
    assert by_flags["gpu_resources"]["total_gpus"] >= 1


def test_forecast_question_gets_the_same_plan_through_every_door(cli, tmp_path, registry, hourly_csv, monkeypatch):
    from wizard_keys import DOWN, ENTER, typed

    by_flags = json_of(cli, *FORECAST_FLAGS, "--history", str(hourly_csv))
    config = tmp_path / "question.json"
    config.write_text(json.dumps({"mode": "forecast",
                                  "forecast": {"history": str(hourly_csv), "horizon_days": 2, "current_replicas": 2,
                                               "avg_input_tokens": 600, "avg_output_tokens": 250},
                                  "model": {"model": "llama-3.1-8b", "precision": "FP16"},
                                  "gpu": {"gpu_type": "H100-80GB"}}))
    by_config = json_of(cli, "--config", str(config))
    by_api = LLMForecastEngine().forecast(
        ForecastInput(history=str(hourly_csv), horizon_days=2, current_replicas=2, avg_input_tokens=600,
                      avg_output_tokens=250),
        ModelConfig(model="llama-3.1-8b", precision="FP16"), GPUConfig(gpu_type="H100-80GB")).to_dict()
    registry.add_service("chat", owner="alice", model="llama-3.1-8b", precision="FP16", gpu_type="H100-80GB",
                         requests_per_second=50, avg_input_tokens=600, avg_output_tokens=250, replicas=2, gpus=2)
    registry.import_traffic("chat", hourly_csv)
    by_service = LLMForecastEngine(registry=registry).plan_service("chat", horizon_days=2)
    service_plan = by_service.plan.to_dict()
    wizard_keys = [DOWN * 3, ENTER, typed(str(hourly_csv)),      # a forecast of this history
                   ENTER, ENTER, ENTER, typed("2"), ENTER, ENTER,  # detected columns, its step; 2 days, auto, pessimistic
                   ENTER, typed("llama-3.1-8b"), ENTER,          # with a model: 8B in FP16
                   typed("600"), typed("250"), ENTER, ENTER, ENTER,  # 600/250 tokens; no peak, no latency targets
                   ENTER, "H100-80GB", ENTER, ENTER,             # vLLM, the GPU, GPUs per replica: the fewest,
                   ENTER, typed("2"), ENTER]                     # utilization 0.7, 2 replicas now, no profile
    (tmp_path / "wizard").mkdir()
    by_wizard = wizard_plan(wizard_keys, tmp_path / "wizard", monkeypatch)
    comparable = ("forecast", "capacity", "provisioning_schedule", "capacity_timeline", "scaling_recommendations",
                  "method", "backtest")
    for key in comparable:
        assert by_flags[key] == by_config[key] == by_api[key] == service_plan[key] == by_wizard[key], key
    assert by_service.required_gpus == max(s["gpus_needed"] for s in by_flags["provisioning_schedule"]) > 2
    # the one peak-multiplier rule: an hourly forecast is that hour's load, through every door
    assert by_flags["capacity"]["peak_load_multiplier"] == service_plan["capacity"]["peak_load_multiplier"] == 1.0


def test_a_given_peak_multiplier_applies_through_every_door(cli, hourly_csv):
    plain = json_of(cli, *FORECAST_FLAGS, "--history", str(hourly_csv), "--method", "seasonal_naive")
    bursty = json_of(cli, *FORECAST_FLAGS, "--history", str(hourly_csv), "--method", "seasonal_naive",
                     "--peak-multiplier", "2")
    assert bursty["capacity"]["peak_load_multiplier"] == 2.0
    assert any("peak multiplier 2: given" in line for line in bursty["assumptions"])
    assert (max(p["gpus_needed"] for p in bursty["capacity_timeline"])
            > max(p["gpus_needed"] for p in plain["capacity_timeline"]))


# --------------------------------------------------------------------------- plans read back


@pytest.mark.parametrize("argv", [
    INFERENCE_FLAGS + ["--cost", "--cloud", "aws"],
    ["--mode", "compare", "--rps", "5", "--input-tokens", "500", "--output-tokens", "200", "--model", "llama-3.1-8b",
     "--itl-slo-ms", "50"],
    ["--mode", "training", "--dataset-size", "100000000", "--sequence-length", "2048", "--epochs", "1",
     "--global-batch-size", "32", "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--method", "lora"],
    FORECAST_FLAGS + ["--method", "seasonal_naive"],
], ids=["inference", "compare", "training", "forecast"])
def test_a_written_plan_read_back_with_config_gives_the_identical_plan(cli, tmp_path, hourly_csv, argv):
    argv = [a.replace("HISTORY", str(hourly_csv)) for a in argv]
    if "forecast" in argv:
        argv += ["--history", str(hourly_csv)]
    written = tmp_path / "plan.json"
    first = cli(*argv, "--output", str(written))
    assert first.exit_code == 0, first.stderr
    again = tmp_path / "again.json"
    second = cli("--config", str(written), "--output", str(again))
    assert second.exit_code == 0, second.stderr
    assert json.loads(again.read_text()) == json.loads(written.read_text())


# --------------------------------------------------------------------------- typed questions and results


def test_results_are_typed_and_the_seed_indexes_them_by_name(hourly_csv):
    engine = LLMForecastEngine()
    comparison = engine.compare_gpu_options(LLMWorkloadInput(5, 500, 200), ModelConfig(model="llama-3.1-8b"))
    assert isinstance(comparison, GPUComparison) and len(comparison) > 0
    assert all(isinstance(c["gpu_type"], str) and c["monthly_gpu_cost"] > 0 for c in comparison)
    assert comparison.to_dict()["inputs"]["mode"] == "compare"
    forecast = engine.forecast_future_needs(str(hourly_csv), horizon_days=1, method="seasonal_naive")
    assert isinstance(forecast, ForecastPlan) and forecast["scaling_recommendations"] == forecast.scaling_recommendations
    assert list(forecast.summary_frame().columns) == ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert "results" not in forecast.to_dict() and json.dumps(forecast.to_dict(), allow_nan=False)
    assert isinstance(engine.plan(PlanRequest("validate")), ValidationReport)


def test_forecast_input_is_validated_like_the_others():
    with pytest.raises(InputError, match=r"forecast.scenario: got 'worst'; expected one of optimistic"):
        ForecastInput(history="x.csv", scenario="worst")
    with pytest.raises(InputError, match=r"forecast.history: got ''"):
        ForecastInput(history="")
    with pytest.raises(InputError, match=r"forecast.horizon_days: got -1"):
        ForecastInput(history="x.csv", horizon_days=-1)
    with pytest.raises(InputError, match=r"forecast.method: got 'prophet'"):
        ForecastInput(history="x.csv", method="prophet")


def test_a_question_missing_its_inputs_is_refused():
    with pytest.raises(InputError, match=r"inference: got 'missing model, workload'"):
        PlanRequest("inference")
    with pytest.raises(InputError, match=r"mode: got 'guess'"):
        PlanRequest("guess")


def test_service_plans_are_typed(registry):
    registry.add_service("chat", owner="alice", model="llama-3.1-8b", gpu_type="H100-80GB", requests_per_second=5,
                         avg_input_tokens=500, avg_output_tokens=200, replicas=1, gpus=1)
    result = LLMForecastEngine(registry=registry).plan_service("chat")
    assert isinstance(result, ServicePlan) and result["basis"] == "current traffic"
    assert result.to_dict()["plan"]["gpu_resources"]["total_gpus"] == result.required_gpus


# --------------------------------------------------------------------------- structure


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _project_graph() -> dict[str, set[str]]:
    files = {p.stem: p for p in ROOT.glob("*.py")} | {f"commands.{p.stem}": p for p in (ROOT / "commands").glob("*.py")}
    return {name: {m for m in _imports(path) if m in files and m != name} for name, path in files.items()}


@pytest.mark.parametrize("module", ["llm_agent.py", "wizard_answers.py", "wizard_prompts.py"])
def test_the_wizard_imports_nothing_from_the_command_line(module):
    assert not any(m == "commands" or m.startswith("commands.") for m in _imports(ROOT / module))


def test_no_module_imports_in_a_circle():
    graph = _project_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            for nxt in graph[stack.pop()] - seen:
                if nxt == goal:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False

    circles = [(a, b) for a in graph for b in graph[a] if reaches(b, a)]
    assert circles == []


def test_reports_choose_by_type_not_by_sniffing_keys():
    source = (ROOT / "reports.py").read_text()
    for sniff in ('"forecast" in result', '"rows" in result', '"service" in result', "hasattr(result"):
        assert sniff not in source
    buffer = io.StringIO()
    import reports

    reports.render({"forecast": [], "rows": []}, buffer, width=80)
    assert "DEMAND FORECAST" not in buffer.getvalue()


# --------------------------------------------------------------------------- calibration profiles


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    """A profile fitted on the shipped TensorRT-LLM 1.0 sample (real published rows the shipped fit never saw)."""
    import calibration

    path = tmp_path_factory.mktemp("profile") / "trtllm.json"
    sample = ROOT / "data" / "calibration" / "samples" / "trtllm_1.0_perf_overview.csv"
    assert calibration.main(["fit", "--measurements", str(sample), "--output", str(path)], io.StringIO(),
                            io.StringIO()) == 0
    return path


def test_a_profile_applies_through_flags_and_config_and_is_named(cli, tmp_path, profile):
    stock = json_of(cli, *INFERENCE_FLAGS)
    by_flag = json_of(cli, *INFERENCE_FLAGS, "--efficiency-profile", str(profile))
    config = tmp_path / "with_profile.json"
    config.write_text(json.dumps({**by_flag["inputs"], "profile": str(profile)}))
    by_config = json_of(cli, "--config", str(config))
    assert numbers(by_flag) == numbers(by_config)
    assert by_flag["latency"] != stock["latency"]  # the profile's efficiencies were used
    assert by_flag["assumptions"][0].startswith("efficiencies: calibration profile trtllm")
    after = json_of(cli, *INFERENCE_FLAGS)  # and only inside that plan
    assert after["latency"] == stock["latency"]
    written = tmp_path / "plan.json"
    assert cli(*INFERENCE_FLAGS, "--efficiency-profile", str(profile), "--output", str(written)).exit_code == 0
    assert json_of(cli, "--config", str(written)) == json.loads(written.read_text())  # the profile is in its inputs


def test_validate_on_your_own_measurements_with_and_without_a_profile(cli, profile):
    sample = str(ROOT / "data" / "calibration" / "samples" / "trtllm_1.0_perf_overview.csv")
    before = json_of(cli, "--mode", "validate", "--measurements", sample)
    after = json_of(cli, "--mode", "validate", "--measurements", sample, "--efficiency-profile", str(profile))
    kind = "saturated_output_tokens_per_s"
    assert before["summary"][kind]["rows"] == after["summary"][kind]["rows"] == 40
    assert after["summary"][kind]["median_abs_error_pct"] < before["summary"][kind]["median_abs_error_pct"]
    errors = [abs(r["error_pct"]) for r in before["rows"]]
    assert errors == sorted(errors, reverse=True)  # farthest off first


def test_a_plans_inputs_ask_its_question_again_from_python(hourly_csv):
    from config_loader import plan_request

    engine = LLMForecastEngine()
    request = PlanRequest("forecast", model=ModelConfig(model="llama-3.1-8b"), gpu=GPUConfig(gpu_type="H100-80GB"),
                          forecast=ForecastInput(history=str(hourly_csv), horizon_days=1, method="seasonal_naive"))
    plan = engine.plan(request)
    assert engine.plan(plan_request(plan.inputs)).to_dict() == plan.to_dict()
