"""AWS Glue entry point for a whole night in one job run (job arguments: --config_s3_uri, --date, --lookback_days)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta

from pipelines.compose import config_from_s3, engine_for, session_for
from pipelines.logs import configure_logging
from pipelines.nightly import run_night
from pipelines.publish.alarms.deploy import after_night


def main(argv: list[str]) -> int:
    # Glue passes its own arguments too (--job-bookmark-option, ...): ignore what we don't know.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config_s3_uri", required=True, help="s3://bucket/key of the pipeline YAML")
    parser.add_argument("--date", default=None, help="night to land, YYYY-MM-DD (default: yesterday UTC)")
    parser.add_argument(
        "--lookback_days",
        type=int,
        default=None,
        help="days before the night re-read (default: the config's; a backfill gives 0)",
    )
    parser.add_argument("--deploy_alarms", default="true", choices=["true", "false"], help="converge the fleet's alarms after")
    args, _ = parser.parse_known_args(argv)
    configure_logging()
    config = config_from_s3(args.config_s3_uri)
    if args.lookback_days is not None:  # a backfill's nights each read their own day: the range covers late data
        config = config.model_copy(
            update={"cloudwatch": config.cloudwatch.model_copy(update={"lookback_days": args.lookback_days})}
        )
    night = date.fromisoformat(args.date) if args.date else datetime.now(UTC).date() - timedelta(days=1)
    session = session_for(config)
    engine = engine_for(config, session)
    result = run_night(config, night, session=session, engine=engine)
    if args.deploy_alarms == "true":
        after_night(session, config, engine)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
