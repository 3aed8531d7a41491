"""The record `make fuzz` runs schemathesis against: a small generated world with
detection run, a counsel who holds the token, and one case with accounts, an allegation
and a note, so every endpoint under /api/v1/cases/{reference}/ has something to answer.

It lives here rather than inline in the Makefile so the suite exercises it: a change to
the services' rules (an allegation must rest on an operative clause, say) breaks a test,
not only the CI run that follows."""

from __future__ import annotations

import io
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from casework import services
from casework.demo.mode import demo_record_load, demo_scenario_ensure
from casework.models import Case
from evidence.models import Account, Clause, ClauseKind, DetectionRun

FUZZ_USERNAME = "fuzz-counsel"
FUZZ_CASE_REFERENCE = "FUZZ-1"


def fuzz_record_ensure(*, scenario_dir: Path, accounts: int = 200, events: int = 10000) -> Case:
    """Load the fuzz world once and open its case; a rerun changes nothing."""
    demo_scenario_ensure(out_dir=scenario_dir, accounts=accounts, events=events, seed=11)
    demo_record_load(scenario_dir=scenario_dir)
    if not DetectionRun.objects.filter(status="finished").exists():
        call_command("detect", stdout=io.StringIO())
    user, _ = get_user_model().objects.get_or_create(username=FUZZ_USERNAME)
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name="counsel"))
    case = Case.objects.filter(reference=FUZZ_CASE_REFERENCE).first()
    if case is not None:
        return case
    case = services.case_open(
        actor=user, reference=FUZZ_CASE_REFERENCE, title="Fuzz", respondent="Fuzz"
    )
    services.case_accounts_attribute(
        actor=user, case=case, accounts=Account.objects.order_by("pk")[:5], basis="other"
    )
    # Only an operative term can be breached: titles, headings and definitions are refused.
    clause = Clause.objects.filter(kind=ClauseKind.OPERATIVE).order_by("pk").first()
    services.allegation_add(actor=user, case=case, clause=clause, theory="Fuzz")
    services.note_add(actor=user, case=case, text="Fuzz")
    return case
