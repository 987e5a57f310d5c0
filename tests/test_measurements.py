"""The measurements CSV: every cell validated with the file, row and column named; shipped data as the same rows."""

from __future__ import annotations

import json

import pytest

import calibration
import measurements
from measurements import HEADER, Measurement, read_measurements, shipped_measurements, write_measurements
from models import InputError

SAMPLES = measurements.CALIBRATION_DIR / "samples"
GOOD = {"kind": "decode_step_ms", "model": "llama-3.1-8b", "gpu": "H100", "precision": "BF16", "kv_precision": "",
        "tensor_parallel": "1", "batch": "8", "context_tokens": "2048", "input_tokens": "", "output_tokens": "",
        "engine": "vllm 0.8.5", "value": "9.5", "unit": "ms", "source": "nsys"}


def write_csv(path, rows: list[dict], columns=None):
    columns = columns or list(rows[0])
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_row_reads_with_canonical_names(tmp_path):
    (row,) = read_measurements(write_csv(tmp_path / "m.csv", [GOOD]))
    assert (row.kind, row.gpu, row.batch, row.context_tokens, row.value) == ("decode_step_ms", "H100-80GB", 8, 2048, 9.5)
    assert row.architecture.num_layers == 32 and row.kv == "FP16" and row.id == "row 1"


@pytest.mark.parametrize("column,bad,expected", [
    ("kind", "decode_ms", "one of decode_step_ms"),
    ("gpu", "H1000", "a known GPU"),
    ("model", "llama-9-8b", "a known model"),
    ("precision", "FP6", "one of FP32"),
    ("batch", "eight", "a whole number"),
    ("batch", "0", "a whole number > 0"),
    ("value", "-3", "a finite number > 0"),
    ("value", "nan", "a finite number > 0"),
    ("unit", "tokens/s", "the unit of decode_step_ms"),
    ("context_tokens", "", "decode_step_ms needs batch, context_tokens"),
    ("input_tokens", "128", "an empty cell: decode_step_ms uses"),
    ("tensor_parallel", "1.5", "a whole number"),
    ("tensor_parallel", "3", "a divisor of the model's 32 attention heads"),
])
def test_a_bad_cell_names_file_row_and_column(tmp_path, column, bad, expected):
    path = write_csv(tmp_path / "m.csv", [GOOD, {**GOOD, column: bad}])
    with pytest.raises(InputError) as caught:
        read_measurements(path)
    message = str(caught.value)
    assert f"{path} row 2 (line 3), column {column}" in message and expected in message, message


def test_serving_rows_need_exactly_one_regime(tmp_path):
    row = {**GOOD, "kind": "ttft_ms", "batch": "", "context_tokens": "", "input_tokens": "1024", "output_tokens": "256",
           "request_rate": "4", "concurrency": "16"}
    path = write_csv(tmp_path / "m.csv", [row], list(HEADER) + ["request_rate", "concurrency"])
    with pytest.raises(InputError, match=r"row 1 \(line 2\), column batch, request_rate, concurrency.*exactly one"):
        read_measurements(path)


def test_header_problems_are_named(tmp_path):
    with pytest.raises(InputError, match="did you mean concurrency"):
        read_measurements(write_csv(tmp_path / "a.csv", [{**GOOD, "concurency": "4"}]))
    with pytest.raises(InputError, match="unit.*missing"):
        read_measurements(write_csv(tmp_path / "b.csv", [{k: v for k, v in GOOD.items() if k != "unit"}]))
    with pytest.raises(InputError, match="at least one measurement row"):
        read_measurements(write_csv(tmp_path / "c.csv", [], list(HEADER)))


