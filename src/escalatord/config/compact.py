"""Less memory per check config: what every check's pydantic model holds alike, held once.

pydantic keeps, on every model, the set of field names given explicitly
(`__pydantic_fields_set__`): a set of five to ten names costs 728 bytes, about a third of a
small check's config, and 58 MB at 80,000 checks (issue 17: memory must stay bounded at that
size). Checks of one type written alike give the same set, so one set is kept per distinct
set and shared. That is safe because config models are frozen: pydantic adds to the set only
when a field is assigned, which a frozen model refuses, and `model_copy` copies it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def share_field_sets(models: Iterable[M]) -> tuple[M, ...]:
    """`models`, each frozen one's set of explicitly given fields shared with its equals."""
    shared: dict[frozenset[str], set[str]] = {}
    out = []
    for model in models:
        if model.model_config.get("frozen"):
            given = model.__pydantic_fields_set__
            one = shared.setdefault(frozenset(given), given)
            object.__setattr__(model, "__pydantic_fields_set__", one)
        out.append(model)
    return tuple(out)
