"""Deterministic synthetic world: accounts, usage, assent, terms and the truth behind them.

Detectors and the ingest path need a world whose misconduct is known in advance, and whose
innocent look-alikes are known too, so that both "it found the network" and "it did not
accuse the university" can be tested. Pure Python, no database: the management command
``generate_scenario`` is a thin wrapper around :func:`scenario_generate`.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

# --- the window and the calendar -------------------------------------------------------

WINDOW_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WINDOW_DAYS = 30
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WINDOW_MS = WINDOW_DAYS * DAY_MS
WINDOW_HOURS = WINDOW_DAYS * 24
_WINDOW_START_S = int(WINDOW_START.timestamp())

# Smallest world in which every cohort still has its full shape (the network needs a dozen
# accounts, the university a lab of students, each cohort enough events to show a rhythm).
MIN_ACCOUNTS = 200
MIN_EVENTS = 10_000


def _ms(iso: str) -> int:
    """Milliseconds from the window start to an ISO-8601 UTC instant (negative before it)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int((moment - WINDOW_START).total_seconds() * 1000)


def _iso_seconds(ms: int) -> str:
    return datetime.fromtimestamp(_WINDOW_START_S + ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DAY_PREFIX = [
    datetime.fromtimestamp(_WINDOW_START_S + day * 86_400, UTC).strftime("%Y-%m-%dT")
    for day in range(WINDOW_DAYS)
]


def _iso_millis(ms: int) -> str:
    """Usage timestamps: ISO-8601 UTC with milliseconds, the precision provider logs keep."""
    day, rest = divmod(ms, DAY_MS)
    hour, rest = divmod(rest, HOUR_MS)
    minute, rest = divmod(rest, 60_000)
    second, milli = divmod(rest, 1000)
    return f"{_DAY_PREFIX[day]}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


# --- the provider's catalogue, plans and terms --------------------------------------------

TERMS_SLUG = "services-agreement"
TERMS_VERSIONS = ("2025-06-01", "2026-01-01")
NEW_MODEL = "frontier-3"
NEW_MODEL_RELEASE = "2026-01-20T17:00:00Z"  # inside the window, so release chasing shows
_RELEASE_MS = _ms(NEW_MODEL_RELEASE)

MODELS = [
    {
        "model": "frontier-1",
        "released": "2024-10-01T00:00:00Z",
        "list_price_per_mtok_input": 5.0,
        "list_price_per_mtok_output": 15.0,
    },
    {
        "model": "frontier-2",
        "released": "2025-03-01T00:00:00Z",
        "list_price_per_mtok_input": 3.0,
        "list_price_per_mtok_output": 15.0,
    },
    {
        "model": "frontier-2-mini",
        "released": "2025-05-20T00:00:00Z",
        "list_price_per_mtok_input": 0.25,
        "list_price_per_mtok_output": 1.25,
    },
    {
        "model": NEW_MODEL,
        "released": NEW_MODEL_RELEASE,
        "list_price_per_mtok_input": 5.0,
        "list_price_per_mtok_output": 25.0,
    },
    {
        "model": "embed-1",
        "released": "2024-11-01T00:00:00Z",
        "list_price_per_mtok_input": 0.1,
        "list_price_per_mtok_output": 0.0,
    },
]

# Published per-account limits: what "near its limit" and "relative to its plan" mean.
PLANS = [
    {"plan": "tier-1", "requests_per_minute": 50, "tokens_per_minute": 40_000},
    {"plan": "tier-2", "requests_per_minute": 1_000, "tokens_per_minute": 80_000},
    {"plan": "tier-3", "requests_per_minute": 2_000, "tokens_per_minute": 200_000},
    {"plan": "tier-4", "requests_per_minute": 4_000, "tokens_per_minute": 400_000},
    {"plan": "tier-5", "requests_per_minute": 4_000, "tokens_per_minute": 2_000_000},
    {"plan": "enterprise", "requests_per_minute": 10_000, "tokens_per_minute": 8_000_000},
]

_TERMS_2025 = """\
# Aster Services Agreement

Version {version}, effective {effective}.

This Services Agreement (the "Agreement") is a contract between Aster Systems, Inc. ("Aster", \
"we", "us" or "our") and the person or organisation that opens an Account or uses the \
Services ("you" or "Customer"). It governs your access to and use of our application \
programming interfaces, models, console and related services (the "Services").

## 1. Acceptance

1.1 You accept this Agreement by: (a) clicking "I agree" or a similar control when you \
create an Account; (b) clicking "Accept" when we present an updated version at sign-in; or \
(c) signing an Order Form that incorporates this Agreement. If you do not agree, do not use \
the Services.

1.2 If you accept on behalf of an organisation, you represent that you have authority to \
bind that organisation, and "you" refers to it.

1.3 We may update this Agreement from time to time. We will post each updated version with \
its effective date and give at least fifteen (15) days' notice of material changes by email \
or in the console. Your continued use of the Services after the effective date, or your \
acceptance at sign-in, constitutes acceptance of the updated version.

1.4 We keep a record of each acceptance, including the version accepted, the time, the \
method, and the network address and browser details from which it was made.

## 2. Definitions

2.1 "Account" means the account you open with us to access the Services, together with its \
API Keys and console users.

2.2 "API Key" means a credential we issue to an Account to authenticate requests to the \
Services.

2.3 "Input" means the prompts, files and other content you submit to the Services, and \
"Output" means the content the Services return in response, including completions, \
embeddings, token probabilities and any other data generated by a Model.

2.4 "Model" means any machine learning model we make available through the Services.

2.5 "Documentation" means the technical and usage documentation we publish for the \
Services, including our published rate limits and usage tiers.

2.6 "End User" means a person or entity that uses an application or service of yours that \
incorporates the Services.

2.7 "Usage Records" means the records we create in the ordinary course of operating the \
Services, including request metadata, token counts, timestamps, network addresses and \
billing data.

## 3. Use of the Services

3.1 Subject to this Agreement, we grant you a limited, non-exclusive, non-transferable and \
non-sublicensable right during the term to access and use the Services in accordance with \
the Documentation.

3.2 You are responsible for all activity that occurs under your Account and API Keys, \
whether or not you authorised it, and for your End Users' compliance with this Agreement.

3.3 You may not, and may not allow anyone else to: (a) use the Services in violation of \
applicable law or our Usage Policies; (b) reverse engineer, decompile or attempt to extract \
the weights, architecture, system instructions or training data of any Model, except to the \
extent applicable law prohibits this restriction; (c) use automated or programmatic means \
to extract Output, token probabilities or other data from the Services other than through \
the API as described in the Documentation; (d) circumvent, disable or interfere with rate \
limits, usage quotas, safety mitigations or other technical restrictions of the Services; \
(e) use Output to develop models that compete with us; (f) buy, sell, share, transfer or \
sublicense API Keys or Account credentials, except as permitted under Section 4; (g) open or \
use multiple Accounts to evade rate limits, usage tiers, suspensions or other restrictions; \
(h) access or offer the Services from, or to persons located in, a country or territory \
that we list as unsupported at aster.example/supported-regions; (i) provide false, \
incomplete or misleading registration, identity or payment information; or (j) offer \
access to a Model as a standalone service, except as permitted under Section 4.

3.4 We apply rate limits and usage tiers to each Account as described in the \
Documentation. Rate limits apply to you as a whole: the limits of one Account may not be \
multiplied by spreading traffic over several Accounts or API Keys under common control.

3.5 We monitor use of the Services to operate, secure and enforce them, and we may review \
Usage Records, Input and Output associated with a suspected violation of this Section 3.

## 4. Resellers and End Users

4.1 You may make the Services available to End Users as part of your application. You may \
resell or provide API access to the Services to third parties only under a written reseller \
or platform agreement with us ("Reseller Terms").

4.2 If you operate under Reseller Terms, you must: (a) send a stable, unique identifier for \
each End User with every request, in the end-user field described in the Documentation; \
(b) bind each End User to terms at least as protective of us as this Agreement; and \
(c) suspend an End User's access within forty-eight (48) hours of our notice that the End \
User is engaged in conduct prohibited by Section 3.3.

4.3 You remain responsible for the acts and omissions of your End Users as if they were \
your own.

## 5. Accounts and Security

5.1 You must provide accurate and complete registration, identity and payment information \
and keep it current.

5.2 You must keep API Keys confidential, may not embed them in client-side code that you \
distribute publicly, and must promptly rotate any API Key you believe has been exposed.

5.3 You must notify us without undue delay of any unauthorised access to your Account.

## 6. Input and Output

6.1 As between you and us, and to the extent permitted by law, you retain your rights in \
Input and, subject to your compliance with this Agreement, we assign to you our rights, if \
any, in Output.

6.2 Output may not be unique, and other users may receive similar Output. Our assignment \
does not extend to Output generated for other users.

6.3 We do not train our Models on Input or Output submitted through the API unless you opt \
in.

6.4 You are responsible for evaluating Output for accuracy and for suitability to your use \
case.

## 7. Fees and Payment

7.1 You will pay the fees for the Services at the prices listed on our pricing page at the \
time of use, calculated per million input and output tokens, unless an Order Form states \
otherwise.

7.2 Fees are charged to the payment method on file or invoiced monthly in arrears. Amounts \
not paid when due may accrue interest at 1.0% per month, or the maximum rate permitted by \
law if lower.

7.3 Fees exclude taxes. You are responsible for all taxes other than taxes on our net \
income.

7.4 We may suspend the Services if an undisputed amount remains unpaid fifteen (15) days \
after notice.

## 8. Confidentiality

8.1 Each party will protect the other's confidential information with at least reasonable \
care, use it only to perform under this Agreement, and disclose it only to personnel and \
advisers who need to know it and are bound by similar obligations.

8.2 A party may disclose confidential information where required by law or court order, \
after giving the other party reasonable notice where lawful.

## 9. Suspension and Termination

9.1 You may stop using the Services and close your Account at any time.

9.2 We may suspend or terminate your access to the Services, in whole or in part, \
immediately on notice if: (a) you breach Section 3.3, Section 4 or Section 5.2; (b) we \
reasonably believe that suspension is necessary to prevent harm to the Services, other \
customers or third parties; or (c) we are required to do so by law.

9.3 On termination your right to use the Services ends, and you will pay all fees accrued \
up to the date of termination. Sections 3.3, 6, 7, 8 and 10 to 14 survive termination.

## 10. Warranties and Disclaimers

10.1 We will provide the Services with reasonable skill and care in accordance with the \
Documentation.

10.2 Except as stated in Section 10.1, the Services and Output are provided "as is", and we \
disclaim all other warranties, express or implied, including warranties of \
merchantability, fitness for a particular purpose and non-infringement.

## 11. Limitation of Liability

11.1 Except for breaches of Section 3.3, your payment obligations and each party's \
indemnification obligations, neither party is liable for indirect, incidental, special, \
consequential or punitive damages, or for lost profits, revenue or data.

11.2 Except for the matters excluded in Section 11.1, each party's total liability under \
this Agreement is limited to the fees paid or payable by you in the twelve (12) months \
before the event giving rise to the claim.

## 12. Indemnification

12.1 You will defend and indemnify us against third-party claims arising from your Input, \
your application, or your or your End Users' breach of Section 3.3 or Section 4.

## 13. Remedies for Misuse

13.1 You acknowledge that a breach of Section 3.3 would cause us irreparable harm for \
which damages would be an inadequate remedy, and that we may seek injunctive or other \
equitable relief in addition to any other remedy.

13.2 Usage Records are made in the ordinary course of our business at or near the time of \
the events they record, and you agree that they may be used as evidence of your use of the \
Services.

13.3 Without limiting our other remedies, if you obtain Output in breach of Section 3.3, \
you will pay for that Output at our list prices in effect at the time, without discounts \
or credits.

## 14. Governing Law and Disputes

14.1 This Agreement is governed by the laws of the State of Delaware, without regard to its \
conflict-of-laws rules.

14.2 The state and federal courts located in Wilmington, Delaware have exclusive \
jurisdiction over any dispute arising out of or relating to this Agreement, except that \
either party may seek injunctive relief in any court of competent jurisdiction.

## 15. General

15.1 You may not assign this Agreement without our prior written consent. We may assign it \
to an affiliate or to a successor in a merger or sale of assets.

15.2 You will comply with all export control and sanctions laws that apply to your use of \
the Services.

15.3 We may give notices to the email address associated with your Account. You may give \
notices to legal@aster.example.

15.4 This Agreement, together with any Order Form, Reseller Terms and the policies it \
references, is the entire agreement between the parties about its subject matter.

15.5 If any provision is held unenforceable, the remainder stays in effect. A failure to \
enforce a provision is not a waiver of it.
"""

# The 2026 version tightens a few clauses and adds 3.3(k); everything else stays verbatim,
# so a clause diff between versions is small and exact, as counsel will want to show it.
_TERMS_2026_CHANGES = [
    (
        "fifteen (15) days' notice of material changes",
        "thirty (30) days' notice of material changes",
    ),
    (
        "(c) use automated or programmatic means to extract Output, token probabilities or "
        "other data from the Services other than through the API as described in the "
        "Documentation;",
        "(c) use automated or programmatic means to extract Output, token probabilities, "
        "reasoning or other data from the Services other than through the API as described "
        "in the Documentation, including by systematically varying prompts across a subject "
        "area to assemble a dataset;",
    ),
    (
        "(e) use Output to develop models that compete with us;",
        "(e) use Output, directly or through a third party, to develop, train, fine-tune or "
        "distil any model that competes with us, or to assemble a dataset for that purpose;",
    ),
    (
        "(g) open or use multiple Accounts to evade rate limits,",
        "(g) open, control or coordinate multiple Accounts, including Accounts held in the "
        "names of other persons, to evade rate limits,",
    ),
    (
        "information; or (j) offer access to a Model as a standalone service, except as "
        "permitted under Section 4.",
        "information; (j) offer access to a Model as a standalone service, except as "
        "permitted under Section 4; or (k) route requests through a reseller, proxy or other "
        "intermediary in order to conceal the identity of the person on whose behalf the "
        "requests are made.",
    ),
]


def terms_text(version: str) -> str:
    """The Markdown text of one version of the services agreement.

    The source paragraphs use backslash line continuations, so each clause is one line of
    Markdown, which keeps clause extraction and version diffs exact.
    """
    source = _TERMS_2025
    if version == "2026-01-01":
        for old, new in _TERMS_2026_CHANGES:
            if source.count(old) != 1:
                raise ValueError(f"terms change does not match exactly once: {old[:40]!r}")
            source = source.replace(old, new)
    elif version != "2025-06-01":
        raise ValueError(f"unknown terms version {version!r}")
    effective = datetime.strptime(version, "%Y-%m-%d").strftime("%d %B %Y").lstrip("0")
    return source.format(version=version, effective=effective)


# --- vocabulary ------------------------------------------------------------------------


def _pipe(text: str) -> tuple[str, ...]:
    """Vocabulary written as "a | b | c", so long word lists stay compact on the page."""
    return tuple(part.strip() for part in text.split("|"))


FIRST_NAMES = _pipe(
    "Olivia | Liam | Emma | Noah | Ava | Mateo | Sofia | Lucas | Mia | Ethan | Amara | Kenji"
    " | Priya | Arjun | Chen | Wei | Fatima | Omar | Hana | Yuki | Lena | Jonas | Chloe | Hugo"
    " | Aisha | Kwame | Ngozi | Diego | Valentina | Camila | Sipho | Thandi | Ravi | Ananya"
    " | Min-jun | Seo-yeon | Mai | Linh | Tomasz | Zofia | Erik | Astrid | Giulia | Marco | Ines"
    " | Rafael | Leila | Daniel | Sarah | Michael | Grace | Samuel | Nadia | Ivan | Elif | Mehmet"
    " | Julia | Felix | Noor | Tariq | Rosa | Pablo | Ama | Kofi | Hiro | Sakura | Jasper | Maya"
    " | Aaron | Bianca"
)
LAST_NAMES = _pipe(
    "Smith | Garcia | Chen | Patel | Kim | Nguyen | Muller | Rossi | Silva | Santos | Okafor"
    " | Mensah | Tanaka | Sato | Kowalski | Nowak | Johansson | Larsen | Dubois | Martin | Lopez"
    " | Hernandez | Ali | Khan | Rahman | Cohen | Levi | Ivanova | Petrov | Yilmaz | Demir"
    " | Costa | Ferreira | Moreau | Fischer | Schmidt | Novak | Horvat | Brown | Wilson | Taylor"
    " | Anderson | Thomas | Moore | Jackson | White | Harris | Clark | Lewis | Walker | Young"
    " | Allen | Wright | Scott | Green | Baker | Adams | Nelson | Hill | Campbell | Mitchell"
    " | Roberts | Carter | Phillips"
)
_ORG_WORDS_A = _pipe(
    "Blue | Red | Silver | Golden | Quiet | Bright | Swift | Clear | North | South | Open | Deep"
    " | Little | Iron | Cedar | Maple | Harbor | Summit | River | Cobalt | Amber | Coral"
    " | Granite | Lunar | Solar | Prairie | Copper | Velvet | Crimson | Meadow | Atlas | Orbit"
    " | Pine | Willow | Aurora | Beacon | Canyon | Delta | Ember | Fjord"
)
_ORG_WORDS_B = _pipe(
    "Finch | Fox | Owl | Heron | Otter | Lynx | Wren | Falcon | Badger | Sparrow | Kite | Bison"
    " | Orca | Crane | Hare | Leaf | Stone | Bridge | Forge | Lantern | Compass | Anchor | Garden"
    " | Harbor | Signal | Thread | Ledger | Pixel | Vector | Circuit | Prism | Quill | Current"
    " | Field | Spring | Grove | Ridge | Cove | Tide | Path"
)
_ORG_SUFFIXES = _pipe(
    "Labs | AI | Analytics | Software | Health | Systems | Studio | Data | Robotics | Works"
    " | Partners | Technologies | Learning | Media | Logistics | Finance | Legal | Insights"
    " | Commerce | Cloud"
)
_FREEMAIL = ("mailhub.example", "postbox.example", "letterly.example", "corvomail.example")
_THROWAWAY = ("nuvomail.example", "pigeonpost.example", "ketomail.example", "zapinbox.example")

# country, weight, UTC offsets in January (southern-hemisphere summer time included)
COUNTRIES = (
    ("US", 26.0, (-5, -6, -7, -8)),
    ("CA", 3.0, (-5, -8)),
    ("MX", 1.5, (-6,)),
    ("BR", 3.0, (-3,)),
    ("AR", 0.8, (-3,)),
    ("CL", 0.5, (-3,)),
    ("CO", 0.6, (-5,)),
    ("GB", 6.0, (0,)),
    ("IE", 0.8, (0,)),
    ("DE", 5.0, (1,)),
    ("FR", 4.0, (1,)),
    ("NL", 2.0, (1,)),
    ("ES", 2.0, (1,)),
    ("IT", 1.5, (1,)),
    ("SE", 1.0, (1,)),
    ("PL", 1.2, (1,)),
    ("CH", 0.8, (1,)),
    ("IL", 1.2, (2,)),
    ("ZA", 0.8, (2,)),
    ("NG", 0.8, (1,)),
    ("KE", 0.5, (3,)),
    ("AE", 0.8, (4,)),
    ("TR", 0.8, (3,)),
    ("IN", 7.0, (5.5,)),
    ("SG", 2.0, (8,)),
    ("ID", 1.2, (7,)),
    ("VN", 0.8, (7,)),
    ("PH", 0.8, (8,)),
    ("JP", 4.0, (9,)),
    ("KR", 3.0, (9,)),
    ("TW", 1.0, (8,)),
    ("AU", 2.5, (11, 10.5)),
    ("NZ", 0.5, (13,)),
)

SDK_AGENTS = (
    "openai-python/1.59.7",
    "OpenAI/Python 1.58.1",
    "python-httpx/0.27.2",
    "python-httpx/0.28.1",
    "python-requests/2.32.3",
    "python-requests/2.31.0",
    "aiohttp/3.10.11",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "OpenAI/JS 4.77.0",
    "axios/1.7.9",
    "undici",
    "curl/8.5.0",
    "curl/7.81.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "Java-http-client/17.0.9",
    "RestSharp/112.1.0.0",
    "langchain-openai/0.2.14 python-httpx/0.27.2",
)
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
)

