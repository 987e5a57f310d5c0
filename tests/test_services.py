"""Service registry and capacity-request workflow (services.py) and its CLI (commands/services.py).

The store tests run on SQLite and on a real PostgreSQL server (tests/pg_server.py); the concurrency
and crash tests run real processes on one SQLite file.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import pg_server
from conftest import ROOT, CliResult
from models import InputError, NotFoundError, PlannerError
from services import (
    MIGRATIONS,
    DatabaseUnavailable,
    DuplicateService,
    IllegalTransition,
    Migration,
    Registry,
    RequestState,
    SchemaTooNew,
    SelfApproval,
    Service,
    ServiceInUse,
    Timeouts,
    TrafficPoint,
    UnknownRequest,
    UnreadableRow,
    database_url,
)

START = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
CHAT = dict(owner="alice", team="core", model="llama-3.1-70b", gpu_type="H100", requests_per_second=5.0,
            avg_input_tokens=500, avg_output_tokens=200, replicas=2, gpus=8, tags=["prod"])


class TickClock:
    """A clock that moves one minute per reading."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def pg_admin_url():
    """A PostgreSQL server for this session (xdist worker): $LLM_CAPACITY_TEST_PG_URL or a local one."""
    try:
        url, server = pg_server.server_url()
    except pg_server.Unavailable as exc:
        if pg_server.required():
            pytest.fail(f"PostgreSQL is required here (CI) but unavailable: {exc}")
        pytest.skip(f"no PostgreSQL server ({exc}); set {pg_server.URL_ENV} to run these tests")
    yield url
    if server is not None:
        server.stop()


@pytest.fixture
def pg_url(pg_admin_url):
    """An empty database on the test server, dropped afterwards."""
    url, drop = pg_server.fresh_database(pg_admin_url)
    yield url
    drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database of each kind: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "services.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock():
    return TickClock()


@pytest.fixture
def registry(db_url, clock):
    with Registry(db_url, clock=clock) as reg:
        yield reg


@pytest.fixture
def chat(registry):
    """The registry with one service, ``chat``."""
    registry.add_service("chat", **CHAT)
    return registry


def _drive(registry: Registry, state: str) -> int:
    """A new request for ``chat`` brought to ``state`` along the shortest legal path; its id."""
    paths = {"draft": [], "submitted": ["submit"], "approved": ["submit", "approve"], "rejected": ["submit", "reject"],
             "fulfilled": ["submit", "approve", "fulfill"], "cancelled": ["cancel"]}
    request = registry.create_request("chat", gpus=4, reason="more traffic", by="alice")
    for action in paths[state]:
        registry.transition(request.id, action, by="alice" if action == "submit" else "bob")
    return request.id


# --------------------------------------------------------------------------- services


def test_add_canonicalizes_and_round_trips(chat, clock):
    service = chat.get_service("chat")
    assert (service.model, service.gpu_type, service.precision) == ("llama-3.1-70b", "H100-80GB", "FP16")
    assert (service.requests_per_second, service.avg_input_tokens, service.replicas, service.gpus) == (5.0, 500, 2, 8)
    assert service.tags == ("prod",)
    assert service.created_at == service.updated_at == clock.now
    assert service.created_at.tzinfo is timezone.utc


def test_list_update_and_remove(chat, tmp_path):
    chat.add_service("embed", owner="bob", model="llama-3.1-8b", gpu_type="L4-24GB")
    assert [s.name for s in chat.list_services()] == ["chat", "embed"]
    updated = chat.update_service("chat", gpus=16, replicas=4, tags=["prod", "eu"])
    assert (updated.gpus, updated.replicas, updated.tags) == (16, 4, ("prod", "eu"))
    assert updated.updated_at > updated.created_at
    assert chat.get_service("chat") == updated
    chat.import_traffic("embed", _rates_csv(tmp_path / "traffic.csv"))
    closed = _drive(chat, "fulfilled")
    assert chat.remove_service("embed").name == "embed"
    assert [s.name for s in chat.list_services()] == ["chat"]
    assert chat.get_request(closed).state is RequestState.FULFILLED


def test_remove_is_refused_while_requests_are_open(chat):
    open_id = _drive(chat, "submitted")
    with pytest.raises(ServiceInUse, match=rf"cancel or fulfill request\(s\) {open_id} first"):
        chat.remove_service("chat")
    chat.transition(open_id, "cancel", by="alice")
    chat.remove_service("chat")
    with pytest.raises(UnknownRequest):
        chat.get_request(open_id)


def test_duplicate_name_is_refused_and_changes_nothing(chat):
    with pytest.raises(DuplicateService, match=r"service.name: got 'chat'; expected a name not already"):
        chat.add_service("chat", owner="mallory", model="llama-3.1-8b", gpu_type="L4")
    assert chat.get_service("chat").owner == "alice"


def test_unknown_service_suggests_close_names(chat):
    with pytest.raises(NotFoundError, match=r"service: got 'chta'; expected a known service \(did you mean chat\?\)"):
        chat.get_service("chta")
    with pytest.raises(NotFoundError, match="chta"):
        chat.create_request("chta", gpus=1, reason="x", by="alice")


def test_update_validates_the_whole_record_and_changes_nothing_on_error(chat):
    before = chat.get_service("chat")
    with pytest.raises(InputError, match=r"service.gpus: got 1; expected at least one GPU per replica \(>= 2\)"):
        chat.update_service("chat", gpus=1)
    with pytest.raises(InputError, match="fields other than name"):
        chat.update_service("chat", name="other")
    assert chat.get_service("chat") == before


SERVICE_ERRORS = [
    ("name-upper", dict(name="Chat"), r"service.name: got 'Chat'; expected 1-64 lowercase"),
    ("name-space", dict(name="my chat"), r"service.name: got 'my chat'"),
    ("owner-empty", dict(owner="  "), r"service.owner: got '  '; expected non-empty text"),
    ("model-unknown", dict(model="llama-3.1-70"),
     r"service.model: got 'llama-3.1-70'; expected a known model \(did you mean"),
    ("gpu-unknown", dict(gpu_type="H1000"), r"service.gpu_type: got 'H1000'; expected a known GPU"),
    ("precision", dict(precision="FP12"), r"service.precision: got 'FP12'; expected one of FP32"),
    ("rps-negative", dict(requests_per_second=-1.0), r"service.requests_per_second: got -1.0"),
    ("tokens-fraction", dict(avg_input_tokens=1.5), r"service.avg_input_tokens: got 1.5; expected a whole number"),
    ("traffic-partial", dict(avg_output_tokens=None), r"service.traffic: got 'missing output tokens'"),
    ("slo-zero", dict(ttft_slo_ms=0), r"service.ttft_slo_ms: got 0; expected a finite number > 0"),
    ("gpus-below-replicas", dict(gpus=1), r"service.gpus: got 1; expected at least one GPU per replica"),
    ("tags-string", dict(tags="prod"), r"service.tags: got 'prod'; expected a list of tags"),
]


@pytest.mark.parametrize("changes, message", [c[1:] for c in SERVICE_ERRORS], ids=[c[0] for c in SERVICE_ERRORS])
def test_service_validation(changes, message):
    with pytest.raises(InputError, match=message):
        Service(**{"name": "chat", **CHAT, **changes})


# --------------------------------------------------------------------------- traffic


def _rates_csv(path: Path) -> Path:
    rows = [f"{(START + timedelta(hours=h)).isoformat()},{10 + h},{400 + h},{150}" for h in range(6)]
    path.write_text("timestamp,rps,input_tokens,output_tokens\n" + "\n".join(reversed(rows)) + "\n")
    return path


def test_import_rates_sorted_and_idempotent(chat, tmp_path):
    csv_path = _rates_csv(tmp_path / "traffic.csv")
    summary = chat.import_traffic("chat", csv_path)
    assert summary == {"service": "chat", "points": 6, "first": START.isoformat(),
                       "last": (START + timedelta(hours=5)).isoformat(), "warnings": []}
    chat.import_traffic("chat", csv_path)  # the same timestamps replace, never duplicate
    history = chat.traffic_history("chat")
    assert [p.requests_per_second for p in history] == [10, 11, 12, 13, 14, 15]
    assert history[0] == TrafficPoint(START, 10.0, 400.0, 150.0)


def test_import_request_counts_per_window_from_a_real_trace(chat):
    trace = ROOT / "data" / "traces" / "azure2024_conv_per_hour.csv"
    chat.import_traffic("chat", trace)
    history = chat.traffic_history("chat")
    first_line = trace.read_text().splitlines()[1].split(",")
    assert len(history) == len(trace.read_text().splitlines()) - 1
    assert history[0].timestamp == datetime.fromisoformat(first_line[0])
    assert history[0].requests_per_second == pytest.approx(float(first_line[1]) / 3600)  # hourly counts -> rps
    assert history[0].avg_input_tokens is None


