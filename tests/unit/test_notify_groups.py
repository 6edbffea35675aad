"""A storm's group in messages: the payload's `incident.group`, and the texts that list it."""

from __future__ import annotations

from escalatord.core.events import IncidentView
from escalatord.notify.email import EmailConfig, build_mail
from escalatord.notify.slack import blocks_payload
from escalatord.notify.templates import render
from tests.support.notifications import sample

GROUP = {
    "id": "42",
    "key": "site-storms|site=hq",
    "size": 3,
    "members": [
        {
            "id": "42",
            "check": "hl7-adt-feed",
            "title": "hl7-adt-feed is CRITICAL",
            "status": "triggered",
            "summary": "no heartbeat",
        },
        {
            "id": "43",
            "check": "pacs",
            "title": "pacs is CRITICAL",
            "status": "triggered",
            "summary": "refused",
        },
        {
            "id": "44",
            "check": "lab",
            "title": "lab is WARNING",
            "status": "resolved",
            "summary": "slow",
        },
    ],
}


def test_payload_has_group_only_when_grouped():
    """`incident.group` is in the payload of a grouped incident only, and survives a round trip."""
    plain = sample().payload()["incident"]
    assert "group" not in plain
    grouped = sample(group=GROUP).payload()["incident"]
    assert grouped["group"] == GROUP
    assert IncidentView.from_json(grouped).group == GROUP


def test_default_texts_list_every_member():
    """The title counts the others; the body lists each member with its status."""
    message = render(sample(group=GROUP))
    assert message.title == "[CRITICAL] hl7-adt-feed is CRITICAL (+2 more in its group)"
    assert "3 incidents paged together:" in message.body
    assert "  #43 pacs: pacs is CRITICAL (triggered)" in message.body
    assert "  #44 lab: lab is WARNING (resolved)" in message.body
    assert "paged together" not in render(sample()).body


def test_email_and_slack_list_the_group():
    """The e-mail (text and HTML) and the Slack blocks list every member."""
    notification = sample(group=GROUP)
    config = EmailConfig.model_validate(
        {
            "name": "mail",
            "type": "email",
            "host": "smtp.example.org",
            "from": "e@example.org",
            "to": ["ops@example.org"],
        }
    )
    mail = build_mail(config, notification)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "#44 lab: lab is WARNING (resolved)" in text and "#44 lab: lab is WARNING" in html
    blocks = str(blocks_payload(render(notification)))
    assert "3 incidents paged together" in blocks and "#43 pacs" in blocks
