"""check-config on [web] and the console keys of [[person]]: each mistake at its key with the
fix, a password hash never quoted back, and the defaults a config without them gets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError
from tests.support.config_files import toml

ARGON2I = (
    "$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHRzYWx0$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA"
)


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_text(toml(text), name="escalatord.toml", env={})
    return {p.path: p.message for p in caught.value.problems}


def test_defaults_leave_the_console_off_and_persons_viewers_without_a_password():
    """A config without [web] has the console off, no public status and 12 h sessions."""
    config = load_text('[[person]]\nname = "alice"\n')
    assert config.web.enabled is False
    assert config.web.public_status is False
    assert config.web.session_ttl == timedelta(hours=12)
    assert config.web.secure(None) is False
    assert config.web.secure("https://esc.example.org") is True
    assert config.persons[0].role == "viewer"
    assert config.persons[0].password_hash is None


def test_a_good_web_section_and_person_load():
    """[web] keys and a hash made by argon2-cffi with a role are taken as written."""
    digest = PasswordHasher().hash("correct horse battery")
    config = load_text(
        toml(
            f"""
            [web]
            enabled = true
            public_status = true
            session_ttl = "8h"
            secure_cookies = false
            title = "Acme ops"
            secret = "0123456789abcdef0123"

            [[person]]
            name = "alice"
            password_hash = "{digest}"
            role = "admin"
            """
        )
    )
    assert config.web.enabled and config.web.public_status
    assert config.web.session_ttl == timedelta(hours=8)
    assert config.web.secure("https://esc.example.org") is False
    assert config.web.title == "Acme ops"
    assert config.persons[0].password_hash == digest
    assert config.persons[0].role == "admin"


def test_a_password_hash_that_is_not_argon2id_names_the_command_that_makes_one():
    """A wrong hash is reported at person[NAME].password_hash with `escalatord passwd NAME`,
    and the value is never shown."""
    found = problems(
        f"""
        [[person]]
        name = "alice"
        password_hash = "hunter2-plaintext"

        [[person]]
        name = "bob"
        password_hash = "{ARGON2I}"
        """
    )
    alice = found["person[alice].password_hash"]
    assert "escalatord passwd alice" in alice and "argon2" in alice
    assert "hunter2" not in alice
    bob = found["person[bob].password_hash"]
    assert "argon2id" in bob and "escalatord passwd bob" in bob
    assert "c29tZXNhbHRzYWx0" not in bob


def test_an_unknown_role_names_the_three_roles():
    """role = "boss" is refused with viewer, responder and admin named."""
    found = problems(
        """
        [[person]]
        name = "alice"
        role = "boss"
        """
    )
    assert "viewer, responder, admin" in found["person[alice].role"]


def test_web_keys_are_checked_with_their_fix():
    """Every [web] key with a wrong value is reported at web.KEY with what to write."""
    found = problems(
        """
        [web]
        enabled = "yes"
        public_status = 1
        session_ttl = "1m"
        secure_cookies = "sometimes"
        secret = "short"
        colour = "blue"
        """
    )
    assert "true or false" in found["web.enabled"]
    assert "true or false" in found["web.public_status"]
    assert '"5m"' in found["web.session_ttl"] and '"12h"' in found["web.session_ttl"]
    assert '"auto"' in found["web.secure_cookies"]
    assert "openssl rand -hex 32" in found["web.secret"]
    assert "short" not in found["web.secret"]
    assert any(path.startswith("web") and "colour" in path + msg for path, msg in found.items())


def test_web_only_in_the_main_file(tmp_path):
    """[web] in an included file is refused, as [daemon] and [api] are."""
    (tmp_path / "more.toml").write_text("[web]\nenabled = true\n")
    (tmp_path / "main.toml").write_text('include = ["more.toml"]\n')
    from escalatord.config.loader import load

    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "main.toml", env={})
    assert any("web" in p.message or "web" in p.path for p in caught.value.problems)
