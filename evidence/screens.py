"""Taking in the screens accounts saw: a screenshot (PNG, JPEG) or an archived version of a
sign-up flow (PDF, HTML, MHTML), kept content-addressed by SHA-256 and linked to the
assent records whose `screenshot_sha256` names it (`evidence.models.screens`).

The file is never trusted: its type is read from its first bytes and must agree with its
name's extension, its size is capped (`PACTA_ASSENT_SCREEN_MAX_BYTES`) while it is read,
and a hash the collector states must be the hash of the bytes received. Any failure
leaves nothing behind: no file in storage, no row, no ledger entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evidence.custody.screen_events import assent_screen_linked
from evidence.models import AssentRecord, AssentScreen, EvidenceItem, TermsVersion
from evidence.services import evidence_item_keep

READ_CHUNK = 1024 * 1024
HEX = set("0123456789abcdef")

# What each accepted type starts with, and the names it may travel under. HTML is
# recognised by its opening tag after optional BOM and whitespace; MHTML by its MIME header.
MEDIA_TYPES = {
    "image/png": ((".png",), AssentScreen.Kind.SCREENSHOT),
    "image/jpeg": ((".jpg", ".jpeg"), AssentScreen.Kind.SCREENSHOT),
    "application/pdf": ((".pdf",), AssentScreen.Kind.FLOW_ARCHIVE),
    "text/html": ((".html", ".htm"), AssentScreen.Kind.FLOW_ARCHIVE),
    "multipart/related": ((".mhtml", ".mht"), AssentScreen.Kind.FLOW_ARCHIVE),
}
EXTENSIONS = ", ".join(ext for exts, _ in MEDIA_TYPES.values() for ext in exts)


class AssentScreenError(ValueError):
    """The file or a parameter cannot become a screen; `field` names which."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class AssentScreenResult:
    screen: int
    evidence_item: int
    sha256: str
    size: int
    media_type: str
    kind: str
    flow_id: str
    terms_version: str | None
    shown_from: str | None
    shown_until: str | None
    assent_records: int
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def media_type_sniff(head: bytes) -> str | None:
    """The type the bytes are, from their opening bytes; None when none accepted."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if text.startswith((b"mime-version:", b"from:")) and b"multipart/related" in text:
        return "multipart/related"
    return None


def screen_moment(value: str | None, *, field: str) -> dt.datetime | None:
    """When a flow version went live or was replaced, as an operator writes it: a date
    (midnight UTC) or an ISO-8601 time with its zone."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise AssentScreenError(
            f"{value!r} is not a date or an ISO-8601 time", field=field
        ) from None
    if moment.tzinfo is None:
        raise AssentScreenError(f"{value!r} has no time zone (add Z or +00:00)", field=field)
    return moment


def terms_version_find(reference: str) -> TermsVersion:
    """`DOCUMENT:VERSION` (e.g. services-agreement:2026-01-01) as an imported version."""
    document, sep, label = reference.partition(":")
    if not sep or not document or not label:
        raise AssentScreenError(
            f"{reference!r} is not DOCUMENT:VERSION (e.g. services-agreement:2026-01-01)",
            field="terms",
        )
    version = (
        TermsVersion.objects.select_related("document")
        .filter(document__slug=document, label=label)
        .first()
    )
    if version is None:
        raise AssentScreenError(
            f"no Terms version {label!r} of {document!r} has been imported", field="terms"
        )
    return version


