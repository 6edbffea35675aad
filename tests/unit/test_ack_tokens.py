"""Ack-link tokens: signed, bound to one page of one incident, expiring, hard to tamper with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escalatord.notify.links import BadLink, make_token, read_token

KEY = b"k" * 32
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=24)


def test_a_token_reads_back_what_it_was_made_for():
    """A fresh token names its incident and page and when it expires."""
    claim = read_token(KEY, make_token(KEY, 42, 7, LATER), NOW)
    assert (claim.incident_id, claim.outbox_id, claim.expires_at) == (42, 7, LATER)
    assert claim.token_id == "42.7"


def test_tokens_are_short_enough_for_an_sms():
    """A token stays well under 60 characters, so the link fits an SMS with room to spare."""
    assert len(make_token(KEY, 123456, 9876543, LATER)) < 60


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),  # another incident
        lambda t: t.replace(".7.", ".8.", 1),  # another page (recipient)
        lambda t: t.replace(str(int(LATER.timestamp())), str(int(LATER.timestamp()) + 3600)),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
    ],
)
def test_changing_any_part_makes_it_forged(tamper):
    """Changing the incident, the page, the expiry or the signature invalidates the token."""
    with pytest.raises(BadLink) as caught:
        read_token(KEY, tamper(make_token(KEY, 42, 7, LATER)), NOW)
    assert caught.value.reason == "forged"


def test_a_token_from_another_key_is_forged():
    """A token signed with another installation's key is refused."""
    with pytest.raises(BadLink) as caught:
        read_token(KEY, make_token(b"other" * 8, 42, 7, LATER), NOW)
    assert caught.value.reason == "forged"


def test_an_expired_token_is_refused_but_says_which_incident():
    """Past its expiry a token is refused as expired (and still names its incident)."""
    with pytest.raises(BadLink) as caught:
        read_token(KEY, make_token(KEY, 42, 7, LATER), LATER)
    assert caught.value.reason == "expired"
    assert caught.value.claim is not None and caught.value.claim.incident_id == 42


@pytest.mark.parametrize(
    "token", ["", "abc", "42.7.1.x", "42.7.99999999999999.AAAAAAAAAAAAAAAAAAAAAA"]
)
def test_garbage_is_malformed(token):
    """Anything not shaped like a token is refused before any key is used."""
    with pytest.raises(BadLink) as caught:
        read_token(KEY, token, NOW)
    assert caught.value.reason == "malformed"
