"""Errors sorted by what the caller must do: fix something (fatal) or try again (retriable)."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class FatalError(PipelineError):
    """Retrying will not help: bad config, bad input, missing permission."""


class RetriableError(PipelineError):
    """A transient failure (throttling, an emulator hiccup): the next run may succeed."""


class ConfigError(FatalError):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class AccountError(PipelineError):
    """One source (account x region) failed; the others still land."""

    def __init__(self, account_id: str, region: str, message: str) -> None:
        super().__init__(f"account {account_id} region {region}: {message}")
        self.account_id = account_id
        self.region = region
