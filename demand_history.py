"""Traffic history in, one regular demand series out.

``load_history(source)`` accepts what people have: the seed's list of ``(datetime, value)``
pairs, a pandas Series or DataFrame, a CSV file of per-period values (timestamp column detected
or named, value column named or the first numeric one), or a raw request log (one row per
request with input and output token counts) that is counted into requests per second at a
chosen frequency. It sorts rows, merges duplicate timestamps, infers the frequency, fills short
gaps, converts time zones to UTC and refuses what cannot be forecast with an
:class:`models.InputError` that names the problem. Every repair is written into ``warnings``.

pandas is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from models import InputError

RELATIVE_EPOCH = "2024-01-01T00:00:00Z"
"""Integer timestamps below ``UNIX_SECONDS_FLOOR`` are seconds after this (arbitrary) instant."""
UNIX_SECONDS_FLOOR = 1e8
"""Integers at least this large (1973-03-03) are Unix seconds; at least 1e11 are Unix milliseconds."""
UNIX_MS_FLOOR = 1e11
MIN_POINTS = 3
"""Fewest values a forecast is made from."""
MAX_DEMAND = 1e12
"""Largest demand value accepted (per second or per period): past it a value is a slip, and the bands overflow."""
MAX_PERIODS = 1_000_000
"""Most periods a history's regular grid may hold (two years of minutes): more is a slip in the timestamps."""
SECONDS_PER_DAY = 86_400
MAX_GAP_S = SECONDS_PER_DAY
"""Longest run of missing periods filled by interpolation (one day; at least two periods)."""
DEFAULT_LOG_FREQUENCY = "h"
MIN_LOG_PERIODS = 48
"""A request log spanning fewer hourly periods than this is counted per minute instead."""

_TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "period", "hour", "day")
_RATE_WORDS = ("rps", "qps", "rate")
_COUNT_WORDS = ("requests", "request", "count", "calls", "hits", "queries")
_INPUT_TOKEN_NAMES = ("inputtokens", "avginputtokens", "meaninputtokens", "contexttokens", "prompttokens", "inputlength",
                      "requesttokens", "inputlen")
_OUTPUT_TOKEN_NAMES = ("outputtokens", "avgoutputtokens", "meanoutputtokens", "generatedtokens", "completiontokens",
                       "outputlength", "responsetokens", "outputlen")
_COVERAGE_NAME = "tokencoverage"


@dataclass(frozen=True)
class DemandHistory:
    """A regular, gap-free demand series and what it means."""

    series: Any
    """pandas Series of float demand on a regular DatetimeIndex (``freq`` set), oldest first."""
    value_name: str
    """Where the values came from (a column name, or ``requests_per_second``)."""
    unit: str
    """``rps`` (requests per second) or ``requests per period``."""
    rps_per_unit: float
    """Multiply a value by this to get requests per second (1 for rates, 1/period seconds for counts)."""
    avg_input_tokens: float | None
    """Mean prompt tokens per request, when the history has token columns."""
    avg_output_tokens: float | None
    source: str
    warnings: tuple = ()

    @property
    def step_s(self) -> float:
        """Seconds between two values."""
        return self.series.index.freq.nanos / 1e9

    @property
    def frequency(self) -> str:
        """The pandas alias of the step (``h``, ``D``, ``10min``)."""
        return self.series.index.freq.freqstr

    def to_records(self, last: int | None = None) -> list[dict]:
        """``[{timestamp, value}]`` of the last ``last`` values (all when ``None``)."""
        tail = self.series if last is None else self.series.iloc[-last:]
        return [{"timestamp": t.isoformat(), "value": float(v)} for t, v in tail.items()]


def load_history(source: Any, *, timestamp_column: str | None = None, value_column: str | None = None,
                 frequency: str | None = None) -> DemandHistory:
    """Read traffic history from pairs, a Series, a DataFrame or a CSV path.

    Parameters
    ----------
    source : list of (datetime, float), pandas.Series, pandas.DataFrame, str or os.PathLike
        Pairs are requests per second (the seed's ``rps_history``); a Series holds values on a
        DatetimeIndex; a DataFrame or CSV has a timestamp column and value columns, or is a request log.
    timestamp_column, value_column : str, optional
        Column names; by default the timestamp column is detected by name or content and the value
        column is the first numeric one.
    frequency : str, optional
        pandas offset alias to aggregate to (``h``, ``D``, ``15min``); request logs default to hourly.

    Returns
    -------
    DemandHistory
    """
    import pandas as pd

    if isinstance(source, (str, os.PathLike)):
        frame, name = _read_csv(os.fspath(source)), os.fspath(source)
    elif isinstance(source, pd.Series):
        frame, name = _series_frame(source), "series"
    elif isinstance(source, pd.DataFrame):
        frame, name = source.copy(), "data frame"
    elif isinstance(source, (list, tuple)):
        frame, name = _pairs_frame(source), "rps_history"
        value_column = value_column or "requests_per_second"
        timestamp_column = timestamp_column or "timestamp"
    else:
        raise InputError("history", type(source).__name__,
                         "a list of (datetime, value) pairs, a pandas Series or DataFrame, or a CSV file path")
    return history_from_frame(frame, source=name, timestamp_column=timestamp_column, value_column=value_column,
                              frequency=frequency)


