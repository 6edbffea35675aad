"""`escalatord oncall` as a real subprocess on a temp config and SQLite database: who is on
call at given instants (layers, a restrict window, a config override, nobody), across the
Europe/Berlin spring-forward night, `show` segments, and run-time overrides added, listed and
removed through the CLI changing the answer. The errors are in test_cli_oncall_errors.py."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalatord.people import overrides
from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import cli
from tests.support.oncall import oncall_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Persons alice, bob, dave, erin, frank; schedules berlin, daily and desk."""
    return oncall_config(tmp_path)


def ok(config: Path, *args: str) -> str:
    proc = cli(config, "oncall", *args, check=False)
    assert proc.returncode == 0, output(proc)
    return proc.stdout


def answer(config: Path, schedule: str, at: str) -> dict:
    [row] = json.loads(ok(config, "--schedule", schedule, "--at", at, "--json"))
    return row


def test_who_is_on_call_at_given_instants(config, database):
    """Layer 0 at the weekend, the restricted layer 1 on a weekday, the config override, and
    nobody outside the desk's hours, each until the next change, in the schedule's zone."""
    saturday = answer(config, "berlin", "2026-03-28 12:00")
    assert saturday == {
        "schedule": "berlin",
        "timezone": "Europe/Berlin",
        "at": "2026-03-28T12:00:00+01:00",
        "on_call": [{"name": "bob", "full_name": "Bob Nguyen"}],
        "until": "2026-03-30T08:00:00+02:00",
        "decided_by": {"layer": 0},
    }
    weekday = answer(config, "berlin", "2026-03-31 10:00")
    assert weekday["on_call"] == [{"name": "dave", "full_name": None}]
    assert (weekday["until"], weekday["decided_by"]) == ("2026-03-31T18:00:00+02:00", {"layer": 1})
    holiday = answer(config, "berlin", "2026-04-04 12:00")
    assert holiday["on_call"] == [{"name": "erin", "full_name": "Erin Walsh"}]
    assert holiday["until"] == "2026-04-06T09:00:00+02:00"
    assert holiday["decided_by"] == {"config_override": 0}
    nobody = answer(config, "desk", "2026-03-07 12:00")
    assert (nobody["on_call"], nobody["decided_by"]) == ([], None)
    assert nobody["until"] == "2026-03-09T09:00:00-04:00"  # after New York's spring-forward


def test_the_table_names_zone_until_and_what_decided_for_every_schedule(config, database):
    """Without --schedule every schedule has a row; a wall time is read in each one's own zone
    and shown with its abbreviation; nobody is "nobody" with when that ends."""
    header, *rows = ok(config, "--at", "2026-03-28 12:00").splitlines()
    assert header.split() == ["SCHEDULE", "AT", "ON", "CALL", "UNTIL", "BY", "TIME", "ZONE"]
    assert rows == [
        "berlin    Sat 2026-03-28 12:00 CET  bob (Bob Nguyen)      Mon 2026-03-30 08:00 CEST"
        "  layer[0]  Europe/Berlin",
        "daily     Sat 2026-03-28 12:00 CET  alice (Alice Moreau)  Sun 2026-03-29 09:00 CEST"
        "  layer[0]  Europe/Berlin",
        "desk      Sat 2026-03-28 12:00 EDT  nobody                Mon 2026-03-30 09:00 EDT "
        "  -         America/New_York",
    ]


