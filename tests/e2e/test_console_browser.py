"""The web console in real Chromium (Debian's `chromium`, driven by Playwright for Python) against
the daemon as a process: signing in through the form, the board with a failing check and its
incident, acknowledging it on the incident's page (the CLI then says who), a second failure
appearing without reloading, closing with a note, a viewer unable to acknowledge, and the public
/status page with no internal detail. Skipped, with the install line, without chromium or playwright
(tests/support/browser.py). Screenshots are kept as test artefacts."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import is_png, launched, needs_browser, screenshot
from tests.support.cli_output import output
from tests.support.console import PASSWORDS, persons_toml
from tests.support.daemon import DaemonProcess, cli, free_port, wait_until
from tests.support.http_target import HttpTarget

pytestmark = [pytest.mark.e2e, needs_browser()]

WAIT = 20_000  # ms: the daemon runs a check each second, the board fetches its part each 5 s
# Checks failing from the start, one per test that acts on its incident; mail-paris starts ok.
FAILING = ("db-boston-01", "pharmacy-boston", "lab-boston")
INTERNAL = (*FAILING, "mail-paris", "127.0.0.1", "10.9.8.7", "wiki.internal", "network-team",
            "runbook", "Call the vendor", "rick", "vera", "ada", "Example")  # fmt: skip


@dataclass
class Console:
    config: Path
    target: HttpTarget
    url: str

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident, as `escalatord incidents --all --json` prints it."""
        done = cli(self.config, "incidents", "--all", "--json", check=False)
        assert done.returncode == 0, output(done)
        return json.loads(done.stdout)

    def incident(self, check: str) -> dict[str, Any]:
        """The first incident of `check` (a check failing on after a close opens another)."""
        return min((i for i in self.incidents() if i["check"] == check), key=lambda i: int(i["id"]))

    def by_id(self, incident_id: str) -> dict[str, Any]:
        [found] = [i for i in self.incidents() if i["id"] == incident_id]
        return found


