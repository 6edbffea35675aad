"""End to end with the daemon as a process and a webhook sink: a silence holds a failing
check and its page comes within seconds after the silence ends; a `[[maintenance]]` window
with `children = true` covers a router's dependants; an incident open before a silence stops
escalating and resumes after it; `kill -9` inside a window loses nothing and the window still
ends on time after the restart."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget, Request

pytestmark = pytest.mark.e2e
SOON = 4.0  # "within a few seconds": tick 200ms, checks every 1s, the recheck every 5s


def write_config(tmp_path: Path, target: HttpTarget, port: int, extra: str = "") -> Path:
    """Checks: router (up), switch (failing, behind the router), server (failing, behind the
    switch), web (failing, site boston) and other (failing); one rule pages level 0 at once
    and level 1 after 5s."""
    config = tmp_path / "escalatord.toml"
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
        name = "router"
        type = "http"
        url = "{target.url("/up")}"
        labels = {{ site = "lab", role = "router" }}

        [[check]]
        name = "switch"
        type = "http"
        url = "{target.url("/down")}"
        depends_on = ["router"]

        [[check]]
        name = "server"
        type = "http"
        url = "{target.url("/down")}"
        depends_on = ["switch"]

        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/down")}"
        labels = {{ site = "boston" }}

        [[check]]
        name = "other"
        type = "http"
        url = "{target.url("/down")}"

        [[rule]]
        name = "all"
        policy = "ops"

        [[policy]]
        name = "ops"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]
          [[policy.level]]
          after = "5s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        """)
        + textwrap.dedent(extra)
    )
    return config


def sink() -> HttpTarget:
    target = HttpTarget()
    target.respond(200, "fine", path="/up")
    target.respond(500, "broken", path="/down")
    target.respond(200, "thanks", path="/hook")
    return target


def pages(target: HttpTarget, check: str, level: int | None = None) -> list[Request]:
    """The pages (triggered, escalated) the hook received for `check`'s incident."""
    found = []
    for request in list(target.requests):
        if request.path != "/hook":
            continue
        body = request.json()
        if body["incident"]["check"] == check and body["event"] in ("triggered", "escalated"):
            if level is None or body["level"] == level:
                found.append(request)
    return found


def create_database(tmp_path: Path) -> None:
    async def create() -> None:
        async with Store(f"sqlite:///{tmp_path}/escalatord.db"):
            pass

    asyncio.run(create())


def hard_status(tmp_path: Path, check: str) -> str | None:
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        row = db.execute(
            'SELECT status FROM check_states WHERE "check" = ? AND hard = 1', (check,)
        ).fetchone()
        return row[0] if row else None


def incident_checks(config: Path) -> list[str]:
    return [i["check"] for i in json.loads(cli(config, "incidents", "--all", "--json").stdout)]


