#!/usr/bin/env python3
"""Command line: JSON configs and flags in, capacity plans out.

    python commands/forecast.py --generate-config inference
    python commands/forecast.py --config inference_config.json --rps 20
    python commands/forecast.py --mode inference --rps 10 --input-tokens 500 --output-tokens 200 \\
        --model-size 70 --precision FP16 --gpu-type A100-80GB --cost --output inference_plan.json
    python commands/forecast.py --mode fleet --history fleet.parquet --service-column service \\
        --model llama-3.1-8b --gpu-type H100-80GB --executor dask --output fleet.json

The parser definition is kept apart from the flow (``build_parser`` / ``run``); ``main(argv)``
maps every error to an exit status in one place and returns it, so tests call it in-process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.common import (  # noqa: E402
    NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, ExitStatus, Parser, check_fleet, guarded, number, parse, program_name,
    streams,
)

# --------------------------------------------------------------------------- definition

# flag dest -> (section, key) in the config, or (key,) at its top level; a dict value maps by mode (a fleet's
# flags go where a forecast's do: FLAGS_MODE).
FLAG_TARGETS: dict[str, tuple | dict] = {
    "rps": ("workload", "requests_per_second"),
    "input_tokens": {"forecast": ("forecast", "avg_input_tokens"),
                     "latency": ("latency", "input_tokens"), None: ("workload", "avg_input_tokens")},
    "output_tokens": {"forecast": ("forecast", "avg_output_tokens"),
                      "latency": ("latency", "output_tokens"), None: ("workload", "avg_output_tokens")},
    "peak_multiplier": {"forecast": ("forecast", "peak_load_multiplier"),
                        None: ("workload", "peak_load_multiplier")},
    "ttft_slo_ms": {"forecast": ("forecast", "ttft_slo_ms"),
                    "latency": ("latency", "ttft_slo_ms"), None: ("workload", "ttft_slo_ms")},
    "itl_slo_ms": {"forecast": ("forecast", "itl_slo_ms"),
                   "latency": ("latency", "itl_slo_ms"), None: ("workload", "itl_slo_ms")},
    "model": ("model", "model"),
    "model_config": ("model", "model_config_path"),
    "model_size": ("model", "model_size_billions"),
    "precision": ("model", "precision"),
    "kv_precision": ("model", "kv_precision"),
    "context_window": ("model", "context_window"),
    "batch_size": {"latency": ("latency", "batch_size"), None: ("model", "batch_size")},
    "engine": ("gpu", "engine"),
    "gpu_type": ("gpu", "gpu_type"),
    "tensor_parallel": {"training": ("training", "tensor_parallel"), None: ("gpu", "tensor_parallel")},
    "target_utilization": ("gpu", "target_gpu_utilization"),
    "gpu_memory_utilization": ("gpu", "gpu_memory_utilization"),
    "dataset_size": ("training", "dataset_size_tokens"),
    "sequence_length": ("training", "sequence_length"),
    "epochs": ("training", "num_epochs"),
    "global_batch_size": ("training", "global_batch_size"),
    "micro_batch_size": ("training", "micro_batch_size"),
    "optimizer": ("training", "optimizer_type"),
    "gradient_checkpointing": ("training", "gradient_checkpointing"),
    "lora_rank": ("training", "lora_rank"),
    "zero_stage": ("training", "zero_stage"),
    "pipeline_parallel": ("training", "pipeline_parallel"),
    "mixed_precision": ("training", "mixed_precision"),
    "mfu": ("training", "mfu"),
    "deadline_hours": ("training", "deadline_hours"),
    "num_gpus": ("training", "num_gpus"),
    "method": {"training": ("training", "method"), "forecast": ("forecast", "method"), None: ("training", "method")},
    "cost": ("options", "include_cost"),
    "cloud": ("options", "cloud"),
    "pricing": ("options", "pricing"),
    "region": ("options", "region"),
    "price_per_gpu_hour": ("options", "price_per_gpu_hour"),
    "price_file": ("options", "price_file"),
    "history": ("forecast", "history"),
    "timestamp_column": ("forecast", "timestamp_column"),
    "value_column": ("forecast", "value_column"),
    "horizon_days": ("forecast", "horizon_days"),
    "scenario": ("forecast", "scenario"),
    "frequency": ("forecast", "frequency"),
    "current_replicas": ("forecast", "current_replicas"),
    "provision_every": ("forecast", "provision_every"),
    "efficiency_profile": ("profile",),
    "measurements": ("measurements",),
    "date_format": ("forecast", "date_format"),
    "service_column": ("fleet", "service_column"),
    "executor": ("fleet", "executor"),
    "dask_scheduler": ("fleet", "dask_scheduler"),
    "workers": ("fleet", "workers"),
    "retry_failed": ("fleet", "retry_failed"),
}
FLAGS_MODE = {"fleet": "forecast"}
"""Modes whose flags go where another mode's do (a fleet is many forecasts)."""
FLAG_NAMES = {"mixed_precision": "--no-mixed-precision"}
"""Flags not spelled ``--`` + their dest with dashes."""


