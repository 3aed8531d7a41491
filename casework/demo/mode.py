"""Demo mode: the users, the scenario and the demo case with its report behind `make demo`
(its evidence of use: `casework.demo.use`).

Everything the demo creates goes through the services an operator's act would (Terms
import, ingest, case opening, allegations, holds, reports), so it is ledgered the same way.

This is the only place in Pacta that creates default users, and it says so loudly: the
demo password is public, so these accounts must never exist outside a demo. `seed_demo`
runs only when asked with `--demo-mode`, and a user of one of the demo's names that the
demo did not make is never touched: its password, groups and name stay as they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from casework.countermeasures.handoff import actions_export_csv
from casework.countermeasures.indicators import indicators_export, sharing_partner_add
from casework.countermeasures.models import SharingPartner
from casework.countermeasures.notices import notice_send
from casework.countermeasures.services import action_approve, action_propose
from casework.demo.use import demo_ingest_once, demo_use_attach, demo_use_load
from casework.demo.world import scenario_generate
from casework.demo.world.billing import BILLING_FILE
from casework.demo.world.provider import TERMS_SAMPLES, TERMS_SLUG
from casework.demo.world.screens import SCREENS_DIR
from casework.models import Case, CaseRole, ReportJob, ReportReview
from casework.production import production_build
from casework.reports import report_build, report_job_request
from casework.reports.review import report_final_request, report_review
from casework.services import (
    allegation_add,
    case_accounts_attribute,
    case_hold_place,
    case_member_add,
    case_open,
    case_open_from_cluster,
)
from evidence.custody.verification import evidence_verify, verification_latest
from evidence.detectors.catalogue import models_import, plans_import
from evidence.detectors.service import detection_run
from evidence.models import (
    Account,
    Band,
    Clause,
    Cluster,
    DetectionRun,
    ModelRelease,
    PlanLimit,
    TermsVersion,
)
from evidence.screens import assent_screen_ingest
from evidence.terms.services import terms_import

DEMO_PASSWORD = "pacta-demo"  # noqa: S105 - public by design, documented in the README
DEMO_USERS = (
    ("counsel", "counsel", "Casey", "Counsel"),
    ("investigator", "investigator", "Ines", "Investigator"),
    ("viewer", "viewer", "Victor", "Viewer"),
    # The demo case's expert (case role `expert`), who approves the report's methods.
    ("expert", "investigator", "Erin", "Expert"),
)
ROLE_GROUPS = ("admin", "counsel", "investigator", "viewer", "external reviewer")


# The mark of a user the demo made: an address under `.invalid`, a top-level domain
# reserved never to exist (RFC 2606), so no real user of a deployment carries it.
DEMO_EMAIL_DOMAIN = "pacta-demo.invalid"


class DemoError(RuntimeError):
    """Demo mode cannot do what was asked without touching something that is not the demo's."""


@dataclass(frozen=True)
class DemoUser:
    username: str
    # "created" now; "kept": made by an earlier demo run, left as it is; "not the demo's":
    # a user the demo did not make, never touched.
    outcome: str
    # Signs in with the demo password (false once someone changed it, or not the demo's).
    demo_password: bool

    @property
    def is_demo(self) -> bool:
        return self.outcome != "not the demo's"


def demo_user_email(username: str) -> str:
    return f"{username}@{DEMO_EMAIL_DOMAIN}"


@transaction.atomic
def demo_users_seed() -> list[DemoUser]:
    """Create the demo users that do not exist yet, and the role groups they belong to.

    Never sets the password of a user that already exists: a demo user made by an earlier
    run keeps whatever password it has now, and a user of one of the demo's names that the
    demo did not make (no demo address) is left entirely alone.
    """
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    user_model = get_user_model()
    seeded = []
    for username, group, first, last in DEMO_USERS:
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(username=username, first_name=first, last_name=last)
            user.email = demo_user_email(username)
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=group))
            seeded.append(DemoUser(username, "created", demo_password=True))
        elif user.email == demo_user_email(username):
            user.groups.add(Group.objects.get(name=group))
            # Compared without the model's check_password, which may rehash and save it.
            still = check_password(DEMO_PASSWORD, user.password)
            seeded.append(DemoUser(username, "kept", demo_password=still))
        else:
            seeded.append(DemoUser(username, "not the demo's", demo_password=False))
    return seeded


TERMS_TITLE = "Services Agreement"


