"""Evidentiary reports: a signed PDF/A-3b that carries its exhibits, in three editions.

Each test states what a court, a regulator or a committee relies on: the file is a valid
archival PDF with every font embedded, its attachments are associated files listed in
the manifest, the signature covers every byte and chains to the organisation's root, the
text holds each section and the case's figures, the public edition names nobody, and the
same case asked twice gives one report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import zlib
from pathlib import Path

import pikepdf
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from casework.models import Allegation, CaseSnapshot, ReportJob
from casework.reports import report_build, report_job_request
from casework.reports.redaction import email_domain, fingerprint_short, ip_network
from casework.reports.snapshot import case_snapshot
from evidence.custody.verification import evidence_verify
from evidence.detectors.catalogue import models_import, plans_import
from evidence.ingest.service import ingest_file
from evidence.models import Account, Clause, EvidenceItem, LedgerEntry
from evidence.services import evidence_item_store
from tests.factories import case_with_members, ndjson_file, terms_version
from tests.pki import build_pki

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
SECTIONS = (
    "1. Evidentiary report",
    "2. Executive summary and findings",
    "3. Parties and attribution",
    "4. Contract formation",
    "5. Clauses breached",
    "6. Chronology and summary charts (FRE 1006)",
    "7. Methodology",
    "8. Damages",
    "9. Countermeasures and notice",
    "10. Preservation and chain of custody",
    "11. Certification",
    "12. Exhibit index",
    "13. Redaction log",
)
ACCOUNTS = {
    "acct_fox01": ("ops@foxglove-labs.example", "203.0.113.7", "pf_8c1e77aa90", "SG"),
    "acct_fox02": ("data@quietmail.example", "198.51.100.23", "pf_8c1e77aa90", "SG"),
    "acct_fox03": ("ml.team@throwbox.example", "192.0.2.41", "pf_41aa0b3c77", "HK"),
}
BYSTANDER = "acct_bystander"
TERMS = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not: (a) use Output to develop models "
    "that compete with us; (b) use automated means to extract Output; or (c) open multiple "
    "Accounts to evade rate limits.\n\n## 13. Remedies\n\n13.3 You will pay for Output "
    "obtained in breach of Section 3.3 at our list prices.\n"
)


def _usage(n: int, account: str, ip: str) -> dict:
    return {
        "request_id": f"req_{account}_{n:05d}",
        "ts": (T0 + dt.timedelta(hours=n * 7 % 720, minutes=n % 60)).isoformat(),
        "account_id": account,
        "api_key_id": f"key_{account}",
        "model": "frontier-2" if n % 3 else "frontier-3",
        "input_tokens": 400 + n,
        "output_tokens": 900 + 3 * n,
        "source_ip": ip,
        "end_user": "" if n % 4 else f"cust-{n % 7}",
        "params": {"logprobs": True, "top_logprobs": 20},
        "prompt": f"SECRETPROMPT solve step by step problem number {n}",
        "status": 429 if n % 25 == 0 else 200,
    }


@pytest.fixture
def case(tmp_path, counsel_user, signing):
    """A small case: three attributed accounts (two on one card, one without assent), a
    bystander, usage over a month, two Terms versions, one allegation, a verified record."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [
                {"account_id": a, "org_name": f"Frontco Alias {a[-2:]}", "email": email,
                 "country": c, "payment_fingerprint": fp, "signup_ip": ip, "plan": "tier-2",
                 "status": "suspended" if a.endswith("3") else "active",
                 "created_at": "2025-12-01T08:00:00Z"}
                for a, (email, ip, fp, c) in ACCOUNTS.items()
            ]
            + [{"account_id": BYSTANDER, "email": "someone@else.example", "plan": "tier-2"}],
        ),
    )  # fmt: skip
    usage = [
        _usage(n, account, ip) for account, (_, ip, _, _) in ACCOUNTS.items() for n in range(60)
    ] + [_usage(n, BYSTANDER, "100.64.1.1") for n in range(40)]
    ingest_file(
        actor="system:test", kind="usage", path=ndjson_file(tmp_path / "usage.ndjson", usage)
    )
    ingest_file(
        actor="system:test",
        kind="assent",
        path=ndjson_file(
            tmp_path / "assent.ndjson",
            [
                {"account_id": a, "terms": "sa", "version": "2025-06-01",
                 "ts": "2025-12-01T08:01:10Z", "ip": ACCOUNTS[a][1], "method": "clickwrap",
                 "flow_id": "signup-v3"}
                for a in ("acct_fox01", "acct_fox02")
            ],
        ),
    )  # fmt: skip
    for label, effective in (("2025-06-01", dt.date(2025, 6, 1)), ("2026-01-01", T0.date())):
        terms_version(tmp_path, TERMS, label=label, effective=effective, document="sa")
    _catalogue(tmp_path)
    Group.objects.get_or_create(name="counsel")[0].user_set.add(counsel_user)  # may open cases
    the_case = case_with_members(
        owner=counsel_user,
        reference="PX-2026-001",
        title="Foxglove distillation network",
        respondent="Foxglove Holdings Ltd",
        accounts=Account.objects.filter(account_id__in=ACCOUNTS),
        detail="two accounts on one card",
    )
    allegation = Allegation.objects.create(
        case=the_case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(a)"),
        theory="The accounts harvested reasoning at scale to train a competing model.",
        created_by=counsel_user,
    )
    screenshot = evidence_item_store(
        actor=counsel_user,
        stream=io.BytesIO(b"\x89PNG signup screenshot"),
        file_name="signup-flow.png",
        kind="screenshot",
        source="investigator",
    )
    allegation.supporting_evidence.add(screenshot)
    assert evidence_verify(actor="system:test").ok
    return the_case


