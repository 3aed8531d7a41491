"""The filing copy: the report's pages as PDF/A-2b, tagged, with no embedded file, in
volumes no larger than the court's per-file limit.

Courts' electronic filing systems refuse PDFs with attachments and cap each file (35 to
50 MB in most US district courts, 8 MB in some). The pages are laid out once, so page
numbers ("Page 31 of 64") and exhibit numbers run on across volumes, then written whole
or, when the whole is over the limit, as runs of pages that each fit. Each volume embeds
the subsets of the fonts its own pages use, so a volume's size is measured, not guessed.
The copy is not signed: a court's header stamp would break a signature over every byte.
The production's signed manifest carries each volume's SHA-256 instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casework.production.natives import file_sha256
from casework.reports.render import rendering, report_document

FILING = "filing"
PDF_VARIANT = "pdf/a-2b"


class FilingError(RuntimeError):
    """The filing copy cannot be cut to the limit asked for."""


@dataclass
class Volume:
    path: str
    volume: int
    volumes: int
    first_page: int
    last_page: int
    pages_total: int
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "volume": self.volume,
            "volumes": self.volumes,
            "pages": [self.first_page, self.last_page],
            "pages_total": self.pages_total,
            "sha256": self.sha256,
            "size": self.size,
        }


def filing_write(*, html: str, root: Path, stem: str, limit: int) -> list[Volume]:
    """Write the filing copy of `html` under `root/filing/`; returns its volumes."""
    folder = root / FILING
    folder.mkdir(parents=True, exist_ok=True)
    with rendering():
        document = report_document(html, pdf_variant=PDF_VARIANT, pdf_tags=True)
        pages = document.pages
        whole = folder / f"{stem}.pdf"
        _write(document, pages, whole, title=None)
        if whole.stat().st_size <= limit:
            runs = [(whole, 0, len(pages))]
        else:
            whole_size = whole.stat().st_size
            whole.unlink()
            runs = _split(document, folder, stem, limit, whole_size=whole_size)
    volumes = []
    for number, (path, start, end) in enumerate(runs, start=1):
        volumes.append(
            Volume(
                path=path.relative_to(root).as_posix(),
                volume=number,
                volumes=len(runs),
                first_page=start + 1,
                last_page=end,
                pages_total=len(pages),
                sha256=file_sha256(path),
                size=path.stat().st_size,
            )
        )
    return volumes


def _split(document, folder: Path, stem: str, limit: int, whole_size: int):
    """Runs of pages, in order, each written as a volume within `limit`: as many pages as
    the whole's bytes per page suggest, fewer (halving) while the volume is too large."""
    pages = document.pages
    total = len(pages)
    per_page = max(1, whole_size // total)
    runs: list[tuple[Path, int, int]] = []
    start = 0
    guess = max(1, int(limit * 0.9 // per_page))
    while start < total:
        count = min(guess, total - start)
        while True:
            path = folder / f"{stem}-vol{len(runs) + 1:02d}.pdf"
            title = f"volume {len(runs) + 1}, pages {start + 1} to {start + count}"
            _write(document, pages[start : start + count], path, title=title)
            size = path.stat().st_size
            if size <= limit:
                break
            path.unlink()
            if count == 1:
                raise FilingError(
                    f"page {start + 1} alone makes a {size:,}-byte PDF, over the "
                    f"{limit:,}-byte limit: raise the limit"
                )
            count = max(1, count // 2)
        runs.append((path, start, start + count))
        start += count
    return runs


def _write(document, pages, path: Path, *, title: str | None) -> None:
    """Write `pages` as one PDF; a volume's title (Info and XMP alike) says which it is.

    A link to a section in another volume (the cover's contents) has no target in this
    file: it is left out, and the text stays, as on paper."""
    if title is not None:
        anchors = {name for page in pages for name in page.anchors}
        pages = [_page_linking_within(page, anchors) for page in pages]
    volume = document.copy(pages)
    if title is not None:
        volume.metadata = copy.copy(document.metadata)
        volume.metadata.title = f"{document.metadata.title} ({title})"
    volume.write_pdf(path, pdf_variant=PDF_VARIANT, pdf_tags=True)


def _page_linking_within(page, anchors: set[str]):
    """A shallow copy of a WeasyPrint page keeping only the links this volume can follow."""
    kept = [link for link in page.links if link[0] != "internal" or link[1] in anchors]
    if len(kept) == len(page.links):
        return page
    clone = copy.copy(page)
    clone.links = kept
    return clone
