"""The command line as a user meets it: `python -m escalatord ...` as a real subprocess.

Checks and notifiers point at an HttpTarget on loopback (the `target` and `config` fixtures,
tests/e2e/conftest.py); incidents, listed and changed through the CLI, are in
test_cli_incidents.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.cli_output import SECRET, output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e

COMMANDS = ("run", "check-config", "check", "incidents", "ack", "resolve", "close", "test-notify")


def escalatord(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m escalatord ARGS` exactly as given (no --config appended)."""
    return subprocess.run(
        [sys.executable, "-m", "escalatord", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


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
        "policy[ops].level[0].notify": "unknown notifier 'nobody'",
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
    check name exits 3 (UNKNOWN, like a monitoring plugin) naming it and the configured checks."""
    stuck = cli(config, "check", "web-stuck", check=False)
    assert stuck.returncode == 2, output(stuck)
    assert stuck.stdout.startswith("web-stuck: CRITICAL — timed out after 300ms")
    assert any(r.path == "/hang" for r in target.requests)

    unknown = cli(config, "check", "web-nope", check=False)
    assert unknown.returncode == 3
    assert unknown.stdout.startswith("UNKNOWN: no check named 'web-nope'")
    assert "no check named 'web-nope'" in unknown.stderr
    assert "web-down, web-stuck, web-up" in unknown.stderr


# ---- test-notify ----------------------------------------------------------------------------


def test_test_notify_delivers_a_test_event_to_the_webhook(config, target, database):
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


def test_test_notify_reports_a_failing_sink_and_an_unknown_notifier(config, target, database):
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
