"""An assumed role's session is kept while its credentials last, and made anew when they run short or hooks change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.aws import CREDENTIALS_REUSED_UNTIL, lake_session

ROLE = "arn:aws:iam::111111111111:role/MlLakeReader"


def _assumes(session: Any) -> int:
    return session.calls.snapshot().get("STS.AssumeRole", 0)


def test_a_role_is_assumed_once_per_region_and_external_id(endpoint_url: str) -> None:
    session = lake_session("us-east-1", endpoint_url)
    first = session.assume(ROLE, "us-east-1")
    assert session.assume(ROLE, "us-east-1") is first
    assert _assumes(session) == 1
    assert session.assume(ROLE, "eu-west-1") is not first
    assert session.assume(ROLE, "us-east-1", external_id="mlmon-ext") is not first
    assert _assumes(session) == 3
    # The kept session works: its clients reach the stack with the assumed credentials.
    assert first.client("sts").get_caller_identity()["Account"] == "111111111111"


def test_credentials_about_to_expire_are_renewed(endpoint_url: str) -> None:
    session = lake_session("us-east-1", endpoint_url)
    soon = datetime.now(UTC) + CREDENTIALS_REUSED_UNTIL - timedelta(minutes=1)

    def short_lived(parsed: dict[str, Any], **_: Any) -> None:  # STS granting less than the reuse margin
        parsed["Credentials"]["Expiration"] = soon

    session.register_hook("after-call.sts.AssumeRole", short_lived)
    first = session.assume(ROLE, "us-east-1")
    second = session.assume(ROLE, "us-east-1")
    assert second is not first and _assumes(session) == 2


def test_a_hook_registered_later_reaches_the_next_assumed_session(endpoint_url: str) -> None:
    session = lake_session("us-east-1", endpoint_url)
    before = session.assume(ROLE, "us-east-1")
    seen: list[str] = []
    session.register_hook("before-call.sts.GetCallerIdentity", lambda **_: seen.append("call"))
    after = session.assume(ROLE, "us-east-1")
    assert after is not before and _assumes(session) == 2
    after.client("sts").get_caller_identity()
    assert seen == ["call"]
