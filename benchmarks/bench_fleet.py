"""Fleet planning cost: CPU seconds per service on the local and Dask executors, wall time against workers, and
what a fleet of 10,000 services takes.

A synthetic fleet is built from the shipped hourly traces (data/traces): each service takes a window of 7 to 28
days of a random trace, rescaled to a peak drawn from a log-normal (median 5 req/s), shifted by a random number
of hours (its users' time zone), with 10% log-normal noise, ending at the same hour (a nightly run); it gets a
model, a GPU type and a team at random. ``--seed`` fixes all of it.

    python benchmarks/bench_fleet.py --json bench.json     # 100 services on both executors, 1/2/4 workers
    python benchmarks/bench_fleet.py --services 1000 --sample 1000 --executors dask --workers   # 1,000 services
    python benchmarks/bench_fleet.py --services 100 --sample 20 --workers 1 2 --method seasonal_naive   # quick

Measured: building and reading each fleet and splitting it into services (the client's work, every size);
planning ``--sample`` services of the first fleet on the local executor and on a Dask LocalCluster of 2
processes (CPU of this process and its workers, from ``getrusage``: start-up included); wall time on a
LocalCluster of 1, 2, 4 workers for ``--scaling-sample`` services. The 10,000-service planning time is
projected from the measured CPU per service (planning every service here would take hours on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRACES = (("burstgpt1_per_hour.csv", "requests"), ("azure2024_conv_per_hour.csv", "requests"),
          ("servegen_m-large_per_hour.csv", "requests"), ("servegen_m-mid_per_hour.csv", "requests"),
          ("servegen_m-small_per_hour.csv", "requests"))
MODELS = ("llama-3.1-8b", "llama-3.1-70b", "qwen2.5-7b", "mixtral-8x7b")
GPU_TYPES = ("H100-80GB", "A100-80GB", "H200-141GB")
END = "2026-11-29T23:00:00Z"
MEDIAN_PEAK_RPS = 5.0


def trace_rates() -> list:
    """Each hourly trace as requests per second (numpy arrays)."""
    from demand_history import load_history

    out = []
    for name, column in TRACES:
        history = load_history(ROOT / "data" / "traces" / name, value_column=column)
        out.append((history.series * history.rps_per_unit).to_numpy(dtype=float))
    return out


def synthetic_fleet(services: int, seed: int):
    """A long table (service, timestamp, rps, model, gpu_type, team) of ``services`` services."""
    import numpy as np
    import pandas as pd

    rng, traces, parts = np.random.default_rng(seed), trace_rates(), []
    for i in range(services):
        trace = traces[rng.integers(len(traces))]
        hours = 24 * int(min(rng.integers(7, 29), len(trace) // 24))
        start = int(rng.integers(0, len(trace) - hours + 1))
        window = np.roll(trace[start:start + hours], int(rng.integers(0, 24)))
        peak = MEDIAN_PEAK_RPS * rng.lognormal(0.0, 1.0)
        rps = np.maximum(window / max(window.max(), 1e-9) * peak * rng.lognormal(0.0, 0.1, hours), 0.0)
        parts.append(pd.DataFrame({
            "service": f"svc-{i:05d}", "timestamp": pd.date_range(end=END, periods=hours, freq="h"),
            "rps": rps.round(4), "model": MODELS[rng.integers(len(MODELS))],
            "gpu_type": GPU_TYPES[rng.integers(len(GPU_TYPES))], "team": f"team-{rng.integers(12):02d}"}))
    return pd.concat(parts, ignore_index=True)


def cpu_seconds() -> float:
    """CPU of this process and of its finished children (worker processes once their pool or cluster closed)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def client_side(services: int, seed: int, folder: Path) -> dict:
    """Build, write, read and split a fleet: what the client does before any service is planned."""
    import fleet
    from models import FleetInput, ForecastInput, GPUConfig

    began = time.perf_counter()
    table = synthetic_fleet(services, seed)
    built = time.perf_counter()
    path = folder / f"fleet_{services}.parquet"
    table.to_parquet(path)
    began_read = time.perf_counter()
    frame, _ = fleet.read_table(str(path), "service")
    tasks, failed = fleet.service_tasks(frame, "service", ForecastInput(history=str(path)), FleetInput(), None,
                                        GPUConfig())
    return {"services": services, "rows": len(table), "parquet_mib": round(path.stat().st_size / 2**20, 2),
            "build_s": round(built - began, 2), "read_and_split_s": round(time.perf_counter() - began_read, 2),
            "tasks": len(tasks), "failed_to_split": len(failed), "path": str(path)}


