"""A lake with a year behind it, made in seconds: every partition published for one night, copied to other nights.

Running 365 real nights takes a quarter of an hour on the local stack; what a night sees of its history is the
catalog's partitions, the objects under them and the runs log, and copies give it exactly those.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake.paths import split_s3_uri


def copy_night(
    session: Session, lake: LakeConfig, night: date, to: Iterable[date], run_id: str = "20200101T000000Z-copied"
) -> int:
    """Publish every partition dt=`night` of every table again as dt=each day of `to` (objects copied under a run
    prefix of `run_id`, partitions added to the catalog); returns the partitions made."""
    glue, s3 = session.client("glue"), session.client("s3")
    days = [d.isoformat() for d in to]
    made = 0
    for table in [t for page in glue.get_paginator("get_tables").paginate(DatabaseName=lake.database) for t in page["TableList"]]:
        if not table.get("PartitionKeys"):
            continue
        try:
            found = glue.get_partition(DatabaseName=lake.database, TableName=table["Name"], PartitionValues=[night.isoformat()])
        except glue.exceptions.EntityNotFoundException:
            continue
        descriptor = found["Partition"]["StorageDescriptor"]
        bucket, prefix = split_s3_uri(descriptor["Location"].rstrip("/") + "/")
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        ]
        inputs: list[Any] = []
        for day in days:
            folder = f"{lake.prefix}{table['Name']}/dt={day}/run={run_id}/"
            for key in keys:
                s3.copy_object(Bucket=bucket, Key=folder + key[len(prefix) :], CopySource={"Bucket": bucket, "Key": key})
            inputs.append({"Values": [day], "StorageDescriptor": {**descriptor, "Location": f"s3://{bucket}/{folder}"}})
        for start in range(0, len(inputs), 100):  # BatchCreatePartition takes 100 at a time
            glue.batch_create_partition(
                DatabaseName=lake.database, TableName=table["Name"], PartitionInputList=inputs[start : start + 100]
            )
        made += len(inputs)
    return made
