"""Edition rules: one redaction policy per edition, applied by one `Redactor` to every text,
exhibit, attachment and metadata field the edition carries.

`counsel` shows everything. `regulator` minimises personal data: the identifiers the
provider's systems give a customer (account, API key, the end-user id a reseller sends)
become keyed pseudonyms, emails their domain, IP addresses their /24, payment fingerprints
are shortened and prompt text redacted; it is marked confidential commercial information.
`public` is for a committee's public record: aggregates and findings only, accounts named
by keyed pseudonyms, no email, address, fingerprint, organisation, key, end-user or request
id, and staff named by their role rather than their username.

Pseudonyms are an HMAC-SHA256 of the identifier under a secret kept per case and edition
(`casework.reports.pseudonyms`): stable within the case and edition, so a rebuilt report
says the same, and unlinkable across editions and cases, since nothing outside the key (no
sort order, no plain hash a reader could recompute from a guessed id) decides them. Every
rule applied is counted in a `RedactionLog`, which the regulator and public editions print
(section 14), so a reader knows what was withheld.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

COUNSEL, REGULATOR, PUBLIC = "counsel", "regulator", "public"
EDITIONS = (COUNSEL, REGULATOR, PUBLIC)

LEGENDS = {
    COUNSEL: "Privileged & confidential — attorney work product — counsel edition",
    REGULATOR: "Confidential commercial information — personal data minimised — regulator edition",
    PUBLIC: "Public record edition — aggregates and findings only, no personal data",
}
PRIVILEGE_OFF_COUNSEL = "Confidential — counsel edition"

REDACTED_PROMPT = "[prompt text redacted]"
REDACTED = "[redacted]"
FINGERPRINT_KEEP = 7
# Hex digits of the HMAC a pseudonym keeps: 48 bits, so the 24,000 accounts of the largest
# disclosed campaign collide with a probability of about one in a million (checked anyway).
PSEUDONYM_HEX = 12
KEY_BYTES = 32
# Ledger actors that are processes, not people: every other actor label is a username.
SYSTEM_PREFIX = "system"
STAFF_DEFAULT_ROLE = "staff"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")


class Kind(StrEnum):
    """Every kind of identifier a report may carry."""

    ACCOUNT = "account id"
    API_KEY = "API key id"
    END_USER = "end-user id"
    ORGANISATION = "organisation name"
    EMAIL = "email"
    IP = "IP address"
    FINGERPRINT = "payment fingerprint"
    REQUEST = "request id"
    STAFF = "staff username"
    PROMPT = "prompt text"


class Rule(StrEnum):
    KEEP = "kept"
    PSEUDONYM = "replaced by a keyed pseudonym"
    REDUCE = "reduced"  # email to domain, IP to network, fingerprint shortened
    ROLE = "replaced by the person's role"
    REMOVE = "removed"


_K, _R = Kind, Rule
POLICIES: dict[str, dict[Kind, Rule]] = {
    COUNSEL: dict.fromkeys(Kind, Rule.KEEP),
    REGULATOR: {
        _K.ACCOUNT: _R.PSEUDONYM, _K.API_KEY: _R.PSEUDONYM, _K.END_USER: _R.PSEUDONYM,
        _K.ORGANISATION: _R.KEEP, _K.EMAIL: _R.REDUCE, _K.IP: _R.REDUCE,
        _K.FINGERPRINT: _R.REDUCE, _K.REQUEST: _R.KEEP, _K.STAFF: _R.KEEP,
        _K.PROMPT: _R.REMOVE,
    },
    PUBLIC: {
        _K.ACCOUNT: _R.PSEUDONYM, _K.API_KEY: _R.REMOVE, _K.END_USER: _R.REMOVE,
        _K.ORGANISATION: _R.REMOVE, _K.EMAIL: _R.REMOVE, _K.IP: _R.REMOVE,
        _K.FINGERPRINT: _R.REMOVE, _K.REQUEST: _R.REMOVE, _K.STAFF: _R.ROLE,
        _K.PROMPT: _R.REMOVE,
    },
}  # fmt: skip
# How a reduced value is reduced, as the redaction log says it.
REDUCTIONS = {
    Kind.EMAIL: "reduced to domain",
    Kind.IP: "reduced to /24 (IPv6 /48)",
    Kind.FINGERPRINT: f"shortened to {FINGERPRINT_KEEP} characters",
}
PSEUDONYM_PREFIX = {Kind.ACCOUNT: "PA-", Kind.API_KEY: "PK-", Kind.END_USER: "PU-"}
# What free text says where it held an identifier this edition removes.
PLACEHOLDERS = {
    Kind.ACCOUNT: "[account]",
    Kind.API_KEY: "[API key]",
    Kind.END_USER: "[end user]",
    Kind.ORGANISATION: "[account name]",
    Kind.EMAIL: "[email]",
    Kind.IP: "[IP address]",
    Kind.FINGERPRINT: "[payment fingerprint]",
    Kind.REQUEST: "[request id]",
}


def policy(edition: str) -> dict[Kind, Rule]:
    if edition not in POLICIES:
        raise ValueError(f"unknown edition {edition!r}")
    return POLICIES[edition]


def withheld(edition: str) -> frozenset[Kind]:
    """The identifier kinds no file of the edition may carry as they are in the record."""
    return frozenset(k for k, rule in policy(edition).items() if rule != Rule.KEEP)


def pseudonymises(edition: str) -> bool:
    return Rule.PSEUDONYM in policy(edition).values()


def legend(edition: str, *, privileged: bool = True) -> str:
    if edition == COUNSEL and not privileged:
        return PRIVILEGE_OFF_COUNSEL
    return LEGENDS[edition]


def email_domain(email: str) -> str:
    """ "ops@bluefinch.example" -> "@bluefinch.example": the organisation, not the person."""
    if not email:
        return ""
    _, at, domain = email.rpartition("@")
    return f"@{domain}" if at else REDACTED


def ip_network(ip: str | None) -> str:
    """An IPv4 address as its /24, an IPv6 address as its /48: the network, not the host."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(str(ip))
    except ValueError:
        return REDACTED
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def fingerprint_short(fingerprint: str) -> str:
    """Enough of a payment fingerprint to see that two accounts share one, not to look it up."""
    if not fingerprint:
        return ""
    if len(fingerprint) <= FINGERPRINT_KEEP:
        return fingerprint[:2] + "…"
    return fingerprint[:FINGERPRINT_KEEP] + "…"


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer keys (RFC 2104), so that SQL can compute the same
    pseudonyms as `pseudonym` over rows that never pass through Python."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonym_message(kind: Kind, value: str) -> bytes:
    # The kind is part of the message: the same string as an account and as an end user
    # gets two unrelated pseudonyms.
    return f"{kind.name}\x1f{value}".encode()


