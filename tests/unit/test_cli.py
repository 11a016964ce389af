"""The command line keeps its promises: every command has --help and is documented in the README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(
    [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    + [f"{g.name} {c.name}" for g in app.registered_groups for c in g.typer_instance.registered_commands]
)
runner = CliRunner()


def test_there_are_commands() -> None:
    assert {
        "nightly",
        "backfill",
        "query",
        "demo",
        "local-stack",
        "validate",
        "quarantine list",
        "quarantine show",
        "quarantine release",
        "quarantine drop",
    } <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented_in_the_readme(command: str) -> None:
    assert f"mlmon {command}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_in_the_readme_row_of_its_command(command: str) -> None:
    click_command = typer.main.get_command(app)
    for name in command.split():
        click_command = click_command.commands[name]  # type: ignore[attr-defined]
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"| `mlmon {command} ")]
    options = [o for p in click_command.params for o in p.opts if o.startswith("--") and o != "--help"]
    assert rows and options
    assert [o for o in options if not any(o in row for row in rows)] == []


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("lake: {region: us-east-1, bucket: acme-lake, database: db, color: red}\nsources: []\n")
    result = runner.invoke(app, ["nightly", "--config", str(config), "--date", "2026-01-01"])
    assert result.exit_code == 2
    assert "lake.color: unknown key" in result.output
    assert "sources:" in result.output


def test_query_needs_exactly_one_target() -> None:
    result = runner.invoke(app, ["query", "select 1"])
    assert result.exit_code == 2
    assert "exactly one of --config or --duckdb" in result.output


def test_query_reads_sql_from_a_file(tmp_path: Path) -> None:
    import duckdb

    lake = tmp_path / "lake.duckdb"
    with duckdb.connect(str(lake)) as con:
        con.execute("create table t as select * from (values (1, 'a'), (2, 'b')) v(n, s)")
    sql = tmp_path / "q.sql"
    sql.write_text("-- Question: how many rows?\nselect count(*) as n, max(s) as s from t\n")
    result = runner.invoke(app, ["query", "--duckdb", str(lake), "--file", str(sql), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ['"n","s"', '2,"b"']
    out = tmp_path / "answer.json"
    written = runner.invoke(
        app, ["query", "--duckdb", str(lake), "--format", "json", "--output", str(out), "select n from t order by n"]
    )
    assert written.exit_code == 0 and written.output == ""
    assert json.loads(out.read_text()) == [{"n": 1}, {"n": 2}]
    both = runner.invoke(app, ["query", "--duckdb", str(lake), "--file", str(sql), "select 1"])
    assert both.exit_code == 2 and "either as an argument or with --file" in both.output
