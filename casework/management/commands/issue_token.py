"""`manage.py issue_token USERNAME --scope S [--scope S ...] [--days N] [--name NAME] [--json]`.

Prints the token once: only its SHA-256 is kept, so it cannot be shown again. Exit status
2 on usage errors (unknown user or scope, bad --days).
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from casework.api_platform.tokens import api_token_issue
from casework.models import ApiScope
from evidence.custody.canonical import utc_iso


class Command(BaseCommand):
    help = "Issue an API token with the given scopes to a user and print it (once)."

    def add_arguments(self, parser) -> None:
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
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(
        self, *args, username: str, scopes: list[str], days: int | None, name: str, **options
    ):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"USERNAME {username}: no such user", returncode=2)
        unknown = sorted(set(scopes) - set(ApiScope.values))
        if unknown:
            raise CommandError(
                f"--scope {', '.join(unknown)}: unknown scope; use {', '.join(ApiScope.values)}",
                returncode=2,
            )
        if days is not None and days < 1:
            raise CommandError(
                f"--days {days}: must be at least 1 (omit it for no expiry)", returncode=2
            )
        try:
            token, plaintext = api_token_issue(
                actor="system:cli",
                user=user,
                name=name or f"{'+'.join(sorted(set(scopes)))} token for {username}",
                scopes=scopes,
                days=days,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=2) from exc
        expires = utc_iso(token.expires_at) or None
        if options["json"]:
            document = {
                "token": plaintext,
                "prefix": token.prefix,
                "user": username,
                "name": token.name,
                "scopes": token.scopes,
                "expires_at": expires,
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        self.stdout.write(plaintext)
        self.stdout.write(
            f"Issued token {token.prefix}… ({token.name}) to {username}: scopes "
            f"{', '.join(token.scopes)}; {'expires ' + expires if expires else 'never expires'}.\n"
            "It is shown this once and cannot be recovered; revoke it with "
            f"`manage.py revoke_token {token.prefix}`."
        )
