"""Load the TOML config: includes, `${ENV}` and `*_file` secrets, validation, cross-references.

`load()` reads the main file and every file it includes, and either returns a validated,
frozen `Config` or raises `ConfigError` listing EVERY problem found (file, key path, message).

1. Each file is parsed with rtoml (Rust; tomli, tomllib's own source, reports syntax
   errors). Top-level keys: include, daemon, defaults, api, traps, web, cluster, check, rule,
   policy, notifier, person, team, schedule, maintenance, category, satellite; `daemon`, `defaults`,
   `api`, `traps`, `web`, `cluster` only in the main file.
2. `${VAR}` in any string value is replaced from the environment; `$${` is a literal `${`.
3. `include = [...]`: paths and globs relative to the including file's directory, each glob
   sorted. A glob matching nothing is fine; a missing plain path is a problem. A file is read
   once; naming one of a file's own includers is a cycle. Items keep their order: a file's
   own items first, then its includes in order.
4. `X_file = "path"` becomes `X = <the file's content, trailing newline stripped>` when the
   section's model has a field `X` and no field `X_file`; relative to the key's file.
5. Checks get the keys `[defaults]` sets and they leave out; every section is validated by its
   model, checks and notifiers by their type's model from `escalatord.plugins`.
6. Cross-references: duplicate names, unknown policies/notifiers/categories/dependencies,
   dependency cycles;
   the people sections' shared namespace, members and contacts (config/people_checks.py).

Steps 1-3 are config/reading.py's `Reader`; this module validates (4-5), cross_check in
config/items.py does 6, and `unmatched_checks` finds the checks no rule would page for.

Problem paths: `daemon.listen`, `check[web].max_loss`, `policy[p].level[0].notify`, and
`check[#2]` for an item without a usable name (the third [[check]] of its file). Indexes count
from 0, as the webhook payload's `level` does: `level[0]` is the level that pages first.
Messages never hold a value: pydantic errors are formatted from `loc` and `msg` only, and every
value taken from the environment or a secret file is also scrubbed from messages, in case a
validator echoes its input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from escalatord import plugins
from escalatord.config import messages
from escalatord.config.categories import CategoryConfig
from escalatord.config.cluster import ClusterConfig, sqlite_problem
from escalatord.config.compact import share_field_sets
from escalatord.config.items import Item, cross_check
from escalatord.config.model import (
    ApiConfig,
    Config,
    DaemonConfig,
    Defaults,
    PolicyConfig,
    RuleConfig,
)
from escalatord.config.people import PersonConfig, ScheduleConfig, TeamConfig
from escalatord.config.people_checks import check_people
from escalatord.config.quiet import MaintenanceConfig, check_maintenance
from escalatord.config.reading import TOP_KEYS, Reader, parse_toml
from escalatord.config.satellites import SatelliteConfig, attach, check_satellites
from escalatord.config.web import WebConfig
from escalatord.core.rules import match
from escalatord.core.status import Status
from escalatord.errors import ConfigError, Problem
from escalatord.notify.base import NotifierConfig
from escalatord.redaction import model_strings
from escalatord.traps.config import TrapsConfig

_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "daemon": DaemonConfig,
    "defaults": Defaults,
    "api": ApiConfig,
    "traps": TrapsConfig,
    "web": WebConfig,
    "cluster": ClusterConfig,
}
_ITEM_MODELS: dict[str, type[BaseModel]] = {
    "rule": RuleConfig,
    "policy": PolicyConfig,
    "person": PersonConfig,
    "team": TeamConfig,
    "schedule": ScheduleConfig,
    "maintenance": MaintenanceConfig,
    "category": CategoryConfig,
    "satellite": SatelliteConfig,
}
_REGISTRY = {"check": "checks", "notifier": "notifiers"}

__all__ = ["load", "load_text", "parse_toml", "unmatched_checks"]

_MIN_SCRUB = 4  # shorter values are not credible secrets and would garble every message


def load(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config at `path` and the files it includes.

    `env` (default `os.environ`) supplies `${VAR}` values. Raises `ConfigError` listing every
    problem found.
    """
    source = os.fspath(path)
    loader = _Loader(os.environ if env is None else env)
    loader.read_file(source, chain=())
    return loader.build(source)


