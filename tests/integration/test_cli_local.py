"""The commands as a user runs them, as processes, against a local stack. A command run again (its rerun, another
output format) or beside its process sibling (`plan` and `export` beside `deploy`) runs in this process, through the
same CLI: each process pays ~2 CPU-s of imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from pipelines.aws import lake_session
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, PREV_DT, make_config, new_lake, seed_invocations


def _config_file(tmp_path: Path, endpoint_url: str) -> Path:
    config = make_config(endpoint_url, statistics=["Sum", "Maximum"])
    new_lake(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def _mlmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], capture_output=True, text=True, timeout=300)


def _mlmon_here(*args: str) -> Any:
    """The same command in this process (typer's runner): its exit code and what it printed."""
    return CliRunner().invoke(app, list(args))


def _night_here(path: Path) -> None:
    """The night a command needs before it runs (the views, the fleet), in this process: the commands under test are
    the processes (`mlmon nightly` itself is, in the tests above), and each spawned one pays ~5 s of imports."""
    settings = load_config(path)
    session = lake_session(settings.lake.region, settings.endpoint_url)
    assert run_night(settings, NIGHT, session=session, engine=LocalLakeEngine(session, settings.lake)).ok


def test_nightly_then_query_through_the_cli(stack: Any, tmp_path: Path) -> None:
    for account in ACCOUNTS:
        seed_invocations(stack.metric_store, account, "ep-a", NIGHT)
    config = _config_file(tmp_path, stack.endpoint_url)
    done = _mlmon("nightly", "--config", str(config), "--date", DT)
    assert done.returncode == 0, done.stderr
    assert f"{ACCOUNTS[0]} us-east-1: {288 * 2} datapoints" in done.stdout
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [e for e in events if e["event"] == "night"][0]["ok"] is True

    sql = f"select account_id, sum(value) as invocations from cloudwatch_metrics where dt = '{DT}' and stat = 'Sum' group by 1 order by 1"
    done = _mlmon("query", "--config", str(config), "--format", "json", sql)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"account_id": a, "invocations": 14400.0} for a in ACCOUNTS]
    again = _mlmon_here(
        "query",
        "--config",
        str(config),
        "--format",
        "csv",
        f"select count(*) as n from cloudwatch_metrics where dt = '{PREV_DT}'",
    )
    assert again.exit_code == 0 and again.stdout.splitlines() == ['"n"', "0"]


def test_nightly_exits_1_when_a_source_fails(stack: Any, tmp_path: Path) -> None:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url).model_dump(mode="json")
    config["sources"].append(
        {"account_id": "333333333333", "role_arn": "arn:aws:iam::333333333333:role/Missing", "regions": ["us-east-1"]}
    )
    # moto lets any role be assumed; a region with no endpoint is a source that fails for real.
    config["sources"][-1]["regions"] = ["xx-nowhere-1"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    new_lake(make_config(stack.endpoint_url))
    done = _mlmon("nightly", "--config", str(path), "--date", DT)
    assert done.returncode == 1, done.stderr
    assert "333333333333 xx-nowhere-1: FAILED" in done.stdout
    assert f"{ACCOUNTS[0]} us-east-1: " in done.stdout and "datapoints" in done.stdout


def test_local_stack_command_serves_until_interrupted() -> None:
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "local-stack"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("endpoint: http://127.0.0.1:")
        session = lake_session("us-east-1", line.split(": ", 1)[1].strip())
        assert session.client("s3").list_buckets()["Buckets"] == []
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def test_quicksight_plan_deploy_export_and_preview_through_the_cli(stack: Any, tmp_path: Path) -> None:
    import shutil

    from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR

    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    settings = make_config(stack.endpoint_url).model_dump(mode="json")
    settings["quicksight"] = {
        "account_id": "123456789012",
        "owners": ["arn:aws:quicksight:us-east-1:123456789012:group/default/mlops"],
    }
    new_lake(make_config(stack.endpoint_url))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    _night_here(config)  # the views exist now

    plan = _mlmon_here("quicksight", "plan", "--config", str(config))  # deploy below is the process
    assert plan.exit_code == 0, plan.stdout
    assert "dashboard ml-performance-and-business-impact: would create" in plan.stdout
    deployed = _mlmon("quicksight", "deploy", "--config", str(config))
    assert deployed.returncode == 0, deployed.stderr
    assert "analysis ml-performance-and-business-impact: created" in deployed.stdout
    again = _mlmon_here("quicksight", "deploy", "--config", str(config))
    assert again.exit_code == 0 and {line.rsplit(": ", 1)[1] for line in again.stdout.splitlines()} == {"unchanged"}

    assets = tmp_path / "quicksight"
    shutil.copytree(QUICKSIGHT_DIR, assets)
    exported = _mlmon_here("quicksight", "export", "--config", str(config), "--assets", str(assets))
    assert exported.exit_code == 0, exported.stdout
    assert exported.stdout.splitlines() == [f"wrote {assets / 'analysis.json'}", f"wrote {assets / 'dashboard.json'}"]
    assert json.loads((assets / "analysis.json").read_text()) == json.loads((QUICKSIGHT_DIR / "analysis.json").read_text())

    preview = _mlmon("quicksight", "preview", "--config", str(config), "--out", str(tmp_path / "out"))
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.strip() == f"wrote {tmp_path / 'out' / 'dashboard.html'}"
    assert 'data-visual-id="exec-revenue"' in (tmp_path / "out" / "dashboard.html").read_text()


def test_quicksight_without_its_config_section_is_one_line(stack: Any, tmp_path: Path) -> None:
    config = _config_file(tmp_path, stack.endpoint_url)
    done = _mlmon("quicksight", "deploy", "--config", str(config))
    assert (
        done.returncode == 2 and done.stderr.strip() == f"error: {config}: no quicksight: section (account_id, owners, viewers)"
    )


def test_alarms_plan_and_deploy_through_the_cli(stack: Any, tmp_path: Path) -> None:
    config = _config_file(tmp_path, stack.endpoint_url)
    _night_here(config)  # the lake knows its fleet now
    plan = _mlmon_here("alarms", "plan", "--config", str(config))  # deploy below is the process
    assert plan.exit_code == 0, plan.stdout
    assert "alarm mlmon-pipeline-night-failed (lake us-east-1): would create" in plan.stdout
    deployed = _mlmon("alarms", "deploy", "--config", str(config))
    assert deployed.returncode == 0, deployed.stderr
    assert "dashboard ml-performance-lake (lake us-east-1): created" in deployed.stdout
    again = _mlmon_here("alarms", "deploy", "--config", str(config))
    assert again.exit_code == 0 and {line.rsplit(": ", 1)[1] for line in again.stdout.splitlines()} == {"unchanged"}
