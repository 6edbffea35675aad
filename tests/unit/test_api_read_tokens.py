"""[api] read_tokens: the bearer tokens of the JSON listings, with write_tokens' rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalatord.config.loader import load, load_text
from escalatord.errors import ConfigError

TOKEN = "0123456789abcdef0123"


def test_no_read_tokens_by_default():
    """Without [api] read_tokens nobody is given read access."""
    assert load_text("", env={}).api.read_tokens == ()


def test_read_tokens_from_env_and_from_a_file(tmp_path: Path):
    """read_tokens takes ${ENV} in a list, and read_tokens_file one token a line (# comments),
    through the loader's generic *_file keys; neither value shows in the config's repr."""
    (tmp_path / "readers").write_text(f"# dashboards\n{TOKEN}a\n\n{TOKEN}b\n")
    main = tmp_path / "main.toml"
    main.write_text('[api]\nread_tokens_file = "readers"\nwrite_tokens = ["${W}"]\n')
    config = load(main, env={"W": TOKEN})
    assert config.api.read_tokens == (f"{TOKEN}a", f"{TOKEN}b")
    assert config.api.write_tokens == (TOKEN,)
    assert TOKEN not in repr(config.api) and TOKEN not in repr(config)


def test_short_read_token_is_refused_without_showing_it():
    """A read token under 16 characters is an error naming its position, never its value."""
    with pytest.raises(ConfigError) as caught:
        load_text('[api]\nread_tokens = ["${R}"]\n', env={"R": "hunter2hunter2"})
    (problem,) = caught.value.problems
    assert problem.path == "api.read_tokens"
    assert "read_tokens[0] is shorter than 16 characters" in problem.message
    assert "hunter2" not in str(caught.value)
