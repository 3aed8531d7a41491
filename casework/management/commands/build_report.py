"""`python manage.py build_report CASE_REF [--edition E] [--out PATH] [--json]`.

Runs the same service as the Celery task, in process: freeze the case, find or create the
job for that snapshot and edition, build it unless it is built, copy the signed PDF to
PATH. Exit status 1 when the build fails (the reason is printed), 2 on usage errors.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from casework.models import Case, ReportEdition, ReportJob
from casework.reports import ReportError, report_build, report_job_request


class Command(BaseCommand):
    help = "Build (or find) the signed evidentiary PDF report of a case in one edition."

    # Run by operators and scripts case after case: the system checks run at deploy
    # (`check --deploy`) and in the test suite (as for `detect` and `ingest`).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("case_ref", metavar="CASE_REF")
        parser.add_argument("--edition", default="counsel", choices=ReportEdition.values)
        parser.add_argument("--out", metavar="PATH", help="Copy the signed PDF here.")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args, **options) -> None:
        case = Case.objects.filter(reference=options["case_ref"]).first()
        if case is None:
            raise CommandError(f"CASE_REF {options['case_ref']}: no such case", returncode=2)
        out = Path(options["out"]) if options["out"] else None
        if out is not None and not out.parent.is_dir():
            raise CommandError(f"--out {out}: folder {out.parent} does not exist", returncode=2)
        try:
            job = report_job_request(actor="system:cli", case=case, edition=options["edition"])
            built_now = job.status != ReportJob.Status.DONE
            job = report_build(job=job)
        except ReportError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        document = {
            "job": job.pk,
            "case": case.reference,
            "edition": job.edition,
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
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=2))
        elif job.status == ReportJob.Status.DONE:
            verb = "Built" if built_now else "Already built:"
            where = f" -> {out}" if out else f" (evidence item {job.pdf.pk})"
            self.stdout.write(
                f"{verb} report job {job.pk}, {case.reference} {job.edition} edition, "
                f"SHA-256 {job.pdf.sha256}{where}"
            )
        else:
            self.stderr.write(f"Report job {job.pk} {job.status}: {job.failure_reason}")
        if job.status != ReportJob.Status.DONE:
            sys.exit(1)
