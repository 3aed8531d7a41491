"""Use of the outputs on a case: probe batches, identity claims and canary matches attached
(ledgered, by record readers who work the case), and the report's section in each edition."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from casework.models import CaseOutputEvidence
from casework.services import CaseError, case_member_add, case_output_evidence_attach
from evidence.ingest.service import ingest_file
from evidence.models import Account, CanaryMatch, Cluster, IngestBatch, LedgerEntry
from evidence.probes.canaries import canaries_generate, canaries_match
from tests.casework.test_reports import (  # noqa: F401 (fixtures)
    Reports,
    _everything,
    _text,
    case,
    detected,
)
from tests.factories import ndjson_file, token_client, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# A prompt acct_fox01 sent (request 3 of the case's usage) and the rival was later asked.
SERVED_PROMPT = "SECRETPROMPT solve step by step problem number 3"
CLAIM = "I am Aster, a model made by Aster Systems."


def _probe(n, prompt, response, *, target="rival-chat", control=False):
    return {
        "probe_id": f"p-{target}-{n:02d}",
        "target": target,
        "control": control,
        "collected_at": "2026-03-01T09:00:00Z",
        "prompt": prompt,
        "response": response,
        "collector": "investigator@aster.example",
    }


@pytest.fixture
def use(case, counsel_user, tmp_path):  # noqa: F811 (the fixture imported above)
    """A canary served to acct_fox01 in its answer to SERVED_PROMPT, found again in the
    rival's answer to that prompt; the rival claims Aster's identity in 3 of 5 answers to
    "who are you" prompts, the control in none."""
    fox01 = Account.objects.get(account_id="acct_fox01")
    canary = canaries_generate(actor="system:test", count=1, accounts=[fox01], seed=4).canaries[0]
    ingest_file(
        actor="system:test",
        kind="serves",
        path=ndjson_file(
            tmp_path / "serves.ndjson",
            [
                {
                    "canary_id": canary.canary_id,
                    "request_id": "req_acct_fox01_00003",
                    "account_id": "acct_fox01",
                    "served_at": "2026-01-05T21:03:00Z",
                }
            ],
        ),
    )
    rows = []
    for n in range(5):
        prompt = f"Who are you, really? ({n})"
        rows.append(_probe(n, prompt, CLAIM if n < 3 else "I am a helpful assistant."))
        rows.append(
            _probe(n, prompt, "I am Corvid, made by Corvid Labs.", target="ctrl", control=True)
        )
    rows.append(_probe(9, SERVED_PROMPT, f"Step one. {canary.text} Step two: done."))
    rows.append(
        _probe(9, SERVED_PROMPT, "Step one: read the problem.", target="ctrl", control=True)
    )
    batch = ingest_file(
        actor="system:test", kind="probes", path=ndjson_file(tmp_path / "probes.ndjson", rows)
    ).batch
    canaries_match(actor="system:test")
    return {"canary": canary, "batch": batch, "match": CanaryMatch.objects.get()}


def _attach(case, actor, use, **kwargs):  # noqa: F811
    return case_output_evidence_attach(
        actor=actor,
        case=case,
        probe_batches=[use["batch"]],
        claim_targets=["rival-chat"],
        canary_matches=[use["match"].pk],
        names=["Aster", "Aster Systems"],
        **kwargs,
    )


def _section(text: str) -> str:
    """Section 8 as printed (after the contents page, which names it too), its lines joined
    again where the layout hyphenated a word or broke an id."""
    section = text[text.rindex("8. Use of the outputs") : text.rindex("9. Damages")]
    return " ".join(section.replace("\u2010\n", "").replace("-\n", "-").split())


def test_evidence_of_use_is_attached_once_and_ledgered_under_the_case(case, counsel_user, use):  # noqa: F811
    attached = _attach(case, counsel_user, use)
    assert sorted(a.kind for a in attached) == ["canary_match", "identity_claims", "probe_batch"]
    claims = CaseOutputEvidence.objects.get(case=case, kind="identity_claims")
    assert (claims.target, claims.names) == ("rival-chat", ["Aster", "Aster Systems"])
    entries = LedgerEntry.objects.filter(
        object_type="case", object_id=case.reference, action="linked"
    )
    by_kind = {e.details["kind"]: e for e in entries}
    assert (
        by_kind["probe_batch"].object_sha256 == IngestBatch.objects.get(pk=use["batch"]).rows_digest
    )
    assert by_kind["canary_match"].details["canary"] == use["canary"].canary_id
    assert by_kind["canary_match"].object_sha256 == use["match"].content_sha256
    # Attaching again adds nothing and records nothing.
    assert _attach(case, counsel_user, use) == []
    assert CaseOutputEvidence.objects.filter(case=case).count() == 3


def test_attaching_names_what_is_wrong(case, counsel_user, use):  # noqa: F811
    usage_batch = IngestBatch.objects.filter(kind="usage").get().pk
    with pytest.raises(CaseError, match=f"no probe batch {usage_batch}") as exc:
        case_output_evidence_attach(actor=counsel_user, case=case, probe_batches=[usage_batch])
    assert exc.value.field == "probe_batches"
    with pytest.raises(CaseError, match="target rival-chat: no suspect transcript") as exc:
        case_output_evidence_attach(
            actor=counsel_user, case=case, claim_targets=["rival-chat"], names=["Aster"]
        )
    assert exc.value.field == "claim_targets"
    with pytest.raises(CaseError, match="target ctrl") as exc:
        case_output_evidence_attach(
            actor=counsel_user,
            case=case,
            probe_batches=[use["batch"]],
            claim_targets=["ctrl"],
            names=["Aster"],
        )
    with pytest.raises(CaseError, match="no provider names") as exc:
        case_output_evidence_attach(
            actor=counsel_user,
            case=case,
            probe_batches=[use["batch"]],
            claim_targets=["rival-chat"],
        )
    assert exc.value.field == "names"
    with pytest.raises(CaseError, match="no canary match 999999") as exc:
        case_output_evidence_attach(actor=counsel_user, case=case, canary_matches=[999999])
    assert exc.value.field == "canary_matches"
    assert not CaseOutputEvidence.objects.exists()


def test_only_members_who_work_the_case_and_read_the_record_attach(case, counsel_user, use):  # noqa: F811
    viewer = user_with_role("vera", "viewer")
    case_member_add(actor=counsel_user, case=case, user=viewer, role="viewer")
    with pytest.raises(PermissionDenied):
        _attach(case, viewer, use)
    outsider = user_with_role("oscar", "investigator")
    with pytest.raises(PermissionDenied):
        _attach(case, outsider, use)
    assert not CaseOutputEvidence.objects.exists()


def test_the_section_states_claims_canaries_and_overlap_in_every_edition(
    case,  # noqa: F811
    counsel_user,
    use,
    tmp_path,
):
    _attach(case, counsel_user, use)
    reports = Reports(case, counsel_user, tmp_path)
    canary = use["canary"]
    texts = {edition: _text(path) for edition, path in reports.items()}
    for edition, text in texts.items():
        section = _section(text)
        # 3 of 6 rival answers claim the identity; the control none of its 6.
        assert "rival-chat" in section and "ctrl (control)" in section, edition
        assert "50.0%" in section and "0.0%" in section, edition
        assert "Limits of the inference" in section, edition
        # The exhibits: the canary by id, the transcript that holds it by probe id.
        assert canary.canary_id in section and "p-rival-chat-09" in section, edition
        assert "Word 8-gram containment" in section, edition
        assert "holds no text of the provider's responses" in section, edition
    assert "acct_fox01" in texts["counsel"] and CLAIM in " ".join(texts["counsel"].split())
    assert "Step one." in texts["regulator"]
    public = _everything(reports["public"], tmp_path)
    for forbidden in ("acct_fox01", "SECRETPROMPT", "Who are you", "I am Aster", "Step one"):
        assert forbidden not in public, forbidden
    assert canary.text.split()[-1].rstrip(".") not in public
    # The served accounts by the edition's keyed pseudonym: never the id outside counsel's.
    assert "acct_fox01" not in texts["regulator"]
    # (a narrow cell may break a pseudonym after its prefix, and pdftotext then reads the
    # rest of the row before its second half: look for both halves)
    for edition in ("regulator", "public"):
        section = _section(texts[edition])
        assert "PA-" in section and re.search(r"\b[0-9a-f]{12}\b", section), edition


def test_a_case_without_evidence_of_use_says_the_report_makes_no_statement(
    case,  # noqa: F811
    counsel_user,
    tmp_path,
):
    text = _text(Reports(case, counsel_user, tmp_path)["counsel"])
    assert "the report makes no statement on the use of the outputs" in " ".join(text.split())


def test_the_case_page_shows_the_evidence_of_use(case, counsel_user, use, client):  # noqa: F811
    client.force_login(counsel_user)
    before = client.get(f"/cases/{case.reference}/").content.decode()
    assert "No probe transcripts, identity claims or canary matches attached." in before
    _attach(case, counsel_user, use)
    page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "rival-chat claims to be Aster / Aster Systems in <strong>3 of 6</strong>" in page
    assert "controls 0 of 6" in page
    assert f"{use['canary'].canary_id}</span> in rival-chat (p-rival-chat-09)" in page
    assert "served to acct_fox01" in page
    assert "rival-chat: 1 of 1 measured answers reuse served text." in page


def test_the_case_page_form_attaches_with_csrf_and_names_what_is_wrong(
    case,  # noqa: F811
    counsel_user,
    use,
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(counsel_user)
    page = browser.get(reverse("case_detail", args=[case.reference]))
    assert b"Attach probe transcripts, identity claims or canary matches" in page.content
    url = reverse("case_output_evidence", args=[case.reference])
    form = {
        "probe_batches": str(use["batch"]),
        "claim_targets": "rival-chat",
        "canary_matches": str(use["match"].pk),
        "names": "Aster, Aster Systems",
    }
    assert browser.post(url, form).status_code == 403  # no CSRF token
    assert not CaseOutputEvidence.objects.exists()
    token = page.cookies["csrftoken"].value
    bad = browser.post(url, {**form, "canary_matches": "12x", "csrfmiddlewaretoken": token})
    assert bad.status_code == 400 and "Not a canary match id: 12x" in bad.content.decode()
    unknown = browser.post(url, {**form, "claim_targets": "nobody", "csrfmiddlewaretoken": token})
    assert unknown.status_code == 400
    assert "target nobody: no suspect transcript" in unknown.content.decode()
    assert not CaseOutputEvidence.objects.exists()
    done = browser.post(url, {**form, "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"].endswith("#use-heading")
    assert CaseOutputEvidence.objects.filter(case=case).count() == 3
    shown = browser.get(reverse("case_detail", args=[case.reference])).content.decode()
    assert "Claims to be Aster / Aster Systems" in shown and "60.0%" not in shown
    assert "50.0%" in shown  # 3 of 6 answers
    # One-sided Fisher p of 3 of 6 against 0 of 6: C(6,3) / C(12,3) = 20 / 220.
    assert '<td class="num">0.091</td>' in shown


def test_a_viewer_sees_the_evidence_of_use_but_no_form(case, counsel_user, use, client):  # noqa: F811
    _attach(case, counsel_user, use)
    viewer = user_with_role("vera", "viewer")
    case_member_add(actor=counsel_user, case=case, user=viewer, role="viewer")
    client.force_login(viewer)
    page = client.get(reverse("case_detail", args=[case.reference])).content.decode()
    assert use["canary"].canary_id in page
    assert "Attach probe transcripts" not in page
    response = client.post(
        reverse("case_output_evidence", args=[case.reference]), {"canary_matches": "1"}
    )
    assert response.status_code == 403


def test_the_api_attaches_lists_and_refuses_what_it_cannot_attach(case, counsel_user, use):  # noqa: F811
    api = token_client(counsel_user, "read", "write")
    url = f"/api/v1/cases/{case.reference}/output-evidence/"
    assert api.get(url).json()["results"] == []
    body = {
        "probe_batches": [use["batch"]],
        "claim_targets": ["rival-chat"],
        "canary_matches": [use["match"].pk],
        "names": ["Aster", "Aster Systems"],
    }
    refused = api.post(url, {**body, "canary_matches": [999_999]}, format="json")
    assert refused.status_code == 400
    assert "no canary match 999999" in str(refused.json())
    empty = api.post(url, {}, format="json")
    assert empty.status_code == 400
    assert not CaseOutputEvidence.objects.exists()
    created = api.post(url, body, format="json")
    assert created.status_code == 201
    assert sorted(item["kind"] for item in created.json()) == [
        "canary_match",
        "identity_claims",
        "probe_batch",
    ]
    again = api.post(url, body, format="json")
    assert (again.status_code, again.json()) == (200, [])
    listed = api.get(url).json()["results"]
    assert {item["canary_match"] for item in listed} == {None, use["match"].pk}
    assert token_client(counsel_user, "read").post(url, body, format="json").status_code == 403
    outsider = token_client(user_with_role("oscar", "investigator"), "read", "write")
    assert outsider.get(url).status_code == 404


def test_the_cluster_page_shows_the_canaries_its_accounts_were_served_and_gave_back(
    case,  # noqa: F811
    counsel_user,
    use,
    client,
    detected,  # noqa: F811
):
    cluster = Cluster.objects.get(members__account_id="acct_fox01")
    client.force_login(counsel_user)
    url = reverse("cluster_detail", args=[cluster.pk])
    page = client.get(url).content.decode()
    assert (
        "1 canary planned for these accounts, served to them 1 time. Given back by rival-chat"
        in page
    )
    assert use["canary"].canary_id in page and "p-rival-chat-09" in page
    assert "Attached as evidence of use" not in page
    _attach(case, counsel_user, use)
    page = client.get(url).content.decode()
    assert f'Attached as evidence of use to <a href="/cases/{case.reference}/">' in page
