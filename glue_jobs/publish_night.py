"""AWS Glue Python-shell entry point for a sharded night's final step: audit and publish every shard's files.

Job arguments --config_s3_uri --date --run_id --shards. Exit 0 when everything was published, 1 when an account or
source failed (a missing shard manifest included) or a partition was quarantined.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from pipelines.compose import config_from_s3, engine_for, session_for
from pipelines.fanout import publish_night
from pipelines.logs import configure_logging
from pipelines.publish.alarms.deploy import after_night


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    configure_logging()
    config = config_from_s3(args.config_s3_uri)
    session = session_for(config)
    engine = engine_for(config, session)
    result = publish_night(config, args.date, run_id=args.run_id, shards=args.shards, session=session, engine=engine)
    if args.deploy_alarms == "true":
        after_night(session, config, engine)
    return 0 if result.ok else 1


def _arguments(argv: list[str]) -> argparse.Namespace:
    # Glue passes its own arguments too (--job-bookmark-option, --JOB_NAME, ...): ignore what we don't know.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config_s3_uri", required=True, help="s3://bucket/key of the pipeline YAML")
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the night, YYYY-MM-DD (UTC)")
    parser.add_argument("--run_id", required=True, help="the night's run id, the same for every shard and the publish step")
    parser.add_argument("--shards", required=True, type=int, help="how many shards the night is split into")
    parser.add_argument("--deploy_alarms", default="true", choices=["true", "false"], help="converge the fleet's alarms after")
    args, _ = parser.parse_known_args(argv)
    return args


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