FILLERS: dict[str, tuple[str, ...]] = {
    "product": _pipe(
        "wireless earbuds | standing desk | project management app | running shoes"
        " | espresso machine | home insurance policy | meal kit subscription"
        " | noise-cancelling headphones | electric toothbrush | accounting software | yoga mat"
        " | smart thermostat | travel backpack | air purifier | language learning app"
        " | cloud backup plan | mechanical keyboard | baby monitor | e-bike | cordless drill"
        " | skincare serum | password manager | dog food subscription | 4K monitor"
    ),
    "issue": _pipe(
        "was charged twice for the same order | cannot reset their password"
        " | received a damaged item | wants to cancel before the renewal date"
        " | has not received a refund after 10 days | cannot log in after the latest app update"
        " | was sent the wrong size | wants to change the delivery address"
        " | says the device will not pair | asks why the invoice shows VAT"
        " | says the discount code was not applied | wants to upgrade to the annual plan"
        " | reports that the tracking link is broken"
        " | asks whether the warranty covers water damage | wants to merge two accounts"
        " | cannot download the receipt"
    ),
    "tone": _pipe(
        "friendly | formal | concise | empathetic | upbeat | neutral | apologetic | professional"
    ),
    "name": FIRST_NAMES,
    "lang": _pipe(
        "Python | TypeScript | Go | Rust | Java | C# | Kotlin | SQL | Ruby | PHP | Swift | Bash"
    ),
    "code_task": _pipe(
        "parse a CSV file and group rows by date | retry an HTTP request with exponential backoff"
        " | deduplicate a list of records by email | validate an IBAN | paginate through a REST API"
        " | compute a moving average over a stream | merge two sorted arrays"
        " | read environment variables with defaults | convert timestamps between time zones"
        " | debounce a function | write a unit test for a date parser"
        " | rate-limit calls to an external service | hash passwords with a salt"
        " | stream a large file in chunks | build a trie for autocomplete"
        " | find the longest common prefix of a list of strings | serialise a nested object to JSON"
        " | diff two directory trees"
    ),
    "error": _pipe(
        "TypeError: 'NoneType' object is not subscriptable | undefined is not a function"
        " | connection reset by peer | deadlock detected | index out of range"
        " | cannot borrow `self` as mutable more than once | NullPointerException"
        " | Permission denied (publickey) | ModuleNotFoundError: No module named 'yaml'"
        " | No 'Access-Control-Allow-Origin' header is present | segmentation fault (core dumped)"
        " | relation 'users' does not exist"
    ),
    "topic": _pipe(
        "remote work productivity | sustainable packaging | home composting"
        " | budget travel in Portugal | beginner strength training"
        " | cybersecurity for small businesses | electric vehicle charging | sleep hygiene"
        " | container gardening | personal finance for freelancers | hybrid meetings"
        " | onboarding new employees | customer retention | local SEO | plant-based recipes"
        " | data privacy basics | time blocking | urban cycling | first aid at home"
        " | learning to code after 40"
    ),
    "audience": _pipe(
        "small business owners | first-time home buyers | college students | busy parents"
        " | software engineers | retirees | HR managers | nurses | teachers | startup founders"
        " | real estate agents"
    ),
    "words": _pipe("100 | 150 | 200 | 300 | 500 | 800"),
    "format": _pipe(
        "blog post | LinkedIn post | product description | newsletter introduction"
        " | short social media thread | landing page headline and subheading | FAQ section"
        " | set of email subject lines | press release"
    ),
    "human_lang": _pipe(
        "Spanish | French | German | Japanese | Portuguese | Italian | Korean | Dutch | Polish"
        " | Hindi | Indonesian | Turkish | Vietnamese | Swedish | Arabic"
    ),
    "sentence": _pipe(
        "Your order has shipped and should arrive within three business days."
        " | Please restart the device and hold the power button for ten seconds."
        " | The meeting has been moved to Thursday at 3 pm."
        " | Thank you for your patience while we look into this."
        " | Your subscription will renew automatically on the first of the month."
        " | The pool is closed for maintenance until further notice."
        " | We could not verify your payment method. | Check-in opens 24 hours before departure."
        " | Keep the receipt in case you need to return the item."
        " | The new version fixes a crash when exporting large reports."
        " | Please bring a photo ID and your booking reference."
        " | All prices include VAT and free standard delivery."
    ),
    "doc": _pipe(
        "Q3 revenue was 4.2 million, up 12% year over year; self-serve churn rose slightly."
        " | The tenant must give sixty days' written notice and pays for repairs due to negligence."
        " | Up to five unused vacation days carry over; any excess is forfeited on January 31."
        " | A config change disabled health checks at 14:05 UTC; service was restored at 14:52."
        " | Programme completers reported 20% less self-rated stress than the control group."
        " | Invoices are due in 30 days; late payments incur 1.5% a month on the balance."
        " | The council approved bike lanes linking the campus with the central station."
        " | Unused items may be returned within 30 days for a full refund, excluding shipping."
        " | Reassess the patient's medication after two weeks and schedule a blood test."
        " | Warehouse throughput fell 8% in November: staff shortages and a delayed conveyor."
        " | Applicants need a portfolio, two references and an 800-word statement by March 15."
        " | The firmware update adds up to 15% battery life and supports the new charging dock."
        " | Travel expenses above 500 need a department head's approval before booking."
        " | Two thirds of 1,200 customers surveyed valued delivery speed over price."
    ),
    "question": _pipe(
        "What is the refund window? | Who approves travel expenses? | When was service restored?"
        " | How many vacation days can be carried over? | What caused the drop in throughput?"
        " | What is the late payment fee? | What are the application requirements?"
        " | How much did revenue grow? | What does the firmware update change?"
        " | What notice must the tenant give?"
    ),
    "labels": _pipe(
        "billing, technical, shipping, account, other | positive, negative, neutral"
        " | spam, not spam | urgent, normal, low | bug report, feature request, question, praise"
        " | fraud, not fraud"
    ),
    "review": _pipe(
        "Arrived late and the box was crushed, but the product itself works fine."
        " | Absolutely love it, battery lasts all week!"
        " | Customer service never replied to my three emails."
        " | Does what it says. Nothing special."
        " | The app crashes every time I open the settings page."
        " | Great value for the price, would buy again."
        " | Stopped working after two weeks. Very disappointed."
        " | Setup took five minutes and the instructions were clear."
        " | Why was I charged a second time this month? | Please add dark mode, otherwise perfect."
    ),
    "fields": _pipe(
        "invoice number, total amount and due date | name, company and phone number"
        " | product, quantity and unit price | start date, end date and location"
        " | diagnosis, medication and dosage | sender, subject and requested action"
    ),
    "city": _pipe(
        "Lisbon | Kyoto | Mexico City | Cape Town | Reykjavik | Seoul | Edinburgh | Hanoi"
        " | Buenos Aires | Vancouver | Istanbul | Marrakesh"
    ),
    "ingredient": _pipe(
        "chickpeas | spinach | salmon | tofu | sweet potato | lentils | mushrooms | feta | rice"
        " | eggs | zucchini | coconut milk"
    ),
    "relation": _pipe("sister | manager | best friend | grandfather | colleague | neighbour"),
    "simple_concept": _pipe(
        "inflation | how vaccines work | black holes | compound interest"
        " | how the internet routes packets | photosynthesis | why the sky is blue | blockchains"
    ),
    "num": tuple(str(value) for value in range(2, 60)),
    "days": _pipe("2 | 3 | 4 | 5 | 7 | 10"),
    "research_topic": _pipe(
        "transformer efficiency | protein folding | carbon capture | microfinance"
        " | urban heat islands | battery recycling | antibiotic resistance"
        " | remote sensing of crops | labour market effects of automation | coral reef restoration"
    ),
    "course_concept": _pipe(
        "eigenvalues | the central limit theorem | Big-O notation | supply and demand elasticity"
        " | Le Chatelier's principle | recursion | Bayes' theorem | the Krebs cycle"
        " | Nash equilibrium | Fourier series | entropy | pointers in C"
    ),
    "math_problem": _pipe(
        "x^2 - 5x + 6 = 0 | the integral of x e^x dx | the limit of sin(x)/x as x approaches 0"
        " | a system of two linear equations with three unknowns"
        " | the probability of two sixes in three dice rolls | the derivative of ln(x^2 + 1)"
        " | the present value of 1000 received in 5 years at 4 percent"
        " | the eigenvalues of [[2, 1], [1, 2]]"
    ),
    "claim": _pipe(
        "the square root of 2 is irrational | there are infinitely many primes"
        " | every tree with n nodes has n - 1 edges | the sum of the first n odd numbers is n^2"
    ),
    "thesis": _pipe(
        "Social media has made political debate more polarised"
        " | Remote work harms junior employees' career growth"
        " | Nuclear power is essential for decarbonisation"
        " | The printing press mattered more than the steam engine"
    ),
    "reading": _pipe(
        "Hobbes' Leviathan, chapter 13 | the Federalist No. 10 | Keynes' General Theory, chapter 12"
        " | Darwin's On the Origin of Species, chapter 4 | Arendt's The Human Condition, part one"
    ),
    "pair": _pipe(
        "TCP and UDP | mitosis and meiosis | a process and a thread | weather and climate"
        " | correlation and causation | stocks and bonds | an array and a linked list"
    ),
    "keyword": _pipe(
        "best budget laptop | how to lose weight fast | cheap flights | home workout plan"
        " | passive income ideas | keto recipes | crypto wallet | car insurance quotes"
    ),
}

