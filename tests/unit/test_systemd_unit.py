"""The systemd unit, sysusers and tmpfiles snippets keep their promises to the admin."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support import programs

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "escalatord.service"
CONFIG = "/etc/escalatord/escalatord.toml"


def load_unit() -> configparser.RawConfigParser:
    # strict=False: systemd allows repeated keys; interpolation off: `$MAINPID` is literal.
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


@pytest.fixture(scope="module")
def service() -> configparser.SectionProxy:
    return load_unit()["Service"]


def settings(key: str) -> list[str]:
    """Every value of a key the unit repeats (configparser keeps only the last)."""
    lines = UNIT.read_text().splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{key}=")]


def config_path(service: configparser.SectionProxy, command: str) -> str:
    """The --config argument of a command line, with ${ESCALATORD_CONFIG} expanded."""
    env = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))
    argv = shlex.split(command)
    value = argv[argv.index("--config") + 1]
    return value.replace("${ESCALATORD_CONFIG}", env["ESCALATORD_CONFIG"])


def test_unit_is_type_notify(service: configparser.SectionProxy) -> None:
    """The daemon signals readiness itself (Type=notify; notify-reload needs systemd 253)."""
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"


def test_watchdog_is_set_and_restarts_on_failure(service: configparser.SectionProxy) -> None:
    """A hung daemon is killed by the watchdog and restarted."""
    assert service["WatchdogSec"] == "30s"
    assert service["Restart"] == "on-failure"
    assert service["RestartSec"] == "5s"


def test_start_runs_check_config_then_run(service: configparser.SectionProxy) -> None:
    """A bad config stops the start before the daemon runs, and both use the same file."""
    pre, start = shlex.split(service["ExecStartPre"]), shlex.split(service["ExecStart"])
    assert pre[1] == "check-config"
    assert start[1] == "run"
    assert pre[0] == start[0]
    assert pre[0].endswith("/escalatord")
    assert config_path(service, service["ExecStartPre"]) == CONFIG
    assert config_path(service, service["ExecStart"]) == CONFIG


def test_reload_sends_hup(service: configparser.SectionProxy) -> None:
    """`systemctl reload escalatord` sends SIGHUP to the daemon."""
    assert shlex.split(service["ExecReload"]) == ["/bin/kill", "-HUP", "$MAINPID"]


def test_only_capability_is_net_raw(service: configparser.SectionProxy) -> None:
    """The daemon may open raw ICMP sockets and can gain no other capability."""
    assert service["AmbientCapabilities"].split() == ["CAP_NET_RAW"]
    assert service["CapabilityBoundingSet"].split() == ["CAP_NET_RAW"]


def test_runs_as_its_own_user_in_a_sandbox(service: configparser.SectionProxy) -> None:
    """The daemon runs unprivileged with a read-only system and its own state directory."""
    expected = {
        "User": "escalatord",
        "Group": "escalatord",
        "StateDirectory": "escalatord",
        "StateDirectoryMode": "0750",
        "ConfigurationDirectory": "escalatord",
        "ConfigurationDirectoryMode": "0750",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "MemoryDenyWriteExecute": "yes",
        "RestrictNamespaces": "yes",
        "PrivateMounts": "yes",
        "RemoveIPC": "yes",
        "UMask": "0027",
        "LimitNOFILE": "65536",
        "TimeoutStopSec": "30s",
    }
    assert {key: service.get(key) for key in expected} == expected
    assert service["RestrictAddressFamilies"].split() == [
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    ]
    assert settings("SystemCallFilter") == ["@system-service", "~@resources"]


def test_unit_has_no_inline_comments() -> None:
    """No setting line carries a trailing comment (systemd would read it as part of the value)."""
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            assert " #" not in line, line


def test_unit_is_enabled_for_boot() -> None:
    """`systemctl enable` starts the daemon at boot after the network is up."""
    unit = load_unit()
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"].split()


def test_sysusers_creates_the_service_user() -> None:
    """The sysusers snippet creates the escalatord user with its home in the state directory."""
    lines = [
        line
        for line in (SYSTEMD / "escalatord.sysusers").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ['u escalatord - "escalatord daemon" /var/lib/escalatord']


def test_tmpfiles_makes_config_dir_group_readable() -> None:
    """The tmpfiles snippet makes /etc/escalatord root-owned and readable by the daemon's group."""
    lines = [
        line.split()
        for line in (SYSTEMD / "escalatord.tmpfiles").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == [["d", "/etc/escalatord", "0750", "root", "escalatord", "-"]]


@programs.needs("systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong with the unit (binary path aside)."""
    # verify insists that the binary exists; it is not installed on a build machine.
    text = UNIT.read_text().replace("/usr/local/bin/escalatord", "/bin/true")
    (tmp_path / "escalatord.service").write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "escalatord.service")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""


@programs.needs("systemd-analyze")
def test_security_exposure_is_at_most_2() -> None:
    """`systemd-analyze security --offline=true` rates the unit's exposure 2.0 or lower."""
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"Overall exposure level for escalatord\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-2000:]
    assert float(found.group(1)) <= 2.0, done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@programs.needs("systemd-sysusers", "systemd-tmpfiles")
def test_snippets_create_user_and_config_dir(tmp_path: Path) -> None:
    """In a scratch root the snippets create the user and a root:escalatord 0750 config dir."""
    for kind, source in (
        ("sysusers.d", "escalatord.sysusers"),
        ("tmpfiles.d", "escalatord.tmpfiles"),
    ):
        target = tmp_path / "usr/lib" / kind / "escalatord.conf"
        target.parent.mkdir(parents=True)
        shutil.copy(SYSTEMD / source, target)
    (tmp_path / "etc").mkdir()
    # --root keeps every change inside tmp_path; the host's users and /etc are not touched.
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        args = [tool, f"--root={tmp_path}", "escalatord.conf"]
        if tool == "systemd-tmpfiles":
            args.insert(2, "--create")
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    groups = {
        line.split(":")[0]: int(line.split(":")[2])
        for line in (tmp_path / "etc/group").read_text().splitlines()
    }
    users = {
        line.split(":")[0]: line.split(":")
        for line in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    assert users["escalatord"][5] == "/var/lib/escalatord"
    info = (tmp_path / "etc/escalatord").stat()
    assert stat.S_IMODE(info.st_mode) == 0o750
    assert (info.st_uid, info.st_gid) == (0, groups["escalatord"])
