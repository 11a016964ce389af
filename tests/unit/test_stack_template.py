"""The templates lint clean with cfn-lint, keep their promises (encrypted private bucket kept on delete, 02:00 UTC schedule,
bounded fan-out, failures alert, job arguments the entry points accept), and create on the local stack where moto can."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pipelines.config import AlertsConfig, LakeConfig
from pipelines.run_summary import summary_uri
from tests.unit.stackdefs import GLUE_JOBS, STACK, definition, load_template, resources

# Arguments Glue itself reads; the scripts ignore them (parse_known_args).
GLUE_OWN = {
    "--additional-python-modules",
    "--job-language",
    "--enable-continuous-cloudwatch-log",
    "--enable-continuous-log-filter",
    "--continuous-log-logGroup",
    "--python-modules-installer-option",
}
PARAMETERS = {
    "LakeBucketName": "acme-ml-lake",
    "ArtifactsBucket": "acme-artifacts",
    "WheelKey": "mlmon/wheels/0123456789ab/ml_performance_lake-0.1.0-py3-none-any.whl",
    "ConfigKey": "mlmon/config/prod.yaml",
    "SourceAccountIds": "111111111111,222222222222",
    "QuickSightRoleArn": "arn:aws:iam::123456789012:role/service-role/aws-quicksight-service-role-v0",
}


@pytest.mark.parametrize("template", ["stack.yaml", "reader-role.yaml"])
def test_the_template_lints_clean(template: str) -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(GLUE_JOBS / template, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def test_the_lake_bucket_is_encrypted_private_tls_only_and_kept() -> None:
    made = resources()
    bucket = made["LakeBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    properties = bucket["Properties"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert (
        set(properties["PublicAccessBlockConfiguration"].values()) == {True}
        and len(properties["PublicAccessBlockConfiguration"]) == 4
    )
    rules = {r["Id"]: r for r in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["quarantine"]["Prefix"] == {"Fn::Sub": "${LakePrefix}_quarantine/"}  # pipelines/lake/paths.py QUARANTINE
    assert rules["athena-results"]["Prefix"] == "athena-results/"  # pipelines/query/athena.py result_location
    deny = made["LakeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_night_starts_at_two_utc_and_fans_out_bounded() -> None:
    template = load_template(str(STACK))
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "cron(0 2 * * ? *)"
    assert template["Parameters"]["ScheduleTimezone"]["Default"] == "UTC"
    schedule = resources()["NightlySchedule"]["Properties"]
    assert schedule["Target"]["Arn"] == {"Ref": "NightlyStateMachine"}
    land = definition("NightlyStateMachine")["States"]["Land"]
    assert land["Type"] == "Map" and land["MaxConcurrency"] == int(template["Parameters"]["ShardConcurrency"]["Default"])
    nights = definition("BackfillStateMachine")["States"]["Nights"]
    assert nights["Type"] == "Map" and nights["MaxConcurrency"] == int(template["Parameters"]["BackfillConcurrency"]["Default"])


def test_every_failure_alerts_on_the_topic() -> None:
    for name in ("NightlyStateMachine", "BackfillStateMachine"):
        states = definition(name)["States"]
        alert = states["Alert"]
        assert alert["Resource"].endswith(":states:::sns:publish") and alert["Arguments"]["TopicArn"] == "AlertsTopic"
        assert states[alert["Next"]]["Type"] == "Fail"
    nightly = definition("NightlyStateMachine")["States"]
    assert [state["Next"] for state in nightly["Land"]["Catch"]] == ["Alert"]
    # A shard that fails (even after its retry) does not stop the night: the publish step reports its accounts.
    shard = nightly["Land"]["ItemProcessor"]["States"]["LandShard"]
    assert [c["Next"] for c in shard["Catch"]] == ["ShardFailed"] and nightly["Land"]["Next"] == "Publish"
    # The publish step, failed or not, is followed by the run summary: present, the night ran to the end.
    assert nightly["Publish"]["Next"] == "Summary" and [c["Next"] for c in nightly["Publish"]["Catch"]] == ["Summary"]
    summary = nightly["Summary"]
    assert summary["Resource"].endswith(":states:::aws-sdk:s3:getObject")
    raw = resources()["NightlyStateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    assert '"Bucket": "${LakeBucketName}"' in raw  # run_summary.summary_uri, with the defaults' lake/ prefix:
    assert summary["Arguments"]["Key"] == "{% 'lake/_staging/dt=' & $date & '/run=' & $run_id & '/summary.json' %}"
    lake = LakeConfig(region="us-east-1", bucket="acme-ml-lake", database="ml", prefix="lake/")
    assert summary_uri(lake, "' & $date & '", "' & $run_id & '") == f"s3://acme-ml-lake/{summary['Arguments']['Key'][4:-4]}"
    assert [c["Next"] for c in summary["Catch"]] == ["Alert"]  # no summary: the night crashed
    assert nightly["Published"]["Choices"][0]["Next"] == "Done" and nightly["Published"]["Default"] == "Report"
    report = nightly["Report"]
    assert report["Resource"].endswith(":states:::sns:publish") and nightly[report["Next"]]["Type"] == "Fail"
    backfill = definition("BackfillStateMachine")["States"]
    assert backfill["Summary"]["Choices"][0]["Next"] == "Alert"


def _options(script: Path) -> tuple[set[str], set[str]]:
    """(every --option, the required ones) of a script's argparse parser, read from its source."""
    options, required = set(), set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            flag = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if isinstance(flag, str) and flag.startswith("--"):
                options.add(flag)
                if any(k.arg == "required" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords):
                    required.add(flag)
    return options, required


