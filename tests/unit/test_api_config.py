"""The [api] config section: tokens from lists, ${ENV} and files; errors that hide secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalatord.config.loader import load, load_text
from escalatord.errors import ConfigError

TOKEN = "0123456789abcdef0123"


def test_defaults_have_no_tokens():
    """Without [api] nobody may post alerts: both lists are empty."""
    config = load_text("", env={})
    assert config.api.write_tokens == () and config.api.routing_keys == ()


def test_tokens_from_env_and_from_a_file(tmp_path: Path):
    """Tokens come from ${ENV} in a list, or from a file with one token a line (# comments)."""
    (tmp_path / "keys").write_text(f"# PagerDuty integrations\n{TOKEN}a\n\n{TOKEN}b\n")
    main = tmp_path / "main.toml"
    main.write_text('[api]\nwrite_tokens = ["${W}"]\nrouting_keys_file = "keys"\n')
    config = load(main, env={"W": TOKEN})
    assert config.api.write_tokens == (TOKEN,)
    assert config.api.routing_keys == (f"{TOKEN}a", f"{TOKEN}b")
    assert TOKEN not in repr(config.api)


def test_short_token_is_refused_without_showing_it():
    """A token under 16 characters is an error naming its position, never its value."""
    with pytest.raises(ConfigError) as caught:
        load_text('[api]\nwrite_tokens = ["${W}"]\n', env={"W": "hunter2hunter2"})
    (problem,) = caught.value.problems
    assert problem.path == "api.write_tokens"
    assert "write_tokens[0] is shorter than 16 characters" in problem.message
    assert "hunter2" not in str(caught.value)


def test_api_only_in_the_main_file(tmp_path: Path):
    """[api] in an included file is refused, like [daemon]: secrets stay in one place."""
    (tmp_path / "extra.toml").write_text(f'[api]\nwrite_tokens = ["{TOKEN}"]\n')
    main = tmp_path / "main.toml"
    main.write_text('include = ["extra.toml"]\n')
    with pytest.raises(ConfigError, match=r"\[api\] is only allowed in the main config file"):
        load(main, env={})


def test_unknown_api_key_is_an_error():
    """A misspelt key in [api] is an error listing the allowed ones."""
    with pytest.raises(ConfigError, match="write_token"):
        load_text(f'[api]\nwrite_token = ["{TOKEN}"]\n', env={})
