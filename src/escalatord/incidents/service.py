"""The one place that changes incidents: open, dedup, page, acknowledge, resolve, close.

Every function takes an AsyncConnection inside a write transaction (`store.write()`) and the
current time, so the daemon, the CLI and the HTTP API change incidents the same way and a
caller can combine several changes in one transaction. Every change leaves a timeline entry.
Notifications are not sent here: they become outbox rows that the dispatcher delivers.

The code lives in modules named after what they hold; this one is the entry point that the
daemon, the CLI, incidents/views.py and the tests import from (as `service.<name>`):
- rows.py: reading incident rows, and the view of one that notifications carry;
- timeline.py: the timeline entries every change leaves;
- opening.py: opening an incident per dedup key, and changes noted on an open one;
- ladder.py: escalation steps that fall due, resolved to whom they page;
- outbox.py: the outbox rows of pages and notices;
- transitions.py: acknowledge, resolve and close;
- rearm.py: an acknowledgement that ran out (ack_timeout, snooze) re-triggers; reassign.
"""

from __future__ import annotations

from escalatord.incidents.ladder import fire_due_steps
from escalatord.incidents.opening import note_change, open_incident
from escalatord.incidents.rearm import reassign, retrigger_due, snooze
from escalatord.incidents.rows import get, list_incidents, view
from escalatord.incidents.timeline import get_timeline
from escalatord.incidents.transitions import acknowledge, close, resolve, resolve_key

__all__ = [
    "acknowledge",
    "close",
    "fire_due_steps",
    "get",
    "get_timeline",
    "list_incidents",
    "note_change",
    "open_incident",
    "reassign",
    "resolve",
    "resolve_key",
    "retrigger_due",
    "snooze",
    "view",
]
