"""End to end with the daemon as a process and aiosmtpd on loopback: a schedule puts alice on
call; a failing check pages alice's address only, then her second contact after its `after`,
then the team at level 1; bob acknowledges with his own link and the JSON says bob; an override
made with the CLI moves the next incident to carol."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, cli, free_port
from tests.support.http_target import HttpTarget
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


def write_config(tmp_path: Path, target: HttpTarget, smtp_port: int, port: int) -> Path:
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
        url = "{target.url("/health")}"
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
          notify = ["network-oncall"]
          [[policy.level]]
          after = "6s"
          notify = ["network"]

        [[notifier]]
        name = "mail"
        type = "email"
        host = "127.0.0.1"
        port = {smtp_port}
        security = "none"
        from = "escalatord <escalatord@example.org>"
        to = ["noc@example.org"]

        [[person]]
        name = "alice"
        full_name = "Alice Moreau"
          [[person.contact]]
          notifier = "mail"
          to = "alice@example.org"
          [[person.contact]]
          notifier = "mail"
          to = "alice.phone@example.org"
          after = "3s"

        [[person]]
        name = "bob"
        full_name = "Bob Martin"
          [[person.contact]]
          notifier = "mail"
          to = "bob@example.org"

        [[person]]
        name = "carol"
          [[person.contact]]
          notifier = "mail"
          to = "carol@example.org"

        [[team]]
        name = "network"
        members = ["alice", "bob"]

        [[schedule]]
        name = "network-oncall"
        timezone = "Europe/Paris"
          [[schedule.layer]]
          members = ["alice"]
          start = "2026-01-05 09:00"
          rotation = "1w"
    """)
    )
    return config


async def until(predicate: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll `predicate` without blocking the loop the SMTP server runs in."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def mails_to(smtp: SmtpServer, address: str) -> list[tuple[float, object]]:
    return [(at, mail) for at, (_, rcpts, mail) in smtp.timed if rcpts == [address]]


async def test_the_ladder_pages_the_person_on_call_then_the_team(tmp_path, target):
    """alice (on call) gets her first address only, her second after 3s, then level 1 pages
    alice and bob; bob's link acknowledges as bob: `incidents --json` says bob."""
    async with SmtpServer(None, "none") as smtp:
        smtp.timed = []  # (arrival time, message): the handler appends to `messages`
        original = smtp.messages

        class Timed(list):
            def append(self, item: object) -> None:
                smtp.timed.append((time.monotonic(), item))
                super().append(item)

        smtp.messages = Timed(original)
        port = free_port()
        config = write_config(tmp_path, target, smtp.port, port)
        daemon = await asyncio.to_thread(DaemonProcess(config, port, tmp_path / "d.log").start)
        try:
            target.respond(500, "switch down")
            await until(lambda: smtp.messages, "alice's first page")
            failed = time.monotonic()
            [(_, first, rcpts)] = [(a, m, r) for a, (_, r, m) in smtp.timed]
            assert rcpts == ["alice@example.org"]
            assert "Alice Moreau" in first["To"]

            await until(lambda: mails_to(smtp, "alice.phone@example.org"), "her second contact")
            [(second_at, _)] = mails_to(smtp, "alice.phone@example.org")
            assert second_at - failed >= 2.5
            assert not mails_to(smtp, "bob@example.org")

            await until(lambda: mails_to(smtp, "bob@example.org"), "level 1: the team")
            [(bob_at, bob_mail)] = mails_to(smtp, "bob@example.org")
            assert bob_at - failed >= 5.5
            # Level 1's mails to alice and bob go out side by side: either may arrive first.
            await until(lambda: len(mails_to(smtp, "alice@example.org")) == 2, "level 1: alice")
            assert len(mails_to(smtp, "alice@example.org")) == 2  # level 0 and level 1, no more
            assert all(rcpts != ["noc@example.org"] for _, rcpts, _ in smtp.messages)

            text = bob_mail.get_body(("plain",)).get_content()
            link = re.search(r"Acknowledge: (\S+)", text).group(1)
            alices = mails_to(smtp, "alice@example.org")[0][1].get_body(("plain",)).get_content()
            assert re.search(r"Acknowledge: (\S+)", alices).group(1) != link
            async with httpx.AsyncClient() as client:
                done = await client.post(link)
            assert done.status_code == 200, done.text
            assert "Acknowledged by bob" in done.text

            shown = await asyncio.to_thread(cli, config, "incidents", "--json")
            [incident] = json.loads(shown.stdout)
            assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", "bob")
            # The notice reaches bob and alice at the addresses their pages went out to.
            await until(lambda: len(mails_to(smtp, "bob@example.org")) == 2, "bob's notice")
            [(_, notice)] = mails_to(smtp, "bob@example.org")[1:]
            assert "bob" in notice.get_body(("plain",)).get_content()
        finally:
            await asyncio.to_thread(daemon.stop)


async def test_an_override_moves_the_next_incident_to_carol(tmp_path, target):
    """With the daemon running, `oncall override` puts carol on call: the incident open before
    paged alice; after it resolves, the next failure pages carol's address and not alice's."""
    async with SmtpServer(None, "none") as smtp:
        port = free_port()
        config = write_config(tmp_path, target, smtp.port, port)
        daemon = await asyncio.to_thread(DaemonProcess(config, port, tmp_path / "d.log").start)

        def to(address: str) -> list[object]:
            return [m for _, rcpts, m in smtp.messages if rcpts == [address]]

        try:
            target.respond(500, "switch down")
            await until(lambda: to("alice@example.org"), "alice's page for the first incident")
            added = await asyncio.to_thread(
                cli, config, "oncall", "override", "network-oncall",
                "--person", "carol", "--from", "now", "--until", "+1h",
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            target.respond(200, "ok")
            deadline = time.monotonic() + 30
            while json.loads((await asyncio.to_thread(cli, config, "incidents", "--json")).stdout):
                assert time.monotonic() < deadline, "timed out waiting for the first to resolve"
                await asyncio.sleep(0.2)
            target.respond(500, "switch down again")
            await until(lambda: to("carol@example.org"), "carol's page for the next incident")
            [carols] = to("carol@example.org")
            assert "Incident 2," in carols.get_body(("plain",)).get_content()
            # alice had the first incident's page (and its resolved notice), nothing of the next.
            assert to("alice@example.org")
            assert not any(
                "Incident 2," in m.get_body(("plain",)).get_content()
                for m in to("alice@example.org")
            )
            shown = await asyncio.to_thread(cli, config, "oncall", "--json")
            assert "carol" in shown.stdout
        finally:
            await asyncio.to_thread(daemon.stop)
