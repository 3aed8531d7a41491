"""Template helpers for the UI: small server-rendered SVG charts (readable without JavaScript),
and the names and counts a person reads."""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

from evidence.detectors import REGISTRY

register = template.Library()


@register.inclusion_tag("ui/bar_chart.html")
def bar_chart(rows, value_key: str, label_key: str, title: str, unit: str = ""):
    """A bar chart of `rows` (dicts), one bar per row, with an accessible title and table.

    The numbers behind the bars are listed in a visually hidden table for screen readers,
    so the chart is never the only place a figure appears.
    """
    values = [float(row[value_key] or 0) for row in rows]
    peak = max(values, default=0) or 1
    width, height = 720, 160
    step = width / max(len(values), 1)
    bars = [
        {
            "x": round(i * step + 1, 2),
            "y": round(height - (v / peak) * (height - 10), 2),
            "w": round(max(step - 2, 1), 2),
            "h": round((v / peak) * (height - 10), 2),
            "label": rows[i][label_key],
            "value": v,
        }
        for i, v in enumerate(values)
    ]
    return {
        "bars": bars,
        "title": title,
        "unit": unit,
        "width": width,
        "height": height,
        "peak": peak,
        "first": rows[0][label_key] if rows else None,
        "last": rows[-1][label_key] if rows else None,
    }


@register.filter
def shorthash(value: str, length: int = 12) -> str:
    return (value or "")[:length]


@register.filter
def percent(value) -> str:
    """A share (0 to 1) as a percentage with one decimal; a dash where there is none."""
    return "—" if value is None or value == "" else f"{float(value) * 100:.1f}%"


@register.filter
def detector_name(code: str) -> str:
    """A signal's or link kind's name as people read it ("Shared API key"), never its code.

    A code no detector registers any more (a finding of a retired detector) reads as words.
    """
    detector = REGISTRY.get(code)
    if detector is not None and detector.name:
        return detector.name
    return str(code).replace("_", " ").capitalize()


@register.filter
def counted(number, nouns: str) -> str:
    """`n` and its noun, with thousands separators and the right plural: "1 link",
    "2,101 links"; `nouns` is "link" (plural adds s) or "person,people"."""
    singular, _, plural = nouns.partition(",")
    n = int(number or 0)
    return f"{intcomma(n)} {singular if n == 1 else (plural or singular + 's')}"


@register.simple_tag(takes_context=True)
def page_query(context, param: str, number: int) -> str:
    """This page's query string with `param` set to `number`, the other tables' pages kept."""
    query = context["request"].GET.copy()
    query[param] = number
    return f"?{query.urlencode()}"
