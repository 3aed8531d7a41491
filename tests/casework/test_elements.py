"""The elements checklist (issue #18): for each allegation, which element of the claim the
record supports, with the exhibit rows behind it, and which it does not, shown; the flags
a respondent's counsel would raise first, raised on the record that earns them and on no
other. The case page, the API and the signed report state the same checklist."""

from __future__ import annotations

import copy
import datetime as dt
import re
from decimal import Decimal

from django.contrib.auth import get_user_model

from casework import services
from casework.elements import (
    NOT_SUPPORTED,
    PARTIAL,
    SUPPORTED,
    as_data,
    elements_check,
    facts_from_snapshot,
)
from casework.elements_live import case_elements_key, elements_facts_live
from casework.models import Allegation, CaseMembership
from casework.reports.snapshot import case_snapshot
from evidence.models import Clause
from tests.casework.test_reports import _build, _text, case, detected  # noqa: F401  (fixtures)
from tests.factories import token_client

THEORY = "The accounts harvested reasoning at scale to train a competing model."

# --- The rule on crafted facts ----------------------------------------------------------


def _allegation(pk=1, *, path="3.3(a)", category="competing_models", theory=THEORY, text=""):
    return {
        "id": pk,
        "theory": theory,
        "clause": {
            "id": pk * 10,
            "document": "sa",
            "version": "2026-01-01",
            "effective_date": "2026-01-01",
            "version_sha256": "ab" * 32,
            "path": path,
            "category": category,
            "text": text or f"Clause {path}: you may not do the thing number {pk}.",
        },
        "clause_versions": [
            {"version": "2025-06-01", "effective_date": "2025-06-01", "same_text": True},
            {"version": "2026-01-01", "effective_date": "2026-01-01", "same_text": True},
        ],
        "document_versions": [
            {"version": "2025-06-01", "effective_date": "2025-06-01"},
            {"version": "2026-01-01", "effective_date": "2026-01-01"},
        ],
    }


def _account(account_id, *, assent=(("2026-01-01", "2026-01-02T00:00:00Z"),), basis="payment"):
    return {
        "account_id": account_id,
        "attribution": {"basis": basis, "detail": "one card" if basis != "other" else ""},
        "assent": [
            {"terms": "sa", "version": version, "accepted_at": at, "method": "clickwrap"}
            for version, at in assent
        ],
    }


def _facts(**changes):
    """A clean case: two accounts that accepted the version in force after it took effect,
    conduct inside it, a detector bearing on the category that fired, a canary match,
    priced usage, limits loaded."""
    facts = {
        "allegations": [_allegation()],
        "accounts": [_account("acct_a"), _account("acct_b")],
        "terms": [
            {"document": "sa", "version": "2025-06-01", "effective_date": "2025-06-01"},
            {"document": "sa", "version": "2026-01-01", "effective_date": "2026-01-01"},
        ],
        "conduct": {
            "first_ts": "2026-01-05T00:00:00Z",
            "last_ts": "2026-02-01T00:00:00Z",
            "requests": 120,
            "throttled": 0,
        },
        "detection": {
            "detectors": [
                {"code": "harvest", "name": "Harvesting", "kind": "signal",
                 "categories": ["competing_models", "output_extraction"]},
                {"code": "rhythm", "name": "Rhythm", "kind": "signal",
                 "categories": ["limit_circumvention"]},
                {"code": "shared_key", "name": "Shared key", "kind": "link",
                 "categories": ["key_transfer"]},
            ],
            "findings": [
                {"detector": "harvest", "fired": 2, "measured": 2},
                {"detector": "rhythm", "fired": 0, "measured": 2},
            ],
            "links": [],
        },
        "plan_limits": [{"plan": "tier-2"}],
        "output_use": {
            "batches": [{"id": 1}],
            "claims": [],
            "overlap": None,
            "matches": [{"canary_id": "cn_1"}],
        },
        "damages": {"priced": True, "value": Decimal("12.50"), "unpriced": [], "requests": 120},
    }  # fmt: skip
    facts.update(changes)
    return facts


