"""Exhibits of the formation element: the full text of every Terms version the case rests
on, the table of those versions and what changed between them, and the screens the
accounts saw when they accepted (screenshots, archived sign-up flows).

Each Terms text and each screen is attached byte for byte, so its exhibit hash is the
SHA-256 it was imported or collected with: the reader checks the text the accounts
agreed to against the hash the assent and clause rows cite, without trusting Pacta.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from django.core.files.storage import default_storage

from casework.reports.exhibit_files import ExhibitError, ExhibitSet
from casework.reports.redaction import Redactor
from evidence.custody.canonical import sha256_hex
from evidence.models import TermsVersion

TERMS_HISTORY = "terms-history.csv"
EXTENSION = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/pdf": ".pdf",
    "text/html": ".html",
    "multipart/related": ".mhtml",
}


def _name_part(value: str) -> str:
    """A slug, label or flow id as part of an exhibit's file name: never a path."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value).strip("._")[:60] or "_"


def terms_text_exhibit_name(version: dict) -> str:
    return f"terms-{_name_part(version['document'])}-{_name_part(version['version'])}.md"


def screen_exhibit_name(screen: dict) -> str:
    flow = _name_part(screen["flow_id"])
    return f"screen-{flow}-{screen['sha256'][:12]}{EXTENSION[screen['media_type']]}"


def screen_bytes(screen: dict) -> bytes:
    """The screen's file as storage keeps it, refused unless it still has its hash."""
    with default_storage.open(screen["storage_name"], "rb") as fh:
        payload = fh.read()
    if sha256_hex(payload) != screen["sha256"]:
        raise ExhibitError(
            f"screen {PurePosixPath(screen['file_name']).name}: the stored file no longer has "
            f"the SHA-256 it was collected with ({screen['sha256']})"
        )
    return payload


def screen_in_edition(screen: dict, redactor: Redactor) -> bool:
    """Does this edition carry the screen? Pixels cannot be redacted, so the public edition
    carries none, and the regulator edition none that one account's records alone name
    (such a capture may show that account's own email or name); counsel carries all."""
    if redactor.counsel:
        return True
    if redactor.public:
        return False
    return screen["accounts_naming"] != 1


def formation_exhibits_write(exhibits: ExhibitSet, data: dict, redactor: Redactor) -> None:
    """Terms texts and history in every edition (the provider's published contract holds
    no personal data); the screens as `screen_in_edition` allows, the rest logged."""
    history = data.get("terms_history") or []
    texts = TermsVersion.objects.in_bulk([v["version_id"] for v in history])
    for v in history:
        payload = texts[v["version_id"]].text.encode("utf-8")
        if sha256_hex(payload) != v["text_sha256"]:
            raise ExhibitError(
                f"Terms {v['document']} {v['version']}: the stored text no longer has the "
                f"SHA-256 it was imported with ({v['text_sha256']})"
            )
        exhibits.file(
            terms_text_exhibit_name(v),
            f"Terms: {v['title']}, version {v['version']}",
            f"The full text of version {v['version']} as imported (effective "
            f"{v['effective_date']}); its SHA-256 is the version's hash in the record.",
            payload,
            mime="text/markdown",
            relationship="Source",
        )
    if history:
        exhibits.rows(
            TERMS_HISTORY,
            "Terms version history",
            "Every version of each Terms document the case relies on: its effective window, "
            "the hash of its text (the exhibit named) and the clauses changed, added and "
            "removed since the version before it.",
            [
                "document",
                "version",
                "effective_date",
                "in_force_until",
                "text_sha256",
                "exhibit",
                "previous_version",
                "same_text_as_previous",
                "clauses_changed",
                "clauses_added",
                "clauses_removed",
            ],
            (
                [
                    v["document"],
                    v["version"],
                    v["effective_date"],
                    v["until"] or "",
                    v["text_sha256"],
                    terms_text_exhibit_name(v),
                    v["previous"] or "",
                    "yes" if v.get("same_text") else ("no" if v["previous"] else ""),
                    " ".join(v["changed"]),
                    " ".join(v["added"]),
                    " ".join(v["removed"]),
                ]
                for v in history
            ),
            nature="analysis",
        )
    _screens(exhibits, data, redactor)


def _screens(exhibits: ExhibitSet, data: dict, redactor: Redactor) -> None:
    screens = data.get("assent_screens") or []
    carried = [s for s in screens if screen_in_edition(s, redactor)]
    if len(carried) < len(screens):
        redactor.log.note(
            "sign-up screen image", "withheld", where="exhibits", count=len(screens) - len(carried)
        )
    for s in carried:
        payload = screen_bytes(s)
        what = "Screenshot" if s["kind"] == "screenshot" else "Archived sign-up flow"
        exhibits.file(
            screen_exhibit_name(s),
            f"{what}: {s['flow_id']}",
            f"{what} of sign-up flow {s['flow_id']}, byte for byte as collected "
            f"({s['file_name']}); assent records carrying SHA-256 {s['sha256']} name it.",
            payload,
            mime=s["media_type"],
            relationship="Source",
        )
