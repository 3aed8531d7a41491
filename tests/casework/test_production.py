"""Productions: a filing copy a court accepts, natives the other side's platform loads.

Each test states what a clerk, opposing counsel or their eDiscovery vendor relies on: the
filing copy carries no attachment (CM/ECF refuses those), is Letter, archival (PDF/A-2
with consistent metadata), tagged, clean, and within the per-file limit with its page
numbers running on across volumes; every native, load-file row and manifest entry names a
file that is there with that hash; the signed manifest chains to the organisation's root;
and `verify_production` names each change made to a production after it was built.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from casework.production import production_build, production_verify
from casework.production.natives import (
    ControlNumbers,
    NativeSource,
    file_sha256,
    load_file_read,
    natives_write,
)
from evidence.models import EvidenceItem, LedgerEntry
from tests.casework.test_reports import _everything, _identifiers, _text, case, detected  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

LETTER = [0, 0, 612, 792]
A4 = [0, 0, 595, 842]


@pytest.fixture
def production(case, counsel_user, tmp_path) -> Path:  # noqa: F811
    """The counsel edition's production of the case, as built with the defaults."""
    folder = tmp_path / "production"
    production_build(actor=counsel_user, case=case, out_dir=folder)
    return folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _flat(text: str) -> str:
    """Text without white space: hashes wrap across lines in narrow table cells."""
    return re.sub(r"\s+", "", text)


def _page_numbers(path: Path) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"Page (\d+) of (\d+)", _text(path))]


# --- the filing copy ----------------------------------------------------------------------


def test_filing_copy_has_no_embedded_file_and_is_letter_pdfa2_tagged_and_clean(production):
    volumes = _manifest(production)["filing"]
    assert len(volumes) == 1  # a small case fits the default 35 MB in one file
    path = production / volumes[0]["path"]
    with pikepdf.open(path) as pdf:
        assert "/AF" not in pdf.Root
        assert "/EmbeddedFiles" not in pdf.Root.get("/Names", {})
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                assert obj.get("/Type") not in ("/Filespec", "/EmbeddedFile"), obj
        sizes = [[round(float(v)) for v in page.MediaBox] for page in pdf.pages]
        assert sizes == [LETTER] * len(pdf.pages)
        with pdf.open_metadata() as xmp:
            assert xmp["pdfaid:part"] == "2"
            assert xmp["pdfaid:conformance"] == "B"
            # A PDF/A validator fails a file whose Info and XMP disagree.
            assert str(pdf.docinfo["/Producer"]) == xmp["pdf:Producer"]
            assert str(pdf.docinfo["/Title"]) == xmp["dc:title"]
        assert pdf.Root.OutputIntents[0].S == "/GTS_PDFA1"
        assert "/StructTreeRoot" in pdf.Root  # tagged for screen readers
        assert pdf.Root.MarkInfo.Marked
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(line[-17:].split()[0] == "yes" for line in fonts), fonts


def test_filing_copy_cites_every_exhibit_by_control_number_and_hash(production):
    manifest = _manifest(production)
    text = _text(production / manifest["filing"][0]["path"])
    flat = _flat(text)
    for native in manifest["natives"]:
        assert native["control"] in text, native["file_name"]
        assert native["whole_sha256"] in flat, native["file_name"]
    assert "None on this filing copy" in text  # unsigned: a court's stamp breaks nothing
    assert "rides inside this PDF/A-3" not in text


def test_filing_volumes_stay_within_the_limit_and_page_numbers_run_on(
    case,  # noqa: F811
    counsel_user,
    tmp_path,
):
    folder = tmp_path / "small-files"
    production_build(actor=counsel_user, case=case, out_dir=folder, max_file_mb=0.1)
    volumes = _manifest(folder)["filing"]
    assert len(volumes) > 1
    numbers = []
    for volume in volumes:
        path = folder / volume["path"]
        assert path.stat().st_size <= 100_000
        assert subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode == 0
        numbers += _page_numbers(path)
    total = volumes[0]["pages_total"]
    # Every page is numbered once, in order, across volumes: "Page 31 of 64" in volume 2.
    assert numbers == [(n, total) for n in range(1, total + 1)]
    assert volumes[0]["pages"][0] == 1 and volumes[-1]["pages"][1] == total
    for before, after in itertools.pairwise(volumes):
        assert after["pages"][0] == before["pages"][1] + 1


# --- natives, load file, manifest ------------------------------------------------------------


