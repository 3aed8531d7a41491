"""A case's timeline: everything that happened to it and to its accounts, in one order.

Counsel argue in time ("the account accepted the Terms on 2 November, ran its first
request an hour later, was detected in January, suspended in February, and did not cure
within the seven days the notice gave"), so the timeline merges the record (sign-ups,
assent, first and last requests, detections) with the case's own acts (attributions,
allegations, holds, reports, productions, enforcement actions, notices) and the ledger's
(holds, downloads). Deadlines a notice set are events still to come.

Reads follow the case's access rules: the case through `case_get` (404 for anyone not on
it), reports and productions in the editions the user may see, downloads only for those
who read the access audit, and countermeasures only for the provider's own team, as on
the case page. Every source is one query whatever the number of accounts: first and last
requests are found per account by the usage index inside one SQL statement.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import hashlib
import heapq
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from casework.countermeasures.models import Notice
from casework.models import Case, CaseAccount
from casework.permissions import WORK_PRODUCT, case_can
from casework.reports.formulas import cell_neutralise
from casework.selectors import (
    case_checked,
    case_ledger_entries,
    case_productions,
    case_report_jobs,
)
from evidence.custody.canonical import utc_iso
from evidence.custody.export_events import case_timeline_exported
from evidence.custody.ledger import Actor
from evidence.detectors import REGISTRY
from evidence.models import (
    AssentRecord,
    Band,
    ClusterMember,
    DetectionRun,
    Finding,
    LedgerEntry,
)

TIMELINE_PAGE_ROWS = 100

# Every kind of event, its words, and the group a reader can narrow the timeline to.
KINDS: dict[str, tuple[str, str]] = {
    "case_opened": ("Case opened", "case"),
    "signup": ("Sign-up", "accounts"),
    "assent": ("Assent to Terms", "accounts"),
    "first_request": ("First request", "accounts"),
    "last_request": ("Last request", "accounts"),
    "detection": ("Detection", "detection"),
    "attribution": ("Accounts attributed", "case"),
    "further_basis": ("Further basis of attribution", "case"),
    "allegation": ("Allegation", "case"),
    "hold_placed": ("Legal hold placed", "case"),
    "hold_released": ("Legal hold released", "case"),
    "report_requested": ("Report requested", "reports"),
    "report_built": ("Report built", "reports"),
    "report_failed": ("Report failed", "reports"),
    "download": ("Downloaded", "reports"),
    "production_requested": ("Production requested", "reports"),
    "production_built": ("Production built", "reports"),
    "production_failed": ("Production failed", "reports"),
    "action_proposed": ("Enforcement action proposed", "countermeasures"),
    "action_approved": ("Enforcement action approved", "countermeasures"),
    "action_effective": ("Enforcement action takes effect", "countermeasures"),
    "action_sent": ("Enforcement action sent to the platform", "countermeasures"),
    "action_confirmed": ("Enforcement action confirmed by the platform", "countermeasures"),
    "action_reversed": ("Enforcement action reversed", "countermeasures"),
    "notice_issued": ("Notice issued", "countermeasures"),
    "notice_sent": ("Notice sent", "countermeasures"),
    "cure_deadline": ("Cure period ends", "countermeasures"),
    "response_deadline": ("Response due", "countermeasures"),
}
# Events at the same instant read in this order (a sign-up before its first request).
KIND_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
GROUPS: dict[str, str] = {
    "accounts": "Accounts (sign-up, assent, first and last request)",
    "detection": "Detection",
    "case": "Case (attribution, allegations, holds)",
    "reports": "Reports, productions and downloads",
    "countermeasures": "Enforcement actions and notices",
}
SOURCE_RECORD = "record"
SOURCE_LEDGER = "ledger"
CSV_COLUMNS = ("when_utc", "event", "subject", "detail", "actor", "source", "upcoming")


class TimelineError(ValueError):
    """A timeline request that cannot be met; `field` names the parameter at fault."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class TimelineEvent:
    at: dt.datetime
    kind: str
    subject: str
    detail: str = ""
    actor: str = ""
    source: str = SOURCE_RECORD
    # Set when the subject is one of the case's accounts, so a page can link to it.
    account_id: str = ""

    @property
    def label(self) -> str:
        return KINDS[self.kind][0]

    @property
    def group(self) -> str:
        return KINDS[self.kind][1]


