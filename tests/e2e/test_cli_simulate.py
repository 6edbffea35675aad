"""`escalatord simulate` as a real subprocess on the CLI tests' config (tests/e2e/conftest.py):
it sends nothing (the webhook sink stays empty), stores nothing (the database is as it was),
prints the timeline as text and JSON, and refuses bad usage with exit 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from escalatord.store.db import Store
from escalatord.store.tables import check_states, incidents, outbox, timeline
from tests.support.cli_output import SECRET, output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e


def counts(url: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        async with Store(url, create=False) as store, store.read() as conn:
            return {
                t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (incidents, outbox, timeline, check_states)
            }

    return asyncio.run(read())


def test_simulate_sends_nothing_and_stores_nothing(config: Path, database: str, target):
    """A simulated failure of web-up pages the webhook in the timeline, yet the sink receives
    no request and the database has no incident, outbox row, timeline entry or check state."""
    before = counts(database)
    proc = cli(config, "simulate", "web-up", "--at", "2026-12-07 03:00Z", "--tz", "UTC", "--json")
    assert proc.returncode == 0, output(proc)
    found = json.loads(proc.stdout)
    [incident] = found["incidents"]
    assert (incident["check"], incident["rule"], incident["policy"]) == ("web-up", "web", "ops")
    # Hard after the default 3 results 15 s apart; level 0 (after 0s) pages the hook at once.
    assert [(p["at"], p["notifier"], p["event"], p["sent"]) for p in found["pages"]] == [
        ("2026-12-07T03:00:30+00:00", "hook", "triggered", True)
    ]
    assert found["ended"] == "settled"
    assert target.requests == []
    assert (
        counts(database)
        == before
        == {
            "incidents": 0,
            "outbox": 0,
            "timeline": 0,
            "check_states": 0,
        }
    )
    assert SECRET not in output(proc)


def test_simulate_prints_the_timeline_for_people(config: Path, database: str):
    """The text names the failure, each soft result, the hard change, the incident with its
    rule, the page, and who acknowledged; without a database it says it used the config alone."""
    proc = cli(
        config,
        "simulate",
        "web-up",
        "--at",
        "2026-12-07 03:00",
        "--tz",
        "Europe/Paris",
        "--ack-after",
        "5m",
        "--by",
        "alice",
    )
    assert proc.returncode == 0, output(proc)
    text = proc.stdout
    assert "Simulated: web-up fails at Mon 2026-12-07 03:00 CET. Nothing is sent or stored." in text
    assert "Mon 2026-12-07 (CET)" in text
    assert "03:00:00  web-up  critical (1 of 3 toward a failure)" in text
    assert "03:00:30  web-up  CRITICAL (hard)" in text
    assert "03:00:30  #1 level 0 (triggered) -> hook" in text
    assert "03:05:30  #1 acknowledged by alice (simulated)" in text
    assert "#1 web-up is CRITICAL (rule 'web', policy ops, owner -): acknowledged by alice" in text
    Path(database.removeprefix("sqlite:///")).unlink()
    alone = cli(config, "simulate", "web-down", "--tz", "UTC")
    assert alone.returncode == 0, output(alone)
    assert "using the config alone" in alone.stderr


def test_simulate_refuses_bad_usage(config: Path):
    """An unknown check (the configured ones listed), --by without --ack-after, and a bad TIME
    each exit 2 with a message that says what to fix."""
    unknown = cli(config, "simulate", "web-upp", check=False)
    assert unknown.returncode == 2
    assert "no check named 'web-upp'" in unknown.stderr and "web-up" in unknown.stderr
    lone_by = cli(config, "simulate", "web-up", "--by", "alice", check=False)
    assert lone_by.returncode == 2
    assert "--ack-after" in lone_by.stderr
    bad_time = cli(config, "simulate", "web-up", "--at", "tomorrowish", check=False)
    assert bad_time.returncode == 2
    assert "is not a time" in bad_time.stderr
    bad_zone = cli(config, "simulate", "web-up", "--tz", "Mars/Olympus", check=False)
    assert bad_zone.returncode == 2
    assert "is not a time zone" in bad_zone.stderr
