"""The integrated engine: the one place where a question becomes a plan.

Every door (the CLI, the wizard, ``services.py plan``, Python callers) turns its input into the typed
inputs of ``models.py`` and asks this engine, so the same question gets the same plan whichever door
asked it. It prints nothing and knows no exit codes (the doors do that).

Example (SEED.md)::

    engine = LLMForecastEngine()
    plan = engine.generate_inference_plan(workload, model, include_cost=True)
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from models import (
    CostOptions, FleetInput, FleetPlan, ForecastInput, ForecastPlan, GPUComparison, GPUConfig, InputError, LatencyInput,
    LatencyPlan, LLMWorkloadInput, ModelConfig, PlanRequest, ServicePlan, TrainingInput, ValidationReport,
)


def _checked(name: str, value, kind: type, *, optional: bool = True):
    """``value`` if it is a ``kind`` (or ``None`` where optional); an :class:`InputError` otherwise, so a dict or a
    string where a model object belongs is one clear error, not an AttributeError deep in a planner."""
    if (value is None and optional) or isinstance(value, kind):
        return value
    raise InputError(name, value, f"a models.{kind.__name__}" + (" or None" if optional else ""))


class LLMForecastEngine:
    """Composes the planners; every method validates its inputs and returns a typed result."""

    def __init__(self, db_path: str | None = None, *, registry=None):
        self._db_path = db_path
        self._registry = registry
        """An open :class:`services.Registry` to use (the services CLI passes its own), else opened on first use."""

    # ----------------------------------------------------------------- one question, any mode

    def plan(self, request: PlanRequest, *, progress: Callable[[int, int], None] | None = None):
        """Answer ``request`` (any mode): what the CLI, the wizard and config files call.

        With ``request.profile`` every planner uses that calibration profile's efficiencies, and the result's
        assumptions name it with its fit error. ``progress(done, total, description=None)`` hears how long work
        advances (a forecast's fitting windows, a fleet's services).
        """
        from calibration import profile_in_use

        _checked("request", request, PlanRequest, optional=False)
        if request.mode == "validate":
            return self.validate(request.measurements, request.profile)
        with profile_in_use(request.profile) as profile:
            result = self._answer(request, progress)
        named = [f"efficiencies: {profile.description}"] if profile is not None else []
        return dataclasses.replace(result, inputs=request.to_config(), assumptions=[*named, *result.assumptions])

    def _answer(self, request: PlanRequest, progress):
        if request.mode == "fleet":
            return self.plan_fleet(request.forecast, request.fleet, request.model, request.gpu,
                                   include_cost=request.include_cost, cost=request.cost, profile=request.profile,
                                   progress=progress)
        if request.mode == "inference":
            return self.generate_inference_plan(request.workload, request.model, request.gpu,
                                                include_cost=request.include_cost, cost=request.cost)
        if request.mode == "compare":
            return self.compare_gpu_options(request.workload, request.model, request.gpu, cost=request.cost)
        if request.mode == "training":
            return self.generate_training_plan(request.training, request.model, request.gpu,
                                               include_cost=request.include_cost, cost=request.cost)
        if request.mode == "latency":
            return self.plan_latency(request.latency, request.model, request.gpu)
        return self.forecast(request.forecast, request.model, request.gpu, progress=progress)

    # ----------------------------------------------------------------- inference

    def generate_inference_plan(self, workload: LLMWorkloadInput, model: ModelConfig,
                                gpu: GPUConfig | None = None, include_cost: bool = False,
                                cost: CostOptions | None = None):
        """Plan serving ``workload`` on ``model``; see :func:`inference_engine.plan_inference`."""
        from inference_engine import plan_inference

        _check_inputs(workload=(workload, LLMWorkloadInput), model=(model, ModelConfig))
        _check_options(gpu, include_cost, cost)
        gpu = gpu or GPUConfig()
        return _asked(plan_inference(workload, model, gpu, include_cost=include_cost, cost=cost), "inference",
                      workload=workload, model=model, gpu=gpu, include_cost=include_cost, cost=cost)

    def compare_gpu_options(self, workload: LLMWorkloadInput, model: ModelConfig,
                            gpu: GPUConfig | None = None, cost: CostOptions | None = None,
                            gpu_types: list[str] | None = None, precisions: list[str] | None = None) -> GPUComparison:
        """GPU type x tensor parallel x precision options, cheapest first among those that meet the targets;
        ``.rejected`` on the result lists the others with their reason."""
        from inference_engine import compare_options

        _check_inputs(workload=(workload, LLMWorkloadInput), model=(model, ModelConfig))
        _check_options(gpu, False, cost)
        gpu = gpu or GPUConfig()
        comparison = compare_options(workload, model, gpu, cost=cost, gpu_types=gpu_types, precisions=precisions)
        return _asked(comparison, "compare", model=model, workload=workload, gpu=gpu, cost=cost)

    def plan_latency(self, question: LatencyInput, model: ModelConfig, gpu: GPUConfig) -> LatencyPlan:
        """What a static-batch benchmark measures (``vllm bench latency``, ``trtllm-bench latency``) on ``gpu``;
        see :func:`inference_engine.plan_latency`."""
        from inference_engine import plan_latency

        _check_inputs(latency=(question, LatencyInput), model=(model, ModelConfig), gpu=(gpu, GPUConfig))
        plan = plan_latency(model, gpu, question.batch_size, question.input_tokens, question.output_tokens,
                            ttft_slo_ms=question.ttft_slo_ms, itl_slo_ms=question.itl_slo_ms)
        return _asked(plan, "latency", model=model, gpu=gpu, latency=question)

    # ----------------------------------------------------------------- training

    def generate_training_plan(self, training: TrainingInput, model: ModelConfig,
                               gpu: GPUConfig | None = None, include_cost: bool = False,
                               cost: CostOptions | None = None):
        """Plan a training or fine-tuning job; see :func:`training_engine.plan_training`."""
        from training_engine import plan_training

        _check_inputs(training=(training, TrainingInput), model=(model, ModelConfig))
        _check_options(gpu, include_cost, cost)
        gpu = gpu or GPUConfig()
        return _asked(plan_training(training, model, gpu, include_cost=include_cost, cost=cost), "training",
                      training=training, model=model, gpu=gpu, include_cost=include_cost, cost=cost)

    # ----------------------------------------------------------------- demand forecast

    def forecast(self, question: ForecastInput, model: ModelConfig | None = None, gpu: GPUConfig | None = None, *,
                 progress: Callable[[int, int], None] | None = None) -> ForecastPlan:
        """Forecast demand from ``question.history`` and, with a ``model``, the provisioning schedule and the
        scaling advice; see :func:`capacity_timeline.plan_forecast`."""
        from capacity_timeline import plan_forecast

        _checked("forecast", question, ForecastInput, optional=False)
        _checked("model", model, ModelConfig)
        _checked("gpu", gpu, GPUConfig)
        gpu = gpu or GPUConfig()
        inputs = PlanRequest("forecast", model=model, gpu=gpu, forecast=question).to_config()
        return plan_forecast(question, model, gpu, inputs=inputs, progress=progress)

    def forecast_future_needs(self, rps_history, model: ModelConfig | None = None, horizon_days: float = 30,
                              scenario: str = "pessimistic", *, method: str = "auto",
                              workload: LLMWorkloadInput | None = None, gpu: GPUConfig | None = None,
                              current_replicas: int | None = None, timestamp_column: str | None = None,
                              value_column: str | None = None, frequency: str | None = None,
                              peak_load_multiplier: float | None = None) -> ForecastPlan:
        """The seed's forecast call: :meth:`forecast` with the question given as arguments.

        ``rps_history`` is anything :func:`demand_history.load_history` reads (the seed's list of
        ``(datetime, rps)``, a pandas Series/DataFrame, a CSV path). ``workload`` supplies the tokens per
        request and the latency targets (its ``requests_per_second`` and ``peak_load_multiplier`` are not
        used: the forecast is the load; give ``peak_load_multiplier`` for bursts within a period).
        """
        _checked("workload", workload, LLMWorkloadInput)
        shape = {} if workload is None else {
            "avg_input_tokens": workload.avg_input_tokens, "avg_output_tokens": workload.avg_output_tokens,
            "ttft_slo_ms": workload.ttft_slo_ms, "itl_slo_ms": workload.itl_slo_ms}
        question = ForecastInput(
            history=rps_history, horizon_days=horizon_days, scenario=scenario, method=method,
            current_replicas=current_replicas, timestamp_column=timestamp_column, value_column=value_column,
            frequency=frequency, peak_load_multiplier=peak_load_multiplier, **shape)
        return self.forecast(question, model, gpu)

    # ----------------------------------------------------------------- fleets

    def plan_fleet(self, question: ForecastInput, fleet: FleetInput | None = None, model: ModelConfig | None = None,
                   gpu: GPUConfig | None = None, *, include_cost: bool = False, cost: CostOptions | None = None,
                   profile: str | None = None, progress=None, executor=None) -> FleetPlan:
        """Forecast and plan every service of a long table: :meth:`forecast` per service, and the fleet's totals.

        ``question.history`` is the table (CSV or Parquet path, or a pandas frame: one row per service and
        period, ``fleet.service_column`` naming the service); its other fields, ``model`` and ``gpu`` are what
        every service asks unless its own columns (``fleet.SERVICE_COLUMNS``) say otherwise. Services run on
        ``fleet.executor`` (or on ``executor``, a ``fleet.LocalExecutor``/``DaskExecutor`` of the caller's, such
        as ``DaskExecutor(client=my_client)``); a service that fails is reported and the others complete. With
        ``fleet.retry_failed`` only the services that failed in that earlier result (or that it lacks) are
        planned, and its successful records are kept. ``progress(done, total, description)`` hears the services
        planned so far.
        """
        from fleet import (
            fleet_totals, open_executor, read_result, read_table, retry_split, run_tasks, service_tasks,
            unused_fleet_values,
        )

        _checked("forecast", question, ForecastInput, optional=False)
        fleet = _checked("fleet", fleet, FleetInput) or FleetInput()
        _checked("model", model, ModelConfig)
        _check_options(gpu, include_cost, cost)
        inputs = PlanRequest("fleet", model=model, gpu=gpu or GPUConfig(), forecast=question, fleet=fleet,
                             include_cost=include_cost, cost=cost, profile=profile).to_config()
        kept = {}
        if fleet.retry_failed is not None:
            kept = retry_split(read_result(fleet.retry_failed), inputs, fleet.retry_failed)
        frame, warnings = read_table(question.history, fleet.service_column)
        warnings += unused_fleet_values(frame, fleet.service_column, model, gpu or GPUConfig())
        tasks, failed = service_tasks(frame, fleet.service_column, question, fleet, model, gpu or GPUConfig(),
                                      include_cost=include_cost, cost=cost, profile=profile)
        names = {task.service for task in tasks} | {row["service"] for row in failed}
        records, where = run_tasks([t for t in tasks if t.service not in kept], LLMForecastEngine().plan,
                                   executor or open_executor(fleet), progress=progress,
                                   services_per_partition=fleet.services_per_partition)
        records += [row for row in failed if row["service"] not in kept] + [kept[n] for n in kept if n in names]
        notes = _retry_notes(kept, names, fleet.retry_failed)
        rows = tuple(sorted(records, key=lambda row: row["service"]))
        return FleetPlan(inputs=inputs, services=rows, totals=fleet_totals(list(rows)), executor=where,
                         warnings=warnings + notes[1:], assumptions=_FLEET_ASSUMPTIONS + notes[:1])

    def plan_services(self, horizon_days: float = 30, scenario: str = "pessimistic", *,
                      fleet: FleetInput | None = None, request_by: str | None = None, progress=None,
                      executor=None) -> FleetPlan:
        """:meth:`plan_service` for every registered service at once, on ``fleet.executor``; with ``request_by``
        a draft request for each service that needs more GPUs and has no request open."""
        from fleet import ServiceTask, error_line, failed_row, fleet_totals, open_executor, run_tasks

        fleet = _checked("fleet", fleet, FleetInput) or FleetInput()
        tasks, failed = [], []
        for service in self._planning_registry().list_services():
            try:
                request = self.service_request(service.name, horizon_days, scenario)
            except InputError as exc:
                failed.append(failed_row(service.name, error_line(exc), team=service.team, model=service.model))
                continue
            tasks.append(ServiceTask(service.name, request, team=service.team, current_gpus=service.gpus,
                                     current_gpus_basis="registry"))
        records, where = run_tasks(tasks, LLMForecastEngine().plan, executor or open_executor(fleet),
                                   progress=progress, services_per_partition=fleet.services_per_partition)
        rows = sorted(records + failed, key=lambda row: row["service"])
        if request_by is not None:
            rows = [self._row_request(row, horizon_days, request_by) for row in rows]
        inputs = {"mode": "fleet", "registry": str(self.registry.url), "horizon_days": horizon_days,
                  "scenario": scenario, "fleet": dataclasses.asdict(fleet)}
        requests = tuple(_request_summary(row) for row in rows if row.get("request"))
        return FleetPlan(inputs=inputs, services=tuple(rows), totals=fleet_totals(rows), executor=where,
                         assumptions=list(_FLEET_ASSUMPTIONS), requests=requests)

    def _row_request(self, row: dict, horizon_days: float, by: str) -> dict:
        """A registered service's fleet record with the draft request its shortfall calls for (see
        :meth:`plan_service`): the same rule, one service at a time."""
        if row["status"] != "ok" or row["required_gpus"] is None:
            return row
        result = ServicePlan(service=row["service"], basis=row["basis"], gpu_type=row["gpu_type"],
                             current_gpus=row["current_gpus"], required_gpus=row["required_gpus"],
                             additional_gpus=row["additional_gpus"], spare_gpus=row["spare_gpus"],
                             horizon_days=horizon_days if row["basis"] == "forecast" else None, plan=row["plan"])
        opened = self._request_for(result, by)
        return {**row, "request": opened.request, "note": opened.note}

    # ----------------------------------------------------------------- calibration

    def validate(self, measurements: str | None = None, profile: str | None = None) -> ValidationReport:
        """Predicted against measured for every row of a measurements CSV (default: the shipped calibration data),
        with a calibration profile's efficiencies (default: the shipped fits); see :func:`calibration.validate`."""
        from calibration import validate

        return validate(measurements, profile)

    # ----------------------------------------------------------------- services

    @property
    def registry(self):
        """The service registry (:class:`services.Registry`), opened on first use.

        On ``db_path`` if given, else ``$LLM_CAPACITY_DB``, else ``services.db`` in the user's
        data directory; a ``postgresql://`` URL works too.
        """
        if self._registry is None:
            from services import Registry

            self._registry = Registry(self._db_path)
        return self._registry

    def _planning_registry(self):
        """The registry to plan from: one that is not there is a wrong path (refused), not a new registry."""
        if self._registry is None:
            from services import Registry

            self._registry = Registry(self._db_path, must_exist=True)
        return self._registry

    def register_service(self, name: str, **fields):
        """Add a service to the registry (:meth:`services.Registry.add_service`); GPUs held, when not given, are
        its replicas x the fewest GPUs one replica of its model needs on its GPU type (:func:`replica_gpus`)."""
        if fields.get("gpus") is None and fields.get("replicas"):
            fields["gpus"] = fields["replicas"] * replica_gpus(fields["model"], fields["gpu_type"],
                                                              fields.get("precision"))
        return self.registry.add_service(name, **fields)

    def service_request(self, name: str, horizon_days: float = 30, scenario: str = "pessimistic") -> PlanRequest:
        """The question a registered service asks: a forecast of its traffic history, else its current traffic.

        The service's registered tokens and latency targets are given values (they win over the history's
        token columns); its replicas are the current capacity.
        """
        service = self._planning_registry().get_service(name)
        traffic = self.registry.traffic_frame(name)
        model = ModelConfig(model=service.model, precision=service.precision)
        gpu = GPUConfig(gpu_type=service.gpu_type)
        if len(traffic):
            question = ForecastInput(
                history=traffic, horizon_days=horizon_days, scenario=scenario,
                current_replicas=service.replicas or None, avg_input_tokens=service.avg_input_tokens,
                avg_output_tokens=service.avg_output_tokens, ttft_slo_ms=service.ttft_slo_ms,
                itl_slo_ms=service.itl_slo_ms)
            return PlanRequest("forecast", model=model, gpu=gpu, forecast=question)
        if not service.has_traffic:
            raise InputError(f"service {service.name}", "no traffic",
                             "rps and token averages (`update --rps --input-tokens --output-tokens`) or a traffic "
                             "history (`traffic import`)")
        workload = LLMWorkloadInput(requests_per_second=service.requests_per_second,
                                    avg_input_tokens=service.avg_input_tokens,
                                    avg_output_tokens=service.avg_output_tokens,
                                    ttft_slo_ms=service.ttft_slo_ms, itl_slo_ms=service.itl_slo_ms)
        return PlanRequest("inference", model=model, workload=workload, gpu=gpu)

    def plan_service(self, name: str, horizon_days: float = 30, scenario: str = "pessimistic",
                     request_by: str | None = None) -> ServicePlan:
        """Capacity plan for a registered service, and with ``request_by`` a draft request for the shortfall.

        The GPUs needed are the most the forecast's provisioning schedule holds (or the inference plan's total on
        the current traffic), as :func:`fleet.required_gpus` reads them. A request is opened only when more GPUs are needed and no request of this service is
        open (draft, submitted or approved); an open one is returned instead, with a note.
        """
        request = self.service_request(name, horizon_days, scenario)
        plan = self.plan(request)
        from fleet import required_gpus

        service = self.registry.get_service(name)
        required = required_gpus(plan)
        result = ServicePlan(
            service=service.name, basis="forecast" if request.mode == "forecast" else "current traffic",
            gpu_type=service.gpu_type, current_gpus=service.gpus, required_gpus=required,
            additional_gpus=max(required - service.gpus, 0), spare_gpus=max(service.gpus - required, 0),
            horizon_days=horizon_days if request.mode == "forecast" else None, plan=plan)
        return result if request_by is None else self._request_for(result, request_by)

    def _request_for(self, result: ServicePlan, by: str) -> ServicePlan:
        """``result`` with the draft request it calls for (or the open one that already stands)."""
        if result.additional_gpus == 0:
            return dataclasses.replace(result, note=f"no request opened: the service holds {result.current_gpus} "
                                                    f"GPUs and needs {result.required_gpus}")
        from services import OPEN_STATES

        open_requests = [r for r in self.registry.list_requests(service=result.service) if r.state in OPEN_STATES]
        if open_requests:
            existing = open_requests[-1]
            return dataclasses.replace(result, request=existing.to_dict(), note=(
                f"no new request opened: request {existing.id} ({existing.state.value}, {existing.gpus} GPUs) is already "
                f"open for {result.service}"))
        horizon = f", {result.horizon_days:g} days" if result.horizon_days else ""
        reason = (f"plan ({result.basis}{horizon}): {result.required_gpus} {result.gpu_type} needed, "
                  f"{result.current_gpus} held")
        summary = {k: v for k, v in result.to_dict().items() if k not in ("request", "plan")}
        opened = self.registry.create_request(result.service, gpus=result.additional_gpus, reason=reason, by=by,
                                              plan=summary)
        return dataclasses.replace(result, request=opened.to_dict())


