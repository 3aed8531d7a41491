"""How ingest cuts a file into work, and the caps that keep one file from exhausting it.

The sizes trade memory for speed and never change what is stored, hashed or reported: a
file ingested with any sizes gives the same rows, batch digest, errors and ledger entry.
The caps bound what one file may cost (memory, disk, time) and refuse or reject what
passes them, by name. The defaults are the production values; tests pass small ones so
that a few lines cross many buffer, block and chunk boundaries, or reach a cap.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class IngestTuning:
    """The sizes and caps one ingest works with (`ingest_file(..., tuning=...)`)."""

    # Bytes read from the file (and from the gzip stream) at a time.
    read_buffer: int = MIB
    # A block of usage events, the unit a worker process parses, ends at this many lines
    # or before it passes `block_bytes` (a single longer line makes a block of its own),
    # whichever comes first: a block of long lines stays as small as one of short ones.
    block_lines: int = 2_000
    block_bytes: int = 4 * MIB
    # Shared memory per block in flight, where a worker leaves its COPY text; a larger
    # block goes back through the result pipe.
    slot_bytes: int = 4 * MIB
    # Smaller usage files are parsed in this process: a fork costs more than it saves.
    parallel_min_bytes: int = 4 * MIB
    # Usage rows per COPY savepoint: the rows redone through staging when a chunk
    # collides with stored request ids. The chunk is held until its savepoint closes, so
    # it also closes once its COPY text reaches `usage_chunk_bytes`.
    usage_chunk_rows: int = 25_000
    usage_chunk_bytes: int = 64 * MIB
    # Account profiles or assent records written per bulk statement.
    record_chunk_rows: int = 5_000
    # What the rejects file keeps of a rejected line: its first bytes (with its length and
    # SHA-256), so a gigabyte of bad input costs kilobytes of evidence, not a gigabyte.
    reject_prefix_bytes: int = 4 * KIB
    # A file whose rejects file passes this many bytes is refused whole (a million tiny bad
    # lines would otherwise cost far more evidence than the file itself).
    max_rejects_bytes: int = 256 * MIB
    # A compressed file is refused, while it streams, once it expands past this many bytes
    # (None: the PACTA_INGEST_MAX_EXPANDED_BYTES setting) ...
    max_expanded_bytes: int | None = None
    # ... or, past its first `ratio_free_bytes`, once it has expanded more than
    # `max_compression_ratio` times the compressed bytes read: a decompression bomb, not a
    # log (real NDJSON logs compress 5 to 30 times).
    max_compression_ratio: int = 200
    ratio_free_bytes: int = 8 * MIB


DEFAULT_TUNING = IngestTuning()