def _run_as(prog: str) -> str:
    """How the user runs this program: ``python commands/forecast.py`` from the checkout, else its name."""
    return f"python {'commands/' if prog == 'forecast.py' else ''}{prog}" if prog.endswith(".py") else prog


def build_parser(prog: str = "forecast.py") -> argparse.ArgumentParser:
    from models import FLEET_EXECUTORS, MODES, PROVISION_STEPS, SERVING_ENGINES

    parser = Parser(
        prog=prog,
        description="LLM infrastructure capacity planner: inference, training, demand forecast, cost.",
        epilog=f"Example: {_run_as(prog)} --mode inference --rps 10 --input-tokens 500 "
               "--output-tokens 200 --model llama-3.1-70b --gpu-type H100-80GB --cost",
    )
    # ---- mode and files
    run = parser.add_argument_group("run")
    run.add_argument("--mode", choices=MODES, help="what to plan (default: the config's mode, else inference)")
    run.add_argument("--config", metavar="FILE", help="JSON config file; flags override its values")
    run.add_argument("--generate-config", choices=("inference", "training", "forecast", "fleet"),
                     help="write <mode>_config.json in the current directory and exit")
    run.add_argument("--output", metavar="FILE", help="write the plan as JSON to FILE (fleet: FILE.parquet writes a table)")
    run.add_argument("--format", choices=("table", "json"), default="table", help="stdout format (default table)")
    run.add_argument("--plot", metavar="FILE.png", help="draw the plan or forecast to a PNG file")
    run.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    run.add_argument("--efficiency-profile", metavar="FILE",
                     help="plan with a calibration profile (python calibration.py fit) instead of the shipped fits")
    run.add_argument("--measurements", metavar="FILE.csv",
                     help="validate: your benchmark results (measurements CSV; default: the shipped calibration data)")
    run.add_argument("--list-models", action="store_true", help="list the model catalog (--family to filter) and exit")
    run.add_argument("--list-gpus", action="store_true", help="list the GPU catalog and exit")
    run.add_argument("--family", help="with --list-models: one family (Llama, Qwen, Gemma, Mistral, DeepSeek, ...)")
    # ---- workload
    workload = parser.add_argument_group("inference workload")
    workload.add_argument("--rps", type=POSITIVE, help="average requests per second")
    workload.add_argument("--input-tokens", type=POSITIVE_INT, help="average prompt tokens per request")
    workload.add_argument("--output-tokens", type=POSITIVE_INT, help="average generated tokens per request")
    workload.add_argument("--peak-multiplier", type=number(float, minimum=1, inclusive=True),
                          help="peak / average load (default 1.5); forecasts: the load within a period over its forecast "
                               "(default 1 for hourly history, 1.5 for coarser steps)")
    workload.add_argument("--ttft-slo-ms", type=POSITIVE, help="time-to-first-token target, ms")
    workload.add_argument("--itl-slo-ms", type=POSITIVE, help="inter-token latency target, ms")
    # ---- model
    model = parser.add_argument_group("model")
    model.add_argument("--model", help="catalog id (llama-3.1-70b) or Hugging Face id")
    model.add_argument("--model-config", metavar="PATH", help="a Hugging Face config.json")
    model.add_argument("--model-size", type=POSITIVE, metavar="B", help="parameters in billions (derives a Llama-like shape)")
    model.add_argument("--precision", type=str.upper, help="weights: FP32, FP16, BF16, FP8, INT8, INT4, MXFP4, NVFP4 "
                       "(default: the checkpoint's format, else FP16)")
    model.add_argument("--kv-precision", type=str.upper, help="KV cache: FP32, FP16, BF16, FP8, INT8")
    model.add_argument("--context-window", type=POSITIVE_INT,
                       help="the engine's maximum model length (vLLM --max-model-len): one sequence this long must fit")
    model.add_argument("--batch-size", type=POSITIVE_INT,
                       help="inference: cap on running sequences per replica (vLLM --max-num-seqs); latency: the static batch")
    # ---- hardware
    gpu = parser.add_argument_group("hardware")
    gpu.add_argument("--gpu-type", help="GPU (H100-80GB, A100-80GB, H200-141GB, L40S-48GB, ...); default: the cheapest that meets the targets")
    gpu.add_argument("--engine", type=str.lower, choices=SERVING_ENGINES,
                     help="serving engine whose KV-memory policy and batch limits to plan with (default vllm)")
    gpu.add_argument("--tensor-parallel", type=POSITIVE_INT, help="tensor-parallel degree")
    gpu.add_argument("--target-utilization", type=number(float), help="planned share of sustainable load (default 0.7)")
    gpu.add_argument("--gpu-memory-utilization", type=number(float), help="share of GPU memory the engine takes (default: the engine's: "
                     "vLLM 0.9 of all memory, TensorRT-LLM 0.9 of what weights leave, SGLang 0.81-0.88 by TP)")
    gpu.add_argument("--num-gpus", type=POSITIVE_INT, help="training: fix the GPU count")
    # ---- training
    training = parser.add_argument_group("training")
    training.add_argument("--dataset-size", type=POSITIVE_INT, metavar="TOKENS", help="training tokens per epoch")
    training.add_argument("--sequence-length", type=POSITIVE_INT, help="tokens per sequence")
    training.add_argument("--epochs", type=POSITIVE, help="epochs")
    training.add_argument("--global-batch-size", type=POSITIVE_INT, help="sequences per optimizer step")
    training.add_argument("--micro-batch-size", type=POSITIVE_INT, help="sequences per GPU per forward pass")
    training.add_argument("--optimizer", help="AdamW, Adam, Adafactor, SGD, AdamW-8bit")
    training.add_argument("--gradient-checkpointing", action="store_true", default=None, help="recompute activations")
    training.add_argument("--method", help="training: full, lora, qlora; forecast: auto, stl, arima, ets, seasonal_naive, ensemble")
    training.add_argument("--lora-rank", type=POSITIVE_INT, help="LoRA rank (default 16)")
    training.add_argument("--zero-stage", type=NON_NEGATIVE_INT, help="ZeRO stage 0-3 (FSDP full shard = 3)")
    training.add_argument("--pipeline-parallel", type=POSITIVE_INT, help="pipeline-parallel degree")
    training.add_argument("--no-mixed-precision", dest="mixed_precision", action="store_false", default=None,
                          help="keep everything in --precision (no fp32 master weights)")
    training.add_argument("--mfu", type=number(float), help="model FLOPs utilization to assume (0-1)")
    training.add_argument("--deadline-hours", type=POSITIVE, help="finish within this many hours")
    # ---- cost
    cost = parser.add_argument_group("cost")
    cost.add_argument("--cost", action="store_true", default=None, help="include cost estimates")
    cost.add_argument("--cloud", type=str.lower, help="aws, gcp, azure, lambda, coreweave, runpod")
    cost.add_argument("--pricing", type=str.lower, help="on-demand, spot, reserved-1y, reserved-3y")
    cost.add_argument("--region", help="cloud region")
    cost.add_argument("--price-per-gpu-hour", type=POSITIVE, metavar="USD", help="override the price")
    cost.add_argument("--price-file", metavar="FILE", help="CSV or JSON price rows that win over the built-in ones")
    # ---- forecast
    forecast = parser.add_argument_group("demand forecast")
    forecast.add_argument("--history", metavar="FILE", help="CSV of traffic history or a request log")
    forecast.add_argument("--timestamp-column", help="timestamp column (default: detected)")
    forecast.add_argument("--value-column", help="value column (default: first numeric)")
    forecast.add_argument("--horizon-days", type=POSITIVE, help="days to forecast (default 30)")
    forecast.add_argument("--scenario", help="optimistic, baseline, pessimistic")
    forecast.add_argument("--frequency", help="aggregation frequency for request logs (pandas alias, e.g. h)")
    forecast.add_argument("--date-format", metavar="FORMAT",
                          help="strftime format of the history's timestamps, e.g. '%%d/%%m/%%Y %%H:%%M' (day-first dates)")
    forecast.add_argument("--provision-every", choices=PROVISION_STEPS,
                          help="provisioning step: size capacity for each day's (1d, default) or week's (1w) peak")
    forecast.add_argument("--current-replicas", type=POSITIVE_INT,
                          help="replicas running now (default: those the planner sizes for the history's recent peak)")
    # ---- fleet
    fleet = parser.add_argument_group("fleet (--mode fleet: every service of a long table)")
    fleet.add_argument("--service-column", help="column naming the service in the --history table (default service)")
    fleet.add_argument("--executor", choices=FLEET_EXECUTORS,
                       help="local: processes on this machine (default); dask: a Dask cluster")
    fleet.add_argument("--dask-scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786); default with --executor dask: a LocalCluster")
    fleet.add_argument("--workers", type=POSITIVE_INT, help="worker processes here or in the LocalCluster (default: CPUs)")
    fleet.add_argument("--retry-failed", metavar="PREVIOUS",
                       help="plan only the services that failed in this earlier --output (JSON or Parquet) and merge")
    return parser