def _read_csv(path: str):
    import pandas as pd
    from config_loader import read_text_file

    text = _read_gzip(path) if path.endswith(".gz") else read_text_file(path, "--history")
    if not text.strip():
        raise InputError("--history", path, "a non-empty CSV file")
    try:
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError("--history", path, f"a CSV file ({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise InputError("--history", path, "a CSV file with a header and at least one data row")
    return frame


def _read_gzip(path: str) -> str:
    import gzip

    from config_loader import read_text_file

    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return read_text_file(path, "--history")  # raises the usual "no such file"
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError("--history", path, f"a gzip-compressed UTF-8 CSV ({exc})") from None


def _series_frame(series):
    import pandas as pd

    if not isinstance(series.index, pd.DatetimeIndex):
        raise InputError("history", f"Series indexed by {type(series.index).__name__}", "a Series on a DatetimeIndex")
    name = series.name if isinstance(series.name, str) and series.name else "value"
    return pd.DataFrame({"timestamp": series.index, name: series.to_numpy()})


def _pairs_frame(pairs) -> Any:
    import pandas as pd

    rows = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise InputError(f"rps_history[{i}]", pair, "a (datetime, requests per second) pair")
        rows.append(pair)
    if not rows:
        raise InputError("rps_history", [], f"at least {MIN_POINTS} (datetime, requests per second) pairs")
    return pd.DataFrame(rows, columns=["timestamp", "requests_per_second"])


@dataclass(frozen=True)
class HistoryColumns:
    """A history file's columns and the ones :func:`load_history` would take (what the wizard offers)."""

    columns: tuple[str, ...]
    timestamp_column: str | None
    """The detected timestamp column, ``None`` when none is found."""
    value_column: str | None
    """The detected value column; ``None`` for a request log (rows are counted) or when none is numeric."""
    request_log: bool
    numeric_columns: tuple[str, ...]
    """Columns that can be the demand value (mostly numbers; token columns excluded)."""


def history_columns(path: str | os.PathLike) -> HistoryColumns:
    """Read a history CSV's header and detect its timestamp and value columns (errors: unreadable file)."""
    import pandas as pd

    frame = _read_csv(os.fspath(path))
    try:
        time_column = _timestamp_column(frame, None)
    except InputError:
        time_column = None
    token_like = set(_INPUT_TOKEN_NAMES + _OUTPUT_TOKEN_NAMES + (_COVERAGE_NAME,))
    numeric = tuple(str(c) for c in frame.columns if c != time_column and _key(c) not in token_like
                    and pd.to_numeric(frame[c], errors="coerce").notna().mean() >= 0.5)
    log = time_column is not None and _is_request_log(frame, time_column, None)
    value = None
    if time_column is not None and not log:
        try:
            value = str(_value_column(frame, None, time_column))
        except InputError:
            value = None
    return HistoryColumns(tuple(map(str, frame.columns)), None if time_column is None else str(time_column), value,
                          log, numeric)


# --------------------------------------------------------------------------- columns


def _key(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _find(frame, names: tuple) -> str | None:
    return next((c for c in frame.columns if _key(c) in names), None)


def _timestamp_column(frame, given: str | None) -> str:
    if given is not None:
        if given not in frame.columns:
            raise InputError("--timestamp-column", given, "a column of the history: " + ", ".join(map(str, frame.columns)))
        return given
    by_name = _find(frame, _TIME_NAMES)
    if by_name is not None:
        return by_name
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype).startswith(("str", "datetime")):
            if _parses_as_time(frame[column]):
                return column
    raise InputError("history", "no timestamp column", "a column named timestamp/time/date or --timestamp-column")


def _parses_as_time(values) -> bool:
    import pandas as pd

    sample = values.dropna().astype(str).head(20)
    try:
        parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    except (ValueError, TypeError):
        return False
    return len(sample) > 0 and parsed.notna().all()


def _is_request_log(frame, time_column: str, value_column: str | None) -> bool:
    """One row per request: token columns and no per-period value column."""
    if value_column is not None:
        return False
    others = [c for c in frame.columns if c != time_column]
    has_tokens = _find(frame, _INPUT_TOKEN_NAMES) is not None and _find(frame, _OUTPUT_TOKEN_NAMES) is not None
    has_value = any(_unit_of(c) != "unknown" for c in others)
    return has_tokens and not has_value


def _words(name: Any) -> list[str]:
    """``requestsPerSecond`` / ``requests_per_second`` -> ``['requests', 'per', 'second']``."""
    return re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower())


