"""`python manage.py expire_productions [--days N] [--dry-run] [--json]`.

Removes production zips built more than PACTA_PRODUCTION_RETENTION_DAYS (or `--days`)
ago; each job keeps its manifest, and each removal is ledgered. The daily beat task
`production_zips_expire_task` does the same with the setting.
"""

from __future__ import annotations

from casework.production.retention import production_zips_expire
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Remove production zips past their retention, keeping their manifests."

    def arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Retention in days (default PACTA_PRODUCTION_RETENTION_DAYS; 0 keeps all).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be removed; remove nothing."
        )

    def run(self, **options) -> None:
        days = options["days"]
        if days is not None and days < 0:
            self.usage_error(f"--days {days}: a number of days, 0 or more")
        result = production_zips_expire(retention_days=days, dry_run=options["dry_run"])
        if not result["retention_days"]:
            text = "Production retention is 0 days: every zip is kept."
        else:
            verb = "Would remove" if options["dry_run"] else "Removed"
            text = (
                f"{verb} {len(result['removed'])} production zip(s) older than "
                f"{result['retention_days']} days ({result['bytes']:,} bytes freed)."
            )
        self.done(result, text=text)
