"""Production benchmark (issue #19): the report bench's case, produced for the court.

Figures, in the same run and on the same case (the busiest 5,000 accounts, every usage
row of theirs in the exhibits):
- `manage.py build_production` (counsel edition, Letter, 35 MB files: snapshot, exhibits,
  filing copy without attachments in volumes, control-numbered natives, load file, signed
  manifest) in seconds (target: at most 90 s at 1M requests), beside `build_report` of the
  same snapshot, which renders the same pages with the same exhibits attached;
- the peak memory of both (target: under 1 GB);
- the largest filing volume (target: at most 35 MB) and the filing copy's pages, beside the
  size of everything produced: the production grows with the case, the filing copy not.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.benchmarks.harness import Table, manage, run_timed
from tests.benchmarks.report import REFERENCE, _case, _record

LIMIT_MB = 35
MB = 1_000_000  # courts' megabytes, as the production counts them


def _signing_env(env: dict[str, str], work: Path) -> dict[str, str]:
    signing = work / "signing"
    run_timed(manage("demo_certificate", "--dir", str(signing)), env)
    return {
        **env,
        "PACTA_SIGNING_CERT": str(signing / "demo-signer.pem"),
        "PACTA_SIGNING_KEY": str(signing / "demo-signer-key.pem"),
        "PACTA_SIGNING_CHAIN": str(signing / "demo-root.pem"),
        "PACTA_REPORT_WORK_DIR": str(work / "report-work"),
        "PACTA_TSA_URL": "",
    }


def _new_snapshot(stamp: str) -> None:
    """A new allegation: a new snapshot, so the report is a build, not a lookup."""
    from casework.models import Allegation, Case
    from evidence.models import Clause

    case = Case.objects.get(reference=REFERENCE)
    clause = Clause.objects.order_by("-version__effective_date", "position").first()
    Allegation.objects.create(
        case=case, clause=clause, theory=f"Benchmark run {stamp}.", created_by=case.opened_by
    )


def bench_production(table: Table, *, env: dict[str, str], work: Path, scenario: Path) -> dict:
    events = _record(scenario, env)
    accounts, case_events = _case()
    build_env = _signing_env(env, work)
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    _new_snapshot(stamp)

    print(f"  build_report over {accounts:,} accounts, {case_events:,} events ...", flush=True)
    pdf = work / f"report-{stamp}.pdf"
    report = run_timed(
        manage("build_report", REFERENCE, "--edition", "counsel", "--out", str(pdf), "--json"),
        build_env,
    )
    print("  build_production of the same snapshot ...", flush=True)
    folder = work / f"production-{stamp}"
    production = run_timed(
        manage("build_production", REFERENCE, "--out", str(folder), "--edition", "counsel",
               "--max-file-mb", str(LIMIT_MB), "--json"),
        build_env,
    )  # fmt: skip
    built = json.loads(production.stdout)
    manifest = json.loads((folder / "manifest.json").read_text())
    volumes = manifest["filing"]
    largest = max(v["size"] for v in volumes)
    produced = sum(f["size"] for f in manifest["files"])
    print("  verify_production (not timed against a target) ...", flush=True)
    verified = run_timed(manage("verify_production", str(folder), "--json"), build_env, check=False)
    verified_ok = bool(verified.stdout.strip()) and json.loads(verified.stdout).get("ok") is True

    size = f"{case_events:,} events, {accounts:,} accounts"
    table.add(
        f"build_production, {size} (s)",
        f"{production.seconds:.1f} s",
        f"build_report of the same case, exhibits attached {report.seconds:.1f} s",
        f"{production.seconds / report.seconds:.2f}x",
        "<= 90 s at 1M requests",
    )
    table.add(
        "build_production peak memory",
        f"{production.max_rss_mb:,.0f} MB",
        f"build_report {report.max_rss_mb:,.0f} MB",
        "",
        "< 1 GB",
    )
    table.add(
        "largest filing volume",
        f"{largest / MB:,.2f} MB ({len(volumes)} volume(s), {volumes[0]['pages_total']} pages)",
        f"report PDF, exhibits embedded {pdf.stat().st_size / MB:,.1f} MB",
        "",
        f"<= {LIMIT_MB} MB",
    )
    table.add(
        "production size",
        f"{produced / MB:,.1f} MB in {len(manifest['files'])} files ({built['natives']} natives)",
        f"{events:,} events in the record",
        "",
        "grows with the case; the filing copy does not",
    )
    table.add(
        "verify_production (s)",
        f"{verified.seconds:.1f} s",
        "OK" if verified_ok else "FAILED",
        "",
        "passes",
    )
    return {"seconds": production.seconds, "largest_volume": largest, "folder": str(folder)}
