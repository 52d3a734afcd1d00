"""README, meltano.yml and .secrets.example say the same as the config schema and the stream registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tap_exec.streams import STREAM_TYPES
from tap_exec.tap import TapExec
from tests.expected import ENDPOINTS, TAP_WRITTEN
from tests.test_streams import PER_PARENT

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = set(TapExec.settings.to_dict()["properties"])
STREAMS = TapExec(config={"api_key": "exec_live_" + "0" * 40}, setup_mapper=False).streams.values()


def test_readme_settings_table_is_the_about_output() -> None:
    about = subprocess.run(
        [sys.executable, "-m", "tap_exec", "--about", "--format=markdown"], capture_output=True, text=True, check=True
    ).stdout
    table = about.split("## Settings", 1)[1].split("A full list", 1)[0].strip()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table in readme


def test_meltano_settings_mirror_the_config_schema() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-exec")
    settings = {s["name"]: s for s in extractor["settings"]}
    assert set(settings) >= SETTINGS  # the tap's own settings, and the SDK's stream-map and flattening ones
    assert settings["api_key"]["sensitive"] is True
    assert settings["api_key"]["kind"] == "password"
    assert all(s.get("label") and s.get("description") for s in settings.values())


def test_the_plugin_definition_and_meltano_yml_are_generated_from_the_code() -> None:
    """tap-exec.yml (Meltano Hub's format) and meltano.yml's tap-exec block both say what `--about` says."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "plugin_definition.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    definition = yaml.safe_load((ROOT / "tap-exec.yml").read_text(encoding="utf-8"))
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-exec")
    for key in (
        "namespace",
        "label",
        "executable",
        "capabilities",
        "settings_group_validation",
        "settings",
        "select",
        "commands",
    ):
        assert extractor[key] == definition[key], key
    hub_fields = {"name", "namespace", "variant", "label", "description", "docs", "repo", "pip_url", "executable"}
    assert hub_fields | {
        "capabilities",
        "keywords",
        "maintenance_status",
        "settings",
        "settings_group_validation",
        "select",
    } <= set(definition)
    assert "meltano_sdk" in definition["keywords"]
    assert all({"name", "kind", "label", "description"} <= set(s) for s in definition["settings"])


def test_secrets_example_names_every_setting() -> None:
    text = (ROOT / ".secrets.example").read_text(encoding="utf-8")
    assert {name for name in SETTINGS if f"TAP_EXEC_{name.upper()}=" in text} == SETTINGS


def test_readme_streams_table_lists_every_stream() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(STREAMS) == len(STREAM_TYPES)
    for stream in STREAMS:
        assert f"| `{stream.name}` |" in readme, stream.name


def test_meltano_default_select_matches_the_default_selection() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-exec")
    selected = {rule.removesuffix(".*") for rule in extractor["select"]}
    assert selected == {s.name for s in STREAMS if s.selected_by_default}


def test_the_dbt_sources_are_generated_from_the_streams() -> None:
    """transform/'s source definition names every stream with its schema's columns, keys and parent."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "dbt_sources.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    sources = yaml.safe_load((ROOT / "transform" / "models" / "staging" / "_exec__sources.yml").read_text(encoding="utf-8"))
    tables = {table["name"]: table for table in sources["sources"][0]["tables"]}
    assert set(tables) == set(ENDPOINTS) | TAP_WRITTEN
    for name, table in tables.items():
        schema = json.loads((ROOT / "tap_exec" / "schemas" / f"{name}.json").read_text(encoding="utf-8"))
        assert [c["name"] for c in table["columns"]] == list(schema["properties"]), name
        meta = table["config"]["meta"]
        assert all(key in schema["properties"] for key in meta["primary_key"]), name
        assert meta["selected_by_default"] == (name not in PER_PARENT) == ("parent" not in meta), name
    staged = {path.stem for path in (ROOT / "transform" / "models" / "staging").glob("stg_exec__*.sql")}
    assert {f"stg_exec__{name}" for name in ENDPOINTS} <= staged, "one staging model per stream (fetch_log: in macros)"
