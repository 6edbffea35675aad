"""`escalatord lint` as a real subprocess on a temp config: exit 0 and "no findings" when clean
(with a note when there is no database), exit 1 with a JSON list of findings, a stored
run-time override closing a schedule gap, and a contact never confirmed (`test-contacts`)
reported until its confirmation is stored."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalatord.people import confirmations
from escalatord.store.db import Store
from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e

# The rota starts two days from now: until then the level reaches nobody.
CONFIG = """
[daemon]
database = "sqlite:///{dir}/escalatord.db"

[[check]]
name = "web"
type = "tcp"
host = "127.0.0.1"
port = 80

[[rule]]
name = "all"
policy = "p"

[[policy]]
name = "p"
  [[policy.level]]
  after = "0m"
  notify = ["rota"]

[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[person]]
name = "alice"
  [[person.contact]]
  notifier = "hook"
  to = "alice"

[[schedule]]
name = "rota"
timezone = "UTC"
  [[schedule.layer]]
  members = ["alice"]
  start = "{start}"
  rotation = "1w"
"""


def _wall(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose only schedule has nobody on call for its first two days from now."""
    path = tmp_path / "escalatord.toml"
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
    path.write_text(CONFIG.format(dir=tmp_path, start=_wall(start)))
    return path


def confirm_alice(url: str) -> None:
    """Store a confirmed test of alice's one contact, as following its link does."""

    async def work() -> None:
        contact = confirmations.Contact("alice", None, 0, "hook", "alice")
        async with Store(url, create=False) as store, store.write() as conn:
            [sent] = await confirmations.send_tests(
                conn, [contact], key=b"k" * 32, base_url="http://x", now=datetime.now(UTC), by="t"
            )
            await confirmations.confirm(conn, sent.test.id, now=datetime.now(UTC), source="t")

    asyncio.run(work())


@pytest.fixture
def confirmed(database: str) -> str:
    """The database, with alice's contact confirmed: the tests below are about other kinds."""
    confirm_alice(database)
    return database


def test_findings_exit_1_and_json_lists_them(config, confirmed):
    """The gap is one finding: exit 1, --json gives kind, file, key and message."""
    proc = cli(config, "lint", "--json", check=False)
    assert proc.returncode == 1, output(proc)
    [finding] = json.loads(proc.stdout)
    assert finding["kind"] == "schedule-gap"
    assert (finding["file"], finding["key"]) == (str(config), "policy[p].level[0].notify")
    assert "rota: nobody on call" in finding["message"]
    text = cli(config, "lint", check=False)
    assert text.returncode == 1
    assert "schedule-gap (1):" in text.stdout and "1 finding(s)" in text.stdout


def test_a_stored_override_closes_the_gap_and_lint_exits_0(config, confirmed):
    """An `oncall override` over the two days is read from the database: nothing to find."""
    now = datetime.now(UTC)
    until = _wall(now + timedelta(days=3)) + "Z"
    added = cli(config, "oncall", "override", "rota", "--person", "alice",
                "--from", "now", "--until", until, check=False)  # fmt: skip
    assert added.returncode == 0, output(added)
    proc = cli(config, "lint", check=False)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.strip() == f"{config}: no findings"
    assert "note:" not in proc.stderr


def test_without_a_database_lint_says_so_and_uses_the_config(config):
    """No database: a note on stderr, and the config alone decides (the gap is found)."""
    proc = cli(config, "lint", "--json", check=False)
    assert proc.returncode == 1, output(proc)
    assert "note: stored run-time overrides not counted" in proc.stderr
    # Nothing is known of confirmations: contacts are not judged, and a note says so.
    assert "note: contact confirmations not checked" in proc.stderr
    assert [f["kind"] for f in json.loads(proc.stdout)] == ["schedule-gap"]


def test_an_unconfirmed_contact_is_a_finding_until_confirmed(config, database):
    """With a database and no confirmation, alice's contact is a finding naming the file and
    key and the command to run; once a confirmation is stored it is gone."""
    proc = cli(config, "lint", "--json", check=False)
    assert proc.returncode == 1, output(proc)
    found = {f["kind"]: f for f in json.loads(proc.stdout)}
    assert set(found) == {"schedule-gap", "contact-unconfirmed"}
    unconfirmed = found["contact-unconfirmed"]
    assert (unconfirmed["file"], unconfirmed["key"]) == (str(config), "person[alice].contact[0]")
    assert "contact 0 (hook → alice) never confirmed" in unconfirmed["message"]
    assert "escalatord test-contacts --person alice" in unconfirmed["message"]
    confirm_alice(database)
    again = cli(config, "lint", "--json", check=False)
    assert [f["kind"] for f in json.loads(again.stdout)] == ["schedule-gap"]
