"""The interactive planner, driven by keystrokes: prompt_toolkit pipe input in-process, and ``python main.py``
on a pseudo-terminal for what only a real terminal shows. Every conversation checks the plan that comes out
(its saved config, and the CLI's plan of that config)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import llm_agent
from models import InfeasibleError, InputError
from wizard_keys import CTRL_C, CTRL_U, DOWN, ENTER, ESC, ROOT, Terminal, drive, drive_on_screen, typed

# --------------------------------------------------------------------------- fixtures and key scripts


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Each wizard run saves into its own empty directory, with its own empty service registry."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_CAPACITY_DB", str(tmp_path.parent / f"{tmp_path.name}-services.db"))
    return tmp_path


def flat(text: str) -> str:
    """Text with its line wrapping undone (rich wraps long lines at the console width)."""
    return " ".join(text.split())


def cli_plan(cli, config_path: Path) -> dict:
    result = cli("--config", str(config_path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def saved(in_tmp: Path, mode: str) -> tuple[dict, dict]:
    """The plan and the config the wizard saved under their default names."""
    return (json.loads((in_tmp / f"{mode}_plan.json").read_text()),
            json.loads((in_tmp / f"{mode}_config.json").read_text()))


SAVE_BOTH = ["y", ENTER, "y", ENTER]     # save the plan and the config under their default names
NO_PICTURE = ["n"]
INFERENCE = [
    ENTER,                        # plan: inference (the default)
    typed("llama-3.1-8b"),        # model, typed over the shown default (llama-3.1-70b)
    ENTER,                        # precision: FP16 (the default)
    typed("20"),                  # requests/s: 20 typed where 10 is shown
    ENTER,                        # prompt tokens: the shown 500
    typed("1000"),                # generated tokens
    typed("2"),                   # peak 2 typed where 1.5 is shown
    ENTER, ENTER,                 # longest sequence: the model's; TTFT: no target
    typed("40"),                  # ITL target 40 ms
    ENTER, ENTER, ENTER,          # serving engine: vLLM; GPU: the planner chooses; utilization 0.7
    ENTER, ENTER, ENTER,          # cost: yes, the cheapest cloud, on-demand
    ENTER,                        # calibration profile: the shipped fits
]
REVIEW_PLAN = [ENTER]             # the review screen: Enter plans


# --------------------------------------------------------------------------- defaults shown, typing replaces


def test_typing_replaces_a_default_and_enter_takes_it(cli, in_tmp):
    code, out, err = drive(*INFERENCE, *REVIEW_PLAN, *SAVE_BOTH, *NO_PICTURE)
    assert code == 0, err
    plan, config = saved(in_tmp, "inference")
    # typed 20 over a shown 10, and 2 over a shown 1.5: taken as typed (the old wizard appended: 1020, 1.52)
    assert config["workload"] == {"requests_per_second": 20.0, "avg_input_tokens": 500, "avg_output_tokens": 1000,
                                  "peak_load_multiplier": 2.0, "itl_slo_ms": 40.0}
    assert config["model"] == {"model": "llama-3.1-8b", "precision": "FP16"}
    assert config["options"] == {"include_cost": True, "pricing": "on-demand"} and "gpu_type" not in config["gpu"]
    assert plan["inputs"]["workload"]["requests_per_second"] == 20.0
    assert "LLM INFERENCE CAPACITY PLAN" in out and "COST ESTIMATES" in out
    # the recap under the report, above the save questions: the saved plan's own GPUs and bill
    recap = flat(out[out.index("IN SHORT"):out.index("wrote inference_plan.json")])
    gpus = plan["gpu_resources"]
    assert f"{gpus['total_gpus']} GPU" in recap and gpus["gpu_type"] in recap
    assert f"${plan['cost']['monthly_gpu_cost']:,.2f} per month" in recap
    assert "A default is shown in grey: Enter takes it, typing replaces it." in flat(out)
    assert cli_plan(cli, in_tmp / "inference_config.json") == plan
    assert "Reproduce this plan with: python commands/forecast.py --config inference_config.json" in out


def test_a_decimal_comma_is_refused_with_the_reason_and_asked_again(in_tmp):
    head = INFERENCE[:6]
    code, _, err, shown = drive_on_screen([
        ("What to plan?", "".join(head)),
        ("Peak load over the average", typed("1,5")),
        ("without a comma", CTRL_U + typed("1.5")),
        ("Longest sequence", "".join(INFERENCE[7:]) + ENTER + "y" + ENTER + "n" + "n"),
    ])
    assert code == 0, err
    # the refusal wraps between words at the terminal's width
    assert ("peak over average: got '1,5'; expected a number without a comma, which is ambiguous (1,5: 1.5 or 15? "
            "1,500: 1.5 or 1500?)") in " ".join(shown.split())
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["workload"]["peak_load_multiplier"] == 1.5


def test_a_refused_answer_is_cleared_so_typing_again_replaces_it(in_tmp):
    keys = [*INFERENCE[:6], typed("1,5"), typed("3"),     # refused, then 3 typed without clearing: 3, not 1,53
            *INFERENCE[7:], *REVIEW_PLAN, "y", ENTER, "n", "n"]
    code, _, err = drive(*keys)
    assert code == 0, err
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["workload"]["peak_load_multiplier"] == 3.0


def test_an_unwritable_save_path_is_asked_again_and_the_answers_kept(in_tmp, tmp_path_factory):
    directory = tmp_path_factory.mktemp("out")
    code, out, err, shown = drive_on_screen([
        ("What to plan?", "".join(INFERENCE + REVIEW_PLAN)),
        ("Save the plan as JSON?", "y"),
        ("Plan file:", typed("/proc/plan.json")),                      # a read-only file system
        ("a place where a file can be written", CTRL_U + typed(str(directory))),  # a directory
        ("a file name ending in .json", CTRL_U + typed(str(directory / "plan.json"))),
        ("Save your answers", "n"),
        ("Draw it as a picture", "y"),
        ("Picture file:", typed("/proc/plan.png")),
        ("picture file: got '/proc/plan.png'", CTRL_U + typed("plan.png")),
    ])
    assert code == 0, err
    assert json.loads((directory / "plan.json").read_text())["inputs"]["workload"]["requests_per_second"] == 20.0
    assert (in_tmp / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "--plot" not in shown and "--output" not in shown


def test_declining_to_replace_a_file_offers_a_new_name(in_tmp):
    """Enter after "No, keep it" takes a name that is free, not the same question forever."""
    (in_tmp / "inference_plan.json").write_text("{}")
    code, out, err, shown = drive_on_screen([
        ("What to plan?", "".join(INFERENCE + REVIEW_PLAN)),
        ("Save the plan as JSON?", "y"),
        ("Plan file:", ENTER),                           # the default name, which exists
        ("exists. Replace it?", "n"),
        ("inference_plan-2.json", ENTER),                # the new name is shown as the default
        ("Save your answers", "n"),
        ("Draw it as a picture", "n"),
    ])
    assert code == 0, err
    assert (in_tmp / "inference_plan.json").read_text() == "{}"  # kept
    assert json.loads((in_tmp / "inference_plan-2.json").read_text())["inputs"]["mode"] == "inference"


def test_the_history_question_offers_the_shipped_traces(monkeypatch):
    from wizard_answers import parse_history, shipped_traces

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)  # the checkout
    traces = shipped_traces()
    # data/traces ships six per-period traces (README "Demand forecast"); from the checkout they read relative
    assert "data/traces/servegen_m-large_per_hour.csv" in traces and all(t.startswith("data/traces/") for t in traces)
    with pytest.raises(InputError, match=r"history file: got ''; expected a path to your traffic CSV, or a shipped "):
        parse_history("")
    path, _ = parse_history(traces[0])
    assert Path(path).is_file()


def test_a_file_that_cannot_be_written_after_all_is_asked_again(in_tmp, monkeypatch):
    import config_loader

    real, calls = config_loader.write_json_atomic, []

    def full_disk_once(path, payload, field_name="--output"):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(path, payload, field_name)

    monkeypatch.setattr(config_loader, "write_json_atomic", full_disk_once)
    code, out, err = drive(*INFERENCE, *REVIEW_PLAN, "y", ENTER, typed("again.json"), "n", "n")
    assert code == 0, err
    assert "Cannot write inference_plan.json" in out and "No space left on device" in out
    assert json.loads((in_tmp / "again.json").read_text())["inputs"]["model"]["model"] == "llama-3.1-8b"


def test_an_existing_file_is_not_replaced_without_asking(in_tmp):
    (in_tmp / "inference_plan.json").write_text("keep me")
    code, _, err = drive(*INFERENCE, *REVIEW_PLAN, "y", ENTER, "n", typed("second.json"), "n", "n")
    assert code == 0, err
    assert (in_tmp / "inference_plan.json").read_text() == "keep me"
    assert json.loads((in_tmp / "second.json").read_text())["inputs"]["workload"]["requests_per_second"] == 20.0


# --------------------------------------------------------------------------- going back, the review screen


def test_an_answer_is_changed_from_the_review_screen(cli, in_tmp):
    change_rps = ["Requests per", ENTER, typed("35")]   # pick the row by typing part of it, type the new value
    code, out, err = drive(*INFERENCE, *change_rps, *REVIEW_PLAN, *SAVE_BOTH, *NO_PICTURE)
    assert code == 0, err
    plan, config = saved(in_tmp, "inference")
    assert config["workload"]["requests_per_second"] == 35.0 and config["workload"]["avg_output_tokens"] == 1000
    assert cli_plan(cli, in_tmp / "inference_config.json") == plan


def test_esc_goes_back_one_question(in_tmp):
    keys = [ENTER, typed("llama-3.1-8b"), ENTER, typed("20"),
            ESC, typed("25"),                               # back from prompt tokens to requests/s: 25 instead
            *INFERENCE[4:], *REVIEW_PLAN, "y", ENTER, "n", "n"]
    code, _, err = drive(*keys)
    assert code == 0, err
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["workload"]["requests_per_second"] == 25.0


def test_changing_the_model_re_asks_a_gpu_that_cannot_hold_it(in_tmp):
    keys = [ENTER, typed("llama-3.1-8b"), ENTER, *[ENTER] * 8,   # ... the traffic defaults, vLLM
            "T4-16GB", ENTER, ENTER, ENTER, "n", ENTER,     # an 8B model in FP16 fits one T4 (GPUs per
                                                            # replica: the fewest); no cost
            "Model", ENTER, typed("llama-3.1-70b"),         # 70B in FP16 (131 GiB) does not fit 8 x 16 GB T4s:
            "H100-80GB", ENTER,                             # the GPU is asked again, without T4 on offer
            *REVIEW_PLAN, "y", ENTER, "n", "n"]
    code, out, err = drive(*keys)
    assert code == 0, err
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["model"]["model"] == "llama-3.1-70b" and plan["gpu_resources"]["gpu_type"] == "H100-80GB"


def test_a_failed_plan_offers_the_answer_that_caused_it_first(in_tmp):
    keys = [ENTER, typed("llama-3.1-70b"), ENTER, *[ENTER] * 6,
            typed("1"),                                     # an ITL target of 1 ms: no GPU meets it
            ENTER, ENTER, ENTER, "n", ENTER, *REVIEW_PLAN,
            ENTER, typed("60"),                             # "change which answer?": Enter takes the ITL target
            *REVIEW_PLAN, "y", ENTER, "n", "n"]
    code, out, err = drive(*keys)
    assert code == 0, err
    assert "Cannot plan this: no configuration serves Llama-3.1-70B within the latency targets; the closest is" in flat(out)
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["workload"]["itl_slo_ms"] == 60.0 and plan["latency"]["itl_ms"] <= 60.0


def test_a_cloud_without_an_instance_for_the_replica_is_not_offered(in_tmp):
    # 70B in FP16 needs 2 H100s per replica; runpod lists only 1-GPU H100 instances (data/cloud_prices.csv)
    code, out, err, shown = drive_on_screen([
        ("What to plan?", "".join([ENTER, typed("llama-3.1-70b"), ENTER, *[ENTER] * 8, "H100-80GB", ENTER, ENTER,
                                   ENTER, ENTER])),
        ("the cheapest listed)", CTRL_C)])
    cloud_menu = shown[shown.index("Cloud:"):]
    assert "lambda" in cloud_menu and "runpod" not in cloud_menu


def test_leaving_from_the_review_screen_writes_nothing(in_tmp):
    code, _, err = drive(*INFERENCE, DOWN * 17, ENTER)   # the last row: leave without planning
    assert code == 130 and "cancelled" in err
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("keys", [[CTRL_C], [ENTER, typed("llama-3.1-8b"), CTRL_C], [*INFERENCE, CTRL_C],
                                  [*INFERENCE, *REVIEW_PLAN, "y", CTRL_C]],
                         ids=["first-question", "mid-way", "review", "file-name"])
def test_ctrl_c_leaves_with_130_and_writes_nothing(in_tmp, keys):
    code, _, err = drive(*keys)
    assert code == 130 and "cancelled" in err
    assert list(in_tmp.iterdir()) == []


# --------------------------------------------------------------------------- every branch


def write_history(path: Path, days: int = 21, tokens: bool = True) -> Path:
    """Hourly requests/s with a daily cycle and seeded noise; with ``tokens``, prompt tokens 800-804 and
    generated tokens 300-302 per request (their request-weighted means are about 802 and 301)."""
    import math
    import random

    rng = random.Random(7)
    lines = ["timestamp,rps" + (",avg_input_tokens,avg_output_tokens" if tokens else "")]
    for hour in range(24 * days):
        value = 20 + 8 * math.sin(2 * math.pi * hour / 24) + 0.01 * hour + rng.gauss(0, 1)
        extra = f",{800 + hour % 5},{300 + hour % 3}" if tokens else ""
        lines.append(f"2026-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z,{value:.3f}{extra}")
    path.write_text("\n".join(lines) + "\n")
    return path


def forecast_keys(history: Path, *model: str) -> list[str]:
    return [DOWN * 3, ENTER,                              # plan: a demand forecast
            typed("no-such.csv"), CTRL_U, typed(str(history)),   # a missing file is refused, then the history
            ENTER, ENTER, ENTER,                          # timestamp and value columns (detected), step as recorded
            typed("2"), "seasonal", ENTER, ENTER,         # 2 days, seasonal naive, pessimistic
            *model]


def test_forecast_typed_tokens_win_over_the_history_and_blank_takes_its_columns(cli, in_tmp, tmp_path_factory):
    history = write_history(tmp_path_factory.mktemp("data") / "traffic.csv")
    sized = [ENTER, typed("llama-3.1-8b"), ENTER,          # with a model: 8B, FP16
             typed("500"), ENTER,                           # prompt tokens typed; generated: from the history
             ENTER, ENTER, typed("50"),                     # peak: the default; no TTFT; an ITL target of 50 ms
             ENTER, "H100-80GB", ENTER, ENTER, ENTER,       # vLLM, GPU, GPUs per replica: the fewest, utilization,
             ENTER, ENTER]                                  # replicas: assumed; no profile
    code, out, err = drive(*forecast_keys(history, *sized), *REVIEW_PLAN, *SAVE_BOTH, *NO_PICTURE)
    assert code == 0, err
    plan, config = saved(in_tmp, "forecast")
    assert config["forecast"] == {"history": str(history), "horizon_days": 2.0, "method": "seasonal_naive",
                                  "scenario": "pessimistic", "avg_input_tokens": 500, "itl_slo_ms": 50.0}
    # 500 typed wins over the history's ~802; the generated tokens come from its column (300-302, mean ~301)
    assert plan["capacity"]["avg_input_tokens"] == 500 and plan["capacity"]["avg_output_tokens"] == 301
    assert "from the history (301)" in out or plan["capacity"]["avg_output_tokens"] == 301
    assert cli_plan(cli, in_tmp / "forecast_config.json") == plan
    assert "token columns: 802 prompt, 301 generated tokens per request" in out


def test_forecast_without_token_columns_takes_the_default_trace_and_a_latency_target(cli, in_tmp, tmp_path_factory):
    from capacity_timeline import default_tokens

    history = write_history(tmp_path_factory.mktemp("data") / "traffic.csv", tokens=False)
    sized = [ENTER, typed("llama-3.1-8b"), ENTER, ENTER, ENTER,   # no tokens typed, none in the history
             ENTER, typed("300"), ENTER,                        # a TTFT target of 300 ms, no ITL target
             ENTER, ENTER, ENTER, ENTER, ENTER]                 # GPU: the planner's; vLLM; utilization; replicas; profile
    code, out, err = drive(*forecast_keys(history, *sized), *REVIEW_PLAN, *SAVE_BOTH, *NO_PICTURE)
    assert code == 0, err
    plan, config = saved(in_tmp, "forecast")
    tokens_in, tokens_out, _ = default_tokens()
    assert (plan["capacity"]["avg_input_tokens"], plan["capacity"]["avg_output_tokens"]) == (tokens_in, tokens_out)
    assert config["forecast"]["ttft_slo_ms"] == 300.0 and "avg_input_tokens" not in config["forecast"]
    assert cli_plan(cli, in_tmp / "forecast_config.json") == plan


def test_forecast_without_a_model_forecasts_demand_alone(cli, in_tmp, tmp_path_factory):
    history = write_history(tmp_path_factory.mktemp("data") / "traffic.csv", tokens=False)
    code, out, err = drive(*forecast_keys(history, "n"), *REVIEW_PLAN, *SAVE_BOTH, *NO_PICTURE)
    assert code == 0, err
    plan, config = saved(in_tmp, "forecast")
    assert "model" not in config and "gpu" not in config
    assert plan["capacity_timeline"] is None and len(plan["forecast"]) == 48
    assert cli_plan(cli, in_tmp / "forecast_config.json") == plan


def test_forecast_history_columns_are_offered_and_a_bad_choice_is_asked_again(in_tmp, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "two.csv"
    lines = ["when,region,load"] + [f"2026-02-{1 + h // 24:02d} {h % 24:02d}:00,eu,{10 + h % 24}" for h in range(96)]
    path.write_text("\n".join(lines) + "\n")
    keys = [DOWN * 3, ENTER, typed(str(path)),
            "region", ENTER,                               # the timestamp column: region (wrong) ...
            ENTER,                                         # ... the demand column is load; reading fails
            "when", ENTER,                                 # asked again: when
            ENTER, ENTER, typed("1"), "seasonal", ENTER, ENTER, "n", *REVIEW_PLAN, "y", ENTER, "n", "n"]
    code, out, err = drive(*keys)
    assert code == 0, err
    assert "That does not work: history: region: got 'eu'; expected a date and time (row 1)" in flat(out)
    plan = json.loads((in_tmp / "forecast_plan.json").read_text())
    # "when" is the column the planner detects, so the config leaves it to detection, as the CLI would
    assert plan["inputs"]["forecast"]["timestamp_column"] is None and plan["value_column"] == "load"
    assert plan["history"][-1]["timestamp"].startswith("2026-02-04T23:00")


def test_compare_ranks_options_and_the_pick_gets_its_full_plan(cli, in_tmp):
    keys = [DOWN, ENTER, typed("llama-3.1-8b"), ENTER, typed("5"), *[ENTER] * 5, typed("50"),
            ENTER, ENTER, "lambda", ENTER, ENTER, ENTER,    # vLLM; utilization; cloud lambda; on-demand; no profile
            *REVIEW_PLAN, ENTER,                           # the comparison; Enter: the full plan of the cheapest
            *SAVE_BOTH, *NO_PICTURE]
    code, out, err = drive(*keys)
    assert code == 0, err
    assert "GPU COMPARISON" in out and "LLM INFERENCE CAPACITY PLAN" in out
    plan, config = saved(in_tmp, "inference")
    comparison = cli_plan(cli, _write(in_tmp / "compare.json", {**config, "mode": "compare", "gpu": {
        k: v for k, v in config["gpu"].items() if k not in ("gpu_type", "tensor_parallel")},
        "options": {"cloud": "lambda", "pricing": "on-demand"}}))
    cheapest = comparison["options"][0]
    assert (plan["gpu_resources"]["gpu_type"], plan["gpu_resources"]["tensor_parallel"], plan["model"]["precision"]) \
        == (cheapest["gpu_type"], cheapest["tensor_parallel"], cheapest["precision"])
    assert plan["gpu_resources"]["total_gpus"] == cheapest["total_gpus"]
    assert plan["cost"]["monthly_gpu_cost"] == pytest.approx(cheapest["monthly_gpu_cost"], abs=0.01)
    assert cli_plan(cli, in_tmp / "inference_config.json") == plan


def test_compare_kept_as_a_table_saves_the_config_that_reproduces_it(cli, in_tmp):
    keys = [DOWN, ENTER, typed("llama-3.1-8b"), ENTER, typed("5"), *[ENTER] * 5, typed("50"), ENTER, ENTER, ENTER,
            ENTER, ENTER, *REVIEW_PLAN, "none: keep", ENTER, *SAVE_BOTH]
    code, out, err = drive(*keys)
    assert code == 0, err
    plan, config = saved(in_tmp, "compare")
    assert config["mode"] == "compare" and "cloud" not in config.get("options", {})
    assert len({o["cloud"] for o in plan["options"]}) > 1       # every cloud that lists each GPU
    assert cli_plan(cli, in_tmp / "compare_config.json") == plan


def _write(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload))
    return path


def test_training_qlora_asks_the_method_before_the_precision_and_its_rank(cli, in_tmp):
    keys = [DOWN * 2, ENTER, typed("llama-3.1-8b"),
            DOWN * 2, ENTER,                               # method: QLoRA
            ENTER,                                         # compute precision: BF16 (4-bit is the base)
            typed("32"),                                   # LoRA rank 32
            typed("200M"), typed("2048"), typed("1"), ENTER, ENTER, ENTER, ENTER,
            "H100-80GB", ENTER, "n", ENTER, *REVIEW_PLAN, *SAVE_BOTH]
    code, out, err = drive(*keys)
    assert code == 0, err
    plan, config = saved(in_tmp, "training")
    assert config["training"] == {"method": "qlora", "lora_rank": 32, "dataset_size_tokens": 200_000_000,
                                  "sequence_length": 2048, "num_epochs": 1.0, "global_batch_size": 64,
                                  "optimizer_type": "AdamW"}
    assert config["model"]["precision"] == "BF16"
    assert cli_plan(cli, in_tmp / "training_config.json") == plan


@pytest.fixture
def registry_path(in_tmp):
    import os

    return Path(os.environ["LLM_CAPACITY_DB"])


def test_services_opens_a_request_only_when_none_is_open(registry_path, in_tmp):
    from services import Registry

    with Registry(str(registry_path)) as registry:
        registry.add_service("chat", owner="alice", model="llama-3.1-8b", gpu_type="H100-80GB",
                             requests_per_second=60.0, avg_input_tokens=500, avg_output_tokens=200, replicas=1, gpus=1)
    first = [DOWN * 4, ENTER, ENTER, ENTER, ENTER, "y", typed("bob"), *REVIEW_PLAN, "y", ENTER]
    code, out, err = drive(*first)
    assert code == 0, err
    assert "REQUEST OPENED" in out and "Plan it again with: python commands/services.py plan chat" in out
    again = [DOWN * 4, ENTER, ENTER, ENTER, ENTER, *REVIEW_PLAN, "y", typed("again.json")]   # no request question
    code, out, err = drive(*again)
    assert code == 0, err
    assert "is already open for chat: the plan shows it" in flat(out) and "REQUEST ALREADY OPEN" in out
    with Registry(str(registry_path)) as registry:
        [request] = registry.list_requests(service="chat")
    assert request.requested_by == "bob" and request.state == "draft"
    assert json.loads((in_tmp / "again.json").read_text())["request"]["id"] == request.id


def test_services_with_an_empty_registry_goes_back_to_the_first_question(registry_path, in_tmp):
    code, out, err = drive(DOWN * 4, ENTER, *INFERENCE, *REVIEW_PLAN, "n", "n", "n")
    assert code == 0, err
    assert out.index("No services are registered yet") < out.index("LLM INFERENCE CAPACITY PLAN")


def test_validate_checks_the_planner_and_its_config_reproduces(cli, in_tmp):
    code, out, err = drive(DOWN * 5, ENTER, ENTER, ENTER, *REVIEW_PLAN, *SAVE_BOTH)
    assert code == 0, err
    plan, config = saved(in_tmp, "validate")
    assert config == {"mode": "validate"} and plan["summary"]
    assert cli_plan(cli, in_tmp / "validate_config.json") == plan


def test_a_calibration_profile_is_checked_when_named(in_tmp):
    bad = in_tmp / "profile.json"
    bad.write_text('{"hello": 1}')
    code, out, err, shown = drive_on_screen([("What to plan?", "".join(INFERENCE[:-1])),
                                             ("Calibration profile", typed(str(bad))),
                                             ("unknown key 'hello'", CTRL_C)])
    assert code == 130 and "--efficiency-profile" not in shown


# --------------------------------------------------------------------------- answers and choices


@pytest.mark.parametrize("text,kwargs,expected", [
    ("20", {}, 20.0), ("1.5", {}, 1.5), ("1_000", {"integer": True}, 1000), ("1e9", {"integer": True}, 10**9),
    ("4k", {"integer": True, "suffixes": True}, 4000), ("2B", {"integer": True, "suffixes": True}, 2 * 10**9),
    ("1.5k", {"integer": True, "suffixes": True}, 1500), ("  7 ", {}, 7.0),
    ("1", {"minimum": 1.0, "inclusive": True}, 1.0),
], ids=repr)
def test_parse_number_accepts(text, kwargs, expected):
    from wizard_answers import parse_number

    assert parse_number(text, "x", **kwargs) == expected


@pytest.mark.parametrize("text,kwargs,message", [
    ("1,5", {}, "x: got '1,5'; expected a number without a comma, which is ambiguous (1,5: 1.5 or 15? 1,500: 1.5 or 1500?)"),
    ("1,000", {"integer": True}, "without a comma, which is ambiguous"),
    ("4k", {"integer": True}, "k, Ki, M and B suffixes only where the question says so"),
    ("abc", {}, "x: got 'abc'; expected a number > 0"),
    ("-5", {}, "x: got '-5'; expected a finite number > 0"),
    ("2.5", {"integer": True}, "x: got '2.5'; expected a whole number > 0"),
    ("1__0", {}, "expected a number"), ("nan", {}, "x: got 'nan'"), ("1.5", {"maximum": 1.0}, "and <= 1"),
    ("1e999999999", {"integer": True}, "x: got '1e999999999'; expected a whole number > 0"),
], ids=repr)
def test_parse_number_refuses_with_the_reason(text, kwargs, message):
    from wizard_answers import parse_number

    with pytest.raises(InputError, match=re.escape(message)):
        parse_number(text, "x", **kwargs)


def test_parse_model_answers():
    from wizard_answers import parse_model

    config_json = ROOT / "tests" / "data" / "hf_configs" / "qwen2.5-7b.json"
    assert parse_model("llama-3.1-70b") == ("model", "llama-3.1-70b")
    assert parse_model("meta-llama/Llama-3.1-8B") == ("model", "llama-3.1-8b")
    assert parse_model("70") == parse_model("70B") == ("model_size_billions", 70.0)
    assert parse_model(str(config_json)) == ("model_config_path", str(config_json.resolve()))
    with pytest.raises(InputError, match="did you mean llama-3.1-70b"):
        parse_model("lama-3.1-70b")
    with pytest.raises(InputError, match="comma"):
        parse_model("7,5")


@pytest.mark.parametrize("name,message", [
    ("plan.txt", r"ending in \.json"), ("missing/plan.json", "existing directory"), ("adir.json", "not a directory"),
], ids=["suffix", "missing-dir", "directory"])
def test_parse_output_path_refuses(tmp_path, name, message):
    from wizard_answers import parse_output_path

    (tmp_path / "adir.json").mkdir()
    with pytest.raises(InputError, match=message):
        parse_output_path(str(tmp_path / name), ".json", "plan file")


def test_parse_output_path_refuses_a_read_only_file_system():
    from wizard_answers import parse_output_path

    with pytest.raises(InputError, match="plan file: got '/proc/plan.json'; expected a place where a file can be"):
        parse_output_path("/proc/plan.json", ".json", "plan file")


def test_gpus_offered_are_those_that_hold_the_model():
    from wizard_answers import inference_gpus

    held = inference_gpus(("model", "llama-3.1-70b"), "FP16", 700)
    # 70.6B params x 2 bytes = 131.5 GiB of weights: more than 8 x 16 GB T4s give at 90% (115 GiB), less than
    # 2 x 80 GB H100s at 90% (144 GiB); one 192 GB MI300X holds it
    assert "T4-16GB" not in held and held["H100-80GB"] == 2 and held["MI300X-192GB"] == 1
    fp8 = inference_gpus(("model", "llama-3.1-70b"), "FP8", 700)
    assert "A100-80GB" not in fp8 and fp8["H100-80GB"] == 1   # no FP8 tensor cores on A100; 66 GiB fits one H100


def test_choices_that_cannot_work_are_not_offered():
    from wizard_answers import clouds_for, pricing_for, training_precisions

    # data/cloud_prices.csv: runpod lists on-demand only, and only 1-GPU H100 instances; gcp lists reserved-3y
    assert pricing_for("H100-80GB", "runpod") == ("on-demand",)
    assert "reserved-3y" in pricing_for("H100-80GB", "gcp")
    assert "runpod" in clouds_for("H100-80GB") and "runpod" not in clouds_for("H100-80GB", gpus_per_replica=2)
    assert training_precisions("qlora") == ("BF16", "FP16", "FP32") and "FP8" in training_precisions("full")


def test_errors_name_the_wizards_answers_and_find_their_cause():
    from wizard_answers import culprit, in_words

    labels = {"forecast.timestamp_column": "Timestamp column", "workload.requests_per_second": "Requests per second",
              "options.cloud": "Cloud", "gpu.tensor_parallel": "GPUs per replica"}
    assert in_words("--timestamp-column: got 'x'; expected a column", labels) == \
        "timestamp column: got 'x'; expected a column"
    assert in_words("workload.requests_per_second: got 0.0", labels) == "requests per second: got 0.0"
    asked = ["mode", "model", "gpu.gpu_type", "options.cloud", "options.pricing", "workload.itl_slo_ms"]
    answers = {"workload.itl_slo_ms": 1.0}
    assert culprit(InputError("gpu.tensor_parallel", 4, "at most 1 GPUs per replica"), asked, answers) == "options.cloud"
    assert culprit(InputError("options.pricing", "spot", "a pricing model"), asked, answers) == "options.pricing"
    missed = InfeasibleError("no configuration serves X within the latency targets",
                             fields=("workload.itl_slo_ms", "gpu.gpu_type"))
    assert culprit(missed, asked, answers) == "workload.itl_slo_ms"
    assert culprit(InfeasibleError("no configuration serves X: does not fit"), asked, answers) == "gpu.gpu_type"
    # a target the planner names but the user did not set is no answer to change: the GPU is
    assert culprit(InfeasibleError("...", fields=("workload.ttft_slo_ms", "gpu.gpu_type")), asked, answers) == \
        "gpu.gpu_type"


# --------------------------------------------------------------------------- a real terminal


def test_on_a_terminal_typing_20_over_the_shown_default_plans_20(in_tmp):
    """What /work/shared/hooks/wizard_typing.py checks: Enter until requests/s, then 20 without clearing."""
    terminal = Terminal(in_tmp)
    terminal.expect(r"What to plan\?")
    for _ in range(3):  # plan, model, precision: the defaults
        terminal.type(ENTER)
    terminal.expect(r"Average requests per second: 10")
    terminal.type("20" + ENTER)
    terminal.expect(r"Average prompt tokens")
    terminal.type(ENTER * 13)                                 # every other default up to the review screen
    review = terminal.expect(r"Leave without planning")
    assert "Requests per second     20\n" in review
    terminal.type(ENTER)                                      # plan
    report = terminal.expect(r"Save the plan as JSON\?")
    assert "Requests per Second:  20.00 req/s (peak 30.00 req/s at 1.5x)" in report
    terminal.type(CTRL_C)
    assert terminal.close() == 130


def test_on_a_terminal_a_comma_and_an_unwritable_path_are_asked_again(in_tmp):
    terminal = Terminal(in_tmp)
    terminal.expect(r"What to plan\?")
    terminal.type(ENTER + typed("llama-3.1-8b") + ENTER + ENTER * 3)
    terminal.expect(r"Peak load over the average \(x\): 1\.5")
    terminal.type(typed("1,5"))
    terminal.expect(r"without a comma")
    terminal.type(CTRL_U + typed("2"))
    terminal.type(ENTER * 10)
    terminal.expect(r"Leave without planning")
    terminal.type(ENTER)
    terminal.expect(r"Save the plan as JSON\?")
    terminal.type("y")
    terminal.type(typed("/proc/plan.json"))
    terminal.expect(r"a place where a file can be written")
    terminal.type(CTRL_U + ENTER)                             # the shown default name
    terminal.expect(r"wrote inference_plan\.json")
    terminal.type("n" + "n")
    assert terminal.close() == 0
    plan = json.loads((in_tmp / "inference_plan.json").read_text())
    assert plan["inputs"]["workload"]["peak_load_multiplier"] == 2.0


@pytest.mark.parametrize("redirect", ["stdin", "stdout"])
def test_without_a_terminal_it_says_so_in_one_line_and_exits_2(in_tmp, redirect):
    """``python main.py < /dev/null`` and ``python main.py | tee log``: no prompt drawn into the pipe."""
    import os

    master, slave = os.openpty()
    try:
        streams = {"stdin": subprocess.DEVNULL, "stdout": slave} if redirect == "stdin" else \
            {"stdin": slave, "stdout": subprocess.PIPE}
        proc = subprocess.run([sys.executable, str(ROOT / "main.py")], stderr=subprocess.PIPE, timeout=60,
                              **streams)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert lines == [f"error: no arguments and no terminal ({redirect} is not a terminal): pass --mode MODE with its "
                     "flags or --config FILE (see main.py --help), or run main.py in a terminal for the interactive "
                     "wizard"]
    assert not (proc.stdout or b"")


def test_main_with_arguments_is_the_cli():
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--mode", "inference", "--rps", "2",
                           "--input-tokens", "100", "--output-tokens", "100", "--model", "llama-3.1-8b",
                           "--format", "json"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["id"] == "llama-3.1-8b"


def test_the_wizard_refuses_to_run_without_a_terminal_in_process(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("sys.stdout", Terminal())
    err = io.StringIO()
    assert llm_agent.run_wizard(stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith("error: no arguments and no terminal (stdin is not a terminal): ")


def test_the_command_line_without_arguments_or_a_terminal_exits_2():
    proc = subprocess.run([sys.executable, str(ROOT / "commands" / "forecast.py")], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no terminal" in proc.stderr and proc.stdout == ""


def test_the_command_line_without_arguments_on_a_terminal_starts_the_wizard(monkeypatch):
    import io

    from commands import forecast

    calls = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr(llm_agent, "run_wizard", lambda **kwargs: calls.append(kwargs) or 130)
    assert forecast.main([], stdout=io.StringIO(), stderr=io.StringIO()) == 130
    assert len(calls) == 1


def test_static_batch_latency_branch_plans_what_the_cli_plans(cli, in_tmp):
    keys = [DOWN * 6, ENTER,                          # plan: static-batch latency (the last row)
            typed("llama-3.1-8b"), ENTER,             # the model, FP16
            typed("8"), ENTER, ENTER,                 # a batch of 8; 1024 prompt and 128 generated tokens (shown)
            ENTER, typed("20"),                       # no TTFT target; an ITL target of 20 ms
            ENTER, "H100-80GB", ENTER,                # vLLM, the GPU (no "planner chooses" here)
            DOWN * 2, ENTER, ENTER,                   # GPUs per replica: (the fewest), 1, 2 -> 2; no profile
            *REVIEW_PLAN, *SAVE_BOTH]
    code, out, err = drive(*keys)
    assert code == 0, err
    assert "STATIC-BATCH LATENCY" in out
    plan, config = saved(in_tmp, "latency")
    assert config["latency"] == {"batch_size": 8, "input_tokens": 1024, "output_tokens": 128, "itl_slo_ms": 20.0}
    assert config["gpu"]["tensor_parallel"] == 2 and plan["tensor_parallel"] == 2
    assert plan["batch_size"] == 8 and plan["gpu_type"] == "H100-80GB" and plan["slo"]["itl_ms"]["target"] == 20.0
    assert cli_plan(cli, in_tmp / "latency_config.json") == plan


# --------------------------------------------------------------------------- 80 columns

def test_the_service_picker_uses_the_terminal_width(registry_path, in_tmp):
    """At 80 columns a service's line is clipped only past the width the menu has (80 less the pointer's 4)."""
    from rich.console import Console

    import llm_agent
    from services import Registry

    with Registry(str(registry_path)) as registry:
        registry.add_service("chat-assistant", owner="alice", model="llama-3.1-70b", gpu_type="H100-80GB",
                             requests_per_second=6.0, avg_input_tokens=500, avg_output_tokens=200, replicas=1, gpus=2)
    wizard = llm_agent.Wizard(None, Console(width=80, file=io.StringIO()))
    try:
        [(_, title)] = wizard._services({})
    finally:
        wizard.close()
    # 14 + 1 + 13 + 1 + len("FP16, 2 x H100-80GB held") = 53 columns: more than the old 50-column cut, whole here
    assert title.startswith("chat-assistant llama-3.1-70b ") and title.endswith(" x H100-80GB held")
    assert len(title) <= 80 - llm_agent.CHOICE_INDENT


def test_a_refusal_wraps_between_words():
    from wizard_prompts import wrapped

    reason = ("prompt tokens: got '4x'; expected a whole number > 0 and <= 1e+18 (k, Ki, M and B suffixes only "
              "where the question says so) (Up: what you typed)")
    lines = wrapped(reason, 79).split("\n")
    assert len(lines) == 2 and all(len(line) <= 79 for line in lines)
    assert " ".join(lines) == reason  # every word whole, none cut at the edge


def test_token_counts_take_decimal_k_and_binary_ki():
    from wizard_answers import parse_number

    assert parse_number("4k", "prompt tokens", integer=True, suffixes=True) == 4_000
    assert parse_number("4Ki", "prompt tokens", integer=True, suffixes=True) == 4_096   # 4 x 1024
    assert parse_number("2ki", "prompt tokens", integer=True, suffixes=True) == 2_048
