"""Template helpers of the elements checklist: an exhibit cited by its number in the
report's exhibit index, so the checklist points at a file the reader holds."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def exhibit_cite(file_name: str | None, exhibits) -> str:
    """ "Exhibit 3 (assent.csv)" when the edition carries the exhibit; the bare file name
    with "not in this edition" otherwise (never a number the index does not hold)."""
    if not file_name:
        return ""
    for exhibit in exhibits or []:
        if exhibit.get("file_name") == file_name:
            return f"Exhibit {exhibit['number']} ({file_name})"
    return f"{file_name} (not in this edition)"
