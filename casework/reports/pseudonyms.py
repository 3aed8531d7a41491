"""The pseudonym key of a case's edition: drawn once, kept, ledgered (see
`casework.models.PseudonymKey` and `casework.reports.redaction`)."""

from __future__ import annotations

import secrets

from django.db import transaction

from casework.models import Case, PseudonymKey
from casework.reports.redaction import KEY_BYTES, pseudonymises
from evidence.custody import events
from evidence.custody.canonical import sha256_hex
from evidence.custody.ledger import Actor


def pseudonym_key(*, actor: Actor, case: Case, edition: str) -> bytes | None:
    """The secret the edition's pseudonyms of `case` are keyed with, drawn (and its creation
    ledgered) the first time; None for an edition that pseudonymises nothing. Two builds
    drawing at once keep one key: the unique constraint lets only one row in."""
    if not pseudonymises(edition):
        return None
    found = PseudonymKey.objects.filter(case=case, edition=edition).first()
    if found is None:
        with transaction.atomic():
            found, created = PseudonymKey.objects.get_or_create(
                case=case, edition=edition, defaults={"secret": secrets.token_bytes(KEY_BYTES)}
            )
            if created:
                events.pseudonym_key_created(
                    actor=actor, key=found, secret_sha256=sha256_hex(bytes(found.secret))
                )
    return bytes(found.secret)
