"""Notices as counsel and the respondent rely on them: each letter quotes the clauses in the
version alleged, cites the exhibits, is signed like a report, kept as evidence and ledgered
before it leaves; it leaves by email with its PDF, and what happened is recorded; a notice of
breach gives a cure period, and the case owner is reminded of each deadline once."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from casework.countermeasures.models import Notice
from casework.countermeasures.notices import (
    NoticeError,
    notice_deadlines_remind,
    notice_send,
)
from casework.countermeasures.services import action_approve
from casework.countermeasures.tasks import notice_deadlines_remind_task
from casework.reports.signing import signature_validate, trust_roots
from casework.services import allegation_add
from evidence.models import EvidenceItem, LedgerEntry
from evidence.services import evidence_item_store
from tests.casework.test_enforcement_actions import propose, world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "signing")]

THEORY = "Two linked accounts used automated means to extract Output at scale."


@pytest.fixture
def alleged(world):  # noqa: F811
    """The world of the enforcement tests with an allegation on §3.3(b) citing a screenshot."""
    world["owner"].email = "olivia@provider.example"
    world["owner"].save(update_fields=["email"])
    screenshot = evidence_item_store(
        actor=world["owner"],
        stream=io.BytesIO(b"\x89PNG dashboard of the extraction"),
        file_name="extraction-dashboard.png",
        kind="screenshot",
        source="investigator",
    )
    allegation_add(
        actor=world["owner"],
        case=world["case"],
        clause=world["clause"],
        theory=THEORY,
        evidence_item_ids=[],
    )
    world["case"].allegations.get().supporting_evidence.add(screenshot)
    world["screenshot"] = screenshot
    return world


def pdf_text(item: EvidenceItem, tmp_path: Path) -> str:
    path = tmp_path / item.file_name
    with item.file.open("rb") as fh:
        path.write_bytes(fh.read())
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def notice_entries(notice):
    return list(
        LedgerEntry.objects.filter(object_type="notice", object_id=str(notice.pk))
        .order_by("seq")
        .values_list("action", "object_sha256", "details")
    )


# --- the letter and its email ----------------------------------------------------------------


def test_a_notice_of_breach_leaves_by_email_with_its_signed_pdf(alleged, tmp_path):
    notice = notice_send(
        actor=alleged["owner"],
        case=alleged["case"],
        kind="breach",
        to="legal@fox.test",
        cure_days=10,
    )
    assert notice.delivery == "sent"
    [message] = mail.outbox
    assert message.to == ["legal@fox.test"]
    assert message.reply_to == ["olivia@provider.example"]
    assert notice.reference in message.subject
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (notice.pdf.file_name, "application/pdf")
    assert content.startswith(b"%PDF")
    with notice.pdf.file.open("rb") as fh:
        assert fh.read() == content  # the letter sent is the letter kept

    kept = tmp_path / "sent.pdf"
    kept.write_bytes(content)
    assert signature_validate(kept, roots=trust_roots())["ok"]

    text = pdf_text(notice.pdf, tmp_path)
    assert "Notice of breach" in text
    assert "§3.3(b)" in text and "version 2025-06-01" in text
    assert "use automated means to extract" in text  # the clause quoted
    assert THEORY[:40] in text and "(Exhibit 1)" in text
    assert "dashboard.png" in text and alleged["screenshot"].sha256[:32] in text
    assert "You have 10 days to cure" in text
    assert notice.deadline_kind == "cure"
    assert notice.deadline_at == dt.datetime.combine(
        notice.issued_at.date() + dt.timedelta(days=10), dt.time(23, 59, 59), tzinfo=dt.UTC
    )


def test_issue_and_delivery_are_ledgered_with_the_pdf_hash(alleged):
    notice = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="breach", to="legal@fox.test"
    )
    [(created, sha_created, issued), (changed, sha_changed, delivered)] = notice_entries(notice)
    assert (created, changed) == ("created", "changed")
    assert sha_created == sha_changed == notice.pdf.sha256
    assert issued["recipient"] == "legal@fox.test"
    assert issued["clauses"] == ["services-agreement:2025-06-01:3.3(b)"]
    assert issued["cure_days"] == 30  # PACTA_NOTICE_CURE_DAYS
    assert delivered["delivery"] == "sent"
    assert delivered["backend"] == "django.core.mail.backends.locmem.EmailBackend"
    assert delivered["message_id"] == mail.outbox[0].extra_headers["Message-ID"]


def test_a_failed_sending_is_recorded_not_claimed(alleged, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    notice = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="breach", to="legal@fox.test"
    )
    assert notice.delivery == "failed" and notice.delivered_at is None
    assert "Error" in notice.delivery_error
    assert notice_entries(notice)[-1][2]["delivery"] == "failed"
    # A failed notice sets no reminder: its cure period has not begun for the respondent.
    assert notice_deadlines_remind(now=notice.deadline_at + dt.timedelta(days=1)) == []


def test_termination_is_noticed_only_once_counsel_approved_it(alleged, tmp_path):
    with pytest.raises(NoticeError, match="no approved termination") as refused:
        notice_send(
            actor=alleged["owner"], case=alleged["case"], kind="termination", to="l@fox.test"
        )
    assert refused.value.field == "kind"
    action = propose(alleged, "terminate")
    action_approve(actor=alleged["counsel"], action=action)
    notice = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="termination", to="l@fox.test"
    )
    assert list(notice.actions.all()) == [action]
    assert notice.deadline_at is None
    text = pdf_text(notice.pdf, tmp_path)
    assert "Notice of termination" in text and "Termination" in text and "2 accounts" in text


def test_preservation_and_cease_and_desist_set_a_date_to_answer(alleged, tmp_path):
    hold = notice_send(
        actor=alleged["owner"],
        case=alleged["case"],
        kind="preservation",
        to="legal@fox.test",
        response_days=7,
    )
    assert hold.deadline_kind == "response"
    assert "preserve" in pdf_text(hold.pdf, tmp_path)
    stop = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="cease_and_desist", to="l@fox.test"
    )
    assert (stop.deadline_at.date() - stop.issued_at.date()).days == 14
    assert "cease and desist" in pdf_text(stop.pdf, tmp_path)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "apology"}, "kind"),
        ({"to": "not an address"}, "to"),
        ({"cure_days": 0}, "cure_days"),
        ({"kind": "preservation", "cure_days": 5}, "cure_days"),
        ({"response_days": 5}, "response_days"),
    ],
)
def test_bad_input_names_its_field_and_sends_nothing(alleged, options, field):
    arguments = {"kind": "breach", "to": "legal@fox.test", **options}
    with pytest.raises(NoticeError) as refused:
        notice_send(actor=alleged["owner"], case=alleged["case"], **arguments)
    assert refused.value.field == field
    assert not Notice.objects.exists() and not mail.outbox


def test_a_letter_accusing_conduct_needs_an_allegation(world):  # noqa: F811
    with pytest.raises(NoticeError, match="alleges no breach"):
        notice_send(actor=world["owner"], case=world["case"], kind="breach", to="l@fox.test")


def test_only_counsel_and_the_owner_send_notices(alleged):
    with pytest.raises(PermissionDenied):
        notice_send(
            actor=alleged["investigator"], case=alleged["case"], kind="breach", to="l@fox.test"
        )
    notice = notice_send(
        actor=alleged["counsel"], case=alleged["case"], kind="breach", to="l@fox.test"
    )
    assert notice.issued_by == alleged["counsel"]


# --- deadlines ---------------------------------------------------------------------------------


def test_the_owner_is_reminded_of_a_deadline_once_when_it_nears(alleged):
    notice = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="breach", to="l@fox.test", cure_days=10
    )
    mail.outbox.clear()
    assert notice_deadlines_remind(now=notice.deadline_at - dt.timedelta(days=5)) == []
    assert not mail.outbox
    [reminded] = notice_deadlines_remind(now=notice.deadline_at - dt.timedelta(days=2))
    assert reminded.pk == notice.pk
    [message] = mail.outbox
    assert message.to == ["olivia@provider.example"]
    assert "cure period ends" in message.body and notice.reference in message.body
    # Near, then passed: still the one reminder.
    assert notice_deadlines_remind(now=notice.deadline_at + dt.timedelta(days=2)) == []
    assert len(mail.outbox) == 1
    entry = notice_entries(notice)[-1][2]
    assert entry["reminded"] == ["olivia"] and entry["overdue"] is False


def test_the_beat_task_reminds_of_a_passed_deadline(alleged, settings):
    settings.PACTA_NOTICE_REMINDER_DAYS = 0
    notice = notice_send(
        actor=alleged["owner"], case=alleged["case"], kind="breach", to="l@fox.test", cure_days=1
    )
    Notice.objects.filter(pk=notice.pk).update(deadline_at=notice.issued_at - dt.timedelta(hours=1))
    mail.outbox.clear()
    assert notice_deadlines_remind_task() == {"reminded": [notice.pk]}
    assert "passed" in mail.outbox[0].subject
    assert notice_deadlines_remind_task() == {"reminded": []}
    assert len(mail.outbox) == 1


# --- the command -----------------------------------------------------------------------------


def test_notice_send_command(alleged, capsys):
    call_command(
        "notice_send", "CASE-22", "--kind", "breach", "--to", "legal@fox.test", "--cure-days", "5"
    )
    out = capsys.readouterr().out
    notice = Notice.objects.get()
    assert f"Notice of breach {notice.reference} to legal@fox.test" in out
    assert notice.pdf.sha256 in out and "Cure period ends" in out
    assert notice.issued_by_label == "system:cli"
    with pytest.raises(CommandError, match="--to"):
        call_command("notice_send", "CASE-22", "--kind", "breach", "--to", "nobody")
    with pytest.raises(CommandError, match="no such case"):
        call_command("notice_send", "CASE-0", "--kind", "breach", "--to", "l@fox.test")
