"""Price catalog speed: importing pricing (with config and models), the first load of
data/cloud_prices.csv, one quote, and the whole compare table (every GPU x provider). Cold numbers
come from fresh interpreters. Targets: load + first quote < 20 ms, quote < 1 ms warm,
cheapest_offers_by_gpu < 10 ms warm.

    python benchmarks/bench_pricing.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD = ("import time, sys; sys.path.insert(0, {root!r}); t0 = time.perf_counter(); import pricing; "
        "t1 = time.perf_counter(); pricing.quote('H100-80GB'); print(t1 - t0, time.perf_counter() - t1)")


def cold_s(repeats: int = 5) -> tuple[float, float]:
    """Median seconds for ``import pricing`` and for the catalog load + first quote, in new interpreters."""
    code = COLD.format(root=str(ROOT))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(repeats)]
    return statistics.median(float(r[0]) for r in runs), statistics.median(float(r[1]) for r in runs)


def warm_s(call, repeats: int = 200) -> float:
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    import pricing

    import_s, load_s = cold_s()
    print(f"cold import pricing (+config, models): {import_s * 1e3:.1f} ms")
    print(f"cold catalog load + first quote:       {load_s * 1e3:.1f} ms")
    print(f"warm quote(H100-80GB):                 {warm_s(lambda: pricing.quote('H100-80GB')) * 1e3:.3f} ms")
    print(f"warm cheapest_offers_by_gpu():         {warm_s(pricing.cheapest_offers_by_gpu, 50) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
