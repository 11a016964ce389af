"""The business KPI inbox on S3: list the drops, read each as raw columns, and move handled ones out of the way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import pagination
from pipelines.errors import FatalError, RetriableError
from pipelines.lake.paths import split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# Beside the inbox (`<inbox>_rejected/`, `<inbox>_processed/`), never under it, so listing the
# inbox never sees them; an inbox at a bucket's root keeps them as `_rejected/`, `_processed/`.
REJECTED, PROCESSED = "_rejected", "_processed"
REASON_SUFFIX = ".reason.txt"
MAX_SHOWN = 5  # problems spelled out in a rejection's reason; the rest are counted


@dataclass(frozen=True)
class Problem:
    """Why a drop cannot be used: where (row as a spreadsheet shows it, column) and what."""

    message: str
    row: int | None = None
    column: str | None = None

    def describe(self) -> str:
        where = " ".join(
            part for part in (f"row {self.row}" if self.row else "", f"column {self.column}" if self.column else "") if part
        )
        return f"{where}: {self.message}" if where else self.message


class RejectedDrop(FatalError):
    """A KPI file that cannot land as it is (wrong columns, unparseable values); names file, row and column."""

    def __init__(self, uri: str, problems: list[Problem]) -> None:
        shown = "; ".join(p.describe() for p in problems[:MAX_SHOWN])
        more = f"; and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        first = problems[0] if problems else Problem("rejected")
        separator = ": " if first.row is None and first.column is None else " "
        super().__init__(f"{uri}{separator}{shown}{more}")
        self.uri = uri
        self.problems = problems


@dataclass(frozen=True)
class Inbox:
    """Where drops arrive (`s3://bucket/prefix/`) and where they go once handled."""

    bucket: str
    prefix: str  # "" (bucket root) or ending with "/"

    @classmethod
    def from_uri(cls, uri: str) -> Inbox:
        try:
            bucket, prefix = split_s3_uri(uri)
        except FatalError:
            raise FatalError(f"KPI inbox {uri!r} is not an s3://bucket/prefix/ URI") from None
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _beside(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}{name}/" if self.prefix else f"{name}/"

    def rejected_uri(self, key: str) -> str:
        """`<inbox>_rejected/<key>`: a file that could not land, with `<key>.reason.txt` next to it."""
        return f"s3://{self.bucket}/{self._beside(REJECTED)}{key}"

    def processed_uri(self, night: date, key: str) -> str:
        """`<inbox>_processed/<night>/<key>`: a file whose rows are all published (or superseded)."""
        return f"s3://{self.bucket}/{self._beside(PROCESSED)}{night.isoformat()}/{key}"

    def owns(self, full_key: str) -> bool:
        """Whether an object under the prefix is a drop (not a folder marker or, at the root, a sidecar)."""
        relative = full_key[len(self.prefix) :]
        return bool(relative) and not full_key.endswith("/") and not relative.startswith((f"{REJECTED}/", f"{PROCESSED}/"))


@dataclass(frozen=True)
class InboxFile:
    """One object in the inbox, as listed."""

    uri: str
    key: str  # relative to the inbox
    size: int
    last_modified: datetime  # tz-aware UTC, from S3
    etag: str = field(default="", compare=False)

    @property
    def stamp(self) -> tuple[str, str]:
        """Order of arrival: S3 LastModified, then the URI. Of two drops for one day and unit, the later wins."""
        return (self.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), self.uri)

    @property
    def format(self) -> str | None:
        name = self.key.lower()
        return "csv" if name.endswith(CSV_SUFFIXES) else "parquet" if name.endswith(PARQUET_SUFFIXES) else None

    @property
    def first_row(self) -> int:
        """The row number of the first record: a CSV's header is row 1, as a spreadsheet shows it."""
        return 2 if self.format == "csv" else 1


def iter_inbox_files(s3: S3Client, inbox: Inbox, page_size: int | None = None) -> Iterator[InboxFile]:
    """Every drop in the inbox, page by page (ListObjectsV2, in key order; `page_size` for tests)."""
    paginator = s3.get_paginator("list_objects_v2")
    config = pagination(page_size)
    try:
        for page in paginator.paginate(Bucket=inbox.bucket, Prefix=inbox.prefix, PaginationConfig=config):
            for item in page.get("Contents", []):
                if inbox.owns(item["Key"]):
                    yield InboxFile(
                        f"s3://{inbox.bucket}/{item['Key']}",
                        item["Key"][len(inbox.prefix) :],
                        int(item["Size"]),
                        item["LastModified"],
                        str(item.get("ETag", "")),
                    )
    except (ClientError, BotoCoreError) as error:
        raise RetriableError(f"cannot list the KPI inbox {inbox.uri}: {error}") from error