_FLEET_ASSUMPTIONS = [
    "each service's required GPUs are the most its provisioning schedule holds at the planned scenario (its inference "
    "plan on current traffic when it has no history); additional and spare GPUs compare them with the GPUs it "
    "holds now: given, from the registry, or assumed where current_gpus_basis says so",
    "totals by date add up the services' provisioning steps starting that day (each service holds its GPUs for "
    "the whole step); GPUs shared between services within a step would need fewer",
]


def _request_summary(row: dict) -> dict:
    """A fleet record's capacity request in brief: opened by this run (no note) or already open (a note says so)."""
    request = row["request"]
    return {"id": request["id"], "service": row["service"], "gpus": request["gpus"],
            "gpu_type": request["gpu_type"], "state": request["state"], "opened": row.get("note") is None}


def _retry_notes(kept: dict, names: set, path: str | None) -> list[str]:
    """What a ``--retry-failed`` rerun kept (an assumption) and left out (a warning)."""
    if path is None:
        return []
    gone = sorted(set(kept) - names)
    notes = [f"{len(set(kept) & names):,} services kept as planned in {path}; the others planned again"]
    if gone:
        notes.append(f"{len(gone):,} services of {path} are not in this table and were left out: "
                     + ", ".join(gone[:10]) + (" ..." if len(gone) > 10 else ""))
    return notes


