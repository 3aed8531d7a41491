"""`python manage.py import_models PATH [--plans PATH] [--json]`: the model catalogue.

PATH is a JSON list of {"model", "released", "list_price_per_mtok_input",
"list_price_per_mtok_output"}; --plans a JSON list of {"plan", "requests_per_minute",
"tokens_per_minute"}. Exit status 2 on usage errors, 1 on a malformed file.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.detectors.catalogue import CatalogueError, models_import, plans_import


class Command(BaseCommand):
    help = "Load model release dates and list prices (and optionally plan rate limits)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("--plans", metavar="PATH", help="Plan rate limits (plans.json).")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args, **options) -> None:
        paths = [Path(options["path"])] + ([Path(options["plans"])] if options["plans"] else [])
        for path in paths:
            if not path.is_file():
                raise CommandError(f"PATH {path}: no such file", returncode=2)
        try:
            result = {"models": models_import(actor="system:cli", path=paths[0])}
            if options["plans"]:
                result["plans"] = plans_import(actor="system:cli", path=paths[1])
        except CatalogueError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for kind, summary in result.items():
            self.stdout.write(
                f"{kind}: {summary['created']} added, {summary['updated']} changed, "
                f"{summary['unchanged']} unchanged (sha256 {summary['sha256']})"
            )
