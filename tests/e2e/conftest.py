"""Fixtures of the CLI tests (test_cli.py, test_cli_incidents.py); a module that needs a
`target` or `config` of its own defines it.

- `target`: an HttpTarget for the checks and the webhooks;
- `config`: a valid config file on it, with a webhook secret from the environment;
- `database`: the config's database, created as `escalatord run` creates it (the other
  commands refuse a database that does not exist).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from escalatord.store.db import Store
from tests.support.cli_output import SECRET
from tests.support.http_target import HttpTarget


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """Checks: /ok answers 200, /fail 500, /hang never; webhooks: /hook 200, /broken 500."""
    with HttpTarget() as t:
        t.respond(200, "all good", path="/ok")
        t.respond(500, "database down", path="/fail")
        t.respond(hang=True, path="/hang")
        t.respond(200, "thanks", path="/hook")
        t.respond(500, "sink exploded", path="/broken")
        yield t


@pytest.fixture
def config(tmp_path: Path, target: HttpTarget, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid config: 3 checks (one no rule matches), 1 rule, 1 policy, 2 notifiers."""
    monkeypatch.setenv("ESCALATORD_TEST_TOKEN", SECRET)
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"

        [defaults]
        timeout = "5s"

        [[check]]
        name = "web-up"
        type = "http"
        url = "{target.url("/ok")}"
        labels = {{ category = "web" }}

        [[check]]
        name = "web-down"
        type = "http"
        url = "{target.url("/fail")}"
        labels = {{ category = "web" }}

        [[check]]
        name = "web-stuck"
        type = "http"
        url = "{target.url("/hang")}"
        timeout = "300ms"

        [[rule]]
        name = "web"
        match = {{ category = "web" }}
        severity = "critical"
        policy = "ops"

        [[policy]]
        name = "ops"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        headers = {{ Authorization = "Bearer ${{ESCALATORD_TEST_TOKEN}}" }}

        [[notifier]]
        name = "broken"
        type = "webhook"
        url = "{target.url("/broken")}"
        """)
    )
    return path


@pytest.fixture
def database(config: Path) -> str:
    """The URL of the config's SQLite database, created at head."""
    url = f"sqlite:///{config.parent}/escalatord.db"

    async def create() -> None:
        async with Store(url):
            pass

    asyncio.run(create())
    return url
