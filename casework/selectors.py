"""Reads on the case side. Access is enforced here, and only here, so no view can forget it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from casework.case_rules import (
    allegation_supports,
    output_use_collect,
)
from casework.damages_rules import case_damages_key, case_damages_value
from casework.models import (
    Allegation,
    Case,
    CaseAccount,
    CaseAccountBasis,
    CaseMembership,
    CaseNote,
    CaseOutputEvidence,
    CaseRole,
    ProductionJob,
    ReportEdition,
    ReportJob,
    ReportReview,
)
from casework.permissions import (
    ABILITIES,
    AUDIT,
    WORK_PRODUCT,
    case_can,
    case_require,
    case_role_capped,
    case_role_of,
    editions_visible,
)
from evidence.access import record_reader
from evidence.custody.events import ACCESS_ACTIONS
from evidence.custody.ledger import is_system_actor
from evidence.custody.verification import verification_latest
from evidence.detectors import link_kinds, signals
from evidence.detectors.selectors import detection_run_latest
from evidence.models import (
    AssentRecord,
    Clause,
    ClauseKind,
    Cluster,
    DetectionRun,
    EvidenceItem,
    Finding,
    LedgerEntry,
    Link,
    TermsDocument,
)
from evidence.selectors import (
    RECORD_LEDGER_OBJECTS,
    ledger_entries_naming_cases,
    record_ledger_entries,
    terms_version_in_force,
)

CASE_PAGE_ROWS = 100
# The attributed accounts are paged like the cluster page's members and links: read,
# referenced to their bases and shown, a hundred rows took some 20 ms of the case page's
# 85 ms of CPU at 5,000 accounts (issue #20).
CASE_ACCOUNTS_PAGE_ROWS = 50


def case_list(*, user) -> QuerySet[Case]:
    """The cases `user` may open: those they are a member of (superusers see all)."""
    if not user.is_authenticated:
        return Case.objects.none()
    cases = Case.objects.all()
    if not user.is_superuser:
        cases = cases.filter(memberships__user=user)
    return cases.order_by("-opened_at")


def cluster_cases_open(*, user, cluster: Cluster) -> list[Case]:
    """The open cases `user` may open that pursue this cluster: opened from it (in this run
    or an earlier one: the identity names the same group), or holding any of its accounts.

    Each carries `cluster_accounts`, how many of the cluster's accounts it attributes, so
    the cluster page says a case is already open on the group before anyone opens another.
    """
    members = cluster.memberships.values("account_id")
    pursues = Q(source_cluster__identity=cluster.identity) | Q(case_accounts__account__in=members)
    return list(
        case_list(user=user)
        .filter(pursues, status=Case.Status.OPEN)
        .annotate(
            cluster_accounts=Count(
                "case_accounts", filter=Q(case_accounts__account__in=members), distinct=True
            )
        )
        .select_related("source_cluster")
        .order_by("-opened_at")
    )


def case_get(*, user, reference: str) -> Case:
    """The case if `user` may open it; otherwise Http404, as if it did not exist.

    A guessed reference must not reveal that a case exists.
    """
    case = get_object_or_404(case_list(user=user), reference=reference)
    case._pacta_opened_by = user  # see case_checked
    return case


def case_checked(*, user, case: Case) -> Case:
    """`case` if `user` may open it, as `case_get` decides; otherwise Http404.

    Every selector under a case checks access itself, so a view cannot forget it. The case
    page calls a dozen of them with the case its view has just read through `case_get` for
    the same user object (the request's): that instance is returned as it is, instead of
    reading the case again for each selector. Any other instance (read for another user,
    or not through `case_get`) is read again through `case_get`.
    """
    if getattr(case, "_pacta_opened_by", None) is user:
        return case
    return case_get(user=user, reference=case.reference)


def case_audit(*, user, case: Case):
    """Every act on the case and on files downloaded from it, for its owner only."""
    if not case_can(user, case, AUDIT):
        raise Http404("No case matches the given query.")
    return LedgerEntry.objects.filter(
        Q(object_type="case", object_id=case.reference) | Q(details__case=case.reference)
    ).order_by("seq")


def case_notes(*, user, case: Case):
    """The case's notes, oldest first; 403 for a member whose role may not read them."""
    case = case_checked(user=user, case=case)
    case_require(user, case, WORK_PRODUCT)
    return case.notes.select_related("author").order_by("created_at")


def case_allegations(*, user, case: Case):
    """The case's allegations, each with the supporting files the user reaches through the
    case (a regulator's reviewer is not told of a counsel edition's files, even if cited)."""
    case = case_checked(user=user, case=case)
    return (
        case.allegations.select_related("clause__version__document", "created_by")
        .prefetch_related(
            Prefetch("supporting_evidence", queryset=case_files(user=user, case=case))
        )
        .order_by("created_at")
    )


# Files a report build stores belong to the case and edition they were built for, and are
# reached only through that case and only by members who may see that edition. The report
# pipeline is the only writer of these kinds; every other file is the record's.
REPORT_FILE_KINDS = (
    EvidenceItem.Kind.REPORT_PDF,
    EvidenceItem.Kind.EXHIBIT,
    EvidenceItem.Kind.MANIFEST,
)


def _report_attachment_ids(details: dict) -> set[int]:
    """The files a report's "created" ledger entry lists as stored with its PDF."""
    attachments = details.get("attachments", [])
    return {a["evidence_item"] for a in attachments if isinstance(a, dict) and "evidence_item" in a}


def case_report_files(*, case: Case, editions) -> tuple[set[int], set[int]]:
    """The files the case's built reports of `editions` stored: their PDFs, and the
    exhibits and manifests they carry (listed by each report's ledger entry, written in the
    transaction that stored them)."""
    jobs = dict(
        case.report_jobs.filter(edition__in=editions).exclude(pdf=None).values_list("pk", "pdf_id")
    )
    attachments: set[int] = set()
    if jobs:
        entries = LedgerEntry.objects.filter(
            object_type="report",
            action=LedgerEntry.Action.CREATED,
            object_id__in=[str(pk) for pk in jobs],
        )
        for details in entries.values_list("details", flat=True):
            attachments |= _report_attachment_ids(details)
    return set(jobs.values()), attachments


def _case_file_ids(*, case: Case, pdfs: set[int], attachments: set[int]) -> set[int]:
    """The case's report PDFs (`pdfs`, of the editions the reader sees), and the files its
    allegations cite: the record's, and its own reports' files of those editions; never
    another case's, nor an edition the reader may not see."""
    own = pdfs | attachments
    cited = EvidenceItem.objects.filter(
        pk__in=Allegation.supporting_evidence.through.objects.filter(allegation__case=case).values(
            "evidenceitem_id"
        )
    ).values_list("pk", "kind")
    return pdfs | {pk for pk, kind in cited if kind not in REPORT_FILE_KINDS or pk in own}


def case_files(*, user, case: Case):
    """Evidence files of a case the user may open: its report PDFs in the editions the
    user may see, and the files its allegations cite, filtered the same way."""
    case = case_checked(user=user, case=case)
    pdfs, attachments = case_report_files(case=case, editions=editions_visible(user, case))
    ids = _case_file_ids(case=case, pdfs=pdfs, attachments=attachments)
    return EvidenceItem.objects.filter(pk__in=ids).order_by("-collected_at")


def case_file_get(*, user, case: Case, pk: int) -> EvidenceItem:
    return get_object_or_404(case_files(user=user, case=case), pk=pk)


def case_clauses_allegeable(*, case: Case):
    """The clauses a breach may be alleged against: those of every Terms version in force
    at some time in the case window, from the version in force at its start to the one in
    force at its end (today when the case has no end; every earlier version when it has no
    start). A version that took effect after the window governs none of its conduct."""
    end = (case.window_end or timezone.now()).date()
    start = case.window_start.date() if case.window_start else None
    version_ids: list[int] = []
    for document in TermsDocument.objects.all():
        versions = document.versions.filter(effective_date__lte=end)
        first = terms_version_in_force(document=document, on=start) if start else None
        if first is not None:
            versions = versions.filter(effective_date__gte=first.effective_date)
        version_ids += versions.values_list("pk", flat=True)
    # Titles, headings, preambles and definitions forbid nothing: they are read beside
    # the clauses but cannot be breached, so they are not offered.
    return (
        Clause.objects.filter(version_id__in=version_ids, kind=ClauseKind.OPERATIVE)
        .select_related("version__document")
        .order_by("version__document__slug", "-version__effective_date", "position")
    )


def case_clauses_in_force(*, case: Case):
    """Clauses of each Terms document's version in force during the case.

    The version in force is the latest one effective on or before the end of the case
    window (today when the case has no window): the contract the conduct is measured by.
    Only operative clauses: the picker offers what conduct can breach.
    """
    on = (case.window_end or timezone.now()).date()
    version_ids = []
    for document in TermsDocument.objects.all():
        version = terms_version_in_force(document=document, on=on)
        if version is not None:
            version_ids.append(version.pk)
    return (
        Clause.objects.filter(version_id__in=version_ids, kind=ClauseKind.OPERATIVE)
        .select_related("version__document")
        .order_by("version__document__slug", "position")
    )


def case_overview(
    *, user, case: Case, accounts_page: object = 1, accounts_filter: dict | None = None
) -> dict:
    """Everything the case page shows, in a bounded number of queries whatever its size.

    Lists that can grow with the case are paged (accounts) or cut to their first rows
    beside an exact count (gaps); the figures are SQL aggregates.
    """
    links = case.case_accounts.select_related("account").order_by("account__account_id")
    has_assent = Exists(AssentRecord.objects.filter(account_id=OuterRef("account_id")))
    counts = case.case_accounts.aggregate(
        total=Count("id"), with_assent=Count("id", filter=Q(has_assent))
    )
    run = detection_run_latest()
    breach = case_breach_and_attribution(case=case, run=run)
    return {
        "case": case,
        "role": case_role_of(user, case),
        "can": {ability: case_can(user, case, ability) for ability in ABILITIES[CaseRole.OWNER]},
        **case_attribution(case=case, page=accounts_page, **(accounts_filter or {})),
        "accounts_total": counts["total"],
        "formation": {
            "attributed": counts["total"],
            "with_assent": counts["with_assent"],
            "share": (counts["with_assent"] / counts["total"]) if counts["total"] else None,
            "gaps": links.exclude(has_assent)[:CASE_PAGE_ROWS],
            "gaps_total": counts["total"] - counts["with_assent"],
        },
        "damages": case_damages(case=case),
        "output_use": output_use_collect(case=case),
        "source_cluster": case_source_cluster(user=user, case=case, latest_run=run),
        **breach,
        "allegations": [allegation for allegation, _ in breach["breach"]],
        "notes": (
            case.notes.select_related("author").order_by("-created_at")[:CASE_PAGE_ROWS]
            if case_can(user, case, WORK_PRODUCT)
            else CaseNote.objects.none()
        ),
        "members": case.memberships.select_related("user").order_by("role", "user__username"),
        "files": case_files(user=user, case=case),
        "clauses_in_force": case_clauses_in_force(case=case),
        **case_reports_overview(user=user, case=case),
    }


def case_reports_overview(*, user, case: Case) -> dict:
    """The case's latest reports as `user` may see them, each one's verification, and the
    editions they may request: the case page's Reports section and the reports page."""
    reports = list(case_report_jobs(user=user, case=case)[:CASE_PAGE_ROWS])
    return {
        "reports": reports,
        "reports_verification": reports_verification(jobs=reports),
        "productions": case_productions(user=user, case=case)[:CASE_PAGE_ROWS],
        "page_sizes": ProductionJob.PageSize.choices,
        "editions": [
            (value, label)
            for value, label in ReportEdition.choices
            if value in editions_visible(user, case)
        ],
    }


def case_output_evidence(*, user, case: Case) -> QuerySet[CaseOutputEvidence]:
    """What the case holds as evidence of use (probe batches, targets, canary matches)."""
    case = case_checked(user=user, case=case)
    return CaseOutputEvidence.objects.filter(case=case).order_by("pk")


def case_attribution(*, case: Case, page: object = 1, find: str = "", on_basis: str = "") -> dict:
    """The attributed accounts a page at a time, and each basis of attribution stated once.

    A case opened from a cluster gives every account the same long basis; the table shows
    it as a numbered reference to one list of bases, each in full with how many accounts
    rest on it, instead of repeating it on every row. An account attributed again on a
    second basis (`CaseAccountBasis`) lists both. `find` keeps the accounts whose id or
    organisation holds it, `on_basis` those resting on that kind of basis (first or
    further).
    """
    first = case.case_accounts.order_by().values_list("basis", "basis_detail")
    further = CaseAccountBasis.objects.filter(case_account__case=case).order_by()
    counts: dict[tuple[str, str], int] = {}
    # Accounts resting on each kind of basis, each account once however many details.
    per_kind: dict[str, int] = {}
    attributed = 0
    for basis, detail, n in first.annotate(n=Count("id")):
        counts[(basis, detail)] = n
        per_kind[basis] = per_kind.get(basis, 0) + n
        attributed += n
    for basis, detail, n in further.values_list("basis", "basis_detail").annotate(n=Count("id")):
        counts[(basis, detail)] = counts.get((basis, detail), 0) + n
    keys = sorted(counts, key=lambda key: (-counts[key], CaseAccount.Basis(key[0]).label, key[1]))
    refs = {key: n for n, key in enumerate(keys, start=1)}
    also = (
        further.exclude(basis=F("case_account__basis"))
        .values_list("basis")
        .annotate(n=Count("case_account", distinct=True))
    )
    for basis, n in also.values_list("basis", "n"):
        per_kind[basis] = per_kind.get(basis, 0) + n
    links = case.case_accounts.select_related("account").prefetch_related("further_bases")
    if find:
        links = links.filter(
            Q(account__account_id__icontains=find) | Q(account__org_name__icontains=find)
        )
    if on_basis:
        links = links.filter(Q(basis=on_basis) | Q(further_bases__basis=on_basis)).distinct()
    paginator = Paginator(links.order_by("account__account_id"), CASE_ACCOUNTS_PAGE_ROWS)
    if not (find or on_basis):
        paginator.count = attributed  # every account has one first basis: counted above
    accounts = paginator.get_page(page)
    for link in accounts:
        own = [(link.basis, link.basis_detail)]
        own += [(b.basis, b.basis_detail) for b in link.further_bases.all()]
        link.basis_refs = [
            (CaseAccount.Basis(key[0]).label, refs[key]) for key in dict.fromkeys(own)
        ]
    return {
        "accounts": accounts,
        "accounts_filtered": bool(find or on_basis),
        "attribution_bases": [
            {
                "ref": refs[key],
                "label": CaseAccount.Basis(key[0]).label,
                "detail": key[1],
                "accounts": counts[key],
            }
            for key in keys[:CASE_PAGE_ROWS]
        ],
        "attribution_bases_total": len(keys),
        "bases": [(CaseAccount.Basis(b).label, n) for b, n in sorted(per_kind.items())],
    }


def case_source_cluster(*, user, case: Case, latest_run: DetectionRun | None) -> dict | None:
    """The cluster the case was opened from, and what became of it in `latest_run` (the
    latest finished run, `detection_run_latest`).

    A later detection run renumbers nothing: the cluster that kept most of this one's
    accounts carries its identity, so counsel can see whether the group they are pursuing
    still stands (its size and band now) or has dissolved (no cluster holds the identity).
    None for a case not opened from a cluster.
    """
    if case.source_cluster_id is None:
        return None  # nothing to show, so nothing to check access for
    case = case_checked(user=user, case=case)
    source = Cluster.objects.select_related("run").get(pk=case.source_cluster_id)
    later = latest_run is not None and latest_run.pk != source.run_id
    return {
        "cluster": source,
        "latest_run": latest_run if later else None,
        "latest": (
            Cluster.objects.filter(run=latest_run, identity=source.identity).first()
            if later
            else None
        ),
    }


def case_damages(*, case: Case) -> dict:
    """`case_damages_compute`, cached until one of its inputs changes.

    The figure aggregates every usage row of the attributed accounts (a million rows for a
    large case: over a second), while its inputs change only when accounts are attributed,
    the window moves, a file is ingested, retention purges, prices or Terms are imported,
    detection runs or allegations change; the cache key names all of those
    (`damages_rules.case_damages_key`), so a stale figure is never served.
    """
    # v3: the figure carries the flagged requests and the conduct period (a value cached in
    # an earlier shape is never read as this one).
    key = "case-damages/3:" + case_damages_key(case=case)
    return cache.get_or_set(key, lambda: case_damages_compute(case=case), timeout=24 * 3600)


def case_damages_compute(*, case: Case) -> dict:
    """The report's damages theory over the case's usage rows (`case_damages`)."""
    return case_damages_value(case=case)


# --- The case side as the REST API reads it ------------------------------------------------
# Everything under a case goes through `case_get` first: a non-member gets 404, as in the UI.


def case_accounts(*, user, case: Case) -> QuerySet[CaseAccount]:
    case = case_checked(user=user, case=case)
    further = CaseAccountBasis.objects.select_related("attributed_by")
    return (
        case.case_accounts.select_related("account", "attributed_by")
        .prefetch_related(Prefetch("further_bases", queryset=further))
        .order_by("account__account_id")
    )


def case_allegation_get(*, user, case: Case, pk: int) -> Allegation:
    return get_object_or_404(case_allegations(user=user, case=case), pk=pk)


def case_report_jobs(*, user, case: Case) -> QuerySet[ReportJob]:
    """The case's report jobs in the editions the user's role may see (an external reviewer:
    the regulator and public editions only; other editions do not exist for them)."""
    case = case_checked(user=user, case=case)
    return (
        case.report_jobs.filter(edition__in=editions_visible(user, case))
        .select_related("requested_by", "pdf")
        .order_by("-requested_at", "-pk")
    )


def case_report_job_get(*, user, case: Case, pk: int) -> ReportJob:
    return get_object_or_404(case_report_jobs(user=user, case=case), pk=pk)


def report_job_reviews(*, user, case: Case, pk: int) -> QuerySet[ReportReview]:
    """The reviews of a report job the user may see (a final job's: its draft's), in the
    order given. Reviewers' decisions and comments are the team's work product: those who
    may not read the notes get none."""
    job = case_report_job_get(user=user, case=case, pk=pk)
    if not case_can(user, job.case, WORK_PRODUCT):
        return ReportReview.objects.none()
    draft_id = job.draft_id if job.final else job.pk
    return ReportReview.objects.filter(job_id=draft_id).select_related("reviewer")


def evidence_items_citable(*, user, case: Case) -> QuerySet[EvidenceItem]:
    """Files an allegation on `case` may cite: what the user already reaches through this
    case (its files, and its reports' exhibits in the editions they may see), and the
    record's own files (ingest rejects, uploads) for a record reader. Another case's report
    files never: citing them would hand them to every member of this case.

    A named system process (commands, the demo) cites as the case's owner would.
    """
    if is_system_actor(user):
        editions, reads_record = frozenset(ReportEdition.values), True
    else:
        case = case_checked(user=user, case=case)
        editions, reads_record = editions_visible(user, case), record_reader(user)
    pdfs, attachments = case_report_files(case=case, editions=editions)
    ids = _case_file_ids(case=case, pdfs=pdfs, attachments=attachments) | attachments
    reachable = Q(pk__in=ids)
    if reads_record:
        reachable |= ~Q(kind__in=REPORT_FILE_KINDS)
    return EvidenceItem.objects.filter(reachable)


def report_job_pdf(*, user, case: Case, pk: int) -> EvidenceItem | None:
    """The signed PDF of a report job the user may see; None while it is not built."""
    job = case_report_job_get(user=user, case=case, pk=pk)
    return job.pdf if job.status == ReportJob.Status.DONE else None


def report_job_exhibits(*, user, case: Case, pk: int) -> QuerySet[EvidenceItem]:
    """The files attached to a finished report (exhibits and manifest), in exhibit order.

    The report's "created" ledger entry lists them: it is written in the same transaction
    that stores them and marks the job done, so it names exactly what the PDF carries.
    """
    job = case_report_job_get(user=user, case=case, pk=pk)
    if job.status != ReportJob.Status.DONE:
        return EvidenceItem.objects.none()
    entry = (
        LedgerEntry.objects.filter(object_type="report", object_id=str(job.pk), action="created")
        .order_by("-seq")
        .first()
    )
    ids = _report_attachment_ids(entry.details) if entry else set()
    return EvidenceItem.objects.filter(pk__in=ids).order_by("pk")


# Who read or downloaded what is the case's access audit, its owner's to read (AUDIT).
ACCESS_AUDIT_ACTIONS = ACCESS_ACTIONS


def case_ledger_entries(*, user, case: Case) -> QuerySet[LedgerEntry]:
    """Every act on the case and recorded for it under other objects (accounts linked, files
    exported), oldest first; the access audit only for those whose role includes AUDIT."""
    case = case_checked(user=user, case=case)
    entries = LedgerEntry.objects.filter(
        Q(object_type="case", object_id=case.reference) | Q(details__case=case.reference)
    )
    if not case_can(user, case, AUDIT):
        entries = entries.exclude(action__in=ACCESS_AUDIT_ACTIONS)
    return entries.order_by("seq")


LEDGER_OBJECT_TYPES = ("case", *RECORD_LEDGER_OBJECTS)


def ledger_entries_for(*, user, object_type: str, object_id: str) -> QuerySet[LedgerEntry]:
    """The ledger entries of one object, for those who may open it: a case's for its members,
    a record object's for record readers; anything else is 404.

    Under a record object, an entry naming a case (an account linked to it, a file cited in
    or downloaded from it) is shown only to that case's members, and its access audit
    (views, downloads) only to those who may read that audit: the ledger must not tell
    anyone which cases exist or who read what in them. A report's own files are a case's
    files: their custody is shown only to those who reach them through their case.
    """
    if object_type == "case":
        case = case_get(user=user, reference=object_id)
        return case_ledger_entries(user=user, case=case)
    entries = record_ledger_entries(user=user, object_type=object_type, object_id=object_id)
    if object_type == "evidence_item":
        item = EvidenceItem.objects.get(pk=int(object_id))
        if item.kind in REPORT_FILE_KINDS and not _report_file_reachable(user=user, item=item):
            raise Http404("No such object in the record.")
    if user.is_superuser:
        return entries
    readable, audited = set(), set()
    memberships = CaseMembership.objects.filter(user=user).values_list("case__reference", "role")
    for reference, role in memberships:
        readable.add(reference)
        if AUDIT in ABILITIES[case_role_capped(user, role)]:
            audited.add(reference)
    return ledger_entries_naming_cases(entries, readable=readable, audited=audited)


def _report_file_reachable(*, user, item: EvidenceItem) -> bool:
    """Whether a report's file is one of the user's cases' files, in an edition they see."""
    listed_by = LedgerEntry.objects.filter(
        object_type="report",
        action=LedgerEntry.Action.CREATED,
        details__attachments__contains=[{"evidence_item": item.pk}],
    ).values_list("object_id", flat=True)
    jobs = ReportJob.objects.filter(Q(pdf=item) | Q(pk__in=[int(pk) for pk in listed_by]))
    return any(
        job.edition in editions_visible(user, job.case) for job in jobs.select_related("case")
    )


def case_productions(*, user, case: Case) -> QuerySet[ProductionJob]:
    """The case's production jobs in the editions the user may see, newest first (a
    production carries the same pages and exhibits as the report of its edition). A user
    who is not a member sees no edition, so none of them."""
    return (
        case.production_jobs.filter(edition__in=editions_visible(user, case))
        .select_related("case", "requested_by")
        .order_by("-requested_at", "-pk")
    )


def case_production_get(*, user, case: Case, pk: int) -> ProductionJob:
    return get_object_or_404(case_productions(user=user, case=case), pk=pk)


def production_job_zip(*, user, case: Case, pk: int) -> tuple[ProductionJob, Path | None]:
    """A production job the user may see, and its zip (None while it is not built)."""
    job = case_production_get(user=user, case=case, pk=pk)
    if job.status != ProductionJob.Status.DONE or not job.zip_path or job.zip_removed_at:
        return job, None
    path = Path(settings.MEDIA_ROOT) / job.zip_path
    return job, path if path.is_file() else None


def reports_verification(*, jobs) -> dict[int, str]:
    """For each finished job: "verified" if the latest verification found its PDF intact,
    "failed" if it named it, "not yet verified" if the PDF came after the latest run."""
    run = verification_latest()
    failed = set()
    if run is not None:
        failed = {str(f["id"]) for f in run.failures if f.get("object") == "evidence_item"}
    status = {}
    for job in jobs:
        if job.pdf_id is None:
            continue
        if run is None or run.started_at < job.pdf.collected_at:
            status[job.pk] = "not yet verified"
        elif str(job.pdf_id) in failed:
            status[job.pk] = "failed"
        else:
            status[job.pk] = "verified"
    return status


def case_detection_counts(*, case: Case, run) -> tuple[list[dict], dict[str, int]]:
    """In `run`, per detector (by name) the case's accounts it measured and fired on, and
    per link kind the links touching them: what the breach table and the elements
    checklist both weigh, one query each."""
    members = case.case_accounts.values("account_id")
    # order_by(): the models' default orderings would join accounts and runs into counts.
    findings = (
        Finding.objects.filter(run=run, account_id__in=members)
        .order_by()
        .values("detector")
        .annotate(measured=Count("id"), fired=Count("id", filter=Q(fired=True)))
        .order_by("detector")
    )
    touching = (
        Link.objects.filter(run=run)
        .filter(Q(account_a_id__in=members) | Q(account_b_id__in=members))
        .order_by()
    )
    links = touching.values_list("kind").annotate(n=Count("id")).order_by("kind")
    return list(findings), dict(links.values_list("kind", "n"))


def case_breach_and_attribution(*, case: Case, run: DetectionRun | None) -> dict:
    """Supporting detectors per alleged clause, and link strength among the attributed
    accounts, in `run` (the latest finished detection run, `detection_run_latest`).

    Which detectors support an allegation is `case_rules.allegation_supports`, the rule
    the report applies to its snapshot: signals that fired on attributed accounts and link
    kinds with links touching them, whose detector declares the clause's category.
    """
    allegations = list(
        case.allegations.select_related("clause__version__document", "created_by").order_by(
            "created_at"
        )
    )
    if run is None:
        return {"breach": [(a, []) for a in allegations], "links_by_strength": [], "run": None}
    members = case.case_accounts.values("account_id")
    counts, links = case_detection_counts(case=case, run=run)
    fired = {row["detector"]: row["fired"] for row in counts}
    measured = {row["detector"]: row["measured"] for row in counts}
    detectors = [detector.describe() for detector in (*signals(), *link_kinds())]
    breach = [
        (
            allegation,
            allegation_supports(
                category=allegation.clause.category,
                detectors=detectors,
                fired=fired,
                measured=measured,
                links=links,
            ),
        )
        for allegation in allegations
    ]
    strengths = (
        Link.objects.filter(run=run, account_a_id__in=members, account_b_id__in=members)
        .order_by()
        .values_list("strength")
        .annotate(n=Count("id"))
        .values_list("strength", "n")
    )
    order = {"hard": 0, "strong": 1, "weak": 2}
    return {
        "breach": breach,
        "links_by_strength": sorted(strengths, key=lambda pair: order.get(pair[0], 9)),
        "run": run,
    }
