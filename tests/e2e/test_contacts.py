"""End to end with the daemon as a process and a webhook sink on loopback: `escalatord
test-contacts` (another process) queues one test message per contact, the running daemon
delivers them with a confirm link, following the link (POST) confirms the contact, `people`
shows it, and `lint` reports the contacts never confirmed before and not after."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli_output import output
from tests.support.daemon import DaemonProcess, cli, free_port
from tests.support.http_target import HttpTarget

pytestmark = pytest.mark.e2e


def write_config(tmp_path: Path, target: HttpTarget, port: int) -> Path:
    config = tmp_path / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp_path}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [[check]]
        name = "web"
        type = "tcp"
        host = "127.0.0.1"
        port = {port}

        [[rule]]
        name = "all"
        policy = "p"

        [[policy]]
        name = "p"
          [[policy.level]]
          after = "0s"
          notify = ["alice", "bob"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"

        [[person]]
        name = "alice"
        full_name = "Alice Moreau"
          [[person.contact]]
          notifier = "hook"
          to = "alice-phone"
          [[person.contact]]
          notifier = "hook"
          to = "alice-mail"
          after = "5m"

        [[person]]
        name = "bob"
          [[person.contact]]
          notifier = "hook"
          to = "bob-phone"
        """)
    )
    return config


def received_tests(target: HttpTarget) -> list[dict[str, Any]]:
    found = [r.json() for r in list(target.requests) if r.path == "/hook"]
    return [p for p in found if p["event"] == "test"]


def unconfirmed(config: Path) -> list[str]:
    proc = cli(config, "lint", "--json", check=False)
    return [f["key"] for f in json.loads(proc.stdout) if f["kind"] == "contact-unconfirmed"]


def test_contacts_are_tested_confirmed_listed_and_linted(tmp_path):
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        port = free_port()
        config = write_config(tmp_path, target, port)
        daemon = DaemonProcess(config, port, tmp_path / "d.log").start()
        try:
            sent = cli(config, "test-contacts", check=False)
            assert sent.returncode == 0, output(sent)
            assert "3 test message(s) queued" in sent.stdout
            assert "alice contact 1 (hook -> alice-mail): delivered" in sent.stdout
            assert "bob contact 0 (hook -> bob-phone): delivered" in sent.stdout

            received = received_tests(target)
            assert sorted(m["to"] for m in received) == ["alice-mail", "alice-phone", "bob-phone"]
            links = {}
            for m in received:
                incident = m["incident"]
                assert incident["id"] == "contact-test" and incident["ack_url"] is None
                assert incident["title"].startswith("TEST from escalatord for ")
                assert m["person"]["name"] == m["to"].split("-")[0]
                [link] = re.findall(r"http://\S+/confirm/\S+", incident["summary"])
                links[m["to"]] = link

            assert unconfirmed(config) == [
                "person[alice].contact[0]",
                "person[alice].contact[1]",
                "person[bob].contact[0]",
            ]
            listed = cli(config, "people")
            assert listed.stdout.count("never confirmed") == 3, listed.stdout

            # A link previewer's GET changes nothing; the button's POST confirms.
            shown = httpx.get(links["alice-phone"])
            assert shown.status_code == 200 and "Confirm this contact?" in shown.text
            assert len(unconfirmed(config)) == 3
            posted = httpx.post(links["alice-phone"])
            assert posted.status_code == 200, posted.text
            assert "Contact confirmed" in posted.text
            assert httpx.post(links["alice-phone"]).status_code == 410  # works once

            assert unconfirmed(config) == ["person[alice].contact[1]", "person[bob].contact[0]"]
            people = json.loads(cli(config, "people", "--json").stdout)
            alice = people[0]
            assert (alice["name"], alice["full_name"]) == ("alice", "Alice Moreau")
            phone, mail = alice["contacts"]
            assert phone["confirmed_at"] is not None and mail["confirmed_at"] is None
            assert phone["last_test"]["delivery"] == "delivered"
            assert (mail["to"], mail["after"]) == ("alice-mail", "5m")
            text = cli(config, "people").stdout
            assert text.count("never confirmed") == 2

            # --person tests only that person's contacts.
            again = cli(config, "test-contacts", "--person", "bob", check=False)
            assert again.returncode == 0, output(again)
            assert "1 test message(s) queued" in again.stdout
            unknown = cli(config, "test-contacts", "--person", "nobody", check=False)
            assert unknown.returncode == 2 and "no person named 'nobody'" in unknown.stderr
        finally:
            daemon.stop()
