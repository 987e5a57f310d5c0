"""Service registry and capacity-request workflow over SQLite (default) or PostgreSQL.

A platform team records every LLM service it runs (owner, model, traffic, SLOs, current GPUs)
and every request for more GPUs, which moves through a reviewed workflow::

    draft -> submitted -> approved -> fulfilled
                       -> rejected
    draft | submitted | approved -> cancelled

Every transition is an event (who, when, note); a requester cannot approve their own request.

    from services import Registry
    with Registry("services.db") as registry:          # or "postgresql://user@host/db"
        registry.add_service("chat", owner="alice", model="llama-3.1-70b", gpu_type="H100")
        request = registry.create_request("chat", gpus=8, reason="launch", by="alice")
        registry.transition(request.id, "submit", by="alice")
        registry.transition(request.id, "approve", by="bob")

One SQLAlchemy Core code path serves both databases. On SQLite the file is in WAL mode with a
30 s busy timeout, and every write transaction starts with ``BEGIN IMMEDIATE`` so concurrent
writers queue for the lock instead of failing with "database is locked". Schema changes are
ordered migrations, each applied in the same transaction as its ``schema_migrations`` row.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import enum
import json
import math
import os
import re
import statistics
import time
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from config import get_gpu, get_model
from models import InputError, NotFoundError, PlannerError, PRECISIONS, check_choice, check_number

DB_ENV_VAR = "LLM_CAPACITY_DB"
BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for another writer's lock before giving up."""
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_TEXT_CHARS = 200
MAX_NOTE_CHARS = 2000
MAX_DB_INT = 2**31 - 1
"""Largest value an INTEGER column holds on PostgreSQL (GPU counts, replicas, token averages, request ids)."""
MAX_CSV_BYTES = 200 * 2**20
"""Largest traffic CSV read (as ``config_loader.read_text_file`` for every other input file)."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- errors


class DuplicateService(InputError):
    """A service with this name is already registered."""

    def __init__(self, name: str):
        super().__init__("service.name", name, "a name not already in the registry (use `update` to change it)")


class UnknownRequest(NotFoundError):
    """No capacity request has this id."""

    def __init__(self, request_id: Any):
        InputError.__init__(self, "request.id", request_id, "the id of an existing request (see `request list`)")


class IllegalTransition(InputError):
    """The action is not allowed from the request's current state."""

    def __init__(self, request_id: int, state: RequestState, action: Action):
        allowed = [a.value for a, (sources, _) in TRANSITIONS.items() if state in sources]
        choices = ", ".join(allowed) or "none (the state is final)"
        super().__init__(f"request {request_id}", action.value, f"an action allowed in state {state.value}: {choices}")
        self.state = state
        self.action = action


class SelfApproval(InputError):
    """The approver is the person who created the request."""

    def __init__(self, request_id: int, by: str):
        super().__init__("approver", by, f"someone other than the requester of request {request_id}")


class ServiceInUse(InputError):
    """A service with open capacity requests cannot be removed."""

    def __init__(self, name: str, open_ids: list[int]):
        ids = ", ".join(str(i) for i in open_ids)
        super().__init__("service", name, f"a service with no open requests (cancel or fulfill request(s) {ids} first)")


class DatabaseUnavailable(PlannerError):
    """The database cannot be opened, reached, read or written (read-only, corrupt, server gone)."""


class SchemaTooNew(PlannerError):
    """The database was written by a newer version of this program."""


# --------------------------------------------------------------------------- workflow


