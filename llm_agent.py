"""The interactive planner: a questionary conversation that builds a config, plans it, and reports.

``python main.py`` (or ``python commands/forecast.py`` with no arguments, on a terminal) calls
:func:`run_wizard`. Each answer is checked where it is typed with the validators the CLI and the
models use (``models.check_number`` / ``check_choice``, the catalogs' lookups), so a bad value is
re-asked with the reason. The answers form a config dict in the ``--config`` file format; the plan is
made by :meth:`LLMForecastEngine.plan` on the config's typed question (``config_loader.plan_request``),
as the CLI does, so a saved config reproduces the plan exactly with ``commands/forecast.py --config FILE``.
Ctrl-C, Ctrl-D or Esc leaves with exit status 130, and files
are written (atomically) only after the user says so at the end.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

from config_loader import TEMPLATES, check_output_path, write_json_atomic
from models import CLOUDS, OPTIMIZERS, PRECISIONS, PRICING_MODELS, InputError, PlannerError, check_number

EXIT_OK = 0
EXIT_INTERRUPTED = 130

MODE_CHOICES = (
    ("inference", "Inference serving: GPUs, latency and cost for a traffic level"),
    ("training", "Training or fine-tuning: GPUs, memory, duration and cost"),
    ("forecast", "Demand forecast: future traffic from history, and when capacity runs out"),
    ("services", "A registered service: its capacity plan, and a capacity request if it needs more"),
)
PLANNER_CHOOSES = "(let the planner choose)"
CHEAPEST_CLOUD = "(cheapest listed)"
_NONE = "\0none"
"""Stands for ``None`` as a select value."""
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


class Cancelled(Exception):
    """The user left the wizard (Ctrl-C, Ctrl-D or Esc)."""


# --------------------------------------------------------------------------- answer parsers
# Each parser turns typed text into a value or raises InputError with the reason; the prompts
# show that reason and ask again.


def parse_number(text: str, field: str, *, integer: bool = False, minimum: float = 0.0,
                 inclusive: bool = False, maximum: float | None = None, optional: bool = False):
    """A number from typed text: ``1,000``, ``1_000``, ``1e9`` and ``1B``/``500k`` are accepted.

    Blank gives ``None`` when ``optional``; the range check is :func:`models.check_number`'s.
    """
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned and optional:
        return None
    scale = _SCALE.get(cleaned[-1:].lower(), 1.0) if cleaned[:-1] else 1.0
    try:
        value = float(cleaned[:-1] if scale != 1.0 else cleaned) * scale
    except ValueError:
        value = text.strip()
    if integer and isinstance(value, float) and value.is_integer():
        value = int(value)
    return check_number(field, value, minimum=minimum, inclusive=inclusive, maximum=maximum, integer=integer)


def parse_model(text: str) -> tuple[str, Any]:
    """``(config key, value)`` for a model answer: a catalog id, a size in billions, or a config.json path."""
    import config

    answer = text.strip()
    if not answer:
        raise InputError("model", text, "a catalog model id, a size in billions (70) or a path to config.json")
    if re.fullmatch(r"[\d.,_]+\s*[bB]?", answer):
        return "model_size_billions", parse_number(answer.rstrip("bB "), "model.model_size_billions", maximum=100_000)
    if answer.endswith(".json") or ("/" in answer and os.path.exists(answer)):  # False for a name too long
        return "model_config_path", _model_config_path(answer)
    return "model", config.get_model(answer).id


def _model_config_path(text: str) -> str:
    from config_loader import architecture_from_hf_config, parse_json, read_text_file

    path = Path(text).expanduser()
    hf = parse_json(read_text_file(str(path), "model.model_config_path"), "model.model_config_path", text)
    architecture_from_hf_config(hf, str(path))
    return str(path.resolve())


def parse_history(text: str) -> str:
    """An existing, non-empty, readable file, as an absolute path (so a saved config works from anywhere).

    Its contents are checked when the forecast reads it; a problem there is shown and this is asked again.
    """
    path = Path(text.strip()).expanduser()
    if not text.strip() or not os.path.exists(path):  # os.path: False, not OSError, for a name too long
        raise InputError("forecast.history", text, "an existing file (no such file)")
    if not os.path.isfile(path):
        raise InputError("forecast.history", text, "a file, not a directory")
    if path.stat().st_size == 0 or not os.access(path, os.R_OK):
        raise InputError("forecast.history", text, "a readable, non-empty file")
    return str(path.resolve())


def parse_output_path(text: str, suffix: str, field: str) -> Path:
    """A file to write: in an existing directory, not a directory, ending in ``suffix``."""
    return check_output_path(Path(text.strip()).expanduser(), field, suffix=suffix)


# --------------------------------------------------------------------------- prompts


class Prompter:
    """questionary prompts that validate in place; Esc leaves like Ctrl-C."""

    def _ask(self, question) -> Any:
        from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

        escape = KeyBindings()

        @escape.add("escape", eager=True)
        def _leave(event) -> None:
            buffer = event.app.current_buffer
            if buffer.complete_state:  # Esc first closes an open completion menu
                buffer.cancel_completion()
            else:
                event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

        app = question.application
        app.key_bindings = merge_key_bindings([app.key_bindings, escape])
        try:
            answer = question.unsafe_ask()
        except (KeyboardInterrupt, EOFError):
            raise Cancelled from None
        if answer is None:
            raise Cancelled
        return answer

    def text(self, message: str, parse: Callable[[str], Any], default: Any = None) -> Any:
        """Ask for text until ``parse`` accepts it; return what ``parse`` returns."""
        import questionary

        shown = "" if default is None else _default_text(default)
        typed = self._ask(questionary.text(message, default=shown, validate=validator(parse),
                                           validate_while_typing=False))
        return parse(typed)

    def number(self, message: str, field: str, default: Any, **bounds) -> Any:
        if bounds.get("optional") and "blank" not in message:
            message = message.rstrip(":?") + " (blank for none):"
        return self.text(message, lambda t: parse_number(t, field, **bounds), default)

    def choice(self, message: str, choices: list[tuple[Any, str]], default: Any = None, search: bool = False) -> Any:
        """Pick one of ``(value, title)`` pairs with the arrow keys (or by typing, with ``search``)."""
        import questionary

        values = [_NONE if value is None else value for value, _ in choices]  # questionary reads None as "the title"
        items = [questionary.Choice(title=title, value=value) for value, (_, title) in zip(values, choices)]
        start = next((c for c in items if c.value == (_NONE if default is None else default)), None)
        answer = self._ask(questionary.select(message, choices=items, default=start, use_search_filter=search,
                                              use_jk_keys=not search))
        return None if answer == _NONE else answer

    def confirm(self, message: str, default: bool = True) -> bool:
        import questionary

        return self._ask(questionary.confirm(message, default=default))

    def model(self, message: str, default: str | None) -> tuple[str, Any]:
        """A catalog model found by typing (with completion), a size in billions, or a config.json path."""
        import questionary

        import config

        models = config.list_models()
        meta = {m.id: f"{m.name}, {m.nominal_params_b:g}B" if m.nominal_params_b else m.name for m in models}

        typed = self._ask(questionary.autocomplete(message, choices=[m.id for m in models], default=default or "",
                                                   meta_information=meta, validate=validator(parse_model),
                                                   validate_while_typing=False))
        return parse_model(typed)


def validator(parse: Callable[[str], Any]) -> Callable[[str], bool | str]:
    """A questionary ``validate=``: ``True`` when ``parse`` accepts the text, else the reason it gives."""

    def validate(typed: str) -> bool | str:
        try:
            parse(typed)
        except PlannerError as exc:
            return str(exc)
        return True

    return validate


def _default_text(value: Any) -> str:
    """A default as the user would type it: ``10``, ``0.7``, ``1,000,000,000``."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- the conversation


