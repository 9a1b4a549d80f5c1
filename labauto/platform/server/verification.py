"""Verification of any DCC, stage by stage: what ``POST /api/v1/verify`` and ``labauto dcc
verify`` answer.  Nothing is stored.

Stages, in the order they run (each :class:`Stage` says ``pass``, ``warn``, ``fail`` or ``skip``
— not checked, with the reason):

``well-formed``  safe parse (no DTD, no entities, no network)
``schema``       the XSD of the ``schemaVersion`` the document declares (any version the schema
                 folder has)
``rules``        PTB's Schematron for that version (errors fail, warnings warn; "no Schematron
                 rules published for this version" where PTB has none)
``signature``    the enveloped XML signature verifies against the certificate it embeds
``signer``       who signed (subject, fingerprint; the platform lab that registered it)
``time``         the time the signer's certificates are judged at (pluggable: by default the
                 XAdES SigningTime, the signer's claim; an RFC 3161 time-stamp check sets it)
``chain``        signer -> intermediates -> a trust anchor, all valid at that time
                 (``cryptography``'s X.509 path validation)
``revocation``   whether a certificate of the chain was revoked (pluggable: by default not
                 checked)
``platform``     whether the platform holds the same bytes (SHA-256), and their status

The ``time`` and ``revocation`` stages are plug-ins (:data:`TimeCheck`,
:data:`RevocationCheck`): functions of the :class:`Evidence` gathered so far that return their
:class:`Stage`; a time check sets ``evidence.validation_time``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography import x509
from lxml import etree

from labauto.certificate import pki
from labauto.certificate.signing import (SignatureError, VerifiedSignature, embedded_certificates,
                                         verify_dcc)
from labauto.certificate.dcc_xml import read_identity
from labauto.platform.server.dcc import AdmissionError, SchemaRegistry, parse_well_formed

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
STAGES = ("well-formed", "schema", "rules", "signature", "signer", "time", "chain", "revocation",
          "platform")


@dataclass
class Stage:
    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        base = {"stage": self.name, "status": self.status, "detail": self.detail}
        return {**base, **{k: v for k, v in self.data.items() if k not in base}}


@dataclass
class Evidence:
    """What the stages found, for the stages after them (and the plug-ins)."""

    xml: bytes
    root: etree._Element | None = None
    schema_version: str | None = None
    signature: VerifiedSignature | None = None
    signature_element: etree._Element | None = None
    signer: x509.Certificate | None = None
    intermediates: list[x509.Certificate] = field(default_factory=list)
    anchors: list[x509.Certificate] = field(default_factory=list)
    validation_time: dt.datetime | None = None      # set by the time stage
    trusted_time: dt.datetime | None = None         # set by the time stage from a verified time-stamp
    chain: list[x509.Certificate] | None = None     # set by the chain stage


TimeCheck = Callable[[Evidence], Stage]
RevocationCheck = Callable[[Evidence], Stage]
# sha256 -> the platform's record of that document (None: not held)
PlatformLookup = Callable[[str], "dict[str, Any] | None"]


def expired_signer_refusal(subject: str, not_after: dt.datetime | None, claimed: dt.datetime | None,
                           trusted_time: dt.datetime | None, now: dt.datetime | None = None) -> str | None:
    """Why a document signed with a certificate that has expired is refused, or None when the
    certificate is still valid or a time-stamp dates the signature within its validity.  The
    claimed signing time is never enough: anyone holding an expired key can state any time."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not_after is None or now <= not_after:
        return None
    if trusted_time is not None and trusted_time <= not_after:
        return None         # a time-stamp dates the signature before the certificate expired
    if trusted_time is not None:
        return (f"the signing certificate {subject} expired on {not_after:%Y-%m-%d %H:%M} UTC, before "
                f"the signature's time-stamp ({trusted_time:%Y-%m-%d %H:%M:%S} UTC)")
    claim = (f"its signing time {claimed:%Y-%m-%d %H:%M} UTC is the signer's own claim (xades:SigningTime)"
             if claimed is not None else "the signature states no signing time")
    return (f"the signing certificate {subject} expired on {not_after:%Y-%m-%d %H:%M} UTC and {claim}: "
            "a DCC signed with an expired certificate needs a signature time-stamp (XAdES-T) from "
            "within the certificate's validity")


