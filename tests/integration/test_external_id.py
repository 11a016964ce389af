"""A source's external id reaches STS: the reader role's trust policy (glue_jobs/reader-role.yaml) can ask for it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, NIGHT, make_config, new_lake, seed_invocations

SECRET = "mlmon-7f3a"


def _trust_policy(expected: str | None) -> Any:
    """What IAM checks on AssumeRole: a role that wants an external id refuses a call without the right one."""

    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{ACCOUNTS[1]}:" in params.get("RoleArn", "") and params.get("ExternalId") != expected:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "external id mismatch"}}, "AssumeRole")

    return handler


def test_the_configured_external_id_is_presented_and_a_wrong_one_fails_that_account(stack: Any) -> None:
    for account in ACCOUNTS:
        seed_invocations(stack.metric_store, account, "ep-a", NIGHT)
    config = make_config(stack.endpoint_url).model_dump(mode="json")
    config["sources"][1]["external_id"] = SECRET
    from pipelines.config import parse_config

    settings = parse_config(config)
    session = new_lake(settings)
    session.register_hook("before-parameter-build.sts.AssumeRole", _trust_policy(SECRET))
    result = run_night(settings, NIGHT, session=session, engine=LocalLakeEngine(session, settings.lake))
    assert {a.account_id: a.error for a in result.landing("cloudwatch_metrics").accounts} == {a: None for a in ACCOUNTS}

    wrong = parse_config({**config, "sources": [config["sources"][0], {**config["sources"][1], "external_id": "guessed"}]})
    result = run_night(wrong, NIGHT, session=session, engine=LocalLakeEngine(session, wrong.lake))
    failed = {a.account_id: a.error for a in result.landing("cloudwatch_metrics").accounts}
    assert failed[ACCOUNTS[0]] is None and "external id mismatch" in str(failed[ACCOUNTS[1]])
    assert "guessed" not in str(failed[ACCOUNTS[1]])  # the error names the role, never the secret