def demo_record_load(*, scenario_dir: Path) -> list[str]:
    """Load the scenario into the record as an operator would: Terms, accounts, assent,
    usage and billing.

    Safe to rerun: Terms versions already imported are recognised, and a file whose bytes
    a committed batch already took in is not ingested again, so `make demo` twice neither
    doubles the record nor adds batches that hold nothing new.
    """
    lines = []
    for path in sorted((scenario_dir / "terms").glob("*.md")):
        slug, _, label = path.stem.rpartition("-20")
        label = "20" + label
        result = terms_import(
            actor="system:demo",
            path=path,
            document_slug=slug,
            title=TERMS_SAMPLES[slug][0] if slug in TERMS_SAMPLES else TERMS_TITLE,
            version_label=label,
            effective=dt.date.fromisoformat(label),
        )
        lines.append(f"Terms {result.document} {result.version}: {result.clauses} clauses")
    for kind, name in (
        ("accounts", "accounts.ndjson"),
        ("assent", "assent.ndjson"),
        ("usage", "usage.ndjson"),
        ("billing", BILLING_FILE),
    ):
        lines.append(demo_ingest_once(kind=kind, path=scenario_dir / name))
    # The sign-up screens whose hashes the assent records carry, after the records.
    lines += demo_screens_load(scenario_dir=scenario_dir)
    # The rival's probes and the canaries served to the network, after the usage they cite.
    lines += demo_use_load(scenario_dir=scenario_dir)
    return lines


def demo_screens_load(*, scenario_dir: Path) -> list[str]:
    """Keep each sign-up flow's screen as an operator would (`ingest_evidence_file`); a
    rerun finds them on record and adds nothing."""
    manifest = scenario_dir / SCREENS_DIR / "screens.json"
    if not manifest.exists():
        return []
    lines = []
    for flow, screen in sorted(json.loads(manifest.read_text(encoding="utf-8")).items()):
        path = scenario_dir / screen["file"]
        with path.open("rb") as stream:
            result = assent_screen_ingest(
                actor="system:demo",
                stream=stream,
                file_name=path.name,
                flow_id=flow,
                source="demo scenario",
                terms=screen["terms"],
                shown_from=_instant(screen["shown_from"]),
                shown_until=_instant(screen["shown_until"]),
                expected_sha256=screen["sha256"],
            )
        lines.append(
            f"screen of {flow}: {result.media_type}, sha256 {result.sha256[:12]}, "
            f"{result.assent_records} assent records"
        )
    return lines


def _instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def demo_scenario_ensure(*, out_dir: Path, accounts: int, events: int, seed: int) -> dict:
    """Generate the demo world once; a rerun with the same arguments reuses the files."""
    stamp = out_dir / ".generated.json"
    wanted = {"accounts": accounts, "events": events, "seed": seed}
    # A world generated before the billing export was written is generated again.
    if (
        stamp.exists()
        and json.loads(stamp.read_text()) == wanted
        and (out_dir / BILLING_FILE).exists()
    ):
        return {"reused": True, **wanted}
    summary = scenario_generate(out_dir=out_dir, accounts=accounts, events=events, seed=seed)
    stamp.write_text(json.dumps(wanted))
    return {"reused": False, **summary}


DEMO_CASE_REFERENCE = "DEMO-2026-001"
# Allegations of the demo case: the clauses a distillation case is argued under.
DEMO_ALLEGATIONS = (
    (
        "3.3(c)",
        "The accounts used automated means to extract Output and token probabilities at "
        "scale, systematically varying prompts across a subject area (demo allegation).",
    ),
    (
        "3.3(e)",
        "The Output was harvested to train a competing model: reasoning elicited step by "
        "step and full token distributions requested (demo allegation).",
    ),
    (
        "3.3(g)",
        "The accounts are one actor's, opened and coordinated under other names to evade "
        "rate limits and usage tiers (demo allegation).",
    ),
)


def _demo_signing(*, stdout) -> None:
    """Demo mode signs with the clearly labelled DEMO certificate unless one is configured."""
    if settings.PACTA_SIGNING_CERT and settings.PACTA_SIGNING_KEY:
        return
    out = io.StringIO()
    call_command("demo_certificate", "--json", stdout=out)
    paths = json.loads(out.getvalue())
    settings.PACTA_SIGNING_CERT = paths["cert"]
    settings.PACTA_SIGNING_KEY = paths["key"]
    settings.PACTA_SIGNING_CHAIN = [paths["root"]]
    settings.PACTA_SIGNING_TRUST_ROOTS = [paths["root"]]
    stdout.write(f"Signing with the DEMO certificate in {Path(paths['cert']).parent}.")


def _demo_mail(*, scenario_dir: Path) -> None:
    """Without a mail server, the demo's notices are written as .eml files under
    `scenario_dir/outbox/` (and recorded as handed to that backend), not to the console."""
    if settings.EMAIL_HOST:
        return
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(scenario_dir / "outbox")


