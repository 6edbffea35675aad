"""The incident pages and their actions, through HTTP on a running App: what the page shows,
the list and the board linking to it, each action as the signed-in person (the timeline names
them, the stored row changes, the notices go out), refusals by role, CSRF, session and input,
and the live fragment showing an acknowledgement made with the command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from escalatord.app import App
from escalatord.console import sessions
from escalatord.incidents import service
from escalatord.store.tables import incidents
from tests.integration.console.test_pages import body, open_incident
from tests.support.app import eventually, running_app
from tests.support.console import csrf_of, sign_in
from tests.support.http_target import HttpTarget

SECRET = "incident-page-test-secret-0123456789"


@pytest.fixture
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@asynccontextmanager
async def console_app(tmp_path: Path, sink: HttpTarget) -> AsyncIterator[App]:
    """The App with the console on, its config in a file the command line can use."""
    web = f'enabled = true\nsecret = "{SECRET}"'
    async with running_app(tmp_path / "escalatord.db", body(sink, web),
                           config_file=tmp_path / "escalatord.toml") as app:  # fmt: skip
        yield app


def client(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=app.base_url)  # type: ignore[attr-defined]


@asynccontextmanager
async def signed_in(app: App, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as `name` through the sign-in form."""
    async with client(app) as found:
        assert (await sign_in(found, name)).status_code == 303
        yield found


async def row(app: App, incident_id: int) -> Any:
    async with app.store.read() as conn:
        return await service.get(conn, incident_id)


async def post(
    http: httpx.AsyncClient, incident_id: int, action: str, **fields: str
) -> httpx.Response:
    """Post an action's form as the page's button does: with the token of the page's form."""
    page = await http.get(f"/incidents/{incident_id}")
    return await http.post(f"/incidents/{incident_id}/{action}",
                           data={"csrf": csrf_of(page.text), **fields})  # fmt: skip


def sent(sink: HttpTarget, incident_id: int, event: str) -> list[dict[str, Any]]:
    return [r.json() for r in sink.requests if r.json().get("event") == event
            and r.json()["incident"]["id"] == str(incident_id)]  # fmt: skip


async def test_the_incident_page_shows_the_incident_its_timeline_and_pages(tmp_path, sink):
    """A viewer sees title, status, category and priority, severity, owner, the runbook as a
    link, the steps, the checks it makes unreachable, the drill marker, the timeline and each
    page with its notifier, level and delivery; no action button; the fragment has the same."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        async with app.store.write() as conn:
            await conn.execute(update(incidents).where(incidents.c.id == incident_id).values(
                affected=[{"check": "web-paris", "site": "paris"}], drill=1))  # fmt: skip
        await eventually(lambda: sent(sink, incident_id, "triggered"), what="the page")
        async with signed_in(app, "vera") as http:
            await eventually_page(http, incident_id, "delivered")
            page = await http.get(f"/incidents/{incident_id}")
            assert page.status_code == 200
            text = page.text
            for shown in ("pacs-boston", "triggered", "patient-care (priority 1)", "critical",
                          "network-team", "Call the vendor", 'data-affected="web-paris"',
                          "paris", 'class="drill"', 'id="timeline"', 'data-notifier="sink"',
                          '<span class="sent delivered">delivered</span>'):  # fmt: skip
                assert shown in text, shown
            assert '<a href="https://wiki.internal/rb"' in text
            assert "Acknowledge</button>" not in text and "viewer" in text
            fragment = await http.get(f"/incidents/{incident_id}/fragment")
            assert fragment.status_code == 200 and "<html" not in fragment.text
            assert 'id="timeline"' in fragment.text and 'data-notifier="sink"' in fragment.text
            assert f'data-refresh="/incidents/{incident_id}/fragment"' in text


async def eventually_page(http: httpx.AsyncClient, incident_id: int, wanted: str) -> str:
    """The incident's fragment once it contains `wanted` (the dispatcher works on its own)."""
    for _ in range(250):
        text = (await http.get(f"/incidents/{incident_id}/fragment")).text
        if wanted in text:
            return text
        await asyncio.sleep(0.04)
    raise AssertionError(f"the incident page never showed {wanted!r}")