def _checked(facts, n=0):
    checklist = as_data(elements_check(facts))
    allegation = checklist["allegations"][n]
    return {e["key"]: e for e in allegation["elements"]}, allegation["flags"], checklist["flags"]


def test_a_clean_record_supports_every_element_and_raises_no_flag():
    elements, flags, case_flags = _checked(_facts())
    assert [e["status"] for e in elements.values()] == [SUPPORTED] * 6
    assert list(elements) == ["formation", "version", "conduct", "attribution", "use", "damages"]
    assert flags == [] and case_flags == []
    formation = elements["formation"]["references"][0]
    assert (formation["exhibit"], formation["rows"], formation["keys"]) == (
        "assent.csv",
        2,
        ["acct_a", "acct_b"],
    )
    conduct = elements["conduct"]["references"][0]
    assert (conduct["exhibit"], conduct["rows"], conduct["keys"]) == (
        "findings.csv",
        2,
        ["harvest"],
    )
    assert elements["damages"]["statement"] == "$12.50 at the provider's list prices."
    assert elements["formation"]["statement"] == (
        "Every one of the 2 accounts accepted sa version 2025-06-01, 2026-01-01, on or after "
        "its effective date."
    )


def test_formation_not_supported_without_assent_and_flagged():
    accounts = [_account("acct_a", assent=()), _account("acct_b", assent=())]
    elements, _, case_flags = _checked(_facts(accounts=accounts))
    assert elements["formation"]["status"] == NOT_SUPPORTED
    assert "2 have no record of accepting sa at all" in elements["formation"]["statement"]
    assert elements["formation"]["references"] == []
    (flag,) = case_flags
    assert flag["code"] == "no_assent" and flag["accounts"] == ["acct_a", "acct_b"]
    assert flag["accounts_total"] == 2


def test_assent_before_the_effective_date_counts_for_nothing_and_is_flagged():
    early = _account("acct_b", assent=(("2026-01-01", "2025-11-02T08:01:10Z"),))
    elements, _, case_flags = _checked(_facts(accounts=[_account("acct_a"), early]))
    assert elements["formation"]["status"] == PARTIAL
    assert "1 accepted it only before it took effect" in elements["formation"]["statement"]
    (flag,) = case_flags
    assert flag["code"] == "assent_before_effective" and flag["accounts"] == ["acct_b"]
    assert "accepted 2025-11-02, effective 2026-01-01" in flag["statement"]


def test_version_in_force_not_supported_when_it_took_effect_after_the_conduct():
    conduct = {"first_ts": "2025-07-01T00:00:00Z", "last_ts": "2025-08-01T00:00:00Z",
               "requests": 5, "throttled": 0}  # fmt: skip
    allegation = _allegation()
    allegation["clause_versions"][0]["same_text"] = False  # only the later version says it
    elements, _, _ = _checked(_facts(conduct=conduct, allegations=[allegation]))
    assert elements["version"]["status"] == NOT_SUPPORTED
    assert "was not in force at any time of the conduct" in elements["version"]["statement"]


def test_version_in_force_partly_when_the_text_changed_during_the_conduct():
    conduct = {"first_ts": "2025-12-01T00:00:00Z", "last_ts": "2026-02-01T00:00:00Z",
               "requests": 5, "throttled": 0}  # fmt: skip
    allegation = _allegation()
    allegation["clause_versions"][0]["same_text"] = False
    elements, _, _ = _checked(_facts(conduct=conduct, allegations=[allegation]))
    assert elements["version"]["status"] == PARTIAL


def test_no_conduct_period_means_no_version_and_no_damages():
    conduct = {"first_ts": None, "last_ts": None, "requests": 0, "throttled": 0}
    damages = {"priced": True, "value": Decimal(0), "unpriced": [], "requests": 0}
    elements, _, _ = _checked(_facts(conduct=conduct, damages=damages))
    assert elements["version"]["status"] == NOT_SUPPORTED
    assert elements["damages"]["status"] == NOT_SUPPORTED


