"""AWS Glue Python-shell entry point for one shard of a night (--config_s3_uri --date --run_id --shard --shards).

Exit 0 once the shard's manifest is written, even when some of its accounts failed: the publish step reports them and
keeps their published data, so a retry of the job would not help. Exit 1 when no manifest could be written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from pipelines.compose import config_from_s3, session_for
from pipelines.errors import PipelineError
from pipelines.fanout import land_shard
from pipelines.logs import configure_logging, get_logger


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    configure_logging()
    config = config_from_s3(args.config_s3_uri)
    try:
        land_shard(config, args.date, shard_index=args.shard, shards=args.shards, run_id=args.run_id, session=session_for(config))
    except PipelineError as error:
        get_logger(__name__).error("land_shard", error=str(error))
        return 1
    return 0


def _arguments(argv: list[str]) -> argparse.Namespace:
    # Glue passes its own arguments too (--job-bookmark-option, --JOB_NAME, ...): ignore what we don't know.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config_s3_uri", required=True, help="s3://bucket/key of the pipeline YAML")
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the night, YYYY-MM-DD (UTC)")
    parser.add_argument("--run_id", required=True, help="the night's run id, the same for every shard and the publish step")
    parser.add_argument("--shard", required=True, type=int, help="which shard to land, 0..shards-1")
    parser.add_argument("--shards", required=True, type=int, help="how many shards the night is split into")
    args, _ = parser.parse_known_args(argv)
    return args


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
