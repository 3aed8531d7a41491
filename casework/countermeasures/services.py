"""The life of an enforcement action: propose, approve, send, confirm, reverse.

Each step checks who may take it and from which state, changes the row and writes its
ledger entry in one transaction, so the record never shows a step that did not happen
(nor misses one that did). A step asked for from the wrong state is refused with the
state the action is in: an action confirmed by the platform cannot be "approved" again,
and a reversed one stays reversed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from casework.countermeasures.models import ActionHandoff, EnforcementAction
from casework.models import Case
from casework.permissions import MANAGE, NOTE, holds_counsel_role
from casework.selectors import case_clauses_allegeable

# The case side's one rule of who acts on a case (a user within their case role, or a named
# system process), shared rather than written again.
from casework.services import CaseError
from casework.services import _require as countermeasure_require
from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label
from evidence.models import Account, AccountVersion, ApiKey, Clause

Kind = EnforcementAction.Kind
State = EnforcementAction.State

# The Celery task that hands a transition to the platform
# (`casework.countermeasures.tasks.action_handoff_task`), sent by name: the task module
# imports the hand-off module, which imports this one.
HANDOFF_TASK = "casework.countermeasures.tasks.action_handoff_task"

# The state each step starts from, and the one it reaches.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({State.PROPOSED}), State.APPROVED),
    "send": (frozenset({State.APPROVED}), State.SENT),
    "confirm": (frozenset({State.SENT}), State.CONFIRMED),
    "reverse": (frozenset({State.APPROVED, State.SENT, State.CONFIRMED}), State.REVERSED),
}

# Which target an action of each kind acts on; it must name at least one.
PRIMARY_TARGET = {
    Kind.WARN: "accounts",
    Kind.RATE_LIMIT: "accounts",
    Kind.REQUIRE_VERIFICATION: "accounts",
    Kind.SUSPEND: "accounts",
    Kind.TERMINATE: "accounts",
    Kind.REVOKE_KEYS: "key_ids",
    Kind.BLOCK_PAYMENT: "payment_fingerprints",
    Kind.BLOCK_RANGE: "address_ranges",
}

# A block wider than this shuts out whole providers' networks, not an operator's: refused.
WIDEST_PREFIX = {4: 16, 6: 32}

CHANNELS = ("webhook", "csv")


class ActionError(CaseError):
    """An enforcement step that cannot be taken as asked; the message says why, and
    `field` names the input at fault when there is one."""


def _user(actor: Actor):
    return None if isinstance(actor, str) or actor is None else actor


def _address_ranges(values: Iterable[str]) -> list[str]:
    """Each range as CIDR, checked: a host address with bits set past its prefix, or a
    range wide enough to block a whole network provider, is refused by its position."""
    ranges = []
    for n, value in enumerate(values, start=1):
        text = str(value).strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise ActionError(
                f"address range {n} ({text!r}) is not a CIDR range: {exc}", field="address_ranges"
            ) from None
        widest = WIDEST_PREFIX[network.version]
        if network.prefixlen < widest:
            raise ActionError(
                f"address range {n} ({text}) is wider than /{widest}: it would block "
                "addresses far beyond the respondent's. Name narrower ranges",
                field="address_ranges",
            )
        ranges.append(str(network))
    return sorted(set(ranges))


def _case_targets(
    *,
    case: Case,
    account_ids: Iterable[str],
    key_ids: Iterable[str],
    payment_fingerprints: Iterable[str],
) -> tuple[list[Account], list[str], list[str]]:
    """The accounts, keys and cards named, each of which must be the case's: an action
    never reaches an account the case has not attributed to the respondent."""
    wanted = sorted({str(a).strip() for a in account_ids if str(a).strip()})
    accounts = list(Account.objects.filter(case_links__case=case, account_id__in=wanted))
    stray = sorted(set(wanted) - {a.account_id for a in accounts})
    if stray:
        raise ActionError(
            f"account(s) {', '.join(stray)} are not attributed to case {case.reference}: "
            "attribute them first",
            field="accounts",
        )
    keys = sorted({str(k).strip() for k in key_ids if str(k).strip()})
    found = set(
        ApiKey.objects.filter(key_id__in=keys, account__case_links__case=case).values_list(
            "key_id", flat=True
        )
    )
    if set(keys) - found:
        raise ActionError(
            f"API key(s) {', '.join(sorted(set(keys) - found))} belong to no account of case "
            f"{case.reference}",
            field="key_ids",
        )
    cards = sorted({str(f).strip() for f in payment_fingerprints if str(f).strip()})
    case_accounts = Q(account__case_links__case=case)
    used = set(
        AccountVersion.objects.filter(case_accounts, payment_fingerprint__in=cards).values_list(
            "payment_fingerprint", flat=True
        )
    ) | set(
        Account.objects.filter(case_links__case=case, payment_fingerprint__in=cards).values_list(
            "payment_fingerprint", flat=True
        )
    )
    if set(cards) - used:
        raise ActionError(
            f"{len(set(cards) - used)} payment fingerprint(s) were used by no account of case "
            f"{case.reference}",
            field="payment_fingerprints",
        )
    return accounts, keys, cards


@transaction.atomic
def action_propose(
    *,
    actor: Actor,
    case: Case,
    kind: str,
    clause: Clause,
    reason: str,
    effective_at: dt.datetime,
    accounts: Iterable[str] = (),
    key_ids: Iterable[str] = (),
    payment_fingerprints: Iterable[str] = (),
    address_ranges: Iterable[str] = (),
) -> EnforcementAction:
    """Propose an action against the respondent on a clause in force during the case.

    Accounts are named by account id; each account, key and card must be the case's.
    """
    countermeasure_require(actor, case, NOTE)
    if kind not in Kind.values:
        raise ActionError(
            f"unknown action kind {kind!r}: use {', '.join(Kind.values)}", field="kind"
        )
    reason = reason.strip()
    if not reason:
        raise ActionError("state the reason: what conduct calls for this action", field="reason")
    if timezone.is_naive(effective_at):
        raise ActionError("give effective_at with its time zone", field="effective_at")
    if not case_clauses_allegeable(case=case).filter(pk=clause.pk).exists():
        raise ActionError(
            f"clause §{clause.path} of {clause.version} was not in force during case "
            f"{case.reference}: an action rests on a term the respondent was bound by",
            field="clause",
        )
    account_rows, keys, cards = _case_targets(
        case=case,
        account_ids=accounts,
        key_ids=key_ids,
        payment_fingerprints=payment_fingerprints,
    )
    ranges = _address_ranges(address_ranges)
    targets = {
        "accounts": account_rows,
        "key_ids": keys,
        "payment_fingerprints": cards,
        "address_ranges": ranges,
    }
    primary = PRIMARY_TARGET[kind]
    if not targets[primary]:
        raise ActionError(
            f"a {Kind(kind).label.lower()} needs at least one target in {primary}", field=primary
        )
    action = EnforcementAction.objects.create(
        case=case,
        kind=kind,
        clause=clause,
        reason=reason,
        key_ids=keys,
        payment_fingerprints=cards,
        address_ranges=ranges,
        effective_at=effective_at,
        proposed_by=_user(actor),
        proposed_by_label=actor_label(actor)[0],
        proposed_at=timezone.now(),
    )
    action.accounts.set(account_rows)
    events.enforcement_action_proposed(actor=actor, action=action)
    return action


def _locked(action: EnforcementAction, step: str) -> tuple[EnforcementAction, str]:
    """The action, locked for this step, and the state it is leaving; refused from any
    state the step does not start from."""
    action = (
        EnforcementAction.objects.select_for_update()
        .select_related("case", "clause__version__document")
        .get(pk=action.pk)
    )
    sources, target = TRANSITIONS[step]
    if action.state not in sources:
        allowed = " or ".join(sorted(sources))
        raise ActionError(
            f"action {action.pk} is {action.state}: it can be moved to {target} only when "
            f"{allowed}",
            field="state",
        )
    return action, action.state


@transaction.atomic
def action_approve(*, actor: Actor, action: EnforcementAction) -> EnforcementAction:
    """Approve a proposed action. Termination and blocks need a person other than the one
    who proposed them, holding counsel's role on the case."""
    action, previous = _locked(action, "approve")
    countermeasure_require(actor, action.case, MANAGE)
    if action.needs_second_approver:
        user = _user(actor)
        if user is None:
            raise PermissionDenied(
                f"a {action.get_kind_display().lower()} is approved by a person, not {actor}"
            )
        if action.proposed_by_id == user.pk:
            raise ActionError(
                f"{user.get_username()} proposed this {action.get_kind_display().lower()}: "
                "a second person must approve it",
                field="approver",
            )
        if not holds_counsel_role(user, action.case):
            raise ActionError(
                f"a {action.get_kind_display().lower()} is approved by counsel on case "
                f"{action.case.reference}; {user.get_username()} is not",
                field="approver",
            )
    action.state = State.APPROVED
    action.approved_by = _user(actor)
    action.approved_by_label = actor_label(actor)[0]
    action.approved_at = timezone.now()
    action.save(update_fields=["state", "approved_by", "approved_by_label", "approved_at"])
    events.enforcement_action_moved(actor=actor, action=action, previous=previous)
    return action


