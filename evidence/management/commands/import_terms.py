"""`python manage.py import_terms PATH --document SLUG --title TITLE --version LABEL ...`.

Full form: `import_terms PATH --document SLUG --title TITLE --version LABEL
--effective YYYY-MM-DD [--url URL] [--json]` (DESIGN.md's command contract).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from evidence.management.base import CheckFailed, PactaCommand, UsageError
from evidence.terms.services import TermsImportError, terms_import


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--effective: {value!r} is not a date (YYYY-MM-DD)") from None


class Command(PactaCommand):
    help = "Import one version of a Terms document and split it into hashed, verbatim clauses."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # The contract's `--version LABEL` (a Terms version) replaces Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("--document", required=True, help="Document slug.")
        parser.add_argument("--title", required=True)
        parser.add_argument("--version", dest="label", required=True, help="Version label.")
        parser.add_argument("--effective", required=True, help="Effective date, YYYY-MM-DD.")
        parser.add_argument("--url", default="")

    def run(self, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            self.usage_error(f"PATH {path}: no such file")
        effective = _date(options["effective"])
        try:
            result = terms_import(
                actor="system:cli",
                path=path,
                document_slug=options["document"],
                title=options["title"],
                version_label=options["label"],
                effective=effective,
                url=options["url"],
            )
        except TermsImportError as exc:
            raise CheckFailed(str(exc)) from exc
        verb = "Imported" if result.created else "Already imported"
        self.done(
            result.as_dict(),
            text=f"{verb} {result.document} {result.version}: {result.clauses} clauses "
            f"({result.unchanged_clauses} unchanged from earlier versions); sha256 {result.sha256}",
        )
