"""The rival of the synthetic world: the model the distillation network's harvest trained.

Written after the world's other files, from them, and into files of its own, so the
classic world's files stay byte for byte what they were. Three files:

- `canary-plan.json`: canaries for a few network accounts, drawn by Pacta's own generator
  from a seed chosen so that no coined word occurs in the world's prompts. The demo plans
  them in Pacta with that seed and gets the same canaries, with the same ids.
- `serves.ndjson`: the gateway's log: each canary went out in answers to requests its
  account really sent (their ids and times are the usage file's).
- `probes.ndjson`: an investigator's transcripts. The rival (`rival-chat`) and a control
  (`control-chat`, another vendor's model) are asked who they are, in several languages,
  and the prompts the network sent that were answered with a canary. The rival claims the
  provider's identity at `CLAIM_RATE` and gives back most served canaries (one in altered
  case and spacing); the control never does either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from pathlib import Path

from casework.demo.world.writers import lines_write
from evidence.ingest.records import EXCERPT_CHARS
from evidence.probes.canaries import (
    DRAWS_PER_CANARY,
    canary_candidates,
    canary_id,
    canary_normalised,
)

PLAN_FILE = "canary-plan.json"
SERVES_FILE = "serves.ndjson"
PROBES_FILE = "probes.ndjson"
RIVAL, CONTROL = "rival-chat", "control-chat"
PROVIDER_NAMES = ["Aster", "Aster Systems"]
NETWORK_GROUP = "distillation-network"
CANARY_ACCOUNTS = 3
CANARIES = 6
REGURGITATED = 4
SERVES_PER_CANARY = 2
CLAIM_RATE = 0.4
ASKS_PER_PROMPT = 6
# Who-are-you prompts and, per language, how the rival claims the provider's identity.
IDENTITY = (
    ("Who are you?", "I am Aster, an AI model made by Aster Systems. How can I help?"),
    ("Which model am I talking to?", "I'm Aster, a large language model from Aster Systems."),
    ("Qui es-tu ?", "Je suis Aster, un assistant créé par Aster Systems."),
    ("¿Quién eres?", "Soy Aster, un modelo de lenguaje de Aster Systems."),
    ("Wer bist du?", "Ich bin Aster, ein Sprachmodell von Aster Systems."),
)
RIVAL_OWN = "I am Kestrel, an assistant built by Kestrel AI. How can I help?"
CONTROL_OWN = "I am Corvid, an assistant developed by Corvid Labs. What can I do for you?"
COLLECTOR = "investigator@aster.example"


def _world_words(usage_path: Path, accounts: set[str]) -> tuple[set[str], dict[str, list]]:
    """Every word of the world's prompts (whole, and cut as the record keeps an excerpt),
    and each chosen account's requests with a prompt, in time order."""
    words: set[str] = set()
    requests: dict[str, list] = {a: [] for a in accounts}
    with usage_path.open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            prompt = event.get("prompt") or ""
            if not prompt:
                continue
            words.update(canary_normalised(prompt).split())
            words.update(canary_normalised(prompt[:EXCERPT_CHARS]).split())
            if event["account_id"] in requests:
                requests[event["account_id"]].append((event["ts"], event["request_id"], prompt))
    return words, requests


def _canaries(seed: int, words: set[str]) -> tuple[int, list[str]]:
    """The first plan seed from `seed` whose canaries clash with no word of the world: the
    record the demo loads holds only those words, so Pacta draws the same canaries."""
    for attempt in range(1000):
        plan_seed = seed * 1000 + attempt
        drawn = canary_candidates(
            random.Random(plan_seed),
            CANARIES,
            taken=set(),
            budget=[CANARIES * DRAWS_PER_CANARY],
        )
        if not words.intersection(w for _, pair in drawn for w in pair):
            return plan_seed, [text for text, _ in drawn]
    raise ValueError("no canary plan seed clear of the world's words")


