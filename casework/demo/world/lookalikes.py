"""The hard negatives, innocent look-alikes the detectors must not accuse: an evaluation
company, a high-volume enterprise, a university behind one NAT and an authorised reseller.

The light-swarm world grows two of them: the evaluation lab adds model-graded judging to
its suites, and the reseller declares a few accounts of its organisation."""

from __future__ import annotations

from casework.demo.world.accounts import Account
from casework.demo.world.draws import host, public_prefix
from casework.demo.world.population import Population
from casework.demo.world.prompts import (
    COMPILED,
    BenchmarkPrompts,
    TemplatePrompts,
    benchmark_items,
    judging_items,
)
from casework.demo.world.provider import NEW_MODEL, RELEASE_MS
from casework.demo.world.timing import SessionTiming, rhythm_profile
from casework.demo.world.traffic import EMBEDDINGS, EndUsers, Traffic
from casework.demo.world.vocabulary import (
    ORG_WORDS_A,
)
from casework.demo.world.window import (
    DAY_MS,
    HOUR_MS,
    ms_from_iso,
)


def evaluation_company_add(
    world: Population,
    count: int,
    *,
    judging: list[str] | None = None,
    max_tokens: tuple[int, ...] = (1, 5, 16),
) -> None:
    """`judging`: judge-prompt templates the lab also runs (model-graded evaluation)."""
    rng = world.rng
    org_name = world.org_name().rsplit(" ", 1)[0] + " Evals"
    domain = world.domain(org_name)
    country = rng.choice(("GB", "US", "DE"))
    tz = rng.choice(world.country_tz[country])
    office = public_prefix(rng)
    card = world.card()
    items = benchmark_items(rng, 250)
    if judging:
        # a judge model grades each batch: one judging item after every five others
        judged = judging_items(rng, judging, 200)
        items = [
            entry
            for number, item in enumerate(items)
            for entry in ((item, judged[number // 5]) if number % 5 == 4 else (item,))
        ]
    founded = world.created_before_window("2025-07-01T00:00:00Z")
    release_hour = RELEASE_MS // HOUR_MS
    profile = rhythm_profile("office", tz, 0, (release_hour, release_hour + 48))
    for number in range(count):
        first, last = world.person()
        # two accounts opened the same afternoon, the rest as teams joined
        if number < 2:
            created = founded + number * rng.randint(20, 90) * 60_000
        else:
            created = founded + rng.randint(3, 60) * DAY_MS
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=world.personal_email(first, last, domain),
                created_ms=min(created, -DAY_MS),
                country=country,
                billing_country=country,
                payment_fingerprint=card,
                signup_ip=host(rng, office),
                signup_user_agent=world.browser(),
                plan=rng.choice(("tier-3", "tier-4")),
                status="active",
                reseller=False,
                role="hard_negative",
                group="evaluation-company",
                kind="evaluation_company",
                tz=tz,
            )
        )
        account.keys = world.api_keys(rng.randint(1, 3))
        world.traffic["evaluation"].append(
            Traffic(
                account=account,
                weight=rng.uniform(0.7, 1.3),
                timing=SessionTiming(profile, 250.0, 1_500.0),
                prompts=BenchmarkPrompts(items, rng.randrange(len(items))),
                keys=account.keys,
                ips=[host(rng, rng.choice(world.hosting_prefixes)) for _ in range(2)],
                user_agents=["python-httpx/0.28.1"],
                endpoints=["/v1/chat/completions"] * 9 + ["/v1/completions"],
                models=["frontier-2", "frontier-2", "frontier-2-mini", "frontier-1"],
                models_after=[NEW_MODEL] * 2 + ["frontier-2", "frontier-2-mini"],
                adopt_ms=RELEASE_MS + rng.randrange(2 * HOUR_MS, 10 * HOUR_MS),
                logprobs_share=0.6,
                top_logprobs=(5,),
                temperatures=(0.0,),
                max_tokens=max_tokens,
            )
        )


def enterprise_add(world: Population) -> None:
    rng = world.rng
    org_name = world.org_name()
    country = "US"
    tz = -5
    account = world.add(
        Account(
            account_id=world.new_id("acct_", 12),
            org_name=org_name,
            email=world.org_email(world.domain(org_name)),
            created_ms=ms_from_iso("2025-06-20T00:00:00Z") + rng.randrange(0, 30 * DAY_MS),
            country=country,
            billing_country=country,
            payment_fingerprint=world.card(),
            signup_ip=host(rng, public_prefix(rng)),
            signup_user_agent=world.browser(),
            plan="enterprise",
            status="active",
            reseller=False,
            role="hard_negative",
            group="enterprise-high-volume",
            kind="high_volume_enterprise",
            tz=tz,
        )
    )
    account.keys = world.api_keys(12)
    templates = COMPILED["content"] + COMPILED["code"] + COMPILED["rag"] + COMPILED["support"]
    world.traffic["enterprise"].append(
        Traffic(
            account=account,
            weight=1.0,
            timing=SessionTiming(rhythm_profile("consumer", tz), 2.0, 5_000.0),
            prompts=TemplatePrompts(
                templates, [1.0 / (i + 1) ** 0.5 for i in range(len(templates))]
            ),
            keys=account.keys,
            ips=[
                host(rng, prefix)
                for prefix in rng.sample(world.hosting_prefixes, 3)
                for _ in range(2)
            ],
            user_agents=["openai-python/1.59.7", "python-httpx/0.28.1"],
            endpoints=["/v1/chat/completions"] * 6 + ["/v1/responses"] * 2 + [EMBEDDINGS] * 2,
            models=["frontier-2"] * 6 + ["frontier-2-mini"] * 4,
            models_after=["frontier-2"] * 5 + ["frontier-2-mini"] * 3 + [NEW_MODEL] * 2,
            adopt_ms=RELEASE_MS + 7 * DAY_MS + rng.randrange(0, 2 * DAY_MS),
            end_users=EndUsers(0.95, pattern="{:08x}", salt=rng.getrandbits(32), pool=20_000),
            temperatures=(0.3, 0.5, 0.7),
            max_tokens=(2048, 4096),
            logprobs_share=0.02,
            top_logprobs=(1, 3),
        )
    )


def university_add(world: Population, count: int) -> None:
    rng = world.rng
    country = rng.choice(("US", "GB", "DE", "NL", "CA"))
    tz = world.country_tz[country][0]
    name = (
        rng.choice(ORG_WORDS_A)
        + " "
        + rng.choice(("University", "Institute of Technology", "State University"))
    )
    domain = "students." + world.domain(name)
    nat = public_prefix(rng)
    nat_ips = [host(rng, nat) for _ in range(4)]
    lab_session = rng.randrange(6 * DAY_MS + 9 * HOUR_MS, 8 * DAY_MS) - int(tz * HOUR_MS)
    profile = rhythm_profile("student", tz)
    templates = COMPILED["homework"] + COMPILED["personal"][:4]
    for _ in range(count):
        first, last = world.person()
        if rng.random() < 0.4:
            created = lab_session + rng.randrange(0, 90 * 60_000)
        else:
            created = world.created_before_window("2025-09-01T00:00:00Z")
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}".replace(
                    "-", ""
                ),
                created_ms=created,
                country=country,
                billing_country=country if rng.random() > 0.15 else world.country()[0],
                payment_fingerprint=world.card(),
                signup_ip=rng.choice(nat_ips),
                signup_user_agent=world.browser(),
                plan="tier-1",
                status="active",
                reseller=False,
                role="hard_negative",
                group="university",
                kind="university_nat",
                tz=tz,
            )
        )
        account.keys = world.api_keys(1)
        client = rng.choice(
            ("python-requests/2.32.3", "openai-python/1.59.7", "curl/8.5.0", "OpenAI/JS 4.77.0")
        )
        agents = [world.browser(), client]
        world.traffic["university"].append(
            Traffic(
                account=account,
                weight=rng.lognormvariate(0.0, 0.8),
                timing=SessionTiming(profile, 4.0, 90_000.0),
                prompts=TemplatePrompts(templates, [1.0] * len(templates)),
                keys=account.keys,
                ips=nat_ips,
                user_agents=agents,
                endpoints=["/v1/chat/completions"],
                models=["frontier-2-mini"] * 3 + ["frontier-2"],
                temperatures=(0.7, 1.0),
                max_tokens=(1024, 2048),
                lo=max(0, created + HOUR_MS),
            )
        )
    world.groups_extra["university"] = {"nat_prefix": f"{nat}.0/24", "email_domain": domain}


