"""Forecast uncertainty: the error model behind the bands, its sample paths and step peaks.

Errors are *normalized*: an error divided by ``|forecast| + BAND_SCALE_SHARE x window mean``, so one
model serves any demand level (and multiplying the history by a constant multiplies the bands by it).
Two models:

- ``backtest``: the normalized errors of the rolling-origin backtest (origins x periods). An origin's
  median error is a level shift whose spread over K origins is widened by Student's t (K-1 degrees of
  freedom) and ``sqrt(1 + 1/K)`` (a prediction interval for one new origin); the deviations around
  each origin's median are resampled. The median, not the mean: on bursty traffic (BurstGPT) one
  origin's burst would otherwise lift the level of every sample path, and the daily-peak quantiles
  with it (``benchmarks/eval_step_peaks.py``). Beyond the backtest horizon the shift's spread grows with
  ``sqrt(h / backtest horizon)`` (a random-walk level), an assumption the backtest cannot check.
- ``naive_fallback`` (too little history for a backtest): the history's own seasonal-naive changes
  ``y[t] - y[t - m]`` (m = the longest season with one full cycle, else 1), normalized the same way;
  their root mean square x Student's t quantile with (changes - 1) degrees of freedom (wider than a
  normal quantile when there are few) x ``sqrt(cycles ahead)`` (FPP3 section 5.5, seasonal naive).

Sample paths (for the peak of a step of several periods): a path is the shared shift (one draw for
the whole horizon: errors within a step are *dependent* through the level) plus the deviation path
of one backtest origin, read from a random offset, one block of the backtest horizon after another;
so a path keeps the within-window dependence the backtest saw (a burst lasting hours stays a burst).
The fallback model's paths use one Student-t draw per path (fully dependent errors).

numpy and scipy are imported inside the functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BAND_LEVELS = {"lower_95": 0.025, "lower_80": 0.10, "upper_80": 0.90, "upper_95": 0.975}
"""Band column -> quantile of the forecast distribution."""
BAND_SCALE_SHARE = 0.5
"""Error normalizer: |forecast| + this share of the window mean."""
SIMULATION_DRAWS = 4_000
QUANTILE_CHUNK_PERIODS = 512
"""Periods whose simulated draws are held at once (512 x 4,000 floats, 16 MB)."""


def band_scale(forecast, window_mean: float):
    """Error normalizer of the bands: ``|forecast| + BAND_SCALE_SHARE x window mean``."""
    import numpy as np

    return np.abs(forecast) + BAND_SCALE_SHARE * window_mean + 1e-300


def _growth(start: int, stop: int, test_horizon: int, hold_after: int = 0):
    """Spread multiplier of the level shift at lead times ``start+1 .. stop``: ``sqrt(max(1, h / test))``,
    ``h`` capped at ``hold_after`` when given (where the forecast's level is held, so is the band's growth)."""
    import numpy as np

    lead = np.arange(start + 1, stop + 1)
    lead = np.minimum(lead, hold_after) if hold_after else lead
    return np.sqrt(np.maximum(1.0, lead / max(test_horizon, 1)))


def calibrated_quantiles(errors, horizon: int, test_horizon: int, independent_origins: float | None = None,
                         seed: int = 0, levels: tuple = tuple(BAND_LEVELS.values()), hold_after: int = 0):
    """Quantiles (``levels`` x ``horizon``) of normalized backtest errors for a new origin.

    ``errors`` is origins x periods of normalized backtest errors. Each origin's median is a shift
    drawn from Student's t (K-1 degrees of freedom, K = ``independent_origins``, by default the
    number of rows) scaled by ``sqrt(1 + 1/K)``; within-origin deviations are resampled; the
    shift's spread grows with ``sqrt(h / test_horizon)`` beyond it (up to lead ``hold_after`` when given).
    """
    import numpy as np

    shift_mean, shift_draws, deviations = _shift_and_within(errors, independent_origins, seed, SIMULATION_DRAWS)
    within_draws = np.random.default_rng(seed + 1).choice(deviations.ravel(), SIMULATION_DRAWS)
    out = []
    for start in range(0, horizon, QUANTILE_CHUNK_PERIODS):  # memory bounded by the chunk
        g = _growth(start, min(horizon, start + QUANTILE_CHUNK_PERIODS), test_horizon, hold_after)
        draws = shift_mean + shift_draws[None, :] * g[:, None] + within_draws[None, :]
        out.append(np.quantile(draws, list(levels), axis=1))
    return np.concatenate(out, axis=1)


def _shift_and_within(errors, independent_origins: float | None, seed: int, draws: int):
    """The mean of the origins' levels (each origin's median error), ``draws`` level shifts for a new origin, and
    each origin's deviations around its level (origins x periods)."""
    import numpy as np

    errors = np.atleast_2d(np.asarray(errors, dtype=float))
    rows = errors.shape[0]
    k = min(float(independent_origins or rows), rows)
    shifts = np.median(errors, axis=1)  # robust to bursts: one burst must not shift every other origin's path
    spread = float(shifts.std(ddof=1)) * math.sqrt(1 + 1 / k) if rows > 1 else 0.0
    shift_draws = spread * np.random.default_rng(seed).standard_t(max(k - 1, 1.0), draws)
    return float(shifts.mean()), shift_draws, errors - shifts[:, None]


