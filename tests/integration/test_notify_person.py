"""A page to a person through email, twilio_sms, ntfy, webhook and exec, against the same
loopback servers as each type's own tests: it reaches the contact's address (`to`) and only
it, while a message to a channel still goes where the notifier's config says.
(Slack, which needs its Web API for this, is in test_notify_slack_person.py.)"""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from escalatord.core.events import Event, Notification, Person
from escalatord.errors import NotifyError
from escalatord.notify.email import EmailNotifier
from escalatord.notify.exec import ExecNotifier
from escalatord.notify.ntfy import NtfyNotifier
from escalatord.notify.twilio_sms import TwilioSmsNotifier
from escalatord.notify.webhook import WebhookNotifier
from tests.support.http_target import HttpTarget
from tests.support.notifications import ACK_URL, sample
from tests.support.ntfy_service import NtfySink
from tests.support.smtp import SmtpServer
from tests.support.twilio_service import TwilioSink

ALICE = Person("alice", "Alice Moreau")
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-s3cret"


def to_alice(to: str, event: Event = Event.TRIGGERED) -> Notification:
    return dataclasses.replace(sample(event, key=f"42:0:{event}:alice"), person=ALICE, to=to)


# --- email ----------------------------------------------------------------------------------


def mailer(port: int) -> EmailNotifier:
    config = {
        "name": "mail",
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "escalatord <escalatord@example.org>",
        "to": ["oncall@example.org", "Boss <boss@example.org>"],
        "timeout": "5s",
    }
    return EmailNotifier(EmailNotifier.Config.model_validate(config))


async def test_email_person_page_goes_to_the_contact_address_only():
    """A page to alice is one mail whose only RCPT TO is her address, To names her, and the
    text greets her; the notifier's own `to` list gets nothing."""
    async with SmtpServer(None, "none") as smtp:
        await mailer(smtp.port).send(to_alice("alice@example.org"))
    [(_, recipients, mail)] = smtp.messages
    assert recipients == ["alice@example.org"]
    assert mail["To"] == "Alice Moreau <alice@example.org>"
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Alice Moreau, you are paged for this incident.")
    assert f"Acknowledge: {ACK_URL}" in text
    assert "Alice Moreau, you are paged" in mail.get_body(("html",)).get_content()


async def test_email_channel_page_still_goes_to_the_configured_list():
    """A message to the channel goes to every address of the config's `to`, as before, and
    its text greets nobody."""
    async with SmtpServer(None, "none") as smtp:
        await mailer(smtp.port).send(sample())
    [(_, recipients, mail)] = smtp.messages
    assert recipients == ["oncall@example.org", "boss@example.org"]
    assert mail["To"] == "oncall@example.org, Boss <boss@example.org>"
    assert mail.get_body(("plain",)).get_content().startswith("no heartbeat for 15m")


async def test_email_contact_address_that_is_not_one_is_a_permanent_failure():
    """A contact's `to` that is not an e-mail address fails at once, nothing is sent."""
    async with SmtpServer(None, "none") as smtp:
        with pytest.raises(NotifyError) as caught:
            await mailer(smtp.port).send(to_alice("+15558675310"))
    assert not caught.value.retryable and "not an e-mail address" in str(caught.value)
    assert smtp.messages == []


# --- twilio_sms -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioSink]:
    with TwilioSink(SID, TOKEN) as sink:
        yield sink


def texter(sink: TwilioSink) -> TwilioSmsNotifier:
    for collection in (sink.requests, sink.invalid, sink.accepted):
        collection.clear()
    config = {
        "name": "sms",
        "type": "twilio_sms",
        "account_sid": SID,
        "auth_token": TOKEN,
        "from": "+15017122661",
        "to": ["+15558675310", "+447700900123"],
        "api_url": sink.url(""),
    }
    return TwilioSmsNotifier(TwilioSmsNotifier.Config.model_validate(config))


def texted(sink: TwilioSink) -> list[str]:
    return [parse_qs(r.body.decode())["To"][0] for r in sink.accepted]


async def test_twilio_person_page_texts_the_contact_number_only(twilio):
    """A page to alice is one SMS to her number, ending in the ack link; the configured
    numbers get nothing."""
    notifier = texter(twilio)
    try:
        await notifier.send(to_alice("+33612345678"))
    finally:
        await notifier.close()
    assert twilio.invalid == []
    assert texted(twilio) == ["+33612345678"]
    assert parse_qs(twilio.accepted[0].body.decode())["Body"][0].endswith(ACK_URL)


async def test_twilio_channel_page_still_texts_every_configured_number(twilio):
    """A message to the channel texts each number of the config's `to`, as before."""
    notifier = texter(twilio)
    try:
        await notifier.send(sample())
    finally:
        await notifier.close()
    assert texted(twilio) == ["+15558675310", "+447700900123"]


async def test_twilio_contact_number_not_in_e164_is_a_permanent_failure(twilio):
    """A contact's `to` that is not an E.164 number fails at once, without asking Twilio."""
    notifier = texter(twilio)
    try:
        with pytest.raises(NotifyError) as caught:
            await notifier.send(to_alice("0612345678"))
    finally:
        await notifier.close()
    assert not caught.value.retryable and "E.164" in str(caught.value)
    assert twilio.requests == []


# --- ntfy -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ntfy() -> Iterator[NtfySink]:
    with NtfySink(token="tk_person_test_token") as sink:
        yield sink


