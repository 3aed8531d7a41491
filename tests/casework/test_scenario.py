"""The synthetic world: deterministic, well-formed, and honest about what it hides.

Detectors are judged against this world, so these tests pin down the facts they rely on:
the records parse, the misconduct and its innocent look-alikes are really there, and the
ground truth is not visible in the records themselves.
"""

from __future__ import annotations

import io
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command

from casework.demo.world import scenario_generate

ACCOUNTS, EVENTS, SEED = 300, 20_000, 7
WINDOW_START = datetime.fromisoformat("2026-01-05T00:00:00+00:00")
WINDOW_END = datetime.fromisoformat("2026-02-04T00:00:00+00:00")
RELEASE = datetime.fromisoformat("2026-01-20T17:00:00+00:00")
ACCOUNT_FIELDS = [
    "account_id",
    "org_name",
    "email",
    "created_at",
    "country",
    "billing_country",
    "payment_fingerprint",
    "signup_ip",
    "signup_user_agent",
    "plan",
    "status",
    "reseller",
]
USAGE_FIELDS = [
    "request_id",
    "ts",
    "account_id",
    "api_key_id",
    "model",
    "endpoint",
    "input_tokens",
    "output_tokens",
    "source_ip",
    "user_agent",
    "end_user",
    "params",
    "prompt",
    "status",
]
ASSENT_FIELDS = [
    "account_id",
    "terms",
    "version",
    "ts",
    "ip",
    "user_agent",
    "method",
    "flow_id",
    "screenshot_sha256",
]


