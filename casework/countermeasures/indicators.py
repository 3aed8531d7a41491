"""Indicator exchange with other providers: a cluster's indicators out as a STIX 2.1
bundle, a partner's bundle in and matched against the record.

What leaves: the address ranges the cluster's accounts used, and, only as HMAC-SHA256
under the key agreed with that partner, their email addresses, payment fingerprints,
request shapes and the sketches of their prompt families (the LSH band keys of the
openings, never a word of the prompts). A partner holding the same key can tell whether
its own customers share them; neither it nor anyone else holding the bundle can read them,
and a bundle made for one partner matches nothing under another partner's key. Every
bundle is kept as it left or arrived, and ledgered with whom it was exchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections import Counter, defaultdict
from pathlib import Path

import stix2
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from stix2.exceptions import STIXError
from stix2patterns.v21.pattern import Pattern

from casework.countermeasures.models import IndicatorExchange, IndicatorMatch, SharingPartner
from evidence.access import record_reader, user_roles
from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label, is_system_actor
from evidence.detectors.activity import REQUEST_SHAPE_SQL
from evidence.detectors.families import BANDS, SKETCH_SCHEME, opening_band_keys, prompt_families
from evidence.models import Account, AccountVersion, Cluster, Link

Kind = IndicatorMatch.Kind

TLP = {"green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}
TLP_BY_ID = {marking.id: name for name, marking in TLP.items()}

# The STIX object type each keyed hash is shared under (custom types, "x-" by the spec):
# the pattern carries the hash and the id of the key it was made under.
HASHED_TYPES = {
    Kind.EMAIL: "x-pacta-email",
    Kind.PAYMENT: "x-pacta-payment-method",
    Kind.REQUEST_SHAPE: "x-pacta-request-shape",
    Kind.PROMPT_FAMILY: "x-pacta-prompt-sketch",
}
KIND_BY_TYPE = {stix_type: kind for kind, stix_type in HASHED_TYPES.items()}
# The request shapes a bundle carries: the ones the cluster sent most.
SHAPES_SHARED = 50
# The prompt families a bundle carries (the most used), each sketched from its most used
# openings; the templates grouped into families are the cluster's most used.
FAMILIES_SHARED, OPENINGS_PER_FAMILY, TEMPLATES_READ = 50, 8, 2_000
_HEX_LITERAL = re.compile(r"'([0-9a-fA-F]{64})'")
# Addresses are shared as the network the detectors compare them by.
NETWORK_PREFIX = {4: 24, 6: 48}
SHARERS = frozenset({"admin", "counsel"})


class IndicatorError(ValueError):
    """An exchange that cannot be done as asked; the message names what is at fault."""


def _require(actor: Actor, *, sharing: bool) -> None:
    """Sharing leaves the provider: counsel or an admin decide it. Reading a partner's
    bundle against the record is for those who read the record."""
    if is_system_actor(actor):
        return
    if not hasattr(actor, "is_authenticated") or not record_reader(actor):
        raise PermissionDenied("only the provider's own people exchange indicators")
    if sharing and not (actor.is_superuser or user_roles(actor) & SHARERS):
        raise PermissionDenied("indicators are shared by counsel or an admin")


def sharing_key_id(key: str) -> str:
    """The id both sides compare to know they hold the same key (reveals nothing of it)."""
    return hashlib.sha256(bytes.fromhex(key)).hexdigest()[:16]


@transaction.atomic
def sharing_partner_add(*, actor: Actor, name: str, key: str | None = None) -> SharingPartner:
    """Register a partner, with a fresh 256-bit sharing key (`secrets`) or the one the
    partner generated and handed over. The key is handed to the partner out of band."""
    _require(actor, sharing=True)
    name = name.strip()
    if not name:
        raise IndicatorError("name: give the partner's name")
    if SharingPartner.objects.filter(name=name).exists():
        raise IndicatorError(f"name: a partner named {name!r} is already registered")
    key = (key or secrets.token_hex(32)).strip().lower()
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise IndicatorError("key: a sharing key is 64 hexadecimal digits (256 bits)")
    partner = SharingPartner.objects.create(
        name=name,
        sharing_key=key,
        key_id=sharing_key_id(key),
        created_by_label=actor_label(actor)[0],
        created_at=timezone.now(),
    )
    events.sharing_partner_added(actor=actor, partner=partner)
    return partner


def keyed_hashes(*, partner: SharingPartner, kind: str, values) -> list[str]:
    """HMAC-SHA256 of each normalised identifier under the partner's key; the kind is part
    of the message, so an email's hash never matches a card's."""
    secret = bytes.fromhex(partner.sharing_key)
    fold = str.lower if kind == Kind.EMAIL else str
    return [
        hmac.digest(secret, f"{kind}:{fold(value.strip())}".encode(), "sha256").hex()
        for value in values
    ]


def keyed_hash(*, partner: SharingPartner, kind: str, value: str) -> str:
    return keyed_hashes(partner=partner, kind=kind, values=[value])[0]


def band_hashes(*, partner: SharingPartner, band_keys: tuple[int, ...]) -> list[str]:
    """One opening's sketch as shared: each LSH band key, with its band's number, under
    the partner's key (the same bucket in another band is no evidence)."""
    values = [f"{band}:{key}" for band, key in enumerate(band_keys)]
    return keyed_hashes(partner=partner, kind=Kind.PROMPT_FAMILY, values=values)


