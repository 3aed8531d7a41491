"""The bench's quality figures are read off `detect --json` by `group_scores`: a family's
share must count each of its accounts once, at the highest band any cluster gives it."""

import pytest

from tests.benchmarks.quality import GroupScore, group_scores
from tests.benchmarks.scale import scale_sizes


def test_an_account_counts_once_at_its_highest_band_and_benign_archetypes_are_pooled():
    labels = {
        "s1": {"role": "adversary", "kind": "light_swarm"},
        "s2": {"role": "adversary", "kind": "light_swarm"},
        "s3": {"role": "adversary", "kind": "light_swarm"},
        "nat": {"role": "hard_negative", "kind": "carrier_nat"},
        "b1": {"role": "benign", "kind": "personal"},
        "b2": {"role": "benign", "kind": "support-bot"},
    }
    report = {
        "clusters": [
            {"band": "review", "accounts": ["s1", "s2", "nat"]},
            {"band": "high", "accounts": ["s1", "b1"]},  # s1 is in two clusters
        ]
    }

    scores = group_scores(report, labels)

    assert scores == [
        GroupScore("adversary", "light_swarm", accounts=3, flagged=1, review=1),
        GroupScore("hard_negative", "carrier_nat", accounts=1, flagged=0, review=1),
        GroupScore("benign", "benign", accounts=2, flagged=1, review=0),
    ]
    assert scores[0].misses(classic=False) == "light_swarm 33.3% flagged (target >= 95%)"
    assert scores[1].misses(classic=False) == ""
    assert "ordinary customers 50.00% flagged" in scores[2].misses(classic=False)


def test_scale_sizes_read_suffixes_and_name_a_bad_size():
    assert scale_sizes("16M, 1M,4m,250k") == [250_000, 1_000_000, 4_000_000, 16_000_000]
    with pytest.raises(ValueError, match="'lots'"):
        scale_sizes("1M,lots")
