"""Reads on the record side."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
from collections.abc import Collection
from decimal import Decimal

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Case, Count, Max, Min, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.http import Http404
from django.shortcuts import get_object_or_404

from evidence.access import record_reader
from evidence.custody.events import ACCESS_ACTIONS
from evidence.custody.ledger import ledger_for_object, ledger_head
from evidence.custody.verification import verification_as_dict, verification_latest
from evidence.labels import labels_current
from evidence.models import (
    Account,
    AssentRecord,
    Band,
    CanaryAssignment,
    CanaryMatch,
    CanaryServe,
    Clause,
    Cluster,
    ConfirmedLabel,
    DetectionRun,
    EvidenceItem,
    Finding,
    IngestBatch,
    LedgerEntry,
    Link,
    TermsDocument,
    TermsVersion,
    UsageEvent,
)


def record_summary() -> dict:
    """What the record holds, for the home page: counts, time span and the ledger head."""
    usage = UsageEvent.objects.aggregate(count=Count("id"), first=Min("ts"), last=Max("ts"))
    head_seq, head_hash = ledger_head()
    return {
        "accounts": Account.objects.count(),
        "usage_events": usage["count"],
        "usage_first": usage["first"],
        "usage_last": usage["last"],
        "assent_records": AssentRecord.objects.count(),
        "terms_versions": TermsVersion.objects.count(),
        "batches": IngestBatch.objects.count(),
        "ledger_head_seq": head_seq,
        "ledger_head_hash": head_hash,
    }


def ingest_batch_list() -> QuerySet[IngestBatch]:
    """Ingest batches, newest first. Batches are provenance of the shared record, not of a
    case, so every user allowed to read the record may list them."""
    return IngestBatch.objects.select_related("collector").order_by("-started_at", "-pk")


def account_profile(*, user, account_id: str) -> Account:
    """One account, for a record reader; 404 for anyone else (as if it did not exist)."""
    if not record_reader(user):
        raise Http404("No account matches the given query.")
    return get_object_or_404(Account, account_id=account_id)


def account_usage_daily(*, account: Account) -> list[dict]:
    """Requests and tokens per UTC day for one account: the chart, not the rows."""
    return list(
        UsageEvent.objects.filter(account_id=account.account_id)
        .annotate(day=TruncDate("ts", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
        )
        .order_by("day")
    )


def account_usage_totals(*, account: Account) -> dict:
    return UsageEvent.objects.filter(account_id=account.account_id).aggregate(
        requests=Count("id"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        first=Min("ts"),
        last=Max("ts"),
        models=Count("model", distinct=True),
    )


def terms_documents(*, user) -> QuerySet[TermsDocument]:
    """Terms are the provider's published contract: readable by every signed-in user."""
    if not user.is_authenticated:
        return TermsDocument.objects.none()
    return TermsDocument.objects.prefetch_related("versions").order_by("slug")


def terms_version_get(*, user, slug: str, label: str) -> TermsVersion:
    return get_object_or_404(
        TermsVersion.objects.select_related("document").filter(
            document__in=terms_documents(user=user)
        ),
        document__slug=slug,
        label=label,
    )


def terms_version_in_force(*, document: TermsDocument, on: dt.date) -> TermsVersion | None:
    """The version whose effective date is the latest on or before `on`."""
    return document.versions.filter(effective_date__lte=on).order_by("-effective_date").first()


def terms_diff(*, old: TermsVersion, new: TermsVersion) -> list[dict]:
    """Clause-by-clause differences between two versions of a document.

    A clause is matched first as the same clause (`same_as` lineage), then by path; its
    status is unchanged, changed (with a word diff), added or removed.
    """
    old_clauses = list(old.clauses.order_by("position"))
    new_clauses = list(new.clauses.order_by("position"))
    old_by_root = {(c.same_as_id or c.pk): c for c in old_clauses}
    old_by_path = {c.path: c for c in old_clauses}
    matched: set[int] = set()
    rows = []
    for clause in new_clauses:
        before = old_by_root.get(clause.same_as_id) if clause.same_as_id else None
        before = before or old_by_path.get(clause.path)
        if before is None:
            rows.append({"status": "added", "path": clause.path, "new": clause, "old": None})
            continue
        matched.add(before.pk)
        if before.text_sha256 == clause.text_sha256:
            status, words = "unchanged", []
        else:
            status = "changed"
            words = _word_diff(before.text, clause.text)
        rows.append(
            {"status": status, "path": clause.path, "new": clause, "old": before, "words": words}
        )
    for clause in old_clauses:
        if clause.pk not in matched:
            rows.append({"status": "removed", "path": clause.path, "new": None, "old": clause})
    return rows


