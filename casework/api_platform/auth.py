"""Who may call the API, with what scope, and how often.

Machines authenticate with `Authorization: Bearer pacta_...` (an `ApiToken`) and may do
only what their token's scopes allow; a view states the scope each method needs in
`required_scopes`, and a view that states none refuses tokens altogether, so a new
endpoint is closed to machines until someone decides otherwise. People signed in to the
web UI (session) are not scope-limited: what they may see is decided by selectors.

Every DRF view must keep `ScopePermission` among its permission classes (the default):
a view that replaces the defaults without it would let any token through.
`tests/casework/test_tokens.py` checks every API view in the URL map for it.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

from casework.api_platform.tokens import TOKEN_PREFIX, api_token_find, api_token_mark_used
from casework.models import ApiToken

KEYWORD = b"bearer"


class ScopedTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer pacta_...`: the token's user, with the token as `request.auth`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None  # not ours: let session authentication try
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <token>'."
            )
        try:
            plaintext = parts[1].decode("ascii")
        except UnicodeDecodeError:
            plaintext = ""
        if not plaintext.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed(
                f"Not a Pacta API token (they start with {TOKEN_PREFIX!r})."
            )
        token = api_token_find(plaintext=plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown API token.")
        refusal = token.refusal(at=timezone.now())
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Being first among the authentication classes, this makes DRF answer 401 (with
        # this challenge) rather than 403 when credentials are missing or refused.
        return "Bearer"


def required_scope(view, method: str) -> str | None:
    """The scope `view` asks of a token for `method`, or None when it accepts no token."""
    required = getattr(view, "required_scopes", None)
    if required is None or isinstance(required, str):
        return required
    if method == "HEAD" and "HEAD" not in required:
        method = "GET"  # Django answers HEAD with the GET handler
    return required.get(method)


class ScopePermission(BasePermission):
    """A token may call a view only with the scope the view requires for the method."""

    message = "This API token may not be used here."
    code = "missing_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # a person's session: not scope-limited
        if not hasattr(view, request.method.lower()):
            return True  # no handler: the view answers 405, which tells the client more
        needed = required_scope(view, request.method)
        if needed is None:
            self.message = (
                f"This endpoint does not accept API tokens for {request.method} requests."
            )
            self.code = "token_not_accepted"
            return False
        if needed not in token.scopes:
            self.message = (
                f"This API token lacks the '{needed}' scope that {request.method} here "
                f"requires (it has: {', '.join(token.scopes)})."
            )
            return False
        return True


class _LiveRatesMixin:
    """Read the rates from the settings on every request, not once at import.

    DRF's throttles copy the rates when the module is imported, so a changed setting
    (in tests, or a reloaded configuration) would otherwise be ignored.
    """

    @property
    def THROTTLE_RATES(self):  # the attribute name DRF reads
        return api_settings.DEFAULT_THROTTLE_RATES


class EndpointRateThrottle(_LiveRatesMixin, ScopedRateThrottle):
    """Per user, per group of endpoints named by the view's `throttle_scope` (e.g. "ingest")."""


class TokenRateThrottle(_LiveRatesMixin, UserRateThrottle):
    """Per user, over every request made with an API token (rate "token").

    Machines are throttled together per user, whatever the number of tokens they hold;
    people using the web UI are not counted here.
    """

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return None
        return super().get_cache_key(request, view)
