"""Canaries: unique, innocuous text served to suspect accounts and looked for in the rival.

Pacta generates each canary from a seeded generator (a fictitious fact about a place that
does not exist, `canary_lexicon.json`), gives it an id and a SHA-256, checks that its
coined words occur nowhere in the record (prompts, probe transcripts, earlier canaries),
and assigns it to one suspect account. The gateway serves the plan and logs each serve
(`ingest serves`); `canaries_match` then looks for every canary ever served in every
probe response. A match ties the accounts it was served to (and only they) to the target
whose response holds it, with the chance that the response held it by coincidence.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import secrets
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.canonical import (
    CANARY_MATCH_HASHED,
    canonical_json,
    content_sha256,
    sha256_hex,
)
from evidence.custody.ledger import Actor, actor_label
from evidence.models import (
    Account,
    Canary,
    CanaryAssignment,
    CanaryMatch,
    CanaryServe,
    CanarySet,
    Cluster,
    EvidenceItem,
    ProbeExchange,
    UsageEvent,
)
from evidence.services import evidence_item_store

LEXICON_FILE = Path(__file__).with_name("canary_lexicon.json")
MAX_COUNT = 10_000
# Draws allowed per canary wanted before giving up (collisions are rare; a lexicon too
# small for the count asked is not, and must stop with a clear error, not loop).
DRAWS_PER_CANARY = 50
QUOTE_CONTEXT = 120
CHANCE_METHOD = "unigram-laplace-v1"
CHANCE_STATEMENT = (
    "The chance that a response contains the canary by coincidence is estimated as the "
    "number of token positions in the probe corpus (every response, normalised) times the "
    "product, over the canary's tokens, of each token's Laplace-smoothed frequency in that "
    "corpus, (count + 1) / (tokens + distinct tokens + 1): the canary read as a run of "
    "independent words. Counting the matched responses themselves in the corpus overstates "
    "the chance, never understates it."
)
MATCH_STATEMENT = (
    "A probe response matches a canary when it contains the canary's words in order, "
    "ignoring case, whitespace and punctuation (NFKC, case-folded, every run of "
    "non-word characters read as one space), as whole words."
)
_NON_WORD = re.compile(r"[\W_]+")


class CanaryPlanError(ValueError):
    """The plan cannot be made as asked: `field` names the argument at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def canary_normalised(text: str) -> str:
    """Text as matching reads it: NFKC, case-folded, punctuation and whitespace as one space."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@cache
def _lexicon() -> dict[str, Any]:
    return json.loads(LEXICON_FILE.read_text(encoding="utf-8"))


def _coined(rng: random.Random) -> str:
    lexicon = _lexicon()
    syllables = [
        rng.choice(lexicon["onsets"]) + rng.choice(lexicon["vowels"])
        for _ in range(rng.randint(2, 3))
    ]
    return ("".join(syllables) + rng.choice(lexicon["codas"])).capitalize()


def _draw(rng: random.Random) -> tuple[str, tuple[str, str]]:
    """One candidate canary and its two coined words."""
    lexicon = _lexicon()
    place, coined = _coined(rng), _coined(rng).lower()
    slots = {
        key: rng.choice(values)
        for key, values in lexicon.items()
        if isinstance(values, list) and key not in ("templates", "onsets", "vowels", "codas")
    }
    text = rng.choice(lexicon["templates"]).format(place=place, coined=coined, **slots)
    return text, (place.lower(), coined)


def _record_texts() -> Iterator[str]:
    """Every text of the record a canary must not already occur in."""
    yield from Canary.objects.values_list("text", flat=True).iterator(chunk_size=2000)
    for prompt, response in ProbeExchange.objects.values_list("prompt", "response").iterator(
        chunk_size=2000
    ):
        yield prompt
        yield response
    usage = UsageEvent.objects.exclude(prompt_excerpt="").values_list(
        "prompt_excerpt", "prompt_text"
    )
    for excerpt, text in usage.iterator(chunk_size=20_000):
        yield text or excerpt


def _words_in_record(words: set[str]) -> set[str]:
    """Which of `words` occur, as whole words, anywhere in the record's texts (one pass)."""
    if not words:
        return set()
    found: set[str] = set()
    for text in _record_texts():
        for word in canary_normalised(text).split():
            if word in words:
                found.add(word)
    return found


def canary_candidates(
    rng: random.Random, wanted: int, *, taken: set[str], budget: list[int]
) -> list[tuple[str, tuple[str, str]]]:
    """The next `wanted` candidates of the generator whose coined words differ from each
    other and from `taken` (which grows). `budget` is the draws left, shared by the calls
    of one plan, so a lexicon too small for the count stops with a clear error.

    Public because a world generator that knows its own text (the demo scenario) draws the
    same canaries from the same seed as `canaries_generate` does on the record it loads.
    """
    batch = []
    while len(batch) < wanted:
        budget[0] -= 1
        if budget[0] < 0:
            raise CanaryPlanError("--count", "could not draw the canaries from the lexicon")
        text, words = _draw(rng)
        if words[0] == words[1] or taken.intersection(words):
            continue
        taken.update(words)
        batch.append((text, words))
    return batch


