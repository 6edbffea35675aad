"""The config loader: files, includes, secrets, defaults, validation and cross-references.

The tests use small check and notifier types registered here (`fake`, `fakehook`), so they do
not depend on the real type modules; test_config_shipped.py loads the shipped configs with the
real types.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import Field, ValidationError, field_validator

from escalatord import plugins
from escalatord.checks.base import Check, CheckConfig
from escalatord.config.loader import load, load_text, unmatched_checks
from escalatord.errors import ConfigError, Problem
from escalatord.fields import Percent
from escalatord.notify.base import Notifier, NotifierConfig
from tests.support.config_files import SECRET, paths, problems_of, toml, write


class FakeCheckConfig(CheckConfig):
    host: str
    port: int = 0
    token: str | None = Field(default=None, repr=False)
    ca_file: str | None = None  # a real field named *_file: must stay as it is
    max_loss: Percent = 0.0

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        # Echoes its input on purpose, as a careless plugin might: the loader must scrub it.
        if value.startswith("bad"):
            raise ValueError(f"host {value!r} is not allowed")
        return value


class FakeCheck(Check):
    Config = FakeCheckConfig


class FakeHookConfig(NotifierConfig):
    url: str
    token: str | None = None


class FakeHook(Notifier):
    Config = FakeHookConfig


@pytest.fixture(autouse=True)
def fake_types(monkeypatch):
    monkeypatch.setattr(plugins, "BUILTIN_CHECKS", {"fake": f"{__name__}:FakeCheck"})
    monkeypatch.setattr(plugins, "BUILTIN_NOTIFIERS", {"fakehook": f"{__name__}:FakeHook"})
    plugins.load.cache_clear()
    yield
    plugins.load.cache_clear()


def problems(
    text: str, env: dict[str, str] | None = None, name: str = "main.toml"
) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_text(toml(text), name, env=env or {})
    return caught.value.problems


GOOD = """
    [daemon]
    listen = "127.0.0.1:9999"
    [[check]]
    name = "web"
    type = "fake"
    host = "127.0.0.1"
    labels = { site = "hq" }
    [[rule]]
    name = "all"
    policy = "p"
    [[policy]]
    name = "p"
      [[policy.level]]
      after = "0m"
      notify = ["hook"]
    [[notifier]]
    name = "hook"
    type = "fakehook"
    url = "http://127.0.0.1:1/hook"
"""


def test_valid_config_builds_typed_frozen_config():
    """A valid config yields each section through its own model, typed by the check's type."""
    config = load_text(toml(GOOD), env={})
    assert config.daemon.listen_port == 9999
    assert isinstance(config.checks[0], FakeCheckConfig)
    assert config.checks[0].host == "127.0.0.1"
    assert isinstance(config.notifiers[0], FakeHookConfig)
    assert config.policy_by_name["p"].levels[0].notify == ("hook",)
    with pytest.raises(ValidationError):
        config.checks[0].host = "other"  # type: ignore[misc]


def test_every_problem_is_reported_at_once():
    """One bad config lists every problem across sections, not just the first."""
    found = problems(
        """
        bogus = 1
        [daemon]
        listen = "no-port"
        [defaults]
        retries = 0
        [[check]]
        name = "web"
        type = "fake"
        [[rule]]
        name = "r"
        severity = "dire"
        [[policy]]
        name = "p"
          [[policy.level]]
          after = "soon"
          notify = ["hook"]
        [[notifier]]
        name = "hook"
        type = "fakehook"
        url = "http://127.0.0.1:1/"
        colour = "red"
        """
    )
    assert set(paths(found)) == {
        "bogus",
        "daemon.listen",
        "defaults.retries",
        "check[web].host",
        "rule[r].severity",
        "policy[p].level[0].after",
        "notifier[hook].colour",
    }
    assert all(p.file == "main.toml" for p in found)
    assert "allowed top-level keys: include, daemon" in found[0].message
    assert "allowed keys: name, type, max_age, timeout, " in found[-1].message
    assert found[-1].message.endswith(", url, token")


