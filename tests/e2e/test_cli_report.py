"""`escalatord report` as a real subprocess on a temp config and SQLite database holding a
small incident history: each format, each --by, and the usage errors (exit 2)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from escalatord.store.db import Store
from escalatord.store.tables import incidents, outbox
from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC)
MIN = timedelta(minutes=1)
S = timedelta(seconds=1)
SATURDAY_NOON = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # out of anyone's hours
MONDAY_10_UTC = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # 12:00 CEST, 10:00 UTC: in hours


def _incident(id: int, check: str, opened: timedelta, **more) -> dict:
    row = dict.fromkeys(
        ("category", "priority", "drill", "acknowledged_at", "acknowledged_by", "resolved_at")
    )
    row.update(id=id, key=f"{check}:{id}", title=check, status="triggered", severity="critical",
               check=check, labels={}, steps=[], opened_at=NOW - opened)  # fmt: skip
    return row | more


def _page(
    incident_id: int, person: str, level: int, at: datetime, created: datetime | None = None
) -> dict:
    return {
        "key": f"{incident_id}:{level}:page:sms@{person}#0",
        "incident_id": incident_id,
        "notifier": "sms",
        "event": "triggered" if level == 0 else "escalated",
        "level": level,
        "payload": {},
        "status": "delivered",
        "created_at": created or at,
        "next_attempt_at": at,
        "delivered_at": at,
        "person": person,
    }


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """alice lives in Berlin, bob has no zone (UTC); the database holds three real incidents
    (db twice, web once: acknowledged after 2 and 10 min, one resolved after 30 min, one
    escalated), one from 40 days ago and a drill that alice acknowledged a minute after it
    opened, 40 s after its level-0 page was enqueued."""
    url = f"sqlite:///{tmp_path}/escalatord.db"
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "{url}"

        [[person]]
        name = "alice"
        timezone = "Europe/Berlin"

        [[person]]
        name = "bob"
        """)
    )

    async def fill() -> None:
        async with Store(url) as store, store.write() as conn:
            await conn.execute(
                insert(incidents),
                [
                    _incident(
                        1,
                        "db",
                        3 * 60 * MIN,
                        labels={"site": "lyon"},
                        category="patient-care",
                        acknowledged_at=NOW - 178 * MIN,
                        acknowledged_by="alice",
                        resolved_at=NOW - 150 * MIN,
                    ),
                    _incident(
                        2,
                        "db",
                        2 * 60 * MIN,
                        acknowledged_at=NOW - 110 * MIN,
                        acknowledged_by="bob",
                    ),
                    _incident(3, "web", 60 * MIN, labels={"site": "lyon"}),
                    _incident(4, "old", 40 * 24 * 60 * MIN),
                    _incident(
                        5,
                        "db",
                        30 * MIN,
                        drill=1,
                        acknowledged_at=NOW - 29 * MIN,
                        acknowledged_by="alice",
                    ),
                ],
            )
            await conn.execute(
                insert(outbox),
                [
                    _page(1, "alice", 0, MONDAY_10_UTC),
                    _page(2, "bob", 0, MONDAY_10_UTC),
                    _page(2, "alice", 1, SATURDAY_NOON),
                    _page(5, "alice", 0, SATURDAY_NOON, created=NOW - 30 * MIN + 20 * S),
                ],
            )

    asyncio.run(fill())
    return path


def report(config: Path, *args: str) -> str:
    proc = cli(config, "report", *args, check=False)
    assert proc.returncode == 0, output(proc)
    return proc.stdout


