"""The central daemon's satellite endpoints on a running App over loopback HTTP: refusals,
per-result fates, fresh results paged through the check's own state machine, late ones only
recorded, and a silent satellite as one root-cause incident for its site."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from escalatord.core.status import Status
from escalatord.store.tables import incidents
from tests.support.app import eventually, page_everything, running_app
from tests.support.http_target import HttpTarget

TOKEN = "boston-satellite-token-0123456789"


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture
def office() -> Iterator[HttpTarget]:
    """What the office's checks point at: the central daemon must never probe it."""
    with HttpTarget() as t:
        yield t


def body(sink: HttpTarget, office: HttpTarget, silent_after: str = "1m") -> str:
    return f"""
        [[satellite]]
        name = "boston"
        sites = ["boston"]
        token = "{TOKEN}"
        silent_after = "{silent_after}"
        slack = "1s"

        [[check]]
        name = "boston-printer"
        type = "http"
        url = "{office.url("/printer")}"
        labels = {{ site = "boston" }}

        [[check]]
        name = "boston-pbx"
        type = "http"
        url = "{office.url("/pbx")}"
        headers = {{ Authorization = "Bearer pbx-secret-value" }}
        retries = 2
        labels = {{ site = "boston" }}

        [[check]]
        name = "hq-web"
        type = "http"
        url = "{office.url("/hq")}"
        interval = "1h"
        labels = {{ site = "hq" }}
        {page_everything(sink.url("/hook"))}
    """


async def open_title(app, check: str) -> str:
    """The title of `check`'s open incident, as stored (and listed)."""
    async with app.store.read() as conn:
        rows = await conn.execute(
            select(incidents.c.title).where(
                incidents.c.check == check, incidents.c.status != "resolved"
            )
        )
        return rows.scalar_one()


def result(check: str, status: str, at: datetime, summary: str = "") -> dict:
    return {"check": check, "status": status, "summary": summary or status, "at": at.isoformat()}


async def post(app, items: list[dict], token: str = TOKEN, name: str = "boston") -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        return await client.post(
            f"/api/v1/satellites/{name}/results",
            json={"results": items},
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )


async def test_batches_are_refused_without_the_satellites_token_or_in_a_bad_shape(
    tmp_path, sink, office
) -> None:
    """No token 401, a wrong token 403, an unknown satellite 404, a body that is no batch 400."""
    now = datetime.now(UTC)
    async with running_app(tmp_path / "db.sqlite", body(sink, office)) as app:
        ok = [result("boston-printer", "ok", now)]
        assert (await post(app, ok, token="")).status_code == 401
        wrong = await post(app, ok, token="x" * 32)
        assert wrong.status_code == 403 and "wrong token" in wrong.json()["error"]
        assert (await post(app, ok, name="paris")).status_code == 404
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            url = "/api/v1/satellites/boston/results"
            bad = await client.post(url, content=b"{not json", headers=headers)
            assert bad.status_code == 400 and bad.json()["error"] == "the body is not JSON"
            shape = await client.post(url, json={"result": []}, headers=headers)
            assert shape.status_code == 400 and '"results" list' in shape.json()["error"]
            many = await client.post(url, json={"results": [{}] * 1001}, headers=headers)
            assert many.status_code == 400 and "at most 1000" in many.json()["error"]
    assert office.requests == [], "the central daemon never probes a satellite's checks"


