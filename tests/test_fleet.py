"""Fleet planning (fleet.py, LLMForecastEngine.plan_fleet / plan_services, --mode fleet, services.py plan --all).

The executors run for real: worker processes on this machine and a Dask LocalCluster (threads in this
process, to stay fast on 2 cores; the CLI's own LocalCluster of processes runs once). The oracle for a
service's record is the plan its own single-service forecast gets through the engine's forecast door.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fleet
from conftest import CliResult
from fleet import DaskExecutor, LocalExecutor, fleet_totals
from llm_forecast_engine import LLMForecastEngine
from models import FleetInput, ForecastInput, GPUConfig, InputError, ModelConfig
from test_services import pg_admin_url, pg_url  # noqa: F401  (the PostgreSQL fixtures)

ROOT = Path(__file__).resolve().parent.parent
MODEL = ModelConfig(model="llama-3.1-8b", precision="FP16")
GPU = GPUConfig(gpu_type="H100-80GB")
QUICK = dict(method="seasonal_naive", horizon_days=1)
"""Fast forecasts: the fleet machinery is under test here, not the forecasting methods."""
SERVICES = 50
START = pd.Timestamp("2026-03-02", tz="UTC")


def service_rows(name: str, seed: int, days: int = 3, **columns) -> pd.DataFrame:
    """Hourly requests/s of one service: a daily cycle of a seeded size, a seeded trend and noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    level = rng.uniform(1, 12)
    rps = level * (1 + 0.5 * np.sin(2 * np.pi * hours / 24)) * (1 + rng.uniform(0, 0.1) * hours / len(hours))
    rps = np.round(rps * rng.lognormal(0, 0.05, len(hours)), 3)
    return pd.DataFrame({"service": name, "timestamp": START + pd.to_timedelta(hours, unit="h"), "rps": rps,
                         **columns})


def fleet_table(count: int = SERVICES) -> pd.DataFrame:
    """``count`` services in one long table; every fifth names its team, every seventh runs on A100s and every
    ninth gives its replicas (the per-service columns)."""
    parts = []
    for i in range(count):
        extra = {"team": f"team-{i % 3}"} if i % 5 == 0 else {}
        extra |= {"gpu_type": "A100-80GB"} if i % 7 == 0 else {}
        extra |= {"current_replicas": 2} if i % 9 == 0 else {}
        parts.append(service_rows(f"svc-{i:03d}", seed=i, **extra))
    return pd.concat(parts, ignore_index=True)


def quick_question(table) -> ForecastInput:
    return ForecastInput(history=table, **QUICK)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return fleet_table()


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of two single-threaded workers in this process (CI has no cluster)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def on_processes(table):
    """The fleet planned by two worker processes on this machine."""
    return LLMForecastEngine().plan_fleet(quick_question(table), model=MODEL, gpu=GPU, executor=LocalExecutor(2))


@pytest.fixture(scope="module")
def on_dask(table, dask_client):
    return LLMForecastEngine().plan_fleet(quick_question(table), model=MODEL, gpu=GPU,
                                          executor=DaskExecutor(client=dask_client))


# --------------------------------------------------------------------------- executors


def test_both_executors_give_identical_plans(on_processes, on_dask):
    assert len(on_processes.services) == SERVICES
    assert all(row["status"] == "ok" for row in on_processes.services), on_processes.failed[:2]
    assert on_processes.services == on_dask.services
    assert on_processes.totals == on_dask.totals
    assert (on_processes.executor["kind"], on_dask.executor["kind"]) == ("local", "dask")
    for where in (on_processes.executor, on_dask.executor):  # shipped in batches of services, not one by one
        assert 1 < where["partitions"] < SERVICES and where["services_planned"] == SERVICES
    assert [row["service"] for row in on_dask.services] == sorted(row["service"] for row in on_dask.services)