def test_toml_syntax_error_names_file_and_line():
    """A TOML syntax error is reported with the file and the line it is on."""
    [found] = problems('[daemon]\nlisten = "127.0.0.1:1"\nlisten = "x"\n')
    assert (found.file, found.path) == ("main.toml", "line 3")
    assert found.message.startswith("TOML syntax error")


def test_missing_main_file_is_a_problem(tmp_path):
    """A config file that cannot be read is a problem naming the file."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "absent.toml", env={})
    [found] = caught.value.problems
    assert found.file == str(tmp_path / "absent.toml")
    assert "cannot read" in found.message


def test_includes_keep_order_and_attribute_problems_to_their_file(tmp_path):
    """Included items follow the main file's in sorted glob order, problems name their file."""
    main = write(tmp_path / "main.toml", 'include = ["conf.d/*.toml", "extra.toml"]\n' + GOOD)
    write(tmp_path / "conf.d/b.toml", '[[check]]\nname = "b"\ntype = "fake"\nhost = "h"\n')
    write(tmp_path / "conf.d/a.toml", '[[check]]\nname = "a"\ntype = "fake"\nhost = "h"\n')
    write(tmp_path / "extra.toml", '[[check]]\nname = "x"\ntype = "fake"\nhost = "h"\n')
    assert [c.name for c in load(main, env={}).checks] == ["web", "a", "b", "x"]

    write(tmp_path / "conf.d/b.toml", '[[check]]\nname = "b"\ntype = "fake"\n[daemon]\n')
    found = problems_of(main)
    bad = str(tmp_path / "conf.d/b.toml")
    assert {(p.file, p.path) for p in found} == {(bad, "check[b].host"), (bad, "daemon")}


def test_empty_glob_is_fine_but_a_missing_plain_include_is_not(tmp_path):
    """A glob matching nothing adds nothing; a named file that does not exist is a problem."""
    main = write(tmp_path / "main.toml", 'include = ["none.d/*.toml"]\n' + GOOD)
    assert len(load(main, env={}).checks) == 1
    write(main, 'include = ["missing.toml"]\n' + GOOD)
    [found] = problems_of(main)
    assert found.path == "include[0]" and "missing.toml does not exist" in found.message


def test_include_cycle_is_reported_and_nested_includes_resolve_from_their_dir(tmp_path):
    """An include cycle is a problem with its path; nested includes are relative to their file."""
    main = write(tmp_path / "main.toml", 'include = ["sub/a.toml"]\n' + GOOD)
    write(tmp_path / "sub/a.toml", 'include = ["b.toml"]\n')
    write(tmp_path / "sub/b.toml", 'include = ["../main.toml"]\n')
    [found] = problems_of(main)
    assert found.file == str(tmp_path / "sub/b.toml")
    assert found.message.startswith("include cycle: ")
    assert found.message.count("main.toml") == 2 and "a.toml -> " in found.message


def test_a_glob_matching_its_own_includer_reads_each_file_once(tmp_path):
    """Files in conf.d that include conf.d/*.toml again do not duplicate their items."""
    main = write(tmp_path / "main.toml", 'include = ["conf.d/*.toml"]\n' + GOOD)
    for name in ("a", "b"):
        write(
            tmp_path / f"conf.d/{name}.toml",
            f'include = ["*.toml"]\n[[check]]\nname = "{name}"\ntype = "fake"\nhost = "h"\n',
        )
    assert [c.name for c in load(main, env={}).checks] == ["web", "a", "b"]


def test_env_substitution_whole_part_and_literal():
    """${VAR} is replaced anywhere in a string and $${ stays a literal ${."""
    config = load_text(
        toml(GOOD).replace(
            'host = "127.0.0.1"', 'host = "${HOST}"\ndescription = "at ${SITE}/$${X}"'
        ),
        env={"HOST": "127.0.0.5", "SITE": "hq"},
    )
    assert config.checks[0].host == "127.0.0.5"
    assert config.checks[0].description == "at hq/${X}"


