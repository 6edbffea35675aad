"""`GET /api/v1/checks` on a real App over loopback HTTP, on SQLite and PostgreSQL.

Checks probe an HttpTarget on loopback: web-fail gets 500s, web-ok 200s. db-replica runs
once a day and its first run is hours away (a stable spread of its name), so it has never
run unless a test feeds it a result through the monitor; archive is disabled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escalatord.api import listings
from escalatord.app import App
from escalatord.core.state import CheckState
from escalatord.core.status import Result, Status
from escalatord.monitor.scheduler import spread
from escalatord.store import states as state_store
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget
from tests.support.listings import get
from tests.support.net import free_port

READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"
URL = "/api/v1/checks"
NEVER = "db-replica"


@pytest.fixture(scope="module")
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        t.respond(500, "database down", path="/fail")
        t.respond(200, "all good", path="/ok")
        yield t


def checks(target: HttpTarget) -> str:
    closed = free_port()  # never probed: db-replica and archive do not run in these tests
    return f"""
        [api]
        read_tokens = ["{READ}"]
        write_tokens = ["{WRITE}"]

        [[check]]
        name = "web-fail"
        type = "http"
        url = "{target.url("/fail")}"
        labels = {{ site = "hq", category = "web" }}

        [[check]]
        name = "web-ok"
        type = "http"
        url = "{target.url("/ok")}"
        labels = {{ site = "boston", category = "web" }}

        [[check]]
        name = "{NEVER}"
        type = "tcp"
        host = "127.0.0.1"
        port = {closed}
        interval = "1d"
        retry_interval = "1d"
        retries = 3
        depends_on = ["web-ok"]
        labels = {{ site = "hq", category = "db" }}
        description = "replica of the lab database"

        [[check]]
        name = "archive"
        type = "tcp"
        host = "127.0.0.1"
        port = {closed}
        enabled = false
    """


@pytest.fixture
async def app(store_url: str, tmp_path: Path, target: HttpTarget) -> AsyncIterator[App]:
    """The four checks, with read and write tokens, on SQLite or PostgreSQL."""
    assert spread(NEVER, timedelta(days=1)) > timedelta(hours=1)  # its first run is far off
    async with running_app(
        store_url, checks(target), config_file=tmp_path / "escalatord.toml"
    ) as running:
        yield running


async def listed(app: App, params: Any = None) -> dict[str, dict[str, Any]]:
    """The checks listed for `params`, by name, in the listing's order."""
    reply = await get(app, URL, READ, params)
    assert reply.status_code == 200, reply.text
    return {c["name"]: c for c in reply.json()["checks"]}


async def test_a_check_after_a_failure_and_one_that_never_ran(app: App):
    """A failing check is listed hard critical with its last result; one that never ran, and
    a disabled one, are listed as the state machine starts a check (hard ok, no result)."""

    def failed_hard() -> bool:
        return app.monitor.states.get("web-fail", CheckState()).status is Status.CRITICAL

    await eventually(failed_hard, what="web-fail to fail")
    assert list(await listed(app, {"status": "critical"})) == ["web-fail"]
    everything = await listed(app)
    assert list(everything) == ["web-fail", "web-ok", NEVER, "archive"]  # config order
    failed = everything["web-fail"]
    assert failed["status"] == "critical" and failed["hard"] is True
    assert failed["last_status"] == "critical" and failed["pending"] is None
    assert "500" in failed["last_summary"]
    assert failed["since"] is not None and failed["last_check_at"] is not None
    assert failed["type"] == "http" and failed["interval"] == "200ms"
    assert failed["labels"] == {"site": "hq", "category": "web"} and failed["enabled"] is True
    assert isinstance(failed["last_duration"], float)

    never = everything[NEVER]
    assert never == {
        "name": NEVER, "type": "tcp", "enabled": True,
        "description": "replica of the lab database",
        "labels": {"site": "hq", "category": "db"}, "interval": "1d",
        "depends_on": ["web-ok"], "depends_on_any": [],
        "status": "ok", "hard": True, "attempts": 0, "pending": None, "since": None,
        "last_status": None, "last_summary": "", "last_check_at": None, "flapping": False,
        "last_duration": None, "measurements": None, "quiet": None,
    }  # fmt: skip
    archive = everything["archive"]
    assert archive["enabled"] is False and archive["last_check_at"] is None


async def test_status_and_label_filters(app: App):
    """`status` keeps checks whose hard status is listed; every `label=key=value` given must
    match the check's labels."""
    await eventually(lambda: "web-fail" in app.monitor.states, what="web-fail's first run")
    assert list(await listed(app, {"label": "site=hq"})) == ["web-fail", NEVER]
    both = [("label", "site=hq"), ("label", "category=db")]
    assert list(await listed(app, both)) == [NEVER]
    assert list(await listed(app, {"label": "site=paris"})) == []
    assert list(await listed(app, {"status": "ok", "label": "category=db"})) == [NEVER]
    assert list(await listed(app, {"status": "unreachable"})) == []


