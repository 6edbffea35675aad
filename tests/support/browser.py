"""Real Chromium for the console's browser tests: Debian's `chromium`, driven by Playwright for
Python through `executable_path` (never `playwright install`, which downloads a browser from
outside). A test needing it is skipped, with the install line, when either is missing.

    browser = launched()             # in a fixture: skips without chromium or playwright
    saved = screenshot(page, "board.png", tmp_path)   # a PNG kept as a test artefact

Artefacts are written under the test's tmp_path and copied to `$TEST_ARTIFACTS` (default
`test-artifacts/` at the repository root, ignored by git), so CI can keep them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support import programs

PLAYWRIGHT_HINT = (
    "playwright is not installed: pip install -e '.[test]' (the browser is Debian's chromium: "
    "never `playwright install`)"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, with how to fix it; None if they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return PLAYWRIGHT_HINT
    return programs.missing_reason("chromium")


def needs_browser() -> pytest.MarkDecorator:
    """A mark skipping the test (or module, as `pytestmark`) without chromium or playwright."""
    reason = missing_reason()
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def launched(playwright: Any) -> Any:
    """Debian's chromium, headless, from a started `sync_playwright()`. As root the sandbox
    cannot start, so it runs without (Playwright's default, said here so it stays so)."""
    [chromium] = programs.require("chromium")
    return playwright.chromium.launch(
        executable_path=chromium, headless=True, chromium_sandbox=False, args=["--no-sandbox"]
    )


def artifacts_dir() -> Path:
    """Where screenshots are kept after the run: $TEST_ARTIFACTS or ./test-artifacts/."""
    return Path(os.environ.get("TEST_ARTIFACTS") or REPO / "test-artifacts")


def screenshot(page: Any, name: str, tmp_path: Path) -> list[Path]:
    """The whole page as `name` (a .png) in tmp_path and in artifacts_dir(); both paths."""
    local = tmp_path / name
    page.screenshot(path=str(local), full_page=True)
    kept = artifacts_dir() / name
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(local, kept)
    return [local, kept]


def is_png(path: Path) -> bool:
    """True when `path` is a non-empty PNG file."""
    data = path.read_bytes() if path.is_file() else b""
    return len(data) > len(PNG_MAGIC) and data.startswith(PNG_MAGIC)
