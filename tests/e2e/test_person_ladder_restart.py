"""End to end: `kill -9` of the daemon between a person's first and second contact neither
loses nor repeats either. The daemon runs as a process; aiosmtpd on loopback receives alice's
pages (tests/support/mailbox.py); a restart uses the same SQLite database.

A person's page is one outbox row per contact, written together when the level fires, the
second due at fired + its `after` (incidents/outbox.py); these tests kill the daemon with the
second row waiting for its time, and with it being sent.
"""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess, free_port
from tests.support.http_target import HttpTarget
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

FIRST = "alice@example.org"
SECOND = "alice.phone@example.org"
AFTER = 4.0  # the second contact's `after`, seconds


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


def write_config(tmp_path: Path, target: HttpTarget, smtp_port: int, port: int) -> Path:
    """One check paging the schedule network-oncall, where alice alone is on call; her second
    contact `after` AFTER. One level: nothing else is ever paged."""
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

        [[rule]]
        name = "all"
        severity = "critical"
        policy = "network"

        [[policy]]
        name = "network"
          [[policy.level]]
          after = "0s"
          notify = ["network-oncall"]

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
          to = "{FIRST}"
          [[person.contact]]
          notifier = "mail"
          to = "{SECOND}"
          after = "{AFTER:g}s"

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


def contacts(tmp_path: Path) -> dict[str, sqlite3.Row]:
    """alice's outbox rows by address."""
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM outbox WHERE person = 'alice' ORDER BY id").fetchall()
    return {row["address"]: row for row in rows}


async def until_row(tmp_path: Path, address: str, status: str, within: float = 15.0) -> None:
    """Wait (bounded) until the daemon has recorded `status` for the row to `address`."""
    deadline = time.monotonic() + within
    while (row := contacts(tmp_path).get(address)) is None or row["status"] != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"the row to {address} is not {status}: {row and dict(row)}")
        await asyncio.sleep(0.05)


async def start(config: Path, port: int, log: Path) -> DaemonProcess:
    return await asyncio.to_thread(DaemonProcess(config, port, log).start)


def assert_each_once(tmp_path: Path, mail: Mailbox) -> None:
    """One message to each of alice's addresses, nothing else; both rows delivered on their
    first attempt, keys `<incident>:<step>:triggered:mail@alice#<n>`."""
    assert [rcpts for _, rcpts, _ in mail.arrivals] == [[FIRST], [SECOND]]
    rows = contacts(tmp_path)
    assert [(a, r["status"], r["attempts"]) for a, r in rows.items()] == [
        (FIRST, "delivered", 1),
        (SECOND, "delivered", 1),
    ]
    assert [r["key"].split(":", 2)[2] for r in rows.values()] == [
        "triggered:mail@alice#0",
        "triggered:mail@alice#1",
    ]


async def test_kill9_before_the_second_contact_is_due(tmp_path, target):
    """kill -9 once the first address has its page (recorded delivered) and the second row
    waits for its time; after the restart the second arrives once, not before its `after`,
    and the first is never sent again."""
    async with Mailbox() as mail:
        port = free_port()
        config = write_config(tmp_path, target, mail.port, port)
        daemon = await start(config, port, tmp_path / "daemon.log")
        try:
            target.respond(500, "switch down")
            await mail.wait_for(lambda: mail.to(FIRST), "alice's first page", within=30)
            [(paged, first)] = mail.to(FIRST)
            assert "Alice Moreau" in first["To"]
            # Delivered on the SMTP server is not yet delivered in the outbox: a kill in
            # between would send it again after the restart (at least once, by design).
            await until_row(tmp_path, FIRST, "delivered")
        finally:
            await asyncio.to_thread(daemon.kill9)
        killed = time.monotonic()
        assert killed - paged < AFTER - 1, "killed too late to be between the two contacts"
        second = contacts(tmp_path)[SECOND]
        assert (second["status"], second["attempts"], second["claimed_by"]) == ("pending", 0, None)
        assert not mail.to(SECOND)

        restarted = await start(config, port, tmp_path / "daemon2.log")
        try:
            await mail.wait_for(lambda: mail.to(SECOND), "her second contact", within=AFTER + 20)
            [(second_at, phone)] = mail.to(SECOND)
            assert second_at - paged >= AFTER - 0.5
            assert "Alice Moreau" in phone["To"]
            await until_row(tmp_path, SECOND, "delivered")
            await mail.no_more(within=3.0)  # a repeat of either would have come by now
            assert_each_once(tmp_path, mail)
        finally:
            assert await asyncio.to_thread(restarted.stop) == 0, restarted.logs()


async def test_kill9_while_the_second_contact_is_being_sent(tmp_path, target):
    """kill -9 while the second contact's page is in flight (the SMTP server holds its
    RCPT TO unanswered, so it is never accepted): the restarted daemon takes back the dead
    run's claim and sends it within seconds, not when the claim's lease (timeout + 30 s) runs
    out; it arrives once and the first address gets nothing more."""
    async with Mailbox() as mail:
        mail.hold(SECOND)
        port = free_port()
        config = write_config(tmp_path, target, mail.port, port)
        daemon = await start(config, port, tmp_path / "daemon.log")
        try:
            target.respond(500, "switch down")
            await mail.wait_for(lambda: mail.to(FIRST), "alice's first page", within=30)
            [(paged, _)] = mail.to(FIRST)
            await mail.wait_for(lambda: mail.holding, "the second page in flight", within=30)
            await until_row(tmp_path, FIRST, "delivered")
        finally:
            await asyncio.to_thread(daemon.kill9)
        assert time.monotonic() - paged >= AFTER - 0.5
        second = contacts(tmp_path)[SECOND]
        assert (second["status"], second["attempts"]) == ("pending", 0)
        assert second["claimed_by"] is not None  # the dead run's claim
        assert not mail.to(SECOND)

        restarted = await start(config, port, tmp_path / "daemon2.log")
        try:
            # The claim's lease runs 40 s (the default 10 s timeout + 30 s); well under that:
            await mail.wait_for(lambda: mail.to(SECOND), "the second page again", within=15)
            assert len(mail.to(SECOND)) == 1
            await until_row(tmp_path, SECOND, "delivered")
            assert contacts(tmp_path)[SECOND]["claimed_by"] is None
            assert '"claims_taken_back"' in restarted.logs()
            await mail.no_more(within=3.0)
            assert_each_once(tmp_path, mail)
        finally:
            assert await asyncio.to_thread(restarted.stop) == 0, restarted.logs()
