"""`python manage.py ingest {accounts|usage|assent|probes|serves} PATH... [--format F]
[--strict] [--json]`.

Exit status: 0 when every file was ingested (rejected lines, if any, are reported and kept
as evidence), 1 when a file was refused (strict mode, empty file, unusable header), 2 on
usage errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

from evidence.ingest.formats import FORMATS
from evidence.ingest.service import KINDS, IngestUsageError, ingest_file, progress_bar
from evidence.management.base import PactaCommand, UsageError

# Smaller files are read in well under a second: a bar would only flicker.
PROGRESS_MIN_BYTES = 5_000_000


class Command(PactaCommand):
    help = (
        "Ingest records (accounts, usage events, assent records, probe transcripts, "
        "canary serve logs) from files."
    )
    skip_checks = True

    def arguments(self, parser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="native")
        parser.add_argument(
            "--strict", action="store_true", help="Commit nothing if any line is bad; exit 1."
        )

    def run(self, *, kind: str, paths: list[str], fmt: str, strict: bool, **options) -> None:
        files = [Path(p) for p in paths]
        for path in files:
            if not path.is_file():
                self.usage_error(f"PATH {path}: no such file")
        results = []
        for path in files:
            progress = None
            if (
                not self.json_mode
                and sys.stderr.isatty()
                and path.stat().st_size > PROGRESS_MIN_BYTES
            ):
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
                raise UsageError(str(exc)) from exc
            if progress is not None:
                sys.stderr.write("\n")
            results.append(result)
            # Each file is reported as soon as it is done: a long run shows its progress,
            # and a later file's usage error does not hide what was already ingested.
            self.say(self._report(result))
        docs = [r.as_dict() for r in results]
        self.done(docs[0] if len(docs) == 1 else docs, ok=not any(r.refused for r in results))

    def _report(self, result) -> list[str]:
        verb = "REFUSED" if result.refused else "Ingested"
        lines = [
            f"{verb} {result.file} ({result.kind}, {result.format}) as batch {result.batch}: "
            f"{result.accepted} accepted, {result.duplicates} duplicate, "
            f"{result.rejected} rejected; sha256 {result.sha256}"
        ]
        if result.same_as_batch:
            lines.append(
                f"  The same file (same SHA-256) was ingested before as batch "
                f"{result.same_as_batch}."
            )
        for error in result.errors:
            field = f" {error['field']}" if error["field"] else ""
            lines.append(f"  line {error['line']}{field}: {error['message']}")
        if result.errors_total > len(result.errors):
            lines.append(f"  ... and {result.errors_total - len(result.errors)} more")
        return lines