def test_unset_or_malformed_variable_names_key_and_variable():
    """An unset variable names the key and the variable; a malformed reference is explained."""
    text = toml(GOOD).replace('"http://127.0.0.1:1/hook"', '"${HOOK_URL}"')
    found = problems(text.replace('"hq"', '"${1X}"').replace('"0m"', '"${"'))
    assert [(p.path, p.message.split(":")[0]) for p in found] == [
        ("check[web].labels.site", "invalid ${...}"),
        ("policy[p].level[0].after", 'unclosed "${"'),
        ("notifier[hook].url", "environment variable HOOK_URL is not set"),
    ]


def test_secret_values_never_appear_in_messages(tmp_path):
    """Values from the environment or secret files are never printed, even by a chatty plugin."""
    (tmp_path / "port").write_text(SECRET + "\n")
    text = (
        toml(GOOD)
        .replace('host = "127.0.0.1"', f'host = "bad-${{S}}"\nport_file = "{tmp_path}/port"')
        .replace('url = "http://127.0.0.1:1/hook"', 'url = "x"\ntoken = ["${S}"]')
    )
    found = problems(text, env={"S": SECRET})
    assert paths(found) == ["check[web].host", "check[web].port", "notifier[hook].token"]
    assert "***" in found[0].message
    assert SECRET not in "\n".join(str(p) for p in found)


def test_file_secrets_are_read_relative_to_their_file(tmp_path):
    """`token_file` becomes `token` from the file without its newline; `ca_file` stays a path."""
    write(tmp_path / "secrets/token", SECRET + "\n")
    main = write(
        tmp_path / "main.toml",
        GOOD.replace(
            'host = "127.0.0.1"', 'host = "h"\ntoken_file = "secrets/token"\nca_file = "ca.pem"'
        ),
    )
    check = load(main, env={}).checks[0]
    assert (check.token, check.ca_file) == (SECRET, "ca.pem")


def test_file_secret_problems():
    """Both X and X_file, or an unreadable file, are problems naming the key and the path."""
    found = problems(
        toml(GOOD)
        .replace('host = "127.0.0.1"', 'host = "h"\ntoken = "t"\ntoken_file = "/x"')
        .replace('url = "http://127.0.0.1:1/hook"', 'url = "u"\ntoken_file = "/nonexistent/tok"')
    )
    assert [(p.path, p.message) for p in found] == [
        ("check[web].token_file", "set either token or token_file, not both"),
        ("notifier[hook].token_file", "cannot read /nonexistent/tok: No such file or directory"),
    ]


def test_defaults_fill_checks_that_do_not_set_them():
    """[defaults] keys apply to checks that leave them out; a check's own value wins."""
    text = toml(GOOD).replace(
        "[[check]]", '[defaults]\ninterval = "30s"\nretries = 5\n[[check]]', 1
    )
    text += '[[check]]\nname = "own"\ntype = "fake"\nhost = "h"\ninterval = "5m"\n'
    config = load_text(text, env={})
    web, own = config.checks
    assert (web.interval, web.retries, web.timeout) == (
        timedelta(seconds=30),
        5,
        timedelta(seconds=10),
    )
    assert (own.interval, own.retries) == (timedelta(minutes=5), 5)
    assert config.defaults.interval == timedelta(seconds=30)


def test_unknown_or_missing_type_lists_known_types():
    """A check or notifier with an unknown or missing type names the types that exist."""
    found = problems(
        toml(GOOD).replace('type = "fake"', 'type = "smoke"').replace('type = "fakehook"\n', "")
    )
    assert [(p.path, p.message) for p in found] == [
        ("check[web].type", "unknown check type 'smoke'; known types: fake"),
        ("notifier[hook].type", "required key is missing; known types: fakehook"),
    ]


