"""Notifier and ack-link config: fallback references, common keys, [daemon] ack settings, and
the shipped config showing every notifier type's keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from escalatord import plugins
from escalatord.config.loader import load, load_text
from escalatord.config.model import DaemonConfig
from escalatord.errors import ConfigError

ROOT = Path(__file__).parents[2]


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, name="main.toml", env={})
    return {p.path: p.message for p in caught.value.problems}


def notifiers(*sections: str) -> str:
    return "".join(f'\n[[notifier]]\ntype = "log"\n{s}\n' for s in sections)


def test_fallback_must_name_another_notifier():
    """A fallback that does not exist, or is the notifier itself, is refused with the names."""
    found = problems(notifiers('name = "a"\nfallback = "nope"', 'name = "b"\nfallback = "b"'))
    assert found["notifier[a].fallback"].startswith("unknown notifier 'nope'")
    assert "defined notifier names: a, b" in found["notifier[a].fallback"]
    assert found["notifier[b].fallback"] == "a notifier cannot be its own fallback"


def test_fallback_cycles_are_refused():
    """chat -> sms -> chat would bounce a page forever: refused, showing the cycle."""
    found = problems(
        notifiers('name = "chat"\nfallback = "sms"', 'name = "sms"\nfallback = "chat"')
    )
    assert found == {"notifier[chat].fallback": "fallback cycle: chat -> sms -> chat"}


def test_a_fallback_chain_loads():
    """chat -> sms -> log is fine; the keys every notifier has get their defaults."""
    config = load_text(
        notifiers(
            'name = "chat"\nfallback = "sms"\nrate_limit = "10/1m"',
            'name = "sms"\nfallback = "log"',
            'name = "log"',
        ),
        env={},
    )
    chat = config.notifier_by_name["chat"]
    assert (chat.fallback, chat.rate, chat.breaker_failures) == ("sms", (10, 60.0), 5)
    assert chat.breaker_cooldown.total_seconds() == 60


def test_common_key_problems_have_paths():
    """Bad rate limits and templates are reported at their key path."""
    found = problems(
        notifiers('name = "a"\nrate_limit = "lots"\ntemplate = { body = "$oops", colour = "x" }')
    )
    assert "e.g. rate_limit" in found["notifier[a].rate_limit"]
    assert found["notifier[a].template.body"].startswith("unknown placeholder $oops")
    assert "notifier[a].template.colour" in found


def test_ack_settings_are_checked():
    """A short ack_secret or an ack_ttl under a minute is refused, saying how to fix it."""
    found = problems('[daemon]\nack_secret = "short"\nack_ttl = "10s"\n')
    assert "openssl rand -hex 32" in found["daemon.ack_secret"]
    assert "at least" in found["daemon.ack_ttl"]
    assert "short" not in found["daemon.ack_secret"]


def test_ack_secret_from_a_file_stays_secret(tmp_path):
    """ack_secret_file reads the key from a file; the key never shows in the config's repr."""
    (tmp_path / "ack.key").write_text("f" * 64 + "\n")
    main = tmp_path / "main.toml"
    main.write_text('[daemon]\nack_secret_file = "ack.key"\n')
    config = load(main, env={})
    assert config.daemon.ack_secret.get_secret_value() == "f" * 64
    assert "f" * 64 not in repr(config)
    assert DaemonConfig().ack_ttl.total_seconds() == 86400


def test_shipped_config_shows_every_notifier_types_keys():
    """config/escalatord.toml shows every key of every built-in notifier type."""
    text = (ROOT / "config/escalatord.toml").read_text()
    shown = set(re.findall(r"^[ #]*([a-z_]+) = ", text, re.M))
    for type_name in plugins.BUILTIN_NOTIFIERS:
        model = plugins.load("notifiers", type_name).Config
        keys = {field.alias or name for name, field in model.model_fields.items()}
        assert keys - shown == set(), type_name
