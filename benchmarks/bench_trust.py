"""Benchmark of trusted time and signed PDFs: what time-stamping and PDF signing cost on issue,
and what checking them costs a verifier.

Prints ranges (min–max over --repeat runs, after one warm-up) of: one RFC 3161 answer of the
TSA (in process), XAdES-T (request + token + insertion into a signed DCC), checking a DCC's
time-stamp, PAdES B-T signing of the rendered certificate PDF (with its in-process
time-stamp), verifying that PDF, and building the CA's CRL with N revoked entries.  The baseline
for the issuing figures is rendering the PDF and signing the DCC (XAdES-BES), measured in the
same run.  The TSA here runs in the same process: an HTTP round trip to the platform adds its
own latency on top.

    .venv/bin/python benchmarks/bench_trust.py [--repeat 20] [--crl-entries 1000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "certificate"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import footer, header  # noqa: E402


def _times(fn, repeat: int) -> list[float]:
    fn()                                          # warm-up: imports, caches
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _row(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    print(f"{name:<44} {ms[0]:8.1f} – {ms[-1]:8.1f} ms   (median {ms[len(ms) // 2]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--crl-entries", type=int, default=1000)
    a = ap.parse_args()
    header("")

    from conftest import make_result  # the certificate tests' hand-built calibration

    from labauto.certificate import pki
    from labauto.certificate.dcc_xml import build_dcc
    from labauto.certificate.pdf import render_pdf
    from labauto.certificate.pdf_signing import sign_pdf, verify_pdf
    from labauto.certificate.signer_crl import RevokedSigner, build_crl
    from labauto.certificate.signing import sign_dcc
    from labauto.certificate.tsa import TimeStampingAuthority, issue_tsa_certificate
    from labauto.certificate.xades_t import add_signature_timestamp, check_signature_timestamp
    from labauto.platform.tsa_client import pyhanko_timestamper, stamp_via

    ca = pki.CertificateAuthority.create("bench CA")
    lab = ca.issue("bench lab")
    pair = issue_tsa_certificate(ca)
    tsa = TimeStampingAuthority(pair.key_pem, pair.cert_pem, [ca.cert_pem])
    send = lambda req: tsa.respond(req).response_der  # noqa: E731
    result = make_result()
    unsigned = build_dcc(result)
    signed = sign_dcc(unsigned, lab.key_pem, lab.cert_pem)
    stamped = add_signature_timestamp(signed, stamp_via(send))
    pdf = render_pdf(result, dcc_sha256="0" * 64, pades_signed=True)
    signed_pdf = sign_pdf(pdf, lab.key_pem, lab.cert_pem, chain_pems=[ca.cert_pem],
                          timestamper=pyhanko_timestamper(send))
    from asn1crypto import tsp
    request = tsp.TimeStampReq({"version": 1, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\1" * 32}, "cert_req": True}).dump()
    now = dt.datetime.now(dt.timezone.utc)
    revoked = [RevokedSigner(i + 1, now - dt.timedelta(minutes=i)) for i in range(a.crl_entries)]

    print(f"{a.repeat} runs each after one warm-up; {len(pdf)} B certificate PDF, {len(signed)} B signed DCC")
    print("baseline (issuing without trusted time or PDF signature):")
    _row("  sign the DCC (XAdES-BES)", _times(lambda: sign_dcc(unsigned, lab.key_pem, lab.cert_pem), a.repeat))
    _row("  render the PDF", _times(lambda: render_pdf(result, dcc_sha256="0" * 64), max(3, a.repeat // 4)))
    print("added on issue:")
    _row("  TSA: answer one TimeStampReq", _times(lambda: tsa.respond(request), a.repeat))
    _row("  XAdES-T: time-stamp a signed DCC", _times(lambda: add_signature_timestamp(signed, stamp_via(send)), a.repeat))
    _row("  PAdES B-T: sign the PDF (+ time-stamp)", _times(lambda: sign_pdf(
        pdf, lab.key_pem, lab.cert_pem, chain_pems=[ca.cert_pem], timestamper=pyhanko_timestamper(send)), a.repeat))
    print("verifier:")
    _row("  check the DCC's time-stamp", _times(lambda: check_signature_timestamp(stamped, [ca.cert_pem]), a.repeat))
    _row("  verify the signed PDF", _times(lambda: verify_pdf(signed_pdf, [ca.cert_pem]), a.repeat))
    _row(f"  build the CRL ({a.crl_entries} entries)", _times(lambda: build_crl(ca, revoked), max(3, a.repeat // 4)))
    footer()


if __name__ == "__main__":
    main()
