"""`python -m pipelines` is the same as the `mlmon` command."""

from pipelines.cli import main

main()
