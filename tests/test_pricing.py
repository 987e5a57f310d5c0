"""pricing.py: the dated price catalog, row selection, user overrides, file validation and cost maths."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pricing
from models import CostOptions, InputError, PriceQuote

TODAY = dt.date(2026, 11, 27)

# A valid user price row; tests override single cells.
ROW = {"provider": "aws", "instance_type": "p5.48xlarge", "gpu": "H100-SXM5-80GB", "gpus_per_instance": "8",
       "region": "us-east-1", "price_model": "on_demand", "usd_per_instance_hour": "", "usd_per_gpu_hour": "5.0",
       "source": "test quote", "as_of_date": "2026-06-01"}


def write_csv(path, rows, columns=pricing.REQUIRED_COLUMNS):
    """Write ``rows`` (dicts over ``ROW``) as a price CSV with ``columns``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**ROW, **row})
    return str(path)


def make_quote(**fields) -> PriceQuote:
    """A quote for the cost maths: $2/GPU-h on 8-GPU instances unless overridden."""
    base = dict(gpu_type="H100-80GB", usd_per_gpu_hour=2.0, provider="aws", instance_type="p5.48xlarge",
                gpus_per_instance=8, usd_per_instance_hour=16.0, pricing="on-demand", region="us-east-1",
                as_of_date="2026-06-01", age_days=0, source="test")
    return PriceQuote(**{**base, **fields})


# --------------------------------------------------------------------------- the built-in catalog


def test_builtin_catalog_keeps_every_row_it_can_use():
    rows, skipped = pricing.builtin_rows(), pricing.skipped_rows()
    with open(pricing.BUILTIN_FILE, newline="", encoding="utf-8") as handle:
        assert len(rows) + len(skipped) == sum(1 for _ in csv.DictReader(handle))
    assert all(r.usd_per_gpu_hour > 0 and r.source and r.as_of <= TODAY for r in rows)
    reasons = {reason.split("'")[1] for _, reason in skipped}
    assert reasons == {"V100-16GB", "B300", "A10", "A10 (1/3 GPU partition)", "H100-SXM5-80GB (Mega)",
                       "unknown (pre-2025-06 list; quoted in a doc dated 2026-04)", "unknown (catalog snapshot; undated)"}


@pytest.mark.parametrize(
    "gpu, options, provider, instance, as_of, usd_per_gpu_hour",
    [
        ("H100-80GB", dict(cloud="aws"), "aws", "p5.48xlarge", "2026-11-09", 6.88),
        ("H100-SXM5-80GB", dict(cloud="aws", region="US-EAST-1"), "aws", "p5.48xlarge", "2026-11-09", 6.88),
        ("H200-141GB", dict(cloud="aws", region="us-west-2"), "aws", "p5en.48xlarge", "2025-03-14", 10.6),
        ("H100-80GB", dict(cloud="gcp", pricing="spot"), "gcp", "a3-highgpu-1g", "2026-09-26", 6.571),
        ("H100-80GB", dict(cloud="gcp", pricing="reserved-3y"), "gcp", "a3-highgpu-1g", "2026-07-30", 4.858),
        ("A100-80GB", dict(cloud="azure"), "azure", "Standard_ND96amsr_A100_v4", "2025-01-01", 4.096),
        ("T4", dict(cloud="gcp"), "gcp", "n1-standard-8 + 1x nvidia-tesla-t4", "2026-05-11", 0.73),
        ("L4", dict(cloud="aws", pricing="reserved-1y"), "aws", "g6.xlarge", "2026-01-21", 0.5239),
    ],
    ids=["aws-newest-beats-pre-cut-2025", "alias-and-region-any-case", "region-picks-old-pre-cut-row",
         "gcp-spot-newest", "gcp-reserved-3y", "year-only-date-read-as-jan-1", "oldest-of-annotated-dates",
         "aws-reserved-1y-cheapest-of-same-date"],
)
def test_builtin_selection(gpu, options, provider, instance, as_of, usd_per_gpu_hour):
    q = pricing.quote(gpu, CostOptions(**options), TODAY)
    assert (q.provider, q.instance_type, q.as_of_date, q.usd_per_gpu_hour) == (provider, instance, as_of, usd_per_gpu_hour)
    assert q.age_days == (TODAY - dt.date.fromisoformat(as_of)).days
    assert q.source and q.selection.startswith("data/cloud_prices.csv row ")


