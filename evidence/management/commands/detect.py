"""`python manage.py detect [--json]`: run every detector in process (as the task does)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from evidence.detectors.selectors import detection_report
from evidence.detectors.service import detection_run


class Command(BaseCommand):
    help = "Run every registered detector over the usage record and store the findings."
    # An operational command run on a schedule: the system checks (models, settings, every
    # URL's view imported) run at deploy with `check --deploy` and in the test suite, and
    # would add a second to every run. `manage.py check` runs them on demand.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args, **options) -> None:
        run = detection_run(actor="system:cli")
        if options["json"]:
            self.stdout.write(json.dumps(detection_report(run), cls=DjangoJSONEncoder))
            return
        counts = run.counts
        bands = counts.get("clusters_by_band", {})
        accounts = counts.get("accounts_by_band", {})
        self.stdout.write(
            f"Detection run {run.pk}: {counts.get('accounts_active', 0):,} active accounts, "
            f"{counts.get('findings_fired', 0):,} signals fired, {counts.get('links', 0):,} "
            f"links, {counts.get('clusters', 0):,} clusters; digest {run.digest or '-'}"
        )
        for band in ("critical", "high", "review"):
            clusters, members = bands.get(band, 0), accounts.get(band, 0)
            self.stdout.write(f"  {band:<8} {clusters:>6,} clusters {members:>8,} accounts")