def _network(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return str(ipaddress.ip_network(f"{ip}/{NETWORK_PREFIX[ip.version]}", strict=False))


def _window_sql(cluster: Cluster) -> tuple[str, list]:
    sql, params = "", []
    if cluster.run.window_start:
        sql, params = sql + " AND u.ts >= %s", [*params, cluster.run.window_start]
    if cluster.run.window_end:
        sql, params = sql + " AND u.ts <= %s", [*params, cluster.run.window_end]
    return sql, params


def cluster_indicators(*, cluster: Cluster) -> dict[str, list[str]]:
    """What identifies the cluster's operator, in clear (before hashing): the networks
    its accounts signed up and sent requests from (and those its links name), their
    emails and payment fingerprints (every version recorded), and its request shapes."""
    members = list(cluster.members.all())
    ids = [a.account_id for a in members]
    window, params = _window_sql(cluster)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT host(u.source_ip) FROM evidence_usageevent u "
            f"WHERE u.account_id = ANY(%s) AND u.source_ip IS NOT NULL{window}",
            [ids, *params],
        )
        addresses = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT {REQUEST_SHAPE_SQL} AS shape, count(*) FROM evidence_usageevent u "
            f"WHERE u.account_id = ANY(%s){window} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [ids, *params, SHAPES_SHARED],
        )
        shapes = [row[0] for row in cursor.fetchall() if row[0]]
    addresses |= {str(a.signup_ip) for a in members if a.signup_ip}
    networks = {_network(address) for address in addresses}
    links = Link.objects.filter(run=cluster.run, account_a__in=members, account_b__in=members)
    networks |= {
        str(ipaddress.ip_network(e["network"], strict=False))
        for e in links.values_list("evidence", flat=True)
        if isinstance(e, dict) and e.get("network")
    }
    families = _prompt_families(ids, window, params)
    cards = {a.payment_fingerprint for a in members} | set(
        AccountVersion.objects.filter(account__in=members).values_list(
            "payment_fingerprint", flat=True
        )
    )
    return {
        Kind.ADDRESS_RANGE: sorted(networks),
        Kind.EMAIL: sorted({a.email.strip().lower() for a in members if a.email.strip()}),
        Kind.PAYMENT: sorted(c for c in cards if c),
        Kind.REQUEST_SHAPE: shapes,
        Kind.PROMPT_FAMILY: families,
    }


