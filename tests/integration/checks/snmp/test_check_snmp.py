"""The `snmp` check against a real net-snmp snmpd on loopback (v1, v2c, v3), as the daemon runs
it: every check of the module shares one CheckContext, so one SNMP engine, on one event loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escalatord.checks.base import CheckContext, execute
from escalatord.checks.snmp.engines import SHARED_KEY
from escalatord.checks.snmp.get import SnmpCheck
from escalatord.core.status import Result, Status
from tests.support.snmp_agent import (
    COMMUNITY,
    V3_AUTH_KEY,
    V3_PRIV_KEY,
    Snmpd,
    free_udp_port,
    module_context,
    router_interfaces,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRIV = {"version": "3", "user": "privuser", "auth_key": V3_AUTH_KEY, "priv_key": V3_PRIV_KEY}
SYS_NAME = "SNMPv2-MIB::sysName.0"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    """snmpd on a free port for the module; the router's interfaces reset before each test."""
    snmpd = Snmpd(tmp_path_factory.mktemp("snmpd")).start()
    try:
        yield snmpd
    finally:
        snmpd.stop()


@pytest.fixture(autouse=True)
def fresh_router(agent: Snmpd) -> None:
    agent.set_state(router_interfaces())


context = module_context()


def make(context: CheckContext, port: int, **keys: Any) -> SnmpCheck:
    data = {"name": "snmp-test", "type": "snmp", "host": "127.0.0.1", "port": port}
    if keys.get("version") != "3":
        data["community"] = COMMUNITY
    data.update(keys)
    return SnmpCheck(SnmpCheck.Config.model_validate(data), context)


async def run(context: CheckContext, port: int, **keys: Any) -> Result:
    check = make(context, port, **keys)
    try:
        return await execute(check)
    finally:
        await check.close()


async def test_v2c_get_with_expect_matching_is_ok(context, agent):
    """A v2c GET whose value equals `expect` is ok and shows the value."""
    result = await run(context, agent.port, oid=SYS_NAME, expect="test-router")
    assert result.status is Status.OK, result.summary
    assert result.summary == "SNMPv2-MIB::sysName.0 = test-router"


async def test_expect_mismatch_says_what_was_expected_and_what_came(context, agent):
    """A value other than `expect` is critical, naming the OID, the value and the expectation."""
    result = await run(context, agent.port, oid="1.3.6.1.2.1.2.2.1.8.4", expect="1")
    assert result.status is Status.CRITICAL
    assert result.summary == "1.3.6.1.2.1.2.2.1.8.4 is '2', expected '1'"
    assert result.measurements == {"1.3.6.1.2.1.2.2.1.8.4": 2.0}


async def test_v1_get_and_v1_no_such_name(context, agent):
    """SNMPv1 works, and its noSuchName for a missing OID is unknown naming the OID."""
    ok = await run(context, agent.port, version="1", oid=SYS_NAME)
    assert (ok.status, ok.summary) == (Status.OK, "SNMPv2-MIB::sysName.0 = test-router")
    gone = await run(context, agent.port, version="1", oids=[SYS_NAME, "IF-MIB::ifDescr.99"])
    assert gone.status is Status.UNKNOWN
    assert (
        gone.summary == f"IF-MIB::ifDescr.99 does not exist on 127.0.0.1:{agent.port} (noSuchName)"
    )


async def test_missing_oids_are_unknown_and_named(context, agent):
    """noSuchInstance and noSuchObject are unknown, naming each missing OID; present ones
    are still measured."""
    result = await run(
        context,
        agent.port,
        oids=["IF-MIB::ifOperStatus.99", "1.3.6.1.2.1.1.99.0", "SNMPv2-MIB::sysUpTime.0"],
    )
    assert result.status is Status.UNKNOWN
    where = f"127.0.0.1:{agent.port}"
    assert result.summary == (
        f"IF-MIB::ifOperStatus.99 does not exist on {where} (noSuchInstance); "
        f"1.3.6.1.2.1.1.99.0 does not exist on {where} (noSuchObject)"
    )
    assert "SNMPv2-MIB::sysUpTime.0" in result.measurements


async def test_mib_names_get_the_same_values_as_numbers(context, agent):
    """IF-MIB and SNMPv2-MIB names fetch the objects their numbers do; numbers are measured."""
    agent.set_state(router_interfaces(), uptime=424242)
    result = await run(
        context,
        agent.port,
        oids=["IF-MIB::ifHighSpeed.7", "1.3.6.1.2.1.31.1.1.1.15.3", "SNMPv2-MIB::sysUpTime"],
    )
    assert result.status is Status.OK, result.summary
    assert result.measurements == {
        "IF-MIB::ifHighSpeed.7": 2.0,
        "1.3.6.1.2.1.31.1.1.1.15.3": 1000.0,
        "SNMPv2-MIB::sysUpTime": 424242.0,
    }


