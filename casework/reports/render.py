"""HTML to PDF/A-3b: the report pages by WeasyPrint, the exhibits as associated files.

WeasyPrint renders `templates/reports/report.html` with `pdf_variant="pdf/a-3b"` (sRGB
output intent, XMP identification, fonts embedded) and embeds the exhibits through its
`attachments` option, each a `weasyprint.Attachment` with its `relationship`, which the
PDF/A-3 writer turns into `/AFRelationship` and lists in the catalogue's `/AF` array.

WeasyPrint reads and compresses every attachment in memory, on the render's own thread
and at zlib's default level: fine for a few kilobytes, not for a usage exhibit of a
million rows (hundreds of megabytes), and even megabytes of summaries slow the render.
Exhibits above `PACTA_REPORT_STREAM_ATTACHMENT_BYTES` are therefore compressed by their
writer while they are written and added in the same incremental update that carries the
signature (`attachments_embed_streamed`), with the same Filespec, `/AFRelationship`,
`/Params` and `/AF` entries.

Every resource the pages load goes through `report_url_fetcher`: the report's own
stylesheet under `templates/reports/` and the charts as `data:` URIs, nothing else. The
HTML carries text from customers and logs; were a tag ever to slip through, a fetch of
`http://` or of another file would reach the network or the server's disk from the
worker, so it is refused and the build fails naming the URL rather than render without it.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import hashlib
import mimetypes
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string

from casework.reports.exhibits import Exhibit, exhibit_compressor

PDF_VARIANT = "pdf/a-3b"
TEMPLATE = "reports/report.html"
CHUNK = 4 * 1024 * 1024


@dataclass
class Rendered:
    pages: int
    path: Path


def svg_data_uri(svg: str | None) -> str | None:
    if not svg:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def report_html(context: dict) -> str:
    """The report as one self-contained HTML document (charts inline as data URIs)."""
    return render_to_string(TEMPLATE, context)


def _report_assets() -> Path:
    return Path(settings.BASE_DIR) / "templates" / "reports"


def _stylesheet_base() -> str:
    return str(_report_assets()) + "/"


class ReportResourceError(RuntimeError):
    """The report's HTML asked for a resource other than its own stylesheet and images, or
    one of those could not be read: the build fails rather than render without it."""


def report_url_fetcher(*, roots: tuple[Path, ...] | None = None):
    """WeasyPrint's URL fetcher for the report: `data:` URIs, and `file:` URLs of files
    under `roots` (the report's own templates folder, where its stylesheet lives), each
    read as the path checked; every other URL (`http(s):`, another file, another scheme)
    raises `ReportResourceError` naming it. `fail_on_errors`: WeasyPrint stops the render on
    a failed fetch instead of leaving the resource out with a warning."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = tuple(root.resolve() for root in (roots or (_report_assets(),)))

    class ReportURLFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(url2pathname(parts.path)).resolve()
                if any(path.is_relative_to(root) for root in allowed):
                    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(
                        url, body=path.open("rb"), headers={"Content-Type": content_type}
                    )
            raise ReportResourceError(
                f"refused {url}: the report loads only data: URIs and files under "
                f"{', '.join(str(r) for r in allowed)}"
            )

    return ReportURLFetcher(fail_on_errors=True)


def report_render(
    *, html: str, exhibits: list[Exhibit], target: Path, created: dt.datetime
) -> Rendered:
    """Render the pages and embed the exhibits small enough for WeasyPrint."""
    from weasyprint import Attachment

    limit = settings.PACTA_REPORT_STREAM_ATTACHMENT_BYTES
    naive = created.astimezone(dt.UTC).replace(tzinfo=None)
    attachments = [
        Attachment(
            filename=str(exhibit.path),
            name=exhibit.file_name,
            description=f"Exhibit {exhibit.number}: {exhibit.title}",
            relationship=exhibit.relationship,
            created=naive,
            modified=naive,
        )
        for exhibit in exhibits
        if exhibit.size <= limit
    ]
    with rendering():
        document = report_document(html, pdf_variant=PDF_VARIANT)
        document.write_pdf(target, pdf_variant=PDF_VARIANT, attachments=attachments)
    return Rendered(pages=len(document.pages), path=target)


def report_document(html: str, *, pdf_variant: str, pdf_tags: bool = False):
    """The report's pages laid out by WeasyPrint (a `weasyprint.Document`), loading only
    what `report_url_fetcher` allows; call it, and write the PDF, within `rendering()`."""
    from weasyprint import HTML

    return HTML(string=html, base_url=_stylesheet_base(), url_fetcher=report_url_fetcher()).render(
        pdf_variant=pdf_variant, pdf_tags=pdf_tags
    )


@contextmanager
def rendering():
    """Around a render and its writes: the Python heap frozen, and a refused or failed
    fetch raised as `ReportResourceError`."""
    from weasyprint.urls import FatalURLFetchingError

    # The build holds the snapshot and its context (a few hundred thousand objects) while
    # WeasyPrint makes millions more: frozen, they are not walked again by every full
    # collection of Python's cycle collector during the render (about a tenth of its CPU).
    gc.freeze()
    try:
        yield
    except FatalURLFetchingError as exc:
        # WeasyPrint's stop signal is a BaseException: the build's failure handling takes
        # an ordinary error, with the refusal (or the failed read) as its reason.
        cause = exc.__cause__
        if isinstance(cause, ReportResourceError):
            raise ReportResourceError(str(cause)) from exc
        raise ReportResourceError(f"{exc}: {type(cause).__name__}: {cause}") from exc
    finally:
        gc.unfreeze()


def streamed(exhibits: list[Exhibit]) -> list[Exhibit]:
    """The exhibits too large for WeasyPrint's in-memory attachments."""
    return [e for e in exhibits if e.size > settings.PACTA_REPORT_STREAM_ATTACHMENT_BYTES]


def signed_revision_prepare(writer, exhibits: list[Exhibit], *, created: dt.datetime) -> None:
    """What the signing revision adds to the rendered report, before pyHanko signs it.

    - The catalogue's `/AF` lists each associated file once. WeasyPrint 70 adds every
      attachment twice (once from the embedded-file name tree, once from its Filespec),
      which PDF/A-3 validators reject.
    - The large exhibits are embedded (`attachments_embed_streamed`).
    - The Info dictionary and the XMP packet say the same thing after signing: pyHanko
      writes its own name as the XMP `pdf:Producer` but appends it to the Info one
      (`WeasyPrint …; pyHanko …`), a PDF/A conformance failure. Both now name pyHanko,
      the program that wrote the final file, and the creator tool names WeasyPrint, which
      laid out the pages; the creation date is the build's, in both.
    """
    _associated_files_once(writer)
    attachments_embed_streamed(writer, exhibits, created=created)
    _metadata_agree(writer, created=created)


def _associated_files_once(writer) -> None:
    from pyhanko.pdf_utils import generic

    root = writer.root
    if "/AF" not in root:
        return
    seen: set[tuple[int, int]] = set()
    unique = generic.ArrayObject()
    for reference in list.__iter__(root["/AF"]):  # references as they are, not resolved
        key = (reference.idnum, reference.generation)
        if key not in seen:
            seen.add(key)
            unique.append(reference)
    root["/AF"] = unique
    writer.update_root()


def _metadata_agree(writer, *, created: dt.datetime) -> None:
    import weasyprint
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.metadata.model import VENDOR

    meta = writer.document_meta
    meta.created = created
    meta.creator = f"Pacta (pages by WeasyPrint {weasyprint.__version__})"
    reference = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
    if reference is None:
        return  # pyHanko writes the XMP packet alone, and it agrees with itself
    info = reference.get_object()
    # pyHanko writes only the Info entries that exist once an XMP packet is kept: the ones
    # it keeps in step with the packet are made to exist, with the values it will write.
    info["/Producer"] = generic.TextStringObject(VENDOR)
    info["/Creator"] = generic.TextStringObject(meta.creator)
    info["/CreationDate"] = generic.pdf_date(created)
    writer.mark_update(reference)


def attachments_embed_streamed(writer, exhibits: list[Exhibit], *, created: dt.datetime) -> None:
    """Add large exhibits to a pyHanko incremental writer as PDF/A-3 associated files.

    Each exhibit is deflated (`exhibits.exhibit_compressor`: these are large, repetitive
    text files and the time matters more than the last few percent) and MD5-summed for the
    `/CheckSum` entry into a file beside it, usually while it was written, and the
    compressed bytes are copied from that file into the PDF as it is written: memory holds
    none of them, however large the case.
    """
    from pyhanko.pdf_utils import generic

    if not exhibits:
        return
    root = writer.root
    if "/Names" not in root:
        root["/Names"] = generic.DictionaryObject()
    names = root["/Names"]
    if "/EmbeddedFiles" not in names:
        names["/EmbeddedFiles"] = writer.add_object(
            generic.DictionaryObject({generic.pdf_name("/Names"): generic.ArrayObject()})
        )
    tree = names["/EmbeddedFiles"]
    if "/Kids" in tree:
        raise ValueError("the PDF's embedded-file name tree is nested; expected a flat one")
    array = tree["/Names"]
    if "/AF" not in root:
        root["/AF"] = generic.ArrayObject()
    af = root["/AF"]
    for exhibit in exhibits:
        encoded, checksum = _deflated(exhibit)
        stamp = generic.pdf_date(created)
        stream = _embedded_file_from(
            encoded,
            writer,
            dict_data={
                generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode"),
                generic.pdf_name("/Params"): generic.DictionaryObject(
                    {
                        generic.pdf_name("/Size"): generic.NumberObject(exhibit.size),
                        generic.pdf_name("/CheckSum"): generic.ByteStringObject(checksum),
                        generic.pdf_name("/CreationDate"): stamp,
                        generic.pdf_name("/ModDate"): stamp,
                    }
                ),
            },
            mime_type=exhibit.mime,
        )
        spec = generic.DictionaryObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/Filespec"),
                generic.pdf_name("/F"): generic.pdf_string(exhibit.file_name),
                generic.pdf_name("/UF"): generic.pdf_string(exhibit.file_name),
                generic.pdf_name("/EF"): generic.DictionaryObject(
                    {
                        generic.pdf_name("/F"): stream.ef_stream_ref,
                        generic.pdf_name("/UF"): stream.ef_stream_ref,
                    }
                ),
                generic.pdf_name("/Desc"): generic.TextStringObject(
                    f"Exhibit {exhibit.number}: {exhibit.title}"
                ),
                generic.pdf_name("/AFRelationship"): generic.pdf_name(f"/{exhibit.relationship}"),
            }
        )
        reference = writer.add_object(spec)
        array.append(generic.pdf_string(exhibit.file_name))
        array.append(reference)
        af.append(reference)
    _sort_name_array(array)
    writer.update_container(array)
    writer.update_container(tree)
    writer.update_root()


