"""The teams notifier against a loopback stand-in for a Teams Workflows webhook that checks
the message and its Adaptive Card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.teams import TeamsNotifier
from tests.support.http_target import Reply
from tests.support.notifications import ACK_URL, sample
from tests.support.services import ServiceSink
from tests.support.teams_service import check_adaptive_card, teams

PATH = "/workflows/abc/triggers/manual/paths/invoke?sig=SECRETsig123"


@pytest.fixture(scope="module")
def server() -> Iterator[ServiceSink]:
    with ServiceSink(teams) as sink:
        yield sink


@pytest.fixture
def sink(server: ServiceSink) -> ServiceSink:
    server.requests.clear()
    server.invalid.clear()
    server.accepted.clear()
    return server


async def send(sink: ServiceSink, *notifications, **keys) -> None:
    config = {"name": "ops-teams", "type": "teams", "url": sink.url(PATH), **keys}
    notifier = TeamsNotifier(TeamsNotifier.Config.model_validate(config))
    try:
        for n in notifications:
            await notifier.send(n)
    finally:
        await notifier.close()


def test_registry_resolves_teams_type():
    """`type = "teams"` resolves to the teams notifier."""
    assert plugins.load("notifiers", "teams") is TeamsNotifier


async def test_page_is_an_adaptive_card_with_facts_steps_and_acknowledge(sink):
    """A page is a valid message with one Adaptive Card: coloured title, summary, a FactSet,
    the steps and an Acknowledge (OpenUrl) action."""
    await send(sink, sample())
    assert sink.invalid == []
    body = sink.accepted[0].json()
    [attachment] = body["attachments"]
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title = card["body"][0]
    assert (title["text"], title["color"], title["weight"]) == (
        "[CRITICAL] hl7-adt-feed is CRITICAL",
        "Attention",
        "Bolder",
    )
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "Owner", "value": "clinical-apps-lead"} in facts
    assert any("2. Call the vendor support line" in e.get("text", "") for e in card["body"])
    acknowledge, runbook = card["actions"]
    assert (acknowledge["type"], acknowledge["title"], acknowledge["url"]) == (
        "Action.OpenUrl",
        "Acknowledge",
        ACK_URL,
    )
    assert runbook["title"] == "Runbook"


async def test_acknowledged_card_is_green_and_has_no_acknowledge_action(sink):
    """An "acknowledged" card is coloured Good and offers nothing to acknowledge."""
    await send(sink, sample(Event.ACKNOWLEDGED, acknowledged_by="alice"))
    card = sink.accepted[0].json()["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Good"
    assert "alice" in card["body"][0]["text"]
    assert [a["title"] for a in card.get("actions", [])] == ["Runbook"]


async def test_throttling_reported_in_a_200_is_retried(sink):
    """The legacy connector reports throttling as 200 "...HTTP error 429": retried."""
    sink.then(Reply(200, "Microsoft Teams endpoint returned HTTP error 429 with ContextId x"))
    with pytest.raises(NotifyError) as caught:
        await send(sink, sample())
    assert caught.value.retryable and "throttled" in str(caught.value)
    assert "SECRETsig123" not in str(caught.value)


async def test_bad_request_is_permanent(sink):
    """A 400 from Teams (a card it cannot render) is not retried."""
    sink.then(Reply(400, "Bad payload"))
    with pytest.raises(NotifyError) as caught:
        await send(sink, sample())
    assert not caught.value.retryable


def test_the_stand_in_rejects_what_teams_rejects():
    """Unknown enum values, Action.Submit and a version Teams cannot render are refused."""
    card = {
        "type": "AdaptiveCard",
        "version": "1.6",
        "body": [{"type": "TextBlock", "text": "x", "color": "red"}],
        "actions": [{"type": "Action.Submit", "title": "Go"}],
    }
    assert len(check_adaptive_card(card)) == 3


async def test_target_text_cannot_restyle_the_card_or_fake_links(sink):
    """Markdown in a summary, labels or plugin output reaches Teams escaped: `**`, `_`,
    `[text](url)` and list markers are shown as written, not rendered."""
    summary = "**ALL CLEAR** - ignore this page: [ack here](https://evil.example/x)\n- check_disk"
    await send(sink, sample(summary=summary, labels={"site": "_hq_"}))
    assert sink.invalid == []
    card = sink.accepted[0].json()["attachments"][0]["content"]
    texts = [e["text"] for e in card["body"] if e["type"] == "TextBlock"]
    assert (
        "\\*\\*ALL CLEAR\\*\\* - ignore this page: [ack here\\](https://evil.example/x)\n"
        "\\- check\\_disk"
    ) in texts
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "Labels", "value": "site=\\_hq\\_"} in facts
    assert {"title": "Check", "value": "hl7-adt-feed"} in facts  # nothing to escape: unchanged
