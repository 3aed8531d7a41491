"""The elements checklist's JSON shapes (issue #18), for the API and its schema: one
allegation's elements and flags, and the case's checklist. Read-only; the rule is
`casework.elements`."""

from __future__ import annotations

from rest_framework import serializers

from casework.elements import ELEMENTS, STATUS_LABELS
from casework.serializers import AllegationSerializer


class ElementReferenceSerializer(serializers.Serializer):
    exhibit = serializers.CharField(
        allow_null=True,
        help_text="The report exhibit holding the rows, by its file name in the counsel "
        "edition (null when the support is a statement of a report section).",
    )
    what = serializers.CharField(help_text="What the rows are, in words.")
    rows = serializers.IntegerField(allow_null=True, help_text="How many rows (or items).")
    key = serializers.CharField(help_text="The column the keys name (account_id, detector …).")
    keys = serializers.ListField(
        child=serializers.CharField(), help_text="The first keys of the rows (20 at most)."
    )
    section = serializers.CharField(help_text="The report section that states it, if any.")


class ElementSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=[k for k, _ in ELEMENTS])
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=list(STATUS_LABELS))
    status_label = serializers.CharField()
    statement = serializers.CharField(
        help_text="What supports the element, or why it is not supported."
    )
    references = ElementReferenceSerializer(many=True)


class FlagSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "assent_before_effective",
            "no_assent",
            "no_supporting_finding",
            "circumvention_without_limits",
            "theory_duplicated",
        ]
    )
    label = serializers.CharField()
    statement = serializers.CharField()
    accounts = serializers.ListField(
        child=serializers.CharField(), help_text="The first accounts flagged (20 at most)."
    )
    accounts_total = serializers.IntegerField()


class AllegationChecklistSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    path = serializers.CharField()
    document = serializers.CharField()
    version = serializers.CharField()
    category = serializers.CharField()
    elements = ElementSerializer(many=True, help_text="The six elements, in order.")
    flags = FlagSerializer(many=True)


class CaseChecklistSerializer(serializers.Serializer):
    allegations = AllegationChecklistSerializer(many=True)
    flags = FlagSerializer(many=True, help_text="Flags on the case's accounts (formation).")


class AllegationDetailSerializer(AllegationSerializer):
    """An allegation with its elements checklist: the list's fields and three more."""

    elements = ElementSerializer(many=True, read_only=True)
    flags = FlagSerializer(many=True, read_only=True)
    case_flags = FlagSerializer(many=True, read_only=True)

    class Meta(AllegationSerializer.Meta):
        fields = [*AllegationSerializer.Meta.fields, "elements", "flags", "case_flags"]
        read_only_fields = fields
