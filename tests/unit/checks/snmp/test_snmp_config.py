"""Config of the `snmp` and `snmp_interface` checks: what validates, and what each mistake says."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from escalatord.checks.snmp.get import SnmpCheck
from escalatord.checks.snmp.interface import SnmpInterfaceCheck
from escalatord.checks.snmp.mibnames import resolve
from escalatord.config.loader import load_text
from escalatord.errors import ConfigError
from escalatord.plugins import load

SNMP, IFACE = SnmpCheck.Config, SnmpInterfaceCheck.Config
BASE = {"name": "c", "host": "127.0.0.1"}


def problems(model: type[BaseModel], **data: Any) -> dict[str, str]:
    """Validation errors as {"key": "message"}; "" is the key of whole-model errors."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**BASE, **data})
    return {
        ".".join(str(p) for p in e["loc"]): e["msg"].removeprefix("Value error, ")
        for e in caught.value.errors()
    }


def config_problems(toml: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(textwrap.dedent(toml), env=env or {})
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_registry_names_load_these_classes():
    """`type = "snmp"` and `type = "snmp_interface"` find these check classes."""
    assert load("checks", "snmp") is SnmpCheck
    assert load("checks", "snmp_interface") is SnmpInterfaceCheck


def test_the_design_documents_example_validates_as_written():
    """DESIGN.md's boston-wan check (with its parent) loads, the community from the env; an
    `expect` written as a number means its text."""
    config = load_text(
        textwrap.dedent("""
        [[check]]
        name = "hq-core-router"
        type = "ping"
        host = "10.0.0.1"

        [[check]]
        name = "boston-wan"
        type = "snmp"
        host = "10.20.0.1"
        oid = "1.3.6.1.2.1.2.2.1.8.3"        # IF-MIB::ifOperStatus.3
        expect = "1"
        community = "${SNMP_COMMUNITY}"
        depends_on = ["hq-core-router"]
        labels = { site = "boston", category = "remote-office" }
        """),
        env={"SNMP_COMMUNITY": "s3cret-community"},
    )
    check = config.check_by_name["boston-wan"]
    assert check.version == "2c" and check.port == 161
    assert check.community.get_secret_value() == "s3cret-community"
    assert "s3cret-community" not in repr(check)
    assert resolve(check.oid) == resolve("IF-MIB::ifOperStatus.3")
    assert SNMP(**BASE, type="snmp", community="x", oid=check.oid, expect=1).expect == "1"


def test_community_file_is_read_and_never_shown(tmp_path):
    """`community_file` works through the loader's *_file mechanism; the value stays secret."""
    (tmp_path / "community").write_text("from-a-file-42\n")
    config = load_text(
        f"""
[[check]]
name = "core"
type = "snmp"
host = "127.0.0.1"
oid = "SNMPv2-MIB::sysUpTime.0"
community_file = "{tmp_path}/community"
""",
        env={},
    )
    check = config.check_by_name["core"]
    assert check.community.get_secret_value() == "from-a-file-42"
    assert "from-a-file-42" not in repr(check) and "from-a-file-42" not in str(check)


def test_mib_names_resolve_and_unknown_ones_name_the_key_and_the_fix():
    """A known MIB::name passes; a typo is reported at its key with a suggestion."""
    assert SNMP(**BASE, type="snmp", community="x", oid="IF-MIB::ifHCInOctets.2")
    found = config_problems(
        """
        [[check]]
        name = "core"
        type = "snmp"
        host = "127.0.0.1"
        community = "public"
        oids = ["SNMPv2-MIB::sysUpTime.0", "IF-MIB::ifOperstatus.3", "NOPE-MIB::x.0"]
        """
    )
    assert any(
        p.startswith("check[core].oids[1]: unknown object IF-MIB::ifOperstatus")
        and "did you mean ifOperStatus" in p
        for p in found
    ), found
    assert any(p.startswith("check[core].oids[2]: unknown MIB 'NOPE-MIB'") for p in found)


@pytest.mark.parametrize(
    ("oid", "message"),
    [
        ("IF-MIB::ifOperStatus", "is a table column: add the row index"),
        ("SNMPv2-MIB::sysUpTime.4", "is a scalar: its only instance is SNMPv2-MIB::sysUpTime.0"),
        ("IF-MIB::linkDown", "is a notification (a trap), not an object to GET"),
        ("ifOperStatus.3", "is not an OID: write it as"),
        ("4.1.2", "is not a valid OID"),
    ],
)
def test_oids_that_cannot_be_fetched_are_refused(oid, message):
    """Each kind of OID mistake gets its own message."""
    assert message in problems(SNMP, type="snmp", community="x", oid=oid)["oid"]


def test_an_snmp_check_needs_an_oid_and_no_duplicates():
    """Without oid/oids, or with the same OID twice (name and number), the config is refused."""
    assert "set oid (or oids)" in problems(SNMP, type="snmp", community="x")[""]
    dup = problems(
        SNMP, type="snmp", community="x", oid="1.3.6.1.2.1.1.3.0", oids=["SNMPv2-MIB::sysUpTime"]
    )
    assert "more than once" in dup[""]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"version": "2c"}, "needs community (or community_file)"),
        ({"version": "3"}, 'version = "3" needs user'),
        ({"version": "3", "user": "u", "community": "x"}, "community is for SNMP version"),
        ({"community": "x", "user": "u"}, "SNMPv3 keys, but version is '2c'; set version = \"3\""),
        (
            {"version": "3", "user": "u", "priv_key": "privpass1"},
            "priv_key without auth_key: SNMPv3 has no privacy without authentication",
        ),
        (
            {"version": "3", "user": "u", "auth_protocol": "SHA"},
            "auth_protocol is set but auth_key is not",
        ),
    ],
)
def test_version_and_credentials_must_fit_together(keys, message):
    """Each impossible combination of version and credentials is refused, saying why."""
    found = problems(SNMP, type="snmp", oid="1.3.6.1.2.1.1.3.0", **keys)
    assert message in found[""], found


