"""structlog set-up: JSON lines when stdout is not a TTY, readable lines when it is.

Secrets are redacted by key name before anything is rendered, and the chatty INFO lines of
libraries (uvicorn's line per request, httpx, Alembic, aiosqlite, asyncio) are turned down so
the log says what escalatord did. The check loop runs on escalatord's own timer heap
(monitor/scheduler.py), whose events are escalatord's own log lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_WORDS = ("token", "password", "secret", "community", "authorization", "api_key")
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace the value of any key that names a secret, at any depth of dicts."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ("***" if _secret(k) else scrub(v)) for k, v in value.items()}
        return value

    for key in list(event):
        event[key] = "***" if _secret(key) else scrub(event[key])
    return event


def _secret(key: Any) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in SECRET_WORDS)


def configure(level: str = "info", *, json: bool | None = None, stream: Any = None) -> None:
    """Set up structlog and the stdlib root logger. `json=None` picks JSON when not a TTY."""
    stream = stream or sys.stdout
    if json is None:
        json = not stream.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    # One INFO line per request from uvicorn (and the like from libraries): noise.
    for noisy in (
        "uvicorn",
        "uvicorn.access",
        "uvicorn.error",
        "httpx",
        "alembic",
        "aiosqlite",
        "asyncio",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
