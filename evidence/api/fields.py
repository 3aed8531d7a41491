"""Strict serializer fields for both apps' APIs: body fields that refuse what DRF would coerce,
and query-parameter fields that read only what the schema promises.

DRF coerces (0 becomes "0", "yes" becomes True, "20260105T0000Z" a date). The schema
promises types, and a client that sends the wrong one should hear so, not be guessed at.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Text PostgreSQL can store (no NUL) with something in it besides white space.
TEXT = r"^[^\x00]*\S[^\x00]*$"
TEXT_OR_EMPTY = r"^[^\x00]*$"
RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class StrictCharField(serializers.CharField):
    """A JSON string, never a coerced number, matching `pattern` when one is given (and
    without a NUL character in any case: DRF refuses those, PostgreSQL cannot store them)."""

    def __init__(self, *, pattern: str | None = TEXT, **kwargs) -> None:
        super().__init__(**kwargs)
        if pattern is not None:
            self.validators.append(
                RegexValidator(pattern, message="Must contain text (and no NUL character).")
            )

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        # The schema's maxLength is of the string as sent: check it before DRF trims
        # surrounding whitespace, or a too-long value would pass once trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """A StrictCharField without a pattern still promises no NUL: said with `not`, because a
    blank-able field with a `pattern` is wrapped by drf-spectacular in a `oneOf` that the
    empty string matches twice (i.e. not at all). Length and pattern come from validators."""

    target_class = StrictCharField

    def map_serializer_field(self, auto_schema, direction):
        if any(isinstance(v, RegexValidator) for v in self.target.validators):
            return {"type": "string"}
        return {"type": "string", "not": {"pattern": "\\x00"}}


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false, nothing else."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string of digits, a float or a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.DATETIME)
class Rfc3339Field(serializers.Field):
    """An RFC 3339 date-time with its offset (`2026-01-05T10:00:00Z`), as the schema says.

    With `clamp`, a time beyond what can be expressed in UTC (year 1 at +14:00) becomes the
    earliest or latest instant: right for the bound of a search window, wrong for a stored
    value, which is refused instead.
    """

    default_error_messages = {
        "invalid": "Use an RFC 3339 date-time with its UTC offset, e.g. 2026-01-05T10:00:00Z.",
        "overflow": "This date-time is out of range in UTC.",
    }

    def __init__(self, *, clamp: bool = False, **kwargs) -> None:
        self.clamp = clamp
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> dt.datetime:
        match = RFC3339.fullmatch(data) if isinstance(data, str) else None
        if match is None:
            self.fail("invalid")
        fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
        second = int(match["s"])
        zone = "+00:00" if match["zone"] in "Zz" else match["zone"]
        if second == 60:  # a leap second: the instant is the end of that minute
            second, fraction = 59, "999999"
        try:
            value = dt.datetime.fromisoformat(
                f"{match['date']}T{match['h']}:{match['m']}:{second:02d}.{fraction}{zone}"
            )
        except ValueError:
            self.fail("invalid")
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            if not self.clamp:
                self.fail("overflow")
            return (dt.datetime.min if value.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)

    def to_representation(self, value) -> str:
        return value.isoformat()


_QUERY_INTEGER = re.compile(r"[0-9]{1,19}")


@extend_schema_field(OpenApiTypes.INT)
class QueryIntegerField(serializers.IntegerField):
    """A query parameter of ASCII digits only: "1e3", " 5" or "+5" is refused, not read."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not _QUERY_INTEGER.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(serializers.Field):
    """`true` or `false`, as the schema writes a boolean in a query string."""

    default_error_messages = {"invalid": "Use true or false."}
    VALUES = {"true": True, "false": False}

    def to_internal_value(self, data) -> bool:
        if data not in self.VALUES:
            self.fail("invalid")
        return self.VALUES[data]


@extend_schema_field({"type": "string", "pattern": TEXT_OR_EMPTY})
class QueryTextField(serializers.Field):
    """An exact-match text filter: blank means no filter; no NUL (PostgreSQL refuses it).

    A plain Field with its schema given whole: drf-spectacular describes a blank-able
    CharField with a pattern as a `oneOf` that the empty string matches twice (so not at
    all). A value longer than any stored one simply matches nothing.
    """

    default_error_messages = {"invalid": "Must be text without a NUL character."}

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, **kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return data

    def to_representation(self, value) -> str:
        return value
