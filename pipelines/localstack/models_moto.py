"""moto's botocore models parsed as the pipeline's are (`pipelines.aws.ModelFiles`: plain dicts), and loaded through one
loader, reversibly.

moto reads each service's model through loaders of its own (its response serializer, its lists of regions), and
tests make plain boto3 clients: botocore parsed each into OrderedDicts, twice the time, and a test worker kept ~120,000
of them alive for the collector to walk on every full collection (~150 ms each, ~10 % of a worker's CPU). And moto
made a new loader for each model it read, which listed botocore's ~400 service folders again to find it (~50 ms a
model, ~0.3 s in each process that hosts a stack): one of moto's loaders, its extras included, serves them all.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.loaders import JSONFileLoader
from moto.core import loaders as moto_loaders
from moto.core import utils as moto_utils

from pipelines.aws import ModelFiles
from pipelines.localstack.moto_patch import MethodPatch


@functools.cache
def moto_loader() -> moto_loaders.Loader:
    """The process's moto loader (botocore's models with moto's extras); its listings and models are kept."""
    return moto_loaders.create_loader()


def _load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
    return moto_loader().load_service_model(service_name, model_name)


PATCH = MethodPatch(
    [(JSONFileLoader, "_load_file", ModelFiles._load_file), (moto_utils, "_load_service_model", _load_service_model)]
)
