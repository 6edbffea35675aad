"""Read config files into items: TOML, `include = [...]`, and `${ENV}` substitution.

`Reader` is the first half of `loader.load()` (steps 1-3 of its docstring): it parses each file
with rtoml (tomli words syntax errors), checks the top-level keys, follows includes (globs
sorted, cycles reported, each file read once), replaces `${VAR}` in string values and keeps
the raw sections and items, with every problem found, for the loader to validate.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rtoml
import tomli

from escalatord.config.items import Item
from escalatord.errors import Problem

TOP_KEYS = (
    "include",
    "daemon",
    "defaults",
    "api",
    "traps",
    "web",
    "cluster",
    "check",
    "rule",
    "policy",
    "notifier",
    "person",
    "team",
    "schedule",
    "maintenance",
    "category",
    "satellite",
)
MAIN_ONLY = ("daemon", "defaults", "api", "traps", "web", "cluster")

_REFERENCE = re.compile(r"\$\$\{|\$\{(?:(?P<name>[^}]*)\})?")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WILDCARD = re.compile(r"[*?\[]")
_TOML_WHERE = re.compile(
    r"^(?P<what>.*) \(at (?:line (?P<line>\d+), column \d+|end of document)\)$"
)

Chain = tuple[tuple[str, str], ...]  # the include path to a file: (real path, name shown)


class Reader:
    """Reads files into sections and items, collecting every problem and every secret."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[Problem] = []
        self.secrets: set[str] = set()  # values never to be shown
        self.items: list[Item] = []
        self.sections: dict[str, Item] = {}
        self.seen: set[str] = set()  # real paths of the files read
        self.unresolved: set[tuple[str, str]] = set()  # (file, path) of failed substitutions

    def problem(self, file: str, path: str, message: str) -> None:
        self.problems.append(Problem(file, path, message))

    def at(self, item: Item, key: str, message: str) -> None:
        self.problem(item.file, item.path(key), message)

    def read_file(self, path: str, chain: Chain) -> None:
        real = os.path.realpath(path)
        self.seen.add(real)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            self.problem(path, "", f"cannot read the file: {exc.strerror or exc}")
        except UnicodeDecodeError:
            self.problem(path, "", "the file is not UTF-8 text")
        else:
            self.read_text(text, path, os.path.dirname(path), (*chain, (real, path)))

    def read_text(self, text: str, name: str, base: str, chain: Chain) -> None:
        raw = parse_toml(text)
        if isinstance(raw, tomli.TOMLDecodeError):
            found = _TOML_WHERE.match(str(raw))
            where = (f"line {found['line']}" if found["line"] else "end of file") if found else ""
            self.problem(name, where, f"TOML syntax error: {found['what'] if found else raw}")
            return
        includes: list[Any] = []
        for key, value in raw.items():
            if key not in TOP_KEYS:
                self.problem(
                    name, key, f"unknown key; allowed top-level keys: {', '.join(TOP_KEYS)}"
                )
            elif key in MAIN_ONLY and len(chain) > 1:
                self.problem(name, key, f"[{key}] is only allowed in the main config file")
            elif key in MAIN_ONLY and not isinstance(value, dict):
                self.problem(name, key, f"must be a table: write [{key}] on a line of its own")
            elif key in MAIN_ONLY:
                data = self._substitute(value, name, key)
                self.sections[key] = Item(key, name, base, 0, key, data)
            elif key == "include" and not isinstance(value, list):
                self.problem(name, key, 'must be a list of paths, e.g. ["conf.d/*.toml"]')
            elif key == "include":
                includes = value
            else:
                self._read_items(key, value, name, base)
        for index, pattern in enumerate(includes):
            path = f"include[{index}]"
            if isinstance(pattern, str) and pattern:
                self._include(self._substitute(pattern, name, path), path, name, base, chain)
            else:
                self.problem(name, path, 'must be a path or a glob, e.g. "conf.d/*.toml"')

    def _include(self, pattern: str, path: str, name: str, base: str, chain: Chain) -> None:
        full = os.path.join(base, os.path.expanduser(pattern))
        if _WILDCARD.search(pattern):
            # A glob may match its own includer (conf.d/*.toml including *.toml): files
            # already read are skipped rather than reported.
            for found in sorted(glob.glob(full, recursive=True)):
                if os.path.isfile(found) and os.path.realpath(found) not in self.seen:
                    self.read_file(found, chain)
            return
        if not os.path.isfile(full):
            self.problem(name, path, f"included file {full} does not exist (or is not a file)")
            return
        reals = [real for real, _ in chain]
        real = os.path.realpath(full)
        if real in reals:
            cycle = [shown for _, shown in chain[reals.index(real) :]] + [full]
            self.problem(name, path, "include cycle: " + " -> ".join(cycle))
        elif real not in self.seen:
            self.read_file(full, chain)

    def _read_items(self, kind: str, value: Any, name: str, base: str) -> None:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(name, kind, f"must be an array of tables: write [[{kind}]] for each one")
            return
        for index, raw in enumerate(value):
            label = f"{kind}[#{index}]"
            item_name = self._substitute(raw.get("name"), name, f"{label}.name")
            if isinstance(item_name, str) and item_name:
                label = f"{kind}[{item_name}]"
            data = {
                k: item_name
                if k == "name"
                else v
                if _plain(v)  # most values: nothing to substitute, no key path to build
                else self._substitute(v, name, f"{label}.{k}")
                for k, v in raw.items()
            }
            self.items.append(Item(kind, name, base, index, label, data))

    def _substitute(self, value: Any, file: str, path: str) -> Any:
        """`value` with every `${VAR}` in its strings replaced."""
        if isinstance(value, dict):
            return {k: self._substitute(v, file, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, file, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or "$" not in value:
            return value

        def replace(found: re.Match[str]) -> str:
            var = found["name"]
            if found[0] == "$${":
                return "${"
            if var is None:
                self.problem(file, path, 'unclosed "${": write ${NAME}, or $${ for a literal "${"')
            elif not _VAR_NAME.fullmatch(var):
                self.problem(
                    file,
                    path,
                    "invalid ${...}: a variable name is letters, digits and _, not starting "
                    'with a digit (write $${ for a literal "${")',
                )
            elif var not in self.env:
                self.problem(file, path, f"environment variable {var} is not set")
            else:
                self.secrets.add(self.env[var])
                return self.env[var]
            return ""

        before = len(self.problems)
        value = _REFERENCE.sub(replace, value)
        if len(self.problems) > before:  # its value is wrong: no second problem for the key
            self.unresolved.add((file, path))
        return value


def parse_toml(text: str) -> dict[str, Any] | tomli.TOMLDecodeError:
    """The document's tables, or tomli's error for a document that is not TOML.

    rtoml (Rust) reads first because parsing is a visible share of a large config's start
    (bench/RESULTS.md, "Issue 6: start-up under 2 s"); a document rtoml
    refuses is parsed again by tomli, whose error is the one reported (it names the line in
    the form this module reads) and whose result is taken should it disagree.
    """
    try:
        return rtoml.loads(text)
    except rtoml.TomlParsingError:
        pass
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        return exc


def _plain(value: Any) -> bool:
    """A value `${VAR}` substitution leaves as it is: not a string holding "$", list or table."""
    return isinstance(value, (int, float, bool)) or (isinstance(value, str) and "$" not in value)