def _spool(stream: BinaryIO, *, max_bytes: int) -> tuple[Path, str, int, bytes]:
    """Copy the stream to a temporary file, hashing it; refuse it past `max_bytes`."""
    digest = hashlib.sha256()
    size, head = 0, b""
    handle, name = tempfile.mkstemp(prefix="pacta-screen-")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as spool:
            while chunk := stream.read(READ_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise AssentScreenError(
                        f"the file is larger than the limit of {max_bytes:,} bytes "
                        "(PACTA_ASSENT_SCREEN_MAX_BYTES); nothing was stored",
                        field="file",
                    )
                if len(head) < 1024:
                    head += chunk[: 1024 - len(head)]
                digest.update(chunk)
                spool.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size, head


def assent_screen_ingest(
    *,
    actor,
    stream: BinaryIO,
    file_name: str,
    flow_id: str,
    source: str,
    terms: str = "",
    shown_from: dt.datetime | None = None,
    shown_until: dt.datetime | None = None,
    expected_sha256: str = "",
    max_bytes: int | None = None,
) -> AssentScreenResult:
    """Keep a screenshot or archived sign-up flow and record it as the screen of `flow_id`.

    Taking the same bytes in again with the same description adds nothing and answers the
    screen already on record (so a rerun is safe); with a different description it is
    refused, since a file shows one screen.
    """
    max_bytes = max_bytes or settings.PACTA_ASSENT_SCREEN_MAX_BYTES
    flow_id = (flow_id or "").strip()
    if not flow_id or len(flow_id) > 100:
        raise AssentScreenError(
            "name the sign-up flow version the file shows (at most 100 characters)",
            field="flow",
        )
    expected = (expected_sha256 or "").strip().lower()
    if expected and (len(expected) != 64 or set(expected) - HEX):
        raise AssentScreenError(
            f"{expected_sha256!r} is not a SHA-256 (64 hex digits)", field="sha256"
        )
    if shown_from and shown_until and shown_from > shown_until:
        raise AssentScreenError(
            f"the flow was live from {shown_from.isoformat()}, after it ended "
            f"({shown_until.isoformat()})",
            field="shown-until",
        )
    for name, value in (("shown-from", shown_from), ("shown-until", shown_until)):
        if value is not None and timezone.is_naive(value):
            raise AssentScreenError("a time must carry its zone (e.g. Z)", field=name)
    version = terms_version_find(terms) if terms else None
    name = Path(file_name.replace("\\", "/")).name
    extension = Path(name).suffix.lower()
    path, sha256, size, head = _spool(stream, max_bytes=max_bytes)
    try:
        if size == 0:
            raise AssentScreenError("the file is empty", field="file")
        if expected and expected != sha256:
            raise AssentScreenError(
                f"the file's SHA-256 is {sha256}, not the {expected} stated: it is not the "
                "file described; nothing was stored",
                field="sha256",
            )
        media_type = media_type_sniff(head)
        if media_type is None:
            raise AssentScreenError(
                f"{name}: not a PNG, JPEG, PDF, HTML or MHTML file (by its first bytes)",
                field="file",
            )
        extensions, kind = MEDIA_TYPES[media_type]
        if extension not in extensions:
            raise AssentScreenError(
                f"{name}: its bytes are {media_type} but its name ends {extension or '(none)'}"
                f"; name it {' or '.join(extensions)} (accepted: {EXTENSIONS})",
                field="file",
            )
        existing = (
            AssentScreen.objects.select_related("terms_version__document", "item")
            .filter(sha256=sha256)
            .first()
        )
        if existing is not None:
            return _existing(existing, flow_id=flow_id, version=version,
                             shown_from=shown_from, shown_until=shown_until)  # fmt: skip
        return _record(
            actor=actor, path=path, name=name, sha256=sha256, size=size, kind=kind,
            media_type=media_type, flow_id=flow_id, version=version, source=source,
            shown_from=shown_from, shown_until=shown_until,
        )  # fmt: skip
    finally:
        path.unlink(missing_ok=True)


def _existing(screen: AssentScreen, *, flow_id, version, shown_from, shown_until):
    same = (
        screen.flow_id == flow_id
        and screen.terms_version_id == (version.pk if version else None)
        and screen.shown_from == shown_from
        and screen.shown_until == shown_until
    )
    if not same:
        raise AssentScreenError(
            f"this file (SHA-256 {screen.sha256}) is already on record as screen "
            f"{screen.pk} of flow {screen.flow_id!r} with a different description; a file "
            "shows one screen",
            field="file",
        )
    return _result(screen, created=False)


def _record(*, actor, path, name, sha256, size, kind, media_type, flow_id, version, source,
            shown_from, shown_until) -> AssentScreenResult:  # fmt: skip
    item_kind = (
        EvidenceItem.Kind.SCREENSHOT
        if kind == AssentScreen.Kind.SCREENSHOT
        else EvidenceItem.Kind.SIGNUP_FLOW
    )
    item = None
    try:
        with transaction.atomic():
            item = evidence_item_keep(
                actor=actor, path=path, file_name=name, kind=item_kind, source=source,
                description=f"{kind.label} of sign-up flow {flow_id}",
            )  # fmt: skip
            if item.sha256 != sha256:  # the file changed between reading and keeping
                raise AssentScreenError("the file changed while it was taken in", field="file")
            screen = AssentScreen.objects.create(
                item=item, sha256=sha256, kind=kind, media_type=media_type, flow_id=flow_id,
                terms_version=version, shown_from=shown_from, shown_until=shown_until,
                recorded_at=timezone.now(),
            )  # fmt: skip
            linked = AssentRecord.objects.filter(screenshot_sha256=sha256).count()
            assent_screen_linked(actor=actor, screen=screen, assent_records=linked)
    except BaseException:
        if item is not None:
            item.file.delete(save=False)  # no orphan file for rows that were rolled back
        raise
    return _result(screen, created=True, linked=linked)


def _result(screen: AssentScreen, *, created: bool, linked: int | None = None):
    version = screen.terms_version
    return AssentScreenResult(
        screen=screen.pk,
        evidence_item=screen.item_id,
        sha256=screen.sha256,
        size=screen.item.size,
        media_type=screen.media_type,
        kind=screen.kind,
        flow_id=screen.flow_id,
        terms_version=f"{version.document.slug}:{version.label}" if version else None,
        shown_from=screen.shown_from.isoformat() if screen.shown_from else None,
        shown_until=screen.shown_until.isoformat() if screen.shown_until else None,
        assent_records=linked if linked is not None else screen.assent_records().count(),
        created=created,
    )