def test_dask_workers_are_readied_once_by_a_plugin(on_dask, dask_client):
    plugins = dask_client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert plugins and all("llm-capacity-warm-worker" in names for names in plugins.values())


@pytest.mark.parametrize("name", ["svc-000", "svc-007", "svc-018", "svc-031"])
def test_each_record_is_the_plan_the_service_gets_on_its_own(on_dask, table, name):
    """The oracle: the service's rows through the engine's single-service forecast door, with its own columns
    applied by hand (svc-000 and svc-007 run on A100s, svc-000 and svc-018 hold 2 replicas)."""
    rows = table[table.service == name]
    gpu = GPUConfig(gpu_type="A100-80GB") if rows["gpu_type"].notna().any() else GPU
    replicas = int(rows["current_replicas"].dropna().iloc[0]) if rows["current_replicas"].notna().any() else None
    alone = LLMForecastEngine().forecast(ForecastInput(history=rows[["timestamp", "rps"]], current_replicas=replicas,
                                                       **QUICK), MODEL, gpu)
    record = next(row for row in on_dask.services if row["service"] == name)
    need = max(step["gpus_needed"] for step in alone.provisioning_schedule)
    held = alone.capacity["current"]["gpus"]
    assert (record["required_gpus"], record["current_gpus"], record["gpu_type"]) == (need, held, gpu.gpu_type)
    assert record["additional_gpus"] == max(need - held, 0) and record["spare_gpus"] == max(held - need, 0)
    assert record["current_gpus_basis"] == ("given" if replicas else "assumed")
    assert record["peak_demand_rps"] == max(step["peak_demand_rps"] for step in alone.provisioning_schedule)
    assert record["plan"]["provisioning_schedule"] == alone.provisioning_schedule
    assert record["plan"]["scaling_recommendations"] == alone.scaling_recommendations
    assert record["team"] == (rows["team"].dropna().iloc[0] if rows["team"].notna().any() else None)


def test_the_fleet_totals_add_up_the_services(on_dask):
    services, totals = on_dask.services, on_dask.totals
    assert totals["required_gpus"] == sum(row["required_gpus"] for row in services)
    assert sum(group["services"] for group in totals["by_gpu_type"].values()) == SERVICES
    assert totals["by_gpu_type"]["A100-80GB"]["services"] == 8  # svc-000, -007, ..., -049: every seventh of 50
    assert sum(group["required_gpus"] for group in totals["by_team"].values()) == totals["required_gpus"]
    # every service's one-day horizon is 2026-03-05: the day's sum is each service's peak
    assert {cell["date"] for cell in totals["by_date"]} == {"2026-03-05"}
    assert sum(cell["gpus_needed"] for cell in totals["by_date"]) == totals["required_gpus"]


def test_totals_by_hand():
    def row(service, gpu_type, team, held, need, days):
        return {**fleet.failed_row(service, ""), "status": "ok", "error": None, "gpu_type": gpu_type, "team": team,
                "current_gpus": held, "required_gpus": need, "additional_gpus": max(need - held, 0),
                "spare_gpus": max(held - need, 0),
                "plan": {"provisioning_schedule": [{"start": f"{d}T00:00:00+00:00", "gpus_needed": g} for d, g in days]}}

    rows = [row("a", "H100", "core", 2, 4, [("2026-03-01", 3), ("2026-03-02", 4)]),
            row("b", "H100", None, 3, 1, [("2026-03-01", 1)]),
            row("c", "A100", "core", 8, 8, [("2026-03-02", 8)]),
            fleet.failed_row("d", "history: got 'all 72 values are zero'")]
    totals = fleet_totals(rows)
    # held 2+3+8 = 13, needed 4+1+8 = 13, to add 2 (a), spare 2 (b)
    assert (totals["services"], totals["ok"], totals["failed"], totals["planned"]) == (4, 3, 1, 3)
    assert [totals[k] for k in ("current_gpus", "required_gpus", "additional_gpus", "spare_gpus")] == [13, 13, 2, 2]
    assert totals["by_gpu_type"]["H100"] == {"services": 2, "current_gpus": 5, "required_gpus": 5,
                                             "additional_gpus": 2, "spare_gpus": 2}
    assert totals["by_team"]["core"]["required_gpus"] == 12 and totals["by_team"]["(no team)"]["services"] == 1
    # 03-01: H100 3 + 1 = 4; 03-02: H100 4, A100 8
    assert totals["by_date"] == [{"date": "2026-03-01", "gpu_type": "H100", "gpus_needed": 4, "services": 2},
                                 {"date": "2026-03-02", "gpu_type": "A100", "gpus_needed": 8, "services": 1},
                                 {"date": "2026-03-02", "gpu_type": "H100", "gpus_needed": 4, "services": 1}]


