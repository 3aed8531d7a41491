"""`python manage.py revoke_token PREFIX [--json]`: stop a token from working, from now on.

PREFIX is the token's first 12 characters, as `issue_token` printed them (the whole token
also works, and is the way to name one of two tokens sharing a prefix). Exit status 2 when
no token, or more than one, matches.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from casework.api_platform.tokens import api_token_find, api_token_revoke
from casework.models import ApiToken
from evidence.custody.canonical import utc_iso


class Command(BaseCommand):
    help = "Revoke the API token with the given prefix."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix", metavar="PREFIX")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args, prefix: str, **options):
        if len(prefix) > ApiToken.PREFIX_LENGTH:
            # The whole token: found by its hash, and never echoed back.
            found = api_token_find(plaintext=prefix)
            tokens = [found] if found else []
            prefix = prefix[: ApiToken.PREFIX_LENGTH]
        else:
            tokens = list(ApiToken.objects.select_related("user").filter(prefix=prefix)[:2])
        if not tokens:
            raise CommandError(f"PREFIX {prefix}: no token has this prefix", returncode=2)
        if len(tokens) > 1:
            raise CommandError(
                f"PREFIX {prefix}: several tokens share this prefix; pass the whole token",
                returncode=2,
            )
        already = tokens[0].revoked_at is not None
        token = api_token_revoke(actor="system:cli", token=tokens[0])
        if options["json"]:
            document = {
                "prefix": token.prefix,
                "user": token.user.get_username(),
                "name": token.name,
                "revoked_at": utc_iso(token.revoked_at),
                "already_revoked": already,
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        verb = "was already revoked" if already else "revoked"
        self.stdout.write(
            f"Token {token.prefix}… ({token.name}, {token.user.get_username()}) {verb} "
            f"at {utc_iso(token.revoked_at)}."
        )
