"""`[[category]]`: business impact, named by rules and carried by the incidents they open.

    [[category]]
    name = "patient-care"
    priority = 1                  # 1 = most urgent … 5; orders the plan, reports, listings
    description = "Anything that endangers patient care"

A rule names one with `category = "patient-care"`; the incident it opens stores the name and
the priority of that moment (a later edit of the category does not rewrite history). Names are
unique and a rule naming no defined category is an error (config/items.py `cross_check`).
"""

from __future__ import annotations

from pydantic import Field

from escalatord.config.people import NAME
from escalatord.fields import Strict

PRIORITY_MOST_URGENT = 1
PRIORITY_LEAST_URGENT = 5


class CategoryConfig(Strict):
    """One `[[category]]` (module docstring)."""

    name: str = Field(min_length=1, pattern=NAME)
    priority: int = Field(ge=PRIORITY_MOST_URGENT, le=PRIORITY_LEAST_URGENT)
    description: str = ""
