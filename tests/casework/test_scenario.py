"""The synthetic world: deterministic, well-formed, and honest about what it hides.

Detectors are judged against this world, so these tests pin down the facts they rely on:
the records parse, the misconduct and its innocent look-alikes are really there, and the
ground truth is not visible in the records themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from casework.demo.world import scenario_generate
from casework.demo.world.billing import BILLING_FILE
from casework.demo.world.rival import (
    CANARIES,
    CONTROL,
    NETWORK_GROUP,
    PLAN_FILE,
    PROBES_FILE,
    REGURGITATED,
    RIVAL,
    SERVES_FILE,
)
from casework.demo.world.swarm_prompts import COVER_TEMPLATES
from casework.demo.world.vocabulary import COUNTRIES
from evidence.probes.canaries import canary_normalised

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


# Files written later from the world, left out so that the world's own stay pinned: the
# rival's (probes, canary plan, serve log), the sign-up screens and the other Terms
# documents the demo imports.
LATER = re.compile(r"^(screens/|terms/(usage-policy|developer-terms)-)")
# The screenshot hashes of the clickwrap flows became the hashes of the drawn screens;
# masked, so the digest still pins every other byte of the assent records.
SCREENSHOT_HASH = re.compile(rb'"screenshot_sha256": ?"[0-9a-f]{64}"')


def _digest(root) -> str:
    """Over the world's own files: the rival's (probes, canary plan, serve log), the billing
    export, the sign-up screens and the other Terms documents came later and are written
    from them, so they are left out and the world's stay pinned."""
    digest = hashlib.sha256()
    rival = {PLAN_FILE, PROBES_FILE, SERVES_FILE, BILLING_FILE}
    for name, content in sorted(_files(root).items()):
        if name in rival or LATER.match(name):
            continue
        if name == "assent.ndjson":
            content = SCREENSHOT_HASH.sub(b'"screenshot_sha256":""', content)
        digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()


# SHA-256 over the classic world's files (300 accounts, 20,000 events, seed 7) as
# `_digest` reads them; the same before the light-swarm shape and the drawn screens were
# added: the classic worlds every detector figure was measured on stay what they were.
CLASSIC_DIGEST = "fd8fbcaf9f81654ef0c3ef720a139d7c2cb65f63fe9ca384d48046af941985a9"


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


def test_the_classic_world_is_byte_for_byte_what_it_was(world):
    assert world["summary"]["shape"] == "classic"
    assert _digest(world["dir"]) == CLASSIC_DIGEST


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


def test_the_billing_export_is_valid_and_shows_the_adversaries_underpaying(world):
    """Every line passes the billing schema; invoices are for accounts that made requests;
    the adversaries leave part unpaid or charge back, ordinary customers never charge back."""
    from evidence.ingest.records import billing_record

    lines = _read_lines(world["dir"] / BILLING_FILE)
    assert lines and world["summary"]["files"][BILLING_FILE]["lines"] == len(lines)
    for line in lines:
        billing_record(line)  # raises on any bad field
    assert len({(r["kind"], r["billing_id"]) for r in lines}) == len(lines)
    assert not any(r["account_id"] in r["billing_id"] for r in lines)  # opaque ids
    role = {account: v["role"] for account, v in world["labels"]["accounts"].items()}
    invoiced = {r["account_id"] for r in lines if r["kind"] == "invoice"}
    assert invoiced <= {e["account_id"] for e in world["usage"]}
    balance: dict[str, int] = defaultdict(int)
    sign = {"invoice": 1, "payment": -1, "refund": 1, "chargeback": 1}
    for r in lines:
        balance[r["account_id"]] += sign[r["kind"]] * r["amount_minor"]
    owing = {a for a, b in balance.items() if b > 0 and role.get(a) == "adversary"}
    assert owing, "no adversary owes anything"
    charged_back = {r["account_id"] for r in lines if r["kind"] == "chargeback"}
    assert {role.get(a) for a in charged_back} <= {"adversary"}
    # Same seed, same bytes: test_same_seed_gives_byte_identical_files covers this file too.


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


# --- the light-swarm world -----------------------------------------------------------------

SWARM_ACCOUNTS, SWARM_EVENTS, SWARM_SEED = 600, 40_000, 4
LEXICONS = Path(__file__).resolve().parents[2] / "evidence" / "detectors"
RELEASED = RELEASE.replace(tzinfo=None)