def test_conduct_not_supported_names_why_and_flags_the_allegation():
    allegation = _allegation(category="key_transfer")
    elements, flags, _ = _checked(_facts(allegations=[allegation]))
    assert elements["conduct"]["status"] == NOT_SUPPORTED
    statement = elements["conduct"]["statement"]
    assert "No detector bearing on Key transfer / resale (Shared key) fired" in statement
    assert "Those that fired bear on other categories: Harvesting." in statement
    assert [f["code"] for f in flags] == ["no_supporting_finding"]


def test_conduct_without_a_detection_run_or_a_category():
    elements, flags, _ = _checked(_facts(detection=None))
    assert elements["conduct"]["status"] == NOT_SUPPORTED
    assert flags[0]["code"] == "no_supporting_finding"
    uncategorised = _facts(allegations=[_allegation(category="uncategorised")])
    elements, _, _ = _checked(uncategorised)
    assert "category is not set" in elements["conduct"]["statement"]


def test_attribution_not_supported_without_accounts_and_partly_on_no_stated_basis():
    elements, _, _ = _checked(_facts(accounts=[]))
    assert elements["attribution"]["status"] == NOT_SUPPORTED
    elements, _, _ = _checked(_facts(accounts=[_account("acct_a"), _account("b", basis="other")]))
    assert elements["attribution"]["status"] == PARTIAL
    assert elements["attribution"]["references"][0]["exhibit"] == "accounts.csv"


def test_use_needs_a_showing_not_only_transcripts():
    elements, _, _ = _checked(_facts(output_use=None))
    assert elements["use"]["status"] == NOT_SUPPORTED
    only = {"batches": [{"id": 1}], "claims": [], "overlap": None, "matches": []}
    elements, _, _ = _checked(_facts(output_use=only))
    assert elements["use"]["status"] == PARTIAL
    claims = {**only, "claims": [{"targets": [{"target": "rival-1", "claims": 3, "n": 10}]}]}
    elements, _, _ = _checked(_facts(output_use=claims))
    assert elements["use"]["status"] == SUPPORTED
    assert elements["use"]["references"][0]["keys"] == ["rival-1"]


def test_damages_not_computed_without_prices_and_partly_with_an_unpriced_model():
    unpriced = {"priced": False, "value": Decimal(0), "unpriced": ["m"], "requests": 120}
    elements, _, _ = _checked(_facts(damages=unpriced))
    assert elements["damages"]["status"] == NOT_SUPPORTED
    assert elements["damages"]["statement"].startswith("Not computed: no list price")
    partly = {"priced": True, "value": Decimal("3"), "unpriced": ["frontier-x"], "requests": 9}
    elements, _, _ = _checked(_facts(damages=partly))
    assert elements["damages"]["status"] == PARTIAL


def test_circumvention_with_no_limits_and_no_refusals_is_flagged():
    circumvention = _allegation(category="limit_circumvention", theory="Many accounts, one actor.")
    _, flags, _ = _checked(_facts(allegations=[circumvention], plan_limits=[]))
    assert "circumvention_without_limits" in [f["code"] for f in flags]
    # A limit loaded, or a request refused, is a limit shown: no flag.
    _, flags, _ = _checked(_facts(allegations=[circumvention]))
    assert "circumvention_without_limits" not in [f["code"] for f in flags]
    refused = {**_facts()["conduct"], "throttled": 3}
    _, flags, _ = _checked(_facts(allegations=[circumvention], plan_limits=[], conduct=refused))
    assert "circumvention_without_limits" not in [f["code"] for f in flags]


