"""Demand forecasting on statsmodels: ``Forecaster(history).fit() -> ForecastResults``.

Four methods, each a small function ``(y, horizon, seasons) -> point forecast``:

- ``seasonal_naive``: the value one season ago (the longest season with a full cycle in the window);
- ``stl``: MSTL (daily + weekly) or STL decomposition; the seasonally adjusted series goes to a
  damped-trend ETS and each seasonal component repeats the mean of its last ``SEASON_CYCLES_AVERAGED``
  cycles (one cycle alone carries that cycle's noise into every future cycle);
- ``arima``: regression on Fourier terms of each season with ARIMA errors
  (Hyndman & Athanasopoulos, FPP3 section 12.1 "dynamic harmonic regression"): the differencing
  order from a KPSS test, (p, q) by AIC. Fourier terms keep an hourly series with a weekly
  season fast where a SARIMA with period 168 would need a 169-state model;
- ``ets``: ETS(A,Ad,A) with a damped trend on log demand (seasonality that scales with the level),
  its season the longest one up to ``ETS_MAX_SEASON`` periods (a week of hourly data);

and ``ensemble``, the median of the four (forecast combinations won the M4 competition:
Makridakis et al. 2020, IJF 36(1)). ``method="auto"`` picks by rolling-origin backtest MASE and
keeps the ensemble unless one method beats it by more than the standard error of the difference
over the origins (a one-standard-error rule: with about five origins smaller gaps are noise). When
every method backtests worse than seasonal naive a warning says so: seasonal naive is used when it
beats the ensemble by more than that standard error, else the warning names the method kept and why.
A chosen method whose backtest MASE exceeds ``POOR_MASE`` is warned about whatever the comparison.

Units do not matter: every method fits its training window divided by the window's mean and the
forecast is multiplied back, so a history in requests per hour and the same in requests per second
give the same forecast up to the factor 3,600 (the backtest errors are normalized the same way).
A method that fails on a window is replaced there by seasonal naive and the warning says which
method, on how many windows and why, in words (the library's message goes to the debug log).

Trends are damped (the ETS trends' damping is estimated) and capped: past a lead time as long as
the history itself the forecast repeats its last full season (the level is held), so six days of
growth are never projected over thirty. Horizons longer than the history or ``HORIZON_BACKTEST_FACTOR``
times the backtest horizon are warned about.

Prediction intervals come from :mod:`forecast_intervals`: calibrated on the backtest errors when the
backtest has at least ``MIN_BAND_ORIGINS`` origins, else from the history's seasonal-naive changes
widened by Student's t (a warning says how little history there was). The bands are then made to
nest around the point forecast (lower_95 <= lower_80 <= mean <= upper_80 <= upper_95) and floored at
zero: demand is never negative. :meth:`ForecastResults.step_peaks` gives the quantiles of each
step's (day's, week's) *peak* from sample paths of the same error model.

statsmodels, pandas and numpy are imported inside the functions that use them; :func:`fit_core`
imports them before it limits BLAS to one thread, so the limit reaches the libraries doing the work.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from forecast_intervals import BAND_LEVELS, ErrorModel, band_scale, naive_fallback_model, step_peak_quantiles_from
from models import SCENARIOS, InputError, check_choice, check_number, plural

LOG = logging.getLogger(__name__)

METHODS = ("seasonal_naive", "stl", "arima", "ets")
ENSEMBLE = "ensemble"
CANDIDATES = METHODS + (ENSEMBLE,)
METHOD_CHOICES = ("auto",) + CANDIDATES
METHOD_WORDS = {
    "seasonal_naive": "seasonal naive",
    "stl": "STL decomposition + damped trend",
    "arima": "ARIMA with Fourier seasons",
    "ets": "exponential smoothing on log demand",
    "ensemble": "median of the four methods",
}
"""How warnings name each method."""
SCENARIO_COLUMNS = dict(zip(SCENARIOS, ("lower_80", "mean", "upper_80")))
"""Scenario (``models.SCENARIOS``) -> forecast column."""
SCENARIO_LABELS = {"optimistic": "p10", "baseline": "median", "pessimistic": "p90"}
SCENARIO_QUANTILES = {"optimistic": 0.10, "baseline": 0.50, "pessimistic": 0.90}
"""Scenario -> quantile of a step's peak demand (:meth:`ForecastResults.step_peaks`)."""

