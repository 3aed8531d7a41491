"""`production_verify`: is this folder the production Pacta built and signed, unchanged?

Two things are checked, and every difference is named: the manifest's detached signature
(the manifest unchanged since it was signed, the signer chaining to a trust root, the
timestamp valid when there is one), and every file of the folder against the manifest
(each listed file present with its SHA-256 and size, no file the manifest does not list).
It reads only the folder: the other side can run it without Pacta's database.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from casework.production.build import MANIFEST, SIGNATURE
from casework.production.natives import file_sha256
from casework.reports.signing import detached_signature_validate, trust_roots


def production_verify(folder: Path, *, roots: list[str] | None = None) -> dict[str, Any]:
    folder = Path(folder)
    differences: list[dict[str, str]] = []

    def differ(kind: str, path: str, detail: str) -> None:
        differences.append({"kind": kind, "path": path, "detail": detail})

    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    signature: dict[str, Any] | None = None
    if not manifest_path.is_file():
        differ("missing", MANIFEST, "the production's manifest is missing")
    elif not signature_path.is_file():
        differ("signature", SIGNATURE, "the manifest's signature is missing")
    else:
        signature = detached_signature_validate(
            source=manifest_path, signature=signature_path, roots=trust_roots(roots)
        )
        if not signature["ok"]:
            kind = "manifest" if signature.get("intact") is False else "signature"
            differ(kind, MANIFEST if kind == "manifest" else SIGNATURE, signature["reason"])

    listed: dict[str, dict[str, Any]] = {}
    manifest = None
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            listed = {f["path"]: f for f in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            differ("manifest", MANIFEST, f"the manifest cannot be read: {exc}")

    present = {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() or path.is_symlink()
    } - {MANIFEST, SIGNATURE}
    for name, entry in sorted(listed.items()):
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            differ("manifest", name, "the manifest lists a path outside the production")
            continue
        if name not in present:
            differ("missing", name, "listed in the manifest, not in the folder")
            continue
        path = folder / name
        size = path.stat().st_size
        sha256 = file_sha256(path)
        if sha256 != entry.get("sha256") or size != entry.get("size"):
            differ(
                "changed",
                name,
                f"SHA-256 {sha256} ({size:,} bytes), the manifest's {entry.get('sha256')} "
                f"({entry.get('size'):,} bytes)",
            )
    for name in sorted(present - set(listed)):
        if manifest is not None:
            differ("added", name, "in the folder, not listed in the manifest")
    return {
        "ok": not differences,
        "folder": str(folder),
        "files_checked": len(listed),
        "signature": signature,
        "differences": differences,
        "production": (manifest or {}).get("production"),
    }