class TimelineEvents(Sequence):
    """The timeline's events in order, merged on demand from the accounts' events (kept as
    sorted tuples: 20,000 of them for a 5,000-account case) and the case's own (a few
    hundred), so a page of 100 builds 100 events, not all of them."""

    def __init__(self, account_rows: list[tuple], case_events: list[TimelineEvent]):
        self._rows = account_rows
        self._case = sorted(case_events, key=_sort_key)

    def __len__(self) -> int:
        return len(self._rows) + len(self._case)

    def __iter__(self) -> Iterator[TimelineEvent]:
        return self._merged()

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return list(itertools.islice(self._merged(), start, stop, step))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("timeline index out of range")
        return next(itertools.islice(self._merged(), index, None))

    def after(self, moment: dt.datetime) -> list[TimelineEvent]:
        """The events later than `moment` (the account rows are sorted: a bisection)."""
        rows = self._rows[bisect.bisect_right(self._rows, (moment, len(KINDS))) :]
        later = [e for e in self._case if e.at > moment]
        return list(heapq.merge(map(_account_event, rows), later, key=_sort_key))

    def _merged(self) -> Iterator[TimelineEvent]:
        return heapq.merge(map(_account_event, self._rows), self._case, key=_sort_key)


@dataclass(frozen=True)
class Timeline:
    case: Case
    events: TimelineEvents
    now: dt.datetime
    groups: frozenset[str]

    @property
    def upcoming(self) -> list[TimelineEvent]:
        return self.events.after(self.now)


def _sort_key(event: TimelineEvent) -> tuple:
    return (event.at, KIND_RANK[event.kind], event.subject)


def timeline_groups(value: str | list[str] | None) -> frozenset[str]:
    """The groups a request names (all when none), or TimelineError naming the parameter."""
    names = [value] if isinstance(value, str) else list(value or [])
    names = [name for name in names if name]
    unknown = sorted(set(names) - set(GROUPS))
    if unknown:
        raise TimelineError(
            f"unknown event group {', '.join(map(repr, unknown))}: use {', '.join(GROUPS)}",
            field="group",
        )
    return frozenset(names) or frozenset(GROUPS)


def case_timeline(
    *, user, case: Case, groups: frozenset[str] = frozenset(GROUPS), now: dt.datetime | None = None
) -> Timeline:
    """The case's events the user may see, oldest first (deadlines still to come last).

    A bounded number of queries: one per source, whatever the number of accounts.
    """
    case = case_checked(user=user, case=case)
    now = now or timezone.now()
    found: list[TimelineEvent] = []
    # The case's ledger as this user may read it (the access audit only for its readers).
    ledger = case_ledger_entries(user=user, case=case)
    if "case" in groups:
        found.append(
            TimelineEvent(
                at=case.opened_at,
                kind="case_opened",
                subject=case.reference,
                detail=f"{case.title} (respondent {case.respondent})",
                actor=case.opened_by.get_username(),
            )
        )
        found += _attributions(ledger=ledger)
        found += _allegations(case=case)
        found += _holds(ledger=ledger, case=case)
    rows = _account_rows(case=case) if "accounts" in groups else []
    if "detection" in groups:
        found += _detections(case=case)
    if "reports" in groups:
        found += _reports(user=user, case=case)
        found += _downloads(ledger=ledger)
    if "countermeasures" in groups and case_can(user, case, WORK_PRODUCT):
        # The provider's own team only, as the case page shows them.
        found += _enforcement_actions(case=case, now=now)
        found += _notices(case=case)
    return Timeline(case=case, events=TimelineEvents(rows, found), now=now, groups=groups)


# --- the record ---------------------------------------------------------------------------


def _account_rows(*, case: Case) -> list[tuple]:
    """`_account_rows_compute`, cached until one of its inputs changes (as the case page's
    damages are): the rows change only when accounts are attributed, a file is ingested or
    retention purges, and the cache key names all of those, so a stale row is never shown."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM casework_caseaccount WHERE case_id = %(case)s), "
            "(SELECT max(id) FROM casework_caseaccount WHERE case_id = %(case)s), "
            "(SELECT max(id) FROM evidence_ingestbatch), "
            "(SELECT max(id) FROM evidence_retentionpurge)",
            {"case": case.pk},
        )
        inputs = ":".join(str(part) for part in (case.pk, *cursor.fetchone()))
    key = "case-timeline-accounts:" + hashlib.sha256(inputs.encode()).hexdigest()
    return cache.get_or_set(key, lambda: _account_rows_compute(case=case), timeout=24 * 3600)


def _account_rows_compute(*, case: Case) -> list[tuple]:
    """Each attributed account's sign-up, first and last request, and its assents, as
    sorted `(at, rank, account id, kind, detail)` tuples, from two statements. The first
    and last usage rows are read from the (account, ts) index, so the cost grows with the
    accounts, not with their millions of requests. Times come as text and are parsed by
    `fromisoformat` (a tenth of the driver's cost per value, which counts at 20,000)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.account_id, a.created_at::text, f.ts::text, f.request_id, l.ts::text, "
            "l.request_id "
            "FROM casework_caseaccount ca JOIN evidence_account a ON a.id = ca.account_id "
            "LEFT JOIN LATERAL (SELECT u.ts, u.request_id FROM evidence_usageevent u "
            "  WHERE u.account_id = a.account_id ORDER BY u.ts, u.id LIMIT 1) f ON true "
            "LEFT JOIN LATERAL (SELECT u.ts, u.request_id FROM evidence_usageevent u "
            "  WHERE u.account_id = a.account_id ORDER BY u.ts DESC, u.id DESC LIMIT 1) l ON true "
            "WHERE ca.case_id = %s",
            [case.pk],
        )
        activity = cursor.fetchall()
        cursor.execute(
            "SELECT a.account_id, r.accepted_at::text, r.terms_slug, r.version_label, r.method "
            "FROM casework_caseaccount ca JOIN evidence_account a ON a.id = ca.account_id "
            "JOIN evidence_assentrecord r ON r.account_id = a.id WHERE ca.case_id = %s",
            [case.pk],
        )
        assents = cursor.fetchall()
    rows = []
    for account_id, signed_up, first_at, first_id, last_at, last_id in activity:
        if signed_up is not None:
            rows.append(_account_row(signed_up, "signup", account_id, "account created"))
        if first_at is not None:
            rows.append(_account_row(first_at, "first_request", account_id, first_id))
            if last_id != first_id:
                rows.append(_account_row(last_at, "last_request", account_id, last_id))
    methods = dict(AssentRecord.Method.choices)
    rows += [
        _account_row(at, "assent", account_id, f"{slug} {label} ({methods.get(method, method)})")
        for account_id, at, slug, label, method in assents
    ]
    rows.sort()
    return rows


def _account_row(at: str, kind: str, account_id: str, detail: str) -> tuple:
    return (_utc(at), KIND_RANK[kind], account_id, kind, detail)


def _utc(text: str | None) -> dt.datetime | None:
    """A time as PostgreSQL writes it in the session's zone (UTC, as Django sets it)."""
    return dt.datetime.fromisoformat(text) if text else None


def _account_event(row: tuple) -> TimelineEvent:
    at, _, account_id, kind, detail = row
    return TimelineEvent(at=at, kind=kind, subject=account_id, detail=detail, account_id=account_id)


def _event(at, kind: str, subject: str, detail: str) -> TimelineEvent:
    return TimelineEvent(at=at, kind=kind, subject=subject, detail=detail)


def _detections(*, case: Case) -> list[TimelineEvent]:
    """One event per detection run that found something on the case's accounts: which
    signals fired on how many of them, and the clusters they were grouped in."""
    members = case.case_accounts.values("account_id")
    fired = (
        Finding.objects.filter(account_id__in=members, fired=True)
        .values_list("run_id", "detector")
        .annotate(n=Count("account_id", distinct=True))
    )
    clusters = (
        ClusterMember.objects.filter(account_id__in=members)
        .values_list("cluster__run_id", "cluster__identity", "cluster__band", "cluster__size")
        .annotate(n=Count("id"))
    )
    signals_by_run: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for run_id, detector, n in fired:
        name = REGISTRY[detector].name if detector in REGISTRY else detector
        signals_by_run[run_id].append((n, name))
    clusters_by_run: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for run_id, identity, band, size, n in clusters:
        clusters_by_run[run_id].append(
            (
                n,
                f"cluster {identity} ({Band(band).label}, {_count(size, 'account')}; "
                f"{n} of the case's)",
            )
        )
    run_ids = set(signals_by_run) | set(clusters_by_run)
    runs = DetectionRun.objects.filter(pk__in=run_ids, status=DetectionRun.Status.FINISHED)
    found = []
    for run in runs.only("pk", "finished_at", "actor"):
        parts = []
        if signals_by_run[run.pk]:
            fired_on = sorted(signals_by_run[run.pk], key=lambda p: (-p[0], p[1]))
            named = ", ".join(f"{name} on {_count(n, 'account')}" for n, name in fired_on)
            parts.append(f"signals fired: {named}")
        if clusters_by_run[run.pk]:
            grouped = sorted(clusters_by_run[run.pk], key=lambda p: (-p[0], p[1]))
            more = len(grouped) - 5
            parts.append(
                "grouped in "
                + "; ".join(text for _, text in grouped[:5])
                + (f"; and {_count(more, 'other cluster')}" if more > 0 else "")
            )
        found.append(
            TimelineEvent(
                at=run.finished_at,
                kind="detection",
                subject=f"detection run {run.pk}",
                detail="; ".join(parts),
                actor=run.actor,
            )
        )
    return found


# --- the case -------------------------------------------------------------------------------


def _attributions(*, ledger) -> list[TimelineEvent]:
    """One event per act of attribution: the ledger writes one entry per account, all at
    the same instant, so an act of 5,000 accounts is one line of the timeline. A further
    basis given for accounts already attributed is an act of its own (a later reason to
    attribute them is evidence too, and when it came matters), shown as such."""
    entries = (
        ledger.filter(
            Q(action=LedgerEntry.Action.LINKED)
            | Q(action=LedgerEntry.Action.CHANGED, details__has_key="basis_added"),
            object_type="account",
        )
        .order_by()
        .values_list(
            "recorded_at", "actor", "action", KT("details__basis"), KT("details__basis_added")
        )
        .annotate(n=Count("id"), first=Min("object_id"), last=Max("object_id"))
    )
    bases = dict(CaseAccount.Basis.choices)
    found = []
    for at, actor, action, basis, added, n, first, last in entries:
        named = first if n == 1 else f"{first} … {last}"
        further = action == LedgerEntry.Action.CHANGED
        basis = added if further else basis
        found.append(
            TimelineEvent(
                at=at,
                kind="further_basis" if further else "attribution",
                subject=_count(n, "account"),
                detail=f"{named}; {'further basis' if further else 'basis'}: "
                f"{bases.get(basis, basis)}",
                actor=actor,
                source=SOURCE_LEDGER,
                account_id=first if n == 1 else "",
            )
        )
    return found


def _allegations(*, case: Case) -> list[TimelineEvent]:
    allegations = case.allegations.select_related("clause__version__document", "created_by")
    return [
        TimelineEvent(
            at=a.created_at,
            kind="allegation",
            subject=f"§{a.clause.path} ({a.clause.get_category_display()})",
            detail=f"{a.clause.version}: {_excerpt(a.theory)}",
            actor=a.created_by.get_username(),
        )
        for a in allegations
    ]


def _holds(*, ledger, case: Case) -> list[TimelineEvent]:
    entries = ledger.filter(
        object_type="case",
        object_id=case.reference,
        action__in=[LedgerEntry.Action.HELD, LedgerEntry.Action.RELEASED],
    )
    found = []
    for entry in entries.only("recorded_at", "actor", "action", "details"):
        if entry.action == LedgerEntry.Action.HELD:
            details = entry.details
            detail = (
                f"preserves the usage of {_count(details.get('accounts', 0), 'account')} "
                f"({_count(details.get('usage_events', 0), 'request')}) and "
                f"{_count(len(details.get('evidence_files', [])), 'file')}"
            )
            kind = "hold_placed"
        else:
            detail = f"{_count(entry.details.get('holds_released', 0), 'hold')} released"
            kind = "hold_released"
        found.append(
            TimelineEvent(
                at=entry.recorded_at,
                kind=kind,
                subject=case.reference,
                detail=detail,
                actor=entry.actor,
                source=SOURCE_LEDGER,
            )
        )
    return found


def _reports(*, user, case: Case) -> list[TimelineEvent]:
    found = []
    for job in case_report_jobs(user=user, case=case):
        built = f"{job.pdf.file_name}, SHA-256 {job.pdf.sha256}" if job.pdf else ""
        found += _job_events(job, "report", f"snapshot {job.snapshot_sha256[:12]}", built)
    for job in case_productions(user=user, case=case):
        asked = f"{job.get_page_size_display()}, files up to {job.max_file_mb} MB"
        built = f"{job.zip_name}, manifest SHA-256 {job.manifest_sha256}"
        found += _job_events(job, "production", asked, built)
    return found


def _job_events(job, noun: str, requested: str, built: str) -> list[TimelineEvent]:
    """A report or production job: asked for, then built or failed."""
    subject = f"{noun} {job.pk} ({job.get_edition_display()} edition)"
    found = [
        TimelineEvent(
            at=job.requested_at,
            kind=f"{noun}_requested",
            subject=subject,
            detail=requested,
            actor=job.requested_by.get_username(),
        )
    ]
    if job.finished_at and job.status == job.Status.DONE:
        found.append(_event(job.finished_at, f"{noun}_built", subject, built))
    elif job.finished_at and job.status == job.Status.FAILED:
        found.append(
            _event(job.finished_at, f"{noun}_failed", subject, _excerpt(job.failure_reason))
        )
    return found


def _downloads(*, ledger) -> list[TimelineEvent]:
    """Files taken out of the case: the access audit, so only for those who may read it
    (`case_ledger_entries` leaves downloads out for everyone else)."""
    entries = ledger.filter(action=LedgerEntry.Action.EXPORTED)
    return [
        TimelineEvent(
            at=entry.recorded_at,
            kind="download",
            subject=entry.details.get("file_name") or f"{entry.object_type} {entry.object_id}",
            detail=f"{entry.object_type.replace('_', ' ')} {entry.object_id}",
            actor=entry.actor,
            source=SOURCE_LEDGER,
        )
        for entry in entries.only("recorded_at", "actor", "object_type", "object_id", "details")
    ]


def _enforcement_actions(*, case: Case, now: dt.datetime) -> list[TimelineEvent]:
    actions = case.enforcement_actions.select_related("clause").order_by("proposed_at", "pk")
    found = []
    for action in actions:
        subject = f"{action.get_kind_display()} (action {action.pk})"
        steps = [
            ("action_proposed", action.proposed_at, action.proposed_by_label,
             f"on §{action.clause.path}: {_excerpt(action.reason)}"),
            ("action_approved", action.approved_at, action.approved_by_label, ""),
            ("action_sent", action.sent_at, "", action.sent_via and f"via {action.sent_via}"),
            ("action_confirmed", action.confirmed_at, "", action.platform_reference),
            ("action_reversed", action.reversed_at, action.reversed_by_label,
             _excerpt(action.reversal_reason)),
        ]  # fmt: skip
        # An action reversed before it took effect never did.
        if action.reversed_at is None or action.effective_at < action.reversed_at:
            planned = action.effective_at > now
            state = f"planned; now {action.get_state_display().lower()}" if planned else ""
            steps.append(("action_effective", action.effective_at, "", state))
        found += [
            TimelineEvent(at=at, kind=kind, subject=subject, detail=detail, actor=actor)
            for kind, at, actor, detail in steps
            if at is not None
        ]
    return found


def _notices(*, case: Case) -> list[TimelineEvent]:
    """Each notice issued and sent, and the deadline it set: a deadline runs only once the
    letter has left, so an unsent notice sets none on the timeline."""
    found = []
    for notice in case.notices.select_related("case").order_by("issued_at", "pk"):
        subject = f"{notice.get_kind_display()} {notice.reference}"
        cure = f"; cure period {_count(notice.cure_days, 'day')}" if notice.cure_days else ""
        found.append(
            TimelineEvent(
                at=notice.issued_at,
                kind="notice_issued",
                subject=subject,
                detail=f"to {notice.recipient}{cure}",
                actor=notice.issued_by_label,
            )
        )
        if notice.delivery != Notice.Delivery.SENT:
            continue
        found.append(_event(notice.delivered_at, "notice_sent", subject, f"to {notice.recipient}"))
        if notice.deadline_at:
            kind = "cure_deadline" if notice.deadline_kind == "cure" else "response_deadline"
            detail = f"set by the notice sent {notice.delivered_at:%Y-%m-%d %H:%M} UTC{cure}"
            found.append(_event(notice.deadline_at, kind, subject, detail))
    return found


# --- the CSV export -------------------------------------------------------------------------


def timeline_csv(timeline: Timeline) -> bytes:
    """The timeline as CSV, UTF-8. A cell from the record that a spreadsheet would run as a
    formula (=, +, -, @ first) is written with a leading quote, as the report's exhibits
    are (`casework.reports.formulas`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in timeline.events:
        row = [
            utc_iso(event.at),
            event.label,
            event.subject,
            event.detail,
            event.actor,
            event.source,
            "yes" if event.at > timeline.now else "no",
        ]
        writer.writerow([cell_neutralise(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")


def case_timeline_export(
    *, actor: Actor, case: Case, groups: frozenset[str] = frozenset(GROUPS)
) -> tuple[str, bytes]:
    """The timeline the actor may see as a CSV download (file name and bytes), ledgered as
    an export from the case with the file's SHA-256, so a copy handed over can be matched
    to the record of who took it and when."""
    timeline = case_timeline(user=actor, case=case, groups=groups)
    data = timeline_csv(timeline)
    # A reference made by a command is not held to the form's pattern: the file name is.
    reference = re.sub(r"[^A-Za-z0-9._-]", "_", timeline.case.reference)
    file_name = f"{reference}-timeline-{timeline.now:%Y%m%dT%H%M%SZ}.csv"
    with transaction.atomic():
        case_timeline_exported(
            actor=actor,
            case=timeline.case,
            file_name=file_name,
            sha256=hashlib.sha256(data).hexdigest(),
            rows=len(timeline.events),
            groups=sorted(groups),
        )
    return file_name, data


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
