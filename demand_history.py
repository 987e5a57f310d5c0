"""Traffic history in, one regular demand series out.

``load_history(source)`` accepts what people have: the seed's list of ``(datetime, value)``
pairs, a pandas Series or DataFrame, a CSV file of per-period values (timestamp column detected
or named, value column named or the first numeric one), or a raw request log (one row per
request with input and output token counts) that is counted into requests per second at a
chosen frequency. It sorts rows, merges duplicate timestamps, infers the frequency, fills short
gaps, converts time zones to UTC and refuses what cannot be forecast with an
:class:`models.InputError` that names the problem. Every repair is written into ``warnings``.

It is the one traffic reader: ``forecast.py --history``, the engine and ``services.py traffic import``
(through :func:`read_observations`, which streams a file in chunks and keeps each row as observed)
share the CSV reading, the column detection, the timestamp and number checks and this rule for tokens:

**Token averages.** A token column holds per-request averages when the value column is a rate (``rps``) and
token *totals* per period when it counts requests (``requests``); a period's tokens per request are then
``tokens / (requests x token_coverage)`` (coverage 1 when absent: the share of requests whose tokens were
logged). A history's mean tokens per request weighs each period's average by its requests (times coverage),
so for counts it is ``sum(tokens) / sum(requests x coverage)``.

Files: at most :data:`MAX_TEXT_BYTES` of text, counted after decompression for ``.gz``; a first row of
numbers and dates is data, not a header; dates like ``13/01/2024`` (day first) are refused unless
``date_format`` says how to read them; timestamps must lie within the years pandas holds (1677-2262).

pandas is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Any

from models import InputError, plural

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
MAX_TEXT_BYTES = 200 * 2**20
"""Most text read from one history file, counted after decompression (a 1.5 MB .gz may inflate to 600 MB)."""
CHUNK_ROWS = 200_000
"""Rows parsed at a time when a file is streamed (:func:`read_observations`): memory stays bounded."""
SNIFF_BYTES = 64 * 1024
"""Bytes read ahead to find the header row."""

_TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "period", "hour", "day")
_RATE_WORDS = ("rps", "qps", "rate")
_COUNT_WORDS = ("requests", "request", "count", "calls", "hits", "queries")
_INPUT_TOKEN_NAMES = ("inputtokens", "avginputtokens", "meaninputtokens", "contexttokens", "prompttokens", "inputlength",
                      "requesttokens", "inputlen")
_OUTPUT_TOKEN_NAMES = ("outputtokens", "avgoutputtokens", "meanoutputtokens", "generatedtokens", "completiontokens",
                       "outputlength", "responsetokens", "outputlen")
_COVERAGE_NAME = "tokencoverage"
_SLASH_DATE = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b"
"""A date written day/month/year or month/day/year (``13/01/2024``, ``01.13.2024``)."""


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
                 frequency: str | None = None, date_format: str | None = None) -> DemandHistory:
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
        pandas offset alias to aggregate to (``h``, ``D``, ``15min``: a fixed step); request logs default to hourly.
    date_format : str, optional
        strftime format of text timestamps (``%d/%m/%Y %H:%M``); needed for day-first dates.

    Returns
    -------
    DemandHistory
    """
    import pandas as pd

    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        frame = _read_frame(name)
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
                              frequency=frequency, date_format=date_format)


class _Limited(io.RawIOBase):
    """A binary file read through a byte budget (counted after decompression): past it, an :class:`InputError`."""

    def __init__(self, handle, path: str, prefix: bytes = b""):
        self._handle, self._path, self._prefix, self._read = handle, path, prefix, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            data, self._prefix = self._prefix[:len(buffer)], self._prefix[len(buffer):]
        else:
            try:
                data = self._handle.read(len(buffer))
            except (OSError, EOFError) as exc:  # gzip.BadGzipFile, a truncated stream
                raise InputError("--history", self._path, f"a readable file ({exc})") from None
            self._read += len(data)
        if self._read > MAX_TEXT_BYTES:
            raise InputError("--history", self._path, f"at most {MAX_TEXT_BYTES // 2**20} MiB of text "
                             "(counted after decompression)")
        buffer[:len(data)] = data
        return len(data)


