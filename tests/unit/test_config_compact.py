"""Check configs written alike share their set of given fields, and behave as before."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from escalatord.config.loader import load_text

CONFIG = "".join(
    textwrap.dedent(f"""
    [[check]]
    name = "web-{n}"
    type = "tcp"
    host = "127.0.0.1"
    port = {8000 + n}
    """)
    for n in range(3)
) + textwrap.dedent("""
    [[check]]
    name = "slow"
    type = "tcp"
    host = "127.0.0.1"
    port = 9000
    timeout = "3s"
    """)


def test_checks_written_alike_share_one_set_of_given_fields():
    """Three checks giving the same keys hold one set; a check giving more keys its own."""
    a, b, c, slow = load_text(CONFIG, env={}).checks
    assert a.model_fields_set is b.model_fields_set is c.model_fields_set
    assert slow.model_fields_set is not a.model_fields_set
    assert "timeout" in slow.model_fields_set and "timeout" not in a.model_fields_set


def test_shared_sets_change_nothing_a_config_user_sees():
    """A copy with an update gets its own set; values, equality and frozenness are as before."""
    a, b, _, _ = load_text(CONFIG, env={}).checks
    moved = a.model_copy(update={"depends_on": ("slow",)})
    assert "depends_on" in moved.model_fields_set
    assert "depends_on" not in b.model_fields_set  # the shared set was not touched
    assert a == load_text(CONFIG, env={}).checks[0]
    with pytest.raises(ValidationError):
        a.port = 1  # type: ignore[misc]
