"""The core: the words every layer shares and the pure decisions, with no IO.

status      Status, Result, Judged: what a check found
durations   "90s" and "1h30m", parsed and printed
alerts      ExternalAlert, AlertOutcome: another tool's alert and what became of it
events      Event, IncidentView, Notification: what happens to an incident, what a message says
state       the soft/hard state machine (step)
topology    which checks are unreachable behind a failed parent
rules       which rules match a problem, and what they decide
shadowing   which rules can never match
planning    which pages of an escalation policy are due
lifecycle   which incident status may follow which
gate        whether a notifier may send now (rate limit, circuit breaker)

Nothing here imports the rest of escalatord (but `escalatord.errors`), asyncio, pydantic,
SQLAlchemy, httpx, Starlette or pysnmp; time is always passed in. pyproject.toml's
import-linter contracts keep it so.
"""
