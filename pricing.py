"""Dated cloud GPU prices: the catalog, which row a cost uses, user overrides, and the cost maths.

The catalog is ``data/cloud_prices.csv``: one row per provider, instance type and pricing model, with
per-instance and per-GPU-hour prices, its source and its as-of date. A user's ``--price-file`` (CSV or
JSON in the same columns) is validated row by row and its rows win over the built-in ones;
``--price-per-gpu-hour`` wins over both.

Selection (:func:`quote`), in order:

1. keep the rows for the GPU, the pricing model, the cloud (``None``: every provider) and the region
   (``None``: any; a row marked "not region-specific" or with a blank region matches every region);
   if any ``--price-file`` row is left, only those count;
2. per provider, keep the instances that hold a whole replica (``gpus_per_instance >= gpus_per_replica``;
   where the provider lists none that large, its largest instances);
3. per provider, take the newest ``as_of_date``; among rows of that date, the cheapest per GPU-hour
   (ties: the smaller instance, which wastes less when rounding to whole instances);
4. with no cloud given, the cheapest provider.

The quote's ``selection`` says which file row was used and what it was chosen over.

Rows of the built-in file whose GPU is not in the GPU catalog (``V100-16GB``, ``A10``, ``B300``,
``GB200``, the GCP ``H100-SXM5-80GB (Mega)`` VM and a 1/3-GPU partition) or that carry no date
(``unknown ...``) are skipped, not errors: :func:`skipped_rows` lists them with the reason. A user's
file is held to stricter rules: every row must name a known GPU, a plain date (``YYYY-MM-DD``; ``YYYY-MM``
or ``YYYY`` read as the first day) not after today, positive prices, and an instance price that is the
per-GPU price times the GPUs (within 1%) or blank.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import difflib
import functools
import io
import math
import re
from pathlib import Path

import config
from models import (
    MAX_USD_PER_GPU_HOUR, PRICING_MODELS, CostOptions, InferenceCost, InputError, PriceQuote, check_number,
)

BUILTIN_FILE = config.DATA_DIR / "cloud_prices.csv"
REQUIRED_COLUMNS = ("provider", "instance_type", "gpu", "gpus_per_instance", "region", "price_model",
                    "usd_per_instance_hour", "usd_per_gpu_hour", "source", "as_of_date")
OPTIONAL_COLUMNS = ("price_era", "derived", "notes")
SECONDS_PER_HOUR = 3600
TOKENS_PER_MILLION = 1e6
PRICE_TOLERANCE = 0.01
"""Largest relative gap between ``usd_per_gpu_hour`` and instance price / GPUs (the file rounds to 4 digits)."""
ANY_REGION_MARK = "not region-specific"
"""Text the catalog puts in ``region`` for prices that hold everywhere (``global (not region-specific)``)."""

_DATE_TOKEN = re.compile(r"\b(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?\b")
_STRICT_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


# --------------------------------------------------------------------------- errors


class NoPriceError(InputError):
    """No price row matches the GPU, cloud, pricing model and region asked for."""


class PriceFileError(InputError):
    """A price-file cell the planner cannot use: names the file, the row and the column."""

    def __init__(self, where: str, column: str, value, accepted: str):
        super().__init__(f"{where}, column {column}", value, accepted)


# --------------------------------------------------------------------------- rows


@dataclasses.dataclass(frozen=True)
class _PriceRow:
    """One validated catalog row (internal: quotes are the public face)."""

    provider: str
    instance_type: str
    gpu_id: str
    gpus_per_instance: int
    region: str
    pricing: str
    usd_per_instance_hour: float
    usd_per_gpu_hour: float
    source: str
    as_of: dt.date
    as_of_text: str
    price_era: str
    where: str
    """File and row, e.g. ``data/cloud_prices.csv row 39 (line 40)``."""


def _pricing_name(text: str) -> str:
    """``on_demand`` (file) or ``on-demand`` (flag) -> ``on-demand``."""
    return text.strip().lower().replace("_", "-")


def _region_matches(row_region: str, wanted: str | None) -> bool:
    if wanted is None or not row_region or ANY_REGION_MARK in row_region:
        return True
    return row_region.lower() == wanted.strip().lower()


def read_as_of(text: str, *, strict: bool = False) -> dt.date | None:
    """The date a price holds from, or ``None`` when the text gives none.

    ``YYYY-MM-DD``; ``YYYY-MM`` and ``YYYY`` read as the period's first day, so an age is never
    understated. Lenient (built-in) mode also reads annotated texts such as ``2025 (year only)`` and
    ``2026-05-11 (GPU) / 2026-07-30 (host)`` (the oldest date given); any ``unknown`` part gives ``None``.
    """
    text = (text or "").strip()
    if (strict and not _STRICT_DATE.fullmatch(text)) or "unknown" in text.lower():
        return None
    try:
        dates = [dt.date(int(y), int(m or 1), int(d or 1)) for y, m, d in _DATE_TOKEN.findall(text)]
    except ValueError:  # a month 13 or a day 32
        return None
    return min(dates) if dates else None


def _text(raw: dict, column: str) -> str:
    value = raw.get(column)
    return "" if value is None else str(value).strip()


def _positive(raw: dict, column: str, where: str, *, integer: bool = False, maximum: float = math.inf) -> float:
    text = _text(raw, column)
    accepted = "a whole number >= 1" if integer else "a price in USD > 0"
    try:
        value = float(text)
    except ValueError:
        raise PriceFileError(where, column, raw.get(column), accepted) from None
    if not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
        raise PriceFileError(where, column, raw.get(column), accepted)
    if value > maximum:
        raise PriceFileError(where, column, raw.get(column), f"{accepted} and <= {maximum:g} (a plausibility limit)")
    return int(value) if integer else value


def _required_text(raw: dict, column: str, where: str) -> str:
    text = _text(raw, column)
    if not text:
        raise PriceFileError(where, column, raw.get(column), "a non-empty value")
    return text


def _pricing(raw: dict, where: str) -> str:
    name = _pricing_name(_text(raw, "price_model"))
    if name not in PRICING_MODELS:
        raise PriceFileError(where, "price_model", raw.get("price_model"),
                             "one of " + ", ".join(m.replace("-", "_") for m in PRICING_MODELS))
    return name


def _as_of(raw: dict, where: str, strict: bool) -> dt.date:
    as_of = read_as_of(_text(raw, "as_of_date"), strict=strict)
    if as_of is None or (strict and as_of > dt.date.today()):
        raise PriceFileError(where, "as_of_date", raw.get("as_of_date"), "a date YYYY-MM-DD, not after today")
    return as_of


def _parse_row(raw: dict, where: str, strict: bool) -> _PriceRow:
    """Validate one file row; raises :class:`PriceFileError` naming the cell at fault."""
    gpu_id = config.get_gpu(_text(raw, "gpu"), field_name=f"{where}, column gpu").id
    gpus = _positive(raw, "gpus_per_instance", where, integer=True)
    per_gpu = _positive(raw, "usd_per_gpu_hour", where, maximum=MAX_USD_PER_GPU_HOUR)
    per_instance = per_gpu * gpus
    if _text(raw, "usd_per_instance_hour"):
        per_instance = _positive(raw, "usd_per_instance_hour", where)
    if abs(per_instance / gpus - per_gpu) > PRICE_TOLERANCE * per_gpu:
        raise PriceFileError(where, "usd_per_gpu_hour", raw.get("usd_per_gpu_hour"), f"usd_per_instance_hour / "
                             f"gpus_per_instance = {per_instance / gpus:.4g} (what is billed per GPU, within "
                             f"{PRICE_TOLERANCE:.0%}), or a blank usd_per_instance_hour")
    return _PriceRow(
        provider=_required_text(raw, "provider", where).lower(),
        instance_type=_text(raw, "instance_type") or "(unnamed instance)",
        gpu_id=gpu_id,
        gpus_per_instance=gpus,
        region=_text(raw, "region"),
        pricing=_pricing(raw, where),
        usd_per_instance_hour=per_instance,
        usd_per_gpu_hour=per_gpu,
        source=_required_text(raw, "source", where),
        as_of=_as_of(raw, where, strict),
        as_of_text=_text(raw, "as_of_date"),
        price_era=_text(raw, "price_era"),
        where=where,
    )


def _check_columns(columns, where: str) -> None:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise PriceFileError(where, ", ".join(missing), "missing", "the columns " + ", ".join(REQUIRED_COLUMNS))
    for column in columns:
        if column not in known:
            close = difflib.get_close_matches(str(column), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise PriceFileError(where, column, "unknown column", "one of " + ", ".join(known) + hint)


# --------------------------------------------------------------------------- files


def _csv_records(text: str, label: str):
    """``(where, row dict)`` for each data row of a CSV price file, after the header check."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    _check_columns(reader.fieldnames or [], f"{label} header")
    for number, raw in enumerate(reader, start=1):
        where = f"{label} row {number} (line {reader.line_num})"
        if None in raw:
            raise PriceFileError(where, "(beyond the header)", raw[None], f"at most {len(reader.fieldnames)} cells")
        yield where, raw