def write_config(tmp: Path, target: HttpTarget, port: int) -> Path:
    checks = "".join(
        f'\n[[check]]\nname = "{name}"\ntype = "http"\nurl = "{target.url("/" + name)}"\n'
        'labels = { site = "boston" }\n'
        for name in FAILING
    )
    config = tmp / "escalatord.toml"
    config.write_text(
        textwrap.dedent(f"""
        [daemon]
        database = "sqlite:///{tmp}/escalatord.db"
        listen = "127.0.0.1:{port}"
        tick = "200ms"

        [defaults]
        interval = "1s"
        timeout = "2s"
        retries = 1

        [web]
        enabled = true
        public_status = true
        title = "St Mary operations"

        [[category]]
        name = "patient-care"
        priority = 1
        [[category]]
        name = "office"
        priority = 3

        [[check]]
        name = "mail-paris"
        type = "http"
        url = "{target.url("/mail-paris")}"
        description = "mail relay 10.9.8.7"
        labels = {{ site = "paris" }}

        [[rule]]
        name = "care"
        match = {{ site = "boston" }}
        severity = "critical"
        policy = "page"
        category = "patient-care"
        owner = "network-team"
        runbook = "https://wiki.internal/runbooks/boston"
        steps = ["Call the vendor"]

        [[rule]]
        name = "office"
        match = {{ site = "paris" }}
        severity = "critical"
        policy = "page"
        category = "office"

        [[policy]]
        name = "page"
          [[policy.level]]
          after = "0s"
          notify = ["hook"]

        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{target.url("/hook")}"
        """)
        + checks
        + persons_toml()
    )
    return config


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The daemon with the console on, once the failing checks' incidents are open."""
    tmp = tmp_path_factory.mktemp("console")
    with HttpTarget() as target:
        target.respond(200, "thanks", path="/hook")
        target.respond(200, "all good", path="/mail-paris")
        for name in FAILING:
            target.respond(500, f"{name} is down", path=f"/{name}")
        port = free_port()
        config = write_config(tmp, target, port)
        daemon = DaemonProcess(config, port, tmp / "daemon.log").start()
        ready = Console(config, target, f"http://127.0.0.1:{port}")
        try:
            wait_until(lambda: {i["check"] for i in ready.incidents()} >= set(FAILING), 30,
                       "the failing checks' incidents")  # fmt: skip
            yield ready
        finally:
            daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launched(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def visit(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context (no cookie) on the console; call it for a new page."""
    context = browser.new_context(base_url=console.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(WAIT)
    yield context.new_page
    context.close()


def sign_in(page: Any, name: str) -> None:
    """Open the board, get sent to the form, fill it in and land back on the board."""
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .who")).to_contain_text(f"{name.title()} Example")


def test_responder_signs_in_and_sees_the_failing_check_and_its_incident(console, visit, tmp_path):
    """rick signs in through the form; the board shows db-boston-01 critical under boston and
    its open incident; the screenshot of the board is kept."""
    from playwright.sync_api import expect

    page = visit()
    sign_in(page, "rick")
    incident = console.incident("db-boston-01")
    expect(page.locator("header .who")).to_contain_text("responder")
    row = page.locator('tr.check[data-check="db-boston-01"]')
    expect(row.locator(".badge")).to_have_text("critical")
    expect(page.locator("details.site", has=row).locator(".site-name")).to_have_text("boston")
    shown = page.locator(f'li.incident[data-incident="{incident["id"]}"]')
    expect(shown).to_contain_text(incident["title"])
    expect(shown).to_contain_text("patient-care")
    saved = screenshot(page, "console-board.png", tmp_path)
    assert all(is_png(path) for path in saved), saved


def test_a_second_failure_appears_without_reloading(console, visit):
    """With the board open, mail-paris starts failing: its row turns critical and its incident
    is listed by the page's own polling, the page never reloaded."""
    from playwright.sync_api import expect

    page = visit()
    sign_in(page, "vera")
    mail = page.locator('tr.check[data-check="mail-paris"]')
    expect(mail.locator(".badge")).to_have_text("ok")
    page.evaluate("window.sameDocument = true")  # gone if the page were loaded again

    console.target.respond(500, "relay refused", path="/mail-paris")
    expect(mail.locator(".badge")).to_have_text("critical", timeout=WAIT)
    wait_until(lambda: any(i["check"] == "mail-paris" for i in console.incidents()), 20,
               "mail-paris's incident")  # fmt: skip
    listed = page.locator(f'li.incident[data-incident="{console.incident("mail-paris")["id"]}"]')
    expect(listed).to_be_visible(timeout=WAIT)
    paris = page.locator("details.site", has=mail).locator("summary .count")
    expect(paris).to_have_text("1 of 1 failing")
    assert page.evaluate("window.sameDocument") is True


def test_public_status_shows_sites_and_categories_and_nothing_internal(console, visit):
    """/status, without signing in, names each site and category with its word and shows no
    check name, host, URL, owner, runbook or person."""
    from playwright.sync_api import expect

    page = visit()
    page.goto("/status")
    expect(page.get_by_role("heading", name="Status")).to_be_visible()
    boston = page.locator("ul.states li", has_text="boston")
    expect(boston.locator(".state")).to_have_text("down")
    expect(page.locator("ul.states li", has_text="patient-care").locator(".state")).to_have_text(
        "down"
    )
    text = page.locator("main").text_content() or ""  # as written, not as styled (uppercase)
    assert "paris" in text and "office" in text
    html = page.content()
    leaked = [word for word in INTERNAL if word.lower() in html.lower()]
    assert not leaked, leaked
    assert str(console.target.port) not in html
    assert page.context.cookies() == []


def test_responder_acknowledges_with_a_click_and_the_cli_says_who(console, visit, tmp_path):
    """rick opens db-boston-01's incident from the board and clicks Acknowledge: the page and
    its timeline say acknowledged by rick, and so does `escalatord incidents`; the screenshot
    of the incident is kept."""
    from playwright.sync_api import expect

    page = visit()
    sign_in(page, "rick")
    incident_id = console.incident("db-boston-01")["id"]
    page.locator(f'li.incident[data-incident="{incident_id}"] a').click()
    expect(page).to_have_url(f"{console.url}/incidents/{incident_id}")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.locator("#timeline")).to_be_visible()

    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(page.locator(".acked-by")).to_contain_text("rick")
    expect(page.locator('#timeline tr[data-kind="acknowledged"]')).to_contain_text("rick")
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    saved = screenshot(page, "console-incident.png", tmp_path)
    assert all(is_png(path) for path in saved), saved

    shown = console.by_id(incident_id)
    assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", "rick")
    listing = cli(console.config, "incidents")
    assert "acknowledged by rick" in listing.stdout, output(listing)


def test_responder_closes_an_incident_with_a_note(console, visit):
    """rick closes lab-boston's incident with a note: the page shows it closed with the note and
    no more actions, and the CLI has the note."""
    from playwright.sync_api import expect

    page = visit()
    sign_in(page, "rick")
    incident_id = console.incident("lab-boston")["id"]
    page.goto(f"/incidents/{incident_id}")
    note = "Replaced the lab analyser's network card"
    page.get_by_label("Close with a note").fill(note)
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#incident-status")).to_have_text("closed")
    expect(page.locator("#incident")).to_contain_text(note)
    expect(page.get_by_role("button", name="Close", exact=True)).to_have_count(0)
    shown = console.by_id(incident_id)
    assert (shown["status"], shown["close_note"]) == ("closed", note)


def test_viewer_cannot_acknowledge(console, visit):
    """vera (viewer) sees pharmacy-boston's incident with no Acknowledge button, and posting
    the acknowledge form anyway with her session's token is refused: the incident stays
    unacknowledged."""
    from playwright.sync_api import expect

    page = visit()
    sign_in(page, "vera")
    incident_id = console.incident("pharmacy-boston")["id"]
    page.goto(f"/incidents/{incident_id}")
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.get_by_role("button", name="Acknowledge", exact=True)).to_have_count(0)
    token = page.locator('header input[name="csrf"]').get_attribute("value")
    forged = page.request.post(f"/incidents/{incident_id}/acknowledge", form={"csrf": token})
    assert forged.status == 403, forged.text()
    assert "responder" in forged.text()
    shown = console.by_id(incident_id)
    assert (shown["status"], shown["acknowledged_by"]) == ("triggered", None)
