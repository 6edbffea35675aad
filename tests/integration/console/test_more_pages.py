"""The console's on-call, silences, plan and reports pages, served by a running App on loopback
and used through HTTP as a browser would: signed in through the form, forms posted with the
page's CSRF token."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from escalatord.app import App
from escalatord.cli import main
from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.people import overrides
from escalatord.store.tables import silences as silence_rows
from escalatord.store.tables import timeline
from tests.support.app import running_app
from tests.support.console import csrf_of, persons_toml, sign_in

PAGES = ("/oncall", "/silences", "/plan", "/reports")
BERLIN = ZoneInfo("Europe/Berlin")
DECISION = Decision(("care",), "critical", "page", "network-team", "", ())

BODY = textwrap.dedent("""
    [web]
    enabled = true

    [[category]]
    name = "patient-care"
    priority = 1

    [[check]]
    name = "pacs-boston"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    interval = "1h"
    retries = 5                      # soft for hours: the engine opens no incident here
    retry_interval = "1h"
    labels = { site = "boston" }

    [[check]]
    name = "router-paris"
    type = "tcp"
    host = "127.0.0.1"
    port = 9
    interval = "1h"
    retries = 5
    retry_interval = "1h"
    description = "core router"
    labels = { site = "paris" }

    [[rule]]
    name = "care"
    policy = "page"
    category = "patient-care"
    owner = "imaging-team"
    runbook = "https://wiki.internal/pacs"
    steps = ["Call the PACS vendor", "Switch to the film fallback"]
    match = { site = "boston" }

    [[rule]]
    name = "network"
    policy = "page"
    owner = "network-team"
    steps = ["Fail over to the backup line"]

    [[policy]]
    name = "page"
      [[policy.level]]
      after = "0s"
      notify = ["daily"]
      [[policy.level]]
      after = "15m"
      notify = ["ada"]

    [[schedule]]
    name = "daily"
    timezone = "Europe/Berlin"
      [[schedule.layer]]
      members = ["vera", "rick"]
      start = "2026-03-02 09:00"
      rotation = "1d"
""")


@asynccontextmanager
async def console_app(tmp_path: Path) -> AsyncIterator[App]:
    config_file = tmp_path / "escalatord.toml"
    body = BODY + persons_toml()
    async with running_app(tmp_path / "escalatord.db", body, config_file=config_file) as app:
        yield app


@asynccontextmanager
async def signed_in(app: App, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app.base_url) as client:  # type: ignore[attr-defined]
        assert (await sign_in(client, name)).status_code == 303
        yield client


async def open_incident(app: App, check: str, labels: dict[str, str], at: datetime) -> int:
    """An incident opened through the service functions at `at`, as the engine opens one."""
    policy = snapshot(
        PolicyConfig.model_validate({"name": "page", "level": [{"after": "0s",
                                                                 "notify": ["ada"]}]})
    )  # fmt: skip
    decision = dataclasses.replace(DECISION, category="patient-care", priority=1)
    async with app.store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn, key=check, check=check, labels=labels, status="critical",
            summary=f"{check} is down", decision=decision, policy_snapshot=policy, now=at,
        )  # fmt: skip
    return incident_id


def cells(html: str, selector: str) -> list[str]:
    """The text of each <td> in the table row whose opening tag contains `selector`."""
    row = re.search(rf"<tr[^>]*{re.escape(selector)}[^>]*>(.*?)</tr>", html, re.S)
    assert row, f"no row {selector} in the page"
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


async def test_every_page_is_for_signed_in_viewers_and_in_the_menu(tmp_path):
    """Without a session each page sends the visitor to sign in (coming back after); a viewer
    reads every page, and finds each in the header's menu."""
    async with console_app(tmp_path) as app:
        async with httpx.AsyncClient(base_url=app.base_url) as stranger:  # type: ignore[attr-defined]
            for path in PAGES:
                answer = await stranger.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"] == f"/login?next={path}"
        async with signed_in(app, "vera") as client:
            for path in PAGES:
                page = await client.get(path)
                assert page.status_code == 200, (path, page.text)
                assert page.headers["content-security-policy"].startswith("default-src 'self'")
                assert f'<a href="{path}">' in page.text, path
                assert "<style" not in page.text and "<script>" not in page.text