def _word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """[(op, text)] with op in equal/delete/insert, word by word."""
    a, b = old.split(), new.split()
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("equal", " ".join(a[i1:i2])))
        else:
            if i2 > i1:
                out.append(("delete", " ".join(a[i1:i2])))
            if j2 > j1:
                out.append(("insert", " ".join(b[j1:j2])))
    return out


def model_prices() -> dict[str, tuple[Decimal, Decimal]]:
    """List prices per million tokens (input, output) by model, from the model catalogue."""
    from evidence.models import ModelRelease

    return {
        m.model: (m.list_price_per_mtok_input, m.list_price_per_mtok_output)
        for m in ModelRelease.objects.all()
    }


# --- The record as the REST API reads it -------------------------------------------------
# The same rule as the pages: only record readers (internal roles) see the raw record; for
# anyone else a list is empty and an object does not exist (404), so an external reviewer
# can neither read nor probe it.


def _for_record_readers(user, queryset: QuerySet) -> QuerySet:
    return queryset if record_reader(user) else queryset.none()


def record_batch_list(*, user) -> QuerySet[IngestBatch]:
    return _for_record_readers(user, ingest_batch_list())


def account_list(*, user) -> QuerySet[Account]:
    return _for_record_readers(user, Account.objects.order_by("account_id"))


def confirmed_label_list(
    *, user, account: str | None = None, current: bool = False
) -> QuerySet[ConfirmedLabel]:
    """Investigators' verdicts on accounts, oldest first; `current` keeps only the verdict
    in force for each account (its latest label)."""
    labels = labels_current() if current else ConfirmedLabel.objects.all()
    if account:
        labels = labels.filter(account__account_id=account)
    labels = labels.select_related("account").order_by("created_at", "pk")
    return _for_record_readers(user, labels)