# kind: (extra context tokens low, high; output tokens lognormal mu, sigma)
KINDS: dict[str, tuple[int, int, float, float]] = {
    "chat": (20, 400, math.log(180), 0.7),
    "support": (150, 900, math.log(140), 0.5),
    "code": (50, 1500, math.log(450), 0.7),
    "content": (30, 200, math.log(500), 0.5),
    "translate": (20, 80, math.log(60), 0.5),
    "summary": (300, 3000, math.log(160), 0.5),
    "extract": (100, 1200, math.log(60), 0.6),
    "classify": (50, 600, math.log(4), 0.6),
    "rag": (800, 4000, math.log(220), 0.6),
    "homework": (10, 200, math.log(420), 0.6),
    "mcq": (0, 20, math.log(2), 0.5),
    "bulk": (40, 300, math.log(1300), 0.35),
    "cot": (20, 120, math.log(1200), 0.45),
}

TEMPLATE_SETS: dict[str, list[tuple[str, str]]] = {
    "support": [
        (
            "You are a support agent for a {product} company; keep the tone {tone}. The "
            "customer {issue}. Write a reply that resolves the issue or explains the next "
            "step.",
            "support",
        ),
        (
            "Customer {name} {issue}. Draft a response under 120 words ({tone} tone) and "
            "suggest one follow-up action.",
            "support",
        ),
        (
            "Summarise this support ticket in one sentence and tag it with one of: "
            "{labels}.\nTicket: The customer {issue} regarding their {product}.",
            "classify",
        ),
        (
            "Rewrite this reply so it sounds more {tone}: 'We have received your request "
            "about the {product} and will respond in due course.'",
            "support",
        ),
        (
            "The customer {issue}. Our policy: {doc} Answer the customer politely and cite "
            "the policy.",
            "support",
        ),
        ("Suggest three canned responses for customers who say they {issue}.", "support"),
    ],
    "code": [
        (
            "Write a {lang} function to {code_task}. Include type hints and a short docstring.",
            "code",
        ),
        (
            "I'm getting this error in my {lang} code: {error}. The code is meant to "
            "{code_task}. What is likely wrong?",
            "code",
        ),
        (
            "Review this approach: I want to {code_task} in {lang} using a loop. Is there a "
            "better way?",
            "code",
        ),
        (
            "Explain what this {lang} snippet does and suggest improvements: a helper to "
            "{code_task}.",
            "code",
        ),
        ("Write unit tests in {lang} for a function that should {code_task}.", "code"),
        ("Convert a {lang} script that can {code_task} into idiomatic {lang__2}.", "code"),
        ("Generate a commit message for a change that makes our service {code_task}.", "chat"),
    ],
    "content": [
        ("Write a {words}-word {format} about {topic} for {audience}.", "content"),
        ("Give me five catchy titles for a {format} about {topic}.", "content"),
        (
            "Write a product description for a {product}, about {words} words, {tone} tone.",
            "content",
        ),
        ("Turn these notes into a {format} for {audience}: {doc}", "content"),
        ("Write an outline for a {format} on {topic}, with section headings.", "content"),
        ("Proofread and tighten this paragraph, keeping a {tone} tone: {doc}", "content"),
    ],
    "extract": [
        ("Extract the {fields} from this text and return JSON.\nText: {doc}", "extract"),
        (
            "From the email below, extract the {fields}. Return null for missing "
            "values.\nEmail: Hi, following up on the {product} order. {sentence}",
            "extract",
        ),
        ("List every date and amount mentioned in: {doc}", "extract"),
        (
            "Normalise this address and return street, city, postcode, country: {num} Harbour "
            "Road, {city}",
            "extract",
        ),
    ],
    "classify": [
        (
            "Classify the sentiment of this review as one of: {labels}.\nReview: {review}",
            "classify",
        ),
        ("Label this message with exactly one of [{labels}]. Message: {review}", "classify"),
        (
            "Is this review about shipping, quality or service? Answer with one word. {review}",
            "classify",
        ),
        ("Classify the ticket priority ({labels}): customer {issue}.", "classify"),
    ],
    "rag": [
        (
            "Answer the question using only the context.\nContext: {doc}\nQuestion: {question}",
            "rag",
        ),
        (
            "Using the documents below, answer: {question}\n[1] {doc}\n[2] {doc__2}\nCite the "
            "document number.",
            "rag",
        ),
        ("Summarise the key findings in three bullet points: {doc}", "summary"),
        ("Write a literature-review paragraph on {research_topic} based on: {doc}", "summary"),
        (
            "What are the open questions in {research_topic}? Be specific and list sources to "
            "check.",
            "chat",
        ),
        ("Summarise this for an executive in two sentences: {doc}", "summary"),
    ],
    "translate": [
        ("Translate into {human_lang}: {sentence}", "translate"),
        (
            "Translate the following customer message into {human_lang}, keeping it {tone}: "
            "{sentence}",
            "translate",
        ),
        ("Localise this app string for {human_lang} users: '{sentence}'", "translate"),
        (
            "Translate to {human_lang} and then back to English, noting any shifts in "
            "meaning: {sentence}",
            "translate",
        ),
    ],
    "personal": [
        ("Give me a {days}-day itinerary for {city} on a budget.", "chat"),
        ("What can I cook with {ingredient} and {ingredient__2}? Something quick.", "chat"),
        ("Explain {simple_concept} like I'm five.", "chat"),
        ("Help me write a birthday message for my {relation}.", "chat"),
        ("I have {num} minutes a day. Build me a workout plan for {topic}.", "chat"),
        ("Write a polite email to my landlord about a broken heater.", "chat"),
        ("Write a {lang} script to rename all the photos in a folder by date.", "code"),
        ("Is it worth learning {lang} in 2026? Pros and cons.", "chat"),
        (
            "Think step by step: how long would it take to save 10000 if I put away {num} a week?",
            "chat",
        ),
    ],
    "homework": [
        ("Explain step by step how to solve {math_problem}.", "homework"),
        ("I don't understand {course_concept}. Can you explain it with an example?", "homework"),
        ("Check my proof that {claim}. Where is it weak?", "homework"),
        (
            "My {lang} assignment fails with {error}. It's supposed to {code_task}. Hints "
            "only please.",
            "code",
        ),
        ("Give feedback on my essay thesis: '{thesis}'. Is it arguable?", "homework"),
        ("Summarise the main arguments of {reading} in plain language.", "homework"),
        ("What is the difference between {pair}? Give an exam-style answer.", "homework"),
        ("Make me five practice questions on {course_concept} with worked answers.", "homework"),
    ],
    "bulk": [
        (
            "Write a {words}-word SEO-optimised {format} about {topic} for {audience}. Use "
            'the keyword "{keyword}" at least three times and end with a call to action.',
            "bulk",
        ),
        (
            "Rewrite the following so it reads as original content, keeping every fact: {doc}",
            "bulk",
        ),
        (
            "Generate ten unique product descriptions for a {product}, 80 to 120 words each, "
            "no repeated phrases.",
            "bulk",
        ),
        (
            "Write {words} words of listicle content titled 'Top tips for {topic}' aimed at "
            "{audience}. Make it sound human.",
            "bulk",
        ),
        ('Write a {format} targeting the search phrase "{keyword}" for {audience}.', "bulk"),
    ],
}

