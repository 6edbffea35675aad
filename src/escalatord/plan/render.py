"""The plan (data.py's `Plan`) as text: Markdown, one self-contained HTML page, or the HTML
page's body alone for the console, from the Jinja2 templates beside this module."""

from __future__ import annotations

from functools import cache

import jinja2

from escalatord.plan.data import Plan


@cache
def _templates(fmt: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("escalatord.plan", "templates"),
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(plan: Plan, fmt: str) -> str:
    """The plan rendered as `fmt` ("md" or "html"); HTML is autoescaped, Markdown is not (a
    wiki page is text, and escaping would show "&amp;" to its readers)."""
    return _templates(fmt).get_template(f"plan.{fmt}.j2").render(plan=plan)


def html_body(plan: Plan) -> str:
    """The content of the HTML page without the page around it (no head, no inline style):
    autoescaped HTML for a page that brings its own layout and stylesheet (console/plan.py)."""
    return _templates("html").get_template("plan_body.html.j2").render(plan=plan)
