"""Dependencies on loopback: a remote office whose router and hosts are HTTP paths the test
flips. One root-cause incident for the office, no pages for its hosts, a correct recovery.

(tests/e2e/test_remote_office.py runs the same story with real ICMP in network namespaces.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from escalatord.app import App
from escalatord.core.status import Status
from escalatord.incidents import service
from escalatord.store.tables import incidents
from tests.support.app import eventually, page_everything, running_app
from tests.support.http_target import HttpTarget

HOSTS = ("office-pc-1", "office-pc-2", "office-printer")


@pytest.fixture
def office() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        yield target


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def body(office: HttpTarget, sink: HttpTarget, router_interval: str = "200ms") -> str:
    hosts = "".join(
        f"""
        [[check]]
        name = "{name}"
        type = "http"
        url = "{office.url("/" + name)}"
        retries = 2
        depends_on = ["boston-router"]
        labels = {{ site = "boston" }}
        """
        for name in HOSTS
    )
    return f"""
        [[check]]
        name = "boston-router"
        type = "http"
        url = "{office.url("/router")}"
        interval = "{router_interval}"
        retries = 2
        labels = {{ site = "boston", category = "remote-office" }}
        {hosts}
        {page_everything(sink.url("/hook"))}
    """


async def all_incidents(app: App) -> list:
    async with app.store.read() as conn:
        return list((await conn.execute(select(incidents).order_by(incidents.c.id))).all())


async def incidents_when(app: App, done: Callable[[list], bool]) -> list:
    """The incident rows once `done(rows)` holds: a state changes in memory a moment before
    the store commits it, so a test that saw the state polls the store too."""
    for _ in range(250):
        rows = await all_incidents(app)
        if done(rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"incidents never settled: {rows}")


def pages(sink: HttpTarget) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["incident"]["check"]) for r in sink.requests]


@pytest.fixture
async def app(tmp_path: Path, office: HttpTarget, sink: HttpTarget) -> AsyncIterator[App]:
    async with running_app(tmp_path / "escalatord.db", body(office, sink)) as running:
        await eventually(
            lambda: all(n in running.monitor.states for n in ("boston-router", *HOSTS)),
            what="every check's first result",
        )
        yield running


async def test_office_link_down_is_one_root_cause_incident(
    app: App, office: HttpTarget, sink: HttpTarget
) -> None:
    """The router and its three hosts fail together: one incident (the router's), listing the
    hosts as affected in its title; the hosts are unreachable and nobody is paged for them."""
    office.respond(503)
    states = app.monitor.states
    await eventually(
        lambda: all(states[h].status is Status.UNREACHABLE for h in HOSTS),
        what="every host unreachable",
    )
    await eventually(lambda: len(sink.requests) >= 1, what="the router's page")
    [incident] = await incidents_when(app, lambda rows: len(rows[0].affected or ()) == 3)
    assert incident.check == "boston-router"
    assert {a["check"] for a in incident.affected} == set(HOSTS)
    assert {a["site"] for a in incident.affected} == {"boston"}
    assert incident.title == (
        "boston-router is CRITICAL — 3 checks unreachable (site boston): "
        "office-pc-1, office-pc-2, office-printer"
    )
    assert pages(sink) == [("triggered", "boston-router")]
    first = sink.requests[0].json()["incident"]
    assert {a["check"] for a in first["affected"]} <= set(HOSTS)
    async with app.store.read() as conn:
        kinds = [t.kind for t in await service.get_timeline(conn, incident.id)]
    assert "opened" in kinds


async def test_recovery_gives_still_failing_hosts_their_own_incidents(
    app: App, office: HttpTarget, sink: HttpTarget
) -> None:
    """When the router comes back, its incident resolves; a host that is still failing then
    gets an incident (and a page) of its own, the healthy ones quietly return to ok."""
    office.respond(503)
    states = app.monitor.states
    await eventually(
        lambda: all(states[h].status is Status.UNREACHABLE for h in HOSTS),
        what="every host unreachable",
    )
    office.respond(200)
    office.respond(503, path="/office-printer")
    await eventually(
        lambda: states["office-printer"].status is Status.CRITICAL,
        what="the printer's own failure",
    )
    await eventually(lambda: len(sink.requests) >= 3, what="three notifications")
    assert pages(sink) == [
        ("triggered", "boston-router"),
        ("resolved", "boston-router"),
        ("triggered", "office-printer"),
    ]
    assert states["office-pc-1"].status is Status.OK
    rows = await all_incidents(app)
    assert [(r.check, r.status) for r in rows] == [
        ("boston-router", "resolved"),
        ("office-printer", "triggered"),
    ]


async def test_host_failing_alone_is_its_own_incident(
    app: App, office: HttpTarget, sink: HttpTarget
) -> None:
    """With the router up, a failing host is paged for as usual."""
    office.respond(503, path="/office-pc-2")
    await eventually(lambda: len(sink.requests) >= 1, what="the host's page")
    assert pages(sink) == [("triggered", "office-pc-2")]
    assert app.monitor.states["office-pc-2"].status is Status.CRITICAL


async def test_stale_parent_is_probed_before_the_child_is_paged(
    tmp_path: Path, office: HttpTarget, sink: HttpTarget
) -> None:
    """A router polled only every hour is probed at once when a host fails: the link is found
    down and the host is unreachable, not paged, long before the router's next turn."""
    text = body(office, sink, router_interval="1h")
    async with running_app(tmp_path / "escalatord.db", text) as app:
        states = app.monitor.states
        await eventually(lambda: "office-pc-1" in states, what="first results")
        office.respond(503)
        await eventually(
            lambda: (
                states.get("boston-router") is not None
                and states["boston-router"].status is Status.CRITICAL
            ),
            within=15,
            what="the router confirmed down by probes the hosts asked for",
        )
        await eventually(
            lambda: all(states[h].status is Status.UNREACHABLE for h in HOSTS),
            what="every host unreachable",
        )
        await eventually(lambda: len(sink.requests) >= 1, what="the router's page")
        assert pages(sink) == [("triggered", "boston-router")]


async def test_incident_open_before_the_parent_failed_is_kept_and_resolves_on_recovery(
    app: App, office: HttpTarget, sink: HttpTarget
) -> None:
    """Suppression never blocks resolving: a host paged before the router failed keeps its
    incident while unreachable, and it resolves when the host answers again."""
    states = app.monitor.states
    office.respond(503, path="/office-pc-1")
    await eventually(lambda: len(sink.requests) >= 1, what="the host's own page")
    office.respond(503)
    await eventually(
        lambda: states["office-pc-1"].status is Status.UNREACHABLE, what="host unreachable"
    )
    rows = await all_incidents(app)
    assert [(r.check, r.status) for r in rows] == [
        ("office-pc-1", "triggered"),
        ("boston-router", "triggered"),
    ]
    office.respond(200)
    office.respond(200, path="/office-pc-1")
    await eventually(lambda: states["office-pc-1"].status is Status.OK, what="host ok")
    await eventually(lambda: len(sink.requests) >= 4, what="both resolutions")
    assert sorted(pages(sink)) == [
        ("resolved", "boston-router"),
        ("resolved", "office-pc-1"),
        ("triggered", "boston-router"),
        ("triggered", "office-pc-1"),
    ]


async def test_redundant_paths_cut_off_only_when_all_are_down(
    tmp_path: Path, office: HttpTarget, sink: HttpTarget
) -> None:
    """depends_on_any: with one WAN circuit down a failing office host is paged on its own;
    with both down it is unreachable and listed by both circuits' incidents."""
    text = f"""
        [[check]]
        name = "wan-1"
        type = "http"
        url = "{office.url("/wan-1")}"

        [[check]]
        name = "wan-2"
        type = "http"
        url = "{office.url("/wan-2")}"

        [[check]]
        name = "office-host"
        type = "http"
        url = "{office.url("/host")}"
        retries = 2
        depends_on_any = ["wan-1", "wan-2"]

        {page_everything(sink.url("/hook"))}
    """
    async with running_app(tmp_path / "escalatord.db", text) as app:
        states = app.monitor.states
        await eventually(lambda: "office-host" in states, what="first results")
        office.respond(503, path="/wan-1")
        office.respond(503, path="/host")
        await eventually(lambda: len(sink.requests) >= 2, what="two pages")
        assert sorted(pages(sink)) == [("triggered", "office-host"), ("triggered", "wan-1")]
        assert states["office-host"].status is Status.CRITICAL

    sink.requests.clear()
    async with running_app(tmp_path / "fresh.db", text) as app:
        states = app.monitor.states
        office.respond(200, path="/wan-1")
        office.respond(200, path="/host")
        await eventually(lambda: "office-host" in states, what="first results")
        await eventually(lambda: states["office-host"].status is Status.OK, what="host ok")
        for path in ("/wan-1", "/wan-2", "/host"):
            office.respond(503, path=path)
        await eventually(
            lambda: states["office-host"].status is Status.UNREACHABLE, what="host unreachable"
        )
        await eventually(lambda: len(sink.requests) >= 2, what="the circuits' pages")
        assert sorted(pages(sink)) == [("triggered", "wan-1"), ("triggered", "wan-2")]
        rows = await incidents_when(app, lambda rows: all(r.affected for r in rows))
        listed = {r.check: [a["check"] for a in r.affected] for r in rows}
        assert listed == {"wan-1": ["office-host"], "wan-2": ["office-host"]}


async def test_a_passive_parent_vouches_for_the_path_without_being_probed(
    tmp_path: Path, office: HttpTarget, sink: HttpTarget
) -> None:
    """A trap-only parent that has said nothing is not "too old to trust": it cannot be probed,
    so a failing child is paged on its own at once instead of being held back."""
    text = f"""
        [[check]]
        name = "ups"
        type = "snmp_trap"
        host = "127.0.0.1"
        trap_oids = ["1.3.6.1.4.1.318.0.5"]
        clear_oids = ["1.3.6.1.4.1.318.0.9"]

        [[check]]
        name = "server"
        type = "http"
        url = "{office.url("/server")}"
        depends_on = ["ups"]

        {page_everything(sink.url("/hook"))}
    """
    async with running_app(tmp_path / "escalatord.db", text) as app:
        await eventually(lambda: "server" in app.monitor.states, what="first result")
        office.respond(503)
        await eventually(lambda: len(sink.requests) >= 1, within=3, what="the server's page")
        assert pages(sink) == [("triggered", "server")]
        assert not app.monitor.deps.held


async def test_a_passive_dependant_gets_its_own_incident_when_the_parent_recovers(
    tmp_path: Path, office: HttpTarget, sink: HttpTarget
) -> None:
    """A heartbeat that failed while its network path was down is unreachable; when the path
    recovers it is judged again on its last signal at once, not at its next (hourly) run."""
    token = "feed-token-0123456789"
    text = f"""
        [[check]]
        name = "link"
        type = "http"
        url = "{office.url("/link")}"

        [[check]]
        name = "feed"
        type = "heartbeat"
        every = "1h"
        grace = "1h"
        interval = "1h"
        token = "{token}"
        depends_on = ["link"]

        {page_everything(sink.url("/hook"))}
    """
    async with running_app(tmp_path / "escalatord.db", text) as app:
        states = app.monitor.states
        await eventually(lambda: "link" in states, what="first result")
        office.respond(503, path="/link")
        await eventually(lambda: len(sink.requests) >= 1, what="the link's page")
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{app.base_url}/heartbeat/feed/fail",  # type: ignore[attr-defined]
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.status_code == 200, answer.text
        await eventually(
            lambda: states.get("feed") is not None and states["feed"].status is Status.UNREACHABLE,
            what="the feed unreachable",
        )
        office.respond(200, path="/link")
        await eventually(lambda: len(sink.requests) >= 3, what="recovery and the feed's page")
        assert pages(sink) == [
            ("triggered", "link"),
            ("resolved", "link"),
            ("triggered", "feed"),
        ]
        assert states["feed"].status is Status.CRITICAL