def canary_id(text: str) -> str:
    """A canary's id: from the hash of its text as matching reads it."""
    return f"CN-{sha256_hex(canary_normalised(text).encode('utf-8'))[:10]}"


def _canaries_draw(rng: random.Random, count: int) -> list[tuple[str, tuple[str, str]]]:
    """`count` canaries whose coined words are new to the record and to each other."""
    taken: set[str] = set()
    drawn: list[tuple[str, tuple[str, str]]] = []
    budget = [count * DRAWS_PER_CANARY]
    while len(drawn) < count:
        try:
            batch = canary_candidates(rng, count - len(drawn), taken=taken, budget=budget)
        except CanaryPlanError as exc:
            raise CanaryPlanError(
                "--count", f"could not draw {count} distinct canaries from the lexicon"
            ) from exc
        clashes = _words_in_record({word for _, words in batch for word in words})
        drawn += [(text, words) for text, words in batch if not clashes.intersection(words)]
    return drawn


@dataclass
class CanaryPlan:
    """A generated set: its rows, and the serving plan exported for the gateway."""

    canary_set: CanarySet
    canaries: list[Canary]
    plan: bytes
    plan_item: EvidenceItem


def _set_pk() -> int:
    """The set's id, reserved: its rows refuse UPDATE, and the plan names the set."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('evidence_canaryset', 'id'))")
        return cursor.fetchone()[0]


def canaries_generate(
    *,
    actor: Actor,
    count: int,
    accounts: Sequence[Account],
    cluster: Cluster | None = None,
    seed: int | None = None,
) -> CanaryPlan:
    """Generate `count` canaries, assign them in turn to `accounts` (one account each, so a
    match names the account whose responses leaked), store them, and export the plan.

    The seed is drawn at random unless given, and recorded: the canaries must not be
    guessable by the accounts they are served to, and must be reproducible by the provider.
    """
    if not 1 <= count <= MAX_COUNT:
        raise CanaryPlanError("--count", f"must be between 1 and {MAX_COUNT:,}, got {count}")
    accounts = sorted(accounts, key=lambda a: a.account_id)
    if not accounts:
        raise CanaryPlanError("--accounts", "no account to serve the canaries to")
    seed = secrets.randbits(62) if seed is None else seed
    drawn = _canaries_draw(random.Random(seed), count)
    label, _ = actor_label(actor)
    now = timezone.now()
    with transaction.atomic():
        pk = _set_pk()
        canaries, plan_rows = [], []
        for index, (text, _) in enumerate(drawn):
            normalised = sha256_hex(canary_normalised(text).encode("utf-8"))
            canary = Canary(
                canary_id=canary_id(text),
                canary_set_id=pk,
                text=text,
                sha256=sha256_hex(text.encode("utf-8")),
                normalised_sha256=normalised,
            )
            account = accounts[index % len(accounts)]
            canaries.append((canary, account))
            plan_rows.append(
                {
                    "canary_id": canary.canary_id,
                    "text": text,
                    "sha256": canary.sha256,
                    "accounts": [account.account_id],
                }
            )
        plan = {
            "plan": pk,
            "generated_at": now.isoformat(),
            "cluster": cluster.identity if cluster else None,
            "canaries": plan_rows,
            "serve_log": {
                "format": "NDJSON, one line per serve, ingested by `ingest serves`",
                "fields": ["canary_id", "request_id", "account_id", "served_at"],
            },
        }
        plan_bytes = json.dumps(plan, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        canary_set = CanarySet.objects.create(
            pk=pk,
            seed=seed,
            cluster_identity=cluster.identity if cluster else "",
            cluster_run=cluster.run_id if cluster else None,
            plan_sha256=sha256_hex(plan_bytes),
            actor=label,
            created_at=now,
        )
        Canary.objects.bulk_create([canary for canary, _ in canaries])
        CanaryAssignment.objects.bulk_create(
            [CanaryAssignment(canary=canary, account=account) for canary, account in canaries]
        )
        item = evidence_item_store(
            actor=actor,
            stream=io.BytesIO(plan_bytes),
            file_name=f"canary-plan-{pk}.json",
            kind=EvidenceItem.Kind.OTHER,
            source="canary_generate",
            description=f"Serving plan of canary set {pk}: {len(canaries)} canaries",
        )
        events.canaries_generated(
            actor=actor,
            canary_set=canary_set,
            canaries=len(canaries),
            accounts=len({account.pk for _, account in canaries}),
            plan_item=item.pk,
        )
    return CanaryPlan(canary_set, [c for c, _ in canaries], plan_bytes, item)


# --- matching ---------------------------------------------------------------------------


def _canary_regex(text: str) -> re.Pattern[str]:
    """The canary's words in order, any non-word characters between, whole words only."""
    words = canary_normalised(text).split()
    body = r"[\W_]+".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def coincidence_chance(canary_text: str, corpus: Counter[str], positions: int) -> float:
    """The chance of a coincidental match (see `CHANCE_STATEMENT`)."""
    denominator = positions + len(corpus) + 1
    log_p = math.log(max(positions, 1))
    for word in canary_normalised(canary_text).split():
        log_p += math.log((corpus[word] + 1) / denominator)
    return min(1.0, math.exp(log_p))