def _read_frame(path: str):
    """The whole CSV file as one DataFrame (see :func:`_csv_chunks`); the reader's notes in ``attrs['notes']``."""
    import pandas as pd

    notes: list[str] = []
    frame = pd.concat(list(_csv_chunks(path, notes)), ignore_index=True)
    if notes:
        frame.attrs["notes"] = notes
    return frame


def _open_text(path: str) -> tuple[Any, bytes]:
    """The file as a byte stream (``.gz`` decompressed) and its first :data:`SNIFF_BYTES` bytes."""
    import gzip

    try:
        handle = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise InputError("--history", path, f"a readable file ({exc.strerror})") from None
    try:
        head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        handle.close()
        raise InputError("--history", path, f"a gzip-compressed CSV ({exc})") from None
    return handle, head


def _csv_chunks(path: str, notes: list, chunk_rows: int | None = None):
    """The CSV file as DataFrames of at most ``chunk_rows`` rows (every cell text, as written), header
    detected; the size limit applies to the decompressed text."""
    import pandas as pd
    from config_loader import check_input_file

    check_input_file(path, "--history", None if path.endswith(".gz") else MAX_TEXT_BYTES)
    handle, head = _open_text(path)
    with handle:
        text = _decoded(head, path)
        if not text.strip():
            raise InputError("--history", path, "a non-empty CSV file")
        names = _headerless_names(text)
        if names:
            notes.append(f"no header row: columns read as {', '.join(names)}")
        try:
            reader = pd.read_csv(_Limited(handle, path, head), chunksize=chunk_rows or CHUNK_ROWS, dtype=str, skipinitialspace=True,
                                 header=None if names else "infer", names=names, encoding="utf-8-sig",
                                 keep_default_na=False, na_values=[""])
            count = 0
            for chunk in reader:
                if len(chunk):
                    count += len(chunk)
                    yield chunk
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError("--history", path, f"a CSV file ({str(exc).splitlines()[0]})") from None
        except UnicodeDecodeError:
            raise InputError("--history", path, "a UTF-8 text file (this one is binary or another encoding)") from None
        if count == 0:
            raise InputError("--history", path, "a CSV file with a header and at least one data row")


def _decoded(head: bytes, path: str) -> str:
    """The first bytes as text (a multi-byte character cut at the end is fine); binary is refused."""
    if b"\x00" in head:
        raise InputError("--history", path, "a UTF-8 text file (this one is binary or another encoding)")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise InputError("--history", path, "a UTF-8 text file (this one is binary or another encoding)") from None
        return head[:exc.start].decode("utf-8-sig")


