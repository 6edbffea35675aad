"""Rule order as an admin meets it: a rule appended below the shipped catch-all is reached, and
`check-config` and the daemon's log name every rule an earlier rule always takes first."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget, Request

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PORT = "8425"


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    """/down answers 500 (a failing web shop); /hook is the web team's webhook."""
    with HttpTarget() as t:
        t.respond(500, "shop down", path="/down")
        t.respond(200, "thanks", path="/hook")
        yield t


def pages(target: HttpTarget) -> list[Request]:
    return [r for r in target.requests if r.path == "/hook"]


def shipped_config(tmp_path: Path, port: int) -> str:
    """config/escalatord.toml as shipped, with its database and port moved into the test's."""
    text = (ROOT / "config/escalatord.toml").read_text()
    text = text.replace(
        'database = "sqlite:///var/escalatord.db"', f'database = "sqlite:///{tmp_path}/e.db"'
    )
    return text.replace(SHIPPED_PORT, str(port))


def test_a_rule_appended_to_the_shipped_config_pages_its_own_people(tmp_path, target):
    """The newcomer's first edit: a check, a rule, a policy and a webhook appended at the end of
    the shipped config (below its catch-all rule) page through the new rule, and check-config
    has nothing to warn about."""
    port = free_port()
    config = tmp_path / "escalatord.toml"
    config.write_text(
        shipped_config(tmp_path, port)
        + f"""
[[check]]
name = "web-shop"
type = "http"
url = "{target.url("/down")}"
interval = "1s"
retries = 1
labels = {{ category = "web" }}

[[rule]]
name = "web"
match = {{ category = "web" }}
severity = "critical"
policy = "web"
owner = "web-team"

[[policy]]
name = "web"
  [[policy.level]]
  after = "0m"
  notify = ["web-hook"]

[[notifier]]
name = "web-hook"
type = "webhook"
url = "{target.url("/hook")}"
"""
    )
    checked = cli(config, "check-config", check=False)
    assert checked.returncode == 0, checked.stderr
    assert "can never match" not in checked.stderr

    daemon = DaemonProcess(config, port, tmp_path / "daemon.log").start()
    try:
        wait_until(lambda: pages(target), what="the web team's page")
        incident = pages(target)[0].json()["incident"]
        assert (incident["check"], incident["owner"]) == ("web-shop", "web-team")
        assert incident["severity"] == "critical"
    finally:
        assert daemon.stop() == 0, daemon.logs()


def write_rules(tmp_path: Path, port: int, extra: str = "") -> Path:
    """A main file with a site rule and a catch-all; conf.d/50-web.toml with two rules that
    can never match (one under the site rule, one a second catch-all); `extra` is appended
    to the conf.d file."""
    (tmp_path / "conf.d").mkdir(exist_ok=True)
    (tmp_path / "conf.d/50-web.toml").write_text(
        """
[[rule]]
name = "hq web"
match = { site = "hq", category = "web" }
policy = "ops"

[[rule]]
name = "catch-all"
policy = "ops"
"""
        + extra
    )
    main = tmp_path / "escalatord.toml"
    main.write_text(
        f"""
include = ["conf.d/*.toml"]

[daemon]
database = "sqlite:///{tmp_path}/e.db"
listen = "127.0.0.1:{port}"

[[rule]]
name = "hq"
match = {{ site = "hq" }}
policy = "ops"

[[rule]]
name = "everything"
policy = "ops"

[[policy]]
name = "ops"
  [[policy.level]]
  after = "0m"
  notify = ["log"]

[[notifier]]
name = "log"
type = "log"
"""
    )
    return main


def test_check_config_names_rules_that_can_never_match_with_their_files(tmp_path):
    """check-config exits 0 and warns, for each rule that is never reached, with its name and
    file and the name and file of the earlier rule that takes everything it would match."""
    main = write_rules(tmp_path, free_port())
    web = tmp_path / "conf.d/50-web.toml"
    proc = cli(main, "check-config", check=False)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "can never match" in line]
    assert len(warnings) == 2, proc.stderr
    assert warnings[0].startswith(
        f"warning: rule 'hq web' ({web}) can never match: rule 'hq' ({main}) is tried before it"
    )
    assert warnings[1].startswith(
        f"warning: rule 'catch-all' ({web}) can never match: rule 'everything' ({main}) is a "
        "default route"
    )


def never_matching(daemon: DaemonProcess) -> list[str]:
    """The `problem` of every rule_never_matches line the daemon logged."""
    lines = [
        json.loads(line) for line in daemon.logs().splitlines() if "rule_never_matches" in line
    ]
    return [line["problem"] for line in lines]


def rules_named(problems: list[str]) -> list[str]:
    return [re.match(r"rule '([^']+)'", problem)[1] for problem in problems]


def test_the_daemon_logs_rules_that_can_never_match_at_start_and_reload(tmp_path):
    """At start and after a reload, the daemon logs each rule that is never reached."""
    port = free_port()
    main = write_rules(tmp_path, port)
    daemon = DaemonProcess(main, port, tmp_path / "daemon.log").start()
    try:
        # "started" is logged just before the SIGHUP handler is installed, with no await between.
        wait_until(lambda: '"started"' in daemon.logs(), what="the daemon's start")
        assert rules_named(never_matching(daemon)) == ["hq web", "catch-all"]
        write_rules(tmp_path, port, extra='\n[[rule]]\nname = "hq db"\nmatch = { site = "hq" }\n')
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: len(never_matching(daemon)) == 5, what="the warnings after reload")
        reloaded = never_matching(daemon)[2:]
        assert rules_named(reloaded) == ["hq web", "hq db", "catch-all"]
    finally:
        assert daemon.stop() == 0, daemon.logs()
