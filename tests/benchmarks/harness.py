"""Shared machinery: a throwaway benchmark database, timed subprocesses, the results table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# PACTA_BENCH_DATABASE lets two checkouts benchmark side by side without dropping each
# other's database.
BENCH_DB = os.environ.get("PACTA_BENCH_DATABASE", "pacta_bench")


def bench_environment() -> dict[str, str]:
    """Environment for every process of the run: a database of its own, never the demo's."""
    env = dict(os.environ)
    url = env.get("DATABASE_URL", "")
    if url:
        env["DATABASE_URL"] = re.sub(r"/[^/?]*(\?|$)", f"/{BENCH_DB}\\1", url, count=1)
    else:
        env["PACTA_DATABASE_NAME"] = BENCH_DB
    env.setdefault("PACTA_VAR_DIR", str(ROOT / "var"))
    return env


def database_recreate(env: dict[str, str]) -> None:
    """Drop and create the benchmark database, so every run starts from empty tables."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params["dbname"] = "postgres"
    connection.close()
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
        # Throwaway, like the test database: the benchmarks empty the usage table between
        # loads, which evidence tables refuse elsewhere (migration 0100).
        conn.execute(f"ALTER DATABASE {BENCH_DB} SET pacta.allow_truncate = 'on'")


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    stdout: str


def run_timed(args: list[str], env: dict[str, str], *, check: bool = True) -> Run:
    """Run a command, returning wall time and the child's own peak memory (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.stderr.write(err)
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}")
    return Run(seconds=seconds, max_rss_mb=_peak_rss_of(args, out, err), stdout=out)


def _peak_rss_of(args, out, err) -> float:
    match = re.search(r"PEAK_RSS_KB=(\d+)", err)
    return int(match.group(1)) / 1024 if match else float("nan")


def manage(*args: str) -> list[str]:
    """A manage.py command that reports its own peak memory on stderr when it exits."""
    return [sys.executable, "-m", "tests.benchmarks.peak", "manage.py", *args]


@dataclass
class Table:
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, figure: str, value: str, baseline: str, ratio: str, target: str) -> None:
        self.rows.append((figure, value, baseline, ratio, target))
        print(f"    {figure}: {value} | {baseline} | {ratio} | target {target}", flush=True)

    def render(self) -> str:
        header = ("figure", "Pacta", "baseline (same run)", "ratio", "target")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
        lines.append("-+-".join("-" * w for w in widths))
        for row in self.rows:
            lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        return "\n".join(lines)