def test_no_cloud_takes_the_cheapest_provider_and_names_the_others():
    every = pricing.offers("H100-80GB", CostOptions(), TODAY)
    q = pricing.quote("H100-80GB", None, TODAY)
    assert q.usd_per_gpu_hour == min(o.usd_per_gpu_hour for o in every)
    assert "cheapest provider (others per GPU-hour: " in q.selection
    assert all(o.provider in q.selection for o in every)


# --------------------------------------------------------------------------- selection rules on controlled rows


def test_the_instance_that_bills_least_for_the_gpus_wins(tmp_path):
    """aws sells 1-GPU instances at $3/h and 8-GPU ones at $2.50/GPU-h ($20/h); gcp 4-GPU ones at $10/h."""
    path = write_csv(tmp_path / "p.csv", [
        dict(instance_type="one", gpus_per_instance="1", usd_per_instance_hour="3", usd_per_gpu_hour="3"),
        dict(instance_type="eight", gpus_per_instance="8", usd_per_instance_hour="20", usd_per_gpu_hour="2.5"),
        dict(provider="gcp", instance_type="four", gpus_per_instance="4", usd_per_instance_hour="10",
             usd_per_gpu_hour="2.5", region="us-central1"),
    ])
    cost = CostOptions(price_file=path)
    # by hand, $/h: 2 GPUs: two 1-GPU $6 < one 4-GPU $10 < one 8-GPU $20 -> aws "one"
    #               4 GPUs: one 4-GPU $10 < four 1-GPU $12 < one 8-GPU $20 -> gcp "four"
    #               8 GPUs: one 8-GPU $20 = two 4-GPU $20 (ties: cheaper per GPU-hour, then provider) -> aws "eight"
    #              16 GPUs: two 8-GPU $40 = four 4-GPU $40 -> aws "eight"
    for gpus, (provider, instance) in {2: ("aws", "one"), 4: ("gcp", "four"), 8: ("aws", "eight"),
                                       16: ("aws", "eight")}.items():
        q = pricing.quote("H100-80GB", cost, TODAY, total_gpus=gpus)
        assert (q.provider, q.instance_type) == (provider, instance), gpus
    q = pricing.quote("H100-80GB", CostOptions(cloud="aws", price_file=path), TODAY, total_gpus=2)
    assert "cheapest for 2 GPUs in whole instances" in q.selection
    # without a GPU count: the cheapest per GPU-hour, as before
    assert pricing.quote("H100-80GB", CostOptions(cloud="aws", price_file=path), TODAY).instance_type == "eight"


def test_newest_date_wins_then_cheapest_then_smaller_instance(tmp_path):
    path = write_csv(tmp_path / "p.csv", [
        dict(usd_per_gpu_hour="3.0", as_of_date="2026-01-01"),  # cheapest, but older
        dict(instance_type="big", usd_per_gpu_hour="7.0", as_of_date="2026-06-01"),
        dict(instance_type="eight", usd_per_gpu_hour="6.5", as_of_date="2026-06-01"),
        dict(instance_type="one", gpus_per_instance="1", usd_per_gpu_hour="6.5", as_of_date="2026-06-01"),
    ])
    q = pricing.quote("H100-80GB", CostOptions(cloud="aws", price_file=path), TODAY)
    assert (q.instance_type, q.usd_per_gpu_hour, q.as_of_date) == ("one", 6.5, "2026-06-01")
    assert q.selection.startswith(f"--price-file {path} row 4 (line 5): among 4 aws on-demand row(s)")
    assert "the newest (as of 2026-06-01), cheapest per GPU-hour of 3 of that date" in q.selection


def test_replica_size_passes_over_smaller_instances(tmp_path):
    path = write_csv(tmp_path / "p.csv", [
        dict(instance_type="one", gpus_per_instance="1", usd_per_gpu_hour="4.0", as_of_date="2026-09-01"),
        dict(instance_type="eight", usd_per_gpu_hour="6.0", as_of_date="2026-06-01"),
    ])
    cost = CostOptions(cloud="aws", price_file=path)
    assert pricing.quote("H100", cost, TODAY).instance_type == "one"
    q = pricing.quote("H100", cost, TODAY, gpus_per_replica=4)
    assert q.instance_type == "eight" and "(1 with >= 4 GPUs per instance)" in q.selection
    with pytest.raises(pricing.NoPriceError, match="at most 8 GPUs per replica: no listed H100-80GB instance holds 16"):
        pricing.quote("H100", cost, TODAY, gpus_per_replica=16)  # a replica's GPUs must share one machine


