"""The frozen case a report is built from (see `freeze`); one module per subject."""

from casework.reports.snapshot.freeze import SCHEMA, Snapshot, case_snapshot, snapshot_from_bytes

__all__ = ("SCHEMA", "Snapshot", "case_snapshot", "snapshot_from_bytes")
