"""The record the case rests on, as the snapshot freezes it: the attributed accounts and
their assent, the alleged clauses in every version, the Terms and the ingest batches."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Prefetch

from casework.models import Allegation, Case, CaseAccount, CaseAccountBasis
from casework.reports.snapshot.values import iso
from evidence.models import AssentRecord, Clause, IngestBatch, TermsVersion


def case_links(case: Case) -> list[CaseAccount]:
    """The case's attributed accounts, each with its bases, by account id."""
    return list(
        CaseAccount.objects.filter(case=case)
        .select_related("account", "attributed_by")
        .prefetch_related(
            Prefetch("further_bases", CaseAccountBasis.objects.select_related("attributed_by"))
        )
        .order_by("account__account_id")
    )


def accounts_collect(links, group_of, usage, detection_part) -> list[dict[str, Any]]:
    assent = defaultdict(list)
    for record in (
        AssentRecord.objects.filter(account_id__in=[link.account_id for link in links])
        .select_related("account")
        .order_by("account__account_id", "accepted_at", "pk")
    ):
        assent[record.account.account_id].append(
            {
                "terms": record.terms_slug,
                "version": record.version_label,
                "version_imported": record.terms_version_id is not None,
                "accepted_at": iso(record.accepted_at),
                "method": record.method,
                "ip": record.ip,
                "user_agent": record.user_agent,
                "flow_id": record.flow_id,
                "screenshot_sha256": record.screenshot_sha256,
                "content_sha256": record.content_sha256,
                "batch": record.batch_id,
            }
        )
    fired = (detection_part or {}).pop("fired_by_account", {})
    empty = {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "throttled": 0,
        "first_ts": None,
        "last_ts": None,
        "by_model": {},
    }
    accounts = []
    for link in links:
        account = link.account
        accounts.append(
            {
                "account_id": account.account_id,
                "org_name": account.org_name,
                "email": account.email,
                "created_at": iso(account.created_at),
                "country": account.country,
                "billing_country": account.billing_country,
                "payment_fingerprint": account.payment_fingerprint,
                "signup_ip": account.signup_ip,
                "signup_user_agent": account.signup_user_agent,
                "plan": account.plan,
                "status": account.status,
                "reseller": account.reseller,
                "seen_only_in_usage": account.seen_only_in_usage,
                "content_sha256": account.content_sha256,
                "batch": account.batch_id,
                "group": group_of[account.account_id],
                "attribution": _attribution(link),
                "usage": usage.get(account.account_id, empty),
                "assent": assent.get(account.account_id, []),
                "signals": fired.get(account.account_id, []),
            }
        )
    return accounts


def _attribution(link) -> dict[str, Any]:
    """Why the account is attributed: its first basis, and any given after it under
    `further` (only when there are: a snapshot of a case without them is as before)."""
    attribution = _basis(link)
    further = [_basis(b) for b in link.further_bases.all()]
    if further:
        attribution["further"] = further
    return attribution


def _basis(row) -> dict[str, Any]:
    return {
        "basis": row.basis,
        "detail": row.basis_detail,
        "by": row.attributed_by.get_username(),
        "at": iso(row.attributed_at),
    }


def attribution_kinds(account: dict[str, Any]) -> list[str]:
    """The kinds of basis an account in the snapshot rests on, first one first, each once."""
    attribution = account["attribution"]
    kinds = [attribution["basis"], *(b["basis"] for b in attribution.get("further", []))]
    return list(dict.fromkeys(kinds))


def _clause(clause: Clause) -> dict[str, Any]:
    version = clause.version
    return {
        "id": clause.pk,
        "document": version.document.slug,
        "document_title": version.document.title,
        "version": version.label,
        "version_id": version.pk,
        "effective_date": version.effective_date.isoformat(),
        "version_sha256": version.text_sha256,
        "path": clause.path,
        "heading": clause.heading,
        "text": clause.text,
        "text_sha256": clause.text_sha256,
        "category": clause.category,
        "first_appearance": clause.same_as_id or clause.pk,
    }