def test_a_theory_copied_from_another_allegation_or_clause_is_flagged():
    first = _allegation(1, path="3.3(a)")
    copied = _allegation(2, path="3.3(d)", category="key_transfer", theory=THEORY.upper() + " ")
    _, flags, _ = _checked(_facts(allegations=[first, copied]), n=1)
    (flag,) = [f for f in flags if f["code"] == "theory_duplicated"]
    assert "repeats the conduct alleged under §3.3(a)" in flag["statement"]
    clause_text = "You may not sell, transfer or share API keys with any third party at all."
    pasted = _allegation(3, path="3.3(e)", theory=clause_text)
    other = _allegation(4, path="3.4", text=clause_text, theory="Keys were resold by a broker.")
    _, flags, _ = _checked(_facts(allegations=[pasted, other]))
    assert "copies the text of §3.4" in flags[-1]["statement"]
    # Two allegations each stating their own conduct: no flag on either.
    own = _allegation(2, path="3.3(d)", theory="Key key_77 was used from two unrelated orgs.")
    for n in (0, 1):
        _, flags, _ = _checked(_facts(allegations=[first, own]), n=n)
        assert "theory_duplicated" not in [f["code"] for f in flags]


# --- The case: page, API and report agree --------------------------------------------------


def test_the_page_and_the_report_give_the_same_checklist(case, detected):  # noqa: F811
    live = as_data(elements_check(elements_facts_live(case=case)))
    frozen = as_data(elements_check(facts_from_snapshot(case_snapshot(case=case).data)))
    assert live == frozen
    elements = {e["key"]: e["status"] for e in live["allegations"][0]["elements"]}
    # The fixture: two of three accounts accepted; the harvesting signal fired; no use shown.
    assert elements == {
        "formation": PARTIAL,
        "version": SUPPORTED,
        "conduct": SUPPORTED,
        "attribution": SUPPORTED,
        "use": NOT_SUPPORTED,
        "damages": SUPPORTED,
    }
    assert [f["code"] for f in live["flags"]] == ["no_assent"]
    assert live["flags"][0]["accounts"] == ["acct_fox03"]


def test_the_case_page_shows_unsupported_elements_and_flags(case, counsel_user, client):  # noqa: F811
    client.force_login(counsel_user)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "Elements checklist" in page
    assert "Causation / use of the outputs" in page and "Not supported" in page
    assert "No detection run covers the record" in page  # no run: conduct unsupported
    assert "Flag — No supporting finding" in page
    assert "Flag — Attributed accounts with no assent" in page
    assert 'href="/accounts/acct_fox03/"' in page or "acct_fox03" in page


def test_the_case_page_flags_a_theory_copied_from_another_allegation(case, counsel_user, client):  # noqa: F811
    Allegation.objects.create(
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(b)"),
        theory=THEORY,
        created_by=counsel_user,
    )
    client.force_login(counsel_user)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "Flag — Conduct text copied" in page
    assert "repeats the conduct alleged under §3.3(a)" in page


def test_the_case_page_judges_again_after_any_write_but_not_after_a_read(
    case,  # noqa: F811
    counsel_user,
    client,
):
    # The checklist is kept between views (a large case takes long to judge), keyed on the
    # latest write to the ledger: a view does not change it, an allegation added does.
    client.force_login(counsel_user)
    url = f"/cases/{case.reference}/"
    first = client.get(url).content.decode()
    assert "Flag — Conduct text copied" not in first
    key = case_elements_key(case=case)
    client.get(url)
    assert case_elements_key(case=case) == key  # the view was ledgered: a read
    services.allegation_add(
        actor=counsel_user,
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(b)"),
        theory=THEORY,
    )
    assert case_elements_key(case=case) != key
    page = client.get(url).content.decode()
    assert "Flag — Conduct text copied" in page


def test_api_allegation_carries_its_elements_and_the_checklist_endpoint(case, counsel_user):  # noqa: F811
    allegation = case.allegations.get()
    client = token_client(counsel_user, "read")
    body = client.get(f"/api/v1/cases/{case.reference}/allegations/{allegation.pk}/").json()
    assert body["id"] == allegation.pk and body["theory"] == THEORY  # the fields it had
    assert [e["key"] for e in body["elements"]] == [
        "formation", "version", "conduct", "attribution", "use", "damages"
    ]  # fmt: skip
    use = body["elements"][4]
    assert use["status"] == "not_supported" and use["status_label"] == "Not supported"
    assert {"exhibit", "what", "rows", "key", "keys", "section"} <= set(
        body["elements"][0]["references"][0]
    )
    assert [f["code"] for f in body["flags"]] == ["no_supporting_finding"]
    assert [f["code"] for f in body["case_flags"]] == ["no_assent"]

    checklist = client.get(f"/api/v1/cases/{case.reference}/elements/").json()
    assert checklist["allegations"][0]["elements"] == body["elements"]
    assert checklist["flags"] == body["case_flags"]


