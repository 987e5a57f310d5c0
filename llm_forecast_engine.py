"""The integrated engine: one object composing the inference, training, forecasting, cost and
service layers. It prints nothing and knows no exit codes (the CLI and the wizard do that).

Example (SEED.md)::

    engine = LLMForecastEngine()
    plan = engine.generate_inference_plan(workload, model, include_cost=True)
"""

from __future__ import annotations

from models import CostOptions, GPUConfig, InputError, LLMWorkloadInput, ModelConfig, TrainingInput


def _checked(name: str, value, kind: type, *, optional: bool = True):
    """``value`` if it is a ``kind`` (or ``None`` where optional); an :class:`InputError` otherwise, so a dict or a
    string where a model object belongs is one clear error, not an AttributeError deep in a planner."""
    if (value is None and optional) or isinstance(value, kind):
        return value
    raise InputError(name, value, f"a models.{kind.__name__}" + (" or None" if optional else ""))


class LLMForecastEngine:
    """Facade over the planners; every method validates its inputs and returns a result object."""

    def __init__(self, db_path: str | None = None):
        self._db_path = db_path
        self._registry = None

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

    def plan_service(self, name: str, horizon_days: float = 30, scenario: str = "pessimistic",
                     request_by: str | None = None) -> dict:
        """Capacity plan for a registered service; see :func:`services.plan_service`."""
        from services import plan_service

        return plan_service(self.registry, self, name, horizon_days=horizon_days, scenario=scenario,
                            request_by=request_by)

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
                            gpu_types: list[str] | None = None, precisions: list[str] | None = None) -> list[dict]:
        """GPU type x tensor parallel x precision options, cheapest first among those that meet the targets;
        ``.rejected`` on the result lists the others with their reason."""
        from inference_engine import compare_options

        _check_inputs(workload=(workload, LLMWorkloadInput), model=(model, ModelConfig))
        _check_options(gpu, False, cost)
        return compare_options(workload, model, gpu or GPUConfig(), cost=cost, gpu_types=gpu_types, precisions=precisions)

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

    def forecast_future_needs(self, rps_history, model: ModelConfig | None = None, horizon_days: float = 30,
                              scenario: str = "pessimistic", *, method: str = "auto",
                              workload: LLMWorkloadInput | None = None, gpu: GPUConfig | None = None,
                              current_replicas: int | None = None, timestamp_column: str | None = None,
                              value_column: str | None = None, frequency: str | None = None) -> dict:
        """Forecast demand from ``rps_history`` and, with a ``model``, the replicas and GPUs it needs.

        ``rps_history`` is anything :func:`demand_history.load_history` reads (the seed's list of
        ``(datetime, rps)``, a pandas Series/DataFrame, a CSV path). ``workload`` supplies token
        averages and SLOs (its ``requests_per_second`` is not used); without a model the forecast
        stands alone. See :func:`capacity_timeline.forecast_future_needs` for the returned keys.
        """
        from capacity_timeline import forecast_future_needs

        _checked("model", model, ModelConfig)
        _checked("workload", workload, LLMWorkloadInput)
        _checked("gpu", gpu, GPUConfig)
        return forecast_future_needs(rps_history, model, horizon_days, scenario, method=method, workload=workload,
                                     gpu=gpu, current_replicas=current_replicas, timestamp_column=timestamp_column,
                                     value_column=value_column, frequency=frequency)

    def forecast_many(self, frame, service_column: str = "service", *, horizon_days: float = 30,
                      method: str = "auto", timestamp_column: str | None = None, value_column: str | None = None,
                      frequency: str | None = None, processes: int | None = None) -> dict[str, dict]:
        """Forecast every service of a long frame in parallel; see :func:`forecasting.forecast_many`."""
        from forecasting import forecast_many

        return forecast_many(frame, service_column, timestamp_column=timestamp_column, value_column=value_column,
                             horizon_days=horizon_days, method=method, frequency=frequency, processes=processes)


def _check_inputs(**required) -> None:
    for name, (value, kind) in required.items():
        _checked(name, value, kind, optional=False)


def _check_options(gpu, include_cost, cost) -> None:
    _checked("gpu", gpu, GPUConfig)
    _checked("cost", cost, CostOptions)
    if not isinstance(include_cost, bool):
        raise InputError("include_cost", include_cost, "True or False")