def plan(path: str, services: int, executor, method: str, horizon_days: float) -> dict:
    """Plan the first ``services`` services of the fleet at ``path`` on ``executor``: wall, CPU and results."""
    import pandas as pd

    from llm_forecast_engine import LLMForecastEngine
    from models import ForecastInput, GPUConfig

    table = pd.read_parquet(path)
    table = table[table.service.isin(sorted(table.service.unique())[:services])]
    question = ForecastInput(history=table, method=method, horizon_days=horizon_days)
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = LLMForecastEngine().plan_fleet(question, gpu=GPUConfig(), executor=executor)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return {"services": services, "executor": result.executor, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cpu_s_per_service": round(cpu / services, 3), "ok": result.totals["ok"], "failed": result.totals["failed"],
            "records": result.services}


def run(args) -> dict:
    import fleet

    from fleet import DaskExecutor, LocalExecutor

    fleet.load_libraries()  # this process's imports are not the services' cost
    folder = Path(tempfile.mkdtemp(prefix="bench_fleet_"))
    sizes = [client_side(n, args.seed, folder) for n in args.services]
    first = sizes[0]["path"]
    print("client side:", json.dumps([{k: v for k, v in s.items() if k != "path"} for s in sizes]), flush=True)
    executors = {"local": lambda: LocalExecutor(args.cpu_workers), "dask": lambda: DaskExecutor(workers=args.cpu_workers)}
    runs = {}
    for kind in args.executors:
        runs[kind] = plan(first, args.sample, executors[kind](), args.method, args.horizon_days)
        print(f"{kind}: {runs[kind]['cpu_s_per_service']} CPU-s/service, {runs[kind]['wall_s']} s wall", flush=True)
    records = [r.pop("records") for r in runs.values()]
    scaling = []
    for workers in args.workers:
        timed = plan(first, args.scaling_sample, DaskExecutor(workers=workers), args.method, args.horizon_days)
        scaling.append({"workers": workers, "wall_s": timed["wall_s"], "cpu_s": timed["cpu_s"]})
        print(f"dask LocalCluster, {workers} workers, {args.scaling_sample} services: {timed['wall_s']} s wall",
              flush=True)
    per_service = max(r["cpu_s_per_service"] for r in runs.values())
    split_10k = next((s["read_and_split_s"] for s in sizes if s["services"] == 10_000), 0)
    projection = {n: round((split_10k + 10_000 * per_service / n) / 60, 1) for n in (2, 8, 32, 128)}
    return {"seed": args.seed, "method": args.method, "horizon_days": args.horizon_days, "client_side": sizes,
            "runs": runs, "identical_records": all(r == records[0] for r in records), "scaling": scaling,
            "projection_10000_minutes_by_workers": projection}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[100, 1_000, 10_000],
                        help="fleet sizes built and split (the sample is planned from the first)")
    parser.add_argument("--sample", type=int, default=100, help="services planned for the CPU per service")
    parser.add_argument("--scaling-sample", type=int, default=40, help="services planned per worker count")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4], help="LocalCluster sizes (none: skip)")
    parser.add_argument("--executors", nargs="+", choices=("local", "dask"), default=["local", "dask"],
                        help="executors the CPU per service is measured on")
    parser.add_argument("--cpu-workers", type=int, default=2, help="workers for the CPU-per-service runs")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--horizon-days", type=float, default=14)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
