"""Template context for every page."""

from evidence.custody.verification import verification_latest


def verification_alert(request) -> dict:
    """The latest verification, so a failed one shows as a red banner on every page.

    A failure means a record no longer matches its hash: everyone working on cases must
    see it at once, before relying on the record. The key is the banner's own, so a page
    that shows some other verification (a report's) cannot hide or fake the banner.
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"latest_verification": verification_latest()}