def test_api_checklist_is_for_members_only_and_answers_json_404(case, counsel_user):  # noqa: F811
    outsider = get_user_model().objects.create_user("outsider")
    assert not CaseMembership.objects.filter(case=case, user=outsider).exists()
    client = token_client(outsider, "read")
    response = client.get(f"/api/v1/cases/{case.reference}/elements/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    member = token_client(counsel_user, "read")
    response = member.get(f"/api/v1/cases/{case.reference}/allegations/999999/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_schema_documents_the_checklist(counsel_user, client):
    client.force_login(counsel_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/cases/{reference}/elements/" in schema
    assert "case_flags" in schema and "not_supported" in schema


def test_the_report_states_the_checklist_citing_its_exhibits(case, counsel_user, tmp_path):  # noqa: F811
    circumvention = Clause.objects.get(version__label="2026-01-01", path="3.3(c)")
    circumvention.category = "limit_circumvention"
    circumvention.save(update_fields=["category"])
    Allegation.objects.create(
        case=case, clause=circumvention, theory=THEORY, created_by=counsel_user
    )
    job = _build(case, "counsel", counsel_user)
    path = tmp_path / "counsel.pdf"
    with job.pdf.file.open("rb") as src:
        path.write_bytes(src.read())
    text = " ".join(_text(path).split())
    assert "5. Clauses breached" in text and "6. Chronology" in text  # numbering kept
    assert "Elements checklist" in text
    assert "Not supported" in text and "Partly supported" in text
    assert "Flag — No supporting finding" in text
    assert "Attributed accounts with no assent" in text and "acct_fox03" in text
    # The fixture's usage holds refused requests (HTTP 429): a limit shown, so no flag.
    assert "Circumvention with no limit shown" not in text
    assert "Flag — Conduct text copied" in text
    # The checklist cites the exhibits by their numbers in the index.
    assert re.search(r"Exhibit \d+ \(assent\.csv\), 2 rows", text)
    assert re.search(r"Exhibit \d+ \(accounts\.csv\), 3 rows", text)


def test_the_public_report_lists_no_account_in_the_checklist(case, counsel_user, tmp_path):  # noqa: F811
    job = _build(case, "public", counsel_user)
    path = tmp_path / "public.pdf"
    with job.pdf.file.open("rb") as src:
        path.write_bytes(src.read())
    text = " ".join(_text(path).split())
    assert "Elements checklist" in text and "Attributed accounts with no assent" in text
    assert "acct_fox" not in text
    assert "(accounts-summary.csv)" in text


def test_facts_from_a_snapshot_are_not_changed_by_the_check(case):  # noqa: F811
    data = case_snapshot(case=case).data
    before = copy.deepcopy(data)
    elements_check(facts_from_snapshot(data))
    assert data == before
    assert dt.date.fromisoformat(data["terms"][0]["effective_date"])  # the shape it reads


def test_the_regulator_checklist_names_accounts_by_pseudonym(case):  # noqa: F811
    from casework.reports.context import report_context
    from casework.reports.redaction import Redactor

    redactor = Redactor("regulator", secret=b"k" * 32)
    context = report_context(
        data=case_snapshot(case=case).data, edition="regulator", redactor=redactor, table_rows=50
    )
    checklist = context["elements"]
    (flag,) = checklist["flags"]
    assert flag["accounts"] == redactor.account("acct_fox03") != "acct_fox03"
    formation = checklist["allegations"][0]["elements"][0]["references"][0]
    assert formation["exhibit"] == "assent.csv" and formation["rows"] == "2"
    assert "acct_fox" not in str(checklist)
