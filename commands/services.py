#!/usr/bin/env python3
"""Command line of the service registry and the capacity-request workflow.

    python commands/services.py add chat --owner alice --team core --model llama-3.1-70b --gpu-type H100 \\
        --rps 5 --input-tokens 500 --output-tokens 200 --replicas 2 --gpus 8
    python commands/services.py traffic import chat --csv traffic.csv
    python commands/services.py plan chat --horizon-days 30 --request --by alice
    python commands/services.py plan --all --request --by alice --executor dask    # every service, in parallel
    python commands/services.py request create chat --gpus 8 --reason "launch" --by alice
    python commands/services.py request approve 1 --by bob --note "budget ok"
    python commands/services.py --format json fleet

The database is ``--db PATH`` (a SQLite file or a ``postgresql://`` URL), else ``$LLM_CAPACITY_DB``,
else ``services.db`` in the user's data directory. Every command takes ``--format json`` and then
prints only JSON on stdout. Each command calls one :class:`services.Registry` method; ``main(argv)``
maps errors to exit statuses in one place (0 ok, 1 internal error, 2 user error, 130 interrupted).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.common import (  # noqa: E402
    POSITIVE, POSITIVE_INT, ExitStatus, Parser, UsageError, check_fleet, guarded, number, parse, program_name, streams,
)
from models import FLEET_EXECUTORS, MAX_DB_INT, PRECISIONS, REQUEST_STATES, SCENARIOS  # noqa: E402


STORED_COUNT = number(int, maximum=MAX_DB_INT)
STORED_COUNT_OR_ZERO = number(int, minimum=0, inclusive=True, maximum=MAX_DB_INT)
"""Ids and counts the registry stores: refused here, before any work, when the database could not hold them."""

# service flag dest -> Service field
SERVICE_FIELDS = {
    "owner": "owner", "team": "team", "model": "model", "precision": "precision", "gpu_type": "gpu_type",
    "rps": "requests_per_second", "input_tokens": "avg_input_tokens", "output_tokens": "avg_output_tokens",
    "ttft_slo_ms": "ttft_slo_ms", "itl_slo_ms": "itl_slo_ms", "replicas": "replicas", "gpus": "gpus", "tags": "tags",
}


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


# --------------------------------------------------------------------------- definition


def _common() -> argparse.ArgumentParser:
    """Options every command accepts after its name too (``list --format json``)."""
    common = Parser(add_help=False)
    common.add_argument("--format", choices=("table", "json"), default=argparse.SUPPRESS,
                        help="stdout format: table (default) or json (only JSON on stdout)")
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="SQLite file or postgresql:// URL (default: $LLM_CAPACITY_DB, else the user data dir)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of internal errors")
    _timeout_flags(common, default=argparse.SUPPRESS)
    return common


def _timeout_flags(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--connect-timeout", type=POSITIVE, metavar="S", default=default,
                        help="PostgreSQL: seconds to reach the server (default 10)")
    parser.add_argument("--lock-timeout", type=POSITIVE, metavar="S", default=default,
                        help="seconds to wait for a lock another session holds (default 30)")
    parser.add_argument("--statement-timeout", type=POSITIVE, metavar="S", default=default,
                        help="PostgreSQL: seconds one statement may run (default 300)")


def _service_flags(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    parser.add_argument("--owner", required=adding, help="person responsible for the service")
    parser.add_argument("--team", help="owning team (groups the fleet report)")
    parser.add_argument("--model", required=adding, help="catalog model id, e.g. llama-3.1-70b")
    parser.add_argument("--gpu-type", required=adding, help="GPU the service runs on, e.g. H100-80GB")
    parser.add_argument("--precision", type=str.upper,
                        help=f"weights: {', '.join(PRECISIONS)} (default: the checkpoint's format, else FP16)")
    parser.add_argument("--rps", type=POSITIVE, help="average requests per second (with the token flags)")
    parser.add_argument("--input-tokens", type=STORED_COUNT, help="average prompt tokens per request")
    parser.add_argument("--output-tokens", type=STORED_COUNT, help="average generated tokens per request")
    parser.add_argument("--ttft-slo-ms", type=POSITIVE, help="time-to-first-token target, ms")
    parser.add_argument("--itl-slo-ms", type=POSITIVE, help="inter-token latency target, ms")
    parser.add_argument("--replicas", type=STORED_COUNT_OR_ZERO, help="replicas running now")
    parser.add_argument("--gpus", type=STORED_COUNT_OR_ZERO, help="GPUs held now, all replicas (default: one per replica)")
    parser.add_argument("--tags", type=_tags, help="comma-separated tags (update: replaces them; '' clears)")


def build_parser(prog: str = "services.py") -> argparse.ArgumentParser:
    common = _common()
    parser = Parser(prog=prog, description="LLM service registry and capacity-request workflow.",
                     epilog="Example: python commands/services.py --db services.db request list --state submitted")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="stdout format (default table)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file or postgresql:// URL (default: $LLM_CAPACITY_DB, "
                                                     "else services.db in the user data dir)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    _timeout_flags(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(group, name: str, help_text: str) -> argparse.ArgumentParser:
        return group.add_parser(name, parents=[common], help=help_text, description=help_text)

    # ---- services
    add = command(commands, "add", "register a service")
    add.add_argument("name", help="unique service name: lowercase letters, digits, '.', '_', '-'")
    _service_flags(add, adding=True)
    command(commands, "list", "list the services")
    command(commands, "show", "one service with its traffic summary and requests").add_argument("name")
    update = command(commands, "update", "change fields of a service")
    update.add_argument("name")
    _service_flags(update, adding=False)
    command(commands, "remove", "delete a service, its traffic history and its closed requests").add_argument("name")
    # ---- traffic and planning
    traffic = command(commands, "traffic", "traffic history").add_subparsers(dest="traffic_command", required=True)
    load = command(traffic, "import", "load a traffic CSV (timestamp, rps or requests, input_tokens, output_tokens)")
    load.add_argument("name")
    load.add_argument("--csv", required=True, metavar="FILE", help="CSV file of traffic history (.gz too)")
    load.add_argument("--timestamp-column", help="timestamp column (default: detected)")
    load.add_argument("--value-column", help="value column (default: the rps or requests column, else the first "
                                             "numeric one)")
    load.add_argument("--date-format", metavar="FORMAT", help="strftime format of the timestamps, e.g. "
                                                              "'%%d/%%m/%%Y %%H:%%M' (needed for day-first dates)")
    plan = command(commands, "plan", "capacity plan from the service's traffic history (or current traffic)")
    plan.add_argument("name", nargs="?", help="the service (or --all)")
    plan.add_argument("--all", action="store_true", help="every service, planned in parallel (see --executor)")
    plan.add_argument("--executor", choices=FLEET_EXECUTORS, default="local",
                      help="with --all: local processes (default) or a Dask cluster")
    plan.add_argument("--dask-scheduler", metavar="ADDRESS", help="with --all: a running Dask scheduler (tcp://host:8786)")
    plan.add_argument("--workers", type=POSITIVE_INT, help="with --all: worker processes (default: CPUs)")
    plan.add_argument("--horizon-days", type=POSITIVE, default=30.0, help="days to forecast (default 30)")
    plan.add_argument("--scenario", choices=SCENARIOS, default="pessimistic",
                      help="forecast scenario (default pessimistic)")
    plan.add_argument("--request", action="store_true", help="open a draft request for the extra GPUs, plan attached")
    plan.add_argument("--by", help="who opens the request (with --request)")
    # ---- requests
    requests = command(commands, "request", "capacity requests").add_subparsers(dest="request_command", required=True)
    create = command(requests, "create", "open a draft request for more GPUs")
    create.add_argument("name", help="service")
    create.add_argument("--gpus", type=STORED_COUNT, required=True, help="additional GPUs wanted")
    create.add_argument("--gpu-type", help="GPU type (default: the service's)")
    create.add_argument("--reason", required=True, help="why the GPUs are needed")
    create.add_argument("--by", required=True, help="requester")
    for action in ("submit", "approve", "reject", "fulfill", "cancel"):
        step = command(requests, action, f"{action} a request")
        step.add_argument("id", type=STORED_COUNT, help="request id")
        step.add_argument("--by", required=True, help="who acts")
        step.add_argument("--note", help="comment recorded with the event")
    listing = command(requests, "list", "list requests")
    listing.add_argument("--state", choices=REQUEST_STATES, help="only requests in this state")
    listing.add_argument("--service", help="only requests for this service")
    command(requests, "show", "one request with its history").add_argument("id", type=STORED_COUNT)
    command(commands, "fleet", "GPUs in use, requested and approved, per GPU type and per team")
    return parser


# --------------------------------------------------------------------------- flow


def _service_changes(args: argparse.Namespace) -> dict:
    return {field: getattr(args, dest) for dest, field in SERVICE_FIELDS.items() if getattr(args, dest) is not None}


def _add(registry, args):
    from llm_forecast_engine import LLMForecastEngine

    return LLMForecastEngine(registry=registry).register_service(args.name, **_service_changes(args))


def _update(registry, args):
    changes = _service_changes(args)
    if not changes:
        raise UsageError("update: nothing to change; give at least one field flag (see update --help)")
    return registry.update_service(args.name, **changes)


def _show(registry, args):
    return {**registry.get_service(args.name, lenient=True).to_dict(),
            "traffic_history": registry.traffic_summary(args.name),
            "requests": [r.to_dict() for r in registry.list_requests(service=args.name)]}


def _import(registry, args):
    return registry.import_traffic(args.name, args.csv, timestamp_column=args.timestamp_column,
                                   value_column=args.value_column, date_format=args.date_format)


def _check_plan(args) -> None:
    """``plan``'s arguments, before the registry opens (which refuses a SQLite file that is not there)."""
    if args.request and not args.by:
        raise UsageError("plan --request needs --by USER (who opens the request)")
    if bool(args.all) == bool(args.name):
        raise UsageError("plan needs a service name or --all (not both)")