def _catalogue(tmp_path: Path) -> None:
    """List prices and plan limits, loaded as an operator loads them."""
    models = tmp_path / "models.json"
    models.write_text(
        json.dumps(
            [
                {"model": "frontier-2", "released": "2025-03-01T00:00:00Z",
                 "list_price_per_mtok_input": 3.0, "list_price_per_mtok_output": 15.0},
                {"model": "frontier-3", "released": "2026-01-20T17:00:00Z",
                 "list_price_per_mtok_input": 5.0, "list_price_per_mtok_output": 25.0},
            ]
        )
    )  # fmt: skip
    plans = tmp_path / "plans.json"
    plans.write_text(
        json.dumps([{"plan": "tier-2", "requests_per_minute": 2, "tokens_per_minute": 3000}])
    )
    models_import(actor="system:test", path=models)
    plans_import(actor="system:test", path=plans)


def _build(case, edition: str, actor) -> ReportJob:
    job = report_job_request(actor=actor, case=case, edition=edition)
    job = report_build(job=job)
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    return job


class Reports(dict):
    """The case's report in each edition, as a file, built when first asked for."""

    def __init__(self, case, actor, folder: Path) -> None:
        super().__init__()
        self.case, self.actor, self.folder = case, actor, folder

    def __missing__(self, edition: str) -> Path:
        job = _build(self.case, edition, self.actor)
        path = self.folder / f"{edition}.pdf"
        with job.pdf.file.open("rb") as src:
            path.write_bytes(src.read())
        self[edition] = path
        return path

    def items(self):
        return [(edition, self[edition]) for edition in ("counsel", "regulator", "public")]


@pytest.fixture
def reports(case, counsel_user, tmp_path):
    return Reports(case, counsel_user, tmp_path)


def _text(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"[ \t]+", " ", out)


def _attachments(path: Path) -> dict[str, bytes]:
    with pikepdf.open(path) as pdf:
        return {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}


