"""`GET /api/v1/incidents` on a real App over loopback HTTP, on SQLite and PostgreSQL.

Incidents are put in the store with the incident service, as the daemon would; the listing
is compared with what `escalatord incidents --json` prints for the same database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from escalatord.api import listings
from escalatord.app import App
from escalatord.core.rules import Decision
from escalatord.incidents import rootcause, service
from tests.support.app import running_app
from tests.support.listings import cli_json, get

READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"
URL = "/api/v1/incidents"
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
TOKENS = f'[api]\nread_tokens = ["{READ}"]\nwrite_tokens = ["{WRITE}"]\n'
DECISION = Decision(("web",), "critical", None, "web-team", "https://wiki/web", ("Look",))


async def open_incidents(app: App) -> dict[str, int]:
    """Five incidents, by check: web-a (hq, triggered), web-b (boston, acknowledged), web-c
    (hq, resolved), web-d (boston, closed), core-router (hq, triggered, a root cause that
    makes boston-wan of site boston unreachable)."""
    sites = {"web-a": "hq", "web-b": "boston", "web-c": "hq", "web-d": "boston"}
    sites["core-router"] = "hq"
    ids = {}
    async with app.store.write() as conn:
        for n, (check, site) in enumerate(sites.items()):
            ids[check], _ = await service.open_incident(
                conn, key=check, check=check, labels={"site": site, "category": "web"},
                status="critical", summary=f"{check} answered 500", decision=DECISION,
                policy_snapshot=None, now=T0 + timedelta(minutes=n),
            )  # fmt: skip
        later = T0 + timedelta(hours=1)
        await service.acknowledge(conn, ids["web-b"], by="alice", now=later)
        await service.resolve(conn, ids["web-c"], by="recovery", now=later)
        await service.close(conn, ids["web-d"], note="replaced the disk", by="bob", now=later)
        affected = [{"check": "boston-wan", "site": "boston"}]
        await rootcause.set_affected(conn, "core-router", affected, now=later)
    return ids


@pytest.fixture
async def app(store_url: str, tmp_path: Path) -> AsyncIterator[App]:
    """An App with read and write tokens and no checks, on SQLite or PostgreSQL."""
    async with running_app(store_url, TOKENS, config_file=tmp_path / "escalatord.toml") as running:
        yield running


async def checks_of(app: App, **params: str) -> list[str]:
    """The checks of the incidents listed for `params`, in the listing's order."""
    reply = await get(app, URL, READ, params)
    assert reply.status_code == 200, reply.text
    return [incident["check"] for incident in reply.json()["incidents"]]


async def test_open_incidents_newest_first_by_default(app: App):
    """Without parameters the listing holds the open (triggered and acknowledged) incidents,
    newest first, in `{"incidents": [...]}`."""
    await open_incidents(app)
    reply = await get(app, URL, READ)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert list(reply.json()) == ["incidents"]
    assert await checks_of(app) == ["core-router", "web-b", "web-a"]


async def test_status_filters(app: App):
    """`status` takes all, open, or a comma list of lifecycle statuses (aliases mix)."""
    await open_incidents(app)
    everything = ["core-router", "web-d", "web-c", "web-b", "web-a"]
    assert await checks_of(app, status="all") == everything
    assert await checks_of(app, status="resolved,closed") == ["web-d", "web-c"]
    assert await checks_of(app, status="open,closed") == ["core-router", "web-d", "web-b", "web-a"]
    assert await checks_of(app, status=" Acknowledged ") == ["web-b"]


async def test_check_and_site_filters(app: App):
    """`check` keeps one check's incidents; `site` keeps those whose check, or a check they
    make unreachable, has that labels.site, as `escalatord incidents --site` does."""
    await open_incidents(app)
    assert await checks_of(app, check="web-b") == ["web-b"]
    assert await checks_of(app, check="web-b", status="resolved") == []
    assert await checks_of(app, check="no-such-check") == []
    assert await checks_of(app, site="boston") == ["core-router", "web-b"]
    assert await checks_of(app, site="boston", status="all") == ["core-router", "web-d", "web-b"]
    assert await checks_of(app, site="nowhere", status="all") == []


async def test_limit_keeps_the_newest(app: App, monkeypatch: pytest.MonkeyPatch):
    """`limit` keeps the newest N (default 100); with `site` it counts matching incidents
    only, however many rows must be read to find them."""
    await open_incidents(app)
    assert await checks_of(app, status="all", limit="2") == ["core-router", "web-d"]
    assert await checks_of(app, status="all", limit="1000") == [
        "core-router", "web-d", "web-c", "web-b", "web-a",
    ]  # fmt: skip
    monkeypatch.setattr(listings, "SITE_PAGE", 2)  # read 2 rows at a time: several pages
    assert await checks_of(app, status="all", site="hq") == ["core-router", "web-c", "web-a"]
    assert await checks_of(app, status="all", site="hq", limit="2") == ["core-router", "web-c"]
    assert await checks_of(app, status="all", site="boston", limit="1") == ["core-router"]


async def test_api_and_cli_print_the_same_incident_json(app: App, tmp_path: Path):
    """Every incident in the listing is exactly what `escalatord incidents --json` prints
    (all fields, also for root causes, acknowledged, resolved and closed ones)."""
    ids = await open_incidents(app)
    config = tmp_path / "escalatord.toml"
    api = (await get(app, URL, READ, {"status": "all"})).json()["incidents"]
    assert api == await cli_json(config, "incidents", "--all", "--json")
    assert [i["id"] for i in api] == [str(i) for i in sorted(ids.values(), reverse=True)]
    closed = next(i for i in api if i["check"] == "web-d")
    assert closed["close_note"] == "replaced the disk" and closed["closed_at"] is not None
    root = next(i for i in api if i["check"] == "core-router")
    assert root["affected"] == [{"check": "boston-wan", "site": "boston"}]
    by_site = (await get(app, URL, READ, {"site": "boston"})).json()["incidents"]
    assert by_site == await cli_json(config, "incidents", "--site", "boston", "--json")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_tokens(app: App):
    """No token is 401 with WWW-Authenticate: Bearer, a wrong one 403; a read token and a
    write token both list; a read token may not post alerts."""
    missing = await get(app, URL, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]
    wrong = await get(app, URL, "not-a-token-0123456789abcdef")
    assert wrong.status_code == 403 and wrong.json() == {
        "error": "the token is not valid for this endpoint"
    }
    assert (await get(app, URL, READ)).status_code == 200
    assert (await get(app, URL, WRITE)).status_code == 200
    headers = {"Authorization": f"Bearer {READ}"}
    async with httpx.AsyncClient(base_url=app.base_url, headers=headers) as client:  # type: ignore[attr-defined]
        posted = await client.post("/api/v1/alerts/alertmanager", json={"alerts": []})
    assert posted.status_code == 403


@pytest.mark.parametrize(
    ("params", "parameter", "allowed"),
    [
        ({"status": "burning"}, "status", [*listings.INCIDENT_PARAMS["status"]]),
        ({"status": ","}, "status", [*listings.INCIDENT_PARAMS["status"]]),
        ({"limit": "0"}, "limit", ["1-1000"]),
        ({"limit": "1001"}, "limit", ["1-1000"]),
        ({"limit": "ten"}, "limit", ["1-1000"]),
        ({"check": " "}, "check", ["a check name"]),
        ({"sort": "id"}, "sort", ["status", "check", "site", "category", "limit"]),
        ([("status", "open"), ("status", "all")], "status", [*listings.INCIDENT_PARAMS["status"]]),
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
    assert body["error"].startswith(f"{parameter}: ")
