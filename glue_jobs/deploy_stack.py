"""`make deploy` / `make destroy`: build the wheel, upload it with the entry points and the config, converge the stack (boto3 only)."""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError

from glue_jobs.modules import glue_modules
from pipelines.config import Config, parse_config
from pipelines.errors import PipelineError
from pipelines.lake.paths import split_s3_uri

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "glue_jobs" / "stack.yaml"
SCRIPTS = ("nightly.py", "land_shard.py", "publish_night.py")  # one Glue job each
WAIT = {"Delay": 15, "MaxAttempts": 240}  # an hour at most for a stack, then the waiter gives up
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class DeployError(Exception):
    """Something the person deploying must fix; printed as one line."""


def stack_parameters(config: Config, artifacts_prefix: str, wheel_key: str, config_key: str) -> dict[str, str]:
    """The template's parameters that the pipeline config already decides, so the two cannot disagree."""
    lake = config.lake
    params = {
        "LakeBucketName": lake.bucket,
        "LakePrefix": lake.prefix,
        "DatabaseName": lake.database,
        "AthenaWorkGroup": lake.athena_workgroup,
        "MetricsNamespace": config.validation.metrics_namespace,
        "DashboardName": config.alerts.dashboard_name,
        "ArtifactsPrefix": artifacts_prefix,
        "WheelKey": wheel_key,
        "ConfigKey": config_key,
        "PythonModules": "".join(f",{pin}" for pin in glue_modules()),
        "SourceAccountIds": ",".join(sorted({s.account_id for s in config.sources})),
    }
    if config.alerts.sns_topic_arn:
        params["AlertsTopicName"] = config.alerts.sns_topic_arn.rsplit(":", 1)[1]
    if config.alerts.retrain_role_arn:
        params["RetrainRoleArn"] = config.alerts.retrain_role_arn
    if config.business_kpis.inbox:
        bucket, key = split_s3_uri(config.business_kpis.inbox)
        if bucket == lake.bucket:  # the archive lifecycle applies to an inbox in the lake bucket only
            params["KpiInboxPrefix"] = key.rstrip("/")
    return params


