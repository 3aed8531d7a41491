"""Forms for the case pages. They parse and validate input; services do the work."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model

from casework.models import CaseAccount, CaseRole
from evidence.models import Account, Band, Clause

REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,49}$")


class CaseOpenForm(forms.Form):
    reference = forms.CharField(max_length=50, help_text="e.g. PACTA-2026-001")
    title = forms.CharField(max_length=300)
    respondent = forms.CharField(max_length=300)
    window_start = forms.DateTimeField(required=False, help_text="UTC, YYYY-MM-DD HH:MM")
    window_end = forms.DateTimeField(required=False, help_text="UTC, YYYY-MM-DD HH:MM")

    def clean_reference(self) -> str:
        value = self.cleaned_data["reference"].strip()
        if not REFERENCE.match(value):
            raise forms.ValidationError(
                "Use 2-50 letters, digits, dots, dashes or underscores, starting with a "
                "letter or digit."
            )
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and start > end:
            raise forms.ValidationError("The case window must start before it ends.")
        return data


class AttributeForm(forms.Form):
    accounts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Account ids, separated by commas, spaces or new lines.",
    )
    basis = forms.ChoiceField(choices=CaseAccount.Basis.choices)
    detail = forms.CharField(required=False, max_length=2000, label="Basis in detail")

    def clean_accounts(self) -> list[Account]:
        ids = [x for x in re.split(r"[\s,]+", self.cleaned_data["accounts"]) if x]
        if not ids:
            raise forms.ValidationError("Name at least one account.")
        if len(ids) > 10_000:
            raise forms.ValidationError("At most 10,000 accounts at a time.")
        found = {a.account_id: a for a in Account.objects.filter(account_id__in=ids)}
        missing = [x for x in ids if x not in found]
        if missing:
            raise forms.ValidationError(
                f"Unknown account{'s' if len(missing) > 1 else ''}: {', '.join(missing[:10])}"
                + (" ..." if len(missing) > 10 else "")
            )
        return list(found.values())


class AllegationForm(forms.Form):
    clause = forms.ModelChoiceField(queryset=Clause.objects.none())
    theory = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The conduct, in plain words, and why it breaches the clause.",
    )
    evidence_items = forms.CharField(
        required=False,
        label="Supporting files",
        help_text="Evidence file ids, separated by commas or spaces: the case's own files, "
        "or files of the record (such as ingest rejects).",
    )

    def __init__(self, *args, clauses=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if clauses is not None:
            self.fields["clause"].queryset = clauses
            self.fields["clause"].label_from_instance = lambda c: (
                f"§{c.path} [{c.get_category_display()}] {c.text[:90]}"
            )

    def clean_evidence_items(self) -> list[int]:
        """The ids as numbers; whether each may be cited is the service's rule."""
        ids = [x for x in re.split(r"[\s,]+", self.cleaned_data["evidence_items"]) if x]
        bad = [x for x in ids if not re.fullmatch(r"[0-9]{1,18}", x)]
        if bad:
            raise forms.ValidationError(f"Not an evidence file id: {', '.join(bad[:10])}")
        if len(ids) > 1000:
            raise forms.ValidationError("At most 1,000 files at a time.")
        return [int(x) for x in ids]


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=CaseRole.choices)

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active user named {name!r}.")
        return user


class ClusterFilterForm(forms.Form):
    """The cluster list's filters; a value out of range is said beside its field."""

    band = forms.ChoiceField(
        choices=[("", "All bands"), *Band.choices], required=False, label="Band"
    )
    min_accounts = forms.IntegerField(
        min_value=1, max_value=10_000_000, required=False, label="At least (accounts)"
    )


class CaseAccountFilterForm(forms.Form):
    """Finding accounts in a case's long list: by id or organisation, and by basis."""

    find = forms.CharField(max_length=200, required=False, label="Account or organisation contains")
    basis = forms.ChoiceField(
        choices=[("", "Any basis"), *CaseAccount.Basis.choices], required=False, label="Basis"
    )