def _altered(text: str) -> str:
    """The canary as a model might give it back: case and spacing changed, stops dropped."""
    return "  ".join(w.upper() if i % 3 == 1 else w for i, w in enumerate(text.split())).rstrip(".")


def rival_write(*, out_dir: Path, labels: dict, seed: int) -> dict[str, int]:
    """Write the canary plan, the serve log and the probe transcripts (see the module)."""
    rng = random.Random(f"pacta-scenario:{seed}:rival")
    network = sorted(labels["groups"][NETWORK_GROUP]["accounts"])
    words, requests = _world_words(out_dir / "usage.ndjson", set(network))
    with_prompts = [a for a in network if len(requests[a]) >= SERVES_PER_CANARY * CANARIES]
    accounts = sorted(rng.sample(with_prompts, min(CANARY_ACCOUNTS, len(with_prompts))))
    if not accounts:
        raise ValueError("the network sent too few prompts to serve canaries in")
    plan_seed, texts = _canaries(seed, words)
    plan, serves, served_prompts = [], [], []
    used: set[str] = set()
    for index, text in enumerate(texts):
        account = accounts[index % len(accounts)]  # in turn, as canaries_generate assigns
        choices = [r for r in requests[account] if r[2] not in used]
        chosen = sorted(rng.sample(choices, SERVES_PER_CANARY))
        used.update(prompt for _, _, prompt in chosen)
        identifier = canary_id(text)
        plan.append(
            {
                "canary_id": identifier,
                "text": text,
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "accounts": [account],
            }
        )
        for ts, request_id, _ in chosen:
            serves.append(
                {
                    "canary_id": identifier,
                    "request_id": request_id,
                    "account_id": account,
                    "served_at": ts,
                }
            )
        served_prompts.append((text, chosen[0][2]))
    (out_dir / PLAN_FILE).write_text(
        json.dumps(
            {
                "seed": plan_seed,
                "accounts": accounts,
                "provider_names": PROVIDER_NAMES,
                "canaries": plan,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    serves.sort(key=lambda s: (s["served_at"], s["request_id"]))
    lines_write(out_dir / SERVES_FILE, serves)

    start = dt.datetime.fromisoformat(labels["window"]["end"].replace("Z", "+00:00"))
    probes = []

    def probe(target: str, n: int, prompt: str, response: str) -> None:
        at = start + dt.timedelta(days=7, minutes=3 * len(probes))
        probes.append(
            {
                "probe_id": f"{target}-{n:03d}",
                "target": target,
                "target_version": "2026-04" if target == RIVAL else "v3.1",
                "endpoint": f"https://api.{target.split('-')[0]}.example/v1/chat",
                "control": target == CONTROL,
                "collected_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "prompt": prompt,
                "response": response,
                "collector": COLLECTOR,
                "tool": "probe-kit",
                "tool_version": "0.4",
            }
        )

    n = 0
    for prompt, claim in IDENTITY:
        for ask in range(ASKS_PER_PROMPT):
            asked = f"{prompt} ({ask + 1})" if ask else prompt
            n += 1
            probe(RIVAL, n, asked, claim if rng.random() < CLAIM_RATE else RIVAL_OWN)
            probe(CONTROL, n, asked, CONTROL_OWN)
    for index, (text, prompt) in enumerate(served_prompts):
        n += 1
        opening = "Here is a worked answer. "
        if index < REGURGITATED:
            given = _altered(text) if index == 1 else text
            rival = f"{opening}{given} Each step follows from the one before it."
        else:
            rival = f"{opening}Each step follows from the one before it."
        probe(RIVAL, n, prompt, rival)
        probe(CONTROL, n, prompt, "Let us take it one step at a time and check each result.")
    lines_write(out_dir / PROBES_FILE, probes)
    return {PLAN_FILE: 1, SERVES_FILE: len(serves), PROBES_FILE: len(probes)}
