"""Incidents through the command line (`incidents`, `ack`, `resolve`, `close` as a real
subprocess): incidents are put in a SQLite file with the incident service (as the daemon would),
then listed and changed through the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.incidents import rootcause, service
from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


async def _open_incidents(url: str) -> list[int]:
    """Open three incidents as the daemon would; resolve the third. Returns their ids."""
    policy = snapshot(
        PolicyConfig.model_validate({"name": "ops", "level": [{"after": "0s", "notify": ["x"]}]})
    )
    decision = Decision(("web",), "critical", "ops", "web-team", "https://wiki/web", ("Look",))
    ids = []
    async with Store(url) as store:
        for n, check in enumerate(("web-a", "web-b", "web-c")):
            async with store.write() as conn:
                incident_id, _ = await service.open_incident(
                    conn,
                    key=check,
                    check=check,
                    labels={"category": "web"},
                    status="critical",
                    summary=f"{check} answered 500",
                    decision=decision,
                    policy_snapshot=policy,
                    now=T0 + timedelta(minutes=n),
                )
            ids.append(incident_id)
        async with store.write() as conn:
            await service.resolve(conn, ids[2], by="recovery", now=T0 + timedelta(minutes=5))
    return ids


@pytest.fixture
def incidents(config, tmp_path) -> list[int]:
    """Ids of incidents web-a (triggered), web-b (triggered), web-c (resolved)."""
    return asyncio.run(_open_incidents(f"sqlite:///{tmp_path}/escalatord.db"))


def listing(config: Path, *flags: str) -> list[dict]:
    proc = cli(config, "incidents", "--json", *flags, check=False)
    assert proc.returncode == 0, output(proc)
    return json.loads(proc.stdout)


def test_incidents_lists_open_ones_as_a_table_and_as_json(config, incidents):
    """`incidents` shows open incidents newest first (table and --json); --all adds the
    resolved one."""
    a, b, c = incidents
    table = cli(config, "incidents", check=False)
    assert table.returncode == 0, output(table)
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "SEVERITY"]
    assert [row.split()[:3] for row in rows] == [
        [str(b), "triggered", "critical"],
        [str(a), "triggered", "critical"],
    ]
    assert "2026-03-14 09:27:53" in rows[0]
    assert "web-b is CRITICAL — web-b answered 500" in rows[0]

    assert [(i["id"], i["status"]) for i in listing(config)] == [
        (str(b), "triggered"),
        (str(a), "triggered"),
    ]
    everything = listing(config, "--all")
    assert [(i["id"], i["status"]) for i in everything] == [
        (str(c), "resolved"),
        (str(b), "triggered"),
        (str(a), "triggered"),
    ]
    resolved = everything[0]
    assert resolved["check"] == "web-c" and resolved["owner"] == "web-team"
    assert resolved["resolved_by"] == "recovery"
    assert resolved["opened_at"] == "2026-03-14T09:28:53Z"


async def _root_cause(url: str, affected: list[dict[str, str]]) -> int:
    """Make web-a's open incident a root cause listing `affected`."""
    async with Store(url) as store, store.write() as conn:
        return await rootcause.set_affected(conn, "web-a", affected, now=T0)


def test_incidents_show_a_root_cause_with_its_affected_checks_and_filter_by_site(
    config, incidents, tmp_path
):
    """A root-cause incident lists the checks it makes unreachable (table and --json), and
    --site keeps the incidents of that site, including through the checks they affect."""
    a, b, _ = incidents
    affected = [{"check": "office-pc-1", "site": "boston"}, {"check": "office-pc-2", "site": ""}]
    asyncio.run(_root_cause(f"sqlite:///{tmp_path}/escalatord.db", affected))
    table = cli(config, "incidents", "--site", "boston", check=False)
    assert table.returncode == 0, output(table)
    header, *rows = table.stdout.splitlines()
    assert "SITE" in header
    assert rows[0].split()[0] == str(a)
    assert (
        "web-a is CRITICAL — 2 checks unreachable (site boston): office-pc-1, office-pc-2"
        in (rows[0])
    )
    assert [r.split()[-1] for r in rows[1:]] == ["office-pc-1", "office-pc-2"]
    [only] = listing(config, "--site", "boston")
    assert only["id"] == str(a) and only["affected"] == affected
    nothing = cli(config, "incidents", "--site", "paris", check=False)
    assert nothing.stdout.strip() == "no open incidents for site paris"
    assert {i["id"] for i in listing(config)} == {str(a), str(b)}


def test_ack_resolve_and_close_change_incidents_and_refuse_what_does_not_apply(
    config, incidents, monkeypatch
):
    """ack/resolve/close change an incident and say so (exit 0); acking a resolved incident,
    an unknown id (exit 1) and close without --note (usage error, exit 2) are refused."""
    a, b, c = incidents
    ack = cli(config, "ack", str(a), "--by", "alice", check=False)
    assert ack.returncode == 0, output(ack)
    assert ack.stdout.strip() == f"incident {a} acknowledged by alice"

    late = cli(config, "ack", str(c), check=False)
    assert late.returncode == 1
    assert "already resolved" in late.stderr and "nothing to acknowledge" in late.stderr

    no_note = cli(config, "close", str(b), check=False)
    assert no_note.returncode == 2
    assert "Missing option '--note'" in no_note.stderr

    close = cli(config, "close", str(b), "--note", "restarted the pool", "--by", "bob", check=False)
    assert close.returncode == 0, output(close)
    assert close.stdout.strip() == f"incident {b} closed"

    # Without --by, the user at the keyboard is named.
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "carol")
    resolve = cli(config, "resolve", str(a), check=False)
    assert resolve.returncode == 0, output(resolve)
    assert resolve.stdout.strip() == f"incident {a} resolved by carol"

    missing = cli(config, "ack", "999", check=False)
    assert missing.returncode == 1
    assert "no incident with id 999" in missing.stderr

    assert listing(config) == []
    after = {i["id"]: i for i in listing(config, "--all")}
    assert after[str(a)]["status"] == "resolved"
    assert after[str(a)]["acknowledged_by"] == "alice"
    assert after[str(a)]["resolved_by"] == "carol"
    assert after[str(b)]["status"] == "closed"
    assert after[str(b)]["close_note"] == "restarted the pool"
    assert after[str(c)]["status"] == "resolved"
    assert after[str(c)]["acknowledged_by"] is None
