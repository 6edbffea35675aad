"""The config's TOML is read by rtoml, and tomli where rtoml refuses: both must read alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli
from hypothesis import given
from hypothesis import strategies as st

from escalatord.config.loader import parse_toml

ROOT = Path(__file__).resolve().parents[2]

_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
_scalars = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # a basic string: quotes, backslashes and controls escaped
        return (
            '"'
            + "".join(
                f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c
                for c in value
            )
            + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
_tables = st.dictionaries(_keys, _values, max_size=6)


@given(st.lists(_tables, min_size=1, max_size=4))
def test_generated_documents_read_the_same(checks):
    """Any document of [[check]] tables with strings, numbers, booleans, arrays and inline
    tables reads exactly as tomli reads it."""
    text = "".join(
        "[[check]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in table.items()) for table in checks
    )
    assert parse_toml(text) == tomli.loads(text)


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("config/**/*.toml")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_shipped_configs_read_the_same(path: Path):
    """The configs shipped with escalatord read exactly as tomli reads them (dates too)."""
    text = path.read_text(encoding="utf-8")
    assert parse_toml(text) == tomli.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        "a = 1\na = 2\n",
        "[x]\n[x]\n",
        "a = \n",
        "a = 1 b = 2\n",
        'a = "unclosed\n',
        "a = 0x_1\n",
        "a = 1979-13-27\n",
        "[[check]]\nname = 'x'\n[check]\n",
        "a = [1, 2\n",
        'a = "\\q"\n',
    ],
)
def test_broken_documents_are_refused_with_tomlis_message(text: str):
    """A document that is not TOML is refused, with tomli's error (which names the line)."""
    refused = parse_toml(text)
    assert isinstance(refused, tomli.TOMLDecodeError)
    assert "line" in str(refused) or "end of document" in str(refused)
