"""Issue a certificate: JSON, DCC XML (signed), PDF, written durably, then queued for publishing.

Issued certificates are immutable: a folder per certificate id, files written to a temporary
name, fsync'ed and renamed; an existing certificate is never overwritten (corrections are new,
linked certificates).  The signed DCC is committed to the publishing outbox before any network
call (see ``labauto.publishing``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from labauto.certificate.dcc_xml import build_dcc
from labauto.certificate.json_writer import to_json
from labauto.certificate.pdf import render_pdf
from labauto.certificate.signing import sign_dcc
from labauto.errors import LabautoError
from labauto.files import write_durably
from labauto.lab import LabConfig
from labauto.results import CalibrationResult
from labauto.signing_identity import lab_signing_identity


class CertificateExists(LabautoError):
    """A certificate with this id was already issued; issued certificates are immutable."""


@dataclass
class IssuedCertificate:
    certificate_id: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)   # json, xml, pdf, journal
    dcc_sha256: str = ""
    verify_url: str | None = None
    outbox_state: str = ""


def issue_certificate(result: CalibrationResult, out_dir: Path, *, lab: LabConfig,
                      verify_base_url: str | None = None,
                      journal: Path | None = None) -> IssuedCertificate:
    folder = Path(out_dir) / result.certificate_id
    if (folder / "certificate.xml").exists():
        raise CertificateExists(
            f"certificate {result.certificate_id} was already issued ({folder}); issue an "
            "amendment instead of overwriting it")
    folder.mkdir(parents=True, exist_ok=True)
    identity = lab_signing_identity(lab)
    signed = sign_dcc(build_dcc(result), identity.key_pem, identity.cert_pem)
    sha = hashlib.sha256(signed).hexdigest()
    verify_url = f"{verify_base_url.rstrip('/')}/verify/{result.certificate_id}" if verify_base_url else None
    files = {"xml": folder / "certificate.xml", "json": folder / "certificate.json",
             "pdf": folder / "certificate.pdf"}
    write_durably(files["xml"], signed)
    write_durably(files["json"], to_json(result))
    write_durably(files["pdf"], render_pdf(result, dcc_sha256=sha, verify_url=verify_url))
    if journal is not None and Path(journal).exists():
        files["journal"] = folder / "journal.jsonl"
        write_durably(files["journal"], Path(journal).read_bytes())
    issued = IssuedCertificate(result.certificate_id, folder, files, sha, verify_url)
    from labauto.publishing import enqueue_issued

    issued.outbox_state = enqueue_issued(issued)
    return issued
