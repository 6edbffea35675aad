"""Config values a review found slipping through: huge durations, zero timeouts, URLs without
a scheme or with an impossible port, header values that break requests, TOML keys written as
Python field names, and a missing email ca_file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from escalatord.checks.http.config import HttpConfig
from escalatord.config.loader import load_text
from escalatord.core.durations import parse_duration
from escalatord.errors import ConfigError
from escalatord.heartbeats.check import HeartbeatConfig, Signals, evaluate
from escalatord.notify.email import EmailConfig

NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
TOKEN = "heartbeat-token-0123456789"


def problems(text: str) -> list[str]:
    """Every problem `load_text` reports for `text`, as "path: message" lines."""
    with pytest.raises(ConfigError) as caught:
        load_text(textwrap.dedent(text), env={})
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


# ---- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["99999999999d", "9" * 400 + "w", "3651d", "521w4d"])
def test_durations_past_ten_years_are_refused_with_the_limit(text: str):
    """A duration over 10 years is a ValueError that names the limit, never an OverflowError."""
    with pytest.raises(ValueError, match=r"too long: the longest allowed is 3650d \(10 years\)"):
        parse_duration(text)


def test_ten_years_is_accepted():
    """The limit itself is a valid duration."""
    assert parse_duration("3650d").days == 3650


def test_a_huge_interval_is_a_config_problem_naming_the_key():
    """`interval = "99999999999d"` is reported as a problem of check[web].interval."""
    found = problems("""
        [[check]]
        name = "web"
        type = "tcp"
        host = "127.0.0.1"
        port = 80
        interval = "99999999999d"
    """)
    assert len(found) == 1 and found[0].startswith("check[web].interval: ")
    assert "10 years" in found[0]


def test_check_config_exits_2_on_a_huge_duration(tmp_path: Path):
    """`escalatord check-config` lists the huge duration and exits 2, without a traceback."""
    path = tmp_path / "escalatord.toml"
    path.write_text('[defaults]\ninterval = "99999999999d"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "escalatord", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "defaults.interval" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_ack_ttl_and_heartbeat_grace_of_thousands_of_years_are_refused():
    """ack_ttl and a heartbeat's grace of "3000000d" are refused when the config is loaded."""
    found = problems(f"""
        [daemon]
        ack_ttl = "3000000d"

        [[check]]
        name = "nightly"
        type = "heartbeat"
        every = "1d"
        grace = "3000000d"
        token = "{TOKEN}"
    """)
    assert [line.split(":")[0] for line in found] == ["daemon.ack_ttl", "check[nightly].grace"]


def test_heartbeat_at_the_longest_durations_still_evaluates():
    """A heartbeat with `every` and `grace` at 10 years is judged; its deadline is computed."""
    config = HeartbeatConfig.model_validate(
        {"name": "hb", "type": "heartbeat", "every": "3650d", "grace": "3650d", "token": TOKEN}
    )
    verdict = evaluate(Signals(first_seen_at=NOW, last_ping_at=NOW), config, NOW)
    assert verdict.status == "ok" and verdict.deadline.year == NOW.year + 20


# ---- timeouts and addresses -------------------------------------------------------------------


def test_zero_timeouts_are_refused():
    """timeout = "0s" is refused in [defaults], on a check and on a notifier."""
    found = problems("""
        [defaults]
        timeout = "0s"

        [[check]]
        name = "web"
        type = "tcp"
        host = "127.0.0.1"
        port = 80
        timeout = "0s"

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "http://127.0.0.1:9/hook"
        timeout = "0ms"
    """)
    assert [line.split(":")[0] for line in found] == [
        "defaults.timeout",
        "check[web].timeout",
        "notifier[hook].timeout",
    ]
    assert all("longer than 0s" in line for line in found)


@pytest.mark.parametrize("url", ["escalatord.example.org", "ftp://escalatord.example.org"])
def test_public_url_needs_http_or_https(url: str):
    """public_url without http:// or https:// is refused: ack links would not be links."""
    [found] = problems(f'[daemon]\npublic_url = "{url}"\n')
    assert found.startswith("daemon.public_url: ") and "http:// or https://" in found


