"""Every kind of ledger event, named once with its payload: one function per act.

Services call these, never `ledger_append` with a bare action, so what an entry of each
kind records (its action, object and details) is written in one place and every reader
(custody history, access audit, reports) can rely on it. Each function appends inside the
caller's transaction: the entry commits or rolls back with the change it records.

Case-side objects (cases, allegations, notes, API tokens, report jobs) are passed as they
are and read by attribute; evidence never imports casework, so their types are not named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from evidence.custody.canonical import clauses_digest, content_sha256, utc_iso
from evidence.custody.countermeasure_events import (  # noqa: F401  (re-exported: events.<act>)
    accounts_seen_at_partner,
    enforcement_action_moved,
    enforcement_action_proposed,
    enforcement_actions_exported,
    enforcement_handoff_settled,
    indicators_exchanged,
    notice_deadline_reminded,
    notice_delivery_recorded,
    notice_issued,
    sharing_partner_added,
)
from evidence.custody.ledger import (
    Actor,
    LedgerVerification,
    SystemActor,
    actor_label,
    ledger_append,
    ledger_append_many,
)
from evidence.custody.production_events import (  # noqa: F401  (re-exported: events.<act>)
    production_built,
    production_exported,
    production_job_failed,
    production_job_requested,
    production_zip_removed,
)
from evidence.custody.review_events import (  # noqa: F401  (re-exported: events.<act>)
    case_declarant_set,
    report_reviewed,
)
from evidence.models import (
    Account,
    Clause,
    ConfirmedLabel,
    DetectionRun,
    EvidenceItem,
    IngestBatch,
    LedgerEntry,
    RetentionPurge,
    TermsVersion,
    TrustedTimestamp,
    VerificationRun,
)

Action = LedgerEntry.Action

# Reads of a case and downloads from it: the access audit, for the case's owner only.
ACCESS_ACTIONS = (Action.VIEWED, Action.EXPORTED)


# --- the record ---------------------------------------------------------------------------


def evidence_item_collected(*, actor: Actor, item: EvidenceItem) -> LedgerEntry:
    """A file was kept as evidence, with the SHA-256 of the bytes stored."""
    return ledger_append(
        actor=actor,
        action=Action.COLLECTED,
        object_type="evidence_item",
        object_id=item.pk,
        object_sha256=item.sha256,
        details={
            "kind": item.kind,
            "file_name": item.file_name,
            "size": item.size,
            "source": item.source,
        },
    )


def evidence_item_exported(
    *, actor: Actor, item: EvidenceItem, case_reference: str | None
) -> LedgerEntry:
    """A file was downloaded, from the case named (the case's access audit)."""
    return ledger_append(
        actor=actor,
        action=Action.EXPORTED,
        object_type="evidence_item",
        object_id=item.pk,
        object_sha256=item.sha256,
        details={"file_name": item.file_name, "case": case_reference},
    )


def evidence_item_deleted(*, actor: Actor, item: EvidenceItem) -> LedgerEntry:
    """A file no hold protected was deleted (its hash stays on the record)."""
    return ledger_append(
        actor=actor,
        action=Action.PURGED,
        object_type="evidence_item",
        object_id=item.pk,
        object_sha256=item.sha256,
        details={"file_name": item.file_name, "reason": "deleted"},
    )


def batch_ingested(
    *,
    actor: Actor,
    batch: IngestBatch,
    same_as_batch: int | None,
    extra: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """A file was ingested (committed, or refused and only the refusal recorded)."""
    return ledger_append(
        actor=actor,
        action=Action.INGESTED,
        object_type="ingest_batch",
        object_id=batch.pk,
        object_sha256=batch.raw_sha256,
        details={
            "kind": batch.kind,
            "format": batch.format,
            "file_name": batch.file_name,
            "source": batch.source,
            "status": batch.status,
            "size": batch.raw_size,
            "accepted": batch.accepted,
            "duplicates": batch.duplicates,
            "rejected": batch.rejected,
            "rows_digest": batch.rows_digest,
            "same_as_batch": same_as_batch,
            **(extra or {}),
        },
    )


def terms_imported(
    *, actor: Actor, version: TermsVersion, batch: IngestBatch, clauses: int, unchanged: int
) -> LedgerEntry:
    """A version of a Terms document was imported, split into clauses; the entry anchors
    the version's text (its hash) and every clause's (`clauses_digest`)."""
    stored = version.clauses.order_by("position").values_list("path", "text_sha256")
    return ledger_append(
        actor=actor,
        action=Action.IMPORTED,
        object_type="terms_version",
        object_id=version.pk,
        object_sha256=version.text_sha256,
        details={
            "document": version.document.slug,
            "version": version.label,
            "effective": version.effective_date.isoformat(),
            "clauses": clauses,
            "clauses_digest": clauses_digest(stored),
            "unchanged_clauses": unchanged,
            "batch": batch.pk,
            "file_name": batch.file_name,
        },
    )


def clause_category_changed(
    *, actor: Actor, clause: Clause, previous: str, reason: str
) -> LedgerEntry:
    """Counsel corrected a clause's category, saying why; the one it replaced (and the
    classifier's suggestion, kept on the clause) stays on the record."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="clause",
        object_id=clause.pk,
        object_sha256=clause.text_sha256,
        details={
            "field": "category",
            "from": previous,
            "to": clause.category,
            "suggested": clause.category_suggested,
            "reason": reason,
        },
    )


def catalogue_imported(
    *,
    actor: Actor,
    object_type: str,
    summary: Mapping[str, Any],
    changes: list[dict[str, Any]],
) -> LedgerEntry:
    """A catalogue file (model releases, plan limits) was imported; `object_type` names
    the catalogue, `summary` carries the file's name and SHA-256 and the counts."""
    return ledger_append(
        actor=actor,
        action=Action.IMPORTED,
        object_type=object_type,
        object_id=summary["file"],
        object_sha256=summary["sha256"],
        details={**summary, "changes": changes[:100]},
    )


def detection_finished(*, actor: Actor, run: DetectionRun) -> LedgerEntry:
    """A detection run finished; its digest covers every finding and link it stored."""
    return ledger_append(
        actor=actor,
        action=Action.DETECTED,
        object_type="detection_run",
        object_id=run.pk,
        object_sha256=run.digest,
        details={
            "window": [run.window_start, run.window_end],
            "detector_versions": run.detector_versions,
            "counts": run.counts,
        },
    )


# The fields of a confirmed label its ledger entry's hash covers, in this order.
CONFIRMED_LABEL_FIELDS = ("account_id", "verdict", "reason", "actor", "created_at")


def confirmed_label_sha256(label: ConfirmedLabel) -> str:
    """SHA-256 of a label as recorded (account id, verdict, reason, who, when): the entry
    carries it, so a label altered behind the database's back no longer matches."""
    return content_sha256(
        {
            "account_id": label.account.account_id,
            "verdict": label.verdict,
            "reason": label.reason,
            "actor": label.actor,
            "created_at": label.created_at,
        },
        CONFIRMED_LABEL_FIELDS,
    )


def account_labelled(*, actor: Actor, label: ConfirmedLabel, previous: str | None) -> LedgerEntry:
    """An investigator confirmed an account benign or abusive, and why; the verdict it
    replaced (if any) stays on the record. Under the account, so its custody history shows
    every verdict given on it."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="account",
        object_id=label.account.account_id,
        object_sha256=confirmed_label_sha256(label),
        details={
            "field": "confirmed_label",
            "label": label.pk,
            "from": previous,
            "to": label.verdict,
            "reason": label.reason,
        },
    )


def canaries_generated(
    *, actor: Actor, canary_set: Any, canaries: int, accounts: int, plan_item: int
) -> LedgerEntry:
    """A canary set was generated and assigned; the entry anchors the exported plan's hash
    (the plan file itself is kept as evidence item `plan_item`)."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="canary_set",
        object_id=canary_set.pk,
        object_sha256=canary_set.plan_sha256,
        details={
            "canaries": canaries,
            "accounts": accounts,
            "cluster": canary_set.cluster_identity or None,
            "seed": canary_set.seed,
            "plan_item": plan_item,
        },
    )


def canaries_matched(
    *,
    actor: Actor,
    at: dt.datetime,
    served: int,
    exchanges: int,
    matches: int,
    recorded: int,
    digest: str,
) -> LedgerEntry:
    """Every served canary was looked for in every probe response; the digest covers the
    hashes of the matches this run recorded (those found before are counted, not repeated)."""
    return ledger_append(
        actor=actor,
        action=Action.DETECTED,
        object_type="canary_matches",
        object_id=utc_iso(at),
        object_sha256=digest,
        details={
            "canaries_served": served,
            "exchanges": exchanges,
            "matches": matches,
            "recorded": recorded,
        },
    )


# --- custody ------------------------------------------------------------------------------


def ledger_checked(*, actor: Actor, result: LedgerVerification) -> LedgerEntry:
    """The chain was recomputed up to the head it names; the first broken entries are
    kept in the entry itself, all of them counted."""
    return ledger_append(
        actor=actor,
        action=Action.VERIFIED,
        object_type="ledger",
        object_id=result.head_seq,
        object_sha256=result.head_hash,
        details={**result.as_dict(), "failures": result.failures[:20]},
    )


def evidence_verified(*, actor: Actor, run: VerificationRun) -> LedgerEntry:
    """A full verification ran; the first failures are kept in the entry itself."""
    return ledger_append(
        actor=actor,
        action=Action.VERIFIED,
        object_type="verification_run",
        object_id=run.pk,
        object_sha256=run.ledger_head_hash,
        details={
            "ok": run.ok,
            "checked": run.checked,
            "failures_total": run.failures_total,
            "failures": run.failures[:20],
            "ledger_head_seq": run.ledger_head_seq,
        },
    )


def ledger_timestamped(*, stamp: TrustedTimestamp) -> LedgerEntry:
    """A timestamp authority signed the ledger head."""
    return ledger_append(
        actor=SystemActor.TIMESTAMP,
        action=Action.TIMESTAMPED,
        object_type="ledger",
        object_id=stamp.ledger_seq,
        object_sha256=stamp.ledger_hash,
        details={
            "authority": stamp.authority_url,
            "authority_time": stamp.authority_time.isoformat(),
            "token_sha256": stamp.token_sha256,
        },
    )


def retention_purged(
    *, actor: Actor, purge: RetentionPurge, cutoff: dt.datetime, retention_days: int
) -> LedgerEntry:
    """Raw usage past retention was removed; the digest covers every removed row's hash."""
    return ledger_append(
        actor=actor,
        action=Action.PURGED,
        object_type="retention_purge",
        object_id=purge.pk,
        object_sha256=purge.removed_digest,
        details={
            "cutoff": cutoff.isoformat(),
            "retention_days": retention_days,
            "removed": purge.removed,
            "held_kept": purge.held_kept,
            "removed_digest": purge.removed_digest,
        },
    )


# --- cases --------------------------------------------------------------------------------


def case_opened(*, actor: Actor, case: Any) -> LedgerEntry:
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="case",
        object_id=case.reference,
        details={"title": case.title, "respondent": case.respondent},
    )


