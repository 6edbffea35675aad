"""Console sessions: who is signed in, in a signed cookie, with an expiry the server enforces.

The cookie holds `{"p": person, "h": password fingerprint, "c": CSRF token, "t": issued at}`,
serialised and signed with itsdangerous (HMAC-SHA1 over a key derived from the session key and
the salt below): nobody without the key can make or change one. It is HttpOnly, SameSite=Lax,
Path=/ and Secure when `[web] secure_cookies` says so (config/web.py).

- Expiry is decided here, with the time passed in (`Session.expired`): a cookie older than
  `[web] session_ttl` is refused whatever the browser keeps, so a stolen cookie does not last.
- A visitor who is not signed in has a session too, without a person: it carries the CSRF
  token of the sign-in form. Signing in issues a new session with a new token (no fixation).
- `h` is a fingerprint of the person's password_hash: setting a new password (and reloading)
  signs every session of that person out. The role is not in the cookie: it is read from the
  config on every request, so a changed role applies at once.

The key is `[web] secret` when set; otherwise one generated once and kept in the database's
`ack_keys` table under KEY_NAME (notify/links.py `stored_key`), so sessions survive restarts
and every node sharing the database accepts them. Changing it signs everyone out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "escalatord_session"
KEY_NAME = "web-sessions"  # its row in `ack_keys`
SALT = "escalatord-console-session:v1"
# A cookie issued a little in the future is taken (clocks of several nodes differ a little).
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Session:
    """What a valid session cookie says. `person` None: not signed in (the sign-in form's)."""

    csrf: str
    issued: datetime
    person: str | None = None
    fingerprint: str = ""

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        """Whether the session is past `ttl` since it was issued (or issued in the future)."""
        return not (self.issued - CLOCK_SKEW <= now < self.issued + ttl)


def new_session(now: datetime, person: str | None = None, fingerprint: str = "") -> Session:
    """A session issued `now` with a fresh CSRF token."""
    return Session(secrets.token_urlsafe(24), now, person, fingerprint)


def fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: changes when the password does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _serializer(key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=SALT)


def dump(key: bytes, session: Session) -> str:
    """The cookie value for `session`."""
    data: dict[str, Any] = {"c": session.csrf, "t": int(session.issued.timestamp())}
    if session.person is not None:
        data |= {"p": session.person, "h": session.fingerprint}
    return _serializer(key).dumps(data)


def load(key: bytes, value: str | None) -> Session | None:
    """The session a cookie value holds; None when absent, forged or malformed. Expiry is
    the caller's to judge (`Session.expired`), with its own clock."""
    if not value:
        return None
    try:
        data = _serializer(key).loads(value)
    except BadSignature:
        return None
    try:
        issued = datetime.fromtimestamp(int(data["t"]), UTC)
        person = data.get("p")
        return Session(str(data["c"]), issued, None if person is None else str(person),
                       str(data.get("h", "")))  # fmt: skip
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