def test_a_daily_turn_over_the_spring_forward_night_is_23_hours(config, database):
    """The 09:00 handoff stays 09:00 local across the Europe/Berlin DST change: the turn that
    starts on 28 March (CET) ends on 29 March 09:00 CEST, 23 hours later."""
    before = answer(config, "daily", "2026-03-28 09:00")
    after = answer(config, "daily", "2026-03-29 09:00")
    assert before["on_call"][0]["name"] != after["on_call"][0]["name"]
    assert before["until"] == after["at"] == "2026-03-29T09:00:00+02:00"
    turn = datetime.fromisoformat(before["until"]) - datetime.fromisoformat(before["at"])
    assert turn == timedelta(hours=23)
    # The skipped wall time 02:30 is read as the rota reads it: 03:30 CEST.
    assert answer(config, "daily", "2026-03-29 02:30")["at"] == "2026-03-29T03:30:00+02:00"
    # An explicit offset or Z names the instant itself.
    assert answer(config, "daily", "2026-03-29T07:00Z")["at"] == "2026-03-29T09:00:00+02:00"


def test_show_prints_the_rota_as_segments_across_dst(config, database):
    """`show` gives consecutive segments from --from for --weeks local weeks: the weekend
    rotation, the restricted weekday hours, CET before the change and CEST after."""
    body = json.loads(
        ok(config, "show", "berlin", "--from", "2026-03-27 18:00", "--weeks", "1", "--json")
    )
    assert (body["from"], body["until"]) == (
        "2026-03-27T18:00:00+01:00",
        "2026-04-03T18:00:00+02:00",
    )
    segments = [
        (s["from"], s["until"], [p["name"] for p in s["on_call"]]) for s in body["segments"]
    ]
    assert segments[:3] == [
        ("2026-03-27T18:00:00+01:00", "2026-03-30T08:00:00+02:00", ["bob"]),
        ("2026-03-30T08:00:00+02:00", "2026-03-30T18:00:00+02:00", ["dave"]),
        ("2026-03-30T18:00:00+02:00", "2026-03-31T08:00:00+02:00", ["alice"]),
    ]
    assert len(segments) == 10 and segments[-1][2] == ["dave"]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segments))
    table = ok(config, "show", "berlin", "--from", "2026-03-27 18:00", "--weeks", "1")
    title, header, first, *_ = table.splitlines()
    assert title == "berlin, times in Europe/Berlin:"
    assert header.split() == ["FROM", "UNTIL", "ON", "CALL"]
    assert first == "Fri 2026-03-27 18:00 CET   Mon 2026-03-30 08:00 CEST  bob (Bob Nguyen)"
    # Four weeks from now by default.
    default = json.loads(ok(config, "show", "daily", "--json"))
    span = datetime.fromisoformat(default["until"]) - datetime.fromisoformat(default["from"])
    assert (
        timedelta(weeks=4) - timedelta(hours=1) <= span <= timedelta(weeks=4) + timedelta(hours=1)
    )
    assert len(default["segments"]) in (28, 29)


def test_now_is_the_default_and_relative_times_count_from_it(config, database):
    """Without --at the answer is for now; "+2h" and "in 2h" are two hours later."""
    now = answer(config, "daily", "now")
    at = datetime.fromisoformat(now["at"])
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=1)
    later = datetime.fromisoformat(answer(config, "daily", "in 2h")["at"])
    assert timedelta(hours=2) - timedelta(minutes=1) < later - at < timedelta(hours=2, minutes=1)
    assert answer(config, "daily", "+2h")["on_call"]
    assert "daily" in ok(config, "--schedule", "daily")


