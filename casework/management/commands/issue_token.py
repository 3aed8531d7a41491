"""`manage.py issue_token USERNAME --scope S [--scope S ...] [--days N] [--name NAME] [--json]`.

Prints the token once: only its SHA-256 is kept, so it cannot be shown again. Exit status
2 on usage errors (unknown user or scope, bad --days).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from casework.api_platform.tokens import api_token_issue
from casework.models import ApiScope
from evidence.custody.canonical import utc_iso
from evidence.management.base import PactaCommand, UsageError


class Command(PactaCommand):
    help = "Issue an API token with the given scopes to a user and print it (once)."

    def arguments(self, parser) -> None:
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            required=True,
            metavar="SCOPE",
            help=f"One of {', '.join(ApiScope.values)}; repeat for several.",
        )
        parser.add_argument(
            "--days", type=int, default=None, help="Expire after N days (default: never)."
        )
        parser.add_argument("--name", default="", help="What the token is for, shown in lists.")

    def run(self, *, username: str, scopes: list[str], days: int | None, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            self.usage_error(f"USERNAME {username}: no such user")
        unknown = sorted(set(scopes) - set(ApiScope.values))
        if unknown:
            self.usage_error(
                f"--scope {', '.join(unknown)}: unknown scope; use {', '.join(ApiScope.values)}"
            )
        if days is not None and days < 1:
            self.usage_error(f"--days {days}: must be at least 1 (omit it for no expiry)")
        try:
            token, plaintext = api_token_issue(
                actor="system:cli",
                user=user,
                name=name or f"{'+'.join(sorted(set(scopes)))} token for {username}",
                scopes=scopes,
                days=days,
            )
        except ValidationError as exc:
            raise UsageError(" ".join(exc.messages)) from exc
        expires = utc_iso(token.expires_at) or None
        document = {
            "token": plaintext,
            "prefix": token.prefix,
            "user": username,
            "name": token.name,
            "scopes": token.scopes,
            "expires_at": expires,
        }
        self.done(
            document,
            text=[
                plaintext,
                f"Issued token {token.prefix}… ({token.name}) to {username}: scopes "
                f"{', '.join(token.scopes)}; "
                f"{'expires ' + expires if expires else 'never expires'}.\n"
                "It is shown this once and cannot be recovered; revoke it with "
                f"`manage.py revoke_token {token.prefix}`.",
            ],
        )