def _lexicon_phrases() -> list[str]:
    return [
        phrase.lower()
        for name in ("reasoning", "grader")
        for phrase in json.loads((LEXICONS / f"{name}_lexicon.json").read_text())["phrases"]
    ]


@pytest.fixture(scope="module")
def swarm_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("light-swarm")
    summary = scenario_generate(
        out_dir=out,
        accounts=SWARM_ACCOUNTS,
        events=SWARM_EVENTS,
        seed=SWARM_SEED,
        shape="light-swarm",
    )
    usage, accounts = _read_lines(out / "usage.ndjson"), _read_lines(out / "accounts.ndjson")
    by_account = defaultdict(list)
    for event in usage:
        by_account[event["account_id"]].append(event)
    return {
        "dir": out,
        "summary": summary,
        "accounts": accounts,
        "account": {a["account_id"]: a for a in accounts},
        "usage": usage,
        "by_account": by_account,
        "labels": json.loads((out / "labels.json").read_text()),
    }


def _members(world, group) -> list[str]:
    return world["labels"]["groups"][group]["accounts"]


def _active(world, group) -> list[list[dict]]:
    """The events of each member of `group` that sent any."""
    return [world["by_account"][a] for a in _members(world, group) if world["by_account"][a]]


def _percentiles(values) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return cuts[0], cuts[-1]


def test_the_light_swarm_world_is_deterministic_and_says_its_shape(swarm_world, tmp_path):
    again = scenario_generate(
        out_dir=tmp_path,
        accounts=SWARM_ACCOUNTS,
        events=SWARM_EVENTS,
        seed=SWARM_SEED,
        shape="light-swarm",
    )
    assert again["shape"] == swarm_world["summary"]["shape"] == "light-swarm"
    assert _files(tmp_path) == _files(swarm_world["dir"])
    assert len(swarm_world["usage"]) == SWARM_EVENTS
    assert {e["account_id"] for e in swarm_world["usage"]} <= set(swarm_world["account"])
    for account in swarm_world["accounts"]:
        assert list(account) == ACCOUNT_FIELDS
    with pytest.raises(ValueError, match="shape"):
        scenario_generate(out_dir=tmp_path, accounts=ACCOUNTS, events=EVENTS, shape="heavy")


def test_the_swarm_is_a_tenth_of_the_accounts_and_the_classic_families_stay(swarm_world):
    groups = swarm_world["labels"]["groups"]
    swarm = groups["light-swarm"]
    assert (swarm["role"], swarm["kind"]) == ("adversary", "light_swarm") and swarm["description"]
    assert len(swarm["accounts"]) >= 60
    assert 0.10 <= len(swarm["accounts"]) / SWARM_ACCOUNTS <= 0.15
    for name in ("distillation-network", "key-sharing-ring"):
        assert groups[name]["role"] == "adversary" and groups[name]["accounts"]
    telltale = re.compile(r"\b(swarm\w*|proxy|distill\w*|harvest\w*|adversar\w*|benign)\b", re.I)
    for account in swarm_world["accounts"]:
        assert not telltale.search(account["org_name"] + " " + account["email"]), account


def test_each_swarm_account_looks_like_a_light_ordinary_customer(swarm_world):
    benign = _active(swarm_world, "benign")
    swarm = _active(swarm_world, "light-swarm")
    assert len(swarm) >= 0.9 * len(_members(swarm_world, "light-swarm"))
    measures = {
        "requests": len,
        "output_tokens": lambda events: sum(e["output_tokens"] for e in events),
        "active_days": lambda events: len({e["ts"][:10] for e in events}),
    }
    for name, measure in measures.items():
        low, high = _percentiles([measure(events) for events in benign])
        outside = [measure(events) for events in swarm if not low <= measure(events) <= high]
        assert not outside, (name, low, high, outside)

    def error_share(groups):
        events = [e for events in groups for e in events]
        return sum(e["status"] != 200 for e in events) / len(events)

    assert abs(error_share(swarm) - error_share(benign)) < 0.01
    benign_plans = {swarm_world["account"][a]["plan"] for a in _members(swarm_world, "benign")}
    swarm_plans = Counter(
        swarm_world["account"][a]["plan"] for a in _members(swarm_world, "light-swarm")
    )
    assert set(swarm_plans) <= benign_plans and "enterprise" not in swarm_plans
    assert swarm_plans.most_common(1)[0][0] == "tier-1"


