"""Pacta's project package and the legal side: cases, access, allegations, reports."""

from casework.config.celery import app as celery_app

__all__ = ("celery_app",)
