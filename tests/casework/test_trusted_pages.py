"""The pages a legal team reads, as issue #20 found them: no false alarm, names and counts
a person reads, paging on long tables, and errors where the person is looking."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pikepdf
import pytest

from casework.models import Case
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from tests.factories import ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def record(tmp_path):
    """Six accounts of two organisations, as the provider's account files list them."""
    rows = [
        {"account_id": f"fox_{i}", "plan": "tier-2", "org_name": f"Org {i % 2}"} for i in range(6)
    ]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "a.ndjson", rows))


@pytest.fixture
def counsel(client):
    """Counsel signed in on the test client."""
    client.force_login(user := user_with_role("casey", "counsel"))
    return user


def _open(client, reference: str = "PACTA-1") -> Case:
    response = client.post(
        "/cases/", {"reference": reference, "title": "Distillation", "respondent": "Blue Finch"}
    )
    assert response.status_code == 302
    return Case.objects.get(reference=reference)


@pytest.mark.usefixtures("signing")
def test_a_verified_report_page_raises_no_alarm(record, client, counsel):
    """The report page showed "Verification failed ( UTC): failure" on a verified record:
    its own verification status hid the record's latest verification the banner reads."""
    from casework.reports import report_build, report_job_request

    case = _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0 fox_1", "basis": "payment"})
    job = report_build(job=report_job_request(actor=counsel, case=case, edition="counsel"))
    assert job.pdf is not None, job.failure_reason
    assert evidence_verify(actor="system:test").ok
    page = client.get(f"/cases/PACTA-1/reports/{job.pk}/").content.decode()
    assert "verification: verified" in page
    assert 'role="alert"' not in page
    assert "failed" not in page.lower()
    home = client.get("/").content.decode()
    assert "all records match their hashes" in home


T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
# Signals fired on the cluster's accounts: more than the cluster's explanation names (five).
FIRED = {
    "coverage_sweep": 22,
    "round_the_clock": 3,
    "probability_harvesting": 9,
    "reasoning_elicitation": 8,
    "template_concentration": 7,
    "volume_outlier": 6,
}


@pytest.fixture
def critical_cluster(tmp_path):
    """A critical cluster of 60 accounts joined by 1,050 links, as detection stores one."""
    from django.utils import timezone

    from evidence.models import Account, Cluster, ClusterMember, DetectionRun, Finding, Link

    rows = [{"account_id": f"fox_{i:02d}", "plan": "tier-2"} for i in range(60)]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "c.ndjson", rows))
    accounts = list(Account.objects.filter(account_id__startswith="fox_").order_by("pk"))
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test",
        window_start=T0, window_end=T0 + dt.timedelta(days=30), detector_versions={},
        counts={}, digest="ab" * 32,
    )  # fmt: skip
    cluster = Cluster.objects.create(
        run=run, identity="C-0042", score=95.0, band="critical", size=len(accounts),
        explanation=" ".join(f"reason{n}" for n in range(40)), evidence={}, created_at=now,
    )  # fmt: skip
    ClusterMember.objects.bulk_create(ClusterMember(cluster=cluster, account=a) for a in accounts)
    pairs = [(a, b) for i, a in enumerate(accounts) for b in accounts[i + 1 :]][:1050]
    Link.objects.bulk_create(
        Link(
            run=run, account_a=a, account_b=b, kind="proxy_routing" if n == 0 else "key_sharing",
            detector_version="1", strength="hard", explanation="The same key sent requests.",
            created_at=now,
        )
        for n, (a, b) in enumerate(pairs)
    )  # fmt: skip
    Finding.objects.bulk_create(
        Finding(
            run=run, detector=detector, detector_version="1", account=account,
            window_start=T0, window_end=T0 + dt.timedelta(days=30), value=0.9,
            baseline={"median": 0.01}, threshold=0.25, fired=True,
            explanation="Stood out from the cohort.", created_at=now,
        )
        for detector, n in FIRED.items()
        for account in accounts[:n]
    )  # fmt: skip
    return cluster