def test_a_wrong_header_shows_what_the_file_had_and_what_is_missing(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("foo,bar,gpu\n1,2,H100-80GB\n")
    missing = [column for column in HEADER if column != "gpu"]  # the file has only gpu of the required columns
    with pytest.raises(InputError) as caught:
        read_measurements(path)
    assert str(caught.value) == (f"{path} header: got 'foo,bar,gpu'; expected the columns {','.join(HEADER)} "
                                 f"(missing: {', '.join(missing)})")


def test_units_convert_to_the_kinds_unit(tmp_path):
    """0.0095 s is 9.5 ms; 1 GB is 1e9 / 2**30 = 0.93132 GiB."""
    training = {**GOOD, "kind": "training_peak_memory_gib", "batch": "8", "context_tokens": "2048", "value": "1",
                "unit": "GB", "micro_batch": "8"}
    rows = read_measurements(write_csv(tmp_path / "m.csv", [{**GOOD, "value": "0.0095", "unit": "s"}, training],
                                       list(HEADER) + ["micro_batch"]))
    assert rows[0].value == pytest.approx(9.5)
    assert rows[1].value == pytest.approx(0.931323, rel=1e-5)


def test_training_layout_columns(tmp_path):
    """64 GPUs at TP 2 x PP 4 are 8 data-parallel ranks; a global batch of 64 then means micro-batch 8."""
    row = {**GOOD, "kind": "training_tokens_per_s", "tensor_parallel": "2", "batch": "64", "context_tokens": "4096",
           "value": "250000", "unit": "tokens/s", "num_gpus": "64", "pipeline_parallel": "4", "zero_stage": "1",
           "gradient_checkpointing": "true", "method": "full"}
    columns = list(HEADER) + ["num_gpus", "pipeline_parallel", "zero_stage", "gradient_checkpointing", "method"]
    (parsed,) = read_measurements(write_csv(tmp_path / "m.csv", [row], columns))
    assert (parsed.training.data_parallel, parsed.training.micro_batch, parsed.training.zero_stage) == (8, 8, 1)
    assert parsed.training.gradient_checkpointing
    with pytest.raises(InputError, match="column num_gpus.*multiple of tensor_parallel x pipeline_parallel"):
        read_measurements(write_csv(tmp_path / "bad.csv", [{**row, "num_gpus": "12"}], columns))
    with pytest.raises(InputError, match="column num_gpus.*empty cell: decode_step_ms is an inference"):
        read_measurements(write_csv(tmp_path / "inf.csv", [{**GOOD, "num_gpus": "8"}], list(HEADER) + ["num_gpus"]))


def test_model_from_a_config_json_beside_the_csv(tmp_path):
    config = {"num_hidden_layers": 12, "hidden_size": 1024, "num_attention_heads": 16, "num_key_value_heads": 4,
              "intermediate_size": 4096, "vocab_size": 32000, "max_position_embeddings": 4096}
    (tmp_path / "tiny.json").write_text(json.dumps(config), encoding="utf-8")
    (row,) = read_measurements(write_csv(tmp_path / "m.csv", [{**GOOD, "model": "tiny.json"}]))
    assert (row.architecture.num_layers, row.architecture.num_kv_heads) == (12, 4)


def test_instruct_and_quantized_ids_map_to_the_base_shape():
    assert measurements.cell_architecture("nvidia/Llama-3.1-8B-Instruct-FP8").id == "llama-3.1-8b"
    with pytest.raises(InputError, match="a known model"):
        measurements.cell_architecture("acme/Unknown-7B-Instruct")


def test_write_then_read_gives_the_same_rows(tmp_path):
    source = list(read_measurements(SAMPLES / "trtllm_1.0_perf_overview.csv"))
    online = Measurement(kind="itl_ms", model="llama-3.1-8b", gpu="H100-80GB", value=14.2, input_tokens=1024,
                         output_tokens=256, concurrency=64, engine="vllm", source="bench serve")
    training = read_measurements(write_csv(tmp_path / "t.csv", [{
        **GOOD, "kind": "training_tokens_per_s", "batch": "16", "value": "9000", "unit": "tokens/s",
        "num_gpus": "2", "method": "lora", "lora_rank": "8"}], list(HEADER) + ["num_gpus", "method", "lora_rank"]))
    rows = source + [online] + list(training)
    again = read_measurements(write_measurements(rows, tmp_path / "again.csv"))
    strip = lambda m: (m.kind, m.model, m.gpu, m.precision, m.kv, m.tensor_parallel, m.batch, m.context_tokens,  # noqa: E731
                       m.input_tokens, m.output_tokens, m.request_rate, m.concurrency, m.engine, m.value, m.source,
                       m.training)
    assert [strip(m) for m in again] == [strip(m) for m in rows]


def test_every_published_inference_row_becomes_a_measurement():
    """Rows added to published.csv flow in: each inference row converts, or the program stops."""
    published = {r["id"] for r in measurements.load_published() if r["category"].startswith("inference")}
    shipped = {m.id for m in shipped_measurements() if m.group == "inference"}
    assert published <= shipped


@pytest.mark.parametrize("regime,metric,field,value", [
    ("concurrency 64", "ttft_ms (mean)", "concurrency", 64),
    ("batch 8 (static)", "e2e_latency_ms", "batch", 8),
    ("rate 2.5 req/s", "itl_ms (mean TPOT)", "request_rate", 2.5),
])
def test_published_latency_rows_follow_the_documented_convention(regime, metric, field, value):
    row = {"id": "GT-900", "category": "inference_latency", "model": "Llama-3.1-8B", "precision": "FP8",
           "gpu": "H100-SXM-80GB", "num_gpus": "1", "isl": "1024", "osl": "256", "batch_or_concurrency": regime,
           "engine": "vLLM 0.8", "metric": metric, "value": "12.5", "unit": "ms"}
    m = measurements.published_measurement(row)
    assert (m.kind, getattr(m, field), m.input_tokens, m.output_tokens, m.precision) == (
        metric.split()[0], value, 1024, 256, "FP8")
    with pytest.raises(ValueError, match="does not start with an inference kind"):
        measurements.published_measurement({**row, "metric": "goodput_rps"})


def test_cli_refuses_a_bad_file_with_status_2(tmp_path, capsys):
    path = write_csv(tmp_path / "m.csv", [{**GOOD, "gpu": "H1000"}])
    assert calibration.main(["validate", "--measurements", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "column gpu" in err[0]


def test_cli_validate_renders_the_rows_and_summary_tables(tmp_path):
    import io

    path = write_csv(tmp_path / "m.csv", [GOOD, {**GOOD, "batch": "32", "value": "12.0"}])
    out = io.StringIO()
    assert calibration.main(["validate", "--measurements", str(path)], stdout=out) == 0
    text = out.getvalue()
    # the typed report's own sections, never the generic key: value dump of an unknown result
    assert "ROWS (farthest off first)" in text and "SUMMARY" in text and "RESULT" not in text
    assert text.count("row 1") == 1 and text.count("row 2") == 1


def test_crossval_table_keeps_every_group_and_its_numbers_at_80_columns():
    import io

    from reports import render_crossval

    group = "L40S and A100-PCIe, PCIe only (fit on NVLink GPUs)"
    out = io.StringIO()
    render_crossval({"inference": {group: {"rows": 59, "median_abs_error_pct": 8.67, "max_abs_error_pct": 48.08}}},
                    out, width=80)
    lines = out.getvalue().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    (numbers,) = [line for line in lines if line.strip().startswith("59")]
    assert numbers.split()[:3] == ["59", "8.7", "48.1"] and "L40S" in numbers
