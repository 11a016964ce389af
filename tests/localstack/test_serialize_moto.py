"""moto answers the same with the local stack's speedups of its answering (pipelines/localstack/serialize_moto.py)
as without them: the same response bodies, byte for byte, for the wide shapes a night reads (Glue tables and
partitions, S3 listings, Logs groups), and the same action lookup for every response class the stack serves."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import moto.athena.responses
import moto.cloudwatch.responses
import moto.events.responses
import moto.glue.responses
import moto.logs.responses
import moto.quicksight.responses
import moto.s3.responses
import moto.sagemaker.responses
import moto.sns.responses
import moto.sts.responses
from moto.core.responses import BaseResponse
from moto.core.serialize import AttributePicker, AttributePickerContext, XFormedAttributePicker
from moto.core.utils import get_service_model, method_names_from_class

from pipelines.aws import lake_session
from pipelines.localstack.serialize_moto import PATCH, FunctionNames, possible_keys

SERVICES = (moto.athena, moto.cloudwatch, moto.events, moto.glue, moto.logs, moto.quicksight, moto.s3, moto.sagemaker)
SERVICES += (moto.sns, moto.sts)


def _response_classes(root: type = BaseResponse) -> set[type]:
    found = set()
    for sub in root.__subclasses__():
        found |= {sub, *_response_classes(sub)}
    return found


def test_an_action_is_found_exactly_where_moto_lists_it() -> None:
    classes = _response_classes()
    assert len({c.__module__.split(".")[1] for c in classes}) >= len(SERVICES)
    for clazz in classes:
        listed = set(method_names_from_class(clazz))  # moto's own: every function of the class, by inspect
        ours = FunctionNames(clazz)
        assert {name for name in dir(clazz) if name in ours} == listed, clazz
        assert "no_such_action" not in ours and None not in ours and "__class__" not in ours


def _night_reads(session: Any) -> dict[str, bytes]:
    """The raw body of each answer to a night's widest reads."""
    bodies: dict[str, bytes] = {}

    def keep(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        bodies[f"{operation_model.service_model.service_name}.{operation_model.name}"] = response_dict["body"]

    glue, s3, logs = session.client("glue"), session.client("s3"), session.client("logs")
    for client in (glue, s3, logs):
        client.meta.events.register("before-parse.*.*", keep)
    try:
        glue.get_table(DatabaseName="lake", Name="metrics")
        glue.get_tables(DatabaseName="lake")
        glue.get_partitions(DatabaseName="lake", TableName="metrics")
        glue.get_partition(DatabaseName="lake", TableName="metrics", PartitionValues=["2027-01-01"])
        s3.list_objects_v2(Bucket="lake", Prefix="metrics/")
        logs.describe_log_groups()
    finally:
        for client in (glue, s3, logs):
            client.meta.events.unregister("before-parse.*.*", keep)
    return bodies


def _lake(session: Any) -> None:
    glue, s3 = session.client("glue"), session.client("s3")
    s3.create_bucket(Bucket="lake")
    glue.create_database(DatabaseInput={"Name": "lake"})
    columns = [{"Name": f"column_{i}", "Type": "double", "Comment": f"measure {i}"} for i in range(40)]
    descriptor = {"Columns": columns, "Location": "s3://lake/metrics/", "SerdeInfo": {"Parameters": {"a": "b"}}}
    glue.create_table(
        DatabaseName="lake",
        TableInput={
            "Name": "metrics",
            "StorageDescriptor": descriptor,
            "PartitionKeys": [{"Name": "dt", "Type": "string"}],
            "Parameters": {"classification": "parquet"},
        },
    )
    for day in ("2026-12-31", "2027-01-01"):
        location = f"s3://lake/metrics/dt={day}/run=r1/"
        glue.create_partition(
            DatabaseName="lake",
            TableName="metrics",
            PartitionInput={"Values": [day], "StorageDescriptor": {**descriptor, "Location": location}},
        )
        for part in range(3):
            s3.put_object(Bucket="lake", Key=f"metrics/dt={day}/run=r1/part-{part}.parquet", Body=b"x" * part)
    session.client("logs").create_log_group(logGroupName="/aws/sagemaker/Endpoints/ep-a")


def test_answers_are_the_same_bytes_with_and_without_the_speedups(stack: Any) -> None:
    session = lake_session("us-east-1", stack.endpoint_url)
    _lake(session)
    assert PATCH.installed and AttributePicker.__dict__["__call__"].__module__ == "pipelines.localstack.serialize_moto"
    sped_up = _night_reads(session)
    port = int(stack.endpoint_url.rsplit(":", 1)[1])
    PATCH.release(port)  # moto's own code answers until the patch is back
    try:
        assert not PATCH.installed
        plain = _night_reads(session)
    finally:
        PATCH.acquire(port)
    assert set(sped_up) == set(plain) and len(plain) == 6
    for call, body in plain.items():
        assert sped_up[call] == body, call
    assert b"column_39" in sped_up["glue.GetPartitions"] and b"part-2.parquet" in sped_up["s3.ListObjectsV2"]


class Table:
    """A moto-like model object whose class name prefixes some members' names (`TableName` may be its `Name`)."""

    class Meta:
        serialization_aliases = {"Arn": "arn_of_table"}


def test_remembered_names_are_moto_names_for_every_member_of_every_structure() -> None:
    """Every member of every structure of four services' models, as moto's serializer meets them (each member shape
    knowing its structure): one memo across them all gives what moto's pickers compute, context by context."""
    pickers = (XFormedAttributePicker(), AttributePicker())
    contexts = 0
    for service in ("glue", "s3", "sagemaker", "logs"):
        model = get_service_model(service)
        for name in model.shape_names:
            shape = model.shape_for(name)
            if shape.type_name != "structure":
                continue
            for key, member in shape.members.items():
                member.parent = shape  # what moto's serializer sets before it picks a member's value
                for obj in ({}, Table()):
                    context = AttributePickerContext(obj=obj, key=key, shape=member)
                    for picker in pickers:
                        assert possible_keys(picker, context) == tuple(picker.get_possible_keys(context)), (service, name, key)
                        contexts += 1
    assert contexts > 10_000


class _Answering:
    """An object whose class answers attributes itself: whether it has serialisation aliases is its own affair."""

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases

    def __getattr__(self, name: str) -> Any:
        if name == "Meta" and self.aliases:
            return SimpleNamespace(serialization_aliases=self.aliases)
        raise AttributeError(name)


def test_the_names_of_an_object_that_answers_attributes_itself_are_asked_every_time() -> None:
    picker = AttributePicker()
    aliased, plain = _Answering({"Name": "title"}), _Answering({})
    assert possible_keys(picker, AttributePickerContext(obj=aliased, key="Name", shape=None))[0] == "title"  # type: ignore[arg-type]
    assert "title" not in possible_keys(picker, AttributePickerContext(obj=plain, key="Name", shape=None))  # type: ignore[arg-type]
