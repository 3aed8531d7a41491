"""PAdES signatures on report PDFs (pyHanko), and their validation against a trust root.

The organisation's certificate and key come from settings (PACTA_SIGNING_CERT and
PACTA_SIGNING_KEY, PEM paths; PACTA_SIGNING_CHAIN for intermediates). With a timestamp
authority configured (PACTA_TSA_URL) the signature carries an RFC 3161 timestamp: PAdES
B-T, which proves the report existed at that time even if the signing key is later
compromised or expires. The signature is the file's last revision, so it covers every
byte of it: a changed byte anywhere shows as a broken signature.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

FIELD_NAME = "PactaReportSignature"
# Every subject of the demo identity (`manage.py demo_certificate`) carries this label: a
# certificate that does is never the organisation's, and signs no final report.
DEMO_CERTIFICATE_LABEL = "DEMO — NOT FOR EVIDENTIAL USE"


class SigningError(RuntimeError):
    """The report cannot be signed as configured; the message says what to set."""


def _signer():
    from pyhanko.sign import signers

    cert, key = settings.PACTA_SIGNING_CERT, settings.PACTA_SIGNING_KEY
    if not (cert and key):
        raise SigningError(
            "no signing certificate is configured: set PACTA_SIGNING_CERT and "
            "PACTA_SIGNING_KEY (PEM files), or run `manage.py demo_certificate` for a demo"
        )
    for path in (cert, key, *settings.PACTA_SIGNING_CHAIN):
        if not Path(path).is_file():
            raise SigningError(f"signing material {path} does not exist")
    passphrase = settings.PACTA_SIGNING_KEY_PASSPHRASE
    signer = signers.SimpleSigner.load(
        key,
        cert,
        ca_chain_files=tuple(settings.PACTA_SIGNING_CHAIN) or None,
        key_passphrase=passphrase.encode() if passphrase else None,
    )
    if signer is None:
        raise SigningError(f"could not load the signing key {key} and certificate {cert}")
    return signer


def report_sign(
    *,
    source: Path,
    target: Path,
    reason: str,
    location: str = "",
    prepare: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Sign `source` into `target` (an incremental update); `prepare` may add objects to
    the same revision first (the streamed exhibits), so the signature covers them too."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import HTTPTimeStamper

    signer = _signer()
    timestamper = None
    if settings.PACTA_TSA_URL:
        timestamper = HTTPTimeStamper(settings.PACTA_TSA_URL, timeout=settings.PACTA_TSA_TIMEOUT)
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
    )
    pdf_signer = signers.PdfSigner(metadata, signer=signer, timestamper=timestamper)
    # Opened for reading too: pyHanko then writes the signed revision straight into the
    # file and digests it there; given a write-only file it would build the whole report
    # (hundreds of megabytes with a usage exhibit) in memory first and copy it over.
    with source.open("rb") as infile, target.open("w+b") as outfile:
        writer = IncrementalPdfFileWriter(infile, strict=False)
        if prepare is not None:
            prepare(writer)
        try:
            pdf_signer.sign_pdf(writer, output=outfile)
        except Exception as exc:  # pyHanko raises several kinds; say which step failed
            raise SigningError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return {
        "signer": signer.signing_cert.subject.human_friendly,
        "level": "PAdES B-T" if timestamper else "PAdES B-B",
        "timestamp_authority": settings.PACTA_TSA_URL or None,
    }


def signer_subject() -> str:
    """The configured signer as the report's cover names it (before signing)."""
    try:
        from pyhanko.keys import load_cert_from_pemder

        cert = load_cert_from_pemder(settings.PACTA_SIGNING_CERT)
    except Exception:
        return "not configured"
    return cert.subject.human_friendly


def signing_identity_problem(*, allow_demo: bool = False) -> str | None:
    """Why the configured signing identity may not sign a final report (none configured, an
    unreadable certificate, or the DEMO one unless `allow_demo`), or None when it may."""
    cert, key = settings.PACTA_SIGNING_CERT, settings.PACTA_SIGNING_KEY
    if not (cert and key):
        return "no signing certificate is configured (set PACTA_SIGNING_CERT and PACTA_SIGNING_KEY)"
    try:
        demo = _demo_certificate(cert)
    except Exception as exc:
        return f"the signing certificate {cert} cannot be read: {exc}"
    if demo and not allow_demo:
        return (
            f"the signing certificate {cert} is the DEMO certificate ({DEMO_CERTIFICATE_LABEL}): "
            "configure the organisation's own in PACTA_SIGNING_CERT and PACTA_SIGNING_KEY"
        )
    return None


