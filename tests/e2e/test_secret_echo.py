"""Secrets in a webhook's URL stay secret when the receiver echoes the request in its error
body: `test-notify`, the daemon's log, the incident timeline and the outbox show `***` where a
token was, and still say what went wrong (the status and the rest of the reply)."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from escalatord.redaction import forms
from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget, Reply

pytestmark = pytest.mark.e2e

QUERY_TOKEN = "q7+Tok/en=9f2c41"  # ${HOOK_TOKEN}: '+', '/' and '=' change when encoded
PATH_TOKEN = "p4th-s3cr3t-77ab"  # ${HOOK_PATH}: a token in the path, from the environment
LITERAL_KEY = "literal-k3y-5150"  # written in the file: every query value counts as secret
SECRETS = (QUERY_TOKEN, PATH_TOKEN, LITERAL_KEY)


def leaked(text: str) -> list[str]:
    """The secrets found in `text` in any form a receiver may echo them in."""
    return [s for s in SECRETS for f in (*forms(s), quote(s), quote_plus(s)) if f in text]


def write_config(tmp_path: Path, sink: HttpTarget, port: int, check_url: str) -> Path:
    config = tmp_path / "escalatord.toml"
    url = f"{sink.url('/hook/${HOOK_PATH}')}?token=${{HOOK_TOKEN}}&key={LITERAL_KEY}"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "1s"
        timeout = "2s"
        retries = 1

        [[check]]
        name = "lab-api"
        type = "http"
        url = "{check_url}"
        labels = {{ category = "web" }}

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
        url = "{url}"
        """)
    )
    return config


def create_database(tmp_path: Path) -> None:
    """The config's database, as `escalatord run` creates it (other commands need one)."""

    async def create() -> None:
        async with Store(f"sqlite:///{tmp_path}/escalatord.db"):
            pass

    asyncio.run(create())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"HOOK_TOKEN": QUERY_TOKEN, "HOOK_PATH": PATH_TOKEN}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def down() -> Iterator[HttpTarget]:
    """The checked service: answers 500 to everything."""
    with HttpTarget() as target:
        target.respond(500, "down")
        yield target


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    """The webhook receiver: refuses with 400, echoing the request in its error body."""
    with HttpTarget() as target:
        target.respond(400, echo=True)
        yield target


def test_test_notify_masks_url_secrets_echoed_by_the_receiver(tmp_path, env, down, sink):
    """`test-notify` against a receiver that answers 400 echoing the request prints the status
    and the echoed request line with *** for every query value and the ${ENV} path token."""
    config = write_config(tmp_path, sink, free_port(), down.url("/health"))
    create_database(tmp_path)
    proc = cli(config, "test-notify", "hook", check=False)
    [request] = sink.requests
    assert PATH_TOKEN in request.path and LITERAL_KEY in request.path, "the tokens were not sent"
    assert proc.returncode == 1, output(proc)
    assert "answered 400 Bad Request" in proc.stderr
    assert "POST /hook/***?token=***&key=*** HTTP/1.1" in proc.stderr
    assert leaked(output(proc)) == []


def test_daemon_log_timeline_and_outbox_mask_url_secrets(tmp_path, env, down, sink):
    """A page refused with 503 then 400, each echoing the request, is retried and then failed;
    the daemon's log, the incident timeline and the outbox row say so with *** for the
    tokens."""
    port = free_port()
    sink.then(Reply(503, echo=True))
    config = write_config(tmp_path, sink, port, down.url("/health"))
    daemon = DaemonProcess(config, port, tmp_path / "daemon.log", env=env).start()
    try:
        wait_until(lambda: "notify_failed" in daemon.logs(), 30, "the page to fail")
    finally:
        assert daemon.stop() == 0
    assert len(sink.requests) == 2, sink.requests
    log = daemon.logs()
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        timeline = [m for (m,) in db.execute("SELECT message FROM timeline ORDER BY id")]
        errors = [e for (e,) in db.execute("SELECT last_error FROM outbox")]
    retry = next(m for m in timeline if "failed (attempt 1)" in m)
    failed = next(m for m in timeline if " failed: " in m)
    assert "answered 503 Service Unavailable: POST /hook/***?token=***&key=***" in retry
    assert "permanent failure" in failed and "answered 400 Bad Request" in failed
    assert "answered 400 Bad Request" in errors[0]
    assert "notify_retry" in log and "token=***" in log
    for text in (log, *timeline, *errors):
        assert leaked(text) == [], text
