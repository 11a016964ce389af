"""GetMetricData, call by call and page by page, with every result's status checked."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.errors import FatalError, RetriableError
from pipelines.faults import Kind, classify
from pipelines.sources.cloudwatch_metrics.decode import DecodedPage, decoded_page
from pipelines.sources.cloudwatch_metrics.metric_query import MetricQuery
from pipelines.sources.cloudwatch_metrics.plan import MAX_POINTS_PER_CALL, Packer
from pipelines.windows import Window

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


class IncompleteMetricData(RetriableError):
    """CloudWatch answered a query with PartialData or InternalError and no way to continue."""


def iter_metric_data(cloudwatch: CloudWatchClient, queries: Sequence[MetricQuery], window: Window) -> Iterator[DecodedPage]:
    """Yield every response page for `queries` over `window`, following NextToken.

    A result that ends in any status but Complete is an error, never silently dropped:
    CloudWatch marks a result PartialData when a page ran out mid-result, and the
    continuation page completes it; one still partial after the last page is lost data.
    """
    seconds = (window.end - window.start).total_seconds()
    points_per_query = max((math.ceil(seconds / query.period_seconds) for query in queries), default=0)
    packer = Packer(queries)
    while packer.left:
        batch = packer.take(packer.next_size(int(points_per_query)))
        points = 0
        api_queries: list[Any] = [query.to_api() for query in batch]
        final_status: dict[str, str] = {}
        token: str | None = None
        seen: set[str] = set()
        bound = max_pages(batch, window)
        for _ in range(bound):
            continuation: dict[str, Any] = {"NextToken": token} if token else {}
            try:
                response = cloudwatch.get_metric_data(
                    MetricDataQueries=api_queries,
                    StartTime=window.start,
                    EndTime=window.end,
                    ScanBy="TimestampAscending",
                    **continuation,
                )
            except (ClientError, BotoCoreError) as error:
                kind = RetriableError if classify(error) is Kind.RETRIABLE else FatalError
                raise kind(f"GetMetricData failed ({len(batch)} queries): {error}") from error
            page = decoded_page(response)
            points += page.num_points
            final_status.update(zip(page.ids, page.status_codes, strict=True))
            yield page
            token = page.next_token
            if not token:
                break
            if token in seen:
                raise IncompleteMetricData(f"GetMetricData returned the same NextToken twice ({len(batch)} queries)")
            seen.add(token)
        else:
            raise IncompleteMetricData(f"GetMetricData kept paging past {bound} pages ({len(batch)} queries)")
        _check_complete(batch, final_status)
        packer.answered(len(batch), points)


def max_pages(batch: Sequence[MetricQuery], window: Window) -> int:
    """The most pages a batch can need: every datapoint of the window at each query's period, 100,800 per page
    (CloudWatch's limit), with room for pages a partial result splits; a loop past it is CloudWatch misbehaving."""
    seconds = (window.end - window.start).total_seconds()
    points = sum(math.ceil(seconds / query.period_seconds) for query in batch)
    return 2 * math.ceil(points / MAX_POINTS_PER_CALL) + 2


def _check_complete(batch: Sequence[MetricQuery], final_status: dict[str, str]) -> None:
    by_id = {query.id: query for query in batch}
    bad = {qid: status for qid, status in final_status.items() if status != "Complete"}
    missing = [qid for qid in by_id if qid not in final_status]
    if not bad and not missing:
        return
    examples = [
        f"{by_id[qid].series.namespace} {by_id[qid].series.metric_name} {dict(by_id[qid].series.dimensions)} "
        f"{by_id[qid].stat}: {status}"
        for qid, status in list(bad.items())[:3]
        if qid in by_id
    ]
    raise IncompleteMetricData(f"{len(bad)} of {len(batch)} queries incomplete, {len(missing)} without a result; e.g. {examples}")