def legitimate_reseller_add(world: Population, accounts: int = 1) -> None:
    """`accounts`: how many declared accounts the reseller's organisation holds (more
    than one only in the light-swarm world, drawn after the first account's traffic)."""
    rng = world.rng
    org_name = world.org_name().rsplit(" ", 1)[0] + " Platform"
    country, _tz = world.country()
    account = world.add(
        Account(
            account_id=world.new_id("acct_", 12),
            org_name=org_name,
            email=world.org_email(world.domain(org_name)),
            created_ms=ms_from_iso("2025-07-01T00:00:00Z") + rng.randrange(0, 40 * DAY_MS),
            country=country,
            billing_country=country,
            payment_fingerprint=world.card(),
            signup_ip=host(rng, public_prefix(rng)),
            signup_user_agent=world.browser(),
            plan="enterprise",
            status="active",
            reseller=True,
            role="hard_negative",
            group="legitimate-reseller",
            kind="legitimate_reseller",
        )
    )
    account.keys = world.api_keys(1)
    ips = [host(rng, prefix) for prefix in rng.sample(world.hosting_prefixes, 2) for _ in range(2)]
    salt = rng.getrandbits(32)
    sets = (
        COMPILED["support"]
        + COMPILED["content"]
        + COMPILED["code"]
        + COMPILED["translate"]
        + COMPILED["personal"]
    )
    regions = ((-5, 0.35), (-8, 0.15), (0, 0.15), (1, 0.15), (5.5, 0.1), (8, 0.1))
    holders = [account]
    for _ in range(1, accounts):
        # a later account of the same organisation, for another product line or market
        extra = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=world.org_email(world.domain(org_name)),
                created_ms=min(account.created_ms + rng.randrange(DAY_MS, 150 * DAY_MS), -DAY_MS),
                country=country,
                billing_country=country,
                payment_fingerprint=account.payment_fingerprint,
                signup_ip=rng.choice(ips),
                signup_user_agent=world.browser(),
                plan=rng.choice(("tier-4", "tier-5", "enterprise")),
                status="active",
                reseller=True,
                role="hard_negative",
                group="legitimate-reseller",
                kind="legitimate_reseller",
            )
        )
        extra.keys = world.api_keys(1)
        holders.append(extra)
    slices = [(n, regions[n % len(regions)]) for n in range(max(accounts, len(regions)))]
    for region, (tz, share) in slices:
        holder = holders[region % len(holders)]
        world.traffic["reseller"].append(
            Traffic(
                account=holder,
                weight=share,
                timing=SessionTiming(
                    rhythm_profile(rng.choice(("consumer", "office")), tz), 2.0, 20_000.0
                ),
                prompts=TemplatePrompts(sets, [1.0] * len(sets)),
                keys=holder.keys,
                ips=ips,
                user_agents=["Go-http-client/2.0"],
                endpoints=["/v1/chat/completions"] * 4 + ["/v1/responses"],
                models=["frontier-2"] * 5 + ["frontier-2-mini"] * 4 + ["frontier-1"],
                # each region serves its own customers
                end_users=EndUsers(1.0, pattern="c_{:08x}", salt=salt ^ region, pool=80),
                temperatures=(0.5, 0.7, 1.0),
                max_tokens=(1024, 2048, 4096),
            )
        )
