"""What a view reads from its URL, strictly: the validated query parameters of a list view,
whole-number parameters, the `pacta_text` path segment and the `pacta_account` account id.
"""

from __future__ import annotations

import re

from rest_framework import serializers

from evidence.api.errors import bad_parameter


def query_parameters(serializer_class: type[serializers.Serializer], request) -> dict:
    """The query parameters a list view takes, validated: a bad one is a 400 naming it."""
    # A plain dict, not the QueryDict: DRF reads "" in a QueryDict as "not given", which
    # would let `?since=` or `?band=` through unchecked.
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return {name: value for name, value in query.validated_data.items() if value not in ("", None)}


_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_ID = 2**63 - 1


def query_int(request, name: str, *, default: int, maximum: int, minimum: int = 0) -> int:
    """A non-negative integer parameter, strictly: "abc", "-1" or "1e3" is a 400, not ignored."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise bad_parameter(name, f"{name} must be a whole number from {minimum} to {maximum}.")
    return int(raw)


class TextConverter:
    """A path segment that PostgreSQL can compare: no slash, no NUL byte."""

    regex = r"[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class AccountIdConverter:
    """An account id as the rest of the path: anything but a NUL byte, `/` included.

    Account ids are the provider's, not Pacta's, and may hold a `/`, a space, `%`, `?`,
    `#` or any other character. A client sends the id percent-encoded (`acct%2F1` for
    `acct/1`, `acct%3Fx%3D1` for `acct?x=1`); the server decodes it before routing, so a
    segment that stopped at `/` would never reach an id holding one.
    """

    regex = r"[^\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