def test_a_cluster_page_reads_in_names_counts_and_pages(critical_cluster, client, counsel):
    html = client.get(f"/clusters/{critical_cluster.pk}/").content.decode()
    for code in (*FIRED, "key_sharing", "proxy_routing"):
        assert code not in html, code
    summary = html[html.index("Signals that fired:") : html.index('id="cases-heading"')]
    assert "Coverage sweep on 22 accounts" in summary
    assert "Round-the-clock automation on 3 accounts" in summary
    for detector in ("Probability harvesting", "Volume outlier", "Template concentration"):
        assert detector in summary  # every signal the tables list, not the first five
    assert "1,049 links of Shared API key" in summary
    assert "1 link of Reseller or proxy routing" in summary
    assert "Links (1,050)" in html
    # Opening a case is near the top, before the long tables.
    assert html.index("Open a case from this cluster") < html.index('id="signals-heading"')


def test_a_cluster_pages_its_links_and_accounts(critical_cluster, client, counsel):
    url = f"/clusters/{critical_cluster.pk}/"
    first = client.get(url).content.decode()
    links = first[first.index('id="links-heading"') : first.index('id="members-heading"')]
    assert links.count('<tr><td class="mono">') == 50
    assert "1 to 50 of 1,050 links · page 1 of 21" in links
    assert "?links=2#links-heading" in links
    last = client.get(url, {"links": 21, "accounts": 2}).content.decode()
    links = last[last.index('id="links-heading"') : last.index('id="members-heading"')]
    assert links.count('<tr><td class="mono">') == 50
    assert "1,001 to 1,050 of 1,050 links" in links
    assert "?links=20&amp;accounts=2#links-heading" in links  # the accounts' page is kept
    members = last[last.index('id="members-heading"') :]
    assert members.count('<li><a class="mono"') == 10  # accounts 51-60
    assert "fox_59" in members and "fox_00" not in members
    # A page number out of range or not a number shows a page, never an error.
    assert client.get(url, {"links": "999"}).status_code == 200
    assert client.get(url, {"links": "x"}).status_code == 200


def test_a_cluster_page_names_the_open_cases_on_it(critical_cluster, client, counsel):
    url = f"/clusters/{critical_cluster.pk}/"
    assert "No open case of yours" in client.get(url).content.decode()
    response = client.post(
        url, {"reference": "PACTA-7", "title": "Fox group", "respondent": "Unknown"}
    )
    assert response.status_code == 302
    html = client.get(url).content.decode()
    cases = html[html.index('id="cases-heading"') : html.index('id="signals-heading"')]
    assert "PACTA-7" in cases and "60 accounts of this cluster, opened from it" in cases
    assert "Open another case from this cluster" in cases
    # A case pursuing the same accounts is listed only to the case's members.
    client.force_login(user_with_role("otto", "counsel"))
    html = client.get(url).content.decode()
    assert "PACTA-7" not in html
    assert "Open a case from this cluster" in html


def test_the_cluster_list_cuts_the_why_at_a_word(critical_cluster, client, counsel):
    html = client.get("/clusters/").content.decode()
    why = html.split('<td class="prose">')[1].split("</td>")[0]
    words = why.replace("…", "").split()
    assert words == [f"reason{n}" for n in range(len(words))]
    assert 10 <= len(words) < 40


def test_a_cluster_joined_by_one_link_says_one_link():
    from collections import Counter
    from types import SimpleNamespace

    from evidence.detectors.clusters import _explain

    link = SimpleNamespace(kind="key_sharing")
    levels = {"strong": 0, "moderate": 0}
    one = _explain("critical", 2, [link], [link], levels, Counter(), [])
    assert "2 accounts joined by 1 link (shared api key x1)" in one
    two = _explain("critical", 3, [link, link], [link, link], levels, Counter(), [])
    assert "3 accounts joined by 2 links" in two


