"""The record's models, one module an idea, re-exported here for callers.

`record` holds the business records (Terms, accounts, keys, assent, usage, ingest batches,
evidence files, the ledger); `custody` the acts that preserve them (holds, retention
purges, verification runs, timestamps); `detection` the analysis (model catalogue, runs,
findings, links, clusters); `labels` what investigators confirmed about accounts;
`probes` the evidence of use (probe transcripts of a rival model, canaries and their serves);
`screens` the screens accounts saw when they accepted the Terms; `work` long work started
from the UI or the API (ingest jobs) and how far it has gone;
`billing` what the provider charged each account and was paid (invoices, payments, refunds).
Django registers every model through this package.
"""

from evidence.models.billing import BillingRecord
from evidence.models.custody import (
    PreservationHold,
    PurgedUsageRow,
    RetentionPurge,
    TrustedTimestamp,
    VerificationRun,
)
from evidence.models.detection import (
    Band,
    Cluster,
    ClusterMember,
    DetectionRun,
    Finding,
    Link,
    ModelRelease,
    PlanLimit,
)
from evidence.models.labels import ConfirmedLabel
from evidence.models.probes import (
    Canary,
    CanaryAssignment,
    CanaryMatch,
    CanaryServe,
    CanarySet,
    ProbeExchange,
)
from evidence.models.record import (
    Account,
    AccountVersion,
    ApiKey,
    AssentRecord,
    Clause,
    ClauseCategory,
    ClauseKind,
    EvidenceItem,
    IngestBatch,
    LedgerEntry,
    TermsDocument,
    TermsVersion,
    UsageEvent,
)
from evidence.models.screens import AssentScreen
from evidence.models.work import DetectionProgress, IngestJob

__all__ = (
    "Account",
    "AccountVersion",
    "ApiKey",
    "AssentRecord",
    "AssentScreen",
    "Band",
    "BillingRecord",
    "Canary",
    "CanaryAssignment",
    "CanaryMatch",
    "CanaryServe",
    "CanarySet",
    "Clause",
    "ClauseCategory",
    "ClauseKind",
    "Cluster",
    "ClusterMember",
    "ConfirmedLabel",
    "DetectionProgress",
    "DetectionRun",
    "EvidenceItem",
    "Finding",
    "IngestBatch",
    "IngestJob",
    "LedgerEntry",
    "Link",
    "ModelRelease",
    "PlanLimit",
    "PreservationHold",
    "ProbeExchange",
    "PurgedUsageRow",
    "RetentionPurge",
    "TermsDocument",
    "TermsVersion",
    "TrustedTimestamp",
    "UsageEvent",
    "VerificationRun",
)
