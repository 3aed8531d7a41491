"""Search by what an investigator holds: an account id, an address, an API key id, a card
fingerprint, a request id (or a case reference). Finds the accounts it touches, and from
them the clusters of the latest detection run and the cases the user may open.

Access is the selectors' as everywhere: accounts and clusters are the record's, shown to
the record's readers only (`evidence.access.record_reader`); cases come from `case_list`,
so a case the user is not on is neither shown nor counted. A reader without the record (a
regulator's reviewer) finds cases shared with them by the account ids and request ids of
their accounts, and nothing about the rest of the record.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from casework.countermeasures.models import EnforcementAction
from casework.models import Case, CaseAccount
from casework.selectors import case_list
from evidence.access import record_reader
from evidence.models import Account, AccountVersion, ApiKey, Cluster, Link, UsageEvent
from evidence.selectors import cluster_list, detection_runs_shown

QUERY_MAX_LENGTH = 200
RESULT_ROWS = 200
# Looks like an address (digits and dots, or hex and colons), so a typo in one is named
# as such rather than searched as an account id.
ADDRESS_LIKE = re.compile(r"^(\d{1,3}(\.\d{1,3}){1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/\d+)?$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What a match was found by, in the words of the page.
BY_ACCOUNT_ID = "account id"
BY_REQUEST_ID = "request id"
BY_KEY = "API key (issued to it)"
BY_KEY_SHARED = "API key (used by it: key-sharing link)"
BY_CARD = "card fingerprint (current profile)"
BY_CARD_EARLIER = "card fingerprint (earlier profile)"
BY_SIGNUP_IP = "sign-up address"
BY_ASSENT_IP = "address of an assent"
BY_USAGE_IP = "address of its requests"


class SearchError(ValueError):
    """Input that cannot be searched; the message says why and what would be."""


@dataclass
class SearchResult:
    query: str
    read_as: str
    accounts: list[tuple[Account, list[str]]] = field(default_factory=list)
    accounts_total: int = 0
    clusters: list[Cluster] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    record_searched: bool = True

    @property
    def empty(self) -> bool:
        return not (self.accounts_total or self.clusters or self.cases)


def search_query_clean(raw: str | None) -> str:
    """The query as searched, or SearchError saying what is wrong with it."""
    query = (raw or "").strip()
    if not query:
        raise SearchError(
            "Type an account id, an IP address, an API key id, a card fingerprint or a "
            "request id to search for."
        )
    if len(query) > QUERY_MAX_LENGTH:
        raise SearchError(
            f"The search is {len(query):,} characters long; identifiers in the record are at "
            f"most {QUERY_MAX_LENGTH}."
        )
    if CONTROL.search(query):
        raise SearchError("The search holds control characters (a tab, a line break or a NUL).")
    return query


def record_search(*, user, query: str) -> SearchResult:
    """Everything `query` touches that the user may see. Raises SearchError for input that
    cannot be searched (empty, too long, an address that is not one)."""
    query = search_query_clean(query)
    network = _network(query)
    reads_record = record_reader(user)
    matched: dict[int, list[str]] = defaultdict(list)
    action_cases = Q(pk__in=[])
    if network is not None:
        read_as = (
            f"the IP address {network}"
            if network.num_addresses == 1
            else (f"the address range {network}")
        )
        if reads_record:
            _by_address(network, matched)
            action_cases = Q(pk__in=_cases_blocking(network))
    else:
        read_as = "an account id, API key id, card fingerprint, request id or case reference"
        _by_identifier(query, matched, reads_record=reads_record)
        action_cases = Q(reference__iexact=query)
        if reads_record:
            # Keys and cards an enforcement action blocks (the team's work product).
            acting = EnforcementAction.objects.filter(
                Q(key_ids__contains=[query]) | Q(payment_fingerprints__contains=[query])
            )
            action_cases |= Q(pk__in=acting.values("case_id"))
    visible_cases = case_list(user=user)
    if not reads_record:
        # Only the accounts of the cases shared with the user exist for them.
        shared = CaseAccount.objects.filter(case__in=visible_cases, account_id__in=list(matched))
        keep = set(shared.values_list("account_id", flat=True))
        matched = {pk: how for pk, how in matched.items() if pk in keep}
    cases = visible_cases.filter(
        Q(case_accounts__account_id__in=list(matched)) | action_cases
    ).distinct()
    result = SearchResult(
        query=query,
        read_as=read_as,
        cases=list(cases.order_by("-opened_at")[:RESULT_ROWS]),
        record_searched=reads_record,
    )
    if reads_record and matched:
        result.accounts_total = len(matched)
        shown = sorted(matched)[:RESULT_ROWS] if len(matched) > RESULT_ROWS else list(matched)
        accounts = Account.objects.filter(pk__in=shown).order_by("account_id")
        result.accounts = [(account, matched[account.pk]) for account in accounts]
        result.clusters = list(
            cluster_list(user=user)
            .filter(memberships__account_id__in=list(matched))
            .distinct()
            .order_by("-score", "pk")[:RESULT_ROWS]
        )
    return result


def _network(query: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The address or range the query names, None if it names none, SearchError if it
    looks like one and is not."""
    if not ADDRESS_LIKE.match(query):
        return None
    try:
        return ipaddress.ip_network(query, strict=False)
    except ValueError as exc:
        raise SearchError(
            f"“{query}” looks like an IP address but is not one: write an address as "
            "203.0.113.7 or 2001:db8::7, a range as 203.0.113.0/24."
        ) from exc


