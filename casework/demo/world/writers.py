"""Writing the world: usage streamed in time order, NDJSON and JSON files written the one
way that keeps them byte-identical, and the ground truth `labels.json`."""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Iterable
from pathlib import Path

from casework.demo.world.draws import mix_request_id
from casework.demo.world.population import Population
from casework.demo.world.shapes import group_info
from casework.demo.world.window import DAY_MS, WINDOW_DAYS, WINDOW_MS, iso_seconds

_STREAM_BITS = 21


def usage_write(world: Population, path: Path) -> dict:
    """Stream usage events to disk in time order, holding only one packed integer per event
    (time << 21 | stream) and sorting one day at a time, so memory stays small at 1M+."""
    rng = random.Random(f"pacta-scenario:{world.seed}:usage")
    streams = [stream for cohort in world.traffic.values() for stream in cohort]
    if len(streams) >= 1 << _STREAM_BITS:
        raise ValueError("too many traffic streams for the packed event key")
    buckets = [array("q") for _ in range(WINDOW_DAYS)]
    for index, stream in enumerate(streams):
        if not stream.count:
            continue
        for moment in stream.timing.times(rng, stream.count, stream.lo, stream.hi):
            buckets[moment // DAY_MS].append((moment << _STREAM_BITS) | index)
    id_key = rng.getrandbits(96)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    mask = (1 << _STREAM_BITS) - 1
    by_role: dict[str, int] = {"benign": 0, "hard_negative": 0, "adversary": 0}
    output_by_role = dict.fromkeys(by_role, 0)
    role_of = [stream.account.role for stream in streams]
    sequence = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        lines: list[str] = []
        for day, bucket in enumerate(buckets):
            for key in sorted(bucket):
                index = key & mask
                line, output_tokens = streams[index].line(
                    key >> _STREAM_BITS, rng, mix_request_id(sequence, id_key), encode
                )
                sequence += 1
                lines.append(line)
                role = role_of[index]
                by_role[role] += 1
                output_by_role[role] += output_tokens
                if len(lines) == 4096:
                    out.write("\n".join(lines) + "\n")
                    lines.clear()
            if lines:
                out.write("\n".join(lines) + "\n")
                lines.clear()
            buckets[day] = array("q")
    return {"events": sequence, "events_by_role": by_role, "output_tokens_by_role": output_by_role}


def lines_write(path: Path, records: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")


def json_write(path: Path, document) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def labels_document(world: Population) -> dict:
    groups = {}
    for name, (role, kind, description) in group_info(world.shape).items():
        members = sorted(a.account_id for a in world.accounts if a.group == name)
        groups[name] = {"role": role, "kind": kind, "description": description, "accounts": members}
        groups[name].update(world.groups_extra.get(name, {}))
    return {
        "seed": world.seed,
        "window": {"start": iso_seconds(0), "end": iso_seconds(WINDOW_MS)},
        "accounts": {
            a.account_id: {"role": a.role, "group": a.group, "kind": a.kind} for a in world.accounts
        },
        "groups": groups,
    }
