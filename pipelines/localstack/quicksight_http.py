"""How the QuickSight fills read a rest-json request from moto (ids in the path, options in the query) and answer it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from moto.quicksight.models import QuickSightBackend
from moto.quicksight.responses import QuickSightResponse

from pipelines.localstack.quicksight_store import Record
from pipelines.localstack.settings import STACKS

Answer = tuple[str, dict[str, Any]]


def backend(response: QuickSightResponse) -> QuickSightBackend:
    found: QuickSightBackend = response.quicksight_backend
    return found


def body(response: QuickSightResponse) -> Record:
    parsed: Record = json.loads(response.body or b"{}")
    return parsed


def path_param(response: QuickSightResponse, name: str) -> str:
    """A URI member by its botocore name (`DataSetId`, `VersionNumber`): moto's router put them in `uri_match`, decoded."""
    return str(response.uri_match[name])


def query_param(response: QuickSightResponse, name: str) -> str | None:
    """A query-string member by its wire name (`version-number`, `max-results`); moto's `querystring` may hold headers instead."""
    values = parse_qs(response.parsed_url.query).get(name)
    return values[0] if values else None


def int_query_param(response: QuickSightResponse, name: str) -> int | None:
    value = query_param(response, name)
    return int(value) if value is not None else None


def now(response: QuickSightResponse) -> float:
    """Epoch seconds on the clock of the stack that got the request, so a test or demo night stamps its own times."""
    return STACKS.for_response(response).clock.now().timestamp()


def answer(fields: Record, status: int = 200) -> Answer:
    """The JSON body and the HTTP status (botocore reads `Status` from the status line; the body's copy is for the few
    responses, like UpdateDashboard's, that model it as a body member)."""
    return json.dumps({**fields, "RequestId": "local", "Status": status}), {"status": status}
