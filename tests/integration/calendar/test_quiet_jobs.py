"""The calendar's quiet-time jobs in a running loop (calendar/quiet.py): a DateTrigger at
each window edge in the window's zone, `ended` at the first look and when a silence goes,
the jobs of a removed silence dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from escalatord.calendar.jobs import Calendar, Plan
from escalatord.calendar.quiet import QuietJobs
from escalatord.core.quiet import Cover, QuietTimes, Silence, Window
from escalatord.store.db import Store
from tests.support.app import eventually

NY = ZoneInfo("America/New_York")


def nightly(now: datetime) -> tuple[Window, datetime]:
    """A daily two-hour window whose next start is an hour from `now` (New York time), so its
    start and end both fall within the jobs' six hours ahead whenever the test runs; and that
    start."""
    start = (now.astimezone(NY) + timedelta(hours=1)).replace(second=0, microsecond=0)
    schedule = f"{start.minute} {start.hour} * * *"
    window = Window(
        "night", Cover(checks=("a",)), NY, schedule=schedule, duration=timedelta(hours=2)
    )
    return window, start


async def test_jobs_at_window_edges_and_ends_of_silences(tmp_path: Path) -> None:
    """The first look calls `ended` (a restart) and places the window's next start and end
    (in New York time) and a silence's end; the silence gone, its job goes and `ended` is
    called again."""
    now = datetime.now(UTC)
    window, start = nightly(now)
    silence = Silence(1, Cover(checks=("a",)), now, now + timedelta(hours=1))
    state = {"silences": [silence]}
    ended: list[datetime] = []

    async def times(at: datetime) -> QuietTimes:
        return QuietTimes(windows=[window], silences=state["silences"])

    async def on_end(at: datetime) -> None:
        ended.append(at)

    async with Store(f"sqlite:///{tmp_path}/db.sqlite") as store:
        calendar = Calendar(store, Plan())
        calendar.start()
        jobs = QuietJobs(calendar, times, on_end, recheck=0.2)
        jobs.start()
        try:
            await eventually(lambda: len(ended) == 1, what="the first look")
            placed = {k: v for k, v in calendar.jobs().items() if k.startswith("quiet:")}
            starts = [v for k, v in placed.items() if ":maintenance night:start:" in k]
            assert starts == [start]
            ends = [v for k, v in placed.items() if ":maintenance night:end:" in k]
            assert ends == [start.astimezone(UTC) + timedelta(hours=2)]  # elapsed, as windows last
            assert any(k.startswith("quiet:silence 1:end:") for k in placed)

            state["silences"] = []  # removed by another process
            await eventually(lambda: len(ended) == 2, what="the silence's removal")
            await eventually(
                lambda: not any(k.startswith("quiet:silence 1:") for k in calendar.jobs()),
                what="the silence's job to go",
            )
        finally:
            await calendar.stop(1)