def _demo_certificate(path: str) -> bool:
    from pyhanko.keys import load_cert_from_pemder

    certificate = load_cert_from_pemder(path)
    names = (certificate.subject.human_friendly, certificate.issuer.human_friendly)
    return any(DEMO_CERTIFICATE_LABEL in name for name in names)


def trust_roots(extra: list[str] | None = None) -> list[Path]:
    """Certificates a report's signature is validated against (see `trust_roots_chosen`)."""
    return trust_roots_chosen(extra)[0]


def trust_roots_chosen(extra: list[str] | None = None) -> tuple[list[Path], str]:
    """The certificates to trust, and which of them, in words: those given, else the
    configured roots, else the signing identity's chain and certificate, else (demo mode
    only) the DEMO root `demo_certificate` wrote, so `verify_report` works after `make demo`
    in any shell. A DEMO root proves nothing about who signed, and the answer says so."""
    if extra:
        return [Path(p) for p in extra], "as given (--trust-root)"
    if settings.PACTA_SIGNING_TRUST_ROOTS:
        return [Path(p) for p in settings.PACTA_SIGNING_TRUST_ROOTS], "PACTA_SIGNING_TRUST_ROOTS"
    if settings.PACTA_SIGNING_CERT:
        paths = [*settings.PACTA_SIGNING_CHAIN, settings.PACTA_SIGNING_CERT]
        return [Path(p) for p in paths if p], "the signing identity (PACTA_SIGNING_CERT)"
    demo = demo_trust_root()
    if demo is not None and demo.is_file():
        return [demo], f"the DEMO root {demo} (demo mode: no trust root is configured)"
    return [], "none"


def demo_signing_dir() -> Path | None:
    """Where `demo_certificate` writes the DEMO identity; None where demos are off
    (production settings), so no DEMO root is ever trusted there by default."""
    folder = settings.PACTA_SIGNING_DEMO_DIR
    return Path(folder) if folder else None


def demo_trust_root() -> Path | None:
    folder = demo_signing_dir()
    return folder / "demo-root.pem" if folder else None


def _validation_context(roots: list[Path]):
    """A validation context trusting `roots` (no fetching), or why there is none."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko_certvalidator import ValidationContext

    certificates = []
    for root in roots:
        try:
            certificates.append(load_cert_from_pemder(str(root)))
        except Exception as exc:
            return f"cannot read trust root {root}: {exc}"
    if not certificates:
        return (
            "no trust root configured to validate the signature: set "
            "PACTA_SIGNING_TRUST_ROOTS (PEM paths of the certificates to trust) or "
            "PACTA_SIGNING_CERT, or pass --trust-root PEM"
        )
    return ValidationContext(trust_roots=certificates, allow_fetching=False)


def signature_validate(path: Path, *, roots: list[Path]) -> dict[str, Any]:
    """Validate the last signature of a PDF: intact, trusted, and covering the whole file."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    context = _validation_context(roots)
    if isinstance(context, str):
        return {"ok": False, "reason": context}
    with path.open("rb") as fh:
        try:
            reader = PdfFileReader(fh, strict=False)
            signatures = reader.embedded_signatures
        except Exception as exc:
            return {"ok": False, "reason": f"the file cannot be read as a PDF: {exc}"}
        if not signatures:
            return {"ok": False, "reason": "the file carries no signature"}
        signature = signatures[-1]
        try:
            status = validate_pdf_signature(
                signature, signer_validation_context=context, ts_validation_context=context
            )
        except Exception as exc:
            return {"ok": False, "reason": f"the signature cannot be validated: {exc}"}
        byte_range = list(signature.sig_object["/ByteRange"])
        size = path.stat().st_size
        whole = (
            status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            and byte_range[2] + byte_range[3] == size
        )
        timestamp = status.timestamp_validity
        result = {
            "ok": bool(status.intact and status.valid and status.trusted and whole),
            "intact": status.intact,
            "valid": status.valid,
            "trusted": status.trusted,
            "coverage": status.coverage.name,
            "byte_range": byte_range,
            "covers_whole_file": whole,
            "signer": status.signing_cert.subject.human_friendly,
            "signed_at": status.signer_reported_dt.isoformat()
            if status.signer_reported_dt
            else None,
            "timestamp": None,
            "summary": status.summary(),
        }
        if timestamp is not None:
            result["timestamp"] = {
                "at": timestamp.timestamp.isoformat(),
                "intact": timestamp.intact,
                "valid": timestamp.valid,
                "trusted": timestamp.trusted,
            }
            result["ok"] = result["ok"] and bool(timestamp.intact and timestamp.valid)
        if not result["ok"]:
            reasons = []
            if not status.intact:
                reasons.append("the signed bytes were changed")
            if not status.valid:
                reasons.append("the signature is not valid")
            if not status.trusted:
                reasons.append("the signer's certificate does not chain to a trust root")
            if not whole:
                reasons.append("the signature does not cover the whole file")
            result["reason"] = "; ".join(reasons) or "the timestamp does not validate"
        return result


