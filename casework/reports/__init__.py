"""Evidentiary reports: a frozen case snapshot rendered as a signed PDF/A-3b with exhibits.

`jobs.report_job_request` (freeze the case, keep the snapshot, find or create the job) and
`pipeline.report_build` (build it from the kept snapshot) are the entry points; the Celery
task and `manage.py build_report` call them, and `verify.report_verify` checks a file.
"""

from casework.reports.jobs import ReportError, ReportTransientError, report_job_request
from casework.reports.pipeline import report_build

__all__ = ("ReportError", "ReportTransientError", "report_build", "report_job_request")
