"""`python manage.py verify_production DIR [--json] [--trust-root PEM ...]`.

Checks every file of a production against its manifest (changed, missing, added) and the
manifest's detached signature against the trust roots. Exit status 1 naming each
difference, 2 on usage errors.
"""

from __future__ import annotations

from pathlib import Path

from casework.management.commands.verify_report import trust_root_argument, trust_roots_check
from casework.production import production_verify
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Verify a production folder: every file against its manifest, and the signature."

    def arguments(self, parser) -> None:
        parser.add_argument("folder", metavar="DIR")
        trust_root_argument(parser)

    def run(self, **options) -> None:
        folder = Path(options["folder"])
        if not folder.is_dir():
            self.usage_error(f"DIR {folder}: no such folder")
        trust_roots_check(self, options)
        result = production_verify(folder, roots=options["trust_root"] or None)
        lines = [f"{folder}: {'OK' if result['ok'] else 'FAILED'}"]
        if result["ok"]:
            signature = result["signature"]
            stamp = signature["timestamp"]
            lines.append(
                f"  {result['files_checked']} files match the manifest; the manifest is signed "
                f"by {signature['signer']}" + (f", timestamped {stamp['at']}" if stamp else "")
            )
        for difference in result["differences"]:
            lines.append(f"  {difference['kind']}: {difference['path']}: {difference['detail']}")
        self.done(result, text=lines, ok=result["ok"])