@pytest.mark.parametrize(
    "rows, options, expected_instance",
    [
        ([dict(price_model="spot", instance_type="s"), dict(instance_type="o")], dict(pricing="spot"), "s"),
        ([dict(price_model="reserved-1y", instance_type="r")], dict(pricing="reserved-1y"), "r"),
        ([dict(region="eu-west-1", instance_type="eu"), dict(instance_type="us")], dict(region="eu-west-1"), "eu"),
        ([dict(region="", instance_type="anywhere")], dict(region="ap-south-1"), "anywhere"),
        ([dict(region="global (not region-specific)", instance_type="g")], dict(region="x-1"), "g"),
    ],
    ids=["spot-only-spot-rows", "hyphen-or-underscore-model", "region-filter", "blank-region-matches-any",
         "not-region-specific-matches-any"],
)
def test_filters_by_pricing_model_and_region(tmp_path, rows, options, expected_instance):
    path = write_csv(tmp_path / "p.csv", rows)
    q = pricing.quote("H100-80GB", CostOptions(cloud="aws", price_file=path, **options), TODAY)
    assert q.instance_type == expected_instance


def test_price_file_rows_win_over_builtin_ones(tmp_path):
    path = write_csv(tmp_path / "p.csv", [dict(usd_per_gpu_hour="99.0")])  # dearer than every built-in H100
    assert pricing.quote("H100", CostOptions(price_file=path), TODAY).usd_per_gpu_hour == 99.0
    assert pricing.quote("H100", CostOptions(cloud="aws", price_file=path), TODAY).source == "test quote"
    spot = pricing.quote("H100", CostOptions(cloud="aws", pricing="spot", price_file=path), TODAY)
    assert spot.selection.startswith("data/cloud_prices.csv")  # the file has no spot row: built-in rows count
    assert pricing.quote("L4", CostOptions(price_file=path), TODAY).provider in ("aws", "gcp")


def test_json_price_file_in_both_shapes(tmp_path):
    row = {**ROW, "usd_per_gpu_hour": 4.25, "gpus_per_instance": 8, "usd_per_instance_hour": 34.0}
    for name, payload in (("list.json", [row]), ("wrapped.json", {"prices": [row]})):
        (tmp_path / name).write_text(json.dumps(payload), encoding="utf-8")
        q = pricing.quote("H100", CostOptions(price_file=str(tmp_path / name)), TODAY)
        assert (q.usd_per_gpu_hour, q.usd_per_instance_hour) == (4.25, 34.0)


def test_price_per_gpu_hour_overrides_everything(tmp_path):
    path = write_csv(tmp_path / "p.csv", [dict(usd_per_gpu_hour="9.0")])
    q = pricing.quote("H100", CostOptions(cloud="aws", price_per_gpu_hour=1.5, price_file=path), TODAY)
    assert (q.provider, q.usd_per_gpu_hour, q.source, q.as_of_date, q.age_days) == (
        "user", 1.5, "--price-per-gpu-hour", TODAY.isoformat(), 0)
    assert pricing.quote("MI300X", CostOptions(price_per_gpu_hour=2.0), TODAY).gpu_type == "MI300X-192GB"
    assert pricing.price_warnings(q, TODAY) == []


# --------------------------------------------------------------------------- no price


@pytest.mark.parametrize(
    "gpu, options, message",
    [
        ("MI300X", {}, r"gpu\.gpu_type: got 'MI300X-192GB'; expected a GPU with a listed price .*--price-per-gpu-hour"),
        ("L4", dict(cloud="azure"),
         r"options\.cloud: got 'azure'; expected a cloud that lists L4-24GB \(aws: on-demand, reserved-1y; gcp: "
         r"on-demand, reserved-1y, reserved-3y, spot\)"),
        ("H100", dict(cloud="lambda", pricing="spot"),
         r"options\.pricing: got 'spot'; expected a pricing model under which lambda lists H100-80GB \(lambda: on-demand\)"),
        ("H100", dict(cloud="azure", region="westus"),
         r"options\.region: got 'westus'; expected a region where H100-80GB is listed at on-demand pricing "
         r"\(azure: eastus, koreacentral\)"),
    ],
    ids=["gpu-without-any-price", "cloud-lists-other-clouds", "pricing-model-lists-offered", "region-lists-regions"],
)
def test_no_price_names_what_is_offered(gpu, options, message):
    with pytest.raises(pricing.NoPriceError, match=message):
        pricing.quote(gpu, CostOptions(**options), TODAY)


