"""`python -m pipelines` is the same as the `mlmon` command."""

from pipelines.cli import main

if __name__ == "__main__":  # a spawned child process imports the parent's main module too: it must not run the CLI
    main()
