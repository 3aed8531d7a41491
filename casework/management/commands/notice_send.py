"""`python manage.py notice_send CASE_REF --kind KIND --to EMAIL [--cure-days N]
[--response-days N] [--json]`.

Generates a notice from the case (breach, termination, cease_and_desist or preservation),
signs it, keeps it as evidence, emails it with its PDF to the respondent and records the
delivery; every step is ledgered. A failed sending is reported and exits non-zero.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from casework.countermeasures.models import Notice
from casework.countermeasures.notices import NoticeError, notice_send
from casework.models import Case
from casework.reports.signing import SigningError
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Generate, sign and email a notice to a case's respondent."

    def arguments(self, parser) -> None:
        parser.add_argument("case_ref", metavar="CASE_REF")
        parser.add_argument("--kind", required=True, choices=Notice.Kind.values)
        parser.add_argument("--to", required=True, metavar="EMAIL")
        parser.add_argument(
            "--cure-days", type=int, default=None, metavar="N",
            help="Days given to cure (notice of breach; default PACTA_NOTICE_CURE_DAYS).",
        )  # fmt: skip
        parser.add_argument(
            "--response-days", type=int, default=None, metavar="N",
            help="Days given to answer (cease-and-desist, preservation; default "
            "PACTA_NOTICE_RESPONSE_DAYS).",
        )  # fmt: skip

    def run(self, **options) -> None:
        case = Case.objects.filter(reference=options["case_ref"]).first()
        if case is None:
            self.usage_error(f"CASE_REF {options['case_ref']}: no such case")
        try:
            notice = notice_send(
                actor=SystemActor.CLI,
                case=case,
                kind=options["kind"],
                to=options["to"],
                cure_days=options["cure_days"],
                response_days=options["response_days"],
            )
        except NoticeError as exc:
            if exc.field in ("to", "cure_days", "response_days"):
                self.usage_error(f"--{exc.field.replace('_', '-')}: {exc}")
            raise CheckFailed(str(exc)) from exc
        except (PermissionDenied, SigningError) as exc:
            raise CheckFailed(str(exc)) from exc
        deadline = None
        if notice.deadline_at:
            deadline = {"kind": notice.deadline_kind, "at": notice.deadline_at.isoformat()}
        document = {
            "notice": notice.reference,
            "kind": notice.kind,
            "to": notice.recipient,
            "pdf": notice.pdf.file_name,
            "pdf_sha256": notice.pdf.sha256,
            "delivery": notice.delivery,
            "backend": notice.delivery_backend,
            "error": notice.delivery_error or None,
            "deadline": deadline,
        }
        lines = [
            f"{notice.get_kind_display()} {notice.reference} to {notice.recipient}: "
            f"{notice.get_delivery_display().lower()}"
            + (f" ({notice.delivery_error})" if notice.delivery_error else "")
            + ".",
            f"Signed PDF {notice.pdf.file_name}, SHA-256 {notice.pdf.sha256}.",
        ]
        if deadline:
            lines.append(
                f"{notice.get_deadline_kind_display()}: {notice.deadline_at:%Y-%m-%d %H:%M} UTC."
            )
        self.done(document, text=lines, ok=notice.delivery == Notice.Delivery.SENT)
