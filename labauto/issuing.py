"""Issue a certificate: JSON, DCC XML (signed, time-stamped), PDF (signed), written durably,
then queued for publishing.

The DCC is signed (XAdES) and, when the lab has a time-stamping authority, time-stamped
(XAdES-T, :mod:`labauto.timestamping`); the PDF is rendered with the DCC's SHA-256 and then
signed with the same lab key (PAdES, time-stamped by the same TSA).  An unreachable TSA never
stops issuing: the certificate is issued without token and ``timestamp`` says so.

Issued certificates are immutable: a folder per certificate id, files written to a temporary
name, fsync'ed and renamed; an existing certificate is never overwritten (corrections are new,
linked certificates).  The signed DCC is committed to the publishing outbox before any network
call (see ``labauto.publishing``) — unless publication was not requested (``queue=False``,
``--no-publish``): then nothing is queued, and ``labauto publish add`` queues it later.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labauto.certificate.dcc_xml import build_dcc
from labauto.certificate.json_writer import to_json
from labauto.certificate.pdf import render_pdf
from labauto.certificate.pdf_signing import sign_pdf
from labauto.certificate.signing import sign_dcc
from labauto.errors import LabautoError
from labauto.files import fsync_dir, write_durably
from labauto.lab import LabConfig
from labauto.results import CalibrationResult
from labauto.signing_identity import SigningIdentity, lab_signing_identity
from labauto.timestamping import timestamp_signed_dcc


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
    timestamp: str = ""          # whether (and by whom) the DCC and PDF were time-stamped


FILE_NAMES = {"xml": "certificate.xml", "json": "certificate.json", "pdf": "certificate.pdf",
              "journal": "journal.jsonl"}


def issue_certificate(result: CalibrationResult, out_dir: Path, *, lab: LabConfig,
                      verify_base_url: str | None = None,
                      journal: Path | None = None, queue: bool = True) -> IssuedCertificate:
    """Write the certificate's files and (``queue``) queue the signed DCC for publishing.

    The files are written into a staging folder (``.<id>.partial``) and the folder is renamed
    to ``<id>`` as the last step, so a certificate folder is complete or absent: a crash, a
    full disk or Ctrl-C while issuing leaves only the staging folder, which the next attempt
    replaces (nothing of it was issued or queued).  An existing certificate folder is never
    overwritten (:class:`CertificateExists`); if its signed DCC is not yet in the outbox (a
    crash between the rename and the queueing), it is queued before the error is raised.
    """
    return issue_documents(
        result.certificate_id, out_dir, lab=lab, unsigned_dcc=build_dcc(result),
        render_pdf=lambda sha, url: render_pdf(result, dcc_sha256=sha, verify_url=url,
                                               pades_signed=True),
        json_document=to_json(result), verify_base_url=verify_base_url, journal=journal,
        queue=queue)


def issue_documents(certificate_id: str, out_dir: Path, *, lab: LabConfig, unsigned_dcc: bytes,
                    render_pdf: Callable[[str, str | None], bytes], json_document: bytes,
                    verify_base_url: str | None = None, journal: Path | None = None,
                    queue: bool = True) -> IssuedCertificate:
    """Sign, time-stamp, write and queue one certificate's documents (see
    :func:`issue_certificate`): the DCC (``unsigned_dcc``), the PDF rendered by
    ``render_pdf(dcc_sha256, verify_url)`` (then signed) and the JSON.  Every kind of
    calibration issues through here, so each gets the same immutability, signatures and outbox."""
    out_dir = Path(out_dir)
    folder = out_dir / certificate_id
    if folder.exists():
        queued = _queue_existing(folder, certificate_id) if queue else ""
        raise CertificateExists(
            f"certificate {certificate_id} was already issued ({folder}{queued}); issue an "
            "amendment instead of overwriting it")
    staging = out_dir / f".{certificate_id}.partial"
    if staging.exists():               # an earlier attempt that never completed: never issued
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    identity = lab_signing_identity(lab)
    signed, stamp = timestamp_signed_dcc(sign_dcc(unsigned_dcc, identity.key_pem, identity.cert_pem))
    sha = hashlib.sha256(signed).hexdigest()
    verify_url = f"{verify_base_url.rstrip('/')}/verify/{certificate_id}" if verify_base_url else None
    rendered = render_pdf(sha, verify_url)
    pdf = _signed_pdf(rendered, identity, stamp.pdf_timestamper)
    contents = {"xml": signed, "json": json_document, "pdf": pdf}
    if journal is not None and Path(journal).exists():
        contents["journal"] = Path(journal).read_bytes()
    for kind, data in contents.items():
        write_durably(staging / FILE_NAMES[kind], data)
    try:
        os.rename(staging, folder)     # the certificate appears complete, or not at all
    except OSError as exc:             # another process issued it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        raise CertificateExists(f"certificate {certificate_id} was issued meanwhile ({folder}): {exc}") from exc
    fsync_dir(out_dir)
    issued = IssuedCertificate(certificate_id, folder,
                               {kind: folder / FILE_NAMES[kind] for kind in contents}, sha, verify_url,
                               timestamp=stamp.detail)
    if queue:
        from labauto.publishing import enqueue_issued

        issued.outbox_state = enqueue_issued(issued)
    return issued


def _signed_pdf(pdf: bytes, identity: SigningIdentity, timestamper) -> bytes:
    """The rendered PDF signed with the lab key (PAdES B-T with ``timestamper``); if the TSA
    fails between the DCC's time-stamp and the PDF's, the PDF is signed without one (B-B)."""
    from labauto.platform.tsa_client import TimestampUnavailable

    chain = [identity.ca_cert_pem] if identity.ca_cert_pem else []
    try:
        return sign_pdf(pdf, identity.key_pem, identity.cert_pem, chain_pems=chain, timestamper=timestamper)
    except (OSError, TimestampUnavailable):   # pyHanko's TimestampRequestError is an OSError
        if timestamper is None:
            raise
        return sign_pdf(pdf, identity.key_pem, identity.cert_pem, chain_pems=chain)


def _queue_existing(folder: Path, certificate_id: str) -> str:
    """Queue an issued certificate's signed DCC (idempotent: the outbox keeps one entry per
    document); a few words for the error message."""
    xml = folder / FILE_NAMES["xml"]
    if not xml.exists():
        return ""
    from labauto.publishing import enqueue_issued

    files = {kind: folder / name for kind, name in FILE_NAMES.items() if (folder / name).exists()}
    state = enqueue_issued(IssuedCertificate(certificate_id, folder, files,
                                             hashlib.sha256(xml.read_bytes()).hexdigest()))
    return f"; its DCC is in the publishing outbox: {state}"
