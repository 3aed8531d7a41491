"""Template context for every page."""

from evidence.custody.verification import verification_latest


def verification_alert(request) -> dict:
    """The latest verification, so a failed one shows as a red banner on every page.

    A failure means a record no longer matches its hash: everyone working on cases must
    see it at once, before relying on the record.
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"verification": verification_latest()}
