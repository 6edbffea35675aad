"""End to end with the daemon as a process and a webhook sink on loopback: a check whose target
alternates between failing and answering on every run is paged once as flapping, not once per
change; the checks listing, /metrics and `escalatord incidents` say so."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget, Reply

pytestmark = pytest.mark.e2e
TOKEN = "read-token-0123456789abcdef"
RUNS = 20  # alternating results: fail, answer, fail, …


def write_config(tmp_path: Path, target: HttpTarget, sink: HttpTarget, port: int) -> Path:
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "1s"
        timeout = "2s"
        retries = 1

        [api]
        read_tokens = ["{TOKEN}"]

        [[check]]
        name = "hl7-feed"
        type = "http"
        url = "{target.url("/feed")}"
        labels = {{ team = "integration" }}

        [[rule]]
        name = "integration"
        match = {{ team = "integration" }}
        policy = "integration"

        [[policy]]
        name = "integration"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{sink.url("/hook")}"
        """)
    )
    return config


def triggered(sink: HttpTarget) -> list[dict[str, Any]]:
    """The incidents of the triggered pages the sink received, in order."""
    found = [r.json() for r in list(sink.requests) if r.path == "/hook"]
    return [p["incident"] for p in found if p["event"] == "triggered"]


def test_an_alternating_target_gives_one_flapping_page(tmp_path):
    """20 alternating runs page the first few changes as problems (before the score passes
    30%), then one flapping page and nothing more; the check is listed as flapping."""
    with HttpTarget() as target, HttpTarget() as sink:
        target.then(*(Reply(500 if n % 2 == 0 else 200) for n in range(RUNS)))
        target.respond(200, "fine", path="/feed")  # after the alternation: steady
        sink.respond(200, "thanks", path="/hook")
        port = free_port()
        config = write_config(tmp_path, target, sink, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            wait_until(lambda: len(target.requests) >= RUNS + 2, 60, "the alternating runs")
            base = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            listed = httpx.get(f"{base}/api/v1/checks", headers=auth, timeout=5).json()
            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            shown = cli(config, "incidents").stdout
            incidents = json.loads(cli(config, "incidents", "--all", "--json").stdout)
        finally:
            daemon.stop()
    pages = triggered(sink)
    titles = [p["title"] for p in pages]
    # Changes 1..5 of c,o,c,o,c,o score at most 28.5%: three problems opened and resolved.
    # The 6th change (33.9%) starts flapping: one page, and none for the 14 changes after it.
    assert titles == ["hl7-feed is CRITICAL"] * 3 + ["hl7-feed is flapping"], titles
    assert pages[-1]["summary"].startswith("hl7-feed is flapping (state changed 6 times")
    [check] = [c for c in listed["checks"] if c["name"] == "hl7-feed"]
    assert check["flapping"] is True
    assert "escalatord_checks_flapping 1" in metrics.splitlines()
    assert "[flapping] hl7-feed is flapping" in shown
    kinds = sorted(i["kind"] for i in incidents)
    assert kinds == ["flapping", "problem", "problem", "problem"]
