"""Detectors: each signal fires on its pattern and not on the honest look-alike, explains
itself in a sentence with the numbers, against customers on the same plan; links carry
their evidence; clusters are banded from conduct, not from declared relationships."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.db.models import Sum

from evidence.detectors import (
    REGISTRY,
    activity,
    detector_versions,
    link_kinds,
    signals,
    timing,
)
from evidence.detectors.activity import Window, activity_collect, activity_release
from evidence.detectors.baseline import Cohorts, percentile_of
from evidence.detectors.lexicons import lexicon, lexicon_pattern
from evidence.detectors.service import detection_run, signals_evaluate
from evidence.ingest.service import ingest_file
from evidence.models import (
    ClauseCategory,
    Cluster,
    ClusterMember,
    DetectionRun,
    Finding,
    LedgerEntry,
    Link,
    ModelRelease,
    UsageEvent,
)
from evidence.tasks import detection_run_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday
ORDINARY_PROMPTS = [
    "Write a Python function to parse a CSV file and group rows by date.",
    "Summarise this support ticket in one sentence: the customer was charged twice.",
    "Translate into French: Your order has shipped.",
    "Give me five catchy titles for a blog post about remote work.",
    "Explain what this Go snippet does: a helper to debounce a function.",
    "Draft a polite reply to a customer who cannot reset their password.",
    "Classify the sentiment of this review: great value, would buy again.",
    "What can I cook with spinach and feta? Something quick.",
    "Write unit tests in Java for a date parser.",
    "Extract the invoice number and total from this email.",
]
SWEEP_WORDS = (
    "algebra",
    "calculus",
    "optics",
    "circuits",
    "genetics",
    "enzymes",
    "markets",
    "auctions",
    "contracts",
    "torts",
    "graphs",
    "sorting",
    "hashing",
    "parsing",
    "recursion",
    "entropy",
    "voltage",
    "momentum",
    "inertia",
    "osmosis",
    "photons",
    "lenses",
    "tariffs",
    "bonds",
    "options",
    "futures",
    "lattices",
    "primes",
    "matrices",
    "vectors",
    "tensors",
    "manifolds",
    "proteins",
    "neurons",
    "glaciers",
    "deserts",
    "volcanoes",
    "estuaries",
)


class World:
    """A small record built by hand: account profiles and usage rows, ingested for real."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.accounts: list[dict] = []
        self.events: list[dict] = []
        self._ids = count()

    def account(self, account_id, *, plan="tier-1", **profile) -> str:
        record = {
            "account_id": account_id,
            "org_name": profile.pop("org_name", f"Org {account_id}"),
            "email": profile.pop("email", f"ops@{account_id}.example"),
            "created_at": profile.pop("created_at", "2025-10-01T00:00:00Z"),
            "country": profile.pop("country", "US"),
            "billing_country": profile.pop("billing_country", "US"),
            "payment_fingerprint": profile.pop("card", f"pf_{account_id}"),
            "signup_ip": profile.pop("signup_ip", None),
            "signup_user_agent": profile.pop("signup_user_agent", "Mozilla/5.0 (test)"),
            "plan": plan,
            "status": "active",
            "reseller": profile.pop("reseller", False),
        }
        assert not profile, profile
        self.accounts.append({k: v for k, v in record.items() if v is not None})
        return account_id

    def request(self, account_id, ts, *, prompt="Hello there.", **fields) -> str:
        request_id = f"req_{next(self._ids):08d}"
        self.events.append(
            {
                "request_id": request_id,
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "account_id": account_id,
                "api_key_id": fields.pop("key", f"key_{account_id}"),
                "model": fields.pop("model", "frontier-2"),
                "endpoint": "/v1/chat/completions",
                "input_tokens": fields.pop("input_tokens", 50),
                "output_tokens": fields.pop("output_tokens", 120),
                "source_ip": fields.pop("ip", self._home(account_id)),
                "user_agent": "python-httpx/0.27",
                "params": fields.pop("params", {"temperature": 0.7}),
                "prompt": prompt,
                "status": fields.pop("status", 200),
                **({"end_user": fields.pop("end_user")} if "end_user" in fields else {}),
            }
        )
        assert not fields, fields
        return request_id

    def _home(self, account_id) -> str:
        """A residential address of the account's own."""
        names = [a["account_id"] for a in self.accounts]
        index = names.index(account_id) if account_id in names else len(names)
        return f"100.{64 + index // 250}.{index % 250}.9"

    def ordinary(self, n=12, *, plan="tier-1", requests=30, output=120, prefix="ord") -> list:
        """Customers with a working-day rhythm and prompts the whole cohort shares."""
        names = []
        for i in range(n):
            name = self.account(f"acct_{prefix}{i:02d}", plan=plan)
            for j in range(requests):
                day = (i + j) % 10
                ts = T0 + dt.timedelta(days=day + 2 * (day // 5), hours=9 + (i * 7 + j) % 8)
                self.request(
                    name,
                    ts + dt.timedelta(minutes=j % 50),
                    prompt=ORDINARY_PROMPTS[(i + j) % len(ORDINARY_PROMPTS)],
                    output_tokens=output + (i * 13 + j * 7) % 40,
                )
            names.append(name)
        return names

    def load(self):
        for kind, rows in (("accounts", self.accounts), ("usage", self.events)):
            path = self.tmp_path / f"{kind}.ndjson"
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
            result = ingest_file(actor="system:test", kind=kind, path=path)
            assert result.rejected == 0, result.errors[:3]

    def run(self) -> DetectionRun:
        self.load()
        return detection_run(actor="system:test")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def finding(run, account_id, detector) -> Finding:
    return Finding.objects.get(run=run, account__account_id=account_id, detector=detector)


def measured(account_id, detector):
    """What a signal measured for an account a run did not report (nothing fired for it):
    the same evaluation, read without storing."""
    with transaction.atomic():
        activity = activity_collect(window=Window())
        results = signals_evaluate(activity)
        activity_release()
    for result in results.get(account_id, []):
        if result.signal.code == detector:
            result.explanation = result.signal.explain(
                result.measure, result.baseline, result.fired
            )
            return result
    return None


def fired(run, account_id) -> set[str]:
    return set(
        Finding.objects.filter(run=run, account__account_id=account_id, fired=True).values_list(
            "detector", flat=True
        )
    )


def links_between(run, a, b) -> dict[str, Link]:
    pair = {a, b}
    return {
        link.kind: link
        for link in Link.objects.filter(run=run).select_related("account_a", "account_b")
        if {link.account_a.account_id, link.account_b.account_id} == pair
    }


def band_of(run, account_id) -> str:
    member = (
        ClusterMember.objects.filter(cluster__run=run, account__account_id=account_id)
        .select_related("cluster")
        .first()
    )
    return member.cluster.band if member else "none"


def hours(start, n, step_minutes=60):
    return [start + dt.timedelta(minutes=i * step_minutes) for i in range(n)]


# --- the registry ------------------------------------------------------------------------


def test_every_detector_states_its_method():
    assert {s.code for s in signals()} == {
        "volume_outlier",
        "template_concentration",
        "coverage_sweep",
        "reasoning_elicitation",
        "probability_harvesting",
        "grader_data_factory",
        "release_chasing",
        "round_the_clock",
    }
    assert {k.code for k in link_kinds()} == {
        "shared_payment",
        "key_sharing",
        "shared_network",
        "signup_burst",
        "shared_prompts",
        "proxy_routing",
        "synchronised_activity",
        "rate_limit_handoff",
        "shared_exit_pool",
        "shared_request_shape",
        "campaign_synchrony",
        "rotating_exits",
        "prompt_family",
    }
    for detector in REGISTRY.values():
        described = detector.describe()
        assert described["name"] and described["version"]
        assert described["categories"]
        assert set(described["categories"]) <= set(ClauseCategory.values)
        method = described["methodology"]
        for part in ("definition", "threshold", "false_positives", "error_rate"):
            assert len(method[part]) > 20, (detector.code, part)
    assert detector_versions()["reasoning_elicitation"].endswith("+lexicon1")


def _detector_imports() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports."""
    package = Path(activity.__file__).parent
    names = {path.stem for path in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        targets = graph.setdefault(path.stem, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                # Checked wherever it stands, so an import deferred into a function counts.
                parts = node.module.split(".")
                if parts[:2] != ["evidence", "detectors"]:
                    continue
                assert node in tree.body, f"{path.name}:{node.lineno} imports inside code"
                if len(parts) > 2:
                    targets.add(parts[2])
                else:
                    targets |= {a.name for a in node.names if a.name in names} or {"__init__"}
    return graph


def test_the_detectors_package_has_no_import_cycle():
    """Finders and the module that runs them share `link_base`; detector modules declare
    themselves through `registry`; only the package's `__init__` imports them all."""
    graph = _detector_imports()
    assert "links" not in graph["identity"] | graph["prompts"] | graph["timing"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module not in done:
            for imported in graph[module]:
                visit(imported, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_the_registry_is_complete_whichever_detector_module_is_imported_first():
    """Importing one module of the package imports its `__init__`, which registers every
    detector in one order: a run never measures with half the detectors loaded."""
    program = (
        "import django; django.setup(); "
        "import evidence.detectors.{module}; "
        "from evidence.detectors.registry import REGISTRY; print(','.join(REGISTRY))"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", program.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "casework.config.settings"},
        ).stdout.strip()
        for module in ("timing", "service")
    }
    assert orders == {",".join(REGISTRY)}
    assert len(REGISTRY) == len(signals()) + len(link_kinds()) == 21


def test_lexicons_are_reviewable_data_and_match_as_substrings():
    reasoning = lexicon("reasoning")
    assert reasoning["version"] and "step by step" in reasoning["phrases"]
    pattern = lexicon_pattern("reasoning")
    assert pattern.search("please think step by step about this")
    assert pattern.search("first, show your full reasoning.")
    assert not pattern.search("write a haiku about the sea")
    assert lexicon_pattern("grader").search("which response is better, a or b?")


def test_cohort_baselines_are_median_multiples_and_exclusive_percentiles():
    cohorts = Cohorts.build(
        [("tier-1", f"a{v}", v) for v in (1, 2, 3, 4, 100)] + [("tier-5", "big", 1000)]
    )
    base = cohorts.baseline("tier-1", 100)
    assert base.median == 3 and base.multiple == pytest.approx(33.33, rel=1e-3)
    assert base.percentile == 80.0  # four of five tier-1 customers are lower
    assert cohorts.baseline("tier-5", 1000).multiple == 1.0
    assert percentile_of([0, 0, 0, 1], 0) == 0.0


def test_a_cohort_without_the_analysed_accounts_never_contains_them():
    cohorts = Cohorts.build(
        [("tier-1", f"a{v}", v) for v in (1, 2, 3, 4, 100, 200)] + [("tier-5", "big", 1000)]
    )
    analysed = {"a100", "a200", "big"}
    without = cohorts.without(analysed)
    assert without.members("tier-1") == {"a1", "a2", "a3", "a4"}
    assert not without.members("tier-5")
    base = without.baseline("tier-1", 100)
    # The two suspects no longer pull the median up (3.5 with them, 2.5 without).
    assert base.median == 2.5 and base.cohort_size == 4 and base.excluded == 2
    assert base.percentile == 100.0 and base.as_dict()["analysed_accounts_excluded"] == 2
    assert cohorts.baseline("tier-1", 100).median == 3.5


# --- signals -----------------------------------------------------------------------------


def test_volume_outlier_is_measured_against_the_same_plan(world):
    world.ordinary(12, plan="tier-1", output=120)
    world.ordinary(12, plan="enterprise", output=6000, prefix="ent")
    for name, plan in (("acct_bulk", "tier-1"), ("acct_bigco", "enterprise")):
        world.account(name, plan=plan)
        for ts in hours(T0 + dt.timedelta(hours=9), 30, 15):
            world.request(name, ts, prompt=ORDINARY_PROMPTS[ts.minute % 10], output_tokens=6500)
    run = world.run()

    bulk = finding(run, "acct_bulk", "volume_outlier")
    assert bulk.fired
    # Compared with the 12 other tier-1 customers: the account under analysis is not in
    # the cohort it is measured against (issue #18).
    assert bulk.baseline["cohort"] == "tier-1" and bulk.baseline["cohort_size"] == 12
    assert bulk.baseline["analysed_accounts_excluded"] == 1
    stored = Finding.objects.filter(run=run)
    assert stored and all(f.baseline["analysed_accounts_excluded"] >= 1 for f in stored)
    assert bulk.baseline["multiple_of_median"] > 40
    assert bulk.baseline["percentile"] == 100.0
    assert "the output of the median tier-1 customer (195,000 output tokens" in bulk.explanation
    assert "among the 12 other customers on the plan" in bulk.explanation
    assert "higher than 99.9% of tier-1 customers" in bulk.explanation
    # Value and threshold in one unit, output tokens: 20 times the plan's median output.
    tier1 = sorted(
        UsageEvent.objects.filter(account__plan="tier-1")
        .values("account_id")
        .annotate(total=Sum("output_tokens"))
        .values_list("total", flat=True)
    )
    assert bulk.value == 195_000 and bulk.threshold == 20 * tier1[len(tier1) // 2]
    # The same output is ordinary for an enterprise customer.
    bigco = measured("acct_bigco", "volume_outlier")
    assert not bigco.fired and bigco.baseline.cohort == "enterprise"
    threshold = bigco.signal.threshold_of(bigco)
    assert threshold > bigco.measure.value
    assert (
        f"Below the threshold of {threshold:,.0f} output tokens (20 times the median of every "
        "customer on the plan)." in bigco.explanation
    )


def test_reasoning_elicitation_fires_on_chain_of_thought_prompts(world):
    world.ordinary()
    world.account("acct_cot")
    for i, ts in enumerate(hours(T0, 30)):
        world.request("acct_cot", ts, prompt=f"Think step by step and solve exercise {i}.")
    run = world.run()

    cot = finding(run, "acct_cot", "reasoning_elicitation")
    assert cot.fired and cot.value == 1.0
    assert cot.explanation.startswith("30 of its 30 prompts (100%) asked the model to write out")
    assert "the median tier-1 customer: 0%" in cot.explanation
    assert cot.explanation.endswith(".")
    assert len(cot.sample_request_ids) == 3
    assert not measured("acct_ord00", "reasoning_elicitation").fired


def test_probability_harvesting_counts_deep_distributions_not_scoring(world):
    world.ordinary()
    for name, top in (("acct_deep", 20), ("acct_scorer", 5)):
        world.account(name)
        for i, ts in enumerate(hours(T0, 30)):
            world.request(
                name,
                ts,
                prompt=ORDINARY_PROMPTS[i % 10],
                params={"logprobs": True, "top_logprobs": top},
            )
    run = world.run()

    deep = finding(run, "acct_deep", "probability_harvesting")
    assert deep.fired and deep.value == 1.0
    assert "30 of its 30 requests (100%) asked for the 10 or more most likely" in deep.explanation
    assert not measured("acct_scorer", "probability_harvesting").fired


def test_grader_and_data_factory_prompts(world):
    world.ordinary()
    world.account("acct_judge")
    for i, ts in enumerate(hours(T0, 25)):
        world.request("acct_judge", ts, prompt=f"Which response is better? Pair {i}: A or B.")
    run = world.run()

    assert finding(run, "acct_judge", "grader_data_factory").fired
    assert not measured("acct_ord03", "grader_data_factory").fired


def test_coverage_sweep_fires_on_never_repeating_prompts(world):
    world.ordinary(requests=40)
    world.account("acct_sweep")
    for i, ts in enumerate(hours(T0, 40)):
        a, b = SWEEP_WORDS[i % len(SWEEP_WORDS)], SWEEP_WORDS[(i * 7 + 3) % len(SWEEP_WORDS)]
        world.request("acct_sweep", ts, prompt=f"Pose a hard exam question on {a} and {b}.")
    run = world.run()

    sweep = finding(run, "acct_sweep", "coverage_sweep")
    assert sweep.fired and sweep.value >= 0.8
    assert "were near-unique" in sweep.explanation
    ordinary = measured("acct_ord00", "coverage_sweep")
    assert not ordinary.fired and ordinary.measure.value == 0.0


def test_template_concentration(world):
    world.ordinary(requests=60)
    world.account("acct_batch")
    for i, ts in enumerate(hours(T0, 60)):
        world.request("acct_batch", ts, prompt=f"Classify ticket #{1000 + i} as billing or other.")
    run = world.run()

    batch = finding(run, "acct_batch", "template_concentration")
    assert batch.fired and batch.value == 1.0
    assert "from a single prompt template" in batch.explanation
    assert not measured("acct_ord00", "template_concentration").fired


def test_release_chasing_uses_release_dates_from_the_catalogue(world, tmp_path):
    released = T0 + dt.timedelta(days=5)
    catalogue = tmp_path / "models.json"
    catalogue.write_text(
        json.dumps(
            [
                {
                    "model": "frontier-3",
                    "released": released.isoformat(),
                    "list_price_per_mtok_input": 5.0,
                    "list_price_per_mtok_output": 25.0,
                }
            ]
        )
    )
    call_command("import_models", str(catalogue))
    world.ordinary()
    for name, share in (("acct_chaser", 1.0), ("acct_tester", 0.3)):
        world.account(name)
        for ts in hours(T0, 90, 120):  # every two hours for a week and a half
            on_new = ts >= released + dt.timedelta(hours=20) and (ts.hour % 10) / 10 < share
            world.request(name, ts, model="frontier-3" if on_new else "frontier-2")
    run = world.run()

    chaser = finding(run, "acct_chaser", "release_chasing")
    assert chaser.fired and chaser.value == 1.0
    assert chaser.explanation.startswith(
        "On the second day after frontier-3 was released (2026-01-10 00:00 UTC), 100% of its "
        "tokens went to frontier-3 (12 requests that day)"
    )
    sample = UsageEvent.objects.get(request_id=chaser.sample_request_ids[0])
    assert sample.model == "frontier-3"
    assert not measured("acct_tester", "release_chasing").fired


def test_round_the_clock_automation_against_a_working_day(world):
    world.ordinary()
    world.account("acct_cron")
    world.account("acct_office")
    for ts in hours(T0, 240):
        world.request("acct_cron", ts)
        if 8 <= ts.hour < 18:
            for minute in (0, 20, 40):
                world.request("acct_office", ts + dt.timedelta(minutes=minute))
    run = world.run()

    cron = finding(run, "acct_cron", "round_the_clock")
    assert cron.fired and cron.value == pytest.approx(1 / 3)
    assert "where perfectly even round-the-clock traffic would put 33%" in cron.explanation
    office = measured("acct_office", "round_the_clock")
    assert not office.fired and office.measure.value == 0.0


# --- links -------------------------------------------------------------------------------


def test_shared_card_is_hard_and_declared_within_one_organisation(world):
    world.ordinary(4)
    world.account("acct_a", card="pf_shared")
    world.account("acct_b", card="pf_shared")
    world.account("acct_team1", card="pf_corp", email="ops@bluefinch.example")
    world.account("acct_team2", card="pf_corp", email="dev@bluefinch.example")
    for name in ("acct_a", "acct_b", "acct_team1", "acct_team2"):
        world.request(name, T0)
    run = world.run()

    card = links_between(run, "acct_a", "acct_b")["shared_payment"]
    assert card.strength == "hard" and not card.declared
    assert "same payment card (fingerprint pf_shared)" in card.explanation
    team = links_between(run, "acct_team1", "acct_team2")["shared_payment"]
    assert team.declared and team.evidence["declared_organisation"] == "bluefinch.example"
    assert "not concealment by itself" in team.explanation
    assert band_of(run, "acct_team1") == "none"


def test_an_api_key_used_by_two_accounts_is_a_hard_link(world):
    world.ordinary(4)
    world.account("acct_owner")
    world.account("acct_borrower")
    world.request("acct_owner", T0, key="key_owner")
    borrowed = world.request("acct_borrower", T0 + dt.timedelta(hours=1), key="key_owner")
    run = world.run()

    link = links_between(run, "acct_owner", "acct_borrower")["key_sharing"]
    assert link.strength == "hard"
    assert "API key key_owner, first seen on account acct_owner" in link.explanation
    assert borrowed in link.sample_request_ids


def test_shared_network_discounts_large_shared_networks(world):
    world.account("acct_home1")
    world.account("acct_home2")
    world.request("acct_home1", T0, ip="203.0.113.7")
    world.request("acct_home2", T0, ip="203.0.113.7")
    for i in range(5):  # five unrelated customers behind one cloud range
        name = world.account(f"acct_cloud{i}")
        world.request(name, T0, ip=f"198.51.100.{20 + i}")
        world.request(name, T0, ip="198.51.100.200")
    run = world.run()

    home = links_between(run, "acct_home1", "acct_home2")["shared_network"]
    assert home.strength == "strong" and home.evidence["shared_ips"] == ["203.0.113.7"]
    assert "so it is not shared infrastructure" in home.explanation
    assert not links_between(run, "acct_cloud0", "acct_cloud1")


def test_signup_burst_links_scripted_signups(world):
    for i, name in enumerate(("acct_s1", "acct_s2", "acct_s3")):
        world.account(
            name,
            created_at=f"2025-11-01T10:{5 * i:02d}:00Z",
            signup_ip=f"192.0.2.{10 + i}",
            email=f"jane{1000 + i}@mailbox.example",
            country=("US", "DE", "IN")[i],
        )
    world.account("acct_other", created_at="2025-11-01T10:07:00Z", signup_ip="192.0.2.50",
                  signup_user_agent="Mozilla/5.0 (other)")  # fmt: skip
    world.ordinary(4)
    run = world.run()

    link = links_between(run, "acct_s1", "acct_s2")["signup_burst"]
    assert link.strength == "strong"
    assert link.evidence["burst_size"] == 3 and link.evidence["minutes_apart"] == 5.0
    assert "opened from network 192.0.2.0/24 with the same browser signature" in (link.explanation)
    assert "name+4 digits" in link.explanation
    assert not links_between(run, "acct_s1", "acct_other")


HARVEST_STYLES = {
    "network": (
        "Let's think step by step about {a} versus {b}, then answer.",
        "Show your full reasoning on {b} in the {a} setting.",
    ),
    "own": (
        "Reason carefully through a {a} problem with {b}; give every step.",
        "Chain of thought please: relate {a} to {b}.",
    ),
}


def _harvest(world, name, start, n, *, end_user=None, key=None, style="network"):
    """Reasoning-harvesting prompts on two scaffolds, each filled with a different topic."""
    offset = sum(map(ord, name)) + (len(end_user) if end_user else 0)
    for i, ts in enumerate(hours(start, n, 7)):
        a = SWEEP_WORDS[(i + offset) % len(SWEEP_WORDS)]
        b = SWEEP_WORDS[(3 * i + 5 + offset // 3) % len(SWEEP_WORDS)]
        extra = {"end_user": end_user} if end_user else {}
        world.request(
            name,
            ts,
            prompt=HARVEST_STYLES[style][0].format(a=a, b=b),
            params={"logprobs": True, "top_logprobs": 20},
            key=key or f"key_{name}",
            **extra,
        )
        world.request(
            name,
            ts + dt.timedelta(minutes=1),
            prompt=HARVEST_STYLES[style][1].format(a=a, b=b),
            params={"logprobs": True, "top_logprobs": 20},
            key=key or f"key_{name}",
            **extra,
        )


def test_shared_harvesting_scaffolds_and_proxy_routing(world, settings):
    settings.PACTA_UNSUPPORTED_COUNTRIES = ["XK"]
    world.ordinary()
    world.account("acct_h1")
    world.account("acct_h2")
    _harvest(world, "acct_h1", T0, 20)
    _harvest(world, "acct_h2", T0 + dt.timedelta(days=3), 20)
    world.account("acct_gateway", reseller=True, plan="tier-4", country="XK")
    for i in range(60):  # its own customers
        world.request(
            "acct_gateway",
            T0 + dt.timedelta(hours=i),
            prompt=ORDINARY_PROMPTS[i % 10],
            key="key_gw",
            end_user=f"cust_{i % 30:03d}",
        )
    _harvest(
        world, "acct_gateway", T0 + dt.timedelta(days=5), 15, end_user="u_hidden", key="key_gw"
    )
    run = world.run()

    prompts = links_between(run, "acct_h1", "acct_h2")["shared_prompts"]
    assert prompts.strength == "strong"
    assert prompts.evidence["mode"] == "harvesting_scaffolds"
    assert "let's think step by step" in " ".join(prompts.evidence["shared_scaffolds"])
    routing = Link.objects.get(run=run, kind="proxy_routing")
    assert routing.evidence["router"] == "acct_gateway"
    assert routing.evidence["routed_end_users"] == ["u_hidden"]
    assert "u_hidden" in routing.explanation and "routes that actor's requests" in (
        routing.explanation
    )
    assert routing.evidence["unsupported_countries"] == ["acct_gateway: XK"]
    assert band_of(run, "acct_h1") == band_of(run, "acct_gateway") == "critical"


def test_synchronised_activity(world):
    world.ordinary()
    for name in ("acct_tick", "acct_tock"):
        world.account(name)
    for i in range(30):  # the same 30 five-minute slots, spread over days and hours
        slot = T0 + dt.timedelta(minutes=5 * (i * 97))
        for name, offset in (("acct_tick", 10), ("acct_tock", 70)):
            world.request(
                name,
                slot + dt.timedelta(seconds=offset),
                prompt=f"Think step by step about case {i}.",
                params={"top_logprobs": 20},
            )
    run = world.run()

    link = links_between(run, "acct_tick", "acct_tock")["synchronised_activity"]
    assert link.evidence["common_intervals"] == 30
    # Exactly, 12^-30 (each hour's one shared interval must land on the other's); the
    # Monte Carlo check finds no draw as high and says no more than its draws can show.
    assert link.evidence["chance_probability"] == float(f"{12.0**-30:.3g}")
    draws = link.evidence["null_max_draws"]
    assert link.evidence["null_draws"] == draws == settings.PACTA_SYNC_NULL_DRAWS
    assert link.evidence["monte_carlo_p"] == float(f"{1 / (draws + 1):.3g}")
    assert link.evidence["correction"] == "Benjamini-Hochberg"
    assert f"none of {draws:,} random shifts reached it" in link.explanation
    assert "would be expected" in link.explanation


def test_rate_limit_handoffs(world, tmp_path):
    plans = tmp_path / "plans.json"
    plans.write_text(json.dumps([{"plan": "tier-1", "requests_per_minute": 50,
                                  "tokens_per_minute": 40000}]))  # fmt: skip
    models = tmp_path / "models.json"
    models.write_text("[]")
    call_command("import_models", str(models), "--plans", str(plans))
    world.ordinary(4)
    world.account("acct_day")
    world.account("acct_night")
    start = T0 + dt.timedelta(hours=9)
    for shift in range(8):
        name = ("acct_day", "acct_night")[shift % 2]
        for minute in range(6):
            for k in range(30):  # 30 requests a minute against a limit of 50
                ts = start + dt.timedelta(minutes=minute, seconds=2 * k)
                world.request(name, ts, status=429 if k == 0 else 200)
        start += dt.timedelta(minutes=9)
    run = world.run()

    link = links_between(run, "acct_day", "acct_night")["rate_limit_handoff"]
    assert link.evidence["handoffs"] == 7
    assert "tier-1 limit of 40,000 tokens or 50 requests a minute" in link.explanation


# --- clusters ----------------------------------------------------------------------------


def test_clusters_band_conduct_and_concealment_not_declared_ties(world):
    world.ordinary()
    # Three accounts on one card, all harvesting: one actor, concealed.
    for name in ("acct_n1", "acct_n2", "acct_n3"):
        world.account(name, card="pf_rotating")
        _harvest(world, name, T0 + dt.timedelta(hours=len(name)), 15)
    # A lone harvester with prompts of its own: conduct, but no link to anyone.
    world.account("acct_loner")
    _harvest(world, "acct_loner", T0, 15, style="own")
    # An ordinary customer who happened to sign up in the same minute, same network and
    # browser as one of them: one coincidence attributes nobody.
    world.accounts[-4].update(created_at="2025-11-02T10:00:00Z", signup_ip="192.0.2.9")
    world.account("acct_bystander", created_at="2025-11-02T10:01:00Z", signup_ip="192.0.2.77")
    for i, ts in enumerate(hours(T0, 30)):
        world.request("acct_bystander", ts, prompt=ORDINARY_PROMPTS[i % 10])
    # A company's accounts on its own card: declared, and doing nothing wrong.
    world.account("acct_corp1", card="pf_corp", email="ops@bluefinch.example")
    world.account("acct_corp2", card="pf_corp", email="dev@bluefinch.example")
    for name in ("acct_corp1", "acct_corp2"):
        world.request(name, T0)
    run = world.run()

    cluster = Cluster.objects.get(run=run, members__account_id="acct_n1")
    assert cluster.band == "critical" and cluster.size == 3
    assert cluster.explanation.startswith("Critical: 3 accounts joined by")
    assert "3 members fired two or more extraction signals" in cluster.explanation
    assert band_of(run, "acct_loner") == "high"
    assert "signup_burst" in links_between(run, "acct_n1", "acct_bystander")
    assert band_of(run, "acct_bystander") == "none"
    assert band_of(run, "acct_corp1") == "none"
    assert {"reasoning_elicitation", "probability_harvesting"} <= fired(run, "acct_n2")


# --- the run -----------------------------------------------------------------------------


def test_a_run_is_stored_once_ledgered_and_never_edited(world):
    world.ordinary()
    world.account("acct_cot")
    for i, ts in enumerate(hours(T0, 30)):
        world.request("acct_cot", ts, prompt=f"Think step by step: case {i}.")
    run = world.run()

    assert run.status == "finished" and run.finished_at and run.window_start == T0
    assert run.detector_versions == detector_versions()
    entries = LedgerEntry.objects.filter(action="detected", object_id=str(run.pk))
    assert entries.count() == 1
    entry = entries.get()
    assert entry.object_sha256 == run.digest and len(run.digest) == 64
    assert entry.details["counts"]["findings"] == Finding.objects.filter(run=run).count()
    # Findings cite usage rows that exist.
    cited = {i for f in Finding.objects.filter(run=run) for i in f.sample_request_ids}
    assert cited and UsageEvent.objects.filter(request_id__in=cited).count() == len(cited)
    # The database refuses to edit a finding.
    with pytest.raises(DatabaseError, match="never edited"), transaction.atomic():
        Finding.objects.filter(run=run).update(fired=False)
    # A second run is a later run over the same record, with the same digest.
    again = detection_run(actor="system:test")
    assert again.pk != run.pk and again.digest == run.digest


@pytest.mark.django_db(transaction=True)
def test_a_run_on_its_own_uses_a_second_connection_with_the_same_result(world, monkeypatch):
    """Outside any transaction a run exports its snapshot and runs the template-key and
    infrastructure passes on a second connection beside the other passes, and tests the
    synchronised pairs in a child process; what it finds is what a run inside a caller's
    transaction (one connection, one pass after another, every test in-process) finds: the
    same signals, the same shared-key, network and synchronised-activity links."""
    world.ordinary()
    world.account("acct_cot")
    for i, ts in enumerate(hours(T0, 30)):
        world.request("acct_cot", ts, prompt=f"Think step by step: case {i}.")
    for name in ("acct_keyowner", "acct_keyborrower"):
        world.account(name)
        for ts in hours(T0, 12, 7):
            world.request(name, ts, key="key_shared_1", ip="203.0.113.9")
    for name in ("acct_tick", "acct_tock"):
        world.account(name)
        for i in range(30):  # the same 30 five-minute slots
            world.request(
                name,
                T0 + dt.timedelta(minutes=5 * (i * 97), seconds=10),
                prompt=f"Think step by step about case {i}.",
            )
    world.load()
    side_runs, children = [], []
    side_connection = activity.snapshot_connection
    monkeypatch.setattr(
        activity,
        "snapshot_connection",
        lambda snapshot: side_runs.append(side_connection(snapshot)) or side_runs[-1],
    )
    in_child = timing.pairs_linked_apart
    monkeypatch.setattr(
        timing,
        "pairs_linked_apart",
        lambda intervals, **kw: children.append(sorted(intervals)) or in_child(intervals, **kw),
    )
    alone = detection_run(actor="system:test")
    assert len(children) == 1 and {"acct_tick", "acct_tock"} <= set(children[0])
    # The passes' connection, and the timing finders' (there are suspects to time).
    assert len(side_runs) == 2 and all(side.closed for side in side_runs)
    with transaction.atomic():
        inside = detection_run(actor="system:test")
    assert len(side_runs) == 2  # inside a transaction the snapshot is not shared
    assert len(children) == 1  # nor are the pairs tested in a child
    assert alone.status == inside.status == "finished"
    assert alone.digest == inside.digest and alone.counts["findings_fired"] > 0
    assert fired(alone, "acct_cot") == fired(inside, "acct_cot") != set()
    pair = ("acct_keyowner", "acct_keyborrower")
    assert set(links_between(alone, *pair)) == set(links_between(inside, *pair)) >= {"key_sharing"}
    synchronised = [
        links_between(run, "acct_tick", "acct_tock")["synchronised_activity"].evidence
        for run in (alone, inside)
    ]
    assert synchronised[0] == synchronised[1] and synchronised[0]["common_intervals"] == 30


def test_an_empty_record_gives_an_empty_finished_run():
    run = detection_run(actor="system:test")
    assert run.status == "finished" and run.counts == {"accounts_active": 0}
    assert not Finding.objects.filter(run=run).exists()


def test_the_task_runs_the_same_service_and_is_safe_twice(world):
    world.ordinary(3)
    world.load()
    first = detection_run_task.apply().get()
    second = detection_run_task.apply().get()
    assert first["run"] != second["run"] and first["digest"] == second["digest"]
    assert DetectionRun.objects.get(pk=second["run"]).actor == "system:detector"


def test_import_models_loads_release_dates_and_prices(tmp_path, capsys):
    path = tmp_path / "models.json"
    path.write_text(
        json.dumps(
            [
                {
                    "model": "frontier-3",
                    "released": "2026-01-20T17:00:00Z",
                    "list_price_per_mtok_input": 5.0,
                    "list_price_per_mtok_output": 25.0,
                }
            ]
        )
    )
    call_command("import_models", str(path), "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["models"]["created"] == 1
    model = ModelRelease.objects.get(model="frontier-3")
    assert model.released_at == dt.datetime(2026, 1, 20, 17, tzinfo=dt.UTC)
    assert str(model.list_price_per_mtok_output) == "25.000000"
    assert LedgerEntry.objects.filter(action="imported", object_type="modelrelease").exists()
    call_command("import_models", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["models"]["unchanged"] == 1
    path.write_text('[{"model": "x", "released": "yesterday"}]')
    with pytest.raises(CommandError, match="ISO-8601") as failure:
        call_command("import_models", str(path))
    assert failure.value.returncode == 1


def test_a_window_limits_what_a_run_reads(world):
    world.ordinary(4)
    world.account("acct_late")
    for i, ts in enumerate(hours(T0 + dt.timedelta(days=20), 30)):
        world.request("acct_late", ts, prompt=f"Think step by step: case {i}.")
    world.load()
    before = detection_run(actor="system:test", window_end=T0 + dt.timedelta(days=15))
    assert before.window_end == T0 + dt.timedelta(days=15)
    assert "acct_late" not in set(
        Finding.objects.filter(run=before).values_list("account__account_id", flat=True)
    )
    after = detection_run(actor="system:test", window_start=T0 + dt.timedelta(days=19))
    assert finding(after, "acct_late", "reasoning_elicitation").fired
    assert after.counts["accounts_active"] == 1
