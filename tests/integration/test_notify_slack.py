"""The slack notifier against a loopback stand-in that checks Block Kit like Slack does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import ValidationError

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.slack import SlackNotifier
from tests.support.http_target import Reply
from tests.support.notifications import ACK_URL, sample
from tests.support.services import ServiceSink
from tests.support.slack_service import check_slack_body, slack

SECRET_PATH = "/services/T000/B000/XXXXsecretXXXX"


@pytest.fixture(scope="module")
def server() -> Iterator[ServiceSink]:
    with ServiceSink(slack) as sink:
        yield sink


@pytest.fixture
def sink(server: ServiceSink) -> ServiceSink:
    server.requests.clear()
    server.invalid.clear()
    server.accepted.clear()
    return server


@pytest.fixture
async def notifier(sink: ServiceSink) -> AsyncIterator[SlackNotifier]:
    n = make(sink)
    yield n
    await n.close()


def make(sink: ServiceSink, **keys) -> SlackNotifier:
    config = {"name": "ops-chat", "type": "slack", "url": sink.url(SECRET_PATH), **keys}
    return SlackNotifier(SlackNotifier.Config.model_validate(config))


def test_registry_resolves_slack_type():
    """`type = "slack"` resolves to the slack notifier."""
    assert plugins.load("notifiers", "slack") is SlackNotifier


async def test_page_is_valid_block_kit_with_an_acknowledge_button(sink, notifier):
    """A page is one valid Block Kit message: header, summary, facts, steps, an Acknowledge
    link button (danger style) and a Runbook button."""
    await notifier.send(sample())
    assert sink.invalid == []
    [request] = sink.accepted
    body = request.json()
    assert body["text"] == "[CRITICAL] hl7-adt-feed is CRITICAL: no heartbeat for 15m"
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "[CRITICAL] hl7-adt-feed is CRITICAL",
            "emoji": True,
        },
    }
    assert blocks[1]["text"]["text"] == "no heartbeat for 15m"
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert "*Owner*\nclinical-apps-lead" in fields and "*Severity*\ncritical" in fields
    assert "1. Check the interface engine queue" in blocks[3]["text"]["text"]
    [ack, runbook] = blocks[4]["elements"]
    assert (ack["text"]["text"], ack["url"], ack["style"]) == ("Acknowledge", ACK_URL, "danger")
    assert runbook["url"] == "https://wiki.example.org/runbooks/hl7"
    assert blocks[-1]["type"] == "context"


async def test_resolution_has_no_acknowledge_button(sink, notifier):
    """A resolved message informs: no Acknowledge button, no steps."""
    await notifier.send(sample(Event.RESOLVED))
    body = sink.accepted[0].json()
    buttons = [
        e["text"]["text"] for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["Runbook"]
    assert "What to do" not in str(body)


async def test_mrkdwn_is_escaped_and_long_text_cut_to_limits(sink, notifier):
    """Slack control characters are escaped and overlong fields cut, so Slack accepts it."""
    await notifier.send(
        sample(summary="<!channel> & <http://evil|x> " + "y" * 5000, title="t" * 300)
    )
    assert sink.invalid == []
    body = sink.accepted[0].json()
    summary = body["blocks"][1]["text"]["text"]
    assert summary.startswith("&lt;!channel&gt; &amp; &lt;http://evil|x&gt;")
    assert len(summary) == 3000 and len(body["blocks"][0]["text"]["text"]) == 150


async def test_mention_goes_before_pages_only(sink):
    """`mention` pings people on pages and stays quiet on resolutions."""
    n = make(sink, mention="<!here>")
    try:
        await n.send(sample())
        await n.send(sample(Event.RESOLVED))
    finally:
        await n.close()
    page, resolved = (r.json() for r in sink.accepted)
    assert page["blocks"][1]["text"]["text"].startswith("<!here>\n")
    assert page["text"].startswith("<!here> ")
    assert "<!here>" not in str(resolved)


async def test_template_body_replaces_the_sections(sink):
    """A template body becomes the one section of text; the button stays."""
    n = make(sink, template={"body": "*$check* needs you: $summary"})
    try:
        await n.send(sample())
    finally:
        await n.close()
    blocks = sink.accepted[0].json()["blocks"]
    assert blocks[1]["text"]["text"] == "*hl7-adt-feed* needs you: no heartbeat for 15m"
    assert [b["type"] for b in blocks] == ["header", "section", "actions", "context"]


async def test_slack_errors_are_classified_and_the_url_is_hidden(sink, notifier):
    """Slack's 404 no_service is permanent, 429 is retried after Retry-After, 500 retried; the
    webhook URL (a credential) never appears in the error."""
    sink.then(
        Reply(404, "no_service"),
        Reply(429, "rate_limited", {"Retry-After": "30"}),
        Reply(500, "rollup_error"),
    )
    errors = []
    for _ in range(3):
        with pytest.raises(NotifyError) as caught:
            await notifier.send(sample())
        errors.append(caught.value)
    assert [e.retryable for e in errors] == [False, True, True]
    assert errors[1].retry_after == 30
    assert "no_service" in str(errors[0]) and "ops-chat" in str(errors[0])
    assert all("secret" not in str(e) and "/services/" not in str(e) for e in errors)


def test_the_stand_in_rejects_what_slack_rejects():
    """The sink's checks are real: no fallback text, an overlong header and a bad button
    style are each refused."""
    problems = check_slack_body(
        {
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "A"},
                            "style": "red",
                        }
                    ],
                },
            ]
        }
    )
    assert len(problems) == 3


def test_url_is_required_and_kept_secret():
    """The webhook URL must be http(s) and never shows in the config's repr."""
    with pytest.raises(ValidationError, match="url must start with http"):
        SlackNotifier.Config(name="c", type="slack", url="hooks.slack.com/services/x")
    config = SlackNotifier.Config(
        name="c", type="slack", url="https://hooks.slack.com/services/T/B/zz"
    )
    assert "services" not in repr(config)
