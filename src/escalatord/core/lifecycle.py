"""The incident lifecycle, as pure functions of the current status.

    triggered ──ack──▶ acknowledged ──resolve──▶ resolved ──close──▶ closed
        └───────────────resolve──────────────────▲
    close is allowed from every status but closed (closing an open incident also ends it).

Only a triggered incident pages people: acknowledging it stops its escalation for good.
"""

from __future__ import annotations

import enum
from typing import Literal

from escalatord.errors import InvalidTransition

Action = Literal["ack", "resolve", "close"]


class IncidentStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Open incidents (triggered or acknowledged) hold their dedup key."""
        return self in (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)


_T, _A, _R, _C = (
    IncidentStatus.TRIGGERED,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.RESOLVED,
    IncidentStatus.CLOSED,
)

# action -> (statuses it applies to, the status it leads to, the verb for messages)
_ACTIONS: dict[str, tuple[frozenset[IncidentStatus], IncidentStatus, str]] = {
    "ack": (frozenset({_T}), _A, "acknowledge"),
    "resolve": (frozenset({_T, _A}), _R, "resolve"),
    "close": (frozenset({_T, _A, _R}), _C, "close"),
}


def after(status: IncidentStatus, action: Action) -> IncidentStatus:
    """The status after `action`, or InvalidTransition when it does not apply.

    Acknowledging an acknowledged incident raises too; a caller that wants idempotent acks
    catches it (the status is then unchanged).
    """
    try:
        allowed, target, verb = _ACTIONS[action]
    except KeyError:
        raise ValueError(
            f"unknown incident action {action!r}: use one of {', '.join(_ACTIONS)}"
        ) from None
    if status not in allowed:
        raise InvalidTransition(f"incident is already {status}; nothing to {verb}")
    return target


def escalates(status: IncidentStatus) -> bool:
    """Whether an incident in `status` may still page: only while triggered."""
    return status == IncidentStatus.TRIGGERED
