"""botocore's service models parsed into plain dicts (`ModelFiles`): the same models, keys in the same order, and no
OrderedDict for the cyclic collector to walk; the local stack parses moto's models the same way while it runs."""

from __future__ import annotations

import gc
import gzip
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import JSONFileLoader

from pipelines import aws
from pipelines.aws import ModelFiles, lake_session
from pipelines.localstack.models_moto import PATCH

DATA = Path(botocore.__file__).parent / "data"
SERVICES = ("cloudwatch", "s3", "glue", "sagemaker", "logs", "sts", "quicksight", "athena", "events", "sns")


def _model_paths() -> list[str]:
    """Each service's newest service-2 and paginators model, and the endpoints and partitions files (no extension)."""
    paths = [str(DATA / "endpoints"), str(DATA / "partitions"), str(DATA / "sdk-default-configuration")]
    for service in SERVICES:
        newest = sorted((DATA / service).iterdir())[-1]
        paths += [str(newest / "service-2"), str(newest / "paginators-1")]
    return paths


def _botocores_parse(path: str) -> Any:
    """What botocore 1.44's JSONFileLoader returns (written out: while a stack runs, the class parses as ours)."""
    for extension, opener in ((".json", open), (".json.gz", gzip.open)):
        if Path(path + extension).is_file():
            with opener(path + extension, "rb") as file:
                return json.loads(file.read().decode("utf-8"), object_pairs_hook=OrderedDict)
    raise FileNotFoundError(path)


def _order(node: Any) -> Any:
    """`node` with every mapping as a list of (key, value) pairs: equal only when the keys come in the same order."""
    if isinstance(node, dict):
        return [(key, _order(value)) for key, value in node.items()]
    if isinstance(node, list):
        return [_order(value) for value in node]
    return node


def _kinds(node: Any, found: set[type]) -> set[type]:
    """Every container and leaf type in `node`, added to `found`."""
    found.add(type(node))
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for value in children:
        _kinds(value, found)
    return found


def test_models_parse_to_what_botocore_parses_in_plain_dicts() -> None:
    ours = ModelFiles()
    for path in _model_paths():
        parsed, expected = ours.load_file(path), _botocores_parse(path)
        assert parsed is not None and _order(parsed) == _order(expected), path
        assert OrderedDict not in _kinds(parsed, set()) and OrderedDict in _kinds(expected, set()), path
    assert ours.load_file(str(DATA / "no-such-model")) is None


def test_a_models_leaves_are_left_out_of_the_collector() -> None:
    newest = sorted((DATA / "sagemaker").iterdir())[-1]
    model = ModelFiles().load_file(str(newest / "service-2"))
    shapes = model["shapes"]
    leaves = [shape for shape in shapes.values() if all(isinstance(v, str | int | bool) for v in shape.values())]
    assert len(leaves) > 100 and not any(gc.is_tracked(shape) for shape in leaves)
    assert gc.is_tracked(OrderedDict(leaves[0]))  # what botocore's own parse would have kept tracked


def test_the_sessions_loader_and_the_local_stacks_patch_use_it(stack: Any) -> None:
    lake_session("us-east-1", stack.endpoint_url).client("glue")
    assert isinstance(aws._models().file_loader, ModelFiles)
    assert PATCH.installed and JSONFileLoader._load_file is ModelFiles._load_file  # moto's loaders, while it runs


def test_moto_reads_every_model_through_one_loader_as_its_own_loaders_read_it(stack: Any) -> None:
    """One of moto's loaders for the process (not a new one per model): the same models, moto's extras included
    (SQS's and CloudFront's service models and SES's paginators have some)."""
    from moto.core import utils as moto_utils
    from moto.core.loaders import create_loader

    from pipelines.localstack.models_moto import moto_loader

    assert PATCH.installed and moto_utils._load_service_model.__module__ == "pipelines.localstack.models_moto"
    for service, kind in [(s, "service-2") for s in (*SERVICES, "sqs", "cloudfront")] + [("ses", "paginators-1")]:
        assert moto_utils._load_service_model(service, kind) == create_loader().load_service_model(service, kind), service
    assert moto_loader() is moto_loader()