def test_v3_keys_and_protocols_are_checked_without_echoing_secrets():
    """Short keys and unknown protocols are named; the key itself is never in the message."""
    found = problems(
        SNMP,
        type="snmp",
        oid="1.3.6.1.2.1.1.3.0",
        version="3",
        user="u",
        auth_key="short1",
        priv_key="tiny",
        auth_protocol="SHA-999",
        priv_protocol="blowfish",
    )
    assert found["auth_key"].startswith("auth_key must be at least 8 characters")
    assert found["priv_key"].startswith("priv_key must be at least 8 characters")
    assert "unknown auth_protocol 'SHA-999'" in found["auth_protocol"]
    assert "MD5, SHA, SHA224, SHA256, SHA384, SHA512" in found["auth_protocol"]
    assert "DES, AES, AES192, AES256, AES192C, AES256C" in found["priv_protocol"]
    assert not any("short1" in m or "tiny" in m for m in found.values())


def test_security_level_follows_from_the_keys_and_protocol_spellings_are_forgiven():
    """user alone is noAuthNoPriv, + auth_key authNoPriv, + priv_key authPriv; "sha-256",
    "aes128" and version = 3 (a number) are understood."""
    v3 = {**BASE, "type": "snmp", "oid": "1.3.6.1.2.1.1.3.0", "version": 3, "user": "u"}
    assert SNMP(**v3).security_level == "noAuthNoPriv"
    auth = SNMP(**v3, auth_key="authpass1", auth_protocol="sha-256")
    assert (auth.security_level, auth.auth_protocol, auth.version) == ("authNoPriv", "SHA256", "3")
    full = SNMP(**v3, auth_key="authpass1", priv_key="privpass1", priv_protocol="aes128")
    assert (full.security_level, full.priv_protocol) == ("authPriv", "AES")
    assert (
        SNMP(**BASE, type="snmp", oid="1.3.6.1.2.1.1.3.0", community="x", version=2).version == "2c"
    )