# --------------------------------------------------------------------------- price file validation


@pytest.mark.parametrize(
    "rows, columns, message",
    [
        ([{}], [c for c in pricing.REQUIRED_COLUMNS if c not in ("source", "as_of_date")],
         r"p\.csv header, column source, as_of_date: got 'missing'; expected the columns provider, "),
        ([{}], [*pricing.REQUIRED_COLUMNS, "usd_per_gpu_hr"],
         r"p\.csv header, column usd_per_gpu_hr: got 'unknown column'; .*did you mean usd_per_gpu_hour\?"),
        ([{}, dict(usd_per_gpu_hour="-1")], None,
         r"p\.csv row 2 \(line 3\), column usd_per_gpu_hour: got '-1'; expected a price in USD > 0"),
        ([dict(usd_per_gpu_hour="cheap")], None, r"row 1 \(line 2\), column usd_per_gpu_hour: got 'cheap'"),
        ([dict(usd_per_gpu_hour="nan")], None, r"column usd_per_gpu_hour: got 'nan'; expected a price in USD > 0"),
        ([dict(usd_per_instance_hour="0")], None, r"column usd_per_instance_hour: got '0'; expected a price"),
        ([dict(gpus_per_instance="0.5")], None, r"column gpus_per_instance: got '0.5'; expected a whole number >= 1"),
        ([dict(gpu="B300")], None, r"row 1 \(line 2\), column gpu: got 'B300'; expected a known GPU"),
        ([dict(as_of_date="11/09/2026")], None,
         r"column as_of_date: got '11/09/2026'; expected a date YYYY-MM-DD, not after today"),
        ([dict(as_of_date="2999-01-01")], None, r"column as_of_date: got '2999-01-01'"),
        ([dict(price_model="hourly")], None,
         r"column price_model: got 'hourly'; expected one of on_demand, spot, reserved_1y, reserved_3y"),
        ([dict(source=" ")], None, r"column source: got ' '; expected a non-empty value"),
        ([dict(usd_per_instance_hour="10")], None,
         r"column usd_per_gpu_hour: got '5\.0'; expected usd_per_instance_hour / gpus_per_instance = 1\.25"),
    ],
    ids=["missing-columns", "unknown-column", "negative-price", "non-numeric-price", "nan-price",
         "zero-instance-price", "fractional-gpus", "unknown-gpu", "non-iso-date", "future-date",
         "unknown-price-model", "blank-source", "instance-and-gpu-prices-disagree"],
)
def test_bad_csv_price_file_is_refused(tmp_path, rows, columns, message):
    path = write_csv(tmp_path / "p.csv", rows, columns or pricing.REQUIRED_COLUMNS)
    with pytest.raises(InputError, match=r"^--price-file .*" + message):
        pricing.load_price_file(path)


def test_csv_row_with_more_cells_than_columns(tmp_path):
    path = tmp_path / "p.csv"
    write_csv(path, [{}])
    path.write_text(path.read_text() + "aws,x,H100,8,us-east-1,on_demand,,5,src,2026-06-01,extra\n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column \(beyond the header\): got \['extra'\]"):
        pricing.load_price_file(str(path))


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2", r"p\.json: got 'invalid JSON'; expected valid JSON \(line 1, column 6"),
        ('{"rows": []}', r"got 'dict'; expected a JSON list of price rows"),
        ("[]", r"p\.json: got 'no rows'; expected at least one price row"),
        ('["aws"]', r"p\.json row 1: got 'aws'; expected a JSON object"),
        (json.dumps([ROW, {k: v for k, v in ROW.items() if k != "source"}]),
         r"p\.json row 2, column source: got 'missing'"),
        (json.dumps([{**ROW, "usd_per_gpu_hour": True}]), r"p\.json row 1, column usd_per_gpu_hour: got True"),
    ],
    ids=["invalid-json", "wrong-shape", "no-rows", "row-not-object", "row-missing-key", "boolean-price"],
)
def test_bad_json_price_file_is_refused(tmp_path, text, message):
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        pricing.load_price_file(str(path))