def _prompt_families(ids: list[str], window: str, params: list) -> list[tuple[str, ...]]:
    """The cluster's families of near-duplicate prompt openings (`families`), most used
    first, each as its most used openings; a template with no near-duplicate is a family
    of its own (an operator's one fixed scaffold identifies it as well)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT u.prompt_template_key, count(*), min(u.prompt_excerpt COLLATE "C") '
            "FROM evidence_usageevent u WHERE u.account_id = ANY(%s) "
            f"AND u.prompt_template_key <> ''{window} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [ids, *params, TEMPLATES_READ],
        )
        rows = cursor.fetchall()
    # An opening without words has no sketch.
    sketched = opening_band_keys([excerpt for _, _, excerpt in rows])
    templates = [row for row, keys in zip(rows, sketched, strict=True) if keys]
    family_of = prompt_families([(template, excerpt) for template, _, excerpt in templates])
    grouped: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for template, uses, excerpt in templates:
        grouped[family_of.get(template, template)].append((uses, excerpt))
    families = sorted(grouped.values(), key=lambda rows: (-sum(u for u, _ in rows), rows[0][1]))
    return [
        tuple(excerpt for _, excerpt in rows[:OPENINGS_PER_FAMILY])
        for rows in families[:FAMILIES_SHARED]
    ]


def _pattern(*, partner: SharingPartner, kind: str, value) -> str:
    if kind == Kind.PROMPT_FAMILY:
        hashes = sorted(
            {
                digest
                for keys in opening_band_keys(list(value))
                for digest in band_hashes(partner=partner, band_keys=keys)
            }
        )
        stix_type = HASHED_TYPES[kind]
        listed = ", ".join(f"'{digest}'" for digest in hashes)
        return (
            f"[{stix_type}:band_hmac_sha256 IN ({listed}) AND {stix_type}:key_id = "
            f"'{partner.key_id}' AND {stix_type}:scheme = '{SKETCH_SCHEME}']"
        )
    if kind == Kind.ADDRESS_RANGE:
        version = ipaddress.ip_network(value).version
        return f"[ipv{version}-addr:value = '{value}']"
    stix_type = HASHED_TYPES[kind]
    digest = keyed_hash(partner=partner, kind=kind, value=value)
    return f"[{stix_type}:hmac_sha256 = '{digest}' AND {stix_type}:key_id = '{partner.key_id}']"


def indicators_bundle(*, cluster: Cluster, partner: SharingPartner, tlp: str) -> tuple[str, dict]:
    """The cluster's indicators for `partner` as a STIX 2.1 bundle (JSON), and the count
    of each kind."""
    if tlp not in TLP:
        raise IndicatorError(f"--tlp {tlp!r}: use {', '.join(TLP)}")
    marking = TLP[tlp]
    valid_from = cluster.run.finished_at or cluster.created_at
    described = {
        Kind.ADDRESS_RANGE: "Network the accounts signed up or sent requests from.",
        Kind.EMAIL: "Account email address",
        Kind.PAYMENT: "Payment method fingerprint",
        Kind.REQUEST_SHAPE: "Request shape (client, endpoint, parameters)",
        Kind.PROMPT_FAMILY: "Family of near-duplicate prompt openings, as the keyed MinHash "
        f"LSH band keys of its openings (scheme {SKETCH_SCHEME}; an opening of the partner's "
        "sharing a band is a paraphrase candidate)",
    }
    objects: list = [marking]
    counts: dict[str, int] = {}
    for kind, values in cluster_indicators(cluster=cluster).items():
        counts[kind] = len(values)
        for value in values:
            hashed = kind != Kind.ADDRESS_RANGE
            objects.append(
                stix2.Indicator(
                    name=f"{Kind(kind).label} of a distillation operator",
                    description=described[kind]
                    + (
                        f", as HMAC-SHA256 under the key shared with {partner.name} "
                        f"(key id {partner.key_id}): to match, not to read."
                        if hashed
                        else ""
                    ),
                    indicator_types=["anomalous-activity"],
                    pattern=_pattern(partner=partner, kind=kind, value=value),
                    pattern_type="stix",
                    valid_from=valid_from,
                    object_marking_refs=[marking],
                )
            )
    bundle = stix2.Bundle(objects=objects)
    return bundle.serialize(pretty=True), counts


def _record(*, actor: Actor, partner, direction, cluster, tlp, out: Path, text, counts):
    exchange = IndicatorExchange.objects.create(
        partner=partner,
        direction=direction,
        cluster=cluster,
        tlp=tlp,
        file_name=out.name,
        bundle_sha256=hashlib.sha256(text.encode()).hexdigest(),
        bundle=text,
        counts=counts,
        actor_label=actor_label(actor)[0],
        exchanged_at=timezone.now(),
    )
    events.indicators_exchanged(actor=actor, exchange=exchange)
    return exchange


def indicators_export(
    *, actor: Actor, cluster: Cluster, partner: SharingPartner, out: Path, tlp: str = "amber"
) -> IndicatorExchange:
    """Write the cluster's indicators for `partner` to `out` and record what was shared."""
    _require(actor, sharing=True)
    text, counts = indicators_bundle(cluster=cluster, partner=partner, tlp=tlp)
    with transaction.atomic():
        exchange = _record(
            actor=actor,
            partner=partner,
            direction=IndicatorExchange.Direction.EXPORT,
            cluster=cluster,
            tlp=tlp,
            out=out,
            text=text,
            counts=counts,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return exchange


def _literal(value: str) -> str:
    return value[1:-1].replace("\\'", "'") if value.startswith("'") else value


def _read_indicators(
    text: str, *, partner: SharingPartner, file_name: str
) -> tuple[list[tuple[str, str, str]], str]:
    """(indicator id, kind, value) of each indicator Pacta can match, and the bundle's
    TLP. A keyed hash made under another key than the partner's is an error, not a miss:
    silently matching nothing would read as "not seen at the partner"."""
    try:
        bundle = stix2.parse(text, allow_custom=True, version="2.1")
    except (STIXError, ValueError, KeyError, TypeError) as exc:
        raise IndicatorError(f"{file_name}: not a valid STIX 2.1 bundle: {exc}") from None
    if getattr(bundle, "type", "") != "bundle":
        raise IndicatorError(f"{file_name}: a STIX bundle was expected, found {bundle.type!r}")
    found, tlp = [], ""
    for obj in bundle.get("objects", []):
        if obj.type != "indicator" or obj.pattern_type != "stix":
            continue
        tlp = max(
            [tlp, *(TLP_BY_ID.get(ref, "") for ref in obj.get("object_marking_refs", []))],
            key=["", "green", "amber", "red"].index,
        )
        comparisons = Pattern(obj.pattern).inspect().comparisons
        for stix_type, terms in comparisons.items():
            values = {path[0]: _literal(value) for path, _op, value in terms if path}
            if stix_type == HASHED_TYPES[Kind.PROMPT_FAMILY]:
                sketch = _read_sketch(obj.id, terms, values, partner=partner, file_name=file_name)
                found.append((obj.id, Kind.PROMPT_FAMILY, sketch))
            elif stix_type in ("ipv4-addr", "ipv6-addr") and "value" in values:
                try:
                    network = ipaddress.ip_network(values["value"], strict=False)
                except ValueError:
                    raise IndicatorError(
                        f"{file_name}: indicator {obj.id}: {values['value']!r} is not an address"
                    ) from None
                found.append((obj.id, Kind.ADDRESS_RANGE, str(network)))
            elif stix_type in KIND_BY_TYPE and "hmac_sha256" in values:
                if values.get("key_id") != partner.key_id:
                    raise IndicatorError(
                        f"{file_name}: indicator {obj.id} was hashed under key id "
                        f"{values.get('key_id')!r}, but the key agreed with {partner.name} "
                        f"has id {partner.key_id}: import it as the partner it came from"
                    )
                found.append((obj.id, KIND_BY_TYPE[stix_type], values["hmac_sha256"].lower()))
    return found, tlp


def _read_sketch(indicator_id, terms, values, *, partner, file_name) -> frozenset[str]:
    """A prompt-family sketch's band hashes, refused when made under another key or with
    other sketch parameters (either would match nothing and read as "not seen")."""
    if values.get("key_id") != partner.key_id:
        raise IndicatorError(
            f"{file_name}: indicator {indicator_id} was hashed under key id "
            f"{values.get('key_id')!r}, but the key agreed with {partner.name} "
            f"has id {partner.key_id}: import it as the partner it came from"
        )
    if values.get("scheme") != SKETCH_SCHEME:
        raise IndicatorError(
            f"{file_name}: indicator {indicator_id} sketches prompts with scheme "
            f"{values.get('scheme')!r}; this Pacta compares {SKETCH_SCHEME!r} only"
        )
    hashes = frozenset(
        digest.lower()
        for path, _op, value in terms
        if path == ["band_hmac_sha256"]
        for digest in _HEX_LITERAL.findall(value)
    )
    if not hashes:
        raise IndicatorError(f"{file_name}: indicator {indicator_id} has no band hashes")
    return hashes


def _sketch_matches(*, partner: SharingPartner, sketches: dict[frozenset, str]) -> list[tuple]:
    """(account id, indicator id, "k/BANDS bands") for accounts whose prompt openings share
    at least one keyed band key with a partner's family sketch, with the most bands any of
    its openings shares (the share of bands: how close a paraphrase, not proof of one)."""
    if not sketches:
        return []
    indicators_of: dict[str, set[str]] = defaultdict(set)
    for hashes, indicator_id in sketches.items():
        for digest in hashes:
            indicators_of[digest].add(indicator_id)
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT u.prompt_template_key, min(u.prompt_excerpt COLLATE "C") '
            "FROM evidence_usageevent u WHERE u.prompt_template_key <> '' GROUP BY 1"
        )
        templates = cursor.fetchall()
        bands_of: dict[str, Counter] = {}
        sketched = opening_band_keys([excerpt for _, excerpt in templates])
        for (template, _), keys in zip(templates, sketched, strict=True):
            shared = Counter(
                indicator_id
                for digest in band_hashes(partner=partner, band_keys=keys)
                for indicator_id in indicators_of.get(digest, ())
            )
            if shared:
                bands_of[template] = shared
        if not bands_of:
            return []
        cursor.execute(
            "SELECT DISTINCT u.account_id, u.prompt_template_key FROM evidence_usageevent u "
            "WHERE u.prompt_template_key = ANY(%s)",
            [sorted(bands_of)],
        )
        used = cursor.fetchall()
    best: Counter = Counter()
    for account_id, template in used:
        for indicator_id, bands in bands_of[template].items():
            best[(account_id, indicator_id)] = max(best[(account_id, indicator_id)], bands)
    return [
        (account_id, indicator_id, f"{bands}/{BANDS} bands")
        for (account_id, indicator_id), bands in sorted(best.items())
    ]


