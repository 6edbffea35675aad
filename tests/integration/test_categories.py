"""Business impact on a running App, on SQLite and PostgreSQL: a rule's `[[category]]` reaches
the incident row, the webhook payload (a sink on loopback), the message text, the JSON listing
and its `category` filter, and `escalatord incidents --category`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from escalatord.app import App
from escalatord.core.state import CheckState, Transition
from escalatord.core.status import Status
from escalatord.incidents import service
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget
from tests.support.listings import cli_json, get

READ = "read-token-0123456789abcdef"
URL = "/api/v1/incidents"


def body(sink: HttpTarget) -> str:
    return f"""
[api]
read_tokens = ["{READ}"]

# Disabled: the monitor leaves them alone, the tests hand the engine their transitions.
[[check]]
name = "hl7-feed"
type = "tcp"
host = "127.0.0.1"
port = 9
enabled = false
labels = {{ site = "hq" }}

[[check]]
name = "portal"
type = "tcp"
host = "127.0.0.1"
port = 9
enabled = false
labels = {{ site = "hq" }}

[[check]]
name = "printer"
type = "tcp"
host = "127.0.0.1"
port = 9
enabled = false
labels = {{ site = "boston" }}

[[category]]
name = "patient-care"
priority = 1
description = "Anything that endangers patient care"

[[category]]
name = "client-satisfaction"
priority = 3
description = "What patients and visitors notice"

# Continue-merging: the first matched rule that sets a category wins, as severity does.
[[rule]]
name = "clinical owner"
match = {{ site = "hq" }}
owner = "clinical-apps-lead"
continue = true

[[rule]]
name = "hl7"
match = {{ check = "hl7-feed" }}
category = "patient-care"
severity = "critical"
policy = "page"
continue = true

[[rule]]
name = "portal"
match = {{ site = "hq" }}
category = "client-satisfaction"
policy = "page"

[[rule]]
name = "no category"
policy = "page"

[[policy]]
name = "page"
  [[policy.level]]
  after = "0s"
  notify = ["sink"]

[[notifier]]
name = "sink"
type = "webhook"
url = "{sink.url("/hook")}"
timeout = "2s"
"""


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


@pytest.fixture
async def app(store_url: str, tmp_path: Path, sink: HttpTarget) -> AsyncIterator[tuple[App, Path]]:
    sink.requests.clear()
    config_file = tmp_path / "escalatord.toml"
    async with running_app(store_url, body(sink), config_file=config_file) as running:
        yield running, config_file


async def fail(app: App, check: str) -> int:
    """`check` turns CRITICAL through the engine, as the monitor hands it; its incident."""
    now = datetime.now(UTC)
    tr = Transition(check, Status.OK, Status.CRITICAL, now, "down")
    state = CheckState(status=Status.CRITICAL, since=now, last_status=Status.CRITICAL)
    opened = await app.engine.on_transition(tr, state, {})
    assert opened is not None
    return opened


async def payloads(sink: HttpTarget, n: int) -> list[dict]:
    await eventually(lambda: len(sink.requests) >= n)
    return [r.json() for r in sink.requests]


async def test_a_rules_category_reaches_the_row_and_the_payload(app, sink):
    """The first matched rule that sets a category decides it (continue-merging); the row
    stores its name and priority, and the webhook payload and message text carry them."""
    running, _ = app
    incident_id = await fail(running, "hl7-feed")
    async with running.store.read() as conn:
        row = await service.get(conn, incident_id)
    assert (row.category, row.priority, row.owner) == ("patient-care", 1, "clinical-apps-lead")
    [payload] = await payloads(sink, 1)
    assert payload["incident"]["category"] == "patient-care"
    assert payload["incident"]["priority"] == 1
    assert payload["incident"]["check"] == "hl7-feed"


async def test_an_incident_without_category_has_nulls(app, sink):
    """An incident whose rules name no category stores NULLs and says null in the payload."""
    running, _ = app
    incident_id = await fail(running, "printer")
    async with running.store.read() as conn:
        row = await service.get(conn, incident_id)
    assert (row.category, row.priority) == (None, None)
    [payload] = await payloads(sink, 1)
    assert payload["incident"]["category"] is None and payload["incident"]["priority"] is None


async def test_listing_and_command_line_filter_by_category(app):
    """`GET /api/v1/incidents?category=` and `escalatord incidents --category` keep the
    incidents of that category, each with its category and priority."""
    running, config_file = app
    for check in ("hl7-feed", "portal", "printer"):
        await fail(running, check)
    reply = await get(running, URL, READ)
    listed = {i["check"]: (i["category"], i["priority"]) for i in reply.json()["incidents"]}
    assert listed == {
        "hl7-feed": ("patient-care", 1),
        "portal": ("client-satisfaction", 3),
        "printer": (None, None),
    }
    reply = await get(running, URL, READ, {"category": "client-satisfaction"})
    assert [i["check"] for i in reply.json()["incidents"]] == ["portal"]
    reply = await get(running, URL, READ, {"category": "nothing"})
    assert reply.json()["incidents"] == []
    shown = await cli_json(config_file, "incidents", "--category", "patient-care", "--json")
    assert [(i["check"], i["category"], i["priority"]) for i in shown] == [
        ("hl7-feed", "patient-care", 1)
    ]
    text = await cli_text(config_file, "incidents", "--category", "patient-care")
    assert "hl7-feed" in text and "category patient-care (priority 1)" in text
    assert "portal" not in text


async def cli_text(config: Path, *args: str) -> str:
    """`escalatord ARGS --config CONFIG` in a subprocess; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "escalatord", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    return out.decode()
