"""A page to a person through the slack notifier: chat.postMessage with the bot token to the
contact's user or channel id, against a loopback stand-in for Slack's Web API (which answers
200 with {"ok": false, "error"} on failure); channel messages still use the incoming webhook."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from escalatord.core.events import Event, Notification, Person
from escalatord.errors import NotifyError
from escalatord.notify.slack import SlackNotifier
from tests.support.http_target import Reply
from tests.support.notifications import ACK_URL, sample
from tests.support.slack_api import POST_MESSAGE, SlackApiSink

BOT_TOKEN = "xoxb-1234-5678-s3cretBotToken"
WEBHOOK = "/services/T000/B000/XXXXsecretXXXX"
ALICE_ID = "U024BE7LH"


@pytest.fixture(scope="module")
def server() -> Iterator[SlackApiSink]:
    with SlackApiSink(BOT_TOKEN, {ALICE_ID, "C0NETWORK"}) as sink:
        yield sink


@pytest.fixture
def sink(server: SlackApiSink) -> SlackApiSink:
    for collection in (server.requests, server.invalid, server.accepted):
        collection.clear()
    return server


def to_alice(to: str = ALICE_ID, event: Event = Event.TRIGGERED) -> Notification:
    person = Person("alice", "Alice Moreau")
    return dataclasses.replace(sample(event, key=f"42:0:{event}:alice"), person=person, to=to)


async def send(sink: SlackApiSink, notification: Notification, **keys) -> None:
    config = {
        "name": "ops-chat",
        "type": "slack",
        "url": sink.url(WEBHOOK),
        "api_url": sink.url("/api"),
        "bot_token": BOT_TOKEN,
        "mention": "<!here>",
        **keys,
    }
    notifier = SlackNotifier(SlackNotifier.Config.model_validate(config))
    try:
        await notifier.send(notification)
    finally:
        await notifier.close()


async def failure(sink: SlackApiSink, notification: Notification, **keys) -> NotifyError:
    with pytest.raises(NotifyError) as caught:
        await send(sink, notification, **keys)
    return caught.value


async def test_person_page_is_posted_to_the_contact_id_with_the_bot_token(sink):
    """A page to alice is one chat.postMessage to her user id, authorised by the bot token,
    with the same Block Kit message (Acknowledge button included), greeting her, no mention."""
    await send(sink, to_alice())
    assert sink.invalid == []
    [request] = sink.accepted
    assert request.path == POST_MESSAGE
    assert request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    body = request.json()
    assert body["channel"] == ALICE_ID
    assert body["blocks"][1]["text"]["text"].startswith("Alice Moreau, you are paged")
    ack = next(e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert ack["url"] == ACK_URL
    assert "<!here>" not in str(body)


async def test_person_page_can_go_to_a_channel_id(sink):
    """A contact's `to` may be a channel id: the message is posted there."""
    await send(sink, to_alice("C0NETWORK"))
    assert [r.json()["channel"] for r in sink.accepted] == ["C0NETWORK"]


async def test_channel_page_still_goes_to_the_incoming_webhook(sink):
    """A message to the channel is POSTed to the webhook URL as before, with its mention and
    without the bot token."""
    await send(sink, sample())
    assert sink.invalid == []
    [request] = sink.accepted
    assert request.path == WEBHOOK
    assert "Authorization" not in request.headers
    body = request.json()
    assert "channel" not in body and body["text"].startswith("<!here> [CRITICAL]")


async def test_person_page_without_bot_token_fails_at_once_naming_the_fix(sink):
    """Without bot_token a page to a person is a permanent failure that says to set it, and
    nothing is sent."""
    error = await failure(sink, to_alice(), bot_token=None)
    assert not error.retryable
    assert "no bot_token" in str(error) and "SLACK_BOT_TOKEN" in str(error)
    assert sink.requests == []


async def test_unknown_id_is_a_permanent_failure_naming_it(sink):
    """Slack's 200 {"ok": false, "error": "channel_not_found"} is an error, not retried, and
    says which id and what to give instead."""
    error = await failure(sink, to_alice("U0NOBODY"))
    assert not error.retryable
    assert "channel_not_found" in str(error) and "U0NOBODY" in str(error)
    assert "member id" in str(error)


async def test_wrong_bot_token_is_permanent_and_never_shown(sink):
    """Slack's "invalid_auth" is permanent; the error names bot_token but never shows it."""
    error = await failure(sink, to_alice(), bot_token="xoxb-wrong-token-value")
    assert not error.retryable and "invalid_auth" in str(error) and "bot_token" in str(error)
    assert "xoxb-" not in str(error) and "secret" not in str(error)


async def test_ratelimited_in_a_200_is_retried_after_retry_after(sink):
    """{"ok": false, "error": "ratelimited"} with Retry-After is retryable after that long."""
    sink.then(Reply(200, '{"ok": false, "error": "ratelimited"}', {"Retry-After": "12"}))
    error = await failure(sink, to_alice())
    assert error.retryable and error.retry_after == 12
    assert "ratelimited" in str(error)


async def test_http_429_and_slack_trouble_are_retried(sink):
    """An HTTP 429 and Slack's own "internal_error" are retried."""
    sink.then(
        Reply(429, "", {"Retry-After": "5"}),
        Reply(200, '{"ok": false, "error": "internal_error"}'),
    )
    first = await failure(sink, to_alice())
    second = await failure(sink, to_alice())
    assert (first.retryable, first.retry_after, second.retryable) == (True, 5, True)


async def test_a_reply_that_is_not_slack_json_is_permanent(sink):
    """A 200 that is not Slack's JSON (api_url pointing elsewhere) fails, naming api_url."""
    sink.then(Reply(200, "<html>welcome</html>"))
    error = await failure(sink, to_alice())
    assert not error.retryable and "api_url" in str(error)


def test_bot_token_is_checked_and_kept_secret():
    """bot_token must look like a Slack token and never shows in the config's repr."""
    base = {"name": "c", "type": "slack", "url": "https://hooks.slack.com/services/T/B/zz"}
    with pytest.raises(ValidationError, match="bot_token must be a Slack token"):
        SlackNotifier.Config.model_validate({**base, "bot_token": "not a token"})
    config = SlackNotifier.Config.model_validate({**base, "bot_token": BOT_TOKEN})
    assert BOT_TOKEN not in repr(config)
    assert config.api_url == "https://slack.com/api"
    with pytest.raises(ValidationError, match="api_url must start with http"):
        SlackNotifier.Config.model_validate({**base, "api_url": "slack.com/api"})
