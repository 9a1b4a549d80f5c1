"""The CPU part of a publication, where it runs: in an admission worker process when the
server has them, else in the calling thread.

:func:`admit_here` runs the database-free stages a submitted DCC passes before it is stored —
well-formed, schema, Schematron, signature (:func:`~labauto.platform.server.dcc.admit`), the
certificate id's checks, the signature time-stamp (``time``) — and reads the results the
accreditation-scope check needs.  It returns an :class:`Admission`: plain data (facts, the
verified signature without its lxml tree, the trusted time, the results), so that it can be
sent from another process.

:func:`admit_document` hands the document to one of the RuleBook's worker processes
(:mod:`~labauto.platform.server.schematron_workers`, which already hold the compiled rules)
and waits for the answer without holding the GIL: the server's process keeps only the HTTP
exchange and the database write, and the ≈ 5 ms of parsing, validation and signature checking
of each publication runs on the other core.  A worker runs the same :func:`admit_here` on the
same schema folder, so the outcome is the same (tests compare them document by document); when
no worker answers (none started, one died, an unexpected failure in it), the document is
admitted here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from labauto.certificate.signing import VerifiedSignature
from labauto.platform.server.dcc import AdmissionError, DccFacts, SchemaRegistry, admit
from labauto.platform.server.dcc_results import DccResult, extract_results
from labauto.platform.server.service import Rejected
from labauto.platform.server.trust_admission import check_timestamp


@dataclass(frozen=True)
class Admission:
    """What the platform keeps of an admitted DCC (no lxml tree: it crosses processes)."""

    facts: DccFacts
    signature: VerifiedSignature           # its signed_root is None
    trusted_time: dt.datetime | None       # a verified signature time-stamp's time (XAdES-T)
    results: list[DccResult]               # for the accreditation-scope check


def admit_here(dcc: bytes, schemas: SchemaRegistry, time_anchors: list[bytes] = ()) -> Admission:
    """The admission stages in this process; :class:`Rejected` names the stage that refuses."""
    try:
        adm = admit(dcc, schemas)
    except AdmissionError as exc:
        raise Rejected(exc.stage, exc.detail) from exc
    certificate_id = adm.facts.certificate_id
    if not certificate_id:
        raise Rejected("schema", "dcc:coreData/dcc:uniqueIdentifier is empty")
    if "/" in certificate_id:
        # every certificate is addressed as /certificates/{id}, /verify/{id} (the QR code):
        # a "/" (even as %2F) splits the path, so such an id could be stored but never fetched
        raise Rejected("identifier", f"the certificate id {certificate_id!r} contains '/', "
                       "which cannot stand in the platform's URLs (/api/v1/certificates/{id}, the QR "
                       "code's /verify/{id}); use another separator, e.g. '-'")
    trust = check_timestamp(adm.root, list(time_anchors))
    results = extract_results(adm.signature.signed_root)
    return Admission(adm.facts, dataclasses.replace(adm.signature, signed_root=None),
                     trust.trusted_time, results)


def admit_document(dcc: bytes, schemas: SchemaRegistry, time_anchors: list[bytes] = ()) -> Admission:
    """:func:`admit_here`, run by an admission worker process when the registry's RuleBook has
    them (the module docstring), else in this thread."""
    workers = schemas.rules.workers
    if workers is not None:
        answer = workers.admit(dcc, schemas.any_version, list(time_anchors))
        if answer is not None:
            return answer
    return admit_here(dcc, schemas, time_anchors)
