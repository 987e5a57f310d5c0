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
import dataclasses
import enum
import functools
import json
import math
import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from architecture import checkpoint_precision
from config import get_gpu, get_model
from demand_history import MAX_DEMAND
from models import MAX_DB_INT, InputError, NotFoundError, PlannerError, PRECISIONS, check_choice, check_number

DB_ENV_VAR = "LLM_CAPACITY_DB"
BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for another writer's lock before giving up."""
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_TEXT_CHARS = 200
MAX_NOTE_CHARS = 2000
FIRST_TIMESTAMP = datetime(1677, 9, 22, tzinfo=timezone.utc)
LAST_TIMESTAMP = datetime(2262, 4, 11, tzinfo=timezone.utc)
"""Traffic timestamps lie within pandas' nanosecond range (what ``demand_history`` accepts too)."""

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


class UnreadableRecord(InputError):
    """A stored row this version cannot interpret, met where a whole record is needed (planning, a transition)."""

    def __init__(self, row: UnreadableRow, fix: str):
        super().__init__(f"{row.table} {row.key}: {row.column}", row.value, f"{row.problem} ({fix})")
        self.row = row


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
    """Return ``value`` stripped if it is a non-empty string of at most ``max_chars`` without control characters
    (tabs and newlines aside) or the bidirectional controls that make text display in another order."""
    accepted = f"non-empty text of at most {max_chars} characters"
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_chars:
        raise InputError(name, value, accepted)
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in value) or "\x7f" in value:
        raise InputError(name, value, accepted + " without control characters")
    hidden = next((ch for ch in value if ch in BIDI_CONTROLS), None)
    if hidden is not None:
        raise InputError(name, value, f"{accepted} without {_char_name(hidden)} (it reorders how text displays)")
    return value.strip()


# Default_Ignorable_Code_Point (Unicode 15.1 DerivedCoreProperties.txt) plus U+2800 BRAILLE PATTERN BLANK:
# characters that render as nothing, so a name holding one looks like the name without it.
INVISIBLE_RANGES = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
                    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
                    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Scripts one name may mix (Unicode TR39 "highly restrictive"); Common and Inherited go with any.
SCRIPT_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                frozenset({"LATIN", "HAN", "HANGUL"}))


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"


def _hidden(ch: str) -> bool:
    """A character that shows nothing or controls layout: formats (Cf), controls, surrogates, private use,
    unassigned code points, line and paragraph separators, and the default-ignorable ones."""
    code = ord(ch)
    return (unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
            or any(low <= code <= high for low, high in INVISIBLE_RANGES))


def check_label(name: str, value: Any, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """A team name or tag: single-line text in NFKC form (fullwidth letters become ASCII) with no invisible
    or formatting characters, so two labels that look the same are the same."""
    text = unicodedata.normalize("NFKC", check_text(name, value, max_chars=max_chars))
    hidden = next((ch for ch in text if _hidden(ch)), None)
    if hidden is not None:
        raise InputError(name, value, f"text without invisible or formatting characters (it holds {_char_name(hidden)})")
    return " ".join(text.split())


def check_identity(name: str, value: Any) -> str:
    """A person's name (requester, approver, owner) in the one form it is stored and compared in.

    NFKC then case folding (``ＡＬＩＣＥ`` and ``Alice`` are ``alice``), runs of spaces as one; refused with the
    reason: invisible or formatting characters (zero-width space, soft hyphen, bidi controls...) and letters
    of scripts that do not mix in one name (Latin ``a`` beside Cyrillic ``а``: a look-alike of another name).
    ``--by`` is not authentication: see the README for putting the registry behind real identities.
    """
    text = check_label(name, value)
    folded = unicodedata.normalize("NFKC", text.casefold())
    scripts = _scripts(folded)
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in SCRIPT_MIXES):
        raise InputError(name, value, f"a name in one script (this mixes {' and '.join(sorted(scripts))}, as "
                         "look-alikes of another name do)")
    return folded


def _scripts(text: str) -> frozenset[str]:
    from confusable_homoglyphs import categories

    return frozenset(categories.unique_aliases(text)) - {"COMMON", "INHERITED"}


def identity_key(value: str) -> str:
    """What two names are compared by (the four-eyes rule): the stored form with invisible characters dropped
    (rows written before names were checked) and letters of other scripts that look like Latin ones read
    as those (Cyrillic ``асе`` is ``ace``)."""
    text = unicodedata.normalize("NFKC", "".join(ch for ch in value if not _hidden(ch)).casefold())
    return "".join(_latin_look_alike(ch) for ch in " ".join(text.split()))


@functools.lru_cache(maxsize=4096)
def _latin_look_alike(ch: str) -> str:
    """``ch``, or the Latin letter it is confusable with when it belongs to another script (confusable_homoglyphs,
    from Unicode's confusables.txt)."""
    from confusable_homoglyphs import categories, confusables

    if ch.isascii() or categories.alias(ch) in ("LATIN", "COMMON", "INHERITED"):
        return ch
    found = confusables.is_confusable(ch, preferred_aliases=["latin"]) or []
    latin = [g["c"] for entry in found for g in entry["homoglyphs"] if g["n"].startswith("LATIN")]
    return min(latin).casefold() if latin else ch


