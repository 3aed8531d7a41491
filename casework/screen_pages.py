"""The file behind a screen accounts saw, served so that it can never run in the browser.

Images are shown inline, but only as images (`nosniff`, and a sandboxing CSP in case a
browser renders anything else); PDFs and HTML or MHTML archives of sign-up flows are
downloads only, as bytes (`application/octet-stream`): an archived page is evidence to
keep and read in a safe viewer, never a page of Pacta. Every download is ledgered.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_GET

from casework import services
from evidence.screen_selectors import assent_screen_get

INLINE = ("image/png", "image/jpeg")


@login_required
@require_GET
def assent_screen_file(request: HttpRequest, pk: int) -> FileResponse:
    screen = assent_screen_get(user=request.user, pk=pk)
    item = screen.item
    services.evidence_item_exported(actor=request.user, item=item, case=None)
    inline = screen.media_type in INLINE
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=not inline,
        filename=item.file_name,
        content_type=screen.media_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
