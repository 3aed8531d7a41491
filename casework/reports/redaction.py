"""Edition rules: what each edition may show of a person or an account, as small pure functions.

`counsel` shows everything. `regulator` minimises personal data (emails to their domain,
IP addresses to their /24, payment fingerprints shortened, prompt text redacted) and is
marked confidential commercial information. `public` is for a committee's public record:
aggregates and findings only, with no account ids, emails, addresses, fingerprints or
prompt text anywhere. Every rule applied is counted in a `RedactionLog`, which the
regulator and public editions print (section 13), so a reader knows what was withheld.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")


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


def pseudonym(number: int) -> str:
    """How the public edition names an account: by its place in the report, not its id."""
    return f"Account {number:04d}"


@dataclass
class RedactionLog:
    """What was withheld, per field and rule, with how many values (section 13)."""

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
    """The rules of one edition, applied field by field, each application logged."""

    def __init__(self, edition: str, log: RedactionLog | None = None) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown edition {edition!r}")
        self.edition = edition
        self.log = log or RedactionLog(edition)
        self.known: dict[str, str] = {}

    @property
    def public(self) -> bool:
        return self.edition == PUBLIC

    @property
    def counsel(self) -> bool:
        return self.edition == COUNSEL

    def learn(self, values: Iterable[str | None], replacement: str) -> None:
        """Register identifiers that free text (explanations, theories) must not repeat."""
        for value in values:
            if value and len(str(value)) >= 4:
                self.known.setdefault(str(value), replacement)

    def email(self, value: str) -> str:
        if self.counsel or not value:
            return value
        if self.public:
            self.log.note("email", "removed")
            return ""
        self.log.note("email", "reduced to domain")
        return email_domain(value)

    def ip(self, value: str | None) -> str:
        if not value:
            return ""
        if self.counsel:
            return str(value)
        if self.public:
            self.log.note("IP address", "removed")
            return ""
        self.log.note("IP address", "reduced to /24 (IPv6 /48)")
        return ip_network(value)

    def fingerprint(self, value: str) -> str:
        if self.counsel or not value:
            return value
        if self.public:
            self.log.note("payment fingerprint", "removed")
            return ""
        self.log.note("payment fingerprint", f"shortened to {FINGERPRINT_KEEP} characters")
        return fingerprint_short(value)

    def prompt(self, value: str) -> str:
        if self.counsel or not value:
            return value
        self.log.note("prompt text", "redacted")
        return REDACTED_PROMPT

    def text(self, value: str, *, field_name: str = "free text") -> str:
        """Free text (an explanation, a theory): known identifiers and any email or IPv4
        address in it replaced by what this edition may show."""
        if self.counsel or not value:
            return value
        out = value
        for known in sorted(self.known, key=len, reverse=True):
            if known in out:
                self.log.note(field_name, "identifier replaced")
                out = out.replace(known, self.known[known])

        def email(match: re.Match) -> str:
            self.log.note(field_name, "email replaced")
            return "[email]" if self.public else f"[email]@{match.group(1)}"

        def ipv4(match: re.Match) -> str:
            self.log.note(field_name, "IP address replaced")
            return "[IP address]" if self.public else ip_network(match.group(0))

        out = _EMAIL.sub(email, out)
        return _IPV4.sub(ipv4, out)