SEASON_LENGTHS_S = (86_400, 604_800, 31_557_600)
"""Day, week and Julian year: the seasons looked for at any sampling step."""
MAX_SEASON_POINTS = 1_100
"""Longest season modelled, in periods (an hourly series keeps day and week, drops the year)."""
TRAIN_SEASONS = 4
"""The training window holds this many cycles of the longest season (hourly: 4 weeks)..."""
MIN_WINDOW_POINTS = 500
"""...and at least this many periods, when the history has them."""
BACKTEST_ORIGINS = 5
MIN_ORIGINS_TO_OVERRULE = 3
"""Independent origins needed for the one-standard-error rule; with fewer, a single method replaces the
ensemble only when its MASE is below ``FEW_ORIGINS_FACTOR`` times the ensemble's."""
FEW_ORIGINS_FACTOR = 0.5
MIN_BAND_ORIGINS = 3
"""Backtest origins needed to calibrate the bands on backtest errors; with fewer, the naive fallback."""
MIN_TRAIN_POINTS = 8
"""Fewest periods a backtest window trains on when the series has no season."""
HARMONICS = (10, 8)
"""Fourier pairs for the shortest season and for each longer one (capped at period / 2)."""
ARIMA_ORDERS = ((1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (0, 0))
"""(p, q) pairs searched by AIC."""
ETS_MAX_SEASON = 200
"""ETS models a season only up to this many periods (its state vector grows with the period)."""
SEASON_CYCLES_AVERAGED = 2
"""STL's seasonal components are forecast by the mean of their last this-many cycles."""
LOG_OFFSET_SHARE = 0.01
"""ETS models log(y + 1% of the window mean), so zeros are allowed."""
HORIZON_BACKTEST_FACTOR = 4
"""A horizon past this many backtest horizons (or past the history's length) gets a warning."""
POOR_MASE = 2.0
"""A chosen method whose backtest MASE exceeds this gets a warning even when it is the best on offer."""
NORMALIZED_DECIMALS = 10
"""Methods fit ``y / mean(y)`` rounded to this many decimals: the same history in other units (times a
constant) then hands the optimizers the very same numbers, not numbers 1e-16 apart that can tip an AIC
tie or a convergence test the other way."""
MAX_HORIZON_PERIODS = 100_000
"""Most periods one forecast covers (10 years of hours); past it a coarser --frequency is the answer."""

# --------------------------------------------------------------------------- seasons and windows


def season_periods(step_s: float) -> tuple[int, ...]:
    """Whole-period seasons (day, week, year) at sampling step ``step_s``, shortest first."""
    periods = []
    for season_s in SEASON_LENGTHS_S:
        ratio = season_s / step_s
        period = round(ratio)
        if 2 <= period <= MAX_SEASON_POINTS and abs(ratio - period) <= 0.01 * period:
            periods.append(period)
    return tuple(periods)


def usable_periods(n: int, seasons: tuple[int, ...], cycles: int = 2) -> tuple[int, ...]:
    """The seasons with at least ``cycles`` full cycles in ``n`` values."""
    return tuple(p for p in seasons if n >= cycles * p)


def window_points(seasons: tuple[int, ...]) -> int:
    """Training window length: ``TRAIN_SEASONS`` cycles of the longest season, at least ``MIN_WINDOW_POINTS``."""
    return max(TRAIN_SEASONS * max(seasons, default=1), MIN_WINDOW_POINTS)


def mase_scale(y, seasons: tuple[int, ...]) -> float:
    """Mean absolute in-sample seasonal-naive change (Hyndman & Koehler 2006), lag = shortest season."""
    import numpy as np

    lag = min(usable_periods(len(y), seasons), default=1)
    lag = lag if len(y) > lag else 1
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag]))) if len(y) > lag else 0.0
    if scale > 0:
        return scale
    spread = float(np.mean(np.abs(y - np.mean(y))))
    return spread if spread > 0 else max(float(np.mean(np.abs(y))), 1e-12)


# --------------------------------------------------------------------------- methods


def seasonal_naive_forecast(y, horizon: int, seasons: tuple[int, ...]):
    """Repeat the last full cycle of the longest season with one cycle in ``y`` (last value if none)."""
    import numpy as np

    period = max(usable_periods(len(y), seasons, cycles=1), default=1)
    return np.asarray(y[len(y) - period + np.arange(horizon) % period], dtype=float)


