"""`escalatord satellite` as a process on loopback: with its own --config it runs that file's
checks, says READY=1 to systemd, its results reach the central daemon, and SIGTERM stops it
cleanly; a wrong token is refused and the results stay buffered; plain http to another host is
refused without --allow-http."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.app import page_everything
from tests.support.daemon import DaemonProcess, wait_until
from tests.support.http_target import HttpTarget
from tests.support.net import free_port
from tests.support.sd_notify import NotifySocket

TOKEN = "boston-satellite-token-0123456789"


def central_config(tmp_path: Path, port: int, office: HttpTarget, sink: HttpTarget) -> Path:
    path = tmp_path / "central.toml"
    path.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/central.db"
        listen = "127.0.0.1:{port}"

        [[satellite]]
        name = "boston"
        sites = ["boston"]
        token = "{TOKEN}"

        [[check]]
        name = "boston-web"
        type = "http"
        url = "{office.url("/web")}"
        interval = "300ms"
        labels = {{ site = "boston" }}
        {page_everything(sink.url("/hook"))}
        """)
    )
    return path


def satellite_config(tmp_path: Path, office: HttpTarget) -> Path:
    """The satellite's own file: the office's check, as an escalatord config."""
    path = tmp_path / "satellite.toml"
    path.write_text(
        f'[[check]]\nname = "boston-web"\ntype = "http"\nurl = "{office.url("/web")}"\n'
        'interval = "300ms"\nlabels = { site = "boston" }\n'
    )
    return path


def satellite(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(tmp_path / "satellite.log", "ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "escalatord",
            "satellite",
            "--name",
            "boston",
            "--state-dir",
            str(tmp_path / "state"),
            "--push-every",
            "0.2",
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def events(text: str, name: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == name:
            out.append(event)
    return out


def test_a_satellite_with_its_own_config_reports_to_the_central_daemon(tmp_path: Path) -> None:
    """READY=1 once running; its results are applied centrally; SIGTERM exits 0."""
    with HttpTarget() as office, HttpTarget() as sink, NotifySocket(tmp_path / "n") as notify:
        port = free_port()
        daemon = DaemonProcess(
            central_config(tmp_path, port, office, sink), port, tmp_path / "central.log"
        ).start()
        proc = satellite(
            tmp_path,
            "--central",
            f"http://127.0.0.1:{port}",
            "--config",
            str(satellite_config(tmp_path, office)),
            env={"ESCALATORD_SATELLITE_TOKEN": TOKEN, **notify.env()},
        )
        try:
            wait_until(
                lambda: any(m.startswith("READY=1") for m in notify.received()), what="READY=1"
            )
            wait_until(
                lambda: any(e.get("applied") for e in events(daemon.logs(), "satellite_batch")),
                what="a result applied at the central daemon",
            )
            assert office.requests, "the satellite probed the target"
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(20)
            assert daemon.stop() == 0
        log = (tmp_path / "satellite.log").read_text()
        assert code == 0, log
        assert "STOPPING=1" in notify.received()
        assert events(log, "satellite_stopped")
        assert TOKEN not in log and TOKEN not in daemon.logs(), "the token is never logged"
        assert sink.requests == []


def test_a_wrong_token_is_refused_and_results_stay_buffered(tmp_path: Path) -> None:
    """The central daemon answers 403: the satellite logs central_refused, delivers nothing."""
    with HttpTarget() as office, HttpTarget() as sink:
        port = free_port()
        daemon = DaemonProcess(
            central_config(tmp_path, port, office, sink), port, tmp_path / "central.log"
        ).start()
        proc = satellite(
            tmp_path,
            "--central",
            f"http://127.0.0.1:{port}",
            "--token",
            "x" * 32,
            "--config",
            str(satellite_config(tmp_path, office)),
        )
        try:
            wait_until(
                lambda: events((tmp_path / "satellite.log").read_text(), "central_refused"),
                what="the refusal logged",
            )
        finally:
            proc.terminate()
            proc.wait(20)
            daemon.stop()
        log = (tmp_path / "satellite.log").read_text()
        assert "wrong token" in events(log, "central_refused")[0]["error"]
        assert not events(log, "batch_delivered")
        assert events(log, "satellite_stopped")[-1]["buffered"] > 0


def test_plain_http_to_another_host_needs_allow_http(tmp_path: Path) -> None:
    """--central http://198.18.0.1 (not loopback) without --allow-http: exit 2, naming https."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "escalatord",
            "satellite",
            "--central",
            "http://198.18.0.1:1",
            "--token",
            TOKEN,
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "use https://" in done.stderr and "--allow-http" in done.stderr
