"""What the formation element rests on beyond the assent rows, as the snapshot freezes it:
every version of each Terms document the case relies on with what changed from the one
before, and the screens the accounts saw (screenshots and archived sign-up flows whose
hashes their assent records carry, or that show the flows they accepted through)."""

from __future__ import annotations

from typing import Any

from casework.reports.snapshot.values import iso
from evidence.models import AssentScreen, TermsVersion
from evidence.selectors import terms_diff


def terms_history_collect(terms: list[dict]) -> list[dict[str, Any]]:
    """Each version in `terms` (the snapshot's), in force until the next one, with the
    clause paths changed, added and removed since the version before it (`terms_diff`,
    the comparison the Terms pages show)."""
    ids = [t["version_id"] for t in terms]
    versions = {v.pk: v for v in TermsVersion.objects.filter(pk__in=ids).select_related("document")}
    history: list[dict[str, Any]] = []
    previous = None
    for t in terms:  # ordered by document, effective date
        version = versions[t["version_id"]]
        if previous is not None and previous.document_id != version.document_id:
            previous = None
        if previous is None:
            changes = {
                "previous": None,
                "same_text": False,
                "changed": [],
                "added": [],
                "removed": [],
            }
        else:
            rows = terms_diff(old=previous, new=version)
            changes = {
                "previous": previous.label,
                "same_text": previous.text_sha256 == version.text_sha256,
            }
            for status in ("changed", "added", "removed"):
                changes[status] = [r["path"] for r in rows if r["status"] == status]
        if history and previous is not None:
            history[-1]["until"] = version.effective_date.isoformat()
        history.append(
            {
                "document": version.document.slug,
                "title": version.document.title,
                "version": version.label,
                "version_id": version.pk,
                "effective_date": version.effective_date.isoformat(),
                "until": None,
                "text_sha256": version.text_sha256,
                "size": len(version.text.encode("utf-8")),
                "source_url": version.source_url,
                **changes,
            }
        )
        previous = version
    return history


def assent_screens_collect(accounts: list[dict]) -> list[dict[str, Any]]:
    """The screens on record that the case accounts' assent records name by hash, or that
    show a flow version those records were made through; with how many of the accounts'
    records carry each hash (a screen named by one account's records may show that
    account's own details, which matters to the editions that withhold them)."""
    hashes: dict[str, set[str]] = {}
    flows = set()
    for account in accounts:
        for record in account["assent"]:
            if record["screenshot_sha256"]:
                hashes.setdefault(record["screenshot_sha256"], set()).add(account["account_id"])
            if record["flow_id"]:
                flows.add(record["flow_id"])
    screens = (
        AssentScreen.objects.filter(sha256__in=list(hashes))
        | AssentScreen.objects.filter(flow_id__in=sorted(flows))
    ).select_related("item", "terms_version__document")
    return [
        {
            "id": s.pk,
            "evidence_item": s.item_id,
            "sha256": s.sha256,
            "kind": s.kind,
            "media_type": s.media_type,
            "file_name": s.item.file_name,
            # Where storage keeps the bytes: the report reads the image from there (and
            # checks its hash), never from a live query.
            "storage_name": s.item.file.name,
            "size": s.item.size,
            "flow_id": s.flow_id,
            "terms": s.terms_version.document.slug if s.terms_version else None,
            "version": s.terms_version.label if s.terms_version else None,
            "shown_from": iso(s.shown_from),
            "shown_until": iso(s.shown_until),
            "accounts_naming": len(hashes.get(s.sha256, ())),
        }
        for s in screens.distinct().order_by("flow_id", "shown_from", "pk")
    ]
