"""A built production's files one by one, as the API serves them beside the whole zip.

The manifest inside the zip is the list of what may be read: a file is served only under
a path the manifest lists (or the manifest and its signature, which the other side needs
to verify the rest), looked up by exact name, so no path given by a client can reach
anything else in the zip or on disk. A file is streamed from the zip in chunks, never
read whole. Access is settled by the caller (`casework.selectors.case_production_get`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from django.conf import settings

from casework.models import ProductionJob
from casework.production.build import MANIFEST, SIGNATURE, ProductionError

CHUNK = 1024 * 1024


class ProductionGone(ProductionError):
    """The production's zip was removed past its retention: its manifest is kept, its files
    are not."""


def _zip_path(job: ProductionJob) -> Path | None:
    if job.status != ProductionJob.Status.DONE or not job.zip_path or job.zip_removed_at:
        return None
    path = Path(settings.MEDIA_ROOT) / job.zip_path
    return path if path.is_file() else None


def _folder(archive: zipfile.ZipFile) -> str:
    """The one folder the zip holds (`production_zip_write` packs the production so)."""
    return archive.namelist()[0].split("/", 1)[0]


def manifest_in_zip(path: Path) -> dict:
    """The manifest a production zip holds."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(f"{_folder(archive)}/{MANIFEST}"))


def production_manifest(*, job: ProductionJob) -> dict:
    """The production's manifest: from its zip, or as kept on the job once the zip was
    removed. Refused while the job is not built."""
    if job.zip_removed_at:
        return job.manifest
    path = _zip_path(job)
    if path is None:
        raise ProductionError(f"production {job.pk} is not built yet: its status is {job.status}")
    return manifest_in_zip(path)


def production_file_entries(*, job: ProductionJob) -> list[dict]:
    """Every file of the production the API serves: the manifest's files (path, SHA-256,
    size) and, first, the manifest and its detached signature themselves."""
    manifest = production_manifest(job=job)
    extra = []
    if not job.zip_removed_at:
        path = _zip_path(job)
        with zipfile.ZipFile(path) as archive:
            folder = _folder(archive)
            for name in (MANIFEST, SIGNATURE):
                data = archive.read(f"{folder}/{name}")  # both a few kilobytes
                extra.append(
                    {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                )
    return extra + [
        {"path": f["path"], "sha256": f["sha256"], "size": f["size"]}
        for f in manifest.get("files", [])
        if _safe(f["path"])
    ]


def _safe(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts


def production_file_open(*, job: ProductionJob, path: str) -> tuple[dict, Iterator[bytes]]:
    """The manifest entry of `path` and its bytes as chunks from the zip. A path the
    manifest does not list is refused by name; a removed zip is `ProductionGone`."""
    if job.zip_removed_at:
        raise ProductionGone(
            f"production {job.pk}'s zip was removed on {job.zip_removed_at:%Y-%m-%d} past its "
            f"retention ({settings.PACTA_PRODUCTION_RETENTION_DAYS} days): its manifest is kept"
        )
    entries = {entry["path"]: entry for entry in production_file_entries(job=job)}
    entry = entries.get(path)
    if entry is None:
        raise ProductionError(f"path {path!r}: production {job.pk}'s manifest lists no such file")
    archive = zipfile.ZipFile(_zip_path(job))
    member = archive.open(f"{_folder(archive)}/{entry['path']}")
    archive.close()  # the member keeps the file open until it is closed itself

    def chunks() -> Iterator[bytes]:
        with member:
            yield from iter(lambda: member.read(CHUNK), b"")

    return entry, chunks()