def test_a_second_basis_is_recorded_and_said(record, client, counsel):
    from evidence.models import LedgerEntry

    case = _open(client)
    client.post(
        "/cases/PACTA-1/accounts/",
        {"accounts": "fox_0 fox_1 fox_2", "basis": "payment", "detail": "card pf_1"},
    )
    response = client.post(
        "/cases/PACTA-1/accounts/",
        {"accounts": "fox_0, fox_1", "basis": "admission", "detail": "their letter of 3 May"},
        follow=True,
    )
    html = response.content.decode()
    assert "2 accounts already attributed: second basis recorded (Respondent" in html
    assert "0 accounts attributed" not in html
    assert case.case_accounts.count() == 3
    further = {(b.case_account.account.account_id, b.basis) for b in _further_bases(case)}
    assert further == {("fox_0", "admission"), ("fox_1", "admission")}
    entries = LedgerEntry.objects.filter(object_type="account", action="changed")
    assert {(e.object_id, e.details["basis_added"]) for e in entries} == {
        ("fox_0", "admission"),
        ("fox_1", "admission"),
    }
    assert all(e.details["case"] == "PACTA-1" for e in entries)
    # Each basis is stated once, in full, with how many accounts rest on it.
    bases = html[html.index('id="bases-heading"') : html.index("<table>", html.index("bases"))]
    assert "Shared payment method</strong> (3 accounts): <span" in bases
    assert '(2 accounts): <span class="prose">their letter of 3 May' in bases
    assert html.count("their letter of 3 May") == 1
    # The same basis again adds nothing and says so.
    response = client.post(
        "/cases/PACTA-1/accounts/",
        {"accounts": "fox_1", "basis": "admission", "detail": "their letter of 3 May"},
        follow=True,
    )
    assert "1 account already rests on this basis: nothing to add." in response.content.decode()
    assert len(_further_bases(case)) == 2


def _further_bases(case):
    from casework.models import CaseAccountBasis

    return list(
        CaseAccountBasis.objects.filter(case_account__case=case).select_related(
            "case_account__account"
        )
    )


def test_a_long_basis_shows_once_not_on_every_row(record, client, counsel):
    _open(client)
    detail = "Detection run 1, cluster C-0001 (critical, score 92): " + "word " * 80
    ids = " ".join(f"fox_{i}" for i in range(6))
    client.post("/cases/PACTA-1/accounts/", {"accounts": ids, "basis": "cluster", "detail": detail})
    html = client.get("/cases/PACTA-1/").content.decode()
    assert html.count("Detection run 1, cluster C-0001") == 1
    rows = html[html.index("<tbody>", html.index('id="accounts-heading"')) :]
    rows = rows[: rows.index("</tbody>")]
    assert rows.count('Detected cluster <a href="#basis-1"') == 6
    assert "…" not in rows


