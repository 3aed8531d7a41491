"""What each case role may do. Checked by selectors (reads) and services (writes), so the
UI and the API share one rule and neither can forget it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from casework.models import Case, CaseMembership, CaseRole, ReportEdition

VIEW = "view"
NOTE = "note"  # add notes, attribute accounts
ALLEGE = "allege"  # state allegations
REPORT = "report"  # request reports
MANAGE = "manage"  # members, legal hold
AUDIT = "audit"  # read the access audit
# Read the team's notes. They are attorney work product (FRCP 26(b)(3)): a regulator's
# staff on the case see the record and the editions made for them, never the notes.
WORK_PRODUCT = "work_product"

ABILITIES: dict[str, frozenset[str]] = {
    CaseRole.OWNER: frozenset({VIEW, WORK_PRODUCT, NOTE, ALLEGE, REPORT, MANAGE, AUDIT}),
    CaseRole.COUNSEL: frozenset({VIEW, WORK_PRODUCT, NOTE, ALLEGE, REPORT, MANAGE}),
    CaseRole.INVESTIGATOR: frozenset({VIEW, WORK_PRODUCT, NOTE}),
    CaseRole.VIEWER: frozenset({VIEW, WORK_PRODUCT}),
    CaseRole.EXTERNAL_REVIEWER: frozenset({VIEW}),
}

# A regulator's staff see only the editions made for them and for the public record.
EDITIONS_BY_ROLE: dict[str, frozenset[str]] = {
    CaseRole.EXTERNAL_REVIEWER: frozenset({ReportEdition.REGULATOR, ReportEdition.PUBLIC}),
}


def case_role_of(user, case: Case) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return CaseRole.OWNER
    cache = getattr(user, "_pacta_case_roles", None)
    if cache is None:
        cache = user._pacta_case_roles = {}
    if case.pk not in cache:
        cache[case.pk] = (
            CaseMembership.objects.filter(case=case, user=user)
            .values_list("role", flat=True)
            .first()
        )
    return cache[case.pk]


def case_can(user, case: Case, ability: str) -> bool:
    role = case_role_of(user, case)
    return role is not None and ability in ABILITIES[role]


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
