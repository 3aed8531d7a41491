"""The report's sections as data: the snapshot read through one edition's redactions.

Everything a template prints comes from here, and everything here comes from the
snapshot (never from a live query), so the PDF says exactly what was hashed. Tables are
capped (`PACTA_REPORT_TABLE_ROWS`): a case of a million requests and five thousand
accounts still prints a few dozen pages, and each capped table names the exhibit that
holds all of its rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from typing import Any

from casework.reports.redaction import (
    COUNSEL,
    PUBLIC,
    REGULATOR,
    Redactor,
    legend,
    pseudonym,
)

EDITION_LABELS = {
    COUNSEL: "Counsel edition",
    REGULATOR: "Regulator edition",
    PUBLIC: "Public record edition",
}
CATEGORY_LABELS = {
    "competing_models": "Competing models",
    "output_extraction": "Output extraction",
    "limit_circumvention": "Circumvention of limits",
    "key_transfer": "Key transfer / resale",
    "account_sharing": "Account sharing",
    "region": "Region",
    "other": "Other",
}
BASIS_LABELS = {
    "cluster": "Detected cluster",
    "payment": "Shared payment method",
    "admission": "Respondent's admission or records",
    "investigation": "Investigator's finding",
    "other": "Other",
}
# Link kinds that show traffic routed through intermediaries (resellers, proxies, keys).
ROUTING_KINDS = ("proxy_routing", "reseller", "end_user", "key_sharing", "shared_key")
SUMMARY_CLUSTERS = 5
MILLION = Decimal(1_000_000)
CENT = Decimal("0.01")


def n(value) -> str:
    """A count as a reader reads it: 1,234,567."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"


def day(iso: str | None) -> str:
    return iso[:10] if iso else "—"


