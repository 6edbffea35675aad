"""check-config's cross-checks of the people sections (config/loader.py runs them).

- Persons, teams, schedules and notifiers share ONE namespace, as a level's `notify` may name
  any of them: a name used by two kinds is reported at the later one, naming the first.
  (A name used twice within one kind is config/items.py's duplicate check.)
- A team's members, a layer's members and an override's person must be [[person]] names.
- A contact's notifier must be a [[notifier]] whose type can address one person
  (`Notifier.addresses_person`), and the contact must say `to`, that person's address.

Checks read the items as written (like items.py), so one bad section does not hide another's
problems; values of the wrong shape are left to validation, which reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from escalatord.config.items import TARGETS, Item

# What `to` is for each built-in type that can address one person (docs: DESIGN, contacts).
ADDRESS_HINTS = {
    "email": 'an e-mail address, e.g. to = "alice@example.org"',
    "twilio_sms": 'a phone number with its country code, e.g. to = "+33612345678"',
    "ntfy": 'a topic, e.g. to = "alice-pages"',
    "slack": 'a Slack user or channel id, e.g. to = "U0123ABCD"',
    "webhook": 'any text the receiver understands (sent as "to"), e.g. to = "alice"',
    "exec": 'any text the command understands (passed to it), e.g. to = "alice"',
}

At = Callable[[Item, str, str], None]


def check_people(items: list[Item], at: At, addresses_person: Callable[[str], bool | None]) -> None:
    """Report every cross-section problem of persons, teams, schedules and contacts.

    `addresses_person(type)` says whether a notifier type can address one person; None for a
    type that is unknown or broken (its [[notifier]] is reported for that already).
    """
    by_kind: dict[str, dict[str, Item]] = {kind: {} for kind in TARGETS}
    owner: dict[str, Item] = {}
    for item in items:
        if item.kind not in by_kind or item.name is None:
            continue
        by_kind[item.kind].setdefault(item.name, item)
        first = owner.setdefault(item.name, item)
        if first.kind != item.kind:
            at(
                item,
                "name",
                f"the name {item.name!r} is already used by [[{first.kind}]] {first.label} "
                f"(#{first.index} in {first.file}); persons, teams, schedules and notifiers "
                "share one namespace because a level's notify may name any of them: "
                "rename one of the two",
            )
    persons = by_kind["person"]

    def not_a_person(name: Any) -> str | None:
        if not isinstance(name, str) or name in persons:
            return None
        kind = next((k for k in TARGETS if name in by_kind[k]), None)
        what = f"{name!r} is a {kind}, not a person" if kind else f"unknown person {name!r}"
        if not persons:
            return f'{what}; no [[person]] is defined: add one with name = "{name}"'
        return f"{what}; defined person names: {', '.join(persons)}"

    for item in items:
        found: list[tuple[str, str | None]] = []
        if item.kind == "team":
            found += _each(item.list("members"), "members", not_a_person)
        elif item.kind == "schedule":
            for index, layer in _tables(item.list("layer")):
                members = layer.get("members")
                listed = members if isinstance(members, list) else []
                found += _each(listed, f"layer[{index}].members", not_a_person)
            for index, override in _tables(item.list("override")):
                found.append((f"override[{index}].person", not_a_person(override.get("person"))))
        elif item.kind == "person":
            for index, contact in _tables(item.list("contact")):
                found += _contact(item, index, contact, by_kind["notifier"], addresses_person)
        for key, message in found:
            if message:
                at(item, key, message)


def _contact(
    person: Item,
    index: int,
    contact: dict[str, Any],
    notifiers: dict[str, Item],
    addresses_person: Callable[[str], bool | None],
) -> list[tuple[str, str | None]]:
    """The problems of `person`'s contact number `index`: its notifier, then its `to`."""
    where = f"contact[{index}]"
    name = contact.get("notifier")
    if not isinstance(name, str):
        return []  # missing or not a string: validation says so
    if name not in notifiers:
        defined = ", ".join(notifiers) or "none"
        message = f"unknown notifier {name!r}; defined notifier names: {defined}"
        return [(f"{where}.notifier", message)]
    type_name = notifiers[name].data.get("type")
    can = addresses_person(type_name) if isinstance(type_name, str) else None
    if can is None:
        return []  # the notifier's own type problem is the one to fix first
    if not can:
        able = [n for n, item in notifiers.items() if _able(item, addresses_person)]
        choice = f"notifiers that can: {', '.join(able)}" if able else "none is defined yet"
        return [
            (
                f"{where}.notifier",
                f"notifier {name!r} is of type {type_name!r}, which cannot address one person "
                f"(it posts to a channel); a contact needs a notifier of type "
                f"{', '.join(ADDRESS_HINTS)}: {choice}",
            )
        ]
    data = notifiers[name].data
    if type_name == "slack" and not (data.get("bot_token") or data.get("bot_token_file")):
        # An incoming webhook posts to its own channel only; a person needs chat.postMessage.
        return [
            (
                f"{where}.notifier",
                f"notifier {name!r} (slack) has no bot_token, and its incoming webhook posts to "
                'one channel only: give it bot_token = "${SLACK_BOT_TOKEN}" (a bot token with '
                "the chat:write scope) to page a person",
            )
        ]
    to = contact.get("to")
    if to is None or (isinstance(to, str) and not to.strip()):
        hint = ADDRESS_HINTS.get(type_name, 'the address this notifier sends to, e.g. to = "alice"')
        missing = "required key is missing" if to is None else "must not be empty"
        return [
            (
                f"{where}.to",
                f"{missing}: {person.name or 'this person'}'s address for notifier "
                f"{name!r} ({type_name}): {hint}",
            )
        ]
    return []


def _able(item: Item, addresses_person: Callable[[str], bool | None]) -> bool:
    type_name = item.data.get("type")
    return isinstance(type_name, str) and bool(addresses_person(type_name))


def _tables(value: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, table) for index, table in enumerate(value) if isinstance(table, dict)]


def _each(
    names: list[Any], key: str, problem: Callable[[Any], str | None]
) -> list[tuple[str, str | None]]:
    return [(f"{key}[{index}]", problem(name)) for index, name in enumerate(names)]
