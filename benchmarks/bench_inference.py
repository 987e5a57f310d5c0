"""Inference planner speed: one plan in-process (target < 20 ms) and the whole CLI run
(target < 1.5x the time of ``python -c "import numpy, pandas"``).

    python benchmarks/bench_inference.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLI = [sys.executable, str(ROOT / "commands" / "forecast.py"), "--mode", "inference", "--rps", "10",
       "--input-tokens", "500", "--output-tokens", "200", "--model-size", "70", "--precision", "FP16",
       "--gpu-type", "A100-80GB", "--cost", "--format", "json"]
BASELINE = [sys.executable, "-c", "import numpy, pandas"]


def time_plan(repeats: int = 30) -> float:
    from llm_forecast_engine import LLMForecastEngine
    from models import GPUConfig, LLMWorkloadInput, ModelConfig

    engine = LLMForecastEngine()
    workload = LLMWorkloadInput(requests_per_second=10.0, avg_input_tokens=500, avg_output_tokens=200)
    model = ModelConfig(model_size_billions=70, precision="FP16")
    gpu = GPUConfig(gpu_type="A100-80GB")
    engine.generate_inference_plan(workload, model, gpu, include_cost=True)  # warm caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.generate_inference_plan(workload, model, gpu, include_cost=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_command(argv: list[str], repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


if __name__ == "__main__":
    plan_ms = time_plan() * 1e3
    cli_s, base_s = time_command(CLI), time_command(BASELINE)
    print(f"one plan in-process: {plan_ms:.1f} ms (target < 20 ms)")
    print(f"CLI run: {cli_s * 1e3:.0f} ms; import numpy, pandas: {base_s * 1e3:.0f} ms; ratio {cli_s / base_s:.2f} (target < 1.5)")
