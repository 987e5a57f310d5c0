"""The interactive planner, driven by keystrokes through prompt_toolkit pipe input."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.output.vt100 import Vt100_Output

import llm_agent
from models import InputError

ROOT = Path(__file__).resolve().parent.parent
ENTER, CLEAR, DOWN, CTRL_C, ESC = "\r", "\x15", "\x1b[B", "\x03", "\x1b"


def typed(text: str) -> str:
    """Replace the prefilled default with ``text`` and press Enter."""
    return CLEAR + text + ENTER


def drive(*keys: str, output=None) -> tuple[int, str, str]:
    """Run the wizard on these keystrokes; the input closes after them (a wizard still asking gets EOF)."""
    with create_pipe_input() as pipe:
        pipe.send_text("".join(keys))
        pipe.close()
        out, err = io.StringIO(), io.StringIO()
        code = llm_agent.run_wizard(stdout=out, stderr=err, input=pipe, output=output or DummyOutput())
    return code, out.getvalue(), err.getvalue()


def screen() -> tuple[Vt100_Output, io.StringIO]:
    """A prompt_toolkit output that records what a 120-column terminal would show."""
    buffer = io.StringIO()
    return Vt100_Output(buffer, lambda: Size(rows=40, columns=120), term="xterm", enable_cpr=False), buffer


def visible(buffer: io.StringIO) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())


def type_when_shown(pipe, buffer: io.StringIO, steps: list[tuple[str, str]],
                    timeout_s: float = 20.0) -> threading.Thread:
    """Type each step's keys once its text is on the screen (a person reads, then types)."""

    def typist() -> None:
        for needle, keys in steps:
            deadline = time.monotonic() + timeout_s
            while needle not in visible(buffer) and time.monotonic() < deadline:
                time.sleep(0.02)
            pipe.send_text(keys)

    thread = threading.Thread(target=typist, daemon=True)
    thread.start()
    return thread


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Each wizard run saves into its own empty directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def json_plan_from_config(cli, path: Path) -> dict:
    result = cli("--config", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


SAVE_ALL = ["y", ENTER, "y", ENTER]  # save the plan and the config under their default names
INFERENCE = [
    ENTER,                          # plan: inference
    typed("llama-3.1-8b"),          # model from the catalog
    ENTER,                          # precision: FP16 (the default)
    typed("-5"), typed("20"),       # requests/s: a wrong value, re-asked, then a right one
    ENTER, typed("1,000"), ENTER,   # prompt tokens 500, output tokens 1000 (typed with a comma), peak 1.5
    ENTER,                          # context window: none
    ENTER, typed("40"),             # TTFT target: none; ITL target 40 ms
    ENTER, ENTER,                   # GPU: let the planner choose; utilization 0.7
    ENTER, ENTER, ENTER,            # cost: yes, cheapest cloud, on-demand
]


# --------------------------------------------------------------------------- whole conversations


def test_inference_wizard_plan_is_reproduced_by_its_saved_config(cli, in_tmp):
    code, out, err = drive(*INFERENCE, *SAVE_ALL, "n")
    assert code == 0, err
    assert "LLM INFERENCE CAPACITY PLAN" in out and "COST ESTIMATES" in out
    saved = json.loads((in_tmp / "inference_plan.json").read_text())
    config = json.loads((in_tmp / "inference_config.json").read_text())
    assert config["workload"] == {"requests_per_second": 20.0, "avg_input_tokens": 500, "avg_output_tokens": 1000,
                                  "peak_load_multiplier": 1.5, "itl_slo_ms": 40.0}
    assert config["model"] == {"model": "llama-3.1-8b", "precision": "FP16"}
    assert "gpu_type" not in config["gpu"]
    assert json_plan_from_config(cli, in_tmp / "inference_config.json") == saved
    assert "Reproduce this plan with: python commands/forecast.py --config inference_config.json" in out


def test_inference_wizard_draws_the_plan(in_tmp):
    code, _, err = drive(*INFERENCE, "n", "n", "y", typed("picture.png"))
    assert code == 0, err
    assert (in_tmp / "picture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in in_tmp.iterdir()] == ["picture.png"]


def test_training_wizard_plan_is_reproduced_by_its_saved_config(cli, in_tmp):
    keys = [
        DOWN, ENTER,                    # plan: training
        typed("llama-3.1-8b"), ENTER,   # model, precision BF16 (the training default)
        DOWN, ENTER,                    # method: LoRA
        typed("200M"),                  # training tokens per epoch, with a suffix
        typed("2048"),                  # sequence length
        typed("two"), typed("2"),       # epochs: a word, re-asked, then a number
        ENTER, ENTER, ENTER, ENTER,     # global batch 64, AdamW, checkpointing yes, no deadline
        "H100-80", ENTER,               # GPU found by typing
        ENTER, ENTER, ENTER,            # cost: yes, cheapest cloud, on-demand
    ]
    code, out, err = drive(*keys, *SAVE_ALL)
    assert code == 0, err
    assert "LLM TRAINING CAPACITY PLAN" in out
    config = json.loads((in_tmp / "training_config.json").read_text())
    assert config["training"]["method"] == "lora" and config["training"]["num_epochs"] == 2.0
    assert config["training"]["dataset_size_tokens"] == 200_000_000
    assert config["gpu"] == {"gpu_type": "H100-80GB"}
    saved = json.loads((in_tmp / "training_plan.json").read_text())
    assert json_plan_from_config(cli, in_tmp / "training_config.json") == saved


def write_history(path: Path, days: int = 21) -> Path:
    """Hourly requests/s with a daily cycle, a slow trend and seeded noise."""
    import math
    import random

    rng = random.Random(7)
    lines = ["timestamp,rps"]
    for hour in range(24 * days):
        value = 20 + 8 * math.sin(2 * math.pi * hour / 24) + 0.01 * hour + rng.gauss(0, 1)
        lines.append(f"2026-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z,{value:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_forecast_wizard_plan_is_reproduced_by_its_saved_config(cli, in_tmp, tmp_path_factory):
    history = write_history(tmp_path_factory.mktemp("data") / "traffic.csv")
    keys = [
        DOWN, DOWN, ENTER,                      # plan: demand forecast
        typed("no-such.csv"), typed(str(history)),  # a missing file, re-asked, then the history
        typed("2"), DOWN, ENTER, ENTER, ENTER,  # 2 days, seasonal naive, pessimistic, replicas now: assumed
        typed("llama-3.1-8b"), ENTER,           # model, precision
        typed("500"), typed("200"), ENTER,      # tokens per request, no context window
        ENTER, ENTER,                           # no latency targets
        "H100-80", ENTER, ENTER,                # GPU, utilization 0.7
    ]
    code, out, err = drive(*keys, *SAVE_ALL, "y", typed("forecast.png"))
    assert code == 0, err
    for title in ("DEMAND FORECAST", "PROVISIONING SCHEDULE", "SCALING RECOMMENDATIONS"):
        assert title in out
    config = json.loads((in_tmp / "forecast_config.json").read_text())
    assert config["forecast"] == {"history": str(history), "horizon_days": 2.0, "method": "seasonal_naive",
                                  "scenario": "pessimistic"}
    saved = json.loads((in_tmp / "forecast_plan.json").read_text())
    assert json_plan_from_config(cli, in_tmp / "forecast_config.json") == saved
    assert (in_tmp / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def registry_path(tmp_path_factory, monkeypatch):
    """An empty service registry that the wizard opens (through ``$LLM_CAPACITY_DB``)."""
    path = tmp_path_factory.mktemp("registry") / "services.db"
    monkeypatch.setenv("LLM_CAPACITY_DB", str(path))
    return path


def test_services_wizard_plans_a_registered_service_and_opens_a_request(registry_path, in_tmp):
    from services import Registry

    with Registry(str(registry_path)) as registry:
        registry.add_service("chat", owner="alice", model="llama-3.1-8b", gpu_type="H100-80GB",
                             requests_per_second=30.0, avg_input_tokens=500, avg_output_tokens=200, replicas=1, gpus=1)
    keys = [DOWN, DOWN, DOWN, ENTER,        # plan: a registered service
            ENTER, typed("0"), typed("14"),  # the one service; 0 days is refused, 14 accepted
            ENTER, "y", typed("bob"),       # pessimistic; open a request as bob
            "y", ENTER]                     # save the plan
    code, out, err = drive(*keys)
    assert code == 0, err
    assert "SERVICE CAPACITY PLAN" in out and "REQUEST OPENED" in out
    assert "Plan it again with: python commands/services.py plan chat --horizon-days 14" in out
    saved = json.loads((in_tmp / "service_plan.json").read_text())
    assert saved["service"] == "chat" and saved["request"]["requested_by"] == "bob"
    with Registry(str(registry_path)) as registry:
        [request] = registry.list_requests(service="chat")
    assert request.state == "draft" and request.gpus == saved["additional_gpus"] > 0


def test_services_wizard_with_an_empty_registry_goes_back_to_the_first_question(registry_path, in_tmp):
    code, out, err = drive(DOWN, DOWN, DOWN, ENTER, *INFERENCE, "n", "n", "n")
    assert code == 0, err
    assert out.index("No services are registered yet") < out.index("LLM INFERENCE CAPACITY PLAN")


# --------------------------------------------------------------------------- leaving and recovering


@pytest.mark.parametrize("keys", [
    [CTRL_C],
    [ENTER, typed("llama-3.1-8b"), CTRL_C],
    [*INFERENCE, CTRL_C],
    [*INFERENCE, "y", CTRL_C],
], ids=["at-the-first-question", "mid-way", "at-the-save-offer", "at-the-file-name"])
def test_ctrl_c_leaves_with_130_and_writes_nothing(in_tmp, keys):
    code, _, err = drive(*keys)
    assert code == 130 and "cancelled" in err
    assert list(in_tmp.iterdir()) == []


def test_ctrl_c_while_the_plan_is_made_leaves_with_130(in_tmp, monkeypatch):
    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(llm_agent, "plan", interrupted)
    code, _, err = drive(*INFERENCE, "y", ENTER)
    assert code == 130 and "cancelled" in err
    assert list(in_tmp.iterdir()) == []


def test_escape_leaves_with_130():
    output, buffer = screen()
    with create_pipe_input() as pipe:
        typist = type_when_shown(pipe, buffer, [("What do you want to plan?", ENTER), ("Model (type", ESC),
                                                ("never shown", "x" + ENTER)])
        err = io.StringIO()
        started = time.monotonic()
        code = llm_agent.run_wizard(stdout=io.StringIO(), stderr=err, input=pipe, output=output)
        typist.join(timeout=0.1)
    assert code == 130 and "cancelled" in err.getvalue()
    assert time.monotonic() - started < 15


def test_wrong_number_shows_the_reason_on_screen_and_is_asked_again(in_tmp):
    output, buffer = screen()
    with create_pipe_input() as pipe:
        typist = type_when_shown(pipe, buffer, [
            ("What do you want to plan?", ENTER), ("Model (type", typed("llama-3.1-8b")),
            ("Weight precision", ENTER), ("Average requests per second", typed("-5")),
            ("expected a finite number > 0", CTRL_C)])
        code = llm_agent.run_wizard(stdout=io.StringIO(), stderr=io.StringIO(), input=pipe, output=output)
        typist.join(timeout=1)
    assert code == 130
    assert "workload.requests_per_second: got -5.0; expected a finite number > 0" in visible(buffer)


def test_a_plan_that_cannot_be_made_offers_to_change_an_answer(in_tmp):
    keys = [
        ENTER, typed("llama-3.1-70b"), ENTER,       # 70B in FP16 ...
        ENTER, ENTER, ENTER, ENTER, ENTER,          # default traffic
        ENTER, ENTER,                               # no latency targets
        "T4", ENTER, ENTER,                         # ... on T4s: does not fit
        ENTER, ENTER, ENTER,                        # cost
        DOWN, DOWN, DOWN, ENTER,                    # change: the GPU
        "H100-80", ENTER, ENTER,                    # H100s instead
        "n", "n", "n",                              # save nothing
    ]
    code, out, err = drive(*keys)
    assert code == 0, err
    assert re.search(r"Cannot plan this: no configuration serves Llama-3\.1-70B", out)
    assert "4 x H100-80GB" in out or "8 x H100-80GB" in out
    assert list(in_tmp.iterdir()) == []


def test_quitting_at_the_change_offer_leaves_with_130(in_tmp):
    keys = [ENTER, typed("llama-3.1-70b"), ENTER, *[ENTER] * 7, "T4", ENTER, ENTER, ENTER, ENTER, ENTER,
            *[DOWN] * 5, ENTER]
    code, out, _ = drive(*keys)
    assert code == 130 and "Cannot plan this" in out


def test_an_existing_file_is_not_replaced_without_asking(in_tmp):
    (in_tmp / "inference_plan.json").write_text("keep me")
    code, _, err = drive(*INFERENCE, "y", ENTER, "n", typed("second_plan.json"), "n", "n")
    assert code == 0, err
    assert (in_tmp / "inference_plan.json").read_text() == "keep me"
    assert json.loads((in_tmp / "second_plan.json").read_text())["inputs"]["workload"]["requests_per_second"] == 20


# --------------------------------------------------------------------------- answer parsers


@pytest.mark.parametrize("text,kwargs,expected", [
    ("20", {}, 20.0),
    ("1,000", {"integer": True}, 1000),
    ("1_000", {"integer": True}, 1000),
    ("1e9", {"integer": True}, 1_000_000_000),
    ("1B", {"integer": True}, 1_000_000_000),
    ("500k", {"integer": True}, 500_000),
    ("2.5M", {"integer": True}, 2_500_000),
    ("  7 ", {}, 7.0),
    ("", {"optional": True}, None),
    ("1", {"minimum": 1.0, "inclusive": True}, 1.0),
], ids=lambda v: repr(v))
def test_parse_number_accepts(text, kwargs, expected):
    assert llm_agent.parse_number(text, "x", **kwargs) == expected


@pytest.mark.parametrize("text,kwargs,message", [
    ("abc", {}, r"x: got 'abc'; expected a finite number > 0"),
    ("-5", {}, r"x: got -5\.0; expected a finite number > 0"),
    ("0", {}, r"expected a finite number > 0"),
    ("2.5", {"integer": True}, r"x: got 2\.5; expected a whole number > 0"),
    ("", {}, r"x: got ''"),
    ("1.5", {"maximum": 1.0}, r"and <= 1"),
    ("nan", {}, r"x: got nan"),
    ("0.5", {"minimum": 1.0, "inclusive": True}, r"expected a finite number >= 1"),
], ids=lambda v: repr(v))
def test_parse_number_refuses_with_the_reason(text, kwargs, message):
    with pytest.raises(InputError, match=message):
        llm_agent.parse_number(text, "x", **kwargs)


def test_validator_returns_the_reason_or_true():
    check = llm_agent.validator(lambda t: llm_agent.parse_number(t, "workload.requests_per_second"))
    assert check("3") is True
    assert check("-1") == "workload.requests_per_second: got -1.0; expected a finite number > 0"


def test_parse_model_answers(tmp_path):
    config_json = ROOT / "tests" / "data" / "hf_configs" / "qwen2.5-7b.json"
    assert llm_agent.parse_model("llama-3.1-70b") == ("model", "llama-3.1-70b")
    assert llm_agent.parse_model("meta-llama/Llama-3.1-8B") == ("model", "llama-3.1-8b")
    assert llm_agent.parse_model("70") == ("model_size_billions", 70.0)
    assert llm_agent.parse_model("13B") == ("model_size_billions", 13.0)
    assert llm_agent.parse_model(str(config_json)) == ("model_config_path", str(config_json.resolve()))


@pytest.mark.parametrize("text,message", [
    ("lama-3.1-70b", r"did you mean llama-3\.1-70b"),
    ("", r"a catalog model id, a size in billions"),
    ("0", r"model\.model_size_billions: got 0\.0"),
    ("missing/config.json", r"no such file"),
], ids=["typo", "blank", "zero-size", "missing-file"])
def test_parse_model_refuses_with_the_reason(text, message):
    with pytest.raises(InputError, match=message):
        llm_agent.parse_model(text)


def test_parse_model_refuses_a_json_that_is_not_a_model_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="num_hidden_layers"):
        llm_agent.parse_model(str(path))


@pytest.mark.parametrize("name,message", [
    ("missing.csv", "no such file"),
    ("adir", "not a directory"),
    ("empty.csv", "non-empty"),
    ("", "no such file"),
], ids=["missing", "directory", "empty", "blank"])
def test_parse_history_refuses(tmp_path, name, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match=f"forecast.history: .*{message}"):
        llm_agent.parse_history(str(tmp_path / name) if name else "  ")


def test_parse_history_gives_an_absolute_path(in_tmp):
    (in_tmp / "t.csv").write_text("timestamp,rps\n")
    assert llm_agent.parse_history("t.csv") == str(in_tmp / "t.csv")


@pytest.mark.parametrize("name,message", [
    ("plan.txt", r"ending in \.json"),
    ("missing/plan.json", "existing directory"),
    ("adir.json", "not a directory"),
], ids=["suffix", "missing-dir", "directory"])
def test_parse_output_path_refuses(tmp_path, name, message):
    (tmp_path / "adir.json").mkdir()
    with pytest.raises(InputError, match=message):
        llm_agent.parse_output_path(str(tmp_path / name), ".json", "plan file")


# --------------------------------------------------------------------------- entry points


@pytest.mark.parametrize("script", ["main.py", "commands/forecast.py"])
def test_no_terminal_prints_usage_and_exits_2(script):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / script)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage:") and "no terminal" in proc.stderr and proc.stdout == ""


def test_main_with_arguments_is_the_cli():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--mode", "inference", "--rps", "2",
                           "--input-tokens", "100", "--output-tokens", "100", "--model", "llama-3.1-8b",
                           "--format", "json"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["id"] == "llama-3.1-8b"


def test_wizard_starts_from_the_cli_on_a_terminal(monkeypatch):
    from commands import forecast

    calls = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr(llm_agent, "run_wizard", lambda **kwargs: calls.append(kwargs) or 130)
    assert forecast.main([], stdout=io.StringIO(), stderr=io.StringIO()) == 130
    assert len(calls) == 1