def local(at: datetime) -> str:
    """A [[maintenance]] local time (the window's zone is UTC), to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def silence(config: Path, *args: str) -> dict[str, Any]:
    added = cli(config, "silence", "add", *args, "--reason", "works", "--as", "alice", check=False)
    assert added.returncode == 0, output(added)
    listed = json.loads(cli(config, "silence", "list", "--json").stdout)["silences"]
    return listed[-1]


def test_a_silence_holds_a_failing_check_and_its_page_comes_when_it_ends(tmp_path):
    """web fails throughout a 10s silence: its state is kept (critical), no incident opens, no
    page; the page comes within seconds after the silence ends. `other` is paged at once."""
    with sink() as target:
        port = free_port()
        config = write_config(tmp_path, target, port)
        create_database(tmp_path)
        held = silence(config, "--match", "site=boston", "--for", "10s")
        ends = datetime.fromisoformat(held["ends_at"]).timestamp()
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: pages(target, "other"), 20, "other's page")
            wait_until(lambda: hard_status(tmp_path, "web") == "critical", 20, "web critical")
            assert time.time() < ends, "the daemon took too long to start for this test"
            assert pages(target, "web") == [] and "web" not in incident_checks(config)
            wait_until(lambda: pages(target, "web"), ends - time.time() + 15, "web's page")
            arrived = pages(target, "web")[0].at
            assert ends <= arrived <= ends + SOON, (arrived - ends, daemon.logs())
        finally:
            daemon.stop()


def test_a_window_with_children_covers_the_router_and_its_dependants(tmp_path):
    """A one-off window on the router with children = true holds the switch behind it (its own
    failure: the router is up) and the server behind the switch; the switch is paged within
    seconds after the window closes."""
    with sink() as target:
        port = free_port()
        ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=14)
        window = f"""
        [[maintenance]]
        name = "router-swap"
        match = {{ role = "router" }}
        from = "{local(ends - timedelta(minutes=5))}"
        until = "{local(ends)}"
        timezone = "UTC"
        children = true
        """
        config = write_config(tmp_path, target, port, window)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: pages(target, "other"), 20, "other's page")
            wait_until(lambda: hard_status(tmp_path, "switch") == "critical", 20, "switch down")
            assert time.time() < ends.timestamp(), "the daemon took too long to start"
            shown = incident_checks(config)
            assert "switch" not in shown and "server" not in shown and "router" not in shown
            wait_until(lambda: pages(target, "switch"), 30, "the switch's page")
            arrived = pages(target, "switch")[0].at
            assert ends.timestamp() <= arrived <= ends.timestamp() + SOON
            assert pages(target, "server") == []  # unreachable behind the switch
        finally:
            daemon.stop()


def test_an_open_incident_stops_escalating_in_a_silence_and_resumes_after(tmp_path):
    """web's incident is paged at level 0; a silence added then holds its level 1 (due 5s
    after opening) until the silence ends, when level 1 is paged; its timeline says so."""
    with sink() as target:
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: pages(target, "web", 0), 20, "web's level 0")
            held = silence(config, "--check", "web", "--for", "9s")
            ends = datetime.fromisoformat(held["ends_at"]).timestamp()
            opened = pages(target, "web", 0)[0].at
            listed = cli(config, "incidents").stdout
            assert f"in maintenance: silence {held['id']} until" in listed, listed
            assert ends > opened + 5, "the silence came too late to hold level 1"
            wait_until(lambda: pages(target, "web", 1), 30, "web's level 1")
            arrived = pages(target, "web", 1)[0].at
            assert ends <= arrived <= ends + SOON
            with sqlite3.connect(tmp_path / "escalatord.db") as db:
                [(message,)] = db.execute("SELECT message FROM timeline WHERE kind = 'quiet'")
            assert "alice: works" in message
        finally:
            daemon.stop()


def test_kill_9_inside_a_window_loses_nothing_and_the_window_ends_on_time(tmp_path):
    """kill -9 while web is held by a window; after the restart web is still held, and its
    page comes within seconds after the window's end, once."""
    with sink() as target:
        port = free_port()
        ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=16)
        window = f"""
        [[maintenance]]
        name = "boston-night"
        match = {{ site = "boston" }}
        from = "{local(ends - timedelta(hours=1))}"
        until = "{local(ends)}"
        timezone = "UTC"
        """
        config = write_config(tmp_path, target, port, window)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: hard_status(tmp_path, "web") == "critical", 20, "web critical")
            daemon.kill9()
            daemon = DaemonProcess(config, port, tmp_path / "d2.log").start()
            wait_until(lambda: pages(target, "other", 1), 20, "other's level 1")
            assert time.time() < ends.timestamp(), "the restart took too long for this test"
            assert pages(target, "web") == []
            wait_until(lambda: pages(target, "web"), 30, "web's page")
            arrived = pages(target, "web")[0].at
            assert ends.timestamp() <= arrived <= ends.timestamp() + SOON
        finally:
            daemon.stop()
        assert len(pages(target, "web", 0)) == 1