class RequestState(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Action(str, enum.Enum):
    CREATE = "create"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    FULFILL = "fulfill"
    CANCEL = "cancel"


_S = RequestState  # short alias for the tables below
# action -> (states it may start from, state it leads to); ``create`` is not a transition.
TRANSITIONS: dict[Action, tuple[frozenset[RequestState], RequestState]] = {
    Action.SUBMIT: (frozenset({_S.DRAFT}), _S.SUBMITTED),
    Action.APPROVE: (frozenset({_S.SUBMITTED}), _S.APPROVED),
    Action.REJECT: (frozenset({_S.SUBMITTED}), _S.REJECTED),
    Action.FULFILL: (frozenset({_S.APPROVED}), _S.FULFILLED),
    Action.CANCEL: (frozenset({_S.DRAFT, _S.SUBMITTED, _S.APPROVED}), _S.CANCELLED),
}
OPEN_STATES = (_S.DRAFT, _S.SUBMITTED, _S.APPROVED)
TRANSITION_ACTIONS = tuple(a.value for a in TRANSITIONS)


# --------------------------------------------------------------------------- validators


def check_text(name: str, value: Any, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Return ``value`` stripped if it is a non-empty single-line string of at most ``max_chars``."""
    accepted = f"non-empty text of at most {max_chars} characters"
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_chars:
        raise InputError(name, value, accepted)
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
        raise InputError(name, value, accepted + " without control characters")
    return value.strip()


def check_name(value: Any) -> str:
    """A service name: lowercase letters, digits, ``.``, ``_``, ``-``; up to 64 characters."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InputError("service.name", value,
                         "1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _check_tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InputError("service.tags", value, "a list of tags")
    return tuple(dict.fromkeys(check_text("service.tags", tag, max_chars=64) for tag in value))


def _optional(check, name: str, value: Any, **kwargs):
    return None if value is None else check(name, value, **kwargs)


def _utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive UTC, PostgreSQL the session zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------- records


class _Record:
    """JSON form shared by the records: enums as values, datetimes as ISO-8601 UTC."""

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


def _json_default(value: Any):
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "to_dict"):  # result objects
        return value.to_dict()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (datetimes as ISO-8601, enums as their values, NaN and inf as null)."""
    return _finite(json.loads(json.dumps(value, default=_json_default)))


def _finite(value: Any) -> Any:
    # strict JSON (PostgreSQL's json type, `--format json`) has no NaN or Infinity
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class Service(_Record):
    """One LLM service in the registry; validated at construction."""

    name: str
    owner: str
    model: str
    """Catalog model id (``config.get_model``), canonical spelling."""
    gpu_type: str
    """Catalog GPU id (``config.get_gpu``), canonical spelling."""
    team: str | None = None
    precision: str = "FP16"
    requests_per_second: float | None = None
    """Current average load; ``None`` until known."""
    avg_input_tokens: int | None = None
    avg_output_tokens: int | None = None
    ttft_slo_ms: float | None = None
    itl_slo_ms: float | None = None
    replicas: int = 0
    gpus: int | None = None
    """GPUs the service holds now, all replicas (default: one per replica)."""
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        set_ = _setter(self)
        set_("owner", check_text("service.owner", self.owner))
        set_("team", _optional(check_text, "service.team", self.team))
        set_("model", get_model(self.model, "service.model").id)
        set_("gpu_type", get_gpu(self.gpu_type, "service.gpu_type").id)
        set_("precision", check_choice("service.precision", self.precision, PRECISIONS))
        set_("requests_per_second", _optional(check_number, "service.requests_per_second", self.requests_per_second,
                                              inclusive=True))
        for name in ("avg_input_tokens", "avg_output_tokens"):
            set_(name, _optional(check_number, f"service.{name}", getattr(self, name), integer=True, maximum=MAX_DB_INT))
        for name in ("ttft_slo_ms", "itl_slo_ms"):
            set_(name, _optional(check_number, f"service.{name}", getattr(self, name)))
        set_("replicas", check_number("service.replicas", self.replicas, integer=True, inclusive=True, maximum=MAX_DB_INT))
        set_("gpus", check_number("service.gpus", self.replicas if self.gpus is None else self.gpus, integer=True,
                                  inclusive=True, maximum=MAX_DB_INT))
        set_("tags", _check_tags(self.tags))
        self._check_consistency()

    def _check_consistency(self) -> None:
        traffic = (self.requests_per_second, self.avg_input_tokens, self.avg_output_tokens)
        if any(v is not None for v in traffic) and any(v is None for v in traffic):
            missing = [n for n, v in zip(("rps", "input tokens", "output tokens"), traffic) if v is None]
            raise InputError("service.traffic", f"missing {', '.join(missing)}",
                             "rps, input tokens and output tokens given together")
        if self.gpus < self.replicas:
            raise InputError("service.gpus", self.gpus, f"at least one GPU per replica (>= {self.replicas})")

    @property
    def has_traffic(self) -> bool:
        return self.requests_per_second is not None


def _setter(obj) -> Callable[[str, Any], None]:
    """A setter for fields of a frozen dataclass during ``__post_init__``."""
    return lambda name, value: object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class TrafficPoint(_Record):
    """One observation of a service's load."""

    timestamp: datetime
    requests_per_second: float
    avg_input_tokens: float | None = None
    avg_output_tokens: float | None = None


@dataclass(frozen=True)
class RequestEvent(_Record):
    """One step of a request's history."""

    action: Action
    from_state: RequestState | None
    to_state: RequestState
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class CapacityRequest(_Record):
    """A request for more GPUs for one service, with its full history."""

    id: int
    service: str
    gpus: int
    gpu_type: str
    reason: str
    state: RequestState
    requested_by: str
    created_at: datetime
    updated_at: datetime
    plan: dict | None = None
    """The capacity plan the request was opened from, if any (``plan --request``)."""
    history: tuple[RequestEvent, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- schema

metadata = sa.MetaData()


def _timestamp(name: str, **kwargs) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kwargs)


def _tables_v1(meta: sa.MetaData) -> dict[str, sa.Table]:
    """The tables as of schema version 1 (a later version adds a migration; this stays as it is)."""
    services = sa.Table(
        "services", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("owner", sa.String(MAX_TEXT_CHARS), nullable=False),
        sa.Column("team", sa.String(MAX_TEXT_CHARS)),
        sa.Column("model", sa.String(MAX_TEXT_CHARS), nullable=False),
        sa.Column("precision", sa.String(8), nullable=False),
        sa.Column("gpu_type", sa.String(64), nullable=False),
        sa.Column("requests_per_second", sa.Float),
        sa.Column("avg_input_tokens", sa.Integer),
        sa.Column("avg_output_tokens", sa.Integer),
        sa.Column("ttft_slo_ms", sa.Float),
        sa.Column("itl_slo_ms", sa.Float),
        sa.Column("replicas", sa.Integer, nullable=False),
        sa.Column("gpus", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.CheckConstraint("gpus >= replicas AND replicas >= 0", name="gpus_cover_replicas"),
    )
    traffic = sa.Table(
        "traffic_history", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("service_id", sa.ForeignKey("services.id", ondelete="CASCADE"), nullable=False),
        _timestamp("timestamp", nullable=False),
        sa.Column("requests_per_second", sa.Float, nullable=False),
        sa.Column("avg_input_tokens", sa.Float),
        sa.Column("avg_output_tokens", sa.Float),
        sa.UniqueConstraint("service_id", "timestamp", name="one_point_per_time"),
    )
    states = ", ".join(f"'{s.value}'" for s in RequestState)
    requests = sa.Table(
        "capacity_requests", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("service_id", sa.ForeignKey("services.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("gpus", sa.Integer, nullable=False),
        sa.Column("gpu_type", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("requested_by", sa.String(MAX_TEXT_CHARS), nullable=False),
        sa.Column("plan", sa.JSON),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.CheckConstraint(f"state IN ({states})", name="known_state"),
        sa.CheckConstraint("gpus > 0", name="positive_gpus"),
        sqlite_autoincrement=True,
    )
    events = sa.Table(
        "request_events", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.ForeignKey("capacity_requests.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(MAX_TEXT_CHARS), nullable=False),
        _timestamp("at", nullable=False),
        sa.Column("note", sa.Text),
        sqlite_autoincrement=True,
    )
    return {"services": services, "traffic": traffic, "requests": requests, "events": events}


_T = _tables_v1(metadata)
services_t, traffic_t, requests_t, events_t = _T["services"], _T["traffic"], _T["requests"], _T["events"]

migrations_t = sa.Table(
    "schema_migrations", sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    _timestamp("applied_at", nullable=False),
)


@dataclass(frozen=True)
class Migration:
    """One ordered schema change; ``apply(conn)`` runs inside the transaction that records it."""

    version: int
    name: str
    apply: Callable[[sa.Connection], None]


def _create_v1(conn: sa.Connection) -> None:
    version_1 = sa.MetaData()
    _tables_v1(version_1)
    version_1.create_all(conn, checkfirst=False)  # a table of that name already there: another program's database


MIGRATIONS: list[Migration] = [
    Migration(1, "services, traffic history, capacity requests and their events", _create_v1),
]
PG_MIGRATION_LOCK = 7_415_001
"""Advisory-lock key that serializes migrations between processes on PostgreSQL."""


# --------------------------------------------------------------------------- locations


def default_db_path() -> Path:
    """``services.db`` in the user's data directory (XDG on Linux, Application Support, LOCALAPPDATA)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "llm-capacity" / "services.db"


def database_url(db: str | os.PathLike | None = None) -> sa.URL:
    """The SQLAlchemy URL for ``db``: a path, ``:memory:``, or a ``postgresql://`` URL.

    ``None`` takes ``$LLM_CAPACITY_DB``, else :func:`default_db_path`. ``postgresql://`` and
    ``postgres://`` URLs use the psycopg (3) driver.
    """
    db = db if db is not None else (os.environ.get(DB_ENV_VAR) or default_db_path())
    text = os.fspath(db)
    if text == ":memory:":
        return sa.make_url("sqlite://")
    if "://" not in text:
        path = Path(text).expanduser().resolve()
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # a name too long
            raise InputError("--db", text, f"a usable file path ({exc.strerror})") from None
        if is_dir:
            raise InputError("--db", text, "a database file path, not a directory")
        return sa.URL.create("sqlite+pysqlite", database=str(path))
    try:
        url = sa.make_url(text)
    except sa_exc.ArgumentError:
        raise InputError("--db", text, "a file path or a postgresql:// URL") from None
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise InputError("--db", url.render_as_string(hide_password=True), "a file path or a postgresql:// URL")
    return url


def _enable_wal(cursor) -> None:
    """Switch the file to WAL (persistent: done once per file). Processes opening a fresh file at the same
    moment can see the switch report 'database is locked' without waiting on the busy handler, so it is
    retried within the busy timeout."""
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    """SQLite with WAL, a busy timeout, foreign keys, and SQLAlchemy in charge of BEGIN."""
    memory = not url.database
    if not memory and not url.query.get("uri"):  # a file: URI (sqlite:///file:x.db?mode=ro&uri=true) names no directory
        try:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot create the directory of {url.database}: {exc.strerror}") from None
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S},
                              poolclass=sa.pool.StaticPool if memory else None)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # the driver must not issue its own BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not memory:
            _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # IMMEDIATE takes the write lock at BEGIN, so a writer waits (busy timeout) instead of
        # failing later on a read-to-write upgrade; readers take a deferred snapshot.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


# --------------------------------------------------------------------------- the registry


class Registry:
    """The service registry and capacity-request workflow on one database.

    Parameters
    ----------
    db : str or path, optional
        A SQLite file path, ``":memory:"``, or a ``postgresql://user:password@host/db`` URL.
        Default: ``$LLM_CAPACITY_DB``, else ``services.db`` in the user's data directory.
    clock : callable, optional
        Returns the current time as an aware datetime; injectable for tests.

    Notes
    -----
    Every public method is one transaction: it completes or changes nothing. Errors the
    user can fix are :class:`models.InputError` subclasses (:class:`DuplicateService`,
    :class:`IllegalTransition`, :class:`SelfApproval`, :class:`models.NotFoundError`).
    """

    def __init__(self, db: str | os.PathLike | None = None, *, clock: Clock = utc_now):
        self.url = database_url(db)
        self._clock = clock
        sqlite = self.url.get_backend_name() == "sqlite"
        self._engine = _sqlite_engine(self.url) if sqlite else sa.create_engine(self.url)
        try:
            self._migrate()
        except DatabaseUnavailable as exc:
            self._engine.dispose()
            raise DatabaseUnavailable(f"cannot open {exc}") from None

    # ----------------------------------------------------------------- plumbing

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for tools that need raw access)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        try:
            with self._engine.connect() as conn:
                conn.execution_options(write=write)
                with conn.begin():
                    yield conn
        except sa_exc.IntegrityError:
            raise  # a constraint the caller maps (a concurrent add of the same name)
        except sa_exc.DBAPIError as exc:  # read-only, corrupt, locked past the timeout, server gone: rolled back
            raise DatabaseUnavailable(
                f"database {self.url.render_as_string(hide_password=True)}: {_first_line(exc.orig)}") from None

    def _now(self) -> datetime:
        return _utc(self._clock())

    # ----------------------------------------------------------------- migrations

    def schema_version(self) -> int:
        """The highest migration applied to this database (0 for an empty one)."""
        with self._transaction(write=False) as conn:
            return self._applied_version(conn)

    @staticmethod
    def _applied_version(conn: sa.Connection) -> int:
        if not sa.inspect(conn).has_table(migrations_t.name):
            return 0
        return conn.scalar(sa.select(sa.func.max(migrations_t.c.version))) or 0

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1].version
        if self.schema_version() == latest:
            return
        for migration in MIGRATIONS:
            with self._transaction(write=True) as conn:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                migrations_t.create(conn, checkfirst=True)
                current = self._applied_version(conn)
                if current > latest:
                    raise SchemaTooNew(f"the database is at schema version {current}; this program knows up to "
                                       f"{latest}: upgrade the program")
                if migration.version <= current:
                    continue
                migration.apply(conn)
                conn.execute(migrations_t.insert().values(version=migration.version, name=migration.name,
                                                          applied_at=self._now()))

    # ----------------------------------------------------------------- services

    def add_service(self, name: str, **fields) -> Service:
        """Register a new service; :class:`DuplicateService` if the name is taken.

        ``fields`` are :class:`Service` fields (``owner``, ``model``, ``gpu_type`` required).
        """
        now = self._now()
        service = Service(name=name, created_at=now, updated_at=now, **fields)
        row = _service_row(service)
        try:
            with self._transaction(write=True) as conn:
                if self._service_id(conn, service.name, required=False) is not None:
                    raise DuplicateService(service.name)
                conn.execute(services_t.insert().values(**row))
        except sa_exc.IntegrityError:  # a concurrent add won the race for the name
            raise DuplicateService(service.name) from None
        return service

    def get_service(self, name: str) -> Service:
        """The service called ``name``; :class:`NotFoundError` (with suggestions) otherwise."""
        with self._transaction(write=False) as conn:
            return self._load_service(conn, name)

    def list_services(self) -> list[Service]:
        """Every service, by name."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(sa.select(services_t).order_by(services_t.c.name)).mappings()
            return [_service_from_row(row) for row in rows]

    def update_service(self, name: str, /, **changes) -> Service:
        """Change fields of a service (validated as a whole); returns the updated service."""
        if "name" in changes or "created_at" in changes:
            raise InputError("service update", sorted(changes), "fields other than name and created_at")
        with self._transaction(write=True) as conn:
            current = self._load_service(conn, name)
            updated = dataclasses.replace(current, updated_at=self._now(), **changes)
            conn.execute(services_t.update().where(services_t.c.name == current.name).values(**_service_row(updated)))
        return updated

    def remove_service(self, name: str) -> Service:
        """Delete a service with its traffic history and closed requests; refused while requests are open."""
        with self._transaction(write=True) as conn:
            service = self._load_service(conn, name)
            service_id = self._service_id(conn, name)
            open_ids = list(conn.scalars(
                sa.select(requests_t.c.id).where(requests_t.c.service_id == service_id,
                                                 requests_t.c.state.in_([s.value for s in OPEN_STATES]))
                .order_by(requests_t.c.id)))
            if open_ids:
                raise ServiceInUse(name, open_ids)
            request_ids = sa.select(requests_t.c.id).where(requests_t.c.service_id == service_id)
            # explicit deletes, child first: cascades alone would depend on SQLite's foreign_keys pragma
            conn.execute(events_t.delete().where(events_t.c.request_id.in_(request_ids)))
            conn.execute(requests_t.delete().where(requests_t.c.service_id == service_id))
            conn.execute(traffic_t.delete().where(traffic_t.c.service_id == service_id))
            conn.execute(services_t.delete().where(services_t.c.id == service_id))
        return service

    def _service_id(self, conn: sa.Connection, name: str, *, required: bool = True) -> int | None:
        found = conn.scalar(sa.select(services_t.c.id).where(services_t.c.name == name))
        if found is None and required:
            known = conn.scalars(sa.select(services_t.c.name))
            raise NotFoundError("service", name, known, kind="service")
        return found

    def _load_service(self, conn: sa.Connection, name: str) -> Service:
        self._service_id(conn, name)
        row = conn.execute(sa.select(services_t).where(services_t.c.name == name)).mappings().one()
        return _service_from_row(row)

    # ----------------------------------------------------------------- traffic

    def add_traffic(self, name: str, points: Iterable[TrafficPoint]) -> int:
        """Store traffic observations (a point at an existing timestamp replaces it); returns the count."""
        rows = [{"timestamp": _utc(p.timestamp), "requests_per_second": p.requests_per_second,
                 "avg_input_tokens": p.avg_input_tokens, "avg_output_tokens": p.avg_output_tokens} for p in points]
        if not rows:
            raise InputError("traffic", [], "at least one data point")
        with self._transaction(write=True) as conn:
            service_id = self._service_id(conn, name)
            for row in rows:
                row["service_id"] = service_id
            conn.execute(_upsert(conn, traffic_t, ("service_id", "timestamp")), rows)
        return len(rows)

    def import_traffic(self, name: str, path: str | os.PathLike) -> dict:
        """Load a traffic CSV (see :func:`read_traffic_csv`) into the service's history; all or nothing."""
        with self._transaction(write=False) as conn:
            self._service_id(conn, name)
        points = read_traffic_csv(path)
        count = self.add_traffic(name, points)
        return {"service": name, "points": count, "first": _iso(points[0].timestamp),
                "last": _iso(points[-1].timestamp)}

    def traffic_history(self, name: str) -> list[TrafficPoint]:
        """The service's traffic observations, oldest first."""
        with self._transaction(write=False) as conn:
            service_id = self._service_id(conn, name)
            rows = conn.execute(sa.select(traffic_t).where(traffic_t.c.service_id == service_id)
                                .order_by(traffic_t.c.timestamp)).mappings()
            return [TrafficPoint(_utc(r["timestamp"]), r["requests_per_second"], r["avg_input_tokens"],
                                 r["avg_output_tokens"]) for r in rows]

    # ----------------------------------------------------------------- requests

    def create_request(self, service: str, *, gpus: int, reason: str, by: str, gpu_type: str | None = None,
                       plan: dict | None = None) -> CapacityRequest:
        """Open a draft request for ``gpus`` more GPUs (default type: the service's)."""
        gpus = check_number("request.gpus", gpus, integer=True, maximum=MAX_DB_INT)
        reason = check_text("request.reason", reason, max_chars=MAX_NOTE_CHARS)
        by = check_text("request.by", by)
        gpu_id = None if gpu_type is None else get_gpu(gpu_type, "request.gpu_type").id
        plan = None if plan is None else _jsonable(plan)
        with self._transaction(write=True) as conn:
            current = self._load_service(conn, service)
            now = self._now()
            request_id = conn.execute(requests_t.insert().values(
                service_id=self._service_id(conn, service), gpus=gpus, gpu_type=gpu_id or current.gpu_type,
                reason=reason, state=_S.DRAFT.value, requested_by=by, plan=plan, created_at=now, updated_at=now,
            )).inserted_primary_key[0]
            self._record(conn, request_id, Action.CREATE, None, _S.DRAFT, by, now, None)
            return self._load_request(conn, request_id)

    def transition(self, request_id: int, action: str | Action, *, by: str, note: str | None = None) -> CapacityRequest:
        """Move a request along the workflow (``submit``, ``approve``, ``reject``, ``fulfill``, ``cancel``).

        Raises :class:`IllegalTransition` when the action is not allowed from the current state and
        :class:`SelfApproval` when the requester approves their own request. Fulfilling a request
        for the service's GPU type adds its GPUs to the service's current count.
        """
        action = Action(check_choice("action", action.value if isinstance(action, Action) else action,
                                     TRANSITION_ACTIONS))
        by = check_text("by", by)
        note = _optional(check_text, "note", note, max_chars=MAX_NOTE_CHARS)
        request_id = _check_request_id(request_id)
        with self._transaction(write=True) as conn:
            row = self._request_row(conn, request_id, for_update=True)
            state = RequestState(row["state"])
            sources, target = TRANSITIONS[action]
            if state not in sources:
                raise IllegalTransition(request_id, state, action)
            if action is Action.APPROVE and by.casefold() == row["requested_by"].casefold():
                raise SelfApproval(request_id, by)
            now = self._now()
            if action is Action.FULFILL:
                note = self._apply_fulfilment(conn, row, note)
            conn.execute(requests_t.update().where(requests_t.c.id == request_id)
                         .values(state=target.value, updated_at=now))
            self._record(conn, request_id, action, state, target, by, now, note)
            return self._load_request(conn, request_id)

    def get_request(self, request_id: int) -> CapacityRequest:
        """A request with its full history; :class:`UnknownRequest` otherwise."""
        request_id = _check_request_id(request_id)
        with self._transaction(write=False) as conn:
            return self._load_request(conn, request_id)

    def list_requests(self, *, state: str | None = None, service: str | None = None) -> list[CapacityRequest]:
        """Requests, oldest first, optionally only those in ``state`` or for ``service``."""
        query = _request_query()
        if state is not None:
            state = check_choice("request.state", state, [s.value for s in RequestState])
            query = query.where(requests_t.c.state == state)
        with self._transaction(write=False) as conn:
            if service is not None:
                query = query.where(requests_t.c.service_id == self._service_id(conn, service))
            rows = list(conn.execute(query.order_by(requests_t.c.id)).mappings())
            return self._with_history(conn, rows)

    def _apply_fulfilment(self, conn: sa.Connection, row, note: str | None) -> str:
        service = conn.execute(sa.select(services_t.c.gpus, services_t.c.gpu_type)
                               .where(services_t.c.id == row["service_id"])).one()
        if service.gpu_type != row["gpu_type"]:
            effect = f"service GPUs unchanged ({row['gpu_type']} requested, service runs {service.gpu_type})"
        elif service.gpus + row["gpus"] > MAX_DB_INT:
            raise InputError("service.gpus", service.gpus + row["gpus"], f"at most {MAX_DB_INT:,} after fulfilment")
        else:
            conn.execute(services_t.update().where(services_t.c.id == row["service_id"])
                         .values(gpus=services_t.c.gpus + row["gpus"], updated_at=self._now()))
            effect = f"service GPUs {service.gpus} -> {service.gpus + row['gpus']}"
        return f"{note}; {effect}" if note else effect

    def _record(self, conn, request_id, action, from_state, to_state, by, at, note) -> None:
        conn.execute(events_t.insert().values(
            request_id=request_id, action=action.value, from_state=from_state and from_state.value,
            to_state=to_state.value, actor=by, at=at, note=note))

    def _request_row(self, conn: sa.Connection, request_id: int, *, for_update: bool = False):
        query = _request_query().where(requests_t.c.id == request_id)
        if for_update:  # PostgreSQL row lock; SQLite's BEGIN IMMEDIATE already holds the database lock
            query = query.with_for_update(of=requests_t)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise UnknownRequest(request_id)
        return row

    def _load_request(self, conn: sa.Connection, request_id: int) -> CapacityRequest:
        return self._with_history(conn, [self._request_row(conn, request_id)])[0]

    def _with_history(self, conn: sa.Connection, rows: list) -> list[CapacityRequest]:
        ids = [row["id"] for row in rows]
        events: dict[int, list[RequestEvent]] = {i: [] for i in ids}
        if ids:
            query = sa.select(events_t).where(events_t.c.request_id.in_(ids)).order_by(events_t.c.id)
            for e in conn.execute(query).mappings():
                events[e["request_id"]].append(RequestEvent(
                    Action(e["action"]), e["from_state"] and RequestState(e["from_state"]),
                    RequestState(e["to_state"]), e["actor"], _utc(e["at"]), e["note"]))
        return [_request_from_row(row, tuple(events[row["id"]])) for row in rows]

    # ----------------------------------------------------------------- fleet

    def fleet(self) -> dict:
        """GPUs in use, and in draft, submitted and approved (not yet fulfilled) requests.

        Returns ``{"by_gpu_type": {...}, "by_team": {...}, "total": {...}}``; each entry has
        ``in_use``, ``draft``, ``requested`` (submitted) and ``approved`` GPU counts.
        """
        team = sa.func.coalesce(services_t.c.team, "(no team)")
        in_use = {key: sa.select(key.label("key"), sa.func.sum(services_t.c.gpus)).group_by(key)
                  for key in (services_t.c.gpu_type, team)}
        pending = {key: sa.select(key.label("key"), requests_t.c.state, sa.func.sum(requests_t.c.gpus))
                   .join(services_t, services_t.c.id == requests_t.c.service_id)
                   .where(requests_t.c.state.in_([s.value for s in OPEN_STATES])).group_by(key, requests_t.c.state)
                   for key in (requests_t.c.gpu_type, team)}
        columns = {_S.DRAFT.value: "draft", _S.SUBMITTED.value: "requested", _S.APPROVED.value: "approved"}
        result = {}
        with self._transaction(write=False) as conn:
            for label, use_key, pending_key in (("by_gpu_type", services_t.c.gpu_type, requests_t.c.gpu_type),
                                                 ("by_team", team, team)):
                table: dict[str, dict[str, int]] = {}
                blank = {"in_use": 0, **{c: 0 for c in columns.values()}}
                for key, gpus in conn.execute(in_use[use_key]):
                    table.setdefault(key, dict(blank))["in_use"] = int(gpus or 0)
                for key, state, gpus in conn.execute(pending[pending_key]):
                    table.setdefault(key, dict(blank))[columns[state]] = int(gpus or 0)
                result[label] = dict(sorted(table.items()))
        result["total"] = {c: sum(row[c] for row in result["by_gpu_type"].values())
                           for c in ("in_use", *columns.values())}
        return result


# --------------------------------------------------------------------------- rows <-> records


def _service_row(service: Service) -> dict:
    row = dataclasses.asdict(service)
    row["tags"] = list(service.tags)
    return row


def _service_from_row(row) -> Service:
    values = {f.name: row[f.name] for f in dataclasses.fields(Service)}
    values["tags"] = tuple(values["tags"] or ())
    values["created_at"], values["updated_at"] = _utc(values["created_at"]), _utc(values["updated_at"])
    return Service(**values)


def _request_query() -> sa.Select:
    return sa.select(requests_t, services_t.c.name.label("service")).join(
        services_t, services_t.c.id == requests_t.c.service_id)


def _request_from_row(row, history: tuple[RequestEvent, ...]) -> CapacityRequest:
    return CapacityRequest(
        id=row["id"], service=row["service"], gpus=row["gpus"], gpu_type=row["gpu_type"], reason=row["reason"],
        state=RequestState(row["state"]), requested_by=row["requested_by"], created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]), plan=row["plan"], history=history)


def _check_request_id(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return check_number("request.id", value, integer=True, maximum=MAX_DB_INT)


def _upsert(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...]):
    """INSERT ... ON CONFLICT (keys) DO UPDATE for SQLite and PostgreSQL alike."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in (*keys, "id")}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# --------------------------------------------------------------------------- traffic CSV

TIMESTAMP_COLUMNS = ("timestamp", "time", "ts", "date")
RATE_COLUMNS = ("rps", "requests_per_second")
COUNT_COLUMNS = ("requests",)
TOKEN_COLUMNS = {"input": ("input_tokens", "avg_input_tokens"), "output": ("output_tokens", "avg_output_tokens")}


def read_traffic_csv(path: str | os.PathLike) -> list[TrafficPoint]:
    """Read traffic history from a CSV file, oldest first.

    Two layouts are accepted:

    - rates: ``timestamp, rps[, input_tokens, output_tokens]`` with tokens as per-request averages;
    - counts per window (the layout of ``data/traces/*_per_hour.csv``): ``timestamp, requests
      [, input_tokens, output_tokens]`` with token totals per window; ``rps = requests / window``,
      where the window is the median spacing of the timestamps.

    Timestamps are ISO-8601 (naive ones are taken as UTC) or numbers, read as ``forecast.py --history``
    reads them (:mod:`demand_history`: Unix milliseconds, Unix seconds, or small numbers as seconds
    after its relative epoch, 2024-01-01 UTC). Unlike that loader, rows are stored as observed (no
    resampling or gap filling: the forecaster regularizes at plan time), so a file may hold one row
    to append. Any bad cell raises
    :class:`models.InputError` naming the file, line and column; nothing is returned half-read.
    """
    source = os.fspath(path)
    try:
        if os.path.getsize(source) > MAX_CSV_BYTES:
            raise InputError("--csv", source, f"a file under {MAX_CSV_BYTES // 2**20} MiB")
        with open(source, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = {(h or "").strip().lower(): h for h in reader.fieldnames or ()}
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # csv.Error: a NUL byte, a 128 KiB cell
        raise InputError("--csv", source, f"a readable UTF-8 CSV file ({_first_line(exc)})") from None
    columns = _traffic_columns(source, header)
    if not rows:
        raise InputError("--csv", source, "a CSV file with at least one data row")
    parsed = sorted((_traffic_row(source, line, row, columns) for line, row in rows), key=lambda p: p[0])
    if "requests" in columns:
        return _from_counts(source, parsed)
    return [TrafficPoint(ts, value, inp, out) for ts, value, inp, out in parsed]


def _traffic_columns(source: str, header: dict[str, str]) -> dict[str, str]:
    def pick(names):
        return next((header[n] for n in names if n in header), None)

    columns = {"timestamp": pick(TIMESTAMP_COLUMNS), "rps": pick(RATE_COLUMNS), "requests": pick(COUNT_COLUMNS),
               "input": pick(TOKEN_COLUMNS["input"]), "output": pick(TOKEN_COLUMNS["output"])}
    if columns["timestamp"] is None or (columns["rps"] is None and columns["requests"] is None):
        raise InputError(f"{source}: columns", sorted(header),
                         "a timestamp column and an rps (or requests-per-window) column")
    if columns["rps"] is not None:
        del columns["requests"]
    else:
        del columns["rps"]
    return {k: v for k, v in columns.items() if v is not None}


def _traffic_row(source: str, line: int, row: dict, columns: dict) -> tuple:
    def number(key: str, *, required: bool) -> float | None:
        text = (row.get(columns[key]) or "").strip() if key in columns else ""
        if not text and not required:
            return None
        where = f"{source}:{line}: {columns.get(key, key)}"
        try:
            value = float(text)
        except ValueError:
            raise InputError(where, text, "a finite number >= 0") from None
        return check_number(where, value, inclusive=True)

    value = number("rps" if "rps" in columns else "requests", required=True)
    return (_parse_timestamp(f"{source}:{line}: {columns['timestamp']}", row.get(columns["timestamp"])),
            value, number("input", required=False), number("output", required=False))


def _parse_timestamp(where: str, text: str | None) -> datetime:
    """ISO-8601, or a number read as ``demand_history`` reads one (Unix ms, Unix s, or s after its epoch)."""
    from demand_history import RELATIVE_EPOCH, UNIX_MS_FLOOR, UNIX_SECONDS_FLOOR

    text = (text or "").strip()
    try:
        if not re.fullmatch(r"\d+(\.\d+)?", text):
            return _utc(datetime.fromisoformat(text))
        number = float(text)
        if number >= UNIX_MS_FLOOR:
            return datetime.fromtimestamp(number / 1000, tz=timezone.utc)
        if number >= UNIX_SECONDS_FLOOR:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        return datetime.fromisoformat(RELATIVE_EPOCH.replace("Z", "+00:00")) + timedelta(seconds=number)
    except (ValueError, OverflowError, OSError):
        raise InputError(where, text, "an ISO-8601 timestamp or a number of seconds") from None


def _from_counts(source: str, parsed: list[tuple]) -> list[TrafficPoint]:
    """Per-window request counts and token totals -> rates and per-request averages."""
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(parsed, parsed[1:])]
    window_s = statistics.median(gaps) if gaps else 0.0
    if window_s <= 0:
        raise InputError(f"{source}: timestamp", "one window or repeated times",
                         "at least two distinct timestamps to infer the window of the request counts")
    points = []
    for ts, requests, input_total, output_total in parsed:
        def per_request(total):
            return total / requests if total is not None and requests > 0 else None
        points.append(TrafficPoint(ts, requests / window_s, per_request(input_total), per_request(output_total)))
    return points