def _headerless_names(text: str) -> list[str] | None:
    """Column names for a file whose first row is data (every cell a number or a date), else ``None``."""
    import csv

    lines = text.splitlines()
    if len(lines) < 2 and len(text.encode()) >= SNIFF_BYTES:
        return None
    first = next(csv.reader(lines[:1]), [])
    cells = [c.strip() for c in first]
    if not cells or not all(cells) or not all(_is_number(c) or _looks_like_date(c) for c in cells):
        return None
    return ["timestamp", "value", *(f"column_{i}" for i in range(3, len(cells) + 1))][:len(cells)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_date(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{1,2}-\d{1,2}", text) or re.match(_SLASH_DATE, text))


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

    frame = _read_frame(os.fspath(path))
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
    named = [c for c in candidates if _unit_of(c) != "unknown"]
    if named:  # a rate or count column by its name: its bad cells are reported, not skipped
        return named[0]
    for column in candidates:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or not values.notna().any():
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.to_numeric(values, errors="coerce").notna().mean() >= 0.5:
            return column
    raise InputError("history", "no numeric value column",
                     "a column of numbers besides the timestamp (or --value-column)")


def _numeric_values(frame, column: str, first_row: int = 1, *, required: bool = True):
    """The column as floats (empty cells NaN): finite, >= 0 and <= :data:`MAX_DEMAND`; ``first_row`` numbers
    the frame's first row in messages."""
    import numpy as np

    raw = frame[column]
    values = _to_float(raw)
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"history: {column}", str(raw.iloc[row]), f"numbers (row {first_row + row} is not a number)")
    numbers = values.to_numpy()
    known = ~np.isnan(numbers)
    if required and not known.any():
        raise InputError(f"history: {column}", "no numbers", "a number in at least one row")
    for wrong, accepted in ((~np.isfinite(numbers) & known, "finite numbers"), (numbers < 0, "demand values >= 0"),
                            (numbers > MAX_DEMAND, f"demand values <= {MAX_DEMAND:g}")):
        if wrong.any():
            row = int(wrong.nonzero()[0][0])
            raise InputError(f"history: {column}", float(numbers[row]), f"{accepted} (row {first_row + row})")
    return values


def read_observations(path: str | os.PathLike, *, timestamp_column: str | None = None, value_column: str | None = None,
                      date_format: str | None = None, notes: list | None = None, chunk_rows: int | None = None):
    """Traffic rows of a CSV file as observed (no grid, no gap filling), for a store, streamed in chunks.

    Yields DataFrames of at most ``chunk_rows`` (default :data:`CHUNK_ROWS`) rows with ``timestamp`` (UTC), ``requests_per_second``,
    ``avg_input_tokens`` and ``avg_output_tokens`` (NaN where unknown); rows with an empty value are skipped.
    Columns, timestamps, numbers and tokens are read as :func:`load_history` reads them (the module's token
    rule); counts per period become rates over the step of the first chunk's timestamps. Warnings are appended
    to ``notes``. A request log (one row per request) is refused: it is counted by :func:`load_history`.
    """
    import pandas as pd

    source, notes = os.fspath(path), [] if notes is None else notes
    layout, row = None, 1
    for chunk in _csv_chunks(source, notes, chunk_rows):
        if layout is None:
            layout = _observation_layout(chunk, source, timestamp_column, value_column, notes)
        time_column, column, unit = layout[:3]
        index = _timestamps(chunk[time_column], str(time_column), notes, date_format, row)
        index = index.tz_localize("UTC") if index.tz is None else index
        values = _numeric_values(chunk, column, row, required=False)
        if unit == "count" and len(layout) == 3:
            layout = (*layout, _step(index, None, str(time_column)).nanos / 1e9)
        per_request = _tokens_per_request(chunk, values, unit)
        rate = values / layout[3] if unit == "count" else values
        frame = pd.DataFrame({"timestamp": index, "requests_per_second": rate.to_numpy(),
                              "avg_input_tokens": per_request["input"].to_numpy(),
                              "avg_output_tokens": per_request["output"].to_numpy()})
        row += len(chunk)
        yield frame[frame["requests_per_second"].notna().to_numpy()]


def _observation_layout(chunk, source: str, timestamp_column: str | None, value_column: str | None,
                        notes: list) -> tuple:
    """``(timestamp column, value column, unit)`` of a file read by :func:`read_observations`."""
    time_column = _timestamp_column(chunk, timestamp_column)
    if _is_request_log(chunk, time_column, value_column):
        raise InputError("--csv", source, "values per period (a rate or a count of requests per period); a request "
                         "log, one row per request, is counted by `forecast.py --history`")
    column = _value_column(chunk, value_column, time_column)
    return time_column, column, _unit(column, value_column, notes)


# --------------------------------------------------------------------------- time


def _timestamps(values, column: str, notes: list, date_format: str | None = None, first_row: int = 1):
    """A DatetimeIndex (nanoseconds) from numbers (seconds) or text; tz-aware text is converted to UTC.
    ``first_row`` numbers the first value in error messages (a chunk of a longer file)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        index = pd.DatetimeIndex(values)
    elif date_format is None and (numbers := _all_numbers(values)) is not None:
        index = _numeric_timestamps(numbers, column, notes)
    else:
        index = _text_timestamps(values, column, date_format, first_row)
    if index.tz is not None:
        if str(index.tz) != "UTC":
            notes.append(f"timestamps with time zone {index.tz} converted to UTC")
        index = index.tz_convert("UTC")
    return _in_range(index, values, column, first_row)


def _all_numbers(values):
    """``values`` as floats when every present one is a number (integer timestamps), else ``None``."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return None
    numbers = _to_float(values)
    present = values.notna()
    return numbers if present.any() and numbers[present].notna().all() else None


def _to_float(values):
    """``values`` as float64, text that is not a number as NaN (a fast cast first: 10 million rows)."""
    import pandas as pd

    try:
        return values.astype("float64")
    except (ValueError, TypeError):
        return pd.to_numeric(values, errors="coerce").astype("float64")


def _in_range(index, values, column: str, first_row: int):
    """``index`` in nanoseconds, refusing timestamps pandas cannot hold there (years before 1678 or after 2261)."""
    import pandas as pd

    low, high = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
    naive = index.tz_localize(None) if index.tz is not None else index
    outside = (naive < low.as_unit(naive.unit)) | (naive > high.as_unit(naive.unit)) if len(naive) else naive == naive
    if outside.any():
        row = int(outside.nonzero()[0][0])
        raise InputError(f"history: {column}", str(values.iloc[row]), f"a timestamp from {low.date()} to {high.date()}, "
                         f"the range pandas holds (row {first_row + row})")
    return index.as_unit("ns")


def _numeric_timestamps(numbers, column: str, notes: list):
    import pandas as pd

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
    note = (f"integer timestamps in '{column}' read as seconds after {RELATIVE_EPOCH[:10]} 00:00 UTC "
            "(an arbitrary start: weekdays and dates in the output are relative)")
    if note not in notes:
        notes.append(note)
    return index


def _text_timestamps(values, column: str, date_format: str | None, first_row: int):
    import pandas as pd

    text = values.astype("string")
    if date_format is not None:
        parsed = _parse_times(text, date_format)
        accepted = f"a date and time written as --date-format {date_format!r}"
    else:
        parsed = _parse_times(text, _slash_order(text, column, first_row))
        accepted = "a date and time"
    bad = parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"history: {column}", str(values.iloc[row]), f"{accepted} (row {first_row + row})")
    return pd.DatetimeIndex(parsed)