def handoff_key(*, action: EnforcementAction, transition: str) -> str:
    """The idempotency key of one transition of one action: the same on every retry.
    The case is named by a digest of its reference, so the header stays plain ASCII."""
    case_digest = hashlib.sha256(action.case.reference.encode()).hexdigest()[:16]
    return f"pacta-{case_digest}-action-{action.pk}-{transition}"


def _handoff_queue(action: EnforcementAction, transition: str) -> ActionHandoff:
    handoff, _ = ActionHandoff.objects.get_or_create(
        action=action,
        transition=transition,
        defaults={
            "idempotency_key": handoff_key(action=action, transition=transition),
            "created_at": timezone.now(),
        },
    )
    # Sent by name after commit: a worker must find the action in the state it was sent in.
    transaction.on_commit(lambda: current_app.send_task(HANDOFF_TASK, args=[handoff.pk]))
    return handoff


@transaction.atomic
def action_send(*, actor: Actor, action: EnforcementAction, channel: str = "webhook"):
    """Hand an approved action to the platform: by signed webhook (queued here, delivered
    by a task that records the platform's confirmation) or in a CSV file its team reads."""
    if channel not in CHANNELS:
        raise ActionError(
            f"unknown channel {channel!r}: use {', '.join(CHANNELS)}", field="channel"
        )
    action, previous = _locked(action, "send")
    countermeasure_require(actor, action.case, MANAGE)
    action.state = State.SENT
    action.sent_at = timezone.now()
    action.sent_via = channel
    action.save(update_fields=["state", "sent_at", "sent_via"])
    extra = {"channel": channel}
    if channel == "webhook":
        extra["idempotency_key"] = _handoff_queue(
            action, ActionHandoff.Transition.SEND
        ).idempotency_key
    events.enforcement_action_moved(actor=actor, action=action, previous=previous, extra=extra)
    return action