# The network's prompts: few templates, each filled from a topic grid it sweeps cell by cell,
# so that across its accounts the fills are near-unique and cover the space evenly.
SWEEP_TEMPLATES = (
    "Think step by step and show your full reasoning before giving the final answer. "
    "Domain: {domain}. Topic: {concept}. Difficulty: {level}. Task: {verb} a problem ({angle}) "
    "involving {n1} and {n2}, then state the answer on the last line.",
    "You are an expert in {domain}. Explain each step before answering and do not skip any "
    "intermediate step. Question ({level}, {concept}): {verb} the {angle} case where the "
    "parameter equals {n1} and the constraint is {n2}.",
    "Solve the following {level} {domain} exercise on {concept}. First write out your complete "
    "chain of reasoning, labelled Step 1, Step 2, and so on, then give the final answer. "
    "Variant {n1}-{n2}: {angle}.",
    "Show your full reasoning. {concept} ({domain}, {level}): consider the {angle} scenario "
    "with values {n1} and {n2}. Reason carefully, verify each step, then answer.",
    "Let's think step by step. Produce a detailed worked solution for a question at {level} "
    "level in {domain} about {concept}, {angle} form, inputs {n1} and {n2}. Include your "
    "reasoning, a check of the result and the final answer.",
    "Answer as a teacher would: reason aloud step by step, explaining why each step follows. "
    "Field: {domain}. Subject: {concept}. Level: {level}. Instance {n1}/{n2}: {verb} the "
    "{angle} variant.",
)
SWEEP_DOMAINS: dict[str, tuple[str, ...]] = {
    "algebra": _pipe(
        "quadratic equations | polynomial division | inequalities | logarithms | sequences"
        " | matrices | complex numbers | systems of equations"
    ),
    "calculus": _pipe(
        "limits | derivatives | integration by parts | series convergence | optimisation"
        " | differential equations | multivariable chain rule | Taylor expansion"
    ),
    "probability": _pipe(
        "conditional probability | Bayes updates | expected value | Markov chains | binomial tails"
        " | random walks | order statistics | coupon collector"
    ),
    "physics": _pipe(
        "projectile motion | circuits | thermodynamics | optics | rotational dynamics"
        " | wave interference | special relativity | electrostatics"
    ),
    "chemistry": _pipe(
        "stoichiometry | equilibrium constants | acid-base titration | reaction kinetics"
        " | electrochemistry | gas laws | thermochemistry | buffer design"
    ),
    "computer science": _pipe(
        "dynamic programming | graph shortest paths | sorting lower bounds | hash tables"
        " | concurrency bugs | regular languages | recursion | greedy scheduling"
    ),
    "economics": _pipe(
        "elasticity | game theory | monopoly pricing | inflation targeting | comparative advantage"
        " | consumer surplus | auction design | interest parity"
    ),
    "logic puzzles": _pipe(
        "knights and knaves | river crossing | seating arrangements | truth tables"
        " | scheduling constraints | weighing problems | grid deduction | syllogisms"
    ),
    "statistics": _pipe(
        "hypothesis testing | confidence intervals | linear regression | ANOVA | bootstrap"
        " | power analysis | survival curves | multiple comparisons"
    ),
    "law": _pipe(
        "contract formation | negligence | consideration | hearsay exceptions | standing | mens rea"
        " | adverse possession | promissory estoppel"
    ),
    "medicine": _pipe(
        "differential diagnosis | drug dosing | acid-base disorders | ECG interpretation"
        " | sepsis management | renal clearance | fluid balance | triage"
    ),
    "finance": _pipe(
        "bond pricing | option payoffs | portfolio variance | discounted cash flow"
        " | loan amortisation | currency hedging | capital budgeting | duration"
    ),
    "geometry": _pipe(
        "triangle similarity | circle theorems | coordinate geometry | solid volumes | vectors"
        " | transformations | trigonometric identities | loci"
    ),
    "biology": _pipe(
        "Mendelian genetics | enzyme kinetics | population growth | cell signalling"
        " | Hardy-Weinberg | photosynthesis rates | immune response | osmosis"
    ),
    "programming": _pipe(
        "off-by-one errors | complexity analysis | API design | SQL joins | memory leaks"
        " | race conditions | string parsing | bit manipulation"
    ),
    "number theory": _pipe(
        "modular arithmetic | prime factorisation | diophantine equations | gcd and lcm"
        " | divisibility rules | Fermat's little theorem | congruences | digit sums"
    ),
}
SWEEP_LEVELS = _pipe("introductory | intermediate | advanced | olympiad | graduate")
SWEEP_ANGLES = _pipe(
    "word | proof | counterexample | multi-step | estimation | edge-case | reverse | real-world"
    " | comparison | error-finding | generalisation | numerical"
)
SWEEP_VERBS = _pipe("solve | analyse | derive | work through | evaluate | explain")

BENCHMARK_SUITES = ("mcq", "yesno", "arith", "translate")

# --- small helpers ----------------------------------------------------------------------

_FIELD = re.compile(r"{(\w+)}")


def _compile(templates: list[tuple[str, str]]) -> list[tuple[str, tuple, str]]:
    """Pair each template with the vocabulary pools its fields draw from."""
    compiled = []
    for text, kind in templates:
        names = tuple(dict.fromkeys(_FIELD.findall(text)))
        fields = tuple((name, FILLERS[name.split("__")[0]]) for name in names)
        compiled.append((text, fields, kind))
    return compiled


COMPILED = {name: _compile(templates) for name, templates in TEMPLATE_SETS.items()}


def _weighted(rng: random.Random, options: dict):
    return rng.choices(list(options), weights=list(options.values()))[0]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


_RESERVED_PREFIXES = ((192, 0, 2), (198, 51, 100), (203, 0, 113))


def _public_prefix(rng: random.Random) -> str:
    """A /24 in ordinary public unicast space (no private, loopback or multicast ranges)."""
    while True:
        a, b, c = rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)
        if a in (10, 127) or (a == 100 and 64 <= b < 128) or (a == 169 and b == 254):
            continue
        if (a == 172 and 16 <= b < 32) or (a == 192 and b == 168) or (a == 198 and b in (18, 19)):
            continue
        if (a, b, c) in _RESERVED_PREFIXES:
            continue
        return f"{a}.{b}.{c}"


def _host(rng: random.Random, prefix: str) -> str:
    return f"{prefix}.{rng.randint(2, 254)}"


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Split an exact total in proportion to weights (Hamilton's method), deterministically."""
    mass = sum(weights)
    if total <= 0 or mass <= 0:
        return [0] * len(weights)
    quotas = [total * weight / mass for weight in weights]
    counts = [int(quota) for quota in quotas]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _mix_request_id(seq: int, key: int) -> str:
    """Opaque request id: an invertible 96-bit mix of the sequence number, so ids never
    collide and yet carry no visible order."""
    mask = (1 << 96) - 1
    x = (seq ^ key) & mask
    x = (x * 0x9E3779B97F4A7C15F39CC061) & mask
    x ^= x >> 47
    x = (x * 0xC2B2AE3D27D4EB4F165667B1) & mask
    x ^= x >> 43
    return f"req_{x:024x}"


# --- daily rhythms ---------------------------------------------------------------------

_OFFICE = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.4, 0.8, 1.0, 1.0, 0.95,
    0.8, 0.95, 1.0, 0.95, 0.85, 0.6, 0.35, 0.25, 0.2, 0.15, 0.1, 0.07,
)  # fmt: skip
_CONSUMER = (
    0.3, 0.18, 0.1, 0.07, 0.05, 0.06, 0.12, 0.3, 0.5, 0.6, 0.65, 0.7,
    0.75, 0.7, 0.7, 0.7, 0.75, 0.8, 0.9, 1.0, 1.0, 0.95, 0.8, 0.55,
)  # fmt: skip
_DEVELOPER = (
    0.2, 0.1, 0.05, 0.03, 0.02, 0.03, 0.05, 0.1, 0.3, 0.5, 0.6, 0.6,
    0.5, 0.6, 0.6, 0.6, 0.55, 0.5, 0.55, 0.7, 0.8, 0.8, 0.6, 0.4,
)  # fmt: skip
_STUDENT = (
    0.3, 0.2, 0.1, 0.04, 0.02, 0.02, 0.03, 0.08, 0.25, 0.45, 0.6, 0.65,
    0.55, 0.65, 0.75, 0.8, 0.8, 0.7, 0.6, 0.7, 0.85, 0.9, 0.8, 0.55,
)  # fmt: skip
_CLASSES_START_DAY = 7  # 2026-01-12: the semester begins a week into the window


def _rhythm_weight(shape: str, local_hour: int, local_day: int, param: int) -> float:
    weekend = local_day % 7 >= 5
    if shape == "office":
        return _OFFICE[local_hour] * (0.12 if weekend else 1.0)
    if shape == "consumer":
        return _CONSUMER[local_hour] * (0.9 if weekend else 1.0)
    if shape == "developer":
        return _DEVELOPER[local_hour] * (0.7 if weekend else 1.0)
    if shape == "service":
        return 0.55 + 0.45 * _CONSUMER[local_hour]
    if shape == "batch":
        if local_hour == param:
            return 1.0
        return 0.3 if local_hour == (param + 1) % 24 else 0.01
    if shape == "student":
        term = 1.0 if local_day >= _CLASSES_START_DAY else 0.35
        return _STUDENT[local_hour] * term * (0.6 if weekend else 1.0)
    raise ValueError(shape)


