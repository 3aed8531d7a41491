"""How ingest cuts a file into work: buffer, block, slot and chunk sizes, in one place.

They trade memory for speed and never change what is stored, hashed or reported: a file
ingested with any tuning gives the same rows, batch digest, errors and ledger entry. The
defaults are the production values; tests pass small ones so that a few lines cross many
buffer, block and chunk boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class IngestTuning:
    """The sizes one ingest works with (`ingest_file(..., tuning=...)`)."""

    # Bytes read from the file (and from the gzip stream) at a time.
    read_buffer: int = MIB
    # Lines in one block of usage events, the unit a worker process parses.
    block_lines: int = 2_000
    # Shared memory per block in flight, where a worker leaves its COPY text; a larger
    # block goes back through the result pipe.
    slot_bytes: int = 4 * MIB
    # Smaller usage files are parsed in this process: a fork costs more than it saves.
    parallel_min_bytes: int = 4 * MIB
    # Usage rows per COPY savepoint: the rows redone through staging when a chunk
    # collides with stored request ids.
    usage_chunk_rows: int = 25_000
    # Account profiles or assent records written per bulk statement.
    record_chunk_rows: int = 5_000


DEFAULT_TUNING = IngestTuning()
