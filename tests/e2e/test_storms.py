"""End to end with the daemon as a process and a webhook sink: eight checks of one site failing
together under a `group_by = ["site"]` rule are paged as one group, one message per level
listing all eight, and one acknowledgement (the ack link in the page) acknowledges all eight."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e

CHECKS = [f"boston-{n}" for n in range(8)]


def write_config(tmp_path: Path, target: HttpTarget, port: int) -> Path:
    checks = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "http"
        url = "{target.url("/" + name)}"
        labels = {{ site = "boston" }}
        """
        for name in CHECKS
    )
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
        {checks}
        [[rule]]
        name = "sites"
        severity = "critical"
        policy = "sites"
        group_by = ["site"]
        group_wait = "4s"

        [[policy]]
        name = "sites"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]
          [[policy.level]]
          after = "8s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        """)
    )
    return config


def messages(target: HttpTarget, event: str) -> list[dict[str, Any]]:
    found = [r.json() for r in list(target.requests) if r.path == "/hook"]
    return [m for m in found if m["event"] == event]


def incidents(config: Path) -> list[dict[str, Any]]:
    return json.loads(cli(config, "incidents", "--all", "--json").stdout)


def test_a_site_storm_is_one_page_per_level_and_one_ack(tmp_path):
    """Eight boston checks fail together: level 0 and level 1 are one page each listing all
    eight; the ack link in the page acknowledges all eight, with one notice; each incident
    resolves on its own when its check recovers."""
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        for name in CHECKS:
            target.respond(500, "site down", path="/" + name)
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: messages(target, "escalated"), 40, "level 1's page")
            [first] = messages(target, "triggered")
            [second] = messages(target, "escalated")
            for page in (first, second):
                group = page["incident"]["group"]
                assert group["size"] == 8 and group["key"] == "sites|site=boston"
                assert sorted(m["check"] for m in group["members"]) == CHECKS
            assert len(incidents(config)) == 8

            posted = httpx.post(second["incident"]["ack_url"], data={"name": "alice"})
            assert posted.status_code == 200, posted.text
            shown = incidents(config)
            assert [i["status"] for i in shown] == ["acknowledged"] * 8
            wait_until(lambda: messages(target, "acknowledged"), 20, "the ack notice")
            [notice] = messages(target, "acknowledged")
            assert notice["incident"]["group"]["size"] == 8

            for name in CHECKS[:3]:
                target.respond(200, "fine", path="/" + name)
            wait_until(
                lambda: sum(i["status"] == "resolved" for i in incidents(config)) == 3,
                20,
                "three recoveries",
            )
            assert (
                sorted(i["check"] for i in incidents(config) if i["status"] == "resolved")
                == (CHECKS[:3])
            )
        finally:
            assert daemon.stop() == 0, daemon.logs()
        # Exactly one page per level: members never paged on their own.
        assert len(messages(target, "triggered")) == len(messages(target, "escalated")) == 1
