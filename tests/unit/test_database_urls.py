"""Database URLs: a password with an unencoded '@' is refused, and every URL shown has its
password masked, whatever characters it holds."""

from __future__ import annotations

import pytest

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError, StoreError
from escalatord.store.db import Store
from escalatord.store.urls import mask_url

BAD = "postgresql://esc:p@SECRET@db.example.org/escalatord"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # An unencoded '@': everything before the last '@' is masked.
        (BAD, "postgresql://***@db.example.org/escalatord"),
        ("postgresql://e@sc:pw0rd@h/db", "postgresql://***@h/db"),
        # Encoded characters in the password: the user name stays, the password goes.
        ("postgresql://esc:pa%40ss%2Fw0rd%3A9@h:5432/db", "postgresql://esc:***@h:5432/db"),
        ("postgresql://esc:pa/ss?w#rd@h/db", "postgresql://esc:***@h/db"),
        (
            "postgresql+asyncpg://esc:pw0rd@[::1]:5432/db",
            "postgresql+asyncpg://esc:***@[::1]:5432/db",
        ),
        ("postgresql://esc@h/db", "postgresql://esc@h/db"),
        ("postgresql://h/db?user=esc&password=pw0rd", "postgresql://h/db?user=esc&password=***"),
        # SQLite: an '@' in a file name is no separator.
        ("sqlite:////var/lib/a@b/escalatord.db", "sqlite:////var/lib/a@b/escalatord.db"),
        ("not a url @ all", "not a url @ all"),
        ("postgresql://esc:pw0rd@[::1", "postgresql://esc:***@[::1"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url, shown):
    """mask_url keeps what locates the database and masks the password, never raising."""
    assert mask_url(url) == shown


def test_check_config_refuses_a_password_with_an_unencoded_at_sign():
    """The config is rejected at daemon.database with the %40 hint, never quoting the password."""
    with pytest.raises(ConfigError) as caught:
        load_text(f'[daemon]\ndatabase = "{BAD}"\n', "escalatord.toml")
    [problem] = caught.value.problems
    assert (problem.file, problem.path) == ("escalatord.toml", "daemon.database")
    assert "'@'" in problem.message and "%40" in problem.message
    assert "SECRET" not in problem.message and "p@" not in problem.message


def test_the_store_refuses_such_a_url_without_showing_the_password():
    """A Store given such a URL (not through the config) says why, password masked."""
    with pytest.raises(StoreError) as caught:
        Store(BAD)
    assert "%40" in str(caught.value)
    assert "SECRET" not in str(caught.value)
