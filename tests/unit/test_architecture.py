"""The house is kept: the layering contracts hold, the core does no IO, rooms stay small.

The contracts live in pyproject.toml (`[tool.importlinter]`); docs/design.md's "Layout" says
what each package may import and why.
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import escalatord
import escalatord.core
from escalatord import plugins

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(escalatord.__file__).parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SHELL_LIBRARIES = ("asyncio", "pydantic", "sqlalchemy", "httpx", "starlette", "pysnmp")
MAX_LINES = 400
MAX_MODULES_IN_CHECKS = 12


def lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_every_import_contract_is_kept() -> None:
    """lint-imports finds every contract in pyproject.toml kept (no package cycle, no layer
    imported from below, a core without IO, checks and notifiers apart)."""
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_a_forbidden_import_breaks_the_contracts(tmp_path: Path) -> None:
    """An import of the store from the state machine (in a copy of the package) is reported
    as breaking the layers and the core's independence, so the check above can fail."""
    copy = tmp_path / "escalatord"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    state = copy / "core" / "state.py"
    state.write_text(state.read_text() + "\nfrom escalatord.store import db  # noqa\n")
    done = lint_imports(pythonpath=tmp_path)
    assert done.returncode != 0
    assert "The core does no IO" in done.stdout
    assert "escalatord.core.state -> escalatord.store.db" in done.stdout


def test_importing_the_core_loads_no_io_library() -> None:
    """Importing every module of escalatord.core loads no asyncio, pydantic, SQLAlchemy,
    httpx, Starlette or pysnmp."""
    modules = [f"escalatord.core.{m.name}" for m in pkgutil.iter_modules(escalatord.core.__path__)]
    assert "escalatord.core.state" in modules and "escalatord.core.rules" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(' '.join(lib for lib in {SHELL_LIBRARIES!r} if lib in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


def test_no_source_file_is_longer_than_400_lines() -> None:
    """Every module of src/escalatord has at most 400 lines."""
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_checks_is_a_tree_by_protocol_family() -> None:
    """checks/ holds at most 12 modules directly; protocol families are subpackages."""
    checks = PACKAGE / "checks"
    direct = [p.name for p in checks.glob("*.py") if p.name != "__init__.py"]
    families = {p.name for p in checks.iterdir() if (p / "__init__.py").exists()}
    assert len(direct) <= MAX_MODULES_IN_CHECKS, sorted(direct)
    assert {"http", "snmp", "ping", "command"} <= families


@pytest.mark.parametrize(
    ("type_name", "home"), [("heartbeat", "heartbeats"), ("snmp_trap", "traps")]
)
def test_passive_checks_live_with_their_feature(type_name: str, home: str) -> None:
    """The heartbeat and snmp_trap check types are registered from their feature's package
    (beside its store, endpoint or receiver), not from checks/."""
    assert plugins.BUILTIN_CHECKS[type_name].startswith(f"escalatord.{home}.check:")