def _plan(registry, args):
    from llm_forecast_engine import LLMForecastEngine

    engine, request_by = LLMForecastEngine(registry=registry), args.by if args.request else None
    if args.all:
        from models import FleetInput
        from reports import working

        fleet = FleetInput(executor=args.executor, dask_scheduler=args.dask_scheduler, workers=args.workers)
        with working("planning every service") as progress:
            return engine.plan_services(args.horizon_days, args.scenario, fleet=fleet, request_by=request_by,
                                        progress=progress)
    if args.executor != "local" or args.dask_scheduler or args.workers:
        raise UsageError("plan NAME plans one service here: --executor, --dask-scheduler and --workers go with --all")
    return engine.plan_service(args.name, horizon_days=args.horizon_days, scenario=args.scenario,
                               request_by=request_by)


def _transition(registry, args):
    return registry.transition(args.id, args.request_command, by=args.by, note=args.note)


COMMANDS = {
    "add": _add,
    "list": lambda registry, args: registry.list_services(),
    "show": _show,
    "update": _update,
    "remove": lambda registry, args: registry.remove_service(args.name),
    ("traffic", "import"): _import,
    "plan": _plan,
    ("request", "create"): lambda registry, args: registry.create_request(
        args.name, gpus=args.gpus, gpu_type=args.gpu_type, reason=args.reason, by=args.by),
    **{("request", action): _transition for action in ("submit", "approve", "reject", "fulfill", "cancel")},
    ("request", "list"): lambda registry, args: registry.list_requests(state=args.state, service=args.service),
    ("request", "show"): lambda registry, args: registry.get_request(args.id, lenient=True),
    "fleet": lambda registry, args: registry.fleet(),
}


