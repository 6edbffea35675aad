"""The `email` notifier: one mail per notification over SMTP, plain text and HTML.

Config keys (besides the common ones, see `NotifierConfig`):

    host        SMTP server name or address
    port        default 587 with starttls, 465 with tls, 25 with none
    security    "starttls" (default: plain connection upgraded with STARTTLS, refused if the
                server does not offer it), "tls" (implicit TLS, "SMTPS"), or "none"
    username    login for SMTP AUTH (with password); never sent without TLS
    password    a secret: "${SMTP_PASSWORD}" or password_file = "/etc/escalatord/smtp-password"
    from        the sender address, e.g. "escalatord <escalatord@example.org>"
    to          recipient addresses (a list); a page to a person goes to the address of
                their contact instead (`notification.to`), and only there
    ca_file     trust this CA (PEM) for the server's certificate instead of the system's
    verify_tls  false only for a lab server with a self-signed certificate (default true)
    html        also send an HTML part (default true)

The subject is the message title: "[CRITICAL] hl7-adt-feed is CRITICAL". Every mail of one
incident shares a thread (References), carries X-Escalatord-Incident / -Event / -Severity
headers and `Auto-Submitted: auto-generated`, and its Message-ID is derived from the
notification key, so a retried mail has the same id and mail clients show it once.

Failures: 4xx replies, lost connections and timeouts are retryable; 5xx replies (bad
recipient, authentication refused), a missing STARTTLS and certificate errors are permanent
(they need a person to fix the config, so the fallback is used at once). Recipients refused
while others accepted: delivered, and the refused ones are logged.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Literal

import structlog
from pydantic import Field, SecretStr, field_validator, model_validator

from escalatord.core.events import Notification
from escalatord.errors import NotifyError
from escalatord.notify.base import Notifier, NotifierConfig
from escalatord.notify.templates import Message, render
from escalatord.workers import WorkerPool

log = structlog.get_logger("escalatord.notify.email")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# smtplib blocks: sends run in the notifier's own threads, never the loop's shared executor
# (where a hung job elsewhere would hold mail back). The dispatcher sends at most 8 at once.
SEND_THREADS = 8


def _address(value: str, key: str) -> str:
    if any(c in value for c in "\r\n"):
        raise ValueError(f"{key}: an address must be on one line")
    _name, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(
            f"{key}: {value!r} is not an e-mail address; write e.g. "
            '"oncall@example.org" or "On call <oncall@example.org>"'
        )
    return value


class EmailConfig(NotifierConfig):
    """Keys of a `type = "email"` notifier."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)
    ca_file: str | None = None
    verify_tls: bool = True
    html: bool = True

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value, "from")

    @field_validator("to")
    @classmethod
    def _to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_address(v, "to") for v in value)

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(
                "ca_file does not exist or is not a file: give the PEM file of the CA that "
                "signed the SMTP server's certificate"
            )
        return value

    @model_validator(mode="after")
    def _auth(self) -> EmailConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both, or neither")
        if self.password is not None and self.security == "none":
            raise ValueError(
                'a password is never sent without TLS: set security = "starttls" or "tls"'
            )
        if self.ca_file is not None and self.security == "none":
            raise ValueError('ca_file is set but security = "none": remove one of them')
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


