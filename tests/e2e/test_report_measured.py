"""End to end with the daemon as a process and a webhook sink on loopback: checks that really
fail open incidents, people acknowledge them by real paths (the ack link of their page, and
`escalatord ack`), and `escalatord report` then shows the MTTA measured around each ack, to
within a second; a drill acknowledged the same way shows in the drills' figures only."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e

WITHIN = 1.0  # seconds: the "MTTA within a second of the measured ack time"


def write_config(tmp_path: Path, target: HttpTarget, port: int) -> Path:
    """Two checks on the sink's /switch and /router; their rule pages alice at once and bob
    5 s later, both through the webhook /hook."""
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
        name = "core-switch"
        type = "http"
        url = "{target.url("/switch")}"
        labels = {{ category = "network" }}

        [[check]]
        name = "edge-router"
        type = "http"
        url = "{target.url("/router")}"
        labels = {{ category = "network" }}

        [[rule]]
        name = "network"
        match = {{ category = "network" }}
        severity = "critical"
        policy = "network"

        [[policy]]
        name = "network"
          [[policy.level]]
          after = "0s"
          notify = ["alice"]
          [[policy.level]]
          after = "5s"
          notify = ["bob"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"

        [[person]]
        name = "alice"
          [[person.contact]]
          notifier = "hook"
          to = "alice"

        [[person]]
        name = "bob"
          [[person.contact]]
          notifier = "hook"
          to = "bob"
        """)
    )
    return config


def page(
    target: HttpTarget, event: str, to: str, check: str, drill: bool = False
) -> dict[str, Any] | None:
    """The first `event` page to `to` for a real incident (or a drill) of `check` the sink
    received, if any."""
    for request in list(target.requests):
        if request.path != "/hook":
            continue
        body = request.json()
        incident = body["incident"]
        if (body["event"], body["to"], incident["check"], incident["drill"]) == (
            event, to, check, drill,
        ):  # fmt: skip
            return body
    return None


def opened_at(config: Path, incident_id: str) -> datetime:
    """When the incident opened, as `escalatord incidents --json` shows it."""
    listed = json.loads(cli(config, "incidents", "--all", "--json").stdout)
    [found] = [i for i in listed if str(i["id"]) == str(incident_id)]
    return datetime.fromisoformat(found["opened_at"])


def measured(acknowledge: Callable[[], None]) -> tuple[datetime, datetime]:
    """The instants just before and just after `acknowledge()` ran: the ack is between."""
    before = datetime.now(UTC)
    acknowledge()
    return before, datetime.now(UTC)


def ack_link(incident: dict[str, Any], name: str) -> Callable[[], None]:
    def post() -> None:
        posted = httpx.post(incident["ack_url"], data={"name": name}, timeout=10)
        assert posted.status_code == 200, posted.text

    return post


def assert_within(seconds: float, opened: datetime, window: tuple[datetime, datetime]) -> None:
    """`seconds` after `opened` falls within WITHIN of the measured ack window."""
    low = (window[0] - opened).total_seconds() - WITHIN
    high = (window[1] - opened).total_seconds() + WITHIN
    assert low <= seconds <= high, (seconds, low, high)


def test_report_mtta_is_the_measured_ack_time_and_a_drill_stays_apart(tmp_path):
    """core-switch fails and alice takes it from her page's ack link; edge-router fails and
    bob takes it with `escalatord ack` once the ladder reaches him; a drill is taken by bob
    from his level-1 page. The report's real MTTA p50/p90 are the two measured ack times
    (nearest-rank of two: the shorter and the longer) within a second; the drill, with bob,
    level 1 and its time, is in the drills' figures and not counted in the real ones."""
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        target.respond(200, "fine", path="/switch")
        target.respond(200, "fine", path="/router")
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            target.respond(500, "down", path="/switch")
            wait_until(lambda: page(target, "triggered", "alice", "core-switch"), 30, "a page")
            switch = page(target, "triggered", "alice", "core-switch")["incident"]
            switch_ack = measured(ack_link(switch, "alice"))

            target.respond(500, "down", path="/router")
            wait_until(lambda: page(target, "escalated", "bob", "edge-router"), 30, "bob's page")
            router = page(target, "escalated", "bob", "edge-router")["incident"]

            def ack_as_bob() -> None:
                done = cli(config, "ack", str(router["id"]), "--as", "bob", check=False)
                assert done.returncode == 0, output(done)

            router_ack = measured(ack_as_bob)

            started = cli(config, "drill", "--rule", "network", "--as", "alice", check=False)
            assert started.returncode == 0, output(started)
            # A drill of a rule stands in for its first check, core-switch.
            wait_until(
                lambda: page(target, "escalated", "bob", "core-switch", drill=True),
                30,
                "bob's drill page",
            )
            drill = page(target, "escalated", "bob", "core-switch", drill=True)["incident"]
            drill_ack = measured(ack_link(drill, "bob"))
            opened = {
                name: opened_at(config, incident["id"])
                for name, incident in (("switch", switch), ("router", router), ("drill", drill))
            }
        finally:
            daemon.stop()

    found = json.loads(cli(config, "report", "--format", "json").stdout)
    real = found["real"]
    assert (real["incidents"], real["acknowledged"]) == (2, 2)
    expected = sorted(
        [(opened["switch"], switch_ack), (opened["router"], router_ack)],
        key=lambda o: (o[1][0] - o[0]).total_seconds(),
    )
    assert_within(real["mtta_p50"], *expected[0])
    assert_within(real["mtta_p90"], *expected[1])

    drills = found["drills"]
    assert (drills["incidents"], drills["acknowledged"]) == (1, 1)
    [ack] = drills["acks"]
    assert (ack["incident_id"], ack["by"], ack["level"]) == (int(drill["id"]), "bob", 1)
    assert_within(ack["seconds"], opened["drill"], drill_ack)
    assert 0 <= ack["after_page"] < ack["seconds"]
    assert [g["level"] for g in drills["by_level"]] == [1]
    assert [g["person"] for g in drills["by_person"]] == ["bob"]