def check_name(value: Any) -> str:
    """A service name: lowercase letters, digits, ``.``, ``_``, ``-``; up to 64 characters."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InputError("service.name", value,
                         "1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _check_tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InputError("service.tags", value, "a list of tags")
    return tuple(dict.fromkeys(check_label("service.tags", tag, max_chars=64) for tag in value))


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
    precision: str | None = None
    """Weights; ``None`` is the checkpoint's own format (its ``quantization_config``), else FP16."""
    requests_per_second: float | None = None
    """Current average load; ``None`` until known."""
    avg_input_tokens: int | None = None
    avg_output_tokens: int | None = None
    ttft_slo_ms: float | None = None
    itl_slo_ms: float | None = None
    replicas: int = 0
    gpus: int | None = None
    """GPUs the service holds now, all replicas (default here: one per replica; ``LLMForecastEngine.register_service``
    fills in replicas x the GPUs one replica of the model needs on the GPU type)."""
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        set_ = _setter(self)
        set_("owner", check_identity("service.owner", self.owner))
        set_("team", _optional(check_label, "service.team", self.team))
        arch = get_model(self.model, "service.model")
        set_("model", arch.id)
        set_("gpu_type", get_gpu(self.gpu_type, "service.gpu_type").id)
        precision = (checkpoint_precision(arch) or "FP16") if self.precision is None else self.precision
        set_("precision", check_choice("service.precision", precision, PRECISIONS))
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
    """One observation of a service's load; validated (a timestamp pandas can plan with, finite load)."""

    timestamp: datetime
    """Aware, or naive and taken as UTC; stored as UTC; within the years 1678-2261 (pandas' range)."""
    requests_per_second: float
    avg_input_tokens: float | None = None
    avg_output_tokens: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.timestamp, datetime):
            raise InputError("traffic.timestamp", self.timestamp, "a datetime")
        set_ = _setter(self)
        set_("timestamp", _utc(self.timestamp))
        if not FIRST_TIMESTAMP <= self.timestamp <= LAST_TIMESTAMP:
            raise InputError("traffic.timestamp", self.timestamp.isoformat(), f"a time from {FIRST_TIMESTAMP.date()} "
                             f"to {LAST_TIMESTAMP.date()}, the range pandas plans with")
        set_("requests_per_second", check_number("traffic.requests_per_second", self.requests_per_second,
                                                 inclusive=True, maximum=MAX_DEMAND))
        for name in ("avg_input_tokens", "avg_output_tokens"):
            set_(name, _optional(check_number, f"traffic.{name}", getattr(self, name), inclusive=True,
                                 maximum=MAX_DB_INT))


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


class Unparsed:
    """A stored value the column's type cannot read (a timestamp that is not one, JSON that is not JSON)."""

    __slots__ = ("text", "reason")

    def __init__(self, text: Any, reason: str):
        self.text, self.reason = str(text), reason

    def __repr__(self) -> str:
        return repr(self.text)


@dataclass(frozen=True)
class UnreadableRow(_Record):
    """A stored row this version cannot interpret: listed as such, shown, fixed (``update``) and removed.

    Rows get this way when a model leaves the catalog, a newer version writes a state this one does not
    know, or someone edits the database by hand. Reads never fail on them; writes still validate.
    """

    table: str
    key: str
    """The row's name (``services``) or id (``capacity_requests``)."""
    column: str
    """The first column that could not be read."""
    value: Any
    problem: str
    row: dict
    """Every column as stored, as JSON-safe values."""

    def to_dict(self) -> dict:
        return {"unreadable": True, "table": self.table, "key": self.key, "column": self.column,
                "value": _plain(self.value), "problem": self.problem, "row": {k: _plain(v) for k, v in self.row.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, Unparsed):
        return value.text
    return _jsonable(value)


class _Lenient(sa.types.TypeDecorator):
    """A column type whose reads never raise: a stored value the wrapped type cannot read comes back as
    :class:`Unparsed`. The DDL is the wrapped type's, so the schema is unchanged."""

    cache_ok = True

    def result_processor(self, dialect, coltype):
        inner = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value):
            if value is None or isinstance(value, Unparsed) or inner is None:
                return value
            try:
                return inner(value)
            except (ValueError, TypeError) as exc:
                return Unparsed(value, _first_line(exc))

        return process


class LenientJSON(_Lenient):
    impl = sa.JSON
    cache_ok = True


class LenientDateTime(_Lenient):
    impl = sa.DateTime(timezone=True)
    cache_ok = True


def _lenient_reads(table: sa.Table) -> sa.Table:
    """``table`` with its JSON and timestamp columns read through :class:`_Lenient` types."""
    for column in table.columns:
        if isinstance(column.type, sa.JSON):
            column.type = LenientJSON()
        elif isinstance(column.type, sa.DateTime):
            column.type = LenientDateTime()
    return table


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


_T = {name: _lenient_reads(table) for name, table in _tables_v1(metadata).items()}
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
        base = Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = _home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share")
    return base / "llm-capacity" / "services.db"


def _home() -> Path:
    try:
        return Path.home()
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry for this user id
        raise InputError("--db", "(the default database)", f"a home directory to keep it in (HOME is unset and user "
                         f"id {_uid()} has no passwd entry): give --db PATH or set ${DB_ENV_VAR}") from None


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "?"


LIBPQ_KEYWORDS = ("host", "hostaddr", "port", "dbname", "user", "password", "service", "sslmode", "connect_timeout",
                  "options", "application_name", "passfile", "target_session_attrs")
