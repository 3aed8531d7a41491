"""Report benchmark (issue: evidentiary PDF reports): a case over the record's busiest accounts.

Figures, in the same run:
- `manage.py build_report` (counsel edition: snapshot, exhibits of every usage row, charts,
  render, signature, storage as evidence) against a plain WeasyPrint render of the very
  HTML it rendered (target: at most 60 s, at most 1.5x the plain render);
- its peak memory (target: under 1 GB);
- its page count beside the number of events (the page count must not grow with them:
  volume goes into the attached exhibits).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from tests.benchmarks.harness import ROOT, Table, manage, run_timed, terms_import

CASE_ACCOUNTS = 5_000
REFERENCE = "BENCH-REPORT-1"
PLAIN_RENDER = (
    "import sys, weasyprint; "
    "weasyprint.HTML(filename=sys.argv[1], base_url=sys.argv[3]).write_pdf(sys.argv[2], "
    "attachments=[weasyprint.Attachment(filename=p) for p in sys.argv[4:]])"
)


def _record(scenario: Path, env: dict[str, str]) -> int:
    """The whole scenario in the record: the ingest benchmark leaves only part of the usage
    and none of the accounts, assent or Terms (setup, not timed)."""
    from django.db import connection

    from evidence.models import Account, TermsVersion, UsageEvent

    events = sum(1 for _ in (scenario / "usage.ndjson").open("rb"))
    if not Account.objects.filter(seen_only_in_usage=False).exists():
        for kind in ("accounts", "assent"):
            run_timed(manage("ingest", kind, str(scenario / f"{kind}.ndjson")), env)
    if not TermsVersion.objects.exists():
        terms_import(scenario, env)
    if (scenario / "models.json").exists():
        run_timed(
            manage("import_models", str(scenario / "models.json"), "--plans",
                   str(scenario / "plans.json")),
            env,
            check=False,  # detection's catalogue command may not be there yet
        )  # fmt: skip
    if UsageEvent.objects.count() != events:
        print("  loading every usage event again (setup) ...", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE evidence_usageevent")
        run_timed(manage("ingest", "usage", str(scenario / "usage.ndjson")), env)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE evidence_usageevent")
    return events


def _case() -> tuple[int, int]:
    """A case over the most active accounts, with allegations (setup).

    No verification run: the ingest benchmark truncates usage tables under its batches,
    so this record would (rightly) fail verification, and a report refuses to certify a
    record that failed it. The report then states that no verification was run.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from casework.models import Allegation, Case
    from casework.services import case_accounts_attribute, case_open
    from evidence.models import Account, Clause, TermsVersion

    case = Case.objects.filter(reference=REFERENCE).first()
    if case is None:
        user, _ = get_user_model().objects.get_or_create(username="bench")
        Group.objects.get_or_create(name="counsel")[0].user_set.add(user)  # may open cases
        case = case_open(
            actor=user,
            reference=REFERENCE,
            title="Benchmark case: the busiest accounts",
            respondent="Benchmark respondent",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT account_id FROM evidence_usageevent GROUP BY account_id "
                "ORDER BY count(*) DESC, account_id LIMIT %s",
                [CASE_ACCOUNTS],
            )
            ids = [row[0] for row in cursor.fetchall()]
        case_accounts_attribute(
            actor=user,
            case=case,
            accounts=Account.objects.filter(account_id__in=ids),
            basis="investigation",
            detail="benchmark: the most active accounts",
        )
        latest = TermsVersion.objects.order_by("-effective_date").first()
        for path in ("3.3(c)", "3.3(e)", "3.3(g)"):
            clause = Clause.objects.filter(version=latest, path=path).first()
            if clause is not None:
                Allegation.objects.create(
                    case=case, clause=clause, theory="Benchmark allegation.", created_by=user
                )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM evidence_usageevent u JOIN evidence_account a "
            "ON a.account_id = u.account_id JOIN casework_caseaccount c ON c.account_id = a.id "
            "WHERE c.case_id = %s",
            [case.pk],
        )
        case_events = cursor.fetchone()[0]
    return case.case_accounts.count(), case_events


