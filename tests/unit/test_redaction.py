"""Masking secrets in the texts escalatord builds (escalatord.redaction) and which values of a
notifier's config count as secrets."""

from __future__ import annotations

import textwrap

from escalatord import plugins
from escalatord.config.loader import load_text
from escalatord.redaction import Redactor, url_secrets

TOKEN = "q7+Tok/en=9f2c41"


def test_a_secret_is_masked_as_sent_and_as_a_server_parsed_it():
    """A token is masked as written, percent-encoded, and decoded with '+' as a space."""
    redact = Redactor([TOKEN])
    echoed = (
        f"POST /hook?token={TOKEN} HTTP/1.1; url=/hook?token=q7%2BTok%2Fen%3D9f2c41; "
        "parsed: {'token': ['q7 Tok/en=9f2c41']}"
    )
    assert redact(echoed) == (
        "POST /hook?token=*** HTTP/1.1; url=/hook?token=***; parsed: {'token': ['***']}"
    )


def test_the_longer_of_two_overlapping_secrets_is_masked_whole():
    """A secret containing another is masked as one, leaving no tail of it behind."""
    assert Redactor(["abcd", "abcdefgh"])("key abcdefgh") == "key ***"


def test_values_too_short_to_be_secrets_are_left_alone():
    """One- to three-character values (a query's "1") are not masked: they would garble text."""
    redact = Redactor(["1", "on", "abc"])
    assert not redact
    assert redact("attempt 1 on abc") == "attempt 1 on abc"


def test_the_user_info_and_every_query_value_of_a_url_are_secrets():
    """User name, password and each query value (raw and decoded) of a URL are secrets."""
    found = url_secrets("https://bot:pa%40ss@hooks.example.org/x?token=a%2Bb&format=json")
    assert found >= {"bot", "pa%40ss", "a%2Bb", "a+b", "json"}
    assert url_secrets("not a url") == set()


def test_a_webhook_notifier_masks_its_url_headers_secret_and_env_values():
    """A webhook's redactor masks its query values, header values, signing secret and the
    ${ENV} value in its path, and leaves its host and port readable."""
    config = load_text(
        textwrap.dedent("""
        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "http://127.0.0.1:9000/hook/${PATH_TOKEN}?token=${HOOK_TOKEN}&key=literal-k3y"
        headers = { X-Api-Key = "header-value-77" }
        secret = "0123456789abcdef0123"
        """),
        env={"PATH_TOKEN": "path-s3cr3t", "HOOK_TOKEN": TOKEN},
    )
    cfg = config.notifier_by_name["hook"]
    notifier = plugins.load("notifiers", cfg.type)(cfg)
    text = (
        f"POST /hook/path-s3cr3t?token={TOKEN}&key=literal-k3y X-Api-Key: header-value-77 "
        "sig of 0123456789abcdef0123 at 127.0.0.1:9000"
    )
    assert notifier.redact(text) == (
        "POST /hook/***?token=***&key=*** X-Api-Key: *** sig of *** at 127.0.0.1:9000"
    )
