"""AWS Glue entry point for a whole night in one job run, or a range of nights (a backfill) in one run.

Job arguments: --config_s3_uri, then --date (default yesterday UTC) [--lookback_days N], or --start/--end for the nights
start..end one after another (each reads only its own day; nights already published are skipped). Exit 0 when
everything was published, 1 when something was held back or failed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta

from pipelines.backfill import run_backfill
from pipelines.compose import config_from_s3, engine_for, session_for
from pipelines.logs import configure_logging
from pipelines.nightly import run_night
from pipelines.publish.alarms.deploy import after_night


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    configure_logging()
    config = config_from_s3(args.config_s3_uri)
    if args.lookback_days is not None:  # a backfill's nights each read their own day: the range covers late data
        config = config.model_copy(
            update={"cloudwatch": config.cloudwatch.model_copy(update={"lookback_days": args.lookback_days})}
        )
    session = session_for(config)
    engine = engine_for(config, session)
    if args.start is not None:
        ok = run_backfill(config, args.start, args.end, session=session, engine=engine, show_progress=False).ok
    else:
        night = args.date or datetime.now(UTC).date() - timedelta(days=1)
        ok = run_night(config, night, session=session, engine=engine).ok
    if args.deploy_alarms == "true":
        after_night(session, config, engine)
    return 0 if ok else 1


def _arguments(argv: list[str]) -> argparse.Namespace:
    # Glue passes its own arguments too (--job-bookmark-option, ...): ignore what we don't know.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config_s3_uri", required=True, help="s3://bucket/key of the pipeline YAML")
    parser.add_argument(
        "--date", type=date.fromisoformat, default=None, help="night to land, YYYY-MM-DD (default: yesterday UTC)"
    )
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first night of a backfill, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last night of a backfill (with --start)")
    parser.add_argument(
        "--lookback_days",
        type=int,
        default=None,
        help="days before the night re-read (default: the config's; a backfill gives 0)",
    )
    parser.add_argument("--deploy_alarms", default="true", choices=["true", "false"], help="converge the fleet's alarms after")
    args, _ = parser.parse_known_args(argv)
    if (args.start is None) != (args.end is None) or (args.start is not None and args.date is not None):
        parser.error("give --date, or --start and --end")
    return args


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
