"""Notices to the respondent: breach, termination, cease-and-desist, preservation.

A notice is generated from the case as it stands (the respondent, the clauses alleged,
each quoted in the version it rests on, the conduct with the exhibits that show it, the
actions taken), rendered and signed with the report's own helpers, kept as an evidence
file and ledgered before it leaves; sending it is then a second, separate step whose
outcome (handed to the mail server, or failed and why) is recorded as it happened. A
notice of breach gives a cure period, the other letters (but termination) a date to
answer by; the case's owners are reminded of each deadline once, when it is near or past.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, Min, Q
from django.template.loader import render_to_string
from django.utils import timezone

from casework.countermeasures.models import EnforcementAction, Notice
from casework.models import Case, CaseRole
from casework.permissions import MANAGE
from casework.reports.render import PDF_VARIANT, rendering, report_document
from casework.reports.signing import report_sign
from casework.selectors import case_damages
from casework.services import CaseError
from casework.services import _require as notice_require
from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label
from evidence.models import EvidenceItem, UsageEvent
from evidence.services import evidence_item_keep

logger = logging.getLogger(__name__)

Kind = Notice.Kind
TEMPLATE = "reports/notice.html"
# Which deadline each kind of letter sets: a breach may be cured; a cease-and-desist and a
# preservation letter ask for a written answer; a termination ends the relationship.
DEADLINE_OF = {
    Kind.BREACH: Notice.Deadline.CURE,
    Kind.CEASE_AND_DESIST: Notice.Deadline.RESPONSE,
    Kind.PRESERVATION: Notice.Deadline.RESPONSE,
}
# Letters that accuse the respondent of conduct: they rest on at least one allegation.
NEEDS_ALLEGATION = frozenset({Kind.BREACH, Kind.TERMINATION, Kind.CEASE_AND_DESIST})
# Actions a letter gives notice of: decided and not undone.
NOTIFIABLE_STATES = (
    EnforcementAction.State.APPROVED,
    EnforcementAction.State.SENT,
    EnforcementAction.State.CONFIRMED,
)
ACCOUNTS_LISTED = 50
LONGEST_PERIOD_DAYS = 365


class NoticeError(CaseError):
    """A notice that cannot be sent as asked; the message says why, and `field` names the
    input at fault."""


def _person(actor: Actor):
    """The user acting, or None for a system process."""
    return actor if getattr(actor, "is_authenticated", False) else None


def _days(value, *, field: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise NoticeError(
            f"{field} must be a whole number of days, not {value!r}", field=field
        ) from None
    if not 1 <= days <= LONGEST_PERIOD_DAYS:
        raise NoticeError(
            f"{field} must be between 1 and {LONGEST_PERIOD_DAYS} days, not {days}", field=field
        )
    return days


def _deadline(issued_at: dt.datetime, days: int) -> dt.datetime:
    """The end (23:59:59 UTC) of the day `days` days after the letter is issued."""
    day = issued_at.astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def _conduct(case: Case) -> dict:
    """The conduct in figures: the accounts, and their usage in the case window."""
    links = case.case_accounts.select_related("account").order_by("account__account_id")
    account_ids = [link.account.account_id for link in links]
    span = UsageEvent.objects.filter(account_id__in=account_ids)
    if case.window_start:
        span = span.filter(ts__gte=case.window_start)
    if case.window_end:
        span = span.filter(ts__lte=case.window_end)
    bounds = span.aggregate(first=Min("ts"), last=Max("ts"))
    usage = case_damages(case=case)
    return {
        "accounts": account_ids[:ACCOUNTS_LISTED],
        "accounts_total": len(account_ids),
        "requests": usage["requests"],
        "output_tokens": usage["output_tokens"],
        "first": bounds["first"],
        "last": bounds["last"],
    }


def _letter(case: Case, kind: str, actions: list[EnforcementAction]) -> dict:
    """What the letter says, from the case: clauses quoted, conduct, exhibits, actions."""
    allegations = list(
        case.allegations.select_related("clause__version__document")
        .prefetch_related("supporting_evidence")
        .order_by("created_at", "pk")
    )
    exhibits: dict[int, dict] = {}
    clauses: dict[int, dict] = {}
    conduct = []
    for allegation in allegations:
        clause = allegation.clause
        version = clause.version
        clauses.setdefault(
            clause.pk,
            {
                "clause": clause,
                "document": version.document.title,
                "version": version.label,
                "effective": version.effective_date,
            },
        )
        cited = []
        for item in sorted(allegation.supporting_evidence.all(), key=lambda i: i.pk):
            if item.pk not in exhibits:
                exhibits[item.pk] = {"number": len(exhibits) + 1, "item": item}
            cited.append(exhibits[item.pk]["number"])
        conduct.append({"path": clause.path, "theory": allegation.theory, "exhibits": cited})
    return {
        "clauses": list(clauses.values()),
        "conduct": conduct,
        "exhibits": list(exhibits.values()),
        "usage": _conduct(case),
        "actions": actions,
    }


def _pdf(*, html: str, notice: Notice, actor: Actor) -> EvidenceItem:
    """The letter rendered and signed as the reports are, then kept as an evidence file."""
    workdir = settings.PACTA_REPORT_WORK_DIR or None
    if workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pacta-notice-", dir=workdir) as folder:
        unsigned = Path(folder) / "unsigned.pdf"
        with rendering():
            document = report_document(html, pdf_variant=PDF_VARIANT)
            document.write_pdf(unsigned, pdf_variant=PDF_VARIANT)
        signed = Path(folder) / "notice.pdf"
        report_sign(
            source=unsigned,
            target=signed,
            reason=f"{notice.get_kind_display()} {notice.reference} to {notice.respondent}",
            location=settings.PACTA_REPORT_SIGNING_LOCATION,
        )
        return evidence_item_keep(
            actor=actor,
            path=signed,
            file_name=f"{notice.case.reference}-notice-{notice.pk}-{notice.kind}.pdf",
            kind=EvidenceItem.Kind.OTHER,
            source=f"notice {notice.reference}",
            description=f"Signed {notice.get_kind_display().lower()} to {notice.recipient}",
        )


@transaction.atomic
def notice_issue(
    *,
    actor: Actor,
    case: Case,
    kind: str,
    to: str,
    cure_days: int | None = None,
    response_days: int | None = None,
) -> Notice:
    """Generate, sign, keep and ledger a notice (not sent yet: see `notice_deliver`)."""
    notice_require(actor, case, MANAGE)
    if kind not in Kind.values:
        raise NoticeError(
            f"unknown notice kind {kind!r}: use {', '.join(Kind.values)}", field="kind"
        )
    to = (to or "").strip()
    try:
        validate_email(to)
    except ValidationError:
        raise NoticeError(f"{to!r} is not an email address", field="to") from None
    deadline_kind = DEADLINE_OF.get(kind, "")
    if cure_days is not None and kind != Kind.BREACH:
        raise NoticeError("a cure period is given in a notice of breach only", field="cure_days")
    if response_days is not None and deadline_kind != Notice.Deadline.RESPONSE:
        raise NoticeError(
            "a date to answer by is set in a cease-and-desist or preservation letter only",
            field="response_days",
        )
    if kind == Kind.BREACH:
        cure_days = _days(
            settings.PACTA_NOTICE_CURE_DAYS if cure_days is None else cure_days, field="cure_days"
        )
    if deadline_kind == Notice.Deadline.RESPONSE:
        response_days = _days(
            settings.PACTA_NOTICE_RESPONSE_DAYS if response_days is None else response_days,
            field="response_days",
        )
    if kind in NEEDS_ALLEGATION and not case.allegations.exists():
        raise NoticeError(
            f"case {case.reference} alleges no breach yet: a {Kind(kind).label.lower()} "
            "rests on the clauses alleged. Add an allegation first",
            field="kind",
        )
    actions = []
    if kind != Kind.PRESERVATION:
        actions = list(
            case.enforcement_actions.filter(state__in=NOTIFIABLE_STATES)
            .select_related("clause__version__document")
            .prefetch_related("accounts")
            .order_by("effective_at", "pk")
        )
    if kind == Kind.TERMINATION and not any(a.kind == "terminate" for a in actions):
        raise NoticeError(
            f"case {case.reference} has no approved termination: propose one and have counsel "
            "approve it before giving notice of it",
            field="kind",
        )
    issued_at = timezone.now()
    days = cure_days or response_days
    notice = Notice.objects.create(
        case=case,
        kind=kind,
        recipient=to,
        respondent=case.respondent,
        cure_days=cure_days,
        deadline_kind=deadline_kind,
        deadline_at=_deadline(issued_at, days) if days else None,
        issued_by=_person(actor),
        issued_by_label=actor_label(actor)[0],
        issued_at=issued_at,
    )
    letter = _letter(case, kind, actions)
    notice.clauses.set([c["clause"] for c in letter["clauses"]])
    notice.actions.set(actions)
    html = render_to_string(
        TEMPLATE,
        {
            "notice": notice,
            "case": case,
            "organisation": settings.PACTA_REPORT_ORGANISATION or "The provider",
            "days": days,
            **letter,
        },
    )
    notice.pdf = _pdf(html=html, notice=notice, actor=actor)
    notice.save(update_fields=["pdf"])
    events.notice_issued(actor=actor, notice=notice)
    return notice


def _message(notice: Notice, pdf: bytes, *, reply_to: list[str]) -> EmailMessage:
    deadline = ""
    if notice.deadline_at:
        label = "The cure period ends" if notice.deadline_kind == "cure" else "Please answer by"
        deadline = f"\n{label} {notice.deadline_at:%Y-%m-%d %H:%M} UTC.\n"
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "pacta.invalid"
    return EmailMessage(
        subject=f"{notice.get_kind_display()}: {notice.respondent} (ref. {notice.reference})",
        body=(
            f"To {notice.respondent},\n\nPlease find attached our "
            f"{notice.get_kind_display().lower()}, reference {notice.reference}, signed "
            f"electronically (PDF, SHA-256 {notice.pdf.sha256}).\n{deadline}\n"
            f"{settings.PACTA_REPORT_ORGANISATION or 'The provider'}, Legal\n"
        ),
        to=[notice.recipient],
        reply_to=reply_to,
        headers={"Message-ID": make_msgid(domain=domain)},
        attachments=[(notice.pdf.file_name, pdf, "application/pdf")],
    )


def notice_deliver(*, actor: Actor, notice: Notice) -> Notice:
    """Send a notice not sent yet (or whose sending failed) by email with its PDF, and
    record what happened; a failure is recorded, not raised, so it can be tried again."""
    notice = Notice.objects.select_related("case", "pdf", "issued_by").get(pk=notice.pk)
    notice_require(actor, notice.case, MANAGE)
    if notice.delivery == Notice.Delivery.SENT:
        raise NoticeError(
            f"notice {notice.reference} was sent {notice.delivered_at:%Y-%m-%d %H:%M} UTC",
            field="delivery",
        )
    user = _person(actor)
    reply_to = [user.email] if user is not None and user.email else []
    with notice.pdf.file.open("rb") as fh:
        message = _message(notice, fh.read(), reply_to=reply_to)
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any backend's failure: SMTP, network, configuration
        notice.delivery = Notice.Delivery.FAILED
        notice.delivery_error = f"{type(exc).__name__}: {exc}"
        logger.warning("notice %s could not be sent: %s", notice.reference, exc)
    else:
        notice.delivery = Notice.Delivery.SENT
        notice.delivered_at = timezone.now()
        notice.delivery_error = ""
    notice.delivery_backend = settings.EMAIL_BACKEND
    notice.message_id = message.extra_headers["Message-ID"]
    with transaction.atomic():
        notice.save(
            update_fields=[
                "delivery", "delivered_at", "delivery_error", "delivery_backend", "message_id",
            ]
        )  # fmt: skip
        events.notice_delivery_recorded(actor=actor, notice=notice)
    return notice


def notice_send(
    *,
    actor: Actor,
    case: Case,
    kind: str,
    to: str,
    cure_days: int | None = None,
    response_days: int | None = None,
) -> Notice:
    """Issue a notice and send it: the letter is on the record before it leaves."""
    notice = notice_issue(
        actor=actor, case=case, kind=kind, to=to, cure_days=cure_days,
        response_days=response_days,
    )  # fmt: skip
    return notice_deliver(actor=actor, notice=notice)


def _owners(case: Case) -> list:
    return [
        m.user
        for m in case.memberships.filter(role=CaseRole.OWNER, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("user__username")
    ]


def notice_deadlines_remind(*, now: dt.datetime | None = None) -> list[Notice]:
    """Remind the case's owners, once per deadline, of each sent notice's deadline that
    falls within `PACTA_NOTICE_REMINDER_DAYS` or has passed; returns the notices reminded.

    The reminder is marked in the transaction that sends it, with the row locked (a second
    beat running at once skips it), so a deadline is never reminded twice; a case whose
    owners have no email address is logged and tried again at the next run."""
    now = now or timezone.now()
    horizon = now + dt.timedelta(days=settings.PACTA_NOTICE_REMINDER_DAYS)
    due = Notice.objects.filter(
        Q(deadline_at__lte=horizon),
        delivery=Notice.Delivery.SENT,
        reminded_at__isnull=True,
        deadline_at__isnull=False,
    ).values_list("pk", flat=True)
    reminded = []
    for pk in list(due):
        with transaction.atomic():
            notice = (
                Notice.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("case")
                .filter(pk=pk, reminded_at__isnull=True)
                .first()
            )
            if notice is None:
                continue
            owners = _owners(notice.case)
            if not owners:
                logger.warning(
                    "no owner of case %s has an email address: deadline of %s not reminded",
                    notice.case.reference,
                    notice.reference,
                )
                continue
            overdue = notice.deadline_at <= now
            what = notice.get_deadline_kind_display().lower()
            when = (
                f"passed on {notice.deadline_at:%Y-%m-%d %H:%M} UTC"
                if overdue
                else f"falls on {notice.deadline_at:%Y-%m-%d %H:%M} UTC"
            )
            EmailMessage(
                subject=f"{notice.case.reference}: {what} {'passed' if overdue else 'near'} "
                f"({notice.get_kind_display().lower()} {notice.reference})",
                body=(
                    f"The deadline set by {notice.get_kind_display().lower()} "
                    f"{notice.reference} to {notice.respondent} ({notice.recipient}, sent "
                    f"{notice.delivered_at:%Y-%m-%d %H:%M} UTC) {when}: {what}.\n\n"
                    f"Record the respondent's answer, or the next step, on case "
                    f"{notice.case.reference}.\n"
                ),
                to=[user.email for user in owners],
            ).send(fail_silently=False)
            notice.reminded_at = now
            notice.save(update_fields=["reminded_at"])
            events.notice_deadline_reminded(
                notice=notice, owners=[u.get_username() for u in owners], overdue=overdue
            )
            reminded.append(notice)
    return reminded
