"""`escalatord simulate`'s run (commands/simulation.py) against hand-written expectations: the
hospital example (retries, levels, repeats, a root cause holding its dependants, a recovery)
and small configs for what the example lacks (ack_timeout across a DST handoff, a maintenance
window, a check no rule covers, a stored rota override). Every expected time was worked out
from the config by hand; times are America/New_York, as the example's rota."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from escalatord.commands.simulation import Scenario, run
from escalatord.config.loader import load
from escalatord.people import overrides
from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox
from tests.support.config_files import write

ROOT = Path(__file__).parents[2]
NY = ZoneInfo("America/New_York")
HOSPITAL = ROOT / "config/examples/hospital.toml"


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def pages(found) -> list[tuple[str, int, int, str, str]]:
    """(local time, incident, level, event, who) of every page and notice sent."""
    return [
        (p.at.astimezone(NY).strftime("%H:%M:%S"), p.incident, p.level, p.event, _who(p))
        for p in found.pages
        if p.sent
    ]


def _who(page) -> str:
    return f"{page.person}/{page.notifier}" if page.person else page.notifier


def changes(found, check: str) -> list[tuple[str, str, bool, int]]:
    """(local time, status, hard, attempts) of each change of `check`'s state."""
    return [
        (c.at.astimezone(NY).strftime("%H:%M:%S"), c.status, c.hard, c.attempts)
        for c in found.changes
        if c.check == check
    ]


def level(at: str, incident: int, n: int, event: str, *who: str):
    return [(at, incident, n, event, w) for w in who]


async def simulate(config, *checks: str, at: str = "2026-12-07 03:00", **options):
    return await run(config, Scenario(checks=checks, at=ny(at), **options))


@pytest.fixture(scope="module")
def hospital():
    return load(HOSPITAL, env={})


async def test_a_feed_failure_pages_the_rota_then_the_team_for_three_cycles(hospital):
    """hl7-adt-feed fails at 03:00 on Monday 7 December: hard after 3 results 15 s apart, rule
    "patient care" with policy clinical: level 0 to whoever is on call (carol, the rota's week
    from Monday 30 November 09:00) and the webhook, level 1 ten minutes later to the team and
    the IT manager, alice's second contact 5 min after her page, the ladder twice again every
    30 min, then nothing."""
    found = await simulate(hospital, "hl7-adt-feed")
    assert changes(found, "hl7-adt-feed") == [
        ("03:00:00", "ok", False, 1),
        ("03:00:15", "ok", False, 2),
        ("03:00:30", "critical", True, 0),
    ]
    [incident] = found.incidents
    assert (incident["rule"], incident["policy"], incident["category"], incident["priority"]) == (
        "patient care",
        "clinical",
        "patient-care",
        1,
    )
    team = ("it-manager", "alice/mail", "bob/mail", "carol/mail")
    expected = [
        *level("03:00:30", 1, 0, "triggered", "ops-webhook", "carol/mail"),
        *level("03:10:30", 1, 1, "escalated", *team),
        *level("03:15:30", 1, 1, "escalated", "alice/ops-webhook"),
        *level("03:30:30", 1, 0, "reminder", "ops-webhook", "carol/mail"),
        *level("03:40:30", 1, 1, "reminder", *team),
        *level("03:45:30", 1, 1, "reminder", "alice/ops-webhook"),
        *level("04:00:30", 1, 0, "reminder", "ops-webhook", "carol/mail"),
        *level("04:10:30", 1, 1, "reminder", *team),
        *level("04:15:30", 1, 1, "reminder", "alice/ops-webhook"),
    ]
    assert pages(found) == expected
    assert found.ended == "settled"
    assert found.end_at.astimezone(NY) == ny("2026-12-07 04:15:30")