@pytest.mark.parametrize(
    ("uptime", "status", "summary"),
    [
        (3000, Status.OK, "SNMPv2-MIB::sysUpTime.0 = 3000"),
        (5000, Status.WARNING, "SNMPv2-MIB::sysUpTime.0 = 5000 (warning: above 4000)"),
        (7000, Status.CRITICAL, "SNMPv2-MIB::sysUpTime.0 = 7000 (critical: above 6000)"),
    ],
)
async def test_numeric_thresholds_in_range_syntax(context, agent, uptime, status, summary):
    """Values past `warning` or `critical` ("~:N" = above N) give that status and say why."""
    agent.set_state(router_interfaces(), uptime=uptime)
    result = await run(
        context, agent.port, oid="SNMPv2-MIB::sysUpTime.0", warning="~:4000", critical="~:6000"
    )
    assert (result.status, result.summary) == (status, summary)


async def test_v3_every_security_level(context, agent):
    """SNMPv3 authPriv (SHA/AES), authNoPriv (SHA) and noAuthNoPriv users all get answers."""
    levels = [
        PRIV,
        {"version": "3", "user": "authuser", "auth_key": V3_AUTH_KEY},
        {"version": "3", "user": "plainuser"},
    ]
    for keys in levels:
        result = await run(context, agent.port, oid=SYS_NAME, expect="test-router", **keys)
        assert result.status is Status.OK, (keys["user"], result.summary)


async def test_wrong_community_is_no_response(context, agent):
    """snmpd drops a wrong community: critical "no response … after N tries", with the hint
    that on v2c a dead agent and a wrong community look the same."""
    result = await run(
        context,
        agent.port,
        oid=SYS_NAME,
        community="not-the-community",
        timeout="2s",
        request_timeout="300ms",
        request_retries=1,
    )
    assert result.status is Status.CRITICAL
    assert result.summary == (
        f"no response from 127.0.0.1:{agent.port} after 2 tries (agent down or wrong community)"
    )


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        (
            {**PRIV, "auth_key": "wrong-auth-key"},
            "wrong digest: auth_key or auth_protocol does not match the agent's user 'privuser'",
        ),
        ({**PRIV, "auth_protocol": "MD5"}, "wrong digest: auth_key or auth_protocol"),
        ({**PRIV, "user": "nobody"}, "unknown user 'nobody' (usmStatsUnknownUserNames)"),
        (
            {**PRIV, "user": "authuser"},
            "unsupported security level authPriv for user 'authuser'",
        ),
        (
            {**PRIV, "priv_key": "wrong-priv-key"},
            "answers engine discovery but not requests encrypted with priv_key: priv_key or "
            "priv_protocol is probably wrong for user 'privuser'",
        ),
    ],
    ids=["auth-key", "auth-protocol", "unknown-user", "security-level", "priv-key"],
)
async def test_each_v3_credential_mistake_has_its_own_summary(context, agent, keys, says):
    """Wrong v3 credentials are unknown (the agent is up) with a summary naming the mistake."""
    result = await run(
        context,
        agent.port,
        oid=SYS_NAME,
        timeout="3s",
        request_timeout="500ms",
        request_retries=0,
        **keys,
    )
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith("SNMPv3 authentication failed: "), result.summary
    assert says in result.summary


async def test_a_right_and_a_wrong_key_for_one_user_do_not_mix(context, agent):
    """Checks using one v3 user name with different keys share the session yet each gets its
    own answer, whichever ran first; the extra engine goes away with its last check."""
    session = context.shared(SHARED_KEY, lambda: None)
    right = make(context, agent.port, oid=SYS_NAME, **PRIV)
    wrong = make(context, agent.port, oid=SYS_NAME, **{**PRIV, "auth_key": "wrong-auth-key"})
    try:
        for check in (right, wrong, right, wrong):
            result = await execute(check)
            expected = Status.OK if check is right else Status.UNKNOWN
            assert result.status is expected, result.summary
        engines = session.engines
    finally:
        await wrong.close()
    assert session.engines == engines - 1
    assert (await execute(right)).status is Status.OK
    await right.close()