def allegations_collect(case: Case) -> list[dict[str, Any]]:
    allegations = (
        Allegation.objects.filter(case=case)
        .select_related("clause__version__document", "created_by")
        .prefetch_related("supporting_evidence")
        .order_by("created_at", "pk")
    )
    result = []
    for allegation in allegations:
        clause = allegation.clause
        # The same clause (same path) in every version of the document: which text was in
        # force at each moment of the conduct.
        versions = []
        for other in (
            Clause.objects.filter(version__document=clause.version.document, path=clause.path)
            .select_related("version")
            .order_by("version__effective_date", "version_id")
        ):
            versions.append(
                {
                    "version": other.version.label,
                    "effective_date": other.version.effective_date.isoformat(),
                    "clause_id": other.pk,
                    "text_sha256": other.text_sha256,
                    "same_text": other.text_sha256 == clause.text_sha256,
                }
            )
        all_versions = [
            {"version": v.label, "effective_date": v.effective_date.isoformat()}
            for v in TermsVersion.objects.filter(document=clause.version.document).order_by(
                "effective_date", "pk"
            )
        ]
        result.append(
            {
                "id": allegation.pk,
                "clause": _clause(clause),
                "theory": allegation.theory,
                "created_at": iso(allegation.created_at),
                "created_by": allegation.created_by.get_username(),
                "clause_versions": versions,
                "document_versions": all_versions,
                "supporting_evidence": [
                    {
                        "id": item.pk,
                        "kind": item.kind,
                        "file_name": item.file_name,
                        "sha256": item.sha256,
                        "size": item.size,
                        "collected_at": iso(item.collected_at),
                    }
                    for item in sorted(allegation.supporting_evidence.all(), key=lambda i: i.pk)
                ],
            }
        )
    return result


def terms_collect(allegations: list[dict], accounts: list[dict]) -> list[dict[str, Any]]:
    slugs = {a["clause"]["document"] for a in allegations}
    slugs |= {r["terms"] for account in accounts for r in account["assent"]}
    return [
        {
            "document": v.document.slug,
            "title": v.document.title,
            "version": v.label,
            "version_id": v.pk,
            "effective_date": v.effective_date.isoformat(),
            "text_sha256": v.text_sha256,
            "source_url": v.source_url,
            "clauses": v.clauses.count(),
        }
        for v in TermsVersion.objects.filter(document__slug__in=slugs)
        .select_related("document")
        .order_by("document__slug", "effective_date", "pk")
    ]


def batches_collect(
    usage_batches: dict, links, accounts, terms, also: set[int] = frozenset()
) -> list[dict[str, Any]]:
    """The batches the case's records came from; `also` adds others it rests on (billing)."""
    ids = set(usage_batches) | set(also)
    ids |= {a["batch"] for a in accounts if a["batch"]}
    ids |= {r["batch"] for a in accounts for r in a["assent"] if r["batch"]}
    terms_hashes = {t["text_sha256"] for t in terms}
    batches = IngestBatch.objects.filter(pk__in=ids) | IngestBatch.objects.filter(
        kind=IngestBatch.Kind.TERMS, raw_sha256__in=terms_hashes
    )
    return [
        {
            "id": b.pk,
            "kind": b.kind,
            "source": b.source,
            "format": b.format,
            "file_name": b.file_name,
            "raw_sha256": b.raw_sha256,
            "raw_size": b.raw_size,
            "collector": b.collector_label,
            "started_at": iso(b.started_at),
            "finished_at": iso(b.finished_at),
            "status": b.status,
            "accepted": b.accepted,
            "duplicates": b.duplicates,
            "rejected": b.rejected,
            "rows_digest": b.rows_digest,
            "case_usage_rows": usage_batches.get(b.pk, 0),
        }
        for b in batches.distinct().order_by("started_at", "pk")
    ]
