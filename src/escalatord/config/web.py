"""The `[web]` section and the sign-in keys of `[[person]]`: the web console (docs/console.md).

    [web]
    enabled = true                  # serve the console under / on [daemon] listen
    public_status = false           # true: /status, a public page with no internal detail
    session_ttl = "12h"             # a sign-in lasts this long, then the person signs in again
    secure_cookies = "auto"         # "auto": Secure when [daemon] public_url is https://
    title = "Acme operations"       # shown in the pages' title bar
    # secret = "${WEB_SECRET}"      # signs session cookies; unset: one is kept in the database

    [[person]]
    name = "alice"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."   # escalatord passwd alice
    role = "responder"              # viewer (the default), responder or admin

A password hash is never quoted back in a message: it is a secret's fingerprint.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from escalatord.core.durations import format_duration
from escalatord.fields import Duration, Strict

Role = Literal["viewer", "responder", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "responder", "admin")  # each may do what the ones before may
SECRET_MIN = 16
SESSION_TTL_RANGE = (timedelta(minutes=5), timedelta(days=30))
TITLE_MAX = 80


def check_password_hash(value: str | None, info: ValidationInfo) -> str | None:
    """A `[[person]] password_hash`: an argon2id string as `escalatord passwd` prints it.

    The value is never shown in the message (config messages hold no secrets)."""
    if value is None:
        return None
    # Imported here: every command loads the config, few configs have a password in them.
    from argon2 import Type, extract_parameters
    from argon2.exceptions import InvalidHashError

    person = info.data.get("name") or "NAME"
    fix = f"make one with `escalatord passwd {person}` and paste the line it prints"
    try:
        parameters = extract_parameters(value.strip())
    except InvalidHashError:
        raise ValueError(
            f'password_hash is not an argon2 hash (it starts "$argon2id$v=19$m=…"); {fix}'
        ) from None
    if parameters.type is not Type.ID:
        kind = parameters.type.name.lower()
        raise ValueError(f"password_hash must be argon2id, not argon2{kind}; {fix}")
    return value.strip()


def _exact_bool(value: object, key: str, meaning: str) -> object:
    # Exact values only: lax bool parsing would take "yes" or 1 for a boolean.
    if isinstance(value, bool):
        return value
    raise ValueError(f"{key} must be true or false, got {value!r}: {meaning}")


class WebConfig(Strict):
    """[web]: the console served by the daemon (escalatord/console/, docs/console.md)."""

    enabled: bool = False
    public_status: bool = False
    session_ttl: Duration = timedelta(hours=12)
    # Whether session cookies carry Secure (sent over HTTPS only). "auto": when [daemon]
    # public_url starts with https:// — the daemon behind a TLS proxy — and not on plain http
    # (loopback), where a Secure cookie would never come back and nobody could sign in.
    secure_cookies: bool | Literal["auto"] = "auto"
    title: str = Field(default="escalatord", min_length=1, max_length=TITLE_MAX)
    # Signs session cookies (HMAC). Unset: a random key is made once and kept in the database
    # (the `ack_keys` table, as the ack links' key), so every node and restart agrees.
    secret: SecretStr | None = Field(default=None, repr=False)

    @field_validator("enabled", "public_status", mode="before")
    @classmethod
    def _bools(cls, value: object, info: ValidationInfo) -> object:
        meaning = {
            "enabled": "with true, the daemon serves the web console under /",
            "public_status": "with true, /status shows every site's state without signing in",
        }[str(info.field_name)]
        return _exact_bool(value, str(info.field_name), meaning)

    @field_validator("secure_cookies", mode="before")
    @classmethod
    def _secure_cookies(cls, value: object) -> object:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(
            f'secure_cookies must be true, false or "auto" (the default), got {value!r}: '
            '"auto" marks cookies Secure when [daemon] public_url is https://'
        )

    @field_validator("session_ttl")
    @classmethod
    def _session_ttl(cls, value: timedelta) -> timedelta:
        low, high = SESSION_TTL_RANGE
        if not low <= value <= high:
            raise ValueError(
                f'session_ttl must be from "{format_duration(low)}" to "{format_duration(high)}", '
                f'got "{format_duration(value)}"; e.g. session_ttl = "12h" (a working shift)'
            )
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < SECRET_MIN:
            raise ValueError(
                f"secret must be at least {SECRET_MIN} characters; generate one with "
                "`openssl rand -hex 32`, or leave it unset to have one kept in the database"
            )
        return value

    def secure(self, public_url: str | None) -> bool:
        """Whether cookies get Secure, `secure_cookies = "auto"` decided from public_url."""
        if self.secure_cookies == "auto":
            return (public_url or "").lower().startswith("https://")
        return bool(self.secure_cookies)
