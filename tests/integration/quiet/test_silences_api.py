"""Silences over the API (`/api/v1/silences`) on a real App over loopback HTTP, on SQLite and
PostgreSQL, and "in maintenance" in the checks and incidents listings and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from escalatord.app import App
from escalatord.core.state import CheckState
from escalatord.core.status import Status
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget
from tests.support.listings import get

READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"
URL = "/api/v1/silences"


@pytest.fixture(scope="module")
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        t.respond(500, "database down", path="/fail")
        yield t


@pytest.fixture
async def app(store_url: str, tmp_path: Path, target: HttpTarget) -> AsyncIterator[App]:
    """One failing check (site boston) and a window on another site, with API tokens."""
    body = f"""
        [api]
        read_tokens = ["{READ}"]
        write_tokens = ["{WRITE}"]

        [[check]]
        name = "web"
        type = "http"
        url = "{target.url("/fail")}"
        labels = {{ site = "boston" }}

        [[maintenance]]
        name = "paris-night"
        match = {{ site = "paris" }}
        schedule = "0 22 * * *"
        duration = "1h"
    """
    async with running_app(store_url, body, config_file=tmp_path / "e.toml") as running:
        yield running


async def send(app: App, method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    base = app.base_url  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        return await client.request(method, path, **kw)


GOOD = {"match": {"site": "boston"}, "duration": "1h", "reason": "works", "created_by": "alice"}


async def test_add_list_and_remove_over_the_api(app: App):
    """A write token adds a silence (201, stored with author and reason), a read token lists
    it, DELETE ends it keeping the row (?all=true) with who removed it."""
    added = await send(app, "POST", URL, WRITE, json=GOOD)
    assert added.status_code == 201, added.text
    silence = added.json()["silence"]
    assert (silence["created_by"], silence["reason"]) == ("alice", "works")
    listed = (await get(app, URL, READ)).json()["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]
    gone = await send(app, "DELETE", f"{URL}/{silence['id']}?by=bob", WRITE)
    assert gone.status_code == 200 and gone.json()["silence"]["removed_by"] == "bob"
    assert (await get(app, URL, READ)).json()["silences"] == []
    assert len((await get(app, URL, READ, {"all": "true"})).json()["silences"]) == 1
    again = await send(app, "DELETE", f"{URL}/{silence['id']}", WRITE)
    assert again.status_code == 404 and "removed already" in again.json()["error"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**GOOD, "match": {}}, "say what to silence"),
        ({**GOOD, "duration": "soon"}, "duration"),
        ({**GOOD, "ends_at": "2030-01-01T00:00:00Z"}, "one of the two"),
        ({k: v for k, v in GOOD.items() if k != "reason"}, "reason: required"),
        ({k: v for k, v in GOOD.items() if k != "created_by"}, "created_by: required"),
        ({**GOOD, "match": ["site"]}, "match: an object"),
        ([], "must be a JSON object"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(app: App, body: Any, expected: str):
    """Each mistake is a 400 whose error names the field and the fix; nothing is stored."""
    reply = await send(app, "POST", URL, WRITE, json=body)
    assert reply.status_code == 400 and expected in reply.json()["error"], reply.text
    assert (await get(app, URL, READ, {"all": "true"})).json()["silences"] == []


async def test_writes_need_a_write_token(app: App):
    """No token is 401; a read token cannot add or remove (403)."""
    assert (await send(app, "POST", URL, None, json=GOOD)).status_code == 401
    assert (await send(app, "POST", URL, READ, json=GOOD)).status_code == 403
    assert (await send(app, "DELETE", f"{URL}/1", READ)).status_code == 403
    assert (await get(app, URL, None)).status_code == 401


async def test_a_silenced_check_is_shown_in_maintenance_and_opens_nothing(app: App):
    """Silenced, the failing check is listed critical with `quiet` saying why and until when,
    /metrics counts it, and no incident opens."""
    assert (await send(app, "POST", URL, WRITE, json=GOOD)).status_code == 201

    def failed_hard() -> bool:
        return app.monitor.states.get("web", CheckState()).status is Status.CRITICAL

    await eventually(failed_hard, what="web to fail")
    [check] = (await get(app, "/api/v1/checks", READ)).json()["checks"]
    assert check["status"] == "critical" and check["quiet"]["why"] == ["silence 1"]
    assert check["quiet"]["until"]
    assert (await get(app, "/api/v1/incidents", READ, {"status": "all"})).json() == {
        "incidents": []
    }
    await eventually(lambda: "web" in app.engine.quiet.quiet_now, what="the calendar's look")
    metrics = (await get(app, "/metrics", None)).text
    assert (
        "escalatord_checks_quiet 1" in metrics
        and 'escalatord_check_quiet{check="web"} 1' in metrics
    )
