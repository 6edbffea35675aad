"""The twilio_sms notifier against a loopback stand-in for Twilio's Messages API that checks
the path, basic auth and the form, and answers with Twilio's resources and error codes."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.twilio_sms import TwilioSmsNotifier
from tests.support.http_target import Reply
from tests.support.notifications import ACK_URL, sample
from tests.support.twilio_service import TwilioSink

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-s3cret"


@pytest.fixture(scope="module")
def server() -> Iterator[TwilioSink]:
    with TwilioSink(SID, TOKEN) as sink:
        yield sink


@pytest.fixture
def sink(server: TwilioSink) -> TwilioSink:
    for collection in (server.requests, server.invalid, server.accepted):
        collection.clear()
    return server


def make(sink: TwilioSink, **keys) -> TwilioSmsNotifier:
    config = {
        "name": "oncall-sms",
        "type": "twilio_sms",
        "account_sid": SID,
        "auth_token": TOKEN,
        "from": "+15017122661",
        "to": ["+15558675310", "+447700900123"],
        "api_url": sink.url(""),
        **keys,
    }
    return TwilioSmsNotifier(TwilioSmsNotifier.Config.model_validate(config))


def forms(sink: TwilioSink) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in sink.accepted]


async def send(notifier: TwilioSmsNotifier, *notifications) -> None:
    try:
        for n in notifications:
            await notifier.send(n)
    finally:
        await notifier.close()


def test_registry_resolves_twilio_type():
    """`type = "twilio_sms"` resolves to the Twilio SMS notifier."""
    assert plugins.load("notifiers", "twilio_sms") is TwilioSmsNotifier


async def test_each_number_gets_a_short_text_with_the_ack_link(sink):
    """Every number gets one accepted request with a short text ending in the ack link."""
    await send(make(sink), sample())
    assert sink.invalid == []
    sent = forms(sink)
    assert [f["To"] for f in sent] == ["+15558675310", "+447700900123"]
    assert all(f["From"] == "+15017122661" for f in sent)
    body = sent[0]["Body"]
    assert body == f"[CRITICAL] hl7-adt-feed is CRITICAL: no heartbeat for 15m Ack: {ACK_URL}"
    assert len(body) <= 320


async def test_long_summaries_are_cut_but_the_link_survives(sink):
    """A long summary is shortened to max_length; the ack link stays whole at the end."""
    await send(make(sink, to=["+15558675310"], max_length=160), sample(summary="z" * 900))
    [form] = forms(sink)
    assert len(form["Body"]) <= 160 and form["Body"].endswith(ACK_URL)


async def test_messaging_service_instead_of_a_number(sink):
    """With messaging_service_sid, requests carry MessagingServiceSid and no From."""
    service = "MG" + "f" * 32
    await send(
        make(sink, to=["+15558675310"], messaging_service_sid=service, **{"from": None}), sample()
    )
    [form] = forms(sink)
    assert form["MessagingServiceSid"] == service and "From" not in form


async def test_a_retry_texts_only_the_numbers_that_failed(sink):
    """When the second number fails (500), the retry texts only that number: nobody gets the
    same page twice."""
    notifier = make(sink)
    sink.then(Reply(201, "{}"), Reply(500, "oops"))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(sample())
    assert caught.value.retryable
    await send(notifier, sample())  # the retry
    assert [f["To"] for f in forms(sink)] == ["+447700900123"]
    assert len(sink.requests) == 3


async def test_twilio_errors_carry_code_and_message(sink):
    """A wrong token is Twilio error 20003 and permanent; the token never shows."""
    with pytest.raises(NotifyError) as caught:
        await send(make(sink, auth_token="wrong-token-value"), sample())
    error = str(caught.value)
    assert not caught.value.retryable
    assert "401" in error and "20003 Authenticate" in error
    assert TOKEN not in error and "wrong-token-value" not in error


async def test_rate_limit_is_retried_after_retry_after(sink):
    """Twilio's 429 (error 20429) is retried, honouring Retry-After."""
    sink.then(Reply(429, '{"code": 20429, "message": "Too Many Requests"}', {"Retry-After": "2"}))
    with pytest.raises(NotifyError) as caught:
        await send(make(sink), sample(Event.TEST))
    assert caught.value.retryable and caught.value.retry_after == 2
    assert "20429 Too Many Requests" in str(caught.value)


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"to": ["5558675310"]}, "E.164"),
        ({"account_sid": "XX123"}, "account_sid"),
        ({"messaging_service_sid": "MG" + "0" * 32}, "exactly one of from"),
        ({"from": "this sender is far too long"}, "alphanumeric sender"),
    ],
)
def test_bad_config_names_the_fix(keys, words):
    """Numbers, SIDs and the sender are checked when the config is loaded."""
    config = {
        "name": "s",
        "type": "twilio_sms",
        "account_sid": SID,
        "auth_token": TOKEN,
        "from": "+15017122661",
        "to": ["+15558675310"],
        **keys,
    }
    with pytest.raises(ValidationError, match=words):
        TwilioSmsNotifier.Config.model_validate(config)