def pseudonym(secret: bytes, kind: Kind, value: str) -> str:
    """`value` of `kind` as its keyed pseudonym ("PA-3f9a2c41be07" for an account)."""
    digest = hmac.new(secret, pseudonym_message(kind, value), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX[kind] + digest[:PSEUDONYM_HEX]


def is_staff(actor: str) -> bool:
    """Whether a ledger or collector label names a person (a username) rather than one of
    Pacta's own processes ("system:cli") or nobody."""
    return bool(actor) and not actor.startswith(SYSTEM_PREFIX) and actor != "anonymous"


@dataclass
class RedactionLog:
    """What was withheld, per field and rule, with how many values (section 14)."""

    edition: str
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def note(self, field_name: str, rule: str, *, where: str = "report text", count: int = 1):
        if count <= 0 or self.edition == COUNSEL:
            return
        key = (field_name, rule, where)
        self.counts[key] = self.counts.get(key, 0) + count

    def as_list(self) -> list[dict[str, object]]:
        return [
            {"field": f, "rule": r, "where": w, "values": n}
            for (f, r, w), n in sorted(self.counts.items())
        ]


class Redactor:
    """The policy of one edition, applied value by value, each application logged.

    `secret` is the case's key for this edition (`casework.reports.pseudonyms`); without one
    (a preview, a test of the sections) a throwaway key is drawn, so pseudonyms are still
    unlinkable but not reproducible. `staff` maps usernames to their roles.
    """

    def __init__(
        self,
        edition: str,
        log: RedactionLog | None = None,
        *,
        secret: bytes | None = None,
        staff: Mapping[str, str] | None = None,
    ) -> None:
        self.edition = edition
        self.policy = policy(edition)
        self.log = log or RedactionLog(edition)
        self.secret = secret or secrets.token_bytes(KEY_BYTES)
        self.staff = dict(staff or {})
        self.known: dict[str, str] = {}
        self._pseudonyms: dict[tuple[Kind, str], str] = {}
        self._sorted: list[str] = []
        self._sorted_for = 0
        self._patterns: list[tuple[re.Pattern, str]] = []
        self._patterns_for: dict[str, str] = {}

    @property
    def public(self) -> bool:
        return self.edition == PUBLIC

    @property
    def counsel(self) -> bool:
        return self.edition == COUNSEL

    def rule(self, kind: Kind) -> Rule:
        return self.policy[kind]

    def learn_kind(self, kind: Kind, values: Iterable[str | None]) -> None:
        """Register identifiers of `kind` for free text, replaced as the policy says."""
        rule = self.rule(kind)
        if rule == Rule.KEEP:
            return
        for value in values:
            if not value or len(str(value)) < 4:
                continue
            if rule == Rule.PSEUDONYM:
                self.known[str(value)] = self.pseudonym(kind, str(value))
            else:
                self.known.setdefault(str(value), PLACEHOLDERS.get(kind, REDACTED))

    def pseudonym(self, kind: Kind, value: str) -> str:
        key = (kind, value)
        if key not in self._pseudonyms:
            self._pseudonyms[key] = pseudonym(self.secret, kind, value)
        return self._pseudonyms[key]

    def identifier(self, kind: Kind, value: str | None, *, where: str = "report text") -> str:
        """An account, API key, end-user, organisation or request id as the edition shows it."""
        if not value:
            return ""
        value = str(value)
        rule = self.rule(kind)
        if rule == Rule.KEEP:
            return value
        self.log.note(kind.value, rule.value, where=where)
        if rule == Rule.PSEUDONYM:
            shown = self.pseudonym(kind, value)
            if len(value) >= 4:
                self.known[value] = shown
            return shown
        return ""

    def account(self, value: str | None, *, where: str = "report text") -> str:
        return self.identifier(Kind.ACCOUNT, value, where=where)

    def email(self, value: str, *, where: str = "report text") -> str:
        rule = self.rule(Kind.EMAIL)
        if rule == Rule.KEEP or not value:
            return value
        if rule == Rule.REDUCE:
            self.log.note(Kind.EMAIL.value, REDUCTIONS[Kind.EMAIL], where=where)
            return email_domain(value)
        self.log.note(Kind.EMAIL.value, Rule.REMOVE.value, where=where)
        return ""

    def ip(self, value: str | None, *, where: str = "report text") -> str:
        if not value:
            return ""
        rule = self.rule(Kind.IP)
        if rule == Rule.KEEP:
            return str(value)
        if rule == Rule.REDUCE:
            self.log.note(Kind.IP.value, REDUCTIONS[Kind.IP], where=where)
            return ip_network(value)
        self.log.note(Kind.IP.value, Rule.REMOVE.value, where=where)
        return ""

    def address_range(self, value: str) -> str:
        """A CIDR range (an enforcement action's target): a range narrower than a /24 (IPv6
        /48) names hosts, so it is widened to that network where the edition reduces IP
        addresses, and left out where it removes them."""
        rule = self.rule(Kind.IP)
        if rule == Rule.KEEP or not value:
            return value
        if rule == Rule.REMOVE:
            self.log.note(Kind.IP.value, Rule.REMOVE.value)
            return ""
        try:
            network = ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            return REDACTED
        widest = 24 if network.version == 4 else 48
        if network.prefixlen <= widest:
            return str(network)
        self.log.note(Kind.IP.value, "address range widened to /24 (IPv6 /48)")
        return str(network.supernet(new_prefix=widest))

    def fingerprint(self, value: str, *, where: str = "report text") -> str:
        rule = self.rule(Kind.FINGERPRINT)
        if rule == Rule.KEEP or not value:
            return value
        if rule == Rule.REDUCE:
            self.log.note(Kind.FINGERPRINT.value, REDUCTIONS[Kind.FINGERPRINT], where=where)
            return fingerprint_short(value)
        self.log.note(Kind.FINGERPRINT.value, Rule.REMOVE.value, where=where)
        return ""

    def prompt(self, value: str) -> str:
        if self.rule(Kind.PROMPT) == Rule.KEEP or not value:
            return value
        self.log.note("prompt text", "redacted")
        return REDACTED_PROMPT

    def staff_member(self, actor: str, *, where: str = "report text") -> str:
        """Who acted, as the edition names them: a username, or in the public edition the
        person's role ("counsel"); Pacta's own processes keep their names."""
        if self.rule(Kind.STAFF) == Rule.KEEP or not is_staff(actor):
            return actor
        self.log.note(Kind.STAFF.value, Rule.ROLE.value, where=where)
        return self.staff.get(actor, STAFF_DEFAULT_ROLE)

    def text(self, value: str, *, field_name: str = "free text") -> str:
        """Free text (an explanation, a theory): known identifiers, staff usernames and any
        email or IPv4 address in it replaced by what this edition may show."""
        if self.counsel or not value:
            return value
        out = value
        for known in self._known_longest_first():
            if known in out:
                self.log.note(field_name, "identifier replaced")
                out = out.replace(known, self.known[known])
        if self.rule(Kind.STAFF) != Rule.KEEP:
            for pattern, role in self._staff_patterns():
                out, count = pattern.subn(role, out)
                self.log.note(field_name, "staff username replaced", count=count)

        def email(match: re.Match) -> str:
            self.log.note(field_name, "email replaced")
            if self.rule(Kind.EMAIL) == Rule.REDUCE:
                return f"[email]@{match.group(1)}"
            return "[email]"

        def ipv4(match: re.Match) -> str:
            self.log.note(field_name, "IP address replaced")
            if self.rule(Kind.IP) == Rule.REDUCE:
                return ip_network(match.group(0))
            return "[IP address]"

        out = _EMAIL.sub(email, out)
        return _IPV4.sub(ipv4, out)

    def _known_longest_first(self) -> list[str]:
        # Longest first, so "acct_10" is replaced before "acct_1" could split it; sorted
        # again only when something new was learnt (text() runs once per exhibit row).
        if self._sorted_for != len(self.known):
            self._sorted = sorted(self.known, key=len, reverse=True)
            self._sorted_for = len(self.known)
        return self._sorted

    def _staff_patterns(self) -> list[tuple[re.Pattern, str]]:
        # A username as a word of its own: "m.okafor" in "by m.okafor," but not in an email
        # or in "m.okafor.bak".
        if self._patterns_for != self.staff:
            self._patterns = [
                (re.compile(rf"(?<![\w@.]){re.escape(name)}(?![\w@]|\.\w)"), role)
                for name, role in sorted(self.staff.items(), key=lambda x: -len(x[0]))
            ]
            self._patterns_for = dict(self.staff)
        return self._patterns

    def structure(self, value, *, field_name: str):
        """A JSON value (a link's evidence) with every key and string read as free text, and
        the values of fields that hold identifiers redacted as their kind."""
        if isinstance(value, dict):
            return {
                self.text(str(k), field_name=field_name): self._field(str(k), v, field_name)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.structure(v, field_name=field_name) for v in value]
        if isinstance(value, str):
            return self.text(value, field_name=field_name)
        return value

    def _field(self, key: str, value, field_name: str):
        kind = FIELD_KINDS.get(key)
        if kind is None or self.rule(kind) == Rule.KEEP:
            return self.structure(value, field_name=field_name)
        values = value if isinstance(value, list) else [value]
        shown = [self._one(kind, v) if isinstance(v, str) else v for v in values]
        return shown if isinstance(value, list) else shown[0]

    def _one(self, kind: Kind, value: str) -> str:
        where = "link evidence"
        if kind == Kind.EMAIL:
            return self.email(value, where=where)
        if kind == Kind.IP:
            return self.ip(value, where=where)
        if kind == Kind.FINGERPRINT:
            return self.fingerprint(value, where=where)
        return self.identifier(kind, value, where=where)


# Fields of a detector's evidence (`Link.evidence`) that hold one identifier, or a list.
FIELD_KINDS = {
    "router": Kind.ACCOUNT,
    "first_seen_on": Kind.ACCOUNT,
    "accounts": Kind.ACCOUNT,
    "api_key_id": Kind.API_KEY,
    "routed_end_users": Kind.END_USER,
    "end_user": Kind.END_USER,
    "end_users": Kind.END_USER,
    "payment_fingerprint": Kind.FINGERPRINT,
    "shared_ips": Kind.IP,
    "ip": Kind.IP,
    "email": Kind.EMAIL,
    "emails": Kind.EMAIL,
    "declared_organisation": Kind.ORGANISATION,
    "org_name": Kind.ORGANISATION,
}
