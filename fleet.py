"""Fleet planning: many services' traffic in one long table, each service planned on local processes or Dask.

The flow (``LLMForecastEngine.plan_fleet`` and ``plan_services`` drive it)::

    read_table(history) -> long frame -> service_tasks() -> one PlanRequest per service (its rows, its columns)
      -> partitions of services -> executor (LocalExecutor | DaskExecutor) runs plan_partition on each
      -> one record per service (service_row / failed_row) -> fleet_totals() -> models.FleetPlan

``plan_partition`` is the one function every executor runs, on a batch of services: the same plans whichever
ran them. A service that fails is a record with its error line; the rest complete. Workers load the libraries
and catalogs once (``warm_worker``: the process pool's initializer, a Dask worker plugin) and plan with one BLAS
thread each (PERF_NOTES item 1: the limit is set after scipy's BLAS is loaded, so it reaches it).

pandas, pyarrow and dask are imported inside the functions that use them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from models import (
    MODEL_OPTION_KEYS, FleetInput, ForecastInput, ForecastPlan, GPUConfig, InferencePlan, InputError, ModelConfig,
    PlannerError, PlanRequest, check_number,
)

SERVICE_COLUMNS = ("model", "precision", "gpu_type", "team", "current_replicas", "current_gpus", "ttft_slo_ms",
                   "itl_slo_ms")
"""Per-service columns of a fleet table: one value per service, overriding the fleet's flags for it."""
ROW_KEYS = ("service", "status", "error", "team", "model", "gpu_type", "basis", "current_gpus", "current_gpus_basis",
            "required_gpus", "additional_gpus", "spare_gpus", "peak_demand_rps", "peak_at", "shortfall_at", "plan")
"""Keys of every service record, in order (a failed service has them too, ``None`` where unknown)."""
PLAN_RECORD_KEYS = ("inputs", "history", "forecast", "capacity_timeline")
"""Keys of a service's plan left out of its fleet record: the question, and the per-period records (its
``provisioning_schedule`` keeps each day's or week's need)."""
PARTITIONS_PER_WORKER = 4
"""Partitions per worker by default: enough to balance uneven services, few enough to ship little."""
MAX_SERVICES_PER_PARTITION = 100
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
NO_TEAM = "(no team)"
MAX_ERROR_CHARS = 500
DASK_CONNECT_TIMEOUT_S = 10
PARQUET_SUFFIXES = (".parquet", ".pq")
META_KEY = b"llm_capacity_fleet"
"""Parquet schema metadata key of a fleet result: its inputs, totals and which columns hold JSON."""
QUESTION_KEYS_IGNORED_ON_RETRY = {"fleet": ("executor", "dask_scheduler", "workers", "retry_failed",
                                            "services_per_partition"), "forecast": ("history",)}
"""Keys that may differ between a run and its ``--retry-failed`` rerun (where and how it ran, the table's path)."""


@dataclass(frozen=True)
class ServiceTask:
    """One service's question, with what its record needs that the plan does not say."""

    service: str
    request: PlanRequest
    team: str | None = None
    current_gpus: int | None = None
    """GPUs the service holds now, when known apart from its plan (the registry, a ``current_gpus`` column)."""
    current_gpus_basis: str = "given"


# --------------------------------------------------------------------------- the long table