def test_counts_with_token_totals_give_per_request_averages(chat, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_text("timestamp,requests,input_tokens,output_tokens\n0,600,300000,60000\n600,1200,480000,\n")
    assert chat.import_traffic("chat", path)["points"] == 2
    first, second = chat.traffic_history("chat")
    # 600 requests in a 600 s window = 1 rps; 300,000 tokens / 600 requests = 500 per request
    assert (first.requests_per_second, first.avg_input_tokens, first.avg_output_tokens) == (1.0, 500.0, 100.0)
    assert (second.requests_per_second, second.avg_input_tokens, second.avg_output_tokens) == (2.0, 400.0, None)
    assert second.timestamp == datetime(2024, 1, 1, 0, 10, tzinfo=timezone.utc)  # demand_history's relative epoch


@pytest.mark.parametrize("text", ["1736154000", "1736154000000", "2025-01-06T09:00:00", "2025-01-06T10:00:00+01:00",
                                  "2025-01-06 09:00:00Z"],
                         ids=["unix-s", "unix-ms", "naive-is-utc", "offset", "zulu"])
def test_timestamp_forms(chat, tmp_path, text):
    path = tmp_path / "one.csv"
    path.write_text(f"time,requests_per_second\n{text},2.5\n")
    chat.import_traffic("chat", path)
    assert chat.traffic_history("chat") == [TrafficPoint(START, 2.5)]


CSV_ERRORS = [
    ("bad-number", "timestamp,rps\n2025-01-01T00:00,3\n2025-01-01T01:00,lots\n",
     r"--csv .*bad.csv: rps: got 'lots'; expected numbers \(row 2 is not a number\)"),
    ("negative", "timestamp,rps\n2025-01-01T00:00,-2\n", r"bad.csv: rps: got -2.0; expected demand values >= 0 \(row 1\)"),
    ("bad-time", "timestamp,rps\nyesterday,2\n", r"bad.csv: timestamp: got 'yesterday'; expected a date and time \(row 1\)"),
    ("empty", "timestamp,rps\n", r"expected a CSV file with a header and at least one data row"),
    ("one-window", "timestamp,requests\n0,5\n", r"expected at least 3 distinct timestamps"),
    ("request-log", "timestamp,input_tokens,output_tokens\n0,5,6\n", r"expected values per period"),
    ("year-9999", "timestamp,rps\n9999-01-01,2\n", r"expected a timestamp from 1677-09-22 to 2262-04-11"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in CSV_ERRORS], ids=[c[0] for c in CSV_ERRORS])
def test_bad_traffic_csv_names_file_row_and_column_and_stores_nothing(chat, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        chat.import_traffic("chat", path)
    assert chat.traffic_summary("chat")["points"] == 0


def test_failed_import_stores_nothing(chat, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,rps\n2025-01-01T00:00,3\n2025-01-01T01:00,inf\n")
    with pytest.raises(InputError, match=r"bad.csv: rps: got inf; expected finite numbers \(row 2\)"):
        chat.import_traffic("chat", path)
    with pytest.raises(InputError, match=r"--csv: got '.*missing.csv'; expected an existing file"):
        chat.import_traffic("chat", tmp_path / "missing.csv")
    assert chat.traffic_history("chat") == []


# --------------------------------------------------------------------------- workflow

STATES = [s.value for s in RequestState]


def test_request_states_match_the_cli_choices():
    """The CLI's --state choices (models.REQUEST_STATES, no SQLAlchemy import) are the workflow's states."""
    from models import REQUEST_STATES

    assert tuple(STATES) == REQUEST_STATES

ACTIONS = ["submit", "approve", "reject", "fulfill", "cancel"]
ALLOWED = {  # (from state, action) -> to state; every other pair is illegal
    ("draft", "submit"): "submitted", ("submitted", "approve"): "approved", ("submitted", "reject"): "rejected",
    ("approved", "fulfill"): "fulfilled", ("draft", "cancel"): "cancelled", ("submitted", "cancel"): "cancelled",
    ("approved", "cancel"): "cancelled",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workflow(request, tmp_path_factory):
    """One registry per database kind shared by the transition table (each case opens its own request)."""
    if request.param == "sqlite":
        url, drop = str(tmp_path_factory.mktemp("workflow") / "services.db"), lambda: None
    else:
        url, drop = pg_server.fresh_database(request.getfixturevalue("pg_admin_url"))
    with Registry(url, clock=TickClock()) as reg:
        reg.add_service("chat", **CHAT)
        yield reg
    drop()


@pytest.mark.parametrize("state, action", [(s, a) for s in STATES for a in ACTIONS],
                         ids=[f"{s}-{a}" for s in STATES for a in ACTIONS])
def test_transition_table(workflow, state, action):
    request_id = _drive(workflow, state)
    before = workflow.get_request(request_id)
    if (state, action) in ALLOWED:
        after = workflow.transition(request_id, action, by="carol", note=f"{action} it")
        assert after.state.value == ALLOWED[(state, action)]
        event = after.history[-1]
        assert (event.action.value, event.from_state.value, event.to_state.value, event.by) == (
            action, state, after.state.value, "carol")
        assert event.note.startswith(f"{action} it")
        assert len(after.history) == len(before.history) + 1
    else:
        with pytest.raises(IllegalTransition, match=rf"request {request_id}: got '{action}'; expected an action "
                                                    rf"allowed in state {state}"):
            workflow.transition(request_id, action, by="carol")
        assert workflow.get_request(request_id) == before


def test_history_records_who_when_and_notes(chat):
    request = chat.create_request("chat", gpus=8, reason="launch in EU", by="alice")
    chat.transition(request.id, "submit", by="alice", note="please")
    done = chat.transition(request.id, "approve", by="bob", note="budget ok")
    assert [(e.action.value, e.by, e.note) for e in done.history] == [
        ("create", "alice", None), ("submit", "alice", "please"), ("approve", "bob", "budget ok")]
    times = [e.at for e in done.history]
    assert times == sorted(times) and len(set(times)) == 3
    assert done.created_at == times[0] and done.updated_at == times[-1]
    assert done.to_dict()["history"][0] == {"action": "create", "from_state": None, "to_state": "draft",
                                            "by": "alice", "at": times[0].isoformat(), "note": None}


def test_requester_cannot_approve_their_own_request(chat):
    request_id = _drive(chat, "submitted")
    before = chat.get_request(request_id)
    for approver in ("alice", "ALICE ", "Alice"):  # names are stored and compared case-folded
        with pytest.raises(SelfApproval, match=rf"approver: got 'alice'; expected someone other than "
                                               rf"the requester of request {request_id}"):
            chat.transition(request_id, "approve", by=approver)
    assert chat.get_request(request_id) == before
    assert chat.transition(request_id, "reject", by="alice").state is RequestState.REJECTED  # rejecting is allowed


def test_fulfilment_adds_gpus_of_the_service_type_only(chat):
    same = _drive(chat, "approved")
    done = chat.transition(same, "fulfill", by="ops")
    assert chat.get_service("chat").gpus == 12
    assert done.history[-1].note == "service GPUs 8 -> 12"
    other = chat.create_request("chat", gpus=2, gpu_type="a100-80gb", reason="trial", by="alice")
    assert other.gpu_type == "A100-80GB"
    chat.transition(other.id, "submit", by="alice")
    chat.transition(other.id, "approve", by="bob")
    done = chat.transition(other.id, "fulfill", by="ops", note="racked")
    assert chat.get_service("chat").gpus == 12
    assert done.history[-1].note == "racked; service GPUs unchanged (A100-80GB requested, service runs H100-80GB)"


REQUEST_ERRORS = [
    ("gpus-zero", dict(gpus=0), r"request.gpus: got 0; expected a whole number > 0"),
    ("reason-empty", dict(reason=""), r"request.reason: got ''"),
    ("by-missing", dict(by=None), r"request.by: got None"),
    ("gpu-unknown", dict(gpu_type="B900"), r"request.gpu_type: got 'B900'; expected a known GPU"),
]


@pytest.mark.parametrize("changes, message", [c[1:] for c in REQUEST_ERRORS], ids=[c[0] for c in REQUEST_ERRORS])
def test_bad_request_is_refused_and_stores_nothing(chat, changes, message):
    with pytest.raises(InputError, match=message):
        chat.create_request("chat", **{"gpus": 4, "reason": "x", "by": "alice", **changes})
    assert chat.list_requests() == []


def test_unknown_request_and_action(chat):
    with pytest.raises(UnknownRequest, match=r"request.id: got 42; expected the id of an existing request"):
        chat.transition(42, "approve", by="bob")
    with pytest.raises(InputError, match=r"action: got 'bless'; expected one of submit, approve"):
        chat.transition(1, "bless", by="bob")


def test_list_requests_filters(chat):
    chat.add_service("embed", owner="bob", model="llama-3.1-8b", gpu_type="L4")
    ids = {state: _drive(chat, state) for state in ("draft", "submitted", "approved")}
    embed = chat.create_request("embed", gpus=1, reason="x", by="bob")
    assert [r.id for r in chat.list_requests()] == [*ids.values(), embed.id]
    assert [r.id for r in chat.list_requests(state="submitted")] == [ids["submitted"]]
    assert [r.id for r in chat.list_requests(service="embed")] == [embed.id]
    assert [r.id for r in chat.list_requests(state="DRAFT", service="chat")] == [ids["draft"]]
    assert all(r.history for r in chat.list_requests())
    with pytest.raises(InputError, match=r"request.state: got 'open'; expected one of draft, submitted"):
        chat.list_requests(state="open")


def test_fleet_counts_gpus_by_type_and_team(chat):
    chat.add_service("embed", owner="bob", model="llama-3.1-8b", gpu_type="L4", replicas=3)
    for state in ("draft", "submitted", "submitted", "approved", "rejected", "cancelled"):
        _drive(chat, state)  # 4 GPUs each on H100-80GB
    embed = chat.create_request("embed", gpus=2, reason="x", by="bob")
    chat.transition(embed.id, "submit", by="bob")
    fleet = chat.fleet()
    assert fleet["by_gpu_type"] == {
        "H100-80GB": {"in_use": 8, "draft": 4, "requested": 8, "approved": 4},
        "L4-24GB": {"in_use": 3, "draft": 0, "requested": 2, "approved": 0},
    }
    assert fleet["by_team"] == {
        "(no team)": {"in_use": 3, "draft": 0, "requested": 2, "approved": 0},
        "core": {"in_use": 8, "draft": 4, "requested": 8, "approved": 4},
    }
    assert fleet["total"] == {"in_use": 11, "draft": 4, "requested": 10, "approved": 4}


# --------------------------------------------------------------------------- schema and locations


def test_migrations_are_recorded_once(db_url):
    Registry(db_url).close()
    with Registry(db_url) as reg:
        assert reg.schema_version() == MIGRATIONS[-1].version
        with reg.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version, name FROM schema_migrations")).all()
    assert [tuple(r) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]


def _add_column(conn):
    conn.execute(sa.text("ALTER TABLE services ADD COLUMN notes TEXT"))


def _broken(conn):
    _add_column(conn)
    raise RuntimeError("migration bug")


def test_a_new_migration_applies_in_its_own_transaction(db_url, monkeypatch):
    Registry(db_url).close()
    monkeypatch.setattr("services.MIGRATIONS", [*MIGRATIONS, Migration(2, "broken", _broken)])
    with pytest.raises(RuntimeError, match="migration bug"):
        Registry(db_url)
    monkeypatch.setattr("services.MIGRATIONS", [*MIGRATIONS, Migration(2, "notes", _add_column)])
    with Registry(db_url) as reg:  # the broken try left no column and no row behind, so this one applies
        assert reg.schema_version() == 2
        assert "notes" in {c["name"] for c in sa.inspect(reg.engine).get_columns("services")}
    monkeypatch.setattr("services.MIGRATIONS", MIGRATIONS)
    with pytest.raises(SchemaTooNew, match="schema version 2; this program knows up to 1"):
        Registry(db_url)


def test_database_url_forms(tmp_path, monkeypatch):
    assert database_url(tmp_path / "a.db").database == str(tmp_path / "a.db")
    assert database_url(":memory:").get_backend_name() == "sqlite"
    assert database_url("postgres://u:p@db:5432/cap").drivername == "postgresql+psycopg"
    assert database_url("postgresql://u@db/cap").drivername == "postgresql+psycopg"
    with pytest.raises(InputError, match=r"--db: got 'mysql://u@db/x'; expected a file path or a postgresql://user@host:port/database URL"):
        database_url("mysql://u@db/x")
    with pytest.raises(InputError, match=r"expected a database file path, not a directory"):
        database_url(tmp_path)
    monkeypatch.setenv("LLM_CAPACITY_DB", str(tmp_path / "env.db"))
    assert database_url(None).database == str(tmp_path / "env.db")
    monkeypatch.delenv("LLM_CAPACITY_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert database_url(None).database == str(tmp_path / "xdg" / "llm-capacity" / "services.db")


def test_in_memory_registry():
    with Registry(":memory:") as reg:
        reg.add_service("chat", **CHAT)
        assert reg.get_service("chat").gpus == 8


def test_unreachable_or_foreign_database_is_one_clear_error(tmp_path):
    with pytest.raises(DatabaseUnavailable,
                       match=r"cannot open database postgresql://u:\*\*\*@127.0.0.1:1/x: "):
        Registry("postgresql://u:secret@127.0.0.1:1/x")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(DatabaseUnavailable, match=r"file is not a database"):
        Registry(junk)


def test_engine_exposes_the_registry_lazily(tmp_path):
    from llm_forecast_engine import LLMForecastEngine

    path = tmp_path / "lazy.db"
    engine = LLMForecastEngine(db_path=str(path))
    assert not path.exists()
    engine.registry.add_service("chat", **CHAT)
    assert engine.registry is engine.registry
    assert [s.name for s in Registry(path).list_services()] == ["chat"]


# --------------------------------------------------------------------------- processes

WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from services import Registry
db, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
Path(go.parent / ("ready-" + name)).touch()
while not go.exists():
    time.sleep(0.005)
registry = Registry(db)  # all open the fresh database at once: migrations race too
registry.add_service(name, owner=name, model="llama-3.1-8b", gpu_type="L4")
for i in range(count):
    registry.create_request(name, gpus=1, reason=f"{{name}} {{i}}", by=name)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the child process"
        time.sleep(0.01)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_writers_on_a_fresh_database_lose_nothing(request, tmp_path, kind):
    db = str(tmp_path / "shared.db") if kind == "sqlite" else request.getfixturevalue("pg_url")
    writers, per_writer, go = 4, 25, tmp_path / "go"
    names = [f"writer{w}" for w in range(writers)]
    procs = [_spawn(WRITER.format(root=str(ROOT)), db, name, per_writer, go) for name in names]
    _wait_for(lambda: all((tmp_path / f"ready-{n}").exists() or p.poll() is not None for n, p in zip(names, procs)))
    go.touch()  # all start at once
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, [err for _, err in results]
    assert not any("locked" in err for _, err in results)
    with Registry(db) as reg:
        requests = reg.list_requests()
        assert reg.schema_version() == MIGRATIONS[-1].version
        assert sorted(s.name for s in reg.list_services()) == names
    assert len(requests) == writers * per_writer
    assert len({r.id for r in requests}) == writers * per_writer
    assert {r.reason for r in requests} == {f"{n} {i}" for n in names for i in range(per_writer)}
    assert all(len(r.history) == 1 for r in requests)


HANGING_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import sqlalchemy as sa
from services import Registry
db, marker = sys.argv[1], Path(sys.argv[2])
registry = Registry(db)
for i in range(3):
    registry.create_request("chat", gpus=1, reason=f"committed {{i}}", by="alice")

@sa.event.listens_for(registry.engine, "after_cursor_execute")
def hang(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("INSERT INTO CAPACITY_REQUESTS"):
        marker.touch()  # the request row is written, its event and the COMMIT are not
        time.sleep(120)

registry.create_request("chat", gpus=1, reason="never committed", by="alice")
"""


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_killed_writer_leaves_a_consistent_database(tmp_path):
    db, marker = tmp_path / "crash.db", tmp_path / "mid-transaction"
    Registry(db).add_service("chat", **CHAT)
    child = _spawn(HANGING_WRITER.format(root=str(ROOT)), db, marker)
    _wait_for(lambda: marker.exists() or child.poll() is not None)
    assert child.poll() is None, child.communicate()[1]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert _integrity(db) == "ok"
    with Registry(db) as reg:
        assert [r.reason for r in reg.list_requests()] == ["committed 0", "committed 1", "committed 2"]
        started = time.monotonic()
        reg.create_request("chat", gpus=1, reason="after the crash", by="bob")  # the lock died with the process
        assert time.monotonic() - started < 5
        assert len(reg.list_requests()) == 4


LOOPING_WRITER = """
import sys
sys.path.insert(0, {root!r})
from services import Registry
registry = Registry(sys.argv[1])
for i in range(100000):
    registry.create_request("chat", gpus=1, reason=f"loop {{i}}", by="alice")
"""


def test_writer_killed_at_a_random_moment_leaves_whole_requests_only(tmp_path):
    db = tmp_path / "loop.db"
    Registry(db).add_service("chat", **CHAT)
    child = _spawn(LOOPING_WRITER.format(root=str(ROOT)), db)

    def committed() -> int:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM capacity_requests").fetchone()[0]

    _wait_for(lambda: child.poll() is not None or committed() >= 30)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert _integrity(db) == "ok"
    with sqlite3.connect(db) as conn:
        orphans = conn.execute("SELECT count(*) FROM capacity_requests r WHERE (SELECT count(*) FROM request_events e "
                               "WHERE e.request_id = r.id) != 1").fetchone()[0]
        dangling = conn.execute("SELECT count(*) FROM request_events WHERE request_id NOT IN "
                                "(SELECT id FROM capacity_requests)").fetchone()[0]
    assert committed() >= 30 and (orphans, dangling) == (0, 0)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def db_file(tmp_path) -> Path:
    return tmp_path / "cli.db"


@pytest.fixture
def svc(db_file):
    """Run ``commands/services.py --db <tmp file>`` in-process: ``svc("list", "--format", "json")``."""
    from commands.services import main

    def run(*argv: str, db: str | Path | None = db_file) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = main([*(["--db", str(db)] if db else []), *argv], stdout=out, stderr=err)
        return CliResult(int(code), out.getvalue(), err.getvalue())

    return run


def _json(result: CliResult):
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


ADD_CHAT = ("add", "chat", "--owner", "alice", "--team", "core", "--model", "llama-3.1-70b", "--gpu-type", "H100",
            "--rps", "5", "--input-tokens", "500", "--output-tokens", "200", "--replicas", "2", "--gpus", "8",
            "--tags", "prod,eu")


def test_cli_workflow_end_to_end(svc):
    assert _json(svc(*ADD_CHAT, "--format", "json"))["gpu_type"] == "H100-80GB"
    created = _json(svc("request", "create", "chat", "--gpus", "8", "--reason", "launch", "--by", "alice",
                        "--format", "json"))
    request_id = str(created["id"])
    assert created["state"] == "draft"
    assert _json(svc("request", "submit", request_id, "--by", "alice", "--format", "json"))["state"] == "submitted"
    _json(svc("request", "approve", request_id, "--by", "bob", "--note", "budget ok", "--format", "json"))
    shown = _json(svc("--format", "json", "request", "show", request_id))
    assert shown["state"] == "approved"
    assert [(e["action"], e["by"], e["note"]) for e in shown["history"]] == [
        ("create", "alice", None), ("submit", "alice", None), ("approve", "bob", "budget ok")]
    assert _json(svc("fleet", "--format", "json"))["total"] == {"in_use": 8, "draft": 0, "requested": 0, "approved": 8}
    _json(svc("request", "fulfill", request_id, "--by", "ops", "--format", "json"))
    assert _json(svc("show", "chat", "--format", "json"))["gpus"] == 16


def test_cli_replicas_alone_default_to_one_gpu_each(svc):
    added = _json(svc("add", "embed", "--owner", "bob", "--model", "llama-3.1-8b", "--gpu-type", "L4",
                      "--replicas", "3", "--format", "json"))
    assert (added["replicas"], added["gpus"]) == (3, 3)


def test_cli_every_command_prints_only_json(svc, tmp_path):
    svc(*ADD_CHAT)
    traffic = _rates_csv(tmp_path / "traffic.csv")
    commands = [
        ("list",), ("show", "chat"), ("update", "chat", "--owner", "carol"),
        ("traffic", "import", "chat", "--csv", str(traffic)),
        ("request", "create", "chat", "--gpus", "2", "--reason", "x", "--by", "alice"),
        ("request", "submit", "1", "--by", "alice"), ("request", "reject", "1", "--by", "bob"),
        ("request", "create", "chat", "--gpus", "2", "--reason", "y", "--by", "alice"),
        ("request", "cancel", "2", "--by", "alice"), ("request", "list", "--state", "cancelled"),
        ("request", "show", "2"), ("fleet",),
        ("add", "tmp", "--owner", "x", "--model", "llama-3.1-8b", "--gpu-type", "L4"), ("remove", "tmp"),
    ]
    for argv in commands:
        payload = _json(svc(*argv, "--format", "json"))
        assert isinstance(payload, (dict, list)), argv


def test_cli_tables_for_people(svc):
    svc(*ADD_CHAT)
    svc("request", "create", "chat", "--gpus", "8", "--reason", "launch", "--by", "alice")
    listing = svc("list")
    assert listing.exit_code == 0 and "SERVICES" in listing.stdout and "llama-3.1-70b" in listing.stdout
    assert "CAPACITY REQUESTS" in svc("request", "list").stdout
    shown = svc("request", "show", "1").stdout
    assert "HISTORY" in shown and "create" in shown
    assert "GPUS BY TEAM" in svc("fleet").stdout


def _dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


CLI_ERRORS = [
    ("duplicate", ADD_CHAT, r"^error: service.name: got 'chat'; expected a name not already in the registry"),
    ("unknown-service", ("show", "chta"), r"^error: service: got 'chta'; expected a known service \(did you mean chat"),
    ("update-unknown", ("update", "nope", "--owner", "x"), r"^error: service: got 'nope'"),
    ("remove-unknown", ("remove", "nope"), r"^error: service: got 'nope'"),
    ("remove-open", ("remove", "chat"), r"^error: service: got 'chat'; expected a service with no open requests"),
    ("request-unknown-service", ("request", "create", "nope", "--gpus", "1", "--reason", "x", "--by", "a"),
     r"^error: service: got 'nope'"),
    ("unknown-id", ("request", "approve", "99", "--by", "bob"), r"^error: request.id: got 99; expected the id of an"),
    ("show-unknown-id", ("request", "show", "99"), r"^error: request.id: got 99"),
    ("illegal", ("request", "fulfill", "1", "--by", "bob"),
     r"^error: request 1: got 'fulfill'; expected an action allowed in state submitted: approve, reject, cancel$"),
    ("self-approval", ("request", "approve", "1", "--by", "alice"),
     r"^error: approver: got 'alice'; expected someone other than the requester of request 1$"),
    ("bad-gpu", ("add", "x", "--owner", "a", "--model", "llama-3.1-8b", "--gpu-type", "H1000"),
     r"^error: service.gpu_type: got 'H1000'; expected a known GPU"),
    ("bad-model", ("add", "x", "--owner", "a", "--model", "gpt-5", "--gpu-type", "L4"),
     r"^error: service.model: got 'gpt-5'"),
    ("bad-name", ("add", "X Y", "--owner", "a", "--model", "llama-3.1-8b", "--gpu-type", "L4"),
     r"^error: service.name: got 'X Y'"),
    ("bad-rps", ("update", "chat", "--rps", "-1"), r"^error: argument --rps: got '-1'; expected a finite number > 0$"),
    ("partial-traffic", ("add", "x", "--owner", "a", "--model", "llama-3.1-8b", "--gpu-type", "L4", "--rps", "3"),
     r"^error: service.traffic: got 'missing input tokens, output tokens'"),
    ("gpus-below-replicas", ("update", "chat", "--gpus", "1"),
     r"^error: service.gpus: got 1; expected at least one GPU"),
    ("missing-by", ("request", "submit", "1"), r"^error: the following arguments are required: --by$"),
    ("bad-state", ("request", "list", "--state", "open"), r"^error: argument --state: invalid choice: 'open'"),
    ("nothing-to-update", ("update", "chat"), r"^error: update: nothing to change"),
    ("plan-request-without-by", ("plan", "chat", "--request"), r"^error: plan --request needs --by USER"),
    ("bad-csv", ("traffic", "import", "chat", "--csv", "missing.csv"), r"^error: --csv: got 'missing.csv'"),
    ("bad-db", ("--db", "mysql://u@h/x", "list"), r"^error: --db: got 'mysql://u@h/x'; expected a file path"),
    ("no-command", (), r"^error: the following arguments are required: COMMAND$"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in CLI_ERRORS], ids=[c[0] for c in CLI_ERRORS])
def test_cli_bad_input_is_one_line_exit_2_and_changes_nothing(svc, db_file, argv, message):
    svc(*ADD_CHAT)
    svc("request", "create", "chat", "--gpus", "8", "--reason", "launch", "--by", "alice")
    svc("request", "submit", "1", "--by", "alice")
    before = _dump(db_file)
    result = svc(*argv, "--format", "json") if argv else svc()
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.rstrip("\n") == result.stderr.strip()
    assert re.search(message, result.stderr.strip()), result.stderr
    assert _dump(db_file) == before


def test_cli_database_from_environment(svc, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_CAPACITY_DB", str(tmp_path / "from-env.db"))
    assert _json(svc(*ADD_CHAT, "--format", "json", db=None))["name"] == "chat"
    assert [s.name for s in Registry(tmp_path / "from-env.db").list_services()] == ["chat"]


def test_cli_on_postgresql(svc, pg_url):
    _json(svc(*ADD_CHAT, "--format", "json", db=pg_url))
    created = _json(svc("request", "create", "chat", "--gpus", "4", "--reason", "x", "--by", "alice", "--format",
                        "json", db=pg_url))
    assert _json(svc("request", "list", "--format", "json", db=pg_url))[0]["id"] == created["id"]


def test_cli_unreachable_database_exit_2(svc):
    result = svc("list", db="postgresql://u:secret@127.0.0.1:1/x")
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot open database")
    assert "secret" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_cli_script_runs_as_a_program(tmp_path):
    done = subprocess.run([sys.executable, "commands/services.py", "--db", str(tmp_path / "p.db"), "--format", "json",
                           "list"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, json.loads(done.stdout), done.stderr) == (0, [], "")


def test_planner_errors_are_input_errors():
    for error in (DuplicateService, IllegalTransition, SelfApproval, ServiceInUse, UnknownRequest):
        assert issubclass(error, InputError) and issubclass(error, PlannerError)


# --------------------------------------------------------------------------- planning


def test_plan_on_current_traffic_matches_the_inference_planner(chat):
    from llm_forecast_engine import LLMForecastEngine
    from models import GPUConfig, LLMWorkloadInput, ModelConfig

    chat.update_service("chat", replicas=1, gpus=1)
    engine = LLMForecastEngine(registry=chat)
    result = engine.plan_service("chat", request_by="carol")
    direct = engine.generate_inference_plan(LLMWorkloadInput(5.0, 500, 200), ModelConfig(model="llama-3.1-70b"),
                                            GPUConfig(gpu_type="H100-80GB"))
    assert (result["basis"], result["required_gpus"]) == ("current traffic", direct.gpu_resources.total_gpus)
    assert result["additional_gpus"] == direct.gpu_resources.total_gpus - 1 > 0
    assert result.plan.gpu_resources.total_gpus == direct.gpu_resources.total_gpus
    request = chat.get_request(result["request"]["id"])
    assert (request.state, request.gpus) == (RequestState.DRAFT, result["additional_gpus"])
    assert request.requested_by == "carol"
    assert request.plan["required_gpus"] == result["required_gpus"]
    assert request.reason.startswith(f"plan (current traffic): {result['required_gpus']} H100-80GB needed, 1 held")


def test_attached_plans_are_strict_json(chat):
    request = chat.create_request("chat", gpus=1, reason="x", by="alice",
                                  plan={"mase": float("nan"), "rows": [float("inf"), 1.5], "at": START})
    assert chat.get_request(request.id).plan == {"mase": None, "rows": [None, 1.5], "at": START.isoformat()}


def test_plan_opens_no_request_when_the_service_has_enough(chat):
    from llm_forecast_engine import LLMForecastEngine

    result = LLMForecastEngine(registry=chat).plan_service("chat", request_by="carol")
    assert result["spare_gpus"] == 8 - result["required_gpus"] >= 0
    assert result["request"] is None and result["note"].startswith("no request opened")
    assert chat.list_requests() == []


def test_plan_asks_the_forecast_question_of_the_service(chat, tmp_path):
    from llm_forecast_engine import LLMForecastEngine

    chat.import_traffic("chat", _rates_csv(tmp_path / "traffic.csv"))
    request = LLMForecastEngine(registry=chat).service_request("chat", horizon_days=14)
    question = request.forecast
    assert request.mode == "forecast" and (request.model.model, request.model.precision) == ("llama-3.1-70b", "FP16")
    assert list(question.history["requests_per_second"]) == [10.0 + h for h in range(6)]
    assert (question.horizon_days, question.scenario, request.gpu.gpu_type) == (14, "pessimistic", "H100-80GB")
    assert question.current_replicas == 2
    # the service's registered tokens are given values: they win over the history's token columns
    assert (question.avg_input_tokens, question.avg_output_tokens) == (500, 200)
    assert question.peak_load_multiplier is None  # the one rule for forecasts applies (capacity_timeline)


def test_plan_without_any_traffic_is_a_user_error(chat):
    from llm_forecast_engine import LLMForecastEngine

    chat.add_service("idle", owner="bob", model="llama-3.1-8b", gpu_type="L4")
    with pytest.raises(InputError, match=r"service idle: got 'no traffic'; expected rps and token averages"):
        LLMForecastEngine(registry=chat).plan_service("idle")


def test_plan_with_the_real_forecaster(chat):
    import math

    from llm_forecast_engine import LLMForecastEngine
    from services import TrafficPoint

    chat.update_service("chat", model="llama-3.1-8b", replicas=1, gpus=1)
    chat.add_traffic("chat", [TrafficPoint(START + timedelta(hours=h), 20 + 10 * math.sin(2 * math.pi * h / 24))
                              for h in range(48)])
    engine = LLMForecastEngine(registry=chat)
    result = engine.plan_service("chat", horizon_days=2, request_by="carol")
    timeline = result.plan.capacity_timeline
    assert result["basis"] == "forecast" and len(timeline) == 48
    assert result["required_gpus"] == max(p["gpus_needed"] for p in timeline) >= 1
    assert result.plan.capacity["current"]["replicas"] == 1  # the registry's count, not the planner's guess
    assert result.plan.scaling_recommendations
    assert result["additional_gpus"] == result["required_gpus"] - 1 > 0  # a 30 rps peak needs more than 1 GPU
    assert chat.get_request(result["request"]["id"]).gpus == result["additional_gpus"]
    # planning again opens no second draft: the open request is shown instead
    again = engine.plan_service("chat", horizon_days=2, request_by="carol")
    assert again["request"]["id"] == result["request"]["id"] and "already open" in again["note"]
    assert len(chat.list_requests(service="chat")) == 1


def test_cli_plan(svc):
    svc(*ADD_CHAT)
    svc("update", "chat", "--replicas", "1", "--gpus", "1")
    result = _json(svc("plan", "chat", "--request", "--by", "carol", "--format", "json"))
    assert result["request"]["state"] == "draft" and result["request"]["gpus"] == result["additional_gpus"]
    assert "SERVICE CAPACITY PLAN" in svc("plan", "chat").stdout


def test_every_command_has_help():
    import argparse

    from commands.services import build_parser

    def walk(parser, path=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, sub in action.choices.items():
                    assert helps.get(name), " ".join((*path, name))
                    yield from walk(sub, (*path, name))
        yield path

    commands = [" ".join(p) for p in walk(build_parser()) if p]
    assert {"add", "plan", "traffic import", "request create", "request approve", "fleet"} <= set(commands)


# =========================================================================== hardening, round two (issue 15)
# --------------------------------------------------------------------------- identities

# (approver as typed, what happens) for a request opened by "alice"; "refused" = an InputError naming the reason
LOOK_ALIKES = [
    ("zero-width-space", "alice\u200b", "invisible", r"U\+200B ZERO WIDTH SPACE"),
    ("zero-width-joiner", "al\u200dice", "invisible", r"U\+200D ZERO WIDTH JOINER"),
    ("soft-hyphen", "al\u00adice", "invisible", r"U\+00AD SOFT HYPHEN"),
    ("word-joiner", "\u2060alice", "invisible", r"U\+2060 WORD JOINER"),
    ("bom", "alice\ufeff", "invisible", r"U\+FEFF"),
    ("grapheme-joiner", "a\u034flice", "invisible", r"U\+034F COMBINING GRAPHEME JOINER"),
    ("hangul-filler", "alice\u3164", "invisible", r"HANGUL (JUNGSEONG )?FILLER"),  # NFKC: U+3164 -> U+1160
    ("braille-blank", "alice\u2800", "invisible", r"U\+2800 BRAILLE PATTERN BLANK"),
    ("tag-character", "alice\U000e0041", "invisible", r"U\+E0041 TAG LATIN CAPITAL LETTER A"),
    ("bidi-override", "\u202ealice", "invisible", r"U\+202E RIGHT-TO-LEFT OVERRIDE"),
    ("control", "alice\x07", "invisible", r"without control characters"),
    ("cyrillic-a", "\u0430lice", "invisible", r"a name in one script \(this mixes CYRILLIC and LATIN"),
    ("greek-omicron", "b\u03bfb", "invisible", r"mixes GREEK and LATIN"),
    ("fullwidth", "\uff41\uff4c\uff49\uff43\uff45", "self", None),
    ("upper-and-spaces", "  ALICE ", "self", None),
    ("nbsp-is-a-space", "alice\u00a0", "self", None),
    ("mathematical-bold", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", "self", None),
    ("circled", "\u24d0\u24db\u24d8\u24d2\u24d4", "self", None),
    ("someone-else", "bob", "approved", None),
]


@pytest.mark.parametrize("approver, outcome, message", [c[1:] for c in LOOK_ALIKES], ids=[c[0] for c in LOOK_ALIKES])
def test_look_alike_names_cannot_approve_their_own_request(chat, approver, outcome, message):
    request_id = _drive(chat, "submitted")
    before = chat.get_request(request_id)
    if outcome == "approved":
        assert chat.transition(request_id, "approve", by=approver).state is RequestState.APPROVED
        return
    error = SelfApproval if outcome == "self" else InputError
    with pytest.raises(error, match=message or r"expected someone other than the requester"):
        chat.transition(request_id, "approve", by=approver)
    assert chat.get_request(request_id) == before


def test_names_are_stored_normalised_and_whole_script_look_alikes_are_caught(chat):
    request = chat.create_request("chat", gpus=1, reason="r", by="\uff21\uff4c\uff49\uff43\uff45  Smith")
    assert request.requested_by == "alice smith" and request.history[0].by == "alice smith"
    # Cyrillic "асе" is one script, so it may be a name; it reads as Latin "ace", so it cannot approve for "ace"
    other = chat.create_request("chat", gpus=1, reason="r", by="ace")
    chat.transition(other.id, "submit", by="ace")
    with pytest.raises(SelfApproval):
        chat.transition(other.id, "approve", by="\u0430\u0441\u0435")
    assert chat.add_service("ru", owner="\u0410\u043b\u0438\u0441\u0430", model="llama-3.1-8b", gpu_type="H100").owner \
        == "\u0430\u043b\u0438\u0441\u0430"  # a real Cyrillic name is fine
    assert chat.add_service("jp", owner="\u7530\u4e2d taro", model="llama-3.1-8b", gpu_type="H100").owner \
        == "\u7530\u4e2d taro"  # Han with Latin is an allowed mix


def test_rows_written_before_names_were_checked_still_count_as_the_requester(chat):
    request_id = _drive(chat, "submitted")
    with chat.engine.begin() as conn:  # an older version stored the name as typed, invisible character and all
        conn.execute(sa.text("UPDATE capacity_requests SET requested_by = :by"), {"by": "Alice\u200b"})
    with pytest.raises(SelfApproval):
        chat.transition(request_id, "approve", by="alice")


def test_cli_look_alike_approval_is_one_line_exit_2(svc):
    svc("add", "chat", "--owner", "alice", "--model", "llama-3.1-8b", "--gpu-type", "H100")
    svc("request", "create", "chat", "--gpus", "2", "--reason", "x", "--by", "alice")
    svc("request", "submit", "1", "--by", "alice")
    for approver in ("alice\u200b", "\uff41\uff4c\uff49\uff43\uff45", "al\u00adice", "\u0430lice"):
        result = svc("request", "approve", "1", "--by", approver)
        assert (result.exit_code, result.stdout, result.stderr.count("\n")) == (2, "", 1), result.stderr
        assert result.stderr.startswith("error: ")
    assert json.loads(svc("--format", "json", "request", "show", "1").stdout)["state"] == "submitted"


# --------------------------------------------------------------------------- PostgreSQL: timeouts and credentials


def test_a_lock_held_by_another_session_expires_with_the_lock_timeout(pg_url):
    chat = Registry(pg_url)
    chat.add_service("chat", **CHAT)
    request_id = _drive(chat, "submitted")
    holder = sa.create_engine(sa.make_url(pg_url).set(drivername="postgresql+psycopg"))
    with holder.connect() as conn:
        conn.execute(sa.text("LOCK TABLE capacity_requests IN ACCESS EXCLUSIVE MODE"))  # held until rollback
        with Registry(pg_url, timeouts=Timeouts(lock_s=0.5)) as blocked:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable, match=r"the lock timeout \(0.5 s\) expired: another session"):
                blocked.transition(request_id, "approve", by="bob")
            assert time.monotonic() - started < 10
        conn.rollback()
    holder.dispose()
    assert chat.get_request(request_id).state is RequestState.SUBMITTED
    chat.close()


def test_a_sqlite_write_lock_held_by_another_process_expires_with_the_lock_timeout(tmp_path):
    db = tmp_path / "locked.db"
    Registry(db).add_service("chat", **CHAT)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Registry(db, timeouts=Timeouts(lock_s=0.3)) as blocked:
            with pytest.raises(DatabaseUnavailable, match=r"the lock timeout \(0.3 s\) expired"):
                blocked.create_request("chat", gpus=1, reason="r", by="alice")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_long_statement_expires_with_the_statement_timeout(pg_url):
    with Registry(pg_url, timeouts=Timeouts(statement_s=0.3)) as registry:
        with pytest.raises(DatabaseUnavailable, match=r"the statement timeout \(0.3 s\) expired"):
            with registry._transaction(write=False) as conn:
                conn.execute(sa.text("SELECT pg_sleep(5)"))


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word (a hung PostgreSQL, a firewall's tarpit)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted, stop = [], threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_fails_within_the_connect_timeout(silent_server, svc):
    url = f"postgresql://alice:hunter2@127.0.0.1:{silent_server}/db"
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match=r"the connect timeout \(1 s\) expired"):
        Registry(url, timeouts=Timeouts(connect_s=1))
    assert time.monotonic() - started < 8  # libpq counts at least 2 s; the default would be 10 s, unbounded 130 s
    result = svc("--connect-timeout", "1", "list", db=url)
    assert (result.exit_code, result.stdout) == (2, "") and "hunter2" not in result.stderr
    assert re.fullmatch(r"error: cannot open database postgresql://alice:\*\*\*@127.0.0.1:\d+/db: the connect timeout "
                        r"\(1 s\) expired.*\n", result.stderr)


# --db value -> (what the message must not contain, what it must say)
SECRET_FORMS = [
    ("user-password", "postgresql://alice:hunter2@127.0.0.1:1/db", r"postgresql://alice:\*\*\*@127.0.0.1:1/db"),
    ("query-password", "postgresql://alice@127.0.0.1:1/db?password=hunter2", r"\?password=\*\*\*"),
    ("query-password-among-others", "postgresql://alice@127.0.0.1:1/db?sslmode=disable&password=hunter2&x=1",
     r"password=\*\*\*"),
    ("dsn", "host=127.0.0.1 port=1 user=alice password=hunter2 dbname=db", r"cannot open database"),
    ("dsn-quoted", "host=127.0.0.1 port=1 password='hunter2 x' dbname=db", r"cannot open database"),
    ("encoded-at", "postgresql://alice:hun%40ter2@127.0.0.1:1/db", r"alice:\*\*\*@"),
    ("bad-port", "postgresql://alice:hunter2@127.0.0.1:notaport/db", r"--db: got 'postgresql://alice:\*\*\*@127"),
    ("bracket", "postgresql://alice:hunter2@[::1/db", r"--db: .*expected a file path or a postgresql://"),
    ("bad-dsn", "host=127.0.0.1 password=hunter2 dbname", r"--db: .*expected a libpq connection string"),
    ("bad-option", "postgresql://alice:hunter2@127.0.0.1:1/db?sslmode=bogus", r"cannot open database"),
    ("unknown-option", "postgresql://alice:hunter2@127.0.0.1:1/db?nonsense=1", r"(cannot open database|--db)"),
    ("port-out-of-range", "postgresql://alice:hunter2@127.0.0.1:99999/db", r"(cannot open database|--db)"),
]


@pytest.mark.parametrize("url, message", [c[1:] for c in SECRET_FORMS], ids=[c[0] for c in SECRET_FORMS])
def test_credentials_are_masked_in_every_form_and_bad_urls_are_user_errors(svc, tmp_path, monkeypatch, url, message):
    monkeypatch.chdir(tmp_path)
    result = svc("--connect-timeout", "2", "list", db=url)
    assert (result.exit_code, result.stdout, result.stderr.count("\n")) == (2, "", 1), result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert "hunter2" not in result.stderr and "hun%40ter2" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # a DSN is not taken for a SQLite file name


def test_pgpassword_is_never_printed(svc, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "s3cret-from-env")
    result = svc("--connect-timeout", "2", "list", db="postgresql://alice@127.0.0.1:1/db?application_name=s3cret-from-env")
    assert result.exit_code == 2 and "s3cret-from-env" not in result.stderr


# --------------------------------------------------------------------------- rows this version cannot read

# (damage, SQL per database, table, key, column, the fix: a CLI update that repairs it, or None: remove only)
DAMAGE = [
    ("model-left-the-catalog", {"sqlite": "UPDATE services SET model = 'llama-0-retired' WHERE name = 'chat'",
                                "postgresql": "UPDATE services SET model = 'llama-0-retired' WHERE name = 'chat'"},
     "services", "chat", "model", ["--model", "llama-3.1-8b"]),
    ("tags-not-json", {"sqlite": "UPDATE services SET tags = 'prod, not json' WHERE name = 'chat'",
                       "postgresql": "UPDATE services SET tags = '{\"a\": 1}' WHERE name = 'chat'"},
     "services", "chat", "tags", ["--tags", "prod"]),
    ("created-unparsable", {"sqlite": "UPDATE services SET created_at = 'last tuesday' WHERE name = 'chat'",
                            "postgresql": "UPDATE services SET created_at = 'infinity' WHERE name = 'chat'"},
     "services", "chat", "created_at", ["--team", "core"]),
    ("gpus-not-a-number", {"sqlite": "UPDATE services SET gpus = 'lots' WHERE name = 'chat'",
                           "postgresql": "UPDATE services SET gpus = -5, replicas = -7 WHERE name = 'chat'"},
     "services", "chat", None, ["--replicas", "2", "--gpus", "8"]),
    ("owner-invisible", {"sqlite": "UPDATE services SET owner = 'ali\u200bce' WHERE name = 'chat'",
                         "postgresql": "UPDATE services SET owner = 'ali\u200bce' WHERE name = 'chat'"},
     "services", "chat", "owner", ["--owner", "alice"]),
    ("state-from-a-newer-version", {"sqlite": "UPDATE capacity_requests SET state = 'escalated'",
                                    "postgresql": "UPDATE capacity_requests SET state = 'escalated'"},
     "capacity_requests", "1", "state", None),
    ("plan-not-json", {"sqlite": "UPDATE capacity_requests SET plan = '{oops'",
                       "postgresql": "UPDATE capacity_requests SET plan = '[1, 2]'"},
     "capacity_requests", "1", "plan", None),
    ("event-from-a-newer-version", {"sqlite": "UPDATE request_events SET action = 'escalate'",
                                    "postgresql": "UPDATE request_events SET action = 'escalate'"},
     None, None, None, None),
]


def _damage(db_url: str, sql: str) -> None:
    if "://" in db_url:
        engine = sa.create_engine(sa.make_url(db_url).set(drivername="postgresql+psycopg"))
        with engine.begin() as conn:
            for table, check in (("capacity_requests", "known_state"), ("services", "gpus_cover_replicas")):
                conn.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}"))
            conn.execute(sa.text(sql))
        engine.dispose()
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(sql)


@pytest.mark.parametrize("sql, table, key, column, fix", [c[1:] for c in DAMAGE], ids=[c[0] for c in DAMAGE])
def test_a_row_this_version_cannot_read_is_listed_shown_fixed_and_removed(db_url, svc, sql, table, key, column, fix):
    kind = "postgresql" if "://" in db_url else "sqlite"
    with Registry(db_url) as registry:
        registry.add_service("chat", **CHAT)
        registry.add_service("embed", **{**CHAT, "model": "llama-3.1-8b"})
        request = registry.create_request("chat", gpus=2, reason="r", by="alice")
        registry.transition(request.id, "cancel", by="alice")  # closed: the service may be removed
    _damage(db_url, sql[kind])
    listing = _json(svc("--format", "json", "list", db=db_url))
    requests = _json(svc("--format", "json", "request", "list", db=db_url))
    assert [s.get("name") or s["key"] for s in listing] == ["chat", "embed"]  # nothing hides the healthy rows
    rows = listing if table == "services" else requests
    if table is not None:
        broken = next(r for r in rows if r.get("unreadable"))
        assert (broken["table"], broken["key"]) == (table, key)
        assert column is None or broken["column"] == column
        assert svc("list", db=db_url).exit_code == 0 and svc("request", "list", db=db_url).exit_code == 0
        shown = svc("--format", "json", "show" if table == "services" else "request", *(
            [key] if table == "services" else ["show", key]), db=db_url)
        assert shown.exit_code == 0 and _json(shown)["unreadable"] is True
        assert svc("show", "chat", db=db_url).exit_code == 0
    assert svc("fleet", db=db_url).exit_code == 0
    if fix is not None:
        refused = svc("update", "chat", "--precision", "FP8", db=db_url) if column != "created_at" else None
        if refused is not None:  # writes still validate: a change that leaves the bad value is refused
            assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
        fixed = svc("--format", "json", "update", "chat", *fix, db=db_url)
        assert fixed.exit_code == 0, fixed.stderr
        assert not any(r.get("unreadable") for r in _json(svc("--format", "json", "list", db=db_url)))
    removed = svc("remove", "chat", db=db_url)
    assert removed.exit_code == 0, removed.stderr
    assert [s.get("name") or s["key"] for s in _json(svc("--format", "json", "list", db=db_url))] == ["embed"]


def test_a_request_in_an_unknown_state_is_not_moved(chat):
    request = chat.create_request("chat", gpus=2, reason="r", by="alice")
    _damage(str(chat.url.database) if chat.dialect == "sqlite" else chat.url.render_as_string(hide_password=False),
            "UPDATE capacity_requests SET state = 'escalated'")
    with pytest.raises(InputError, match=r"capacity_requests \d+: state: got 'escalated'; expected a state this "
                                         r"version knows .* use the version that wrote it"):
        chat.transition(request.id, "cancel", by="alice")
    assert chat.get_request(request.id, lenient=True).value == "escalated"
    with pytest.raises(InputError, match=r"capacity_requests \d+: state"):
        chat.get_request(request.id)


def test_a_service_that_cannot_be_read_is_refused_where_the_whole_record_is_needed(chat):
    _damage(str(chat.url.database) if chat.dialect == "sqlite" else chat.url.render_as_string(hide_password=False),
            "UPDATE services SET model = 'llama-0-retired'")
    with pytest.raises(InputError, match=r"services chat: model: got 'llama-0-retired'; expected a known model .*\(fix "
                                         r"it with `update chat --model \.\.\.`, or remove the service"):
        chat.get_service("chat")
    with pytest.raises(InputError, match=r"services chat: model"):
        chat.create_request("chat", gpus=1, reason="r", by="alice")
    assert isinstance(chat.get_service("chat", lenient=True), UnreadableRow)


# --------------------------------------------------------------------------- shared SQLite files


def _as_other_user(action) -> int:
    """Run ``action()`` in a child process under another user id (as root: uid 65534, 'nobody'); its return code.
    The child only runs code this process has imported already (Python's own files may be unreadable to it)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        code = 99
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            code = int(action())
        except BaseException as exc:
            os.write(write, f"{type(exc).__name__}: {exc}".encode()[:2000])
        finally:
            os._exit(code)
    os.close(write)
    message = os.read(read, 4000).decode()
    os.close(read)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code != 99, message
    return code


@pytest.fixture
def shared_dir():
    """A directory outside the 0700 pytest tree, so another user id can reach it."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="llm-capacity-shared-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _cli_code(*argv: str) -> int:
    from commands.services import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    if code not in (0, 2) or (code == 2 and err.getvalue().count("\n") != 1):
        raise AssertionError(err.getvalue())
    return code * 10 + (1 if code == 2 and "read-only" in err.getvalue() else 0)


root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="another user id is needed (the CI runs as root)")


@root_only
def test_another_users_list_leaves_no_files_the_owner_cannot_write(shared_dir):
    db = shared_dir / "services.db"
    with Registry(db) as owner:
        owner.add_service("chat", **CHAT)
    db.chmod(0o644)
    commands = (["list"], ["show", "chat"], ["request", "list"], ["fleet"], ["plan", "chat"])
    for argv in commands:  # imports what the child needs (Python's own files may be unreadable to it)
        assert _cli_code("--db", str(db), *argv) == 0
    _cli_code("--db", str(shared_dir / "warm.db"), "update", "chat", "--team", "x")
    (shared_dir / "warm.db").unlink()
    for argv in commands:
        assert _as_other_user(lambda: _cli_code("--db", str(db), *argv)) in (0, 20), argv
        leftovers = [p.name for p in shared_dir.iterdir() if p.stat().st_uid == 65534]
        assert leftovers == [], argv
    refused = _as_other_user(lambda: _cli_code("--db", str(db), "update", "chat", "--team", "x"))
    assert refused == 21  # exit 2, "read-only for user id 65534"
    with Registry(db) as owner:  # the owner still writes
        owner.update_service("chat", team="infra")


@root_only
def test_a_read_only_directory_still_lists(shared_dir):
    db = shared_dir / "services.db"
    with Registry(db) as owner:
        owner.add_service("chat", **CHAT)
    db.chmod(0o644)
    shared_dir.chmod(0o755)  # the other user may read, not create -wal/-shm files
    assert _cli_code("--db", str(db), "list") == 0
    assert _as_other_user(lambda: _cli_code("--db", str(db), "list")) == 0
    assert _as_other_user(lambda: _cli_code("--db", str(db), "request", "create", "chat", "--gpus", "1",
                                            "--reason", "r", "--by", "bob")) == 21
    assert _as_other_user(lambda: _cli_code("--db", str(shared_dir / "other.db"), "list")) == 20  # none to create
    assert sorted(p.name for p in shared_dir.iterdir()) == ["services.db"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through permissions")
def test_read_only_file_and_directory_by_permissions(tmp_path, svc):
    db = tmp_path / "ro" / "services.db"
    db.parent.mkdir()
    with Registry(db) as owner:
        owner.add_service("chat", **CHAT)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        assert svc("list", db=db).exit_code == 0
        result = svc("update", "chat", "--team", "x", db=db)
        assert result.exit_code == 2 and "read-only" in result.stderr
    finally:
        db.parent.chmod(0o755)


def test_read_only_registry_refuses_writes_and_needs_no_upgrade_to_read(tmp_path):
    db = tmp_path / "services.db"
    with Registry(db) as owner:
        owner.add_service("chat", **CHAT)
    with Registry(db, read_only=True) as reader:
        assert [s.name for s in reader.list_services()] == ["chat"]
        with pytest.raises(DatabaseUnavailable, match=r"opened read-only: this command changes it"):
            reader.update_service("chat", team="x")


# --------------------------------------------------------------------------- traffic import: one reader, streamed


def test_import_counts_a_repeated_timestamp_once_and_merges_it_like_the_forecaster(chat, tmp_path, svc, db_url):
    path = tmp_path / "repeat.csv"
    path.write_text("timestamp,rps,input_tokens\n2025-01-06T09:00:00Z,10,400\n2025-01-06T10:00:00Z,20,300\n"
                    "2025-01-06T09:00:00Z,30,600\n")
    assert chat.import_traffic("chat", path)["points"] == 2
    nine = chat.traffic_history("chat")[0]
    # mean rate (10 + 30) / 2 = 20; tokens weighted by requests (10 x 400 + 30 x 600) / 40 = 550
    assert (nine.requests_per_second, nine.avg_input_tokens) == (20.0, 550.0)
    result = _json(svc("--format", "json", "traffic", "import", "chat", "--csv", str(path), db=db_url))
    assert result["points"] == 2


def test_import_streams_in_chunks_and_stores_what_the_whole_file_gives(chat, tmp_path, monkeypatch):
    import demand_history

    path = tmp_path / "long.csv"
    rows = [f"{1736154000 + 60 * i},{i % 7},{100 + i % 5},{50}" for i in range(50)]
    path.write_text("timestamp,requests,input_tokens,output_tokens\n" + "\n".join(rows + rows[:5]) + "\n")
    monkeypatch.setattr(demand_history, "CHUNK_ROWS", 7)  # duplicates straddle chunks
    chunked = chat.import_traffic("chat", path)
    history = chat.traffic_history("chat")
    assert chunked["points"] == 50 and len(history) == 50
    # requests per 60 s window -> rps; row 3 holds 3 requests and 103 input tokens in total -> 34.33 per request
    assert history[3].requests_per_second == pytest.approx(3 / 60)
    assert history[3].avg_input_tokens == pytest.approx(103 / 3)


def test_import_reads_what_forecast_reads(chat, tmp_path):
    """The store and forecast.py --history read one file the same way: the same rates and token means.

    (With a ``token_coverage`` column the store keeps each period's tokens per request and weighs periods by
    their requests; the file's reader also weighs them by coverage, so the two agree only without it.)"""
    from demand_history import load_history

    path = tmp_path / "counts.csv"
    rows = [f"{1736154000 + 3600 * h},{100 + (h * 37) % 50},{(100 + (h * 37) % 50) * (300 + h % 7)},"
            f"{(100 + (h * 37) % 50) * 80}" for h in range(72)]
    path.write_text("timestamp,requests,input_tokens,output_tokens\n" + "\n".join(rows) + "\n")
    chat.import_traffic("chat", path)
    stored, direct = load_history(chat.traffic_frame("chat")), load_history(path)
    assert stored.avg_input_tokens == pytest.approx(direct.avg_input_tokens)
    assert (stored.avg_output_tokens, direct.avg_output_tokens) == (pytest.approx(80.0), pytest.approx(80.0))
    assert stored.series.to_numpy() == pytest.approx((direct.series * direct.rps_per_unit).to_numpy())


def test_cli_import_with_a_date_format_reads_day_first_dates(svc, tmp_path):
    svc("add", "chat", "--owner", "alice", "--model", "llama-3.1-8b", "--gpu-type", "H100")
    path = tmp_path / "eu.csv"
    path.write_text("timestamp,rps\n12/01/2025 23:00,1\n13/01/2025 00:00,2\n")
    refused = svc("traffic", "import", "chat", "--csv", str(path))
    assert refused.exit_code == 2 and "day first (row 2)" in refused.stderr and "--date-format" in refused.stderr
    result = _json(svc("--format", "json", "traffic", "import", "chat", "--csv", str(path), "--date-format",
                       "%d/%m/%Y %H:%M"))
    assert (result["points"], result["first"], result["last"]) == (2, "2025-01-12T23:00:00+00:00",
                                                                   "2025-01-13T00:00:00+00:00")


def test_traffic_points_outside_pandas_range_are_refused(chat):
    for year in (1, 9999):
        with pytest.raises(InputError, match=r"traffic.timestamp: .*expected a time from 1677-09-22 to 2262-04-11"):
            chat.add_traffic("chat", [TrafficPoint(datetime(year, 1, 1, tzinfo=timezone.utc), 1.0)])
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(InputError, match=r"traffic.requests_per_second"):
            TrafficPoint(START, bad)


IMPORT_KILLER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
import sqlalchemy as sa
from services import Registry
db, csv, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
registry = Registry(db)
seen = []

@sa.event.listens_for(registry.engine, "after_cursor_execute")
def hang(conn, cursor, statement, *args):
    if "INSERT INTO traffic_import" in statement:
        seen.append(1)
        if len(seen) == 2:  # the second chunk is staged, nothing is merged or committed
            marker.touch()
            time.sleep(120)

registry.import_traffic("chat", csv)
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_import_killed_midway_stores_nothing(request, tmp_path, monkeypatch, kind):
    db = str(tmp_path / "import.db") if kind == "sqlite" else request.getfixturevalue("pg_url")
    Registry(db).add_service("chat", **CHAT)
    path = tmp_path / "many.csv"
    path.write_text("timestamp,rps\n" + "\n".join(f"{1736154000 + i},{i % 9}" for i in range(500)) + "\n")
    code = IMPORT_KILLER.format(root=str(ROOT)).replace("import sqlalchemy", "import demand_history\n"
                                                        "demand_history.CHUNK_ROWS = 100\nimport sqlalchemy")
    child = _spawn(code, db, path, tmp_path / "staged")
    _wait_for(lambda: (tmp_path / "staged").exists() or child.poll() is not None)
    assert child.poll() is None, child.communicate()[1]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    with Registry(db) as registry:
        assert registry.traffic_summary("chat")["points"] == 0
        assert registry.import_traffic("chat", path)["points"] == 500  # the lock died with the process


def test_the_readme_trigger_ties_recorded_actors_to_postgresql_logins(pg_url):
    """The README's recipe for real identities: a trigger refuses an actor who is not the logged-in role."""
    import uuid

    readme = (ROOT / "README.md").read_text()
    sql = readme[readme.index("CREATE FUNCTION actor_is_login()"):readme.index("```", readme.index("CREATE FUNCTION"))]
    admin = sa.create_engine(sa.make_url(pg_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    role = f"carol_{uuid.uuid4().hex[:8]}"
    with Registry(pg_url) as registry:
        registry.add_service("chat", **CHAT)
    with admin.connect() as conn:
        conn.connection.dbapi_connection.execute(sql)  # as psql would run it (no parameter placeholders)
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        with Registry(sa.make_url(pg_url).set(username=role).render_as_string(hide_password=False)) as carol:
            with pytest.raises(DatabaseUnavailable, match=rf"actor alice is not the logged-in user {role}"):
                carol.create_request("chat", gpus=1, reason="r", by="alice")
            assert carol.create_request("chat", gpus=1, reason="r", by=role).requested_by == role
            assert [r.requested_by for r in carol.list_requests()] == [role]
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
