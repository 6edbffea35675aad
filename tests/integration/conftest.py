"""Fixtures shared by integration modules; a module that needs one configured otherwise
defines its own.

- `sink`: an HttpTarget for the module's webhooks (pages), reused by its tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.http_target import HttpTarget


@pytest.fixture(scope="module")
def sink() -> Iterator[HttpTarget]:
    with HttpTarget() as s:
        yield s