@pytest.fixture
def detected(case):
    """What a detection run said about the case, stored as the detection service stores it:
    one cluster of two accounts joined by a shared card, harvesting on all three. The
    explanations name accounts, cards, emails and addresses, as real ones may."""
    from django.utils import timezone

    from evidence.models import Cluster, ClusterMember, DetectionRun, Finding, Link

    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now,
        finished_at=now,
        status="finished",
        actor="system:test",
        window_start=T0,
        window_end=T0 + dt.timedelta(days=30),
        detector_versions={"probability_harvesting": "1", "shared_payment": "1"},
        counts={"accounts_active": 4},
        digest="ab" * 32,
    )
    accounts = {a.account_id: a for a in Account.objects.filter(account_id__in=ACCOUNTS)}
    cluster = Cluster.objects.create(
        run=run,
        score=88.0,
        band="critical",
        size=2,
        explanation="acct_fox01 and acct_fox02 pay with card pf_8c1e77aa90.",
        evidence={},
        created_at=now,
    )
    for account_id in ("acct_fox01", "acct_fox02"):
        ClusterMember.objects.create(cluster=cluster, account=accounts[account_id])
    for account_id, (email, ip, _, _) in ACCOUNTS.items():
        Finding.objects.create(
            run=run,
            detector="probability_harvesting",
            detector_version="1",
            account=accounts[account_id],
            window_start=T0,
            window_end=T0 + dt.timedelta(days=30),
            value=0.95,
            baseline={"cohort": "tier-2", "cohort_size": 50, "median": 0.01,
                      "multiple_of_median": 95.0, "percentile": 99.9},
            threshold=0.25,
            fired=True,
            explanation=f"{account_id} ({email}, from {ip}) asked for 20 alternatives per token "
            "in 95% of its requests; the median tier-2 customer: 1%.",
            sample_request_ids=[f"req_{account_id}_00001"],
            created_at=now,
        )  # fmt: skip
    a, b = sorted((accounts["acct_fox01"], accounts["acct_fox02"]), key=lambda x: x.pk)
    Link.objects.create(
        run=run,
        account_a=a,
        account_b=b,
        kind="shared_payment",
        detector_version="1",
        strength="hard",
        evidence={"payment_fingerprint": "pf_8c1e77aa90", "emails": [ACCOUNTS[a.account_id][0]]},
        explanation=f"{a.account_id} and {b.account_id} pay with the same card pf_8c1e77aa90.",
        sample_request_ids=[],
        created_at=now,
    )
    return run


def _identifiers() -> list[str]:
    """Everything the public edition must not carry, anywhere."""
    values = []
    for account_id, (email, ip, fingerprint, _) in ACCOUNTS.items():
        values += [account_id, email, ip, fingerprint, f"req_{account_id}", f"key_{account_id}"]
        values += [f"Frontco Alias {account_id[-2:]}", ip.rsplit(".", 1)[0] + "."]
    return [*values, "SECRETPROMPT", "cust-"]


def _everything(path: Path, tmp_path: Path) -> str:
    """The whole file with every stream decompressed (qpdf --qdf): text, attachments,
    metadata and anything else a reader of the raw file could find."""
    out = tmp_path / f"{path.stem}-qdf.pdf"
    subprocess.run(
        ["qpdf", "--qdf", "--object-streams=disable", "--decode-level=all", str(path), str(out)],
        check=True,
    )
    return out.read_bytes().decode("latin-1")


# --- the file ---------------------------------------------------------------------------