def test_public_url_with_a_scheme_is_accepted():
    """An https public_url is the base of ack links."""
    config = load_text('[daemon]\npublic_url = "https://esc.example.org/"\n', env={})
    assert config.daemon.base_url == "https://esc.example.org"


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_http_check_url_port_out_of_range(port: int):
    """An http check url with a port outside 1..65535 is refused, naming the port."""
    with pytest.raises(ValidationError, match=f"port {port}"):
        HttpConfig.model_validate(
            {"name": "web", "type": "http", "url": f"http://127.0.0.1:{port}/health"}
        )


def test_notifier_url_port_out_of_range():
    """A webhook url with port 99999 is a config problem of notifier[hook].url."""
    [found] = problems("""
        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "http://127.0.0.1:99999/hook"
    """)
    assert found.startswith("notifier[hook].url: ") and "99999" in found


# ---- http check headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["Bearer s3cret-from-env\n", "Bearer s3cret\r\nX-Evil: 1", "Bearer s3crét"]
)
def test_http_check_header_values_must_be_one_line_of_ascii(value: str):
    """A header value with CR/LF or accents is refused at load; the message names the header
    and never quotes the value (it is usually a credential)."""
    with pytest.raises(ValidationError) as caught:
        HttpConfig.model_validate(
            {
                "name": "web",
                "type": "http",
                "url": "http://127.0.0.1/",
                "headers": {"Authorization": value},
            }
        )
    text = str(caught.value.errors(include_input=False))
    assert "headers.Authorization" in text and "printable ASCII" in text
    assert "s3cr" not in text


def test_http_check_header_names_are_checked():
    """A header name with a space, or Content-Length (httpx frames the body), is refused."""
    for headers in ({"X Api Key": "k"}, {"Content-Length": "3"}):
        with pytest.raises(ValidationError):
            HttpConfig.model_validate(
                {"name": "web", "type": "http", "url": "http://127.0.0.1/", "headers": headers}
            )


# ---- TOML keys, not field names ---------------------------------------------------------------


def test_field_names_are_not_accepted_for_aliased_keys():
    """`levels`, `continue_` and `from_` are unknown keys: the TOML keys are `level`,
    `continue` and `from`; so `levels` cannot skip the check that notifiers exist."""
    found = problems("""
        [[rule]]
        name = "all"
        policy = "p"
        continue_ = true

        [[policy]]
        name = "p"
        levels = [{ after = "0m", notify = ["nobody-by-this-name"] }]

        [[notifier]]
        name = "mail"
        type = "email"
        host = "127.0.0.1"
        from_ = "escalatord@example.org"
        to = ["oncall@example.org"]
    """)
    assert any(line.startswith("rule[all].continue_: unknown key") for line in found)
    assert any(line.startswith("policy[p].levels: unknown key") for line in found)
    assert any(line.startswith("policy[p].level: required key is missing") for line in found)
    assert any(line.startswith("notifier[mail].from_: unknown key") for line in found)


def test_aliased_keys_still_work():
    """The TOML keys `level`, `continue` and `from` load as before."""
    config = load_text(
        textwrap.dedent("""
            [[rule]]
            name = "all"
            policy = "p"
            continue = true

            [[policy]]
            name = "p"
            level = [{ after = "0m", notify = ["mail"] }]

            [[notifier]]
            name = "mail"
            type = "email"
            host = "127.0.0.1"
            from = "escalatord@example.org"
            to = ["oncall@example.org"]
        """),
        env={},
    )
    assert config.rules[0].continue_ is True
    assert config.policies[0].levels[0].notify == ("mail",)
    assert config.notifiers[0].from_ == "escalatord@example.org"


# ---- email ca_file ----------------------------------------------------------------------------


def test_email_ca_file_must_exist(tmp_path: Path):
    """An email notifier's ca_file that does not exist is refused when the config is loaded."""
    with pytest.raises(ValidationError, match="ca_file does not exist"):
        EmailConfig.model_validate(
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "from": "escalatord@example.org",
                "to": ["oncall@example.org"],
                "ca_file": str(tmp_path / "missing.pem"),
            }
        )