def _set(config: dict, section: str, key: str, value: Any) -> None:
    """Set ``section.key``; ``None`` removes it (the default applies)."""
    if value is not None:
        config.setdefault(section, {})[key] = value
        return
    config.get(section, {}).pop(key, None)
    if section in config and not config[section]:
        del config[section]


def _get(config: dict, section: str, key: str, default: Any = None) -> Any:
    return config.get(section, {}).get(key, default)


def _template_value(mode: str, section: str, key: str) -> Any:
    return TEMPLATES.get(mode, {}).get(section, {}).get(key)


class Wizard:
    """The questions of each step, asked into a config dict in the ``--config`` format."""

    def __init__(self, prompter: Prompter, console, stderr=None):
        self.ask = prompter
        self.console = console
        self.stderr = stderr or sys.stderr
        """Where the spinner of slow work goes."""

    def default(self, config: dict, section: str, key: str, fallback: Any = None) -> Any:
        """The current answer, else the template's value for this mode, else ``fallback``."""
        current = _get(config, section, key)
        if current is not None:
            return current
        template = _template_value(config["mode"], section, key)
        return fallback if template is None else template

    # ----------------------------------------------------------------- steps

    def model(self, config: dict) -> None:
        current = next((str(_get(config, "model", k)) for k in ("model", "model_config_path", "model_size_billions")
                        if _get(config, "model", k) is not None), None)
        key, value = self.ask.model(
            "Model (type to search; or 70 for a 70B size; or a config.json path):",
            current or "llama-3.1-70b")
        for other in ("model", "model_size_billions", "model_config_path"):
            _set(config, "model", other, value if other == key else None)
        precision = self.default(config, "model", "precision", "BF16")
        _set(config, "model", "precision", self.ask.choice(
            "Weight precision:", [(p, p) for p in PRECISIONS], default=precision))

    def workload(self, config: dict) -> None:
        n, forecast = self.ask.number, config["mode"] == "forecast"
        if not forecast:
            _set(config, "workload", "requests_per_second", n(
                "Average requests per second:", "workload.requests_per_second",
                self.default(config, "workload", "requests_per_second", 10.0)))
        hint = " (blank: from the history's token columns)" if forecast else ""
        for key, question in (("avg_input_tokens", "Average prompt tokens per request"),
                              ("avg_output_tokens", "Average generated tokens per request")):
            default = _get(config, "workload", key) if forecast else self.default(config, "workload", key)
            _set(config, "workload", key, n(f"{question}{hint}:", f"workload.{key}", default, integer=True,
                                            optional=forecast))
        if not forecast:  # a forecast is the load itself: no peak multiplier
            _set(config, "workload", "peak_load_multiplier", n(
                "Peak load over average (x):", "workload.peak_load_multiplier",
                self.default(config, "workload", "peak_load_multiplier", 1.5), minimum=1.0, inclusive=True))
        _set(config, "model", "context_window", n(
            "Longest sequence to plan for, tokens:", "model.context_window",
            _get(config, "model", "context_window"), integer=True, optional=True))

    def slos(self, config: dict) -> None:
        n = self.ask.number
        _set(config, "workload", "ttft_slo_ms", n(
            "Time-to-first-token target, ms:", "workload.ttft_slo_ms",
            _get(config, "workload", "ttft_slo_ms"), optional=True))
        _set(config, "workload", "itl_slo_ms", n(
            "Inter-token latency target, ms:", "workload.itl_slo_ms",
            _get(config, "workload", "itl_slo_ms"), optional=True))

    def training(self, config: dict) -> None:
        n, d = self.ask.number, lambda key, fallback=None: self.default(config, "training", key, fallback)
        _set(config, "training", "method", self.ask.choice(
            "Training method:", [("full", "full fine-tuning / pre-training"), ("lora", "LoRA adapters"),
                                 ("qlora", "QLoRA (4-bit base + LoRA)")], default=d("method", "full")))
        _set(config, "training", "dataset_size_tokens", n(
            "Training tokens per epoch (1B, 500M, 1e9 ...):", "training.dataset_size_tokens",
            d("dataset_size_tokens"), integer=True))
        _set(config, "training", "sequence_length", n(
            "Sequence length, tokens:", "training.sequence_length", d("sequence_length"), integer=True))
        _set(config, "training", "num_epochs", n("Epochs:", "training.num_epochs", d("num_epochs")))
        _set(config, "training", "global_batch_size", n(
            "Global batch size, sequences per optimizer step:", "training.global_batch_size",
            d("global_batch_size"), integer=True))
        _set(config, "training", "optimizer_type", self.ask.choice(
            "Optimizer:", [(o, o) for o in OPTIMIZERS], default=d("optimizer_type", "AdamW")))
        _set(config, "training", "gradient_checkpointing", self.ask.confirm(
            "Recompute activations (gradient checkpointing)?", bool(d("gradient_checkpointing", True))))
        _set(config, "training", "deadline_hours", n(
            "Finish within how many hours?", "training.deadline_hours", d("deadline_hours"), optional=True))

    def gpu(self, config: dict) -> None:
        import config as catalog

        gpus = [(g.id, f"{g.id:<16} {g.memory_gib:>5g} GB  {g.vendor}") for g in catalog.list_gpus()]
        chosen = self.ask.choice("GPU (type to filter):", [(None, PLANNER_CHOOSES), *gpus],
                                 default=_get(config, "gpu", "gpu_type"), search=True)
        _set(config, "gpu", "gpu_type", chosen)
        if config["mode"] != "training":
            _set(config, "gpu", "target_gpu_utilization", self.ask.number(
                "Share of a replica's sustainable load to plan for (0-1]:", "gpu.target_gpu_utilization",
                self.default(config, "gpu", "target_gpu_utilization", 0.7), maximum=1.0))

    def cost(self, config: dict) -> None:
        include = self.ask.confirm("Estimate cost?", bool(self.default(config, "options", "include_cost", True)))
        _set(config, "options", "include_cost", include)
        if not include:
            for key in ("cloud", "pricing"):
                _set(config, "options", key, None)
            return
        _set(config, "options", "cloud", self.ask.choice(
            "Cloud:", [(None, CHEAPEST_CLOUD), *((c, c) for c in CLOUDS)], default=_get(config, "options", "cloud")))
        _set(config, "options", "pricing", self.ask.choice(
            "Pricing:", [(p, p) for p in PRICING_MODELS], default=_get(config, "options", "pricing", "on-demand")))

    def forecast(self, config: dict) -> None:
        from forecasting import METHOD_CHOICES
        from models import SCENARIOS

        d = lambda key, fallback=None: self.default(config, "forecast", key, fallback)  # noqa: E731
        _set(config, "forecast", "history", self.ask.text(
            "Traffic history CSV (timestamp, value) or request log:", parse_history,
            _get(config, "forecast", "history")))
        _set(config, "forecast", "horizon_days", self.ask.number(
            "Days to forecast:", "forecast.horizon_days", d("horizon_days", 30), maximum=3660))
        _set(config, "forecast", "method", self.ask.choice(
            "Forecasting method (auto: chosen by backtest):", [(m, m) for m in METHOD_CHOICES],
            default=d("method", "auto")))
        _set(config, "forecast", "scenario", self.ask.choice(
            "Scenario to plan capacity for:", [(s, s) for s in SCENARIOS], default=d("scenario", "pessimistic")))
        _set(config, "forecast", "current_replicas", self.ask.number(
            "Replicas running now (blank: assume what the recent peak needs):", "forecast.current_replicas",
            _get(config, "forecast", "current_replicas"), integer=True, optional=True))

    def steps(self, mode: str) -> list[tuple[str, Callable[[dict], None]]]:
        """The named steps of ``mode``, in the order they are asked."""
        by_mode = {
            "inference": [("model", self.model), ("workload", self.workload), ("latency targets", self.slos),
                          ("GPU", self.gpu), ("cost", self.cost)],
            "training": [("model", self.model), ("training job", self.training), ("GPU", self.gpu),
                         ("cost", self.cost)],
            "forecast": [("history", self.forecast), ("model", self.model), ("workload", self.workload),
                         ("latency targets", self.slos), ("GPU", self.gpu)],
        }
        return by_mode[mode]


