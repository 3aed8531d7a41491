"""Demo mode: the documented users exist, can sign in, and see the loaded record."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from casework.countermeasures.models import IndicatorExchange
from casework.demo import (
    DEMO_ALLEGATIONS,
    DEMO_CASE_REFERENCE,
    DEMO_PASSWORD,
    DemoError,
    demo_case_report,
    demo_users_seed,
)
from casework.demo.world.rival import (
    ASKS_PER_PROMPT,
    CANARIES,
    CONTROL,
    IDENTITY,
    REGURGITATED,
    RIVAL,
)
from casework.models import Case, ReportJob
from casework.production import production_verify
from casework.reports.final import DEMONSTRATION_MARK, DRAFT_MARK
from evidence.models import (
    Account,
    AssentScreen,
    BillingRecord,
    Clause,
    IngestBatch,
    LedgerEntry,
    TermsVersion,
    UsageEvent,
)
from tests.casework.test_output_use import _section
from tests.casework.test_reports import _text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [page for page in text.split("\f") if page.strip()]


def test_seed_demo_creates_users_and_loads_the_scenario(tmp_path, client):
    out = tmp_path / "demo"
    call_command(
        "seed_demo", "--demo-mode", "--out", str(out), "--accounts", "300", "--events", "10000"
    )
    users = set(get_user_model().objects.values_list("username", flat=True))
    assert {"counsel", "investigator", "viewer"} <= users
    assert Account.objects.count() == 300
    assert UsageEvent.objects.count() == 10000
    assert Clause.objects.filter(version__label="2026-01-01").exists()
    # Every Terms document of the demo provider, the services agreement in both versions.
    versions = TermsVersion.objects.values_list("document__slug", "label")
    assert sorted(versions) == [
        ("developer-terms", "2026-01-01"),
        ("services-agreement", "2025-06-01"),
        ("services-agreement", "2026-01-01"),
        ("usage-policy", "2026-01-01"),
    ]
    # The sign-up screens, kept as evidence and named by the clickwrap records' hashes.
    screens = {s.flow_id: s for s in AssentScreen.objects.all()}
    assert set(screens) == {"signup-v3", "signup-v4", "reaccept-2026-01"}
    for flow, screen in screens.items():
        assert screen.media_type == "image/png"
        assert screen.assent_records().exists(), flow
        assert set(screen.assent_records().values_list("flow_id", flat=True)) == {flow}
    billed = BillingRecord.objects.count()
    assert billed and BillingRecord.objects.filter(kind="invoice").exists()

    # django-axes counts every password sign-in against the request it came with.
    assert client.login(request=HttpRequest(), username="counsel", password=DEMO_PASSWORD)
    page = client.get("/")
    assert page.status_code == 200
    assert b"10000" in page.content  # the record's usage count on the home page

    # A second run reuses the files and adds nothing: no rows, and no batch that holds
    # nothing new (each rerun of `make demo` added three).
    batches = IngestBatch.objects.count()
    second = io.StringIO()
    call_command(
        "seed_demo",
        "--demo-mode",
        "--out",
        str(out),
        "--accounts",
        "300",
        "--events",
        "10000",
        stdout=second,
    )
    assert UsageEvent.objects.count() == 10000
    assert IngestBatch.objects.count() == batches
    assert AssentScreen.objects.count() == 3
    assert "usage: usage.ndjson already in the record (batch" in second.getvalue()
    assert "billing: billing.ndjson already in the record (batch" in second.getvalue()
    assert BillingRecord.objects.count() == billed


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.slow
@pytest.mark.usefixtures("signing")
def test_the_demo_case_goes_through_the_services_and_its_report_is_signed(tmp_path):
    """`make demo`'s case: every allegation is the service's (a ledger entry each), the
    case is on hold and the signed report is written; `--json` says all of it."""
    out = tmp_path / "demo"
    stdout = io.StringIO()
    call_command(
        "seed_demo",
        "--demo-mode",
        "--out",
        str(out),
        "--accounts",
        "200",
        "--events",
        "10000",
        "--report",
        "--json",
        stdout=stdout,
    )
    document = json.loads(stdout.getvalue())
    assert document["users"] == ["counsel", "investigator", "viewer", "expert"]
    assert document["report"]["status"] == "done"
    assert Path(document["report"]["path"]).read_bytes().startswith(b"%PDF")
    # The report is the final one, built from a draft that counsel and the expert approved,
    # and marked a demonstration on every page; the draft is kept beside it.
    final = ReportJob.objects.get(pk=document["report"]["job"])
    assert final.final and final.draft.status == "done"
    assert {(r.reviewer.username, r.decision) for r in final.draft.reviews.all()} == {
        ("counsel", "approve"),
        ("expert", "approve"),
    }
    # The formation section shows the sign-up screen the accounts saw, embedded.
    listing = subprocess.run(
        ["pdfimages", "-list", document["report"]["path"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert any(line.split()[3:5] == ["720", "520"] for line in listing.splitlines()[2:])
    pages = _pdf_pages(Path(document["report"]["path"]))
    assert all(DEMONSTRATION_MARK in page for page in pages)
    assert all(DRAFT_MARK in page for page in _pdf_pages(out / "report-counsel-draft.pdf"))
    # ... and its production, which verifies.
    assert production_verify(out / "production")["ok"]

    case = Case.objects.get(reference=DEMO_CASE_REFERENCE)
    assert case.legal_hold
    allegations = set(case.allegations.values_list("pk", flat=True))
    assert len(allegations) == len(DEMO_ALLEGATIONS)
    ledgered = {
        entry.details.get("allegation")
        for entry in LedgerEntry.objects.filter(object_type="case", object_id=case.reference)
    }
    assert allegations <= ledgered

    # What the provider did: a suspension sent to the platform, a notice of breach with
    # its cure period, and (for a case opened from a cluster) the indicators shared.
    [suspension] = case.enforcement_actions.all()
    assert (suspension.kind, suspension.state, suspension.sent_via) == ("suspend", "sent", "csv")
    assert (out / "actions.csv").exists()
    [notice] = case.notices.all()
    assert (notice.kind, notice.delivery, notice.cure_days) == ("breach", "sent", 14)
    assert list((out / "outbox").iterdir())
    if case.source_cluster is not None:
        assert (out / "indicators-demo-partner.json").exists()
        assert IndicatorExchange.objects.filter(cluster=case.source_cluster).exists()

    # The evidence of use: the rival's probes, its identity claims and the canaries it gave
    # back are on the case, and the report's section states them against the clean control.
    assert sorted(set(case.output_evidence.values_list("kind", flat=True))) == [
        "canary_match",
        "identity_claims",
        "probe_batch",
    ]
    assert case.output_evidence.filter(kind="canary_match").count() == REGURGITATED
    text = _text(Path(document["report"]["path"]))
    section = _section(text)
    asked = len(IDENTITY) * ASKS_PER_PROMPT + CANARIES  # who-are-you, then the served prompts
    assert f"{RIVAL} {asked} " in section and f"{CONTROL} (0 of {asked})" in section
    assert "Names looked for: Aster, Aster Systems." in section
    matched = case.output_evidence.filter(kind="canary_match")
    for canary in matched.values_list("canary_match__canary__canary_id", flat=True):
        assert canary in section
    assert "No canary match is attached" not in section
    assert "No target's identity claims are attached" not in section
    assert "Limits of the inference" in section
    # Damages from what was charged and paid as well as list prices (issue #18).
    damages = text[text.index("Clause pricing misuse") : text.index("Limits evaded")]
    damages = " ".join(damages.replace("\u2010\n", "").split())
    assert "Charged against paid" in damages and "Flagged accounts USD" in damages
    assert "no billing records loaded" not in damages and "Flagged requests" in damages
    assert "output tokens only" in damages


# --- demo mode is asked for, and never takes over a user -------------------------------------


def test_seed_demo_refuses_without_demo_mode_and_makes_nothing(tmp_path):
    out = tmp_path / "demo"
    with pytest.raises(CommandError, match="--demo-mode: not given") as refused:
        call_command("seed_demo", "--out", str(out), "--accounts", "50", "--events", "100")
    assert refused.value.returncode == 2
    assert "public password pacta-demo" in str(refused.value)
    assert not get_user_model().objects.filter(username__in=["counsel", "viewer"]).exists()
    assert not out.exists() and Account.objects.count() == 0


def test_seed_demo_never_sets_the_password_of_a_user_it_did_not_make(tmp_path):
    user_model = get_user_model()
    real = user_model.objects.create_user(
        username="viewer", email="victor@aster.example", password="the-real-one-1"
    )
    real.groups.add(Group.objects.get_or_create(name="counsel")[0])
    before = real.password

    stdout = io.StringIO()
    call_command(
        "seed_demo", "--demo-mode", "--out", str(tmp_path / "demo"), "--accounts", "200",
        "--events", "10000", stdout=stdout,
    )  # fmt: skip
    real.refresh_from_db()
    assert real.password == before and real.check_password("the-real-one-1")
    assert real.email == "victor@aster.example"
    assert set(real.groups.values_list("name", flat=True)) == {"counsel"}  # not made a viewer
    assert (
        "User viewer exists and was not made by the demo: left as it is, its password unchanged"
        in stdout.getvalue()
    )
    assert (
        "Demo users counsel, investigator, expert made (password pacta-demo)." in stdout.getvalue()
    )


def test_demo_users_seed_says_which_users_it_made_kept_or_left_alone(django_user_model):
    django_user_model.objects.create_user(username="viewer", password="the-real-one-1")
    first = demo_users_seed()
    assert [(u.username, u.outcome, u.demo_password) for u in first] == [
        ("counsel", "created", True),
        ("investigator", "created", True),
        ("viewer", "not the demo's", False),
        ("expert", "created", True),
    ]
    counsel = django_user_model.objects.get(username="counsel")
    counsel.set_password("changed-after-the-demo-1")
    counsel.save()

    again = demo_users_seed()
    counsel.refresh_from_db()
    assert counsel.check_password("changed-after-the-demo-1")  # not reset to the demo's
    assert [(u.username, u.outcome, u.demo_password) for u in again] == [
        ("counsel", "kept", False),
        ("investigator", "kept", True),
        ("viewer", "not the demo's", False),
        ("expert", "kept", True),
    ]
    viewer = django_user_model.objects.get(username="viewer")
    assert viewer.check_password("the-real-one-1") and not viewer.groups.exists()


def test_the_demo_case_is_never_opened_as_a_real_counsel(tmp_path, django_user_model):
    django_user_model.objects.create_user(username="counsel", password="the-real-one-1")
    with pytest.raises(CommandError, match=r"--report: .*not made by the demo") as refused:
        call_command(
            "seed_demo", "--demo-mode", "--out", str(tmp_path / "demo"), "--accounts", "200",
            "--events", "10000", "--report",
        )  # fmt: skip
    assert refused.value.returncode == 2
    assert Account.objects.count() == 0  # refused before the record was loaded
    assert not Case.objects.exists()
    with pytest.raises(DemoError, match="not made by the demo"):
        demo_case_report(scenario_dir=tmp_path / "demo", stdout=io.StringIO())