def read_table(source: Any, service_column: str) -> tuple[Any, list[str]]:
    """The long table (a CSV or Parquet path, or a pandas frame) with a usable ``service_column``, and warnings."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source
    elif isinstance(source, (str, os.PathLike)):
        from config_loader import check_input_file

        check_input_file(os.fspath(source), "--history", max_bytes=None)  # a missing file says so (pyarrow: "None")
        frame = _read_parquet(source) if Path(source).suffix.lower() in PARQUET_SUFFIXES else _read_csv(source)
    else:
        raise InputError("forecast.history", type(source).__name__,
                         "a fleet table: a CSV or Parquet path or a pandas DataFrame with a service column")
    if service_column not in frame.columns:
        raise InputError("--service-column", service_column,
                         "a column of the table: " + ", ".join(map(str, frame.columns)))
    unnamed = int(frame[service_column].isna().sum())
    if unnamed == len(frame):
        raise InputError("--history", str(source) if not isinstance(source, pd.DataFrame) else "data frame",
                         f"rows with a service name in column {service_column!r}")
    warnings = [f"{unnamed:,} rows without a service name in {service_column!r} were left out"] if unnamed else []
    return (frame.dropna(subset=[service_column]) if unnamed else frame), warnings


def _read_csv(path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise InputError("--history", str(path), f"a readable CSV or Parquet file ({exc.strerror})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError("--history", str(path), f"a CSV table ({_first_line(exc)})") from None


def _read_parquet(path):
    pq = _pyarrow_parquet("--history")
    import pyarrow as pa

    try:
        return pq.read_table(path).to_pandas()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise InputError("--history", str(path), f"a readable Parquet file ({exc.strerror})") from None
    except (pa.ArrowException, OSError) as exc:
        raise InputError("--history", str(path), f"a Parquet file ({_first_line(exc)})") from None


def _pyarrow_parquet(field_name: str):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(field_name, "a .parquet file", "pyarrow installed (pip install pyarrow), or a CSV file") from None
    return pq


def service_tasks(frame, service_column: str, question: ForecastInput, fleet: FleetInput,
                  model: ModelConfig | None, gpu: GPUConfig, **options) -> tuple[list[ServiceTask], list[dict]]:
    """One task per service of ``frame`` (by name) and a failed record for each whose own columns are unusable.

    ``options`` are the other :class:`PlanRequest` fields every service shares (``include_cost``, ``cost``,
    ``profile``).
    """
    columns = [c for c in SERVICE_COLUMNS if c in frame.columns]
    tasks, failed = [], []
    for key, part in frame.groupby(service_column, sort=True):
        name = str(key)
        try:
            values = _service_values(part, columns)
            history = part.drop(columns=[service_column, *columns])
            tasks.append(_task(name, history, values, question, fleet, model, gpu, options))
        except InputError as exc:
            failed.append(failed_row(name, error_line(exc), team=None))
    return tasks, failed


def unused_fleet_values(frame, service_column: str, model: ModelConfig | None, gpu: GPUConfig) -> list[str]:
    """Warnings for a fleet-wide model or GPU that no service uses: every service names its own in its column."""
    given = {"model": model.model or model.model_config_path if model is not None else None, "gpu_type": gpu.gpu_type}
    flags = {"model": "--model", "gpu_type": "--gpu-type"}
    return [f"{flags[column]} {value} plans no service: every service names its own in the table's {column} column"
            for column, value in given.items()
            if value is not None and column in frame.columns
            and frame.groupby(service_column)[column].count().min() > 0]


def _service_values(part, columns: list[str]) -> dict:
    """The one value of each per-service column (``None``-free); two different values are an error."""
    values = {}
    for column in columns:
        seen = part[column].dropna().unique()
        if len(seen) > 1:
            raise InputError(f"column {column}", [_python(v) for v in seen[:3]], "one value per service")
        if len(seen) == 1:
            values[column] = _python(seen[0])
    return values


def _python(value):
    """A numpy scalar as the Python value (``3.0`` from a CSV column with gaps stays a number)."""
    return value.item() if hasattr(value, "item") else value


def _task(name: str, history, values: dict, question: ForecastInput, fleet: FleetInput, model: ModelConfig | None,
          gpu: GPUConfig, options: dict) -> ServiceTask:
    shape = {k: values[k] for k in ("current_replicas", "ttft_slo_ms", "itl_slo_ms") if k in values}
    service_question = dataclasses.replace(question, history=history, **shape)
    service_gpu = dataclasses.replace(gpu, gpu_type=values["gpu_type"]) if "gpu_type" in values else gpu
    request = PlanRequest("forecast", model=_service_model(model, fleet.model_options, values), gpu=service_gpu,
                          forecast=service_question, **options)
    held = values.get("current_gpus")
    if held is not None:
        held = check_number("column current_gpus", held, integer=True, minimum=0, inclusive=True)
    team = values.get("team")
    return ServiceTask(name, request, team=None if team is None else str(team), current_gpus=held)


def _service_model(model: ModelConfig | None, model_options: dict | None, values: dict) -> ModelConfig | None:
    """The fleet's model with the service's ``model`` and ``precision`` columns applied."""
    precision = {"precision": values["precision"]} if "precision" in values else {}
    if "model" in values:
        options = ({k: getattr(model, k) for k in MODEL_OPTION_KEYS} if model is not None else model_options) or {}
        return ModelConfig(model=str(values["model"]), **{**options, **precision})
    return dataclasses.replace(model, **precision) if model is not None else None


# --------------------------------------------------------------------------- one service


def plan_partition(tasks: list[ServiceTask], planner: Callable[[PlanRequest], Any]) -> list[dict]:
    """Plan a batch of services, one record each: what every executor runs, on one BLAS thread."""
    from threadpoolctl import threadpool_limits

    load_libraries()  # first, so the limit below reaches the BLAS that scipy loads
    with threadpool_limits(limits=1, user_api="blas"):
        return [plan_task(task, planner) for task in tasks]


def plan_task(task: ServiceTask, planner: Callable[[PlanRequest], Any]) -> dict:
    """One service's record; its failure is a record with the error line, never an exception."""
    try:
        return service_row(task, planner(task.request))
    except PlannerError as exc:
        return failed_row(task.service, error_line(exc), team=task.team, model=_model_name(task.request))
    except Exception as exc:  # noqa: BLE001 - a bug met by one service must not stop the fleet: it is reported
        return failed_row(task.service, f"internal error: {type(exc).__name__}: {error_line(exc)}", team=task.team,
                          model=_model_name(task.request))


