"""Turning pydantic validation errors into `key.path: message` lines admins can act on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in TOML (aliases where set)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def loc_path(data: Any, loc: tuple[Any, ...]) -> str:
    """`('level', 0, 'notify')` -> `level[0].notify`, following the data. Indexes count from 0,
    as the webhook payload's `level` does.

    pydantic puts a type tag in the loc of each union member ("str", "tuple[str, ...]"): an
    element that is neither in the data nor a missing key at the end is such a tag: dropped.
    """
    out, current = "", data
    for position, element in enumerate(loc):
        if isinstance(element, int):
            out += f"[{element}]"
            ok = isinstance(current, list) and 0 <= element < len(current)
            current = current[element] if ok else None
        elif isinstance(current, dict) and (element in current or position == len(loc) - 1):
            out += f".{element}" if out else element
            current = current.get(element)
        else:
            current = None
    return out


def message(error: Any, model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    if error["type"] == "extra_forbidden":
        allowed = f"; allowed keys: {', '.join(keys(model))}" if len(loc) == 1 else ""
        return "unknown key" + allowed
    if error["type"] == "missing":
        return "required key is missing"
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def join_messages(messages: list[str]) -> str:
    """Merge the messages of union members: "Input should be a valid string or a valid tuple"."""
    unique, lead = list(dict.fromkeys(messages)), "Input should be "
    if len(unique) > 1 and all(m.startswith(lead) for m in unique):
        return lead + " or ".join(m.removeprefix(lead) for m in unique)
    return "; ".join(unique)
