"""Bounded ingest: every gzip member read once, caps refused by name, deep lines rejected,
and the memory of an ingest bounded whatever the file holds (issue #17)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from evidence.ingest.service import ingest_file
from evidence.ingest.source import RawSource
from evidence.ingest.tuning import IngestTuning
from evidence.models import EvidenceItem, IngestBatch, LedgerEntry, UsageEvent
from tests.factories import ndjson_bytes, usage_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

ROOT = Path(django_settings.BASE_DIR)
MIB = 1024 * 1024


def ingest(kind, path, **kwargs):
    return ingest_file(actor="system:test", kind=kind, path=path, **kwargs)


def usage_lines(start: int, stop: int) -> bytes:
    return ndjson_bytes(usage_event(i) for i in range(start, stop))


def members(*parts: tuple[bytes, int]) -> bytes:
    """Concatenated gzip members (`cat a.gz b.gz ...`), each (data, level)."""
    return b"".join(gzip.compress(data, compresslevel=level) for data, level in parts)


def stored_request_ids() -> list[str]:
    return list(UsageEvent.objects.order_by("id").values_list("request_id", flat=True))


def rejected_lines(result) -> list[dict]:
    rejects = EvidenceItem.objects.get(pk=result.rejects_file)
    with rejects.file.open("rb") as fh:
        return [json.loads(line) for line in fh.read().splitlines()]


def read_lines(path: Path, tuning: IngestTuning) -> list[bytes]:
    source = RawSource(path, max_line_bytes=MIB, tuning=tuning)
    try:
        return [line.data for line in source.lines()]
    finally:
        source.close()


# --- every gzip member, exactly once -------------------------------------------------------


def test_two_members_of_cat_a_gz_b_gz_are_ingested_in_full(tmp_path):
    """The issue's case: 20,000 lines in two level-6 members came in as 11,836."""
    path = tmp_path / "rotated.ndjson.gz"
    path.write_bytes(members((usage_lines(0, 10_000), 6), (usage_lines(10_000, 20_000), 6)))
    result = ingest("usage", path)
    assert (result.accepted, result.duplicates, result.rejected) == (20_000, 0, 0)
    assert stored_request_ids() == [f"req_{i:06d}" for i in range(20_000)]
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("workers", [0, 2])
def test_members_at_levels_1_6_and_9_are_each_ingested_once(tmp_path, settings, workers):
    """The issue's other case: this file grew the ingest to 24 GB until the kernel killed it."""
    settings.PACTA_INGEST_WORKERS = workers
    path = tmp_path / "levels.ndjson.gz"
    data = members(
        (usage_lines(0, 10_000), 1),
        (usage_lines(10_000, 20_000), 6),
        (usage_lines(20_000, 30_000), 9),
    )
    path.write_bytes(data)
    result = ingest("usage", path, tuning=IngestTuning(parallel_min_bytes=0))
    assert (result.accepted, result.duplicates, result.rejected) == (30_000, 0, 0)
    assert stored_request_ids() == [f"req_{i:06d}" for i in range(30_000)]
    assert (result.sha256, result.size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_twelve_member_file_is_ingested_in_full(tmp_path):
    path = tmp_path / "twelve.ndjson.gz"
    path.write_bytes(
        members(*((usage_lines(n * 500, (n + 1) * 500), n % 9 + 1) for n in range(12)))
    )
    result = ingest("usage", path, tuning=IngestTuning(read_buffer=4096))
    assert (result.accepted, result.rejected) == (6_000, 0)
    assert stored_request_ids() == [f"req_{i:06d}" for i in range(6_000)]
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def _boundary_buffers(parts: list[bytes], data: list[bytes]) -> set[int]:
    """Read buffers at which a member's compressed or expanded end falls exactly on the end
    of a read, and their neighbours."""
    ends = [sum(len(p) for p in parts[: n + 1]) for n in range(len(parts))]
    ends += [len(d) for d in data]
    return {size + delta for size in ends for delta in (-1, 0, 1) if size + delta > 0} | {1, 7}


def test_members_ending_exactly_at_a_read_boundary_are_read_once(tmp_path):
    data = [usage_lines(0, 40), b"", usage_lines(40, 90), usage_lines(90, 91)]
    parts = [
        gzip.compress(d, compresslevel=level) for d, level in zip(data, (1, 6, 9, 6), strict=True)
    ]
    path = tmp_path / "boundaries.ndjson.gz"
    path.write_bytes(b"".join(parts))
    expected = b"".join(data).splitlines()
    for buffer in sorted(_boundary_buffers(parts, data)):
        assert read_lines(path, IngestTuning(read_buffer=buffer)) == expected, buffer

    result = ingest("usage", path, tuning=IngestTuning(read_buffer=len(parts[0])))
    assert (result.accepted, result.rejected) == (91, 0)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_zero_padding_after_a_member_is_skipped_and_garbage_is_named(tmp_path):
    padded = tmp_path / "padded.ndjson.gz"
    padded.write_bytes(gzip.compress(usage_lines(0, 5)) + b"\0" * 1000)
    assert len(read_lines(padded, IngestTuning(read_buffer=64))) == 5

    damaged = tmp_path / "damaged.ndjson.gz"
    damaged.write_bytes(gzip.compress(usage_lines(0, 5)) + b"not gzip")
    result = ingest("usage", damaged)
    assert result.accepted == 5
    assert result.errors[-1]["field"] == "file"
    assert "damaged" in result.errors[-1]["message"]


# --- caps on a compressed file ---------------------------------------------------------------


def _bomb(path: Path, expanded: int, *, piece: bytes = b"\0" * MIB) -> Path:
    """`expanded` bytes of `piece` over and over, gzip-compressed as they are generated."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(expanded // len(piece)):
            out.write(piece)
    return path


def _assert_refused_whole(result, path: Path, *, says: str) -> None:
    assert result.status == IngestBatch.Status.REJECTED
    assert (result.accepted, result.duplicates) == (0, 0)
    assert not UsageEvent.objects.exists()
    refusal = result.errors[-1]
    assert refusal["field"] == "file"
    assert refusal["message"].startswith(f"{result.file} was refused")
    assert says in refusal["message"]
    # The refusal is on record: a batch of the file as received, and its ledger entry.
    batch = IngestBatch.objects.get(pk=result.batch)
    assert batch.status == IngestBatch.Status.REJECTED
    assert batch.raw_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch.raw_size == path.stat().st_size
    assert LedgerEntry.objects.filter(object_type="ingest_batch", object_id=str(batch.pk)).exists()


def test_a_gzip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    path = _bomb(tmp_path / "zeros.ndjson.gz", 64 * MIB)
    result = ingest("usage", path)
    _assert_refused_whole(result, path, says="past the limit of 200 times the compressed size")


def test_a_bomb_of_one_repeated_valid_line_is_refused_and_nothing_kept(tmp_path):
    line = json.dumps(usage_event(1)).encode() + b"\n"
    path = _bomb(tmp_path / "repeated.ndjson.gz", 48 * MIB, piece=line * (MIB // len(line)))
    result = ingest("usage", path, tuning=IngestTuning(block_lines=100))
    _assert_refused_whole(result, path, says="200 times")


def test_a_file_expanding_past_the_setting_is_refused_naming_the_limit(tmp_path, settings):
    settings.PACTA_INGEST_MAX_EXPANDED_BYTES = 50_000
    path = tmp_path / "usage.ndjson.gz"
    path.write_bytes(gzip.compress(usage_lines(0, 1_000)))  # about 400 KB, ratio about 10
    result = ingest("usage", path)
    _assert_refused_whole(
        result, path, says="larger than 50,000 bytes, the limit on the expanded size"
    )
    assert "PACTA_INGEST_MAX_EXPANDED_BYTES" in result.errors[-1]["message"]
    # The tuning's own cap, when given, is the one that holds.
    assert ingest("usage", path, tuning=IngestTuning(max_expanded_bytes=10**9)).accepted == 1_000


def test_the_ratio_cap_allows_a_first_stretch_and_is_a_parameter(tmp_path):
    path = _bomb(tmp_path / "zeros.ndjson.gz", 4 * MIB)  # within the first 8 MiB: allowed
    result = ingest("usage", path)
    assert result.status == IngestBatch.Status.COMMITTED  # one over-long line, rejected
    assert result.rejected == 1
    tight = IngestTuning(ratio_free_bytes=MIB, max_compression_ratio=500)
    assert ingest("usage", path, tuning=tight).status == IngestBatch.Status.REJECTED


def test_a_refusal_is_shown_after_a_hundred_rejected_lines(tmp_path):
    path = _bomb(tmp_path / "bomb.ndjson.gz", 16 * MIB)
    path.write_bytes(gzip.compress(b"{oops}\n" * 150) + path.read_bytes())
    result = ingest("usage", path)
    assert (result.errors_total, len(result.errors)) == (151, 101)
    assert result.errors[-1]["field"] == "file"
    assert "200 times" in result.errors[-1]["message"]


def test_a_file_of_tiny_bad_lines_is_refused_before_its_rejects_outgrow_it(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(b"x\n" * 100_000)
    result = ingest("usage", path, tuning=IngestTuning(max_rejects_bytes=MIB))
    assert result.status == IngestBatch.Status.REJECTED
    assert result.errors_total < 20_000
    message = result.errors[-1]["message"]
    assert message.startswith("bad.ndjson was refused: its rejected lines passed 1,048,576")


# --- blocks by bytes, rejected lines by their start and hash ---------------------------------


def test_a_block_of_long_lines_is_cut_by_bytes(tmp_path):
    """2,000 lines of 100 KB each would have been one block of 200 MB."""
    long = [json.dumps(usage_event(i, prompt="p" * 100_000)).encode() for i in range(40)]
    path = tmp_path / "long.ndjson"
    path.write_bytes(b"\n".join(long) + b"\n")
    for gz in (False, True):
        if gz:
            path = tmp_path / "long.ndjson.gz"
            path.write_bytes(gzip.compress(b"\n".join(long) + b"\n"))
        source = RawSource(path, max_line_bytes=MIB, tuning=IngestTuning())
        blocks = list(source.line_blocks(2_000, 350_000))
        source.close()
        assert [block.first for block in blocks] == list(range(1, 41, 3)), gz
        assert all(len(block.data) <= 350_000 for block in blocks)

    result = ingest("usage", path, tuning=IngestTuning(block_bytes=350_000, usage_chunk_bytes=1))
    assert (result.accepted, result.rejected) == (40, 0)
    assert stored_request_ids() == [f"req_{i:06d}" for i in range(40)]


def test_a_rejected_line_is_kept_by_its_first_bytes_length_and_hash(tmp_path):
    big_bad = json.dumps(usage_event(2, output_tokens=-1, prompt="é" * 60_000)).encode()
    not_utf8 = b'{"request_id": "caf\xe9"}'
    path = tmp_path / "u.ndjson"
    path.write_bytes(b"\n".join([json.dumps(usage_event(1)).encode(), big_bad, not_utf8]) + b"\n")
    result = ingest("usage", path, tuning=IngestTuning(reject_prefix_bytes=1001))
    assert (result.accepted, result.rejected) == (1, 2)
    first, second = rejected_lines(result)
    assert (first["line"], first["field"]) == (2, "output_tokens")
    assert (first["length"], first["sha256"]) == (
        len(big_bad),
        hashlib.sha256(big_bad).hexdigest(),
    )
    # 1,001 bytes end inside a two-byte character: the whole characters before it are kept.
    assert big_bad.startswith(first["raw"].encode())
    assert 998 <= len(first["raw"].encode()) <= 1001
    assert first["truncated"] is True
    assert second["raw_base64"] and second["truncated"] is False
    assert second["sha256"] == hashlib.sha256(not_utf8).hexdigest()
    rejects = EvidenceItem.objects.get(pk=result.rejects_file)
    assert rejects.size < 4_000  # not the 120 KB line


def test_a_field_name_quoting_a_huge_key_is_cut_short(tmp_path):
    line = json.dumps({**usage_event(1), "k" * 500_000: 1}).encode()
    path = tmp_path / "u.ndjson"
    path.write_bytes(line + b"\n")
    result = ingest("usage", path)
    [error] = result.errors
    assert len(error["field"]) < 300 and len(error["message"]) < 1_100
    assert EvidenceItem.objects.get(pk=result.rejects_file).size < 10_000


# --- nesting depth ---------------------------------------------------------------------------


def _nested(depth: int) -> dict:
    """A usage event whose deepest value is `depth` levels down (the event itself is 1)."""
    value: object = 1
    for _ in range(depth - 2):
        value = [value]
    return usage_event(7, params={"deep": value}) if depth > 1 else usage_event(7)


def _deep_line(depth: int) -> bytes:
    """A line `depth` levels deep, written out without Python's recursion."""
    head = json.dumps(usage_event(7, params=None))[:-1].encode()
    return head + b', "params": {"deep": ' + b"[" * (depth - 2) + b"]" * (depth - 2) + b"}}"


@pytest.mark.parametrize("depth", [65, 300, 1_000, 100_000])
@pytest.mark.parametrize("workers", [0, 2])
def test_a_line_nested_too_deep_is_rejected_by_number_and_the_rest_kept(
    tmp_path, settings, depth, workers
):
    settings.PACTA_INGEST_WORKERS = workers
    lines = [json.dumps(usage_event(i)).encode() for i in range(10)]
    lines[6] = _deep_line(depth)
    path = tmp_path / "u.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = ingest("usage", path, tuning=IngestTuning(parallel_min_bytes=0, block_lines=4))
    assert result.status == IngestBatch.Status.COMMITTED
    assert result.accepted == 9
    [error] = result.errors
    assert (error["line"], error["message"]) == (7, "nested deeper than 64 levels")


def test_sixty_four_levels_are_accepted_and_sixty_five_are_not(tmp_path):
    path = tmp_path / "u.ndjson"
    path.write_bytes(ndjson_bytes([_nested(64)]))
    assert ingest("usage", path).accepted == 1
    path.write_bytes(ndjson_bytes([{**_nested(65), "request_id": "req_deeper"}]))
    result = ingest("usage", path)
    assert [e["message"] for e in result.errors] == ["nested deeper than 64 levels"]


def _wrapped(head: bytes, depth: int) -> bytes:
    """`head` then a value `depth` lists deep, closing the line's object."""
    return head + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("kind", "fmt", "line"),
    [
        ("usage", "litellm", _wrapped(b'{"request_id": "x", "team_id": "t", "messages": ', 900)),
        ("accounts", "native", _wrapped(b'{"account_id": "acct_1", "org_name": ', 1_000)),
        ("assent", "native", _wrapped(b'{"account_id": "acct_1", "ip": ', 70)),
    ],
)
def test_every_kind_and_format_rejects_a_deep_line_in_this_process(tmp_path, kind, fmt, line):
    path = tmp_path / "f.ndjson"
    path.write_bytes(line + b"\n")
    result = ingest(kind, path, fmt=fmt)
    assert [(e["line"], e["message"]) for e in result.errors] == [
        (1, "nested deeper than 64 levels")
    ]