async def test_oncall_shows_who_and_until_when_and_the_rota_across_dst(tmp_path):
    """At a known time the page names who is on call and until when, in the schedule's zone,
    and the rota of the next two weeks: 1-day turns keep 09:00 over the spring-forward night,
    and a stored override puts its person on call."""
    async with console_app(tmp_path) as app:
        async with app.store.write() as conn:
            await overrides.add(
                conn, "daily", "ada", datetime(2027, 3, 30, 9, tzinfo=BERLIN),
                datetime(2027, 3, 31, 9, tzinfo=BERLIN), now=datetime.now(UTC), by="test",
            )  # fmt: skip
        async with signed_in(app, "vera") as client:
            page = await client.get("/oncall", params={"at": "2027-03-27T12:00"})
            bad = await client.get("/oncall", params={"at": "tomorrow-ish"})
    assert page.status_code == 200, page.text
    now = cells(page.text, 'data-schedule="daily"')
    assert now[1] == "vera (Vera Example)"
    assert now[2] == "Sun 2027-03-28 09:00 CEST"
    assert now[3:] == ["layer[0]", "Europe/Berlin"]
    rota = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r'<tr class="segment">(.*?)</tr>', page.text, re.S)
    ]
    assert rota[:5] == [
        ["Sat 2027-03-27 12:00 CET", "Sun 2027-03-28 09:00 CEST", "vera (Vera Example)"],
        ["Sun 2027-03-28 09:00 CEST", "Mon 2027-03-29 09:00 CEST", "rick (Rick Example)"],
        ["Mon 2027-03-29 09:00 CEST", "Tue 2027-03-30 09:00 CEST", "vera (Vera Example)"],
        ["Tue 2027-03-30 09:00 CEST", "Wed 2027-03-31 09:00 CEST", "ada (Ada Example)"],
        ["Wed 2027-03-31 09:00 CEST", "Thu 2027-04-01 09:00 CEST", "vera (Vera Example)"],
    ]
    assert rota[-1][1] == "Sat 2027-04-10 12:00 CEST"  # two weeks on the wall clock
    assert bad.status_code == 400 and "is not a time" in bad.text


async def test_a_responder_adds_and_removes_a_silence_in_their_name(tmp_path):
    """A responder's silence is stored and listed with their name and reason, noted on the
    covered open incident's timeline by them; removing it records them too, and the list of
    ended and removed ones still shows it."""
    async with console_app(tmp_path) as app:
        incident = await open_incident(app, "pacs-boston", {"site": "boston"}, datetime.now(UTC))
        async with signed_in(app, "rick") as client:
            form = await client.get("/silences")
            added = await client.post("/silences", data={
                "csrf": csrf_of(form.text), "match": "site=boston", "checks": "",
                "for": "2h", "until": "", "reason": "PACS upgrade",
            })  # fmt: skip
            assert added.status_code == 303 and added.headers["location"] == "/silences"
            listing = await client.get("/silences")
            async with app.store.read() as conn:
                row = (await conn.execute(select(silence_rows))).one()
            assert row.created_by == "rick" and row.reason == "PACS upgrade"
            shown = cells(listing.text, f'data-silence="{row.id}"')
            assert shown[1] == "site=boston" and shown[4] == "PACS upgrade (rick)"
            assert shown[5] == "in force"
            removed = await client.post(
                f"/silences/{row.id}/remove", data={"csrf": csrf_of(listing.text)}
            )
            assert removed.status_code == 303
            assert f'data-silence="{row.id}"' not in (await client.get("/silences")).text
            everything = await client.get("/silences", params={"all": "1"})
            assert cells(everything.text, f'data-silence="{row.id}"')[5].startswith(
                "removed by rick"
            )
        async with app.store.read() as conn:
            entries = (
                await conn.execute(
                    select(timeline.c.actor, timeline.c.message)
                    .where(timeline.c.incident_id == incident, timeline.c.kind == "quiet")
                    .order_by(timeline.c.id)
                )
            ).all()
            row = (await conn.execute(select(silence_rows))).one()
    assert row.removed_by == "rick"
    assert [e.actor for e in entries] == ["rick", "rick"]
    assert "PACS upgrade" in entries[0].message and "removed by rick" in entries[1].message


