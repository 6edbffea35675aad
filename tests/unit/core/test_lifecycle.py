"""The incident lifecycle: which actions apply in which status, and what they lead to."""

from __future__ import annotations

import pytest

from escalatord.core.lifecycle import IncidentStatus, after, escalates
from escalatord.errors import InvalidTransition

T, A, R, C = (
    IncidentStatus.TRIGGERED,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.RESOLVED,
    IncidentStatus.CLOSED,
)


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (T, "ack", A),
        (T, "resolve", R),
        (A, "resolve", R),
        (T, "close", C),
        (A, "close", C),
        (R, "close", C),
    ],
)
def test_allowed_actions(status, action, expected):
    """Each allowed action leads to its status."""
    assert after(status, action) is expected


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (A, "ack", "incident is already acknowledged; nothing to acknowledge"),
        (R, "ack", "incident is already resolved; nothing to acknowledge"),
        (C, "ack", "incident is already closed; nothing to acknowledge"),
        (R, "resolve", "incident is already resolved; nothing to resolve"),
        (C, "resolve", "incident is already closed; nothing to resolve"),
        (C, "close", "incident is already closed; nothing to close"),
    ],
)
def test_refused_actions_say_why(status, action, message):
    """An action that does not apply raises InvalidTransition naming the current status."""
    with pytest.raises(InvalidTransition) as exc:
        after(status, action)
    assert str(exc.value) == message


def test_unknown_action_is_rejected():
    """An action other than ack, resolve or close is a programming error listing the valid ones."""
    with pytest.raises(ValueError, match="ack, resolve, close"):
        after(T, "snooze")  # type: ignore[arg-type]


def test_open_statuses():
    """Triggered and acknowledged incidents are open; resolved and closed are not."""
    assert [s.is_open for s in (T, A, R, C)] == [True, True, False, False]


def test_only_triggered_incidents_escalate():
    """Only a triggered incident pages; acknowledged, resolved and closed never do."""
    assert [escalates(s) for s in (T, A, R, C)] == [True, False, False, False]


def test_status_read_back_from_the_store_as_text_works():
    """Statuses stored as plain strings behave like the enum."""
    assert escalates(IncidentStatus("triggered"))
    assert after(IncidentStatus("acknowledged"), "resolve") is R
    assert str(R) == "resolved"
