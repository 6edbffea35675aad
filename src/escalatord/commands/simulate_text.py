"""`escalatord simulate`'s timeline for people: one line per thing that happens, in order.

Times are shown in the display zone, the date only when it changes, so a handoff across
midnight or a DST change reads right: "Sun 2026-11-01 (EST)" then "01:30:00 …".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from escalatord.commands.times import shown
from escalatord.core.durations import format_duration

if TYPE_CHECKING:
    from escalatord.commands.simulation_outcome import Change, Entry, Outcome, Page
    from escalatord.config.model import Config

# Timeline entries shown as they are; "paged" is shown page by page instead.
_ENTRY_KINDS = ("opened", "unreached", "acknowledged", "retriggered", "resolved", "grouped")


def render(found: Outcome, zone: tzinfo, config: Config) -> list[str]:
    """The timeline as lines of text."""
    s = found.scenario
    named = ", ".join(s.checks)
    lines = [
        f"Simulated: {named} {'fails' if len(s.checks) == 1 else 'fail'} at "
        f"{shown(s.at, zone)}. Nothing is sent or stored.",
    ]
    behind = [f"{c} (behind {b})" for c, b in found.failing.items() if b]
    if behind:
        lines.append(f"Failing with {'it' if len(s.checks) == 1 else 'them'}: {', '.join(behind)}.")
    if s.recover_after is not None:
        lines.append(f"They answer again from {shown(s.at + s.recover_after, zone)}.")
    if s.ack_after is not None:
        lines.append(
            f"{s.by} acknowledges each incident {format_duration(s.ack_after)} after it opens."
        )
    lines.append(
        "Assumed: each failing check's first failing run at that instant (live, it comes "
        "within its interval); every other check answers."
    )
    day = ""
    for at, text in sorted(_events(found, zone), key=lambda e: e[0]):
        local = at.astimezone(zone)
        today = f"{local:%a %Y-%m-%d} ({local.tzname()})"
        if today != day:
            lines += ["", today]
            day = today
        lines.append(f"  {local:%H:%M:%S}  {text}")
    lines += ["", *_summary(found, zone)]
    return lines


def _events(found: Outcome, zone: tzinfo) -> Iterator[tuple[datetime, str]]:
    # Within one instant: check changes, then incident entries, then pages (the sort is stable).
    width = max((len(c) for c in found.failing), default=0)
    for change in found.changes:
        yield change.at, f"{change.check:<{width}}  {_change(change, zone)}"
    for entry in found.entries:
        if entry.kind in _ENTRY_KINDS:
            yield entry.at, _entry(entry)
    for page in found.pages:
        yield page.at, _page(page)


def _change(c: Change, zone: tzinfo) -> str:
    if c.hard:
        what = c.status.upper() if c.status != "ok" else "ok again"
        text = f"{what} (hard)"
        if c.status == "unreachable":
            text = f"UNREACHABLE: {c.summary.split(' down: ', 1)[0]} down, no incident of its own"
        if c.note:
            until = f" until {shown(c.until, zone)}" if c.until is not None else ""
            text += f": {c.note}{until}"
        return text
    toward = "a recovery" if c.pending == "ok" else "a failure"
    return f"{c.result or c.pending} ({c.attempts} of {c.threshold} toward {toward})"


def _entry(e: Entry) -> str:
    return f"#{e.incident} {e.message}"


def _page(p: Page) -> str:
    if p.event in ("acknowledged", "resolved", "closed"):
        head = f"#{p.incident} told {p.event}"
    else:
        head = f"#{p.incident} level {p.level} ({p.event})"
    who = f"{p.person} by {p.notifier}" if p.person else p.notifier
    to = f" {p.address}" if p.address else ""
    muted = "" if p.sent else "  [not sent: no longer triggered by then]"
    return f"{head} -> {who}{to}{muted}"


def _summary(found: Outcome, zone: tzinfo) -> list[str]:
    pages = [p for p in found.pages if p.event not in ("acknowledged", "resolved", "closed")]
    sent = [p for p in pages if p.sent]
    persons = sorted({p.person for p in sent if p.person})
    channels = sorted({p.notifier for p in sent if not p.person})
    lines = [
        f"Incidents opened: {len(found.incidents)}. Pages sent: {len(sent)}"
        + (f" (people: {', '.join(persons)}" if persons else " (")
        + (f"{'; ' if persons else ''}channels: {', '.join(channels)}" if channels else "")
        + ")"
        + (f"; {len(pages) - len(sent)} not sent" if len(pages) > len(sent) else "")
        + "."
    ]
    lines += [_fate(i, zone) for i in found.incidents]
    if found.ended == "horizon":
        lines.append(f"Stopped at {shown(found.end_at, zone)}: the simulation looks 31 days ahead.")
    else:
        lines.append(f"Nothing more would happen after {shown(found.end_at, zone)}.")
    return lines


def _fate(incident: dict[str, Any], zone: tzinfo) -> str:
    head = f"#{incident['id']} {incident['title']}"
    rule = f"rule {incident['rule']!r}" if incident["rule"] else "no rule"
    where = f" ({rule}, policy {incident['policy'] or 'none'}, owner {incident['owner'] or '-'})"
    if incident["resolved_at"]:
        return f"{head}{where}: resolved at {_at(incident['resolved_at'], zone)}."
    if incident["status"] == "acknowledged":
        return (
            f"{head}{where}: acknowledged by {incident['acknowledged_by']} at "
            f"{_at(incident['acknowledged_at'], zone)}, still open."
        )
    return f"{head}{where}: still {incident['status']}, its ladder ran out."


def _at(text: str, zone: tzinfo) -> str:
    return shown(datetime.fromisoformat(text), zone)
