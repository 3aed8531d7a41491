"""Prompt families: prompt openings that are near-duplicates of one another (paraphrases of
one scaffold), found with MinHash sketches and locality-sensitive hashing, never by
comparing every pair of prompts.

An identical template key shows one author only when the text is the same; an operator who
rewords its scaffold for each account defeats that. Two openings whose word shingles overlap
heavily (Jaccard similarity around 0.6 or more) land in one LSH bucket in at least one band
with high probability, and templates sharing a bucket are joined into a family. Each distinct
template is sketched once (a million requests hold about a hundred thousand), in numpy.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

# The opening: the first words of the prompt, digits masked (the scaffold, not the filling).
OPENING_WORDS = 16
SHINGLE_WORDS = 3
_OPENING_CHARS = 128  # enough for 16 words and the start of a 17th in nine excerpts of ten
# MinHash: BANDS x ROWS hash functions; two openings share a bucket in some band with
# probability 1 - (1 - J^ROWS)^BANDS: 0.97 at Jaccard 0.7, 0.54 at 0.5, 0.09 at 0.3.
BANDS, ROWS = 12, 4
_PRIME = (1 << 31) - 1
_SEED = 16  # fixed: families reproduce from run to run
_WORDS = re.compile(r"\w+").findall
# Names every parameter that decides a band key: two Pacta instances compare band keys only
# when they name the same scheme (different parameters would silently never match).
SKETCH_SCHEME = f"minhash-w{OPENING_WORDS}-s{SHINGLE_WORDS}-b{BANDS}x{ROWS}-seed{_SEED}"


def _opening(excerpt: str) -> tuple[str, ...]:
    """The opening's words, lower-cased, numbers masked. Read from the excerpt's first
    characters when they hold a word beyond the opening (then its words are whole)."""
    words = _WORDS(excerpt[:_OPENING_CHARS].lower())
    if len(words) <= OPENING_WORDS:
        words = _WORDS(excerpt.lower())
    return tuple("#" if w.isdigit() else w for w in words[:OPENING_WORDS])


def _shingles(words: tuple[str, ...]) -> set[int]:
    if len(words) < SHINGLE_WORDS:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {
        zlib.crc32(" ".join(words[i : i + SHINGLE_WORDS]).encode())
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def prompt_families(excerpts: list[tuple[str, str]]) -> dict[str, int]:
    """{template: family} for every template whose family holds two or more templates.

    `excerpts` is (template, excerpt) for each distinct template. A family's number is its
    lowest member's position in `excerpts` (the same input gives the same numbers). Each
    distinct opening is sketched once (a million requests hold about a hundred thousand
    templates but a third as many openings: templates with one opening share every bucket,
    so they are one family whatever else they hold), in chunks, keeping only each band's key,
    so memory grows with the number of openings, not with their shingles."""
    index_of: dict[tuple[str, ...], int] = {}  # each distinct opening, numbered as it appears
    first_position: list[int] = []  # where each opening first appears
    opening_of = np.empty(len(excerpts), dtype=np.int64)
    for position, (_, excerpt) in enumerate(excerpts):
        words = _opening(excerpt)
        index = index_of.get(words)
        if index is None:
            index = index_of[words] = len(first_position)
            first_position.append(position)
        opening_of[position] = index
    owners, keys = _sketch_all(list(index_of))
    if not len(owners):
        return {}
    # Families of openings; each is numbered by its lowest opening, the first to appear, whose
    # first template is the family's lowest member.
    labels = _components(len(owners), keys)
    root = np.full(len(first_position), -1, dtype=np.int64)
    root[owners] = owners[labels]
    family_root = root[opening_of]  # -1: an opening without words, in no family
    sketched = np.flatnonzero(family_root >= 0)
    sizes = np.bincount(family_root[sketched], minlength=len(first_position))
    return {
        excerpts[index][0]: first_position[family_root[index]]
        for index in sketched[sizes[family_root[sketched]] >= 2].tolist()
    }


CHUNK = 50_000


def opening_band_keys(texts: list[str]) -> list[tuple[int, ...]]:
    """The LSH band keys of each text's opening (BANDS of them, in band order; none for a
    text without words), exactly as `prompt_families` buckets them.

    Two openings that share a key in some band are near-duplicates; this is what another
    Pacta instance compares, under a keyed hash, to find paraphrases of a partner's
    prompts without either side reading the other's text."""
    owners, band_keys = _sketch_all([_opening(text) for text in texts])
    keys: list[tuple[int, ...]] = [()] * len(texts)
    for index, position in enumerate(owners.tolist()):
        keys[position] = tuple(int(band_keys[band][index]) for band in range(BANDS))
    return keys


def _sketch_all(openings: list[tuple[str, ...]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The band keys of every opening with any words, and their positions, in chunks."""
    a, b = _coefficients()
    owners_parts = [np.zeros(0, dtype=np.int64)]
    key_parts: list[list[np.ndarray]] = [[np.zeros(0, dtype=np.uint64)] for _ in range(BANDS)]
    for start in range(0, len(openings), CHUNK):
        owners, keys = _sketch(openings, start, min(start + CHUNK, len(openings)), a, b)
        owners_parts.append(owners)
        for band in range(BANDS):
            key_parts[band].append(keys[band])
    return np.concatenate(owners_parts), [np.concatenate(parts) for parts in key_parts]


def _coefficients() -> tuple[np.ndarray, np.ndarray]:
    """The MinHash functions' coefficients, from the fixed seed (the same every run)."""
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, _PRIME, size=BANDS * ROWS, dtype=np.int64)
    b = rng.integers(0, _PRIME, size=BANDS * ROWS, dtype=np.int64)
    return a, b


def _sketch(openings, start: int, end: int, a: np.ndarray, b: np.ndarray):
    """The band keys of openings start..end (those with any words), and their positions."""
    counts = np.zeros(end - start, dtype=np.int64)
    values: list[int] = []
    for offset in range(end - start):
        shingles = _shingles(openings[start + offset])
        counts[offset] = len(shingles)
        values.extend(shingles)
    present = np.flatnonzero(counts)
    if not len(present):
        return np.zeros(0, dtype=np.int64), [np.zeros(0, dtype=np.uint64)] * BANDS
    value = np.asarray(values, dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts[present])[:-1]]
    signature = np.empty((len(present), BANDS * ROWS), dtype=np.int64)
    for k in range(BANDS * ROWS):
        signature[:, k] = np.minimum.reduceat((a[k] * value + b[k]) % _PRIME, starts)
    keys = [_fold(signature[:, band * ROWS : (band + 1) * ROWS]) for band in range(BANDS)]
    return present + start, keys


def _fold(rows: np.ndarray) -> np.ndarray:
    key = np.zeros(len(rows), dtype=np.uint64)
    for column in range(rows.shape[1]):
        key = key * np.uint64(1_000_003) + rows[:, column].astype(np.uint64)
    return key


def _components(n: int, keys: list[np.ndarray]) -> np.ndarray:
    """Connected components of "shares a bucket in some band", by lowest-label propagation
    with pointer jumping (vectorised; no pair is ever listed)."""
    labels = np.arange(n)
    while True:
        before = labels.copy()
        for key in keys:
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
            lowest = np.minimum.reduceat(labels[order], starts)
            run = np.repeat(lowest, np.diff(np.r_[starts, n]))
            np.minimum.at(labels, order, run)
            np.minimum.at(labels, run, labels[order])  # a run's lowest label learns too
        while True:  # pointer jumping: every label points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels
