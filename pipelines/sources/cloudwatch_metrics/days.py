"""GetMetricData pages -> one Parquet body per UTC day, row group by row group: a night is never whole in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from pipelines.sources.cloudwatch_metrics.decode import DecodedPage
from pipelines.sources.cloudwatch_metrics.table import ROW_GROUP_ROWS, ParquetStream, QueryCatalog, page_table
from pipelines.sources.per_account import DayFile

DAY_SECONDS = 86_400
# Row groups are never smaller than this, however many days are open at once: Athena reads large groups best.
MIN_ROW_GROUP_ROWS = 1 << 17


def stream_days(pages: Iterable[DecodedPage], catalog: QueryCatalog, days: Sequence[str]) -> dict[str, DayFile]:
    """Every day of `days` (ISO dates) gets its Parquet body of the pages' points on that day; points on other days
    are not the night's (the window asked for none) and are left out, as rows_of_day leaves them out.

    Each page goes to its days' writers as it arrives; with several days open, row groups are smaller so memory
    stays that of about two full-size row groups.
    """
    first = int(datetime.fromisoformat(days[0]).replace(tzinfo=UTC).timestamp()) // DAY_SECONDS if days else 0
    index = {int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) // DAY_SECONDS - first: d for d in days}
    row_group = max(ROW_GROUP_ROWS // max(len(days), 1), MIN_ROW_GROUP_ROWS)
    sinks = {d: pa.BufferOutputStream() for d in days}
    streams = {d: ParquetStream(sinks[d], row_group, dictionary=True) for d in days}
    try:
        for page in pages:
            table = page_table(page, catalog, dictionary=True)
            if table.num_rows == 0:
                continue
            day = page.timestamps.astype(np.int64, copy=False) // DAY_SECONDS - first
            low, high = int(day.min()), int(day.max())
            if low == high:
                if low in index:
                    streams[index[low]].write(table)
                continue
            for offset in np.unique(day).tolist():
                if offset in index:
                    streams[index[offset]].write(table.filter(pa.array(day == offset)))
    except BaseException:
        for stream in streams.values():
            stream.__exit__(Exception, None, None)
        raise
    rows = {d: stream.close() for d, stream in streams.items()}
    return {d: DayFile(sinks[d].getvalue().to_pybytes(), rows[d]) for d in days}