def _key(args: argparse.Namespace):
    sub = getattr(args, "traffic_command", None) or getattr(args, "request_command", None)
    return (args.command, sub) if sub else args.command


READ_ONLY = frozenset({"list", "show", ("request", "list"), ("request", "show"), "fleet"})
"""Commands that only read: they open the database read-only, so a reader who may not write a shared SQLite
file leaves no -wal/-shm files behind (``plan`` too, unless it opens a request)."""


def _registry(args: argparse.Namespace):
    from services import Registry, Timeouts

    given = {name: getattr(args, flag) for name, flag in (("connect_s", "connect_timeout"), ("lock_s", "lock_timeout"),
                                                         ("statement_s", "statement_timeout"))
             if getattr(args, flag, None) is not None}
    read_only = _key(args) in READ_ONLY or (args.command == "plan" and not args.request)
    return Registry(args.db, read_only=read_only, timeouts=Timeouts(**given), must_exist=args.command == "plan")


def run(args: argparse.Namespace, stdout) -> ExitStatus:
    """Carry out one parsed command (raises :class:`PlannerError` for user errors)."""
    if _key(args) == "plan":
        _check_plan(args)
    with _registry(args) as registry:
        result = COMMANDS[_key(args)](registry, args)
    payload = _payload(result)
    if args.format == "json":
        print(json.dumps(payload, indent=2, allow_nan=False), file=stdout)
    elif _key(args) == "plan":
        from reports import render

        render(result, stdout)
    else:
        _render(_key(args), payload, stdout)
    if _key(args) == "plan" and args.all:
        check_fleet(result)
    return ExitStatus.OK


def _payload(result):
    if isinstance(result, list):
        return [_payload(item) for item in result]
    return result.to_dict() if hasattr(result, "to_dict") else result


# --------------------------------------------------------------------------- tables for people

# (key, header, format, drop rank): on a narrow terminal the highest ranks go first, so that the reason or note,
# the last column, keeps a readable width (reports.FittedTable)
SERVICE_COLUMNS = (("name", "name"), ("owner", "owner", None, 2), ("team", "team", None, 1), ("model", "model"),
                   ("gpu_type", "GPU"), ("requests_per_second", "rps"), ("replicas", "replicas"), ("gpus", "GPUs"))
