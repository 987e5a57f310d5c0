"""Importers of vllm bench and trtllm-bench results, on sample files written from their documented formats
(data/calibration/samples; field names from vLLM's and TensorRT-LLM's source, cited in benchmark_import.py)."""

from __future__ import annotations

import json

import pytest

import calibration
from benchmark_import import ImportContext, import_file
from measurements import CALIBRATION_DIR, read_measurements
from models import InputError

SAMPLES = CALIBRATION_DIR / "samples"
H100_8B = ImportContext(model="llama-3.1-8b", gpu="H100")


def test_vllm_latency_is_the_static_batch_e2e():
    """avg_latency 0.9461832 s of one batch -> 946.1832 ms; the batch and lengths come from the flags."""
    context = ImportContext(model="llama-3.1-8b", gpu="H100", batch=8, input_tokens=128, output_tokens=128)
    (row,) = import_file(SAMPLES / "vllm_bench_latency.json", context)
    assert (row.kind, row.batch, row.input_tokens, row.output_tokens) == ("e2e_latency_ms", 8, 128, 128)
    assert row.value == pytest.approx(946.1832)


def test_vllm_latency_without_the_batch_names_the_flag():
    with pytest.raises(InputError, match="--batch: .*does not record it"):
        import_file(SAMPLES / "vllm_bench_latency.json", H100_8B)


def test_vllm_throughput_output_tokens_per_second():
    """35.19546 requests/s x 256 output tokens = 9010.04 tokens/s; 1,280,000 tokens / 1000 requests = 1280 per
    request, so --output-tokens 256 alone means 1024 input tokens."""
    (row,) = import_file(SAMPLES / "vllm_bench_throughput.json",
                         ImportContext(model="llama-3.1-8b", gpu="H100", output_tokens=256))
    assert (row.kind, row.input_tokens, row.output_tokens) == ("saturated_output_tokens_per_s", 1024, 256)
    assert row.value == pytest.approx(35.19546 * 256)
    with pytest.raises(InputError, match="about the 1280 tokens per request"):
        import_file(SAMPLES / "vllm_bench_throughput.json",
                    ImportContext(model="llama-3.1-8b", gpu="H100", input_tokens=512, output_tokens=256))


def test_vllm_serve_at_a_request_rate_reads_its_metadata():
    """512000 / 500 = 1024 input and 128000 / 500 = 256 output tokens per request; GPU and TP from --metadata."""
    ttft, itl = import_file(SAMPLES / "vllm_bench_serve_rate4.json")
    assert (ttft.kind, ttft.value, ttft.request_rate, ttft.concurrency) == ("ttft_ms", 41.27, 4.0, None)
    assert (itl.kind, itl.value) == ("itl_ms", 8.62)  # mean_tpot_ms
    assert (ttft.gpu, ttft.tensor_parallel, ttft.input_tokens, ttft.output_tokens) == ("H100-80GB", 1, 1024, 256)
    assert ttft.architecture.id == "llama-3.1-8b"  # meta-llama/Llama-3.1-8B-Instruct


def test_vllm_serve_appended_results_at_fixed_concurrency():
    rows = import_file(SAMPLES / "vllm_bench_serve_concurrency.jsonl")
    assert [(r.kind, r.concurrency) for r in rows] == [
        ("ttft_ms", 16), ("itl_ms", 16), ("output_tokens_per_s", 16),
        ("ttft_ms", 64), ("itl_ms", 64), ("output_tokens_per_s", 64)]
    assert rows[5].value == 4353.3


def test_vllm_serve_at_infinite_rate_is_saturated_throughput(tmp_path):
    data = json.loads((SAMPLES / "vllm_bench_serve_rate4.json").read_text())
    path = tmp_path / "inf.json"
    path.write_text(json.dumps({**data, "request_rate": "inf", "max_concurrency": None}))
    (row,) = import_file(path)
    assert (row.kind, row.value) == ("saturated_output_tokens_per_s", data["output_throughput"])


def test_trtllm_latency_report():
    """trtllm-bench latency runs one request at a time: batch 1; FP8 from engine.quantization, the GPU from
    machine.name 'NVIDIA H100 80GB HBM3'."""
    e2e, ttft, itl = import_file(SAMPLES / "trtllm_bench_latency_report.json")
    assert [(r.kind, r.value, r.batch) for r in (e2e, ttft, itl)] == [
        ("e2e_latency_ms", 473.1085, 1), ("ttft_ms", 8.103, 1), ("itl_ms", 3.6614, 1)]
    assert (e2e.gpu, e2e.precision, e2e.kv, e2e.tensor_parallel) == ("H100-80GB", "FP8", "FP8", 1)
    assert e2e.engine.startswith("trtllm 0.20.0")


def test_trtllm_throughput_report_all_queued_or_at_a_concurrency():
    (row,) = import_file(SAMPLES / "trtllm_bench_throughput_report.json")
    assert (row.kind, row.value, row.input_tokens, row.output_tokens) == (
        "saturated_output_tokens_per_s", 15135.3, 1000, 1000)
    (capped,) = import_file(SAMPLES / "trtllm_bench_throughput_report.json", ImportContext(concurrency=64))
    assert (capped.kind, capped.concurrency) == ("output_tokens_per_s", 64)


def test_flags_that_contradict_the_file_are_refused():
    with pytest.raises(InputError, match="--gpu: got 'A100'; expected the value .* records \\('H100-80GB'\\)"):
        import_file(SAMPLES / "trtllm_bench_throughput_report.json", ImportContext(gpu="A100"))


def test_unknown_and_unsupported_files(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="a vllm bench latency/throughput"):
        import_file(other)
    report = json.loads((SAMPLES / "trtllm_bench_throughput_report.json").read_text())
    report["world_info"]["pp_size"] = 2
    piped = tmp_path / "pp.json"
    piped.write_text(json.dumps(report))
    with pytest.raises(InputError, match="world_info.pp_size"):
        import_file(piped)


def test_import_command_writes_a_measurements_file(tmp_path):
    output = tmp_path / "measurements.csv"
    files = [str(SAMPLES / n) for n in ("vllm_bench_serve_rate4.json", "vllm_bench_serve_concurrency.jsonl",
                                        "trtllm_bench_latency_report.json", "trtllm_bench_throughput_report.json")]
    assert calibration.main(["import", *files, "--output", str(output)]) == 0
    rows = read_measurements(output)
    assert len(rows) == 2 + 6 + 3 + 1
    assert calibration.main(["import", str(SAMPLES / "vllm_bench_latency.json"), "--output", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()
