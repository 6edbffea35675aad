"""people/confirmations.py's pure parts (confirm tokens, the test message) and lint's
contact-unconfirmed finding (config/lint.py), on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalatord.config.lint import lint
from escalatord.config.loader import load_text
from escalatord.core.events import Event, Notification, Person
from escalatord.notify import links
from escalatord.notify.templates import render
from escalatord.people.confirmations import (
    BadToken,
    Contact,
    confirm_url,
    make_token,
    message,
    read_token,
)

KEY = b"0123456789abcdef" * 2
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=7)


def test_a_token_round_trips_until_it_expires() -> None:
    token = make_token(KEY, 42, LATER)
    claim = read_token(KEY, token, NOW)
    assert (claim.test_id, claim.expires_at) == (42, LATER)
    with pytest.raises(BadToken) as caught:
        read_token(KEY, token, LATER)
    assert caught.value.reason == "expired" and caught.value.claim == claim


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("42.", "43.", 1),  # another test
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
    ],
)
def test_a_changed_token_is_forged(change) -> None:
    with pytest.raises(BadToken) as caught:
        read_token(KEY, change(make_token(KEY, 42, LATER)), NOW)
    assert caught.value.reason == "forged"


def test_a_token_signed_with_another_key_is_forged() -> None:
    with pytest.raises(BadToken, match="forged"):
        read_token(KEY, make_token(b"another key", 42, LATER), NOW)


@pytest.mark.parametrize("token", ["", "42", "42.99", "x.1.AAAAAAAAAAAAAAAAAAAAAA", "4 2.1.s"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadToken, match="malformed"):
        read_token(KEY, token, NOW)


def test_ack_and_confirm_tokens_are_not_accepted_for_each_other() -> None:
    """The same key signs both, over different purpose strings and formats."""
    ack = links.make_token(KEY, 42, 7, LATER)
    with pytest.raises(BadToken):
        read_token(KEY, ack, NOW)
    with pytest.raises(links.BadLink):
        links.read_token(KEY, make_token(KEY, 42, LATER), NOW)
    # Even a confirm token's parts with an ack signature in the confirm format are forged.
    forged = f"42.{int(LATER.timestamp())}.{ack.rsplit('.', 1)[1]}"
    with pytest.raises(BadToken, match="forged"):
        read_token(KEY, forged, NOW)


def test_the_message_says_test_whom_and_carries_the_link() -> None:
    contact = Contact("ana", "Ana Lopez", 2, "sms-main", "+15550100")
    url = confirm_url("https://esc.example/", make_token(KEY, 5, LATER))
    view = message(contact, url, LATER, "contact-test:ana#2:x")
    note = Notification(
        Event.TEST, 0, view, "contact-test:ana#2:x", Person("ana", "Ana Lopez"), "+15550100"
    )
    text = render(note)
    assert url.startswith("https://esc.example/confirm/5.")
    assert text.title.startswith("[TEST] TEST from escalatord for Ana Lopez")
    assert "contact 2 of Ana Lopez (sms-main -> +15550100)" in text.body
    assert url in text.body
    assert url in text.short(320)  # an SMS keeps the link
    assert note.payload()["incident"]["id"] == "contact-test"


CONFIG = """
[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[person]]
name = "ana"
  [[person.contact]]
  notifier = "hook"
  to = "ana-a"
  [[person.contact]]
  notifier = "hook"
  to = "ana-b"
"""


def unconfirmed(confirmed) -> list[tuple[str, str]]:
    config = load_text(CONFIG, env={})
    return [
        (f.key, f.message)
        for f in lint(config, NOW, confirmed=confirmed)
        if f.kind == "contact-unconfirmed"
    ]


def test_each_unconfirmed_contact_is_a_finding_naming_its_key() -> None:
    found = unconfirmed({("ana", "hook", "ana-a"): NOW})
    [(key, text)] = found
    assert key == "person[ana].contact[1]"
    assert "person 'ana' contact 1 (hook → ana-b) never confirmed" in text
    assert "run escalatord test-contacts --person ana" in text


def test_a_confirmation_of_another_address_does_not_count() -> None:
    assert len(unconfirmed({("ana", "hook", "ana-old"): NOW})) == 2


def test_without_confirmations_known_contacts_are_not_judged() -> None:
    assert unconfirmed(None) == []
    assert unconfirmed({("ana", "hook", "ana-a"): NOW, ("ana", "hook", "ana-b"): NOW}) == []