class EmailNotifier(Notifier):
    """Sends one mail per notification with smtplib, in a worker thread."""

    Config = EmailConfig
    addresses_person = True  # a contact's `to` is one person's address here
    config: EmailConfig

    def __init__(self, config: EmailConfig):
        super().__init__(config)
        self._threads = WorkerPool(f"email-{config.name}", SEND_THREADS)

    async def send(self, notification: Notification) -> None:
        """Build the mail and hand it to the SMTP server, or raise NotifyError."""
        try:
            recipients(self.config, notification)
        except ValueError as exc:  # a contact's address that is not one: the config must change
            where = f"{self.config.host}:{self.config.smtp_port}"
            raise self._error(where, str(exc), False) from None
        mail = build_mail(self.config, notification)
        await self._threads.run(self._deliver, mail)

    async def close(self) -> None:
        """Let the send threads end (a send in progress finishes within `timeout`)."""
        self._threads.close()

    def _deliver(self, mail: EmailMessage) -> None:
        cfg = self.config
        where = f"{cfg.host}:{cfg.smtp_port}"
        try:
            context = self._tls_context()
        except OSError as exc:  # ssl.SSLError is one: ca_file unreadable or not PEM
            # The config must be fixed: retrying cannot help, the fallback should get the page.
            reason = exc.strerror or type(exc).__name__
            raise self._error(
                where,
                f"cannot use ca_file {cfg.ca_file}: {reason}; give a readable PEM file",
                False,
            ) from None
        try:
            refused = self._smtp(mail, context)
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            what = (
                "authentication refused"
                if isinstance(exc, smtplib.SMTPAuthenticationError)
                else "refused"
            )
            raise self._error(
                where, f"{what}: {exc.smtp_code} {text}", exc.smtp_code < 500
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {code} {msg.decode('utf-8', 'replace')}"
                for rcpt, (code, msg) in exc.recipients.items()
            )
            raise self._error(
                where, f"every recipient refused ({detail})", any(c < 500 for c in codes)
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(where, f"{exc}; check security and username", False) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._error(
                where,
                f"TLS certificate not trusted ({exc.verify_message}); set ca_file to the "
                "server's CA, or fix host to match its certificate",
                False,
            ) from None
        except TimeoutError:
            raise self._error(
                where, f"timed out after {cfg.timeout.total_seconds():g}s", True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(where, f"{type(exc).__name__}: {exc}", True) from None
        if refused:
            log.warning(
                "email_recipients_refused",
                notifier=self.name,
                refused=sorted(refused),
                hint="the other recipients got the mail",
            )

    def _smtp(
        self, mail: EmailMessage, context: ssl.SSLContext | None
    ) -> dict[str, tuple[int, bytes]]:
        cfg = self.config
        timeout = cfg.timeout.total_seconds()
        client: smtplib.SMTP
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(cfg.host, cfg.smtp_port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(cfg.host, cfg.smtp_port, timeout=timeout)
        with client:
            if cfg.security == "starttls":
                client.starttls(context=context)  # SMTPNotSupportedError if not offered
            if cfg.username is not None and cfg.password is not None:
                client.login(cfg.username, cfg.password.get_secret_value())
            return client.send_message(mail)

    def _tls_context(self) -> ssl.SSLContext | None:
        """The client TLS context; None with security = "none" (nothing to verify)."""
        if self.config.security == "none":
            return None
        context = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _error(self, where: str, detail: str, retryable: bool) -> NotifyError:
        return NotifyError(f"email {self.name!r} ({where}): {detail}", retryable=retryable)


def recipients(config: EmailConfig, notification: Notification) -> tuple[str, ...]:
    """Whom the mail goes to: the person's contact address for a page to a person (named
    with their full name when the address has no name of its own), else the config's `to`.
    ValueError when the contact's address is not an e-mail address."""
    if notification.to is None:
        return config.to
    address = _address(notification.to, "the contact's to")
    person = notification.person
    if person is not None and person.full_name and not parseaddr(address)[0]:
        address = formataddr((person.full_name, address))
    return (address,)


def build_mail(config: EmailConfig, notification: Notification) -> EmailMessage:
    """The mail for one notification: headers, a text part and (optionally) an HTML part."""
    to = recipients(config, notification)
    message = render(notification, config.template)
    domain = parseaddr(config.from_)[1].rpartition("@")[2] or "escalatord.invalid"
    digest = hashlib.sha256(notification.key.encode()).hexdigest()[:32]
    mail = EmailMessage()
    # A header cannot hold a line break (EmailMessage raises ValueError): one line, always.
    mail["Subject"] = " ".join(message.title.split())
    mail["From"] = config.from_
    mail["To"] = ", ".join(to)  # smtplib sends RCPT TO for these and no others
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{digest}.escalatord@{domain}>"
    incident = notification.incident
    if notification.event != "test":
        thread = f"<incident-{incident.id}.escalatord@{domain}>"
        mail["References"] = thread
        mail["In-Reply-To"] = thread
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Escalatord-Incident"] = incident.id
    mail["X-Escalatord-Event"] = str(notification.event)
    mail["X-Escalatord-Severity"] = incident.severity
    if message.is_page and incident.severity in ("critical", "error"):
        mail["Importance"] = "high"
        mail["X-Priority"] = "1"
    mail.set_content(message.body)
    if config.html:
        mail.add_alternative(html_body(message), subtype="html")
    return mail


def html_body(message: Message) -> str:
    """The HTML part: the same facts as the text, laid out, with an Acknowledge button."""
    e = html.escape
    f = message.fields
    parts = [f"<h2 style='margin:0 0 .5em'>{e(message.title)}</h2>"]
    if message.custom_body:
        parts.append(f"<pre style='font:inherit;white-space:pre-wrap'>{e(message.body)}</pre>")
    else:
        for key in ("intro", "summary"):
            if f[key]:
                parts.append(f"<p>{e(f[key])}</p>")
        rows = [
            ("Check", e(f["check"])),
            ("Severity", e(f["severity"])),
            ("Owner", e(f["owner"])),
            ("Runbook", _link(f["runbook"])),
            ("Labels", e(f["labels"])),
            ("Opened", e(f["opened_at"])),
        ]
        parts.append(
            "<table cellpadding='4' style='border-collapse:collapse'>"
            + "".join(
                f"<tr><th align='left'>{label}</th><td>{value}</td></tr>"
                for label, value in rows
                if value
            )
            + "</table>"
        )
        if f.get("group"):  # a storm's group: every incident the message is about
            items = "".join(f"<li>{e(member)}</li>" for member in f["group"].splitlines())
            parts.append(
                f"<p><b>{e(f['group_size'])} incidents paged together</b></p><ul>{items}</ul>"
            )
        if message.steps and message.is_page:
            items = "".join(f"<li>{e(step)}</li>" for step in message.steps)
            parts.append(f"<p><b>What to do</b></p><ol>{items}</ol>")
    if message.ack_url:
        parts.append(
            f"<p><a href='{e(message.ack_url, quote=True)}' style='display:inline-block;"
            "padding:.6em 1.2em;background:#c62828;color:#fff;text-decoration:none;"
            "border-radius:4px'>Acknowledge</a></p>"
            f"<p style='color:#666;font-size:small'>{e(message.ack_url)}</p>"
        )
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        + "".join(parts)
        + (
            f"<p style='color:#666;font-size:small'>escalatord · incident {e(f['incident_id'])}</p>"
            "</body></html>"
        )
    )


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")):
        return f"<a href='{html.escape(url, quote=True)}'>{html.escape(url)}</a>"
    return html.escape(url)