async def test_an_agent_that_is_not_running_is_no_response(context):
    """A closed UDP port on 127.0.0.1 is critical "no response", for v2c and for v3."""
    port = free_udp_port()
    v2c = await run(
        context, port, oid=SYS_NAME, timeout="2s", request_timeout="200ms", request_retries=2
    )
    assert (v2c.status, v2c.summary) == (
        Status.CRITICAL,
        f"no response from 127.0.0.1:{port} after 3 tries (agent down or wrong community)",
    )
    v3 = await run(
        context,
        port,
        oid=SYS_NAME,
        timeout="2s",
        request_timeout="200ms",
        request_retries=0,
        **PRIV,
    )
    assert (v3.status, v3.summary) == (
        Status.CRITICAL,
        f"no response from 127.0.0.1:{port} after 1 try",
    )


async def test_v3_survives_an_agent_reboot_and_a_new_engine_id(context, tmp_path):
    """After a reboot (same engine ID, engineBoots + 1) the next run is ok; after the agent's
    engine ID changed (a replaced device) the run that notices asks again and is ok too,
    instead of failing until pysnmp's engine-ID cache expires."""
    device = Snmpd(tmp_path / "device").start()
    check = make(
        context,
        device.port,
        oid=SYS_NAME,
        timeout="3s",
        request_timeout="300ms",
        request_retries=0,
        **PRIV,
    )
    try:
        assert (await execute(check)).status is Status.OK
        device.restart()
        first_id = device.engine_id()
        assert (await execute(check)).status is Status.OK
        device.restart(new_engine_id=True)
        replaced = await execute(check)
        device.stop()
        assert device.engine_id() != first_id
        assert (replaced.status, replaced.summary) == (Status.OK, f"{SYS_NAME} = test-router")
    finally:
        await check.close()
        device.stop()


async def test_an_agent_on_ipv6_loopback(context, tmp_path):
    """An IPv6 literal host is asked over UDP/IPv6 and shown bracketed in summaries."""
    try:
        free_udp_port("::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    six = Snmpd(tmp_path / "snmpd6", host="::1").start()
    try:
        data = {"name": "v6", "type": "snmp", "host": "::1", "port": six.port}
        check = SnmpCheck(
            SnmpCheck.Config.model_validate(
                {**data, "community": COMMUNITY, "oids": [SYS_NAME, "1.3.6.1.2.1.1.99.0"]}
            ),
            context,
        )
        result = await execute(check)
        await check.close()
    finally:
        six.stop()
    assert result.summary == f"1.3.6.1.2.1.1.99.0 does not exist on [::1]:{six.port} (noSuchObject)"


async def test_a_silent_agent_does_not_stall_another_check(context, agent):
    """Run together, a check of a dead port is still waiting when a live check has finished."""
    dead = make(
        context,
        free_udp_port(),
        oid=SYS_NAME,
        timeout="2s",
        request_timeout="500ms",
        request_retries=1,
    )
    live = make(context, agent.port, oid=SYS_NAME, expect="test-router")
    try:
        dead_run = asyncio.create_task(execute(dead))
        await asyncio.sleep(0.05)  # the dead check's request is in flight first
        live_run = asyncio.create_task(execute(live))
        done, _ = await asyncio.wait({dead_run, live_run}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {live_run}
        assert live_run.result().status is Status.OK
        assert not dead_run.done()
        assert (await dead_run).status is Status.CRITICAL
    finally:
        await dead.close()
        await live.close()


async def escalatord(config: Path, *args: str) -> tuple[int, str, str]:
    """`python -m escalatord ARGS --config CONFIG` as a process: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "escalatord",
        *args,
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.e2e
async def test_the_cli_shows_what_a_user_sees(tmp_path: Path, agent: Snmpd):
    """`escalatord check NAME` prints the summary and exits like a monitoring plugin."""
    agent.set_state(router_interfaces())
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"

        [[check]]
        name = "boston-wan"
        type = "snmp"
        host = "127.0.0.1"
        port = {agent.port}
        oid = "IF-MIB::ifOperStatus.4"
        expect = "1"
        community = "{COMMUNITY}"

        [[check]]
        name = "core-uptime"
        type = "snmp"
        host = "127.0.0.1"
        port = {agent.port}
        version = "3"
        user = "privuser"
        auth_key = "{V3_AUTH_KEY}"
        priv_key = "{V3_PRIV_KEY}"
        oid = "SNMPv2-MIB::sysName.0"
        """)
    )
    code, out, err = await escalatord(config, "check", "boston-wan")
    assert code == 2, out + err
    assert out.startswith("boston-wan: CRITICAL — IF-MIB::ifOperStatus.4 is '2', expected '1' (")
    code, out, err = await escalatord(config, "check", "core-uptime", "--json")
    assert code == 0, out + err
    shown = json.loads(out)
    assert (shown["status"], shown["summary"]) == ("ok", "SNMPv2-MIB::sysName.0 = test-router")
    assert V3_PRIV_KEY not in out + err