def test_missing_price_file(tmp_path):
    with pytest.raises(InputError, match=r"--price-file: got '.*nope\.csv'; expected an existing file"):
        pricing.load_price_file(str(tmp_path / "nope.csv"))


@pytest.mark.parametrize(
    "text, strict, expected",
    [
        ("2026-11-09", True, dt.date(2026, 11, 9)),
        ("2026-04", True, dt.date(2026, 4, 1)),
        ("2025 (year only)", False, dt.date(2025, 1, 1)),
        ("2025 (year only)", True, None),
        ("2026-05-11 (GPU) / 2026-07-30 (host)", False, dt.date(2026, 5, 11)),
        ("unknown (GPU) / 2026-07-30 (host)", False, None),
        ("2026-13-01", False, None),
        ("11/09/2026", True, None),
    ],
    ids=["iso", "month-is-first-day", "year-only", "strict-refuses-notes", "oldest-of-two", "unknown-part",
         "month-13", "us-style"],
)
def test_read_as_of(text, strict, expected):
    assert pricing.read_as_of(text, strict=strict) == expected


# --------------------------------------------------------------------------- warnings


@pytest.mark.parametrize("today, warned", [(dt.date(2026, 11, 28), False), (dt.date(2026, 11, 29), True)],
                         ids=["180-days-ok", "181-days-warns"])
def test_stale_price_warning(today, warned):
    warnings = pricing.price_warnings(make_quote(), today)  # as of 2026-06-01
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].startswith("The aws on-demand price for H100-80GB (p5.48xlarge) is dated 2026-06-01, "
                                      "181 days ago (more than 180)")


def test_pre_price_cut_warning():
    q = pricing.quote("H200", CostOptions(cloud="aws", region="us-west-2"), TODAY)
    assert q.price_era == "pre_2025-06_cut"
    assert any("predates the 2025-06 cut" in w for w in pricing.price_warnings(q, TODAY))
    assert not any("predates" in w for w in pricing.price_warnings(pricing.quote("H100", CostOptions(cloud="aws"), TODAY), TODAY))


def test_describe_names_row_date_and_source():
    text = pricing.describe(make_quote(age_days=179))
    assert text == ("aws p5.48xlarge (8-GPU, us-east-1), on-demand: $2/GPU-h ($16/instance-h), "
                    "as of 2026-06-01 (179 days old); source: test")


# --------------------------------------------------------------------------- cost maths


@pytest.mark.parametrize(
    "gpus, gpus_per_instance, instances",
    [(1, 8, 1), (8, 8, 1), (9, 8, 2), (6, 4, 2), (6, 8, 1), (3, 1, 3), (24, 16, 2)],
    ids=["one-gpu-one-box", "full-box", "one-over", "three-pairs-on-fours", "three-pairs-on-eights",
         "single-gpu-boxes", "sixteen-gpu-boxes"],
)
def test_whole_instance_rounding(gpus, gpus_per_instance, instances):
    assert pricing.instances_needed(gpus, gpus_per_instance) == instances
    q = make_quote(gpus_per_instance=gpus_per_instance, usd_per_instance_hour=2.5 * gpus_per_instance)
    assert pricing.whole_instance_monthly_cost_usd(gpus, q) == pytest.approx(instances * 2.5 * gpus_per_instance * 730)
    assert pricing.monthly_cost_usd(gpus, q) == pytest.approx(gpus * 2.0 * 730)  # billed per GPU-hour


@given(gpus=st.integers(1, 512), per_instance=st.sampled_from([1, 2, 4, 8, 16]))
def test_whole_instances_are_the_fewest_that_hold_the_gpus(gpus, per_instance):
    instances = pricing.instances_needed(gpus, per_instance)
    assert instances * per_instance >= gpus > (instances - 1) * per_instance


