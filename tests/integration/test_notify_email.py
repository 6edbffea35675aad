"""The email notifier against a real SMTP server (aiosmtpd) on loopback: STARTTLS, implicit
TLS, AUTH, the mail's headers and parts, and how SMTP failures are classified."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from escalatord import plugins
from escalatord.core.events import Event
from escalatord.errors import NotifyError
from escalatord.notify.email import EmailNotifier
from tests.support.notifications import ACK_URL, sample
from tests.support.smtp import Certificate, SmtpServer, certificate

USERS = {"pager@example.org": "s3cret-smtp-pass"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certificate:
    return certificate(tmp_path_factory.mktemp("tls"))


def notifier(port: int, certs: Certificate | None, **keys) -> EmailNotifier:
    config = {
        "name": "oncall-mail",
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "from": "escalatord <escalatord@example.org>",
        "to": ["oncall@example.org", "Boss <boss@example.org>"],
        "username": "pager@example.org",
        "password": USERS["pager@example.org"],
        "timeout": "5s",
        **({"ca_file": str(certs.cert)} if certs else {}),
        **keys,
    }
    return EmailNotifier(EmailNotifier.Config.model_validate(config))


async def failure(mailer: EmailNotifier, event: Event = Event.TRIGGERED) -> NotifyError:
    with pytest.raises(NotifyError) as caught:
        await mailer.send(sample(event))
    return caught.value


def test_registry_resolves_email_type():
    """`type = "email"` resolves to the email notifier."""
    assert plugins.load("notifiers", "email") is EmailNotifier


async def test_page_over_starttls_with_auth(certs):
    """A page goes through STARTTLS and AUTH and arrives with subject, headers, both parts and
    the ack link."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        await notifier(smtp.port, certs).send(sample())
    [(sender, recipients, mail)] = smtp.messages
    assert sender == "escalatord@example.org"
    assert recipients == ["oncall@example.org", "boss@example.org"]
    assert smtp.auth_attempts == ["pager@example.org"]
    assert smtp.sessions[0].ssl is not None  # the mail travelled after STARTTLS
    assert mail["Subject"] == "[CRITICAL] hl7-adt-feed is CRITICAL"
    assert mail["To"] == "oncall@example.org, Boss <boss@example.org>"
    assert mail["X-Escalatord-Incident"] == "42"
    assert mail["X-Escalatord-Event"] == "triggered"
    assert mail["X-Escalatord-Severity"] == "critical"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Importance"] == "high"
    assert mail["References"] == "<incident-42.escalatord@example.org>"
    assert mail["Message-ID"].endswith(".escalatord@example.org>")
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    assert "no heartbeat for 15m" in text and f"Acknowledge: {ACK_URL}" in text
    assert "1. Check the interface engine queue" in text
    assert f"href='{ACK_URL}'" in page and ">Acknowledge</a>" in page
    assert "<li>Call the vendor support line</li>" in page


async def test_retry_has_the_same_message_id_and_thread(certs):
    """Sending one notification twice (a retry) gives the same Message-ID; all mails of an
    incident share one thread."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        mailer = notifier(smtp.port, certs)
        await mailer.send(sample())
        await mailer.send(sample())
        await mailer.send(sample(Event.RESOLVED, key="42:resolved:resolved:n"))
    ids = [m["Message-ID"] for _, _, m in smtp.messages]
    assert ids[0] == ids[1] != ids[2]
    assert len({m["References"] for _, _, m in smtp.messages}) == 1


# aiosmtpd counts only STARTTLS as TLS, and warns that AUTH over implicit TLS is "not TLS".
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls(certs):
    """security = "tls" speaks TLS from the first byte (SMTPS) and delivers."""
    async with SmtpServer(certs, "tls", USERS) as smtp:
        await notifier(smtp.port, certs, security="tls").send(sample(Event.RESOLVED))
    [(_, _, mail)] = smtp.messages
    assert mail["Subject"] == "[RESOLVED] hl7-adt-feed is CRITICAL"
    assert "Importance" not in mail


async def test_html_can_be_turned_off_and_html_is_escaped(certs):
    """html = false sends plain text only; markup in incident fields is escaped in HTML."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        await notifier(smtp.port, certs, html=False).send(sample())
        await notifier(smtp.port, certs).send(sample(summary="<script>alert(1)</script>"))
    plain, rich = (m for _, _, m in smtp.messages)
    assert plain.get_content_type() == "text/plain"
    page = rich.get_body(("html",)).get_content()
    assert "<script>" not in page and "&lt;script&gt;" in page


