"""The case page's enforcement steps after approval: hand an action to the platform (by
webhook or CSV file), record the platform's confirmation, reverse an action, and download
the CSV file the platform's team reads. Thin: each parses its form and calls the service
that checks the step and ledgers it (`services`, `handoff`)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from casework.countermeasures.forms import ActionConfirmForm, ActionReverseForm, ActionSendForm
from casework.countermeasures.handoff import actions_export_csv, webhook_configured
from casework.countermeasures.models import EnforcementAction
from casework.countermeasures.services import (
    ActionError,
    action_confirm,
    action_reverse,
    action_send,
)
from casework.permissions import MANAGE, case_require
from casework.selectors import case_get


def _section(case) -> HttpResponse:
    return redirect(f"{reverse('case_detail', args=[case.reference])}#countermeasures-heading")


def _action(request: HttpRequest, reference: str, pk: int):
    """The case (404 for non-members) and its action, for someone who may manage it."""
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, MANAGE)
    return case, get_object_or_404(EnforcementAction, case=case, pk=pk)


def _posted(request: HttpRequest, form_class, **kwargs) -> dict | None:
    """The form's cleaned data, or None after a message naming each field at fault."""
    form = form_class(request.POST, **kwargs)
    if form.is_valid():
        return form.cleaned_data
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else "form"
        messages.error(request, f"{label}: {' '.join(errors)}")
    return None


def _step(request: HttpRequest, case, step, done: str, **arguments) -> HttpResponse:
    try:
        action = step(actor=request.user, **arguments)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{action.get_kind_display()} {done}.")
    return _section(case)


@login_required
@require_POST
def case_action_send(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case, action = _action(request, reference, pk)
    data = _posted(request, ActionSendForm, webhook=webhook_configured())
    if data is None:
        return _section(case)
    done = (
        "handed to the platform by signed webhook"
        if data["channel"] == "webhook"
        else "marked sent by CSV file: download the file for the platform's team"
    )
    return _step(request, case, action_send, done, action=action, channel=data["channel"])


@login_required
@require_POST
def case_action_confirm(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case, action = _action(request, reference, pk)
    data = _posted(request, ActionConfirmForm)
    if data is None:
        return _section(case)
    given = data["platform_reference"]
    done = f"confirmed by the platform ({given})"
    return _step(request, case, action_confirm, done, action=action, platform_reference=given)


@login_required
@require_POST
def case_action_reverse(request: HttpRequest, reference: str, pk: int) -> HttpResponse:
    case, action = _action(request, reference, pk)
    data = _posted(request, ActionReverseForm)
    if data is None:
        return _section(case)
    return _step(request, case, action_reverse, "reversed", action=action, reason=data["reason"])


@login_required
@require_POST
def case_actions_csv(request: HttpRequest, reference: str) -> HttpResponse:
    """The case's actions past proposal as the CSV file the platform's team reads; the
    export is ledgered with the file's SHA-256 (the file that left is the one recorded)."""
    case = case_get(user=request.user, reference=reference)
    case_require(request.user, case, MANAGE)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    name = f"{re.sub(r'[^A-Za-z0-9._-]', '_', case.reference)}-actions-{stamp}.csv"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / name
        try:
            actions_export_csv(actor=request.user, case=case, out=out)
        except ActionError as exc:
            messages.error(request, str(exc))
            return _section(case)
        body = out.read_bytes()
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