def test_natives_load_file_and_manifest_agree_with_the_files(production, case):  # noqa: F811
    manifest = _manifest(production)
    natives = manifest["natives"]
    assert [n["control"] for n in natives] == [f"PACTA-{i:06d}" for i in range(1, len(natives) + 1)]
    names = [n["file_name"] for n in natives]
    assert names[:3] == ["accounts.csv", "assent.csv", "usage.csv"]
    assert "snapshot.json" in names and "manifest.json" in names
    # The counsel edition hands over the file the allegation cites, byte for byte.
    screenshot = EvidenceItem.objects.get(file_name="signup-flow.png")
    assert names[-1] == "signup-flow.png"
    assert natives[-1]["sha256"] == screenshot.sha256
    for native in natives:
        path = production / native["path"]
        assert path.name.startswith(native["control"] + "_")
        assert file_sha256(path) == native["sha256"] == native["whole_sha256"]
        assert path.stat().st_size == native["size"]
    # The usage exhibit holds every request of the three accounts, and its header.
    usage = production / natives[2]["path"]
    assert usage.read_text().count("\n") == 1 + 3 * 60

    rows = load_file_read(production / manifest["load_file"]["path"])
    assert [r["CONTROL_NUMBER"] for r in rows] == [n["control"] for n in natives]
    for row in rows:
        path = production / row["NATIVE_PATH"]
        assert file_sha256(path) == row["SHA256"]
        assert path.stat().st_size == int(row["FILE_SIZE"])
        assert row["CUSTODIAN"] == "Aster Systems, Inc."
        assert row["DATE"] and row["SOURCE"]
    raw = (production / manifest["load_file"]["path"]).read_bytes()
    assert raw.startswith("\ufeff\u00feCONTROL_NUMBER\u00fe\x14".encode())

    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {
        p.relative_to(production).as_posix() for p in production.rglob("*") if p.is_file()
    } - {"manifest.json", "manifest.json.p7s"}
    assert set(listed) == on_disk
    for name, entry in listed.items():
        assert file_sha256(production / name) == entry["sha256"], name

    # The ledger anchors the manifest, and records the evidence file handed over.
    entry = LedgerEntry.objects.get(object_type="production", object_id=case.reference)
    assert entry.object_sha256 == file_sha256(production / "manifest.json")
    assert entry.details["files"] == len(listed)
    assert LedgerEntry.objects.filter(
        action="exported", object_type="evidence_item", object_id=str(screenshot.pk)
    ).exists()


def test_a_large_native_is_split_into_volumes_that_load_and_join_to_the_whole(tmp_path):
    header = b"request_id,note\n"
    rows = [f'req_{i:04d},"line one\nline two of {i}"\n'.encode() for i in range(400)]
    source = tmp_path / "work" / "usage.csv"
    source.parent.mkdir()
    source.write_bytes(header + b"".join(rows))
    whole = hashlib.sha256(source.read_bytes()).hexdigest()
    limit = 4_000
    natives = natives_write(
        root=tmp_path / "out",
        sources=[
            NativeSource(
                file_name="usage.csv",
                sha256=whole,
                size=source.stat().st_size,
                source="Exhibit 3",
                date="2026-01-05",
                exhibit=3,
                csv=True,
                path=source,
            )
        ],
        numbers=ControlNumbers(),
        limit=limit,
        custodian="Aster Systems, Inc.",
    )
    assert len(natives) > 2
    assert [n.control for n in natives] == [f"PACTA-{i:06d}" for i in range(1, len(natives) + 1)]
    joined = hashlib.sha256()
    for index, native in enumerate(natives):
        data = (tmp_path / "out" / native.path).read_bytes()
        assert len(data) <= limit and native.size == len(data)
        assert hashlib.sha256(data).hexdigest() == native.sha256
        assert native.whole_sha256 == whole and native.volumes == len(natives)
        assert data.startswith(header)  # each volume loads on its own
        # Quoted line breaks stay inside their row: every volume ends on a whole row.
        assert data.endswith(b'"\n') and data.count(b'"') % 2 == 0
        joined.update(data if index == 0 else data[len(header) :])
    assert joined.hexdigest() == whole


# --- verify_production ------------------------------------------------------------------------


def test_verify_production_passes_a_fresh_production(production, capsys):
    result = production_verify(production)
    assert result["ok"], result["differences"]
    assert result["signature"]["trusted"] and result["signature"]["intact"]
    assert "Pacta Test Legal Department" in result["signature"]["signer"]
    call_command("verify_production", str(production))
    assert "OK" in capsys.readouterr().out


