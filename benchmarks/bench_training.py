"""Training planner speed: the seed's training plan in-process (named GPU, so the cheaper-GPU search
runs too; target < 300 ms), the same with the planner choosing the GPU, and the whole CLI run
(target < 1.5x the time of ``python -c "import numpy, pandas"``).

    python benchmarks/bench_training.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_inference import BASELINE, time_command  # noqa: E402

CLI = [sys.executable, str(ROOT / "commands" / "forecast.py"), "--mode", "training", "--dataset-size", "1000000000",
       "--sequence-length", "4096", "--epochs", "3", "--global-batch-size", "64", "--model-size", "70",
       "--precision", "BF16", "--optimizer", "AdamW", "--gradient-checkpointing", "--gpu-type", "H100-80GB",
       "--cost", "--format", "json"]


def time_plan(gpu_type: str | None, repeats: int = 10) -> float:
    from llm_forecast_engine import LLMForecastEngine
    from models import GPUConfig, ModelConfig, TrainingInput

    engine = LLMForecastEngine()
    training = TrainingInput(dataset_size_tokens=1_000_000_000, sequence_length=4096, num_epochs=3,
                             global_batch_size=64, gradient_checkpointing=True)
    model = ModelConfig(model_size_billions=70, precision="BF16")
    gpu = GPUConfig(gpu_type=gpu_type)
    engine.generate_training_plan(training, model, gpu, include_cost=True)  # warm caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.generate_training_plan(training, model, gpu, include_cost=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


if __name__ == "__main__":
    named_ms, chosen_ms = time_plan("H100-80GB") * 1e3, time_plan(None) * 1e3
    cli_s, base_s = time_command(CLI), time_command(BASELINE)
    print(f"one plan in-process, H100 named: {named_ms:.1f} ms; GPU chosen: {chosen_ms:.1f} ms (target < 300 ms)")
    print(f"CLI run: {cli_s * 1e3:.0f} ms; import numpy, pandas: {base_s * 1e3:.0f} ms; ratio {cli_s / base_s:.2f} (target < 1.5)")