def case_member_set(*, actor: Actor, case: Any, member: Any, role: str) -> LedgerEntry:
    """Someone was given a role on the case (or had it changed)."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="case",
        object_id=case.reference,
        details={"member": member.get_username(), "role": role},
    )


def accounts_linked(
    *, actor: Actor, case: Any, accounts: Iterable[Account], basis: str
) -> list[LedgerEntry]:
    """Accounts were attributed to the case's respondent: one entry under each account, so
    its custody history shows every case it was linked to."""
    return _account_entries(actor, Action.LINKED, accounts, case=case.reference, basis=basis)


def accounts_basis_added(
    *, actor: Actor, case: Any, accounts: Iterable[Account], basis: str
) -> list[LedgerEntry]:
    """Accounts already attributed to the case's respondent were given a further basis:
    one entry under each account (not "linked": the link itself was recorded once)."""
    return _account_entries(actor, Action.CHANGED, accounts, case=case.reference, basis_added=basis)


def _account_entries(
    actor: Actor, action: str, accounts: Iterable[Account], **details: Any
) -> list[LedgerEntry]:
    return ledger_append_many(
        actor=actor,
        entries=[
            {
                "action": action,
                "object_type": "account",
                "object_id": account.account_id,
                "details": details,
            }
            for account in accounts
        ],
    )


def case_held(
    *,
    actor: Actor,
    case: Any,
    accounts: int,
    evidence_files: list[EvidenceItem],
    holds: int,
    usage_events: int,
) -> LedgerEntry:
    """The case was placed on legal hold: what the hold preserves, as counted when placed."""
    return ledger_append(
        actor=actor,
        action=Action.HELD,
        object_type="case",
        object_id=case.reference,
        details={
            "accounts": accounts,
            "evidence_files": [item.pk for item in evidence_files],
            "holds": holds,
            "usage_events": usage_events,
            "window_start": case.window_start.isoformat() if case.window_start else None,
            "window_end": case.window_end.isoformat() if case.window_end else None,
        },
    )


def case_released(*, actor: Actor, case: Any, holds_released: int) -> LedgerEntry:
    return ledger_append(
        actor=actor,
        action=Action.RELEASED,
        object_type="case",
        object_id=case.reference,
        details={"holds_released": holds_released},
    )


def allegation_added(*, actor: Actor, case: Any, allegation: Any) -> LedgerEntry:
    """An allegation that conduct breaches a clause; the entry carries the clause's hash, so
    the words alleged are the words recorded."""
    clause = allegation.clause
    version = clause.version
    return ledger_append(
        actor=actor,
        action=Action.ALLEGED,
        object_type="case",
        object_id=case.reference,
        object_sha256=clause.text_sha256,
        details={
            "allegation": allegation.pk,
            "clause": f"{version.document.slug}:{version.label}:{clause.path}",
            # The category it is argued under: the one that decides its support.
            "category": clause.category,
        },
    )


def evidence_items_cited(
    *, actor: Actor, case: Any, allegation: Any, items: Iterable[EvidenceItem]
) -> list[LedgerEntry]:
    """Files were cited in support of an allegation: one entry under each file, naming the
    case, so a file's custody history shows every case that relies on it (and the case's
    ledger every file it made available to its members)."""
    return ledger_append_many(
        actor=actor,
        entries=[
            {
                "action": Action.LINKED,
                "object_type": "evidence_item",
                "object_id": item.pk,
                "object_sha256": item.sha256,
                "details": {
                    "case": case.reference,
                    "allegation": allegation.pk,
                    "file_name": item.file_name,
                },
            }
            for item in items
        ],
    )


def output_evidence_attached(
    *, actor: Actor, case: Any, attached: Iterable[Any]
) -> list[LedgerEntry]:
    """Evidence of use of the outputs was attached to a case: one entry per attachment under
    the case, naming the record rows it points at (a probe batch with its digest, a target
    and the names its claims are counted with, a canary match with its hash)."""
    entries = []
    for item in attached:
        details: dict[str, Any] = {"kind": item.kind, "attachment": item.pk}
        sha256 = ""
        if item.batch_id is not None:
            details["batch"] = item.batch_id
            sha256 = item.batch.rows_digest
        if item.target:
            details.update(target=item.target, names=list(item.names))
        if item.canary_match_id is not None:
            match = item.canary_match
            details.update(canary=match.canary.canary_id, probe=match.exchange.probe_id)
            sha256 = match.content_sha256
        entries.append(
            {
                "action": Action.LINKED,
                "object_type": "case",
                "object_id": case.reference,
                "object_sha256": sha256,
                "details": details,
            }
        )
    return ledger_append_many(actor=actor, entries=entries)


def note_added(*, actor: Actor, case: Any, note: Any) -> LedgerEntry:
    return ledger_append(
        actor=actor,
        action=Action.NOTED,
        object_type="case",
        object_id=case.reference,
        details={"note": note.pk},
    )


def case_viewed(*, actor: Actor, case: Any, page: str) -> LedgerEntry:
    """A case page (or its API resource) was opened: reads count, not just writes."""
    return ledger_append(
        actor=actor,
        action=Action.VIEWED,
        object_type="case",
        object_id=case.reference,
        details={"page": page},
    )


# --- API tokens ---------------------------------------------------------------------------


def _token_details(token: Any) -> dict[str, Any]:
    # Never the token or its hash: the ledger is exported as an exhibit.
    return {
        "name": token.name,
        "prefix": token.prefix,
        "user": token.user.get_username(),
        "user_id": token.user_id,
        "scopes": token.scopes,
        "expires_at": utc_iso(token.expires_at) or None,
        "revoked_at": utc_iso(token.revoked_at) or None,
    }


def api_token_issued(*, actor: Actor, token: Any) -> LedgerEntry:
    """Who could act through the API, from when to when, is part of the custody of what
    they sent."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="api_token",
        object_id=token.pk,
        details=_token_details(token),
    )