def _parse_times(text, how: str | None):
    """Timestamps from text: ISO 8601 on the fast path, else ``how`` (a strftime format, ``monthfirst``, or
    ``None`` for any form pandas reads); mixed UTC offsets are converted to UTC."""
    import pandas as pd

    attempts = [{"format": how}] if how not in (None, "monthfirst") else \
        [{"format": "ISO8601"}, {"format": "mixed", "dayfirst": False}]
    for i, options in enumerate(attempts):
        last = i == len(attempts) - 1
        for utc in (False, True):
            try:
                return pd.to_datetime(text, errors="coerce" if last else "raise", utc=utc, **options)
            except (ValueError, TypeError):  # not ISO 8601, or mixed UTC offsets
                continue
    return pd.Series(pd.NaT, index=text.index)


def _slash_order(text, column: str, first_row: int) -> str | None:
    """``monthfirst`` for dates like 01/13/2024, ``None`` for other forms; day-first (13/01/2024) and ambiguous
    (only 01/02/2024-like) dates are refused with the reason: pandas would read some day first and some month
    first, and a history read that way shows hundreds of missing periods."""
    first = text.dropna().head(1)
    if first.empty or not bool(first.str.match(_SLASH_DATE).fillna(False).iloc[0]):
        return None
    parts = text.str.extract(_SLASH_DATE).astype("float")
    day_first = parts[0] > 12
    month_first = parts[1] > 12
    hint = "--date-format (e.g. '%d/%m/%Y %H:%M' for day first, '%m/%d/%Y %H:%M' for month first)"
    if day_first.any():
        row = int(day_first.to_numpy().nonzero()[0][0])
        raise InputError(f"history: {column}", str(text.iloc[row]), f"dates pandas reads one way: this one is day "
                         f"first (row {first_row + row}), which is read only with {hint}")
    if month_first.any():
        return "monthfirst"
    ambiguous = (parts[0] != parts[1]).to_numpy().nonzero()[0]
    if len(ambiguous):
        row = int(ambiguous[0])
        raise InputError(f"history: {column}", str(text.iloc[row]), f"dates whose order is clear: day and month "
                         f"could be either way round (row {first_row + row}); give {hint}")
    return "monthfirst"


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
        try:
            offset.nanos
        except ValueError:  # MonthEnd, Week(weekday=6), BusinessDay: periods of different lengths
            raise InputError("--frequency", frequency, "a fixed step such as min, 15min, h, D or 7D (calendar "
                             "frequencies like ME, W and B have periods of different lengths)") from None
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
                       value_column: str | None = None, frequency: str | None = None,
                       date_format: str | None = None) -> DemandHistory:
    """Build a :class:`DemandHistory` from a DataFrame (see :func:`load_history`)."""
    if frame.empty:
        raise InputError("history", source, "at least one row of data")
    notes: list[str] = list(frame.attrs.get("notes", ()))
    time_column = _timestamp_column(frame, timestamp_column)
    index = _timestamps(frame[time_column], str(time_column), notes, date_format)
    if _is_request_log(frame, time_column, value_column):
        return _from_request_log(frame, index, source, frequency, notes)
    column = _value_column(frame, value_column, time_column)
    values = _numeric_values(frame, column)
    unit = _unit(column, value_column, notes)
    if values.notna().sum() < MIN_POINTS:
        count = int(values.notna().sum())
        raise InputError("history", plural(count, "point"), f"at least {MIN_POINTS} time-stamped values")
    series = _regular(values.set_axis(index), frequency, (str(time_column), str(column)), unit == "count", notes)
    step_s = series.index.freq.nanos / 1e9
    rps_per_unit = 1.0 / step_s if unit == "count" else 1.0
    per_request = _tokens_per_request(frame, values, unit)
    weights = per_request.pop("weight")
    input_tokens, output_tokens = (_weighted_mean(per_request[k], weights) for k in ("input", "output"))
    return _checked(DemandHistory(
        series=series, value_name=str(column), unit="requests per period" if unit == "count" else "rps",
        rps_per_unit=rps_per_unit, avg_input_tokens=input_tokens, avg_output_tokens=output_tokens,
        source=source, warnings=tuple(notes)))