def test_a_deep_params_cell_in_csv_is_rejected(tmp_path):
    event = usage_event(1, params=None)
    header = ",".join([*event, "params"])
    cell = '"{""a"": ' + "[" * 500 + "]" * 500 + '}"'
    row = ",".join([*(str(v) for v in event.values()), cell])
    path = tmp_path / "u.csv"
    path.write_text(f"{header}\n{row}\n")
    result = ingest("usage", path, fmt="csv")
    assert [(e["line"], e["field"], e["message"]) for e in result.errors] == [
        (2, "params", "nested deeper than 64 levels")
    ]


def test_the_command_rejects_the_deep_line_and_exits_0(tmp_path, capsys):
    """It crashed with a RecursionError and stored none of the file's valid lines."""
    path = tmp_path / "u.ndjson"
    path.write_bytes(ndjson_bytes([usage_event(1)]) + _deep_line(1_000) + b"\n")
    call_command("ingest", "usage", str(path), "--json")
    document = json.loads(capsys.readouterr().out)
    assert (document["accepted"], document["rejected"], document["status"]) == (1, 1, "committed")
    assert document["errors"][0]["line"] == 2


def test_orjson_still_names_its_depth_limit():
    """`records.json_depth_error` recognises orjson's refusal by its words."""
    import orjson

    from evidence.ingest.records import json_depth_error

    with pytest.raises(orjson.JSONDecodeError) as refused:
        orjson.loads(b"[" * 5_000 + b"]" * 5_000)
    assert json_depth_error(refused.value)
    with pytest.raises(orjson.JSONDecodeError) as broken:
        orjson.loads(b"[1,")
    assert not json_depth_error(broken.value)