def read_inbox_file(s3: S3Client, inbox: Inbox, file: InboxFile) -> pa.Table:
    """The drop's rows as they are: CSV with every column a string, Parquet with its own types.

    Raises RejectedDrop when the file is not CSV or Parquet or cannot be parsed as one.
    """
    if file.format is None:
        raise RejectedDrop(
            file.uri, [Problem(f"not a CSV or Parquet file (expected {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)})")]
        )
    try:
        body = s3.get_object(Bucket=inbox.bucket, Key=inbox.prefix + file.key)["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise RetriableError(f"cannot read KPI drop {file.uri}: {error}") from error
    return read_csv(file.uri, body) if file.format == "csv" else read_parquet(file.uri, body)


def read_csv(uri: str, body: bytes) -> pa.Table:
    """A CSV with every column as a string (values are parsed later, so errors can name row and column)."""
    # Arrow buffers and no threads: pyarrow 25 can abort at exit after threaded BytesIO I/O.
    options = pacsv.ReadOptions(use_threads=False)
    ragged: list[Problem] = []

    def invalid_row(row: Any) -> str:
        ragged.append(Problem(f"has {row.actual_columns} fields, the header has {row.expected_columns}", row=row.number))
        return "skip"

    body = body if body.endswith(b"\n") else body + b"\n"  # a header-only file without a newline is still a header
    try:
        skip = pacsv.ParseOptions(invalid_row_handler=lambda row: "skip")  # only the header matters here
        names = pacsv.open_csv(pa.BufferReader(body), read_options=options, parse_options=skip).schema.names
        strings = pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, strings_can_be_null=False)
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=options,
            convert_options=strings,
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise RejectedDrop(uri, [Problem(f"not a readable CSV file: {error}")]) from error
    if ragged:
        raise RejectedDrop(uri, ragged)
    return table


def read_parquet(uri: str, body: bytes) -> pa.Table:
    try:
        return pq.read_table(pa.BufferReader(body), use_threads=False)
    except (pa.ArrowInvalid, OSError) as error:
        raise RejectedDrop(uri, [Problem(f"not a readable Parquet file: {error}")]) from error


def set_aside(s3: S3Client, inbox: Inbox, file: InboxFile, reason: str) -> str:
    """Move a rejected drop to `<inbox>_rejected/<key>` with `<key>.reason.txt`; returns its new URI."""
    target = inbox.rejected_uri(file.key)
    bucket, key = split_s3_uri(target)
    try:
        s3.put_object(
            Bucket=bucket, Key=key + REASON_SUFFIX, Body=(reason + "\n").encode("utf-8"), ContentType="text/plain; charset=utf-8"
        )
    except (ClientError, BotoCoreError) as error:
        raise RetriableError(f"cannot write the rejection reason of {file.uri}: {error}") from error
    return _move(s3, inbox, file, target)


def archive(s3: S3Client, inbox: Inbox, file: InboxFile, night: date) -> str:
    """Move a handled drop to `<inbox>_processed/<night>/<key>`; returns its new URI."""
    return _move(s3, inbox, file, inbox.processed_uri(night, file.key))


def _move(s3: S3Client, inbox: Inbox, file: InboxFile, target: str) -> str:
    """Copy, then delete. The copy is conditional on the listed ETag: a drop replaced since stays put."""
    bucket, key = split_s3_uri(target)
    source_key = inbox.prefix + file.key
    try:
        if file.etag:
            s3.copy_object(
                Bucket=bucket, Key=key, CopySource={"Bucket": inbox.bucket, "Key": source_key}, CopySourceIfMatch=file.etag
            )
        else:
            s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": inbox.bucket, "Key": source_key})
        s3.delete_object(Bucket=inbox.bucket, Key=source_key)
    except (ClientError, BotoCoreError) as error:
        raise RetriableError(f"cannot move KPI drop {file.uri} to {target}: {error}") from error
    return target
