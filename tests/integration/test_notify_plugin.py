"""A notifier type from a separate package: tests/plugins/escalatord-notify-example is
installed (its metadata written to a temporary site directory, no network, no pip) and its
`pager_gateway` type is then found through the `escalatord.notifiers` entry point, validated by
its own model, and used by the dispatcher and by `escalatord test-notify`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from escalatord import plugins
from escalatord.config.loader import load_text
from escalatord.config.model import PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.core.rules import Decision
from escalatord.errors import ConfigError
from escalatord.incidents import service
from escalatord.notify.dispatcher import Dispatcher
from escalatord.store.db import Store
from tests.support.http_target import HttpTarget

PACKAGE = Path(__file__).parents[1] / "plugins" / "escalatord-notify-example"
TOKEN = "gateway-token-0123456789"


def install(site: Path) -> list[str]:
    """Write the package's .dist-info (from its pyproject) into `site`, as pip would; returns
    the sys.path entries that make it importable and discoverable."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    info = site / f"escalatord_notify_example-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return [str(site), str(PACKAGE / "src")]


@pytest.fixture
def installed(tmp_path, monkeypatch) -> Iterator[list[str]]:
    paths = install(tmp_path / "site")
    for entry in paths:
        monkeypatch.syspath_prepend(entry)
    plugins._entry_points.cache_clear()
    plugins.load.cache_clear()
    yield paths
    monkeypatch.undo()
    plugins._entry_points.cache_clear()
    plugins.load.cache_clear()
    sys.modules.pop("escalatord_notify_example", None)


@pytest.fixture
def gateway() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        target.respond(200, "queued")
        yield target


def config_text(gateway: HttpTarget, extra: str = "") -> str:
    return textwrap.dedent(f"""
        [[notifier]]
        name = "ward-pagers"
        type = "pager_gateway"
        url = "{gateway.url("/send")}"
        token = "{TOKEN}"
        pagers = ["4711", "4712"]
    """) + textwrap.dedent(extra)


def test_the_type_is_found_through_its_entry_point(installed, gateway):
    """Once installed, `pager_gateway` is a known notifier type and its own model validates
    the section (its keys, plus the keys every notifier has)."""
    assert plugins.available("notifiers")["pager_gateway"] == (
        "escalatord_notify_example:PagerGatewayNotifier"
    )
    config = load_text(
        config_text(gateway, 'fallback = "log"\n[[notifier]]\nname = "log"\ntype = "log"')
    )
    notifier = config.notifier_by_name["ward-pagers"]
    assert type(notifier).__name__ == "PagerGatewayConfig"
    assert notifier.fallback == "log" and TOKEN not in repr(notifier)
    with pytest.raises(ConfigError) as caught:
        load_text(config_text(gateway, "colour = 'red'"))
    assert caught.value.problems[0].path == "notifier[ward-pagers].colour"


def test_without_the_package_the_type_is_unknown(gateway):
    """Not installed, the type is refused with the list of known types."""
    plugins._entry_points.cache_clear()
    with pytest.raises(ConfigError) as caught:
        load_text(config_text(gateway))
    assert "unknown notifier type 'pager_gateway'; known types:" in str(caught.value)


async def test_the_dispatcher_delivers_through_the_plugin(installed, gateway, store):
    """A page to the plugin's notifier reaches both pagers with the short text and ack link
    slot, the token as a bearer header, and is recorded as delivered."""
    config = load_text(config_text(gateway))
    cfg = config.notifier_by_name["ward-pagers"]
    notifier = plugins.load("notifiers", cfg.type)(cfg)
    policy = snapshot(
        PolicyConfig.model_validate(
            {"name": "p", "level": [{"after": "0s", "notify": ["ward-pagers"]}]}
        )
    )
    now = datetime.now(UTC)
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="ward-7-monitor",
            check="ward-7-monitor",
            labels={},
            status="critical",
            summary="no signal",
            decision=Decision(("r",), "critical", "p", "", "", ()),
            policy_snapshot=policy,
            now=now,
        )
        await service.fire_due_steps(conn, now)
    dispatcher = Dispatcher(store, {"ward-pagers": notifier}, poll=0.05)
    await dispatcher.dispatch_once()
    await dispatcher.drain(5)
    assert dispatcher.sent == 1
    forms = [parse_qs(r.body.decode()) for r in gateway.requests]
    assert [f["to"][0] for f in forms] == ["4711", "4712"]
    assert forms[0]["text"][0] == "[CRITICAL] ward-7-monitor is CRITICAL: no signal"
    assert forms[0]["priority"][0] == "high"
    assert gateway.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    async with store.read() as conn:
        kinds = [e.kind for e in await service.get_timeline(conn, incident_id)]
    assert kinds[-1] == "delivered"


async def test_test_notify_uses_the_plugin(installed, gateway, tmp_path):
    """`escalatord test-notify` in a separate process finds the installed plugin and sends
    through it."""
    config = tmp_path / "escalatord.toml"
    config.write_text(f'[daemon]\ndatabase = "sqlite:///{tmp_path}/e.db"\n' + config_text(gateway))
    async with Store(f"sqlite:///{tmp_path}/e.db"):
        pass  # the database, as `escalatord run` leaves it: test-notify does not create one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(installed)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "escalatord",
        "test-notify",
        "ward-pagers",
        "--config",
        str(config),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "delivered to ward-pagers (pager_gateway)" in out.decode()
    texts = [parse_qs(r.body.decode())["text"][0] for r in gateway.requests]
    assert texts and all(t.startswith("[TEST] escalatord test notification") for t in texts)