def api_token_revoked(*, actor: Actor, token: Any) -> LedgerEntry:
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="api_token",
        object_id=token.pk,
        details={"change": "revoked", **_token_details(token)},
    )


# --- reports ------------------------------------------------------------------------------


def report_job_requested(*, actor: Actor, job: Any, requeued: bool) -> LedgerEntry:
    """A report of the case as frozen in a snapshot was asked for (or a failed one asked
    for again)."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED if requeued else Action.CREATED,
        object_type="report_job",
        object_id=job.pk,
        object_sha256=job.snapshot_sha256,
        details={
            "case": job.case.reference,
            "edition": job.edition,
            "snapshot_sha256": job.snapshot_sha256,
            "requeued": requeued,
            "final": job.final,
            "draft": job.draft_id,
        },
    )


def pseudonym_key_created(*, actor: Actor, key: Any, secret_sha256: str) -> LedgerEntry:
    """A case's pseudonym key for one edition was drawn. The entry holds the SHA-256 of the
    secret, never the secret: enough to show later that reports were keyed by this key."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="pseudonym_key",
        object_id=key.pk,
        object_sha256=secret_sha256,
        details={"case": key.case.reference, "edition": key.edition},
    )


def report_job_failed(*, job: Any, reason: str) -> LedgerEntry:
    return ledger_append(
        actor=SystemActor.REPORTS,
        action=Action.CHANGED,
        object_type="report_job",
        object_id=job.pk,
        object_sha256=job.snapshot_sha256,
        details={"case": job.case.reference, "status": "failed", "reason": reason[:500]},
    )