async def test_a_runbook_that_is_not_a_web_address_is_text(tmp_path, sink):
    """A runbook such as `javascript:…` or a wiki page name is shown as text, never a link."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", None, None)
        async with app.store.write() as conn:
            await conn.execute(update(incidents).where(incidents.c.id == incident_id)
                               .values(runbook="javascript:alert(1)"))  # fmt: skip
        async with signed_in(app, "vera") as http:
            text = (await http.get(f"/incidents/{incident_id}")).text
        assert "javascript:alert(1)" in text and 'href="javascript' not in text


async def test_the_list_and_the_board_link_to_each_incident(tmp_path, sink):
    """/incidents lists open incidents linking to their pages, ?show=closed the finished ones,
    an unknown ?show= is a 400; the board's incidents link to their pages."""
    async with console_app(tmp_path, sink) as app:
        open_one = await open_incident(app, "pacs-boston", "patient-care", 1)
        done = await open_incident(app, "printer-paris", "office", 3)
        async with app.store.write() as conn:
            await service.close(conn, done, note="replaced", by="ada", now=datetime.now(UTC))
        async with signed_in(app, "vera") as http:
            listed = (await http.get("/incidents")).text
            assert f'href="/incidents/{open_one}"' in listed
            assert f'href="/incidents/{done}"' not in listed
            closed = (await http.get("/incidents", params={"show": "closed"})).text
            assert (
                f'href="/incidents/{done}"' in closed
                and f'href="/incidents/{open_one}"' not in closed
            )
            assert (await http.get("/incidents", params={"show": "nope"})).status_code == 400
            board = (await http.get("/")).text
            assert f'href="/incidents/{open_one}"' in board and 'href="/incidents"' in board
            assert (await http.get("/incidents/99999")).status_code == 404


async def test_a_responder_acknowledges_and_everyone_paged_is_told(tmp_path, sink):
    """Rick's Acknowledge answers 303 back to the incident, the row is acknowledged by rick,
    the timeline says so, and the notice reaches the notifier that was paged."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        await eventually(lambda: sent(sink, incident_id, "triggered"), what="the page")
        async with signed_in(app, "rick") as http:
            assert "Acknowledge</button>" in (await http.get(f"/incidents/{incident_id}")).text
            done = await post(http, incident_id, "acknowledge")
            assert done.status_code == 303
            assert done.headers["location"] == f"/incidents/{incident_id}"
            stored = await row(app, incident_id)
            assert (stored.status, stored.acknowledged_by) == ("acknowledged", "rick")
            text = (await http.get(f"/incidents/{incident_id}")).text
            assert "acknowledged by rick from the console" in text
            assert "Acknowledge</button>" not in text
        await eventually(lambda: sent(sink, incident_id, "acknowledged"), what="the ack notice")
        assert sent(sink, incident_id, "acknowledged")[0]["incident"]["acknowledged_by"] == "rick"


async def test_snooze_reassign_resolve_and_close_as_the_signed_in_person(tmp_path, sink):
    """Ada snoozes (acknowledged until then), reassigns to a notifier (triggered again, owner
    changed, paged), resolves, and closes with a note: each on the timeline with her name."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        async with signed_in(app, "ada") as http:
            before = datetime.now(UTC)
            assert (await post(http, incident_id, "snooze", duration="30m")).status_code == 303
            stored = await row(app, incident_id)
            assert (stored.status, stored.acknowledged_by) == ("acknowledged", "ada")
            assert before + timedelta(minutes=29) < stored.snoozed_until
            assert stored.snoozed_until <= datetime.now(UTC) + timedelta(minutes=30)
            assert (await post(http, incident_id, "reassign", to="sink")).status_code == 303
            stored = await row(app, incident_id)
            assert (stored.status, stored.owner) == ("triggered", "sink")
            assert (await post(http, incident_id, "resolve")).status_code == 303
            stored = await row(app, incident_id)
            assert (stored.status, stored.resolved_by) == ("resolved", "ada")
            closing = await post(http, incident_id, "close", note="  rebooted the PACS  ")
            assert closing.status_code == 303
            stored = await row(app, incident_id)
            assert (stored.status, stored.close_note) == ("closed", "rebooted the PACS")
            text = (await http.get(f"/incidents/{incident_id}")).text
            for entry in ("acknowledged by ada", "reassigned to sink by ada", "resolved by ada",
                          "closed by ada: rebooted the PACS"):  # fmt: skip
                assert entry in text, entry
            assert "Close</button>" not in text  # nothing more to do
        await eventually(lambda: len(sent(sink, incident_id, "triggered")) >= 2,
                         what="the reassigned page")  # fmt: skip


