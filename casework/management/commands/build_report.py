"""`python manage.py build_report CASE_REF [--edition E] [--final] [--out PATH] [--json]`.

Runs the same service as the Celery task, in process: freeze the case, find or create the
draft job for that snapshot and edition, build it unless it is built, copy the signed PDF
to PATH. With `--final`, the final report of that draft instead, once counsel and the
case's expert approved it (issue #18). Exit status 1 when the build fails or the draft is
not approved (the reason is printed), 2 on usage errors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from casework.models import Case, ReportEdition, ReportJob
from casework.reports import ReportError, report_build, report_job_request
from casework.reports.review import report_final_request
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Build (or find) the signed evidentiary PDF report of a case in one edition."
    skip_checks = True

    def arguments(self, parser) -> None:
        parser.add_argument("case_ref", metavar="CASE_REF")
        parser.add_argument("--edition", default="counsel", choices=ReportEdition.values)
        parser.add_argument("--out", metavar="PATH", help="Copy the signed PDF here.")
        parser.add_argument(
            "--final",
            action="store_true",
            help="Build the final report from the approved draft of the case as it stands.",
        )

    def run(self, **options) -> None:
        case = Case.objects.filter(reference=options["case_ref"]).first()
        if case is None:
            self.usage_error(f"CASE_REF {options['case_ref']}: no such case")
        out = Path(options["out"]) if options["out"] else None
        if out is not None and not out.parent.is_dir():
            self.usage_error(f"--out {out}: folder {out.parent} does not exist")
        try:
            job = report_job_request(actor="system:cli", case=case, edition=options["edition"])
            if options["final"]:
                job = report_final_request(actor="system:cli", draft=job)
            built_now = job.status != ReportJob.Status.DONE
            job = report_build(job=job)
        except ReportError as exc:
            raise CheckFailed(str(exc)) from exc
        document = {
            "job": job.pk,
            "case": case.reference,
            "edition": job.edition,
            "final": job.final,
            "status": job.status,
            "snapshot_sha256": job.snapshot_sha256,
            "built_now": built_now,
            "failure_reason": job.failure_reason or None,
            "pdf": None,
        }
        if job.status == ReportJob.Status.DONE:
            document["pdf"] = {
                "evidence_item": job.pdf.pk,
                "sha256": job.pdf.sha256,
                "size": job.pdf.size,
                "stored": job.pdf.file.name,
            }
            if out is not None:
                try:  # a stored file on disk: the kernel copies it (sendfile)
                    shutil.copyfile(job.pdf.file.path, out)
                except NotImplementedError:  # a storage without local paths
                    with job.pdf.file.open("rb") as src, out.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
                document["out"] = str(out)
        if job.status != ReportJob.Status.DONE:
            self.say(f"Report job {job.pk} {job.status}: {job.failure_reason}", stderr=True)
            self.done(document, ok=False)
            return
        verb = "Built" if built_now else "Already built:"
        where = f" -> {out}" if out else f" (evidence item {job.pdf.pk})"
        self.done(
            document,
            text=f"{verb} {'final' if job.final else 'draft'} report job {job.pk}, "
            f"{case.reference} {job.edition} edition, "
            f"SHA-256 {job.pdf.sha256}{where}",
        )
