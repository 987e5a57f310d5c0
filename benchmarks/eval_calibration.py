"""Does a calibration profile help on rows it was not fitted on? (the numbers in README_calibration_section.md)

1. Half of the shipped rows by GPU: a profile fitted on one half (prior: the shipped fit) predicts the other
   half, against the shipped fit. The shipped fit was fitted on both halves, so there it is in-sample.
2. A new stack: for each source of the shipped data, the shipped procedure is rerun without that source
   (what the planner would ship had it never seen it); a profile fitted on half of the source's rows (by GPU,
   else every other row) predicts the other half, against that refit.
3. The TensorRT-LLM 1.0 tables (data/calibration/samples, not in the shipped fit): fit on H200, predict H100
   and the reverse, against the shipped fit.

    python benchmarks/eval_calibration.py [--prior-weight 0.3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOPPER = ("H100", "H200", "GH200")
BALANCE = None  # set from --balance-kinds


def median_error(rows, values) -> float:
    from calibration import predictions

    return statistics.median(abs(p / r.value - 1) * 100 for r, p in zip(rows, predictions(rows, values)))


def profile_gain(fit_rows, test_rows, base: dict, prior_weight: float) -> tuple[float, float]:
    """Median |error| % on ``test_rows``: with ``base``, and with a profile fitted on ``fit_rows`` around it."""
    from calibration import fit_profile

    values = fit_profile(fit_rows, base=base, prior_weight=prior_weight, balance_kinds=BALANCE).values
    return median_error(test_rows, base), median_error(test_rows, values)


def shipped_refit(rows) -> dict:
    """The shipped procedure (both groups, physical priors) on ``rows``."""
    from calibration import _fit_group

    inference = _fit_group("inference", rows)
    training = _fit_group("training", rows)
    return {**inference, **{k: v for k, v in training.items() if k.startswith("training.")}}


def halves(rows):
    """Two halves of a source: by GPU when it spans GPUs (Hopper against the rest), else every other row of each kind."""
    first = [r for r in rows if (r.gpu or "").startswith(HOPPER)]
    if 0 < len(first) < len(rows):
        return first, [r for r in rows if r not in first], "Hopper / other GPUs"
    ordered = sorted(rows, key=lambda r: r.kind)  # alternate within each kind: both halves hold every kind
    return ordered[::2], ordered[1::2], "alternate rows"


SOURCES = {
    "TensorRT-LLM 0.14 throughput tables": lambda r: r.kind == "saturated_output_tokens_per_s",
    "gpt-fast batch-1 decode (A100)": lambda r: r.kind == "decode_step_ms" and r.engine != "pytorch",
    "H200 PyTorch decode/prefill": lambda r: r.engine == "pytorch",
    "H200 HF transformers training": lambda r: r.engine == "HF transformers",
    "Megatron-LM / MosaicML training": lambda r: r.kind in ("training_tokens_per_s_per_gpu", "training_tflops_per_gpu"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prior-weight", type=float, default=None)
    parser.add_argument("--balance-kinds", choices=("yes", "no"), default=None)
    args = parser.parse_args()
    from calibration import PROFILE_BALANCE_KINDS, PROFILE_PRIOR_WEIGHT, cross_validated_predictions, error_summary, stock_values

    global BALANCE
    BALANCE = PROFILE_BALANCE_KINDS if args.balance_kinds is None else args.balance_kinds == "yes"
    from measurements import read_measurements, shipped_measurements

    weight = args.prior_weight if args.prior_weight is not None else PROFILE_PRIOR_WEIGHT
    start = time.perf_counter()
    rows = [r for r in shipped_measurements() if r.fitted]
    stock = stock_values()
    print(f"prior weight {weight}, kinds balanced: {BALANCE}; median |error| %: baseline -> profile on the "
          "held-out half\n")
    print("1. shipped rows split by GPU (the baseline is the shipped fit, in-sample on both halves)")
    hopper = [r for r in rows if (r.gpu or "").startswith(HOPPER)]
    other = [r for r in rows if r not in hopper]
    for name, fit_on, test_on in (("fit on Hopper, predict the rest", hopper, other),
                                  ("fit on the rest, predict Hopper", other, hopper)):
        before, after = profile_gain(fit_on, test_on, stock, weight)
        print(f"   {name:<45} {len(fit_on):>3} -> {len(test_on):>3} rows  {before:6.1f} -> {after:6.1f}")
    print("\n2. a new stack: each source held out of the shipped fit, a profile on half of it")
    for name, member in SOURCES.items():
        source = [r for r in rows if member(r)]
        base = shipped_refit([r for r in rows if not member(r)])
        first, second, how = halves(source)
        results = [profile_gain(a, b, base, weight) for a, b in ((first, second), (second, first))]
        text = "   ".join(f"{b:5.1f} -> {a:5.1f}" for b, a in results)
        print(f"   {name:<38} {len(source):>3} rows, halves: {how:<20} {text}")
    print("\n3. TensorRT-LLM 1.0 tables (not in the shipped fit), split by GPU")
    sample = list(read_measurements(ROOT / "data" / "calibration" / "samples" / "trtllm_1.0_perf_overview.csv"))
    h200 = [r for r in sample if r.gpu.startswith("H200")]
    h100 = [r for r in sample if r.gpu.startswith("H100")]
    for name, fit_on, test_on in (("fit on H200, predict H100", h200, h100), ("fit on H100, predict H200", h100, h200)):
        before, after = profile_gain(fit_on, test_on, stock, weight)
        print(f"   {name:<45} {len(fit_on):>3} -> {len(test_on):>3} rows  {before:6.1f} -> {after:6.1f}")
    cv, split = cross_validated_predictions(sample, prior_weight=weight, balance_kinds=BALANCE)
    before = error_summary(sample, __import__("calibration").predictions(sample, stock))["median_abs_error_pct"]
    print(f"   all 40 rows, {split:<34}        {before:6.1f} -> {error_summary(sample, cv)['median_abs_error_pct']:6.1f}")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
