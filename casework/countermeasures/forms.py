"""Forms of the case page's countermeasures: they parse input; the services decide."""

from __future__ import annotations

import re

from django import forms

from casework.countermeasures.models import EnforcementAction, Notice
from casework.countermeasures.notices import LONGEST_PERIOD_DAYS
from casework.forms import ClausesOffered, clauses_offer
from evidence.models import Clause

SEPARATORS = re.compile(r"[\s,]+")


def _split(value: str) -> list[str]:
    return [x for x in SEPARATORS.split(value or "") if x]


class ActionProposeForm(forms.Form):
    kind = forms.ChoiceField(choices=EnforcementAction.Kind.choices, label="Action")
    clause = forms.ModelChoiceField(queryset=Clause.objects.none(), label="Under clause")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The conduct that calls for this action, in plain words.",
    )
    effective_at = forms.DateTimeField(label="Effective", help_text="UTC, YYYY-MM-DD HH:MM")
    accounts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Account ids of the case, separated by commas, spaces or new lines.",
    )
    key_ids = forms.CharField(required=False, label="API key ids")
    payment_fingerprints = forms.CharField(required=False)
    address_ranges = forms.CharField(required=False, help_text="CIDR, e.g. 203.0.113.0/24")

    def __init__(self, *args, clauses: ClausesOffered | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if clauses is not None:
            clauses_offer(
                self.fields["clause"],
                clauses,
                label=lambda c: f"§{c.path} ({c.version__label}) {c.text[:80]}",
            )

    def clean_accounts(self) -> list[str]:
        return _split(self.cleaned_data["accounts"])

    def clean_key_ids(self) -> list[str]:
        return _split(self.cleaned_data["key_ids"])

    def clean_payment_fingerprints(self) -> list[str]:
        return _split(self.cleaned_data["payment_fingerprints"])

    def clean_address_ranges(self) -> list[str]:
        return _split(self.cleaned_data["address_ranges"])


class NoticeForm(forms.Form):
    kind = forms.ChoiceField(choices=Notice.Kind.choices, label="Notice")
    to = forms.EmailField(label="Respondent's email")
    cure_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=LONGEST_PERIOD_DAYS,
        help_text="Notice of breach: days to cure (default from settings).",
    )
    response_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=LONGEST_PERIOD_DAYS,
        help_text="Cease-and-desist or preservation: days to answer.",
    )


class ActionSendForm(forms.Form):
    channel = forms.ChoiceField(label="Send by")

    def __init__(self, *args, webhook: bool, **kwargs) -> None:
        """`webhook`: whether a platform webhook is configured (else only the CSV file)."""
        super().__init__(*args, **kwargs)
        choices = [("csv", "CSV file for the platform's team")]
        if webhook:
            choices.insert(0, ("webhook", "Signed webhook"))
        self.fields["channel"].choices = choices


class ActionConfirmForm(forms.Form):
    platform_reference = forms.CharField(
        max_length=200,
        label="Platform's reference",
        help_text="The platform's reference for the act (ticket, job or change id).",
    )


class ActionReverseForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for reversal",
        help_text="Why the action is undone (a mistaken block, a cured breach).",
    )