def claimed_signing_time(ev: Evidence) -> Stage:
    """The default time check: the XAdES SigningTime (signed, but the signer's own claim); a
    plain XMLDSig signature has none, so the certificates are judged now.  A signer whose
    certificate has expired fails here: only a time-stamp can show it signed in its time (an
    expired key can claim any signing time)."""
    now = dt.datetime.now(dt.timezone.utc)
    if ev.signature.signing_time is not None:
        ev.validation_time = ev.signature.signing_time
        expired = expired_signer_refusal(ev.signature.signer_subject, ev.signature.signer_not_after,
                                         ev.signature.signing_time, None, now)
        if expired:
            return Stage("time", FAIL, expired, {"time": ev.validation_time.isoformat(),
                                                 "source": "xades:SigningTime"})
        return Stage("time", PASS, f"signed at {ev.validation_time.isoformat()} (the XAdES SigningTime: "
                     "the signer's claim, no time-stamp token checked)",
                     {"time": ev.validation_time.isoformat(), "source": "xades:SigningTime"})
    ev.validation_time = now
    return Stage("time", WARN, "the signature states no signing time (plain XMLDSig): the "
                 "certificates are judged at the present time", {"time": now.isoformat(), "source": "now"})


def no_revocation_check(ev: Evidence) -> Stage:
    return Stage("revocation", SKIP, "not checked: no revocation information (CRL) is configured")


@dataclass
class Report:
    sha256: str
    stages: list[Stage]
    certificate_id: str | None = None
    schema_version: str | None = None

    @property
    def valid(self) -> bool:
        """Every stage passed or warned; a skipped stage counts only where nothing could fail it
        (revocation without revocation information, platform without a platform)."""
        return all(s.status in (PASS, WARN) or (s.status == SKIP and s.name in ("revocation", "platform"))
                   for s in self.stages)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def json(self) -> dict[str, Any]:
        return {"valid": self.valid, "sha256": self.sha256, "certificate_id": self.certificate_id,
                "schema_version": self.schema_version, "stages": [s.json() for s in self.stages]}


