"""The report's formation evidence: the full text of every Terms version the case rests
on (byte for byte, so each exhibit's hash is the version's imported hash), the version
history, and the screen the accounts saw when they accepted, embedded as an image with
its hash and exhibit; or, plainly, that the record holds no such screen."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from casework.models import Allegation, ReportJob
from casework.reports import report_build, report_job_request
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from evidence.models import Account, Clause, TermsVersion
from evidence.screens import assent_screen_ingest
from tests.casework.test_reports import ACCOUNTS, T0, _attachments, _catalogue, _text, _usage
from tests.factories import case_with_members, ndjson_file, terms_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

OLD = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not: (a) use Output to develop "
    "competing models.\n"
)
NEW = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not: (a) use Output to develop models "
    "that compete with us; (b) use automated means to extract Output.\n"
)


def screenshot() -> bytes:
    """A small PNG of a sign-up screen (its content does not matter; its bytes do)."""
    image = Image.new("RGB", (120, 80), (250, 250, 250))
    image.paste((20, 70, 200), (10, 50, 70, 70))  # the "Agree" button
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def case(tmp_path, counsel_user, signing):
    """Two accounts accepted through flow signup-v4, whose screenshot is on record; one
    through signup-v3, whose screenshot never was collected."""
    shot = screenshot()
    shot_sha = hashlib.sha256(shot).hexdigest()
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [{"account_id": a, "email": e, "signup_ip": ip, "payment_fingerprint": fp,
              "created_at": "2025-12-01T08:00:00Z", "plan": "tier-2"}
             for a, (e, ip, fp, _c) in ACCOUNTS.items()],
        ),
    )  # fmt: skip
    usage = [_usage(n, a, ip) for a, (_, ip, _, _) in ACCOUNTS.items() for n in range(20)]
    ingest_file(actor="system:test", kind="usage", path=ndjson_file(tmp_path / "u.ndjson", usage))
    terms_version(tmp_path, OLD, label="2025-06-01", document="sa")
    terms_version(tmp_path, NEW, label="2026-01-01", effective=T0.date(), document="sa")
    missing = hashlib.sha256(b"never collected").hexdigest()
    flows = {"acct_fox01": ("signup-v4", shot_sha), "acct_fox02": ("signup-v4", shot_sha),
             "acct_fox03": ("signup-v3", missing)}  # fmt: skip
    ingest_file(
        actor="system:test",
        kind="assent",
        path=ndjson_file(
            tmp_path / "assent.ndjson",
            [{"account_id": a, "terms": "sa", "version": "2026-01-01",
              "ts": "2026-01-06T08:01:10Z", "method": "clickwrap", "flow_id": flow,
              "screenshot_sha256": digest}
             for a, (flow, digest) in flows.items()],
        ),
    )  # fmt: skip
    assent_screen_ingest(
        actor=counsel_user, stream=io.BytesIO(shot), file_name="signup-v4.png",
        flow_id="signup-v4", source="test", terms="sa:2026-01-01",
        shown_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), expected_sha256=shot_sha,
    )  # fmt: skip
    _catalogue(tmp_path)
    the_case = case_with_members(
        owner=counsel_user,
        reference="PX-2026-077",
        title="Foxglove sign-ups",
        accounts=Account.objects.filter(account_id__in=ACCOUNTS),
    )
    Allegation.objects.create(
        case=the_case,
        clause=Clause.objects.get(version__label="2026-01-01", path="3.3(b)"),
        theory="Automated extraction.",
        created_by=counsel_user,
    )
    assert evidence_verify(actor="system:test").ok
    the_case.shot = shot
    the_case.shot_sha = shot_sha
    return the_case


def _report(case, edition: str, actor, folder: Path) -> Path:
    job = report_build(job=report_job_request(actor=actor, case=case, edition=edition))
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    path = folder / f"{edition}.pdf"
    with job.pdf.file.open("rb") as src:
        path.write_bytes(src.read())
    return path


def test_every_terms_version_is_attached_in_full_with_its_imported_hash(
    case, counsel_user, tmp_path
):
    path = _report(case, "counsel", counsel_user, tmp_path)
    files = _attachments(path)
    versions = TermsVersion.objects.filter(document__slug="sa")
    assert versions.count() == 2
    for version in versions:
        attached = files[f"terms-sa-{version.label}.md"]
        assert hashlib.sha256(attached).hexdigest() == version.text_sha256
        assert attached.decode("utf-8") == version.text
    history = files["terms-history.csv"].decode("utf-8").splitlines()
    assert history[0].startswith("document,version,effective_date,in_force_until,text_sha256")
    old, new = history[1].split(","), history[2].split(",")
    assert old[:4] == ["sa", "2025-06-01", "2025-06-01", T0.date().isoformat()]
    assert new[1] == "2026-01-01" and new[6] == "2025-06-01"  # the version before it
    assert "3.3(b)" in history[2]  # the clause added by the new version
    text = _text(path)
    assert "Terms version history" in text


def test_the_formation_section_shows_the_screen_the_accounts_saw(
    case, counsel_user, tmp_path, settings
):
    settings.PACTA_REPORT_ORGANISATION = "Aster Systems, Inc."
    path = _report(case, "counsel", counsel_user, tmp_path)
    files = _attachments(path)
    exhibit = f"screen-signup-v4-{case.shot_sha[:12]}.png"
    assert files[exhibit] == case.shot
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    images = [line.split() for line in listing.splitlines()[2:]]
    assert any(row[3:5] == ["120", "80"] for row in images), listing  # the screenshot, embedded
    text = _text(path).replace("\n", " ")
    assert "The screen the accounts saw" in text
    assert case.shot_sha[:32] in text.replace(" ", "")
    assert exhibit in text.replace(" ", "")
    # The flow whose screenshot was never collected is said to have none.
    assert "No screenshot of this screen is in the record" in text
    assert "Claimant: Aster Systems, Inc.; respondent" in text


def test_the_public_edition_withholds_the_image_and_says_so(case, counsel_user, tmp_path, settings):
    settings.PACTA_REPORT_ORGANISATION = ""
    settings.PACTA_REPORT_DECLARANT_ORGANISATION = ""
    path = _report(case, "public", counsel_user, tmp_path)
    files = _attachments(path)
    assert not [name for name in files if name.startswith("screen-")]
    assert {"terms-sa-2025-06-01.md", "terms-sa-2026-01-01.md"} <= set(files)
    text = _text(path).replace("\n", " ")
    assert "withheld from this edition" in text
    # A claimant nobody configured is said to be unnamed, not called "the provider".
    assert "Claimant: not named" in text


def test_which_edition_carries_a_screen():
    """Pixels cannot be redacted: counsel carries every screen, the regulator none that a
    single account's records name (it may show that account's details), the public none."""
    from casework.reports.formation_exhibits import screen_in_edition
    from casework.reports.redaction import Redactor

    shared, own, unnamed = ({"accounts_naming": k} for k in (2, 1, 0))
    for edition, expected in (
        ("counsel", (True, True, True)),
        ("regulator", (True, False, True)),
        ("public", (False, False, False)),
    ):
        redactor = Redactor(edition)
        assert tuple(screen_in_edition(s, redactor) for s in (shared, own, unnamed)) == expected
