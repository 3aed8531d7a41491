"""`python manage.py verify_report PATH.pdf [--json] [--trust-root PEM ...]`.

Checks the signature (intact, trusted, covering the whole file), every attachment against
the manifest, and the manifest against the ledger. Exit status 1 when any check fails,
2 on usage errors.
"""

from __future__ import annotations

from pathlib import Path

from casework.reports.verify import report_verify
from evidence.management.base import PactaCommand


def trust_root_argument(parser) -> None:
    """`--trust-root PEM`, repeatable: the certificates a signature must chain to."""
    parser.add_argument(
        "--trust-root",
        action="append",
        default=[],
        metavar="PEM",
        help="A certificate to trust (default: PACTA_SIGNING_TRUST_ROOTS).",
    )


def trust_roots_check(command: PactaCommand, options) -> None:
    for root in options["trust_root"]:
        if not Path(root).is_file():
            command.usage_error(f"--trust-root {root}: no such file")


class Command(PactaCommand):
    help = "Verify a report PDF: its signature, its attachments and its manifest."

    def arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH.pdf")
        trust_root_argument(parser)

    def run(self, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            self.usage_error(f"PATH {path}: no such file")
        trust_roots_check(self, options)
        result = report_verify(path, trust_roots=options["trust_root"] or None)
        lines = [f"{path}: {'OK' if result['ok'] else 'FAILED'}"]
        for check in result["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            lines.append(f"  {mark} {check['name']}: {check['detail']}")
        self.done(result, text=lines, ok=result["ok"])
