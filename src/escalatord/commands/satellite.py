"""`escalatord satellite`: a remote office's satellite (satellite/agent.py, docs/satellites.md).

    escalatord satellite --central https://escalatord.example.org --name boston \\
        --token-file /etc/escalatord/satellite.token

Without `--config` the checks are fetched from the central daemon (the checks of the sites its
`[[satellite]]` serves) and kept in the state directory for a start while the link is down;
with `--config` they are the enabled active checks of that file. Runs in the foreground until
SIGTERM or SIGINT (systemd: Type=notify; READY=1 once the checks run).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import click

from escalatord.commands.common import fail
from escalatord.commands.common import load_config as _load
from escalatord.commands.common import run_async as _run


@click.command()
@click.option("--central", required=True, help="The central daemon's URL (https://…).")
@click.option(
    "--token",
    envvar="ESCALATORD_SATELLITE_TOKEN",
    help="The [[satellite]] token (or $ESCALATORD_SATELLITE_TOKEN, or --token-file).",
)
@click.option("--token-file", type=click.Path(dir_okay=False), help="A file holding the token.")
@click.option(
    "--name",
    default=socket.gethostname,
    show_default="the host name",
    help="This satellite's [[satellite]] name at the central daemon.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Run this file's checks instead of fetching them from the central daemon.",
)
@click.option(
    "--state-dir",
    default="/var/lib/escalatord-satellite",
    show_default=True,
    help="Where the result buffer and the fetched checks are kept.",
)
@click.option("--ca-file", type=click.Path(dir_okay=False), help="CA bundle for the central's TLS.")
@click.option("--allow-http", is_flag=True, help="Allow plain http to a non-loopback central.")
@click.option("--push-every", default=2.0, show_default=True, help="Seconds between pushes.")
@click.option(
    "--buffer-limit",
    default=100_000,
    show_default=True,
    help="Results kept while the central is out of reach; the oldest go first.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def satellite(
    central: str,
    token: str | None,
    token_file: str | None,
    name: str,
    config_path: str | None,
    state_dir: str,
    ca_file: str | None,
    allow_http: bool,
    push_every: float,
    buffer_limit: int,
    log_level: str,
) -> None:
    """Run a remote site's checks and push their results to the central daemon."""
    from escalatord import logging as eslog
    from escalatord.satellite.uplink import check_central

    eslog.configure(log_level)
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as exc:
            fail([f"error: --token-file {token_file}: {exc.strerror}"], 2)
    if not token:
        fail(
            ["error: give the satellite's token: --token-file PATH or $ESCALATORD_SATELLITE_TOKEN"],
            2,
        )
    if problem := check_central(central, allow_http=allow_http):
        fail([f"error: {problem}"], 2)
    checks = None
    if config_path:
        from escalatord.satellite.agent import runnable

        checks = runnable(_load(config_path).checks)
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        fail([f"error: --state-dir {state_dir}: {exc.strerror}; give a writable directory"], 1)
    _run(_serve(central, name, token, checks, state_dir, ca_file, push_every, buffer_limit))


async def _serve(
    central: str,
    name: str,
    token: str,
    checks: list | None,
    state_dir: str,
    ca_file: str | None,
    push_every: float,
    buffer_limit: int,
) -> None:
    from escalatord.daemon import sd_notify
    from escalatord.satellite.agent import Agent, fetch_checks
    from escalatord.satellite.buffer import Buffer
    from escalatord.satellite.uplink import Uplink

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    uplink = Uplink(central, name, token, ca_file=ca_file)
    if checks is None:
        checks = await fetch_checks(uplink, os.path.join(state_dir, f"{name}.checks.json"), stop)
        if checks is None:  # stopped before the central daemon answered
            await uplink.aclose()
            return
    buffer = Buffer(os.path.join(state_dir, f"{name}.buffer.sqlite"), buffer_limit)
    agent = Agent(checks, buffer, uplink, push_every=push_every)
    try:
        await agent.run(stop, ready=lambda: sd_notify(f"READY=1\nSTATUS={len(checks)} checks"))
    finally:
        sd_notify("STOPPING=1")
