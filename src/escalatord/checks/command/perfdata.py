"""Monitoring-plugin output: the summary line, long text and performance data. Pure.

The format (Nagios plugin guidelines, followed by monitoring-plugins):

    TEXT OUTPUT | PERFDATA
    LONG TEXT LINE 1
    LONG TEXT LINE 2 | PERFDATA
    PERFDATA

Perfdata items are separated by spaces: `'label'=value[UOM];[warn];[crit];[min];[max]`.
A label with spaces is single-quoted, with `''` for a quote inside. A value of `U` means the
plugin could not determine it. Malformed items are skipped, so one odd item never hides the
rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VALUE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z%]*)$")


@dataclass(frozen=True)
class PerfValue:
    """One perfdata item. Thresholds stay text: they may be ranges such as "@10:20"."""

    label: str
    value: float
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class PluginOutput:
    summary: str
    long_text: str
    perfdata: tuple[PerfValue, ...]

    def measurements(self) -> dict[str, float]:
        """{label: value}; a repeated label keeps its last value."""
        return {p.label: p.value for p in self.perfdata}


def parse_output(text: str) -> PluginOutput:
    """Split plugin output into its summary (first line), long text and perfdata."""
    lines = text.replace("\r\n", "\n").split("\n")
    first, _, perf = lines[0].partition("|")
    perf_parts = [perf]
    long_lines: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
        elif "|" in line:
            text_part, _, more = line.partition("|")
            long_lines.append(text_part)
            perf_parts.append(more)
            in_perf = True
        else:
            long_lines.append(line)
    return PluginOutput(
        summary=first.strip(),
        long_text="\n".join(long_lines).strip(),
        perfdata=tuple(parse_perfdata(" ".join(perf_parts))),
    )


def parse_perfdata(text: str) -> list[PerfValue]:
    """Every well-formed item of a perfdata string, in order."""
    out: list[PerfValue] = []
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        label, pos = _label(text, pos)
        token_end = pos
        while token_end < end and not text[token_end].isspace():
            token_end += 1
        token, pos = text[pos:token_end], token_end
        if label is None or not token.startswith("="):
            continue
        item = _item(label, token[1:])
        if item is not None:
            out.append(item)
    return out


def _label(text: str, pos: int) -> tuple[str | None, int]:
    """The label starting at `pos` and the position of its "="; None when malformed."""
    if text[pos] == "'":
        chars: list[str] = []
        pos += 1
        while pos < len(text):
            if text[pos] == "'":
                if text[pos + 1 : pos + 2] == "'":  # '' is a quote inside the label
                    chars.append("'")
                    pos += 2
                    continue
                return "".join(chars) or None, pos + 1
            chars.append(text[pos])
            pos += 1
        return None, pos
    start = pos
    while pos < len(text) and text[pos] != "=" and not text[pos].isspace():
        pos += 1
    return (text[start:pos] or None), pos


def _number(text: str) -> float | None:
    text = text.strip().replace(",", ".")  # a plugin run under a decimal-comma locale
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _item(label: str, spec: str) -> PerfValue | None:
    fields = [*spec.split(";"), "", "", "", ""][:5]
    found = _VALUE.match(fields[0].replace(",", "."))
    if found is None:  # "U" (undetermined) or garbage
        return None
    return PerfValue(
        label=label,
        value=float(found.group(1)),
        uom=found.group(2),
        warn=fields[1].strip(),
        crit=fields[2].strip(),
        min=_number(fields[3]),
        max=_number(fields[4]),
    )
