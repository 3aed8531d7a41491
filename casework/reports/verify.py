"""`report_verify`: is this PDF the report Pacta signed, with the exhibits it recorded?

Four things are checked, each named in the result: the signature (intact, chaining to a
trusted root, covering every byte of the file), every attachment against the manifest
embedded beside it (nothing missing, nothing added, each SHA-256 equal), the manifest
against the ledger (the certified ledger entry still has its hash, the chain up to it
recomputes, each exhibit and the PDF itself were recorded when the report was stored), and
the record itself against the ledger, now (what `verify_evidence` checks).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

from casework.reports.signing import signature_validate, trust_roots_chosen
from evidence.custody.ledger import ledger_verify
from evidence.custody.verification import record_check
from evidence.models import LedgerEntry

CHUNK = 4 * 1024 * 1024


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream_sha256(stream) -> tuple[str, int, bytes | None]:
    """SHA-256 and size of an embedded file's decoded bytes, inflated chunk by chunk (a
    usage exhibit can be far larger decoded than it is in the file). Small files are
    returned too, so the manifest can be read."""
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else (
        [str(filters)] if filters is not None else []
    )  # fmt: skip
    digest = hashlib.sha256()
    if names == ["/FlateDecode"]:
        raw = stream.encoded_data
        inflater = zlib.decompressobj()
        size, kept = 0, []
        for start in range(0, len(raw), CHUNK):
            part = inflater.decompress(raw[start : start + CHUNK])
            digest.update(part)
            size += len(part)
            if size <= CHUNK:
                kept.append(part)
        tail = inflater.flush()
        digest.update(tail)
        size += len(tail)
        kept.append(tail)
        return digest.hexdigest(), size, b"".join(kept) if size <= CHUNK else None
    data = stream.data
    return hashlib.sha256(data).hexdigest(), len(data), data if len(data) <= CHUNK else None


def _attachments(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, bytes], list[str]]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    found, contents, problems = {}, {}, []
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        root = reader.root
        af_array = root.raw_get("/AF").get_object() if "/AF" in root else []
        af = {ref.idnum for ref in list.__iter__(af_array) if hasattr(ref, "idnum")}
        # pyHanko's dict.get() returns references unresolved; indexing resolves them.
        names = root["/Names"] if "/Names" in root else {}  # noqa: SIM401
        tree = names["/EmbeddedFiles"] if "/EmbeddedFiles" in names else {}  # noqa: SIM401
        array = tree["/Names"] if "/Names" in tree else []  # noqa: SIM401
        for i in range(0, len(array), 2):
            reference = array.raw_get(i + 1)
            spec = reference.get_object()
            name = str(spec.get("/UF", spec.get("/F")))
            stream = spec["/EF"]["/F"].get_object()
            sha, size, data = _stream_sha256(stream)
            found[name] = {
                "sha256": sha,
                "size": size,
                "relationship": str(spec.get("/AFRelationship", "")).lstrip("/"),
                "associated": getattr(reference, "idnum", None) in af,
            }
            if data is not None:
                contents[name] = data
        if not array:
            problems.append("the PDF carries no embedded files")
    return found, contents, problems


def report_verify(path: Path, *, trust_roots: list[str] | None = None) -> dict[str, Any]:
    path = Path(path)
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    file_sha = _sha256_file(path)
    roots, trusted_on = trust_roots_chosen(trust_roots)
    signature = signature_validate(path, roots=roots)
    check(
        "signature",
        signature["ok"],
        f"signed by {signature.get('signer')}, covering the whole file"
        + (f", timestamped {signature['timestamp']['at']}" if signature.get("timestamp") else "")
        + f"; trusted on {trusted_on}"
        if signature["ok"]
        else signature.get("reason", "invalid"),
    )
    try:
        attachments, contents, problems = _attachments(path)
    except Exception as exc:
        attachments, contents, problems = {}, {}, [f"cannot read the attachments: {exc}"]
    manifest = None
    if "manifest.json" in contents:
        try:
            manifest = json.loads(contents["manifest.json"])
        except ValueError as exc:
            problems.append(f"manifest.json is not JSON: {exc}")
    else:
        problems.append("no manifest.json among the attachments")
    if manifest is not None:
        listed = {e["file_name"]: e for e in manifest.get("exhibits", [])}
        for name, entry in sorted(listed.items()):
            found = attachments.get(name)
            if found is None:
                problems.append(f"{name} is in the manifest but not attached")
            elif found["sha256"] != entry["sha256"]:
                problems.append(
                    f"{name}: SHA-256 {found['sha256']} does not match the manifest's "
                    f"{entry['sha256']}"
                )
        for name in sorted(set(attachments) - set(listed) - {"manifest.json"}):
            problems.append(f"{name} is attached but not listed in the manifest")
        for name, found in attachments.items():
            if not found["associated"] or not found["relationship"]:
                problems.append(f"{name} is not an associated file with a relationship")
        snapshot = attachments.get("snapshot.json")
        if snapshot and snapshot["sha256"] != manifest.get("snapshot_sha256"):
            problems.append("snapshot.json does not hash to the manifest's snapshot SHA-256")
    check(
        "attachments against the manifest",
        not problems,
        "; ".join(problems)
        if problems
        else f"{len(attachments) - 1} exhibits match the manifest's SHA-256",
    )
    ledger = _ledger_checks(manifest, attachments, file_sha) if manifest else None
    if ledger is None:
        check("manifest against the ledger", False, "no manifest to check")
    else:
        check("manifest against the ledger", ledger["ok"], ledger["detail"])
    record = _record_check()
    check("record against the ledger", record["ok"], record["detail"])
    return {
        "ok": all(c["ok"] for c in checks),
        "path": str(path),
        "sha256": file_sha,
        "checks": checks,
        "signature": signature,
        "manifest": manifest,
        "attachments": attachments,
        "record": {k: v for k, v in record.items() if k != "detail"},
    }


def _record_check() -> dict[str, Any]:
    """The record the report certifies, verified now as `verify_evidence` verifies it.

    A signed report is only as good as the record behind it: a row rewritten (with its
    hashes) after the last verification run would otherwise ride into a report whose
    signature, attachments and ledger entry all check. Nothing is recorded: checking a
    report reads the record, it does not add to it.
    """
    result = record_check()
    failures = result.failures
    if result.ok:
        detail = (
            f"the ledger's {result.checked['ledger_entries']} entries recompute, and every "
            "usage row, batch, account profile, assent record, Terms text and evidence file "
            "matches the value the ledger recorded for it"
        )
    else:
        named = "; ".join(f"{f['object']} {f['id']}: {f['reason']}" for f in failures.items[:5])
        more = failures.total - min(5, len(failures.items))
        detail = (
            f"the record fails verification now ({failures.total} failures): the report "
            f"certifies a record that no longer matches its ledger. {named}"
            + (f"; and {more} more (run verify_evidence)" if more else "")
        )
    return {
        "ok": result.ok,
        "detail": detail,
        "failures": failures.items[:20],
        "failures_total": failures.total,
    }


def _ledger_checks(manifest: dict, attachments: dict, file_sha: str) -> dict[str, Any]:
    problems = []
    position = manifest.get("ledger") or {}
    seq, expected = position.get("seq"), position.get("hash")
    if seq:
        entry = LedgerEntry.objects.filter(seq=seq).values_list("entry_hash", flat=True).first()
        if entry is None:
            problems.append(f"the ledger has no entry {seq}")
        elif entry != expected:
            problems.append(f"ledger entry {seq} now hashes to {entry}, not {expected}")
        chain = ledger_verify()
        broken = [f for f in chain.failures if f["seq"] <= seq]
        if broken:
            problems.append(
                f"the ledger chain breaks at entry {broken[0]['seq']}: {broken[0]['reason']}"
                + (f" (and at {len(broken) - 1} more entries)" if len(broken) > 1 else "")
            )
    collected = set(
        LedgerEntry.objects.filter(
            action="collected",
            object_type="evidence_item",
            object_sha256__in=[a["sha256"] for a in attachments.values()] + [file_sha],
        ).values_list("object_sha256", flat=True)
    )
    for name, found in sorted(attachments.items()):
        if found["sha256"] not in collected:
            problems.append(f"{name} was never recorded in the ledger")
    if file_sha not in collected:
        problems.append("this PDF's SHA-256 was never recorded in the ledger")
    detail = (
        "; ".join(problems)
        if problems
        else f"ledger entry {seq} matches; the PDF and its {len(attachments)} attachments "
        "were recorded when the report was stored"
    )
    return {"ok": not problems, "detail": detail}