_COVER = [
    re.compile("(?s)" + ".+".join(re.escape(piece) for piece in re.split(r"{\w+}", text)))
    for text, _fields, _kind in COVER_TEMPLATES
]


def _is_cover(prompt: str) -> bool:
    """Whether a prompt is one of the ordinary templates the swarm mixes in."""
    return any(pattern.fullmatch(prompt) for pattern in _COVER)


def test_the_swarm_mixes_harvest_with_ordinary_requests_in_words_no_lexicon_has(swarm_world):
    phrases = _lexicon_phrases()
    swarm = _active(swarm_world, "light-swarm")
    harvest = [e for events in swarm for e in events if not _is_cover(e["prompt"])]
    total = sum(len(events) for events in swarm)
    assert 0.25 <= len(harvest) / total <= 0.65
    mixing = [
        events
        for events in swarm
        if 0 < sum(not _is_cover(e["prompt"]) for e in events) < len(events)
    ]
    assert len(mixing) >= 0.8 * len(swarm)
    for events in swarm:
        for event in events:
            prompt = event["prompt"].lower()
            assert not [p for p in phrases if p in prompt], event["prompt"]
    # thousands of wordings, in several languages, not one scaffold
    assert len({e["prompt"] for e in harvest}) >= 0.95 * len(harvest)
    openings = Counter(" ".join(e["prompt"].split()[:3]) for e in harvest)
    assert openings.most_common(1)[0][1] < 0.1 * len(harvest)
    assert any("Antes de responder" in e["prompt"] or "Bevor du" in e["prompt"] for e in harvest)
    # long answers to short questions, as a group
    done = [e for e in harvest if e["status"] == 200]
    ordinary = [
        e for events in _active(swarm_world, "benign") for e in events if e["status"] == 200
    ]
    assert statistics.median(e["output_tokens"] for e in done) > 2 * statistics.median(
        e["output_tokens"] for e in ordinary
    )