REQUEST_COLUMNS = (("id", "id"), ("service", "service"), ("state", "state"), ("gpus", "GPUs"), ("gpu_type", "GPU"),
                   ("requested_by", "by", None, 1), ("updated_at", "updated (UTC)", None, 2), ("reason", "reason"))
EVENT_COLUMNS = (("at", "at (UTC)"), ("action", "action"), ("from_state", "from", None, 1), ("to_state", "to"),
                 ("by", "by"), ("note", "note"))
FLEET_COLUMNS = (("key", ""), ("in_use", "in use"), ("draft", "draft"), ("requested", "submitted"),
                 ("approved", "approved"))
TIMESTAMP_KEYS = ("at", "updated_at", "created_at")


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key in TIMESTAMP_KEYS and isinstance(value, str):
        return value[:16].replace("T", " ")  # ISO-8601 UTC to the minute
    return str(value)


def _table(rows: list[dict], columns: tuple[tuple, ...], title: str | None = None):
    """A table of ``rows`` that fits the terminal: numbers right-aligned, the last text column wrapped between
    words (``reports.FittedTable``)."""
    from reports import Column, FittedTable

    return FittedTable(rows, tuple(Column(*c) for c in columns), title, _cell)


def _fields_table(record: dict, title: str):
    scalars = [{"field": k, "value": _cell(k, v)} for k, v in record.items() if not isinstance(v, (dict, list))]
    scalars += [{"field": k, "value": ", ".join(map(str, v))} for k, v in record.items()
                if isinstance(v, list) and all(not isinstance(i, (dict, list)) for i in v)]
    return _table(scalars, (("field", "field"), ("value", "value")), title)


def _readable(rows: list[dict], name_key: str) -> list[dict]:
    """Rows for a table: an unreadable row shows what is stored, its key marked ``(unreadable)``."""
    return [{**row["row"], name_key: f"{row['key']} (unreadable)"} if row.get("unreadable") else row for row in rows]


def _unreadable_notes(rows: list[dict]) -> list[str]:
    return [f"! {row['table']} {row['key']}: column {row['column']} = {row['value']!r}: expected {row['problem']}"
            for row in rows if row.get("unreadable")]


def _blocks(key, payload) -> list:
    """The rich renderables for one command's result."""
    if key == "list":
        return [_table(_readable(payload, "name"), SERVICE_COLUMNS, "SERVICES"), *_unreadable_notes(payload)]
    if key == ("request", "list"):
        return [_table(_readable(payload, "id"), REQUEST_COLUMNS, "CAPACITY REQUESTS"), *_unreadable_notes(payload)]
    if payload.get("unreadable") if isinstance(payload, dict) else False:
        record = {**payload["row"], "unreadable": f"column {payload['column']}: expected {payload['problem']}"}
        blocks = [_fields_table(record, f"{payload['table'].upper()} {payload['key']} (UNREADABLE)")]
        return blocks + ([_table(_readable(payload["requests"], "id"), REQUEST_COLUMNS, "REQUESTS")]
                         if payload.get("requests") else [])
    if key == "fleet":
        return [_table([{"key": k, **v} for k, v in payload[group].items()] + [{"key": "total", **payload["total"]}],
                       FLEET_COLUMNS, f"GPUS {group.replace('_', ' ').upper()}")
                for group in ("by_gpu_type", "by_team")]
    if key == "remove":
        return [f"removed service {payload.get('name') or payload.get('key')}"]
    title = {"show": "SERVICE", "add": "SERVICE", "update": "SERVICE"}.get(key, "REQUEST")
    blocks = [_fields_table(payload, "RESULT" if key == ("traffic", "import") else title)]
    if "history" in payload:
        blocks.append(_table(payload["history"], EVENT_COLUMNS, "HISTORY"))
    if payload.get("requests"):
        blocks.append(_table(_readable(payload["requests"], "id"), REQUEST_COLUMNS, "REQUESTS"))
    return blocks


def _render(key, payload, stdout) -> None:
    from reports import make_console

    console = make_console(stdout)
    for block in _blocks(key, payload):
        console.print(block)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None, stdout=None, stderr=None) -> int:
    """Run the CLI and return its exit status (0 ok, 1 internal error, 2 user error, 130 interrupted)."""
    prog = program_name(argv, "services.py")
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout, stderr = streams(stdout, stderr)
    return guarded(lambda: run(parse(build_parser(prog), argv, stdout), stdout), debug="--debug" in argv, stderr=stderr, stdout=stdout)


if __name__ == "__main__":
    sys.exit(main())
