"""The apprise notifier through a real Apprise URL (json://) to a loopback HTTP server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator

import pytest

from escalatord import plugins
from escalatord.config.loader import load_text
from escalatord.core.events import Event
from escalatord.errors import ConfigError, NotifyError
from escalatord.notify.apprise import AppriseNotifier
from tests.support.http_target import HttpTarget
from tests.support.notifications import ACK_URL, sample

# Apprise imports the stdlib's deprecated imghdr; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        yield target


@pytest.fixture
def target(server: HttpTarget) -> HttpTarget:
    server.respond(200, "ok")
    server.requests.clear()
    return server


def json_url(target: HttpTarget, path: str = "/apprise") -> str:
    return target.url(path).replace("http://", "json://")


async def send(urls: list[str], *notifications) -> None:
    config = {"name": "chat", "type": "apprise", "urls": urls}
    notifier = AppriseNotifier(AppriseNotifier.Config.model_validate(config))
    try:
        for n in notifications:
            await notifier.send(n)
    finally:
        await notifier.close()


def test_registry_resolves_apprise_type():
    """`type = "apprise"` resolves to the apprise notifier."""
    assert plugins.load("notifiers", "apprise") is AppriseNotifier


async def test_page_reaches_the_service_with_title_body_and_link(target):
    """Apprise delivers the title and the text (with the ack link) as a failure-type message."""
    await send([json_url(target)], sample())
    [request] = target.requests
    body = request.json()
    assert request.path == "/apprise"
    assert body["title"] == "[CRITICAL] hl7-adt-feed is CRITICAL"
    assert f"Acknowledge: {ACK_URL}" in body["message"]
    assert body["type"] == "failure"


async def test_resolution_is_a_success_type_message(target):
    """A resolution is sent with Apprise's success type."""
    await send([json_url(target)], sample(Event.RESOLVED))
    assert target.requests[0].json()["type"] == "success"


async def test_failure_is_retryable_and_hides_the_url(target):
    """A service error comes back as a retryable failure quoting Apprise, without the URL."""
    target.respond(500, "down")
    url = json_url(target, "/apprise?token=very-secret-token")
    with pytest.raises(NotifyError) as caught:
        await send([url], sample())
    assert caught.value.retryable
    assert "not delivered" in str(caught.value)
    assert "very-secret-token" not in str(caught.value)


def test_urls_apprise_does_not_know_are_config_errors(caplog):
    """A URL Apprise cannot use is refused when the config is loaded, naming its scheme; the
    URL's secret shows neither in the error nor in the log."""
    text = """
        [[notifier]]
        name = "chat"
        type = "apprise"
        urls = ["json://127.0.0.1:9/ok", "nosuchservice://secret-token@host"]
    """
    with pytest.raises(ConfigError) as caught:
        load_text(text)
    [problem] = caught.value.problems
    assert problem.path == "notifier[chat].urls"
    assert "urls[1] (scheme 'nosuchservice')" in problem.message
    assert "secret-token" not in str(caught.value) and "secret-token" not in caplog.text


def test_urls_file_gives_one_url_a_line():
    """urls_file content is read one URL a line, skipping blanks and comments."""
    config = AppriseNotifier.Config.model_validate(
        {
            "name": "x",
            "type": "apprise",
            "urls": "# chat\njson://127.0.0.1:9/a\n\njson://127.0.0.1:9/b\n",
        }
    )
    assert [u.get_secret_value() for u in config.urls] == [
        "json://127.0.0.1:9/a",
        "json://127.0.0.1:9/b",
    ]


async def test_delivery_while_the_loops_shared_threads_are_busy(target):
    """Apprise runs in the notifier's own threads: with the event loop's default executor
    held by a hung job (a stat() on a dead NFS mount), a page is still delivered."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    hung = threading.Event()
    blocker = loop.run_in_executor(None, hung.wait, 30)
    try:
        await asyncio.wait_for(send([json_url(target)], sample()), 20)
        assert len(target.requests) == 1
    finally:
        hung.set()
        await blocker
