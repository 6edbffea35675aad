"""Message texts: the defaults people read at 2 a.m., and per-notifier template overrides."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from escalatord.core.events import Event, Person
from escalatord.notify.templates import TemplateConfig, render
from tests.support.notifications import ACK_URL, sample


def test_page_title_has_severity_and_title():
    """A triggered page is titled with the severity in capitals and the incident title."""
    assert render(sample()).title == "[CRITICAL] hl7-adt-feed is CRITICAL"


@pytest.mark.parametrize(
    ("event", "level", "title"),
    [
        (Event.ESCALATED, 1, "[CRITICAL] Escalated (level 1): hl7-adt-feed is CRITICAL"),
        (Event.REMINDER, 0, "[CRITICAL] Reminder: hl7-adt-feed is CRITICAL"),
        (Event.RESOLVED, 1, "[RESOLVED] hl7-adt-feed is CRITICAL"),
        (Event.CLOSED, 0, "[CLOSED] hl7-adt-feed is CRITICAL"),
        (Event.TEST, 0, "[TEST] hl7-adt-feed is CRITICAL"),
    ],
)
def test_titles_say_what_the_event_is(event, level, title):
    """Escalations, reminders, resolutions, closes and tests each say so in the title."""
    assert render(sample(event, level=level)).title == title


def test_acknowledged_title_names_who():
    """An "acknowledged" message says who took the incident."""
    message = render(sample(Event.ACKNOWLEDGED, acknowledged_by="alice"))
    assert message.title == "[ACKNOWLEDGED] hl7-adt-feed is CRITICAL (by alice)"
    assert "Acknowledged by alice: escalation has stopped." in message.body


def test_page_body_has_everything_to_act_on():
    """The default page text has summary, check, severity, owner, runbook, steps and the link."""
    body = render(sample()).body
    for text in (
        "no heartbeat for 15m",
        "Check:     hl7-adt-feed",
        "Severity:  critical",
        "Owner:     clinical-apps-lead",
        "Runbook:   https://wiki.example.org/runbooks/hl7",
        "Labels:    category=patient-care, site=hq",
        "  1. Check the interface engine queue\n  2. Call the vendor support line",
        f"Acknowledge: {ACK_URL}",
        "Incident 42, opened 2024-05-17 08:30 UTC.",
    ):
        assert text in body


def test_messages_that_only_inform_carry_no_ack_link_or_steps():
    """Resolved messages need no action: no ack link, no action steps."""
    message = render(sample(Event.RESOLVED))
    assert "Acknowledge" not in message.body and "What to do" not in message.body
    assert message.ack_url == ""
    assert message.body.startswith("The incident is resolved: no action is needed.")


def test_empty_fields_leave_no_empty_lines():
    """An incident without owner, runbook or steps gets no blank "Owner:" or "Runbook:" lines."""
    body = render(sample(owner="", runbook="", steps=(), labels={})).body
    assert "Owner" not in body and "Runbook" not in body and "What to do" not in body


def test_template_overrides_title_and_body():
    """A notifier's template replaces the title and body, with $variables filled in."""
    template = TemplateConfig(
        title="$severity page: $check", body="$summary\nack here: $ack_url\n$$5 per page"
    )
    message = render(sample(), template)
    assert message.title == "critical page: hl7-adt-feed"
    assert message.body == f"no heartbeat for 15m\nack here: {ACK_URL}\n$5 per page"


def test_template_headline_and_steps_variables():
    """$headline is the default title and $steps the numbered steps, for wrapping them."""
    message = render(sample(), TemplateConfig(title="PAGE $headline", body="$steps"))
    assert message.title == "PAGE [CRITICAL] hl7-adt-feed is CRITICAL"
    assert message.body == "1. Check the interface engine queue\n2. Call the vendor support line"


@pytest.mark.parametrize(
    ("text", "words"),
    [("$nope", "unknown placeholder $nope"), ("cost: $5", "invalid placeholder")],
)
def test_bad_templates_are_config_errors(text, words):
    """An unknown or malformed placeholder is refused when the config is loaded."""
    with pytest.raises(ValidationError) as caught:
        TemplateConfig(body=text)
    assert words in str(caught.value)


def test_short_text_keeps_the_ack_link_whole():
    """The SMS text is cut to the limit, but the ack link at its end is never cut."""
    long = sample(summary="x" * 1000)
    short = render(long).short(160)
    assert len(short) <= 160
    assert short.endswith(f" Ack: {ACK_URL}")
    assert short.startswith("[CRITICAL] hl7-adt-feed is CRITICAL: xxx")


def test_short_text_of_a_resolution_has_no_link():
    """A resolved SMS is title and summary only."""
    assert render(sample(Event.RESOLVED)).short() == (
        "[RESOLVED] hl7-adt-feed is CRITICAL: no heartbeat for 15m"
    )


def test_a_multi_line_incident_title_gives_a_one_line_title():
    """An incident title with line breaks (an Alertmanager summary) makes a one-line message
    title, which every channel can carry (a mail Subject, an ntfy X-Title); the body keeps it."""
    message = render(sample(title="Disk almost full\non db-1:\r\n\t/var at 97%"))
    assert message.title == "[CRITICAL] Disk almost full on db-1: /var at 97%"
    assert message.fields["title"] == "Disk almost full\non db-1:\r\n\t/var at 97%"


def test_root_cause_page_lists_the_checks_it_makes_unreachable() -> None:
    """A root-cause incident's page names the affected checks with their sites, and the
    `$affected` variable carries the same list for custom templates."""
    affected = ({"check": "office-pc-1", "site": "boston"}, {"check": "office-pc-2", "site": ""})
    message = render(sample(affected=affected), TemplateConfig(title="${affected}"))
    assert message.title == "office-pc-1 (boston), office-pc-2"
    body = render(sample(affected=affected)).body
    assert "Affected:  unreachable because of this: office-pc-1 (boston), office-pc-2" in body
    assert "Affected" not in render(sample()).body


def _to_alice(event: Event = Event.TRIGGERED, full_name: str | None = "Alice Moreau"):
    person = Person("alice", full_name)
    return dataclasses.replace(sample(event), person=person, to="alice@example.org")


@pytest.mark.parametrize(
    ("event", "intro"),
    [
        (Event.TRIGGERED, "Alice Moreau, you are paged for this incident."),
        (Event.REMINDER, "Alice Moreau, this incident is still not acknowledged."),
        (Event.RESOLVED, "Alice Moreau, the incident is resolved: no action is needed."),
    ],
)
def test_message_to_a_person_greets_them(event, intro):
    """A message to a person opens by naming them; its title is the channel's title."""
    message = render(_to_alice(event))
    assert message.fields["intro"] == intro and message.body.startswith(intro + "\n")
    assert message.title == render(sample(event)).title


def test_person_variable_and_channel_texts_unchanged():
    """$person is the full name (else the name) in a message to a person and "" for a channel,
    whose intro and body are what they were."""
    template = TemplateConfig(title="For $person: $check")
    assert render(_to_alice(), template).title == "For Alice Moreau: hl7-adt-feed"
    assert render(_to_alice(full_name=None)).fields["person"] == "alice"
    channel = render(sample())
    assert channel.fields["person"] == "" and channel.fields["intro"] == ""
    assert channel.body.startswith("no heartbeat for 15m\n")
