"""Who accepted which version of the Terms, when and how, with the gaps real sign-up
flows leave behind (so "no assent record" can be neither ignored nor read as guilt)."""

from __future__ import annotations

import random

from casework.demo.world.draws import hex_digits, host, public_prefix
from casework.demo.world.population import Population
from casework.demo.world.provider import TERMS_SLUG
from casework.demo.world.window import DAY_MS, HOUR_MS, WINDOW_MS, iso_seconds, ms_from_iso


def assent_records(world: Population, screen_hashes: dict[str, str] | None = None) -> list[dict]:
    """Who accepted which version, when and how; with the gaps real flows leave behind.

    `screen_hashes`: the SHA-256 of each flow's screen as drawn (`screens.screens_write`);
    a flow without one gets a hash of no file on record, as a real provider's would.
    """
    rng = random.Random(f"pacta-scenario:{world.seed}:assent")
    # Drawn whatever `screen_hashes` says, so the rest of the world stays the same.
    screenshots = {
        flow: hex_digits(rng, 64) for flow in ("signup-v3", "signup-v4", "reaccept-2026-01")
    }
    screenshots.update(screen_hashes or {})
    new_version_ms = ms_from_iso("2026-01-01T00:00:00Z")
    banner_ms = ms_from_iso("2025-12-15T00:00:00Z")
    # Formation gaps: about 1% of ordinary accounts came through a legacy API sign-up whose
    # acceptance was never logged, and a few network accounts share that gap, so "no assent
    # record" can be neither ignored nor read as guilt.
    benign = [a.account_id for a in world.accounts if a.role == "benign"]
    harvesters = [a.account_id for a in world.accounts if a.kind == "distillation_network"]
    missing = set(rng.sample(benign, max(2, round(0.012 * len(benign)))))
    missing.update(rng.sample(harvesters, max(1, len(harvesters) // 30)))
    records = []
    for account in world.accounts:
        if account.account_id in missing:
            continue
        enterprise_order = account.plan == "enterprise" and (
            account.role != "benign" or rng.random() < 0.8
        )
        version = "2025-06-01" if account.created_ms < new_version_ms else "2026-01-01"
        scripted = account.group == "distillation-network" and account.kind != "conduit_reseller"
        delay = rng.randint(8, 40) if scripted else rng.randint(25, 900)
        if enterprise_order:
            records.append(
                {
                    "account_id": account.account_id,
                    "terms": TERMS_SLUG,
                    "version": version,
                    "ts": iso_seconds(account.created_ms - rng.randint(1, 10) * DAY_MS),
                    "ip": host(rng, public_prefix(rng)),
                    "user_agent": world.browser(),
                    "method": "enterprise-order",
                    "flow_id": f"order-form-{version[:4]}",
                    "screenshot_sha256": hex_digits(rng, 64),  # the signed order form itself
                }
            )
        else:
            flow = "signup-v3" if version == "2025-06-01" else "signup-v4"
            records.append(
                {
                    "account_id": account.account_id,
                    "terms": TERMS_SLUG,
                    "version": version,
                    "ts": iso_seconds(account.created_ms + delay * 1000),
                    "ip": account.signup_ip,
                    "user_agent": account.signup_user_agent,
                    "method": "clickwrap",
                    "flow_id": flow,
                    "screenshot_sha256": screenshots[flow],
                }
            )
        reaccept_share = 0.5 if account.role == "adversary" else 0.45
        if version == "2025-06-01" and not enterprise_order and rng.random() < reaccept_share:
            start = max(banner_ms, account.created_ms + DAY_MS)
            moment = start + int(rng.random() * (WINDOW_MS - HOUR_MS - start))
            records.append(
                {
                    "account_id": account.account_id,
                    "terms": TERMS_SLUG,
                    "version": "2026-01-01",
                    "ts": iso_seconds(moment),
                    "ip": account.signup_ip
                    if rng.random() < 0.3
                    else host(rng, public_prefix(rng)),
                    "user_agent": account.signup_user_agent,
                    "method": "sign-in",
                    "flow_id": "reaccept-2026-01",
                    "screenshot_sha256": screenshots["reaccept-2026-01"],
                }
            )
    records.sort(key=lambda record: (record["ts"], record["account_id"]))
    return records