def usage_event_list(
    *,
    user,
    account: str | None = None,
    model: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[UsageEvent]:
    """Usage rows in (ts, id) order; the window is [since, until), an inverted one is empty."""
    events = _for_record_readers(user, UsageEvent.objects.all())
    if account:
        events = events.filter(account_id=account)
    if model:
        events = events.filter(model=model)
    if since is not None:
        events = events.filter(ts__gte=since)
    if until is not None:
        events = events.filter(ts__lt=until)
    return events.order_by("ts", "id")


def usage_event_get(*, user, pk: int) -> UsageEvent:
    return get_object_or_404(usage_event_list(user=user), pk=pk)


def detection_runs_shown() -> QuerySet[DetectionRun]:
    """Finished runs only: a running or failed run's partial results are not findings."""
    return DetectionRun.objects.filter(status=DetectionRun.Status.FINISHED)


def _run_or_latest(run: int | None) -> DetectionRun | None:
    runs = detection_runs_shown()
    if run is not None:
        return runs.filter(pk=run).first()
    return runs.order_by("-finished_at", "-pk").first()


def cluster_list(*, user, run: int | None = None, band: str | None = None) -> QuerySet[Cluster]:
    """Clusters of one finished run (the latest by default), strongest first."""
    shown = _run_or_latest(run)
    clusters = Cluster.objects.filter(run=shown) if shown else Cluster.objects.none()
    if band:
        clusters = clusters.filter(band=band)
    return _for_record_readers(user, clusters).order_by("-score", "pk")


# Most pressing first: the band a person acts on, then the score within it.
BAND_ORDER = (Band.CRITICAL, Band.HIGH, Band.REVIEW, Band.NONE)


def cluster_list_page(
    *, user, band: str | None = None, min_accounts: int | None = None, page: object = 1
) -> dict:
    """The latest run's clusters for the list page, a page at a time, most pressing first,
    filtered by band and size; each row with its members' requests and output tokens
    (measured for the page's clusters only, so the list stays quick whatever the run)."""
    shown = _run_or_latest(None) if record_reader(user) else None
    clusters = cluster_list(user=user, band=band)
    if min_accounts:
        clusters = clusters.filter(size__gte=min_accounts)
    pressing = Case(*(When(band=b, then=n) for n, b in enumerate(BAND_ORDER)), default=9)
    rows = Paginator(clusters.order_by(pressing, "-score", "pk"), CLUSTER_PAGE_ROWS).get_page(page)
    volume = cluster_volume(clusters=rows)
    for cluster in rows:
        cluster.requests, cluster.output_tokens = volume.get(cluster.pk, (0, 0))
    return {"run": shown, "clusters": rows}


def cluster_get(*, user, pk: int) -> Cluster:
    clusters = Cluster.objects.filter(run__in=detection_runs_shown())
    return get_object_or_404(_for_record_readers(user, clusters), pk=pk)


def cluster_links(*, cluster: Cluster) -> QuerySet[Link]:
    """The links joining a cluster's members in its run (weak links between clusters left out)."""
    members = cluster.memberships.values("account_id")
    return (
        Link.objects.filter(run_id=cluster.run_id, account_a__in=members, account_b__in=members)
        .select_related("account_a", "account_b")
        .order_by("kind", "account_a__account_id", "account_b__account_id")
    )


def finding_list(
    *,
    user,
    run: int | None = None,
    account: str | None = None,
    cluster: int | None = None,
    detector: str | None = None,
    fired: bool | None = None,
) -> QuerySet[Finding]:
    shown = _run_or_latest(run)
    findings = Finding.objects.filter(run=shown) if shown else Finding.objects.none()
    if account:
        findings = findings.filter(account__account_id=account)
    if cluster is not None:
        findings = findings.filter(cluster_id=cluster)
    if detector:
        findings = findings.filter(detector=detector)
    if fired is not None:
        findings = findings.filter(fired=fired)
    return _for_record_readers(user, findings.select_related("account")).order_by("pk")


def finding_get(*, user, pk: int) -> Finding:
    findings = Finding.objects.filter(run__in=detection_runs_shown()).select_related("account")
    return get_object_or_404(_for_record_readers(user, findings), pk=pk)


def terms_document_get(*, user, slug: str) -> TermsDocument:
    return get_object_or_404(terms_documents(user=user), slug=slug)


def clause_list(
    *,
    user,
    document: str | None = None,
    version: str | None = None,
    category: str | None = None,
    kind: str | None = None,
) -> QuerySet[Clause]:
    """Clauses of the published Terms, readable by every signed-in user (as the Terms are);
    `kind="operative"` leaves out titles, headings, preambles and definitions."""
    clauses = Clause.objects.filter(version__document__in=terms_documents(user=user))
    if kind:
        clauses = clauses.filter(kind=kind)
    if document:
        clauses = clauses.filter(version__document__slug=document)
    if version:
        clauses = clauses.filter(version__label=version)
    if category:
        clauses = clauses.filter(category=category)
    return clauses.select_related("version__document").order_by(
        "version__document__slug", "version__effective_date", "position"
    )


def clause_get(*, user, pk: int) -> Clause:
    return get_object_or_404(clause_list(user=user), pk=pk)


def clause_category_corrections(*, user, clause: Clause) -> QuerySet[LedgerEntry]:
    """Counsel's corrections of a clause's category, oldest first, with their reasons.

    The Terms are public, the reasons are the legal team's: only record readers see them.
    """
    if not record_reader(user):
        return LedgerEntry.objects.none()
    return ledger_for_object(object_type="clause", object_id=clause.pk).filter(
        action=LedgerEntry.Action.CHANGED, details__field="category"
    )


# What the record side answers for in the ledger; a case's entries are the case side's.
RECORD_LEDGER_OBJECTS = {
    "account": lambda object_id: Account.objects.filter(account_id=object_id),
    "evidence_item": lambda object_id: EvidenceItem.objects.filter(pk=int(object_id)),
    "ingest_batch": lambda object_id: IngestBatch.objects.filter(pk=int(object_id)),
}


def record_ledger_entries(*, user, object_type: str, object_id: str) -> QuerySet[LedgerEntry]:
    """Every ledger entry on one record object, oldest first; 404 unless the user is a record
    reader and the object exists (an id that names nothing has no custody to show)."""
    find = RECORD_LEDGER_OBJECTS.get(object_type)
    if find is None or not record_reader(user):
        raise Http404("No such object in the record.")
    try:
        exists = find(object_id).exists()
    except ValueError:  # a non-numeric id of a numbered object
        exists = False
    if not exists:
        raise Http404("No such object in the record.")
    return ledger_for_object(object_type=object_type, object_id=object_id)


def ledger_entries_naming_cases(
    entries: QuerySet[LedgerEntry], *, readable: Collection[str], audited: Collection[str]
) -> QuerySet[LedgerEntry]:
    """`entries` less those naming a case (`details.case`) the reader may not see.

    The record's objects are shared by every case, but what a case did with them (linked
    an account, cited a file, downloaded it) is the case's: an entry naming a case is kept
    for the members of that case (`readable`), and one of its access audit (a view, a
    download) only for those who may read that audit (`audited`). Entries naming no case
    are the record's and stay.
    """
    of_record = Q(details__case__isnull=True) | Q(details__case=None)
    acts = Q(details__case__in=list(readable)) & ~Q(action__in=ACCESS_ACTIONS)
    audit = Q(details__case__in=list(audited))
    return entries.filter(of_record | acts | audit)


def verification_status(*, user) -> dict | None:
    """The latest verification run, as the banner shows it to every signed-in user.

    Its failures name records (a usage row, a file), so only record readers see them;
    everyone else sees whether the record verified and how many failures there were.
    """
    if not user.is_authenticated:
        return None
    run = verification_latest()
    if run is None:
        return None
    status = verification_as_dict(run)
    status["finished_at"] = run.finished_at.isoformat()
    if not record_reader(user):
        status["failures"] = None
    return status


def usage_record_revision() -> str:
    """What names the state of the usage log: the latest ingest batch and the latest
    retention purge. Usage rows are evidence, never edited: they change only when a file
    is ingested or retention purges, so a figure read from them may be cached under this."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT max(id) FROM evidence_ingestbatch), "
            "(SELECT max(id) FROM evidence_retentionpurge)"
        )
        return ":".join(str(part) for part in cursor.fetchone())


def cluster_volume(*, clusters) -> dict[int, tuple[int, int]]:
    """Requests and output tokens of each cluster's members, in one aggregate query,
    cached until the usage log changes (a run's clusters never change their members):
    the aggregate reads every request of the page's members, a large share of the log."""
    cluster_ids = sorted(c.pk for c in clusters)
    if not cluster_ids:
        return {}
    inputs = f"{','.join(map(str, cluster_ids))}:{usage_record_revision()}"
    key = "cluster-volume:" + hashlib.sha256(inputs.encode()).hexdigest()
    return cache.get_or_set(key, lambda: _cluster_volume_compute(cluster_ids), timeout=24 * 3600)


def _cluster_volume_compute(cluster_ids: list[int]) -> dict[int, tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.cluster_id, count(u.id), coalesce(sum(u.output_tokens), 0) "
            "FROM evidence_clustermember m "
            "JOIN evidence_account a ON a.id = m.account_id "
            "JOIN evidence_usageevent u ON u.account_id = a.account_id "
            "WHERE m.cluster_id = ANY(%s) GROUP BY m.cluster_id",
            [cluster_ids],
        )
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


CLUSTER_PAGE_ROWS = 50


def cluster_page(*, cluster: Cluster, links_page: object = 1, members_page: object = 1) -> dict:
    """A cluster with its accounts, the links between them, their signals and a chart.

    Links and accounts come a page at a time (a critical cluster may hold hundreds of
    links); a page number out of range or not a number shows the nearest page. The counts
    by signal and by link kind cover the whole cluster, so the summary names every signal
    and kind its tables list.
    """
    members = list(cluster.members.order_by("account_id"))
    links = cluster_links(cluster=cluster)
    findings = (
        Finding.objects.filter(
            run=cluster.run, account__in=cluster.memberships.values("account_id"), fired=True
        )
        .select_related("account")
        .order_by("detector", "account__account_id")
    )
    by_signal: dict[str, list] = {}
    for finding in findings:
        by_signal.setdefault(finding.detector, []).append(finding)
    daily = cache.get_or_set(
        f"cluster-daily:{cluster.pk}:{usage_record_revision()}",
        lambda: _cluster_daily(cluster),
        timeout=24 * 3600,
    )
    links_by_kind = links.order_by().values_list("kind").annotate(n=Count("id"))
    links_pages = _links_page(links, links_page)
    return {
        "cluster": cluster,
        "members": Paginator(members, CLUSTER_PAGE_ROWS).get_page(members_page),
        "members_total": len(members),
        "links": links_pages,
        "links_total": links_pages.paginator.count,
        "links_by_kind": sorted(links_by_kind, key=lambda pair: (-pair[1], pair[0])),
        "signals": sorted(by_signal.items(), key=lambda pair: (-len(pair[1]), pair[0])),
        "daily": daily,
    }


def _cluster_daily(cluster: Cluster) -> list[dict]:
    """Requests and output tokens of the cluster's members a day, for its chart (cached by
    `cluster_page` until the usage log changes: a run's clusters keep their members).

    The members as a subquery, not a list of hundreds of ids: PostgreSQL then reads each
    member's rows through usage_account_ts instead of scanning the whole usage log."""
    return list(
        UsageEvent.objects.filter(account_id__in=cluster.members.values("account_id"))
        .annotate(day=TruncDate("ts", tzinfo=dt.UTC))
        .values("day")
        .annotate(requests=Count("id"), output_tokens=Sum("output_tokens"))
        .order_by("day")
    )


def _links_page(links: QuerySet[Link], number: object):
    """One page of ``links`` in their order, sorting only the ids and sort keys: sorting
    every link of a large cluster with its evidence and explanation spills to disk, and
    the page shows fifty of them."""
    page = Paginator(links.values_list("pk", flat=True), CLUSTER_PAGE_ROWS).get_page(number)
    ids = list(page.object_list)
    rows = Link.objects.filter(pk__in=ids).select_related("account_a", "account_b").in_bulk()
    page.object_list = [rows[pk] for pk in ids]
    return page


def cluster_canaries(*, cluster: Cluster, members: list[Account]) -> dict:
    """The canaries planned for the cluster's accounts, how often they went out to them, and
    the probe responses that gave one back (each naming the members it ties to the target)."""
    member_ids = {a.account_id for a in members}
    matches = []
    for match in CanaryMatch.objects.select_related("canary", "exchange").order_by(
        "canary__canary_id", "exchange__probe_id"
    ):
        tied = sorted(member_ids.intersection(match.accounts))
        if tied:
            matches.append(
                {
                    "pk": match.pk,
                    "canary_id": match.canary.canary_id,
                    "probe_id": match.exchange.probe_id,
                    "target": match.exchange.target,
                    "accounts": tied,
                    "chance": match.chance,
                }
            )
    return {
        "planned": CanaryAssignment.objects.filter(account__in=members)
        .values("canary")
        .distinct()
        .count(),
        "serves": CanaryServe.objects.filter(account__in=members).count(),
        "matches": matches,
        "targets": sorted({m["target"] for m in matches}),
    }


def clusters_new_since(*, user, since: dt.datetime | None) -> list[Cluster]:
    """Critical and high clusters of the latest run found after `since` (all on a first visit)."""
    clusters = cluster_list(user=user).filter(band__in=["critical", "high"])
    if since is not None:
        clusters = clusters.filter(created_at__gt=since)
    return list(clusters[:20])
