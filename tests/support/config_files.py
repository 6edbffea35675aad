"""Config files for the loader's tests: TOML written from indented text, and the problems
that loading one reports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from escalatord.config.loader import load
from escalatord.errors import ConfigError, Problem

SECRET = "s3cret-Value-42"


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def paths(found: list[Problem]) -> list[str]:
    return [p.path for p in found]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml(text))
    return path


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(path, env=env or {})
    return caught.value.problems
