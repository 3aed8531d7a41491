"""The Celery app: detection, verification and report jobs run here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casework.config.settings")

app = Celery("pacta")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
