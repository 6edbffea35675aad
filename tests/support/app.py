"""An escalatord App inside the test's event loop, serving real HTTP on a free loopback port.

Clients in these tests must be async (httpx.AsyncClient, asyncio subprocesses for curl): a
blocking call would stall the loop the App's server runs in.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from escalatord.app import App
from escalatord.config.loader import load, load_text
from escalatord.config.model import Config
from tests.support.net import free_port


def config_text(database: Path | str, port: int, body: str) -> str:
    """A config for tests: fast ticks and defaults, then `body` (checks, rules, policies…).
    `database`: a SQLite file's path, or a URL as users write it (e.g. PostgreSQL's)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    head = textwrap.dedent(f"""
        [daemon]
        database = "{url}"
        listen = "127.0.0.1:{port}"
        tick = "100ms"

        [defaults]
        interval = "200ms"
        timeout = "5s"
        retries = 1
        retry_interval = "200ms"
    """)
    return head + textwrap.dedent(body)


def page_everything(url: str) -> str:
    """Config lines that page every incident at once to a webhook at `url` (notifier "sink")."""
    return textwrap.dedent(f"""
        [[rule]]
        name = "everything"
        policy = "page"

        [[policy]]
        name = "page"
          [[policy.level]]
          after = "0s"
          notify = ["sink"]

        [[notifier]]
        name = "sink"
        type = "webhook"
        url = "{url}"
    """)


@asynccontextmanager
async def running_app(
    database: Path | str, body: str, port: int | None = None, config_file: Path | None = None
) -> AsyncIterator[App]:
    """Start an App on `database` with `body` as the rest of its config; stop it after.
    With `config_file` the config is written there and loaded from it (for the command line
    to run against the same config)."""
    port = port or free_port()
    async with serving(_config(config_text(database, port, body), config_file), port) as app:
        yield app


def _config(text: str, config_file: Path | None) -> Config:
    if config_file is None:
        return load_text(text, env={})
    config_file.write_text(text)
    return load(config_file, env={})


@asynccontextmanager
async def serving(config: Config, port: int) -> AsyncIterator[App]:
    """Start an App on `config`, whose API listens on `port`; stop it after.
    `app.base_url` is where its API answers."""
    app = App(config)
    await app.start()
    app.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        await app.stop(2.0)


async def eventually(predicate: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    """Await until `predicate()` is true (checked every 20 ms); fail naming `what`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
