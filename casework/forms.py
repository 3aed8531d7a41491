"""Forms for the case pages. They parse and validate input; services do the work."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from casework.models import CaseAccount, CaseRole
from evidence.models import Account, Band, Clause, ClauseCategory
from evidence.terms.services import REASON_MAX

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


@dataclass
class ClausesOffered:
    """The clauses a picker offers: `queryset`, those it accepts, and `rows`, what it lists
    of each (id, path, category, text, version label), read once for every picker shown.

    The case page offers the clauses in force in two pickers (an allegation, an action); a
    ModelChoiceField reads them, each with its version and document as models, once for
    each picker: some 20 ms of the page's 85 ms of CPU at 5,000 accounts (issue #20)."""

    queryset: QuerySet[Clause]

    @functools.cached_property
    def rows(self) -> list:
        fields = ("pk", "path", "category", "text", "version__label")
        return list(self.queryset.values_list(*fields, named=True))


CATEGORY_LABELS = dict(ClauseCategory.choices)


def clauses_offer(field: forms.ModelChoiceField, clauses: ClausesOffered, *, label) -> None:
    """Make `field` a picker of `clauses`, `label` naming each of its rows."""
    field.queryset = clauses.queryset
    empty = [] if field.empty_label is None else [("", field.empty_label)]
    # A callable: the rows are read when a form is shown, not when it is only validated.
    field.choices = lambda: [*empty, *((row.pk, label(row)) for row in clauses.rows)]


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

    def __init__(self, *args, clauses: ClausesOffered | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if clauses is not None:
            clauses_offer(
                self.fields["clause"],
                clauses,
                label=lambda c: (
                    f"§{c.path} [{CATEGORY_LABELS.get(c.category, c.category)}] {c.text[:90]}"
                ),
            )

    def clean_evidence_items(self) -> list[int]:
        """The ids as numbers; whether each may be cited is the service's rule."""
        return _ids(self.cleaned_data["evidence_items"], what="an evidence file id")


def _ids(value: str, *, what: str, most: int = 1000) -> list[int]:
    """Ids typed as a list (commas, spaces or new lines) as numbers, the bad ones named."""
    ids = [x for x in re.split(r"[\s,]+", value) if x]
    bad = [x for x in ids if not re.fullmatch(r"[0-9]{1,18}", x)]
    if bad:
        raise forms.ValidationError(f"Not {what}: {', '.join(bad[:10])}")
    if len(ids) > most:
        raise forms.ValidationError(f"At most {most:,} at a time.")
    return [int(x) for x in ids]


def _names(value: str, *, most: int = 100) -> list[str]:
    """Names typed as a comma-separated list, blanks dropped."""
    names = [x.strip() for x in value.split(",") if x.strip()]
    if len(names) > most:
        raise forms.ValidationError(f"At most {most} at a time.")
    return names


class OutputEvidenceForm(forms.Form):
    """Evidence that the outputs were used, attached to the case (`case_output_evidence_attach`
    says which ids are accepted)."""

    probe_batches = forms.CharField(
        required=False,
        label="Probe batches",
        help_text="Ingest batch ids of probe transcripts (`ingest probes`).",
    )
    claim_targets = forms.CharField(
        required=False,
        max_length=2000,
        label="Targets whose identity claims to count",
        help_text="Probed models, comma-separated, as named in the transcripts.",
    )
    canary_matches = forms.CharField(
        required=False,
        label="Canary matches",
        help_text="Match ids (`canary_match`).",
    )
    names = forms.CharField(
        required=False,
        max_length=2000,
        label="Provider names",
        help_text="The names the claims are counted with, comma-separated; blank for the "
        "configured ones (PACTA_PROVIDER_NAMES).",
    )

    def clean_probe_batches(self) -> list[int]:
        return _ids(self.cleaned_data["probe_batches"], what="a batch id")

    def clean_canary_matches(self) -> list[int]:
        return _ids(self.cleaned_data["canary_matches"], what="a canary match id")

    def clean_claim_targets(self) -> list[str]:
        return _names(self.cleaned_data["claim_targets"])

    def clean_names(self) -> list[str] | None:
        return _names(self.cleaned_data["names"]) or None

    def clean(self):
        data = super().clean()
        if not self.errors and not any(
            data.get(f) for f in ("probe_batches", "claim_targets", "canary_matches")
        ):
            raise forms.ValidationError("Name a probe batch, a target or a canary match.")
        return data


class ClauseCategoryForm(forms.Form):
    category = forms.ChoiceField(choices=ClauseCategory.choices)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX,
        help_text="Why this category: it decides which findings support an allegation under "
        "the clause. The reason goes into the ledger.",
    )


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
