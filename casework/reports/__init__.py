"""Evidentiary reports: a frozen case snapshot rendered as a signed PDF/A-3b with exhibits.

`service.report_job_request` and `service.report_build` are the entry points; the Celery
task and `manage.py build_report` call them, and `verify.report_verify` checks a file.
"""
