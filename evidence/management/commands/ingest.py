"""`python manage.py ingest {accounts|usage|assent} PATH... [--format F] [--strict] [--json]`.

Exit status: 0 when every file was ingested (rejected lines, if any, are reported and kept
as evidence), 1 when a file was refused (strict mode, empty file, unusable header), 2 on
usage errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.ingest.formats import FORMATS
from evidence.ingest.service import KINDS, IngestUsageError, ingest_file, progress_bar


class Command(BaseCommand):
    help = "Ingest provider records (accounts, usage events, assent records) from files."

    # Run by operators and scripts file after file: the system checks run at deploy
    # (`check --deploy`) and in the test suite (as for `detect`).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="native")
        parser.add_argument(
            "--strict", action="store_true", help="Commit nothing if any line is bad; exit 1."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args, kind: str, paths: list[str], fmt: str, strict: bool, **options):
        files = [Path(p) for p in paths]
        for path in files:
            if not path.is_file():
                raise CommandError(f"PATH {path}: no such file", returncode=2)
        results = []
        for path in files:
            progress = None
            if not options["json"] and sys.stderr.isatty() and path.stat().st_size > 5_000_000:
                progress = progress_bar(path.stat().st_size)
            try:
                result = ingest_file(
                    actor="system:cli",
                    kind=kind,
                    path=path,
                    fmt=fmt,
                    strict=strict,
                    progress=progress,
                )
            except IngestUsageError as exc:
                raise CommandError(str(exc), returncode=2) from exc
            if progress is not None:
                sys.stderr.write("\n")
            results.append(result)
            if not options["json"]:
                self._report(result)
        if options["json"]:
            docs = [r.as_dict() for r in results]
            self.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        if any(r.refused for r in results):
            sys.exit(1)

    def _report(self, result) -> None:
        verb = "REFUSED" if result.refused else "Ingested"
        self.stdout.write(
            f"{verb} {result.file} ({result.kind}, {result.format}) as batch {result.batch}: "
            f"{result.accepted} accepted, {result.duplicates} duplicate, "
            f"{result.rejected} rejected; sha256 {result.sha256}"
        )
        if result.same_as_batch:
            self.stdout.write(
                f"  The same file (same SHA-256) was ingested before as batch "
                f"{result.same_as_batch}."
            )
        for error in result.errors:
            field = f" {error['field']}" if error["field"] else ""
            self.stdout.write(f"  line {error['line']}{field}: {error['message']}")
        if result.errors_total > len(result.errors):
            self.stdout.write(f"  ... and {result.errors_total - len(result.errors)} more")
