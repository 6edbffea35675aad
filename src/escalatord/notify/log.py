"""The `log` notifier: writes each notification to the daemon's own log.

No keys besides `name` and `type`. Useful as a last-resort fallback channel, in drills, and
on a fresh install before real channels are set up. Pages (triggered, escalated, reminder)
are logged at warning level, everything else at info, as one structlog line:

    event="notification" event_type="triggered" policy_level=0 incident_id=... title=...
    severity=... check=... summary=... notifier=...

structlog already uses `event` (the message) and `level` (the log level), so the
notification's event and policy level are logged as `event_type` and `policy_level`.
It never raises: a log line that cannot be written is not worth a retry.
"""

from __future__ import annotations

import contextlib
import sys

import structlog

from escalatord.core.events import Notification
from escalatord.notify.base import Notifier, NotifierConfig

LOGGER_NAME = "escalatord.notify"


class LogConfig(NotifierConfig):
    """Keys of a `type = "log"` notifier: only the common ones."""


class LogNotifier(Notifier):
    """Logs one structured line per notification; never fails."""

    Config = LogConfig

    async def send(self, notification: Notification) -> None:
        """Write the notification to the log (warning for pages, info otherwise)."""
        incident = notification.incident
        fields = {
            "event_type": str(notification.event),
            "policy_level": notification.level,
            "incident_id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "check": incident.check,
            "summary": incident.summary,
            "notifier": self.name,
        }
        try:
            # Looked up per call, not at import: with cache_logger_on_first_use a module-level
            # logger would pin whatever configuration was active when it was first used.
            log = structlog.get_logger(LOGGER_NAME)
            emit = log.warning if notification.event.is_page else log.info
            emit("notification", **fields)
        except Exception as exc:
            # A broken log pipeline must not turn into a delivery failure and retries; say so
            # on stderr (journald keeps it) and carry on.
            with contextlib.suppress(Exception):
                print(f"escalatord: log notifier {self.name!r} failed: {exc!r}", file=sys.stderr)