# --------------------------------------------------------------------------- flow


def plan(config: dict):
    """Make the plan of ``config`` exactly as ``commands/forecast.py --config`` does: its typed question, asked
    of the engine."""
    from config_loader import plan_request
    from llm_forecast_engine import LLMForecastEngine

    return LLMForecastEngine().plan(plan_request(config))


def _plan_until_it_works(wizard: Wizard, config: dict):
    """Plan; on a problem the user can fix, show it and ask which answers to change."""
    import reports

    steps = wizard.steps(config["mode"])
    while True:
        try:
            with reports.working(f"planning {config['mode']}", wizard.stderr):
                return plan(config)
        except PlannerError as exc:
            _cannot_plan(wizard, exc)
        options = [*((i, f"the {name}") for i, (name, _) in enumerate(steps)), (None, "nothing: quit")]
        choice = wizard.ask.choice("What would you like to change?", options, default=0)
        if choice is None:
            raise Cancelled
        steps[choice][1](config)


def _save(wizard: Wizard, question: str, label: str, default_name: str, write: Callable[[Path], Any],
          offer: bool = True) -> Path | None:
    """Offer to write a file; ask again for another name rather than replace one silently."""
    if not wizard.ask.confirm(question, default=offer):
        return None
    suffix = Path(default_name).suffix
    while True:
        path = wizard.ask.text(f"{label}:", lambda t: parse_output_path(t, suffix, label.lower()), default_name)
        if not path.exists() or wizard.ask.confirm(f"{path} exists. Replace it?", default=False):
            write(path)
            wizard.console.print(f"wrote {path}", highlight=False, soft_wrap=True)
            return path
        default_name = str(path)


