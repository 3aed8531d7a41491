"""Who populates the world: ordinary customers' plans and archetypes of legitimate use,
each cohort's share of the events, and the ground truth `labels.json` says of each group."""

from __future__ import annotations

BENIGN_PLANS = {"tier-1": 52, "tier-2": 22, "tier-3": 12, "tier-4": 7, "tier-5": 4, "enterprise": 3}
PLAN_VOLUME_MU = {
    "tier-1": 0.0,
    "tier-2": 1.0,
    "tier-3": 1.8,
    "tier-4": 2.6,
    "tier-5": 3.3,
    "enterprise": 4.0,
}

# Archetypes of legitimate use: which prompts, which rhythm, which clients.
ARCHETYPES: dict[str, dict] = {
    "support-bot": {
        "templates": ("support",),
        "shapes": {"consumer": 5, "office": 3, "service": 2},
        "endpoints": {"/v1/chat/completions": 75, "/v1/responses": 25},
        "models": {"frontier-2-mini": 7, "frontier-2": 3},
        "session": (6.0, 40_000.0),
        "max_tokens": (512, 1024),
        "temperatures": (0.2, 0.3, 0.5, 0.7),
        "end_users": 0.7,
        "logprob_accounts": 0.02,
    },
    "coding-assistant": {
        "templates": ("code",),
        "shapes": {"developer": 5, "office": 5},
        "endpoints": {"/v1/chat/completions": 60, "/v1/responses": 35, "/v1/completions": 5},
        "models": {"frontier-2": 7, "frontier-1": 2, "frontier-2-mini": 1},
        "session": (8.0, 90_000.0),
        "max_tokens": (2048, 4096, 8192),
        "temperatures": (0.0, 0.2, 0.7),
        "end_users": 0.3,
        "logprob_accounts": 0.02,
    },
    "content-tool": {
        "templates": ("content",),
        "shapes": {"office": 6, "consumer": 4},
        "endpoints": {"/v1/chat/completions": 80, "/v1/responses": 20},
        "models": {"frontier-2": 5, "frontier-2-mini": 5},
        "session": (4.0, 60_000.0),
        "max_tokens": (1024, 2048),
        "temperatures": (0.7, 0.8, 0.9, 1.0),
        "end_users": 0.4,
        "logprob_accounts": 0.01,
    },
    "data-pipeline": {
        "templates": ("extract", "classify"),
        "shapes": {"batch": 5, "service": 3, "office": 2},
        "endpoints": {"/v1/chat/completions": 70, "/v1/completions": 15, "/v1/embeddings": 15},
        "models": {"frontier-2-mini": 7, "frontier-2": 2, "frontier-1": 1},
        "session": (80.0, 1_500.0),
        "max_tokens": (16, 64, 256, 512),
        "temperatures": (0.0,),
        "end_users": 0.0,
        "logprob_accounts": 0.35,
    },
    "research-assistant": {
        "templates": ("rag",),
        "shapes": {"office": 6, "developer": 4},
        "endpoints": {"/v1/chat/completions": 55, "/v1/responses": 15, "/v1/embeddings": 30},
        "models": {"frontier-2": 6, "frontier-2-mini": 3, "frontier-1": 1},
        "session": (10.0, 20_000.0),
        "max_tokens": (1024, 2048),
        "temperatures": (0.0, 0.3),
        "end_users": 0.2,
        "logprob_accounts": 0.03,
    },
    "translation": {
        "templates": ("translate",),
        "shapes": {"service": 4, "consumer": 4, "office": 2},
        "endpoints": {"/v1/chat/completions": 100},
        "models": {"frontier-2-mini": 8, "frontier-2": 2},
        "session": (5.0, 15_000.0),
        "max_tokens": (256, 512),
        "temperatures": (0.0, 0.3),
        "end_users": 0.5,
        "logprob_accounts": 0.05,
    },
    "personal": {
        "templates": ("personal", "code"),
        "shapes": {"developer": 8, "consumer": 2},
        "endpoints": {"/v1/chat/completions": 85, "/v1/responses": 15},
        "models": {"frontier-2": 5, "frontier-2-mini": 4, "frontier-1": 1},
        "session": (3.0, 120_000.0),
        "max_tokens": (512, 1024, 4096),
        "temperatures": (0.7, 1.0),
        "end_users": 0.0,
        "logprob_accounts": 0.01,
    },
}
ARCHETYPES_SMALL = {
    "personal": 35,
    "coding-assistant": 20,
    "content-tool": 12,
    "support-bot": 10,
    "research-assistant": 10,
    "data-pipeline": 8,
    "translation": 5,
}
ARCHETYPES_LARGE = {
    "support-bot": 25,
    "data-pipeline": 20,
    "research-assistant": 15,
    "content-tool": 15,
    "coding-assistant": 12,
    "translation": 8,
    "personal": 5,
}

# Share of all events each cohort produces. Adversaries take about 15%.
EVENT_SHARES = {
    "benign": 0.695,
    "enterprise": 0.08,
    "university": 0.02,
    "evaluation": 0.02,
    "reseller": 0.03,
    "network-direct": 0.095,
    "network-via-reseller": 0.025,
    "conduit-own-customers": 0.01,
    "ring": 0.025,
}

GROUP_INFO = {
    "benign": ("benign", "organic", "Ordinary customers: apps, pipelines and individuals."),
    "evaluation-company": (
        "hard_negative",
        "evaluation_company",
        "A model-evaluation firm with several declared accounts on one card, running fixed "
        "benchmark suites (highly templated, logprobs for scoring) in office hours, and "
        "benchmarking the new model on release day.",
    ),
    "enterprise-high-volume": (
        "hard_negative",
        "high_volume_enterprise",
        "An enterprise customer with the largest organic output volume: a consumer-facing "
        "assistant with varied prompts, many keys and a daily rhythm.",
    ),
    "university": (
        "hard_negative",
        "university_nat",
        "Student accounts behind one campus NAT /24 with one email domain, part created in a "
        "single lab session; homework prompts (some ask for step-by-step explanations).",
    ),
    "legitimate-reseller": (
        "hard_negative",
        "legitimate_reseller",
        "An authorised reseller: one key, hundreds of end users in several regions, varied "
        "prompts following each region's day.",
    ),
    "distillation-network": (
        "adversary",
        "distillation_network",
        "One operator harvesting reasoning and token probabilities through many masked "
        "accounts created in bursts from hosting ranges, with rotated cards and throwaway "
        "email domains, sweeping a topic grid round the clock, moving to the new model "
        "within hours of release; part of its traffic routed through reseller accounts.",
    ),
    "key-sharing-ring": (
        "adversary",
        "key_sharing_ring",
        "A handful of accounts that pass bulk content-generation work between them in "
        "shifts, each running near its rate limit and stopping as the next starts, sharing "
        "keys, client, addresses and prompts.",
    ),
}