def test_report_is_a_clean_pdf_with_every_font_embedded(reports):
    for edition, path in reports.items():
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, (edition, check.stdout, check.stderr)
        assert "No syntax or stream encoding errors" in check.stdout
        fonts = subprocess.run(
            ["pdffonts", str(path)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        assert fonts, f"{edition}: no fonts at all"
        for line in fonts:
            name, emb = line.split()[0], line[-17:].split()[0]
            assert emb == "yes", f"{edition}: font {name} is not embedded ({line})"


def test_report_is_pdfa3b_with_output_intent_and_associated_files(reports):
    with pikepdf.open(reports["counsel"]) as pdf:
        with pdf.open_metadata() as xmp:
            assert xmp["pdfaid:part"] == "3"
            assert xmp["pdfaid:conformance"] == "B"
        intents = pdf.Root.OutputIntents
        assert len(intents) >= 1
        assert intents[0].S == "/GTS_PDFA1"
        assert "/DestOutputProfile" in intents[0]
        associated = {spec.objgen for spec in pdf.Root.AF}
        attachments = pdf.attachments
        assert {"accounts.csv", "usage.csv", "daily.csv", "manifest.json", "snapshot.json"} <= set(
            attachments
        )
        for name, spec in attachments.items():
            assert spec.obj.objgen in associated, f"{name} is not in the catalogue's /AF"
            assert spec.obj.AFRelationship in ("/Data", "/Source", "/Supplement"), name
            assert spec.get_file().mime_type, name
        manifest = json.loads(attachments["manifest.json"].get_file().read_bytes())
        for entry in manifest["exhibits"]:
            data = attachments[entry["file_name"]].get_file().read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file_name"]
        assert manifest["ledger"]["seq"] > 0
        assert attachments["usage.csv"].obj.AFRelationship == "/Data"
        assert attachments["snapshot.json"].obj.AFRelationship == "/Source"


def test_signature_validates_against_the_root_and_covers_the_whole_file(reports, signing):
    from casework.reports.signing import signature_validate

    for edition, path in reports.items():
        result = signature_validate(path, roots=[signing / "root.pem"])
        assert result["ok"], (edition, result)
        assert result["coverage"] == "ENTIRE_FILE"
        start, _length, second, rest = result["byte_range"]
        assert start == 0 and second + rest == path.stat().st_size
        assert "Pacta Test Legal Department" in result["signer"]


def test_signature_does_not_validate_against_another_root(reports, tmp_path):
    from casework.reports.signing import signature_validate

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(build_pki().root.cert_pem)
    result = signature_validate(reports["counsel"], roots=[stranger])
    assert not result["ok"]
    assert not result["trusted"]


# --- what it says -----------------------------------------------------------------------


def test_text_holds_every_section_and_the_case_figures(reports, case):
    for edition, path in reports.items():
        text = _text(path)
        for title in SECTIONS:
            assert title in text, f"{edition}: section {title!r} missing"
        assert "PX-2026-001" in text and "Foxglove Holdings Ltd" in text
        assert "180 API requests" in text  # 3 accounts x 60 requests
        assert f"{sum(900 + 3 * n for n in range(60)) * 3:,}" in text  # output tokens
        assert "use Output to develop models that compete with us" in text  # verbatim clause
        assert "no record of accepting any Terms version" in text  # the assent gap
        assert "Business record".upper() in text.upper() and "ANALYSIS" in text.upper()
        assert "28 U.S.C. § 1746" in text
        assert "$" in text and "not computed" not in text.split("Damages")[0]


def test_report_without_findings_says_so(reports):
    text = _text(reports["counsel"])
    assert "No findings" in text
    assert "No detection run is recorded" in text


def test_findings_links_and_methodology_are_reported(detected, case, counsel_user, tmp_path):
    job = _build(case, "counsel", counsel_user)
    path = tmp_path / "counsel.pdf"
    path.write_bytes(job.pdf.file.read())
    text = _text(path)
    assert "Probability harvesting" in text
    assert "Shared payment method" in text
    assert "Cluster C1 (critical)" in text
    assert "Measured error rate" in text
    assert "acct_fox01 (ops@foxglove-labs.example" in text  # counsel sees the explanation
    attachments = _attachments(path)
    assert attachments["findings.csv"].count(b"\n") == 1 + 3
    assert b"pf_8c1e77aa90" in attachments["links.csv"]


def test_public_edition_carries_no_identifier_anywhere(detected, case, counsel_user, tmp_path):
    job = _build(case, "public", counsel_user)
    path = tmp_path / "public.pdf"
    path.write_bytes(job.pdf.file.read())
    text = _text(path)
    attachments = _attachments(path)
    assert "usage.csv" not in attachments and "accounts.csv" not in attachments
    with pikepdf.open(path) as pdf, pdf.open_metadata() as xmp:
        metadata = str(xmp) + "".join(str(v) for v in pdf.docinfo.values())
    everything = _everything(path, tmp_path)
    assert "Probability harvesting" in text  # findings stay: aggregates and findings
    for value in _identifiers():
        assert value not in text, f"{value!r} in the public text"
        assert value not in metadata, f"{value!r} in the public metadata"
        for name, data in attachments.items():
            assert value.encode() not in data, f"{value!r} in public attachment {name}"
        assert value not in everything, f"{value!r} somewhere in the public file"


def test_regulator_edition_reduces_emails_to_domains_and_ips_to_24(reports):
    text = _text(reports["regulator"])
    attachments = _attachments(reports["regulator"])
    assert "@quietmail.example" in text
    assert "data@quietmail.example" not in text
    assert "203.0.113.0/24" in text
    for _, ip, fingerprint, _ in ACCOUNTS.values():
        assert ip not in text
        assert fingerprint not in text and fingerprint[:7] + "…" in text
        for name, data in attachments.items():
            assert ip.encode() not in data, (ip, name)
            assert fingerprint.encode() not in data, (fingerprint, name)
    usage = attachments["usage.csv"].decode()
    assert "source_network" in usage.splitlines()[0] and "203.0.113.0/24" in usage
    assert "SECRETPROMPT" not in usage and "SECRETPROMPT" not in text
    assert "CONFIDENTIAL COMMERCIAL INFORMATION" in text.upper()
    assert "Redaction log" in text and "reduced to domain" in text


def test_user_text_is_escaped_not_interpreted(case, counsel_user, tmp_path):
    Allegation.objects.create(
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(b)"),
        theory="<b>Bold claim</b> & <script>alert(1)</script>",
        created_by=counsel_user,
    )
    job = _build(case, "counsel", counsel_user)
    path = tmp_path / "escaped.pdf"
    path.write_bytes(job.pdf.file.read())
    assert "<b>Bold claim</b> & <script>alert(1)</script>" in _text(path)


# --- the job ----------------------------------------------------------------------------


def test_same_case_and_edition_twice_gives_one_job_and_one_pdf(case, counsel_user):
    first = _build(case, "counsel", counsel_user)
    second = report_job_request(actor=counsel_user, case=case, edition="counsel")
    assert second.pk == first.pk and second.status == ReportJob.Status.DONE
    again = report_build(job=second)
    assert again.pdf_id == first.pdf_id
    assert ReportJob.objects.filter(case=case, edition="counsel").count() == 1
    assert EvidenceItem.objects.filter(kind="report_pdf").count() == 1
    entry = LedgerEntry.objects.get(object_type="report", object_id=str(first.pk))
    assert entry.object_sha256 == first.pdf.sha256


def test_a_changed_case_gives_a_new_snapshot(case, counsel_user):
    before = case_snapshot(case=case)
    assert case_snapshot(case=case).sha256 == before.sha256  # stable for an unchanged case
    job = _build(case, "regulator", counsel_user)
    assert case_snapshot(case=case).sha256 == before.sha256  # building does not change it
    Allegation.objects.create(
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(c)"),
        theory="Spread traffic over accounts to evade the limits.",
        created_by=counsel_user,
    )
    after = case_snapshot(case=case)
    assert after.sha256 != before.sha256
    new_job = report_job_request(actor=counsel_user, case=case, edition="regulator")
    assert new_job.pk != job.pk and new_job.snapshot_sha256 == after.sha256


def test_a_job_builds_the_snapshot_its_request_froze_even_after_the_case_changed(
    case, counsel_user
):
    job = report_job_request(actor=counsel_user, case=case, edition="counsel")
    frozen = CaseSnapshot.objects.get(case=case, sha256=job.snapshot_sha256)
    assert hashlib.sha256(zlib.decompress(frozen.canonical_gz)).hexdigest() == job.snapshot_sha256
    Allegation.objects.create(
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(c)"),
        theory="Later allegation.",
        created_by=counsel_user,
    )
    assert case_snapshot(case=case).sha256 != job.snapshot_sha256
    job = report_build(job=job)
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    text = _text(Path(job.pdf.file.path))
    assert job.snapshot_sha256 in text.replace("\n", "")
    assert "Later allegation" not in text


def test_a_job_with_no_kept_snapshot_whose_case_changed_fails_with_the_reason(case, counsel_user):
    job = report_job_request(actor=counsel_user, case=case, edition="counsel")
    CaseSnapshot.objects.filter(case=case).delete()  # as for a job requested before 0006
    Allegation.objects.create(
        case=case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(c)"),
        theory="Later allegation.",
        created_by=counsel_user,
    )
    job = report_build(job=job)
    assert job.status == ReportJob.Status.FAILED
    assert "the case changed after this report was requested" in job.failure_reason
    assert EvidenceItem.objects.filter(kind="report_pdf").count() == 0


def test_without_a_signing_certificate_the_job_fails_and_says_what_to_set(
    case, counsel_user, settings, signing
):
    settings.PACTA_SIGNING_CERT = ""
    job = report_build(job=report_job_request(actor=counsel_user, case=case, edition="public"))
    assert job.status == ReportJob.Status.FAILED
    assert "PACTA_SIGNING_CERT" in job.failure_reason
    settings.PACTA_SIGNING_CERT = str(signing / "signer.pem")
    retried = report_job_request(actor=counsel_user, case=case, edition="public")
    assert retried.pk == job.pk and retried.status == ReportJob.Status.QUEUED
    assert report_build(job=retried).status == ReportJob.Status.DONE


def test_large_exhibits_are_streamed_into_the_same_associated_file_structure(
    case, counsel_user, settings, tmp_path
):
    settings.PACTA_REPORT_STREAM_ATTACHMENT_BYTES = 1024  # every CSV but the smallest
    job = _build(case, "counsel", counsel_user)
    path = tmp_path / "streamed.pdf"
    path.write_bytes(job.pdf.file.read())
    assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
    with pikepdf.open(path) as pdf:
        associated = {spec.objgen for spec in pdf.Root.AF}
        manifest = json.loads(pdf.attachments["manifest.json"].get_file().read_bytes())
        for entry in manifest["exhibits"]:
            spec = pdf.attachments[entry["file_name"]]
            assert spec.obj.objgen in associated
            data = spec.get_file().read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            params = spec.get_file().obj.Params
            assert int(params.Size) == len(data) == entry["size"]
            assert bytes(params.CheckSum) == hashlib.md5(data, usedforsecurity=False).digest()
    _assert_pdfa_catalogue_and_metadata(path)
    out = io.StringIO()
    call_command("verify_report", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"] is True


def test_timestamp_authority_makes_it_pades_b_t(case, counsel_user, settings, pki, tmp_path):
    from casework.reports.signing import signature_validate
    from tests.tsa import timestamp_authority

    with timestamp_authority(pki) as (url, answered):
        settings.PACTA_TSA_URL = url
        job = _build(case, "public", counsel_user)
    assert answered, "the authority was never asked"
    path = tmp_path / "bt.pdf"
    path.write_bytes(job.pdf.file.read())
    result = signature_validate(path, roots=[Path(settings.PACTA_SIGNING_TRUST_ROOTS[0])])
    assert result["ok"], result
    assert result["timestamp"] and result["timestamp"]["valid"]
    assert "PAdES B-T" in _text(path)


# --- the commands -----------------------------------------------------------------------


def test_build_report_command_writes_the_signed_pdf(case, tmp_path):
    out = tmp_path / "cli.pdf"
    stdout = io.StringIO()
    call_command("build_report", case.reference, "--edition", "public", "--out", str(out),
                 "--json", stdout=stdout)  # fmt: skip
    document = json.loads(stdout.getvalue())
    assert document["status"] == "done" and document["built_now"] is True
    assert hashlib.sha256(out.read_bytes()).hexdigest() == document["pdf"]["sha256"]
    stdout = io.StringIO()
    call_command("build_report", case.reference, "--edition", "public", "--json", stdout=stdout)
    assert json.loads(stdout.getvalue())["built_now"] is False


def test_build_report_usage_errors_exit_2(case):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as error:
        call_command("build_report", "NO-SUCH-CASE")
    assert error.value.returncode == 2


def test_verify_report_passes_a_report_and_fails_a_changed_byte(reports, tmp_path):
    out = io.StringIO()
    call_command("verify_report", str(reports["counsel"]), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["ok"] is True, result["checks"]
    assert [c["name"] for c in result["checks"]] == [
        "signature",
        "attachments against the manifest",
        "manifest against the ledger",
        "record against the ledger",
    ]
    tampered = tmp_path / "tampered.pdf"
    data = bytearray(reports["counsel"].read_bytes())
    offset = data.index(b"/Producer")  # a byte inside the signed range, in plain text
    data[offset + 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_report", str(tampered), "--json", stdout=out)
    assert exit_info.value.code == 1
    result = json.loads(out.getvalue())
    signature = next(c for c in result["checks"] if c["name"] == "signature")
    assert signature["ok"] is False


def test_verify_report_fails_an_attachment_that_does_not_match_the_manifest(reports, tmp_path):
    altered = tmp_path / "altered.pdf"
    with pikepdf.open(reports["counsel"]) as pdf:
        spec = pdf.attachments["daily.csv"]
        forged = spec.get_file().read_bytes().replace(b",frontier-2,", b",frontier-1,", 1)
        pdf.attachments["daily.csv"] = pikepdf.AttachedFileSpec(pdf, forged, mime_type="text/csv")
        pdf.save(altered)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_report", str(altered), "--json", stdout=out)
    assert exit_info.value.code == 1
    result = json.loads(out.getvalue())
    check = next(c for c in result["checks"] if c["name"] == "attachments against the manifest")
    assert check["ok"] is False and "daily.csv" in check["detail"]


def _forge_usage_row(request_id: str) -> int:
    """The issue's three edits (#17), past the triggers: a usage row changed, its hash and
    its batch's digest recomputed and stored. Returns the batch's id."""
    from django.db import connection

    from evidence.custody.canonical import rows_digest, usage_row_sha256
    from evidence.models import UsageEvent

    row = UsageEvent.objects.values().get(request_id=request_id)
    row.update(model="cheap-1", output_tokens=1)
    forged = usage_row_sha256(row)
    batch_id = row["batch_id"]
    hashes = [
        forged if rid == request_id else row_hash
        for rid, row_hash in UsageEvent.objects.filter(batch_id=batch_id)
        .order_by("id")
        .values_list("request_id", "row_sha256")
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("DROP TRIGGER ingest_batch_refuse_update_delete ON evidence_ingestbatch")
        cursor.execute(
            "UPDATE evidence_usageevent SET model = 'cheap-1', output_tokens = 1, "
            "row_sha256 = %s WHERE request_id = %s",
            [forged, request_id],
        )
        cursor.execute(
            "UPDATE evidence_ingestbatch SET rows_digest = %s WHERE id = %s",
            [rows_digest(hashes), batch_id],
        )
    return batch_id


def test_verify_report_fails_a_report_built_on_a_forged_record(case, counsel_user, tmp_path):
    """Forged after the last verification run, the record still rides into a signed report;
    verify_report re-verifies the record and names what no longer matches its ledger."""
    batch_id = _forge_usage_row("req_acct_fox01_00007")
    job = _build(case, "counsel", counsel_user)
    path = tmp_path / "forged.pdf"
    path.write_bytes(job.pdf.file.read())
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_report", str(path), "--json", stdout=out)
    assert exit_info.value.code == 1
    result = json.loads(out.getvalue())
    assert {c["name"]: c["ok"] for c in result["checks"]} == {
        "signature": True,
        "attachments against the manifest": True,
        "manifest against the ledger": True,
        "record against the ledger": False,
    }
    check = next(c for c in result["checks"] if c["name"] == "record against the ledger")
    assert f"ingest_batch {batch_id}" in check["detail"]
    assert [(f["object"], f["id"]) for f in result["record"]["failures"]] == [
        ("ingest_batch", batch_id)
    ]


def test_a_report_is_not_built_once_a_verification_run_found_the_forgery(case, counsel_user):
    """Requested while the record verified, built after a run found the forgery: refused."""
    job = report_job_request(actor=counsel_user, case=case, edition="counsel")
    _forge_usage_row("req_acct_fox01_00007")
    run = evidence_verify(actor="system:test")
    assert not run.ok
    job = report_build(job=job)
    assert job.status == ReportJob.Status.FAILED
    assert f"the record failed verification run {run.pk} (1 failures)" in job.failure_reason
    assert job.pdf is None


def test_verify_report_usage_error_exits_2(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as error:
        call_command("verify_report", str(tmp_path / "missing.pdf"))
    assert error.value.returncode == 2


def test_demo_certificate_is_labelled_demo(tmp_path):
    out = io.StringIO()
    call_command("demo_certificate", "--dir", str(tmp_path), "--json", stdout=out)
    document = json.loads(out.getvalue())
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(document["cert"]).read_bytes())
    assert "DEMO — NOT FOR EVIDENTIAL USE" in cert.subject.rfc4514_string()
    assert oct(Path(document["key"]).stat().st_mode)[-3:] == "600"


# --- the edition rules ------------------------------------------------------------------


def test_redaction_rules():
    assert email_domain("ops@bluefinch.example") == "@bluefinch.example"
    assert ip_network("203.0.113.7") == "203.0.113.0/24"
    assert ip_network("2001:db8:1:2::7") == "2001:db8:1::/48"
    assert fingerprint_short("pf_8c1e77aa90") == "pf_8c1e…"
    assert "pf_8c1e77aa90" not in fingerprint_short("pf_8c1e77aa90")


def test_a_report_never_claims_rows_the_record_no_longer_holds(case, counsel_user):
    from django.db import connection

    snapshot = case_snapshot(case=case)
    job = report_job_request(actor=counsel_user, case=case, edition="counsel", snapshot=snapshot)
    with connection.cursor() as cursor:  # a row lost behind the app's back after the freeze
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("DELETE FROM evidence_usageevent WHERE request_id = 'req_acct_fox01_00007'")
    job = report_build(job=job)
    assert job.status == ReportJob.Status.FAILED
    assert "usage.csv: 179 rows where the snapshot counted 180" in job.failure_reason


# The Info entries PDF/A requires to agree with their XMP counterparts, when present.
PAIRS = {
    "/Producer": "pdf:Producer",
    "/Creator": "xmp:CreatorTool",
    "/Title": "dc:title",
    "/Author": "dc:creator",
    "/Subject": "dc:description",
    "/CreationDate": "xmp:CreateDate",
    "/ModDate": "xmp:ModifyDate",
}


def test_report_lists_each_attachment_once_and_its_metadata_agrees_after_signing(reports):
    """PDF/A-3 lists each associated file once in the catalogue's /AF, and a validator
    compares the Info dictionary with the XMP packet entry by entry: the signed file a
    court or regulator checks must pass both."""
    for _edition, path in reports.items():
        _assert_pdfa_catalogue_and_metadata(path)


def _assert_pdfa_catalogue_and_metadata(path: Path) -> None:
    with pikepdf.open(path) as pdf:
        listed = [spec.objgen for spec in pdf.Root.AF]
        twice = len(listed) - len(set(listed))
        assert twice == 0, f"the catalogue's /AF lists {twice} attachment(s) twice"
        assert set(listed) == {spec.obj.objgen for spec in pdf.attachments.values()}
        info = {key: str(value) for key, value in pdf.docinfo.items()}
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
            packet = {key: xmp.get(key) for key in PAIRS.values()}
    for entry, key in PAIRS.items():
        if entry not in info:
            continue
        value = packet.get(key)
        if isinstance(value, list):
            value = ", ".join(value)
        if entry.endswith("Date"):
            parsed = dt.datetime.strptime(info[entry][2:].replace("'", ""), "%Y%m%d%H%M%S%z")
            assert dt.datetime.fromisoformat(value) == parsed, (entry, info[entry], value)
        else:
            assert info[entry] == value, (entry, info[entry], value)
    assert "/CreationDate" in info and "/Producer" in info
    assert "WeasyPrint" in info["/Creator"]