_DSN = re.compile(r"^\s*(" + "|".join(LIBPQ_KEYWORDS) + r")\s*=")
_SECRETS = (
    (re.compile(r"(://[^/\s:@]*):[^/\s]*@"), r"\1:***@"),  # scheme://user:password@host
    (re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s;,]*)"), r"\1***"),  # ?password=, DSN password=
)


def redact(text: str) -> str:
    """``text`` with every database credential masked: ``user:pw@`` in URLs, ``password=`` in URL queries and
    libpq DSNs, and the value of ``$PGPASSWORD`` wherever it appears."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    secret = os.environ.get("PGPASSWORD")
    return text.replace(secret, "***") if secret and len(secret) >= 3 else text


def shown_url(url: sa.URL) -> str:
    """``url`` fit to print: driver name as the user wrote it, every credential masked."""
    return redact(url.render_as_string(hide_password=True).replace("+psycopg", "").replace("+pysqlite", ""))


def _check_exists(url: sa.URL, given: bool) -> None:
    """Refuse a SQLite file that is not there where a registry must already exist (planning): opening it would
    create an empty registry and plan nothing."""
    if url.get_backend_name() != "sqlite" or not url.database or url.query.get("uri") or Path(url.database).exists():
        return
    raise InputError("--db" if given else f"--db (default: ${DB_ENV_VAR} or {default_db_path()})", url.database,
                     "an existing registry database (no such file: `services.py add` creates one)")


def database_url(db: str | os.PathLike | None = None) -> sa.URL:
    """The SQLAlchemy URL for ``db``: a path, ``:memory:``, a ``postgresql://`` URL or a libpq DSN
    (``host=... dbname=...``).

    ``None`` takes ``$LLM_CAPACITY_DB``, else :func:`default_db_path`. ``postgresql://`` and
    ``postgres://`` URLs use the psycopg (3) driver. A malformed URL is an :class:`InputError` with
    its credentials masked.
    """
    db = db if db is not None else (os.environ.get(DB_ENV_VAR) or default_db_path())
    text = os.fspath(db)
    if text == ":memory:":
        return sa.make_url("sqlite://")
    if "://" not in text and _DSN.match(text):
        return _dsn_url(text)
    if "://" not in text:
        return sa.URL.create("sqlite+pysqlite", database=str(_sqlite_path(text)))
    accepted = "a file path or a postgresql://user@host:port/database URL"
    try:
        url = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError) as exc:  # a port that is not a number, a bracket left open
        raise InputError("--db", redact(text), f"{accepted} ({redact(_first_line(exc))})") from None
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise InputError("--db", shown_url(url), accepted)
    return url


def _sqlite_path(text: str) -> Path:
    try:
        path = Path(text).expanduser().resolve()
        is_dir = path.is_dir()
    except RuntimeError:  # ~ with no home directory
        raise InputError("--db", text, f"a path that does not start with ~ (no home directory for user id {_uid()})") \
            from None
    except OSError as exc:  # a name too long
        raise InputError("--db", text, f"a usable file path ({exc.strerror})") from None
    if is_dir:
        raise InputError("--db", text, "a database file path, not a directory")
    return path


def _dsn_url(text: str) -> sa.URL:
    """A libpq ``key=value`` connection string as a psycopg URL."""
    from psycopg import conninfo

    try:
        params = conninfo.conninfo_to_dict(text)
    except Exception as exc:  # psycopg.ProgrammingError: a missing '=', an unterminated quote
        raise InputError("--db", redact(text), f"a libpq connection string ({redact(_first_line(exc))})") from None
    port = params.pop("port", None)
    if port is not None and not str(port).isdigit():
        raise InputError("--db", redact(text), "a libpq connection string with a numeric port")
    return sa.URL.create("postgresql+psycopg", username=params.pop("user", None), password=params.pop("password", None),
                         host=params.pop("host", None), port=int(port) if port else None,
                         database=params.pop("dbname", None), query={k: str(v) for k, v in params.items()})


def _enable_wal(cursor, timeout_s: float) -> None:
    """Switch the file to WAL (persistent: done once per file). Processes opening a fresh file at the same
    moment can see the switch report 'database is locked' without waiting on the busy handler, so it is
    retried within the lock timeout."""
    import sqlite3

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@dataclass(frozen=True)
class Timeouts:
    """How long the store waits, in seconds; each expiry is a :class:`DatabaseUnavailable` that names it."""

    connect_s: float = 10.0
    """PostgreSQL: reaching the server and logging in (a host that accepts TCP and never answers)."""
    lock_s: float = BUSY_TIMEOUT_S
    """A lock held by another session (PostgreSQL ``lock_timeout``, SQLite's busy timeout)."""
    statement_s: float = 300.0
    """PostgreSQL: one statement (``statement_timeout``); a 10-million-row import stays well under it."""

    def __post_init__(self) -> None:
        for name in ("connect_s", "lock_s", "statement_s"):
            check_number(f"timeout.{name}", getattr(self, name), maximum=86_400)


def _writable(path: Path) -> bool:
    """Whether this user may write ``path`` (or create it) and its directory (SQLite's -wal and -shm go there)."""
    directory = os.access(path.parent, os.W_OK)
    return directory and (not path.exists() or os.access(path, os.W_OK))


def _sqlite_open_mode(path: Path, read_only: bool) -> str | None:
    """How to open a SQLite file: ``None`` (read-write, WAL), ``ro`` or ``immutable`` (read-only).

    A reader that cannot write the file or its directory must not create ``-wal``/``-shm`` files: they would
    be its own, and the owner could no longer write. With the owner's ``-wal`` and ``-shm`` present it reads
    through them (``mode=ro``); without them the file holds every commit and is read as it is (``immutable``).
    A writer that cannot write them gets an error before anything is touched."""
    writable_dir = os.access(path.parent, os.W_OK)
    if not path.exists():
        if not writable_dir:
            raise DatabaseUnavailable(f"no database at {path}, and its directory is not writable to create one")
        return None
    writable = os.access(path, os.W_OK) and writable_dir
    if writable:
        return None
    if not read_only:
        what = "file" if not os.access(path, os.W_OK) else "directory (SQLite writes its -wal and -shm files there)"
        raise DatabaseUnavailable(f"{path} is read-only for user id {_uid()}: its {what} is not writable. Ask its "
                                  "owner to make the change, or keep a registry shared between users on PostgreSQL")
    wal = [Path(f"{path}-wal").exists(), Path(f"{path}-shm").exists()]
    return "ro" if all(wal) else "immutable"


def _sqlite_engine(url: sa.URL, timeouts: Timeouts, read_only: bool) -> sa.Engine:
    """SQLite with WAL, a busy timeout, foreign keys, and SQLAlchemy in charge of BEGIN."""
    memory = not url.database
    mode = None
    if not memory and not url.query.get("uri"):  # a file: URI (sqlite:///file:x.db?mode=ro&uri=true) names no directory
        path = Path(url.database)
        if not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(f"cannot create the directory of {url.database}: {exc.strerror}") from None
        mode = _sqlite_open_mode(path, read_only)
        if mode is not None:
            from urllib.parse import quote

            flags = "mode=ro" + ("&immutable=1" if mode == "immutable" else "")
            url = sa.URL.create("sqlite+pysqlite", database=f"file:{quote(str(path))}?{flags}", query={"uri": "true"})
    engine = sa.create_engine(url, connect_args={"timeout": timeouts.lock_s},
                              poolclass=sa.pool.StaticPool if memory else None)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # the driver must not issue its own BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(timeouts.lock_s * 1000)}")
        if not memory and mode is None:
            _enable_wal(cursor, timeouts.lock_s)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # IMMEDIATE takes the write lock at BEGIN, so a writer waits (busy timeout) instead of
        # failing later on a read-to-write upgrade; readers take a deferred snapshot.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def _postgres_engine(url: sa.URL, timeouts: Timeouts, read_only: bool) -> sa.Engine:
    """PostgreSQL with a connect timeout (unless the URL sets one), lock and statement timeouts, and timestamps
    PostgreSQL holds but Python cannot (``infinity``, year 10000) loaded as unreadable values, not errors.
    ``read_only`` changes nothing here: the server's grants decide, and a new database is still set up."""
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": max(1, math.ceil(timeouts.connect_s))}
    engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=False)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        _lenient_timestamps(dbapi_conn)
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(timeouts.lock_s * 1000)}")
            cursor.execute(f"SET statement_timeout = {int(timeouts.statement_s * 1000)}")
        dbapi_conn.commit()

    return engine