def test_the_swarm_rotates_through_a_shared_residential_proxy_pool(swarm_world):
    swarm = _active(swarm_world, "light-swarm")
    users = defaultdict(set)
    for events in swarm:
        for event in events:
            users[event["source_ip"]].add(event["account_id"])
    assert 100 <= len(users) <= 600  # a pool of a few hundred exits ...
    assert len({ip.rsplit(".", 1)[0] for ip in users}) >= 100  # ... over many /24s
    assert len({".".join(ip.split(".")[:2]) for ip in users}) >= 20  # ... and /16s
    shared = [accounts for accounts in users.values() if len(accounts) >= 3]
    assert len(shared) >= 0.5 * len(users)
    # the accounts that take one exit in turn declare different countries and cards
    busiest = max(users.values(), key=len)
    declared = [swarm_world["account"][a] for a in busiest]
    assert len({a["country"] for a in declared}) >= 3
    assert len({a["payment_fingerprint"] for a in declared}) == len(declared)
    # each account alone uses more addresses than nine ordinary customers in ten
    benign = sorted(len({e["source_ip"] for e in ev}) for ev in _active(swarm_world, "benign"))
    per_account = [len({e["source_ip"] for e in events}) for events in swarm]
    assert statistics.median(per_account) > benign[9 * len(benign) // 10]
    # home users live in the same ISPs' ranges, so a /16 alone proves nothing
    benign_16 = {
        ".".join(e["source_ip"].split(".")[:2]) for ev in _active(swarm_world, "benign") for e in ev
    }
    assert len(benign_16 & {".".join(ip.split(".")[:2]) for ip in users}) >= 10


def test_the_swarm_identities_are_bought_one_by_one_over_weeks(swarm_world):
    members = [swarm_world["account"][a] for a in _members(swarm_world, "light-swarm")]
    everyone = Counter(a["payment_fingerprint"] for a in swarm_world["accounts"])
    assert all(everyone[a["payment_fingerprint"]] == 1 for a in members)
    domains = [a["email"].split("@")[1] for a in members]
    org_domains = [d for d in domains if d.endswith(".example") and domains.count(d) == 1]
    assert len(set(org_domains)) == len(org_domains) and org_domains
    assert len({a["country"] for a in members}) >= 10
    created = sorted(_when(a["created_at"]) for a in members)
    assert created[-1] - created[0] >= timedelta(weeks=6)
    burst = max(
        sum(1 for t in created if start <= t < start + timedelta(hours=2)) for start in created
    )
    expected = len(created) * timedelta(hours=2) / (created[-1] - created[0])
    assert burst <= max(5, 4 * expected)


def test_the_swarm_shares_one_request_shape_with_a_few_variations(swarm_world):
    swarm = [e for ev in _active(swarm_world, "light-swarm") for e in ev]
    shape = swarm_world["labels"]["groups"]["light-swarm"]["request_shape"]
    assert {e["user_agent"] for e in swarm} == {shape["client"]}
    assert {e["endpoint"] for e in swarm} == {shape["endpoint"]}

    def setting(event):
        params = event["params"]
        return params["max_tokens"], params["temperature"], params.get("top_p")

    usual = (shape["max_tokens"], shape["temperature"], shape["top_p"])
    assert Counter(map(setting, swarm)).most_common(1)[0][0] == usual
    assert 0.8 <= sum(setting(e) == usual for e in swarm) / len(swarm) < 1.0
    # neither the client nor top_p is the swarm's alone
    benign = [e for ev in _active(swarm_world, "benign") for e in ev]
    assert any(e["user_agent"] == shape["client"] for e in benign)
    assert sum("top_p" in e["params"] for e in benign) > 0.1 * len(benign)


def test_the_swarm_works_in_the_schedulers_waves_and_chases_the_release(swarm_world):
    def half_hours(events):
        return {(e["ts"][:13], e["ts"][14:16] < "30") for e in events}

    swarm = [e for ev in _active(swarm_world, "light-swarm") for e in ev]
    benign = [e for ev in _active(swarm_world, "benign") for e in ev]
    sample = random.Random(0).sample(benign, len(swarm))
    assert len(half_hours(swarm)) < 0.5 * len(half_hours(sample))
    # no account round the clock: each keeps to some waves on some days
    benign_days = [len({e["ts"][:10] for e in ev}) for ev in _active(swarm_world, "benign")]
    assert max(len({e["ts"][:10] for e in ev}) for ev in _active(swarm_world, "light-swarm")) < max(
        benign_days
    )

    def new_model_share(events, start, end):
        window = [
            e for e in events if start <= _when(e["ts"]) < end and e["endpoint"] != "/v1/embeddings"
        ]
        return sum(e["model"] == "frontier-3" for e in window) / max(1, len(window))

    hours = timedelta(hours=1)
    assert new_model_share(swarm, RELEASE + 6 * hours, RELEASE + 24 * hours) > 0.7
    assert new_model_share(benign, RELEASE + 6 * hours, RELEASE + 24 * hours) < 0.1


def test_the_innocent_crowds_are_there_each_a_trap_for_a_naive_detector(swarm_world):
    groups = swarm_world["labels"]["groups"]
    crowds = "open-source-app carrier-nat legitimate-reseller evaluation-company"
    for name in (crowds + " tutoring-product eager-adopters university").split():
        assert groups[name]["role"] == "hard_negative" and groups[name]["description"], name
        share = len(groups[name]["accounts"]) / SWARM_ACCOUNTS
        assert 0.005 <= share <= 0.03, (name, share)


def _addresses(events) -> set[str]:
    return {e["source_ip"] for e in events}


def test_open_source_app_users_share_its_scaffold_and_client_and_nothing_else(swarm_world):
    users = _active(swarm_world, "open-source-app")
    app = swarm_world["labels"]["groups"]["open-source-app"]
    assert len(users) >= 6
    assert all(e["prompt"].startswith(app["scaffold_opening"]) for ev in users for e in ev)
    assert all(
        e["user_agent"].startswith(app["user_agent"].split("/")[0]) for ev in users for e in ev
    )
    members = [swarm_world["account"][a] for a in _members(swarm_world, "open-source-app")]
    assert len({a["payment_fingerprint"] for a in members}) == len(members)
    assert len({a["country"] for a in members}) >= 3
    seen = Counter(ip for ev in users for ip in _addresses(ev))
    assert max(seen.values()) == 1  # each user its own addresses
    outputs = [e["output_tokens"] for ev in users for e in ev if e["status"] == 200]
    benign = [e["output_tokens"] for ev in _active(swarm_world, "benign") for e in ev]
    assert statistics.median(outputs) < 3 * statistics.median(benign)


def test_a_carriers_subscribers_share_few_addresses_in_one_country(swarm_world):
    subscribers = _active(swarm_world, "carrier-nat")
    members = [swarm_world["account"][a] for a in _members(swarm_world, "carrier-nat")]
    addresses = set().union(*map(_addresses, subscribers))
    assert len(members) >= 6 and len(addresses) <= 12
    assert len({".".join(ip.split(".")[:2]) for ip in addresses}) == 1
    assert len({a["country"] for a in members}) == 1
    assert len({a["payment_fingerprint"] for a in members}) == len(members)
    assert len({a["email"].split("@")[1] for a in members}) >= 2
    assert all(len(_addresses(ev)) >= 2 for ev in subscribers if len(ev) >= 5)


def test_the_reseller_routes_its_end_users_through_its_own_few_addresses(swarm_world):
    members = [swarm_world["account"][a] for a in _members(swarm_world, "legitimate-reseller")]
    traffic = [e for ev in _active(swarm_world, "legitimate-reseller") for e in ev]
    assert len(members) >= 3 and all(a["reseller"] for a in members)
    assert len({a["org_name"] for a in members}) == 1
    assert len({a["payment_fingerprint"] for a in members}) == 1
    assert len(_addresses(traffic)) <= 4
    assert all(e["end_user"] for e in traffic)
    assert len({e["end_user"] for e in traffic}) >= 100


def test_the_evaluation_lab_judges_with_identical_parameters(swarm_world):
    runs = [e for ev in _active(swarm_world, "evaluation-company") for e in ev]
    members = [swarm_world["account"][a] for a in _members(swarm_world, "evaluation-company")]
    assert len({a["org_name"] for a in members}) == 1
    assert len({a["payment_fingerprint"] for a in members}) == 1
    assert len({(e["params"]["max_tokens"], e["params"]["temperature"]) for e in runs}) == 1
    judging = [
        e for e in runs if re.search(r"judge|rate the|score the|grade the", e["prompt"], re.I)
    ]
    assert len(judging) >= 0.05 * len(runs)


def test_the_tutoring_product_asks_for_worked_steps_in_school_hours(swarm_world):
    phrases = _lexicon_phrases()
    tutoring = _active(swarm_world, "tutoring-product")
    assert len(tutoring) >= 4
    events = [e for ev in tutoring for e in ev]
    assert all(any(p in e["prompt"].lower() for p in phrases) for e in events)
    seen = Counter(ip for ev in tutoring for ip in _addresses(ev))
    assert max(seen.values()) == 1  # each deployment its own servers
    swarm_addresses = set().union(*map(_addresses, _active(swarm_world, "light-swarm")))
    assert not swarm_addresses & set(seen)
    daytime = 0
    for account_id in _members(swarm_world, "tutoring-product"):
        country = swarm_world["account"][account_id]["country"]
        for event in swarm_world["by_account"][account_id]:
            hour = _when(event["ts"]).hour
            daytime += any(7 <= (hour + tz) % 24 < 22 for tz in _OFFSETS[country])
    assert daytime >= 0.85 * len(events)


_OFFSETS = {code: offsets for code, _weight, offsets in COUNTRIES}


def test_eager_adopters_move_to_the_new_model_in_their_own_first_days(swarm_world):
    firsts = []
    busy = [events for events in _active(swarm_world, "eager-adopters") if len(events) >= 10]
    for events in busy:
        switched = [_when(e["ts"]) for e in events if e["model"] == "frontier-3"]
        if switched:
            firsts.append(min(switched) - RELEASE)
    assert len(busy) >= 4 and len(firsts) >= 0.8 * len(busy)
    assert all(delay >= timedelta(0) for delay in firsts)
    assert statistics.median(firsts) <= timedelta(days=4)
    assert max(firsts) - min(firsts) >= timedelta(hours=24)  # each on their own day
    members = [swarm_world["account"][a] for a in _members(swarm_world, "eager-adopters")]
    assert len({a["payment_fingerprint"] for a in members}) == len(members)


def test_the_command_builds_the_light_swarm_world_and_refuses_an_unknown_shape(tmp_path):
    stdout = io.StringIO()
    call_command(
        "generate_scenario",
        out=str(tmp_path),
        accounts=200,
        events=10_000,
        shape="light-swarm",
        json=True,
        stdout=stdout,
    )
    summary = json.loads(stdout.getvalue())
    assert summary["shape"] == "light-swarm"
    assert summary["accounts_by_group"]["light-swarm"] >= 20
    with pytest.raises(CommandError, match="--shape") as raised:
        call_command("generate_scenario", out=str(tmp_path / "x"), shape="heavy")
    assert raised.value.returncode == 2


def test_the_rival_gives_back_canaries_served_to_the_network_and_the_control_none(world):
    """The rival's files agree with the world: each canary went out in answers to requests
    a planned network account really sent, the rival gives back REGURGITATED of them (one
    altered in case and spacing) and claims the provider's identity, the control neither."""
    plan = json.loads((world["dir"] / PLAN_FILE).read_text())
    serves = _read_lines(world["dir"] / SERVES_FILE)
    probes = _read_lines(world["dir"] / PROBES_FILE)
    network = set(_group(world, NETWORK_GROUP)["accounts"])
    assert set(plan["accounts"]) <= network and len(plan["canaries"]) == CANARIES
    sent = {e["request_id"]: (e["account_id"], e["ts"]) for e in world["usage"]}
    assigned = {c["canary_id"]: c["accounts"] for c in plan["canaries"]}
    for serve in serves:
        assert sent[serve["request_id"]] == (serve["account_id"], serve["served_at"])
        assert assigned[serve["canary_id"]] == [serve["account_id"]]
    # The canaries are new to the world (Pacta plans them with the plan's seed: see
    # tests/casework/test_demo.py, where it draws the same ones).
    prompts = [canary_normalised(e.get("prompt") or "") for e in world["usage"]]
    for canary in plan["canaries"]:
        assert not any(canary_normalised(canary["text"]) in p for p in prompts)

    def given_back(target):
        texts = [canary_normalised(p["response"]) for p in probes if p["target"] == target]
        return [
            c["canary_id"]
            for c in plan["canaries"]
            if any(canary_normalised(c["text"]) in text for text in texts)
        ]

    assert len(given_back(RIVAL)) == REGURGITATED and given_back(CONTROL) == []
    rival_text = [p["response"] for p in probes if p["target"] == RIVAL]
    assert sum(c["text"] in text for c in plan["canaries"] for text in rival_text) == (
        REGURGITATED - 1  # the altered one is found only as matching reads it
    )
    control = [p for p in probes if p["target"] == CONTROL]
    assert all(p["control"] for p in control)
    assert not any("Aster" in p["response"] for p in control)
    assert any("Aster" in p["response"] for p in probes if p["target"] == RIVAL)


def test_the_clickwrap_records_carry_the_hashes_of_the_drawn_sign_up_screens(world, tmp_path):
    screens = json.loads((world["dir"] / "screens" / "screens.json").read_text())
    assert set(screens) == {"signup-v3", "signup-v4", "reaccept-2026-01"}
    for flow, screen in screens.items():
        drawn = (world["dir"] / screen["file"]).read_bytes()
        assert drawn.startswith(b"\x89PNG\r\n\x1a\n")
        assert hashlib.sha256(drawn).hexdigest() == screen["sha256"]
        carried = {r["screenshot_sha256"] for r in world["assent"] if r["flow_id"] == flow}
        assert carried == {screen["sha256"]}, flow
    # Drawn the same every time: the hashes are part of the pinned world.
    scenario_generate(out_dir=tmp_path / "again", accounts=ACCOUNTS, events=EVENTS, seed=SEED)
    again = json.loads((tmp_path / "again" / "screens" / "screens.json").read_text())
    assert again == screens


def test_the_world_holds_every_terms_document_of_the_provider(world):
    names = sorted(p.name for p in (world["dir"] / "terms").iterdir())
    assert names == [
        "developer-terms-2026-01-01.md",
        "services-agreement-2025-06-01.md",
        "services-agreement-2026-01-01.md",
        "usage-policy-2026-01-01.md",
    ]
