"""Handing enforcement actions to the provider's platform: a signed webhook, or a CSV file.

The webhook contract: Pacta POSTs the action as JSON to PACTA_ENFORCEMENT_WEBHOOK_URL
with `X-Pacta-Signature: sha256=<hex HMAC-SHA256 of the body under the shared secret>`
and `Idempotency-Key` (one per action and transition, the same on every retry, so the
platform acts once however often it is told). The platform answers 2xx with a JSON
object when it has carried the act out, naming its own reference for it
(`{"reference": "..."}`): that answer is the confirmation recorded. A 5xx or a broken
connection is retried with backoff; any other answer is a refusal, recorded as such.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casework.countermeasures.models import ActionHandoff, EnforcementAction
from casework.countermeasures.services import (
    ActionError,
    action_confirm,
    action_send,
    countermeasure_require,
)
from casework.models import Case
from casework.permissions import MANAGE
from evidence.custody import events
from evidence.custody.canonical import utc_iso
from evidence.custody.ledger import Actor, SystemActor

SIGNATURE_HEADER = "X-Pacta-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class HandoffTransient(RuntimeError):
    """The platform could not take the action now (5xx, no connection): try again later."""


class HandoffRefused(RuntimeError):
    """The platform refused the action, or no platform is configured: retrying won't help."""


def action_payload(*, action: EnforcementAction, transition: str) -> dict:
    """What the platform is told: the act, its targets, the clause and who decided it.

    Built from the action as recorded, never from the clock, so every retry sends the same
    bytes under the same signature and key.
    """
    clause = action.clause
    version = clause.version
    payload = {
        "action_id": action.pk,
        "case": action.case.reference,
        "transition": transition,
        "kind": action.kind,
        "targets": {
            "accounts": sorted(a.account_id for a in action.accounts.all()),
            "key_ids": action.key_ids,
            "payment_fingerprints": action.payment_fingerprints,
            "address_ranges": action.address_ranges,
        },
        "clause": {
            "document": version.document.slug,
            "version": version.label,
            "path": clause.path,
            "text_sha256": clause.text_sha256,
        },
        "reason": action.reason,
        "effective_at": utc_iso(action.effective_at),
        "proposed_by": action.proposed_by_label,
        "approved_by": action.approved_by_label,
        "approved_at": utc_iso(action.approved_at),
    }
    if transition == ActionHandoff.Transition.REVERSE:
        payload["reversed_at"] = utc_iso(action.reversed_at)
        payload["reversal_reason"] = action.reversal_reason
    return payload