def _json_records(text: str, label: str):
    """``(where, row dict)`` for each entry of a JSON price file (a list, or ``{"prices": [...]}``)."""
    from config_loader import parse_json

    data = parse_json(text, label, "invalid JSON")
    rows = data.get("prices") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError(label, type(data).__name__, 'a JSON list of price rows, or {"prices": [...]}')
    for number, raw in enumerate(rows, start=1):
        where = f"{label} row {number}"
        if not isinstance(raw, dict):
            raise InputError(where, raw, "a JSON object with the price columns")
        _check_columns(list(raw), where)
        yield where, raw


def _records(text: str, path: str, label: str):
    is_json = path.lower().endswith(".json") or text.lstrip("\ufeff \n\t").startswith(("[", "{"))
    return _json_records(text, label) if is_json else _csv_records(text, label)


def _file_key(path: str) -> tuple[str, int, int]:
    file = Path(path)
    try:
        stat = file.stat() if file.is_file() else None
    except OSError:  # a name too long: read_text_file says so
        stat = None
    return str(file.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0


def load_price_file(path: str) -> tuple[_PriceRow, ...]:
    """The validated rows of a user price file (CSV or JSON in the catalog's columns).

    Parameters
    ----------
    path : str
        The ``--price-file`` / ``options.price_file`` path.

    Returns
    -------
    tuple
        Its rows, cached while the file is unchanged (path, mtime and size).

    Raises
    ------
    PriceFileError
        A missing or unknown column, a negative, zero or non-numeric price or GPU count, an unknown
        price model, a missing or future date (``YYYY-MM-DD``) or an empty source, naming the file,
        the row and the column; an unknown GPU raises :class:`models.NotFoundError` named the same way.
    """
    return _load_user_file(*_file_key(path), path=path)


@functools.lru_cache(maxsize=8)
def _load_user_file(resolved: str, mtime_ns: int, size: int, path: str) -> tuple[_PriceRow, ...]:
    from config_loader import read_text_file

    text = read_text_file(path, "--price-file")
    label = f"--price-file {path}"
    rows = tuple(_parse_row(raw, where, strict=True) for where, raw in _records(text, path, label))
    if not rows:
        raise InputError(label, "no rows", "at least one price row")
    return rows


def _builtin_skip_reason(raw: dict) -> str | None:
    """Why a built-in row is left out of selection, or ``None`` to keep it."""
    try:
        config.get_gpu(_text(raw, "gpu"))
    except InputError:
        return f"GPU {_text(raw, 'gpu')!r} is not in the GPU catalog (data/gpus.csv)"
    if read_as_of(_text(raw, "as_of_date")) is None:
        return f"no usable as-of date ({_text(raw, 'as_of_date')!r})"
    return None


@functools.lru_cache(maxsize=None)
def _builtin() -> tuple[tuple[_PriceRow, ...], tuple[tuple[str, str], ...]]:
    label = f"data/{BUILTIN_FILE.name}"
    text = BUILTIN_FILE.read_text(encoding="utf-8")
    rows, skipped = [], []
    for where, raw in _csv_records(text, label):
        reason = _builtin_skip_reason(raw)
        if reason:
            skipped.append((where, reason))
        else:
            rows.append(_parse_row(raw, where, strict=False))
    return tuple(rows), tuple(skipped)


def builtin_rows() -> tuple[_PriceRow, ...]:
    """The usable rows of ``data/cloud_prices.csv`` (loaded once)."""
    return _builtin()[0]


def skipped_rows() -> tuple[tuple[str, str], ...]:
    """``(where, reason)`` for each built-in row left out of selection."""
    return _builtin()[1]


def _all_rows(cost: CostOptions) -> tuple[tuple[_PriceRow, ...], tuple[_PriceRow, ...]]:
    """``(user rows, built-in rows)``; user rows win where they match."""
    return (load_price_file(cost.price_file) if cost.price_file else ()), builtin_rows()


# --------------------------------------------------------------------------- selection


def _matching(rows, gpu_id: str, cost: CostOptions) -> list[_PriceRow]:
    return [r for r in rows if r.gpu_id == gpu_id and r.pricing == cost.pricing
            and (cost.cloud is None or r.provider == cost.cloud) and _region_matches(r.region, cost.region)]


def _billed_per_hour(row, total_gpus: int | None) -> float:
    """USD an hour for ``total_gpus`` GPUs rented as whole instances of ``row`` (per GPU-hour when ``None``)."""
    if total_gpus is None:
        return row.usd_per_gpu_hour
    return instances_needed(total_gpus, row.gpus_per_instance) * row.usd_per_instance_hour


def _best_row(rows: list[_PriceRow], gpus_per_replica: int, total_gpus: int | None) -> tuple[_PriceRow, str] | None:
    """One provider's row among instances that hold a replica (its GPUs must share one machine's
    NVLink/PCIe): newest date, then the cheapest for ``total_gpus`` in whole instances (per GPU-hour when
    ``None``); with the reason. ``None``: no instance is large enough."""
    fits = [r for r in rows if r.gpus_per_instance >= gpus_per_replica]
    if not fits:
        return None
    scope = f" ({len(fits)} with >= {gpus_per_replica} GPUs per instance)" if len(fits) < len(rows) else ""
    newest = max(r.as_of for r in fits)
    same_day = [r for r in fits if r.as_of == newest]
    best = min(same_day, key=lambda r: (_billed_per_hour(r, total_gpus), r.usd_per_gpu_hour, r.gpus_per_instance,
                                        r.instance_type))
    read_as = f" (dated {best.as_of_text!r})" if best.as_of_text != best.as_of.isoformat() else ""
    cheapest = "cheapest per GPU-hour" if total_gpus is None else f"cheapest for {total_gpus} GPUs in whole instances"
    reason = (f"{best.where}{read_as}: among {len(rows)} {best.provider} {best.pricing} row(s) for {best.gpu_id}"
              f"{scope}, the newest (as of {newest.isoformat()}), {cheapest} of {len(same_day)} of that date")
    return best, reason


def _to_quote(row: _PriceRow, selection: str, today: dt.date) -> PriceQuote:
    return PriceQuote(
        gpu_type=row.gpu_id, usd_per_gpu_hour=row.usd_per_gpu_hour, provider=row.provider,
        instance_type=row.instance_type, gpus_per_instance=row.gpus_per_instance,
        usd_per_instance_hour=row.usd_per_instance_hour, pricing=row.pricing, region=row.region or "any",
        as_of_date=row.as_of.isoformat(), age_days=max(0, (today - row.as_of).days), source=row.source,
        price_era=row.price_era, selection=selection,
    )


def _override_quote(gpu_id: str, cost: CostOptions, today: dt.date) -> PriceQuote:
    price = cost.price_per_gpu_hour
    return PriceQuote(
        gpu_type=gpu_id, usd_per_gpu_hour=price, provider="user", instance_type="user price",
        gpus_per_instance=1, usd_per_instance_hour=price, pricing=cost.pricing, region=cost.region or "any",
        as_of_date=today.isoformat(), age_days=0, source="--price-per-gpu-hour",
        selection="--price-per-gpu-hour overrides every listed price",
    )


def _provider_quotes(gpu_id: str, cost: CostOptions, today: dt.date, gpus_per_replica: int,
                     total_gpus: int | None = None) -> list[PriceQuote]:
    """The best quote of each provider for ``gpu_id``, cheapest first (for ``total_gpus`` in whole instances when
    given, else per GPU-hour; user-file rows win)."""
    user, builtin = _all_rows(cost)
    rows = _matching(user, gpu_id, cost) or _matching(builtin, gpu_id, cost)
    by_provider: dict[str, list[_PriceRow]] = {}
    for row in rows:
        by_provider.setdefault(row.provider, []).append(row)
    best = (_best_row(group, gpus_per_replica, total_gpus) for group in by_provider.values())
    quotes = [_to_quote(*found, today) for found in best if found is not None]
    return sorted(quotes, key=lambda q: (_billed_per_hour(q, total_gpus), q.usd_per_gpu_hour, q.provider))


def quote(gpu_id: str, cost: CostOptions | None = None, today: dt.date | None = None, *,
          gpus_per_replica: int = 1, total_gpus: int | None = None) -> PriceQuote:
    """The price row a cost uses for ``gpu_id``.

    Parameters
    ----------
    gpu_id : str
        GPU id or alias (``H100-80GB``, ``H100-SXM5-80GB``).
    cost : CostOptions, optional
        Cloud, pricing model, region, ``price_per_gpu_hour`` override and ``price_file``.
    today : datetime.date, optional
        The date ages are counted to (default: today).
    gpus_per_replica : int, keyword-only
        GPUs one replica (or one training node group) needs inside one instance: instances smaller
        than that are passed over while the provider lists a larger one.
    total_gpus : int, keyword-only
        The GPUs to rent: the row (and provider) that bills least for them in whole instances is chosen
        (2 GPUs on a cloud that sells 1- and 8-GPU instances: two 1-GPU instances). Without it, the cheapest
        per GPU-hour.

    Returns
    -------
    PriceQuote
        The row used, its age in days and ``selection`` (file row, and why it was chosen).

    Raises
    ------
    NoPriceError
        Nothing matches; the message lists the clouds and pricing models (or regions) that do offer the GPU.
    """
    cost = cost or CostOptions()
    today = today or dt.date.today()
    gpu = config.get_gpu(gpu_id).id
    if cost.price_per_gpu_hour is not None:
        return _override_quote(gpu, cost, today)
    quotes = _provider_quotes(gpu, cost, today, gpus_per_replica, total_gpus)
    if not quotes:
        raise _no_price(gpu, cost, gpus_per_replica)
    best = quotes[0]
    if cost.cloud is None and len(quotes) > 1:
        others = ", ".join(f"{q.provider} ${q.usd_per_gpu_hour:.4g}" for q in quotes[1:])
        best = dataclasses.replace(best, selection=f"{best.selection}; cheapest provider (others per GPU-hour: "
                                                   f"{others})")
    return best


def offers(gpu_id: str | None = None, cost: CostOptions | None = None, today: dt.date | None = None, *,
           gpus_per_replica: int = 1, total_gpus: int | None = None) -> list[PriceQuote]:
    """One best quote per GPU x provider for the chosen pricing model, cheapest first (for ``total_gpus`` in
    whole instances when given, else per GPU-hour).

    ``gpu_id=None`` covers every GPU with a price (every catalog GPU under ``price_per_gpu_hour``).
    GPUs without a matching row are left out (no error); the selection rules are :func:`quote`'s.
    """
    cost = cost or CostOptions()
    today = today or dt.date.today()
    gpus = [config.get_gpu(gpu_id).id] if gpu_id else [g.id for g in config.list_gpus()]
    if cost.price_per_gpu_hour is not None:
        return [_override_quote(g, cost, today) for g in gpus]
    found = [q for g in gpus for q in _provider_quotes(g, cost, today, gpus_per_replica, total_gpus)]
    return sorted(found, key=lambda q: (_billed_per_hour(q, total_gpus), q.usd_per_gpu_hour, q.gpu_type, q.provider))


def cheapest_offers_by_gpu(cost: CostOptions | None = None, today: dt.date | None = None, *,
                           gpus_per_replica: int = 1) -> dict[str, list[PriceQuote]]:
    """``{gpu_id: [quote per provider, cheapest first]}`` for each GPU with a matching price (compare's cloud dimension)."""
    table: dict[str, list[PriceQuote]] = {}
    for offer in offers(None, cost, today, gpus_per_replica=gpus_per_replica):
        table.setdefault(offer.gpu_type, []).append(offer)
    return table


def listed_pricing(gpu_id: str | None = None, gpus_per_replica: int = 1) -> dict[str, tuple[str, ...]]:
    """``{cloud: pricing models}`` the built-in prices list for ``gpu_id`` (any GPU when ``None``) in instances
    that hold ``gpus_per_replica`` GPUs: what :func:`quote` can find."""
    gpu = config.get_gpu(gpu_id).id if gpu_id else None
    found: dict[str, set] = {}
    for row in builtin_rows():
        if (gpu is None or row.gpu_id == gpu) and row.gpus_per_instance >= gpus_per_replica:
            found.setdefault(row.provider, set()).add(row.pricing)
    return {cloud: tuple(p for p in PRICING_MODELS if p in models) for cloud, models in sorted(found.items())}


def _listing(rows: list[_PriceRow], key) -> str:
    """``aws: on-demand, spot; gcp: ...`` from rows grouped by provider."""
    groups: dict[str, set] = {}
    for row in rows:
        groups.setdefault(row.provider, set()).add(key(row))
    return "; ".join(f"{p}: {', '.join(sorted(v))}" for p, v in sorted(groups.items()))


def check_region(cost: CostOptions | None) -> None:
    """Refuse a region the price data (built-in and ``price_file`` rows) does not list for the cloud asked (any
    cloud when none): it would match only the rows that hold everywhere, a silent price from no region. With
    ``price_per_gpu_hour`` no row is looked up and the region only labels the price."""
    if cost is None or cost.region is None or cost.price_per_gpu_hour is not None:
        return
    user, builtin = _all_rows(cost)
    regional = [r for r in (*user, *builtin) if (cost.cloud is None or r.provider == cost.cloud)
                and r.region and ANY_REGION_MARK not in r.region]
    if any(r.region.lower() == cost.region.strip().lower() for r in regional):
        return
    cloud = cost.cloud or "any cloud"
    listed = _listing(regional, lambda r: r.region) if cost.cloud is None else ", ".join(sorted({r.region for r in regional}))
    accepted = (f"a region the price data lists for {cloud} ({listed})" if regional
                else f"no --region: {cloud}'s listed prices are not region-specific")
    raise InputError("options.region (--region)", cost.region, accepted)


def _no_price(gpu_id: str, cost: CostOptions, gpus_per_replica: int = 1) -> NoPriceError:
    """The error for a GPU without a matching price, naming what is on offer."""
    user, builtin = _all_rows(cost)
    offered = [r for r in (*user, *builtin) if r.gpu_id == gpu_id]
    on_cloud = [r for r in offered if cost.cloud is None or r.provider == cost.cloud]
    with_pricing = [r for r in on_cloud if r.pricing == cost.pricing]
    if not offered:
        return NoPriceError("gpu.gpu_type", gpu_id, "a GPU with a listed price (no built-in or --price-file row "
                            "covers it: give --price-per-gpu-hour or a --price-file row)")
    if not on_cloud:
        return NoPriceError("options.cloud", cost.cloud,
                            f"a cloud that lists {gpu_id} ({_listing(offered, lambda r: r.pricing)})")
    if not with_pricing:
        return NoPriceError("options.pricing", cost.pricing, f"a pricing model under which "
                            f"{cost.cloud or 'a cloud'} lists {gpu_id} ({_listing(on_cloud, lambda r: r.pricing)})")
    in_region = [r for r in with_pricing if _region_matches(r.region, cost.region)]
    if in_region:
        largest = max(r.gpus_per_instance for r in in_region)
        return NoPriceError("gpu.tensor_parallel", gpus_per_replica, f"at most {largest} GPUs per replica: no listed "
                            f"{gpu_id} instance holds {gpus_per_replica} GPUs under one NVLink/PCIe domain "
                            f"({_listing(in_region, lambda r: f'{r.gpus_per_instance} GPUs')})")
    return NoPriceError("options.region", cost.region, f"a region where {gpu_id} is listed at {cost.pricing} "
                        f"pricing ({_listing(with_pricing, lambda r: r.region)})")


# --------------------------------------------------------------------------- warnings and text


def price_warnings(quote: PriceQuote, today: dt.date | None = None) -> list[str]:
    """Warnings a plan carries about its price: older than ``price_max_age_days``, or from before a known price cut."""
    today = today or dt.date.today()
    limit = config.default("price_max_age_days")
    age_days = (today - dt.date.fromisoformat(quote.as_of_date)).days
    label = f"{quote.provider} {quote.pricing} price for {quote.gpu_type} ({quote.instance_type})"
    warnings = []
    if age_days > limit:
        warnings.append(f"The {label} is dated {quote.as_of_date}, {age_days} days ago (more than {limit}): GPU "
                        "prices change monthly; check it, or give --price-file or --price-per-gpu-hour.")
    if quote.price_era.startswith("pre_"):
        change = quote.price_era.removeprefix("pre_").replace("_", " ")
        warnings.append(f"The {label} predates the {change} (price_era {quote.price_era}): the current "
                        "price is likely lower.")
    return warnings


def describe(quote: PriceQuote) -> str:
    """One line naming the price row: provider, instance, pricing model, price, date and source."""
    return (f"{quote.provider} {quote.instance_type} ({quote.gpus_per_instance}-GPU, {quote.region}), "
            f"{quote.pricing}: ${quote.usd_per_gpu_hour:.4g}/GPU-h (${quote.usd_per_instance_hour:.4g}/instance-h), "
            f"as of {quote.as_of_date} ({quote.age_days} days old); source: {quote.source}")


# --------------------------------------------------------------------------- cost maths


def hours_per_month() -> float:
    """Billing hours in a month (730 = 365 x 24 / 12; ``data/planner_defaults.json``)."""
    return float(config.default("hours_per_month"))


def instances_needed(gpus: int, gpus_per_instance: int) -> int:
    """Whole instances that hold ``gpus`` GPUs.

    Replicas pack exactly: tensor-parallel degrees (1-8) and instance sizes (1-16 GPUs) are powers of
    two, so one always divides the other and no replica straddles a partly used instance.
    """
    return math.ceil(gpus / gpus_per_instance)


def monthly_cost_usd(gpus: int, quote: PriceQuote) -> float:
    """USD a month for ``gpus`` GPUs billed per GPU-hour."""
    return gpus * quote.usd_per_gpu_hour * hours_per_month()


def whole_instance_monthly_cost_usd(gpus: int, quote: PriceQuote) -> float:
    """USD a month when only whole instances of ``quote.gpus_per_instance`` GPUs can be rented."""
    return _billed_per_hour(quote, gpus) * hours_per_month()


def usd_per_million_tokens(monthly_usd: float, tokens_per_s: float) -> float:
    """USD per million tokens of a monthly bill: monthly USD / hours a month / (tokens per s x 3600) x 1e6."""
    return monthly_usd / hours_per_month() / (tokens_per_s * SECONDS_PER_HOUR) * TOKENS_PER_MILLION


def inference_cost(total_gpus: int, gpus_per_replica: int, output_tokens_per_s: float,
                   total_tokens_per_s: float, quote: PriceQuote) -> InferenceCost:
    """Monthly and per-token cost of serving on ``total_gpus`` GPUs.

    Parameters
    ----------
    total_gpus, gpus_per_replica : int
        The fleet and one replica.
    output_tokens_per_s, total_tokens_per_s : float
        Generated tokens, and input + generated tokens, the fleet serves per second at the planned load.
    quote : PriceQuote
        The price row (:func:`quote`).

    Returns
    -------
    InferenceCost
        ``cost_per_million_tokens`` is per million output tokens; ``cost_per_million_total_tokens``
        per million input + output tokens, both on ``monthly_gpu_cost``: whole instances (the GPUs alone at the
        GPU-hour price: ``gpu_hours_monthly_cost``).

    Notes
    -----
    USD per million tokens = instances x USD per instance-hour / (tokens per s x 3600) x 1e6.
    """
    check_number("output_tokens_per_s", output_tokens_per_s)
    check_number("total_tokens_per_s", total_tokens_per_s)
    billed = whole_instance_monthly_cost_usd(total_gpus, quote)
    return InferenceCost(
        monthly_gpu_cost=billed,
        cost_per_replica_month=monthly_cost_usd(gpus_per_replica, quote),
        cost_per_million_tokens=usd_per_million_tokens(billed, output_tokens_per_s),
        cost_per_million_total_tokens=usd_per_million_tokens(billed, total_tokens_per_s),
        tokens_counted=(f"cost_per_million_tokens counts generated (output) tokens only, {output_tokens_per_s:,.0f}/s "
                        f"at the planned load; cost_per_million_total_tokens counts input + output tokens, "
                        f"{total_tokens_per_s:,.0f}/s; both on the monthly bill for {total_gpus} GPUs in whole "
                        "instances, every hour."),
        usd_per_gpu_hour=quote.usd_per_gpu_hour,
        gpu_hours_monthly_cost=monthly_cost_usd(total_gpus, quote),
        whole_instance_monthly_cost=billed,
        price=quote,
    )


def training_cost(gpu_hours: float, gpus: int, epochs: float, quote: PriceQuote) -> dict:
    """Cost of a training job of ``gpu_hours`` on ``gpus`` GPUs over ``epochs`` epochs.

    Returns ``total_training_cost`` and ``cost_per_epoch`` (per GPU-hour billing),
    ``usd_per_gpu_hour``, ``instances`` and ``whole_instance_total_cost`` (whole instances for the
    job's wall-clock hours, ``gpu_hours / gpus``), and ``price`` (the quote as a dict).
    """
    check_number("gpu_hours", gpu_hours)
    check_number("gpus", gpus, integer=True)
    check_number("epochs", epochs)
    total = gpu_hours * quote.usd_per_gpu_hour
    instances = instances_needed(gpus, quote.gpus_per_instance)
    return {
        "total_training_cost": total,
        "cost_per_epoch": total / epochs,
        "usd_per_gpu_hour": quote.usd_per_gpu_hour,
        "instances": instances,
        "whole_instance_total_cost": instances * quote.usd_per_instance_hour * gpu_hours / gpus,
        "price": quote.to_dict(),
    }