async def publish(sink: NtfySink, notification: Notification) -> None:
    for collection in (sink.requests, sink.invalid, sink.accepted, sink.messages):
        collection.clear()
    config = {
        "name": "phones",
        "type": "ntfy",
        "server": sink.url(""),
        "topic": "hospital-oncall-7f3a",
        "token": "tk_person_test_token",
    }
    notifier = NtfyNotifier(NtfyNotifier.Config.model_validate(config))
    try:
        await notifier.send(notification)
    finally:
        await notifier.close()


async def test_ntfy_person_page_is_published_to_the_contact_topic(ntfy):
    """A page to alice is published to her topic, with the same auth, greeting her."""
    await publish(ntfy, to_alice("alice-pager-91c2"))
    assert ntfy.invalid == []
    [message] = ntfy.messages
    assert message["topic"] == "alice-pager-91c2"
    assert message["message"].startswith("Alice Moreau, you are paged for this incident.")
    assert message["click"] == ACK_URL


async def test_ntfy_channel_page_still_goes_to_the_configured_topic(ntfy):
    """A message to the channel is published to the config's topic, as before."""
    await publish(ntfy, sample())
    [message] = ntfy.messages
    assert message["topic"] == "hospital-oncall-7f3a"
    assert message["message"].startswith("no heartbeat for 15m")


async def test_ntfy_contact_that_is_not_a_topic_fails_without_showing_it(ntfy):
    """A contact's `to` that is no topic (it would become the URL's path) fails at once, and
    the error does not quote it: a public server's topic is a password."""
    with pytest.raises(NotifyError) as caught:
        await publish(ntfy, to_alice("../admin secret"))
    assert not caught.value.retryable and "not a topic" in str(caught.value)
    assert "admin secret" not in str(caught.value)
    assert ntfy.requests == []


# --- webhook --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook_server() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        yield target


async def post(target: HttpTarget, notification: Notification) -> dict:
    target.respond(200, b"ok")
    target.requests.clear()
    config = WebhookNotifier.Config(name="hook", type="webhook", url=target.url("/hook"))
    notifier = WebhookNotifier(config)
    try:
        await notifier.send(notification)
    finally:
        await notifier.close()
    [request] = target.requests
    assert request.path == "/hook"
    return request.json()


async def test_webhook_person_page_payload_carries_person_and_to(hook_server):
    """The JSON POSTed for a page to alice has "person" {name, full_name} and her "to"."""
    body = await post(hook_server, to_alice("alice-radio-7"))
    assert body["person"] == {"name": "alice", "full_name": "Alice Moreau"}
    assert body["to"] == "alice-radio-7"
    assert body == to_alice("alice-radio-7").payload()


async def test_webhook_channel_payload_has_neither_person_nor_to(hook_server):
    """The JSON POSTed for a channel message has no "person" and no "to"."""
    body = await post(hook_server, sample())
    assert set(body) == {"version", "event", "level", "incident"}


async def test_webhook_payload_says_who_acknowledged(hook_server):
    """incident.acknowledged_by is the acknowledger's name in an "acknowledged" payload and
    null in a page nobody has taken yet."""
    taken = await post(hook_server, sample(Event.ACKNOWLEDGED, acknowledged_by="bob"))
    assert taken["incident"]["acknowledged_by"] == "bob"
    page = await post(hook_server, sample())
    assert page["incident"]["acknowledged_by"] is None


# --- exec -----------------------------------------------------------------------------------


async def run_exec(tmp_path: Path, notification: Notification) -> dict:
    out = tmp_path / "got.json"
    script = tmp_path / "page.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, os, sys
            payload = json.load(sys.stdin)
            env = {{k: v for k, v in os.environ.items() if k.startswith("ESCALATORD_")}}
            open({str(out)!r}, "w").write(json.dumps({{"payload": payload, "env": env}}))
            """
        )
    )
    config = {"name": "radio", "type": "exec", "command": [sys.executable, str(script)]}
    await ExecNotifier(ExecNotifier.Config.model_validate(config)).send(notification)
    return json.loads(out.read_text())


async def test_exec_person_page_sets_person_and_to_in_env_and_payload(tmp_path):
    """A page to alice gives the program ESCALATORD_PERSON, _PERSON_FULL_NAME and _TO, and
    "person" and "to" in the payload on stdin."""
    got = await run_exec(tmp_path, to_alice("channel-3"))
    assert got["env"]["ESCALATORD_PERSON"] == "alice"
    assert got["env"]["ESCALATORD_PERSON_FULL_NAME"] == "Alice Moreau"
    assert got["env"]["ESCALATORD_TO"] == "channel-3"
    assert got["payload"] == to_alice("channel-3").payload()


async def test_exec_channel_page_has_no_person_variables(tmp_path, monkeypatch):
    """A channel message sets none of the person variables, even ones the daemon itself was
    started with, and its payload has no person."""
    monkeypatch.setenv("ESCALATORD_PERSON", "stale")
    got = await run_exec(tmp_path, sample())
    assert not {"ESCALATORD_PERSON", "ESCALATORD_PERSON_FULL_NAME", "ESCALATORD_TO"} & set(
        got["env"]
    )
    assert "person" not in got["payload"] and "to" not in got["payload"]
    assert got["env"]["ESCALATORD_EVENT"] == "triggered"
