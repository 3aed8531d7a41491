"""The frozen case a report is built from (see `freeze`); one module per subject."""

from casework.reports.snapshot.freeze import SCHEMA, Snapshot, case_snapshot, snapshot_from_bytes
from casework.reports.snapshot.record import attribution_kinds

__all__ = ("SCHEMA", "Snapshot", "attribution_kinds", "case_snapshot", "snapshot_from_bytes")