async def test_a_viewer_may_not_change_silences_nor_post_without_the_token(tmp_path):
    """A viewer sees no form and their posts are refused (403); a responder's post without
    the page's CSRF token is refused too, and removing an unknown silence is a 404; nothing is
    stored."""
    async with console_app(tmp_path) as app:
        fields = {"match": "site=boston", "for": "2h", "reason": "works"}
        async with signed_in(app, "vera") as viewer:
            page = await viewer.get("/silences")
            assert 'action="/silences"' not in page.text
            refused = await viewer.post("/silences", data={"csrf": csrf_of(page.text), **fields})
            assert refused.status_code == 403 and "responder" in refused.text
            remove = await viewer.post("/silences/1/remove", data={"csrf": csrf_of(page.text)})
            assert remove.status_code == 403
        async with signed_in(app, "rick") as responder:
            no_token = await responder.post("/silences", data=fields)
            assert no_token.status_code == 403
            wrong = await responder.post("/silences", data={"csrf": "forged", **fields})
            assert wrong.status_code == 403
            page = await responder.get("/silences")
            unknown = await responder.post("/silences/99/remove", data={"csrf": csrf_of(page.text)})
            assert unknown.status_code == 404 and "No silence 99" in unknown.text
        async with app.store.read() as conn:
            assert (await conn.execute(select(silence_rows))).all() == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"for": "2h", "reason": "works"}, "Say what to silence"),
        ({"match": "boston", "for": "2h", "reason": "works"}, "is not a label matcher"),
        ({"checks": "nowhere", "for": "2h", "reason": "works"}, "no check named"),
        ({"match": "site=boston", "for": "two hours", "reason": "works"}, "For:"),
        ({"match": "site=boston", "reason": "works"}, "Say how long"),
        (
            {"match": "site=boston", "for": "2h", "until": "2030-01-01T00:00", "reason": "x"},
            "Say how long",
        ),
        ({"match": "site=boston", "until": "2001-01-01T00:00", "reason": "x"}, "already past"),
        ({"match": "site=boston", "for": "2h", "reason": "  "}, "Reason: required"),
    ],
)
async def test_bad_silence_input_is_refused_with_what_to_change(tmp_path, fields, error):
    """A silence with no matcher, a bad matcher or check, a bad or missing duration or time, or
    an empty reason is refused (400) naming the field; the form keeps what was typed."""
    async with console_app(tmp_path) as app:
        async with signed_in(app, "rick") as client:
            page = await client.get("/silences")
            answer = await client.post("/silences", data={"csrf": csrf_of(page.text), **fields})
        async with app.store.read() as conn:
            stored = (await conn.execute(select(silence_rows))).all()
    assert answer.status_code == 400
    assert error in answer.text.replace("&#39;", "'")
    assert stored == []
    if "match" in fields:
        assert f'name="match" value="{fields["match"]}"' in answer.text


async def test_the_plan_page_shows_what_the_plan_command_shows(tmp_path):
    """Every check, owner and action step `escalatord plan` writes for the same config is on
    the console's /plan, inside the console's page (its stylesheet, no inline style)."""
    async with console_app(tmp_path) as app:
        async with signed_in(app, "vera") as client:
            page = await client.get("/plan")
        args = ["plan", "--format", "html", "--config", str(tmp_path / "escalatord.toml")]
        done = await asyncio.to_thread(CliRunner().invoke, main, args)  # its own event loop
    assert done.exit_code == 0, done.output
    html = done.stdout
    checks = re.findall(r"<h4>([^<]+) <span", html)
    owners = re.findall(r"<dt>Owner</dt><dd>([^<]+)</dd>", html)
    steps = re.findall(r"<li>([^<]+)</li>", html)
    assert set(checks) == {"pacs-boston", "router-paris"}
    assert {"imaging-team", "network-team"} <= set(owners)
    assert "Call the PACS vendor" in steps and "Fail over to the backup line" in steps
    assert page.status_code == 200
    for text in (*checks, *owners, *steps):
        assert text in page.text, text
    assert '<link rel="stylesheet" href="/static/console.css">' in page.text
    assert "<style" not in page.text


async def test_reports_show_mtta_of_the_stored_history(tmp_path):
    """An incident acknowledged 90 s after it opened shows an MTTA of 1m30s, overall and in
    its category's row with ?by=category; a bad since or by is refused naming it."""
    async with console_app(tmp_path) as app:
        opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        incident = await open_incident(app, "pacs-boston", {"site": "boston"}, opened)
        async with app.store.write() as conn:
            await service.acknowledge(conn, incident, by="rick", now=opened + timedelta(seconds=90))
        async with signed_in(app, "vera") as client:
            overall = await client.get("/reports")
            grouped = await client.get("/reports", params={"since": "7d", "by": "category"})
            bad_since = await client.get("/reports", params={"since": "soon"})
            bad_by = await client.get("/reports", params={"by": "colour"})
    assert overall.status_code == 200
    assert cells(overall.text, 'data-group="all"')[:3] == ["all", "1", "1m30s"]
    assert cells(grouped.text, 'data-group="patient-care"')[:3] == ["patient-care", "1", "1m30s"]
    assert bad_since.status_code == 400 and "since:" in bad_since.text
    assert bad_by.status_code == 400 and "category, check, site, person" in bad_by.text