def _lenient_timestamps(dbapi_conn) -> None:
    from psycopg import DataError
    from psycopg.types.datetime import TimestampLoader, TimestamptzLoader

    for name, base in (("timestamptz", TimestamptzLoader), ("timestamp", TimestampLoader)):
        class Lenient(base):
            def load(self, data):
                try:
                    return super().load(data)
                except DataError as exc:
                    return Unparsed(bytes(data).decode(errors="replace"), _first_line(exc))

        dbapi_conn.adapters.register_loader(name, Lenient)


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

    def __init__(self, db: str | os.PathLike | None = None, *, clock: Clock = utc_now, read_only: bool = False,
                 timeouts: Timeouts | None = None, must_exist: bool = False):
        self.url = database_url(db)
        if must_exist:
            _check_exists(self.url, given=db is not None)
        self.read_only = read_only
        self.timeouts = timeouts or Timeouts()
        self._clock = clock
        sqlite = self.url.get_backend_name() == "sqlite"
        make = _sqlite_engine if sqlite else _postgres_engine
        self._migrating = False
        try:
            self._engine = make(self.url, self.timeouts, read_only)
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"cannot open {redact(str(exc))}") from None
        except sa_exc.ArgumentError as exc:  # a query option the driver does not take
            raise InputError("--db", shown_url(self.url), f"a usable database URL ({redact(_first_line(exc))})") \
                from None
        # a read-only command may still set up a new database where the user can write (not a shared SQLite file)
        self._may_create = not sqlite or (not self.url.database or self.url.query.get("uri") is not None
                                          or _writable(Path(self.url.database)))
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
        if write and self.read_only and not self._migrating:
            raise DatabaseUnavailable(f"database {shown_url(self.url)} was opened read-only: this command changes it")
        try:
            with self._engine.connect() as conn:
                conn.execution_options(write=write)
                with conn.begin():
                    yield conn
        except sa_exc.IntegrityError:
            raise  # a constraint the caller maps (a concurrent add of the same name)
        except sa_exc.DBAPIError as exc:  # read-only, corrupt, locked past the timeout, server gone: rolled back
            raise DatabaseUnavailable(f"database {shown_url(self.url)}: {self._explain(exc.orig)}") from None

    def _explain(self, error: BaseException) -> str:
        """The driver's error as one line, naming the timeout that expired, credentials masked."""
        text, code = _first_line(error), getattr(error, "sqlstate", None)
        timeouts = self.timeouts
        if code == "55P03" or (self.dialect == "sqlite" and "database is locked" in text):
            text = (f"the lock timeout ({timeouts.lock_s:g} s) expired: another session holds a lock on this data "
                    "(retry, or raise --lock-timeout)")
        elif code == "57014" and "statement timeout" in text:
            text = f"the statement timeout ({timeouts.statement_s:g} s) expired (raise --statement-timeout)"
        elif "timeout expired" in text or "timed out" in text:
            text = (f"the connect timeout ({timeouts.connect_s:g} s) expired: the server did not answer "
                    f"(check the host and port, or raise --connect-timeout) [{text}]")
        return redact(text)

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
        current = self.schema_version()
        if current == latest:
            return
        if current > latest:
            raise SchemaTooNew(f"the database is at schema version {current}; this program knows up to "
                               f"{latest}: upgrade the program")
        if self.read_only and not self._may_create:
            raise DatabaseUnavailable(f"{shown_url(self.url)}: the database is at schema version {current} and "
                                      f"this program needs {latest}; it was opened read-only, so run a command "
                                      "that changes it (as a user who may write it) to upgrade it")
        self._migrating = True
        try:
            self._apply_migrations(latest)
        finally:
            self._migrating = False

    def _apply_migrations(self, latest: int) -> None:
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

    def get_service(self, name: str, *, lenient: bool = False) -> Service | UnreadableRow:
        """The service called ``name``; :class:`NotFoundError` (with suggestions) otherwise.

        A stored row this version cannot interpret is :class:`UnreadableRecord`, or with ``lenient`` the
        :class:`UnreadableRow` itself (what ``show`` prints)."""
        with self._transaction(write=False) as conn:
            return self._load_service(conn, name, lenient=lenient)

    def list_services(self) -> list[Service | UnreadableRow]:
        """Every service, by name; rows this version cannot interpret are listed as :class:`UnreadableRow`."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(sa.select(services_t).order_by(services_t.c.name)).mappings()
            return [_service_from_row(row) for row in rows]

    def update_service(self, name: str, /, **changes) -> Service:
        """Change fields of a service (validated as a whole); returns the updated service.

        This is also how an unreadable row is fixed: the changes are laid over what is stored, and the result
        must validate (a timestamp that could not be read is replaced by the time of the update)."""
        if "name" in changes or "created_at" in changes:
            raise InputError("service update", sorted(changes), "fields other than name and created_at")
        with self._transaction(write=True) as conn:
            row = self._service_row(conn, name)
            now = self._now()
            stored = {f.name: row[f.name] for f in dataclasses.fields(Service)}
            stored["created_at"] = now if isinstance(stored["created_at"], Unparsed) else _utc(stored["created_at"])
            stored["tags"] = tuple(stored["tags"]) if isinstance(stored["tags"], list) else stored["tags"]
            updated = Service(**{**stored, **changes, "updated_at": now})
            conn.execute(services_t.update().where(services_t.c.id == row["id"]).values(**_service_row(updated)))
        return updated

    def remove_service(self, name: str) -> Service | UnreadableRow:
        """Delete a service with its traffic history and closed requests; refused while requests are open.
        An unreadable row is removed as well (and returned as it was stored)."""
        with self._transaction(write=True) as conn:
            row = self._service_row(conn, name)
            service_id = row["id"]
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
        return _service_from_row(row)

    def _service_id(self, conn: sa.Connection, name: str, *, required: bool = True) -> int | None:
        found = conn.scalar(sa.select(services_t.c.id).where(services_t.c.name == name))
        if found is None and required:
            known = conn.scalars(sa.select(services_t.c.name))
            raise NotFoundError("service", name, known, kind="service")
        return found

    def _service_row(self, conn: sa.Connection, name: str):
        self._service_id(conn, name)
        return conn.execute(sa.select(services_t).where(services_t.c.name == name)).mappings().one()

    def _load_service(self, conn: sa.Connection, name: str, *, lenient: bool = False) -> Service | UnreadableRow:
        record = _service_from_row(self._service_row(conn, name))
        if isinstance(record, UnreadableRow) and not lenient:
            raise UnreadableRecord(record, _service_fix(record))
        return record

    # ----------------------------------------------------------------- traffic

    def add_traffic(self, name: str, points: Iterable[TrafficPoint]) -> int:
        """Store traffic observations (a point at an existing timestamp replaces it); returns how many distinct
        timestamps were stored (a timestamp given twice counts once: the later point wins)."""
        rows = {_utc(p.timestamp): {"timestamp": _utc(p.timestamp), "requests_per_second": p.requests_per_second,
                                    "avg_input_tokens": p.avg_input_tokens, "avg_output_tokens": p.avg_output_tokens}
                for p in points}
        if not rows:
            raise InputError("traffic", [], "at least one data point")
        with self._transaction(write=True) as conn:
            service_id = self._service_id(conn, name)
            conn.execute(_upsert(conn, traffic_t, ("service_id", "timestamp")),
                         [{**row, "service_id": service_id} for row in rows.values()])
        return len(rows)

    def import_traffic(self, name: str, path: str | os.PathLike, *, timestamp_column: str | None = None,
                       value_column: str | None = None, date_format: str | None = None) -> dict:
        """Load a traffic CSV into the service's history, all or nothing, read by
        :func:`demand_history.read_observations` (the planner's reader: same columns, timestamps and token rule).

        The file streams through a temporary table in chunks, so memory stays bounded (10 million rows in well
        under 1 GiB); rows sharing a timestamp are merged as the forecaster merges them (mean rate, tokens
        weighted by requests), and a timestamp already stored is replaced. Returns the service, the number of
        points stored (distinct timestamps), the first and last, and the reader's warnings.
        """
        from demand_history import read_observations

        notes: list[str] = []
        with self._transaction(write=True) as conn:
            service_id = self._service_id(conn, name)
            stage = _staging_table()
            stage.create(conn)
            with _naming_the_file(path):
                for frame in read_observations(path, timestamp_column=timestamp_column, value_column=value_column,
                                               date_format=date_format, notes=notes):
                    if len(frame):
                        _stage(conn, stage, _staged_rows(frame, conn.dialect.name))
            stored, first, last = conn.execute(sa.select(sa.func.count(sa.distinct(stage.c.timestamp)),
                                                         sa.func.min(stage.c.timestamp),
                                                         sa.func.max(stage.c.timestamp))).one()
            if not stored:
                raise InputError("--csv", os.fspath(path), "a CSV file with at least one value")
            conn.execute(_merge_staged(conn, stage, service_id))
            stage.drop(conn)
        return {"service": name, "points": stored, "first": _iso_text(first), "last": _iso_text(last),
                "warnings": notes}

    def traffic_summary(self, name: str) -> dict:
        """``points``, ``first`` and ``last`` of the service's traffic history, counted by the database."""
        with self._transaction(write=False) as conn:
            service_id = self._service_id(conn, name)
            count, first, last = conn.execute(
                sa.select(sa.func.count(), sa.func.min(traffic_t.c.timestamp), sa.func.max(traffic_t.c.timestamp))
                .where(traffic_t.c.service_id == service_id)).one()
        return {"points": count, "first": _plain(_utc(first) if isinstance(first, datetime) else first),
                "last": _plain(_utc(last) if isinstance(last, datetime) else last)}

    def traffic_history(self, name: str, *, lenient: bool = False) -> list[TrafficPoint]:
        """The service's traffic observations, oldest first. A stored point this version cannot read is
        :class:`UnreadableRecord`, or skipped with ``lenient``."""
        with self._transaction(write=False) as conn:
            service_id = self._service_id(conn, name)
            rows = conn.execute(sa.select(traffic_t).where(traffic_t.c.service_id == service_id)
                                .order_by(traffic_t.c.timestamp)).mappings()
            points = []
            for row in rows:
                point = _point_from_row(name, row)
                if isinstance(point, UnreadableRow) and not lenient:
                    raise UnreadableRecord(point, f"import the traffic again, or remove the service `{name}`")
                if isinstance(point, TrafficPoint):
                    points.append(point)
            return points

    def traffic_frame(self, name: str):
        """The service's traffic as a pandas DataFrame (``timestamp``, ``requests_per_second``,
        ``avg_input_tokens``, ``avg_output_tokens``) for :func:`demand_history.load_history`, which then applies
        the one token rule to it; unreadable points are left out."""
        import pandas as pd

        columns = ["timestamp", "requests_per_second", "avg_input_tokens", "avg_output_tokens"]
        points = self.traffic_history(name, lenient=True)
        return pd.DataFrame([[getattr(p, c) for c in columns] for p in points], columns=columns)

    # ----------------------------------------------------------------- requests

    def create_request(self, service: str, *, gpus: int, reason: str, by: str, gpu_type: str | None = None,
                       plan: dict | None = None) -> CapacityRequest:
        """Open a draft request for ``gpus`` more GPUs (default type: the service's)."""
        gpus = check_number("request.gpus", gpus, integer=True, maximum=MAX_DB_INT)
        reason = check_text("request.reason", reason, max_chars=MAX_NOTE_CHARS)
        by = check_identity("request.by", by)
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
        by = check_identity("by", by)
        note = _optional(check_text, "note", note, max_chars=MAX_NOTE_CHARS)
        request_id = _check_request_id(request_id)
        with self._transaction(write=True) as conn:
            row = self._request_row(conn, request_id, for_update=True)
            problem = _request_problem(row)
            if problem is not None and problem[0] in ("state", "gpus"):  # what a transition reads
                raise UnreadableRecord(_unreadable("capacity_requests", request_id, row, *problem),
                                       "this version cannot move it: use the version that wrote it")
            state = RequestState(row["state"])
            sources, target = TRANSITIONS[action]
            if state not in sources:
                raise IllegalTransition(request_id, state, action)
            if action is Action.APPROVE and identity_key(by) == identity_key(row["requested_by"]):
                raise SelfApproval(request_id, by)
            now = self._now()
            if action is Action.FULFILL:
                note = self._apply_fulfilment(conn, row, note)
            conn.execute(requests_t.update().where(requests_t.c.id == request_id)
                         .values(state=target.value, updated_at=now))
            self._record(conn, request_id, action, state, target, by, now, note)
            return self._load_request(conn, request_id)

    def get_request(self, request_id: int, *, lenient: bool = False) -> CapacityRequest | UnreadableRow:
        """A request with its full history; :class:`UnknownRequest` otherwise. A row this version cannot
        interpret is :class:`UnreadableRecord`, or with ``lenient`` the :class:`UnreadableRow` itself."""
        request_id = _check_request_id(request_id)
        with self._transaction(write=False) as conn:
            record = self._load_request(conn, request_id)
        if isinstance(record, UnreadableRow) and not lenient:
            raise UnreadableRecord(record, "show it with `request show`")
        return record

    def list_requests(self, *, state: str | None = None,
                      service: str | None = None) -> list[CapacityRequest | UnreadableRow]:
        """Requests, oldest first, optionally only those in ``state`` or for ``service``; rows this version cannot
        interpret are listed as :class:`UnreadableRow`."""
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
        service = self._load_service(conn, row["service"])  # an unreadable service is fixed before its GPUs change
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

    def _load_request(self, conn: sa.Connection, request_id: int) -> CapacityRequest | UnreadableRow:
        return self._with_history(conn, [self._request_row(conn, request_id)])[0]

    def _with_history(self, conn: sa.Connection, rows: list) -> list[CapacityRequest | UnreadableRow]:
        ids = [row["id"] for row in rows]
        events: dict[int, list[RequestEvent]] = {i: [] for i in ids}
        if ids:
            query = sa.select(events_t).where(events_t.c.request_id.in_(ids)).order_by(events_t.c.id)
            for e in conn.execute(query).mappings():
                events[e["request_id"]].append(RequestEvent(
                    _enum_or_text(Action, e["action"]), _enum_or_text(RequestState, e["from_state"]),
                    _enum_or_text(RequestState, e["to_state"]), e["actor"],
                    e["at"] if isinstance(e["at"], Unparsed) else _utc(e["at"]), e["note"]))
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


SERVICE_FLAGS = {"owner": "--owner", "team": "--team", "model": "--model", "precision": "--precision",
                 "gpu_type": "--gpu-type", "requests_per_second": "--rps", "avg_input_tokens": "--input-tokens",
                 "avg_output_tokens": "--output-tokens", "ttft_slo_ms": "--ttft-slo-ms", "itl_slo_ms": "--itl-slo-ms",
                 "replicas": "--replicas", "gpus": "--gpus", "tags": "--tags"}
"""Service column -> the ``update`` flag that rewrites it (how an unreadable row is fixed)."""


def _service_fix(row: UnreadableRow) -> str:
    flag = SERVICE_FLAGS.get(row.column)
    how = f"`update {row.key} {flag} ...`" if flag else f"any `update {row.key}`"
    return f"fix it with {how}, or remove the service with `remove {row.key}`"


def _unreadable(table: str, key: Any, row, column: str, value: Any, problem: str) -> UnreadableRow:
    return UnreadableRow(table=table, key=str(key), column=column, value=value, problem=problem,
                         row={k: v for k, v in dict(row).items() if k != "id"})


def _first_unparsed(row) -> tuple[str, Unparsed] | None:
    return next(((k, v) for k, v in dict(row).items() if isinstance(v, Unparsed)), None)


def _service_from_row(row) -> Service | UnreadableRow:
    """The stored row as a :class:`Service`, or as an :class:`UnreadableRow` naming the column that fails."""
    bad = _first_unparsed(row)
    if bad is not None:
        return _unreadable("services", row["name"], row, bad[0], bad[1], f"a readable value ({bad[1].reason})")
    values = {f.name: row[f.name] for f in dataclasses.fields(Service)}
    values["tags"] = tuple(values["tags"] or ()) if isinstance(values["tags"], list) or not values["tags"] \
        else values["tags"]
    values["created_at"], values["updated_at"] = _utc(values["created_at"]), _utc(values["updated_at"])
    try:
        return Service(**values)
    except InputError as exc:  # a model that left the catalog, a value edited by hand
        column = exc.field.removeprefix("service.")
        column = column if column in row else next((c for c in SERVICE_FLAGS if c in exc.field), "traffic")
        return _unreadable("services", row["name"], row, column, exc.value, exc.accepted)
    except (TypeError, ValueError) as exc:
        return _unreadable("services", row["name"], row, "row", None, _first_line(exc))


def _request_query() -> sa.Select:
    return sa.select(requests_t, services_t.c.name.label("service")).join(
        services_t, services_t.c.id == requests_t.c.service_id)


def _request_from_row(row, history: tuple[RequestEvent, ...]) -> CapacityRequest | UnreadableRow:
    """The stored row as a :class:`CapacityRequest`, or an :class:`UnreadableRow` (a state from a newer version)."""
    problem = _request_problem(row)
    if problem is not None:
        return _unreadable("capacity_requests", row["id"], row, *problem)
    return CapacityRequest(
        id=row["id"], service=row["service"], gpus=row["gpus"], gpu_type=row["gpu_type"], reason=row["reason"],
        state=RequestState(row["state"]), requested_by=row["requested_by"], created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]), plan=row["plan"], history=history)


