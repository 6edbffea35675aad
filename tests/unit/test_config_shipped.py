"""The shipped configs (config/escalatord.toml and the examples), loaded with the real check
and notifier types; skipped while those type modules do not exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from escalatord import plugins
from escalatord.config.loader import load, unmatched_checks
from escalatord.config.model import DaemonConfig, Defaults, LevelConfig, PolicyConfig, RuleConfig
from escalatord.core.shadowing import shadow_warnings
from tests.support.config_files import SECRET, paths, problems_of, write

ROOT = Path(__file__).resolve().parents[2]

REAL_MODULES = [
    "escalatord.checks.http.check",
    "escalatord.checks.tcp",
    "escalatord.checks.ping.check",
    "escalatord.notify.webhook",
    "escalatord.notify.log",
]
MISSING = [m for m in REAL_MODULES if importlib.util.find_spec(m) is None]
needs_real_types = pytest.mark.skipif(
    bool(MISSING), reason=f"type modules not written yet: {', '.join(MISSING)}"
)


@pytest.fixture
def real_types(monkeypatch):
    monkeypatch.undo()  # back to the real registries
    plugins.load.cache_clear()


@needs_real_types
@pytest.mark.parametrize("path", ["config/escalatord.toml", "config/examples/hospital.toml"])
def test_shipped_configs_load(real_types, path):
    """The shipped configs validate, every check is covered by a rule and every rule can match."""
    config = load(ROOT / path, env={})
    assert config.checks and config.notifiers
    assert unmatched_checks(config) == []
    assert shadow_warnings(config) == []
    targets = [getattr(c, "host", None) or c.url for c in config.checks]
    assert all(t.startswith("127.") or t.startswith("http://127.0.0.1:") for t in targets)


@needs_real_types
def test_hospital_example_pulls_in_its_conf_d(real_types):
    """The hospital example's included files add the remote office and the catch-all rule last."""
    config = load(ROOT / "config/examples/hospital.toml", env={})
    assert "boston-wan" in config.check_by_name
    assert config.rules[-1].name == "everything else"


@needs_real_types
def test_shipped_config_shows_every_key(real_types):
    """config/escalatord.toml mentions every config key, set or commented out."""
    text = (ROOT / "config/escalatord.toml").read_text()
    shown = set(re.findall(r"^[ #]*([a-z_]+) = ", text, re.M))
    models = [DaemonConfig, Defaults, RuleConfig, PolicyConfig, LevelConfig]
    models += [plugins.load("checks", t).Config for t in ("http", "tcp", "ping")]
    models += [plugins.load("notifiers", t).Config for t in ("webhook", "log")]
    keys = {f.alias or n for m in models for n, f in m.model_fields.items()} - {"level"}
    assert keys - shown == set()


@needs_real_types
def test_real_types_keep_ca_file_and_hide_secrets(real_types, tmp_path):
    """An http check's `ca_file` stays a path; a webhook's secret URL never shows in errors."""
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    main = write(
        tmp_path / "main.toml",
        f"""
        [[check]]
        name = "api"
        type = "http"
        url = "https://127.0.0.1:1/health"
        ca_file = "{tmp_path}/ca.pem"
        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "ftp://127.0.0.1/${{HOOK_PATH}}"
        """,
    )
    found = problems_of(main, env={"HOOK_PATH": SECRET})
    assert paths(found) == ["notifier[hook].url"]
    assert SECRET not in str(found[0])
    main.write_text(main.read_text().replace("ftp:", "http:"))
    config = load(main, env={"HOOK_PATH": SECRET})
    assert config.checks[0].ca_file == f"{tmp_path}/ca.pem"
    assert config.notifiers[0].url.endswith(SECRET)
