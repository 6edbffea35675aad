"""The title of a root-cause incident (incidents/rootcause.py): count, sites, first names."""

from __future__ import annotations

from escalatord.incidents.rootcause import entries, title


def test_title_counts_names_and_sites() -> None:
    """The title says how many checks are unreachable, at which sites, and which."""
    listed = entries(["pc-2", "pc-1"], {"pc-1": "boston", "pc-2": "boston"})
    assert title("wan is CRITICAL", listed) == (
        "wan is CRITICAL — 2 checks unreachable (site boston): pc-1, pc-2"
    )


def test_title_shortens_long_lists_and_replaces_an_earlier_list() -> None:
    """Past five names the rest are counted, and an old list in the title is replaced, not
    appended to."""
    listed = entries([f"h{i}" for i in range(8)], {})
    once = title("wan is CRITICAL — 1 check unreachable: old", listed)
    assert once == "wan is CRITICAL — 8 checks unreachable: h0, h1, h2, h3, h4 +3 more"


def test_empty_list_gives_back_the_plain_title() -> None:
    """When nothing is affected any more the title is the check's own again."""
    assert title("wan is CRITICAL — 1 check unreachable: h0", []) == "wan is CRITICAL"