async def test_a_result_is_listed_before_the_state_is_flushed(app: App):
    """A result the monitor has applied is listed at once, as /metrics counts it, whether or
    not the monitor has written the state to the store yet."""
    now = datetime.now(UTC)
    await app.monitor.on_result(NEVER, Result(Status.WARNING, "replication lag 40s", at=now))
    state = (await listed(app))[NEVER]
    assert state["status"] == "ok" and state["hard"] is False
    assert state["pending"] == "warning" and state["attempts"] == 1
    assert state["last_status"] == "warning" and state["last_summary"] == "replication lag 40s"
    assert state["last_check_at"] == now.isoformat().replace("+00:00", "Z")


async def test_a_newer_state_in_the_store_wins(app: App, monkeypatch: pytest.MonkeyPatch):
    """A state another node sharing the database wrote more recently than this daemon's own
    is the one listed (the database is the truth), however many pages the states take."""
    later = datetime.now(UTC) + timedelta(minutes=5)
    other = CheckState(
        status=Status.CRITICAL, since=later, last_status=Status.CRITICAL,
        last_summary="connection refused (node 2)", last_check_at=later,
    )  # fmt: skip
    async with app.store.write() as conn:
        await state_store.save(
            conn, [(NEVER, other, {"duration": 0.25}), ("archive", other, {"duration": 0.5})]
        )
    monkeypatch.setattr(listings, "STATE_PAGE", 1)  # one state per query: several pages
    everything = await listed(app)
    for name, took in ((NEVER, 0.25), ("archive", 0.5)):
        assert everything[name]["status"] == "critical", name
        assert everything[name]["last_summary"] == "connection refused (node 2)"
        assert everything[name]["last_duration"] == took


async def test_the_paged_read_of_states_matches_the_store_module(
    app: App, monkeypatch: pytest.MonkeyPatch
):
    """The listing's paged read of check_states gives exactly what store.states.load() gives,
    so the two ways of reading a state cannot drift apart."""
    at = datetime(2026, 3, 14, 9, 26, 53, 123456, tzinfo=UTC)
    soft = CheckState(
        status=Status.UNREACHABLE, hard=False, attempts=2, pending=Status.OK, since=at,
        last_status=Status.CRITICAL, last_summary="web-ok down: refused", last_check_at=at,
    )  # fmt: skip
    async with app.store.write() as conn:
        await state_store.save(
            conn,
            [
                (f"gone-{n}", soft, {"duration": 0.125, "measurements": {"latency_ms": 1.5}})
                for n in range(5)
            ],
        )
    monkeypatch.setattr(listings, "STATE_PAGE", 2)
    # Only the states written here: the running checks' own may be flushed in between.
    paged = {k: v for k, v in (await listings.stored_states(app.store)).items() if k[:5] == "gone-"}
    async with app.store.read() as conn:
        loaded = {k: v for k, v in (await state_store.load(conn)).items() if k[:5] == "gone-"}
    assert len(paged) == 5 and paged == loaded
    assert paged["gone-3"] == (soft, {"duration": 0.125, "measurements": {"latency_ms": 1.5}})


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_tokens(app: App):
    """No token is 401 with WWW-Authenticate: Bearer, a wrong one 403; read and write tokens
    both list the checks."""
    missing = await get(app, URL, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = await get(app, URL, READ + "x")
    assert wrong.status_code == 403
    assert READ not in wrong.text
    for token in (READ, WRITE):
        assert (await get(app, URL, token)).status_code == 200


@pytest.mark.parametrize(
    ("params", "parameter", "allowed"),
    [
        ({"status": "down"}, "status", listings.CHECK_PARAMS["status"]),
        ({"label": "site"}, "label", ["key=value"]),
        ({"label": "=hq"}, "label", ["key=value"]),
        ({"limit": "5"}, "limit", ["status", "label"]),
        ([("status", "ok"), ("status", "critical")], "status", listings.CHECK_PARAMS["status"]),
    ],
)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_bad_parameters_are_400(app: App, params, parameter: str, allowed: list[str]):
    """A bad value, an unknown or repeated parameter is a 400 whose JSON names the parameter
    and the values it takes."""
    reply = await get(app, URL, READ, params)
    assert reply.status_code == 400
    body = reply.json()
    assert body["parameter"] == parameter and body["allowed"] == allowed


async def test_listings_are_off_without_tokens(tmp_path: Path):
    """With neither read nor write tokens configured both listings answer 403 and say which
    key to set, whatever token is sent."""
    url = f"sqlite:///{tmp_path}/escalatord.db"
    async with running_app(url, "", config_file=tmp_path / "escalatord.toml") as app:
        for path in (URL, "/api/v1/incidents"):
            for token in (None, READ):
                reply = await get(app, path, token)
                assert reply.status_code == 403
                assert "[api] read_tokens (or read_tokens_file)" in reply.json()["error"]
