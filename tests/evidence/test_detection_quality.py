"""Detection quality on generated worlds, against their ground truth (labels.json).

The bar the issues set: at least 95% of adversary accounts in clusters banded critical or
high; no hard negative (the evaluation firm, the high-volume enterprise, the university, the
authorised reseller) and at most 1% of ordinary customers there. In light-swarm worlds
(issue #16) the bar holds for every adversary family on its own, the swarm included, with no
hard negative (open-source app users, a carrier NAT, a tutoring product, eager adopters...)
and at most 0.5% of ordinary customers flagged. Detection never reads the labels; only these
tests do, after the run.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import call_command

from casework.demo.world import scenario_generate
from evidence.detectors.service import detection_run
from evidence.ingest.service import ingest_file
from evidence.models import ClusterMember, UsageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

FLAGGED = {"critical", "high"}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """Generated worlds, written once per module (generation is deterministic)."""
    made = {}

    def world(seed: int, accounts: int, events: int, shape: str = "classic"):
        key = (seed, accounts, events, shape)
        if key not in made:
            out = tmp_path_factory.mktemp(f"world-{shape}-{seed}-{accounts}")
            scenario_generate(out_dir=out, accounts=accounts, events=events, seed=seed, shape=shape)
            made[key] = out
        return made[key]

    return world


def load(world_dir) -> dict:
    for kind in ("accounts", "assent", "usage"):
        result = ingest_file(actor="system:test", kind=kind, path=world_dir / f"{kind}.ndjson")
        assert result.rejected == 0
    call_command(
        "import_models",
        str(world_dir / "models.json"),
        "--plans",
        str(world_dir / "plans.json"),
        stdout=io.StringIO(),
    )
    return json.loads((world_dir / "labels.json").read_text())["accounts"]


def scores(run, labels) -> dict:
    bands = dict(
        ClusterMember.objects.filter(cluster__run=run).values_list(
            "account__account_id", "cluster__band"
        )
    )
    roles = Counter(info["role"] for info in labels.values())
    flagged = Counter(
        info["role"] for account, info in labels.items() if bands.get(account) in FLAGGED
    )
    true_positives = flagged["adversary"]
    all_flagged = sum(flagged.values())
    return {
        "recall": true_positives / roles["adversary"],
        "precision": true_positives / all_flagged if all_flagged else 1.0,
        "hard_negatives_flagged": flagged["hard_negative"],
        "benign_flagged_share": flagged["benign"] / roles["benign"],
        "missed": sorted(
            (info["kind"], account)
            for account, info in labels.items()
            if info["role"] == "adversary" and bands.get(account) not in FLAGGED
        ),
        "recall_by_family": {
            kind: sum(bands.get(a) in FLAGGED for a in accounts) / len(accounts)
            for kind, accounts in _by_kind(labels, "adversary").items()
        },
        "hard_negatives_flagged_by_kind": {
            kind: sum(bands.get(a) in FLAGGED for a in accounts)
            for kind, accounts in _by_kind(labels, "hard_negative").items()
        },
    }


def _by_kind(labels: dict, role: str) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for account, info in labels.items():
        if info["role"] == role:
            kinds.setdefault(info["kind"], []).append(account)
    return kinds


@pytest.mark.parametrize(
    ("seed", "accounts", "events"),
    [
        pytest.param(1, 300, 20_000, id="seed1-300x20k"),
        pytest.param(2, 300, 20_000, id="seed2-300x20k"),
        pytest.param(3, 300, 20_000, id="seed3-300x20k"),
        pytest.param(4, 600, 40_000, id="seed4-600x40k", marks=pytest.mark.slow),
        pytest.param(5, 600, 40_000, id="seed5-600x40k", marks=pytest.mark.slow),
    ],
)
def test_networks_are_flagged_and_the_innocent_are_not(worlds, seed, accounts, events):
    labels = load(worlds(seed, accounts, events))
    run = detection_run(actor="system:test")

    result = scores(run, labels)
    assert result["recall"] >= 0.95, result
    assert result["hard_negatives_flagged"] == 0, result
    assert result["benign_flagged_share"] <= 0.01, result


@pytest.mark.parametrize(
    ("seed", "accounts", "events"),
    [
        pytest.param(1, 1000, 60_000, id="swarm-seed1-1000x60k"),
        pytest.param(2, 1000, 60_000, id="swarm-seed2-1000x60k"),
        pytest.param(3, 2000, 120_000, id="swarm-seed3-2000x120k", marks=pytest.mark.slow),
    ],
)
def test_the_light_swarm_is_found_as_a_campaign_and_the_hard_negatives_are_not(
    worlds, seed, accounts, events
):
    """No swarm account stands out alone; what gives the operator away is what the accounts
    do together (shared exits, one request shape, one schedule, harvest at group level)."""
    labels = load(worlds(seed, accounts, events, "light-swarm"))
    run = detection_run(actor="system:test")

    result = scores(run, labels)
    assert set(result["recall_by_family"]) >= {"light_swarm", "distillation_network"}
    for family, recall in result["recall_by_family"].items():
        assert recall >= 0.95, (family, result)
    assert result["hard_negatives_flagged"] == 0, result["hard_negatives_flagged_by_kind"]
    assert result["benign_flagged_share"] <= 0.005, result
    swarm = {a for a, info in labels.items() if info["kind"] == "light_swarm"}
    campaign = max(
        (c for c in run.clusters.all() if "campaign" in c.evidence),
        key=lambda c: len(swarm & set(c.members.values_list("account_id", flat=True))),
    )
    lines = campaign.evidence["campaign"]["coordination"]
    assert {"shared_exit_pool", "shared_request_shape", "campaign_synchrony"} <= set(lines)
    # The rarity is measured on this run's own population, and said.
    exit_pool = campaign.evidence["campaign"]["lines"]["shared_exit_pool"]
    assert exit_pool["background"]["pairs_sampled"] > 10_000
    assert "sampled pairs" in campaign.explanation


def test_detect_json_contract_and_exhibits_that_exist(worlds, capsys):
    labels = load(worlds(1, 300, 20_000))
    call_command("detect", "--json")
    report = json.loads(capsys.readouterr().out)

    assert set(report) >= {"accounts", "clusters"}
    assert report["accounts"] and report["clusters"]
    cited = set()
    for account_id, findings in report["accounts"].items():
        assert account_id in labels
        for finding in findings:
            assert set(finding) >= {"signal", "fired", "value", "baseline", "explanation"}
            assert isinstance(finding["fired"], bool)
            assert isinstance(finding["value"], float)
            assert set(finding["baseline"]) >= {
                "cohort",
                "cohort_size",
                "median",
                "multiple_of_median",
                "percentile",
            }
            assert finding["explanation"].endswith(".")
            if finding["fired"]:
                assert finding["sample_request_ids"], finding
            cited.update(finding["sample_request_ids"])
    for cluster in report["clusters"]:
        assert set(cluster) >= {"id", "accounts", "links", "score", "band"}
        assert cluster["band"] in {"critical", "high", "review", "none"}
        assert 0 <= cluster["score"] <= 100
        for link in cluster["links"]:
            assert set(link["accounts"]) <= set(cluster["accounts"])
            assert link["strength"] in {"hard", "strong", "weak"}
            assert link["explanation"]
            cited.update(link["sample_request_ids"])
    # Every exhibit a finding or link cites is a usage row anyone can look up.
    assert cited
    assert UsageEvent.objects.filter(request_id__in=cited).count() == len(cited)
    network = [a for a, info in labels.items() if info["kind"] == "distillation_network"]
    critical = [c for c in report["clusters"] if c["band"] == "critical"]
    assert any(set(network) <= set(c["accounts"]) for c in critical)


def test_a_seed_is_kept_on_two_significant_lines_working_out_only_what_decides():
    """A shape seed needs two of its three lines; the synchrony line (30 replays) is worked
    out last and only when the first two disagree, and the answer is what counting every
    line would give."""
    from functools import partial
    from itertools import product

    from evidence.detectors.coordination import _two_significant

    def line(worked_out, index, outcome):
        worked_out.append(index)
        return None if outcome is None else {"significant": outcome}

    for outcomes in product((True, False, None), repeat=3):  # None: the line does not apply
        worked_out: list[int] = []
        tests = [partial(line, worked_out, i, o) for i, o in enumerate(outcomes)]
        assert _two_significant(tests) == (sum(o is True for o in outcomes) >= 2), outcomes
        decided_early = (outcomes[0] is True) == (outcomes[1] is True)
        assert worked_out == ([0, 1] if decided_early else [0, 1, 2]), outcomes


def test_the_synchrony_replays_counted_in_one_pass_are_the_replays_one_at_a_time():
    import numpy as np

    from evidence.detectors import group_evidence
    from evidence.detectors.group_evidence import SYNC_REPLAYS, SYNC_SHIFT_DAYS, Synchrony

    rng = np.random.default_rng(5)
    rhythm = object.__new__(Synchrony)  # the record's intervals, without reading a database
    rhythm.per_day, rhythm.length, rhythm.first = 144, 144 * 28, 0
    operator = np.sort(rng.choice(rhythm.length, 300, replace=False))
    rhythm.bins = {
        f"acct_{i}": np.unique(np.r_[operator[i::3], rng.choice(4032, 40)]) for i in range(7)
    }
    group = sorted(rhythm.bins)
    line = rhythm.line(group)

    # The replays as they were counted before, one replay after another, from the same draws.
    present = group
    owner = np.concatenate([np.full(len(rhythm.bins[a]), i) for i, a in enumerate(present)])
    bins = np.concatenate([rhythm.bins[a] for a in present]) % rhythm.length
    draws = np.random.default_rng(group_evidence.RNG_SEED)
    replays = []
    for _ in range(SYNC_REPLAYS):
        shift = draws.choice(np.asarray(SYNC_SHIFT_DAYS) * rhythm.per_day, size=len(present))
        counts = np.bincount((bins + shift[owner]) % rhythm.length, minlength=rhythm.length)
        replays.append(int((counts * (counts - 1) // 2).sum()))
    assert line["replay_max"] == max(replays)
    assert line["replay_mean"] == round(float(np.mean(replays)), 1)
    assert len(set(replays)) > 1 and min(replays) > 0  # replays that differ, none empty