class Verifier:
    """Verifies documents against a schema folder and trust anchors; built once, used for many."""

    def __init__(self, schemas: SchemaRegistry, anchors: list[x509.Certificate] = (), *,
                 time_check: TimeCheck = claimed_signing_time,
                 revocation_check: RevocationCheck = no_revocation_check,
                 platform: PlatformLookup | None = None) -> None:
        self.schemas, self.anchors = schemas, list(anchors)
        self.time_check, self.revocation_check, self.platform = time_check, revocation_check, platform

    def verify(self, xml: bytes, *, anchors: list[x509.Certificate] | None = None,
               intermediates: list[x509.Certificate] = ()) -> Report:
        """The report of ``xml``; ``anchors`` replace the verifier's own trust anchors."""
        ev = Evidence(xml, anchors=list(anchors) if anchors else self.anchors,
                      intermediates=list(intermediates))
        report = Report(hashlib.sha256(xml).hexdigest(), [])
        stages = report.stages
        for run in (self._parse, self._schema, self._rules, self._signature, self._signer,
                    self._time, self._chain, self._revocation):
            stage = run(ev)
            stages.append(stage)
            if stage.status == FAIL and stage.name in ("well-formed", "schema", "signature"):
                break
        done = {s.name for s in stages}
        cause = stages[-1]
        for name in STAGES[:-1]:
            if name not in done:
                stages.append(Stage(name, SKIP, f"not checked: the {cause.name} stage failed"))
        stages.append(self._platform(report.sha256))
        report.schema_version = ev.schema_version
        if ev.root is not None:
            try:
                report.certificate_id = read_identity(ev.root).certificate_id or None
            except (AttributeError, ValueError):
                pass
        return report

    # -- stages
    def _parse(self, ev: Evidence) -> Stage:
        try:
            ev.root = parse_well_formed(ev.xml)
        except AdmissionError as exc:
            return Stage("well-formed", FAIL, exc.detail)
        return Stage("well-formed", PASS, "well-formed XML, a dcc:digitalCalibrationCertificate")

    def _schema(self, ev: Evidence) -> Stage:
        try:
            ev.schema_version = self.schemas.validate(ev.root)
        except AdmissionError as exc:
            return Stage("schema", FAIL, exc.detail, {"schema_version": ev.root.get("schemaVersion")})
        return Stage("schema", PASS, f"valid against the DCC {ev.schema_version} schema",
                     {"schema_version": ev.schema_version})

    def _rules(self, ev: Evidence) -> Stage:
        rules = self.schemas.rules.check(ev.root, ev.schema_version)
        data = {"rules": rules.rules, "errors": [f.json() for f in rules.errors],
                "warnings": [f.json() for f in rules.warnings]}
        if not rules.applied:
            return Stage("rules", PASS, rules.note, data)
        if rules.errors:
            return Stage("rules", FAIL, f"{len(rules.errors)} error(s) of {rules.rules}: "
                         + "; ".join(f.text() for f in rules.errors[:3]), data)
        if rules.warnings:
            return Stage("rules", WARN, f"no error, {len(rules.warnings)} warning(s) of {rules.rules}: "
                         + "; ".join(f.text() for f in rules.warnings[:3]), data)
        return Stage("rules", PASS, f"no error, no warning of {rules.rules}", data)

    def _signature(self, ev: Evidence) -> Stage:
        try:
            ev.signature = verify_dcc(ev.root, check_validity=False)
            certs = embedded_certificates(ev.root)
        except SignatureError as exc:
            return Stage("signature", FAIL, str(exc))
        ev.signer = pki.load_certificate(ev.signature.signer_cert_pem)
        ev.intermediates = [c for c in certs if c != ev.signer] + ev.intermediates
        kind = "XAdES" if ev.signature.xades else "XMLDSig"
        return Stage("signature", PASS, f"the {kind} signature verifies and covers the whole DCC",
                     {"form": kind})

    def _signer(self, ev: Evidence) -> Stage:
        sig = ev.signature
        return Stage("signer", PASS, f"signed by {sig.signer_subject}",
                     {"subject": sig.signer_subject, "fingerprint_sha256": sig.signer_fingerprint_sha256,
                      "issuer": ev.signer.issuer.rfc4514_string(),
                      "not_before": ev.signer.not_valid_before_utc.isoformat(),
                      "not_after": ev.signer.not_valid_after_utc.isoformat()})

    def _time(self, ev: Evidence) -> Stage:
        now = dt.datetime.now(dt.timezone.utc)
        stage = self.time_check(ev)
        if ev.validation_time is None:
            ev.validation_time = now
        if stage.status != FAIL and ev.validation_time > now + dt.timedelta(minutes=5):
            return Stage("time", FAIL, f"the signing time {ev.validation_time.isoformat()} lies in the future")
        return stage

    def _chain(self, ev: Evidence) -> Stage:
        at = ev.validation_time
        if not ev.anchors:
            return Stage("chain", FAIL, "no trust anchor: the platform has none configured and none was given")
        try:
            ev.chain = pki.validate_chain(ev.signer, ev.anchors, at, intermediates=ev.intermediates)
        except pki.PKIError as exc:
            return Stage("chain", FAIL, str(exc))
        names = [c.subject.rfc4514_string() for c in ev.chain]
        return Stage("chain", PASS, f"{' -> '.join(names)}; every certificate valid at {at:%Y-%m-%d %H:%M} UTC",
                     {"chain": names, "at": at.isoformat()})

    def _revocation(self, ev: Evidence) -> Stage:
        if ev.chain is None:
            return Stage("revocation", SKIP, "not checked: there is no valid chain")
        return self.revocation_check(ev)

    def _platform(self, sha256: str) -> Stage:
        if self.platform is None:
            return Stage("platform", SKIP, "not asked: no platform to look the document up on")
        try:
            record = self.platform(sha256)
        except Exception as exc:      # a verification report never fails on the look-up
            return Stage("platform", SKIP, f"the platform could not be asked: {exc}")
        if record is None:
            return Stage("platform", WARN, "the platform holds no document with this SHA-256",
                         {"held": False})
        status = record.get("status")
        data = {"held": True, "certificate_id": record.get("certificate_id"), "version": record.get("version"),
                "record_status": status, "lab": record.get("lab")}
        if status == "revoked":
            return Stage("platform", FAIL, f"the platform holds this document ({record.get('certificate_id')}, "
                         f"version {record.get('version')}), REVOKED: {record.get('revocation_reason')}", data)
        if status == "superseded":
            return Stage("platform", WARN, f"the platform holds this document ({record.get('certificate_id')}, "
                         f"version {record.get('version')}), superseded by {record.get('superseded_by')}", data)
        return Stage("platform", PASS, f"the platform holds this document ({record.get('certificate_id')}, "
                     f"version {record.get('version')}, lab {record.get('lab')}), status {status}", data)
