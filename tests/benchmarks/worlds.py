"""Generated worlds for the quality and scale figures: written once into a cache directory
(`var/bench/world-SHAPE-ACCOUNTS-EVENTS-SEED`, reused while it is complete and was made by
the generator as it is now) and loaded into a database of their own, copied from a migrated
template.

Generation and the usage load run as commands of their own (`manage.py generate_scenario`,
`manage.py ingest usage`), so their time and peak memory are theirs, not the benchmark's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

from tests.benchmarks.harness import ROOT, Run, database_environment, manage, run_timed
from tests.benchmarks.ingest import psql_command


class World(NamedTuple):
    directory: Path
    shape: str
    accounts: int
    events: int
    seed: int

    @property
    def title(self) -> str:
        return f"{self.shape} seed {self.seed}"

    def labels(self) -> dict:
        return json.loads((self.directory / "labels.json").read_text())["accounts"]


GENERATOR = ROOT / "casework" / "demo" / "world"


def generator_fingerprint() -> str:
    """A digest of the generator's code and data: a world cached by another version of it
    would measure detection on a world the generator no longer makes."""
    digest = hashlib.sha256()
    for path in sorted(GENERATOR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".md"):
            digest.update(str(path.relative_to(GENERATOR)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def world_generate(
    *, work: Path, shape: str, accounts: int, events: int, seed: int, env: dict[str, str]
) -> tuple[World, Run | None]:
    """The world's files, generated unless the cache holds them (labels.json is written
    last, so its presence means a complete world; generator.sha256 says which generator
    made it); the run is None when cached."""
    directory = work / f"world-{shape}-{accounts}-{events}-{seed}"
    world = World(directory, shape, accounts, events, seed)
    made_by = directory / "generator.sha256"
    fingerprint = generator_fingerprint()
    if (directory / "labels.json").exists():
        if made_by.exists() and made_by.read_text().strip() == fingerprint:
            return world, None
        print(f"  {directory.name}: made by another version of the generator, made again")
        (directory / "labels.json").unlink()
    print(f"  generating {shape} seed {seed} ({accounts:,} accounts, {events:,} events) ...")
    run = run_timed(
        manage(
            "generate_scenario",
            "--out",
            str(directory),
            "--shape",
            shape,
            "--accounts",
            str(accounts),
            "--events",
            str(events),
            "--seed",
            str(seed),
            "--json",
        ),
        env,
    )
    made_by.write_text(fingerprint + "\n")
    return world, run


def world_load(world: World, *, database: str, env: dict[str, str]) -> Run:
    """Accounts, assent, the model catalogue and every usage row into ``database`` (already
    created, empty and migrated), then VACUUM ANALYZE as autovacuum would leave the table.
    Returns the usage ingest's run: the only part whose cost grows with the events."""
    db_env = database_environment(env, database)
    for kind in ("accounts", "assent"):
        run_timed(manage("ingest", kind, str(world.directory / f"{kind}.ndjson"), "--json"), db_env)
    run_timed(
        manage(
            "import_models",
            str(world.directory / "models.json"),
            "--plans",
            str(world.directory / "plans.json"),
        ),
        db_env,
    )
    usage = run_timed(
        manage("ingest", "usage", str(world.directory / "usage.ndjson"), "--json"), db_env
    )
    accepted = json.loads(usage.stdout)["accepted"]
    if accepted != world.events:
        raise RuntimeError(f"{world.directory}: ingest accepted {accepted:,} of {world.events:,}")
    run_timed(psql_command("VACUUM ANALYZE evidence_usageevent", database=database), env)
    return usage


def psql_value(sql: str, *, database: str, env: dict[str, str]) -> str:
    """One value from ``database`` (unaligned, tuples only)."""
    command = psql_command(sql, database=database)
    return run_timed([command[0], "-A", "-t", *command[1:]], env).stdout.strip()


def detect_seconds_in_service(run_id: int, *, database: str, env: dict[str, str]) -> float:
    """The detection service's own time (the run's start to finish, without the command's
    start-up or the JSON report)."""
    return float(
        psql_value(
            "SELECT extract(epoch FROM finished_at - started_at) FROM evidence_detectionrun "
            f"WHERE id = {int(run_id)}",
            database=database,
            env=env,
        )
    )