def _request_problem(row) -> tuple[str, Any, str] | None:
    """``(column, value, what was expected)`` for the first column of a request row that cannot be read."""
    bad = _first_unparsed(row)
    if bad is not None:
        return bad[0], bad[1], f"a readable value ({bad[1].reason})"
    if row["state"] not in {s.value for s in RequestState}:
        return "state", row["state"], (f"a state this version knows ({', '.join(s.value for s in RequestState)}); "
                                        "a newer version may have written it")
    if not isinstance(row["gpus"], int) or isinstance(row["gpus"], bool) or row["gpus"] <= 0:
        return "gpus", row["gpus"], "a whole number of GPUs > 0"
    if row["plan"] is not None and not isinstance(row["plan"], dict):
        return "plan", row["plan"], "a JSON object (the attached plan)"
    return None


def _enum_or_text(kind: type[enum.Enum], value: Any):
    """``kind(value)``, or the stored text when this version does not know it (an event from a newer version)."""
    try:
        return None if value is None else kind(value)
    except ValueError:
        return value


def _check_request_id(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return check_number("request.id", value, integer=True, maximum=MAX_DB_INT)


def _dialect_insert(conn: sa.Connection):
    """The ``insert`` construct with ON CONFLICT support of the connection's database."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _upsert(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...]):
    """INSERT ... ON CONFLICT (keys) DO UPDATE for SQLite and PostgreSQL alike."""
    stmt = _dialect_insert(conn)(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in (*keys, "id")}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# --------------------------------------------------------------------------- traffic import


@contextlib.contextmanager
def _naming_the_file(path: str | os.PathLike):
    """Reader errors as ``--csv FILE: column: ...`` (the reader names columns as ``history: column``)."""
    try:
        yield
    except InputError as exc:
        field_name = exc.field.replace("--history", "--csv")
        if field_name.startswith("history"):
            field_name = f"--csv {os.fspath(path)}" + field_name.removeprefix("history")
        raise InputError(field_name, exc.value, exc.accepted) from None


def _staging_table() -> sa.Table:
    """A temporary table the imported rows stream into (dropped at the end of the import's transaction)."""
    return sa.Table("traffic_import", sa.MetaData(), sa.Column("timestamp", sa.String(40), nullable=False),
                    sa.Column("requests_per_second", sa.Float, nullable=False), sa.Column("avg_input_tokens", sa.Float),
                    sa.Column("avg_output_tokens", sa.Float), prefixes=["TEMPORARY"])


def _staged_rows(frame, dialect: str) -> list[tuple]:
    """One chunk as parameter tuples; timestamps as the text each database stores (SQLite: SQLAlchemy's naive
    UTC form, PostgreSQL: ISO 8601 with the offset), NaN tokens as NULL."""
    import numpy as np

    stamps = np.datetime_as_string(frame["timestamp"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]"), unit="us")
    stamps = np.char.replace(stamps, "T", " ") if dialect == "sqlite" else np.char.add(stamps, "+00:00")
    columns = [stamps.tolist(), frame["requests_per_second"].to_numpy(dtype=float).tolist()]
    for name in ("avg_input_tokens", "avg_output_tokens"):
        values = frame[name].to_numpy(dtype=float)
        columns.append(np.where(np.isnan(values), None, values).tolist())
    return list(zip(*columns))


def _stage(conn: sa.Connection, stage: sa.Table, rows: list[tuple]) -> None:
    """``executemany`` straight to the driver: SQLAlchemy's per-row parameter handling costs more than the insert."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {stage.name} VALUES ({', '.join([mark] * len(stage.columns))})", rows)


def _merge_staged(conn: sa.Connection, stage: sa.Table, service_id: int):
    """INSERT ... SELECT ... GROUP BY timestamp ... ON CONFLICT DO UPDATE: one point per timestamp, the mean
    rate, tokens weighted by requests (demand_history's rule), replacing points already stored."""
    def weighted(column):
        weight = sa.func.sum(sa.case((column.isnot(None), stage.c.requests_per_second)))
        return sa.func.coalesce(sa.func.sum(column * stage.c.requests_per_second) / sa.func.nullif(weight, 0),
                                sa.func.avg(column))

    timestamp = stage.c.timestamp if conn.dialect.name == "sqlite" else sa.cast(stage.c.timestamp,
                                                                                sa.DateTime(timezone=True))
    merged = sa.select(sa.literal(service_id), timestamp, sa.func.avg(stage.c.requests_per_second),
                       weighted(stage.c.avg_input_tokens), weighted(stage.c.avg_output_tokens)) \
        .where(sa.true()).group_by(stage.c.timestamp)
    insert = _dialect_insert(conn)(traffic_t).from_select(
        ["service_id", "timestamp", "requests_per_second", "avg_input_tokens", "avg_output_tokens"], merged)
    updates = {c: insert.excluded[c] for c in ("requests_per_second", "avg_input_tokens", "avg_output_tokens")}
    return insert.on_conflict_do_update(index_elements=["service_id", "timestamp"], set_=updates)


def _iso_text(value: Any) -> str | None:
    """A staged timestamp (text) as ISO 8601 UTC."""
    if value is None:
        return None
    return _utc(datetime.fromisoformat(str(value))).isoformat()


def _point_from_row(name: str, row) -> TrafficPoint | UnreadableRow:
    bad = _first_unparsed(row)
    key = f"{name} point {row['id']}"
    if bad is not None:
        return _unreadable("traffic_history", key, row, bad[0], bad[1], f"a readable value ({bad[1].reason})")
    try:
        return TrafficPoint(row["timestamp"], row["requests_per_second"], row["avg_input_tokens"],
                            row["avg_output_tokens"])
    except InputError as exc:
        return _unreadable("traffic_history", key, row, exc.field.removeprefix("traffic."), exc.value, exc.accepted)
