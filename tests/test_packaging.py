"""The installable tool (pyproject.toml) and the catalog listings of the command line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_pyproject_ships_every_module_and_the_data():
    """``pip install .`` must carry every flat module (a new module left out would break the installed CLI on
    import) and every data folder config.py reads."""
    setuptools = PROJECT["tool"]["setuptools"]
    assert set(setuptools["py-modules"]) == {path.stem for path in ROOT.glob("*.py")} - {"main"}
    assert setuptools["packages"] == ["commands"]
    shipped = {Path(target).relative_to("share/llm-capacity") for target in setuptools["data-files"]}
    assert shipped == {Path("data")} | {path.relative_to(ROOT) for path in (ROOT / "data").rglob("*") if path.is_dir()}


def test_pyproject_data_globs_match_every_data_file_and_no_folder():
    """setuptools refuses a data-files glob that matches a folder (``pip install .`` then fails with "Not a file"),
    and a file no glob matches is missing from the installed tool."""
    globbed = [ROOT.glob(pattern) for patterns in PROJECT["tool"]["setuptools"]["data-files"].values()
               for pattern in patterns]
    matched = [path for paths in globbed for path in paths]
    assert [path for path in matched if not path.is_file()] == []
    data_files = {path for path in (ROOT / "data").rglob("*") if path.is_file()}
    assert sorted(map(str, data_files - set(matched))) == []
    assert PROJECT["project"]["scripts"]["llm-capacity"] == "commands.forecast:main"


def test_pyproject_dependencies_are_the_runtime_requirements():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").split("# tests")[0].splitlines()
    runtime = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert PROJECT["project"]["dependencies"] == runtime


def test_list_models_as_json(cli):
    result = cli("--list-models", "--family", "Gemma", "--format", "json")
    records = json.loads(result.stdout)
    assert result.exit_code == 0 and {r["family"] for r in records} == {"Gemma"}
    gemma3 = next(r for r in records if r["id"] == "gemma-3-27b")
    assert gemma3["attention"] == "52 sliding 1024, 10 full" and "google/gemma-3-27b-it" in gemma3["aliases"]


def test_list_gpus_table(cli):
    result = cli("--list-gpus")
    assert result.exit_code == 0 and "GB200-186GB" in result.stdout and "10,000" in result.stdout


def test_family_needs_list_models(cli):
    result = cli("--family", "Qwen")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --family: got 'Qwen'; expected --list-models as well (it filters the model list)"