@transaction.atomic
def action_confirm(
    *, actor: Actor, action: EnforcementAction, platform_reference: str = ""
) -> EnforcementAction:
    """Record that the platform carried the action out, with its reference for the act."""
    action, previous = _locked(action, "confirm")
    countermeasure_require(actor, action.case, MANAGE)
    action.state = State.CONFIRMED
    action.confirmed_at = timezone.now()
    action.platform_reference = platform_reference.strip()[:200]
    action.save(update_fields=["state", "confirmed_at", "platform_reference"])
    events.enforcement_action_moved(
        actor=actor,
        action=action,
        previous=previous,
        extra={"platform_reference": action.platform_reference},
    )
    return action


@transaction.atomic
def action_reverse(*, actor: Actor, action: EnforcementAction, reason: str) -> EnforcementAction:
    """Reverse an action (a mistaken block, a cured breach), with the reason. An action the
    platform was told of is undone there too, through the same channel."""
    reason = reason.strip()
    if not reason:
        raise ActionError("state why the action is reversed", field="reason")
    action, previous = _locked(action, "reverse")
    countermeasure_require(actor, action.case, MANAGE)
    action.state = State.REVERSED
    action.reversed_at = timezone.now()
    action.reversed_by_label = actor_label(actor)[0]
    action.reversal_reason = reason
    action.save(update_fields=["state", "reversed_at", "reversed_by_label", "reversal_reason"])
    extra = {"reason": reason}
    if previous in (State.SENT, State.CONFIRMED) and action.sent_via == "webhook":
        handoff = _handoff_queue(action, ActionHandoff.Transition.REVERSE)
        extra["idempotency_key"] = handoff.idempotency_key
    events.enforcement_action_moved(actor=actor, action=action, previous=previous, extra=extra)
    return action