def error_line(error: BaseException) -> str:
    """The first line of an error's message, at most ``MAX_ERROR_CHARS`` long."""
    text = _first_line(error) or type(error).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""


def failed_row(service: str, error: str, *, team: str | None = None, model: str | None = None) -> dict:
    """The record of a service that could not be planned."""
    return {**dict.fromkeys(ROW_KEYS), "service": service, "status": "failed", "error": error, "team": team,
            "model": model}


def required_gpus(plan) -> int | None:
    """The GPUs a plan needs: the most its provisioning schedule holds (a forecast), an inference plan's total;
    ``None`` for a forecast without a model."""
    if isinstance(plan, InferencePlan):
        return plan.gpu_resources.total_gpus
    if not plan.provisioning_schedule:
        return None
    return max(step["gpus_needed"] for step in plan.provisioning_schedule)


def service_row(task: ServiceTask, plan) -> dict:
    """A planned service's record: what it needs against what it holds, and its plan without per-period records."""
    required = required_gpus(plan)
    current, basis = _current_gpus(task, plan)
    row = {**dict.fromkeys(ROW_KEYS), "service": task.service, "status": "ok", "team": task.team,
           "model": _model_name(task.request), "current_gpus": current, "current_gpus_basis": basis,
           "required_gpus": required}
    if required is not None and current is not None:
        row.update(additional_gpus=max(required - current, 0), spare_gpus=max(current - required, 0))
    summary = {k: v for k, v in plan.to_dict().items() if k not in PLAN_RECORD_KEYS}
    if isinstance(plan, InferencePlan):
        workload = task.request.workload
        row.update(basis="current traffic", gpu_type=plan.gpu_resources.gpu_type, peak_demand_rps=workload.peak_rps)
        return {**row, "plan": summary}
    peak_at, peak_rps = _peak(plan)
    row.update(basis="forecast", gpu_type=plan.capacity["replica"]["gpu_type"] if plan.capacity["included"] else None,
               peak_demand_rps=peak_rps, peak_at=peak_at, shortfall_at=_shortfall_at(plan.provisioning_schedule, current))
    return {**row, "plan": summary}


def _model_name(request: PlanRequest) -> str | None:
    model = request.model
    if model is None:
        return None
    return model.model or model.model_config_path or f"{model.model_size_billions:g}B"


def _current_gpus(task: ServiceTask, plan) -> tuple[int | None, str | None]:
    if task.current_gpus is not None:
        return task.current_gpus, task.current_gpus_basis
    if isinstance(plan, ForecastPlan) and plan.capacity["included"]:
        current = plan.capacity["current"]
        return current["gpus"], "given" if current["basis"] == "given" else "assumed"
    return None, None


def _peak(plan: ForecastPlan) -> tuple[str, float]:
    """When and how high the planned scenario's demand peaks (requests per second): the provisioning schedule's
    busiest step, else (no model) the busiest period of the scenario's forecast."""
    if plan.provisioning_schedule:
        step = max(plan.provisioning_schedule, key=lambda s: s["peak_demand_rps"])
        return step["start"], step["peak_demand_rps"]
    demand = plan.scenario_demand() * plan.results.history.rps_per_unit
    return demand.idxmax().isoformat(), round(float(demand.max()), 6)