def _passed_by_state_machines(job: str) -> set[str]:
    """The arguments the state machines pass to job `job` on top of its defaults."""
    passed: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            arguments = node.get("Arguments")
            if isinstance(arguments, dict) and arguments.get("JobName") == job:
                passed.update(arguments.get("Arguments", {}))
            for value in node.values():
                walk(value)

    for name in ("NightlyStateMachine", "BackfillStateMachine"):
        walk(definition(name))
    return passed


@pytest.mark.parametrize("job", ["NightlyJob", "LandShardJob", "PublishNightJob"])
def test_the_job_arguments_are_the_entry_points_options(job: str) -> None:
    properties = resources()[job]["Properties"]
    script = GLUE_JOBS / properties["Command"]["ScriptLocation"]["Fn::Sub"].rsplit("/", 1)[1]
    if not script.exists():
        pytest.fail(f"{job} runs {script.name}, which glue_jobs/ does not have")
    options, required = _options(script)
    passed = (set(properties["DefaultArguments"]) - GLUE_OWN) | _passed_by_state_machines(job)
    assert sorted(passed - options) == [], f"{script.name} does not take these"
    assert sorted(required - passed) == [], f"{script.name} requires these"
    assert properties["DefaultArguments"]["--additional-python-modules"] == {
        "Fn::Sub": "s3://${ArtifactsBucket}/${WheelKey}${PythonModules}"  # the wheel, then glue_jobs/modules.py's pins
    }
    assert properties["DefaultArguments"]["--python-modules-installer-option"] == "--no-deps"


def test_the_reader_role_trusts_the_job_role_with_an_external_id() -> None:
    role = resources(GLUE_JOBS / "reader-role.yaml")["ReaderRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"AWS": {"Ref": "JobRoleArn"}}
    assert trust["Condition"]["Fn::If"][1] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_source_accounts_forward_alerts_to_the_lake_bus_with_their_own_role() -> None:
    """routing.py's forwarders: the reader role may pass only the forwarder role, which may only put to the lake's bus;
    the lake's bus admits the source accounts and nobody else."""
    reader = resources(GLUE_JOBS / "reader-role.yaml")
    forwarder = reader["ForwarderRole"]["Properties"]
    assert forwarder["RoleName"] == {"Ref": "ForwarderRoleName"}
    assert forwarder["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    (put,) = forwarder["Policies"][0]["PolicyDocument"]["Statement"]
    assert put["Action"] == "events:PutEvents" and put["Resource"]["Fn::Sub"][0].endswith(":${LakeAccount}:event-bus/default")
    alarms = reader["ReaderRole"]["Properties"]["Policies"][1]["Fn::If"][1]["PolicyDocument"]["Statement"]
    passing = next(s for s in alarms if s["Action"] == "iam:PassRole")
    assert passing["Resource"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}}
    bus = resources()["SourceAccountsForwardAlerts"]["Properties"]
    assert (
        bus["Statement"]["Principal"] == {"AWS": {"Ref": "SourceAccountIds"}} and bus["Statement"]["Action"] == "events:PutEvents"
    )
    defaults = load_template(str(GLUE_JOBS / "reader-role.yaml"))["Parameters"]
    assert defaults["ForwarderRoleName"]["Default"] == AlertsConfig().forwarder_role_name


def test_the_stack_creates_on_the_local_stack_where_moto_can(endpoint_url: str) -> None:
    """moto's CloudFormation makes the bucket, topic, log group, roles and state machines; it skips (with a warning) Glue
    jobs and database, bucket and topic policies and the schedule (docs/local-stack.md)."""
    from pipelines.aws import lake_session

    session = lake_session("us-east-1", endpoint_url)
    cloudformation = session.client("cloudformation")
    with pytest.warns(UserWarning):  # "Tried to parse AWS::Glue::Job but it's not supported by moto's CloudFormation"
        cloudformation.create_stack(
            StackName="ml-lake",
            TemplateBody=STACK.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    assert cloudformation.describe_stacks(StackName="ml-lake")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    made = {r["LogicalResourceId"] for r in cloudformation.list_stack_resources(StackName="ml-lake")["StackResourceSummaries"]}
    assert {
        "LakeBucket",
        "AlertsTopic",
        "JobLogGroup",
        "JobRole",
        "StatesRole",
        "NightlyStateMachine",
        "BackfillStateMachine",
    } <= made
    encryption = session.client("s3").get_bucket_encryption(Bucket="acme-ml-lake")["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    iam = session.client("iam")
    assert sorted(iam.list_role_policies(RoleName="ml-lake-job")["PolicyNames"]) == ["alarms", "lake", "quicksight"]
    document = iam.get_role_policy(RoleName="ml-lake-job", PolicyName="lake")["PolicyDocument"]
    assert "arn:aws:s3:::acme-ml-lake/*" in unquote(str(document))  # moto keeps what it was given, Subs resolved
    stepfunctions = session.client("stepfunctions")
    machines = {m["name"]: m["stateMachineArn"] for m in stepfunctions.list_state_machines()["stateMachines"]}
    assert set(machines) == {"ml-lake-nightly", "ml-lake-backfill"}
    definition = json.loads(stepfunctions.describe_state_machine(stateMachineArn=machines["ml-lake-nightly"])["definition"])
    assert definition["States"]["Land"]["MaxConcurrency"] == 4
    topic = session.client("sns").get_topic_attributes(TopicArn="arn:aws:sns:us-east-1:123456789012:ml-lake-alerts")
    assert topic["Attributes"]["DisplayName"] == "ML lake alerts"
