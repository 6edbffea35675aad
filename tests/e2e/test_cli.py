"""The command line as a user meets it: `python -m escalatord ...` as a real subprocess.

Checks and notifiers point at an HttpTarget on loopback; incidents are put in a SQLite file
with the incident service (as the daemon would), then listed and changed through the CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalatord.config.model import PolicyConfig
from escalatord.escalation.policy import snapshot
from escalatord.escalation.rules import Decision
from escalatord.incidents import rootcause, service
from escalatord.store.db import Store
from tests.support.daemon import cli
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-hook-token-9f2c"  # given by ${ESCALATORD_TEST_TOKEN}; must never be printed
COMMANDS = ("run", "check-config", "check", "incidents", "ack", "resolve", "close", "test-notify")
T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def escalatord(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m escalatord ARGS` exactly as given (no --config appended)."""
    return subprocess.run(
        [sys.executable, "-m", "escalatord", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """Everything the command printed, for assertion messages and secret checks."""
    return proc.stdout + proc.stderr


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """Checks: /ok answers 200, /fail 500, /hang never; webhooks: /hook 200, /broken 500."""
    with HttpTarget() as t:
        t.respond(200, "all good", path="/ok")
        t.respond(500, "database down", path="/fail")
        t.respond(hang=True, path="/hang")
        t.respond(200, "thanks", path="/hook")
        t.respond(500, "sink exploded", path="/broken")
        yield t


@pytest.fixture
def config(tmp_path: Path, target: HttpTarget, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid config: 3 checks (one no rule matches), 1 rule, 1 policy, 2 notifiers."""
    monkeypatch.setenv("ESCALATORD_TEST_TOKEN", SECRET)
    path = tmp_path / "escalatord.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"

        [defaults]
        timeout = "5s"

        [[check]]
        name = "web-up"
        type = "http"
        url = "{target.url("/ok")}"
        labels = {{ category = "web" }}

        [[check]]
        name = "web-down"
        type = "http"
        url = "{target.url("/fail")}"
        labels = {{ category = "web" }}

        [[check]]
        name = "web-stuck"
        type = "http"
        url = "{target.url("/hang")}"
        timeout = "300ms"

        [[rule]]
        name = "web"
        match = {{ category = "web" }}
        severity = "critical"
        policy = "ops"

        [[policy]]
        name = "ops"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        headers = {{ Authorization = "Bearer ${{ESCALATORD_TEST_TOKEN}}" }}

        [[notifier]]
        name = "broken"
        type = "webhook"
        url = "{target.url("/broken")}"
        """)
    )
    return path


# ---- check-config ---------------------------------------------------------------------------


def test_check_config_accepts_a_good_config_with_a_summary_and_a_warning(config):
    """A valid config exits 0 with one summary line, warns about checks no rule covers, and
    never prints the ${ENV} secret."""
    proc = cli(config, "check-config", check=False)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.splitlines() == [
        f"{config}: ok — 3 checks, 1 rules, 1 policies, 2 notifiers"
    ]
    assert "no rule opens an incident for: web-stuck" in proc.stderr
    assert "web-up" not in proc.stderr and "web-down" not in proc.stderr
    assert SECRET not in output(proc)


def test_check_config_lists_every_problem_and_hides_secrets(tmp_path, monkeypatch):
    """A config with several mistakes exits 2 and names each as `file: key.path: message`,
    without ever printing a secret taken from the environment."""
    monkeypatch.setenv("ESCALATORD_TEST_TOKEN", SECRET)
    path = tmp_path / "bad.toml"
    path.write_text(
        textwrap.dedent("""
        [daemon]
        database = "sqlite:///unused.db"
        colour = "blue"

        [[check]]
        name = "a"
        type = "tcp"
        host = "127.0.0.1"
        port = 1
        interval = "every now and then"
        depends_on = ["b"]

        [[check]]
        name = "b"
        type = "tcp"
        host = "127.0.0.1"
        port = 2
        depends_on = ["a"]

        [[policy]]
        name = "ops"
          [[policy.level]]
          after = "0s"
          notify = ["nobody"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "http://127.0.0.1:9/hook"
        timeout = "${ESCALATORD_TEST_TOKEN}"
        """)
    )
    proc = cli(path, "check-config", check=False)
    assert proc.returncode == 2, output(proc)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    expected = {
        "daemon.colour": "unknown key",
        "check[a].interval": "invalid duration",
        "policy[ops].level[1].notify": "unknown notifier 'nobody'",
        "check[a].depends_on": "dependency cycle: a -> b -> a",
        "notifier[hook].timeout": "invalid duration",
    }
    for key, message in expected.items():
        prefix = f"{path}: {key}: "
        found = [line for line in lines if line.startswith(prefix)]
        assert found and message in found[0], f"no {prefix}{message}... in:\n{proc.stderr}"
    assert lines[-1] == f"config rejected: {len(lines) - 1} problem(s)"
    assert len(lines) - 1 == len(expected)
    assert SECRET not in output(proc)


def test_check_config_on_a_missing_file_says_so_in_one_line(tmp_path):
    """A config path that does not exist gives one line naming the path and the fix, exit 2."""
    missing = tmp_path / "nowhere.toml"
    proc = cli(missing, "check-config", check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(missing) in lines[0] and "does not exist" in lines[0]
    assert "--config" in lines[0] and "ESCALATORD_CONFIG" in lines[0]


# ---- check NAME -----------------------------------------------------------------------------


def test_check_reports_ok_and_critical_like_a_monitoring_plugin(config):
    """`check` exits 0 with OK on a 200, 2 with CRITICAL on a 500, and --json parses."""
    up = cli(config, "check", "web-up", check=False)
    assert up.returncode == 0, output(up)
    assert up.stdout.startswith("web-up: OK — HTTP 200")

    down = cli(config, "check", "web-down", "--json", check=False)
    assert down.returncode == 2, output(down)
    result = json.loads(down.stdout)
    assert result["check"] == "web-down"
    assert result["status"] == "critical"
    assert "500" in result["summary"]
    assert result["measurements"]["status_code"] == 500
    assert result["duration"] >= 0


def test_check_of_a_hung_target_times_out_and_an_unknown_name_is_named(config, target):
    """A target that never answers is CRITICAL "timed out after 300ms" (exit 2); an unknown
    check name exits 1 naming it and the configured checks."""
    stuck = cli(config, "check", "web-stuck", check=False)
    assert stuck.returncode == 2, output(stuck)
    assert stuck.stdout.startswith("web-stuck: CRITICAL — timed out after 300ms")
    assert any(r.path == "/hang" for r in target.requests)

    unknown = cli(config, "check", "web-nope", check=False)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "no check named 'web-nope'" in unknown.stderr
    assert "web-down, web-stuck, web-up" in unknown.stderr


# ---- test-notify ----------------------------------------------------------------------------


def test_test_notify_delivers_a_test_event_to_the_webhook(config, target):
    """`test-notify hook` exits 0 and the sink receives a version-1 payload with event "test",
    sent with the secret header from the environment."""
    proc = cli(config, "test-notify", "hook", check=False)
    assert proc.returncode == 0, output(proc)
    assert "test notification delivered to hook (webhook)" in proc.stdout
    hooks = [r for r in target.requests if r.path == "/hook"]
    assert len(hooks) == 1
    body = hooks[0].json()
    assert body["version"] == 1 and body["event"] == "test"
    assert body["incident"]["title"] == "escalatord test notification"
    assert hooks[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in output(proc)


def test_test_notify_reports_a_failing_sink_and_an_unknown_notifier(config, target):
    """A sink answering 500 makes `test-notify` exit 1 with the status and the reply; an
    unknown notifier exits 1 listing the configured ones."""
    broken = cli(config, "test-notify", "broken", check=False)
    assert broken.returncode == 1, output(broken)
    assert "not delivered" in broken.stderr
    assert "500" in broken.stderr and "sink exploded" in broken.stderr
    assert [r.path for r in target.requests] == ["/broken"]

    unknown = cli(config, "test-notify", "pager", check=False)
    assert unknown.returncode == 1
    assert "no notifier named 'pager'" in unknown.stderr
    assert "configured: broken, hook" in unknown.stderr


# ---- incidents, ack, resolve, close ---------------------------------------------------------


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


# ---- the command itself ---------------------------------------------------------------------


def test_config_comes_from_the_environment_when_not_given(config):
    """Without --config, $ESCALATORD_CONFIG names the config file."""
    env = {**os.environ, "ESCALATORD_CONFIG": str(config)}
    proc = escalatord("check-config", env=env)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.startswith(f"{config}: ok — 3 checks")


def test_version_and_help():
    """--version prints the version; --help lists every command."""
    from escalatord import __version__

    version = escalatord("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"escalatord, version {__version__}"

    help_ = escalatord("--help")
    assert help_.returncode == 0
    listed = help_.stdout.split("Commands:", 1)[1].split()
    for command in COMMANDS:
        assert command in listed, f"{command} missing from --help:\n{help_.stdout}"