def _shortfall_at(schedule: list | None, current: int | None) -> str | None:
    """The start of the first provisioning step that needs more GPUs than the service holds."""
    if not schedule or current is None:
        return None
    return next((step["start"] for step in schedule if step["gpus_needed"] > current), None)


# --------------------------------------------------------------------------- workers


def load_libraries() -> None:
    """Import what a forecast runs on (numpy, scipy's BLAS, the statsmodels models); cheap after the first call."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import statsmodels.tsa.arima.model  # noqa: F401
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.seasonal  # noqa: F401


def warm_worker() -> None:
    """Ready a worker process once: one BLAS thread, the libraries imported, the catalogs read."""
    import config
    import pricing

    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"  # a fresh process reads them when numpy loads its BLAS, just below
    load_libraries()
    config.load_all()
    pricing.builtin_rows()


def _worker_plugin():
    """A Dask worker plugin that runs :func:`warm_worker` once on every worker, those that join later too."""
    from distributed import WorkerPlugin

    class WarmWorker(WorkerPlugin):
        name = "llm-capacity-warm-worker"

        def setup(self, worker):
            warm_worker()

    return WarmWorker()


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalExecutor:
    """Worker processes on this machine (``concurrent.futures``, spawned: the same start on every platform);
    with one worker the services are planned in this process."""

    kind = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or available_cpus()
        self._pool = None

    def __enter__(self) -> LocalExecutor:
        if self.workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=warm_worker)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    @property
    def slots(self) -> int:
        return self.workers

    def describe(self) -> dict:
        return {"kind": self.kind, "workers": self.workers, "scheduler": None}

    def watch_note(self) -> str:
        return ""

    def run(self, function: Callable, partitions: list) -> Iterator[tuple[int, Any]]:
        """``(index, result or the exception)`` of ``function(partition)`` for each partition, as they finish."""
        if self._pool is None:
            for index, partition in enumerate(partitions):
                yield index, function(partition)
            return
        from concurrent.futures import as_completed

        futures = {self._pool.submit(function, partition): index for index, partition in enumerate(partitions)}
        for future in as_completed(futures):
            yield futures[future], future.exception() or future.result()


class DaskExecutor:
    """A Dask cluster (``dask.distributed``): a running scheduler's address, a :class:`distributed.Client` of the
    caller's, or else a LocalCluster of ``workers`` single-threaded processes started and closed here."""

    kind = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, *, client=None,
                 processes: bool = True):
        self.scheduler, self.workers, self.processes = scheduler, workers, processes
        self.client, self._owned = client, []

    def __enter__(self) -> DaskExecutor:
        distributed = import_distributed()
        if self.client is None:
            self.client = self._connect(distributed) if self.scheduler else self._local_cluster(distributed)
        try:
            self.client.register_plugin(_worker_plugin())
        except Exception as exc:  # noqa: BLE001 - raised on a worker: most often the planner is not installed there
            self.__exit__(None, None, None)
            raise InputError("--executor", "dask", "Dask workers that can run the planner (install this project and "
                             f"its requirements on them): a worker answered {error_line(exc)}") from None
        return self

    def _connect(self, distributed):
        try:
            client = distributed.Client(self.scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError("--dask-scheduler", self.scheduler,
                             f"the address of a running Dask scheduler ({error_line(exc)})") from None
        self._owned.append(client)
        return client

    def _local_cluster(self, distributed):
        import logging

        cluster = distributed.LocalCluster(n_workers=self.workers or available_cpus(), threads_per_worker=1,
                                           processes=self.processes, dashboard_address=":0",
                                           silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        self._owned += [client, cluster]
        return client

    def __exit__(self, *exc_info) -> None:
        for owned in self._owned:
            owned.close()
        if self._owned:
            self.client = None
        self._owned = []

    @property
    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def describe(self) -> dict:
        return {"kind": self.kind, "workers": len(self.client.nthreads()), "scheduler": self.client.scheduler.address}

    def watch_note(self) -> str:
        """Where Dask shows its own progress (task stream, workers' load): the dashboard, when the scheduler runs one."""
        has_dashboard = "dashboard" in self.client.scheduler_info().get("services", {})
        return f"; Dask dashboard {self.client.dashboard_link}" if has_dashboard else ""

    def run(self, function: Callable, partitions: list) -> Iterator[tuple[int, Any]]:
        """As :meth:`LocalExecutor.run`; each partition is shipped to the cluster once (scattered), then mapped."""
        from distributed import as_completed

        shipped = self.client.scatter(partitions)
        futures = self.client.map(function, shipped, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            try:
                yield index[future.key], future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails its partition, not the fleet
                yield index[future.key], exc


def import_distributed():
    """``dask.distributed``, or one clear error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise InputError("--executor", "dask", "dask.distributed installed (pip install 'dask[distributed]'), "
                         "or --executor local") from None
    return distributed


def open_executor(fleet: FleetInput):
    """The executor ``fleet`` names (not yet entered)."""
    if fleet.executor == "dask":
        return DaskExecutor(fleet.dask_scheduler, fleet.workers)
    return LocalExecutor(fleet.workers)


def partition(tasks: list, size: int) -> list[list]:
    """``tasks`` in batches of ``size`` (the last one shorter)."""
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def partition_size(services: int, slots: int, given: int | None = None) -> int:
    """Services per partition: ``given``, else about ``PARTITIONS_PER_WORKER`` per worker, at most 100."""
    if given:
        return given
    return max(1, min(MAX_SERVICES_PER_PARTITION, math.ceil(services / (slots * PARTITIONS_PER_WORKER))))


def run_tasks(tasks: list[ServiceTask], planner: Callable, executor, *, progress=None,
              services_per_partition: int | None = None) -> tuple[list[dict], dict]:
    """Every task's record (a partition whose worker was lost fails its services) and where it ran.

    ``progress(done, total, description)`` hears the services planned so far (``reports.working``'s ``update``).
    """
    import functools

    if not tasks:  # a rerun with nothing left to plan starts no workers
        return [], {"kind": executor.kind, "workers": 0, "scheduler": None, "partitions": 0, "services_planned": 0}
    records: list[dict] = []
    with executor:
        parts = partition(tasks, partition_size(len(tasks), executor.slots, services_per_partition))
        where = executor.describe()
        description = (f"planning {len(tasks):,} services on {where['kind']} ({where['workers']} workers"
                       f"{executor.watch_note()})")
        progress = progress or _no_progress
        progress(0, len(tasks), description)
        for index, outcome in executor.run(functools.partial(plan_partition, planner=planner), parts):
            records += _partition_records(parts[index], outcome)
            progress(len(records), len(tasks), description)
    return records, {**where, "partitions": len(parts), "services_planned": len(tasks)}


def _partition_records(tasks: list[ServiceTask], outcome) -> list[dict]:
    if not isinstance(outcome, BaseException):
        return outcome
    error = f"internal error: the worker planning it failed: {type(outcome).__name__}: {error_line(outcome)}"
    return [failed_row(task.service, error, team=task.team, model=_model_name(task.request)) for task in tasks]


def _no_progress(done: int, total: int, description: str | None = None) -> None:
    """No one is watching."""


# --------------------------------------------------------------------------- totals


def fleet_totals(rows: list[dict]) -> dict:
    """Counts, GPUs held / needed / to add / spare overall, per GPU type and team, and per day and GPU type."""
    ok = [row for row in rows if row["status"] == "ok"]
    planned = [row for row in ok if row["required_gpus"] is not None]
    return {"services": len(rows), "ok": len(ok), "failed": len(rows) - len(ok), "planned": len(planned),
            **{k: v for k, v in _gpu_sums(planned).items() if k != "services"},
            "by_gpu_type": _grouped(planned, lambda row: row["gpu_type"]),
            "by_team": _grouped(planned, lambda row: row["team"] or NO_TEAM),
            "by_date": _by_date(planned)}


def _gpu_sums(rows: list[dict]) -> dict:
    return {"services": len(rows), **{key: sum(row[key] or 0 for row in rows)
                                      for key in ("current_gpus", "required_gpus", "additional_gpus", "spare_gpus")}}


def _grouped(rows: list[dict], key: Callable[[dict], str]) -> dict:
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {name: _gpu_sums(groups[name]) for name in sorted(groups)}


def _by_date(rows: list[dict]) -> list[dict]:
    """Per provisioning step's date and GPU type: the sum of the services' GPUs for that step, and how many services
    it counts."""
    cells: dict[tuple[str, str], dict] = {}
    for row in rows:
        for step in row["plan"].get("provisioning_schedule") or ():
            date = step["start"][:10]
            cell = cells.setdefault((date, row["gpu_type"]), {"date": date, "gpu_type": row["gpu_type"],
                                                              "gpus_needed": 0, "services": 0})
            cell["gpus_needed"] += step["gpus_needed"]
            cell["services"] += 1
    return [cells[key] for key in sorted(cells)]


# --------------------------------------------------------------------------- result files


def write_result(path: str | os.PathLike, payload: dict) -> Path:
    """Write a fleet result (``FleetPlan.to_dict()``): ``.parquet`` the service records as a table (nested values
    as JSON text; inputs and totals in the schema metadata), any other name JSON. Atomic, like every output."""
    from config_loader import write_atomic, write_json_atomic

    if Path(path).suffix.lower() not in PARQUET_SUFFIXES:
        return write_json_atomic(path, payload)
    table = _records_table(payload)
    pq = _pyarrow_parquet("--output")
    return write_atomic(path, lambda handle: pq.write_table(table, handle))


def _records_table(payload: dict):
    import pyarrow as pa

    rows = payload["services"]
    nested = sorted({k for row in rows for k, v in row.items() if isinstance(v, (dict, list))})
    flat = [{k: json.dumps(v, default=str) if k in nested and v is not None else v for k, v in row.items()}
            for row in rows]
    keys = list(dict.fromkeys(k for row in rows for k in row)) or list(ROW_KEYS)
    table = pa.Table.from_pydict({k: [row.get(k) for row in flat] for k in keys})
    meta = {k: v for k, v in payload.items() if k != "services"}
    return table.replace_schema_metadata({META_KEY: json.dumps({**meta, "json_columns": nested}, default=str)})


def check_output(path: str | os.PathLike) -> None:
    """Refuse an output the run could not write, before any work (Parquet needs pyarrow)."""
    from config_loader import check_output_path

    check_output_path(path, "--output")
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        _pyarrow_parquet("--output")


def read_result(path: str | os.PathLike) -> dict:
    """A fleet result written by :func:`write_result` (JSON or Parquet) as ``FleetPlan.to_dict()`` gave it."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet_result(path)
    from config_loader import parse_json, read_text_file

    payload = parse_json(read_text_file(str(path), "--retry-failed", max_bytes=4 * 2**30), "--retry-failed", str(path))
    if not isinstance(payload, dict) or not isinstance(payload.get("services"), list):
        raise InputError("--retry-failed", str(path), "a fleet result (--mode fleet --output FILE.json)")
    return payload


def _read_parquet_result(path) -> dict:
    from config_loader import check_input_file

    check_input_file(os.fspath(path), "--retry-failed", max_bytes=None)
    pq = _pyarrow_parquet("--retry-failed")
    import pyarrow as pa

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError("--retry-failed", str(path), f"a fleet result ({error_line(exc)})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise InputError("--retry-failed", str(path), "a fleet result (--mode fleet --output FILE.parquet)")
    meta = json.loads(raw)
    nested = meta.pop("json_columns")
    rows = [{k: json.loads(v) if k in nested and v is not None else v for k, v in row.items()}
            for row in table.to_pylist()]
    return {**meta, "services": rows}


def retry_split(previous: dict, inputs: dict, path: str) -> dict[str, dict]:
    """The successful records of a previous result of the same question, by service (what a rerun keeps)."""
    for section, ignored in (("fleet", QUESTION_KEYS_IGNORED_ON_RETRY["fleet"]),
                             ("forecast", QUESTION_KEYS_IGNORED_ON_RETRY["forecast"]), (None, ())):
        before = _question_part(previous.get("inputs") or {}, section, ignored)
        now = _question_part(inputs, section, ignored)
        if before != now:
            key = next(k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k))
            where = f"{section}.{key}" if section else key
            raise InputError("--retry-failed", path, f"a result of the same question (its {where} was "
                             f"{before.get(key)!r}, now {now.get(key)!r}): rerun the whole fleet instead")
    return {row["service"]: row for row in previous["services"] if row.get("status") == "ok"}


def _question_part(inputs: dict, section: str | None, ignored: tuple) -> dict:
    """One section of a question (``None``: the rest), without the keys a rerun may change; JSON-normal."""
    if section is None:
        part = {k: v for k, v in inputs.items() if k not in QUESTION_KEYS_IGNORED_ON_RETRY}
    else:
        part = {k: v for k, v in (inputs.get(section) or {}).items() if k not in ignored}
    return json.loads(json.dumps(part, default=str))