def test_inference_cost_per_million_tokens():
    cost = pricing.inference_cost(6, 2, output_tokens_per_s=750.0, total_tokens_per_s=3000.0, quote=make_quote())
    # 6 GPUs rent one 8-GPU instance at $16/h: the bill; 750 tokens/s = 2.7M tokens/h -> $5.926 per million
    # output tokens on that bill
    assert cost.cost_per_million_tokens == pytest.approx(16 / 2.7)
    assert cost.cost_per_million_total_tokens == pytest.approx(16 / 10.8)
    assert cost.monthly_gpu_cost == cost.whole_instance_monthly_cost == pytest.approx(16.0 * 730)
    # the GPUs alone: $2/GPU-h x 6 GPUs = $12/h; one replica's 2 GPUs $4/h
    assert (cost.gpu_hours_monthly_cost, cost.cost_per_replica_month) == pytest.approx((6 * 2 * 730, 2 * 2 * 730))
    assert "output" in cost.tokens_counted and "input + output" in cost.tokens_counted
    assert cost.price.provider == "aws"
    with pytest.raises(InputError, match="output_tokens_per_s: got 0"):
        pricing.inference_cost(8, 4, 0, 1.0, make_quote())


def test_training_cost_and_whole_instances():
    cost = pricing.training_cost(gpu_hours=120.0, gpus=6, epochs=3, quote=make_quote())
    assert (cost["total_training_cost"], cost["cost_per_epoch"], cost["usd_per_gpu_hour"]) == pytest.approx((240, 80, 2))
    # 6 GPUs need one 8-GPU instance ($16/h) for 120 / 6 = 20 wall-clock hours
    assert (cost["instances"], cost["whole_instance_total_cost"]) == (1, pytest.approx(320.0))
    assert cost["price"]["instance_type"] == "p5.48xlarge"


# --------------------------------------------------------------------------- offers for the compare table


def test_offers_one_per_gpu_and_provider_cheapest_first():
    table = pricing.cheapest_offers_by_gpu(CostOptions(), TODAY)
    assert "H100-80GB" in table and "MI300X-192GB" not in table
    for gpu, quotes in table.items():
        assert len({q.provider for q in quotes}) == len(quotes)
        assert [q.usd_per_gpu_hour for q in quotes] == sorted(q.usd_per_gpu_hour for q in quotes)
        assert quotes[0].usd_per_gpu_hour == pricing.quote(gpu, None, TODAY).usd_per_gpu_hour
    aws_spot = pricing.offers(None, CostOptions(cloud="aws", pricing="spot"), TODAY)
    assert {(q.provider, q.pricing) for q in aws_spot} == {("aws", "spot")}


def test_offers_under_an_override_cover_every_gpu():
    quotes = pricing.offers(cost=CostOptions(price_per_gpu_hour=3.0))
    assert {q.usd_per_gpu_hour for q in quotes} == {3.0} and len(quotes) > 20


# --------------------------------------------------------------------------- the CLI

PLAN = ("--mode", "inference", "--rps", "2", "--input-tokens", "500", "--output-tokens", "200",
        "--model", "llama-3.1-8b", "--gpu-type", "H100-80GB", "--format", "json")


def test_cli_refuses_a_bad_price_file_before_planning(cli, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [{}, dict(usd_per_gpu_hour="-3")])
    result = cli(*PLAN, "--cost", "--price-file", path, "--output", str(tmp_path / "plan.json"))
    assert result.exit_code == 2
    assert result.stderr == (f"error: --price-file {path} row 2 (line 3), column usd_per_gpu_hour: got '-3'; "
                             "expected a price in USD > 0\n")
    assert not (tmp_path / "plan.json").exists()


def test_cli_cost_names_the_price_row(cli):
    result = cli(*PLAN, "--cost", "--cloud", "aws")
    assert result.exit_code == 0, result.stderr
    price = json.loads(result.stdout)["cost"]["price"]
    assert {k: price[k] for k in ("provider", "instance_type", "pricing", "as_of_date")} == {
        "provider": "aws", "instance_type": "p5.48xlarge", "pricing": "on-demand", "as_of_date": "2026-11-09"}
    assert price["source"].startswith("datareceipts/") and price["selection"].startswith("data/cloud_prices.csv row 40")


def test_cli_no_price_on_the_chosen_cloud(cli):
    result = cli(*PLAN[:-4], "--gpu-type", "L4", "--cost", "--cloud", "azure")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: options.cloud: got 'azure'; expected a cloud that lists L4-24GB (aws: ")
    assert "Traceback" not in result.stderr