def _deflated(exhibit: Exhibit) -> tuple[Path, bytes]:
    """The file holding the exhibit Flate-compressed, and the MD5 of its bytes: made while
    it was written, else (the manifest) now, in one pass."""
    if exhibit.deflated is not None and exhibit.md5 is not None:
        return exhibit.deflated, exhibit.md5
    compressor = exhibit_compressor()
    md5 = hashlib.md5(usedforsecurity=False)
    deflated = exhibit.path.with_name(exhibit.path.name + ".deflate")
    with exhibit.path.open("rb") as fh, deflated.open("wb") as out:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            md5.update(chunk)
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())
    return deflated, md5.digest()


def _embedded_file_from(path: Path, writer, **options):
    """A pyHanko embedded-file stream whose encoded bytes are copied from `path` when the
    PDF is written, never held in memory: a usage exhibit of millions of rows is hundreds
    of megabytes even compressed, and the report's memory must not grow with the case."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.embed import EmbeddedFileObject

    class FileBackedEmbeddedFile(EmbeddedFileObject):
        def write_to_stream(self, stream, handler=None, container_ref=None) -> None:
            if handler is not None:  # the report is signed, never encrypted
                raise ValueError("a streamed exhibit cannot be written to an encrypted PDF")
            self[generic.pdf_name("/Length")] = generic.NumberObject(path.stat().st_size)
            generic.DictionaryObject.write_to_stream(self, stream, handler, container_ref)
            del self["/Length"]
            stream.write(b"\nstream\n")
            with path.open("rb") as fh:
                shutil.copyfileobj(fh, stream, CHUNK)
            stream.write(b"\nendstream")

    # The stream's own data stays empty: only `write_to_stream` above reads the file.
    return FileBackedEmbeddedFile(writer, encoded_data=b"", **options)


def _sort_name_array(array) -> None:
    """Name trees are sorted by key; WeasyPrint's part and ours are merged in order."""
    raw = list(list.__iter__(array))  # references as they are, not resolved
    pairs = sorted(zip(raw[0::2], raw[1::2], strict=True), key=lambda p: str(p[0]))
    array.clear()
    for key, value in pairs:
        array.append(key)
        array.append(value)