# --------------------------------------------------------------------------- flow


def flag_target(dest: str, mode: str) -> tuple[str, ...]:
    """The config key a flag sets in ``mode``: ``(section, key)``, or ``(key,)`` at the top level."""
    target = FLAG_TARGETS[dest]
    return target.get(FLAGS_MODE.get(mode, mode), target[None]) if isinstance(target, dict) else target


def flag_modes(dest: str) -> tuple[str, ...]:
    """The modes whose plan uses a flag (its config key there is used: ``config_loader.APPLIES_IN``)."""
    from config_loader import applies_in
    from models import MODES

    return tuple(mode for mode in MODES if mode in applies_in(flag_target(dest, mode)))


def given_flags(args: argparse.Namespace) -> dict[str, object]:
    """``{dest: value}`` of the planning flags typed (every one defaults to ``None``, so ``None`` is not typed)."""
    return {dest: getattr(args, dest) for dest in FLAG_TARGETS if getattr(args, dest, None) is not None}


def check_flags_apply(args: argparse.Namespace, mode: str) -> None:
    """Refuse a flag the mode would ignore (``--history`` in inference) rather than plan without it."""
    from models import NotInModeError

    for dest, value in given_flags(args).items():
        modes = flag_modes(dest)
        if mode not in modes:
            raise NotInModeError(FLAG_NAMES.get(dest, "--" + dest.replace("_", "-")), value, modes, mode)