def _read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _when(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    summary = scenario_generate(out_dir=out, accounts=ACCOUNTS, events=EVENTS, seed=SEED)
    labels = json.loads((out / "labels.json").read_text())
    return {
        "dir": out,
        "summary": summary,
        "accounts": _read_lines(out / "accounts.ndjson"),
        "usage": _read_lines(out / "usage.ndjson"),
        "assent": _read_lines(out / "assent.ndjson"),
        "labels": labels,
        "group_of": {a: v["group"] for a, v in labels["accounts"].items()},
    }


def _group(world, name):
    return world["labels"]["groups"][name]


def _events_of(world, group):
    return [e for e in world["usage"] if world["group_of"][e["account_id"]] == group]


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(world, tmp_path):
    again = scenario_generate(
        out_dir=tmp_path / "again", accounts=ACCOUNTS, events=EVENTS, seed=SEED
    )
    assert again["events"] == EVENTS
    assert _files(tmp_path / "again") == _files(world["dir"])

    scenario_generate(out_dir=tmp_path / "other", accounts=ACCOUNTS, events=EVENTS, seed=SEED + 1)
    other = _files(tmp_path / "other")
    assert other["usage.ndjson"] != _files(world["dir"])["usage.ndjson"]
    assert other["accounts.ndjson"] != _files(world["dir"])["accounts.ndjson"]


# --- well-formed records -------------------------------------------------------------------


def test_every_usage_line_has_the_required_fields_with_non_negative_token_counts(world):
    for event in world["usage"]:
        assert list(event) == USAGE_FIELDS
        for name in ("input_tokens", "output_tokens"):
            value = event[name]
            assert type(value) is int and value >= 0, (name, event)
        assert re.fullmatch(r"req_[0-9a-f]{24}", event["request_id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"])
        assert set(event["params"]) >= {
            "logprobs",
            "top_logprobs",
            "n",
            "temperature",
            "max_tokens",
        }


def test_the_event_count_is_exact_and_request_ids_are_unique(world):
    assert len(world["usage"]) == EVENTS == world["summary"]["events"]
    assert world["summary"]["files"]["usage.ndjson"]["lines"] == EVENTS
    assert len({e["request_id"] for e in world["usage"]}) == EVENTS


def test_events_are_sorted_by_time_and_inside_the_window(world):
    stamps = [e["ts"] for e in world["usage"]]
    assert stamps == sorted(stamps)
    assert _when(stamps[0]) >= WINDOW_START
    assert _when(stamps[-1]) < WINDOW_END
    assert world["labels"]["window"] == {
        "start": "2026-01-05T00:00:00Z",
        "end": "2026-02-04T00:00:00Z",
    }


def test_account_and_assent_records_have_every_field(world):
    for account in world["accounts"]:
        assert list(account) == ACCOUNT_FIELDS
        assert isinstance(account["reseller"], bool)
    assert len({a["account_id"] for a in world["accounts"]}) == ACCOUNTS
    terms = {p.name for p in (world["dir"] / "terms").iterdir()}
    for record in world["assent"]:
        assert list(record) == ASSENT_FIELDS
        assert record["method"] in {"clickwrap", "sign-in", "enterprise-order"}
        assert f"{record['terms']}-{record['version']}.md" in terms


def test_labels_cover_every_account_and_usage_names_only_known_accounts(world):
    known = {a["account_id"] for a in world["accounts"]}
    assert set(world["labels"]["accounts"]) == known
    assert {e["account_id"] for e in world["usage"]} <= known
    assert {r["account_id"] for r in world["assent"]} <= known
    grouped = [a for group in world["labels"]["groups"].values() for a in group["accounts"]]
    assert sorted(grouped) == sorted(known)


def test_nothing_in_the_records_names_the_ground_truth(world):
    """Detectors must find misconduct from behaviour, not from a give-away in an id or name."""
    telltale = re.compile(
        r"\b(adversar\w*|distill\w*|network|ring|harvest\w*|negative|benign|label)\b", re.I
    )
    for account in world["accounts"]:
        assert re.fullmatch(r"acct_[0-9a-f]{12}", account["account_id"])
        assert re.fullmatch(r"pf_[0-9a-f]{12}", account["payment_fingerprint"])
        for name in ("org_name", "email"):
            assert not telltale.search(account[name]), account
    assert all(re.fullmatch(r"key_[0-9a-f]{12}", e["api_key_id"]) for e in world["usage"])


def test_terms_versions_share_most_clauses_and_2026_adds_one(world):
    old = (world["dir"] / "terms/services-agreement-2025-06-01.md").read_text()
    new = (world["dir"] / "terms/services-agreement-2026-01-01.md").read_text()
    assert "## 3. Use of the Services" in old
    assert "3.3 You may not, and may not allow anyone else to: (a)" in old
    assert "(e) use Output to develop models that compete with us;" in old
    assert "(k) route requests through a reseller" in new and "(k)" not in old
    old_lines, new_lines = old.splitlines(), new.splitlines()
    unchanged = set(old_lines) & set(new_lines)
    assert len(old_lines) == len(new_lines)
    assert len([line for line in old_lines if line not in unchanged]) <= 4


def test_the_catalogue_has_a_model_released_inside_the_window(world):
    models = json.loads((world["dir"] / "models.json").read_text())
    released = [m for m in models if WINDOW_START <= _when(m["released"]) < WINDOW_END]
    assert [m["model"] for m in released] == ["frontier-3"]


# --- the cohorts --------------------------------------------------------------------------


def test_each_hard_negative_and_both_adversaries_are_present(world):
    kinds = {(g["role"], g["kind"]) for g in world["labels"]["groups"].values() if g["accounts"]}
    assert {
        ("hard_negative", "evaluation_company"),
        ("hard_negative", "high_volume_enterprise"),
        ("hard_negative", "university_nat"),
        ("hard_negative", "legitimate_reseller"),
        ("adversary", "distillation_network"),
        ("adversary", "key_sharing_ring"),
    } <= kinds
    assert len(_group(world, "distillation-network")["accounts"]) >= 12
    assert 4 <= len(_group(world, "key-sharing-ring")["accounts"]) <= 8
    roles = Counter(
        e["account_id"] and world["labels"]["accounts"][e["account_id"]]["role"]
        for e in world["usage"]
    )
    assert 0.10 <= roles["adversary"] / EVENTS <= 0.20


def test_the_network_shares_some_cards_and_signs_up_in_bursts(world):
    network = _group(world, "distillation-network")
    members = set(network["accounts"]) - set(network["conduit_resellers"])
    accounts = [a for a in world["accounts"] if a["account_id"] in members]
    cards = Counter(a["payment_fingerprint"] for a in accounts)
    assert any(count >= 2 for count in cards.values())  # payment links exist ...
    assert len(cards) >= len(accounts) // 3  # ... but do not join everything
    created = sorted(_when(a["created_at"]) for a in accounts)
    burst = max(
        sum(1 for t in created if start <= t < start + timedelta(hours=2)) for start in created
    )
    assert burst >= 5
    signup_nets = Counter(a["signup_ip"].rsplit(".", 1)[0] for a in accounts)
    assert len(signup_nets) <= 3


def test_part_of_the_network_is_routed_through_reseller_accounts(world):
    network = _group(world, "distillation-network")
    by_id = {a["account_id"]: a for a in world["accounts"]}
    conduits = network["conduit_resellers"]
    assert conduits and all(by_id[c]["reseller"] for c in conduits)

    def opening(prompt):
        return " ".join(prompt.split()[:3])

    direct = {
        opening(e["prompt"])
        for e in _events_of(world, "distillation-network")
        if e["account_id"] not in conduits
    }
    routed = [
        e
        for e in world["usage"]
        if e["account_id"] in conduits and e["end_user"] in network["end_users"][e["account_id"]]
    ]
    assert routed
    assert {opening(e["prompt"]) for e in routed} <= direct
    # the conduits also carry other customers, so the account alone is not the evidence
    assert any(
        e["account_id"] in conduits and e["end_user"] not in network["end_users"][e["account_id"]]
        for e in world["usage"]
    )


def test_the_key_sharing_ring_reuses_keys_and_hands_over_within_minutes(world):
    events = _events_of(world, "key-sharing-ring")
    holders = defaultdict(set)
    for event in events:
        holders[event["api_key_id"]].add(event["account_id"])
    assert any(len(accounts) >= 2 for accounts in holders.values())
    handovers = [
        _when(b["ts"]) - _when(a["ts"])
        for a, b in pairwise(events)
        if a["account_id"] != b["account_id"]
    ]
    assert handovers
    assert statistics.median(handovers) <= timedelta(minutes=10)


def _busiest_eight_hours(events) -> float:
    """Share of an account's requests in its busiest 8 consecutive UTC hours: about 1/3
    for round-the-clock traffic, far more for people who sleep."""
    hours = Counter(int(e["ts"][11:13]) for e in events)
    return max(sum(hours[(h + k) % 24] for k in range(8)) for h in range(24)) / len(events)


def test_ordinary_customers_keep_hours_while_the_network_runs_round_the_clock(world):
    per_account = defaultdict(list)
    for event in world["usage"]:
        per_account[event["account_id"]].append(event)
    share = {a: _busiest_eight_hours(ev) for a, ev in per_account.items() if len(ev) >= 100}
    benign = [v for a, v in share.items() if world["group_of"][a] == "benign"]
    network = [v for a, v in share.items() if world["group_of"][a] == "distillation-network"]
    assert len(benign) >= 10 and len(network) >= 5
    assert statistics.median(benign) > 0.55
    assert statistics.median(network) < 0.45

    benign_hours = Counter(int(e["ts"][11:13]) for e in _events_of(world, "benign"))
    assert max(benign_hours.values()) > 1.3 * min(benign_hours.values())


def test_the_network_chases_the_new_release_and_ordinary_customers_do_not(world):
    def new_model_share(group):
        tokens = Counter()
        for event in _events_of(world, group):
            if RELEASE + timedelta(hours=24) <= _when(event["ts"]) < RELEASE + timedelta(hours=48):
                tokens[event["model"] == "frontier-3"] += event["output_tokens"]
        return tokens[True] / max(1, sum(tokens.values()))

    assert new_model_share("distillation-network") > 0.5
    assert new_model_share("benign") < 0.1


def test_the_network_harvests_reasoning_and_token_probabilities(world):
    events = [e for e in _events_of(world, "distillation-network") if e["status"] == 200]
    assert statistics.mean(e["params"]["logprobs"] for e in events) > 0.8
    assert any("logit_bias" in e["params"] for e in events)
    assert (
        statistics.mean(
            "step" in e["prompt"].lower() or "reason" in e["prompt"].lower() for e in events
        )
        > 0.9
    )
    # a small share of ordinary customers use logprobs too, so the flag alone proves nothing
    benign_users = {e["account_id"] for e in _events_of(world, "benign") if e["params"]["logprobs"]}
    assert benign_users


def test_the_enterprise_is_in_the_top_percentile_of_output(world):
    output = Counter()
    for event in world["usage"]:
        output[event["account_id"]] += event["output_tokens"]
    (enterprise,) = _group(world, "enterprise-high-volume")["accounts"]
    ranked = [account for account, _ in output.most_common()]
    assert ranked.index(enterprise) < max(3, ACCOUNTS // 100)


def test_the_university_shares_one_nat_and_one_email_domain(world):
    members = set(_group(world, "university")["accounts"])
    accounts = [a for a in world["accounts"] if a["account_id"] in members]
    assert len({a["signup_ip"].rsplit(".", 1)[0] for a in accounts}) == 1
    assert len({a["email"].split("@")[1] for a in accounts}) == 1
    assert len({a["payment_fingerprint"] for a in accounts}) == len(accounts)


def test_formation_has_realistic_gaps_and_re_acceptances(world):
    accepted = Counter(r["account_id"] for r in world["assent"])
    roles = world["labels"]["accounts"]
    missing = {roles[a]["role"] for a in roles if a not in accepted}
    assert {"benign", "adversary"} <= missing
    assert sum(1 for a in roles if a not in accepted) < ACCOUNTS * 0.05
    assert any(r["method"] == "sign-in" and r["version"] == "2026-01-01" for r in world["assent"])
    assert any(r["method"] == "enterprise-order" for r in world["assent"])


# --- arguments -----------------------------------------------------------------------------


def test_too_small_a_world_is_refused():
    with pytest.raises(ValueError, match="accounts"):
        scenario_generate(out_dir=None, accounts=10, events=EVENTS)
    with pytest.raises(ValueError, match="events"):
        scenario_generate(out_dir=None, accounts=ACCOUNTS, events=10)


def test_the_command_writes_the_world_and_prints_one_json_document(tmp_path):
    stdout = io.StringIO()
    call_command(
        "generate_scenario",
        out=str(tmp_path),
        accounts=200,
        events=10_000,
        seed=3,
        json=True,
        stdout=stdout,
    )
    summary = json.loads(stdout.getvalue())
    assert summary["events"] == 10_000 and summary["accounts"] == 200
    assert len((tmp_path / "usage.ndjson").read_text().splitlines()) == 10_000


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"accounts": 50}, "--accounts"),
        ({"events": 999}, "--events"),
    ],
)
def test_the_command_names_the_invalid_argument(tmp_path, arguments, named):
    with pytest.raises(CommandError, match=named) as raised:
        call_command("generate_scenario", out=str(tmp_path), **arguments)
    assert raised.value.returncode == 2
    assert not (tmp_path / "usage.ndjson").exists()


def test_the_command_requires_an_output_directory():
    with pytest.raises(CommandError, match="--out"):
        call_command("generate_scenario", accounts=300)