async def test_each_result_gets_its_own_fate_and_fresh_failures_page(
    tmp_path, sink, office
) -> None:
    """Results of other sites, unknown checks, bad fields and future times are refused one by
    one; out-of-order results are applied in time order; a fresh failure pages through the
    check's own retries; a late failure is recorded and pages nobody."""
    now = datetime.now(UTC)
    async with running_app(tmp_path / "db.sqlite", body(sink, office)) as app:
        reply = await post(
            app,
            [
                result("boston-printer", "critical", now - timedelta(seconds=0.3), "jammed"),
                result("boston-printer", "ok", now - timedelta(seconds=0.6)),
                result("hq-web", "ok", now),
                result("nowhere", "ok", now),
                {"check": "boston-pbx", "status": "unreachable", "at": now.isoformat()},
                result("boston-pbx", "critical", now + timedelta(hours=1)),
                result("boston-pbx", "critical", now - timedelta(minutes=10), "busy at night"),
            ],
        )
        assert reply.status_code == 200, reply.text
        data = reply.json()
        fates = [(r["check"], r["outcome"]) for r in data["results"]]
        assert fates == [
            ("boston-printer", "applied"),
            ("boston-printer", "applied"),
            ("hq-web", "refused"),
            ("nowhere", "refused"),
            ("boston-pbx", "refused"),
            ("boston-pbx", "refused"),
            ("boston-pbx", "late"),
        ]
        reasons = [r.get("reason", "") for r in data["results"]]
        assert "not one of its checks" in reasons[2] and "no such check" in reasons[3]
        assert '"status" must be one of' in reasons[4] and "clock" in reasons[5]
        assert (data["applied"], data["late"], data["refused"]) == (2, 1, 4)
        # The printer (retries 1 from the test defaults) failed last: paged once.
        await eventually(lambda: len(sink.requests) == 1, what="the printer's page")
        page = sink.requests[0].json()
        assert (page["event"], page["incident"]["check"]) == ("triggered", "boston-printer")
        assert app.monitor.states["boston-printer"].last_check_at == now - timedelta(seconds=0.3)
        # An older result than the last applied one is only recorded.
        again = await post(app, [result("boston-printer", "ok", now - timedelta(seconds=0.5))])
        assert again.json()["results"][0]["outcome"] == "superseded"
        assert app.monitor.states["boston-printer"].status is Status.CRITICAL
        pbx = app.monitor.states.get("boston-pbx")
        assert pbx is None or pbx.last_check_at is None, "the late failure was not applied"
        assert [r.json()["incident"]["check"] for r in sink.requests] == ["boston-printer"]
    assert office.requests == []


async def test_the_config_endpoint_gives_the_sites_checks_with_their_secrets(
    tmp_path, sink, office
) -> None:
    """GET …/config with the token lists only the satellite's checks, secrets and defaults in."""
    async with running_app(tmp_path / "db.sqlite", body(sink, office)) as app:
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            url = "/api/v1/satellites/boston/config"
            assert (await client.get(url)).status_code == 401
            reply = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200
        data = reply.json()
        assert data["satellite"] == "boston" and data["sites"] == ["boston"]
        by_name = {c["name"]: c for c in data["checks"]}
        assert sorted(by_name) == ["boston-pbx", "boston-printer"]
        assert by_name["boston-pbx"]["headers"] == {"Authorization": "Bearer pbx-secret-value"}
        assert by_name["boston-pbx"]["retries"] == 2 and by_name["boston-printer"]["retries"] == 1
        assert "depends_on" not in by_name["boston-pbx"]


async def test_a_silent_satellite_is_one_root_cause_page_for_its_site(
    tmp_path, sink, office
) -> None:
    """No batch for silent_after: one page titled "boston satellite silent" listing both
    checks as unreachable; a batch again resolves it without paging the checks; their next
    fresh results judge them again."""
    async with running_app(tmp_path / "db.sqlite", body(sink, office, "2s")) as app:
        await eventually(lambda: len(sink.requests) >= 1, what="the satellite's page")
        states = app.monitor.states
        await eventually(
            lambda: all(
                (s := states.get(n)) is not None and s.status is Status.UNREACHABLE
                for n in ("boston-printer", "boston-pbx")
            ),
            what="the site's checks unreachable",
        )
        page = sink.requests[0].json()
        assert (page["event"], page["incident"]["check"]) == ("triggered", "satellite:boston")
        assert page["incident"]["title"].startswith("boston satellite silent")
        title = await open_title(app, "satellite:boston")
        assert title.startswith("boston satellite silent — 2 checks unreachable (site boston): ")
        now = datetime.now(UTC)
        reply = await post(app, [result("boston-printer", "ok", now)])
        assert reply.json()["results"][0]["outcome"] == "applied"
        await eventually(lambda: len(sink.requests) >= 2, what="the satellite's recovery")
        assert [(r.json()["event"], r.json()["incident"]["check"]) for r in sink.requests] == [
            ("triggered", "satellite:boston"),
            ("resolved", "satellite:boston"),
        ]
        assert states["boston-printer"].status is Status.OK
        assert states["boston-pbx"].status is Status.UNREACHABLE, "judged on its next result"
    assert office.requests == []
