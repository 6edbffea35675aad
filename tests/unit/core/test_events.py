"""The public webhook payload (DESIGN.md, version 1): a page to a person names them and their
address, a message to a channel does not, and every payload says who acknowledged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from escalatord.core.events import Event, IncidentView, Notification, Person
from tests.support.notifications import sample

ALICE = Person("alice", "Alice Moreau")


def to_alice(notification: Notification, to: str = "alice@example.org") -> Notification:
    return dataclasses.replace(notification, person=ALICE, to=to)


def test_channel_payload_has_no_person_and_no_to():
    """A message to a channel carries version, event, level and incident, and nothing else."""
    payload = sample().payload()
    assert set(payload) == {"version", "event", "level", "incident"}


def test_person_page_payload_names_the_person_and_the_address():
    """A page to a person adds "person" {name, full_name} and "to" beside the incident."""
    payload = to_alice(sample()).payload()
    assert set(payload) == {"version", "event", "level", "incident", "person", "to"}
    assert payload["person"] == {"name": "alice", "full_name": "Alice Moreau"}
    assert payload["to"] == "alice@example.org"
    assert payload["incident"] == sample().payload()["incident"]


def test_person_without_full_name_has_null_full_name():
    """A person the config gives no full name has "full_name": null, and messages use the name."""
    bob = Person("bob")
    payload = dataclasses.replace(sample(), person=bob, to="+15558675310").payload()
    assert payload["person"] == {"name": "bob", "full_name": None}
    assert bob.display == "bob" and ALICE.display == "Alice Moreau"


def test_address_without_a_person_is_refused():
    """A `to` without the person it belongs to is a programming error, refused at once."""
    with pytest.raises(ValueError, match="set `person` too"):
        Notification(Event.TRIGGERED, 0, sample().incident, "k", to="alice@example.org")


def test_acknowledged_by_is_null_until_someone_acknowledges():
    """Every payload's incident has acknowledged_by: null while nobody has, else the name."""
    assert sample().payload()["incident"]["acknowledged_by"] is None
    taken = sample(Event.ACKNOWLEDGED, acknowledged_by="bob").payload()
    assert taken["incident"]["acknowledged_by"] == "bob"


def test_incident_view_round_trips_through_json():
    """to_json and from_json agree, acknowledged_by included (the outbox stores the view)."""
    view = sample(Event.ACKNOWLEDGED, acknowledged_by="bob").incident
    assert IncidentView.from_json(json.loads(json.dumps(view.to_json()))) == view
    empty = sample().incident
    assert IncidentView.from_json(empty.to_json()) == empty