def report_built(
    *,
    actor: Actor,
    job: Any,
    pdf: EvidenceItem,
    ledger_certified: Any,
    pages: int,
    signature: Any,
    attachments: list[dict[str, Any]],
    seconds_by_stage: dict[str, Any],
    sign_off: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """The signed report and everything stored with it. `report_verify` trusts a PDF whose
    SHA-256 is on an entry like this one and whose attachments were collected. A final
    report's entry names what it was built on (`sign_off`: the approvals, the declarant,
    the verification run); a draft's says it is one."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="report",
        object_id=job.pk,
        object_sha256=pdf.sha256,
        details={
            "case": job.case.reference,
            "edition": job.edition,
            "snapshot_sha256": job.snapshot_sha256,
            "ledger_certified": ledger_certified,
            "pdf": pdf.pk,
            "pages": pages,
            "signature": signature,
            "attachments": attachments,
            "built_for": actor_label(actor)[0],
            "seconds_by_stage": seconds_by_stage,
            "final": job.final,
            "sign_off": dict(sign_off) if sign_off else None,
        },
    )


# --- reading ------------------------------------------------------------------------------


def entry_action(entry: LedgerEntry) -> str:
    """What the entry records, by its action as named today.

    Entries are never edited, so allegations and notes ledgered before they had actions
    of their own still read "created" on the case; their details tell them apart.
    """
    if entry.action == Action.CREATED and entry.object_type == "case":
        if "allegation" in entry.details:
            return Action.ALLEGED.value
        if "note" in entry.details:
            return Action.NOTED.value
    return entry.action


def entry_label(entry: LedgerEntry) -> str:
    """The entry's action in words ("Allegation added"), for pages and printouts."""
    action = entry_action(entry)
    return Action(action).label if action in Action.values else action