async def test_a_router_down_is_one_incident_holding_everything_behind_it(hospital):
    """hq-core-router fails: the five checks behind it (two at hq, the Boston WAN and what hangs
    on it) fail with it and turn unreachable the instant it is hard; one incident opens, by the
    catch-all rule, listing all five, and pages the standard policy's two levels only."""
    found = await simulate(hospital, "hq-core-router")
    behind = ["lab-results-api", "pacs-dicom", "boston-wan", "boston-pacs-gateway"]
    behind.append("boston-printer")
    assert found.failing == {
        "hq-core-router": "",
        "lab-results-api": "hq-core-router",
        "pacs-dicom": "hq-core-router",
        "boston-wan": "hq-core-router",
        "boston-pacs-gateway": "boston-wan",
        "boston-printer": "boston-wan",
    }
    for name in behind:
        assert changes(found, name)[-1] == ("03:00:30", "unreachable", True, 0), name
    [incident] = found.incidents
    assert incident["check"] == "hq-core-router"
    assert incident["rule"] == "everything else"
    assert sorted(incident["affected"]) == sorted(behind)
    assert "5 checks unreachable" in incident["title"]
    assert pages(found) == [
        ("03:00:30", 1, 0, "triggered", "ops-webhook"),
        ("03:30:30", 1, 1, "escalated", "it-manager"),
    ]


async def test_a_recovery_resolves_and_tells_who_was_paged(hospital):
    """The router answers again from 03:20: its next run (every 60 s once hard, from 03:00:30)
    at 03:20:30 resolves the incident, the webhook is told, the dependants are asked at once and
    are ok again, and level 1 (due 03:30:30) never goes out."""
    found = await simulate(hospital, "hq-core-router", recover_after=timedelta(minutes=20))
    assert changes(found, "hq-core-router")[-1] == ("03:20:30", "ok", True, 0)
    assert changes(found, "boston-printer")[-1] == ("03:20:30", "ok", True, 0)
    assert pages(found) == [
        ("03:00:30", 1, 0, "triggered", "ops-webhook"),
        ("03:20:30", 1, 0, "resolved", "ops-webhook"),
    ]
    assert datetime.fromisoformat(found.incidents[0]["resolved_at"]) == ny("2026-12-07 03:20:30")


async def test_an_ack_mutes_the_rest_and_tells_everyone_paged(hospital):
    """bob acknowledges 12 min after the incident opened (03:12:30): everyone paged so far is
    told, alice's second contact due at 03:15:30 is not sent, and no reminder follows."""
    found = await simulate(hospital, "hl7-adt-feed", ack_after=timedelta(minutes=12), by="bob")
    told = ["ops-webhook", "carol/mail", "it-manager", "alice/mail", "bob/mail"]
    assert pages(found) == [
        *level("03:00:30", 1, 0, "triggered", "ops-webhook", "carol/mail"),
        *level("03:10:30", 1, 1, "escalated", "it-manager", "alice/mail", "bob/mail", "carol/mail"),
        *level("03:12:30", 1, 1, "acknowledged", *told),
    ]
    [muted] = [p for p in found.pages if not p.sent]
    assert (muted.person, muted.notifier, muted.level) == ("alice", "ops-webhook", 1)
    assert found.incidents[0]["acknowledged_by"] == "bob"


CLINIC = """
    [daemon]
    database = "sqlite:///{db}"

    [[check]]
    name = "infusion-pumps"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    retries = 2
    retry_interval = "30s"
    labels = {{ unit = "icu" }}

    [[check]]
    name = "badge-readers"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    retries = 1
    labels = {{ unit = "lobby" }}

    [[rule]]
    name = "icu"
    match = {{ unit = "icu" }}
    policy = "night"

    [[policy]]
    name = "night"
    ack_timeout = "30m"
      [[policy.level]]
      after = "0m"
      notify = ["icu-oncall"]
      [[policy.level]]
      after = "15m"
      notify = ["icu-oncall", "hook"]

    [[notifier]]
    name = "hook"
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [[person]]
    name = "ann"
      [[person.contact]]
      notifier = "hook"
      to = "ann"

    [[person]]
    name = "ben"
      [[person.contact]]
      notifier = "hook"
      to = "ben"

    [[schedule]]
    name = "icu-oncall"
    timezone = "America/New_York"
      [[schedule.layer]]
      members = ["ann", "ben"]
      start = "2026-10-01 09:00"
      rotation = "1d"
    {extra}
"""


def clinic(tmp_path: Path, extra: str = ""):
    path = write(tmp_path / "clinic.toml", CLINIC.format(db=tmp_path / "clinic.db", extra=extra))
    return load(path, env={})


