"""Serving engines' memory and batching policies (vLLM, TensorRT-LLM, SGLang) from ``data/serving_engines.json``.

An engine decides three things the planner needs: how much GPU memory its KV cache gets (a share of all memory,
or of what is free after the weights), when it admits a sequence (as its KV grows, or only when the whole
sequence fits), and how many sequences and prompt tokens one forward pass may carry. Each default is read from
the engine's documentation or source (the data file cites them); the plan's assumptions state them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import config
from models import SERVING_ENGINES, GPUSpec, check_choice


@dataclass(frozen=True)
class EnginePolicy:
    """One engine's defaults resolved for a GPU type and tensor-parallel degree."""

    id: str
    name: str
    kv_memory_basis: str
    """``total``: KV = fraction x all memory - weights - activations - context; ``free``: KV = fraction x (memory
    left after weights, activations and context)."""
    memory_fraction: float
    admission: str
    """``on_demand``: a running sequence holds KV for its tokens so far; ``reserve_full``: it is admitted only when
    KV for its whole input + output is free."""
    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool
    fused_kernels: bool = False
    """The engine compiles the model into fused kernels (TensorRT-LLM) rather than running PyTorch modules."""
    sources: tuple = ()

    def tokens_held(self, input_tokens: int, output_tokens: int) -> float:
        """Mean KV tokens one running sequence holds at steady state: all of them under a full reservation, else
        the prompt plus half the output (sequences are spread evenly over their decode)."""
        return input_tokens + output_tokens if self.admission == "reserve_full" else input_tokens + output_tokens / 2

    def describe(self) -> str:
        """One sentence for a plan's assumptions."""
        basis = ("of GPU memory for weights, activations and KV cache" if self.kv_memory_basis == "total"
                 else "of the memory left after weights and activations for the KV cache")
        admission = ("a sequence starts only when KV for its whole input + output is free"
                     if self.admission == "reserve_full" else "sequences hold KV for the tokens they have so far")
        chunks = "chunked prefill" if self.chunked_prefill else "whole-prompt prefill"
        return (f"Serving engine {self.name}: {self.memory_fraction:.0%} {basis}; {admission}; at most "
                f"{self.max_num_seqs} running sequences and {self.max_num_batched_tokens} tokens per forward pass, "
                f"{chunks} interleaved with decode (defaults from the engine's documentation, "
                f"data/serving_engines.json).")


@functools.lru_cache(maxsize=None)
def _table() -> dict:
    return json.loads((config.DATA_DIR / "serving_engines.json").read_text(encoding="utf-8"))


def _by_gpu_class(values: dict, spec: dict, gpu: GPUSpec) -> float:
    """The value for ``gpu``'s class: ``large_gpu`` (memory >= a bound, family not excluded), ``small_gpu``
    (memory under a bound), else ``default``."""
    family = gpu.id.split("-")[0]
    large = gpu.memory_gib >= spec.get("large_gpu_min_memory_gib", float("inf")) and \
        family not in spec.get("large_gpu_excluded", ())
    if large and "large_gpu" in values:
        return values["large_gpu"]
    if gpu.memory_gib < spec.get("small_gpu_max_memory_gib", 0) and "small_gpu" in values:
        return values["small_gpu"]
    return values["default"]


def _by_tensor_parallel(values: dict, tensor_parallel: int) -> float:
    """The value for the largest listed degree ``tpN`` at or below ``tensor_parallel`` (``default`` below all)."""
    degrees = sorted(int(k[2:]) for k in values if k.startswith("tp"))
    below = [d for d in degrees if d <= tensor_parallel]
    return values[f"tp{below[-1]}"] if below else values["default"]


def engine_policy(engine: str, gpu: GPUSpec, tensor_parallel: int = 1,
                  memory_fraction: float | None = None) -> EnginePolicy:
    """``engine``'s defaults on ``tensor_parallel`` x ``gpu``; ``memory_fraction`` overrides its memory share."""
    engine = check_choice("gpu.engine", engine, SERVING_ENGINES)
    spec = _table()[engine]
    fraction = memory_fraction or _by_tensor_parallel(spec["memory_fraction"], tensor_parallel)
    return EnginePolicy(
        id=engine, name=spec["name"], kv_memory_basis=spec["kv_memory_basis"], memory_fraction=fraction,
        admission=spec["admission"],
        max_num_seqs=int(_by_gpu_class(spec["max_num_seqs"], spec, gpu)),
        max_num_batched_tokens=int(_by_gpu_class(spec["max_num_batched_tokens"], spec, gpu)),
        chunked_prefill=spec["chunked_prefill"], fused_kernels=spec["fused_kernels"],
        sources=tuple(v for k, v in spec.items() if k.endswith("_source")),
    )


def engine_of(text: str) -> str:
    """The engine a free-text label names (``TensorRT-LLM 0.14.0 (trtllm-bench ...)`` -> trtllm); vllm otherwise."""
    lower = text.lower()
    if "tensorrt" in lower or "trtllm" in lower or "trt-llm" in lower or "nim" in lower.split():
        return "trtllm"
    return "sglang" if "sglang" in lower else "vllm"
