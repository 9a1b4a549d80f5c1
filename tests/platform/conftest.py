"""Shared fixtures of the platform tests (server, signing, client and outbox tests use them).

- ``platform_ca``: a self-managed CA (session); ``lab_keys`` / ``other_lab_keys``: signing keys
  and certificates it issued for two labs (session).
- ``make_dcc(certificate_id, ...)``: an unsigned, schema-valid DCC 3.3.0 built at test time
  from PTB's /work/shared/dcc/examples/valid.xml (never copied into the repo), with its id,
  item, date, amendment declaration, references and measurand changed by lxml;
  ``sign(xml, keys)`` signs it.
- ``platform_db_url``: parametrised over SQLite (a tmp file) and PostgreSQL (``postgres_url``,
  which fails instead of skipping under LABAUTO_REQUIRE_POSTGRES=1).
- ``platform``: a running server on loopback over that database (``.base_url``,
  ``.admin_token``, ``.database_url``, ``.admin()`` httpx client);
  ``lab``: "Lab A" registered there with ``lab_keys`` (``.token``, ``.client()``, ``.publish()``).

The classes behind ``platform`` and ``lab``, ``make_lab`` and ``sha256`` are in platform_support.py.
"""
from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest
from lxml import etree
from platform_support import Platform, RegisteredLab, make_lab

from labauto.certificate.dcc_xml import DCC_NS, safe_parser
from labauto.certificate.signing import sign_dcc
from labauto.certificate.pki import CertificateAuthority, KeyPair
from labauto.platform.server.testing import running_server

NS = {"dcc": DCC_NS}


def _d(tag: str) -> str:
    return f"{{{DCC_NS}}}{tag}"


@pytest.fixture(scope="session")
def platform_ca() -> CertificateAuthority:
    return CertificateAuthority.create("labauto test CA")


@pytest.fixture(scope="session")
def lab_keys(platform_ca: CertificateAuthority) -> KeyPair:
    return platform_ca.issue("Lab A signing", organization="Lab A", country="DE")


@pytest.fixture(scope="session")
def other_lab_keys(platform_ca: CertificateAuthority) -> KeyPair:
    return platform_ca.issue("Lab B signing", organization="Lab B", country="DE")


@pytest.fixture(scope="session")
def dcc_template(dcc_dir: Path) -> bytes:
    return (dcc_dir / "examples" / "valid.xml").read_bytes()


def build_dcc(template: bytes, certificate_id: str, *, serial: str = "SN-0001",
              manufacturer: str = "Keysight", model: str = "34465A", end_date: str = "2026-01-15",
              amends: str | None = None, type_of_change: str = "amended",
              references: Sequence[tuple[str, str]] = (), measurand: str | None = None) -> bytes:
    """An unsigned schema-valid DCC 3.3.0 derived from PTB's valid.xml example."""
    root = etree.fromstring(template, parser=safe_parser())
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    core.find("dcc:uniqueIdentifier", NS).text = certificate_id
    core.find("dcc:beginPerformanceDate", NS).text = end_date
    core.find("dcc:endPerformanceDate", NS).text = end_date
    if amends is not None:
        ras = etree.Element(_d("reportAmendedSubstituted"))
        etree.SubElement(ras, _d("typeOfChange")).text = type_of_change
        etree.SubElement(ras, _d("replacedUniqueIdentifier")).text = amends
        core.find("dcc:performanceLocation", NS).addnext(ras)
    item = root.find("dcc:administrativeData/dcc:items/dcc:item", NS)
    item.find("dcc:manufacturer/dcc:name/dcc:content", NS).text = manufacturer
    item.find("dcc:model", NS).text = model
    for ident in item.findall("dcc:identifications/dcc:identification", NS):
        if ident.findtext("dcc:issuer", namespaces=NS) == "manufacturer":
            ident.find("dcc:value", NS).text = serial
    mes = root.find("dcc:measurementResults/dcc:measurementResult/dcc:measuringEquipments", NS)
    template_me = mes.find("dcc:measuringEquipment", NS)
    for ref_id, ref_sha in references:
        me = copy.deepcopy(template_me)
        cert = etree.Element(_d("certificate"))
        referral = etree.SubElement(cert, _d("referral"))
        etree.SubElement(referral, _d("content")).text = f"Calibration certificate {ref_id}"
        etree.SubElement(cert, _d("referralID")).text = ref_id
        etree.SubElement(cert, _d("procedure")).text = "SHA-256"
        etree.SubElement(cert, _d("value")).text = ref_sha
        me.find("dcc:name", NS).addnext(cert)
        mes.append(me)
    if measurand is not None:
        q = root.find("dcc:measurementResults/dcc:measurementResult/dcc:results/dcc:result/"
                      "dcc:data/dcc:list/dcc:quantity", NS)
        for c in q.findall("dcc:name/dcc:content", NS):
            c.text = measurand
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="session")
def make_dcc(dcc_template: bytes) -> Callable[..., bytes]:
    def make(certificate_id: str, **kw) -> bytes:
        return build_dcc(dcc_template, certificate_id, **kw)
    return make


@pytest.fixture(scope="session")
def sign() -> Callable[[bytes, KeyPair], bytes]:
    def _sign(xml: bytes, keys: KeyPair) -> bytes:
        return sign_dcc(xml, keys.key_pem, keys.cert_pem)
    return _sign


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def platform(platform_db_url: str, dcc_schema_dir: Path,
             platform_ca: CertificateAuthority) -> Iterator[Platform]:
    admin = "admin-" + secrets.token_urlsafe(16)
    with running_server(platform_db_url, dcc_schema_dir, admin_token=admin, ca=platform_ca) as base_url:
        yield Platform(base_url, admin, platform_db_url)


@pytest.fixture
def lab(platform: Platform, lab_keys: KeyPair) -> RegisteredLab:
    return make_lab(platform, "Lab A", "D-K-12345-01-00", lab_keys)