def data_sign_detached(*, source: Path, target: Path) -> dict[str, Any]:
    """A detached CMS signature over the bytes of `source`, written (DER) to `target`: the
    same key and certificate as the reports, and an RFC 3161 signature timestamp when a
    timestamp authority is configured. A production's manifest is signed this way, so
    the filing copies it lists carry no signature a court's stamp could break."""
    import asyncio

    from pyhanko.sign.timestamps import HTTPTimeStamper

    signer = _signer()
    timestamper = None
    if settings.PACTA_TSA_URL:
        timestamper = HTTPTimeStamper(settings.PACTA_TSA_URL, timeout=settings.PACTA_TSA_TIMEOUT)
    with source.open("rb") as fh:
        try:
            signed = asyncio.run(
                signer.async_sign_general_data(fh, "sha256", detached=True, timestamper=timestamper)
            )
        except Exception as exc:  # pyHanko raises several kinds; say which step failed
            raise SigningError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    target.write_bytes(signed.dump())
    return {
        "signer": signer.signing_cert.subject.human_friendly,
        "level": "CMS detached, timestamped" if timestamper else "CMS detached",
        "timestamp_authority": settings.PACTA_TSA_URL or None,
    }


def detached_signature_validate(
    *, source: Path, signature: Path, roots: list[Path]
) -> dict[str, Any]:
    """Validate a detached CMS signature over `source` against the trust roots: the bytes
    unchanged since signing, the signature valid, the signer chaining to a root."""
    import asyncio

    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

    context = _validation_context(roots)
    if isinstance(context, str):
        return {"ok": False, "reason": context}
    try:
        content = cms.ContentInfo.load(signature.read_bytes())
        signed_data = content["content"]
        signed_data.native  # noqa: B018  (parses it all: a damaged file fails here)
    except Exception as exc:
        return {"ok": False, "reason": f"{signature.name} is not a CMS signature: {exc}"}
    with source.open("rb") as fh:
        try:
            status = asyncio.run(
                async_validate_detached_cms(
                    fh, signed_data, signer_validation_context=context,
                    ts_validation_context=context,
                )
            )  # fmt: skip
        except Exception as exc:
            return {"ok": False, "reason": f"the signature cannot be validated: {exc}"}
    timestamp = status.timestamp_validity
    result = {
        "ok": bool(status.intact and status.valid and status.trusted),
        "intact": status.intact,
        "valid": status.valid,
        "trusted": status.trusted,
        "signer": status.signing_cert.subject.human_friendly,
        "timestamp": None,
    }
    if timestamp is not None:
        result["timestamp"] = {
            "at": timestamp.timestamp.isoformat(),
            "intact": timestamp.intact,
            "valid": timestamp.valid,
            "trusted": timestamp.trusted,
        }
        result["ok"] = result["ok"] and bool(timestamp.intact and timestamp.valid)
    if not result["ok"]:
        reasons = []
        if not status.intact:
            reasons.append(f"{source.name} changed after it was signed")
        if not status.valid:
            reasons.append("the signature is not valid")
        if not status.trusted:
            reasons.append("the signer's certificate does not chain to a trust root")
        result["reason"] = "; ".join(reasons) or "the timestamp does not validate"
    return result