def apply_overrides(config: dict, args: argparse.Namespace, mode: str) -> dict:
    """Write every flag the user gave into its config section (flags win over the file)."""
    for dest, value in given_flags(args).items():
        target = flag_target(dest, mode)
        if len(target) == 1:
            config[target[0]] = value
        else:
            config.setdefault(target[0], {})[target[1]] = value
    config["mode"] = mode
    return config


def run(args: argparse.Namespace, stdout) -> ExitStatus:
    """Carry out one parsed command (raises :class:`PlannerError` for user errors)."""
    from config_loader import (
        check_output_path, check_outputs_apart, input_paths, load_config, plan_request, write_json_atomic,
    )
    from llm_forecast_engine import LLMForecastEngine

    if args.generate_config:
        return _generate_config(args.generate_config, stdout)
    if args.list_models or args.list_gpus or args.family is not None:
        return _list_catalog(args, stdout)
    for path, flag, suffix in ((args.output, "--output", None), (args.plot, "--plot", ".png")):
        if path is not None:
            check_output_path(path, flag, suffix)  # before any work: a bad path never leaves one file of two
    config = load_config(args.config) if args.config is not None else {}
    mode = args.mode or config.get("mode") or "inference"
    check_flags_apply(args, mode)
    config = apply_overrides(config, args, mode)
    check_outputs_apart({"--output": args.output, "--plot": args.plot}, input_paths(config, args.config))
    request = plan_request(config)
    if mode == "fleet":
        return _run_fleet(request, args, stdout)
    from reports import working

    with working(f"planning ({mode})") as progress:  # on a terminal's stderr after a second; nothing otherwise
        result = LLMForecastEngine().plan(request, progress=progress)
        if args.plot is not None:
            from plots import plot

            plot(result, args.plot)
    if args.output is not None:
        write_json_atomic(args.output, result.to_dict())
    _print(result, args.format, stdout)
    return ExitStatus.OK