def test_an_unknown_account_is_refused_beside_the_field_in_view(record, client, counsel):
    _open(client)
    response = client.post(
        "/cases/PACTA-1/accounts/", {"accounts": "fox_0 nope", "basis": "payment"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    section = html[html.index('<details class="card" id="attribute"') :]
    section = section[: section.index("</details>")]
    assert section.startswith('<details class="card" id="attribute" open>')
    field = section[section.index("<textarea") :]
    assert "autofocus" in field[: field.index(">")]
    assert "Unknown account: nope" in field[: field.index('<label for="id_basis"')]


def test_the_reports_address_lists_the_cases_reports(record, client, counsel):
    from casework.reports import report_job_request

    case = _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0", "basis": "payment"})
    job = report_job_request(actor=counsel, case=case, edition="counsel")
    response = client.get("/cases/PACTA-1/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/cases/PACTA-1/reports/{job.pk}/"' in html
    assert "Request report" in html
    client.force_login(user_with_role("otto", "counsel"))
    assert client.get("/cases/PACTA-1/reports/").status_code == 404


@pytest.mark.slow
def test_verify_report_as_the_readme_shows_trusts_the_demo_root_in_demo_mode(
    record, client, counsel, settings, tmp_path
):
    """`make demo` signs with the DEMO identity through make's own environment; a shell
    afterwards has none of PACTA_SIGNING_*, and `verify_report` said "no trust root"."""
    import json

    from django.core.management import CommandError, call_command

    from casework.reports import report_build, report_job_request

    settings.PACTA_SIGNING_DEMO_DIR = tmp_path / "signing"
    settings.PACTA_REPORT_WORK_DIR = str(tmp_path / "work")
    settings.PACTA_TSA_URL = ""
    paths = io.StringIO()
    call_command("demo_certificate", "--json", stdout=paths)
    demo = json.loads(paths.getvalue())
    assert demo["root"] == str(tmp_path / "signing" / "demo-root.pem")
    settings.PACTA_SIGNING_CERT, settings.PACTA_SIGNING_KEY = demo["cert"], demo["key"]
    settings.PACTA_SIGNING_CHAIN = [demo["root"]]
    case = _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0 fox_1", "basis": "payment"})
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0", "basis": "admission"})
    job = report_build(job=report_job_request(actor=counsel, case=case, edition="counsel"))
    assert job.pdf is not None, job.failure_reason
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(job.pdf.file.read())
    # The signed report's attribution exhibit names both bases of an account given two.
    with pikepdf.open(pdf) as opened:
        exhibit = opened.attachments["attribution.csv"].get_file().read_bytes().decode()
    bases = {
        row["account_id"]: row["attribution_basis"] for row in csv.DictReader(io.StringIO(exhibit))
    }
    assert bases == {"fox_0": "payment; admission", "fox_1": "payment"}

    # A new shell: no signing identity, no trust roots configured.
    settings.PACTA_SIGNING_CERT = settings.PACTA_SIGNING_KEY = ""
    settings.PACTA_SIGNING_CHAIN = settings.PACTA_SIGNING_TRUST_ROOTS = []
    out = io.StringIO()
    call_command("verify_report", str(pdf), stdout=out)
    assert f"{pdf}: OK" in out.getvalue()
    assert f"trusted on the DEMO root {demo['root']}" in out.getvalue()

    # Outside demo mode nothing is trusted by default, and the failure names the setting.
    settings.PACTA_SIGNING_DEMO_DIR = None
    out = io.StringIO()
    with pytest.raises((SystemExit, CommandError)):
        call_command("verify_report", str(pdf), stdout=out)
    assert "FAIL signature: no trust root configured" in out.getvalue()
    assert "set PACTA_SIGNING_TRUST_ROOTS" in out.getvalue()


@pytest.fixture
def many_clusters(critical_cluster):
    """The critical cluster and 120 more of the same run, of every band and size."""
    from evidence.models import Cluster

    bands = ["review", "high", "none", "critical"]
    Cluster.objects.bulk_create(
        Cluster(
            run=critical_cluster.run, identity=f"C-{n:04d}", score=float(n % 90),
            band=bands[n % 4], size=2 + n, explanation="Joined by links.", evidence={},
            created_at=critical_cluster.created_at,
        )
        for n in range(1000, 1120)
    )  # fmt: skip
    return critical_cluster


def _bands(html: str) -> set[str]:
    return set(re.findall(r'<span class="band band-\w+">([^<]+)</span>', html))


def _cluster_rows(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return [row.split("</a>")[0].rsplit("Cluster ", 1)[1] for row in body.split("<tr>")[1:]]


def test_the_cluster_list_is_paged_most_pressing_first(many_clusters, client, counsel):
    html = client.get("/clusters/").content.decode()
    rows = _cluster_rows(html)
    assert len(rows) == 50
    assert rows[0] == "C-0042"  # critical, the highest score
    assert "1 to 50 of 121 clusters · page 1 of 3" in html
    last = client.get("/clusters/", {"page": 3}).content.decode()
    assert len(_cluster_rows(last)) == 21
    assert _bands(last) == {"No band"}  # the least pressing band comes last
    assert client.get("/clusters/", {"page": "x"}).status_code == 200


def test_the_cluster_list_filters_by_band_and_size(many_clusters, client, counsel):
    html = client.get("/clusters/", {"band": "critical", "min_accounts": 100}).content.decode()
    rows = _cluster_rows(html)
    # Critical clusters: C-1003, C-1007, ... sized 2 + n; at least 100 accounts from C-1099.
    expected = {f"C-{n:04d}" for n in range(1000, 1120) if n % 4 == 3 and 2 + n >= 100}
    assert set(rows) == expected  # C-0042 is critical but of 60 accounts
    assert "Show all" in html
    none = client.get("/clusters/", {"band": "critical", "min_accounts": 5000}).content.decode()
    assert "No clusters match these filters in this run." in none


def test_a_bad_cluster_filter_is_said_beside_its_field(many_clusters, client, counsel):
    response = client.get("/clusters/", {"band": "high", "min_accounts": "-3"})
    assert response.status_code == 200
    html = response.content.decode()
    form = html[html.index('aria-label="Filter the clusters"') :]
    form = form[: form.index("</form>")]
    field = form[form.index('id="id_min_accounts"') :]
    assert "greater than or equal to 1" in field[: field.index("<button")]
    # The valid filter still applies.
    assert _bands(html) == {"High"}


def test_the_case_accounts_are_found_by_id_organisation_and_basis(record, client, counsel):
    _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0 fox_1 fox_2", "basis": "payment"})
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_3 fox_4", "basis": "cluster"})
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_1", "basis": "admission"})

    def listed(**query) -> list[str]:
        html = client.get("/cases/PACTA-1/", query).content.decode()
        rows = html[html.index("<tbody>", html.index('id="accounts-heading"')) :]
        rows = rows[: rows.index("</tbody>")]
        return re.findall(r'class="mono" href="/accounts/(fox_\d)/"', rows)

    assert listed() == ["fox_0", "fox_1", "fox_2", "fox_3", "fox_4"]
    assert listed(**{"accounts-find": "FOX_3"}) == ["fox_3"]
    assert listed(**{"accounts-find": "Org 1"}) == ["fox_1", "fox_3"]  # organisation
    assert listed(**{"accounts-basis": "cluster"}) == ["fox_3", "fox_4"]
    assert listed(**{"accounts-basis": "admission"}) == ["fox_1"]  # a second basis counts
    html = client.get("/cases/PACTA-1/", {"accounts-basis": "payment"}).content.decode()
    assert "3 accounts of 5 match." in html
    assert (
        "No attributed account matches."
        in client.get("/cases/PACTA-1/", {"accounts-find": "nobody"}).content.decode()
    )


def test_a_refused_report_or_production_is_said_beside_its_field(record, client, counsel):
    _open(client)
    response = client.post("/cases/PACTA-1/reports/", {"edition": "gazette"})
    assert response.status_code == 400
    html = response.content.decode()
    form = html[html.index('id="report-request"') :]
    form = form[: form.index("</form>")]
    assert 'aria-describedby="edition-error"' in form
    assert "Report not requested: unknown edition &#x27;gazette&#x27;" in form

    response = client.post(
        "/cases/PACTA-1/productions/",
        {"edition": "counsel", "page_size": "a4", "max_file_mb": "0"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    form = html[html.index('id="production-request"') :]
    form = form[: form.index("</form>")]
    limit = form[form.index('id="production-limit"') :]
    assert 'value="0"' in limit[: limit.index(">")]  # what was typed is kept
    assert "per-file limit must be from 0.1" in limit
    assert '<option value="a4" selected>' in form


def test_a_band_is_said_in_words_wherever_it_shows(many_clusters, client, counsel):
    """Colour is never the only carrier of a band (WCAG 1.4.1): every band pill names it."""
    pages = [
        client.get("/clusters/").content.decode(),
        client.get("/clusters/", {"page": 3}).content.decode(),
        client.get(f"/clusters/{many_clusters.pk}/").content.decode(),
        client.get("/").content.decode(),
    ]
    pills = [pill for html in pages for pill in re.findall(r'<span class="band[^"]*">[^<]*<', html)]
    assert pills
    for pill in pills:
        band = re.search(r"band-(\w+)", pill).group(1)
        words = {"critical": "Critical", "high": "High", "review": "Review", "none": "No band"}
        assert pill.endswith(f">{words[band]}<"), pill


def test_the_snapshot_keeps_a_second_basis_beside_the_first(record, client, counsel):
    from casework.reports.snapshot import attribution_kinds, case_snapshot

    case = _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0 fox_1", "basis": "payment"})
    client.post(
        "/cases/PACTA-1/accounts/",
        {"accounts": "fox_0", "basis": "admission", "detail": "their letter of 3 May"},
    )
    accounts = {a["account_id"]: a for a in case_snapshot(case=case).data["accounts"]}
    further = accounts["fox_0"]["attribution"]["further"]
    assert [(b["basis"], b["detail"], b["by"]) for b in further] == [
        ("admission", "their letter of 3 May", "casey")
    ]
    # A case without further bases freezes as it always did: no `further` key.
    assert "further" not in accounts["fox_1"]["attribution"]
    assert attribution_kinds(accounts["fox_0"]) == ["payment", "admission"]
    assert attribution_kinds(accounts["fox_1"]) == ["payment"]
