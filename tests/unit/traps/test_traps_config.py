"""The [traps] section and the snmp_trap check's keys: OID names, secrets, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalatord.config.loader import load, load_text
from escalatord.errors import ConfigError
from escalatord.plugins import load as load_type
from escalatord.traps import oids
from escalatord.traps.check import SnmpTrapCheck

TRAPS = '[traps]\nlisten = "127.0.0.1:1162"\ncommunities = ["trap-secret"]\n'


def problems(text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The config's problems as {"key.path": "message"}."""
    with pytest.raises(ConfigError) as caught:
        load_text(text, env=env or {})
    return {p.path: p.message for p in caught.value.problems}


def trap_check(**keys: str) -> str:
    """A [[check]] of type snmp_trap; `keys` are TOML values, replacing the defaults."""
    fields = {
        "name": '"ups"',
        "type": '"snmp_trap"',
        "host": '"127.0.0.1"',
        "trap_oids": '["SNMPv2-MIB::coldStart"]',
        "clear_after": '"10m"',
        **keys,
    }
    return "[[check]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v)


def test_no_traps_section_means_no_receiver():
    """Without [traps] the daemon listens for no traps."""
    assert load_text("", env={}).traps is None


def test_traps_section_with_communities_from_env_and_file(tmp_path: Path):
    """Communities come from ${ENV} or a file with one a line (# comments skipped)."""
    (tmp_path / "communities").write_text("# core switches\nswitch-secret\n\nups-secret\n")
    main = tmp_path / "main.toml"
    main.write_text('[traps]\nlisten = "[::1]:1162"\ncommunities_file = "communities"\n')
    config = load(main, env={})
    assert config.traps is not None
    assert config.traps.community_values() == ("switch-secret", "ups-secret")
    assert (config.traps.listen_host, config.traps.listen_port) == ("::1", 1162)
    assert config.traps.enabled is True
    assert "switch-secret" not in repr(config.traps)
    env_config = load_text('[traps]\ncommunities = ["${C}"]\n', env={"C": "from-env"})
    assert env_config.traps is not None
    assert env_config.traps.community_values() == ("from-env",)
    assert env_config.traps.listen == "0.0.0.0:162"  # the standard port by default


@pytest.mark.parametrize(
    "listen", ["localhost:162", "127.0.0.1", "::1:162", "127.0.0.1:0", "127.0.0.1:70000"]
)
def test_bad_listen_names_the_key_and_the_format(listen: str):
    """listen must be an IP address and a port, IPv6 in brackets; the message shows how."""
    found = problems(f'[traps]\nlisten = "{listen}"\ncommunities = ["x"]\n')
    assert "IP address and a UDP port" in found["traps.listen"]
    assert "[::]:162" in found["traps.listen"]


def test_communities_are_required_and_never_echoed():
    """A [traps] without communities is an error that says how to add them; a bad community
    is reported by its position, never by its value."""
    assert problems("[traps]\n")["traps.communities"] == "required key is missing"
    assert "at least one community" in problems("[traps]\ncommunities = []\n")["traps.communities"]
    found = problems('[traps]\ncommunities = ["${C}"]\n', env={"C": "sec\tret-value"})
    assert "communities[0] must be printable ASCII" in found["traps.communities"]
    assert "ret-value" not in str(found)


def test_traps_only_in_the_main_file(tmp_path: Path):
    """[traps] in an included file is refused, like [daemon]: one receiver, one place."""
    (tmp_path / "extra.toml").write_text(TRAPS)
    main = tmp_path / "main.toml"
    main.write_text('include = ["extra.toml"]\n')
    with pytest.raises(ConfigError, match=r"\[traps\] is only allowed in the main config file"):
        load(main, env={})


def test_registry_finds_the_snmp_trap_check():
    """`type = "snmp_trap"` is a built-in, passive check type."""
    assert load_type("checks", "snmp_trap") is SnmpTrapCheck
    assert SnmpTrapCheck.kind == "passive"