def _unit_of(column: Any) -> str:
    words = _words(column)
    joined = "_".join(words)
    if _key(column) in _INPUT_TOKEN_NAMES + _OUTPUT_TOKEN_NAMES + (_COVERAGE_NAME,):
        return "unknown"
    if set(words) & set(_RATE_WORDS) or "per_second" in joined or joined.endswith("per_s"):
        return "rps"
    if set(words) & set(_COUNT_WORDS):
        return "count"
    return "unknown"


def _value_column(frame, given: str | None, time_column: str) -> str:
    if given is not None:
        if given not in frame.columns:
            raise InputError("--value-column", given, "a column of the history: " + ", ".join(map(str, frame.columns)))
        return given
    import pandas as pd

    token_like = set(_INPUT_TOKEN_NAMES + _OUTPUT_TOKEN_NAMES + (_COVERAGE_NAME,))
    candidates = [c for c in frame.columns if c != time_column and _key(c) not in token_like]
    for column in candidates:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or not values.notna().any():
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.to_numeric(values, errors="coerce").notna().mean() >= 0.5:
            return column
    raise InputError("history", "no numeric value column",
                     "a column of numbers besides the timestamp (or --value-column)")


def _numeric_values(frame, column: str):
    import pandas as pd

    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"history: {column}", str(raw.iloc[row]), f"numbers (row {row + 1} is not a number)")
    finite = values.dropna()
    if finite.empty:
        raise InputError(f"history: {column}", "no numbers", "a number in at least one row")
    if len(finite) and not finite.map(math.isfinite).all():
        raise InputError(f"history: {column}", "inf", "finite numbers")
    if (finite < 0).any():
        raise InputError(f"history: {column}", float(finite[finite < 0].iloc[0]), "demand values >= 0")
    if (finite > MAX_DEMAND).any():
        raise InputError(f"history: {column}", float(finite[finite > MAX_DEMAND].iloc[0]),
                         f"demand values <= {MAX_DEMAND:g}")
    return values.astype(float)


# --------------------------------------------------------------------------- time