def _tampered(production: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(production, copy)
    return copy


def _differences(folder: Path) -> list[tuple[str, str]]:
    with pytest.raises(SystemExit) as stopped:
        call_command("verify_production", str(folder), "--json")
    assert stopped.value.code == 1
    result = production_verify(folder)
    assert not result["ok"]
    return [(d["kind"], d["path"]) for d in result["differences"]]


def test_verify_production_names_each_kind_of_difference(production, tmp_path):
    manifest = _manifest(production)
    usage = next(n["path"] for n in manifest["natives"] if n["file_name"] == "usage.csv")
    filing = manifest["filing"][0]["path"]

    changed = _tampered(production, tmp_path, "changed")
    with (changed / usage).open("a") as fh:
        fh.write("req_forged,2026-01-05T00:00:00Z\n")
    assert _differences(changed) == [("changed", usage)]

    missing = _tampered(production, tmp_path, "missing")
    (missing / filing).unlink()
    assert _differences(missing) == [("missing", filing)]

    added = _tampered(production, tmp_path, "added")
    (added / "natives" / "PACTA-000099_extra.csv").write_text("a,b\n")
    assert _differences(added) == [("added", "natives/PACTA-000099_extra.csv")]

    # A changed file with the manifest edited to match: the signature no longer holds.
    edited = _tampered(production, tmp_path, "edited")
    with (edited / usage).open("a") as fh:
        fh.write("req_forged,2026-01-05T00:00:00Z\n")
    document = _manifest(edited)
    for entry in document["files"]:
        if entry["path"] == usage:
            entry["sha256"] = file_sha256(edited / usage)
            entry["size"] = (edited / usage).stat().st_size
    (edited / "manifest.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert _differences(edited) == [("manifest", "manifest.json")]


# --- the command -------------------------------------------------------------------------------


def test_build_production_command_names_the_argument_at_fault(case, tmp_path):  # noqa: F811
    out = str(tmp_path / "p")
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("not ours")
    for arguments, named in (
        (["PX-NOPE", "--out", out], "CASE_REF PX-NOPE"),
        ([case.reference, "--out", out, "--edition", "press"], "--edition press"),
        ([case.reference, "--out", out, "--max-file-mb", "0"], "--max-file-mb 0"),
        ([case.reference, "--out", out, "--max-file-mb", "-5"], "--max-file-mb -5"),
        ([case.reference, "--out", out, "--page-size", "legal"], "--page-size legal"),
        ([case.reference, "--out", str(occupied)], f"--out {occupied}"),
    ):
        with pytest.raises(CommandError) as error:
            call_command("build_production", *arguments)
        assert error.value.returncode == 2, arguments
        assert str(error.value).startswith(named), str(error.value)
    assert not (tmp_path / "p").exists()
    assert (occupied / "keep.txt").read_text() == "not ours"


def test_public_production_on_a4_carries_aggregates_only(
    detected,  # noqa: F811
    case,  # noqa: F811
    tmp_path,
    capsys,
):
    folder = tmp_path / "public"
    call_command(
        "build_production", case.reference, "--out", str(folder), "--edition", "public",
        "--page-size", "a4", "--json",
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert document["edition"] == "public"
    manifest = _manifest(folder)
    names = {n["file_name"] for n in manifest["natives"]}
    assert not names & {"usage.csv", "accounts.csv", "assent.csv", "signup-flow.png"}
    path = folder / manifest["filing"][0]["path"]
    with pikepdf.open(path) as pdf:
        assert [round(float(v)) for v in pdf.pages[0].MediaBox] == A4
    text, everything = _text(path), _everything(path, tmp_path)
    for value in _identifiers():
        assert value not in text and value not in everything, value
        for native in manifest["natives"]:
            assert value.encode() not in (folder / native["path"]).read_bytes(), value
    assert production_verify(folder)["ok"]


def test_a_configured_timestamp_authority_stamps_the_manifest_signature(
    case,  # noqa: F811
    counsel_user,
    settings,
    pki,
    tmp_path,
):
    from tests.tsa import timestamp_authority

    folder = tmp_path / "stamped"
    with timestamp_authority(pki) as (url, answered):
        settings.PACTA_TSA_URL = url
        production_build(actor=counsel_user, case=case, out_dir=folder, edition="public")
    assert answered, "the authority was never asked"
    result = production_verify(folder)
    assert result["ok"], result["differences"]
    assert result["signature"]["timestamp"] and result["signature"]["timestamp"]["valid"]
