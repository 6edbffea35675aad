"""The pagerduty notifier against a loopback stand-in for the Events API v2 that checks every
event and follows each alert's state by dedup_key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.pagerduty import PagerDutyNotifier
from tests.support.http_target import Reply
from tests.support.notifications import ACK_URL, sample
from tests.support.pagerduty_service import PagerDutySink

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


@pytest.fixture(scope="module")
def server() -> Iterator[PagerDutySink]:
    with PagerDutySink() as sink:
        yield sink


@pytest.fixture
def sink(server: PagerDutySink) -> PagerDutySink:
    for collection in (server.requests, server.invalid, server.accepted, server.alerts):
        collection.clear()
    return server


async def send(sink: PagerDutySink, *notifications, **keys) -> None:
    config = {
        "name": "pd",
        "type": "pagerduty",
        "routing_key": ROUTING_KEY,
        "url": sink.url("/v2/enqueue"),
        **keys,
    }
    notifier = PagerDutyNotifier(PagerDutyNotifier.Config.model_validate(config))
    try:
        for n in notifications:
            await notifier.send(n)
    finally:
        await notifier.close()


def test_registry_resolves_pagerduty_type():
    """`type = "pagerduty"` resolves to the pagerduty notifier."""
    assert plugins.load("notifiers", "pagerduty") is PagerDutyNotifier


async def test_trigger_event_is_complete_and_valid(sink):
    """A page is a valid trigger: summary, source, severity, timestamp, details, and links to
    the ack page and the runbook."""
    await send(sink, sample())
    assert sink.invalid == []
    event = sink.accepted[0].json()
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == "escalatord-42-hl7-adt-feed"
    payload = event["payload"]
    assert payload["summary"] == "[CRITICAL] hl7-adt-feed is CRITICAL"
    assert (payload["source"], payload["severity"]) == ("hl7-adt-feed", "critical")
    assert payload["timestamp"] == "2024-05-17T08:30:05+00:00"
    assert (payload["group"], payload["class"]) == ("hq", "patient-care")
    assert payload["custom_details"]["steps"][0] == "Check the interface engine queue"
    assert event["links"][0] == {"href": ACK_URL, "text": "Acknowledge in escalatord"}


async def test_one_alert_follows_the_incident_through_its_life(sink):
    """Trigger, escalation, ack and resolve of one incident all use one dedup_key: one alert
    in PagerDuty, which ends resolved."""
    await send(
        sink,
        sample(),
        sample(Event.ESCALATED, level=1),
        sample(Event.ACKNOWLEDGED, acknowledged_by="alice"),
        sample(Event.RESOLVED),
    )
    assert sink.invalid == []
    actions = [r.json()["event_action"] for r in sink.accepted]
    assert actions == ["trigger", "trigger", "acknowledge", "resolve"]
    assert sink.alerts == {"escalatord-42-hl7-adt-feed": "resolved"}
    assert set(sink.accepted[2].json()) == {"routing_key", "event_action", "dedup_key"}


async def test_test_message_triggers_and_resolves_at_once(sink):
    """`test-notify` to PagerDuty leaves no open alert: an info trigger, then its resolve."""
    await send(sink, sample(Event.TEST, id="test", key="test", severity="critical"))
    first, second = (r.json() for r in sink.accepted)
    assert first["payload"]["severity"] == "info"
    assert second["event_action"] == "resolve"
    assert list(sink.alerts.values()) == ["resolved"]


async def test_source_can_be_set_and_long_summaries_are_cut(sink):
    """`source` overrides the check name; a summary longer than 1024 characters is cut."""
    await send(sink, sample(title="x" * 2000), source="hospital-monitoring")
    assert sink.invalid == []
    payload = sink.accepted[0].json()["payload"]
    assert payload["source"] == "hospital-monitoring"
    assert len(payload["summary"]) == 1024


async def test_invalid_event_is_permanent_and_throttling_retried(sink):
    """PagerDuty's 400 "invalid event" is permanent; its 429 is retried; the routing key
    never appears in an error."""
    sink.then(
        Reply(400, '{"status":"invalid event","message":"Event object is invalid"}'),
        Reply(429, "", {"Retry-After": "5"}),
    )
    errors = []
    for _ in range(2):
        with pytest.raises(NotifyError) as caught:
            await send(sink, sample())
        errors.append(caught.value)
    assert [e.retryable for e in errors] == [False, True]
    assert "invalid event" in str(errors[0])
    assert all(ROUTING_KEY not in str(e) for e in errors)


def test_routing_key_must_be_an_integration_key():
    """A routing key that is not 32 characters is refused, saying where to find it."""
    with pytest.raises(ValidationError, match="Integration Key"):
        PagerDutyNotifier.Config(name="pd", type="pagerduty", routing_key="short")