def test_request_timeout_must_fit_in_the_check_timeout():
    """request_timeout × tries at or over `timeout` is refused; unset, the tries share it."""
    found = problems(
        SNMP,
        type="snmp",
        community="x",
        oid="1.3.6.1.2.1.1.3.0",
        timeout="5s",
        request_timeout="2s",
        request_retries=2,
    )
    assert found[""].startswith(
        "request_timeout × (request_retries + 1) = 6s must be shorter than timeout (5s)"
    )
    shared = SNMP(**BASE, type="snmp", community="x", oid="1.3.6.1.2.1.1.3.0", timeout="10s")
    assert shared.try_timeout == pytest.approx(3.0)  # (10s - 1s margin) / 3 tries
    v3 = {"version": "3", "user": "u", "auth_key": "authpass1", "priv_key": "privpass1"}
    private = SNMP(**BASE, type="snmp", oid="1.3.6.1.2.1.1.3.0", timeout="10s", **v3)
    assert private.try_timeout == pytest.approx(2.2)  # a fourth share for the discovery probe
    tight = problems(SNMP, type="snmp", community="x", oid="1.3.6.1.2.1.1.3.0", timeout="200ms")
    assert "too short for 3 tries of at least 100ms" in tight[""]


def test_an_interface_check_names_exactly_one_interface():
    """interface or if_index, not both and not neither; match only goes with a name."""
    base = {"type": "snmp_interface", "community": "x"}
    assert "exactly one of interface" in problems(IFACE, **base)[""]
    assert (
        "exactly one of interface" in problems(IFACE, **base, interface="ge-0/0/1", if_index=3)[""]
    )
    assert (
        "match applies to interface names" in problems(IFACE, **base, if_index=3, match="name")[""]
    )
    assert "match" in problems(IFACE, **base, interface="x", match="mac")


def test_interface_thresholds_accept_percent_signs_and_check_ranges():
    """utilisation ranges may carry a % sign; a reversed range is refused at its key."""
    cfg = IFACE(
        **BASE,
        type="snmp_interface",
        community="x",
        interface="ge-0/0/1",
        utilisation_warning="70%",
        utilisation_critical=90,
        errors_critical="10",
    )
    assert cfg.utilisation_warning.violates(71) and not cfg.utilisation_warning.violates(70)
    assert cfg.utilisation_critical.violates(95)
    found = problems(
        IFACE, type="snmp_interface", community="x", interface="x", errors_warning="5:1"
    )
    assert "the start 5 is above the end 1" in found["errors_warning"]


def test_every_toml_example_in_the_snmp_docs_loads(tmp_path):
    """The config snippets of docs/snmp.md validate together (secret files and ${VARS} stubbed)."""
    docs = (Path(__file__).resolve().parents[4] / "docs" / "snmp.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", docs, flags=re.S)
    assert len(blocks) >= 6
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("snmp-auth", "snmp-priv", "snmp-community"):
        (secrets / name).write_text(f"{name}-value-123\n")
    parent = '[[check]]\nname = "hq-core-router"\ntype = "ping"\nhost = "10.0.0.1"\n'
    text = "\n".join([parent, *blocks]).replace("/etc/escalatord/secrets", str(secrets))
    env = {v: "stub-secret-value" for v in ("SNMP_COMMUNITY", "SNMP_AUTH_KEY", "SNMP_PRIV_KEY")}
    config = load_text(text, env=env)
    types = {c.type for c in config.checks}
    assert {"snmp", "snmp_interface"} <= types


def test_request_timeout_is_counted_as_pysnmp_waits_it():
    """pysnmp waits in 0.1 s ticks: 4 tries of 250ms last 1.2 s, which does not fit in 1.1s."""
    found = problems(
        SNMP,
        type="snmp",
        community="x",
        oid="1.3.6.1.2.1.1.3.0",
        timeout="1100ms",
        request_timeout="250ms",
        request_retries=3,
    )
    assert "= 1.2s must be shorter than timeout (1.1s)" in found[""]