def _hash_matches(*, partner, wanted: dict[str, str], kind: str, rows) -> list[tuple]:
    """(account id, indicator id, hash) for each (account id, clear value) whose keyed
    hash a partner's indicator names."""
    matches = []
    for account_id, value in rows:
        if value:
            digest = keyed_hash(partner=partner, kind=kind, value=value)
            if digest in wanted:
                matches.append((account_id, wanted[digest], digest))
    return matches


def _range_matches(ranges: dict[str, str]) -> list[tuple]:
    """(account id, indicator id, range) for accounts that signed up or sent requests
    from inside a partner's range (PostgreSQL's inet containment, `<<=`)."""
    if not ranges:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT a.account_id, r.net::text FROM unnest(%s::inet[]) AS r(net) "
            "JOIN evidence_account a ON a.signup_ip <<= r.net "
            "UNION SELECT DISTINCT u.account_id, r.net::text FROM unnest(%s::inet[]) AS r(net) "
            "JOIN evidence_usageevent u ON u.source_ip <<= r.net",
            [list(ranges), list(ranges)],
        )
        rows = cursor.fetchall()
    by_text = {str(ipaddress.ip_network(net)): ind for net, ind in ranges.items()}
    return [(account_id, by_text[str(ipaddress.ip_network(net))], net) for account_id, net in rows]


