"""`python manage.py demo_certificate [--dir DIR] [--force]`: a DEMO signing identity.

Writes a root CA and a signing certificate with its key, every subject saying
"DEMO — NOT FOR EVIDENTIAL USE", so `make demo` can produce a signed report. A report
signed with it proves nothing about who made it; production configures the
organisation's own certificate (PACTA_SIGNING_CERT / PACTA_SIGNING_KEY). Prints the
paths (and the settings to use them) once written; an existing pair is kept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from casework.reports.signing import DEMO_CERTIFICATE_LABEL as LABEL
from casework.reports.signing import demo_signing_dir
from evidence.management.base import PactaCommand


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Pacta demo ({LABEL})"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, LABEL),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(subject, issuer_name, public_key, signing_key, *, ca: bool, days: int):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(signing_key, hashes.SHA256())
    )


class Command(PactaCommand):
    help = "Create a clearly labelled DEMO signing certificate and key (demo mode only)."

    def arguments(self, parser) -> None:
        parser.add_argument("--dir", default=str(demo_signing_dir() or ""))
        parser.add_argument("--force", action="store_true", help="Replace an existing pair.")

    def run(self, **options) -> None:
        if not options["dir"]:
            self.usage_error(
                "--dir: not given, and PACTA_SIGNING_DEMO_DIR is unset (production settings "
                "keep no DEMO identity)"
            )
        folder = Path(options["dir"])
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "root": folder / "demo-root.pem",
            "cert": folder / "demo-signer.pem",
            "key": folder / "demo-signer-key.pem",
        }
        created = options["force"] or not all(p.exists() for p in paths.values())
        if created:
            root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            root_name = _name(f"Pacta DEMO root CA — {LABEL}")
            root = _certificate(
                root_name, root_name, root_key.public_key(), root_key, ca=True, days=3650
            )
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            cert = _certificate(
                _name(LABEL), root_name, key.public_key(), root_key, ca=False, days=825
            )
            pem = serialization.Encoding.PEM
            paths["root"].write_bytes(root.public_bytes(pem))
            paths["cert"].write_bytes(cert.public_bytes(pem))
            paths["key"].touch(mode=0o600)
            paths["key"].write_bytes(
                key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            paths["key"].chmod(0o600)
        document = {
            "created": created,
            "subject": LABEL,
            **{name: str(path) for name, path in paths.items()},
            "settings": {
                "PACTA_SIGNING_CERT": str(paths["cert"]),
                "PACTA_SIGNING_KEY": str(paths["key"]),
                "PACTA_SIGNING_CHAIN": str(paths["root"]),
                "PACTA_SIGNING_TRUST_ROOTS": str(paths["root"]),
            },
        }
        verb = "Created" if created else "Kept the existing"
        lines = [f"{verb} DEMO signing certificate ({LABEL}) in {folder}."]
        lines += [f"  {name}={value}" for name, value in document["settings"].items()]
        self.done(document, text=lines)
