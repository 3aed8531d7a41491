"""The report's "Countermeasures and notice" section, as a court and a committee read it:
what was done, when, on which clause, whether the customer was told and given time to
cure; the deadlines on the chronology; and no account id or email in the public edition."""

from __future__ import annotations

import html
import re

import pytest
from django.utils import timezone

from casework.countermeasures.services import (
    action_approve,
    action_confirm,
    action_reverse,
    action_send,
)
from casework.reports.pipeline import Stages, report_prepare
from casework.reports.redaction import EDITIONS
from casework.reports.render import report_html
from casework.reports.snapshot.freeze import case_snapshot
from tests.casework.test_enforcement_actions import propose, world  # noqa: F401  (fixture)
from tests.casework.test_notices import alleged  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "signing")]


@pytest.fixture
def countered(alleged, settings):  # noqa: F811
    """A suspension carried out and noticed with a cure period; a range block reversed."""
    from casework.countermeasures.notices import notice_send

    settings.PACTA_ENFORCEMENT_WEBHOOK_URL = ""
    suspension = propose(alleged, "suspend")
    action_approve(actor=alleged["owner"], action=suspension)
    action_send(actor=alleged["owner"], action=suspension, channel="csv")
    action_confirm(actor=alleged["owner"], action=suspension, platform_reference="PLAT-7")
    block = propose(alleged, "block_range", accounts=[], address_ranges=["203.0.113.0/24"])
    action_approve(actor=alleged["counsel"], action=block)
    action_reverse(actor=alleged["owner"], action=block, reason="The range is a shared VPN.")
    notice = notice_send(
        actor=alleged["owner"],
        case=alleged["case"],
        kind="breach",
        to="legal@fox.test",
        cure_days=14,
    )
    return {**alleged, "suspension": suspension, "block": block, "notice": notice}


def edition_text(case, edition: str, tmp_path) -> str:
    """The edition's pages as text (the HTML WeasyPrint lays out, tags stripped)."""
    folder = tmp_path / edition
    folder.mkdir()
    prepared = report_prepare(
        snapshot=case_snapshot(case=case),
        edition=edition,
        job_id=None,
        workdir=folder,
        stages=Stages(None),
        generated_at=timezone.now(),
        page_size="A4",
        deflate=False,
    )
    page = report_html(prepared.context)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def section(text: str) -> str:
    # The heading, not the cover's contents: the section opens with its count of actions.
    start = text.rindex("9. Countermeasures and notice")
    return text[start : text.index("10. Preservation and chain of custody", start)]


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_section_says_what_was_done_and_whether_notice_and_cure_were_given(
    countered, edition, tmp_path
):
    text = edition_text(countered["case"], edition, tmp_path)
    part = section(text)
    notice = countered["notice"]
    assert "2 enforcement actions" in part and "1 decided and in force, 1 reversed" in part
    assert "given notice of 1 of them, and a period of 14 days to cure" in part
    assert "Suspension" in part and "Confirmed by the platform" in part
    assert "§3.3(b) (Services Agreement, version 2025-06-01)" in part
    assert f"Notice of breach {notice.reference}, sent" in part
    assert "Block of an address range" in part and "Reversed" in part
    assert notice.pdf.sha256 in part
    assert "Cure period ends" in part
    # The chronology carries the cure period's end and the notice.
    chronology = text[text.rindex("6. Chronology") : text.rindex("7. Methodology")]
    assert f"Cure period ends (notice of breach {notice.reference})" in chronology
    assert f"Notice of breach {notice.reference} sent" in chronology
    if edition == "counsel":
        assert "acct_fox01, acct_fox02" in part and "legal@fox.test" in part
        assert "203.0.113.0/24" in part
    else:
        assert "acct_fox0" not in part and "legal@fox.test" not in part
        assert "2 accounts" in part
    if edition == "regulator":
        assert "@fox.test" in part
    if edition == "public":
        assert "fox.test" not in text and "acct_fox0" not in text
        assert "203.0.113" not in text


def test_a_case_without_countermeasures_says_so(world, tmp_path):  # noqa: F811
    part = section(edition_text(world["case"], "counsel", tmp_path))
    assert "No enforcement action and no notice to the respondent are recorded" in part


def test_an_action_without_notice_is_flagged(countered, tmp_path):
    later = propose(countered, "revoke_keys", accounts=[], key_ids=["key_acct_fox01"])
    action_approve(actor=countered["owner"], action=later)
    part = section(edition_text(countered["case"], "counsel", tmp_path))
    assert "Revocation of API keys" in part
    assert "No notice of this action is recorded" in part
