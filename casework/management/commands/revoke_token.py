"""`python manage.py revoke_token PREFIX [--json]`: stop a token from working, from now on.

PREFIX is the token's first 12 characters, as `issue_token` printed them (the whole token
also works, and is the way to name one of two tokens sharing a prefix). Exit status 2 when
no token, or more than one, matches.
"""

from __future__ import annotations

from casework.api_platform.tokens import api_token_find, api_token_revoke
from casework.models import ApiToken
from evidence.custody.canonical import utc_iso
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Revoke the API token with the given prefix."

    def arguments(self, parser) -> None:
        parser.add_argument("prefix", metavar="PREFIX")

    def run(self, *, prefix: str, **options) -> None:
        if len(prefix) > ApiToken.PREFIX_LENGTH:
            # The whole token: found by its hash, and never echoed back.
            found = api_token_find(plaintext=prefix)
            tokens = [found] if found else []
            prefix = prefix[: ApiToken.PREFIX_LENGTH]
        else:
            tokens = list(ApiToken.objects.select_related("user").filter(prefix=prefix)[:2])
        if not tokens:
            self.usage_error(f"PREFIX {prefix}: no token has this prefix")
        if len(tokens) > 1:
            self.usage_error(
                f"PREFIX {prefix}: several tokens share this prefix; pass the whole token"
            )
        already = tokens[0].revoked_at is not None
        token = api_token_revoke(actor="system:cli", token=tokens[0])
        document = {
            "prefix": token.prefix,
            "user": token.user.get_username(),
            "name": token.name,
            "revoked_at": utc_iso(token.revoked_at),
            "already_revoked": already,
        }
        verb = "was already revoked" if already else "revoked"
        self.done(
            document,
            text=f"Token {token.prefix}… ({token.name}, {token.user.get_username()}) {verb} "
            f"at {utc_iso(token.revoked_at)}.",
        )