def test_snmp_trap_keys_resolve_mib_names_to_numeric_oids():
    """Trap OIDs and match_varbinds keys are stored numerically, whichever way they are written."""
    text = trap_check(
        trap_oids='["SNMPv2-MIB::coldStart", ".1.3.6.1.4.1.9.9.13.3.0.5", "IF-MIB::linkDown"]',
        clear_oids='["1.3.6.1.4.1.9.9.13.3.0.6"]',
        match_varbinds='{ "IF-MIB::ifIndex.3" = "3", "SNMPv2-MIB::sysName" = "ups" }',
        status='"warning"',
    )
    (check,) = load_text(text, env={}).checks
    assert check.trap_oids == (
        "1.3.6.1.6.3.1.1.5.1",
        "1.3.6.1.4.1.9.9.13.3.0.5",
        "1.3.6.1.6.3.1.1.5.3",
    )
    assert check.clear_oids == ("1.3.6.1.4.1.9.9.13.3.0.6",)
    assert check.match_varbinds == {"1.3.6.1.2.1.2.2.1.1.3": "3", "1.3.6.1.2.1.1.5.0": "ups"}
    assert check.status == "warning"


@pytest.mark.parametrize(
    ("keys", "path", "expected"),
    [
        ({"trap_oids": '["FOO-MIB::fanFail"]'}, "trap_oids", "trap_oids[0]: unknown MIB 'FOO-MIB'"),
        ({"trap_oids": '["SNMPv2-MIB::coldstart"]'}, "trap_oids", "did you mean coldStart?"),
        ({"trap_oids": '["linkDown"]'}, "trap_oids", "'linkDown' is not an OID"),
        ({"trap_oids": "[]"}, "trap_oids", "at least 1 item"),
        ({"clear_oids": '["1.2.3.x"]'}, "clear_oids", "clear_oids[0]: '1.2.3.x' is not an OID"),
        ({"match_varbinds": '{ "sysName" = "x" }'}, "match_varbinds", "match_varbinds: 'sysName'"),
        ({"match_varbinds": '{ "IF-MIB::ifIndex" = "3" }'}, "match_varbinds", "add the row index"),
        ({"host": '"router.example.org"'}, "host", "IP address the traps come from"),
        ({"clear_after": '"0s"'}, "clear_after", "longer than 0s"),
        ({"status": '"ok"'}, "status", "'warning', 'critical' or 'unknown'"),
    ],
)
def test_bad_snmp_trap_keys_name_the_key_and_the_fix(keys: dict[str, str], path: str, expected):
    """Each bad key is reported at its own path with what to write instead."""
    found = problems(trap_check(**keys))
    assert expected in found[f"check[ups].{path}"]


def test_a_trap_check_must_be_able_to_clear():
    """Without clear_oids or clear_after a problem could never end: that is an error."""
    found = problems(trap_check(clear_after=""))
    assert "set clear_oids" in found["check[ups]"] and "clear_after" in found["check[ups]"]


def test_one_oid_cannot_both_set_and_clear():
    """A trap OID in both trap_oids and clear_oids is refused, naming it."""
    found = problems(trap_check(clear_oids='["1.3.6.1.6.3.1.1.5.1"]'))
    assert "1.3.6.1.6.3.1.1.5.1 is in both trap_oids and clear_oids" in found["check[ups]"]


def test_host_is_stored_in_canonical_form():
    """An IPv4-mapped IPv6 host is the IPv4 address the trap's sender will have."""
    (check,) = load_text(trap_check(host='"::ffff:127.0.0.9"'), env={}).checks
    assert check.host == "127.0.0.9"


def test_trap_oid_names_and_numeric_forms():
    """Notifications resolve by name (the SNMP checks refuse them as GET targets); numbers
    pass through; summaries name the standard traps."""
    assert oids.resolve("SNMPv2-MIB::warmStart") == "1.3.6.1.6.3.1.1.5.2"
    assert oids.resolve(" .1.3.6.1.4.1 ") == "1.3.6.1.4.1"
    assert oids.resolve("IF-MIB::linkUp") == "1.3.6.1.6.3.1.1.5.4"
    assert oids.name_of("1.3.6.1.6.3.1.1.5.4") == "linkUp"
    assert oids.name_of("1.3.6.1.4.1.9.0.1") == "1.3.6.1.4.1.9.0.1"
    with pytest.raises(ValueError, match="not a valid OID"):
        oids.resolve("3.1")