async def test_template_override_sets_subject_and_text(certs):
    """A template in config replaces the subject and the text part."""
    template = {"title": "PAGE $check ($severity)", "body": "Go look: $ack_url"}
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        await notifier(smtp.port, certs, template=template).send(sample())
    [(_, _, mail)] = smtp.messages
    assert mail["Subject"] == "PAGE hl7-adt-feed (critical)"
    assert mail.get_body(("plain",)).get_content().strip() == f"Go look: {ACK_URL}"


async def test_wrong_password_is_a_permanent_failure(certs):
    """A refused login is permanent (retrying will not fix it) and the password is not shown."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        error = await failure(notifier(smtp.port, certs, password="wrong-password"))
    assert not error.retryable
    assert "authentication refused: 535" in str(error)
    assert "wrong-password" not in str(error) and "oncall-mail" in str(error)


async def test_untrusted_certificate_is_a_permanent_failure(certs):
    """A server certificate the system does not trust fails at once, naming ca_file."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        error = await failure(notifier(smtp.port, None))
    assert not error.retryable
    assert "ca_file" in str(error)
    assert smtp.messages == []


async def test_server_without_starttls_is_refused_not_downgraded(certs):
    """With security = "starttls", a server that does not offer STARTTLS gets nothing."""
    async with SmtpServer(None, "none") as smtp:
        error = await failure(notifier(smtp.port, certs))
    assert not error.retryable
    assert "STARTTLS" in str(error)
    assert smtp.messages == []


async def test_refused_recipients(certs):
    """Every recipient refused (550) is permanent; one refused among others is delivered."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        error = await failure(notifier(smtp.port, certs, to=["nobody@example.org"]))
        await notifier(smtp.port, certs, to=["nobody@example.org", "ops@example.org"]).send(
            sample()
        )
    assert not error.retryable and "550" in str(error)
    assert [r for _, r, _ in smtp.messages] == [["ops@example.org"]]


async def test_no_server_is_retryable(certs):
    """Nothing listening on the port: a retryable failure."""
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        port = smtp.port
    error = await failure(notifier(port, certs))
    assert error.retryable


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"to": ["not-an-address"]}, "not an e-mail address"),
        ({"to": []}, "to"),
        ({"security": "none"}, "never sent without TLS"),
        ({"password": None}, "username and password go together"),
        ({"from": "a@b\r\nBcc: x@y"}, "one line"),
    ],
)
def test_bad_config_names_the_fix(keys, words):
    """Addresses, TLS and credentials are checked when the config is loaded."""
    with pytest.raises(ValueError) as caught:
        notifier(25, None, **keys)
    assert words in str(caught.value)


async def test_multi_line_title_becomes_a_one_line_subject(certs):
    """An incident title with line breaks (an Alertmanager summary) is sent, its subject on
    one line, instead of failing until max_age."""
    title = "Disk almost full\non db-1:\r\n  /var at 97%"
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        await notifier(smtp.port, certs).send(sample(title=title))
    [(_, _, mail)] = smtp.messages
    assert mail["Subject"] == "[CRITICAL] Disk almost full on db-1: /var at 97%"


async def test_unusable_ca_file_is_a_permanent_failure(certs, tmp_path):
    """A ca_file that is not a PEM file of CAs fails at once, not retryable, naming ca_file."""
    bad = tmp_path / "ca.pem"
    bad.write_text("this is not a certificate\n")
    async with SmtpServer(certs, "starttls", USERS) as smtp:
        error = await failure(notifier(smtp.port, None, ca_file=str(bad)))
    assert not error.retryable and "ca_file" in str(error)
    assert smtp.messages == []


def test_ca_file_with_security_none_is_a_config_error(certs):
    """ca_file with security = "none" contradicts itself: the config says which to remove."""
    with pytest.raises(ValueError, match='ca_file is set but security = "none"'):
        notifier(25, certs, security="none", username=None, password=None)


async def test_mail_goes_out_while_the_loops_shared_threads_are_busy(certs):
    """Mail is sent in the notifier's own threads: with the event loop's default executor
    held by a hung job (a stat() on a dead NFS mount), a page is still delivered."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    hung = threading.Event()
    blocker = loop.run_in_executor(None, hung.wait, 30)
    try:
        async with SmtpServer(certs, "starttls", USERS) as smtp:
            mailer = notifier(smtp.port, certs)
            await asyncio.wait_for(mailer.send(sample()), 20)
            await mailer.close()
        assert len(smtp.messages) == 1
    finally:
        hung.set()
        await blocker
