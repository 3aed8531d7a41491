"""Importing Terms: a document version, split into clauses, each hashed and kept verbatim.

The formation and breach elements both rest on these rows: which text the account agreed
to, and which clause the conduct breaks. So a version is never overwritten — importing a
label again with the same text is recognised and adds nothing, and with different text is
refused — and a clause whose text did not change between versions is linked to its first
appearance (`Clause.same_as`), so an allegation can show the term was in force throughout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from evidence.access import clause_categoriser
from evidence.custody import events
from evidence.custody.canonical import sha256_hex, text_sha256
from evidence.custody.ledger import Actor, actor_label
from evidence.models import Clause, ClauseCategory, IngestBatch, TermsDocument, TermsVersion
from evidence.terms.clauses import TermsFormatError, clauses_split


class TermsImportError(ValueError):
    """The file or the request cannot become a Terms version; the message says which part."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class TermsImportResult:
    document: str
    version: str
    version_id: int
    sha256: str
    clauses: int
    unchanged_clauses: int
    created: bool
    batch: int | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def terms_import(
    *,
    actor: Actor,
    path: Path,
    document_slug: str,
    title: str,
    version_label: str,
    effective: dt.date,
    url: str = "",
) -> TermsImportResult:
    """Import one version of a Terms document from Markdown or plain text."""
    raw = Path(path).read_bytes()
    sha256 = sha256_hex(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TermsImportError(
            f"{path}: not valid UTF-8 at byte {exc.start}", field="PATH"
        ) from None
    try:
        parsed = clauses_split(text)
    except TermsFormatError as exc:
        raise TermsImportError(f"{path}: {exc}", field="PATH") from None

    with transaction.atomic():
        document, _ = TermsDocument.objects.get_or_create(
            slug=document_slug, defaults={"title": title, "url": url}
        )
        existing = TermsVersion.objects.filter(document=document, label=version_label).first()
        if existing is not None:
            if existing.text_sha256 != sha256:
                raise TermsImportError(
                    f"version {version_label} of {document_slug} was imported before with "
                    f"different text (SHA-256 {existing.text_sha256}); a published version "
                    "does not change — import the new text under a new version label",
                    field="--version",
                )
            return TermsImportResult(
                document=document.slug,
                version=existing.label,
                version_id=existing.pk,
                sha256=sha256,
                clauses=existing.clauses.count(),
                unchanged_clauses=existing.clauses.filter(same_as__isnull=False).count(),
                created=False,
                batch=None,
            )
        label, _ = actor_label(actor)
        user = actor if getattr(actor, "is_authenticated", False) else None
        now = timezone.now()
        batch = IngestBatch.objects.create(
            kind=IngestBatch.Kind.TERMS,
            source=IngestBatch.Source.CLI,
            format="text",
            file_name=Path(path).name,
            raw_sha256=sha256,
            raw_size=len(raw),
            collector=user,
            collector_label=label,
            started_at=now,
            finished_at=now,
            status=IngestBatch.Status.COMMITTED,
            accepted=len(parsed),
        )
        version = TermsVersion.objects.create(
            document=document,
            label=version_label,
            effective_date=effective,
            text=text,
            text_sha256=sha256,
            source_url=url,
            imported_by=user,
        )
        earlier = _earlier_clauses(document, exclude=version)
        clauses, unchanged = [], 0
        for clause in parsed:
            text_hash = text_sha256(clause.text)
            first = earlier.get((clause.path, text_hash)) or earlier.get((None, text_hash))
            unchanged += first is not None
            clauses.append(
                Clause(
                    version=version,
                    path=clause.path,
                    heading=clause.heading[:500],
                    text=clause.text,
                    text_sha256=text_hash,
                    category=clause.category,
                    category_suggested=clause.category,
                    kind=clause.kind,
                    position=clause.position,
                    same_as_id=first,
                )
            )
        Clause.objects.bulk_create(clauses)
        events.terms_imported(
            actor=actor, version=version, batch=batch, clauses=len(clauses), unchanged=unchanged
        )
    return TermsImportResult(
        document=document.slug,
        version=version.label,
        version_id=version.pk,
        sha256=sha256,
        clauses=len(clauses),
        unchanged_clauses=unchanged,
        created=True,
        batch=batch.pk,
    )


def _earlier_clauses(document: TermsDocument, *, exclude: TermsVersion) -> dict:
    """First appearance of each clause text in earlier versions, by (path, hash) and hash.

    Keyed by path and hash first (the same clause at the same place), then by hash alone
    (the same words renumbered), always pointing at the first version that had them.
    """
    first: dict[tuple[str | None, str], int] = {}
    rows = (
        Clause.objects.filter(version__document=document)
        .exclude(version=exclude)
        .order_by("version__effective_date", "version_id", "position")
        .values_list("pk", "path", "text_sha256", "same_as_id")
    )
    for pk, path, text_hash, same_as in rows:
        root = same_as or pk
        first.setdefault((path, text_hash), root)
        first.setdefault((None, text_hash), root)
    return first


class ClauseCategoryError(ValueError):
    """A category correction that cannot be made as asked; `field` names the input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


REASON_MAX = 2000


def clause_category_set(*, actor: Actor, clause: Clause, category: str, reason: str) -> Clause:
    """Counsel's correction of a clause's category, with the reason, ledgered.

    The category decides which findings support an allegation under the clause, so from
    now on every allegation under it (on the case page and in reports) is argued under
    the corrected one. The classifier's suggestion stays on the clause and in the entry.
    """
    if not clause_categoriser(actor):
        raise PermissionDenied("only counsel may correct a clause's category")
    if category not in ClauseCategory.values:
        raise ClauseCategoryError(f"unknown clause category {category!r}", field="category")
    reason = (reason or "").strip()
    if not reason:
        raise ClauseCategoryError(
            "say why the category is corrected: the reason goes into the ledger",
            field="reason",
        )
    if len(reason) > REASON_MAX:
        raise ClauseCategoryError(
            f"the reason is {len(reason):,} characters; at most {REASON_MAX:,}", field="reason"
        )
    with transaction.atomic():
        current = Clause.objects.select_for_update().get(pk=clause.pk)
        if not current.operative:
            raise ClauseCategoryError(
                f"§{current.path} is {current.get_kind_display().lower()} text, not a term "
                "that conduct can breach: it takes no category",
                field="category",
            )
        if current.category == category:
            raise ClauseCategoryError(
                f"§{current.path} is already {current.get_category_display()}",
                field="category",
            )
        previous = current.category
        Clause.objects.filter(pk=clause.pk).update(category=category)
        clause.category = category
        events.clause_category_changed(actor=actor, clause=clause, previous=previous, reason=reason)
    return clause
