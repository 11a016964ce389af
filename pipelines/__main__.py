"""`python -m pipelines` is the same as the `mlmon` command."""

from pipelines.cli import main

if __name__ == "__main__":  # a multiprocessing child (spawn, forkserver) imports it again: no second CLI run
    main()