async def test_bad_input_is_said_on_the_page_and_changes_nothing(tmp_path, sink):
    """A close without a note, a snooze that does not parse or is 0s, an unknown reassign
    name (400), a name that reaches nobody or an incident already finished (409) are said on
    the incident's page; an unknown incident is a 404; the incident is unchanged."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        async with signed_in(app, "rick") as http:
            no_note = await post(http, incident_id, "close", note="   ")
            assert no_note.status_code == 400 and "Closing needs a note" in no_note.text
            assert 'id="timeline"' in no_note.text  # the incident's page, with the message
            soon = await post(http, incident_id, "snooze", duration="soon")
            assert soon.status_code == 400 and "invalid duration" in soon.text
            assert 'value="soon"' in soon.text  # what was typed is kept
            zero = await post(http, incident_id, "snooze", duration="0s")
            assert zero.status_code == 400 and "not longer than 0s" in zero.text
            unknown = await post(http, incident_id, "reassign", to="nobody-here")
            assert unknown.status_code == 400 and "is named &#39;nobody-here&#39;" in unknown.text
            assert "sink" in unknown.text and "vera" in unknown.text  # the configured names
            nobody = await post(http, incident_id, "reassign", to="vera")  # vera has no contact
            assert nobody.status_code == 409 and "reaches nobody" in nobody.text
            assert (await row(app, incident_id)).status == "triggered"
            assert (await post(http, incident_id, "resolve")).status_code == 303
            again = await post(http, incident_id, "acknowledge")
            assert again.status_code == 409 and "resolved" in again.text
            page = await http.get(f"/incidents/{incident_id}")
            missing = await http.post("/incidents/99999/acknowledge",
                                      data={"csrf": csrf_of(page.text)})  # fmt: skip
            assert missing.status_code == 404
        stored = await row(app, incident_id)
        assert (stored.status, stored.owner, stored.close_note) == ("resolved", "network-team",
                                                                     None)  # fmt: skip


async def test_refused_without_a_session_the_role_or_the_forms_token(tmp_path, sink):
    """No session: the page and the action redirect to sign in, the fragment is a 401; a
    viewer's action is 403; a responder's without the token or with another session's is
    403; an expired session is sent to sign in. None of them changes the incident."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        path = f"/incidents/{incident_id}"
        async with client(app) as stranger:
            page = await stranger.get(path)
            assert page.status_code == 303
            assert page.headers["location"] == f"/login?next={path}"
            assert (await stranger.get("/incidents")).status_code == 303
            assert (await stranger.get(f"{path}/fragment")).status_code == 401
            act = await stranger.post(f"{path}/acknowledge", data={"csrf": "x"})
            assert act.status_code == 303 and act.headers["location"].startswith("/login")
        async with signed_in(app, "vera") as viewer:
            refused = await post(viewer, incident_id, "acknowledge")
            assert refused.status_code == 403 and "responder role" in refused.text
            assert (await post(viewer, incident_id, "close", note="x")).status_code == 403
        async with signed_in(app, "rick") as rick, signed_in(app, "ada") as ada:
            bare = await rick.post(f"{path}/acknowledge", data={"note": ""})
            assert bare.status_code == 403
            other = csrf_of((await ada.get(path)).text)
            wrong = await rick.post(f"{path}/acknowledge", data={"csrf": other})
            assert wrong.status_code == 403 and "reload the page" in wrong.text
        person = app.config.person_by_name["rick"]
        old = sessions.Session("token", datetime.now(UTC) - timedelta(hours=13), "rick",
                               sessions.fingerprint(person.password_hash))  # fmt: skip
        async with client(app) as expired:
            expired.cookies.set(sessions.COOKIE, sessions.dump(SECRET.encode(), old))
            assert (await expired.get(path)).status_code == 303
            late = await expired.post(f"{path}/acknowledge", data={"csrf": "token"})
            assert late.status_code == 303 and late.headers["location"].startswith("/login")
        stored = await row(app, incident_id)
        assert (stored.status, stored.acknowledged_by) == ("triggered", None)


async def test_the_page_shows_an_acknowledgement_made_with_the_command_line(tmp_path, sink):
    """With the page open, `escalatord ack --as rick` in another process shows in the
    fragment the page's script fetches: acknowledged, by rick."""
    async with console_app(tmp_path, sink) as app:
        incident_id = await open_incident(app, "pacs-boston", "patient-care", 1)
        async with signed_in(app, "vera") as http:
            first = (await http.get(f"/incidents/{incident_id}/fragment")).text
            assert 'data-status="triggered"' in first
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "escalatord", "ack", str(incident_id), "--as", "rick",
                "--config", str(tmp_path / "escalatord.toml"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
            assert proc.returncode == 0, (out + err).decode()
            after = (await http.get(f"/incidents/{incident_id}/fragment")).text
        assert 'data-status="acknowledged"' in after
        assert '<dd class="acked-by">rick' in after and "acknowledged by rick" in after
