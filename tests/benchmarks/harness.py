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
    env.setdefault("PACTA_VAR_DIR", str(ROOT / "var"))
    return database_environment(env, BENCH_DB)


def database_environment(env: dict[str, str], name: str) -> dict[str, str]:
    """The same environment pointed at database ``name`` (the quality worlds and the scale
    curve each load a database of their own beside the benchmark's)."""
    env = dict(env)
    url = env.get("DATABASE_URL", "")
    if url:
        env["DATABASE_URL"] = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url, count=1)
    else:
        env["PACTA_DATABASE_NAME"] = name
    return env


def _server_params() -> dict:
    """Connection parameters of the server's maintenance database (creating and dropping
    databases cannot run inside the database concerned)."""
    from django.db import connection

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    params["dbname"] = "postgres"
    return params


def server_execute(*statements: str) -> None:
    import psycopg
    from django.db import connection

    params = _server_params()
    connection.close()
    with psycopg.connect(**params, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(**_server_params(), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def database_recreate(env: dict[str, str], name: str = BENCH_DB, *, template: str = "") -> None:
    """Drop and create a benchmark database, so every run starts from empty tables; from
    ``template`` (a migrated, empty database) when given, which saves migrating it again."""
    server_execute(
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
        f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""),
        # Throwaway, like the test database: the benchmarks empty the usage table between
        # loads, which evidence tables refuse elsewhere (migration 0100).
        f"ALTER DATABASE {name} SET pacta.allow_truncate = 'on'",
    )


def database_drop(name: str) -> None:
    server_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def template_prepare(env: dict[str, str]) -> str:
    """A migrated, empty database to copy the quality and scale databases from (`CREATE
    DATABASE ... TEMPLATE` copies files: a second, against migrating each one again)."""
    name = f"{BENCH_DB}_template"
    database_recreate(env, name)
    migrate = [sys.executable, "manage.py", "migrate", "--no-input"]
    run_timed(migrate, database_environment(env, name))
    return name


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
        return grid_render(header, self.rows)


def terms_import(directory: Path, env: dict[str, str]) -> None:
    """A generated world's Terms (`terms/SLUG-DATE.md`), so allegations can cite clauses."""
    for path in sorted((directory / "terms").glob("*.md")):
        slug, _, label = path.stem.rpartition("-20")
        run_timed(
            manage("import_terms", str(path), "--document", slug, "--title",
                   "Services Agreement", "--version", "20" + label, "--effective",
                   "20" + label),
            env,
        )  # fmt: skip


def grid_render(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