def build_wheel() -> Path:
    """`pip wheel --no-deps .` into dist/ (no `build` needed); the newest wheel of this project."""
    dist = ROOT / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(dist)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wheels = sorted(dist.glob("ml_performance_lake-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise DeployError(f"no wheel was built in {dist}")
    return wheels[-1]


def upload(s3: Any, bucket: str, prefix: str, config_path: Path, wheel: Path) -> tuple[str, str, str]:
    """Wheel (under its content hash, so a new build changes the jobs), scripts, config, template; returns their keys."""
    missing = [name for name in SCRIPTS if not (ROOT / "glue_jobs" / name).exists()]
    if missing:
        raise DeployError(f"missing entry points in glue_jobs/: {', '.join(missing)}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    wheel_key = f"{prefix}wheels/{digest}/{wheel.name}"
    s3.upload_file(str(wheel), bucket, wheel_key)
    for name in SCRIPTS:
        s3.upload_file(str(ROOT / "glue_jobs" / name), bucket, f"{prefix}scripts/{name}")
    config_key = f"{prefix}config/{config_path.name}"
    s3.upload_file(str(config_path), bucket, config_key)
    template_key = f"{prefix}templates/stack-{hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()[:12]}.yaml"
    s3.upload_file(str(TEMPLATE), bucket, template_key)
    return wheel_key, config_key, template_key


def converge(cloudformation: Any, stack: str, template_url: str, params: dict[str, str]) -> str:
    """Create or update `stack` through a change set; waits; returns what happened."""
    try:
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        status = None
    kind = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    name = f"mlmon-{hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:8]}-{len(template_url)}"
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateURL=template_url,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(StackName=stack, ChangeSetName=name, WaiterConfig=WAIT)
    except WaiterError as error:
        reason = cloudformation.describe_change_set(StackName=stack, ChangeSetName=name).get("StatusReason", str(error))
        cloudformation.delete_change_set(StackName=stack, ChangeSetName=name)
        if any(text in reason for text in NO_CHANGES):
            return "unchanged"
        raise DeployError(f"change set {name} failed: {reason}") from error
    cloudformation.execute_change_set(StackName=stack, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=stack, WaiterConfig=WAIT)
    except WaiterError as error:
        raise DeployError(f"stack {stack} did not converge: {_first_failure(cloudformation, stack)}") from error
    return "created" if kind == "CREATE" else "updated"


def _first_failure(cloudformation: Any, stack: str) -> str:
    for event in cloudformation.describe_stack_events(StackName=stack)["StackEvents"]:
        if event["ResourceStatus"].endswith("_FAILED"):
            return f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
    return "see the stack's events"


def deploy(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    if not config_path.is_file():
        raise DeployError(f"no config file {config_path}")
    config = parse_config(yaml.safe_load(config_path.read_text(encoding="utf-8")), origin=str(config_path))
    if config.endpoint_url:
        raise DeployError(f"{config_path} points at a local emulator (endpoint_url): deploy a config without it")
    bucket, prefix = split_s3_uri(args.artifacts)
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    session = boto3.Session(region_name=args.region or config.lake.region)
    _check_credentials(session)
    wheel = build_wheel()
    wheel_key, config_key, template_key = upload(session.client("s3"), bucket, prefix, config_path, wheel)
    params = {**stack_parameters(config, prefix, wheel_key, config_key), "ArtifactsBucket": bucket, **_overrides(args.parameter)}
    cloudformation = session.client("cloudformation")
    url = f"https://{bucket}.s3.{session.region_name}.amazonaws.com/{template_key}"
    print(f"stack {args.stack}: {converge(cloudformation, args.stack, url, params)}")
    for output in cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", []):
        print(f"{output['OutputKey']}: {output['OutputValue']}")
    return 0


def destroy(args: argparse.Namespace) -> int:
    region = args.region
    if region is None and args.config:
        region = parse_config(yaml.safe_load(Path(args.config).read_text(encoding="utf-8")), origin=args.config).lake.region
    session = boto3.Session(region_name=region)
    _check_credentials(session)
    cloudformation = session.client("cloudformation")
    try:
        outputs = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
    except ClientError as error:
        raise DeployError(f"stack {args.stack} in {session.region_name}: {error.response['Error']['Message']}") from error
    bucket = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "LakeBucketName"), "?")
    cloudformation.delete_stack(StackName=args.stack)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=args.stack, WaiterConfig=WAIT)
    except WaiterError as error:
        raise DeployError(f"stack {args.stack} was not deleted: {_first_failure(cloudformation, args.stack)}") from error
    print(f"stack {args.stack}: deleted; the lake bucket {bucket} is kept (DeletionPolicy: Retain)")
    return 0


def _check_credentials(session: boto3.Session) -> None:
    if session.region_name is None:
        raise DeployError("no AWS region: pass --region or set AWS_REGION")
    try:
        session.client("sts").get_caller_identity()
    except NoCredentialsError as error:
        raise DeployError("no AWS credentials: set AWS_PROFILE (or run aws sso login) and try again") from error
    except ClientError as error:
        raise DeployError(f"AWS refused the credentials: {error.response['Error']['Message']}") from error


def _overrides(pairs: list[str]) -> dict[str, str]:
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise DeployError(f"--parameter takes Key=Value, not {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log-level", default="WARNING", help="DEBUG shows tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("deploy", help="build, upload, create or update the stack")
    up.add_argument("--stack", required=True, help="CloudFormation stack name (also prefixes the jobs and roles)")
    up.add_argument("--config", required=True, help="the pipeline YAML (without endpoint_url)")
    up.add_argument("--artifacts", required=True, help="s3://bucket/prefix/ for the wheel, scripts, config and template")
    up.add_argument("--region", default=None, help="default: the config's lake.region")
    up.add_argument("--parameter", action="append", default=[], help="Key=Value: any other template parameter")
    down = commands.add_parser("destroy", help="delete the stack (the lake bucket stays)")
    down.add_argument("--stack", required=True)
    down.add_argument("--config", default=None, help="only for its lake.region")
    down.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    try:
        if not args.stack:
            raise DeployError("STACK is required (make deploy STACK=ml-lake CONFIG=prod.yaml ARTIFACTS=s3://bucket/mlmon/)")
        return deploy(args) if args.command == "deploy" else destroy(args)
    except (
        DeployError,
        PipelineError,
        BotoCoreError,
        ClientError,
        OSError,
        yaml.YAMLError,
        subprocess.CalledProcessError,
    ) as error:
        if args.log_level.upper() == "DEBUG":
            raise
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