def _record_rows(kind: str) -> list[tuple[str, str]]:
    """(account id, clear value) of every account in the record, for one hashed kind."""
    if kind == Kind.EMAIL:
        return list(Account.objects.exclude(email="").values_list("account_id", "email"))
    if kind == Kind.PAYMENT:
        current = Account.objects.exclude(payment_fingerprint="").values_list(
            "account_id", "payment_fingerprint"
        )
        earlier = AccountVersion.objects.exclude(payment_fingerprint="").values_list(
            "account__account_id", "payment_fingerprint"
        )
        return sorted(set(current) | set(earlier))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT u.account_id, {REQUEST_SHAPE_SQL} FROM evidence_usageevent u"
        )
        return cursor.fetchall()


def indicators_import(*, actor: Actor, path: Path, partner: SharingPartner) -> IndicatorExchange:
    """Read a partner's bundle, match it against the whole record by the same keyed hashes
    and by address ranges, and record each match as a finding on the account."""
    _require(actor, sharing=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndicatorError(f"{path}: cannot be read: {exc}") from None
    indicators, tlp = _read_indicators(text, partner=partner, file_name=path.name)
    by_kind: dict[str, dict[str, str]] = defaultdict(dict)
    for indicator_id, kind, value in indicators:
        by_kind[kind].setdefault(value, indicator_id)
    found = _range_matches(by_kind[Kind.ADDRESS_RANGE])
    matched: list[tuple[str, str, str, str]] = [(a, i, v, Kind.ADDRESS_RANGE) for a, i, v in found]
    hits = _sketch_matches(partner=partner, sketches=by_kind[Kind.PROMPT_FAMILY])
    matched += [(a, i, v, Kind.PROMPT_FAMILY) for a, i, v in hits]
    for kind in [k for k in HASHED_TYPES if k != Kind.PROMPT_FAMILY]:
        if by_kind[kind]:
            rows = _record_rows(kind)
            hits = _hash_matches(partner=partner, wanted=by_kind[kind], kind=kind, rows=rows)
            matched += [(a, i, v, kind) for a, i, v in hits]
    counts = {kind: len(by_kind[kind]) for kind in Kind.values}
    counts["matches"] = len(matched)
    with transaction.atomic():
        exchange = _record(
            actor=actor,
            partner=partner,
            direction=IndicatorExchange.Direction.IMPORT,
            cluster=None,
            tlp=tlp,
            out=path,
            text=text,
            counts=counts,
        )
        accounts = dict(
            Account.objects.filter(account_id__in={m[0] for m in matched}).values_list(
                "account_id", "pk"
            )
        )
        now = timezone.now()
        IndicatorMatch.objects.bulk_create(
            [
                IndicatorMatch(
                    exchange=exchange,
                    account_id=accounts[account_id],
                    kind=kind,
                    indicator_id=indicator_id,
                    value=value,
                    matched_at=now,
                )
                for account_id, indicator_id, value, kind in matched
            ],
            ignore_conflicts=True,
        )
        kinds: dict[str, list[str]] = defaultdict(list)
        for account_id, _indicator, _value, kind in matched:
            if kind not in kinds[account_id]:
                kinds[account_id].append(kind)
        events.accounts_seen_at_partner(actor=actor, exchange=exchange, kinds_by_account=kinds)
    return exchange


def cluster_find(*, reference: str) -> Cluster:
    """A cluster by its number, or by its identity ("C-0007") in the latest run naming it."""
    clusters = Cluster.objects.select_related("run")
    if reference.isdigit():
        cluster = clusters.filter(pk=int(reference)).first()
    else:
        cluster = (
            clusters.filter(identity=reference, run__status="finished")
            .order_by("-run__finished_at", "-run__pk")
            .first()
        )
    if cluster is None:
        raise IndicatorError(f"CLUSTER_ID {reference}: no such cluster")
    return cluster