def test_a_stored_override_changes_the_answer_until_it_is_removed(config, database):
    """`override` stores frank over berlin's rota and prints its id; `oncall` and `show` then
    answer frank (decided by that override, until its end); `overrides` lists it; `override
    remove ID` deletes it and the rota answers again."""
    at = "2031-07-01 12:00"
    before = answer(config, "berlin", at)
    added = ok(
        config, "override", "berlin", "--person", "frank", "--from", "2031-07-01T08:00Z",
        "--until", "2031-07-01 14:00", "--as", "carol",
    )  # fmt: skip
    assert added.startswith("override ")
    override_id = int(added.split()[1])
    assert added.strip() == (
        f"override {override_id} added: frank (Frank Li) in berlin "
        "from Tue 2031-07-01 10:00 CEST until Tue 2031-07-01 14:00 CEST"
    )
    during = answer(config, "berlin", at)
    assert during["on_call"] == [{"name": "frank", "full_name": "Frank Li"}]
    assert during["until"] == "2031-07-01T14:00:00+02:00"
    assert during["decided_by"] == {"override": override_id}
    assert f"override #{override_id}" in ok(config, "--schedule", "berlin", "--at", at)
    rota = json.loads(
        ok(config, "show", "berlin", "--from", "2031-07-01 00:00", "--weeks", "1", "--json")
    )
    frank = [s for s in rota["segments"] if s["on_call"][0]["name"] == "frank"]
    assert [(s["from"], s["until"]) for s in frank] == [
        ("2031-07-01T10:00:00+02:00", "2031-07-01T14:00:00+02:00")
    ]

    header, row = ok(config, "overrides").splitlines()
    assert header.split() == ["ID", "SCHEDULE", "PERSON", "FROM", "UNTIL", "ADDED", "BY"]
    assert row.split() == [
        str(override_id), "berlin", "frank", "(Frank", "Li)", "Tue", "2031-07-01", "10:00",
        "CEST", "Tue", "2031-07-01", "14:00", "CEST", "carol",
    ]  # fmt: skip
    [listed] = json.loads(ok(config, "overrides", "berlin", "--json"))
    assert listed["id"] == override_id and listed["created_by"] == "carol"
    assert listed["person"] == {"name": "frank", "full_name": "Frank Li"}
    assert (listed["from"], listed["until"]) == (
        "2031-07-01T10:00:00+02:00",
        "2031-07-01T14:00:00+02:00",
    )
    assert ok(config, "overrides", "daily") == "no overrides still to end in daily\n"

    removed = ok(config, "override", "remove", str(override_id))
    assert removed.startswith(f"override {override_id} removed: frank (Frank Li) in berlin")
    assert answer(config, "berlin", at) == before
    assert ok(config, "overrides") == "no overrides still to end\n"
    assert json.loads(ok(config, "overrides", "--json")) == []


def test_overrides_lists_ended_ones_only_with_all(config, database):
    """An override that has ended is left out of `overrides` and shown by `overrides --all`;
    where run-time overrides overlap, the one added last decides."""

    async def store_some() -> list[int]:
        async with Store(database) as store, store.write() as conn:
            past = datetime(2026, 3, 1, tzinfo=UTC)
            ended = await overrides.add(
                conn, "desk", "erin", past, past + timedelta(hours=8), now=past, by="test"
            )
            start = datetime(2031, 7, 1, 8, tzinfo=UTC)
            first = await overrides.add(
                conn, "desk", "alice", start, start + timedelta(hours=8), now=past, by="test"
            )
            last = await overrides.add(
                conn, "desk", "bob", start, start + timedelta(hours=2), now=past, by="test"
            )
            return [ended.id, first.id, last.id]

    ended, first, last = asyncio.run(store_some())
    assert [r["id"] for r in json.loads(ok(config, "overrides", "--json"))] == [first, last]
    assert [r["id"] for r in json.loads(ok(config, "overrides", "--all", "--json"))] == [
        ended,
        first,
        last,
    ]
    assert "erin" in ok(config, "overrides", "desk", "--all")
    both = answer(config, "desk", "2031-07-01T09:00Z")
    assert (both["on_call"][0]["name"], both["decided_by"]) == ("bob", {"override": last})
    assert both["until"] == "2031-07-01T06:00:00-04:00"  # then alice's, added first
    assert answer(config, "desk", "2031-07-01T11:00Z")["decided_by"] == {"override": first}


def test_config_may_be_given_to_oncall_before_a_subcommand(config, database):
    """`oncall --config PATH show S` reads PATH, as `oncall show S --config PATH` does."""
    proc = subprocess.run(
        [sys.executable, "-m", "escalatord", "oncall", "--config", str(config), "show", "desk"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.startswith("desk, times in America/New_York:")