# --------------------------------------------------------------------------- failures


def test_a_broken_service_is_reported_and_the_rest_complete(dask_client):
    good = [service_rows(f"ok-{i}", seed=i) for i in range(5)]
    zeros = service_rows("zeros", seed=1).assign(rps=0.0)
    text = service_rows("text", seed=2).astype({"rps": object})
    text.loc[text.index[5], "rps"] = "n/a"
    unknown = service_rows("unknown-model", seed=3, model="llama-9000")
    two = service_rows("two-gpus", seed=4, gpu_type="H100-80GB")
    two.loc[two.index[:3], "gpu_type"] = "A100-80GB"
    table = pd.concat([*good, zeros, text, unknown, two], ignore_index=True)
    result = LLMForecastEngine().plan_fleet(quick_question(table), model=MODEL, gpu=GPU,
                                            executor=DaskExecutor(client=dask_client))
    errors = {row["service"]: row["error"] for row in result.failed}
    assert sorted(errors) == ["text", "two-gpus", "unknown-model", "zeros"]
    assert "all 72 values are zero" in errors["zeros"]
    assert errors["text"].startswith("history: rps: got 'n/a'; expected numbers (row 6 is not a number)")
    assert errors["unknown-model"].startswith("model.model: got 'llama-9000'; expected a known model")
    assert errors["two-gpus"].startswith("column gpu_type: got ['A100-80GB', 'H100-80GB']; expected one value")
    assert all("\n" not in e and "Traceback" not in e for e in errors.values())
    assert [row["status"] for row in result.services if row["service"].startswith("ok-")] == ["ok"] * 5
    assert (result.totals["ok"], result.totals["failed"]) == (5, 4)


def planner_that_dies(request):
    """The engine's planner, but its worker process dies on the service holding 13 replicas (an OOM kill)."""
    if request.forecast.current_replicas == 13:
        os._exit(3)
    return LLMForecastEngine().plan(request)


def test_a_lost_worker_fails_its_services_not_the_fleet():
    table = pd.concat([service_rows(f"svc-{i}", seed=i, **({"current_replicas": 13} if i == 1 else {}))
                       for i in range(4)], ignore_index=True)
    tasks, failed = fleet.service_tasks(table, "service", quick_question(table), FleetInput(), MODEL, GPU)
    records, where = fleet.run_tasks(tasks, planner_that_dies, LocalExecutor(2), services_per_partition=1)
    rows = {row["service"]: row for row in records}
    assert (failed, sorted(rows), where["partitions"]) == ([], ["svc-0", "svc-1", "svc-2", "svc-3"], 4)
    lost = "internal error: the worker planning it failed: BrokenProcessPool: "
    assert rows["svc-1"]["status"] == "failed" and rows["svc-1"]["error"].startswith(lost)
    assert all(row["status"] == "ok" or row["error"].startswith(lost) for row in records)


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def small_table(tmp_path):
    """Six services in a Parquet file, the service column named ``endpoint``."""
    table = pd.concat([service_rows(f"svc-{i}", seed=i) for i in range(6)], ignore_index=True)
    path = tmp_path / "history.parquet"
    table.rename(columns={"service": "endpoint"}).to_parquet(path)
    return path


