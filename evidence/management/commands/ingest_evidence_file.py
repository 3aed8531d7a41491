"""`python manage.py ingest_evidence_file PATH --flow FLOW [--terms DOCUMENT:VERSION]
[--shown-from WHEN] [--shown-until WHEN] [--sha256 HEX] [--json]`.

Takes in a screenshot (PNG, JPEG) or an archived sign-up flow (PDF, HTML, MHTML) as the
screen of a sign-up flow version, and links it to the assent records whose
`screenshot_sha256` is its hash (`evidence.screens`). Exit 1 when the file is refused
(nothing is stored), 2 on usage errors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from evidence.management.base import CheckFailed, PactaCommand, UsageError
from evidence.screens import AssentScreenError, assent_screen_ingest, screen_moment


def _when(option: str, value: str | None) -> dt.datetime | None:
    try:
        return screen_moment(value, field=option)
    except AssentScreenError as exc:
        raise UsageError(f"{option}: {exc}") from None


class Command(PactaCommand):
    help = (
        "Keep a screenshot or archived sign-up flow as evidence of the screen accounts saw, "
        "linked to the assent records that carry its hash."
    )

    def arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH")
        parser.add_argument("--flow", required=True, help="Sign-up flow version, e.g. signup-v4.")
        parser.add_argument(
            "--terms", default="", help="DOCUMENT:VERSION the flow presented for acceptance."
        )
        parser.add_argument("--shown-from", help="When the flow version went live.")
        parser.add_argument("--shown-until", help="When it was replaced.")
        parser.add_argument("--sha256", default="", help="The hash the file must have.")

    def run(self, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            self.usage_error(f"PATH {path}: no such file")
        shown_from = _when("--shown-from", options["shown_from"])
        shown_until = _when("--shown-until", options["shown_until"])
        try:
            with path.open("rb") as stream:
                result = assent_screen_ingest(
                    actor="system:cli",
                    stream=stream,
                    file_name=path.name,
                    flow_id=options["flow"],
                    source=f"command line: {path.name}",
                    terms=options["terms"],
                    shown_from=shown_from,
                    shown_until=shown_until,
                    expected_sha256=options["sha256"],
                )
        except AssentScreenError as exc:
            raise CheckFailed(f"--{exc.field}: {exc}" if exc.field != "file" else str(exc)) from exc
        verb = "Kept" if result.created else "Already kept"
        self.done(
            result.as_dict(),
            text=f"{verb} {result.media_type} {path.name} as screen {result.screen} of flow "
            f"{result.flow_id}; sha256 {result.sha256}; linked to {result.assent_records} "
            "assent record(s)",
        )