async def test_ack_timeout_across_the_autumn_dst_handoff(tmp_path):
    """The pumps fail at 08:50 on Sunday 1 November, hours after clocks went back: the daily
    rota hands over at 09:00 local (14:00 UTC now, not 13:00), so level 0 (hard after 2 results
    30 s apart: 08:50:30) pages ann and level 1 (09:05:30) ben; ben's ack 21 min after the
    opening (09:11:30) tells all three paged, runs out after 30 min and the ladder starts again
    at 09:41:30 with ben on call, its level 1 at 09:56:30."""
    config = clinic(tmp_path)
    found = await simulate(
        config,
        "infusion-pumps",
        at="2026-11-01 08:50",
        ack_after=timedelta(minutes=21),
        by="ben",
    )
    assert changes(found, "infusion-pumps") == [
        ("08:50:00", "ok", False, 1),
        ("08:50:30", "critical", True, 0),
    ]
    assert pages(found) == [
        ("08:50:30", 1, 0, "triggered", "ann/hook"),
        ("09:05:30", 1, 1, "escalated", "hook"),
        ("09:05:30", 1, 1, "escalated", "ben/hook"),
        ("09:11:30", 1, 1, "acknowledged", "ann/hook"),
        ("09:11:30", 1, 1, "acknowledged", "hook"),
        ("09:11:30", 1, 1, "acknowledged", "ben/hook"),
        ("09:41:30", 1, 0, "triggered", "ben/hook"),
        ("09:56:30", 1, 1, "escalated", "hook"),
        ("09:56:30", 1, 1, "escalated", "ben/hook"),
    ]
    kinds = [e.kind for e in found.entries if e.kind in ("acknowledged", "retriggered")]
    assert kinds == ["acknowledged", "retriggered"]


async def test_a_failure_inside_a_maintenance_window_is_paged_when_it_ends(tmp_path):
    """A window over the ICU until 08:55: the pumps, hard at 08:50:30, open no incident (the
    change says why and until when); at 08:55, still failing, the incident opens and level 0
    pages ann at once."""
    window = """
    [[maintenance]]
    name = "pump-firmware"
    match = { unit = "icu" }
    from = "2026-11-01 08:00"
    until = "2026-11-01 08:55"
    timezone = "America/New_York"
    """
    found = await simulate(clinic(tmp_path, window), "infusion-pumps", at="2026-11-01 08:50")
    hard = next(c for c in found.changes if c.hard)
    assert hard.note == "no incident yet: maintenance pump-firmware"
    assert hard.until == ny("2026-11-01 08:55")
    assert pages(found)[0] == ("08:55:00", 1, 0, "triggered", "ann/hook")
    assert datetime.fromisoformat(found.incidents[0]["opened_at"]) == ny("2026-11-01 08:55")


async def test_a_check_no_rule_covers_is_said_to_page_nobody(tmp_path):
    """The badge readers (retries = 1) are hard at once; no rule matches them: no incident, no
    page, and the change says nobody would be paged."""
    found = await simulate(clinic(tmp_path), "badge-readers", at="2026-11-01 08:50")
    assert [(c.status, c.note) for c in found.changes] == [
        ("critical", "no incident: no rule matches this check, nobody would be paged")
    ]
    assert found.incidents == [] and found.pages == []


async def test_stored_overrides_count_and_the_database_is_left_as_it_was(tmp_path):
    """An override stored for the night puts ben on call where the rota says ann: the simulated
    page goes to ben; the configured database still has no incident and no outbox row."""
    config = clinic(tmp_path)
    store = Store(config.daemon.database)
    await store.open()
    try:
        async with store.write() as conn:
            start, end = ny("2026-11-01 08:00"), ny("2026-11-01 12:00")
            await overrides.add(conn, "icu-oncall", "ben", start, end, now=start, by="test")
        scenario = Scenario(checks=("infusion-pumps",), at=ny("2026-11-01 08:50"))
        found = await run(config, scenario, copy_from=store)
        async with store.read() as conn:
            for table in (incidents, outbox):
                assert (await conn.execute(table.select())).all() == []
    finally:
        await store.close()
    assert pages(found)[0] == ("08:50:30", 1, 0, "triggered", "ben/hook")
