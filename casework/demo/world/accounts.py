"""One account of the synthetic world: the row the provider's account export lists, and
the ground truth (role, group, kind) that only `labels.json` reveals."""

from __future__ import annotations

from dataclasses import dataclass, field

from casework.demo.world.window import WINDOW_MS, iso_seconds


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
            "created_at": iso_seconds(self.created_ms),
            "country": self.country,
            "billing_country": self.billing_country,
            "payment_fingerprint": self.payment_fingerprint,
            "signup_ip": self.signup_ip,
            "signup_user_agent": self.signup_user_agent,
            "plan": self.plan,
            "status": self.status,
            "reseller": self.reseller,
        }