def load_text(text: str, name: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Like `load()` for a config held in a string; includes and `*_file` resolve from cwd."""
    loader = _Loader(os.environ if env is None else env)
    loader.read_text(text, name, base="", chain=((os.path.abspath(name), name),))
    return loader.build(name)


def unmatched_checks(config: Config) -> list[str]:
    """Names of enabled checks that no rule matches when critical: no incident would open."""
    return [
        check.name
        for check in config.checks
        if check.enabled and match(config.rules, check.labels, check.name, Status.CRITICAL) is None
    ]


class _Loader(Reader):
    """Validates what the Reader read: sections, items by their type's model, `*_file` secrets."""

    def __init__(self, env: Mapping[str, str]):
        super().__init__(env)
        self._models: dict[tuple[str, str], type[BaseModel]] = {}  # (registry, type) -> Config

    def build(self, source: str) -> Config:
        sections = {
            key: self._validate(model, self.sections[key])
            for key, model in _SECTION_MODELS.items()
            if key in self.sections
        }
        defaults = sections.get("defaults")
        inherited = {k: getattr(defaults, k) for k in defaults.model_fields_set} if defaults else {}
        built: dict[str, list[Any]] = {kind: [] for kind in TOP_KEYS}
        for item in self.items:
            model = _ITEM_MODELS.get(item.kind) or self._type_model(item)
            if item.kind == "check":
                item.data = inherited | item.data  # the check's own keys win
            if model is not None and (obj := self._validate(model, item)) is not None:
                if isinstance(obj, NotifierConfig) and self.secrets:
                    obj._loaded_secrets = self._secrets_in(obj)
                built[item.kind].append(obj)
        cross_check(self.items, self.at)
        check_people(self.items, self.at, _addresses_person)
        check_maintenance(self.items, self.at)
        check_satellites(self.items, self.at)
        self._check_cluster(sections)
        if self.problems:
            raise ConfigError([self._scrubbed(p) for p in self.problems])
        return Config.model_validate(
            {
                "source": source,
                "daemon": sections.get("daemon") or DaemonConfig(),
                "defaults": defaults or Defaults(),
                "checks": share_field_sets(attach(built["check"], built["satellite"])),
                "rules": tuple(built["rule"]),
                "rule_files": tuple(i.file for i in self.items if i.kind == "rule"),
                "policies": tuple(built["policy"]),
                "notifiers": tuple(built["notifier"]),
                "api": sections.get("api") or ApiConfig(),
                "traps": sections.get("traps"),
                "web": sections.get("web") or WebConfig(),
                "cluster": sections.get("cluster"),
                "person": tuple(built["person"]),
                "team": tuple(built["team"]),
                "schedule": tuple(built["schedule"]),
                "maintenance": tuple(built["maintenance"]),
                "category": tuple(built["category"]),
                "satellite": tuple(built["satellite"]),
            }
        )

    def _check_cluster(self, sections: dict[str, Any]) -> None:
        """`[cluster]` needs PostgreSQL: with SQLite it is a problem at `cluster`."""
        if "cluster" not in self.sections:
            return
        daemon = sections.get("daemon") or DaemonConfig()
        if problem := sqlite_problem(daemon.database):
            self.at(self.sections["cluster"], "", problem)

    def _type_model(self, item: Item) -> type[BaseModel] | None:
        registry = _REGISTRY[item.kind]
        type_name = item.data.get("type")
        if isinstance(type_name, str) and (found := self._models.get((registry, type_name))):
            return found  # the model of a type already loaded: 10,000 checks, a few types
        if not isinstance(type_name, str) or not plugins.known(registry, type_name):
            known = sorted(plugins.available(registry))
            known_text = f"known types: {', '.join(known)}" if known else "no types are installed"
            if type_name is None:
                self.at(item, "type", f"required key is missing; {known_text}")
            else:
                self.at(item, "type", f"unknown {item.kind} type {type_name!r}; {known_text}")
            return None
        try:
            model = plugins.load(registry, type_name).Config
        except Exception as exc:  # a broken plugin is a config problem, not a crash
            error = f"{type(exc).__name__}: {exc}"
            self.at(item, "type", f"{item.kind} type {type_name!r} could not be loaded: {error}")
            return None
        self._models[(registry, type_name)] = model
        return model

    def _validate(self, model: type[BaseModel], item: Item) -> Any:
        data, failed = self._file_secrets(model, item)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            locs = [tuple(e["loc"]) for e in errors]
            grouped: dict[str, list[str]] = {}
            for error, loc in zip(errors, locs, strict=True):
                if error["type"] == "missing" and loc in failed:
                    continue  # the X_file problem already says why X is missing
                if error["type"] == "too_short" and any(o[: len(loc)] == loc != o for o in locs):
                    continue  # pydantic counts only valid items; the bad one is reported itself
                path = messages.loc_path(data, loc)
                if (item.file, item.path(path)) in self.unresolved:
                    continue  # its ${VAR} problem is the one worth reading
                grouped.setdefault(path, []).append(messages.message(error, model, loc))
            for path, texts in grouped.items():
                self.at(item, path, messages.join_messages(texts))
            return None

    def _file_secrets(self, model: type[BaseModel], item: Item) -> tuple[dict[str, Any], set]:
        """The item's data with `X_file` keys read into `X`; and the `(X,)` that failed."""
        fields = _fields(model)
        data, failed = item.data, set()
        for key, where in item.data.items():
            if not key.endswith("_file"):
                continue
            target = key.removesuffix("_file")
            if target == key or key in fields or target not in fields:
                continue
            if data is item.data:  # copied only when there is a key to replace
                data = dict(item.data)
            del data[key]
            if target in item.data:
                self.at(item, key, f"set either {target} or {key}, not both")
                continue
            failed.add((target,))
            if not isinstance(where, str) or not where:
                self.at(item, key, f"must be the path of a file holding {target}")
                continue
            full = os.path.join(item.base, os.path.expanduser(where))
            try:
                content = Path(full).read_text(encoding="utf-8")
            except OSError as exc:
                self.at(item, key, f"cannot read {full}: {exc.strerror or type(exc).__name__}")
            except UnicodeDecodeError:
                self.at(item, key, f"{full} is not UTF-8 text")
            else:
                data[target] = content.removesuffix("\n").removesuffix("\r")
                self.secrets.add(data[target])
                failed.discard((target,))
        return data, failed

    def _secrets_in(self, obj: BaseModel) -> frozenset[str]:
        """The ${ENV} and `*_file` values that went into `obj`, for its error texts to mask
        (NotifierConfig.secret_values)."""
        texts = list(model_strings(obj))
        return frozenset(s for s in self.secrets if any(s in text for text in texts))

    def _scrubbed(self, problem: Problem) -> Problem:
        message = problem.message
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= _MIN_SCRUB:
                message = message.replace(secret, "***")
        return Problem(problem.file, problem.path, message)


def _addresses_person(type_name: str) -> bool | None:
    """Whether notifiers of `type_name` can address one person (`Notifier.addresses_person`);
    None for a type that is unknown or cannot load (its [[notifier]] reports that)."""
    if not plugins.known("notifiers", type_name):
        return None
    try:
        return bool(getattr(plugins.load("notifiers", type_name), "addresses_person", False))
    except Exception:  # a broken plugin: reported once, at the notifier's `type`
        return None


@cache
def _fields(model: type[BaseModel]) -> frozenset[str]:
    """The keys `model` accepts (see messages.keys), as a set: asked once per item."""
    return frozenset(messages.keys(model))
