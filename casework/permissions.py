"""What each case role may do. Checked by selectors (reads) and services (writes), so the
UI and the API share one rule and neither can forget it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from casework.models import Case, CaseMembership, CaseRole, ReportEdition
from evidence.access import EXTERNAL_REVIEWER, user_roles

VIEW = "view"
NOTE = "note"  # add notes, attribute accounts
ALLEGE = "allege"  # state allegations
REPORT = "report"  # request reports
MANAGE = "manage"  # legal hold
# Who is on the case and in what role, ownership included: the owner's alone (and an
# admin's on the case), so a counsel member can neither promote themselves nor demote the
# owner who answers for the case and reads its access audit.
MEMBERS = "members"
AUDIT = "audit"  # read the access audit
# Read the team's notes. They are attorney work product (FRCP 26(b)(3)): a regulator's
# staff on the case see the record and the editions made for them, never the notes.
WORK_PRODUCT = "work_product"

ABILITIES: dict[str, frozenset[str]] = {
    CaseRole.OWNER: frozenset({VIEW, WORK_PRODUCT, NOTE, ALLEGE, REPORT, MANAGE, MEMBERS, AUDIT}),
    CaseRole.COUNSEL: frozenset({VIEW, WORK_PRODUCT, NOTE, ALLEGE, REPORT, MANAGE}),
    CaseRole.INVESTIGATOR: frozenset({VIEW, WORK_PRODUCT, NOTE}),
    CaseRole.EXPERT: frozenset({VIEW, WORK_PRODUCT, NOTE}),
    CaseRole.VIEWER: frozenset({VIEW, WORK_PRODUCT}),
    CaseRole.EXTERNAL_REVIEWER: frozenset({VIEW}),
}

# A regulator's staff see only the editions made for them and for the public record.
EDITIONS_BY_ROLE: dict[str, frozenset[str]] = {
    CaseRole.EXTERNAL_REVIEWER: frozenset({ReportEdition.REGULATOR, ReportEdition.PUBLIC}),
}


# Case roles from the most to the least a member may do.
ROLE_RANK = (
    CaseRole.OWNER,
    CaseRole.COUNSEL,
    CaseRole.INVESTIGATOR,
    CaseRole.EXPERT,
    CaseRole.VIEWER,
    CaseRole.EXTERNAL_REVIEWER,
)
# The case roles a global role may hold. The provider's people who build cases may hold
# any; a viewer reads (as on the record); a regulator's reviewer is only ever one, so the
# privileged editions and the team's notes never reach them through a role on a case. A
# user with no global role left is held to a viewer's roles.
CASE_ROLES_BUILDERS = frozenset(ROLE_RANK)
CASE_ROLES_READERS = frozenset({CaseRole.VIEWER, CaseRole.EXTERNAL_REVIEWER})
CASE_ROLES_EXTERNAL = frozenset({CaseRole.EXTERNAL_REVIEWER})
ADMIN = "admin"
CASE_BUILDER_ROLES = frozenset({ADMIN, "counsel", "investigator"})


def case_roles_allowed(user) -> frozenset[str]:
    """The case roles `user` may hold, by their global role (the groups of `evidence.access`)."""
    if user.is_superuser:
        return CASE_ROLES_BUILDERS
    roles = user_roles(user)
    if EXTERNAL_REVIEWER in roles:
        return CASE_ROLES_EXTERNAL
    if roles & CASE_BUILDER_ROLES:
        return CASE_ROLES_BUILDERS
    return CASE_ROLES_READERS


def case_role_capped(user, role: str) -> str:
    """`role`, or the highest role below it that the user's global role allows.

    Applied on every read as well as when a role is given: a membership recorded before
    the user's global role was withdrawn (or made by hand) never outranks that role.
    """
    allowed = case_roles_allowed(user)
    for candidate in ROLE_RANK[ROLE_RANK.index(role) :]:
        if candidate in allowed:
            return candidate
    return CaseRole.EXTERNAL_REVIEWER


def case_role_of(user, case: Case) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return CaseRole.OWNER
    cache = getattr(user, "_pacta_case_roles", None)
    if cache is None:
        cache = user._pacta_case_roles = {}
    if case.pk not in cache:
        role = (
            CaseMembership.objects.filter(case=case, user=user)
            .values_list("role", flat=True)
            .first()
        )
        cache[case.pk] = case_role_capped(user, role) if role is not None else None
    return cache[case.pk]


def case_can(user, case: Case, ability: str) -> bool:
    role = case_role_of(user, case)
    if role is None:
        return False
    if ability == MEMBERS and role != CaseRole.EXTERNAL_REVIEWER and ADMIN in user_roles(user):
        return True  # an admin on the case may set its members, as its owner may
    return ability in ABILITIES[role]


def holds_counsel_role(user, case: Case) -> bool:
    """A lawyer on the case: counsel on it, or its owner whose own role is counsel."""
    role = case_role_of(user, case)
    if role == CaseRole.COUNSEL:
        return True
    return role == CaseRole.OWNER and (user.is_superuser or "counsel" in user_roles(user))


def case_require(user, case: Case, ability: str) -> None:
    """Raise PermissionDenied (403) unless the user's role on the case allows `ability`.

    Callers have already found the case through `case_get`, so a non-member never gets
    this far (they get 404, as if the case did not exist).
    """
    if not case_can(user, case, ability):
        raise PermissionDenied(
            f"your role on case {case.reference} does not allow this ({ability})"
        )


def editions_visible(user, case: Case) -> frozenset[str]:
    role = case_role_of(user, case)
    if role is None:
        return frozenset()
    return EDITIONS_BY_ROLE.get(role, frozenset(ReportEdition.values))
