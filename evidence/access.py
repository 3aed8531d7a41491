"""Who may read the shared record (accounts, usage, findings): the provider's own people.

Global roles are Django groups. External reviewers (a regulator's staff) never read the
raw record: they see only the cases shared with them, through the case side. Anyone
without an internal role is refused by default.
"""

from __future__ import annotations

INTERNAL_ROLES = ("admin", "counsel", "investigator", "viewer")
# Who may add to the record (ingest): the people who collect evidence. A viewer reads only.
RECORD_WRITER_ROLES = ("admin", "counsel", "investigator")
EXTERNAL_REVIEWER = "external reviewer"
ROLES = (*INTERNAL_ROLES, EXTERNAL_REVIEWER)


def user_roles(user) -> set[str]:
    if not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_pacta_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._pacta_roles = cached
    return cached


def record_reader(user) -> bool:
    """May this user read the record that is not tied to a case?"""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    roles = user_roles(user)
    return EXTERNAL_REVIEWER not in roles and bool(roles & set(INTERNAL_ROLES))


def clause_categoriser(user) -> bool:
    """May this user correct a clause's category? Counsel only: the category decides which
    findings support an allegation, a legal judgement about what the clause forbids."""
    if not getattr(user, "is_authenticated", False):
        return False  # a system actor ("system:demo") is not counsel
    return record_reader(user) and "counsel" in user_roles(user)


def record_writer(user) -> bool:
    """May this user add to the shared record (accounts, usage, assent through ingest)?

    Everything ingested becomes evidence under the collector's name, so the right to add
    to the record follows the role, not only the token: a viewer, an external reviewer or
    a user whose role was withdrawn may hold no ingest token and use none.
    """
    if not record_reader(user):
        return False
    return user.is_superuser or bool(user_roles(user) & set(RECORD_WRITER_ROLES))