def test_unnamed_item_is_labelled_by_its_index_in_its_file():
    """An item without a usable name is pointed at by its position in its file, from #0."""
    found = problems(GOOD + '[[check]]\ntype = "fake"\nhost = "h"\n')
    assert paths(found) == ["check[#1].name"]


def test_duplicate_names_across_files(tmp_path):
    """A name used twice is reported where the second one is, naming where the first is."""
    main = write(tmp_path / "main.toml", 'include = ["more.toml"]\n' + GOOD)
    more = write(
        tmp_path / "more.toml",
        GOOD.replace("[daemon]", "").replace('listen = "127.0.0.1:9999"', ""),
    )
    found = problems_of(main)
    assert {p.file for p in found} == {str(more)}
    assert paths(found) == [
        "check[web].name",
        "rule[all].name",
        "policy[p].name",
        "notifier[hook].name",
    ]
    assert f"already used by [[check]] #0 in {main}" in found[0].message


def test_dangling_references():
    """Unknown policies, notifiers and dependencies are reported at the referring key."""
    text = (
        toml(GOOD)
        .replace('policy = "p"', 'policy = "nope"')
        .replace(
            'notify = ["hook"]',
            'notify = ["hook"]\n[[policy.level]]\nafter = "5m"\nnotify = ["pager"]',
        )
    )
    text = text.replace('labels = { site = "hq" }', 'depends_on = ["web", "ghost"]')
    found = problems(text)
    assert [(p.path, p.message) for p in found] == [
        ("check[web].depends_on", "a check cannot depend on itself"),
        ("check[web].depends_on", "unknown check 'ghost'; defined check names: web"),
        ("rule[all].policy", "unknown policy 'nope'; defined policy names: p"),
        ("policy[p].level[1].notify", "unknown notifier 'pager'; defined notifier names: hook"),
    ]


def test_dependency_cycles_are_reported_once_each_with_their_path():
    """Each dependency cycle is one problem showing the loop; a shared dependency is fine."""
    text = toml(GOOD)
    for name, deps in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "d"), ("f", "a")]:
        text += f'[[check]]\nname = "{name}"\ntype = "fake"\nhost = "h"\ndepends_on = ["{deps}"]\n'
    found = problems(text)
    assert [(p.path, p.message) for p in found] == [
        ("check[a].depends_on", "dependency cycle: a -> b -> c -> a"),
        ("check[d].depends_on", "dependency cycle: d -> e -> d"),
    ]


def test_unmatched_checks_lists_checks_no_rule_would_open_an_incident_for():
    """Checks that no rule matches when critical are listed; disabled checks are not."""
    text = toml(GOOD).replace(
        '[[rule]]\nname = "all"', '[[rule]]\nname = "all"\nmatch = { site = ["hq", "dc"] }'
    )
    text += '[[rule]]\nname = "db"\nmatch_re = { check = "db-.*" }\npolicy = "p"\n'
    text += '[[rule]]\nname = "warn"\nmatch = { check = "noisy" }\nstatus = ["warning"]\n'
    for name, extra in [("db-1", ""), ("mail", ""), ("noisy", ""), ("off", "enabled = false")]:
        text += f'[[check]]\nname = "{name}"\ntype = "fake"\nhost = "h"\n{extra}\n'
    assert unmatched_checks(load_text(text, env={})) == ["mail", "noisy"]


def test_load_text_resolves_includes_from_the_working_directory(tmp_path, monkeypatch):
    """A config given as text includes files relative to the current directory."""
    write(tmp_path / "conf.d/x.toml", '[[check]]\nname = "x"\ntype = "fake"\nhost = "h"\n')
    monkeypatch.chdir(tmp_path)
    config = load_text('include = ["conf.d/*.toml"]\n' + toml(GOOD), env={})
    assert [c.name for c in config.checks] == ["web", "x"]
