"""The record `make fuzz` runs against is built by the same services the product uses, so
a rule they gain (an allegation must rest on an operative clause) is met here first."""

from __future__ import annotations

import pytest

from casework.demo.fuzz import FUZZ_CASE_REFERENCE, fuzz_record_ensure
from casework.models import Case
from evidence.models import ClauseKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def test_the_fuzz_record_opens_its_case_on_an_operative_clause_and_reruns_cleanly(tmp_path):
    scenario = tmp_path / "scenario"
    case = fuzz_record_ensure(scenario_dir=scenario)
    assert case.reference == FUZZ_CASE_REFERENCE
    allegation = case.allegations.get()
    assert allegation.clause.kind == ClauseKind.OPERATIVE
    assert case.case_accounts.count() == 5
    assert case.notes.count() == 1
    again = fuzz_record_ensure(scenario_dir=scenario)
    assert again.pk == case.pk
    assert Case.objects.filter(reference=FUZZ_CASE_REFERENCE).count() == 1
    assert case.allegations.count() == 1