def test_json_has_the_real_figures_people_checks_and_drills_apart(config):
    """The JSON shape of docs/report.md with figures worked out by hand; the drill and the
    incident from 40 days ago count nowhere but where they belong."""
    found = json.loads(report(config, "--format", "json"))
    assert found["by"] is None and found["groups"] == []
    assert found["real"] == {
        "incidents": 3, "acknowledged": 2, "resolved": 1,
        "mtta_p50": 120.0, "mtta_p90": 600.0, "mttr_p50": 1800.0, "mttr_p90": 1800.0,
        "escalated": 1, "escalated_share": pytest.approx(1 / 3),
        "pages": 3, "pages_out_of_hours": 1,
    }  # fmt: skip
    assert found["people"] == [
        {"person": "alice", "pages": 2, "out_of_hours": 1},
        {"person": "bob", "pages": 1, "out_of_hours": 0},
    ]
    assert found["noisiest_checks"] == [
        {"check": "db", "incidents": 2},
        {"check": "web", "incidents": 1},
    ]
    drills = found["drills"]
    assert (drills["incidents"], drills["mtta_p50"]) == (1, 60.0)
    assert drills["acks"] == [
        {"incident_id": 5, "check": "db", "by": "alice", "level": 0, "seconds": 60.0,
         "after_page": 40.0},
    ]  # fmt: skip
    times = {"acknowledged": 1, "mtta_p50": 60.0, "mtta_p90": 60.0,
             "after_page_p50": 40.0, "after_page_p90": 40.0}  # fmt: skip
    assert drills["by_level"] == [{"level": 0, **times}]
    assert drills["by_person"] == [{"person": "alice", **times}]
    assert datetime.fromisoformat(found["until"]) - datetime.fromisoformat(
        found["since"]
    ) == timedelta(days=30)


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("category", {"patient-care": 1, "(none)": 2}),
        ("check", {"db": 2, "web": 1}),
        ("site", {"lyon": 2, "(none)": 1}),
        ("person", {"alice": 2, "bob": 1, "(none)": 1}),
    ],
)
def test_by_groups_the_real_incidents(config, by, groups):
    """Each --by gives one group per value, "(none)" for none, in the JSON and in the CSV."""
    found = json.loads(report(config, "--by", by, "--format", "json"))
    assert found["by"] == by
    assert {g["group"]: g["incidents"] for g in found["groups"]} == groups
    rows = csv.DictReader(io.StringIO(report(config, "--by", by, "--format", "csv")))
    assert {r[by]: int(r["incidents"]) for r in rows if r["section"] == "real"} == groups


def test_csv_without_by_is_one_all_row_then_the_drills_in_seconds(config):
    """Without --by the CSV has one real `(all)` row, then the drills' figures and their ack
    times at each level and by each person; an unknown value is empty."""
    rows = list(csv.DictReader(io.StringIO(report(config, "--format", "csv"))))
    assert [(r["section"], r["group"]) for r in rows] == [
        ("real", "(all)"), ("drills", "(all)"), ("drill level", "0"), ("drill person", "alice"),
    ]  # fmt: skip
    real, drills, level, person = rows
    assert (real["incidents"], real["mtta_p50"], real["pages"], real["after_page_p50"]) == (
        "3", "120.0", "3", "",
    )  # fmt: skip
    assert (drills["incidents"], drills["mtta_p50"]) == ("1", "60.0")
    for row in (level, person):
        assert (row["acknowledged"], row["mtta_p50"], row["after_page_p90"]) == (
            "1",
            "60.0",
            "40.0",
        )
        assert row["incidents"] == row["mttr_p50"] == ""


def test_markdown_has_a_table_for_each_section(config):
    """The default md: the real figures, pages per person, noisiest checks and drills."""
    text = report(config, "--by", "site")
    assert "| all | 3 | 2m | 10m | 30m | 30m | 33% | 3 | 1 |" in text
    assert "| lyon | 2 |" in text
    assert "| alice | 2 | 1 |" in text
    assert "| db | 2 |" in text
    assert "| drills | 1 | 1m |" in text
    assert "| 5 | db | alice | 0 | 1m | 40s |" in text
    assert "| 0 | 1 | 1m | 1m | 40s | 40s |" in text  # by level
    assert "| alice | 1 | 1m | 1m | 40s | 40s |" in text  # by person


def test_a_shorter_since_leaves_older_incidents_out(config):
    """--since 90m counts only the web incident opened an hour ago."""
    found = json.loads(report(config, "--since", "90m", "--format", "json"))
    assert found["real"]["incidents"] == 1
    assert found["noisiest_checks"] == [{"check": "web", "incidents": 1}]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--since", "soon"), "invalid duration"),
        (("--since", "30"), "invalid duration"),
        (("--since", "0s"), "not a positive duration"),
        (("--by", "owner"), "'owner' is not one of"),
        (("--format", "html"), "'html' is not one of"),
    ],
)
def test_usage_errors_exit_2(config, args, said):
    """A --since that is not a positive duration, an unknown --by or --format: exit 2."""
    proc = cli(config, "report", *args, check=False)
    assert proc.returncode == 2, output(proc)
    assert said in proc.stderr
