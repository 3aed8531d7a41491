"""`python manage.py import_models PATH [--plans PATH] [--json]`: the model catalogue.

PATH is a JSON list of {"model", "released", "list_price_per_mtok_input",
"list_price_per_mtok_output"}; --plans a JSON list of {"plan", "requests_per_minute",
"tokens_per_minute"}. Exit status 2 on usage errors, 1 on a malformed file.
"""

from __future__ import annotations

from pathlib import Path

from evidence.detectors.catalogue import CatalogueError, models_import, plans_import
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Load model release dates and list prices (and optionally plan rate limits)."

    def arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("--plans", metavar="PATH", help="Plan rate limits (plans.json).")

    def run(self, **options) -> None:
        paths = [Path(options["path"])] + ([Path(options["plans"])] if options["plans"] else [])
        for path in paths:
            if not path.is_file():
                self.usage_error(f"PATH {path}: no such file")
        try:
            result = {"models": models_import(actor="system:cli", path=paths[0])}
            if options["plans"]:
                result["plans"] = plans_import(actor="system:cli", path=paths[1])
        except CatalogueError as exc:
            raise CheckFailed(str(exc)) from exc
        self.done(
            result,
            text=[
                f"{kind}: {summary['created']} added, {summary['updated']} changed, "
                f"{summary['unchanged']} unchanged (sha256 {summary['sha256']})"
                for kind, summary in result.items()
            ],
        )