def replica_gpus(model: str, gpu_type: str, precision: str | None = None) -> int:
    """The fewest GPUs of ``gpu_type`` whose memory holds one replica of ``model`` (1 when none do: the plan says
    so)."""
    import config
    from config_loader import resolve_model
    from inference_engine import gpus_that_hold

    asked, arch, _ = resolve_model(ModelConfig(model=model, precision=precision))
    gpu = config.get_gpu(gpu_type).id
    held = dict((g.id, degree) for g, degree in gpus_that_hold(arch, asked.precision, asked.effective_kv_precision,
                                                                REPLICA_SIZING_TOKENS))
    return held.get(gpu, 1)


REPLICA_SIZING_TOKENS = 2048
"""Tokens of the one sequence a replica must hold when its GPU count is sized from the model alone."""


def _asked(result, mode: str, **question):
    """``result`` carrying its question (``PlanRequest(mode, **question).to_config()``) as ``inputs``."""
    return dataclasses.replace(result, inputs=PlanRequest(mode, **question).to_config())


def _check_inputs(**required) -> None:
    for name, (value, kind) in required.items():
        _checked(name, value, kind, optional=False)


def _check_options(gpu, include_cost, cost) -> None:
    _checked("gpu", gpu, GPUConfig)
    _checked("cost", cost, CostOptions)
    if not isinstance(include_cost, bool):
        raise InputError("include_cost", include_cost, "True or False")
    _check_prices(cost)


def _check_prices(cost: CostOptions | None) -> None:
    """Refuse a bad ``--price-file`` (the file is cached for the quotes that follow) or a region the prices do not
    list, before any planning."""
    if cost is None:
        return
    import pricing

    if cost.price_file:
        pricing.load_price_file(cost.price_file)
    pricing.check_region(cost)