def match_sha256(values: dict[str, Any]) -> str:
    """The hash of a recorded match: the canary, the probe, whom it ties and the chance."""
    return content_sha256(values, CANARY_MATCH_HASHED)


def canaries_match(*, actor: Actor) -> dict[str, Any]:
    """Look for every canary ever served in every probe response; record the new matches.

    Matches already recorded are reported again, not recorded twice: running it after
    each new probe or serve-log file is safe. The ledger entry's digest covers the
    matches this run recorded.
    """
    served: dict[int, dict[str, Any]] = {}
    serves = CanaryServe.objects.values_list("canary_id", "account__account_id")
    for canary_pk, account_id in serves.iterator(chunk_size=5000):
        entry = served.setdefault(canary_pk, {"accounts": set(), "serves": 0})
        entry["accounts"].add(account_id)
        entry["serves"] += 1
    canaries = {c.pk: c for c in Canary.objects.filter(pk__in=list(served)).order_by("canary_id")}
    exchanges = list(
        ProbeExchange.objects.order_by("pk").values_list("pk", "probe_id", "target", "response")
    )
    texts = {pk: unicodedata.normalize("NFKC", response) for pk, _, _, response in exchanges}
    corpus: Counter[str] = Counter()
    for text in texts.values():
        corpus.update(canary_normalised(text).split())
    positions = sum(corpus.values())
    recorded = {
        (m.canary_id, m.exchange_id): m
        for m in CanaryMatch.objects.filter(canary_id__in=list(canaries))
    }
    label, _ = actor_label(actor)
    now = timezone.now()
    found, new = [], []
    by_target: dict[str, set[str]] = defaultdict(set)
    for canary in canaries.values():
        regex = _canary_regex(canary.text)
        chance = coincidence_chance(canary.text, corpus, positions)
        accounts = sorted(served[canary.pk]["accounts"])
        for pk, probe_id, target, _ in exchanges:
            hit = regex.search(texts[pk])
            if hit is None:
                continue
            text = texts[pk]
            start, end = max(0, hit.start() - QUOTE_CONTEXT), hit.end() + QUOTE_CONTEXT
            quote = text[start:end].strip()
            values = {
                "canary_id": canary.canary_id,
                "probe_id": probe_id,
                "accounts": accounts,
                "serves": served[canary.pk]["serves"],
                "chance": float(f"{chance:.6g}"),
                "method": CHANCE_METHOD,
                "quote": quote,
            }
            match = recorded.get((canary.pk, pk))
            if match is None:
                match = CanaryMatch(
                    canary=canary,
                    exchange_id=pk,
                    accounts=accounts,
                    serves=values["serves"],
                    chance=values["chance"],
                    method=CHANCE_METHOD,
                    quote=quote,
                    content_sha256=match_sha256(values),
                    actor=label,
                    matched_at=now,
                )
                new.append(match)
            by_target[target].update(match.accounts)
            found.append(
                {
                    "canary_id": canary.canary_id,
                    "probe_id": probe_id,
                    "target": target,
                    "accounts": match.accounts,
                    "serves": match.serves,
                    "chance": match.chance,
                    "quote": match.quote,
                    "new": match.pk is None,
                    "sha256": match.content_sha256,
                }
            )
    with transaction.atomic():
        CanaryMatch.objects.bulk_create(new)
        digest = sha256_hex(canonical_json([m.content_sha256 for m in new]).encode("utf-8"))
        events.canaries_matched(
            actor=actor,
            at=now,
            served=len(canaries),
            exchanges=len(exchanges),
            matches=len(found),
            recorded=len(new),
            digest=digest,
        )
    return {
        "canaries_served": len(canaries),
        "exchanges": len(exchanges),
        "corpus_tokens": positions,
        "method": {"match": MATCH_STATEMENT, "chance": CHANCE_STATEMENT, "code": CHANCE_METHOD},
        "matches": found,
        "recorded": len(new),
        "accounts_by_target": {t: sorted(a) for t, a in sorted(by_target.items())},
    }
