"""`python manage.py detect [--json]`: run every detector in process (as the task does)."""

from __future__ import annotations

from evidence.detectors.selectors import detection_report
from evidence.detectors.service import detection_run
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Run every registered detector over the usage record and store the findings."
    skip_checks = True
    json_indent = None

    def run(self, **options) -> None:
        run = detection_run(actor="system:cli")
        if self.json_mode:
            self.done(detection_report(run))
            return
        counts = run.counts
        bands = counts.get("clusters_by_band", {})
        accounts = counts.get("accounts_by_band", {})
        lines = [
            f"Detection run {run.pk}: {counts.get('accounts_active', 0):,} active accounts, "
            f"{counts.get('findings_fired', 0):,} signals fired, {counts.get('links', 0):,} "
            f"links, {counts.get('clusters', 0):,} clusters; digest {run.digest or '-'}"
        ]
        for band in ("critical", "high", "review"):
            clusters, members = bands.get(band, 0), accounts.get(band, 0)
            lines.append(f"  {band:<8} {clusters:>6,} clusters {members:>8,} accounts")
        self.done(None, text=lines)
