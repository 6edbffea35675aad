"""`escalatord ack ID --as PERSON` as a real subprocess: the person must be in the config, and
their name is what the incident records and `incidents` shows."""

from __future__ import annotations

import asyncio
import json
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


async def _open(url: str) -> int:
    policy = snapshot(
        PolicyConfig.model_validate({"name": "p", "level": [{"after": "0s", "notify": ["hook"]}]})
    )
    decision = Decision(("r",), "critical", "p", "", "", ())
    async with Store(url) as store, store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="web",
            check="web",
            labels={},
            status="critical",
            summary="down",
            decision=decision,
            policy_snapshot=policy,
            now=datetime.now(UTC),
        )
    return incident_id


@pytest.fixture
def config(tmp_path: Path) -> Path:
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
        """)
    )
    return path


def test_ack_as_a_person_records_their_name(config, tmp_path):
    """--as names a configured person (exit 2 and the known names otherwise, nothing
    changed); acknowledged_by is then their name in `incidents` and its JSON."""
    incident_id = asyncio.run(_open(f"sqlite:///{tmp_path}/escalatord.db"))
    unknown = cli(config, "ack", str(incident_id), "--as", "mallory", check=False)
    assert unknown.returncode == 2, output(unknown)
    assert "no person named 'mallory'" in unknown.stderr and "bob" in unknown.stderr
    both = cli(config, "ack", str(incident_id), "--as", "bob", "--by", "x", check=False)
    assert both.returncode == 2, output(both)

    done = cli(config, "ack", str(incident_id), "--as", "bob", check=False)
    assert done.returncode == 0, output(done)
    assert done.stdout.strip() == f"incident {incident_id} acknowledged by bob"
    [shown] = json.loads(cli(config, "incidents", "--json").stdout)
    assert shown["acknowledged_by"] == "bob"
    assert "acknowledged by bob" in cli(config, "incidents").stdout
