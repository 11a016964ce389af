"""moto's botocore models parsed as the pipeline's are (`pipelines.aws.ModelFiles`: plain dicts), reversibly.

moto reads each service's model through loaders of its own (its response serializer, its lists of regions), and
tests make plain boto3 clients: botocore parsed each into OrderedDicts, twice the time, and a test worker kept ~120,000
of them alive for the collector to walk on every full collection (~150 ms each, ~10 % of a worker's CPU).
"""

from __future__ import annotations

from botocore.loaders import JSONFileLoader

from pipelines.aws import ModelFiles
from pipelines.localstack.moto_patch import MethodPatch

PATCH = MethodPatch([(JSONFileLoader, "_load_file", ModelFiles._load_file)])