@dataclass(frozen=True)
class ErrorModel:
    """The distribution of normalized errors around a point forecast (see the module docstring)."""

    kind: str
    """``backtest`` or ``naive_fallback``."""
    errors: Any
    """numpy array: backtest errors (origins x periods), or the history's normalized seasonal changes (1 x n)."""
    test_horizon: int
    """Periods of one backtest window (``backtest``), or the season length m of the changes (``naive_fallback``)."""
    independent_origins: float = 0.0
    seed: int = 0
    hold_after: int = 0
    """Lead time after which the spread stops growing (the forecast's level is held there); 0: never."""

    @property
    def degrees_of_freedom(self) -> int:
        """Student-t degrees of freedom of the fallback (changes - 1, at least 1)."""
        return max(int(self.errors.size) - 1, 1)

    def _fallback_sd(self) -> float:
        import numpy as np

        return float(np.sqrt(np.mean(np.square(self.errors)))) if self.errors.size else 0.0

    def _fallback_growth(self, start: int, stop: int):
        """``sqrt(cycles ahead)``: seasonal naive's h-step error grows with ``floor((h - 1) / m) + 1`` (h capped
        at ``hold_after``)."""
        import numpy as np

        lead = np.arange(start, stop)
        lead = np.minimum(lead, self.hold_after - 1) if self.hold_after else lead
        return np.sqrt(np.floor(lead / max(self.test_horizon, 1)) + 1)

    def quantiles(self, horizon: int, levels: tuple = tuple(BAND_LEVELS.values())):
        """Normalized error quantiles, ``levels`` x ``horizon``."""
        import numpy as np
        from scipy.stats import t as student_t

        if self.kind == "backtest":
            return calibrated_quantiles(self.errors, horizon, self.test_horizon, self.independent_origins or None,
                                        self.seed, levels, self.hold_after)
        factor = student_t.ppf(np.asarray(levels), self.degrees_of_freedom) * self._fallback_sd()
        return factor[:, None] * self._fallback_growth(0, horizon)[None, :]

    def paths(self, start: int, stop: int, draws: int = SIMULATION_DRAWS):
        """Normalized error sample paths for lead times ``start+1 .. stop`` (draws x periods).

        The same draw index is the same path whatever ``start``/``stop`` (chunks join up).
        """
        import numpy as np

        if self.kind != "backtest":
            common = np.random.default_rng(self.seed).standard_t(self.degrees_of_freedom, draws) * self._fallback_sd()
            return common[:, None] * self._fallback_growth(start, stop)[None, :]
        errors = np.atleast_2d(np.asarray(self.errors, dtype=float))
        shift_mean, shift_draws, deviations = _shift_and_within(errors, self.independent_origins or None, self.seed,
                                                                draws)
        block = errors.shape[1]
        out = np.empty((draws, stop - start))
        for j in range(start // block, (stop - 1) // block + 1):
            rng = np.random.default_rng([self.seed, 7, j])
            rows = rng.integers(0, errors.shape[0], draws)
            offset = rng.integers(0, block, draws)
            lo, hi = max(start, j * block), min(stop, (j + 1) * block)
            cols = (offset[:, None] + np.arange(lo - j * block, hi - j * block)[None, :]) % block
            out[:, lo - start:hi - start] = deviations[rows[:, None], cols]
        growth = _growth(start, stop, self.test_horizon, self.hold_after)
        return shift_mean + shift_draws[:, None] * growth[None, :] + out


def naive_fallback_model(y, seasons: tuple[int, ...], seed: int = 0, hold_after: int = 0) -> ErrorModel:
    """The fallback error model from the history's seasonal-naive changes (longest season with one cycle)."""
    import numpy as np

    lag = max((p for p in seasons if len(y) > p), default=1)
    lag = lag if len(y) > lag else 1
    change = y[lag:] - y[:-lag]
    normalized = change / band_scale(y[:-lag], float(np.mean(y)))
    return ErrorModel("naive_fallback", normalized[None, :], lag, 0.0, seed, hold_after)


def step_peak_quantiles_from(point, scale, model: ErrorModel, bounds: list, quantiles: tuple,
                             draws: int = SIMULATION_DRAWS):
    """Quantiles (steps x quantiles) of each step's peak over sample paths ``point + scale x error path``.

    ``point`` and ``scale`` are per-period numpy arrays of the forecast and of its error normalizer;
    ``bounds`` the steps' ``(start, stop)`` periods, consecutive. Paths are floored at zero (demand).
    Paths are simulated a chunk of whole steps at a time (the same draw is the same path across chunks).
    """
    import numpy as np

    rows = []
    i = 0
    while i < len(bounds):
        j = i + 1
        while j < len(bounds) and bounds[j][1] - bounds[i][0] <= QUANTILE_CHUNK_PERIODS:
            j += 1
        start, stop = bounds[i][0], bounds[j - 1][1]
        sim = np.maximum(point[start:stop] + scale[start:stop] * model.paths(start, stop, draws), 0.0)
        rows += [np.quantile(sim[:, a - start:b - start].max(axis=1), list(quantiles)) for a, b in bounds[i:j]]
        i = j
    return np.array(rows).reshape(-1, len(quantiles))
