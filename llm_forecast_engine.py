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
    CostOptions, ForecastInput, ForecastPlan, GPUComparison, GPUConfig, InputError, LLMWorkloadInput, ModelConfig,
    PlanRequest, ServicePlan, TrainingInput, ValidationReport,
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
        assumptions name it with its fit error. ``progress(done, total)`` hears how long work (a forecast's
        fitting windows) advances.
        """
        from calibration import profile_in_use

        _checked("request", request, PlanRequest, optional=False)
        _check_price_file(request.cost)
        if request.mode == "validate":
            return self.validate(request.measurements, request.profile)
        with profile_in_use(request.profile) as profile:
            result = self._answer(request, progress)
        if profile is None:
            return result
        return dataclasses.replace(result, assumptions=[f"efficiencies: {profile.description}", *result.assumptions])

    def _answer(self, request: PlanRequest, progress):
        if request.mode == "inference":
            return self.generate_inference_plan(request.workload, request.model, request.gpu,
                                                include_cost=request.include_cost, cost=request.cost)
        if request.mode == "compare":
            return dataclasses.replace(self.compare_gpu_options(request.workload, request.model, request.gpu,
                                                                cost=request.cost), inputs=request.to_config())
        if request.mode == "training":
            return self.generate_training_plan(request.training, request.model, request.gpu,
                                               include_cost=request.include_cost, cost=request.cost)
        return self.forecast(request.forecast, request.model, request.gpu, inputs=request.to_config(),
                             progress=progress)

    # ----------------------------------------------------------------- inference

    def generate_inference_plan(self, workload: LLMWorkloadInput, model: ModelConfig,
                                gpu: GPUConfig | None = None, include_cost: bool = False,
                                cost: CostOptions | None = None):
        """Plan serving ``workload`` on ``model``; see :func:`inference_engine.plan_inference`."""
        from inference_engine import plan_inference

        _check_inputs(workload=(workload, LLMWorkloadInput), model=(model, ModelConfig))
        _check_options(gpu, include_cost, cost)
        return plan_inference(workload, model, gpu or GPUConfig(), include_cost=include_cost, cost=cost)

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
        inputs = PlanRequest("compare", model=model, workload=workload, gpu=gpu, cost=cost).to_config()
        return dataclasses.replace(comparison, inputs=inputs)

    # ----------------------------------------------------------------- training

    def generate_training_plan(self, training: TrainingInput, model: ModelConfig,
                               gpu: GPUConfig | None = None, include_cost: bool = False,
                               cost: CostOptions | None = None):
        """Plan a training or fine-tuning job; see :func:`training_engine.plan_training`."""
        from training_engine import plan_training

        _check_inputs(training=(training, TrainingInput), model=(model, ModelConfig))
        _check_options(gpu, include_cost, cost)
        return plan_training(training, model, gpu or GPUConfig(), include_cost=include_cost, cost=cost)

    # ----------------------------------------------------------------- demand forecast

    def forecast(self, question: ForecastInput, model: ModelConfig | None = None, gpu: GPUConfig | None = None, *,
                 inputs: dict | None = None, progress: Callable[[int, int], None] | None = None) -> ForecastPlan:
        """Forecast demand from ``question.history`` and, with a ``model``, the replicas and GPUs it needs.

        See :func:`capacity_timeline.plan_forecast`; ``inputs`` (the question as a config file) defaults to
        the one these arguments make.
        """
        from capacity_timeline import plan_forecast

        _checked("forecast", question, ForecastInput, optional=False)
        _checked("model", model, ModelConfig)
        _checked("gpu", gpu, GPUConfig)
        gpu = gpu or GPUConfig()
        if inputs is None:
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

    def forecast_many(self, frame, service_column: str = "service", *, horizon_days: float = 30,
                      method: str = "auto", timestamp_column: str | None = None, value_column: str | None = None,
                      frequency: str | None = None, processes: int | None = None) -> dict[str, dict]:
        """Forecast every service of a long frame in parallel; see :func:`forecasting.forecast_many`."""
        from forecasting import forecast_many

        return forecast_many(frame, service_column, timestamp_column=timestamp_column, value_column=value_column,
                             horizon_days=horizon_days, method=method, frequency=frequency, processes=processes)

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

    def service_request(self, name: str, horizon_days: float = 30, scenario: str = "pessimistic") -> PlanRequest:
        """The question a registered service asks: a forecast of its traffic history, else its current traffic.

        The service's registered tokens and latency targets are given values (they win over the history's
        token columns); its replicas are the current capacity.
        """
        service = self.registry.get_service(name)
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

        The GPUs needed are the peak of the forecast's capacity timeline (or the inference plan's total on the
        current traffic). A request is opened only when more GPUs are needed and no request of this service is
        open (draft, submitted or approved); an open one is returned instead, with a note.
        """
        request = self.service_request(name, horizon_days, scenario)
        plan = self.plan(request)
        service = self.registry.get_service(name)
        required = _peak_gpus(plan) if request.mode == "forecast" else plan.gpu_resources.total_gpus
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
                f"no new request opened: request {existing.id} ({existing.state}, {existing.gpus} GPUs) is already "
                f"open for {result.service}"))
        horizon = f", {result.horizon_days:g} days" if result.horizon_days else ""
        reason = (f"plan ({result.basis}{horizon}): {result.required_gpus} {result.gpu_type} needed, "
                  f"{result.current_gpus} held")
        summary = {k: v for k, v in result.to_dict().items() if k not in ("request", "plan")}
        opened = self.registry.create_request(result.service, gpus=result.additional_gpus, reason=reason, by=by,
                                              plan=summary)
        return dataclasses.replace(result, request=opened.to_dict())


def _peak_gpus(plan: ForecastPlan) -> int:
    """The most GPUs any period of the forecast's capacity timeline needs."""
    return max(int(period["gpus_needed"]) for period in plan.capacity_timeline)


def _check_inputs(**required) -> None:
    for name, (value, kind) in required.items():
        _checked(name, value, kind, optional=False)


def _check_options(gpu, include_cost, cost) -> None:
    _checked("gpu", gpu, GPUConfig)
    _checked("cost", cost, CostOptions)
    if not isinstance(include_cost, bool):
        raise InputError("include_cost", include_cost, "True or False")


def _check_price_file(cost: CostOptions | None) -> None:
    """Refuse a bad ``--price-file`` before any planning (the file is cached for the quotes that follow)."""
    if cost is not None and cost.price_file:
        import pricing

        pricing.load_price_file(cost.price_file)