def _offer_saves(wizard: Wizard, config: dict, result) -> None:
    mode = config["mode"]
    _save(wizard, "Save the plan as JSON?", "Plan file", f"{mode}_plan.json",
          lambda p: write_json_atomic(p, result.to_dict(), "plan file"))
    saved = _save(wizard, "Save your answers as a config file?", "Config file", f"{mode}_config.json",
                  lambda p: write_json_atomic(p, config, "config file"))
    if saved:
        wizard.console.print(f"Reproduce this plan with: python commands/forecast.py --config {saved}",
                             highlight=False, soft_wrap=True)
    if mode in ("inference", "forecast"):
        _save(wizard, "Draw it as a picture (PNG)?", "Picture file", f"{mode}_plan.png",
              lambda p: _plot(result, p, wizard.stderr), offer=False)


def _plot(result, path: Path, stderr) -> Path:
    import plots
    import reports

    with reports.working("drawing", stderr):
        return plots.plot(result, path, "picture file")


def _service_answers(wizard: Wizard, registry, answers: dict) -> dict | None:
    """Which registered service to plan, how far ahead, and whether to open a request; ``None`` if none exist."""
    from models import SCENARIOS
    from services import check_text

    services = registry.list_services()
    if not services:
        wizard.console.print("No services are registered yet: add one with python commands/services.py add NAME "
                             "--owner ... --model ... --gpu-type ... (see --help).", highlight=False, soft_wrap=True)
        return None
    ask = wizard.ask
    name = ask.choice("Service (type to filter):", [
        (s.name, f"{s.name:<20} {s.model} {s.precision} on {s.gpu_type}, {s.gpus or 0} GPUs held") for s in services],
        default=answers.get("name"), search=True)
    horizon = ask.number("Days to plan ahead (used with traffic history):", "horizon_days",
                         answers.get("horizon_days", 30), maximum=3660)
    scenario = ask.choice("Scenario:", [(s, s) for s in SCENARIOS], default=answers.get("scenario", "pessimistic"))
    by = None
    if ask.confirm("Open a draft capacity request if more GPUs are needed?", default=bool(answers.get("by"))):
        by = ask.text("Your name (recorded on the request):", lambda t: check_text("request.by", t),
                      answers.get("by"))
    return {"name": name, "horizon_days": horizon, "scenario": scenario, "by": by}


