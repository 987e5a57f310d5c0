"""Pictures of real results: the PNG is well formed, and the figure draws the result's own numbers."""

from __future__ import annotations

import pytest

import plots
from models import InputError, ValidationReport


@pytest.fixture(scope="module")
def real_plan():
    from llm_forecast_engine import LLMForecastEngine
    from models import GPUConfig, LLMWorkloadInput, ModelConfig

    return LLMForecastEngine().generate_inference_plan(
        LLMWorkloadInput(requests_per_second=20, avg_input_tokens=500, avg_output_tokens=200, itl_slo_ms=40),
        ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100-80GB"))


@pytest.fixture(scope="module")
def real_forecast():
    """Seasonal naive on three weeks of hourly rates whose daytime load needs more than one H100."""
    import pandas as pd

    from llm_forecast_engine import LLMForecastEngine
    from models import ForecastInput, GPUConfig, ModelConfig

    index = pd.date_range("2026-01-01", periods=21 * 24, freq="h", tz="UTC")
    history = pd.Series([10.0 + 60.0 * (8 <= i % 24 < 20) for i in range(len(index))], index=index, name="rps")
    question = ForecastInput(history=history, horizon_days=2, method="seasonal_naive", avg_input_tokens=1000,
                             avg_output_tokens=250, current_replicas=1)
    return LLMForecastEngine().forecast(question, ModelConfig(model="llama-3.1-8b"), GPUConfig(gpu_type="H100-80GB"))


def png_pixels(path):
    from matplotlib import image

    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    return image.imread(path)


def assert_drawn(pixels) -> None:
    """1100 x 450 px and not blank: many distinct colours, much non-white area."""
    import numpy as np

    width, height = (int(v * plots.PLOT_DPI) for v in plots.PLOT_SIZE_IN)
    assert pixels.shape[:2] == (height, width) == (450, 1100)
    rgb = (pixels[..., :3] * 255).astype(int).reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 50
    assert (rgb.sum(axis=1) < 600).mean() > 0.02


def _line(figure, label: str):
    return next(line for ax in figure.axes for line in ax.get_lines() if line.get_label() == label)


def test_inference_plot_is_a_sensible_png(real_plan, tmp_path):
    path = plots.plot(real_plan, tmp_path / "plan.png")
    assert_drawn(png_pixels(path))
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]


def test_inference_figure_marks_the_plans_operating_point_and_target(real_plan):
    figure = plots.inference_figure(real_plan)
    point = _line(figure, f"operating point (batch {real_plan.throughput.batch_size})")
    assert list(point.get_ydata()) == [real_plan.latency.itl_ms]
    assert list(_line(figure, "ITL target 40 ms").get_ydata()) == [40, 40]


def test_inference_sweep_reaches_the_kv_cache_limit(real_plan):
    points = plots.batch_sweep(real_plan)
    sizes = [p["batch_size"] for p in points]
    assert sizes == sorted(sizes) and real_plan.throughput.batch_size in sizes
    assert max(sizes) == real_plan.gpu_resources.max_concurrency_per_replica
    itl = [p["itl_ms"] for p in points]
    assert itl == sorted(itl)


def test_forecast_plot_is_a_sensible_png(real_forecast, tmp_path):
    assert_drawn(png_pixels(plots.plot(real_forecast, tmp_path / "forecast.png")))


def test_forecast_figure_draws_the_provisioning_steps_in_whole_gpus(real_forecast):
    figure = plots.forecast_figure(real_forecast)
    needed = [step["gpus_needed"] for step in real_forecast.provisioning_schedule]
    assert max(needed) > 1  # the daytime load needs more than the one replica running now
    steps = _line(figure, "GPUs provisioned")
    assert list(steps.get_ydata()) == [*needed, needed[-1]]  # one step per day, held to the horizon's end
    assert list(_line(figure, "GPUs now (1)").get_ydata()) == [1, 1]
    assert len(_line(figure, "median forecast").get_ydata()) == len(real_forecast.forecast)
    gpu_axis = next(ax for ax in figure.axes if ax.get_ylabel() == "GPUs")
    assert all(float(tick).is_integer() for tick in gpu_axis.get_yticks())
    assert figure.axes[0].get_ylabel() == "requests per second"  # the history's unit, in words


def test_cli_plot_flag_writes_the_png(cli, tmp_path):
    result = cli("--mode", "inference", "--rps", "20", "--input-tokens", "500", "--output-tokens", "200",
                 "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--plot", str(tmp_path / "p.png"),
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    png_pixels(tmp_path / "p.png")


@pytest.mark.parametrize("name,message", [
    ("plan.jpg", "ending in .png"),
    ("missing/plan.png", "existing directory"),
    ("adir.png", "not a directory"),
], ids=["not-png", "missing-dir", "is-a-directory"])
def test_bad_plot_paths(real_plan, tmp_path, name, message):
    (tmp_path / "adir.png").mkdir()
    with pytest.raises(InputError, match=message):
        plots.plot(real_plan, tmp_path / name)


def test_plot_of_a_result_without_a_picture(tmp_path):
    with pytest.raises(InputError, match="no picture"):
        plots.plot(ValidationReport(rows=[], summary={}), tmp_path / "x.png")


def test_failed_plot_keeps_the_old_file_and_leaves_no_temp(real_plan, tmp_path, monkeypatch):
    target = tmp_path / "plan.png"
    target.write_bytes(b"old")

    def broken(figure, handle, **kwargs):
        handle.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.plot(real_plan, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]


def test_the_sweep_passes_through_the_plans_operating_point(real_plan):
    """The curve drawn is the plan's own physics: at the plan's batch, the sweep's ITL is the plan's ITL."""
    point = next(p for p in plots.batch_sweep(real_plan) if p["batch_size"] == real_plan.throughput.batch_size)
    assert point["itl_ms"] > 0 and real_plan.latency.itl_ms > 0
    assert point["itl_ms"] == pytest.approx(real_plan.latency.itl_ms, rel=0.03)  # the plan runs a fractional batch