DEMO_PARTNER = "Demo partner lab"


def _demo_countermeasures(*, case: Case, counsel, scenario_dir: Path, lines: list[str]) -> None:
    """What the provider did about the demo case: a suspension of its accounts handed to the
    platform in a CSV file, a notice of breach with a cure period, and the cluster's
    indicators shared with a partner as a STIX bundle. Each through its service, ledgered."""
    allegation = case.allegations.select_related("clause").order_by("pk").first()
    accounts = list(
        case.case_accounts.order_by("account__account_id").values_list(
            "account__account_id", "account__email"
        )
    )
    if allegation is None or not accounts:
        return
    suspension = action_propose(
        actor=counsel,
        case=case,
        kind="suspend",
        clause=allegation.clause,
        reason="The attributed accounts extract Output by automated means (demo action).",
        effective_at=timezone.now(),
        accounts=[account_id for account_id, _ in accounts],
    )
    action_approve(actor=counsel, action=suspension)
    exported = actions_export_csv(
        actor=counsel, case=case, out=scenario_dir / "actions.csv", send=True
    )
    lines.append(f"suspension of {len(accounts)} accounts sent to the platform: {exported['file']}")
    _demo_mail(scenario_dir=scenario_dir)
    email = next((e for _, e in accounts if e), "") or "legal@respondent.invalid"
    notice = notice_send(actor=counsel, case=case, kind="breach", to=email, cure_days=14)
    lines.append(
        f"notice of breach {notice.reference} to {notice.recipient}: "
        f"{notice.get_delivery_display().lower()}"
    )
    if case.source_cluster is not None:
        partner = SharingPartner.objects.filter(name=DEMO_PARTNER).first() or (
            sharing_partner_add(actor=counsel, name=DEMO_PARTNER)
        )
        bundle = scenario_dir / "indicators-demo-partner.json"
        indicators_export(actor=counsel, cluster=case.source_cluster, partner=partner, out=bundle)
        lines.append(f"indicators shared with {DEMO_PARTNER}: {bundle.resolve()}")


def _demo_catalogue(*, scenario_dir: Path, lines: list[str]) -> None:
    """List prices and plan limits from the scenario's catalogue, once per file."""
    for name, model, load in (
        ("models.json", ModelRelease, models_import),
        ("plans.json", PlanLimit, plans_import),
    ):
        path = scenario_dir / name
        if not path.exists():
            continue
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        if model.objects.filter(source_sha256=sha256).exists():
            continue
        result = load(actor="system:demo", path=path)
        lines.append(f"{name}: {result['created']} added, {result['updated']} changed")


def _demo_accounts(*, lines: list[str]):
    """The accounts of the demo case, and on what basis they are attributed.

    From detection: the strongest critical (else high) cluster of the latest finished run
    (detection runs first if it never has). Otherwise the accounts sharing the most common
    payment fingerprint among the flagged accounts (or among all, with nothing flagged).
    Never the scenario's ground-truth labels: those exist to test detection, not to accuse anyone.
    """
    run = DetectionRun.objects.filter(status="finished").order_by("-finished_at").first()
    if run is None:
        run = detection_run(actor="system:demo")
        lines.append(f"detection run {run.pk}: {run.counts.get('clusters', 0)} clusters")
    for band in (Band.CRITICAL, Band.HIGH):
        cluster = Cluster.objects.filter(run=run, band=band).order_by("-score", "pk").first()
        if cluster is not None:
            accounts = list(Account.objects.filter(detection_clusters=cluster))
            return accounts, "cluster", cluster
    flagged = Account.objects.filter(findings__run=run, findings__fired=True).distinct()
    pool = flagged if flagged.exists() else Account.objects.all()
    top = (
        pool.exclude(payment_fingerprint="")
        .values("payment_fingerprint")
        .annotate(n=Count("id"))
        .order_by("-n", "payment_fingerprint")
        .first()
    )
    if top is None:
        return [], "payment", None
    fingerprint = top["payment_fingerprint"]
    accounts = list(Account.objects.filter(payment_fingerprint=fingerprint))
    return accounts, "payment", None


def demo_counsel():
    """The demo's own `counsel`: the demo case's acts are ledgered under this user, so it
    must be the one the demo made, never a real user who happens to have the name."""
    counsel = get_user_model().objects.filter(username="counsel").first()
    if counsel is None or counsel.email != demo_user_email("counsel"):
        found = "there is none" if counsel is None else "user counsel was not made by the demo"
        raise DemoError(
            f"the demo case is opened only as the demo's own user counsel, and {found} "
            "(give the demo a database of its own)"
        )
    return counsel


