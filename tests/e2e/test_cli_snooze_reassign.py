"""`escalatord snooze` and `escalatord reassign` as real subprocesses against a database with
an open incident: what they print and record, and every error with its exit code (2 for a
usage error: a bad DURATION, an unknown --as person or --to NAME; 1 for an unknown or
finished incident or a NAME that reaches nobody now)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import service
from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e


async def _open(url: str, key: str = "web") -> int:
    policy = snapshot(
        PolicyConfig.model_validate({"name": "p", "level": [{"after": "0s", "notify": ["hook"]}]})
    )
    decision = Decision(("r",), "critical", "p", "", "", ())
    async with Store(url) as store, store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key=key,
            check=key,
            labels={},
            status="critical",
            summary="down",
            decision=decision,
            policy_snapshot=policy,
            now=datetime.now(UTC),
        )
        await service.fire_due_steps(conn, datetime.now(UTC))
    return incident_id


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # "nights" has someone on call only for a minute three days from now: nobody now.
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(datetime.now(UTC).weekday() + 3) % 7]
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "http://127.0.0.1:9/hook"

        [[person]]
        name = "bob"
          [[person.contact]]
          notifier = "hook"
          to = "bob"

        [[team]]
        name = "network"
        members = ["bob"]

        [[schedule]]
        name = "nights"
        timezone = "UTC"
          [[schedule.layer]]
          members = ["bob"]
          start = "2026-01-05 00:00"
          rotation = "1w"
          restrict = ["{day} 00:00-00:01"]
        """)
    )
    return path


@pytest.fixture
def incident_id(config: Path, tmp_path: Path) -> str:
    return str(asyncio.run(_open(f"sqlite:///{tmp_path}/escalatord.db")))


def _failed(proc, code: int, *words: str) -> None:
    assert proc.returncode == code, output(proc)
    for word in words:
        assert word in proc.stderr, output(proc)


def test_snooze_acknowledges_until_its_end(config, incident_id, tmp_path):
    """`snooze ID 1h --as bob` acknowledges as bob until an hour from now; again without
    --as, the user at the keyboard snoozes it anew."""
    done = cli(config, "snooze", incident_id, "1h", "--as", "bob")
    assert done.stdout.startswith(f"incident {incident_id} snoozed by bob for 1h, until ")
    [shown] = json.loads(cli(config, "incidents", "--json").stdout)
    assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", "bob")
    assert shown["snoozed_until"] == shown["next_step_at"] is not None
    assert "acknowledged by bob (snoozed until " in cli(config, "incidents").stdout
    again = cli(config, "snooze", incident_id, "30m", check=False)
    assert again.returncode == 0, output(again)
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM timeline ORDER BY id")]
    assert kinds[-2:] == ["acknowledged", "snoozed"]


def test_snooze_errors(config, incident_id):
    """A bad or zero DURATION and an unknown person exit 2; an unknown or resolved
    incident exits 1; nothing is changed by a refusal."""
    _failed(cli(config, "snooze", incident_id, "soon", check=False), 2, "invalid duration")
    _failed(cli(config, "snooze", incident_id, "0s", check=False), 2, "longer than 0s")
    unknown = cli(config, "snooze", incident_id, "1h", "--as", "mallory", check=False)
    _failed(unknown, 2, "no person named 'mallory'", "bob")
    _failed(cli(config, "snooze", "999", "1h", check=False), 1, "no incident with id 999")
    [shown] = json.loads(cli(config, "incidents", "--json").stdout)
    assert shown["status"] == "triggered"
    cli(config, "resolve", incident_id)
    gone = cli(config, "snooze", incident_id, "1h", check=False)
    _failed(gone, 1, "already resolved; nothing to snooze")


def test_reassign_pages_the_new_owner(config, incident_id, tmp_path):
    """`reassign ID --to network --as bob` makes the team the owner and queues bob's page."""
    done = cli(config, "reassign", incident_id, "--to", "network", "--as", "bob")
    assert done.stdout.strip() == (
        f"incident {incident_id} reassigned to network by bob: triggered, 1 message(s) queued"
    )
    [shown] = json.loads(cli(config, "incidents", "--json").stdout)
    assert shown["owner"] == "network"
    with sqlite3.connect(tmp_path / "escalatord.db") as db:
        keys = [k for (k,) in db.execute("SELECT key FROM outbox ORDER BY id")]
    assert keys[-1] == f"{incident_id}:reassigned:triggered:hook@bob#0"


def test_reassign_errors(config, incident_id):
    """An unknown --to NAME (exit 2, listing every name) or --as person (exit 2); an unknown
    or closed incident and a schedule with nobody on call now (exit 1)."""
    unknown = cli(config, "reassign", incident_id, "--to", "nobody", check=False)
    _failed(unknown, 2, "no person, team, schedule or notifier named 'nobody'")
    assert "bob, hook, network, nights" in unknown.stderr
    who = cli(config, "reassign", incident_id, "--to", "bob", "--as", "eve", check=False)
    _failed(who, 2, "no person named 'eve'")
    missing = cli(config, "reassign", incident_id, check=False)
    _failed(missing, 2, "--to")
    _failed(cli(config, "reassign", "999", "--to", "bob", check=False), 1, "no incident")
    empty = cli(config, "reassign", incident_id, "--to", "nights", check=False)
    _failed(empty, 1, "nights reaches nobody now", "is unchanged")
    cli(config, "close", incident_id, "--note", "done")
    closed = cli(config, "reassign", incident_id, "--to", "bob", check=False)
    _failed(closed, 1, "already closed; nothing to reassign")