def fleet_flags(history, *more):
    return ["--mode", "fleet", "--history", str(history), "--service-column", "endpoint", "--method", "seasonal_naive",
            "--horizon-days", "1", "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--workers", "1", *more]


def test_cli_writes_json_and_a_parquet_table_that_read_back_the_same(cli, small_table, tmp_path):
    as_json, as_parquet = tmp_path / "fleet.json", tmp_path / "fleet.parquet"
    first = cli(*fleet_flags(small_table, "--output", str(as_json)))
    assert (first.exit_code, first.stderr) == (0, ""), first.stderr
    assert "FLEET CAPACITY PLAN" in first.stdout and "GPUS BY GPU TYPE" in first.stdout
    payload = json.loads(as_json.read_text())
    assert [row["service"] for row in payload["services"]] == [f"svc-{i}" for i in range(6)]
    assert all(row["status"] == "ok" and row["error"] is None and row["required_gpus"] >= 1
               and row["gpu_type"] == "H100-80GB" for row in payload["services"])
    assert payload["totals"]["required_gpus"] == sum(row["required_gpus"] for row in payload["services"])
    second = cli(*fleet_flags(small_table, "--output", str(as_parquet), "--format", "json"))
    assert second.exit_code == 0, second.stderr
    import pyarrow.parquet as pq

    written = pq.read_table(as_parquet)
    assert written.num_rows == 6 and {"service", "status", "error", "required_gpus", "gpu_type"} <= set(written.column_names)
    assert written.column("required_gpus").to_pylist() == [row["required_gpus"] for row in payload["services"]]
    back = fleet.read_result(as_parquet)
    assert back["services"] == payload["services"] and back["totals"] == payload["totals"]
    assert json.loads(second.stdout)["services"] == payload["services"]


def test_cli_retry_failed_plans_only_the_failed_services_and_merges(cli, tmp_path):
    parts = {f"svc-{i}": service_rows(f"svc-{i}", seed=i) for i in range(4)}
    broken = dict(parts, **{"svc-2": parts["svc-2"].assign(rps=0.0)})
    history, output = tmp_path / "fleet.csv", tmp_path / "fleet.json"
    pd.concat(broken.values()).rename(columns={"service": "endpoint"}).to_csv(history, index=False)
    first = cli(*fleet_flags(history, "--output", str(output)))
    assert first.exit_code == 2 and output.exists()
    assert first.stderr.strip() == (
        f"error: 1 of 4 services failed, the others are planned (plan only those again with --retry-failed {output}): "
        "svc-2: history: got 'all 72 values are zero'; expected some non-zero demand to forecast")
    before = {row["service"]: row for row in json.loads(output.read_text())["services"]}
    # the data are fixed for svc-2, and svc-0's traffic doubles: a rerun keeps svc-0's earlier record
    fixed = dict(parts, **{"svc-0": parts["svc-0"].assign(rps=parts["svc-0"].rps * 2)})
    pd.concat(fixed.values()).rename(columns={"service": "endpoint"}).to_csv(history, index=False)
    merged_path = tmp_path / "merged.json"
    second = cli(*fleet_flags(history, "--retry-failed", str(output), "--output", str(merged_path)))
    assert (second.exit_code, second.stderr) == (0, ""), second.stderr
    merged = json.loads(merged_path.read_text())
    assert merged["executor"]["services_planned"] == 1
    rows = {row["service"]: row for row in merged["services"]}
    assert [rows[n] for n in ("svc-0", "svc-1", "svc-3")] == [before[n] for n in ("svc-0", "svc-1", "svc-3")]
    assert rows["svc-2"]["status"] == "ok" and rows["svc-2"]["required_gpus"] >= 1
    assert merged["totals"]["failed"] == 0 and any("3 services kept" in a for a in merged["assumptions"])
    changed = cli(*fleet_flags(history, "--retry-failed", str(output), "--horizon-days", "2"))
    assert changed.exit_code == 2 and "a result of the same question (its forecast.horizon_days was 1.0, now 2.0)" \
        in changed.stderr


