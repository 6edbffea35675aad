"""The log notifier: one structured line per notification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import structlog
from pydantic import ValidationError
from structlog.testing import capture_logs

from escalatord import plugins
from escalatord.core.events import Event, IncidentView, Notification
from escalatord.notify.log import LogNotifier


def notification(event: Event, level: int = 1) -> Notification:
    incident = IncidentView(
        id="42",
        key="check:pacs-dicom",
        title="pacs-dicom is CRITICAL",
        status="triggered",
        severity="critical",
        check="pacs-dicom",
        summary="connection refused",
        opened_at=datetime(2024, 5, 17, 8, 30, tzinfo=UTC),
    )
    return Notification(event=event, level=level, incident=incident, key=f"42:{event}:{level}")


def make() -> LogNotifier:
    return LogNotifier(LogNotifier.Config(name="journal", type="log"))


def test_registry_resolves_log_type() -> None:
    """`type = "log"` in config resolves to the log notifier class."""
    assert plugins.load("notifiers", "log") is LogNotifier


def test_log_notifier_has_no_extra_keys() -> None:
    """Unknown keys on a log notifier are config errors."""
    with pytest.raises(ValidationError):
        LogNotifier.Config(name="journal", type="log", url="http://127.0.0.1/")


@pytest.mark.parametrize("event", [Event.TRIGGERED, Event.ESCALATED, Event.REMINDER])
async def test_pages_are_logged_as_warnings(event: Event) -> None:
    """A page is one warning line carrying the incident's id, title, severity, check and summary."""
    with capture_logs() as logs:
        await make().send(notification(event))
    assert logs == [
        {
            "event": "notification",
            "log_level": "warning",
            "event_type": str(event),
            "policy_level": 1,
            "incident_id": "42",
            "title": "pacs-dicom is CRITICAL",
            "severity": "critical",
            "check": "pacs-dicom",
            "summary": "connection refused",
            "notifier": "journal",
        }
    ]


@pytest.mark.parametrize("event", [Event.ACKNOWLEDGED, Event.RESOLVED, Event.CLOSED, Event.TEST])
async def test_other_events_are_logged_as_info(event: Event) -> None:
    """Acknowledgements, resolutions, closes and tests are logged at info level."""
    with capture_logs() as logs:
        await make().send(notification(event, level=0))
    [line] = logs
    assert line["log_level"] == "info"
    assert line["event"] == "notification"
    assert line["event_type"] == str(event)
    assert line["policy_level"] == 0


async def test_a_broken_log_pipeline_does_not_fail_the_send(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When logging itself raises, send() still returns and the failure is noted on stderr."""

    def explode(logger: object, method: str, event_dict: dict[str, object]) -> dict[str, object]:
        raise RuntimeError("log sink is gone")

    old = structlog.get_config()
    structlog.configure(processors=[explode], cache_logger_on_first_use=False)
    try:
        await make().send(notification(Event.TRIGGERED))
    finally:
        structlog.configure(**old)
    assert "log sink is gone" in capsys.readouterr().err