def webhook_signature(*, body: bytes, secret: str) -> str:
    """The signature header's value: the platform recomputes it to know the body is ours."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(*, url: str, body: bytes, headers: dict[str, str], timeout: int) -> tuple[int, bytes]:
    # The URL's scheme was checked (http or https) before any byte is sent.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(64 * 1024)
    except (urllib.error.URLError, OSError) as exc:
        raise HandoffTransient(f"could not reach the platform at {url}: {exc}") from exc


def webhook_configured() -> bool:
    """Whether actions can be handed to the platform by webhook (else by CSV file)."""
    return bool(
        settings.PACTA_ENFORCEMENT_WEBHOOK_URL and settings.PACTA_ENFORCEMENT_WEBHOOK_SECRET
    )


def handoff_deliver(*, handoff_id: int) -> ActionHandoff:
    """POST one transition to the platform and record its answer. Safe to run twice: a
    confirmed hand-off is not sent again."""
    handoff = ActionHandoff.objects.select_related("action__case").get(pk=handoff_id)
    if handoff.status != ActionHandoff.Status.PENDING:
        return handoff
    url = settings.PACTA_ENFORCEMENT_WEBHOOK_URL
    secret = settings.PACTA_ENFORCEMENT_WEBHOOK_SECRET
    if not webhook_configured():
        raise HandoffRefused(
            "no platform webhook is configured (PACTA_ENFORCEMENT_WEBHOOK_URL and "
            "PACTA_ENFORCEMENT_WEBHOOK_SECRET): export the actions as CSV instead"
        )
    if not url.startswith(("https://", "http://")):
        raise HandoffRefused(f"PACTA_ENFORCEMENT_WEBHOOK_URL {url!r} is not an http(s) URL")
    action = handoff.action
    body = json.dumps(
        action_payload(action=action, transition=handoff.transition),
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    ActionHandoff.objects.filter(pk=handoff.pk).update(
        attempts=handoff.attempts + 1, body_sha256=hashlib.sha256(body).hexdigest()
    )
    status, answer = _post(
        url=url,
        body=body,
        headers={
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: handoff.idempotency_key,
            SIGNATURE_HEADER: webhook_signature(body=body, secret=secret),
        },
        timeout=settings.PACTA_ENFORCEMENT_WEBHOOK_TIMEOUT,
    )
    ActionHandoff.objects.filter(pk=handoff.pk).update(last_status_code=status)
    if status >= 500:
        raise HandoffTransient(f"the platform answered {status}")
    if not 200 <= status < 300:
        raise HandoffRefused(f"the platform refused the action: {status} {answer[:300]!r}")
    try:
        confirmation = json.loads(answer or b"{}")
    except ValueError:
        confirmation = {}
    if not isinstance(confirmation, dict):
        confirmation = {"answer": confirmation}
    return _record_confirmation(handoff_id=handoff.pk, confirmation=confirmation)


@transaction.atomic
def _record_confirmation(*, handoff_id: int, confirmation: dict) -> ActionHandoff:
    handoff = (
        ActionHandoff.objects.select_for_update().select_related("action__case").get(pk=handoff_id)
    )
    if handoff.status != ActionHandoff.Status.PENDING:
        return handoff
    handoff.status = ActionHandoff.Status.CONFIRMED
    handoff.confirmation = confirmation
    handoff.confirmed_at = timezone.now()
    handoff.save(update_fields=["status", "confirmation", "confirmed_at"])
    reference = str(confirmation.get("reference", ""))
    action = handoff.action
    if handoff.transition == ActionHandoff.Transition.REVERSE:
        events.enforcement_handoff_settled(handoff=handoff)
    elif action.state == EnforcementAction.State.SENT:
        action_confirm(actor=SystemActor.ENFORCEMENT, action=action, platform_reference=reference)
    return handoff


@transaction.atomic
def handoff_fail(*, handoff_id: int, reason: str) -> ActionHandoff:
    """The platform was not told (refused, or unreachable after every retry): recorded,
    so no one believes an account blocked that is not."""
    handoff = (
        ActionHandoff.objects.select_for_update().select_related("action__case").get(pk=handoff_id)
    )
    if handoff.status != ActionHandoff.Status.PENDING:
        return handoff
    handoff.status = ActionHandoff.Status.FAILED
    handoff.last_error = reason[:2000]
    handoff.save(update_fields=["status", "last_error"])
    events.enforcement_handoff_settled(handoff=handoff, reason=reason)
    return handoff


CSV_COLUMNS = (
    "action_id",
    "case",
    "kind",
    "state",
    "accounts",
    "key_ids",
    "payment_fingerprints",
    "address_ranges",
    "clause",
    "effective_at",
    "proposed_by",
    "approved_by",
    "approved_at",
    "sent_at",
    "confirmed_at",
    "platform_reference",
    "reversed_at",
    "reversal_reason",
    "reason",
)


def _csv_row(action: EnforcementAction) -> list[str]:
    version = action.clause.version
    return [
        str(action.pk),
        action.case.reference,
        action.kind,
        action.state,
        " ".join(sorted(a.account_id for a in action.accounts.all())),
        " ".join(action.key_ids),
        " ".join(action.payment_fingerprints),
        " ".join(action.address_ranges),
        f"{version.document.slug}:{version.label}:{action.clause.path}",
        utc_iso(action.effective_at),
        action.proposed_by_label,
        action.approved_by_label,
        utc_iso(action.approved_at),
        utc_iso(action.sent_at),
        utc_iso(action.confirmed_at),
        action.platform_reference,
        utc_iso(action.reversed_at),
        action.reversal_reason,
        action.reason,
    ]


def actions_export_csv(*, actor: Actor, case: Case, out: Path, send: bool = False) -> dict:
    """Write the case's actions past proposal to a CSV file for the platform's team, and
    ledger the export (file name and SHA-256). With `send`, approved actions are marked
    sent through this file, as the webhook would mark them."""
    countermeasure_require(actor, case, MANAGE)
    with transaction.atomic():
        if send:
            for action in case.enforcement_actions.filter(state=EnforcementAction.State.APPROVED):
                action_send(actor=actor, action=action, channel="csv")
        actions = list(
            case.enforcement_actions.exclude(state=EnforcementAction.State.PROPOSED)
            .select_related("case", "clause__version__document")
            .prefetch_related("accounts")
            .order_by("pk")
        )
        if not actions:
            raise ActionError(
                f"case {case.reference} has no approved actions to export", field="case"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(_csv_row(action) for action in actions)
        sha256 = hashlib.sha256(out.read_bytes()).hexdigest()
        events.enforcement_actions_exported(
            actor=actor,
            case=case,
            file_name=out.name,
            sha256=sha256,
            actions=[action.pk for action in actions],
        )
    return {"case": case.reference, "file": str(out), "sha256": sha256, "actions": len(actions)}