def test_cli_without_dask_installed_says_so_in_one_line(cli, small_table, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets where it is missing
    output = tmp_path / "out.json"
    result = cli(*fleet_flags(small_table, "--executor", "dask", "--output", str(output)))
    assert result.exit_code == 2 and not output.exists()
    assert result.stderr == ("error: --executor: got 'dask'; expected dask.distributed installed "
                             "(pip install 'dask[distributed]'), or --executor local\n")
    assert cli(*fleet_flags(small_table)).exit_code == 0  # the local executor needs no dask


def test_cli_refuses_bad_fleet_flags_in_one_line(cli, small_table, tmp_path, monkeypatch):
    other_column = fleet_flags(small_table)
    other_column[other_column.index("endpoint")] = "svc"
    picture = tmp_path / "fleet.png"
    cases = [
        (fleet_flags(small_table, "--dask-scheduler", "tcp://127.0.0.1:1"),
         "error: fleet.dask_scheduler: got 'tcp://127.0.0.1:1'; expected a scheduler only with --executor dask\n"),
        (other_column, "error: --service-column: got 'svc'; expected a column of the table: endpoint, timestamp, rps\n"),
        (fleet_flags(small_table, "--plot", str(picture)),
         f"error: --plot: got '{picture}'; expected no picture in fleet mode (each service's plan: --mode forecast)\n"),
    ]
    for argv, expected in cases:
        result = cli(*argv)
        assert (result.exit_code, result.stderr) == (2, expected)
    monkeypatch.setattr(fleet, "DASK_CONNECT_TIMEOUT_S", 1)
    result = cli(*fleet_flags(small_table, "--executor", "dask", "--dask-scheduler", "tcp://127.0.0.1:1"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: --dask-scheduler: got 'tcp://127.0.0.1:1'; expected the address of a running Dask scheduler")


def test_cli_on_a_local_dask_cluster_of_processes(cli, small_table):
    """The CLI's own LocalCluster (worker processes), once: the same records as the local executor."""
    on_dask = cli(*fleet_flags(small_table, "--executor", "dask", "--format", "json"))
    assert on_dask.exit_code == 0, on_dask.stderr
    local = cli(*fleet_flags(small_table, "--format", "json"))
    assert json.loads(on_dask.stdout)["services"] == json.loads(local.stdout)["services"]
    assert json.loads(on_dask.stdout)["executor"]["kind"] == "dask"


def test_a_fleet_without_a_model_is_forecasts_only(small_table):
    frame = pd.read_parquet(small_table)
    result = LLMForecastEngine().plan_fleet(quick_question(frame), FleetInput(service_column="endpoint", workers=1))
    assert [row["status"] for row in result.services] == ["ok"] * 6
    assert all(row["required_gpus"] is None and row["plan"]["capacity"]["included"] is False
               and row["plan"]["provisioning_schedule"] is None and row["peak_demand_rps"] > 0
               for row in result.services)
    assert result.totals["planned"] == 0 and result.totals["by_date"] == []


def test_the_table_model_column_takes_the_precision_flag(cli, tmp_path):
    """No --model: the table names the model and --precision FP8 applies to it (FP8 replicas carry more load)."""
    rows = service_rows("svc", seed=5, model="llama-3.1-8b")
    history = tmp_path / "fleet.csv"
    rows.to_csv(history, index=False)
    argv = ["--mode", "fleet", "--history", str(history), "--method", "seasonal_naive", "--horizon-days", "1",
            "--gpu-type", "H100-80GB", "--workers", "1", "--format", "json"]
    replica = {}
    for precision in ("FP8", "FP16"):
        result = cli(*argv, "--precision", precision)
        assert result.exit_code == 0, result.stderr
        replica[precision] = json.loads(result.stdout)["services"][0]["plan"]["capacity"]["replica"]
    alone = LLMForecastEngine().forecast(ForecastInput(history=rows[["timestamp", "rps"]], **QUICK),
                                         ModelConfig(model="llama-3.1-8b", precision="FP8"), GPU)
    assert replica["FP8"] == alone.capacity["replica"] != replica["FP16"]


# --------------------------------------------------------------------------- progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_only_on_a_terminal():
    import time

    from reports import working

    quiet = io.StringIO()
    with working("planning", stream=quiet, delay_s=0.0) as update:
        update(10, 10, "planning 10 services")
    assert quiet.getvalue() == ""
    screen = Terminal()
    with working("planning", stream=screen, delay_s=0.0) as update:
        update(4, 10, "planning 10 services")
        time.sleep(0.3)
    assert "planning 10 services" in screen.getvalue() and "40%" in screen.getvalue()


# --------------------------------------------------------------------------- the registry


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "services.db")
    return request.getfixturevalue("pg_url")


def svc(db, *argv) -> CliResult:
    from commands.services import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", db, *argv], stdout=out, stderr=err)
    return CliResult(int(code), out.getvalue(), err.getvalue())


def test_services_plan_all_request_opens_one_draft_per_short_service_and_no_duplicates(registry_db):
    from services import Registry, TrafficPoint

    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    with Registry(registry_db) as registry:
        for name in ("grows", "open"):  # a daily cycle peaking at 60 rps: more than one H100 of llama-3.1-8b
            registry.add_service(name, owner="alice", model="llama-3.1-8b", gpu_type="H100-80GB", replicas=1)
            registry.add_traffic(name, [TrafficPoint(start + timedelta(hours=h),
                                                     60.0 * (0.6 + 0.4 * math.sin(2 * math.pi * h / 24)))
                                        for h in range(72)])
        registry.add_service("covered", owner="alice", model="llama-3.1-8b", gpu_type="H100-80GB", replicas=4, gpus=8,
                             requests_per_second=1.0, avg_input_tokens=500, avg_output_tokens=200)
        registry.create_request("open", gpus=2, reason="launch", by="bob")
        single = LLMForecastEngine(registry=registry).plan_service("grows", horizon_days=1)
    argv = ("plan", "--all", "--horizon-days", "1", "--request", "--by", "alice", "--workers", "1", "--format", "json")
    first = svc(registry_db, *argv)
    assert (first.exit_code, first.stderr) == (0, ""), first.stderr
    rows = {row["service"]: row for row in json.loads(first.stdout)["services"]}
    assert rows["grows"]["required_gpus"] == single.required_gpus > 1  # the same rule as planning one service
    assert rows["grows"]["request"]["gpus"] == rows["grows"]["additional_gpus"] == single.required_gpus - 1
    assert rows["covered"]["basis"] == "current traffic" and rows["covered"]["current_gpus"] == 8
    assert rows["covered"]["request"] is None and rows["covered"]["note"].startswith("no request opened")
    assert "already open" in rows["open"]["note"]
    again = svc(registry_db, *argv[:-2])  # the text report names the requests as the JSON does
    assert again.exit_code == 0, again.stderr
    with Registry(registry_db) as registry:
        requests = registry.list_requests()
    assert sorted((r.service, r.state.value) for r in requests) == [("grows", "draft"), ("open", "draft")]
    ids = {r.service: r.id for r in requests}  # the registry's ids, read apart from the plan's output
    assert json.loads(first.stdout)["requests"] == [
        {"id": ids["grows"], "service": "grows", "gpus": single.required_gpus - 1, "gpu_type": "H100-80GB",
         "state": "draft", "opened": True},
        {"id": ids["open"], "service": "open", "gpus": 2, "gpu_type": "H100-80GB", "state": "draft", "opened": False}]
    assert "CAPACITY REQUESTS: 0 opened, 2 already open" in again.stdout
    for service in ("grows", "open"):
        assert re.search(rf"^ +{ids[service]} +{service} +draft .* already open", again.stdout, re.M), again.stdout


def test_services_plan_refuses_a_registry_file_that_is_not_there(tmp_path):
    """A mistyped --db would open a new, empty registry and plan nothing (exit 0): it is a wrong path."""
    for argv in (("plan", "--all"), ("plan", "--all", "--request", "--by", "alice"), ("plan", "chat")):
        result = svc(str(tmp_path / "typo" / "services.db"), *argv)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (f"error: --db: got '{tmp_path / 'typo' / 'services.db'}'; expected an existing "
                                 "registry database (no such file: `services.py add` creates one)\n")
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_the_engine_plans_only_from_a_registry_that_is_there(tmp_path):
    """The same rule from Python: planning a mistyped path is refused and creates nothing."""
    from llm_forecast_engine import LLMForecastEngine
    from models import InputError

    for plan in (lambda engine: engine.plan_services(), lambda engine: engine.plan_service("chat")):
        with pytest.raises(InputError, match="expected an existing registry database"):
            plan(LLMForecastEngine(db_path=tmp_path / "typo.db"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags", [("--history", "{tmp}/gone.parquet"), ("--history", "{tmp}/gone.csv"),
                                   ("--history", "{tmp}/no/such/dir/gone.pq"),
                                   ("--history", "{root}/data/fleet/sample_fleet.parquet",
                                    "--retry-failed", "{tmp}/gone.parquet"),
                                   ("--history", "{root}/data/fleet/sample_fleet.parquet",
                                    "--retry-failed", "{tmp}/gone.json")])
def test_fleet_names_a_missing_input_file(cli, tmp_path, flags):
    """pyarrow's error for a missing file has no strerror ("... Parquet file (None)"): each input says it is not
    there, naming the flag and the path, before any planning."""
    argv = [flag.format(tmp=tmp_path, root=ROOT) for flag in flags]
    result = cli("--mode", "fleet", *argv)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: {argv[-2]}: got '{argv[-1]}'; expected an existing file (no such file)\n"


def test_services_plan_needs_a_name_or_all(tmp_path):
    db = str(tmp_path / "services.db")
    for argv in (("plan",), ("plan", "chat", "--all")):
        result = svc(db, *argv)
        assert result.exit_code == 2 and result.stderr == "error: plan needs a service name or --all (not both)\n"


def test_plan_fleet_refuses_what_is_not_a_table():
    with pytest.raises(InputError, match=r"forecast.history: got 'list'; expected a fleet table"):
        LLMForecastEngine().plan_fleet(ForecastInput(history=[(datetime(2026, 1, 1), 1.0)] * 3))


def test_a_fleet_wide_model_or_gpu_that_no_service_uses_is_named():
    """--model / --gpu-type fill the cells a service leaves empty: when none is empty they plan nothing, and
    the plan says so instead of looking as if they were used."""
    both = pd.concat([service_rows("a", 1, model="qwen3-8b", gpu_type="A100-80GB"),
                      service_rows("b", 2, model="llama-3.1-8b", gpu_type="A100-80GB")], ignore_index=True)
    warned = fleet.unused_fleet_values(both, "service", ModelConfig(model="llama-3.1-70b"),
                                       GPUConfig(gpu_type="H100-80GB"))
    assert warned == ["--model llama-3.1-70b plans no service: every service names its own in the table's model "
                      "column", "--gpu-type H100-80GB plans no service: every service names its own in the "
                            "table's gpu_type column"]
    # one service without a model cell takes the fleet's model: nothing to say about the model
    partly = pd.concat([service_rows("a", 1, model="qwen3-8b"), service_rows("b", 2)], ignore_index=True)
    assert fleet.unused_fleet_values(partly, "service", ModelConfig(model="llama-3.1-70b"), GPUConfig()) == []
