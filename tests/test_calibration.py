"""The fitted efficiencies reproduce the calibration set and generalize to rows they were not fitted on."""

from __future__ import annotations

import json

import pytest

import calibration
import config

SUMMARY = calibration.summarize(calibration.validate_inference())


@pytest.mark.parametrize("quantity", ["decode_step_ms", "prefill_ms", "saturated_output_tokens_per_s"])
def test_median_error_within_ten_percent(quantity):
    assert SUMMARY[quantity]["median_abs_error_pct"] <= 10.0
    assert SUMMARY[quantity]["rows"] >= 5


def test_every_calibration_row_is_validated():
    h200 = calibration.load_h200()
    inference_rows = [r for r in calibration.load_published() if r["category"] == "inference_throughput"]
    ids = {r["id"] for r in calibration.validate_inference()}
    assert len(ids) >= len(h200["decode"]) + len(h200["prefill"]) + len(inference_rows)


def test_stored_fit_is_what_the_fit_produces():
    """data/efficiency_fit.json must come from fit_efficiency, not from hand tuning."""
    stored = config.fitted_parameters("efficiency_fit.json")
    refit = calibration.fit_efficiency(calibration.inference_cases(fitted_only=True)).__dict__
    for name, value in stored.items():
        assert refit[name] == pytest.approx(value, rel=0.02, abs=0.05), name


def test_matmul_ceilings_are_measured_shares_of_peak():
    """MAMF shares (data/gpu_matmul_ceilings.csv) are below 1 and known GPUs use their own measurement."""
    share, measured = config.matmul_ceiling("A100-80GB", "BF16")
    assert measured and share == pytest.approx(271.2 / 312)
    share, measured = config.matmul_ceiling("L40S-48GB", "FP16")
    assert not measured and 0.5 < share < 1


def test_efficiencies_are_physical():
    eff = config.fitted_parameters("efficiency_fit.json")
    for name in ("weight_bandwidth", "kv_bandwidth", "matmul", "matmul_fp8"):
        assert 0.3 <= eff[name] <= 1.0, name
    assert eff["allreduce_latency_us"] >= 1.0


@pytest.mark.parametrize("group", list(calibration.HOLDOUT_GROUPS))
def test_held_out_groups_within_fifteen_percent(group):
    """Refit without a group, predict it: the physics must carry to hardware and settings it did not see."""
    report = calibration.cross_validate({group: calibration.HOLDOUT_GROUPS[group]})
    assert report[group]["median_abs_error_pct"] <= 15.0, json.dumps(report)


def test_validate_mode_prints_rows_and_medians(cli):
    result = cli("--mode", "validate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["summary"]["decode_step_ms"]["median_abs_error_pct"] <= 10
    assert all({"id", "predicted", "measured", "error_pct"} <= set(row) for row in payload["rows"])
