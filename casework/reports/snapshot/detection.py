"""What the latest finished detection run said about the case's accounts, as the snapshot
freezes it: the groups the report draws by, findings, links and clusters in aggregate."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from casework.models import CaseAccount
from casework.reports.snapshot.values import fetch, fetch_pairs, iso
from evidence.detectors import link_kinds, signals
from evidence.detectors.census import detection_census
from evidence.models import Cluster, ClusterMember, Finding

# Summary tables in the PDF show this many detailed rows at most; the rest is in exhibits.
TOP_FINDINGS_PER_DETECTOR = 2
TOP_LINKS = 12


def case_groups(links: list[CaseAccount], run) -> tuple[list[dict], dict[str, str]]:
    """The groups the charts and chronology are drawn by: the detected clusters the case's
    accounts fall in (strongest first), and the rest; one group when nothing was detected."""
    account_ids = [link.account.account_id for link in links]
    group_of: dict[str, str] = {}
    groups: list[dict[str, Any]] = []
    if run is not None:
        rows = (
            ClusterMember.objects.filter(
                cluster__run=run, account_id__in=[link.account_id for link in links]
            )
            .order_by("-cluster__score", "cluster_id", "account__account_id")
            .values_list(
                "cluster_id",
                "cluster__score",
                "cluster__band",
                "cluster__size",
                "account__account_id",
            )
        )
        labels: dict[int, str] = {}
        for cluster_id, score, band, size, account_id in rows:
            if cluster_id not in labels:
                labels[cluster_id] = f"C{len(labels) + 1}"
                groups.append(
                    {
                        "key": labels[cluster_id],
                        "label": f"Cluster {labels[cluster_id]} ({band})",
                        "cluster_id": cluster_id,
                        "band": band,
                        "score": score,
                        "cluster_size": size,
                    }
                )
            group_of.setdefault(account_id, labels[cluster_id])
    rest = [a for a in account_ids if a not in group_of]
    if rest:
        key = "U" if groups else "A"
        label = "Not in a detected cluster" if groups else "Attributed accounts"
        groups.append({"key": key, "label": label, "cluster_id": None, "band": None})
        for account_id in rest:
            group_of[account_id] = key
    counts = defaultdict(int)
    for account_id in account_ids:
        counts[group_of[account_id]] += 1
    for group in groups:
        group["accounts"] = counts[group["key"]]
    return groups, group_of


# Grouping sets of the usage pass. GROUPING() sets a bit for each column a set leaves out,
# first argument most significant; these are the masks of the sets below.


def detection_summary(cursor, run, links) -> dict[str, Any]:
    """What the latest finished detection run said about the case's accounts."""
    registry = {detector.code: detector for detector in (*signals(), *link_kinds())}
    params = {"run": run.pk}
    summary = fetch(
        cursor,
        """
        SELECT f.detector, f.detector_version,
               count(*) AS measured, count(*) FILTER (WHERE f.fired) AS fired,
               -- One threshold only when every finding had the same (a token threshold
               -- differs per plan: findings.csv states each one beside its value).
               CASE WHEN min(f.threshold) = max(f.threshold)
                    AND count(f.threshold) = count(*) THEN min(f.threshold) END AS threshold,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value) AS median_value,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value)
                 FILTER (WHERE f.fired) AS median_fired_value,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'median')::float) AS median_cohort_median,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'percentile')::float) AS median_percentile,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'multiple_of_median')::float) AS median_multiple,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'percentile')::float)
                 FILTER (WHERE f.fired) AS median_fired_percentile,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'multiple_of_median')::float)
                 FILTER (WHERE f.fired) AS median_fired_multiple
        FROM evidence_finding f
        JOIN evidence_account a ON a.id = f.account_id
        JOIN rep_case_account c ON c.account_id = a.account_id
        WHERE f.run_id = %(run)s
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        params,
    )
    for row in summary:
        for key in (
            "threshold",
            "median_value",
            "median_fired_value",
            "median_cohort_median",
            "median_percentile",
            "median_multiple",
            "median_fired_percentile",
            "median_fired_multiple",
        ):
            if row[key] is not None:
                row[key] = round(float(row[key]), 6)
    top = fetch(
        cursor,
        """
        SELECT detector, account_id, value, baseline, explanation, sample_request_ids FROM (
          SELECT f.detector, a.account_id, f.value, f.baseline, f.explanation,
                 f.sample_request_ids,
                 row_number() OVER (PARTITION BY f.detector
                                    ORDER BY f.value DESC, a.account_id) AS rank
          FROM evidence_finding f
          JOIN evidence_account a ON a.id = f.account_id
          JOIN rep_case_account c ON c.account_id = a.account_id
          WHERE f.run_id = %(run)s AND f.fired
        ) x WHERE rank <= %(top)s ORDER BY detector, rank
        """,
        {**params, "top": TOP_FINDINGS_PER_DETECTOR},
    )
    fired_rows = fetch(
        cursor,
        """
        SELECT a.account_id, array_agg(f.detector ORDER BY f.detector) AS detectors
        FROM evidence_finding f
        JOIN evidence_account a ON a.id = f.account_id
        JOIN rep_case_account c ON c.account_id = a.account_id
        WHERE f.run_id = %(run)s AND f.fired GROUP BY 1
        """,
        params,
    )
    link_sql = """
        FROM evidence_link l
        JOIN evidence_account a ON a.id = l.account_a_id
        JOIN evidence_account b ON b.id = l.account_b_id
        LEFT JOIN rep_case_account ca ON ca.account_id = a.account_id
        LEFT JOIN rep_case_account cb ON cb.account_id = b.account_id
        WHERE l.run_id = %(run)s AND (ca.account_id IS NOT NULL OR cb.account_id IS NOT NULL)
    """
    link_summary = fetch(
        cursor,
        f"""
        SELECT l.kind, l.strength, l.declared,
               (ca.account_id IS NOT NULL AND cb.account_id IS NOT NULL) AS within_case,
               count(*) AS links
        {link_sql}
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """,
        params,
    )
    top_links = fetch(
        cursor,
        f"""
        SELECT l.kind, l.strength, l.declared, a.account_id AS account_a,
               b.account_id AS account_b, l.explanation, l.sample_request_ids,
               l.detector_version,
               ARRAY(SELECT jsonb_array_elements_text(CASE
                     WHEN jsonb_typeof(l.evidence->'routed_end_users') = 'array'
                     THEN l.evidence->'routed_end_users' ELSE '[]'::jsonb END)) AS end_users
        {link_sql} AND ca.account_id IS NOT NULL AND cb.account_id IS NOT NULL
        ORDER BY CASE l.strength WHEN 'hard' THEN 0 WHEN 'strong' THEN 1 ELSE 2 END,
                 l.kind, a.account_id, b.account_id
        LIMIT %(top)s
        """,
        {**params, "top": TOP_LINKS},
    )
    counts = fetch(
        cursor,
        f"""
        SELECT (SELECT count(*) FROM evidence_finding f
                JOIN evidence_account a ON a.id = f.account_id
                JOIN rep_case_account c ON c.account_id = a.account_id
                WHERE f.run_id = %(run)s) AS findings,
               (SELECT count(*) {link_sql}) AS links
        """,
        params,
    )[0]
    in_case = dict(
        fetch_pairs(
            cursor,
            """
            SELECT cm.cluster_id, count(*) FROM evidence_clustermember cm
            JOIN evidence_cluster cl ON cl.id = cm.cluster_id
            JOIN evidence_account a ON a.id = cm.account_id
            JOIN rep_case_account c ON c.account_id = a.account_id
            WHERE cl.run_id = %(run)s GROUP BY 1
            """,
            params,
        )
    )
    cluster_findings = defaultdict(list)
    for f in Finding.objects.filter(cluster_id__in=list(in_case)).order_by("detector", "pk"):
        cluster_findings[f.cluster_id].append(
            {
                "detector": f.detector,
                "value": f.value,
                "fired": f.fired,
                "explanation": f.explanation,
            }
        )
    clusters = [
        {
            "id": cluster.pk,
            "score": cluster.score,
            "band": cluster.band,
            "size": cluster.size,
            "members_in_case": in_case[cluster.pk],
            "explanation": cluster.explanation,
            "findings": cluster_findings[cluster.pk],
        }
        for cluster in Cluster.objects.filter(pk__in=list(in_case)).order_by("-score", "pk")
    ]
    used = sorted({row["detector"] for row in summary} | {row["kind"] for row in link_summary})
    detectors = []
    for code in used:
        detector = registry.get(code)
        described = detector.describe() if detector is not None else {"code": code}
        described["run_version"] = (run.detector_versions or {}).get(code)
        detectors.append(described)
    return {
        "run": {
            "id": run.pk,
            "started_at": iso(run.started_at),
            "finished_at": iso(run.finished_at),
            "window_start": iso(run.window_start),
            "window_end": iso(run.window_end),
            "digest": run.digest,
            "detector_versions": run.detector_versions,
            "accounts_active": (run.counts or {}).get("accounts_active"),
            # What the run measured on itself: base rates and confirmed labels.
            "error_rates": (run.counts or {}).get("error_rates"),
        },
        "findings": summary,
        "top_findings": [{**row, "value": round(float(row["value"]), 6)} for row in top],
        "fired_by_account": {row["account_id"]: row["detectors"] for row in fired_rows},
        "links": link_summary,
        "top_links": top_links,
        "findings_count": counts["findings"],
        "links_count": counts["links"],
        "clusters": clusters,
        "detectors": detectors,
        "census": detection_census(run),
    }