# --- memory, measured in a subprocess --------------------------------------------------------


def _database_url() -> str:
    """The test database as a URL a subprocess can use, embedded server or not."""
    params = connection.get_connection_params()
    user = quote(params.get("user") or "postgres")
    password = params.get("password")
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host, port, name = str(params.get("host") or ""), params.get("port") or 5432, params["dbname"]
    if host.startswith("/"):  # a Unix socket folder (the embedded server)
        return f"postgres://{auth}:{port}/{name}?host={quote(host)}"
    return f"postgres://{auth}{host}:{port}/{name}"


def _ingest_peak(path: Path, media: Path) -> tuple[int, dict, int]:
    """`manage.py ingest usage PATH --json` in a subprocess: exit status, document and the
    peak resident memory in bytes of it and its workers (`tests/benchmarks/peak.py` starts
    it, so the figure is not this test process's own, carried across the fork)."""
    env = {**os.environ, "DATABASE_URL": _database_url(), "PACTA_MEDIA_ROOT": str(media)}
    command = [sys.executable, "-m", "tests.benchmarks.peak", "manage.py", "ingest", "usage"]
    done = subprocess.run(
        [*command, str(path), "--json"], cwd=ROOT, env=env, capture_output=True, timeout=600
    )
    peak = re.search(rb"PEAK_RSS_KB=(\d+)", done.stderr)
    assert peak, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout), int(peak.group(1)) * 1024


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_gigabyte_bomb_is_refused_in_bounded_memory(tmp_path, settings):
    path = _bomb(tmp_path / "bomb.ndjson.gz", 1024 * MIB)  # about 1 MB compressed
    assert path.stat().st_size < 2 * MIB
    status, document, peak = _ingest_peak(path, settings.MEDIA_ROOT)
    assert status == 1, document
    assert document["status"] == "rejected"
    assert "bomb.ndjson.gz was refused" in document["errors"][-1]["message"]
    assert peak < 300 * MIB, f"peak RSS {peak / MIB:.0f} MiB"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_three_members_at_levels_1_6_and_9_ingest_in_bounded_memory(tmp_path, settings):
    path = tmp_path / "levels.ndjson.gz"
    path.write_bytes(
        members(
            (usage_lines(0, 10_000), 1),
            (usage_lines(10_000, 20_000), 6),
            (usage_lines(20_000, 30_000), 9),
        )
    )
    status, document, peak = _ingest_peak(path, settings.MEDIA_ROOT)
    assert status == 0, document
    assert (document["accepted"], document["rejected"]) == (30_000, 0)
    assert UsageEvent.objects.count() == 30_000
    assert peak < 300 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