def moment(iso: str | None) -> str:
    """An instant as the report prints it: 2026-01-05 10:00 UTC."""
    if not iso:
        return "—"
    value = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def ratio(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


class Capped(list):
    """A table's shown rows, remembering how many there were in all."""

    def __init__(self, rows, *, limit: int, total: int | None = None):
        if total is None:
            rows = list(rows)
            total = len(rows)
        # Only the shown rows are built (and redacted, and logged as redacted).
        super().__init__(islice(rows, limit))
        self.total = total

    @property
    def truncated(self) -> bool:
        return self.total > len(self)


def report_context(
    *, data: dict[str, Any], edition: str, redactor: Redactor, table_rows: int
) -> dict[str, Any]:
    """The sections of the report for one edition (see the module docstring)."""
    builder = _Builder(data, edition, redactor, table_rows)
    return builder.build()


class _Builder:
    def __init__(self, data, edition, redactor: Redactor, table_rows: int) -> None:
        self.data = data
        self.edition = edition
        self.r = redactor
        self.rows = table_rows
        accounts = data["accounts"]
        # Public edition: accounts named by their place in the report (by group, then id).
        ordered = sorted(accounts, key=lambda a: (a["group"], a["account_id"]))
        self.names = {a["account_id"]: pseudonym(i) for i, a in enumerate(ordered, start=1)}
        self.groups = {g["key"]: g for g in data["groups"]}
        if not redactor.counsel:
            redactor.learn(
                (a["account_id"] for a in accounts),
                "[account]" if redactor.public else "[account id]",
            )
            if redactor.public:
                for a in accounts:
                    redactor.known[a["account_id"]] = self.names[a["account_id"]]
            redactor.learn((a["email"] for a in accounts), "[email]")
            redactor.learn((a["payment_fingerprint"] for a in accounts), "[payment fingerprint]")
            redactor.learn((a["signup_ip"] for a in accounts), "[IP address]")
            redactor.learn((r["ip"] for a in accounts for r in a["assent"]), "[IP address]")
            if redactor.public:
                redactor.learn((a["org_name"] for a in accounts), "[account name]")
            detection = data["detection"] or {}
            for row in [*detection.get("top_findings", []), *detection.get("top_links", [])]:
                redactor.learn(row.get("sample_request_ids") or [], "[request id]")
        self.conduct = (data["usage"]["totals"]["first_ts"], data["usage"]["totals"]["last_ts"])

    def account_name(self, account_id: str) -> str:
        return self.names[account_id] if self.r.public else account_id

    def build(self) -> dict[str, Any]:
        data = self.data
        case = data["case"]
        damages = self.damages()
        context = {
            "meta": {
                "reference": case["reference"],
                "title": self.r.text(case["title"], field_name="case title"),
                "respondent": case["respondent"],
                "edition": self.edition,
                "edition_label": EDITION_LABELS[self.edition],
                "legend": legend(self.edition, privileged=case["privileged"]),
                "snapshot_schema": data["schema"],
                "ledger": data["ledger"],
                "case_status": case["status"],
                "opened_at": moment(case["opened_at"]),
                "window": self.window(),
                "public": self.r.public,
                "counsel": self.r.counsel,
            },
            "parties": self.parties(),
            "formation": self.formation(),
            "clauses": self.clauses(),
            "chronology": self.chronology(),
            "methodology": self.methodology(),
            "damages": damages,
            "preservation": self.preservation(),
        }
        context["summary"] = self.summary(context)
        return context

    # --- helpers ----------------------------------------------------------------------

    def window(self) -> str:
        case = self.data["case"]
        if case["window_start"] or case["window_end"]:
            return f"{day(case['window_start'])} to {day(case['window_end'])}"
        return "the whole record"

    def detector_names(self) -> dict[str, str]:
        detection = self.data["detection"] or {}
        return {d["code"]: d.get("name") or d["code"] for d in detection.get("detectors", [])}

    # --- 2. summary -------------------------------------------------------------------

    def summary(self, context) -> dict[str, Any]:
        data = self.data
        totals = data["usage"]["totals"]
        accounts = data["accounts"]
        detection = data["detection"]
        figures = [
            ("Accounts attributed to the respondent", n(len(accounts))),
            ("Conduct period (first to last request)",
             f"{day(totals['first_ts'])} to {day(totals['last_ts'])}"),
            ("API requests", n(totals["requests"])),
            ("Input tokens", n(totals["input_tokens"])),
            ("Output tokens received", n(totals["output_tokens"])),
            ("Value at list prices (Terms 13.3)", context["damages"]["total_display"]),
            ("Accounts with no assent record", n(context["formation"]["gaps_total"])),
            ("Clauses alleged to be breached", n(len(data["allegations"]))),
        ]  # fmt: skip
        statements = []
        bases = Counter(a["attribution"]["basis"] for a in accounts)
        if accounts:
            statements.append(
                f"{n(len(accounts))} accounts are attributed to {data['case']['respondent']} ("
                + "; ".join(
                    f"{BASIS_LABELS.get(b, b).lower()}: {n(c)}" for b, c in sorted(bases.items())
                )
                + ")."
            )
        else:
            statements.append("No account has been attributed to the respondent yet.")
        if totals["requests"]:
            statements.append(
                f"Between {day(totals['first_ts'])} and {day(totals['last_ts'])} they sent "
                f"{n(totals['requests'])} API requests and received {n(totals['output_tokens'])} "
                f"output tokens, worth {context['damages']['total_display']} at the provider's "
                "list prices."
            )
        else:
            statements.append("The record holds no usage by the attributed accounts.")
        findings = []
        names = self.detector_names()
        if detection:
            fired_accounts = sum(1 for a in accounts if a["signals"])
            statements.append(
                f"Detection run {detection['run']['id']} (finished "
                f"{moment(detection['run']['finished_at'])}) measured the accounts against "
                f"their plan cohorts: {n(fired_accounts)} of {n(len(accounts))} fired at least "
                "one signal."
            )
            for f in detection["findings"]:
                findings.append(
                    {
                        "detector": names.get(f["detector"], f["detector"]),
                        "code": f["detector"],
                        "fired": n(f["fired"]),
                        "measured": n(f["measured"]),
                        "median_value": ratio(f["median_fired_value"] or f["median_value"]),
                        "cohort_median": ratio(f["median_cohort_median"]),
                        "percentile": ratio(f["median_percentile"]),
                    }
                )
            for cluster in detection["clusters"][:SUMMARY_CLUSTERS]:
                statements.append(
                    f"Detected cluster {self._group_key(cluster['id'])} ({cluster['band']}, "
                    f"score {cluster['score']:.0f}): {n(cluster['members_in_case'])} of its "
                    f"{n(cluster['size'])} accounts are in this case."
                )
            if len(detection["clusters"]) > SUMMARY_CLUSTERS:
                statements.append(
                    f"The accounts fall in {n(len(detection['clusters']))} detected clusters in "
                    "all (section 3)."
                )
        else:
            statements.append(
                "No detection run has been recorded: the report states no findings, and the "
                "attribution rests on the bases listed in section 3."
            )
        gaps = context["formation"]["gaps_total"]
        if gaps:
            statements.append(
                f"{n(gaps)} attributed accounts have no record of accepting any Terms version; "
                "they are listed as a gap in section 4, not left out."
            )
        verification = data["verification"]
        if verification is None:
            statements.append("No verification of the record has been run (see section 9).")
        elif verification["ok"]:
            statements.append(
                f"The record verified intact on {moment(verification['finished_at'])} "
                f"(verification run {verification['id']})."
            )
        else:
            statements.append(
                f"Verification run {verification['id']} found "
                f"{n(verification['failures_total'])} failures (see section 9)."
            )
        return {"figures": figures, "statements": statements, "findings": findings}

    def _group_key(self, cluster_id) -> str:
        for group in self.data["groups"]:
            if group["cluster_id"] == cluster_id:
                return group["key"]
        return "—"

    # --- 3. parties -------------------------------------------------------------------

    def parties(self) -> dict[str, Any]:
        data = self.data
        accounts = data["accounts"]
        detection = data["detection"] or {}
        groups = []
        for g in data["groups"]:
            groups.append(
                {
                    "key": g["key"],
                    "label": g["label"],
                    "band": g.get("band") or "—",
                    "score": ratio(g["score"]) if g.get("score") is not None else "—",
                    "accounts": n(g["accounts"]),
                    "cluster_size": n(g.get("cluster_size")) if g.get("cluster_size") else "—",
                }
            )
        top = sorted(accounts, key=lambda a: (-a["usage"]["output_tokens"], a["account_id"]))
        if self.r.public:
            top = []  # the public edition counts accounts; it never lists them
        table = Capped(
            (
                {
                    "account": self.account_name(a["account_id"]),
                    "org_name": a["org_name"],
                    "email": self.r.email(a["email"]),
                    "fingerprint": self.r.fingerprint(a["payment_fingerprint"]),
                    "signup_ip": self.r.ip(a["signup_ip"]),
                    "country": a["country"] or "—",
                    "plan": a["plan"] or "—",
                    "status": a["status"] or "—",
                    "created": day(a["created_at"]),
                    "group": a["group"],
                    "basis": BASIS_LABELS.get(a["attribution"]["basis"], a["attribution"]["basis"]),
                    "requests": n(a["usage"]["requests"]),
                    "output_tokens": n(a["usage"]["output_tokens"]),
                    "signals": len(a["signals"]),
                }
                for a in top[: self.rows]
            ),
            limit=self.rows,
            total=len(accounts),
        )
        counts = {}
        for dimension, key in (
            ("Attribution basis", lambda a: BASIS_LABELS.get(a["attribution"]["basis"], "—")),
            ("Plan", lambda a: a["plan"] or "(not recorded)"),
            ("Status", lambda a: a["status"] or "(not recorded)"),
            ("Country", lambda a: a["country"] or "(not recorded)"),
        ):
            counter = Counter(key(a) for a in accounts)
            counts[dimension] = [{"value": v, "accounts": n(c)} for v, c in counter.most_common(8)]
        names = self.detector_names()
        links = [
            {
                "kind": names.get(row["kind"], row["kind"]),
                "strength": row["strength"],
                "declared": "yes" if row["declared"] else "no",
                "scope": "between attributed accounts"
                if row["within_case"]
                else "to accounts outside the case",
                "links": n(row["links"]),
            }
            for row in detection.get("links", [])
        ]
        top_links = []
        if not self.r.public:
            for row in detection.get("top_links", []):
                top_links.append(
                    {
                        "a": row["account_a"],
                        "b": row["account_b"],
                        "kind": names.get(row["kind"], row["kind"]),
                        "strength": row["strength"],
                        "explanation": self.r.text(row["explanation"], field_name="link text"),
                    }
                )
        resellers = [a for a in accounts if a["reseller"]]
        routing_links = sum(
            row["links"]
            for row in detection.get("links", [])
            if any(word in row["kind"] for word in ROUTING_KINDS)
        )
        totals = data["usage"]["totals"]
        routing = {
            "resellers": n(len(resellers)),
            "reseller_names": []
            if self.r.public
            else [self.account_name(a["account_id"]) for a in resellers[: self.rows]],
            "with_end_user": n(totals["with_end_user"]),
            "with_end_user_share": share(totals["with_end_user"], totals["requests"]),
            "routing_links": n(routing_links),
        }
        return {
            "groups": Capped(groups, limit=self.rows),
            "accounts": table,
            "accounts_total": len(accounts),
            "counts": counts,
            "links": links,
            "links_total": detection.get("links_count", 0),
            "top_links": top_links,
            "routing": routing,
            "detection": bool(detection),
        }

    # --- 4. formation -----------------------------------------------------------------

    def in_force(self, versions: list[dict]) -> list[dict]:
        """Versions of one document in force at some moment of the conduct period."""
        first, last = (day(t) if t else None for t in self.conduct)
        ordered = sorted(versions, key=lambda v: v["effective_date"])
        result = []
        for i, version in enumerate(ordered):
            start = version["effective_date"]
            end = ordered[i + 1]["effective_date"] if i + 1 < len(ordered) else None
            if first is None:
                continue
            if start <= last and (end is None or end > first):
                result.append({**version, "until": end})
        return result

    def formation(self) -> dict[str, Any]:
        data = self.data
        accounts = data["accounts"]
        versions = [
            {
                "document": t["document"],
                "title": t["title"],
                "version": t["version"],
                "effective_date": t["effective_date"],
                "sha256": t["text_sha256"],
                "clauses": n(t["clauses"]),
            }
            for t in data["terms"]
        ]
        by_doc = defaultdict(list)
        for version in versions:
            by_doc[version["document"]].append(version)
        in_force = {doc: self.in_force(vs) for doc, vs in by_doc.items()}
        summary = defaultdict(
            lambda: {
                "accounts": set(),
                "records": 0,
                "first": None,
                "last": None,
                "networks": set(),
            }
        )
        for a in accounts:
            for r in a["assent"]:
                entry = summary[(r["terms"], r["version"], r["method"])]
                entry["accounts"].add(a["account_id"])
                entry["records"] += 1
                entry["first"] = min(filter(None, (entry["first"], r["accepted_at"])))
                entry["last"] = max(filter(None, (entry["last"], r["accepted_at"])))
                if r["ip"]:
                    entry["networks"].add(r["ip"].rsplit(".", 1)[0])
        assent = [
            {
                "document": doc,
                "version": version,
                "method": method,
                "accounts": n(len(e["accounts"])),
                "records": n(e["records"]),
                "first": moment(e["first"]),
                "last": moment(e["last"]),
                "networks": n(len(e["networks"])),
            }
            for (doc, version, method), e in sorted(summary.items())
        ]
        gaps = [a for a in accounts if not a["assent"]]
        gap_rows = Capped(
            (
                {
                    "account": self.account_name(a["account_id"]),
                    "created": day(a["created_at"]),
                    "status": a["status"] or "—",
                    "requests": n(a["usage"]["requests"]),
                    "note": "profile known only from usage" if a["seen_only_in_usage"] else "",
                }
                for a in gaps
            ),
            limit=0 if self.r.public else self.rows,
            total=len(gaps),
        )
        # Did each account accept the version in force when the conduct began?
        current = {}
        for doc, vs in in_force.items():
            if vs:
                current[doc] = vs[-1]["version"]
        accepted_current = sum(
            1 for a in accounts if any(current.get(r["terms"]) == r["version"] for r in a["assent"])
        )
        samples = Capped(
            (
                {
                    "account": self.account_name(a["account_id"]),
                    "version": f"{r['terms']} {r['version']}",
                    "accepted_at": moment(r["accepted_at"]),
                    "method": r["method"],
                    "ip": self.r.ip(r["ip"]),
                    "flow": r["flow_id"] or "—",
                    "screenshot": "yes" if r["screenshot_sha256"] else "no",
                }
                for a in sorted(accounts, key=lambda a: a["account_id"])
                for r in a["assent"]
            ),
            limit=0 if self.r.public else self.rows,
            total=sum(len(a["assent"]) for a in accounts),
        )
        return {
            "versions": versions,
            "in_force": [
                {**v, "until": v["until"] or "still in force"}
                for vs in in_force.values()
                for v in vs
            ],
            "assent": assent,
            "gaps": gap_rows,
            "gaps_total": len(gaps),
            "accepted_current": n(accepted_current),
            "accounts_total": n(len(accounts)),
            "samples": samples,
        }

    # --- 5. clauses -------------------------------------------------------------------

    def clauses(self) -> list[dict[str, Any]]:
        detection = self.data["detection"] or {}
        summary = {f["detector"]: f for f in detection.get("findings", [])}
        link_counts = Counter()
        for row in detection.get("links", []):
            link_counts[row["kind"]] += row["links"]
        top = defaultdict(list)
        for row in detection.get("top_findings", []):
            top[row["detector"]].append(row)
        result = []
        for allegation in self.data["allegations"]:
            clause = allegation["clause"]
            supporting = []
            for detector in detection.get("detectors", []):
                if clause["category"] not in detector.get("categories", []):
                    continue
                code = detector["code"]
                if detector.get("kind") == "link":
                    count = link_counts.get(code, 0)
                    if count:
                        supporting.append(
                            {"name": detector["name"], "what": f"{n(count)} links", "examples": []}
                        )
                    continue
                f = summary.get(code)
                if not f or not f["fired"]:
                    continue
                supporting.append(
                    {
                        "name": detector["name"],
                        "what": f"fired on {n(f['fired'])} of {n(f['measured'])} accounts measured",
                        "examples": [
                            {
                                "account": self.account_name(row["account_id"]),
                                "text": self.r.text(row["explanation"], field_name="finding"),
                            }
                            for row in top.get(code, [])
                        ],
                    }
                )
            versions = []
            by_version = {v["version"]: v for v in allegation["clause_versions"]}
            for v in self.in_force(allegation["document_versions"]):
                match = by_version.get(v["version"])
                versions.append(
                    {
                        "version": v["version"],
                        "effective_date": v["effective_date"],
                        "until": v["until"] or "still in force",
                        "state": (
                            "the same text"
                            if match and match["same_text"]
                            else "different text"
                            if match
                            else "no clause at this path"
                        ),
                    }
                )
            result.append(
                {
                    "path": clause["path"],
                    "heading": clause["heading"],
                    "text": clause["text"],
                    "sha256": clause["text_sha256"],
                    "document_title": clause["document_title"],
                    "document": clause["document"],
                    "version": clause["version"],
                    "effective_date": clause["effective_date"],
                    "category": CATEGORY_LABELS.get(clause["category"], clause["category"]),
                    "theory": self.r.text(allegation["theory"], field_name="allegation"),
                    "supporting": supporting,
                    "versions": versions,
                    "files": [
                        {
                            "name": self.r.text(f["file_name"], field_name="file name"),
                            "sha256": f["sha256"],
                            "kind": f["kind"],
                        }
                        for f in allegation["supporting_evidence"]
                    ],
                }
            )
        return result

    # --- 6. chronology ----------------------------------------------------------------

    def chronology(self) -> dict[str, Any]:
        data = self.data
        daily = sorted(data["usage"]["daily"], key=lambda r: (r["group"], r["day"], r["model"]))
        weeks: dict[tuple[str, str], dict[str, Any]] = {}
        for row_number, row in enumerate(daily, start=1):
            date = dt.date.fromisoformat(row["day"])
            monday = (date - dt.timedelta(days=date.weekday())).isoformat()
            entry = weeks.setdefault(
                (row["group"], monday),
                {"requests": 0, "output_tokens": 0, "throttled": 0, "rows": [], "models": set()},
            )
            entry["requests"] += row["requests"]
            entry["output_tokens"] += row["output_tokens"]
            entry["throttled"] += row["throttled"]
            entry["rows"].append(row_number)
            entry["models"].add(row["model"])
        table = [
            {
                "group": group,
                "week": monday,
                "requests": n(e["requests"]),
                "output_tokens": n(e["output_tokens"]),
                "throttled": n(e["throttled"]),
                "rows": f"{min(e['rows'])} to {max(e['rows'])}",
                "models": len(e["models"]),
            }
            for (group, monday), e in sorted(weeks.items())
        ]
        events = self.events()
        return {
            "weeks": Capped(table, limit=max(self.rows, 40)),
            "events": events,
            "groups": [{"key": g["key"], "label": g["label"]} for g in data["groups"]],
        }

    def events(self) -> Capped:
        data = self.data
        events = []
        first, last = self.conduct
        for a in data["accounts"]:
            if a["status"] == "suspended" and a["usage"]["last_ts"]:
                who = "an attributed account" if self.r.public else a["account_id"]
                events.append(
                    (a["usage"]["last_ts"], "enforcement",
                     f"Suspension of {who} (status 'suspended'; its last request in the record)")
                )  # fmt: skip
        throttled_days = sorted({r["day"] for r in data["usage"]["daily"] if r["throttled"]})
        if throttled_days:
            total = sum(r["throttled"] for r in data["usage"]["daily"])
            events.append(
                (throttled_days[0] + "T00:00:00+00:00", "enforcement",
                 f"Rate limits enforced (HTTP 429): {n(total)} requests refused on "
                 f"{len(throttled_days)} days, first on {throttled_days[0]}")
            )  # fmt: skip
        case = data["case"]
        if case["legal_hold_since"]:
            events.append((case["legal_hold_since"], "case", "Legal hold placed on the case"))
        events.append((case["opened_at"], "case", "Case opened"))
        for terms in data["terms"]:
            events.append(
                (terms["effective_date"] + "T00:00:00+00:00", "contract",
                 f"{terms['title']} version {terms['version']} takes effect")
            )  # fmt: skip
        for price in data["prices"]:
            if first and last and first <= price["released_at"] <= last:
                events.append((price["released_at"], "context", f"Model {price['model']} released"))
        events.sort()
        rows = [{"at": moment(at), "kind": kind, "text": text} for at, kind, text in events]
        return Capped(rows, limit=self.rows)

    # --- 7. methodology ---------------------------------------------------------------

    def methodology(self) -> dict[str, Any]:
        detection = self.data["detection"]
        if not detection:
            return {"run": None, "detectors": []}
        detectors = []
        for d in detection["detectors"]:
            method = d.get("methodology") or {}
            detectors.append(
                {
                    "name": d.get("name") or d["code"],
                    "code": d["code"],
                    "kind": "attribution link" if d.get("kind") == "link" else "conduct signal",
                    "version": d.get("run_version") or d.get("version") or "—",
                    "categories": ", ".join(
                        CATEGORY_LABELS.get(c, c) for c in d.get("categories", [])
                    ),
                    "definition": method.get("definition", "Not described by the detector."),
                    "threshold": method.get("threshold", "—"),
                    "false_positives": method.get("false_positives", "—"),
                    "error_rate": method.get("error_rate", "Not measured."),
                }
            )
        run = detection["run"]
        return {
            "run": {
                "id": run["id"],
                "finished_at": moment(run["finished_at"]),
                "window": f"{moment(run['window_start'])} to {moment(run['window_end'])}",
                "digest": run["digest"],
                "accounts_active": n(run["accounts_active"]),
                "versions": ", ".join(
                    f"{k} v{v}" for k, v in sorted((run["detector_versions"] or {}).items())
                ),
            },
            "detectors": detectors,
        }

    # --- 8. damages -------------------------------------------------------------------

    def damages(self) -> dict[str, Any]:
        data = self.data
        prices = {p["model"]: p for p in data["prices"]}
        rows, total, missing = [], Decimal(0), []
        for row in data["usage"]["by_model"]:
            price = prices.get(row["model"])
            if price is None:
                missing.append(row["model"])
                value_in = value_out = None
            else:
                value_in = Decimal(row["input_tokens"]) / MILLION * Decimal(price["input_per_mtok"])
                value_out = (
                    Decimal(row["output_tokens"]) / MILLION * Decimal(price["output_per_mtok"])
                )
                total += value_in + value_out
            rows.append(
                {
                    "model": row["model"],
                    "requests": n(row["requests"]),
                    "input_tokens": n(row["input_tokens"]),
                    "output_tokens": n(row["output_tokens"]),
                    "input_price": f"${price['input_per_mtok']}" if price else "—",
                    "output_price": f"${price['output_per_mtok']}" if price else "—",
                    "value": money(value_in + value_out) if price else "no list price",
                }
            )
        limits = data["limits"]
        totals = data["usage"]["totals"]
        return {
            "prices": [
                {
                    "model": p["model"],
                    "released": day(p["released_at"]),
                    "input": f"${p['input_per_mtok']}",
                    "output": f"${p['output_per_mtok']}",
                    "source": p["source_file"] or "—",
                    "sha256": p["source_sha256"] or "—",
                }
                for p in data["prices"]
            ],
            "by_model": rows,
            "missing": missing,
            "total": str(total.quantize(CENT)),
            "total_display": money(total) if data["prices"] else "not computed (no list prices)",
            "throttled": n(totals["throttled"]),
            "limits": {
                **{k: (n(v) if isinstance(v, int) else v) for k, v in limits.items()
                   if k not in ("plan_limits", "plans", "peak_minute")},
                "peak_minute": moment(limits["peak_minute"]),
                "plan_limits": [
                    {"plan": p["plan"], "rpm": n(p["requests_per_minute"]),
                     "tpm": n(p["tokens_per_minute"])}
                    for p in limits["plan_limits"]
                ],
                "known": bool(limits["plan_limits"]),
            },
        }  # fmt: skip

    # --- 9. preservation --------------------------------------------------------------

    def preservation(self) -> dict[str, Any]:
        data = self.data
        batches = sorted(data["batches"], key=lambda b: (-b["case_usage_rows"], b["id"]))
        batch_rows = Capped(
            (
                {
                    "id": b["id"],
                    "kind": b["kind"],
                    "file_name": self.r.text(b["file_name"], field_name="file name"),
                    "sha256": b["raw_sha256"],
                    "received": moment(b["started_at"]),
                    "collector": b["collector"],
                    "accepted": n(b["accepted"]),
                    "rejected": n(b["rejected"]),
                    "case_rows": n(b["case_usage_rows"]),
                }
                for b in batches
            ),
            limit=self.rows,
        )
        kinds = Counter(b["kind"] for b in data["batches"])
        verification = data["verification"]
        if verification:
            verification = {
                **verification,
                "finished_at": moment(verification["finished_at"]),
                "seconds": verification["checked"].get("seconds", "—"),
                "checked": [
                    {"what": k.replace("_", " "), "count": n(v) if isinstance(v, int) else v}
                    for k, v in sorted(verification["checked"].items())
                    if k != "seconds"
                ],
                "failures": [
                    {
                        "object": f.get("object"),
                        "id": self.r.text(str(f.get("id"))),
                        "reason": f.get("reason"),
                    }
                    for f in verification["failures"]
                ],
            }
        custody = data["custody"]
        return {
            "batches": batch_rows,
            "batch_kinds": ", ".join(f"{k}: {c}" for k, c in sorted(kinds.items())),
            "verification": verification,
            "legal_hold": data["case"]["legal_hold"],
            "legal_hold_since": moment(data["case"]["legal_hold_since"]),
            "case_history": [
                {**e, "at": moment(e["at"])} for e in custody["case"]
            ],
            "accounts_linked": n(custody["accounts_linked"]),
            "linked_seq": (custody["accounts_linked_first_seq"],
                           custody["accounts_linked_last_seq"]),
            "files": [
                {
                    "name": self.r.text(f["file_name"], field_name="file name"),
                    "sha256": f["sha256"],
                    "history": [{**h, "at": moment(h["at"])} for h in f["history"]],
                }
                for f in custody["files"]
            ],
        }  # fmt: skip
