"""Database URLs as users write them: showing one without its password, and refusing one whose
password cannot be told apart from its host. Standard library only: `check-config` and the
config model use it without importing SQLAlchemy.

SQLAlchemy reads `postgresql://user:password@host/db` with a password that runs to the FIRST
`@`: in `postgresql://esc:p@SECRET@host/db` the password is `p` and the host `SECRET@host`,
so whatever follows the first `@` of an unencoded password would be shown as the host name in
every message. Such a URL is refused (`database_url_problem`), and `mask_url` masks all the
user info, up to the LAST `@`, whatever the URL came from.
"""

from __future__ import annotations

import re

MASK = "***"
ENCODE_HINT = (
    "write every '@' in the user name or password as %40 (and ':' '/' '?' '#' '%' in them as "
    "%3A %2F %3F %23 %25), e.g. postgresql://escalatord:p%40ssword@db.example.org:5432/escalatord"
)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*")


def _split(url: str) -> tuple[str, str, str] | None:
    """(scheme://, user info, @host...) of a URL with user info; None without any. A URL
    whose path starts right after the `://` (sqlite:///file) has no host, so no user info:
    an `@` in a file name is no separator."""
    scheme, sep, rest = url.partition("://")
    if not sep or rest.startswith("/"):
        return None
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return None
    return scheme + sep, userinfo, at + host


def mask_url(url: str) -> str:
    """The URL as written, with its password replaced by ***, fit for logs and messages.

    Everything up to the last `@` is user info; the user name is kept when it is unambiguous
    (no `@` in the user info), else the whole user info is masked. A `password=` query value
    (libpq's form) is masked too. Never raises.
    """
    parts = _split(url)
    if parts is not None:
        head, userinfo, host = parts
        user, colon, _password = userinfo.partition(":")
        if "@" in userinfo:
            userinfo = MASK
        elif colon:
            userinfo = f"{user}:{MASK}"
        url = head + userinfo + host
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", url)


def database_url_problem(url: str) -> str | None:
    """What makes `url` unsafe to use, in words (never quoting the password); None if fine."""
    parts = _split(url)
    if parts is not None and "@" in parts[1]:
        return (
            "holds more than one '@' (only the one before the host name may be written as "
            "it is), so the password cannot be told apart from the host name; "
            f"{ENCODE_HINT}"
        )
    return None