def _unit(column: str, value_column: str | None, notes: list) -> str:
    """``rps``, ``count`` or ``unknown`` (read as a rate, with a warning) from the value column's name."""
    unit = _unit_of(column) if value_column is None or _unit_of(column) != "unknown" else "unknown"
    note = (f"values in '{column}' taken as requests per second (name the column *_rps for rates or "
            "'requests' for counts per period)")
    if unit == "unknown" and note not in notes:
        notes.append(note)
    return unit


def _tokens_per_request(frame, requests, unit: str) -> dict:
    """Each row's mean input and output tokens per request, and its weight (requests x token coverage):
    the one token rule of the module docstring. Rows without tokens or requests hold NaN."""
    import numpy as np
    import pandas as pd

    coverage_column = _find(frame, (_COVERAGE_NAME,))
    coverage = _to_float(frame[coverage_column]) if coverage_column else 1.0
    weight = requests * coverage
    weight = weight.where(weight > 0)
    result = {"weight": weight}
    for key, names in (("input", _INPUT_TOKEN_NAMES), ("output", _OUTPUT_TOKEN_NAMES)):
        column = _find(frame, names)
        tokens = _to_float(frame[column]) if column is not None else \
            pd.Series(float("nan"), index=frame.index)
        tokens = tokens.where(np.isfinite(tokens.to_numpy(dtype=float)) & (tokens >= 0))
        result[key] = (tokens / weight) if unit == "count" else tokens.where(weight.notna())
    return result


def _weighted_mean(values, weights) -> float | None:
    """``sum(values x weights) / sum(weights)`` over the rows where both are known; ``None`` without any."""
    known = values.notna() & weights.notna()
    total = float(weights[known].sum())
    return float((values[known] * weights[known]).sum()) / total if total > 0 else None


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
        raise InputError("history", plural(len(series), "point"), f"at least {MIN_POINTS} time-stamped values")
    if not (series > 0).any():
        raise InputError("history", f"all {len(series)} values are zero", "some non-zero demand to forecast")
    return history
