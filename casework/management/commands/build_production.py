"""`python manage.py build_production CASE_REF --out DIR [--edition E] [--max-file-mb N]
[--page-size letter|a4] [--json]`.

Writes the case's production into DIR (new, or empty): the filing copy (PDF/A-2b, no
attachments, volumes within the limit), the natives with control numbers, the load file,
and the manifest with its detached signature. Exit status 1 when the build fails (the
reason is printed), 2 on usage errors, each naming the argument at fault.
"""

from __future__ import annotations

from pathlib import Path

from casework.models import Case, ReportEdition
from casework.production import ProductionError, production_build
from casework.production.build import PAGE_SIZES
from casework.production.filing import FilingError
from casework.production.natives import NativeError
from casework.reports import ReportError
from casework.reports.exhibits import ExhibitError
from casework.reports.signing import SigningError
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand

# The service's names for its inputs, as this command spells them.
ARGUMENTS = {
    "edition": "--edition",
    "max_file_mb": "--max-file-mb",
    "page_size": "--page-size",
    "out_dir": "--out",
}


class Command(PactaCommand):
    help = (
        "Build a case's production: a court filing copy, the natives with control numbers, "
        "a load file and a signed manifest."
    )
    skip_checks = True

    def arguments(self, parser) -> None:
        parser.add_argument("case_ref", metavar="CASE_REF")
        parser.add_argument("--out", metavar="DIR", required=True, help="A new or empty folder.")
        parser.add_argument(
            "--edition", default=ReportEdition.COUNSEL, help=", ".join(ReportEdition.values)
        )
        parser.add_argument(
            "--max-file-mb",
            default="35",
            metavar="MB",
            help="The largest file the production may hold, in MB (default 35).",
        )
        parser.add_argument("--page-size", default="letter", help=" or ".join(PAGE_SIZES))

    def run(self, **options) -> None:
        case = Case.objects.filter(reference=options["case_ref"]).first()
        if case is None:
            self.usage_error(f"CASE_REF {options['case_ref']}: no such case")
        try:
            max_file_mb = float(options["max_file_mb"])
        except ValueError:
            self.usage_error(f"--max-file-mb {options['max_file_mb']}: not a number")
        try:
            production = production_build(
                actor=SystemActor.CLI,
                case=case,
                out_dir=Path(options["out"]),
                edition=options["edition"],
                max_file_mb=max_file_mb,
                page_size=options["page_size"],
                progress=lambda stage, percent: self.say(f"{percent:3d}% {stage}", stderr=True),
            )
        except ProductionError as exc:
            if exc.field in ARGUMENTS:
                value = options["out" if exc.field == "out_dir" else exc.field]
                self.usage_error(f"{ARGUMENTS[exc.field]} {value}: {exc}")
            raise CheckFailed(str(exc)) from exc
        except (ReportError, ExhibitError, SigningError, FilingError, NativeError) as exc:
            raise CheckFailed(str(exc)) from exc
        document = production.as_dict()
        volumes = document["filing"]
        self.done(
            document,
            text=[
                f"Built the {document['edition']} production of {case.reference} in "
                f"{production.folder}:",
                f"  filing copy: {len(volumes)} volume{'s' if len(volumes) != 1 else ''}, "
                f"{volumes[0]['pages_total']} pages",
                f"  natives: {document['natives']} files; load file {document['load_file']}",
                f"  manifest.json SHA-256 {production.manifest_sha256}, signed "
                f"({document['signature']['level']})",
            ],
        )