def _timestamps(values, column: str, notes: list):
    """A DatetimeIndex from numbers (seconds) or text; tz-aware text is converted to UTC."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        index = pd.DatetimeIndex(values)
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        index = _numeric_timestamps(values, column, notes)
    else:
        index = _text_timestamps(values, column)
    if index.tz is not None:
        if str(index.tz) != "UTC":
            notes.append(f"timestamps with time zone {index.tz} converted to UTC")
        index = index.tz_convert("UTC")
    return index


def _numeric_timestamps(values, column: str, notes: list):
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        raise InputError(f"history: {column}", "empty timestamp", "a timestamp on every row")
    top = float(numbers.max())
    try:
        if top >= UNIX_MS_FLOOR:
            return pd.DatetimeIndex(pd.to_datetime(numbers, unit="ms", utc=True))
        if float(numbers.min()) >= UNIX_SECONDS_FLOOR:
            return pd.DatetimeIndex(pd.to_datetime(numbers, unit="s", utc=True))
        index = pd.DatetimeIndex(pd.Timestamp(RELATIVE_EPOCH) + pd.to_timedelta(numbers, unit="s")).as_unit("ns")
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime: inf, or past the years 1677-2262
        extreme = float(numbers[numbers.abs().idxmax()])
        raise InputError(f"history: {column}", extreme, f"Unix seconds or milliseconds, or seconds after "
                         f"{RELATIVE_EPOCH[:10]}, that fall within the years 1677-2262") from None
    notes.append(f"integer timestamps in '{column}' read as seconds after {RELATIVE_EPOCH[:10]} 00:00 UTC "
                 "(an arbitrary start: weekdays and dates in the output are relative)")
    return index


def _text_timestamps(values, column: str):
    import pandas as pd

    text = values.astype("string")
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):  # mixed UTC offsets
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    bad = parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"history: {column}", str(values.iloc[row]), f"a date and time (row {row + 1})")
    return pd.DatetimeIndex(parsed)


def _step(index, frequency: str | None, column: str):
    """The series step: ``frequency`` when given, else the most common spacing of the timestamps."""
    import pandas as pd

    if frequency is not None:
        try:
            offset = pd.tseries.frequencies.to_offset(frequency)
        except ValueError:
            offset = None
        if offset is None or offset.n <= 0:  # "0h" parses: a zero step divides by zero when resampling
            raise InputError("--frequency", frequency, "a pandas frequency alias such as h, D, 15min")
        return offset
    diffs = index.to_series().diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        raise InputError(f"history: {column}", "one distinct timestamp", f"at least {MIN_POINTS} distinct timestamps")
    step = diffs.mode().iloc[0]
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return pd.tseries.frequencies.to_offset(f"{step.days}D")
    return pd.tseries.frequencies.to_offset(step)


# --------------------------------------------------------------------------- assembly


def history_from_frame(frame, *, source: str = "data frame", timestamp_column: str | None = None,
                       value_column: str | None = None, frequency: str | None = None) -> DemandHistory:
    """Build a :class:`DemandHistory` from a DataFrame (see :func:`load_history`)."""
    if frame.empty:
        raise InputError("history", source, "at least one row of data")
    notes: list[str] = []
    time_column = _timestamp_column(frame, timestamp_column)
    index = _timestamps(frame[time_column], str(time_column), notes)
    if _is_request_log(frame, time_column, value_column):
        return _from_request_log(frame, index, source, frequency, notes)
    column = _value_column(frame, value_column, time_column)
    values = _numeric_values(frame, column)
    unit = _unit_of(column) if value_column is None or _unit_of(column) != "unknown" else "unknown"
    if unit == "unknown":
        notes.append(f"values in '{column}' taken as requests per second (name the column *_rps for rates or "
                     "'requests' for counts per period)")
    if values.notna().sum() < MIN_POINTS:
        count = int(values.notna().sum())
        raise InputError("history", f"{count} point{'s' if count != 1 else ''}", f"at least {MIN_POINTS} time-stamped values")
    series = _regular(values.set_axis(index), frequency, (str(time_column), str(column)), unit == "count", notes)
    step_s = series.index.freq.nanos / 1e9
    rps_per_unit = 1.0 / step_s if unit == "count" else 1.0
    input_tokens, output_tokens = _token_means(frame, values, unit)
    return _checked(DemandHistory(
        series=series, value_name=str(column), unit="requests per period" if unit == "count" else "rps",
        rps_per_unit=rps_per_unit, avg_input_tokens=input_tokens, avg_output_tokens=output_tokens,
        source=source, warnings=tuple(notes)))


def _token_means(frame, requests, unit: str) -> tuple[float | None, float | None]:
    """Mean tokens per request from per-period token totals (counts) or per-period averages (rates)."""
    import pandas as pd

    means = []
    coverage_column = _find(frame, (_COVERAGE_NAME,))
    weights = requests * (pd.to_numeric(frame[coverage_column], errors="coerce") if coverage_column else 1.0)
    for names in (_INPUT_TOKEN_NAMES, _OUTPUT_TOKEN_NAMES):
        column = _find(frame, names)
        tokens = pd.to_numeric(frame[column], errors="coerce") if column is not None else None
        usable = tokens is not None and tokens.notna().any()
        if not usable:
            means.append(None)
            continue
        known = tokens.notna() & weights.notna() & (weights > 0)
        if unit == "count":
            total = float(weights[known].sum())
            means.append(float(tokens[known].sum()) / total if total > 0 else None)
        else:
            means.append(float((tokens[known] * requests[known]).sum() / requests[known].sum())
                         if requests[known].sum() > 0 else None)
    return means[0], means[1]


def _from_request_log(frame, index, source: str, frequency: str | None, notes: list) -> DemandHistory:
    import pandas as pd

    freq = frequency or DEFAULT_LOG_FREQUENCY
    offset = _step(index, freq, "timestamp")
    span = index.max() - index.min()
    if frequency is None and span < offset * MIN_LOG_PERIODS:
        offset = pd.tseries.frequencies.to_offset("min")
        notes.append(f"request log spans {span}: counted per minute (give --frequency to choose)")
    _check_grid(index.sort_values(), offset, "timestamp")
    counts = pd.Series(1.0, index=index).sort_index().resample(offset).sum()
    if len(counts) > MIN_POINTS + 2:
        counts = counts.iloc[1:-1]
        notes.append("the first and last periods of the request log, only partly covered, were left out")
    step_s = offset.nanos / 1e9
    notes.append(f"request log of {len(frame)} requests counted into requests per second per {offset.freqstr}")
    series = (counts / step_s).asfreq(offset)
    input_column, output_column = _find(frame, _INPUT_TOKEN_NAMES), _find(frame, _OUTPUT_TOKEN_NAMES)
    means = [float(pd.to_numeric(frame[c], errors="coerce").mean()) for c in (input_column, output_column)]
    return _checked(DemandHistory(
        series=series, value_name="requests_per_second", unit="rps", rps_per_unit=1.0,
        avg_input_tokens=means[0], avg_output_tokens=means[1], source=source, warnings=tuple(notes)))


def _regular(values, frequency: str | None, columns: tuple[str, str], is_count: bool, notes: list):
    """Sort, merge duplicates, put on a regular grid and fill short gaps (``columns``: time, value)."""
    if not values.index.is_monotonic_increasing:
        notes.append("rows were not in time order: sorted by timestamp")
        values = values.sort_index(kind="stable")
    values = values.dropna() if values.notna().any() else values
    duplicated = int(values.index.duplicated().sum())
    if duplicated:
        notes.append(f"{duplicated} rows repeat a timestamp: their values were averaged")
        values = values.groupby(level=0).mean()
    offset = _step(values.index, frequency, columns[0])
    _check_grid(values.index, offset, columns[0])
    if frequency is not None:
        grid = values.resample(offset).sum(min_count=1) if is_count else values.resample(offset).mean()
    else:
        grid = _snap(values, offset, notes)
    return _fill_gaps(grid.asfreq(offset), columns[1], notes)


def _check_grid(index, offset, column: str) -> None:
    """Refuse a grid of more than :data:`MAX_PERIODS` periods before building it (a 1 s step over years)."""
    try:
        step_ns = offset.nanos
    except ValueError:  # a calendar offset (months, years): never that many periods
        return
    periods = (index[-1] - index[0]).value / step_ns + 1
    if periods > MAX_PERIODS:
        raise InputError(f"history: {column}", f"{periods:.0f} periods of {offset.freqstr} from {index[0]} to "
                         f"{index[-1]}", f"at most {MAX_PERIODS} (check the timestamps, or a coarser --frequency)")


def _snap(values, offset, notes: list):
    """Put values on the grid that starts at the first timestamp (off-grid times move to the nearest slot)."""
    import pandas as pd

    start = values.index[0]
    slots = ((values.index - start) / pd.Timedelta(offset.nanos, "ns")).to_numpy()
    rounded = slots.round()
    moved = int((abs(slots - rounded) > 1e-6).sum())
    if moved:
        notes.append(f"{moved} timestamps off the {offset.freqstr} grid moved to the nearest period")
    snapped = values.set_axis(start + pd.to_timedelta(rounded * offset.nanos, unit="ns"))
    if snapped.index.duplicated().any():
        snapped = snapped.groupby(level=0).mean()
    return snapped


def _fill_gaps(series, column: str, notes: list):
    """Interpolate runs of missing periods up to :data:`MAX_GAP_S`; longer runs are an error."""
    missing = series.isna().to_numpy()
    if not missing.any():
        return series
    step_s = series.index.freq.nanos / 1e9
    longest_allowed = max(2, int(MAX_GAP_S // step_s))
    run_start, run, worst = None, 0, (0, None)
    for i, gap in enumerate(missing):
        run = run + 1 if gap else 0
        run_start = i if run == 1 else run_start
        if run > worst[0]:
            worst = (run, run_start)
    if worst[0] > longest_allowed:
        first = series.index[worst[1]]
        raise InputError(f"history: {column}", f"{worst[0]} missing periods in a row from {first}",
                         f"gaps of at most {longest_allowed} periods (fill or trim the history)")
    notes.append(f"{int(missing.sum())} missing periods filled by linear interpolation (longest gap {worst[0]})")
    return series.interpolate(method="time", limit_direction="both")


def _checked(history: DemandHistory) -> DemandHistory:
    series = history.series
    if len(series) < MIN_POINTS:
        raise InputError("history", f"{len(series)} point{'s' if len(series) != 1 else ''}",
                         f"at least {MIN_POINTS} time-stamped values")
    if not (series > 0).any():
        raise InputError("history", f"all {len(series)} values are zero", "some non-zero demand to forecast")
    return history
