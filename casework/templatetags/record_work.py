"""Template filters for the record's long work (detection, ingest)."""

from django import template

from evidence.access import record_writer

register = template.Library()


@register.filter
def may_add_to_record(user) -> bool:
    """Whether the page offers this user to run detection or upload a file (the services
    check again: hiding a button is not access control)."""
    return record_writer(user)
