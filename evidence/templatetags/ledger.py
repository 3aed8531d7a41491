"""`{% load ledger %}`: a ledger entry in words, as `evidence.custody.events` names it."""

from django import template

from evidence.custody.events import entry_label
from evidence.models import LedgerEntry

register = template.Library()


@register.filter
def ledger_event(entry: LedgerEntry) -> str:
    """What the entry records ("Allegation added"), old entries of a case included."""
    return entry_label(entry)