def _exhibit_files(job_id: int) -> list[str]:
    """The stored exhibits and manifest of a built report (what its PDF carries)."""
    from evidence.models import EvidenceItem, LedgerEntry

    entry = LedgerEntry.objects.get(object_type="report", object_id=str(job_id))
    ids = [a["evidence_item"] for a in entry.details["attachments"]]
    return [item.file.path for item in EvidenceItem.objects.filter(pk__in=ids).order_by("pk")]


def _pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    import pikepdf

    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def bench_report(table: Table, *, env: dict[str, str], work: Path, scenario: Path) -> dict:
    events = _record(scenario, env)
    accounts, case_events = _case()
    signing = work / "signing"
    run_timed(manage("demo_certificate", "--dir", str(signing)), env)
    html = work / "report.html"
    out = work / f"report-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.pdf"
    report_env = {
        **env,
        "PACTA_SIGNING_CERT": str(signing / "demo-signer.pem"),
        "PACTA_SIGNING_KEY": str(signing / "demo-signer-key.pem"),
        "PACTA_SIGNING_CHAIN": str(signing / "demo-root.pem"),
        "PACTA_REPORT_KEEP_HTML": str(html),
        "PACTA_REPORT_WORK_DIR": str(work / "report-work"),
        "PACTA_TSA_URL": "",
    }
    # A new allegation each run: a new snapshot, so the build is a build, not a lookup.
    from casework.models import Allegation, Case
    from evidence.models import Clause

    case = Case.objects.get(reference=REFERENCE)
    clause = Clause.objects.order_by("-version__effective_date", "position").first()
    Allegation.objects.create(
        case=case,
        clause=clause,
        theory=f"Benchmark run {out.stem}.",
        created_by=case.opened_by,
    )
    print(f"  build_report over {accounts:,} accounts, {case_events:,} events ...", flush=True)
    pacta = run_timed(
        manage("build_report", REFERENCE, "--edition", "counsel", "--out", str(out), "--json"),
        report_env,
    )
    result = json.loads(pacta.stdout)
    print("  plain WeasyPrint render of the same HTML ...", flush=True)
    plain_pdf = work / "plain.pdf"
    render = [sys.executable, "-m", "tests.benchmarks.peak", "-c", PLAIN_RENDER, str(html),
              str(plain_pdf), str(ROOT / "templates" / "reports") + "/"]  # fmt: skip
    plain = run_timed(render, env)
    print("  plain WeasyPrint render of the same HTML, the same exhibits attached ...", flush=True)
    attached = run_timed([*render, *_exhibit_files(result["job"])], env)
    pages = _pages(out)
    table.add(
        f"build_report, {case_events:,} events, {accounts:,} accounts (s)",
        f"{pacta.seconds:.1f} s",
        f"plain WeasyPrint render of the same HTML {plain.seconds:.1f} s",
        f"{pacta.seconds / plain.seconds:.2f}x",
        "<= 60 s and <= 1.5x",
    )
    table.add(
        "build_report vs WeasyPrint + the same exhibits attached (s)",
        f"{pacta.seconds:.1f} s",
        f"plain render, exhibits attached {attached.seconds:.1f} s ({attached.max_rss_mb:,.0f} MB)",
        f"{pacta.seconds / attached.seconds:.2f}x",
        "<= 1.5x",
    )
    table.add(
        "build_report peak memory",
        f"{pacta.max_rss_mb:,.0f} MB",
        f"plain render {plain.max_rss_mb:,.0f} MB",
        "",
        "< 1 GB",
    )
    table.add(
        "report pages",
        f"{pages} pages ({out.stat().st_size / 2**20:,.0f} MB with exhibits)",
        f"plain render {_pages(plain_pdf)} pages; {events:,} events in the record",
        "",
        "independent of the events",
    )
    return {"seconds": pacta.seconds, "pages": pages, "job": result["job"]}
