"""`escalatord plan` as a real subprocess on config/examples/hospital.toml: the HTML file and
the Markdown name every category, check, owner, step and person on call, and the HTML has no
external reference (and loads in headless Chromium when it is installed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from escalatord.config.loader import load
from tests.support import programs
from tests.support.cli_output import output
from tests.support.daemon import cli

pytestmark = pytest.mark.e2e

HOSPITAL = Path(__file__).resolve().parents[2] / "config" / "examples" / "hospital.toml"


def _expected() -> list[str]:
    config = load(HOSPITAL)
    names = [c.name for c in config.categories] + [c.name for c in config.checks if c.enabled]
    names += [r.owner for r in config.rules if r.owner] + [s for r in config.rules for s in r.steps]
    names += [m for s in config.schedules for layer in s.layers for m in layer.members]
    return names


def test_html_is_complete_and_self_contained(tmp_path):
    """--format html --out writes one file naming everything, with no external reference."""
    out = tmp_path / "plan.html"
    proc = cli(HOSPITAL, "plan", "--format", "html", "--out", str(out))
    assert proc.returncode == 0, output(proc)
    html = out.read_text()
    missing = [n for n in _expected() if n.replace("&", "&amp;") not in html]
    assert not missing, missing
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"<script[^>]*\bsrc=", html, re.I)
    assert not re.search(r"<img[^>]*\bsrc=", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert "@media print" in html


def test_markdown_names_everything():
    """Markdown on stdout names every category, check, owner, step and on-call person."""
    proc = cli(HOSPITAL, "plan", "--format", "md")
    assert proc.returncode == 0, output(proc)
    missing = [n for n in _expected() if n not in proc.stdout]
    assert not missing, missing
    assert proc.stdout.startswith("# Escalation plan")


def test_html_loads_in_headless_chromium(tmp_path):
    """The HTML loads in headless Chromium (skipped, with the apt-get line, without Debian's
    chromium)."""
    [browser] = programs.require("chromium")
    out = tmp_path / "plan.html"
    cli(HOSPITAL, "plan", "--format", "html", "--out", str(out))
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr
    assert "Escalation plan" in dom.stdout and "hq-core-router" in dom.stdout
