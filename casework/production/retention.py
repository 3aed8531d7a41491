"""Old production zips: removed once PACTA_PRODUCTION_RETENTION_DAYS have passed since
they were built, so the media folder does not grow with every production ever asked for.

A zip is a copy: the records it holds stay in the record, and what was produced stays on
file. Before a zip goes, its manifest (every file, its SHA-256 and size) is kept on the
job, and the removal is ledgered with the zip's SHA-256; the job and every ledger entry
about it (requested, downloaded) remain. The zips of a case on legal hold are kept: what
was handed to the other side may itself be in dispute.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casework.models import ProductionJob
from casework.production.files import manifest_in_zip
from evidence.custody import events


def production_zips_expired(*, retention_days: int, now: dt.datetime | None = None):
    """The finished jobs whose zip is past the retention and may be removed."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=retention_days)
    return ProductionJob.objects.filter(
        status=ProductionJob.Status.DONE,
        finished_at__lt=cutoff,
        zip_removed_at__isnull=True,
        case__legal_hold=False,
    ).order_by("finished_at", "pk")


def production_zips_expire(
    *, retention_days: int | None = None, now: dt.datetime | None = None, dry_run: bool = False
) -> dict:
    """Remove the zips past the retention (the setting unless `retention_days` is given;
    0 keeps them forever). Safe to run twice: a removed zip is not removed again."""
    days = settings.PACTA_PRODUCTION_RETENTION_DAYS if retention_days is None else retention_days
    if days < 0:
        raise ValueError(f"retention_days: a number of days, 0 or more, not {days}")
    if days == 0:
        return {"retention_days": 0, "removed": [], "bytes": 0, "dry_run": dry_run}
    removed, freed = [], 0
    for pk in production_zips_expired(retention_days=days, now=now).values_list("pk", flat=True):
        if dry_run:
            removed.append(pk)
            continue
        size = _remove(pk, days, now=now)
        if size is not None:
            removed.append(pk)
            freed += size
    return {"retention_days": days, "removed": removed, "bytes": freed, "dry_run": dry_run}


def _remove(pk: int, days: int, *, now: dt.datetime | None) -> int | None:
    """Keep the manifest, ledger the removal and delete the file, in one transaction: if
    the file cannot be deleted, the job still says its zip is there."""
    with transaction.atomic():
        job = (
            production_zips_expired(retention_days=days, now=now)
            .select_for_update()
            .select_related("case")
            .filter(pk=pk)
            .first()
        )
        if job is None:  # removed by a concurrent run, or the case was put on hold
            return None
        path = Path(settings.MEDIA_ROOT) / job.zip_path
        if path.is_file():
            job.manifest = manifest_in_zip(path)
        job.zip_removed_at = timezone.now()
        job.save(update_fields=["manifest", "zip_removed_at"])
        events.production_zip_removed(job=job, retention_days=days)
        path.unlink(missing_ok=True)
    return job.zip_size or 0
