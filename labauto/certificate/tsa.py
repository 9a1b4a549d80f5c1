"""An RFC 3161 time-stamping authority (TSA): the platform's trusted clock for its labs.

A lab sends a ``TimeStampReq`` (the hash of what it wants dated); the TSA answers a
``TimeStampResp`` whose token is a CMS ``SignedData`` over a ``TSTInfo`` (the hash, the TSA's
time, a serial number, the policy), signed with the TSA key.  The TSA certificate is issued by
the platform's CA with the extended key usage id-kp-timeStamping, marked critical (RFC 3161
§2.3), so a verifier can chain the token to the CA it trusts.

Library choice (no ASN.1 by hand): the tokens are built by pyHanko's in-process time stamper
(:class:`pyhanko.sign.timestamps.DummyTimeStamper`, which builds complete, signed RFC 3161
tokens with a given key and certificate) over asn1crypto's ``tsp``/``cms`` structures; pyHanko
also validates tokens and signs PDFs, so one library family serves the TSA, XAdES-T and PAdES.
``rfc3161-client`` only builds requests and verifies responses (it cannot answer one), and
pyasn1-modules would leave the CMS signing to us.  This module adds what a public TSA needs
beyond pyHanko's stamper: it checks the request (version, a known hash algorithm with a digest
of the right length, no extensions), answers ``rejection`` with a PKIFailureInfo instead of
signing garbage, and states its own policy OID.  A rejection carries no token, which asn1crypto's
``TimeStampResp`` cannot express; it is encoded with pyasn1-modules' RFC 3161 module.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from labauto.certificate import pki

# ETSI EN 319 421's identifier of the "best practices" time-stamp policy; an operator that
# follows another policy configures its own OID (LABAUTO_PLATFORM_TSA_POLICY).
DEFAULT_POLICY = "0.4.0.2023.1.1"
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


class TimeStampRequestInvalid(ValueError):
    """The bytes are not an acceptable RFC 3161 TimeStampReq; ``fail_info`` is the
    PKIFailureInfo bit the rejection carries."""

    def __init__(self, reason: str, fail_info: str = "badRequest") -> None:
        super().__init__(reason)
        self.reason, self.fail_info = reason, fail_info


def issue_tsa_certificate(ca: pki.CertificateAuthority, common_name: str = "labauto platform TSA", *,
                          organization: str | None = "labauto", days: int = 825) -> pki.KeyPair:
    """A new RSA key and a time-stamping certificate for it, signed by ``ca``: digitalSignature
    + nonRepudiation key usage, and the one extended key usage id-kp-timeStamping, critical."""
    return ca.issue(common_name, organization=organization, days=days,
                    extended_key_usage=ExtendedKeyUsageOID.TIME_STAMPING,
                    extended_key_usage_critical=True, within_ca_validity=True)


def check_tsa_certificate(cert: x509.Certificate) -> None:
    """Raise :class:`pki.PKIError` unless ``cert`` may sign time-stamp tokens: its extended key
    usage is exactly id-kp-timeStamping and the extension is critical (RFC 3161 §2.3)."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise pki.PKIError(f"TSA certificate {cert.subject.rfc4514_string()} has no extended key "
                           "usage; RFC 3161 requires id-kp-timeStamping") from exc
    if list(ext.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not ext.critical:
        raise pki.PKIError(f"TSA certificate {cert.subject.rfc4514_string()} must carry the one "
                           "extended key usage id-kp-timeStamping, marked critical (RFC 3161 §2.3)")


@dataclass(frozen=True)
class Stamped:
    """One answered request: the DER TimeStampResp, and what was granted (for the audit log)."""
    response_der: bytes
    granted: bool
    serial_number: int | None = None
    gen_time: dt.datetime | None = None
    reason: str = ""


class TimeStampingAuthority:
    """Answers RFC 3161 requests with tokens signed by ``key_pem`` / ``cert_pem``.

    ``chain_pems`` (the issuing CA, intermediates) are embedded in every token beside the TSA
    certificate, so a verifier holding only the root can build the path.  ``clock`` is for tests.
    """

    def __init__(self, key_pem: bytes, cert_pem: bytes, chain_pems: list[bytes] = (), *,
                 policy: str = DEFAULT_POLICY, clock=None) -> None:
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509

        cert = pki.load_certificate(cert_pem)
        check_tsa_certificate(cert)
        key = pki.load_private_key(key_pem)
        der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self.cert_pem = cert_pem
        self.policy = policy
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        self._key = asn1_keys.PrivateKeyInfo.load(der_key)
        self._chain = [asn1_x509.Certificate.load(pki.load_certificate(p).public_bytes(serialization.Encoding.DER))
                       for p in chain_pems]

    def _stamper(self, when: dt.datetime):
        from asn1crypto import tsp

        from labauto.certificate.pdf_signing import import_pyhanko
        import_pyhanko()
        from pyhanko.sign.timestamps import DummyTimeStamper

        policy = self.policy

        class _PolicyStamper(DummyTimeStamper):
            def _build_tst_info(self, message_imprint, dt_, req):
                info = super()._build_tst_info(message_imprint, dt_, req)
                info["policy"] = tsp.ObjectIdentifier(policy)
                return info

        return _PolicyStamper(self._cert, self._key, certs_to_embed=self._chain, fixed_dt=when)

    def respond(self, request_der: bytes) -> Stamped:
        """The DER ``TimeStampResp`` for ``request_der``: granted with a token, or a rejection
        (badDataFormat, badAlg, unacceptedPolicy, unacceptedExtension) saying why."""
        from asn1crypto import tsp

        try:
            req = _parse_request(request_der, self.policy)
        except TimeStampRequestInvalid as exc:
            return Stamped(_rejection(exc.reason, exc.fail_info), False, reason=exc.reason)
        when = self._clock().astimezone(dt.timezone.utc).replace(microsecond=0)
        resp: tsp.TimeStampResp = self._stamper(when).request_tsa_response(req)
        info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
        return Stamped(resp.dump(), True, info["serial_number"].native, info["gen_time"].native)


def _parse_request(der: bytes, policy: str):
    from asn1crypto import tsp

    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        version = req["version"].native
        algo = req["message_imprint"]["hash_algorithm"]["algorithm"].native
        digest = req["message_imprint"]["hashed_message"].native
        req_policy = req["req_policy"].native
        extensions = req["extensions"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise TimeStampRequestInvalid(f"not a DER RFC 3161 TimeStampReq: {exc}", "badDataFormat") from exc
    if version != "v1":
        raise TimeStampRequestInvalid(f"TimeStampReq version {version}; only v1 exists", "badRequest")
    if algo not in DIGEST_SIZES:
        raise TimeStampRequestInvalid(f"hash algorithm {algo} is not accepted; use SHA-256, "
                                      "SHA-384 or SHA-512", "badAlg")
    if len(digest) != DIGEST_SIZES[algo]:
        raise TimeStampRequestInvalid(f"the {algo} imprint has {len(digest)} bytes, not "
                                      f"{DIGEST_SIZES[algo]}", "badDataFormat")
    if req_policy is not None and req_policy != policy:
        raise TimeStampRequestInvalid(f"policy {req_policy} is not this TSA's ({policy})",
                                      "unacceptedPolicy")
    if extensions:
        raise TimeStampRequestInvalid("request extensions are not supported", "unacceptedExtension")
    return req


def _rejection(text: str, fail: str) -> bytes:
    """A ``rejection`` TimeStampResp (no token).  asn1crypto's TimeStampResp declares the token
    mandatory, so this one answer is encoded with pyasn1-modules' RFC 3161 module."""
    from pyasn1.codec.der import encoder
    from pyasn1_modules import rfc3161, rfc4210

    resp = rfc3161.TimeStampResp()
    status = resp["status"]
    status["status"] = 2                       # rejection
    status["statusString"].append(text[:500])
    status["failInfo"] = rfc4210.PKIFailureInfo(fail)
    return encoder.encode(resp)