def _list_catalog(args: argparse.Namespace, stdout) -> ExitStatus:
    """``--list-models [--family F]`` or ``--list-gpus``: the catalog as a table or ``--format json``."""
    import json

    import config
    from models import InputError

    if args.family is not None and not args.list_models:
        raise InputError("--family", args.family, "--list-models as well (it filters the model list)")
    records = config.model_records(args.family) if args.list_models else config.gpu_records()
    if args.format == "json":
        print(json.dumps(records, indent=2), file=stdout)
        return ExitStatus.OK
    from reports import render_catalog

    render_catalog(records, "models" if args.list_models else "gpus", stdout)
    return ExitStatus.OK


def _run_fleet(request, args: argparse.Namespace, stdout) -> ExitStatus:
    """Plan every service of the table with a progress bar; write and show the result, then say what failed."""
    from fleet import check_output, write_result
    from llm_forecast_engine import LLMForecastEngine
    from models import InputError
    from reports import working

    if args.plot is not None:
        raise InputError("--plot", args.plot, "no picture in fleet mode (each service's plan: --mode forecast)")
    if args.output is not None:
        check_output(args.output)
    with working("planning the fleet") as progress:
        result = LLMForecastEngine().plan(request, progress=progress)
    if args.output is not None:
        write_result(args.output, result.to_dict())
    _print(result, args.format, stdout)
    check_fleet(result, args.output)
    return ExitStatus.OK


def _generate_config(mode: str, stdout) -> ExitStatus:
    """Write ``<mode>_config.json`` here, never over a file that exists (it may hold someone's edits)."""
    from pathlib import Path

    from config_loader import template, write_json_atomic
    from models import InputError

    target = Path(f"{mode}_config.json")
    if target.exists():
        raise InputError("--generate-config", mode, f"a template whose file is free ({target} exists here: "
                         "edit it, or move it away to get a fresh template)")
    print(f"wrote {write_json_atomic(target, template(mode))}", file=stdout)
    return ExitStatus.OK


def _print(result, fmt: str, stdout) -> None:
    import json

    if fmt == "json":
        print(json.dumps(result.to_dict(), indent=2, default=str, allow_nan=False), file=stdout)
        return
    from reports import render

    render(result, stdout)


def _start_wizard(stdout, stderr, prog: str) -> ExitStatus:
    from llm_agent import run_wizard

    return ExitStatus(run_wizard(stdout=stdout, stderr=stderr, prog=prog))


def main(argv: list[str] | None = None, stdout=None, stderr=None, prog: str | None = None) -> int:
    """Run the CLI and return its exit status (0 ok, 1 internal error, 2 user error, 130 interrupted).

    ``prog``: the name usage lines show (default: what the program was started as, see :func:`program_name`)."""
    prog = prog or program_name(argv, "forecast.py")
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout, stderr = streams(stdout, stderr)

    def action() -> int:
        if not argv:
            return _start_wizard(stdout, stderr, prog)
        return run(parse(build_parser(prog), argv, stdout), stdout)

    return guarded(action, debug="--debug" in argv, stderr=stderr, stdout=stdout)


if __name__ == "__main__":
    sys.exit(main())
