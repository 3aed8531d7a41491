"""Issuing, finding and revoking the API tokens machines use (see `casework.api_platform.auth`).

Issue and revoke each write a ledger entry in the same transaction: who could ingest
records, from when to when, is part of the chain of custody of everything they sent.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from casework.models import ApiScope, ApiToken, validate_api_scopes
from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.custody import events
from evidence.custody.ledger import Actor

TOKEN_PREFIX = "pacta_"  # noqa: S105 - the public marker every token starts with, not a secret
# last_used_at is for people reviewing tokens, not evidence: a minute's precision spares
# a database write on every request of a busy machine.
LAST_USED_PRECISION = timedelta(minutes=1)


def api_token_sha256(plaintext: str) -> str:
    """What is stored of a token: the hex SHA-256 of all of it."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def api_token_issue(
    *, actor: Actor, user, name: str, scopes: Iterable[str], days: int | None
) -> tuple[ApiToken, str]:
    """Create a token for `user` and return it with its plaintext, which is never seen again.

    `days` None means the token never expires. Raises ValidationError naming the bad value.
    """
    scopes = sorted(set(scopes))
    validate_api_scopes(scopes)
    if days is not None and days < 1:
        raise ValidationError(f"days must be at least 1 (got {days})", code="invalid")
    if not user.is_active:
        raise ValidationError(f"user {user.get_username()} is inactive", code="invalid")
    if ApiScope.INGEST in scopes and not record_writer(user):
        raise ValidationError(
            f"user {user.get_username()} may not ingest: an ingest token is for the "
            f"{', '.join(RECORD_WRITER_ROLES)} roles",
            code="invalid",
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=plaintext[: ApiToken.PREFIX_LENGTH],
            key_sha256=api_token_sha256(plaintext),
            scopes=scopes,
            expires_at=now + timedelta(days=days) if days is not None else None,
        )
        events.api_token_issued(actor=actor, token=token)
    return token, plaintext


def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke `token` from now on. Revoking it again changes nothing and records nothing."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        events.api_token_revoked(actor=actor, token=token)
    return token


def api_token_find(*, plaintext: str) -> ApiToken | None:
    """The token whose SHA-256 matches, whatever its state (the caller decides what to refuse).

    Looking up by hash rather than comparing secrets leaks nothing through timing: an
    attacker cannot choose the bytes of the hash being compared.
    """
    return (
        ApiToken.objects.select_related("user")
        .filter(key_sha256=api_token_sha256(plaintext))
        .first()
    )


def api_token_mark_used(*, token: ApiToken) -> None:
    """Record when the token was last used, at most once a minute."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)
    token.last_used_at = now