def _cases_blocking(network) -> set[int]:
    """Cases with an enforcement action that blocks a range overlapping `network` (the
    team's work product, as the key and card an action names)."""
    found = set()
    actions = EnforcementAction.objects.exclude(address_ranges=[])
    for case_id, ranges in actions.values_list("case_id", "address_ranges"):
        for text in ranges:
            try:
                block = ipaddress.ip_network(text, strict=False)
            except ValueError:
                continue  # the service refuses such a range; one kept by hand matches nothing
            if block.version == network.version and block.overlaps(network):
                found.add(case_id)
    return found


def _by_identifier(query: str, matched: dict[int, list[str]], *, reads_record: bool) -> None:
    """Accounts named by the query as an account id, request id, key or card (each by an
    index, so a search costs milliseconds at millions of requests)."""
    for pk in Account.objects.filter(account_id=query).values_list("pk", flat=True):
        matched[pk].append(BY_ACCOUNT_ID)
    used_by = UsageEvent.objects.filter(request_id=query).values("account_id")
    for pk in Account.objects.filter(account_id__in=used_by).values_list("pk", flat=True):
        matched[pk].append(BY_REQUEST_ID)
    if not reads_record:
        return
    for pk in ApiKey.objects.filter(key_id=query).values_list("account_id", flat=True):
        matched[pk].append(BY_KEY)
    # A key used by an account it was not issued to: detection's key-sharing links name it.
    sharing = Link.objects.filter(
        run__in=detection_runs_shown(), kind="key_sharing", evidence__api_key_id=query
    ).values_list("account_a_id", "account_b_id")
    for pair in sharing:
        for pk in pair:
            if BY_KEY not in matched[pk] and BY_KEY_SHARED not in matched[pk]:
                matched[pk].append(BY_KEY_SHARED)
    for pk in Account.objects.filter(payment_fingerprint=query).values_list("pk", flat=True):
        matched[pk].append(BY_CARD)
    earlier = AccountVersion.objects.filter(payment_fingerprint=query).values_list(
        "account_id", flat=True
    )
    for pk in set(earlier):
        if BY_CARD not in matched[pk]:
            matched[pk].append(BY_CARD_EARLIER)


def _by_address(network, matched: dict[int, list[str]]) -> None:
    """Accounts that signed up, assented or sent requests from the address (or range).

    Each table is read through its index on addresses (evidence migration 0191: a btree
    on inet answers `<<=` as a range); it is run only for input that is an address.
    """
    sql = (
        "SELECT a.id, %(signup)s FROM evidence_account a WHERE a.signup_ip <<= %(net)s::inet "
        "UNION SELECT v.account_id, %(signup)s FROM evidence_accountversion v "
        "  WHERE v.signup_ip <<= %(net)s::inet "
        "UNION SELECT r.account_id, %(assent)s FROM evidence_assentrecord r "
        "  WHERE r.ip <<= %(net)s::inet "
        "UNION SELECT a.id, %(usage)s FROM evidence_account a WHERE a.account_id IN ("
        "  SELECT DISTINCT u.account_id FROM evidence_usageevent u "
        "  WHERE u.source_ip <<= %(net)s::inet)"
    )
    params = {
        "net": str(network),
        "signup": BY_SIGNUP_IP,
        "assent": BY_ASSENT_IP,
        "usage": BY_USAGE_IP,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    order = [BY_SIGNUP_IP, BY_ASSENT_IP, BY_USAGE_IP]
    for pk, how in sorted(rows, key=lambda row: (row[0], order.index(row[1]))):
        matched[pk].append(how)