def _damped_trend(y, horizon: int):
    """ETS(A,Ad,N) point forecast (the trend-and-level part of STL and the non-seasonal fallback)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    fitted = ETSModel(y, error="add", trend="add", damped_trend=True).fit(disp=False)
    return fitted.forecast(horizon)


def decomposable_periods(n: int, seasons: tuple[int, ...]) -> tuple[int, ...]:
    """Seasons STL/MSTL can estimate from ``n`` values: more than two full cycles.

    statsmodels' MSTL silently drops a period of at least half the series (``period >= n / 2``);
    asking for one at exactly two cycles (a 14-day window with a weekly season) left one season
    where two were expected.
    """
    return tuple(p for p in seasons if n > 2 * p)


def stl_forecast(y, horizon: int, seasons: tuple[int, ...]):
    """MSTL/STL: each seasonal component repeats the mean of its last cycles; the adjusted series gets a damped trend."""
    import numpy as np
    from statsmodels.tsa.seasonal import MSTL, STL

    n = len(y)
    periods = decomposable_periods(n, seasons)
    if not periods:
        return _damped_trend(y, horizon)
    if len(periods) > 1:
        seasonal = MSTL(y, periods=periods).fit().seasonal
    else:
        seasonal = STL(y, period=periods[0], robust=True).fit().seasonal
    seasonal = np.reshape(seasonal, (n, len(periods)))
    forecast = _damped_trend(y - seasonal.sum(axis=1), horizon)
    for j, period in enumerate(periods):
        cycles = max(1, min(SEASON_CYCLES_AVERAGED, n // period))
        phase = np.arange(horizon) % period
        forecast = forecast + np.mean([seasonal[n - c * period + phase, j] for c in range(1, cycles + 1)], axis=0)
    return forecast


def fourier_terms(start: int, count: int, periods: tuple[int, ...]):
    """Sine/cosine pairs of each season for time indices ``start .. start+count-1``."""
    import numpy as np

    t = np.arange(start, start + count)
    columns = []
    for i, period in enumerate(periods):
        pairs = min(HARMONICS[0] if i == 0 else HARMONICS[1], period // 2)
        for k in range(1, pairs + 1):
            angle = 2 * np.pi * k * t / period
            columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns) if columns else np.empty((count, 0))


def _differences(residual) -> int:
    """0 or 1 differences: KPSS test of level stationarity at 5% (the auto.arima rule)."""
    from statsmodels.tsa.stattools import kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KPSS warns when the statistic is outside its table
        _, p_value, *_ = kpss(residual, regression="c", nlags="auto")
    return 1 if p_value < 0.05 else 0


def arima_forecast(y, horizon: int, seasons: tuple[int, ...]):
    """Fourier terms by least squares (a constant, no trend), ARIMA(p, d, q) errors with (p, q) by AIC."""
    import numpy as np
    from statsmodels.tsa.arima.model import ARIMA

    n = len(y)
    periods = usable_periods(n, seasons)
    design = np.column_stack([np.ones(n + horizon), fourier_terms(0, n + horizon, periods)])
    beta = np.linalg.lstsq(design[:n], y, rcond=None)[0]
    residual = y - design[:n] @ beta
    d = _differences(residual) if n >= 12 else 0
    best = None
    for p, q in ARIMA_ORDERS:
        if n < 3 * (p + q + d) + 6:
            continue
        fitted = ARIMA(residual, order=(p, d, q), trend="n").fit()
        if best is None or fitted.aic < best.aic:
            best = fitted
    errors = best.forecast(horizon) if best is not None else np.zeros(horizon)
    return design[n:] @ beta + errors


def ets_forecast(y, horizon: int, seasons: tuple[int, ...]):
    """ETS(A,Ad,A) on log(y + offset): damped trend, additive season (the longest up to ``ETS_MAX_SEASON``).

    A weekly season of hourly data holds the daily shape of each weekday too; its 168 seed states
    come from the heuristic initialization (Hyndman et al. 2008, section 2.6.1) instead of the
    likelihood, which keeps the fit fast. That initialization needs ``10 + 2 x (period // 2)``
    values (statsmodels' rule); a season with fewer is left out.
    """
    import numpy as np
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    offset = max(LOG_OFFSET_SHARE * float(np.mean(y)), 1e-9)
    periods = [p for p in usable_periods(len(y), seasons) if p <= ETS_MAX_SEASON and len(y) >= 10 + 2 * (p // 2)]
    season = dict(seasonal="add", seasonal_periods=periods[-1], initialization_method="heuristic") if periods else {}
    model = ETSModel(np.log(y + offset), error="add", trend="add", damped_trend=True, **season)
    return np.exp(model.fit(disp=False).forecast(horizon)) - offset


METHOD_FUNCTIONS = {
    "seasonal_naive": seasonal_naive_forecast,
    "stl": stl_forecast,
    "arima": arima_forecast,
    "ets": ets_forecast,
}


class NonFiniteForecast(ArithmeticError):
    """A method returned NaN or infinite values."""


def failure_words(exc: BaseException) -> str:
    """What a failed fit means, in words (the library's own message goes to the debug log)."""
    import numpy as np

    if isinstance(exc, np.linalg.LinAlgError):
        return "its equations had no unique solution on that data (a flat or repeating stretch)"
    if isinstance(exc, (NonFiniteForecast, OverflowError, FloatingPointError)):
        return "it produced non-finite numbers"
    if isinstance(exc, (ValueError, IndexError)):
        return "that stretch of history did not suit its model (too short or too regular)"
    return "its fit did not complete"


@dataclass
class FailureLog:
    """Which methods failed on which fitting windows, and why (in words)."""

    windows: set = field(default_factory=set)
    """Every window (start, end) this fit used."""
    failed: dict = field(default_factory=dict)
    """Method -> {reason in words -> set of windows}."""

    def record(self, window: tuple, failures: dict) -> None:
        """Note that ``window`` was used and which methods failed there (``{method: words}``)."""
        self.windows.add(window)
        for name, words in failures.items():
            self.failed.setdefault(name, {}).setdefault(words, set()).add(window)

    def sentences(self, final_window: tuple) -> tuple[str, ...]:
        out = []
        for name, reasons in self.failed.items():
            for reason, windows in reasons.items():
                where = (f"on {len(windows)} of {len(self.windows)} fitting windows"
                         + (", the final one included" if final_window in windows else ""))
                out.append(f"{name} ({METHOD_WORDS[name]}) was skipped {where}: {reason}; "
                           "seasonal naive stood in for it there")
        return tuple(out)


def _run_method(name: str, y, horizon: int, seasons: tuple[int, ...]):
    """``(forecast, None)`` or ``(seasonal naive, what went wrong in words)``.

    The method fits ``y / mean(y)`` and its forecast is multiplied back (scale equivariance); the
    result is clipped at zero.
    """
    import numpy as np

    level = float(np.mean(y))
    if not level > 0:  # an all-zero window: every method forecasts zero
        return np.zeros(horizon), None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings: the backtest judges the result
            normalized = np.round(y / level, NORMALIZED_DECIMALS)
            forecast = level * np.asarray(METHOD_FUNCTIONS[name](normalized, horizon, seasons), dtype=float)
        if forecast.shape != (horizon,) or not np.isfinite(forecast).all():
            raise NonFiniteForecast(f"{name} returned shape {forecast.shape}, finite: {np.isfinite(forecast).all()}")
        words = None
    except Exception as exc:  # noqa: BLE001 -- any library failure becomes a stand-in and a sentence
        LOG.debug("%s failed on a window of %d values", name, len(y), exc_info=True)
        forecast, words = seasonal_naive_forecast(y, horizon, seasons), failure_words(exc)
    return np.clip(forecast, 0.0, None), words


def window_forecasts(y, horizon: int, seasons: tuple[int, ...], methods: tuple[str, ...]) -> tuple[dict, dict]:
    """Point forecasts of ``methods`` from one training window (``ensemble`` = median of the four),
    and ``{method: why it failed}`` for those replaced by seasonal naive."""
    import numpy as np

    needed = METHODS if ENSEMBLE in methods else tuple(m for m in methods if m != ENSEMBLE)
    runs = {name: _run_method(name, y, horizon, seasons) for name in needed}
    out = {name: forecast for name, (forecast, _) in runs.items()}
    if ENSEMBLE in methods:
        out[ENSEMBLE] = np.median([out[m] for m in METHODS], axis=0)
    return out, {name: words for name, (_, words) in runs.items() if words}


# --------------------------------------------------------------------------- backtest, choice, bands


@dataclass(frozen=True)
class BacktestPlan:
    """Where the rolling-origin backtest cuts the series."""

    origins: tuple
    """Indices of the first forecast value of each origin, oldest first."""
    horizon: int
    """Periods forecast from each origin."""
    min_train: int

    @property
    def independent_origins(self) -> float:
        """Origins' worth of non-overlapping test data (overlapping windows share their errors)."""
        if not self.origins:
            return 0.0
        return 1.0 + (self.origins[-1] - self.origins[0]) / self.horizon


def backtest_plan(n: int, horizon: int, seasons: tuple[int, ...], origins: int = BACKTEST_ORIGINS) -> BacktestPlan:
    """Up to ``origins`` non-overlapping test windows at the end of ``n`` values (overlapping when short)."""
    shortest = min(usable_periods(n, seasons), default=0)
    min_train = max(2 * shortest, MIN_TRAIN_POINTS)
    longest = max(usable_periods(n, seasons, cycles=1), default=0)
    test = min(horizon, longest or max(1, n // 5), max(n - min_train, 0))
    if test < 1 or origins < 1:
        return BacktestPlan((), 0, min_train)
    room = n - test - min_train
    spacing = test if room >= test * (min(origins, 3) - 1) else max(1, room // max(origins - 1, 1))
    cuts = [n - test - j * spacing for j in range(origins)]
    return BacktestPlan(tuple(sorted(c for c in cuts if c >= min_train)), test, min_train)


def select_method(scores: dict[str, list[float]], independent_origins: float) -> tuple[str, str]:
    """The method to use and why: lowest mean MASE, the ensemble unless beaten by more than one SE."""
    import numpy as np

    means = {m: float(np.mean(v)) for m, v in scores.items()}
    best = min(means, key=means.get)
    if best == ENSEMBLE or ENSEMBLE not in scores:
        return best, f"lowest backtest MASE ({means[best]:.3f})"
    gap = np.asarray(scores[ENSEMBLE]) - np.asarray(scores[best])
    if independent_origins < MIN_ORIGINS_TO_OVERRULE:
        if means[best] < FEW_ORIGINS_FACTOR * means[ENSEMBLE]:
            return best, (f"lowest backtest MASE ({means[best]:.3f}), under {FEW_ORIGINS_FACTOR:g} x the ensemble's "
                          f"({means[ENSEMBLE]:.3f}) on {independent_origins:.3g} independent origins")
        return ENSEMBLE, (f"ensemble kept: {best} scored {means[best]:.3f} against {means[ENSEMBLE]:.3f}, too close "
                          f"to tell apart on {independent_origins:.3g} independent origins")
    se = float(gap.std(ddof=1) / math.sqrt(independent_origins))
    if gap.mean() > se:
        return best, (f"lowest backtest MASE ({means[best]:.3f}), better than the ensemble ({means[ENSEMBLE]:.3f}) "
                      f"by more than one standard error ({se:.3f})")
    return ENSEMBLE, (f"ensemble kept: {best} scored {means[best]:.3f} against {means[ENSEMBLE]:.3f}, "
                      f"within one standard error ({se:.3f}) over {independent_origins:.3g} independent origins")


@dataclass(frozen=True)
class FitCore:
    """What fitting one series produced, before timestamps are attached."""

    method: str
    reason: str
    point: Any
    """The point forecast (after the level hold)."""
    bands: dict
    scores: dict
    plan: BacktestPlan
    notes: tuple
    """Warnings in words: methods skipped, too little history, long horizon, worse than naive."""
    error_model: ErrorModel
    error_scale: Any
    """Per-period error normalizer (``band_scale``): a band is ``point + quantile x error_scale``."""
    hold_after: int | None = None
    """Lead time (periods) after which the level is held, when the horizon reaches past it."""
    widened: float = 0.0
    """Share of periods where a band was widened to contain the point forecast."""
    worse_than_naive: bool = False
    """Every candidate other than seasonal naive had a higher mean backtest MASE than it."""
    requested: str = "auto"


def _check_method(method: str) -> str:
    return check_choice("forecast.method", method, METHOD_CHOICES)


def _methods_for(method: str) -> tuple[str, ...]:
    return CANDIDATES if method == "auto" else tuple(dict.fromkeys((method, "seasonal_naive")))


def _cached(cache: dict, y, end: int, horizon: int, seasons, methods, failures: FailureLog) -> dict:
    """Forecasts from the window ending at ``end`` (memoized: the same window always gives the same answer)."""
    start = max(0, end - window_points(seasons))
    entry = cache.setdefault((start, end, horizon), ({}, {}))
    have, failed = entry
    missing = tuple(m for m in methods if m not in have)
    if missing:
        forecasts, why = window_forecasts(y[start:end], horizon, seasons, missing)
        have.update(forecasts)
        failed.update(why)
    failures.record((start, end), {m: w for m, w in failed.items() if m in methods or ENSEMBLE in methods})
    return have


PRELOADED_MODULES = ("scipy.linalg", "scipy.stats", "statsmodels.tsa.arima.model",
                     "statsmodels.tsa.exponential_smoothing.ets", "statsmodels.tsa.seasonal", "statsmodels.tsa.stattools")
"""Imported before BLAS is limited to one thread: a library first loaded inside ``threadpool_limits`` is not limited."""


def _preload_models() -> None:
    import importlib

    for name in PRELOADED_MODULES:
        importlib.import_module(name)


def fit_core(y, step_s: float, horizon: int, method: str = "auto", origins: int = BACKTEST_ORIGINS,
             cache: dict | None = None, progress: Callable[[int, int], None] | None = None) -> FitCore:
    """Backtest, choose, calibrate and forecast ``horizon`` values after ``y`` (numpy, regular step).

    BLAS runs on one thread here: the models' matrices are tiny, and a multi-threaded BLAS on a busy
    machine made the same ARIMA fits 25 times slower (0.33 s against 8.2 s on 2 loaded cores). The
    libraries are imported first, so the limit reaches them (PERF_NOTES hot spot 1).
    ``progress(done, total)`` is called after each fitting window (backtest origins, then the final fit).
    """
    from threadpoolctl import threadpool_limits

    _preload_models()
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_core(y, step_s, horizon, method, origins, {} if cache is None else cache, progress)


def _fit_core(y, step_s: float, horizon: int, method: str, origins: int, cache: dict, progress) -> FitCore:
    import numpy as np

    seasons = season_periods(step_s)
    methods = _methods_for(method)
    plan = backtest_plan(len(y), horizon, seasons, origins)
    failures = FailureLog()
    tick = progress or (lambda done, total: None)
    total = len(plan.origins) + 1
    tick(0, total)
    scores = {m: [] for m in methods}
    for i, cut in enumerate(plan.origins):
        window = y[max(0, cut - window_points(seasons)):cut]
        forecasts = _cached(cache, y, cut, plan.horizon, seasons, methods, failures)
        actual, scale = y[cut:cut + plan.horizon], mase_scale(window, seasons)
        for m in methods:
            scores[m].append(float(np.mean(np.abs(actual - forecasts[m]))) / scale)
        tick(i + 1, total)
    chosen, reason, worse = _choose(method, scores, plan)
    final = _cached(cache, y, len(y), horizon, seasons, (chosen,), failures)[chosen]
    tick(total, total)
    hold_after = len(y) if horizon > len(y) else None
    final = hold_level(final, hold_after, seasons) if hold_after else final
    if len(plan.origins) >= MIN_BAND_ORIGINS:
        model = ErrorModel("backtest", _backtest_errors(y, plan, seasons, chosen, cache, failures), plan.horizon,
                           plan.independent_origins, hold_after=hold_after or 0)
    else:
        model = naive_fallback_model(y, seasons, hold_after=hold_after or 0)
    scale = band_scale(final, float(np.mean(y[max(0, len(y) - window_points(seasons)):])))
    bands, widened = nested_bands(final, model.quantiles(horizon), scale)
    final_window = (max(0, len(y) - window_points(seasons)), len(y))
    return FitCore(chosen, reason, final, bands, scores, plan, failures.sentences(final_window), model, scale,
                   hold_after, widened, worse, method)


def _choose(method: str, scores: dict, plan: BacktestPlan) -> tuple[str, str, bool]:
    """The method, why, and whether every candidate backtested worse than seasonal naive."""
    import numpy as np

    if not plan.origins:
        if method != "auto":
            return method, "chosen by the user (no backtest: too little history)", False
        return "seasonal_naive", "too little history for a backtest", False
    means = {m: float(np.mean(v)) for m, v in scores.items()}
    naive = means.get("seasonal_naive")
    others = {m: v for m, v in means.items() if m != "seasonal_naive"}
    worse = naive is not None and bool(others) and min(others.values()) >= naive
    if method != "auto":
        return method, "chosen by the user", worse
    chosen, reason = select_method(scores, plan.independent_origins)
    return chosen, reason, worse


def hold_level(point, after: int, seasons: tuple[int, ...]):
    """Past lead time ``after`` repeat the forecast's last full cycle of the longest season that fits in it.

    The trend cap: a trend is projected for at most as long as it was observed (the history's length).
    """
    import numpy as np

    period = max((p for p in seasons if p <= after), default=1)
    held = np.asarray(point, dtype=float).copy()
    tail = np.arange(after, len(held))
    held[tail] = held[after - period + (tail - after) % period]
    return held


def nested_bands(point, quantiles, scale) -> tuple[dict, float]:
    """Bands ``point + quantile x scale``, made to nest around the point forecast and floored at zero.

    lower_95 <= lower_80 <= point <= upper_80 <= upper_95 always: where the calibrated errors were
    biased (the backtest under- or over-forecast on average) an 80% band that would miss the point
    forecast is widened to it. Returns the bands and the share of periods so widened.
    """
    import numpy as np

    raw = {name: point + quantiles[i] * scale for i, name in enumerate(BAND_LEVELS)}
    lower_80 = np.minimum(raw["lower_80"], point)
    upper_80 = np.maximum(raw["upper_80"], point)
    widened = float(np.mean((raw["lower_80"] > point) | (raw["upper_80"] < point))) if len(point) else 0.0
    bands = {"lower_95": np.minimum(raw["lower_95"], lower_80), "lower_80": lower_80,
             "upper_80": upper_80, "upper_95": np.maximum(raw["upper_95"], upper_80)}
    return {name: np.clip(band, 0.0, None) for name, band in bands.items()}, widened


def _backtest_errors(y, plan: BacktestPlan, seasons, method: str, cache: dict, failures: FailureLog):
    """Normalized errors (origins x periods) of ``method`` at the backtest origins."""
    import numpy as np

    rows = []
    for cut in plan.origins:
        window = y[max(0, cut - window_points(seasons)):cut]
        forecast = _cached(cache, y, cut, plan.horizon, seasons, (method,), failures)[method]
        rows.append((y[cut:cut + plan.horizon] - forecast) / band_scale(forecast, float(np.mean(window))))
    return np.array(rows)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ForecastResults:
    """A fitted demand forecast (read-only), like statsmodels' ``STLForecastResults``."""

    method: str
    """The method whose forecast this is (``auto`` resolved)."""
    requested_method: str
    selection: str
    """Why ``method`` was used."""
    frame: Any
    """pandas DataFrame indexed by timestamp: ``mean`` (the median forecast) and the four band columns."""
    history: Any
    """The :class:`demand_history.DemandHistory` it was fitted on."""
    seasonal_periods: tuple
    backtest_scores: dict
    """Method -> mean MASE over the backtest origins."""
    backtest_origins: int
    backtest_horizon: int
    warnings: tuple = ()
    assumptions: tuple = field(default_factory=tuple)
    error_model: ErrorModel | None = None
    """The normalized error distribution behind the bands (:mod:`forecast_intervals`)."""
    error_scale: Any = None
    """numpy array: per-period error normalizer; a band is ``mean + error quantile x error_scale``."""

    def summary_frame(self):
        """The forecast table: ``mean``, ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95``."""
        return self.frame.copy()

    def scenario(self, name: str):
        """Demand per period under ``optimistic`` (lower 80%), ``baseline`` (median) or ``pessimistic`` (upper 80%)."""
        return self.frame[SCENARIO_COLUMNS[check_choice("forecast.scenario", name, SCENARIOS)]]

    def step_peaks(self, step_periods: int, quantiles: tuple = (0.1, 0.5, 0.9), *, align: bool = True):
        """Quantiles of each step's PEAK demand; see :func:`step_peak_quantiles`."""
        return step_peak_quantiles(self, step_periods, quantiles, align=align)

    def scenario_step_peaks(self, name: str, step_periods: int, *, align: bool = True):
        """Each step's peak demand at the scenario's quantile (``SCENARIO_QUANTILES``: p10, p50, p90)."""
        q = SCENARIO_QUANTILES[check_choice("forecast.scenario", name, SCENARIOS)]
        return step_peak_quantiles(self, step_periods, (q,), align=align).iloc[:, -1].rename(f"peak_p{q * 100:g}")

    @property
    def backtest(self) -> dict:
        """Backtest summary for reports and JSON."""
        return {
            "metric": "MASE (scaled by the in-sample seasonal-naive change; below 1 beats it)",
            "origins": self.backtest_origins,
            "horizon_periods": self.backtest_horizon,
            "scores": {m: round(s, 4) for m, s in self.backtest_scores.items()},
            "selection": self.selection,
        }

    def to_dict(self, history_points: int | None = None) -> dict:
        """JSON-ready forecast: method, backtest, forecast records, the history it saw."""
        records = [{"timestamp": t.isoformat(), **{k: round(float(v), 6) for k, v in row.items()}}
                   for t, row in self.frame.iterrows()]
        hist = self.history
        return {
            "method": self.method,
            "requested_method": self.requested_method,
            "frequency": hist.frequency,
            "horizon_periods": len(self.frame),
            "seasonal_periods": list(self.seasonal_periods),
            "value_column": hist.value_name,
            "unit": hist.unit,
            "backtest": self.backtest,
            "bands_from": self.error_model.kind if self.error_model is not None else None,
            "forecast": records,
            "history": hist.to_records(history_points),
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
        }


def step_bounds(index, step_periods: int, align: bool = True) -> list[tuple[int, int]]:
    """``[(start, stop)]`` period ranges of consecutive steps of ``step_periods`` periods.

    ``align``: steps of a whole number of days start at midnight UTC (of a Monday for whole weeks),
    so the first step may be partial; otherwise steps count from the first forecast period.
    """
    import numpy as np
    import pandas as pd

    n = len(index)
    step = pd.Timedelta(index.freq.nanos * step_periods, "ns") if index.freq is not None else None
    day = pd.Timedelta(days=1)
    if not align or step is None or step % day != pd.Timedelta(0):
        return [(a, min(n, a + step_periods)) for a in range(0, n, step_periods)]
    epoch = pd.Timestamp("1970-01-05", tz=index.tz)  # a Monday
    labels = np.asarray((index - epoch) // step)
    cuts = [0] + [int(i) for i in np.flatnonzero(np.diff(labels)) + 1] + [n]
    return list(zip(cuts[:-1], cuts[1:]))


def step_peak_quantiles(results: ForecastResults, step_periods: int, quantiles: tuple = (0.1, 0.5, 0.9), *,
                        align: bool = True):
    """Quantiles of the PEAK demand within each step of ``step_periods`` periods (a day: 24 hourly periods).

    The rule: sample paths of the forecast's own error model (``forecast_intervals``): each path is
    ``mean + error_scale x (shared level shift + one backtest origin's deviation path)``, floored at
    zero; the step's peak is the path's maximum over the step, and its quantiles are taken over
    4,000 paths. Errors within a step are dependent as they were in the backtest (the level shift
    is common to the whole path, the deviations keep their hour-to-hour run), so the p90 of the peak
    is neither the sum nor simply the maximum of the hourly p90s (it is at least the latter).

    Returns a pandas DataFrame indexed by each step's first timestamp with ``periods`` (periods in the
    step), ``end`` (its last timestamp) and one column per quantile named ``p10``, ``p50``, ``p90``,
    in the history's units (multiply by ``results.history.rps_per_unit`` for requests per second).
    """
    import numpy as np
    import pandas as pd

    step_periods = check_number("step_periods", step_periods, integer=True)
    for q in quantiles:
        check_number("quantiles", q, maximum=1.0, inclusive=False)
    index = results.frame.index
    bounds = step_bounds(index, step_periods, align)
    point = results.frame["mean"].to_numpy(dtype=float)
    peaks = step_peak_quantiles_from(point, np.asarray(results.error_scale, dtype=float), results.error_model,
                                     bounds, tuple(quantiles))
    frame = pd.DataFrame(peaks, columns=[f"p{q * 100:g}" for q in quantiles],
                         index=pd.DatetimeIndex([index[a] for a, _ in bounds], name="step_start"))
    frame.insert(0, "end", [index[b - 1] for _, b in bounds])
    frame.insert(0, "periods", [b - a for a, b in bounds])
    return frame


class Forecaster:
    """Fit one of ``auto``, ``stl``, ``arima``, ``ets``, ``seasonal_naive``, ``ensemble`` to a demand history.

    Parameters
    ----------
    history : demand_history.DemandHistory
    method : str
        ``auto`` chooses by rolling-origin backtest MASE (see the module docstring).
    horizon_days : float
        How far ahead; the number of periods is ``ceil(horizon_days x 86400 / step)``.
    origins : int
        Backtest origins (more: steadier choice and bands, slower).
    """

    def __init__(self, history, method: str = "auto", horizon_days: float = 30, origins: int = BACKTEST_ORIGINS):
        self.history = history
        self.method = _check_method(method)
        self.horizon_days = check_number("forecast.horizon_days", horizon_days, maximum=3660)
        self.origins = check_number("forecast.origins", origins, integer=True, maximum=50)
        if self.horizon > MAX_HORIZON_PERIODS:
            raise InputError("forecast.horizon_days", horizon_days, f"at most {MAX_HORIZON_PERIODS} periods of the "
                             f"history's {history.step_s:g} s step (a shorter horizon or a coarser --frequency)")

    @property
    def horizon(self) -> int:
        """Periods to forecast."""
        return max(1, math.ceil(self.horizon_days * 86_400 / self.history.step_s - 1e-9))

    def fit(self, progress: Callable[[int, int], None] | None = None) -> ForecastResults:
        """Backtest, choose, calibrate the bands and forecast; returns a new results object.

        ``progress(done, total)``, when given, is called as fitting windows complete (``total`` is the
        backtest origins + 1); it draws nothing itself: a CLI can drive a progress bar with it.
        """
        import pandas as pd

        hist = self.history
        y = hist.series.to_numpy(dtype=float)
        core = fit_core(y, hist.step_s, self.horizon, self.method, self.origins, progress=progress)
        index = pd.date_range(hist.series.index[-1] + hist.series.index.freq, periods=self.horizon,
                              freq=hist.series.index.freq, name="timestamp")
        frame = pd.DataFrame({"mean": core.point, **{k: core.bands[k] for k in ("lower_80", "upper_80",
                                                                              "lower_95", "upper_95")}}, index=index)
        seasons = usable_periods(len(y), season_periods(hist.step_s))
        return ForecastResults(
            method=core.method, requested_method=self.method, selection=core.reason, frame=frame, history=hist,
            seasonal_periods=seasons,
            backtest_scores={m: sum(v) / len(v) for m, v in core.scores.items() if v},
            backtest_origins=len(core.plan.origins), backtest_horizon=core.plan.horizon,
            warnings=tuple(hist.warnings) + _history_warnings(hist, len(y)) + core.notes
            + _fit_warnings(core, hist, len(y), self.horizon),
            assumptions=_assumptions(core, self.horizon), error_model=core.error_model, error_scale=core.error_scale,
        )


def _span(periods: int, step_s: float) -> str:
    """``168 periods (7 days)``."""
    days, hours = periods * step_s / 86_400, periods * step_s / 3600
    if days >= 1:
        return f"{periods} periods ({plural(float(f'{days:.3g}'), 'day')})"
    return f"{periods} periods ({plural(float(f'{hours:.3g}'), 'hour')})"


def _history_warnings(hist, n: int) -> tuple:
    seasons = season_periods(hist.step_s)
    if not seasons or usable_periods(n, seasons):
        return ()
    days = n * hist.step_s / 86_400
    need = 2 * seasons[0] * hist.step_s / 86_400
    return (f"too little history for a seasonal model: {n} values ({days:.3g} days) at {hist.frequency}; "
            f"a {seasons[0]}-period season needs {2 * seasons[0]} values ({need:g} days): fitted without seasonality",)


def _fit_warnings(core: FitCore, hist, n: int, horizon: int) -> tuple:
    """Warnings about the bands' basis, the horizon and the backtest's verdict."""
    out = []
    step_s = hist.step_s
    if core.error_model.kind != "backtest":
        out.append(f"only {_span(n, step_s)} of history: {len(core.plan.origins)} backtest origins, "
                   f"{MIN_BAND_ORIGINS} are needed to calibrate the bands; they come from the history's own "
                   f"{core.error_model.test_horizon}-period changes widened by Student's t with "
                   f"{core.error_model.degrees_of_freedom} degrees of freedom: treat them as rough")
    tested = core.plan.horizon
    if core.hold_after or (tested and horizon > HORIZON_BACKTEST_FACTOR * tested):
        past = [f"longer than the history ({_span(n, step_s)})"] if core.hold_after else []
        if tested and horizon > HORIZON_BACKTEST_FACTOR * tested:
            past.append(f"{horizon / tested:.1f} x the {_span(tested, step_s)} the backtest checked")
        out.append(f"the horizon of {_span(horizon, step_s)} is " + " and ".join(past)
                   + ": past what was checked the bands widen by an assumed rule"
                   + (f" and the level is held after {_span(n, step_s)}" if core.hold_after else "")
                   + "; read the far end as a range, not a trend")
    out += _quality_warnings(core)
    return tuple(out)


def _quality_warnings(core: FitCore) -> list:
    import numpy as np

    means = {m: float(np.mean(v)) for m, v in core.scores.items() if v}
    mine, naive = means.get(core.method), means.get("seasonal_naive")
    out = []
    if core.worse_than_naive and core.requested != "auto":
        out.append(f"{core.method} backtested worse than seasonal naive (MASE {mine:.2f} against {naive:.2f}); "
                   "method 'auto' would choose between them by the backtest")
    elif core.worse_than_naive:
        best = min((m for m in means if m != "seasonal_naive"), key=means.get)
        verdict = (f"every method backtested worse than seasonal naive (MASE {naive:.2f}; the best other, {best}, "
                   f"{means[best]:.2f})")
        out.append(f"{verdict}: seasonal naive is used" if core.method == "seasonal_naive" else
                   f"{verdict}, by less than the backtest can tell apart ({core.reason}): {core.method} kept")
    if mine is not None and mine > POOR_MASE:
        out.append(f"the backtest MASE of {core.method} is {mine:.2f}: its errors averaged {mine:.1f} times the "
                   "history's typical change from one season to the next, a poor fit: treat the forecast as rough")
    return out


def _assumptions(core: FitCore, horizon: int) -> tuple:
    model = core.error_model
    if model.kind == "backtest":
        basis = f"calibrated on {len(core.plan.origins)} backtest origins of {core.plan.horizon} periods"
    else:
        basis = (f"from the history's {model.test_horizon}-period changes (root mean square x Student's t, "
                 f"{model.degrees_of_freedom} degrees of freedom, x sqrt(cycles ahead)): too little history for a backtest")
    out = [f"forecast 'mean' is the median point forecast of {core.method}; bands are {basis}",
           "bands nest around the point forecast (lower_95 <= lower_80 <= mean <= upper_80 <= upper_95) and are "
           "floored at 0: demand is never negative"]
    if core.widened > 0:
        out.append(f"the backtest errors were biased: on {core.widened:.0%} of periods an 80% band was widened "
                   "to contain the point forecast")
    if model.kind == "backtest" and horizon > core.plan.horizon:
        out.append(f"beyond {core.plan.horizon} periods the band width grows with sqrt(h / {core.plan.horizon}) "
                   "(random-walk level drift), an extrapolation the backtest does not check"
                   + (f"; it stops growing after {core.hold_after} periods, where the level is held"
                      if core.hold_after else ""))
    out.append("trend: damped (ETS damping estimated) and capped: past a lead time as long as the history the "
               "forecast repeats its last full season (level held) and the bands stop widening"
               + (f"; applied here after {core.hold_after} periods" if core.hold_after else ""))
    if core.worse_than_naive:
        out.append(f"seasonal naive backtested best on this history; {core.method} is used ({core.reason})")
    return tuple(out)


# --------------------------------------------------------------------------- evaluation


def rolling_evaluation(history, horizon: int, outer_origins: int = 7, method: str = "auto",
                       origins: int = BACKTEST_ORIGINS) -> dict:
    """Honest out-of-sample check: fit on the data before each of the last ``outer_origins`` windows.

    Each outer fit runs its own inner backtest and selection on the data before that origin, exactly
    as :meth:`Forecaster.fit` does (forecasts of identical windows are shared, not recomputed).
    Returns the mean MASE of the forecast, of the seasonal-naive baselines (shortest and longest
    season) and the share of actuals inside the 80% and 95% bands.
    """
    import numpy as np

    y = history.series.to_numpy(dtype=float)
    seasons = season_periods(history.step_s)
    cache: dict = {}
    rows = []
    for j in range(outer_origins, 0, -1):
        cut = len(y) - j * horizon
        if cut < MIN_TRAIN_POINTS:
            continue
        core = fit_core(y[:cut], history.step_s, horizon, method, origins, cache)
        actual, train = y[cut:cut + horizon], y[max(0, cut - window_points(seasons)):cut]
        scale = mase_scale(train, seasons)
        daily = min(usable_periods(len(train), seasons, cycles=1), default=1)
        rows.append({
            "origin": int(cut), "method": core.method,
            "mase": float(np.mean(np.abs(actual - core.point))) / scale,
            "mase_seasonal_naive": float(np.mean(np.abs(actual - seasonal_naive_forecast(train, horizon, seasons)))) / scale,
            "mase_seasonal_naive_shortest": float(np.mean(np.abs(actual - seasonal_naive_forecast(
                train, horizon, (daily,))))) / scale,
            "coverage_80": float(np.mean((actual >= core.bands["lower_80"]) & (actual <= core.bands["upper_80"]))),
            "coverage_95": float(np.mean((actual >= core.bands["lower_95"]) & (actual <= core.bands["upper_95"]))),
        })
    if not rows:
        raise InputError("history", f"{len(y)} values", f"more than {outer_origins} x {horizon} values to evaluate")
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("origin", "method")}
    summary["ratio_to_seasonal_naive"] = summary["mase"] / summary["mase_seasonal_naive"]
    return {**summary, "origins": rows}