def plan_a_service(wizard: Wizard) -> dict | None:
    """The services branch: plan a registered service (and open a request); ``None`` when none are registered."""
    import reports
    from llm_forecast_engine import LLMForecastEngine

    engine = LLMForecastEngine()
    answers: dict = {}
    try:
        while True:
            answers = _service_answers(wizard, engine.registry, answers)
            if answers is None:
                return None
            try:
                with reports.working(f"planning service {answers['name']}", wizard.stderr):
                    result = engine.plan_service(answers["name"], horizon_days=answers["horizon_days"],
                                                 scenario=answers["scenario"], request_by=answers["by"])
            except PlannerError as exc:
                _cannot_plan(wizard, exc)
                if not wizard.ask.confirm("Change the answers and try again?", default=True):
                    raise Cancelled from None
                continue
            command = (f"python commands/services.py plan {answers['name']} --horizon-days "
                       f"{_default_text(answers['horizon_days'])} --scenario {answers['scenario']}")
            return {"result": result, "command": command}
    finally:
        engine.registry.close()


def _cannot_plan(wizard: Wizard, exc: Exception) -> None:
    from rich.text import Text

    wizard.console.print(Text.assemble(("Cannot plan this: ", "bold red"), str(exc)))


def converse(prompter: Prompter, console, stderr=None) -> dict:
    """Ask every question, plan, report and offer to save; return the answers that were planned."""
    import reports

    wizard = Wizard(prompter, console, stderr)
    console.print("[bold]LLM capacity planner[/]: answer each question; Enter keeps the default, "
                  "Esc or Ctrl-C leaves.", markup=True, highlight=False)
    mode = "services"
    while mode == "services":
        mode = prompter.choice("What do you want to plan?", list(MODE_CHOICES), default="inference")
        if mode == "services":
            service = plan_a_service(wizard)
            if service is not None:
                console.print()
                reports.render(service["result"], console=console)
                _save(wizard, "Save the plan as JSON?", "Plan file", "service_plan.json",
                      lambda p: write_json_atomic(p, service["result"].to_dict(), "plan file"))
                console.print(f"Plan it again with: {service['command']}", highlight=False, soft_wrap=True)
                return service
    config: dict = {"mode": mode}
    for _, step in wizard.steps(mode):
        step(config)
    result = _plan_until_it_works(wizard, config)
    console.print()
    reports.render(result, console=console)
    _offer_saves(wizard, config, result)
    return config


def run_wizard(stdout=None, stderr=None, input=None, output=None) -> int:
    """Run the interactive planner; return 0, or 130 when the user leaves (nothing half-written).

    ``input``/``output`` are prompt_toolkit ``Input``/``Output`` objects (tests pass a pipe input);
    by default the prompts use the terminal.
    """
    import reports

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    console = reports.make_console(stdout)
    try:
        if input is None and output is None:
            converse(Prompter(), console, stderr)
        else:
            from prompt_toolkit.application import create_app_session
            from prompt_toolkit.output import DummyOutput

            with create_app_session(input=input, output=output or DummyOutput()):
                converse(Prompter(), console, stderr)
    except (Cancelled, KeyboardInterrupt):  # Ctrl-C at a prompt, or while a plan is being made
        print("cancelled", file=stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK
