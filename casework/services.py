"""Writes on the case side. Each act that matters to custody writes its ledger entry in the
same transaction as the change (Zulip's do_* actions, with the ledger as the audit log)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from casework.models import (
    Allegation,
    Case,
    CaseAccount,
    CaseAccountBasis,
    CaseMembership,
    CaseNote,
    CaseOutputEvidence,
    CaseRole,
    HomeVisit,
)
from casework.permissions import (
    ALLEGE,
    MANAGE,
    MEMBERS,
    NOTE,
    case_can,
    case_require,
    case_roles_allowed,
)
from casework.selectors import case_clauses_allegeable, evidence_items_citable
from evidence.access import record_reader, user_roles
from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label, is_system_actor
from evidence.custody.preservation import holds_place, holds_release, usage_held_count
from evidence.models import Account, CanaryMatch, Clause, EvidenceItem, IngestBatch, ProbeExchange

CASE_OPENERS = frozenset({"admin", "counsel", "investigator"})


class CaseError(ValueError):
    """A case action that cannot be done as asked; the message says why, and `field` names
    the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _require(actor, case: Case, ability: str) -> None:
    """People act within their case role; only the named system processes (`SystemActor`:
    commands, tasks, the demo) act without one. Any other string is no one, and refused."""
    if is_system_actor(actor):
        return
    if not hasattr(actor, "is_authenticated"):
        raise PermissionDenied(f"{actor!r} is neither a user nor a named system process")
    case_require(actor, case, ability)


def may_open_cases(user) -> bool:
    return user.is_superuser or bool(user_roles(user) & CASE_OPENERS)


def may_attach_output_evidence(user, case: Case) -> bool:
    """Who `case_output_evidence_attach` lets attach the record's transcripts to `case`."""
    return case_can(user, case, NOTE) and record_reader(user)


def case_open(
    *,
    actor,
    reference: str,
    title: str,
    respondent: str,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    privileged: bool = True,
) -> Case:
    """Open a case; the user who opens it owns it (and so sees its audit)."""
    if not may_open_cases(actor):
        raise PermissionDenied("only admins, counsel and investigators open cases")
    if Case.objects.filter(reference=reference).exists():
        raise CaseError(f"a case with reference {reference!r} already exists")
    with transaction.atomic():
        case = Case.objects.create(
            reference=reference,
            title=title,
            respondent=respondent,
            window_start=window_start,
            window_end=window_end,
            privileged=privileged,
            opened_by=actor,
        )
        CaseMembership.objects.create(case=case, user=actor, role=CaseRole.OWNER)
        events.case_opened(actor=actor, case=case)
    return case


def case_member_add(*, actor, case: Case, user, role: str) -> CaseMembership:
    """Give `user` a role on the case, or change theirs: the owner's act (MEMBERS).

    The role is capped by the user's global role (a viewer or a regulator's reviewer is
    never owner or counsel), and the case always keeps an owner: ownership passes by making
    another member owner first.
    """
    if role not in CaseRole.values:
        raise CaseError(f"unknown case role {role!r}", field="role")
    _require(actor, case, MEMBERS)
    username = user.get_username()
    allowed = case_roles_allowed(user)
    if role not in allowed:
        shown = ", ".join(r for r in CaseRole.values if r in allowed)
        raise CaseError(
            f"{username}'s global role does not allow the case role {role!r}: they may be {shown}",
            field="role",
        )
    with transaction.atomic():
        # Locked so that two owners stepping down at once cannot leave the case with none.
        case = Case.objects.select_for_update().get(pk=case.pk)
        owners = set(case.memberships.filter(role=CaseRole.OWNER).values_list("user_id", flat=True))
        if role != CaseRole.OWNER and owners == {user.pk}:
            raise CaseError(
                f"{username} is the only owner of case {case.reference}: make another "
                "member owner before changing their role",
                field="role",
            )
        membership, _ = CaseMembership.objects.update_or_create(
            case=case, user=user, defaults={"role": role}
        )
        events.case_member_set(actor=actor, case=case, member=user, role=role)
    # A role cached on this request's user object must not outlive the change.
    for person in (actor, user):
        getattr(person, "_pacta_case_roles", {}).pop(case.pk, None)
    return membership


@dataclass(frozen=True)
class Attribution:
    """What one attribution did: accounts newly attributed, accounts already attributed
    that now also rest on this basis, and accounts that already had it."""

    added: int
    basis_added: int
    unchanged: int
    # Every account that gained a basis had one before: the new one is each one's second.
    second: bool = True


def case_accounts_attribute(
    *, actor, case: Case, accounts: Iterable[Account], basis: str, detail: str = ""
) -> Attribution:
    """Attribute accounts to the respondent, with the basis; held too if the case is on hold.

    An account already attributed keeps its first basis and gains this one beside it
    (unless it already rests on the same basis and detail): a second reason to attribute
    an account is evidence too, never dropped. Each link and each further basis is written
    to the ledger under the account, so its custody history shows every case it was
    linked to and why.
    """
    if basis not in CaseAccount.Basis.values:
        raise CaseError(f"unknown attribution basis {basis!r}")
    _require(actor, case, NOTE)
    accounts = list({a.pk: a for a in accounts}.values())
    with transaction.atomic():
        existing = {
            link.account_id: link
            for link in case.case_accounts.filter(
                account__in=[a.pk for a in accounts]
            ).prefetch_related("further_bases")
        }
        new = [a for a in accounts if a.pk not in existing]
        CaseAccount.objects.bulk_create(
            [
                CaseAccount(
                    case=case, account=a, basis=basis, basis_detail=detail, attributed_by=actor
                )
                for a in new
            ]
        )
        events.accounts_linked(actor=actor, case=case, accounts=new, basis=basis)
        further = [
            a
            for a in accounts
            if a.pk in existing and (basis, detail) not in _bases_of(existing[a.pk])
        ]
        CaseAccountBasis.objects.bulk_create(
            [
                CaseAccountBasis(
                    case_account=existing[a.pk],
                    basis=basis,
                    basis_detail=detail,
                    attributed_by=actor,
                )
                for a in further
            ]
        )
        events.accounts_basis_added(actor=actor, case=case, accounts=further, basis=basis)
        if case.legal_hold and new:
            holds_place(
                actor=actor,
                reference=case.reference,
                accounts=new,
                window_start=case.window_start,
                window_end=case.window_end,
                evidence_items=[],
            )
    return Attribution(
        added=len(new),
        basis_added=len(further),
        unchanged=len(accounts) - len(new) - len(further),
        second=all(len(_bases_of(existing[a.pk])) == 1 for a in further),
    )


def _bases_of(link: CaseAccount) -> set[tuple[str, str]]:
    return {(link.basis, link.basis_detail)} | {
        (b.basis, b.basis_detail) for b in link.further_bases.all()
    }


def _case_files(case: Case) -> list[EvidenceItem]:
    """Every evidence file the case relies on: report PDFs and allegations' supporting files."""
    ids = set(case.report_jobs.exclude(pdf=None).values_list("pdf_id", flat=True))
    for allegation in case.allegations.prefetch_related("supporting_evidence"):
        ids |= {item.pk for item in allegation.supporting_evidence.all()}
    return list(EvidenceItem.objects.filter(pk__in=ids))


DECLARANT_FIELDS = ("name", "title", "organisation", "place")


def case_declarant_set(*, actor: Actor, case: Case, **declarant: str) -> Case:
    """Name the custodian who declares the case's final reports: name, title, organisation
    and place, all four, or all blank to leave it to the settings (owner and counsel:
    MANAGE). Ledgered; the final reports built from then on print it."""
    _require(actor, case, MANAGE)
    unknown = set(declarant) - set(DECLARANT_FIELDS)
    if unknown:
        raise CaseError(f"unknown declarant field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    values = {field: (declarant.get(field) or "").strip() for field in DECLARANT_FIELDS}
    for field, value in values.items():
        if len(value) > 200:
            raise CaseError(f"the declarant's {field} is longer than 200 characters", field=field)
    blank = [field for field, value in values.items() if not value]
    if blank and len(blank) < len(DECLARANT_FIELDS):
        raise CaseError(
            f"the declarant's {blank[0]} is missing: name all four (name, title, organisation, "
            "place), or none to use the settings",
            field=blank[0],
        )
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        for field, value in values.items():
            setattr(case, f"declarant_{field}", value)
        case.save(update_fields=[f"declarant_{field}" for field in DECLARANT_FIELDS])
        events.case_declarant_set(actor=actor, case=case, declarant=values)
    return case


def case_hold_place(*, actor: Actor, case: Case) -> Case:
    """Place the case on legal hold: its accounts' usage in the case window and its files
    are preserved from retention and deletion until the hold is released."""
    _require(actor, case, MANAGE)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.legal_hold:
            raise CaseError(f"case {case.reference} is already on legal hold")
        case.legal_hold = True
        case.legal_hold_since = timezone.now()
        case.save(update_fields=["legal_hold", "legal_hold_since"])
        accounts = list(Account.objects.filter(case_links__case=case))
        files = _case_files(case)
        placed = holds_place(
            actor=actor,
            reference=case.reference,
            accounts=accounts,
            window_start=case.window_start,
            window_end=case.window_end,
            evidence_items=files,
        )
        events.case_held(
            actor=actor,
            case=case,
            accounts=len(accounts),
            evidence_files=files,
            holds=placed,
            usage_events=usage_held_count(reference=case.reference),
        )
    return case


def case_hold_release(*, actor: Actor, case: Case) -> Case:
    _require(actor, case, MANAGE)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not case.legal_hold:
            raise CaseError(f"case {case.reference} is not on legal hold")
        released = holds_release(reference=case.reference)
        case.legal_hold = False
        case.legal_hold_since = None
        case.save(update_fields=["legal_hold", "legal_hold_since"])
        events.case_released(actor=actor, case=case, holds_released=released)
    return case


def case_open_from_cluster(
    *,
    actor,
    cluster,
    reference: str,
    title: str,
    respondent: str,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
) -> Case:
    """Open a case whose accounts are a detected cluster's members, attributed on that basis.

    The case window defaults to the detection run's window, the period the findings cover.
    The case records the cluster it came from: its identity names the same group in later
    runs, so the case page can say what became of it.
    """
    with transaction.atomic():
        case = case_open(
            actor=actor,
            reference=reference,
            title=title,
            respondent=respondent,
            window_start=window_start or cluster.run.window_start,
            window_end=window_end or cluster.run.window_end,
        )
        case.source_cluster = cluster
        case.save(update_fields=["source_cluster"])
        case_accounts_attribute(
            actor=actor,
            case=case,
            accounts=cluster.members.all(),
            basis=CaseAccount.Basis.CLUSTER,
            detail=(
                f"Detection run {cluster.run_id}, cluster {cluster.identity} "
                f"({cluster.band}, score {cluster.score:.0f}): {cluster.explanation}"
            )[:2000],
        )
    return case


def allegation_add(
    *,
    actor,
    case: Case,
    clause: Clause,
    theory: str,
    evidence_item_ids: Iterable[int] = (),
) -> Allegation:
    """State that conduct breaches a clause; the clause is quoted from the version recorded.

    The files cited in support are those the actor already reaches through this case (its
    own reports' files, files already cited in it, and the record's files for those who
    read the record): a citation must never become a way to reach another case's files,
    which every member of this one, a regulator's reviewer included, could then download.
    Each citation is ledgered under the file, so its custody history names the case.
    """
    _require(actor, case, ALLEGE)
    theory = theory.strip()
    if not theory:
        raise CaseError(
            "state the theory: what conduct breaches this clause, and how", field="theory"
        )
    if not clause.operative:
        version = clause.version
        raise CaseError(
            f"clause {version.document.slug} {version.label} §{clause.path} is "
            f"{clause.get_kind_display().lower()} text, not a term that conduct can breach: "
            "allege an operative clause",
            field="clause",
        )
    if not case_clauses_allegeable(case=case).filter(pk=clause.pk).exists():
        version = clause.version
        raise CaseError(
            f"clause {version.document.slug} {version.label} §{clause.path} (effective "
            f"{version.effective_date:%Y-%m-%d}) was not in force during the case: allege "
            "a clause of a version in force in the case window",
            field="clause",
        )
    wanted = sorted(set(evidence_item_ids))
    items = list(
        evidence_items_citable(user=actor, case=case).filter(pk__in=wanted).order_by("pk")
        if wanted
        else []
    )
    refused = sorted(set(wanted) - {item.pk for item in items})
    if refused:
        shown = ", ".join(str(pk) for pk in refused[:10]) + (" ..." if len(refused) > 10 else "")
        raise CaseError(
            f"evidence item{'s' if len(refused) > 1 else ''} {shown}: no such file in case "
            f"{case.reference} for you to cite. Cite the case's own report files, files "
            "already cited in it, or files of the record (such as ingest rejects)",
            field="evidence_items",
        )
    with transaction.atomic():
        allegation = Allegation.objects.create(
            case=case, clause=clause, theory=theory, created_by=actor
        )
        allegation.supporting_evidence.set(items)
        events.allegation_added(actor=actor, case=case, allegation=allegation)
        events.evidence_items_cited(actor=actor, case=case, allegation=allegation, items=items)
    return allegation


def _listed(values: Iterable) -> str:
    values = sorted(str(v) for v in values)
    return ", ".join(values[:10]) + (" ..." if len(values) > 10 else "")


def case_output_evidence_attach(
    *,
    actor,
    case: Case,
    probe_batches: Iterable[int] = (),
    claim_targets: Iterable[str] = (),
    canary_matches: Iterable[int] = (),
    names: Sequence[str] | None = None,
) -> list[CaseOutputEvidence]:
    """Attach evidence that the outputs were used: probe batches (by batch id), the identity
    claims of probed targets, and canary matches (by match id). Returns what is newly
    attached; what the case already holds is left as it is.

    A target's claims are counted in the case's probe batches, so its transcripts must be
    in one of them; they are counted with `names` (default PACTA_PROVIDER_NAMES), recorded
    with the attachment so the report counts them the same way later. Attaching puts the
    record's transcripts before every member of the case, so it is an act of someone who
    reads the record (as citing the record's files is).
    """
    _require(actor, case, NOTE)
    if not is_system_actor(actor) and not may_attach_output_evidence(actor, case):
        raise PermissionDenied("only readers of the record attach its transcripts to a case")
    batch_ids = sorted(set(probe_batches))
    found = set(
        IngestBatch.objects.filter(pk__in=batch_ids, kind=IngestBatch.Kind.PROBES).values_list(
            "pk", flat=True
        )
    )
    if missing := set(batch_ids) - found:
        raise CaseError(
            f"no probe batch {_listed(missing)}: attach batches of `ingest probes`",
            field="probe_batches",
        )
    kind = CaseOutputEvidence.Kind
    held = case.output_evidence.all()
    batches_after = set(batch_ids) | set(
        held.filter(kind=kind.PROBE_BATCH).values_list("batch_id", flat=True)
    )
    targets = sorted({t.strip() for t in claim_targets if t.strip()})
    names = sorted({n.strip() for n in (names or settings.PACTA_PROVIDER_NAMES) if n.strip()})
    if targets:
        probed = set(
            ProbeExchange.objects.filter(batch_id__in=batches_after, control=False)
            .values_list("target", flat=True)
            .distinct()
        )
        if missing := set(targets) - probed:
            raise CaseError(
                f"target {_listed(missing)}: no suspect transcript of it in the case's probe "
                "batches; attach the batch that holds its transcripts",
                field="claim_targets",
            )
        if not names:
            raise CaseError(
                "no provider names to count claims with: set PACTA_PROVIDER_NAMES or give names",
                field="names",
            )
    match_ids = sorted(set(canary_matches))
    matches = {m.pk: m for m in CanaryMatch.objects.filter(pk__in=match_ids)}
    if missing := set(match_ids) - set(matches):
        raise CaseError(f"no canary match {_listed(missing)}", field="canary_matches")
    label, _ = actor_label(actor)
    had_batches = set(held.filter(kind=kind.PROBE_BATCH).values_list("batch_id", flat=True))
    had_targets = set(held.filter(kind=kind.IDENTITY_CLAIMS).values_list("target", flat=True))
    had_matches = set(held.filter(kind=kind.CANARY_MATCH).values_list("canary_match_id", flat=True))
    new = [
        *(
            CaseOutputEvidence(case=case, kind=kind.PROBE_BATCH, batch_id=pk, actor=label)
            for pk in batch_ids
            if pk not in had_batches
        ),
        *(
            CaseOutputEvidence(
                case=case, kind=kind.IDENTITY_CLAIMS, target=t, names=names, actor=label
            )
            for t in targets
            if t not in had_targets
        ),
        *(
            CaseOutputEvidence(
                case=case, kind=kind.CANARY_MATCH, canary_match=matches[pk], actor=label
            )
            for pk in match_ids
            if pk not in had_matches
        ),
    ]
    with transaction.atomic():
        for item in new:
            item.save()
        events.output_evidence_attached(actor=actor, case=case, attached=new)
    return new


def note_add(*, actor, case: Case, text: str) -> CaseNote:
    _require(actor, case, NOTE)
    text = text.strip()
    if not text:
        raise CaseError("a note needs text")
    with transaction.atomic():
        note = CaseNote.objects.create(case=case, author=actor, text=text)
        events.note_added(actor=actor, case=case, note=note)
    return note


def home_visit(*, user) -> dt.datetime | None:
    """Record this visit to the home page; return when the previous one was (None: first)."""
    now = timezone.now()
    visit, created = HomeVisit.objects.get_or_create(user=user, defaults={"seen_at": now})
    if created:
        return None
    previous = visit.seen_at
    HomeVisit.objects.filter(pk=visit.pk).update(seen_at=now)
    return previous


# A read is recorded in a transaction of its own (durable: no caller can wrap it in one
# that rolls back), so the access audit names every view and download that happened, even
# when what the request did afterwards failed.


def case_viewed(*, actor, case: Case, page: str = "case") -> None:
    """Record that a user opened a case page (access audit: reads count, not just writes)."""
    with transaction.atomic(durable=True):
        events.case_viewed(actor=actor, case=case, page=page)


def evidence_item_exported(*, actor, item: EvidenceItem, case: Case | None) -> None:
    """Record a download of an evidence file, with the case it was downloaded from."""
    with transaction.atomic(durable=True):
        events.evidence_item_exported(
            actor=actor, item=item, case_reference=case.reference if case else None
        )
