"""The interactive planner (``python main.py``): questions, a review of every answer, the plan, and saves.

The questions are asked one by one (Esc goes back one; a default is drawn in grey and Enter takes it). Then
every answer is listed on a review screen where any of them can be changed before planning. A plan that
fails says why and offers the answer that caused it first. Choices that cannot work are not offered: GPUs
that cannot hold the model, clouds and pricing models with no price for the GPU, precisions the training
method cannot use; a traffic history is read as soon as it is named and its columns and step are offered.

The answers form a config in the ``--config`` format and the plan is :meth:`LLMForecastEngine.plan` of its
typed question (``config_loader.plan_request``), as for the CLI, so a saved config reproduces the plan with
``commands/forecast.py --config FILE``. Without a terminal on stdin and stdout the wizard says so and exits
2 (it never draws prompts into a pipe); Ctrl-C leaves with 130 and writes nothing half-way.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable

from models import (
    CLOUDS, FORECAST_METHODS, MAX_HORIZON_DAYS, OPTIMIZERS, PRECISIONS, SCENARIOS, SERVING_ENGINES, InputError,
    PlannerError, plural,
)
from architecture import checkpoint_precision
from wizard_answers import (
    clouds_for, culprit, frequency_choices, in_words, inference_gpus, model_architecture, parse_history,
    parse_measurements, parse_model, parse_number, parse_output_path, parse_profile, pricing_for, shipped_traces,
    tensor_parallel_degrees, training_gpus, training_precisions,
)
from wizard_prompts import NO_DEFAULT, Back, Cancelled, Prompter, default_text

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

MODE_CHOICES = (
    ("inference", "Inference: GPUs, latency and cost for a traffic level"),
    ("compare", "Compare GPUs: each GPU, precision and cloud, ranked"),
    ("training", "Training or fine-tuning: GPUs, memory, time, cost"),
    ("forecast", "Forecast demand from a traffic history (and its GPUs)"),
    ("services", "Services: plan a registered service, request GPUs"),
    ("validate", "Validate the planner against measured benchmarks"),
    ("latency", "Static-batch latency: what vllm bench latency measures"),
)
"""What can be planned, in the order offered (a new mode is one row here and its questions' ``applies``)."""
CONFIG_MODES = ("inference", "compare", "latency", "training", "forecast", "validate")
"""Modes whose answers are a config file (``services`` plans a registered service instead)."""
SERVING = ("inference", "compare")
ENGINE_TITLES = {"vllm": "vLLM (default)", "trtllm": "TensorRT-LLM", "sglang": "SGLang"}
TOKENS_HINT = "4k = 4000, 4Ki = 4096"
"""How a token count may be typed (``wizard_answers.SUFFIXES``): decimal k, or Ki for benchmark sizes (2048)."""
ROW_WIDTH = 72
"""Width of a review row (label and answer), within 80 columns."""
CHOICE_INDENT = 4
"""Columns a choice's pointer and indent take before its title (questionary's ``» ``, one space either side)."""
PLAN, LEAVE = "\0plan", "\0leave"
WELCOME = ("[bold]LLM capacity planner[/]. A default is shown in grey: Enter takes it, typing replaces it. "
           "Esc goes back one question; every answer is listed for review before planning. Ctrl-C leaves.")
EXTRA_LABELS = {"options.region": "region",
                "gpu.gpu_memory_utilization": "GPU memory share", "model.kv_precision": "KV-cache precision"}
"""Names for fields that library messages mention and the wizard does not ask."""


class Redo(Exception):
    """Ask ``key`` again (its answer, or one it depends on, does not work)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _always(answers: dict) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Question:
    """One answer: its key (the config path it sets), its label on the review screen and how it is asked."""

    key: str
    label: str
    ask: Callable[[Any], Any]
    """``ask(default) -> answer``; ``default`` is the current answer, else the first-visit default."""
    default: Callable[[dict], Any] = lambda answers: NO_DEFAULT
    applies: Callable[[dict], bool] = _always
    choices: Callable[[dict], list[tuple[Any, str]]] | None = None
    """For a choice: the ``(value, title)`` pairs that can work with the other answers."""
    blank: Callable[[dict], str] = lambda answers: "none"
    """How ``None`` reads (on the grey default and the review screen)."""
    after: Callable[[dict], None] | None = None
    """Checks run once answered; raise :class:`PlannerError` (or :class:`Redo`) when the answers do not work."""
    to_config: Callable[[Any, dict], dict] | None = None
    """``{dotted config key: value}`` for the config file (default: ``{key: value}`` unless ``None``)."""
    suffixes: bool = False
    """A number shown as 4k, 1.5B (its question accepts those)."""

    def fits(self, answers: dict) -> bool:
        """Whether the current answer is given and still one of the choices that can work."""
        if self.key not in answers:
            return False
        return self.choices is None or answers[self.key] in [v for v, _ in self.choices(answers)]


def _mode(*modes: str) -> Callable[[dict], bool]:
    return lambda answers: answers.get("mode") in modes


def _sized_forecast(answers: dict) -> bool:
    return answers.get("mode") == "forecast" and bool(answers.get("forecast.with_model"))


def _with_model(answers: dict) -> bool:
    return answers.get("mode") in ("inference", "compare", "latency", "training") or _sized_forecast(answers)


def _serving(answers: dict) -> bool:
    return answers.get("mode") in SERVING or _sized_forecast(answers)


def _fixed_replica(answers: dict) -> bool:
    """A serving plan on a GPU the user chose (compare ranks every degree itself)."""
    return answers.get("gpu.gpu_type") is not None and (
        answers.get("mode") in ("inference", "latency") or _sized_forecast(answers))


def _costed(answers: dict) -> bool:
    return answers.get("mode") == "compare" or (
        answers.get("mode") in ("inference", "training") and bool(answers.get("options.include_cost")))


def _set(config: dict, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if key:
        config.setdefault(section, {})[key] = value
    else:
        config[section] = value


class Wizard:
    """The questions, the order they are asked in, the review screen and the plan."""

    def __init__(self, prompter: Prompter, console, stderr=None):
        self.ask = prompter
        self.console = console
        self.stderr = stderr or sys.stderr
        """Where the spinner of slow work goes."""
        self.answers: dict[str, Any] = {}
        self._columns: dict[str, Any] = {}
        self._histories: dict[tuple, Any] = {}
        self._registry = None
        self._said: set[str] = set()
        self._stale: set[str] = set()
        """Answers a check found at fault: asked again before planning."""
        self.questions = self._questions()

    # ----------------------------------------------------------------- the question table

    def _number(self, key: str, label: str, message: str, default: Any = NO_DEFAULT, *, applies=_always,
                optional: bool = False, blank: Callable[[dict], str] | str = "none", suffixes: bool = False,
                **bounds) -> Question:
        blank_of = blank if callable(blank) else (lambda answers: blank)

        def ask(current: Any) -> Any:
            return self.ask.text(message, lambda t: parse_number(t, label.lower(), suffixes=suffixes, **bounds),
                                 current, optional=optional, blank=blank_of(self.answers), suffixes=suffixes)

        return Question(key, label, ask, default=lambda answers: default, applies=applies, blank=blank_of,
                        suffixes=suffixes)

    def _choice(self, key: str, label: str, message: str | Callable[[dict], str],
                choices: Callable[[dict], list[tuple[Any, str]]], default: Any = None, *, applies=_always,
                blank: str | Callable[[dict], str] = "none", after=None, to_config=None) -> Question:
        def ask(current: Any) -> Any:
            text = message(self.answers) if callable(message) else message
            return self.ask.choice(text, choices(self.answers), current)

        def first(answers: dict) -> Any:
            wanted = default(answers) if callable(default) else default
            values = [v for v, _ in choices(answers)]
            return wanted if wanted in values else (values[0] if values else None)

        return Question(key, label, ask, default=first, applies=applies, choices=choices,
                        blank=blank if callable(blank) else (lambda answers: blank), after=after, to_config=to_config)

    def _confirm(self, key: str, label: str, message: str, default: bool, *, applies=_always) -> Question:
        return Question(key, label, lambda current: self.ask.confirm(message, bool(current)),
                        default=lambda answers: default, applies=applies)

    def _questions(self) -> list[Question]:
        """Every question of every mode, in the order asked; ``applies`` says which a set of answers needs."""
        forecast, training = _mode("forecast"), _mode("training")
        return [
            self._choice("mode", "What to plan", "What to plan?", lambda a: list(MODE_CHOICES),
                         "inference", after=self._check_mode, to_config=lambda value, a: {"mode": value}),
            *self._history_questions(forecast),
            self._confirm("forecast.with_model", "Size GPUs for a model", "Turn the forecast into GPUs for a model?",
                          True, applies=forecast),
            Question("model", "Model", self._ask_model, applies=_with_model,
                     default=lambda a: "llama-3.1-8b" if a.get("mode") == "training" else "llama-3.1-70b",
                     to_config=lambda value, a: {f"model.{value[0]}": value[1]}),
            self._choice("training.method", "Training method", "Training method:", lambda a: [
                ("full", "full fine-tuning / pre-training"), ("lora", "LoRA adapters on a frozen base"),
                ("qlora", "QLoRA: LoRA on a 4-bit (NF4) base")], "full", applies=training),
            self._choice("model.precision", "Precision", self._precision_message, self._precisions,
                         self._default_precision, applies=_with_model),
            self._number("training.lora_rank", "LoRA rank", "LoRA rank:", 16, integer=True, maximum=4096,
                         applies=lambda a: training(a) and a.get("training.method") in ("lora", "qlora")),
            *self._traffic_questions(),
            *self._training_questions(training),
            self._choice("gpu.engine", "Serving engine", "Serving engine (its KV-memory policy and batch limits):",
                         lambda a: [(e, ENGINE_TITLES[e]) for e in SERVING_ENGINES], "vllm",
                         applies=lambda a: _serving(a) or a.get("mode") == "latency"),
            self._choice("gpu.gpu_type", "GPU", "GPU (type to filter):", self._gpus, None,
                         applies=lambda a: _with_model(a) and a.get("mode") != "compare",
                         blank="let the planner choose"),
            self._choice("gpu.tensor_parallel", "GPUs per replica", "GPUs per replica (tensor parallel):",
                         self._tensor_parallels, None, applies=_fixed_replica, blank="the fewest that work"),
            self._number("gpu.target_gpu_utilization", "Planned utilization",
                         "Share of a replica's sustainable load to plan for, (0-1]:", 0.7, maximum=1.0,
                         applies=_serving),
            self._number("forecast.current_replicas", "Replicas running now", "Replicas running now:", None,
                          optional=True, integer=True, blank="what the recent peak needs", applies=_sized_forecast),
            self._confirm("options.include_cost", "Estimate cost", "Estimate cost?", True,
                          applies=_mode("inference", "training")),
            self._choice("options.cloud", "Cloud", "Cloud:", self._clouds, None, applies=_costed,
                         blank=lambda a: "every cloud" if a.get("mode") == "compare" else "the cheapest listed"),
            self._choice("options.pricing", "Pricing", "Pricing:", self._pricings, "on-demand", applies=_costed),
            Question("measurements", "Measurements", self._path_asker(
                "Measurements CSV to validate against:", parse_measurements, "the shipped calibration data"),
                default=lambda a: None, applies=_mode("validate"),
                blank=lambda a: "the shipped calibration data"),
            Question("profile", "Calibration profile", self._path_asker(
                "Calibration profile (python calibration.py fit):", parse_profile, "the shipped fits"),
                default=lambda a: None, applies=lambda a: _with_model(a) or a.get("mode") == "validate",
                blank=lambda a: "the shipped fits"),
            *self._service_questions(),
        ]

    def _history_questions(self, forecast) -> list[Question]:
        return [
            Question("forecast.history", "History file", self._ask_history, applies=forecast),
            self._choice("forecast.timestamp_column", "Timestamp column", "Which column holds the timestamps?",
                         self._time_columns, lambda a: self._file(a).timestamp_column, applies=forecast,
                         to_config=lambda value, a: self._unless_detected("timestamp_column", value, a)),
            self._choice("forecast.value_column", "Demand column", "Which column is the demand?", self._value_columns,
                         lambda a: self._file(a).value_column, applies=forecast, blank="none: count the rows",
                         after=self._history,
                         to_config=lambda value, a: self._unless_detected("value_column", value, a)),
            self._choice("forecast.frequency", "Step", "Forecast at which step?", self._frequencies, None,
                         applies=forecast, blank="the history's own", after=self._history),
            self._number("forecast.horizon_days", "Days to forecast", "Days to forecast:", 30, applies=forecast,
                         maximum=MAX_HORIZON_DAYS),
            self._choice("forecast.method", "Forecasting method", "Forecasting method (auto: chosen by backtest):",
                         lambda a: [(m, m) for m in FORECAST_METHODS], "auto", applies=forecast),
            self._choice("forecast.scenario", "Scenario", "Scenario to plan for:", lambda a: [
                ("pessimistic", "pessimistic (upper 80% band)"), ("baseline", "baseline (median)"),
                ("optimistic", "optimistic (lower 80% band)")], "pessimistic", applies=forecast),
        ]

    def _traffic_questions(self) -> list[Question]:
        serving, forecast, latency = _mode(*SERVING), _sized_forecast, _mode("latency")
        tokens_hint = TOKENS_HINT
        questions = [
            self._number("latency.batch_size", "Batch", "Sequences in the static batch:", 1, integer=True,
                         applies=latency),
            self._number("latency.input_tokens", "Prompt tokens", f"Prompt tokens per sequence ({tokens_hint}):",
                         1024, integer=True, suffixes=True, applies=latency),
            self._number("latency.output_tokens", "Generated tokens", f"Generated tokens per sequence "
                         f"({tokens_hint}):", 128, integer=True, suffixes=True, applies=latency),
            self._number("workload.requests_per_second", "Requests per second", "Average requests per second:",
                         10.0, applies=serving),
            self._number("workload.avg_input_tokens", "Prompt tokens", f"Average prompt tokens per request "
                         f"({tokens_hint}):", 500, integer=True, suffixes=True, applies=serving),
            self._number("workload.avg_output_tokens", "Generated tokens", f"Average generated tokens per request "
                         f"({tokens_hint}):", 200, integer=True, suffixes=True, applies=serving),
            self._number("workload.peak_load_multiplier", "Peak over average", "Peak load over the average (x):", 1.5,
                         minimum=1.0, inclusive=True, applies=serving),
            self._number("forecast.avg_input_tokens", "Prompt tokens", f"Average prompt tokens per request "
                         f"({tokens_hint}):", None, optional=True, integer=True, suffixes=True, applies=forecast,
                         blank=lambda a: self._token_blank(a, 0)),
            self._number("forecast.avg_output_tokens", "Generated tokens", f"Average generated tokens per request "
                         f"({tokens_hint}):", None, optional=True, integer=True, suffixes=True, applies=forecast,
                         blank=lambda a: self._token_blank(a, 1)),
            self._number("forecast.peak_load_multiplier", "Peak within a period",
                         "Peak load within a period over its forecast (x):", None, optional=True, minimum=1.0,
                         inclusive=True, applies=forecast, blank=self._peak_blank),
            self._number("model.context_window", "Max model length", "Max model length (--max-model-len), tokens:",
                         None, optional=True, integer=True, applies=serving,
                         blank=lambda a: f"prompt + generated tokens ({sum(self._tokens(a)):,})"),
        ]
        for section, applies in (("workload", serving), ("forecast", forecast), ("latency", latency)):
            questions += [
                self._number(f"{section}.ttft_slo_ms", "First-token target, ms", "Time-to-first-token target, ms:",
                             None, optional=True, blank="no target", applies=applies),
                self._number(f"{section}.itl_slo_ms", "Inter-token target, ms", "Inter-token latency target, ms:",
                             None, optional=True, blank="no target", applies=applies),
            ]
        return questions

    def _training_questions(self, training) -> list[Question]:
        return [
            self._number("training.dataset_size_tokens", "Tokens per epoch",
                         "Training tokens per epoch (500M, 2B ok):", 1_000_000_000, integer=True, suffixes=True,
                         applies=training),
            self._number("training.sequence_length", "Sequence length", "Sequence length, tokens:", 4096,
                         integer=True, applies=training),
            self._number("training.num_epochs", "Epochs", "Epochs:", 3, applies=training),
            self._number("training.global_batch_size", "Global batch", "Global batch, sequences per optimizer step:",
                         64, integer=True, applies=training),
            self._choice("training.optimizer_type", "Optimizer", "Optimizer:", lambda a: [(o, o) for o in OPTIMIZERS],
                         "AdamW", applies=training),
            self._choice("training.gradient_checkpointing", "Recompute activations",
                         "Recompute activations?", lambda a: [
                             (None, "where needed to fit (the planner decides)"), (True, "yes, always"),
                             (False, "no, never")], None, applies=training, blank="where needed to fit"),
            self._number("training.deadline_hours", "Deadline, hours", "Finish within how many hours?", None,
                         optional=True, blank="no deadline", applies=training),
        ]

    def _service_questions(self) -> list[Question]:
        services = _mode("services")
        return [
            self._choice("service.name", "Service", "Service (type to filter):", self._services, None,
                         applies=services, after=self._note_open_request),
            self._number("service.horizon_days", "Days to plan ahead", "Days to plan ahead (with traffic history):",
                         30, maximum=MAX_HORIZON_DAYS, applies=services),
            self._choice("service.scenario", "Scenario", "Scenario:", lambda a: [(s, s) for s in SCENARIOS],
                         "pessimistic", applies=services),
            self._confirm("service.open_request", "Open a capacity request",
                          "Open a draft capacity request if more GPUs are needed?", False,
                          applies=lambda a: services(a) and self._open_request(a) is None),
            Question("service.request_by", "Requested by", lambda current: self.ask.text(
                "Your name (recorded on the request):", _request_by, current), default=lambda a: _user(),
                applies=lambda a: services(a) and bool(a.get("service.open_request"))
                and self._open_request(a) is None),
        ]

    # ----------------------------------------------------------------- asking

    def _ask_model(self, current: Any) -> tuple[str, Any]:
        import config

        models = config.list_models()
        meta = {m.id: f"{m.name}, {m.nominal_params_b:g}B" if m.nominal_params_b else m.name for m in models}
        default = current[1] if isinstance(current, tuple) else current
        if isinstance(current, tuple) and current[0] == "model_size_billions":
            default = f"{default_text(current[1])}B"
        return self.ask.text("Model (search the catalog, a size like 70B, or a config.json):", parse_model,
                             default, parse_default=True, completer=[m.id for m in models], meta=meta)

    def _ask_history(self, current: Any) -> str:
        traces = shipped_traces()
        path, columns = self.ask.text("Traffic history CSV (timestamp, value) or request log:", parse_history,
                                      current, parse_default=True, completer=traces or None,
                                      meta=dict.fromkeys(traces, "shipped trace"))
        self._columns[path] = columns
        return path

    def _path_asker(self, message: str, parse: Callable[[str], str], blank: str) -> Callable[[Any], Any]:
        return lambda current: self.ask.text(message, parse, current, optional=True, blank=blank)

    def answer(self, question: Question) -> None:
        """Ask ``question`` (its default: the current answer, else its first-visit default) and run its checks."""
        current = self.answers[question.key] if question.fits(self.answers) else question.default(self.answers)
        self.answers[question.key] = question.ask(current)
        self._stale.discard(question.key)
        self.check(question)

    def check(self, question: Question) -> None:
        """Run ``question``'s checks; a problem is shown and the answer that caused it is asked again (Redo)."""
        if question.after is None:
            return
        try:
            question.after(self.answers)
        except PlannerError as exc:
            self.say_problem("That does not work", exc)
            keys = [q.key for q in self.asked()]
            raise Redo(culprit(exc, keys, self.answers) or question.key) from None

    def asked(self) -> list[Question]:
        """The questions the current answers need, in order."""
        return [q for q in self.questions if q.applies(self.answers)]

    def first_pass(self) -> None:
        """Ask every question once, in order; Esc goes back one."""
        position = 0
        while position < len(self.asked()):
            asked = self.asked()
            try:
                self.answer(asked[position])
                position += 1
            except Back:
                position = max(position - 1, 0)
            except Redo as redo:
                keys = [q.key for q in self.asked()]
                position = keys.index(redo.key) if redo.key in keys else position

    def complete(self) -> None:
        """Ask what is missing, no longer works or caused a problem (after a change), then re-run every check."""
        while True:
            pending = next((q for q in self.asked() if not q.fits(self.answers) or q.key in self._stale), None)
            if pending is None:
                try:
                    for question in self.asked():
                        self.check(question)
                    return
                except Redo as redo:
                    pending = self._question(redo.key)
            try:
                self.answer(pending)
            except Redo as redo:
                self._stale.add(redo.key)

    def change(self, key: str) -> None:
        """Ask ``key`` again (Esc keeps the answer), then whatever that change leaves open."""
        try:
            self.answer(self._question(key))
        except Back:
            return
        except Redo as redo:
            self._stale.add(redo.key)
        try:
            self.complete()
        except Back:
            return

    def _question(self, key: str) -> Question:
        return next(q for q in self.questions if q.key == key)

    # ----------------------------------------------------------------- review

    def answer_text(self, question: Question) -> str:
        """An answer as the review screen shows it."""
        if question.key not in self.answers:
            return "(to answer)"
        value = self.answers[question.key]
        if value is None:
            return question.blank(self.answers)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if question.key == "model":
            return f"{default_text(value[1])}B (size only)" if value[0] == "model_size_billions" else str(value[1])
        if question.key == "mode":
            return value
        return default_text(value, question.suffixes)

    def rows(self, first: str | None = None) -> list[tuple[str, str]]:
        """``(key, title)`` of every answer, ``first`` (the one to change first) at the top."""
        asked = self.asked()
        if first is not None:
            asked.sort(key=lambda q: q.key != first)
        width = max(len(q.label) for q in asked) + 2
        return [(q.key, _clip(f"{q.label:<{width}}{self.answer_text(q)}", ROW_WIDTH)) for q in asked]

    def review(self) -> None:
        """List every answer; return when the user chooses to plan (after asking anything still open).
        Esc here goes back to the last question."""
        while True:
            try:
                choice = self.ask_review("Your answers:", None)
            except Back:
                choice = self.asked()[-1].key
            if choice == PLAN:
                try:
                    self.complete()
                except Back:
                    continue
                return
            self.change(choice)

    def ask_review(self, message: str, first: str | None) -> str:
        """An answer's key to change, or :data:`PLAN`; ``first`` (the likely culprit) is listed first."""
        plan_row = (PLAN, "Plan with these answers" if first is None else "Plan again as they are")
        rows = [*self.rows(first), (LEAVE, "Leave without planning")]
        rows = [plan_row, *rows] if first is None else [*rows[:-1], plan_row, rows[-1]]
        hint = "(Enter plans; or pick an answer to change)" if first is None else "(the likely cause first)"
        try:
            choice = self.ask.choice(message, rows, first or PLAN, instruction=hint, erase=True)
        except Back:
            self.console.print(f"? {message} (back)", highlight=False)
            raise
        said = {PLAN: "plan", LEAVE: "leave"}.get(choice) or self._question(choice).label
        self.console.print(f"? {message} {said}", highlight=False)  # the long menu is erased: one short line
        if choice == LEAVE:
            raise Cancelled
        return choice

    # ----------------------------------------------------------------- choices that can work

    def _precision_message(self, answers: dict) -> str:
        if answers.get("training.method") == "qlora" and answers.get("mode") == "training":
            return "Compute precision (the QLoRA base is stored in 4-bit NF4):"
        if answers.get("mode") == "compare":
            return "Weight precision (FP8 is compared too for 16-bit):"
        return "Weight precision:" if answers.get("mode") != "training" else "Training precision:"

    def _default_precision(self, answers: dict) -> str:
        """BF16 for training; for serving the checkpoint's own weight format (MXFP4 for gpt-oss), else FP16."""
        if answers.get("mode") == "training":
            return "BF16"
        try:
            return checkpoint_precision(model_architecture(answers["model"])) or "FP16"
        except (PlannerError, KeyError):
            return "FP16"

    def _precisions(self, answers: dict) -> list[tuple[str, str]]:
        if answers.get("mode") == "training":
            return [(p, p) for p in training_precisions(answers.get("training.method", "full"))]
        return [(p, p) for p in PRECISIONS]

    def _gpus(self, answers: dict) -> list[tuple[Any, str]]:
        choose = [] if answers.get("mode") == "latency" else [(None, "(let the planner choose the cheapest that works)")]
        if answers.get("mode") == "training":
            return [*choose, *((g, _gpu_title(g)) for g in training_gpus(answers.get("model.precision", "BF16")))]
        return [*choose, *((g, _gpu_title(g, degree)) for g, degree in self._held(answers).items())]

    def _held(self, answers: dict) -> dict[str, int]:
        """GPUs that hold the model (serving), with the fewest GPUs per replica."""
        try:
            return inference_gpus(answers["model"], answers.get("model.precision", "FP16"), sum(self._tokens(answers)),
                                  answers.get("gpu.engine", "vllm"))
        except (PlannerError, KeyError):
            return {}

    def _replica_gpus(self, answers: dict) -> int:
        """The GPUs a replica of the chosen GPU takes: the degree chosen, else the fewest that hold it (1 when the
        planner chooses the GPU, and in the modes that price no replica: training, latency, compare)."""
        gpu = answers.get("gpu.gpu_type")
        if gpu is None or answers.get("mode") not in ("inference", "forecast"):
            return 1
        return answers.get("gpu.tensor_parallel") or self._held(answers).get(gpu, 1)

    def _tensor_parallels(self, answers: dict) -> list[tuple[Any, str]]:
        """The tensor-parallel degrees that hold the model on the chosen GPU (the planner's choice first)."""
        fewest = self._held(answers).get(answers.get("gpu.gpu_type"))
        degrees = tensor_parallel_degrees(answers["model"], answers["gpu.gpu_type"], fewest) if fewest else []
        return [(None, "(the fewest that work: the planner chooses)"), *((d, f"{d} x {answers['gpu.gpu_type']}")
                                                                          for d in degrees)]

    def _clouds(self, answers: dict) -> list[tuple[Any, str]]:
        every = "(every cloud that lists it)" if answers.get("mode") == "compare" else "(the cheapest listed)"
        listed = clouds_for(answers.get("gpu.gpu_type"), self._replica_gpus(answers))
        return [(None, every), *((c, c) for c in listed if c in CLOUDS)]

    def _pricings(self, answers: dict) -> list[tuple[str, str]]:
        listed = pricing_for(answers.get("gpu.gpu_type"), answers.get("options.cloud"), self._replica_gpus(answers))
        return [(p, p) for p in listed]

    def _services(self, answers: dict) -> list[tuple[str, str]]:
        width = self.console.width - CHOICE_INDENT
        return [(s.name, _clip(f"{s.name:<12} {s.model} {s.precision}, {s.gpus or 0} x {s.gpu_type} held", width))
                for s in self.registry.list_services()]

    # ----------------------------------------------------------------- forecasts: the history file

    def _file(self, answers: dict):
        path = answers["forecast.history"]
        if path not in self._columns:
            self._columns[path] = parse_history(path)[1]
        return self._columns[path]

    def _time_columns(self, answers: dict) -> list[tuple[str, str]]:
        return [(c, c) for c in self._file(answers).columns]

    def _value_columns(self, answers: dict) -> list[tuple[Any, str]]:
        info = self._file(answers)
        values = [(c, c) for c in info.numeric_columns if c != answers.get("forecast.timestamp_column")]
        if info.request_log or not values:
            values.append((None, "none: one request per row (count them)"))
        return values

    def _frequencies(self, answers: dict) -> list[tuple[Any, str]]:
        recorded = self._history({**answers, "forecast.frequency": None}, quiet=True).frequency
        return frequency_choices(recorded, request_log=answers.get("forecast.value_column") is None)

    def _unless_detected(self, name: str, value: Any, answers: dict) -> dict:
        return {} if value == getattr(self._file(answers), name) else {f"forecast.{name}": value}

    def _history(self, answers: dict, quiet: bool = False):
        """The history as the answers read it (loaded once per path, columns and step)."""
        from demand_history import load_history

        import reports

        key = tuple(answers.get(f"forecast.{k}") for k in ("history", "timestamp_column", "value_column", "frequency"))
        if key not in self._histories:
            with reports.working("reading the history", self.stderr):
                self._histories[key] = load_history(key[0], timestamp_column=key[1], value_column=key[2],
                                                    frequency=key[3])
            if not quiet:
                self._describe(self._histories[key])
        return self._histories[key]

    def _describe(self, history) -> None:
        series = history.series
        lines = [f"  {plural(len(series), 'value')} {_step_words(history.frequency)}, {series.index[0]:%Y-%m-%d %H:%M} to "
                 f"{series.index[-1]:%Y-%m-%d %H:%M} UTC, in {history.unit}"]
        if history.avg_input_tokens or history.avg_output_tokens:
            lines.append(f"  token columns: {_mean(history.avg_input_tokens)} prompt, "
                         f"{_mean(history.avg_output_tokens)} generated tokens per request")
        for line in lines:
            self.note(line)

    def _tokens(self, answers: dict) -> tuple[int, int]:
        """Tokens per request the plan will use: typed, else the history's token columns, else the default trace."""
        if answers.get("mode") == "latency":
            return answers.get("latency.input_tokens", 1024), answers.get("latency.output_tokens", 128)
        if answers.get("mode") != "forecast":
            return answers.get("workload.avg_input_tokens", 500), answers.get("workload.avg_output_tokens", 200)
        from capacity_timeline import request_tokens

        tokens_in, tokens_out, _ = request_tokens(self._history(answers, quiet=True),
                                                  answers.get("forecast.avg_input_tokens"),
                                                  answers.get("forecast.avg_output_tokens"))
        return tokens_in, tokens_out

    def _token_blank(self, answers: dict, index: int) -> str:
        from capacity_timeline import DEFAULT_TOKENS_TRACE, default_tokens

        try:
            history = self._history(answers, quiet=True)
        except PlannerError:
            return "from the history's token columns"
        seen = (history.avg_input_tokens, history.avg_output_tokens)[index]
        if seen:
            return f"from the history ({_mean(seen)})"
        return f"the {DEFAULT_TOKENS_TRACE} trace's mean ({default_tokens()[index]:,})"

    def _peak_blank(self, answers: dict) -> str:
        from capacity_timeline import default_peak_multiplier

        try:
            history = self._history(answers, quiet=True)
        except PlannerError:
            return "the default for the history's step"
        value, _ = default_peak_multiplier(history.step_s)
        return f"{value:g} (the default for {_step_words(history.frequency)} data)"

    # ----------------------------------------------------------------- services

    @property
    def registry(self):
        """The service registry (``$LLM_CAPACITY_DB``, else the user's), opened once."""
        if self._registry is None:
            from services import Registry

            self._registry = Registry()
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    def _check_mode(self, answers: dict) -> None:
        if answers.get("mode") == "services" and not self.registry.list_services():
            self.console.print("No services are registered yet: add one with python commands/services.py add NAME "
                               "--owner ... --model ... --gpu-type ... (see --help).", highlight=False)
            del answers["mode"]
            raise Redo("mode")

    def _open_request(self, answers: dict):
        """The open request (draft, submitted, approved) of the chosen service, else ``None``."""
        from services import OPEN_STATES

        name = answers.get("service.name")
        if name is None:
            return None
        open_requests = [r for r in self.registry.list_requests(service=name) if r.state in OPEN_STATES]
        return open_requests[-1] if open_requests else None

    def _note_open_request(self, answers: dict) -> None:
        request = self._open_request(answers)
        if request is not None:
            self.note(f"  Request {request.id} ({_state(request)}, {plural(request.gpus, 'GPU')}, by {request.requested_by}) "
                      f"is already open for {request.service}: the plan shows it and opens no other.")

    def note(self, text: str) -> None:
        """Print ``text`` once (checks re-run after every change)."""
        if text not in self._said:
            self._said.add(text)
            self.console.print(text, style="dim", highlight=False)

    # ----------------------------------------------------------------- planning

    def config(self) -> dict:
        """The answers as a ``--config`` file (only the questions this mode asks)."""
        config: dict = {}
        for question in self.asked():
            value = self.answers.get(question.key)
            pairs = question.to_config(value, self.answers) if question.to_config else (
                {} if value is None or question.key.startswith(("service.", "forecast.with_model"))
                else {question.key: value})
            for dotted, item in pairs.items():
                _set(config, dotted, item)
        return config

    def make_plan(self):
        import reports

        if self.answers["mode"] == "services":
            return self._plan_service()
        with reports.working(f"planning {self.answers['mode']}", self.stderr):
            return plan(self.config())

    def _plan_service(self):
        """The registered service's plan; with a request open for it, that request is shown and none opened."""
        import reports
        from llm_forecast_engine import LLMForecastEngine

        a = self.answers
        existing = self._open_request(a)
        with reports.working(f"planning service {a['service.name']}", self.stderr):
            result = LLMForecastEngine(registry=self.registry).plan_service(a["service.name"], horizon_days=a["service.horizon_days"],
                                              scenario=a["service.scenario"],
                                              request_by=None if existing else a.get("service.request_by"))
        if existing is None:
            return result
        return dataclasses.replace(result, request=existing.to_dict(), note=(
            f"no new request opened: request {existing.id} ({_state(existing)}, {plural(existing.gpus, 'GPU')}) is already "
            f"open for {existing.service}"))

    def labels(self) -> dict[str, str]:
        labels = {q.key: q.label for q in self.asked()}
        return {**EXTRA_LABELS, **labels}

    def say_problem(self, head: str, exc: Exception) -> None:
        from rich.text import Text

        self.console.print(Text.assemble((f"{head}: ", "bold red"), in_words(str(exc), self.labels())))

    def plan_until_it_works(self):
        """Review, plan; on a problem the user can fix, say why and offer the answer that caused it first."""
        self.review()
        while True:
            try:
                return self.make_plan()
            except PlannerError as exc:
                self.say_problem("Cannot plan this", exc)
                first = culprit(exc, [q.key for q in self.asked()], self.answers)
                try:
                    choice = self.ask_review("What would you like to change?", first or self.asked()[0].key)
                except Back:
                    choice = None
                if choice != PLAN:
                    if choice is not None:
                        self.change(choice)
                    self.review()

    def pick(self, comparison) -> tuple[Any, dict] | None:
        """Offer the compared options; the full inference plan (and its config) of the one picked."""
        rows = [(i, _option_title(o)) for i, o in enumerate(comparison.options[:20])]
        if not rows:
            return None
        choice = self.ask.choice("Full plan of:", [*rows, (None, "none: keep the comparison")], 0)
        if choice is None:
            return None
        option, config = comparison.options[choice], self.config()
        config.update(mode="inference", options={"include_cost": True, "cloud": option["cloud"],
                                                 "pricing": option["pricing"]})
        config["gpu"] = {**config.get("gpu", {}), "gpu_type": option["gpu_type"],
                         "tensor_parallel": option["tensor_parallel"]}
        config["model"]["precision"] = option["precision"]
        import reports

        with reports.working("planning the option", self.stderr):
            return plan(config), config


# --------------------------------------------------------------------------- small helpers


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _state(request) -> str:
    return getattr(request.state, "value", request.state)


def _step_words(alias: str) -> str:
    """``h`` -> ``hourly``; other pandas aliases as ``every 15min``."""
    return {"h": "hourly", "D": "daily", "min": "per minute", "W-SUN": "weekly"}.get(alias, f"every {alias}")


def _mean(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


def _user() -> Any:
    """The login name, offered as the requester (none when the system does not say)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return NO_DEFAULT


def _request_by(text: str) -> str:
    from services import check_text

    if not text.strip():
        raise InputError("your name", text, "a name to record on the request")
    return check_text("your name", text.strip())


def _gpu_title(gpu_id: str, degree: int | None = None) -> str:
    import config

    held = "" if degree is None else ("   one GPU holds it" if degree == 1 else f"   holds it on {degree} GPUs")
    return f"{gpu_id:<16}{config.get_gpu(gpu_id).memory_gib:>5g} GB{held}"


def _option_title(option: dict) -> str:
    gpus, cost = option["total_gpus"], "$" + format(option["monthly_gpu_cost"], ",.0f")
    return (f"{option['gpu_type']:<15} TP{option['tensor_parallel']} {option['precision']:<4} "
            f"{gpus:>4} GPU{'s' if gpus != 1 else ' '} {option['cloud']:<9} {cost:>10}/month")


# --------------------------------------------------------------------------- flow


def plan(config: dict):
    """Make the plan of ``config`` exactly as ``commands/forecast.py --config`` does: its typed question, asked
    of the engine."""
    from config_loader import plan_request
    from llm_forecast_engine import LLMForecastEngine

    return LLMForecastEngine().plan(plan_request(config))


def _unused_name(path: Path) -> Path:
    """``path`` with the first ``-2``, ``-3``, ... before its suffix that names no file."""
    return next(candidate for n in range(2, 10_000)
                if not (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists())


def _save(wizard: Wizard, question: str, label: str, default_name: str, write: Callable[[Path], Any],
          offer: bool = True) -> Path | None:
    """Offer to write a file; a name that cannot be written is asked again, an existing file is never replaced
    without asking, and Esc skips the file."""
    try:
        if not wizard.ask.confirm(question, offer):
            return None
        suffix, name = Path(default_name).suffix, default_name
        while True:
            path = wizard.ask.text(f"{label}:", lambda t: parse_output_path(t, suffix, label.lower()), name,
                                   parse_default=True)
            name = str(path)
            if path.exists() and not wizard.ask.confirm(f"{path} exists. Replace it?", False):
                name = str(_unused_name(path))  # Enter now takes a new name, not the same question again
                continue
            try:
                write(path)
            except (PlannerError, OSError) as exc:
                wizard.say_problem(f"Cannot write {path}", exc)
                continue
            wizard.console.print(f"wrote {path}", highlight=False, soft_wrap=True)
            return path
    except Back:
        return None


def _offer_saves(wizard: Wizard, config: dict | None, result) -> None:
    from config_loader import write_json_atomic

    mode = wizard.answers["mode"] if config is None else config["mode"]
    _save(wizard, "Save the plan as JSON?", "Plan file", f"{mode}_plan.json",
          lambda p: write_json_atomic(p, result.to_dict(), "plan file"))
    if config is None:
        a = wizard.answers
        wizard.console.print(f"Plan it again with: python commands/services.py plan {a['service.name']} "
                             f"--horizon-days {default_text(a['service.horizon_days'])} --scenario "
                             f"{a['service.scenario']}", highlight=False, soft_wrap=True)
        return
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


def converse(prompter: Prompter, console, stderr=None) -> dict:
    """Ask every question, review, plan, report and offer to save; return the config that was planned."""
    import reports

    wizard = Wizard(prompter, console, stderr)
    console.print(WELCOME, markup=True, highlight=False)
    try:
        wizard.first_pass()
        result = wizard.plan_until_it_works()
        console.print()
        reports.render(result, console=console)
        config = wizard.config() if wizard.answers["mode"] in CONFIG_MODES else None
        if wizard.answers["mode"] == "compare":
            picked = wizard.pick(result)
            if picked is not None:
                result, config = picked
                console.print()
                reports.render(result, console=console)
        reports.render_in_short(result, console)
        _offer_saves(wizard, config, result)
    finally:
        wizard.close()
    return config or dict(wizard.answers)


def _is_terminal(stream) -> bool:
    """Whether ``stream`` is an open terminal (``False`` when it is closed: ``cmd <&-``)."""
    try:
        return stream is not None and not stream.closed and stream.isatty()
    except (OSError, ValueError):
        return False


def no_terminal(prog: str = "main.py") -> str | None:
    """Why the wizard cannot ask here (stdin or stdout is not a terminal) and what to do instead, else ``None``.
    ``prog``: the name the user started (``main.py``, ``forecast.py``, ``llm-capacity``)."""
    missing = [name for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)) if not _is_terminal(stream)]
    if not missing:
        return None
    what = f"{missing[0]} is not a terminal" if len(missing) == 1 else "stdin and stdout are not terminals"
    return (f"no arguments and no terminal ({what}): pass --mode MODE with its flags or --config FILE (see {prog} "
            f"--help), or run {prog} in a terminal for the interactive wizard")


def run_wizard(stdout=None, stderr=None, input=None, output=None, prog: str = "main.py") -> int:
    """Run the interactive planner; return 0, 2 without a terminal, or 130 when the user leaves.

    ``input``/``output`` are prompt_toolkit ``Input``/``Output`` objects (tests pass a pipe input); by default
    the prompts use the terminal, and without one (stdin or stdout redirected) nothing is asked: one error line
    naming ``prog`` (:func:`no_terminal`).
    """
    import reports

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if input is None and output is None:
        reason = no_terminal(prog)
        if reason:
            print(f"error: {reason}", file=stderr)
            return EXIT_USAGE
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
