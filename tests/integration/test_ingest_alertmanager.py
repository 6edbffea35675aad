"""Alert ingest from a real Prometheus Alertmanager (Debian's prometheus-alertmanager + amtool).

The test starts Alertmanager on a free loopback port with a webhook receiver pointing at a
running App (bearer token in `http_config.authorization`), pushes alerts with `amtool`, and
watches what the App pages. Payload validation and authentication are tested with direct POSTs.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from escalatord.app import App
from escalatord.incidents import service
from tests.support import programs
from tests.support.app import eventually, free_port, running_app
from tests.support.http_target import HttpTarget

TOKEN = "alertmanager-token-0123456789"
URL = "/api/v1/alerts/alertmanager"


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s


def rules(sink: HttpTarget) -> str:
    return f"""
        [[rule]]
        name = "prometheus critical"
        match = {{ ingest = "alertmanager", team = "integration" }}
        status = ["critical"]
        severity = "critical"
        policy = "page"
        owner = "integration-team"
        runbook = "https://wiki.example.org/generic"

        [[policy]]
        name = "page"
          [[policy.level]]
          after = "0s"
          notify = ["sink"]

        [[notifier]]
        name = "sink"
        type = "webhook"
        url = "{sink.url("/hook")}"
    """


@pytest.fixture
async def app(tmp_path: Path, sink: HttpTarget) -> AsyncIterator[App]:
    sink.requests.clear()
    body = f'[api]\nwrite_tokens = ["{TOKEN}"]\n' + rules(sink)
    async with running_app(tmp_path / "escalatord.db", body) as running:
        yield running


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=app.base_url, headers=headers, timeout=10) as c:  # type: ignore[attr-defined]
        yield c


@pytest.fixture
async def alertmanager(app: App, tmp_path: Path) -> AsyncIterator[str]:
    """A real Alertmanager whose only receiver is the App's ingest endpoint; yields its URL."""
    alertmanager, _ = programs.require("prometheus-alertmanager", "amtool")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        textwrap.dedent(f"""
        route:
          receiver: escalatord
          group_by: ['...']        # every alert on its own: one notification each
          group_wait: 100ms
          group_interval: 1s
          repeat_interval: 1h
        receivers:
          - name: escalatord
            webhook_configs:
              - url: {app.base_url}{URL}
                send_resolved: true
                http_config:
                  authorization:
                    credentials: {TOKEN}
        """)  # type: ignore[attr-defined]
    )
    proc = await asyncio.create_subprocess_exec(
        alertmanager, f"--config.file={config}", f"--storage.path={tmp_path}/am-data",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get(f"{url}/-/ready")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("Alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def amtool(url: str, *args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *programs.require("amtool"), f"--alertmanager.url={url}", "alert", "add", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()


def events(sink: HttpTarget) -> list[str]:
    return [r.json()["event"] for r in sink.requests]


LABELS = ["alertname=HL7QueueBacklog", "team=integration", "severity=critical", "site=hq"]
NOTES = [
    "--annotation=summary=ADT queue is backing up",
    "--annotation=description=4000 messages waiting for 10m",
    "--annotation=runbook_url=https://wiki.example.org/runbooks/hl7-queue",
]


async def test_real_alertmanager_firing_then_resolved(alertmanager: str, sink: HttpTarget):
    """An alert pushed with amtool pages through the rules with its labels, annotations and
    runbook; when it ends in Alertmanager, the incident is resolved."""
    await amtool(alertmanager, *LABELS, *NOTES)
    await eventually(lambda: events(sink) == ["triggered"], within=15, what="the page")
    incident = sink.requests[0].json()["incident"]
    assert incident["check"] == "HL7QueueBacklog"
    assert incident["title"] == "HL7QueueBacklog: ADT queue is backing up"
    assert incident["summary"] == "4000 messages waiting for 10m"
    assert incident["runbook"] == "https://wiki.example.org/runbooks/hl7-queue"
    assert incident["owner"] == "integration-team" and incident["severity"] == "critical"
    assert incident["labels"] == {
        "alertname": "HL7QueueBacklog",
        "team": "integration",
        "severity": "critical",
        "site": "hq",
        "ingest": "alertmanager",
    }
    assert incident["key"].startswith("alertmanager:")

    ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await amtool(alertmanager, *LABELS, *NOTES, f"--end={ended}")
    await eventually(lambda: events(sink) == ["triggered", "resolved"], within=15, what="resolved")


async def test_real_alertmanager_warning_does_not_match_a_critical_rule(
    app: App, alertmanager: str, sink: HttpTarget
):
    """The severity label picks the status rules see: a warning alert does not match a rule
    for critical ones, so only the critical alert sent after it opens an incident."""
    await amtool(alertmanager, "alertname=DiskFilling", "team=integration", "severity=warning")
    await asyncio.sleep(0.3)  # past group_wait: the warning is on its way first
    await amtool(alertmanager, *LABELS)
    await eventually(lambda: events(sink) == ["triggered"], within=15, what="the page")
    await asyncio.sleep(0.3)
    async with app.store.read() as conn:
        assert [i.check for i in await service.list_incidents(conn)] == ["HL7QueueBacklog"]


def payload(status: str = "firing", **labels: str) -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {"alertname": "HL7QueueBacklog", "team": "integration", **labels},
        "annotations": {"summary": "ADT queue is backing up"},
        "startsAt": "2026-11-27T03:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "c0ffee0123456789",
    }
    return {"version": "4", "status": status, "receiver": "escalatord", "alerts": [alert]}


async def test_repeats_are_deduplicated(app: App, client: httpx.AsyncClient, sink: HttpTarget):
    """Alertmanager re-sends firing alerts: the same fingerprint pages once."""
    for _ in range(3):
        reply = await client.post(URL, json=payload())
        assert reply.status_code == 200
    assert reply.json() == {"received": 1, "updated": 1, "incidents": ["1"]}
    async with app.store.read() as conn:
        assert [i.key for i in await service.list_incidents(conn)] == [
            "alertmanager:c0ffee0123456789"
        ]
    await eventually(lambda: events(sink) == ["triggered"], what="one page")
    resolved = await client.post(URL, json=payload("resolved"))
    assert resolved.json() == {"received": 1, "resolved": 1, "incidents": ["1"]}


async def test_authentication(app: App):
    """No token is 401 (with WWW-Authenticate), a wrong one 403; nothing is opened."""
    async with httpx.AsyncClient(base_url=app.base_url) as anonymous:  # type: ignore[attr-defined]
        missing = await anonymous.post(URL, json=payload())
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.post(URL, json=payload(), headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 403
    async with app.store.read() as conn:
        assert await service.list_incidents(conn) == []


async def test_invalid_payloads_are_400(client: httpx.AsyncClient):
    """A payload that is not Alertmanager's is refused, naming the field."""
    bad = payload()
    bad["alerts"][0]["status"] = "burning"
    reply = await client.post(URL, json=bad)
    assert reply.status_code == 400
    assert "alerts[0].status: Input should be 'firing' or 'resolved'" in reply.json()["error"]
    missing = await client.post(URL, json={"version": "4"})
    assert missing.status_code == 400 and "alerts: Field required" in missing.json()["error"]


async def test_ingest_is_off_without_tokens(tmp_path: Path, sink: HttpTarget):
    """Without [api] write_tokens the endpoint refuses every request and says what to set."""
    async with running_app(tmp_path / "off.db", rules(sink)) as app:
        async with httpx.AsyncClient(base_url=app.base_url) as c:  # type: ignore[attr-defined]
            reply = await c.post(URL, json=payload(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 403 and "[api] write_tokens" in reply.json()["error"]


def raw_batch(*labels: str) -> bytes:
    """A batch as bytes, one alert per `labels` value (JSON text pasted in as the `team` label,
    so it may hold escapes json.dumps would never write, such as a lone surrogate)."""
    alerts = [
        f'{{"status": "firing", "fingerprint": "f{n}", "labels": {{"alertname": "Disk{n}", '
        f'"team": {team}}}, "annotations": {{}}}}'
        for n, team in enumerate(labels, 1)
    ]
    return f'{{"version": "4", "status": "firing", "alerts": [{", ".join(alerts)}]}}'.encode()


async def test_one_bad_alert_does_not_block_its_batch(
    app: App, client: httpx.AsyncClient, sink: HttpTarget
):
    """In a batch with a lone surrogate in one alert's label, the valid alerts open their
    incidents, and the bad one is rejected with its reason in the 200 reply and in the log."""
    batch = raw_batch('"integration"', '"\\ud800"', '"integration"')
    with capture_logs() as logs:
        reply = await client.post(URL, content=batch, headers={"Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    reason = "alerts[1].labels.team: not Unicode text: a lone surrogate (\\ud800) at character 1"
    assert reply.json()["received"] == 3 and reply.json()["opened"] == 2
    [rejected] = reply.json()["rejected"]
    assert rejected["alert"] == 1 and rejected["reason"].startswith(reason)
    async with app.store.read() as conn:
        opened = {i.key for i in await service.list_incidents(conn)}
    assert opened == {"alertmanager:f1", "alertmanager:f3"}
    [logged] = [e for e in logs if e["event"] == "alert_rejected"]
    assert logged["alert"] == 1 and logged["reason"].startswith(reason)
    await eventually(lambda: events(sink) == ["triggered", "triggered"], what="two pages")


async def test_a_batch_with_no_valid_alert_is_400(app: App, client: httpx.AsyncClient):
    """A batch whose every alert is bad is a 400 naming each, and opens nothing."""
    reply = await client.post(
        URL, content=raw_batch('"\\udfff"', "7"), headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert [r["alert"] for r in reply.json()["rejected"]] == [0, 1]
    assert "alerts[1].labels.team: Input should be a valid string" in reply.json()["error"]
    async with app.store.read() as conn:
        assert await service.list_incidents(conn) == []
