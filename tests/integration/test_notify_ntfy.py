"""The ntfy notifier against a loopback stand-in for an ntfy server that checks the publish
request (topic, headers, actions, auth) and stores the message as ntfy would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.ntfy import NtfyNotifier
from tests.support.notifications import ACK_URL, sample
from tests.support.ntfy_service import NtfySink

TOKEN = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"


@pytest.fixture(scope="module")
def server() -> Iterator[NtfySink]:
    with NtfySink(token=TOKEN) as sink:
        yield sink


@pytest.fixture
def sink(server: NtfySink) -> NtfySink:
    for collection in (server.requests, server.invalid, server.accepted, server.messages):
        collection.clear()
    return server


async def publish(sink: NtfySink, *notifications, **keys) -> list[dict]:
    """Send each notification; returns what the server stored."""
    config = {
        "name": "phones",
        "type": "ntfy",
        "server": sink.url(""),
        "topic": "hospital-oncall-7f3a",
        "token": TOKEN,
        **keys,
    }
    notifier = NtfyNotifier(NtfyNotifier.Config.model_validate(config))
    try:
        for n in notifications:
            await notifier.send(n)
    finally:
        await notifier.close()
    return list(sink.messages)


def test_registry_resolves_ntfy_type():
    """`type = "ntfy"` resolves to the ntfy notifier."""
    assert plugins.load("notifiers", "ntfy") is NtfyNotifier


async def test_page_has_title_priority_tags_and_an_acknowledge_action(sink):
    """A critical page is priority 5 with a siren tag, a click-through and a view action to
    the ack link; the body is the text message."""
    [message] = await publish(sink, sample())
    assert sink.invalid == []
    assert message["topic"] == "hospital-oncall-7f3a"
    assert message["title"] == "[CRITICAL] hl7-adt-feed is CRITICAL"
    assert message["priority"] == "5"
    assert message["tags"] == ["rotating_light", "hl7-adt-feed"]
    assert message["click"] == ACK_URL
    assert message["actions"][0] == ["view", "Acknowledge", ACK_URL, "clear=true"]
    assert message["actions"][1][:2] == ["view", "Runbook"]
    assert "no heartbeat for 15m" in message["message"]


@pytest.mark.parametrize(
    ("severity", "priority"), [("critical", "5"), ("error", "4"), ("warning", "3"), ("info", "2")]
)
async def test_priority_follows_severity(sink, severity, priority):
    """ntfy priority is mapped from the incident's severity."""
    [message] = await publish(sink, sample(severity=severity))
    assert message["priority"] == priority


async def test_resolution_is_low_priority_without_actions(sink):
    """A resolution buzzes nobody: low priority, a check-mark tag, no Acknowledge action."""
    [message] = await publish(sink, sample(Event.RESOLVED), tags=["hospital"])
    assert message["priority"] == "2"
    assert message["tags"] == ["white_check_mark", "hl7-adt-feed", "hospital"]
    assert all(action[1] != "Acknowledge" for action in message["actions"])


async def test_non_ascii_title_arrives_intact(sink):
    """A title with accents and emoji is RFC 2047-encoded and decoded by the server."""
    [message] = await publish(sink, sample(title="Überweisung ❌ en panne"))
    assert message["title"] == "[CRITICAL] Überweisung ❌ en panne"


async def test_wrong_token_is_a_permanent_failure(sink):
    """ntfy's 403 for a wrong token is permanent, and the token is not in the error."""
    with pytest.raises(NotifyError) as caught:
        await publish(sink, sample(), token="tk_wrongwrongwrongwrongwrong0")
    assert not caught.value.retryable and "403" in str(caught.value)
    assert "tk_wrong" not in str(caught.value)


def test_topic_and_auth_are_checked():
    """A topic ntfy would refuse, or token and password together, are config errors."""
    base = {"name": "p", "type": "ntfy"}
    with pytest.raises(ValidationError, match="topic must be"):
        NtfyNotifier.Config.model_validate({**base, "topic": "has space"})
    with pytest.raises(ValidationError, match="not both"):
        NtfyNotifier.Config.model_validate(
            {**base, "topic": "t", "token": "x", "username": "u", "password": "p"}
        )


async def test_non_ascii_runbook_and_ack_links_are_sent_percent_encoded(sink):
    """A runbook URL with accents (and an ack link on an IDN host) is published, as ASCII
    links a phone opens to the same page, instead of failing until max_age."""
    [message] = await publish(
        sink,
        sample(
            runbook="https://wiki.example.org/Störungen/HL7 Schnittstelle",
            ack_url="https://bücher.example/ack/42.7.1.AAAA",
        ),
    )
    assert sink.invalid == []
    assert message["click"] == "https://xn--bcher-kva.example/ack/42.7.1.AAAA"
    assert message["actions"][0][2] == "https://xn--bcher-kva.example/ack/42.7.1.AAAA"
    assert message["actions"][1] == [
        "view",
        "Runbook",
        "https://wiki.example.org/St%C3%B6rungen/HL7%20Schnittstelle",
    ]