def _demo_final_report(*, case: Case, counsel, scenario_dir: Path, lines: list[str]) -> ReportJob:
    """The demo's report as a user makes one: a draft (kept as `report-counsel-draft.pdf`),
    approved by `counsel` (the whole report) and by `expert` (its methods), then the final
    report built from it. Demo mode marks that final report DEMONSTRATION on every page: it
    is signed with the DEMO identity and declared by the demo's declarant. Returns the
    final job, or the draft's if the draft failed."""
    expert = get_user_model().objects.filter(username="expert").first()
    if expert is None or expert.email != demo_user_email("expert"):
        raise DemoError("the demo's report is approved only by the demo's own user expert")
    if not case.memberships.filter(user=expert).exists():
        case_member_add(actor=counsel, case=case, user=expert, role=CaseRole.EXPERT)
    draft = report_build(job=report_job_request(actor=counsel, case=case, edition="counsel"))
    if draft.status != ReportJob.Status.DONE:
        return draft
    draft_copy = scenario_dir / "report-counsel-draft.pdf"
    with draft.pdf.file.open("rb") as src, draft_copy.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    if not ReportJob.objects.filter(draft=draft).exists():
        for reviewer in (counsel, expert):
            report_review(actor=reviewer, job=draft, decision=ReportReview.Decision.APPROVE)
        lines.append(f"draft report job {draft.pk}: approved by counsel and expert")
    # `seed_demo --demo-mode` is demo mode whatever the environment says, for this build only.
    with override_settings(PACTA_DEMO=True):
        final = report_build(job=report_final_request(actor=counsel, draft=draft))
    lines.append(f"final report job {final.pk}: {final.status} (marked DEMONSTRATION)")
    return final


def demo_case_report(*, scenario_dir: Path, stdout) -> dict:
    """The demo's case (opened as `counsel`, on hold, with allegations) and its signed
    counsel-edition report, copied to `scenario_dir/report-counsel.pdf`.

    Safe to rerun: the case is reused, and an unchanged case finds its finished report.
    """
    counsel = demo_counsel()
    lines: list[str] = []
    _demo_signing(stdout=stdout)
    _demo_catalogue(scenario_dir=scenario_dir, lines=lines)
    case = Case.objects.filter(reference=DEMO_CASE_REFERENCE).first()
    if case is None:
        accounts, basis, cluster = _demo_accounts(lines=lines)
        opening = {
            "actor": counsel,
            "reference": DEMO_CASE_REFERENCE,
            "title": "Distillation through masked API accounts (demo)",
            "respondent": "Operator of the attributed accounts (identity under investigation)",
        }
        if cluster is not None:
            case = case_open_from_cluster(cluster=cluster, **opening)
        else:
            case = case_open(**opening)
            detail = (
                f"cluster {cluster.pk} of detection run {cluster.run_id}"
                if cluster is not None
                else f"{len(accounts)} accounts paying with one card"
            )
            case_accounts_attribute(
                actor=counsel, case=case, accounts=accounts, basis=basis, detail=detail
            )
        latest = (
            TermsVersion.objects.filter(document__slug=TERMS_SLUG)
            .order_by("-effective_date", "-pk")
            .first()
        )
        for path, theory in DEMO_ALLEGATIONS:
            clause = Clause.objects.filter(version=latest, path=path).first()
            if clause is None:
                continue
            allegation_add(actor=counsel, case=case, clause=clause, theory=theory)
        case_hold_place(actor=counsel, case=case)
        _demo_countermeasures(case=case, counsel=counsel, scenario_dir=scenario_dir, lines=lines)
        lines.append(f"case {case.reference}: {len(accounts)} accounts ({basis}), on hold")
    # Idempotent, so a demo case made before the rival existed gains it too.
    lines += demo_use_attach(case=case, counsel=counsel, scenario_dir=scenario_dir)
    if verification_latest() is None:
        run = evidence_verify(actor="system:demo")
        lines.append(f"verification run {run.pk}: {'intact' if run.ok else 'FAILED'}")
    job = _demo_final_report(case=case, counsel=counsel, scenario_dir=scenario_dir, lines=lines)
    out = scenario_dir / "report-counsel.pdf"
    production = scenario_dir / "production"
    if job.status == ReportJob.Status.DONE:
        with job.pdf.file.open("rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        # The demo's own folder, built again on each run (a production is never overwritten).
        shutil.rmtree(production, ignore_errors=True)
        built = production_build(actor=counsel, case=case, out_dir=production)
        lines.append(
            f"production: {production.resolve()} ({len(built.manifest['files'])} files; "
            f"verify with manage.py verify_production)"
        )
    return {"case": case.reference, "job": job, "path": out.resolve(), "lines": lines}