@lru_cache(maxsize=2048)
def _profile(shape: str, tz: float, param: int = 0, boost: tuple[int, int] | None = None) -> array:
    """Cumulative hourly weights over the window for one rhythm in one timezone (shared by
    every account with the same rhythm and offset, so 20,000 accounts cost a few hundred)."""
    cumulative, total = array("d"), 0.0
    for hour in range(WINDOW_HOURS):
        local = math.floor(hour + tz)
        weight = _rhythm_weight(shape, local % 24, local // 24, param)
        if boost and boost[0] <= hour < boost[1] and 7 <= local % 24 <= 21:
            weight *= 12.0
        total += weight
        cumulative.append(total)
    return cumulative


# --- how an account sends traffic --------------------------------------------------------


class SessionTiming:
    """Requests come in sessions (a user at work, a cron job) whose starts follow a rhythm."""

    __slots__ = ("cumulative", "mean_extra", "mean_gap_ms")

    def __init__(self, cumulative: array, mean_extra: float, mean_gap_ms: float):
        self.cumulative = cumulative
        self.mean_extra = mean_extra
        self.mean_gap_ms = mean_gap_ms

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        cumulative = self.cumulative
        lo_h, hi_h = lo // HOUR_MS, (hi - 1) // HOUR_MS + 1
        base = cumulative[lo_h - 1] if lo_h else 0.0
        span = cumulative[hi_h - 1] - base
        rnd, expo = rng.random, rng.expovariate

        def session_start() -> int:
            if span > 0:
                hour = min(max(bisect_right(cumulative, base + rnd() * span), lo_h), hi_h - 1)
                moment = hour * HOUR_MS + int(rnd() * HOUR_MS)
            else:
                moment = lo + int(rnd() * (hi - lo))
            return min(max(moment, lo), hi - 1)

        out: list[int] = []
        extra_rate = 1.0 / self.mean_extra if self.mean_extra > 0 else 0.0
        gap_rate = 1.0 / self.mean_gap_ms
        while len(out) < count:
            length = 1 + (int(expo(extra_rate)) if extra_rate else 0)
            moment = session_start()
            for _ in range(min(length, count - len(out))):
                out.append(moment)
                moment += 1 + int(expo(gap_rate))
                if moment >= hi:
                    moment = session_start()
        return out


class SlotTiming:
    """Dispatcher-driven traffic: work goes out in shared time slots, front-loaded, around
    the clock, so every account of one operation fires in the same slots."""

    __slots__ = ("slot_ms", "slots")

    def __init__(self, slots: list[int], slot_ms: int):
        self.slots = slots
        self.slot_ms = slot_ms

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        slot_ms = self.slot_ms
        usable = [s for s in self.slots if lo <= s * slot_ms and (s + 1) * slot_ms <= hi]
        if not usable:
            usable = list(range(-(-lo // slot_ms), hi // slot_ms)) or [lo // slot_ms]
        choice, expo = rng.choice, rng.expovariate
        rate = 4.0 / slot_ms
        out = []
        for _ in range(count):
            offset = min(int(expo(rate)), slot_ms - 1)
            out.append(min(max(choice(usable) * slot_ms + offset, lo), hi - 1))
        return out


class FixedTiming:
    """Times computed elsewhere (the ring's shift schedule)."""

    __slots__ = ("planned",)

    def __init__(self):
        self.planned: list[int] = []

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        return self.planned


class TemplatePrompts:
    """An application's prompts: a handful of templates used with uneven frequency."""

    __slots__ = ("cot_share", "cum_weights", "templates")

    def __init__(self, templates: list, weights: list[float], cot_share: float = 0.0):
        self.templates = templates
        self.cum_weights = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.cot_share = cot_share

    def draw(self, rng: random.Random) -> tuple[str, str]:
        text, fields, kind = rng.choices(self.templates, cum_weights=self.cum_weights)[0]
        choice = rng.choice
        prompt = text.format_map({name: choice(pool) for name, pool in fields})
        if self.cot_share and rng.random() < self.cot_share:
            prompt += " Please explain your reasoning step by step."
        return prompt, kind


class SweepPrompts:
    """The network's harvesting prompts: walks a shuffled topic grid so coverage is even."""

    __slots__ = ("cells", "position")

    def __init__(self, rng: random.Random):
        cells = [
            (domain, concept, level, angle)
            for domain, concepts in SWEEP_DOMAINS.items()
            for concept in concepts
            for level in SWEEP_LEVELS
            for angle in SWEEP_ANGLES
        ]
        rng.shuffle(cells)
        self.cells = cells
        self.position = 0

    def draw(self, rng: random.Random) -> tuple[str, str]:
        domain, concept, level, angle = self.cells[self.position % len(self.cells)]
        self.position += 1
        prompt = rng.choice(SWEEP_TEMPLATES).format(
            domain=domain,
            concept=concept,
            level=level,
            angle=angle,
            verb=rng.choice(SWEEP_VERBS),
            n1=rng.randint(2, 9999),
            n2=rng.randint(2, 9999),
        )
        return prompt, "cot"


class BenchmarkPrompts:
    """An evaluation harness: runs fixed benchmark items in order, again and again, so the
    very same prompts recur on every run and every model."""

    __slots__ = ("items", "position")

    def __init__(self, items: list[tuple[str, str]], start: int):
        self.items = items
        self.position = start

    def draw(self, rng: random.Random) -> tuple[str, str]:
        item = self.items[self.position % len(self.items)]
        self.position += 1
        return item


def _benchmark_items(rng: random.Random, per_suite: int) -> list[tuple[str, str]]:
    pick = rng.choice
    items = []
    for suite in BENCHMARK_SUITES:
        for number in range(1, per_suite + 1):
            if suite == "mcq":
                concept = pick(FILLERS["course_concept"])
                options = rng.sample(FILLERS["simple_concept"] + FILLERS["pair"], 4)
                prompt = (
                    f"Question {number}: Which statement best relates to {concept}?\n"
                    f"A) {options[0]}\nB) {options[1]}\nC) {options[2]}\nD) {options[3]}\n"
                    "Answer with a single letter."
                )
            elif suite == "yesno":
                prompt = (
                    f"Passage: {pick(FILLERS['doc'])}\nQuestion: {pick(FILLERS['question'])} "
                    "Is the answer stated in the passage? Answer yes or no.\nAnswer:"
                )
            elif suite == "arith":
                a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 99)
                prompt = f"Compute {a} + {b} * {c}. Answer with the number only."
            else:
                prompt = (
                    f"Translate into {pick(FILLERS['human_lang'])}. Output only the "
                    f"translation.\n{pick(FILLERS['sentence'])}"
                )
            items.append((prompt, "translate" if suite == "translate" else "mcq"))
    return items


class EndUsers:
    """The end-user ids an account passes: either an explicit list (the network's users on
    a conduit reseller) or a pool of opaque ids derived from a salt, so large pools cost no
    memory."""

    __slots__ = ("names", "pattern", "pool", "salt", "share")

    def __init__(
        self,
        share: float,
        *,
        names: list[str] | None = None,
        pattern: str = "",
        salt: int = 0,
        pool: int = 1,
    ):
        self.share = share
        self.names = names
        self.pattern = pattern
        self.salt = salt
        self.pool = pool

    def draw(self, rng: random.Random) -> str | None:
        if rng.random() >= self.share:
            return None
        if self.names:
            return rng.choice(self.names)
        return self.pattern.format(
            ((rng.randrange(self.pool) * 2654435761) ^ self.salt) & 0xFFFFFFFF
        )


Timing = SessionTiming | SlotTiming | FixedTiming
Prompts = TemplatePrompts | SweepPrompts | BenchmarkPrompts
EMBEDDINGS = "/v1/embeddings"


@dataclass(slots=True)
class Traffic:
    """How one account (or one slice of a reseller account) sends requests."""

    account: Account
    weight: float
    timing: Timing
    prompts: Prompts
    keys: list[str]
    ips: list[str]
    user_agents: list[str]
    endpoints: list[str]
    models: list[str]
    models_after: list[str] = field(default_factory=list)
    adopt_ms: int = WINDOW_MS + 1
    end_users: EndUsers | None = None
    logprobs_share: float = 0.0
    top_logprobs: tuple[int, ...] = (0,)
    logit_bias_share: float = 0.0
    logit_bias_tokens: tuple[int, ...] = ()
    temperatures: tuple[float, ...] = (0.7,)
    max_tokens: tuple[int, ...] = (1024,)
    n_values: tuple[int, ...] = (1,)
    rate_limited_share: float = 0.002
    error_share: float = 0.004
    lo: int = 0
    hi: int = WINDOW_MS
    count: int = 0

    def line(self, moment: int, rng: random.Random, request_id: str, encode) -> tuple[str, int]:
        rnd, choice = rng.random, rng.choice
        endpoint = choice(self.endpoints)
        embedding = endpoint == EMBEDDINGS
        if embedding:
            model = "embed-1"
        elif moment >= self.adopt_ms and self.models_after:
            model = choice(self.models_after)
        else:
            model = choice(self.models)
        prompt, kind = self.prompts.draw(rng)
        context_lo, context_hi, mu, sigma = KINDS[kind]
        input_tokens = len(prompt) // 4 + rng.randint(context_lo, context_hi)
        n = 1 if embedding else choice(self.n_values)
        if embedding:
            output_tokens, max_tokens, temperature = 0, None, None
            logprobs, top = False, 0
        else:
            max_tokens = choice(self.max_tokens)
            temperature = choice(self.temperatures)
            output_tokens = min(max_tokens, 1 + int(rng.lognormvariate(mu, sigma))) * n
            logprobs = self.logprobs_share > 0 and rnd() < self.logprobs_share
            top = choice(self.top_logprobs) if logprobs else 0
        status = 200
        roll = rnd()
        if roll < self.rate_limited_share:
            status, input_tokens, output_tokens = 429, 0, 0
        elif roll < self.rate_limited_share + self.error_share:
            status, output_tokens = choice((400, 400, 400, 500, 503)), 0
        params = {
            "logprobs": logprobs,
            "top_logprobs": top,
            "n": n,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if self.logit_bias_share and not embedding and rnd() < self.logit_bias_share:
            picked = rng.sample(self.logit_bias_tokens, rng.randint(2, 5))
            params["logit_bias"] = {str(token): -100 for token in sorted(picked)}
        end_user = self.end_users.draw(rng) if self.end_users else None
        record = {
            "request_id": request_id,
            "ts": _iso_millis(moment),
            "account_id": self.account.account_id,
            "api_key_id": choice(self.keys),
            "model": model,
            "endpoint": endpoint,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "source_ip": choice(self.ips),
            "user_agent": choice(self.user_agents),
            "end_user": end_user,
            "params": params,
            "prompt": prompt,
            "status": status,
        }
        return encode(record), output_tokens


@dataclass(slots=True)
class Account:
    """One account as the provider's account export lists it, plus its ground truth."""

    account_id: str
    org_name: str
    email: str
    created_ms: int
    country: str
    billing_country: str
    payment_fingerprint: str
    signup_ip: str
    signup_user_agent: str
    plan: str
    status: str
    reseller: bool
    role: str
    group: str
    kind: str
    tz: float = 0.0
    active_until_ms: int = WINDOW_MS
    keys: list[str] = field(default_factory=list)

    def record(self) -> dict:
        return {
            "account_id": self.account_id,
            "org_name": self.org_name,
            "email": self.email,
            "created_at": _iso_seconds(self.created_ms),
            "country": self.country,
            "billing_country": self.billing_country,
            "payment_fingerprint": self.payment_fingerprint,
            "signup_ip": self.signup_ip,
            "signup_user_agent": self.signup_user_agent,
            "plan": self.plan,
            "status": self.status,
            "reseller": self.reseller,
        }


# --- building the world ----------------------------------------------------------------

BENIGN_PLANS = {"tier-1": 52, "tier-2": 22, "tier-3": 12, "tier-4": 7, "tier-5": 4, "enterprise": 3}
_PLAN_VOLUME_MU = {
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
_ARCHETYPES_SMALL = {
    "personal": 35,
    "coding-assistant": 20,
    "content-tool": 12,
    "support-bot": 10,
    "research-assistant": 10,
    "data-pipeline": 8,
    "translation": 5,
}
_ARCHETYPES_LARGE = {
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


class WorldBuilder:
    """Builds accounts, their traffic and assent, cohort by cohort, from one seed."""

    def __init__(self, *, accounts: int, events: int, seed: int):
        self.total_accounts = accounts
        self.total_events = events
        self.seed = seed
        self.rng = random.Random(f"pacta-scenario:{seed}:world")
        self.accounts: list[Account] = []
        self.traffic: dict[str, list[Traffic]] = {name: [] for name in EVENT_SHARES}
        self.groups_extra: dict[str, dict] = {}
        self._ids: dict[str, None] = {}
        rng = self.rng
        self.hosting_prefixes = ["192.0.2", "198.51.100", "203.0.113"]
        self.hosting_prefixes += [_public_prefix(rng) for _ in range(45)]
        rng.shuffle(self.hosting_prefixes)
        self.country_codes = [code for code, _weight, _tz in COUNTRIES]
        self.country_weights = [weight for _code, weight, _tz in COUNTRIES]
        self.country_tz = {code: tzs for code, _weight, tzs in COUNTRIES}

    # identities -----------------------------------------------------------------------

    def _new_id(self, prefix: str, digits: int) -> str:
        while True:
            candidate = f"{prefix}{_hex(self.rng, digits)}"
            if candidate not in self._ids:
                self._ids[candidate] = None
                return candidate

    def _country(self) -> tuple[str, float]:
        code = self.rng.choices(self.country_codes, weights=self.country_weights)[0]
        return code, self.rng.choice(self.country_tz[code])

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def _org_name(self) -> str:
        pick = self.rng.choice
        style = self.rng.random()
        if style < 0.5:
            return f"{pick(_ORG_WORDS_A)} {pick(_ORG_WORDS_B)} {pick(_ORG_SUFFIXES)}"
        if style < 0.8:
            return f"{pick(_ORG_WORDS_B)}{pick(_ORG_WORDS_A).lower()} {pick(_ORG_SUFFIXES)}"
        return f"{pick(LAST_NAMES)} & {pick(LAST_NAMES)} {pick(_ORG_SUFFIXES)}"

    @staticmethod
    def _domain(org_name: str) -> str:
        words = re.sub(r"[^a-z0-9 ]", "", org_name.lower()).split()
        return "".join(words[:2]) + ".example"

    def _personal_email(self, first: str, last: str, domain: str) -> str:
        rng = self.rng
        first, last = re.sub(r"[^a-z]", "", first.lower()), re.sub(r"[^a-z]", "", last.lower())
        style = rng.random()
        if style < 0.3:
            local = f"{first}.{last}"
        elif style < 0.5:
            local = f"{first}{last}"
        elif style < 0.65:
            local = f"{first[0]}{last}"
        elif style < 0.8:
            local = f"{first}_{last}{rng.randint(1, 99)}"
        else:
            local = f"{first}{last}{rng.randint(1960, 2005)}"
        return f"{local}@{domain}"

    def _org_email(self, domain: str) -> str:
        rng = self.rng
        first, last = self._person()
        local = rng.choice(
            (
                "ops",
                "dev",
                "engineering",
                "admin",
                "billing",
                first.lower(),
                f"{first.lower()}.{last.lower()}",
                f"{first[0].lower()}{last.lower()}",
            )
        )
        return f"{re.sub(r'[^a-z0-9._]', '', local)}@{domain}"

    def _card(self) -> str:
        return self._new_id("pf_", 12)

    def _browser(self) -> str:
        return self.rng.choices(BROWSER_AGENTS, weights=(30, 22, 12, 8, 4, 8, 4, 7, 5))[0]

    def _keys(self, count: int) -> list[str]:
        return [self._new_id("key_", 12) for _ in range(count)]

    def _add(self, account: Account) -> Account:
        self.accounts.append(account)
        return account

    def _created_before_window(self, earliest: str = "2025-06-01T00:00:00Z") -> int:
        lo, hi = _ms(earliest), -2 * HOUR_MS
        # growth: later sign-ups are more common than early ones
        return lo + int((hi - lo) * math.sqrt(self.rng.random()))

    def _traffic_common(self, archetype: dict) -> dict:
        rng = self.rng
        return {
            "endpoints": rng.choices(
                list(archetype["endpoints"]), weights=list(archetype["endpoints"].values()), k=20
            ),
            "models": rng.choices(
                list(archetype["models"]), weights=list(archetype["models"].values()), k=20
            ),
        }

    def _adoption(self, models: list[str], *, within_window_share: float) -> tuple[int, list[str]]:
        """When (if at all) an ordinary customer moves some traffic to the new model: days
        later, partially, as product teams test and roll out."""
        rng = self.rng
        if rng.random() >= within_window_share:
            return WINDOW_MS + 1, []
        delay = int(rng.lognormvariate(math.log(5 * DAY_MS), 0.8))
        share = rng.uniform(0.15, 0.6)
        after = [NEW_MODEL if rng.random() < share else rng.choice(models) for _ in range(20)]
        return _RELEASE_MS + delay, after

    def _ips(self, count: int, *, hosting_share: float) -> list[str]:
        rng = self.rng
        if rng.random() < hosting_share:
            prefixes = rng.sample(self.hosting_prefixes, min(2, count))
        else:
            prefixes = [_public_prefix(rng)]
        return [_host(rng, rng.choice(prefixes)) for _ in range(count)]

    # cohorts --------------------------------------------------------------------------

    def build(self) -> None:
        n = self.total_accounts
        network = max(12, round(0.03 * n))
        ring = min(8, 4 + n // 2500)
        evaluation = 5
        university = max(12, min(200, n // 60))
        special = network + 2 + ring + evaluation + university + 1 + 1
        self._distillation_network(network)
        self._key_sharing_ring(ring)
        self._evaluation_company(evaluation)
        self._enterprise()
        self._university(university)
        self._legitimate_reseller()
        self._benign(n - special)

    def _benign(self, count: int) -> None:
        rng = self.rng
        first_benign = len(self.accounts)
        for _ in range(count):
            plan = _weighted(rng, BENIGN_PLANS)
            archetype_name = _weighted(
                rng, _ARCHETYPES_SMALL if plan in ("tier-1", "tier-2") else _ARCHETYPES_LARGE
            )
            archetype = ARCHETYPES[archetype_name]
            country, tz = self._country()
            billing = country if rng.random() > 0.04 else self._country()[0]
            personal = archetype_name == "personal" or (plan == "tier-1" and rng.random() < 0.4)
            if personal:
                first, last = self._person()
                org_name = f"{first} {last}"
                domain = rng.choice(_THROWAWAY) if rng.random() < 0.004 else rng.choice(_FREEMAIL)
                email = self._personal_email(first, last, domain)
            else:
                org_name = self._org_name()
                email = self._org_email(self._domain(org_name))
            created = (
                self._created_before_window()
                if rng.random() < 0.88
                else rng.randrange(0, WINDOW_MS - HOUR_MS)
            )
            roll = rng.random()
            status = "active" if roll < 0.965 else ("closed" if roll < 0.99 else "suspended")
            signup_ip = _host(
                rng,
                rng.choice(self.hosting_prefixes) if rng.random() < 0.12 else _public_prefix(rng),
            )
            account = self._add(
                Account(
                    account_id=self._new_id("acct_", 12),
                    org_name=org_name,
                    email=email,
                    created_ms=created,
                    country=country,
                    billing_country=billing,
                    payment_fingerprint=self._card(),
                    signup_ip=signup_ip,
                    signup_user_agent=self._browser(),
                    plan=plan,
                    status=status,
                    reseller=False,
                    role="benign",
                    group="benign",
                    kind=archetype_name,
                    tz=tz,
                )
            )
            if status == "suspended":
                account.active_until_ms = rng.randrange(max(created, 0) + HOUR_MS, WINDOW_MS)
            dormant = status == "closed" or rng.random() < 0.08
            lo = max(0, created + rng.randint(5, 600) * 60_000)
            hi = account.active_until_ms
            if dormant or hi - lo < 2 * HOUR_MS:
                continue
            weight = (
                min(math.exp(rng.gauss(_PLAN_VOLUME_MU[plan], 1.1)), 900.0) * (hi - lo) / WINDOW_MS
            )
            shape = _weighted(rng, archetype["shapes"])
            mean_extra, mean_gap = archetype["session"]
            mean_extra *= rng.uniform(0.5, 1.5)
            mean_gap *= rng.uniform(0.5, 1.5)
            timing = SessionTiming(
                _profile(shape, tz, rng.randrange(24) if shape == "batch" else 0),
                mean_extra,
                mean_gap,
            )
            sets = [template for name in archetype["templates"] for template in COMPILED[name]]
            chosen = rng.sample(sets, min(len(sets), rng.randint(2, 6)))
            weights = [1.0 / (rank + 1) ** 1.2 for rank in range(len(chosen))]
            account.keys = self._keys(rng.choices((1, 2, 3, 4), weights=(50, 30, 12, 8))[0])
            server = archetype_name != "personal" and rng.random() < 0.75
            agents = rng.sample(SDK_AGENTS, rng.randint(1, 2))
            if not server or rng.random() < 0.2:
                agents.append(self._browser())
            common = self._traffic_common(archetype)
            adopt_ms, after = self._adoption(common["models"], within_window_share=0.18)
            uses_logprobs = rng.random() < archetype["logprob_accounts"]
            end_users = None
            if rng.random() < archetype["end_users"]:
                end_users = EndUsers(
                    rng.uniform(0.8, 1.0),
                    pattern=rng.choice(("u_{:08x}", "user-{}", "{:08x}", "cus_{:08x}")),
                    salt=rng.getrandbits(32),
                    pool=max(2, int(rng.lognormvariate(4.0, 1.3))),
                )
            self.traffic["benign"].append(
                Traffic(
                    account=account,
                    weight=weight,
                    timing=timing,
                    prompts=TemplatePrompts(
                        chosen, weights, cot_share=0.03 if rng.random() < 0.1 else 0.0
                    ),
                    keys=account.keys,
                    ips=self._ips(rng.randint(1, 4), hosting_share=0.75 if server else 0.05),
                    user_agents=agents,
                    endpoints=common["endpoints"],
                    models=common["models"],
                    models_after=after,
                    adopt_ms=adopt_ms,
                    end_users=end_users,
                    logprobs_share=rng.uniform(0.3, 1.0) if uses_logprobs else 0.0,
                    top_logprobs=(1, 2, 3, 5),
                    temperatures=archetype["temperatures"],
                    max_tokens=archetype["max_tokens"],
                    lo=lo,
                    hi=hi,
                )
            )
        # A few ordinary customers run several accounts (a personal one and a work one, or
        # an org's staging and production) on one card: payment links alone prove nothing.
        benign = self.accounts[first_benign:]
        for _ in range(max(2, len(benign) // 70)):
            owner, sibling = rng.sample(benign, 2)
            sibling.payment_fingerprint = owner.payment_fingerprint
            sibling.billing_country = owner.billing_country
            if not owner.email.endswith(_FREEMAIL):
                sibling.org_name = owner.org_name
                sibling.email = self._org_email(owner.email.split("@", 1)[1])

    def _distillation_network(self, count: int) -> None:
        rng = self.rng
        signup_prefixes = rng.sample(self.hosting_prefixes, 3)
        egress_prefixes = signup_prefixes[:1] + rng.sample(self.hosting_prefixes, 3)
        automation_agent = BROWSER_AGENTS[0]
        # cards: about half the accounts have their own card, the rest share a few cards
        shared_cards = [(self._card(), self._country()[0]) for _ in range(max(2, count // 10))]
        bursts = max(3, min(12, count // 12))
        burst_starts = sorted(
            _ms("2025-10-15T00:00:00Z")
            + int(rng.random() * (_ms("2026-01-03T00:00:00Z") - _ms("2025-10-15T00:00:00Z")))
            for _ in range(bursts - 1)
        )
        burst_starts.append(rng.randrange(10 * DAY_MS, 14 * DAY_MS))  # replacements, in window
        sizes = _largest_remainder(count, [1.0] * (bursts - 1) + [0.6])
        slot_ms = 15 * 60_000
        active_slots = [s for s in range(WINDOW_MS // slot_ms) if rng.random() < 0.55]
        switch = _RELEASE_MS + rng.randrange(3 * HOUR_MS, 20 * HOUR_MS)
        sweep = SweepPrompts(random.Random(f"pacta-scenario:{self.seed}:sweep"))
        bias_tokens = tuple(rng.sample(range(100, 100_000), 12))
        members, bursts_out = [], []

        def harvesting(
            account: Account, weight: float, lo: int, hi: int, timing, **extra
        ) -> Traffic:
            before = ["frontier-2"] * 9 + ["frontier-2-mini"]
            after = [NEW_MODEL] * 9 + ["frontier-2"]
            return Traffic(
                account=account,
                weight=weight,
                timing=timing,
                prompts=sweep,
                endpoints=["/v1/chat/completions"] * 4 + ["/v1/completions"],
                models=before,
                models_after=after,
                adopt_ms=switch + rng.randrange(0, 6 * HOUR_MS),
                logprobs_share=rng.uniform(0.85, 0.98),
                top_logprobs=(20, 20, 20, 10),
                logit_bias_share=rng.uniform(0.05, 0.25),
                logit_bias_tokens=bias_tokens,
                temperatures=(0.0, 0.0, 1.0),
                max_tokens=(4096, 8192),
                n_values=(1,) * 8 + (2, 4),
                rate_limited_share=0.02,
                lo=lo,
                hi=hi,
                **extra,
            )

        for burst, (start, size) in enumerate(zip(burst_starts, sizes, strict=True)):
            moment = start
            burst_accounts = []
            for _ in range(size):
                moment += int(rng.expovariate(1 / (4 * 60_000))) + 20_000
                first, last = self._person()
                org_name = f"{first} {last}" if rng.random() < 0.5 else self._org_name()
                separator = rng.choice(("", ".", ""))
                local = re.sub(r"[^a-z.]", "", f"{first}{separator}{last}".lower())
                email = f"{local}{rng.randint(10, 9999)}@{rng.choice(_THROWAWAY[:3])}"
                country, _tz = self._country()
                if rng.random() < 0.5:
                    card, billing = rng.choice(shared_cards)
                else:
                    card, billing = self._card(), rng.choice((country, self._country()[0]))
                account = self._add(
                    Account(
                        account_id=self._new_id("acct_", 12),
                        org_name=org_name,
                        email=email,
                        created_ms=moment,
                        country=country,
                        billing_country=billing,
                        payment_fingerprint=card,
                        signup_ip=_host(rng, rng.choice(signup_prefixes)),
                        signup_user_agent=automation_agent,
                        plan=rng.choices(("tier-1", "tier-2", "tier-3"), weights=(55, 35, 10))[0],
                        status="active",
                        reseller=False,
                        role="adversary",
                        group="distillation-network",
                        kind="distillation_network",
                    )
                )
                if burst == 0 and rng.random() < 0.35:
                    account.status = "suspended"
                    account.active_until_ms = rng.randrange(4 * DAY_MS, 14 * DAY_MS)
                burst_accounts.append(account.account_id)
                members.append(account)
            bursts_out.append(
                {
                    "first_created_at": _iso_seconds(self.accounts[-size].created_ms),
                    "last_created_at": _iso_seconds(moment),
                    "accounts": burst_accounts,
                }
            )
        for account in members:
            lo = max(0, account.created_ms + rng.randint(20, 180) * 60_000)
            hi = account.active_until_ms
            presence = rng.uniform(0.3, 0.6)
            participating = [s for s in active_slots if rng.random() < presence]
            account.keys = self._keys(rng.randint(1, 2))
            egress = rng.sample(egress_prefixes, 2)
            self.traffic["network-direct"].append(
                harvesting(
                    account,
                    rng.lognormvariate(0.0, 0.3) * (hi - lo) / WINDOW_MS,
                    lo,
                    hi,
                    SlotTiming(participating, slot_ms),
                    keys=account.keys,
                    ips=[_host(rng, rng.choice(egress)) for _ in range(rng.randint(1, 3))],
                    user_agents=[
                        rng.choice(
                            ("python-httpx/0.27.2", "python-httpx/0.27.2", "aiohttp/3.10.11")
                        )
                    ],
                )
            )
        # Two reseller accounts the network routes part of its traffic through; each also
        # serves some ordinary customers, so only the end-user slice is the network's.
        conduits, end_users = [], {}
        for number in range(2):
            org_name = self._org_name().rsplit(" ", 1)[0] + rng.choice(
                (" Cloud", " API", " Gateway")
            )
            country, tz = self._country()
            card = shared_cards[0][0] if number == 1 else self._card()
            account = self._add(
                Account(
                    account_id=self._new_id("acct_", 12),
                    org_name=org_name,
                    email=self._org_email(self._domain(org_name)),
                    created_ms=_ms("2025-09-01T00:00:00Z") + rng.randrange(0, 70 * DAY_MS),
                    country=country,
                    billing_country=shared_cards[0][1] if number == 1 else country,
                    payment_fingerprint=card,
                    signup_ip=_host(rng, rng.choice(self.hosting_prefixes)),
                    signup_user_agent=self._browser(),
                    plan=("tier-4", "tier-5")[number],
                    status="active",
                    reseller=True,
                    role="adversary",
                    group="distillation-network",
                    kind="conduit_reseller",
                    tz=tz,
                )
            )
            account.keys = self._keys(2)
            pattern = ("usr_{:08x}", "cust-{:08x}")[number]
            salt = rng.getrandbits(32)
            network_users = sorted(
                {pattern.format(rng.getrandbits(32)) for _ in range(rng.randint(8, 16))}
            )
            end_users[account.account_id] = network_users
            ips = [_host(rng, rng.choice(self.hosting_prefixes)) for _ in range(3)]
            agents = ["Go-http-client/2.0"]
            participating = [s for s in active_slots if rng.random() < 0.5]
            self.traffic["network-via-reseller"].append(
                harvesting(
                    account,
                    1.0,
                    0,
                    WINDOW_MS,
                    SlotTiming(participating, slot_ms),
                    keys=account.keys,
                    ips=ips,
                    user_agents=agents,
                    end_users=EndUsers(1.0, names=network_users),
                )
            )
            own = ARCHETYPES["support-bot"]
            own_templates = COMPILED["support"] + COMPILED["content"]
            self.traffic["conduit-own-customers"].append(
                Traffic(
                    account=account,
                    weight=1.0,
                    timing=SessionTiming(_profile("consumer", tz), 3.0, 30_000.0),
                    prompts=TemplatePrompts(own_templates, [1.0] * len(own_templates)),
                    keys=account.keys,
                    ips=ips,
                    user_agents=agents,
                    endpoints=["/v1/chat/completions"],
                    models=rng.choices(
                        list(own["models"]), weights=list(own["models"].values()), k=20
                    ),
                    end_users=EndUsers(1.0, pattern=pattern, salt=salt, pool=400),
                    temperatures=own["temperatures"],
                    max_tokens=own["max_tokens"],
                )
            )
            conduits.append(account.account_id)
        shared = sorted(
            {
                a.payment_fingerprint
                for a in members
                if sum(b.payment_fingerprint == a.payment_fingerprint for b in members) > 1
            }
        )
        self.groups_extra["distillation-network"] = {
            "conduit_resellers": conduits,
            "end_users": end_users,
            "shared_payment_fingerprints": shared,
            "signup_bursts": bursts_out,
            "signup_prefixes": sorted(f"{p}.0/24" for p in signup_prefixes),
            "release_chasing": {
                "model": NEW_MODEL,
                "released": NEW_MODEL_RELEASE,
                "switched_at": _iso_seconds(switch),
            },
        }

    def _key_sharing_ring(self, count: int) -> None:
        rng = self.rng
        country, tz = self._country()
        home = _public_prefix(rng)
        ips = [_host(rng, home), _host(rng, home), _host(rng, rng.choice(self.hosting_prefixes))]
        cards = [self._card() for _ in range(max(2, count - 2))]
        members = []
        for number in range(count):
            first, last = self._person()
            account = self._add(
                Account(
                    account_id=self._new_id("acct_", 12),
                    org_name=f"{first} {last}" if rng.random() < 0.6 else self._org_name(),
                    email=self._personal_email(first, last, rng.choice(_FREEMAIL)),
                    created_ms=self._created_before_window("2025-08-01T00:00:00Z"),
                    country=country,
                    billing_country=country,
                    payment_fingerprint=cards[number % len(cards)],
                    signup_ip=_host(rng, home)
                    if rng.random() < 0.6
                    else _host(rng, _public_prefix(rng)),
                    signup_user_agent=self._browser(),
                    plan="tier-1",
                    status="active",
                    reseller=False,
                    role="adversary",
                    group="key-sharing-ring",
                    kind="key_sharing_ring",
                    tz=tz,
                )
            )
            account.keys = self._keys(1)
            members.append(account)
        all_keys = [account.keys[0] for account in members]
        prompts = TemplatePrompts(COMPILED["bulk"], [3.0, 2.0, 2.0, 1.5, 1.0])
        for account in members:
            borrowed = [key for key in all_keys if key != account.keys[0]]
            keys = [account.keys[0]] * 13 + rng.sample(borrowed, min(len(borrowed), 3)) * 2
            self.traffic["ring"].append(
                Traffic(
                    account=account,
                    weight=1.0,
                    timing=FixedTiming(),
                    prompts=prompts,
                    keys=keys,
                    ips=ips,
                    user_agents=["python-requests/2.31.0"],
                    endpoints=["/v1/chat/completions"],
                    models=["frontier-2"] * 3 + ["frontier-2-mini"],
                    temperatures=(0.9, 1.0),
                    max_tokens=(2048,),
                    rate_limited_share=0.04,
                )
            )
        self.groups_extra["key-sharing-ring"] = {
            "shared_api_keys": sorted(all_keys),
            "source_ips": sorted(ips),
            "rate_limit": next(plan for plan in PLANS if plan["plan"] == "tier-1"),
        }

    def _schedule_ring(self, total: int) -> None:
        """Shifts: one account runs at ~85-95% of its token limit, stops, and within minutes
        the next takes over, so no single account is ever throttled for long."""
        rng = self.rng
        streams = self.traffic["ring"]
        if not streams:
            return
        tz = streams[0].account.tz
        shifts = max(3 * len(streams), round(total / 120))
        per_shift = _largest_remainder(total, [rng.uniform(0.5, 1.5) for _ in range(shifts)])
        chain_lengths = _largest_remainder(
            shifts, [rng.uniform(0.5, 1.5) for _ in range(max(2, shifts // 3))]
        )
        segment = WINDOW_MS // len(chain_lengths)
        index = 0
        current = rng.randrange(len(streams))
        for chain, length in enumerate(chain_lengths):
            for _ in range(20):  # the operators start work in their own daytime
                moment = chain * segment + rng.randrange(0, max(1, segment // 2))
                if 8 <= math.floor(moment / HOUR_MS + tz) % 24 <= 18:
                    break
            for _ in range(length):
                # ~1,700 tokens a request against 40k tokens a minute: 20-23 requests a minute
                gap = 60_000 / rng.uniform(20.0, 23.0)
                planned = streams[current].timing.planned
                for _ in range(per_shift[index]):
                    planned.append(min(int(moment), WINDOW_MS - 1))
                    moment += gap * rng.uniform(0.6, 1.4)
                moment += rng.uniform(60_000, 8 * 60_000)
                current = rng.choice([i for i in range(len(streams)) if i != current])
                index += 1
        for stream in streams:
            stream.count = len(stream.timing.planned)

    def _evaluation_company(self, count: int) -> None:
        rng = self.rng
        org_name = self._org_name().rsplit(" ", 1)[0] + " Evals"
        domain = self._domain(org_name)
        country = rng.choice(("GB", "US", "DE"))
        tz = rng.choice(self.country_tz[country])
        office = _public_prefix(rng)
        card = self._card()
        items = _benchmark_items(rng, 250)
        founded = self._created_before_window("2025-07-01T00:00:00Z")
        release_hour = _RELEASE_MS // HOUR_MS
        profile = _profile("office", tz, 0, (release_hour, release_hour + 48))
        for number in range(count):
            first, last = self._person()
            # two accounts opened the same afternoon, the rest as teams joined
            if number < 2:
                created = founded + number * rng.randint(20, 90) * 60_000
            else:
                created = founded + rng.randint(3, 60) * DAY_MS
            account = self._add(
                Account(
                    account_id=self._new_id("acct_", 12),
                    org_name=org_name,
                    email=self._personal_email(first, last, domain),
                    created_ms=min(created, -DAY_MS),
                    country=country,
                    billing_country=country,
                    payment_fingerprint=card,
                    signup_ip=_host(rng, office),
                    signup_user_agent=self._browser(),
                    plan=rng.choice(("tier-3", "tier-4")),
                    status="active",
                    reseller=False,
                    role="hard_negative",
                    group="evaluation-company",
                    kind="evaluation_company",
                    tz=tz,
                )
            )
            account.keys = self._keys(rng.randint(1, 3))
            self.traffic["evaluation"].append(
                Traffic(
                    account=account,
                    weight=rng.uniform(0.7, 1.3),
                    timing=SessionTiming(profile, 250.0, 1_500.0),
                    prompts=BenchmarkPrompts(items, rng.randrange(len(items))),
                    keys=account.keys,
                    ips=[_host(rng, rng.choice(self.hosting_prefixes)) for _ in range(2)],
                    user_agents=["python-httpx/0.28.1"],
                    endpoints=["/v1/chat/completions"] * 9 + ["/v1/completions"],
                    models=["frontier-2", "frontier-2", "frontier-2-mini", "frontier-1"],
                    models_after=[NEW_MODEL] * 2 + ["frontier-2", "frontier-2-mini"],
                    adopt_ms=_RELEASE_MS + rng.randrange(2 * HOUR_MS, 10 * HOUR_MS),
                    logprobs_share=0.6,
                    top_logprobs=(5,),
                    temperatures=(0.0,),
                    max_tokens=(1, 5, 16),
                )
            )

    def _enterprise(self) -> None:
        rng = self.rng
        org_name = self._org_name()
        country = "US"
        tz = -5
        account = self._add(
            Account(
                account_id=self._new_id("acct_", 12),
                org_name=org_name,
                email=self._org_email(self._domain(org_name)),
                created_ms=_ms("2025-06-20T00:00:00Z") + rng.randrange(0, 30 * DAY_MS),
                country=country,
                billing_country=country,
                payment_fingerprint=self._card(),
                signup_ip=_host(rng, _public_prefix(rng)),
                signup_user_agent=self._browser(),
                plan="enterprise",
                status="active",
                reseller=False,
                role="hard_negative",
                group="enterprise-high-volume",
                kind="high_volume_enterprise",
                tz=tz,
            )
        )
        account.keys = self._keys(12)
        templates = COMPILED["content"] + COMPILED["code"] + COMPILED["rag"] + COMPILED["support"]
        self.traffic["enterprise"].append(
            Traffic(
                account=account,
                weight=1.0,
                timing=SessionTiming(_profile("consumer", tz), 2.0, 5_000.0),
                prompts=TemplatePrompts(
                    templates, [1.0 / (i + 1) ** 0.5 for i in range(len(templates))]
                ),
                keys=account.keys,
                ips=[
                    _host(rng, prefix)
                    for prefix in rng.sample(self.hosting_prefixes, 3)
                    for _ in range(2)
                ],
                user_agents=["openai-python/1.59.7", "python-httpx/0.28.1"],
                endpoints=["/v1/chat/completions"] * 6 + ["/v1/responses"] * 2 + [EMBEDDINGS] * 2,
                models=["frontier-2"] * 6 + ["frontier-2-mini"] * 4,
                models_after=["frontier-2"] * 5 + ["frontier-2-mini"] * 3 + [NEW_MODEL] * 2,
                adopt_ms=_RELEASE_MS + 7 * DAY_MS + rng.randrange(0, 2 * DAY_MS),
                end_users=EndUsers(0.95, pattern="{:08x}", salt=rng.getrandbits(32), pool=20_000),
                temperatures=(0.3, 0.5, 0.7),
                max_tokens=(2048, 4096),
                logprobs_share=0.02,
                top_logprobs=(1, 3),
            )
        )

    def _university(self, count: int) -> None:
        rng = self.rng
        country = rng.choice(("US", "GB", "DE", "NL", "CA"))
        tz = self.country_tz[country][0]
        name = (
            rng.choice(_ORG_WORDS_A)
            + " "
            + rng.choice(("University", "Institute of Technology", "State University"))
        )
        domain = "students." + self._domain(name)
        nat = _public_prefix(rng)
        nat_ips = [_host(rng, nat) for _ in range(4)]
        lab_session = rng.randrange(6 * DAY_MS + 9 * HOUR_MS, 8 * DAY_MS) - int(tz * HOUR_MS)
        profile = _profile("student", tz)
        templates = COMPILED["homework"] + COMPILED["personal"][:4]
        for _ in range(count):
            first, last = self._person()
            if rng.random() < 0.4:
                created = lab_session + rng.randrange(0, 90 * 60_000)
            else:
                created = self._created_before_window("2025-09-01T00:00:00Z")
            account = self._add(
                Account(
                    account_id=self._new_id("acct_", 12),
                    org_name=f"{first} {last}",
                    email=f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}".replace(
                        "-", ""
                    ),
                    created_ms=created,
                    country=country,
                    billing_country=country if rng.random() > 0.15 else self._country()[0],
                    payment_fingerprint=self._card(),
                    signup_ip=rng.choice(nat_ips),
                    signup_user_agent=self._browser(),
                    plan="tier-1",
                    status="active",
                    reseller=False,
                    role="hard_negative",
                    group="university",
                    kind="university_nat",
                    tz=tz,
                )
            )
            account.keys = self._keys(1)
            client = rng.choice(
                ("python-requests/2.32.3", "openai-python/1.59.7", "curl/8.5.0", "OpenAI/JS 4.77.0")
            )
            agents = [self._browser(), client]
            self.traffic["university"].append(
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
        self.groups_extra["university"] = {"nat_prefix": f"{nat}.0/24", "email_domain": domain}

    def _legitimate_reseller(self) -> None:
        rng = self.rng
        org_name = self._org_name().rsplit(" ", 1)[0] + " Platform"
        country, _tz = self._country()
        account = self._add(
            Account(
                account_id=self._new_id("acct_", 12),
                org_name=org_name,
                email=self._org_email(self._domain(org_name)),
                created_ms=_ms("2025-07-01T00:00:00Z") + rng.randrange(0, 40 * DAY_MS),
                country=country,
                billing_country=country,
                payment_fingerprint=self._card(),
                signup_ip=_host(rng, _public_prefix(rng)),
                signup_user_agent=self._browser(),
                plan="enterprise",
                status="active",
                reseller=True,
                role="hard_negative",
                group="legitimate-reseller",
                kind="legitimate_reseller",
            )
        )
        account.keys = self._keys(1)
        ips = [
            _host(rng, prefix) for prefix in rng.sample(self.hosting_prefixes, 2) for _ in range(2)
        ]
        salt = rng.getrandbits(32)
        sets = (
            COMPILED["support"]
            + COMPILED["content"]
            + COMPILED["code"]
            + COMPILED["translate"]
            + COMPILED["personal"]
        )
        regions = ((-5, 0.35), (-8, 0.15), (0, 0.15), (1, 0.15), (5.5, 0.1), (8, 0.1))
        for region, (tz, share) in enumerate(regions):
            self.traffic["reseller"].append(
                Traffic(
                    account=account,
                    weight=share,
                    timing=SessionTiming(
                        _profile(rng.choice(("consumer", "office")), tz), 2.0, 20_000.0
                    ),
                    prompts=TemplatePrompts(sets, [1.0] * len(sets)),
                    keys=account.keys,
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

    # events ---------------------------------------------------------------------------

    def allocate_events(self) -> None:
        cohorts = list(EVENT_SHARES)
        totals = _largest_remainder(self.total_events, [EVENT_SHARES[c] for c in cohorts])
        for cohort, total in zip(cohorts, totals, strict=True):
            streams = self.traffic[cohort]
            if cohort == "ring":
                self._schedule_ring(total)
                continue
            weights = [stream.weight if stream.hi > stream.lo else 0.0 for stream in streams]
            if cohort == "benign" and total:
                # no single ordinary customer outgrows the high-volume enterprise
                for _ in range(3):
                    ceiling = 0.012 * self.total_events * sum(weights) / total
                    weights = [min(weight, ceiling) for weight in weights]
            counts = _largest_remainder(total, weights)
            if sum(counts) != total:
                raise RuntimeError(f"cohort {cohort} cannot carry {total} events")
            for stream, count in zip(streams, counts, strict=True):
                stream.count = count


# --- assent ----------------------------------------------------------------------------


def _assent_records(builder: WorldBuilder) -> list[dict]:
    """Who accepted which version, when and how; with the gaps real flows leave behind."""
    rng = random.Random(f"pacta-scenario:{builder.seed}:assent")
    screenshots = {flow: _hex(rng, 64) for flow in ("signup-v3", "signup-v4", "reaccept-2026-01")}
    new_version_ms = _ms("2026-01-01T00:00:00Z")
    banner_ms = _ms("2025-12-15T00:00:00Z")
    # Formation gaps: about 1% of ordinary accounts came through a legacy API sign-up whose
    # acceptance was never logged, and a few network accounts share that gap, so "no assent
    # record" can be neither ignored nor read as guilt.
    benign = [a.account_id for a in builder.accounts if a.role == "benign"]
    harvesters = [a.account_id for a in builder.accounts if a.kind == "distillation_network"]
    missing = set(rng.sample(benign, max(2, round(0.012 * len(benign)))))
    missing.update(rng.sample(harvesters, max(1, len(harvesters) // 30)))
    records = []
    for account in builder.accounts:
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
                    "ts": _iso_seconds(account.created_ms - rng.randint(1, 10) * DAY_MS),
                    "ip": _host(rng, _public_prefix(rng)),
                    "user_agent": builder._browser(),
                    "method": "enterprise-order",
                    "flow_id": f"order-form-{version[:4]}",
                    "screenshot_sha256": _hex(rng, 64),  # the signed order form itself
                }
            )
        else:
            flow = "signup-v3" if version == "2025-06-01" else "signup-v4"
            records.append(
                {
                    "account_id": account.account_id,
                    "terms": TERMS_SLUG,
                    "version": version,
                    "ts": _iso_seconds(account.created_ms + delay * 1000),
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
                    "ts": _iso_seconds(moment),
                    "ip": account.signup_ip
                    if rng.random() < 0.3
                    else _host(rng, _public_prefix(rng)),
                    "user_agent": account.signup_user_agent,
                    "method": "sign-in",
                    "flow_id": "reaccept-2026-01",
                    "screenshot_sha256": screenshots["reaccept-2026-01"],
                }
            )
    records.sort(key=lambda record: (record["ts"], record["account_id"]))
    return records


# --- writing -----------------------------------------------------------------------------

_STREAM_BITS = 21


def _write_usage(builder: WorldBuilder, path: Path) -> dict:
    """Stream usage events to disk in time order, holding only one packed integer per event
    (time << 21 | stream) and sorting one day at a time, so memory stays small at 1M+."""
    rng = random.Random(f"pacta-scenario:{builder.seed}:usage")
    streams = [stream for cohort in builder.traffic.values() for stream in cohort]
    if len(streams) >= 1 << _STREAM_BITS:
        raise ValueError("too many traffic streams for the packed event key")
    buckets = [array("q") for _ in range(WINDOW_DAYS)]
    for index, stream in enumerate(streams):
        if not stream.count:
            continue
        for moment in stream.timing.times(rng, stream.count, stream.lo, stream.hi):
            buckets[moment // DAY_MS].append((moment << _STREAM_BITS) | index)
    id_key = rng.getrandbits(96)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    mask = (1 << _STREAM_BITS) - 1
    by_role: dict[str, int] = {"benign": 0, "hard_negative": 0, "adversary": 0}
    output_by_role = dict.fromkeys(by_role, 0)
    role_of = [stream.account.role for stream in streams]
    sequence = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        lines: list[str] = []
        for day, bucket in enumerate(buckets):
            for key in sorted(bucket):
                index = key & mask
                line, output_tokens = streams[index].line(
                    key >> _STREAM_BITS, rng, _mix_request_id(sequence, id_key), encode
                )
                sequence += 1
                lines.append(line)
                role = role_of[index]
                by_role[role] += 1
                output_by_role[role] += output_tokens
                if len(lines) == 4096:
                    out.write("\n".join(lines) + "\n")
                    lines.clear()
            if lines:
                out.write("\n".join(lines) + "\n")
                lines.clear()
            buckets[day] = array("q")
    return {"events": sequence, "events_by_role": by_role, "output_tokens_by_role": output_by_role}


def _write_lines(path: Path, records: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")


def _write_json(path: Path, document) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _labels(builder: WorldBuilder) -> dict:
    groups = {}
    for name, (role, kind, description) in GROUP_INFO.items():
        members = sorted(a.account_id for a in builder.accounts if a.group == name)
        groups[name] = {"role": role, "kind": kind, "description": description, "accounts": members}
        groups[name].update(builder.groups_extra.get(name, {}))
    return {
        "seed": builder.seed,
        "window": {"start": _iso_seconds(0), "end": _iso_seconds(WINDOW_MS)},
        "accounts": {
            a.account_id: {"role": a.role, "group": a.group, "kind": a.kind}
            for a in builder.accounts
        },
        "groups": groups,
    }


def scenario_generate(
    *, out_dir: Path, accounts: int = 2000, events: int = 100_000, seed: int = 1
) -> dict:
    """Write a synthetic world into ``out_dir`` and return a summary of what was written.

    Same arguments give byte-identical files: every random choice comes from generators
    seeded by ``seed``, and nothing depends on the clock, the hash seed or the machine.
    """
    if accounts < MIN_ACCOUNTS:
        raise ValueError(f"accounts must be at least {MIN_ACCOUNTS}, got {accounts}")
    if events < MIN_EVENTS:
        raise ValueError(f"events must be at least {MIN_EVENTS}, got {events}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "terms").mkdir(parents=True, exist_ok=True)

    builder = WorldBuilder(accounts=accounts, events=events, seed=seed)
    builder.build()
    builder.allocate_events()

    ordered = sorted(builder.accounts, key=lambda a: (a.created_ms, a.account_id))
    _write_lines(out_dir / "accounts.ndjson", (a.record() for a in ordered))
    assent = _assent_records(builder)
    _write_lines(out_dir / "assent.ndjson", assent)
    usage = _write_usage(builder, out_dir / "usage.ndjson")
    for version in TERMS_VERSIONS:
        path = out_dir / "terms" / f"{TERMS_SLUG}-{version}.md"
        path.write_text(terms_text(version), encoding="utf-8")
    (out_dir / "models.json").write_text(json.dumps(MODELS, indent=2) + "\n", encoding="utf-8")
    (out_dir / "plans.json").write_text(json.dumps(PLANS, indent=2) + "\n", encoding="utf-8")
    labels = _labels(builder)
    _write_json(out_dir / "labels.json", labels)

    line_counts = {
        "accounts.ndjson": len(ordered),
        "usage.ndjson": usage["events"],
        "assent.ndjson": len(assent),
    }
    written = [*line_counts, "labels.json", "models.json", "plans.json"]
    written += [f"terms/{TERMS_SLUG}-{version}.md" for version in TERMS_VERSIONS]
    files = {}
    for name in sorted(written):  # only what this run wrote, whatever else DIR holds
        files[name] = {"bytes": (out_dir / name).stat().st_size}
        if name in line_counts:
            files[name]["lines"] = line_counts[name]
    accounts_by_role = dict.fromkeys(("benign", "hard_negative", "adversary"), 0)
    for account in builder.accounts:
        accounts_by_role[account.role] += 1
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "window": labels["window"],
        "accounts": len(ordered),
        "events": usage["events"],
        "assent_records": len(assent),
        "accounts_by_role": accounts_by_role,
        "accounts_by_group": {
            name: len(group["accounts"]) for name, group in labels["groups"].items()
        },
        "events_by_role": usage["events_by_role"],
        "output_tokens_by_role": usage["output_tokens_by_role"],
        "files": files,
        "bytes_written": sum(entry["bytes"] for entry in files.values()),
        "elapsed_seconds": round(time.perf_counter() - started, 3),
    }
