"""The exception tree.

    EscalatordError                 anything escalatord raises on purpose
    ├── ConfigError                 a config was rejected; `.problems` lists every one
    ├── StoreError                  the database could not be opened or migrated
    ├── NotFound                    an incident, check or notifier that does not exist
    ├── InvalidTransition           e.g. acknowledging a resolved incident
    ├── CheckError                  a check could not run (not: the target is down)
    └── NotifyError                 delivery failed; `.retryable` says if a retry may help

The CLI maps these to exit codes; nothing below cli.py exits the process.
"""

from __future__ import annotations

from dataclasses import dataclass


class EscalatordError(Exception):
    """Base of every error escalatord raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One config problem: where it is and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(EscalatordError):
    """A config was rejected. Every problem found is listed, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(EscalatordError):
    """The database could not be opened, migrated or used."""


class NotFound(EscalatordError):
    """The named object does not exist."""


class InvalidTransition(EscalatordError):
    """The requested change does not apply to the object's current state."""


class CheckError(EscalatordError):
    """A check could not be built or run (bad parameters, missing privilege)."""


class NotifyError(EscalatordError):
    """A notification could not be delivered.

    `retryable` is True when trying again later may succeed (timeouts, 5xx, 429);
    False when it never will (4xx, bad address). `retry_after` is a server's hint in seconds.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
