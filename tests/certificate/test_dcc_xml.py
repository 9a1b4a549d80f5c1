from __future__ import annotations

import math

import pytest
from lxml import etree

from labauto.certificate.dcc_xml import build_dcc, parse_dcc_summary




@pytest.fixture(scope="module")
def schema(dcc_schema_dir):
    return etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))


def _assert_valid(schema, xml: bytes) -> None:
    doc = etree.fromstring(xml)
    if not schema.validate(doc):
        pytest.fail("\n".join(str(e) for e in schema.error_log))


def test_dcc_is_schema_valid(schema, cal_result):
    xml = build_dcc(cal_result)
    _assert_valid(schema, xml)
    root = etree.fromstring(xml)
    assert root.get("schemaVersion") == "3.3.0"


def test_schema_rejects_a_broken_document(schema, cal_result):
    root = etree.fromstring(build_dcc(cal_result))
    core = root.find(".//{https://ptb.de/dcc}coreData")
    core.remove(core.find("{https://ptb.de/dcc}uniqueIdentifier"))
    assert not schema.validate(root)


def test_amended_certificate_is_valid_and_names_replaced_id(schema, make_cal_result):
    r = make_cal_result(certificate_id="LA-2026-00042-A1", amends="LA-2026-00042")
    xml = build_dcc(r)
    _assert_valid(schema, xml)
    s = parse_dcc_summary(xml)
    assert s["amends"] == "LA-2026-00042"
    assert b"<dcc:typeOfChange>amended</dcc:typeOfChange>" in xml


def test_numbers_round_trip(cal_result):
    s = parse_dcc_summary(build_dcc(cal_result))
    assert s["certificate_id"] == "LA-2026-00042"
    assert s["item_serial"] == "MY57001234"
    assert len(s["points"]) == len(cal_result.points) == 10
    for got, p in zip(s["points"], cal_result.points):
        assert got["error"].units == p.error.units
        assert math.isclose(got["error"].magnitude, p.error.magnitude, rel_tol=1e-15)
        assert got["U"] == p.expanded_uncertainty
        assert got["k"] == p.coverage_factor
        assert got["coverage_probability"] == 0.9545
        assert got["nominal"] == p.nominal
    assert [g["conformity"] for g in s["points"]].count("fail") == 1
    assert s["points"][7]["conformity"] == "fail"


def test_standards_reference_convention(cal_result):
    root = etree.fromstring(build_dcc(cal_result))
    ns = {"dcc": "https://ptb.de/dcc"}
    eqs = root.findall(".//dcc:measuringEquipment", ns)
    assert len(eqs) == 2
    cert = eqs[0].find("dcc:certificate", ns)
    assert cert.findtext("dcc:referralID", namespaces=ns) == "PTB-DCC-2026-0815"
    assert cert.findtext("dcc:procedure", namespaces=ns) == "SHA-256"
    assert cert.findtext("dcc:value", namespaces=ns).startswith("9f86d081")
    assert eqs[1].find("dcc:certificate", ns) is None
    vals = [e.text for e in eqs[1].findall(".//dcc:identification/dcc:value", ns)]
    assert "DKD-2026-311" in vals


def test_units_are_dsi(cal_result):
    xml = build_dcc(cal_result)
    assert b"<si:unit>\\micro\\volt</si:unit>" in xml
    assert b"<si:unit>\\milli\\volt</si:unit>" in xml
    assert b"<si:unit>\\degreecelsius</si:unit>" in xml


def test_conformance_probability_and_specific_risk_are_in_the_dcc(schema, cal_result):
    """JCGM 106 figures per point (labauto_ refTypes in the conformity metadata), schema-valid and
    read back; a result without them (older runs) writes none."""
    import dataclasses

    from labauto.conformity.rules import simple_acceptance
    points = []
    for p in cal_result.points:   # the figures the evaluation attaches (labauto.evaluation)
        d = simple_acceptance().decide(p.error, p.expanded_uncertainty, p.tolerance,
                                       coverage_factor=p.coverage_factor)
        assert d.decision == p.decision
        points.append(dataclasses.replace(p, conformance_probability=d.conformance_probability,
                                          specific_risk=d.specific_risk))
    xml = build_dcc(dataclasses.replace(cal_result, points=tuple(points)))
    _assert_valid(schema, xml)
    got = parse_dcc_summary(xml)["points"]
    for g, p in zip(got, points):
        assert g["conformance_probability"] == pytest.approx(p.conformance_probability, rel=1e-12)
        assert g["specific_risk"] == pytest.approx(p.specific_risk, rel=1e-12, abs=1e-300)
    # the failing point (P08): its error lies outside the tolerance, so conformance is less likely
    # than not (0.115), and the risk that "fail" is wrong (false reject) is that same probability;
    # for a passing point the risk is the false-accept probability 1 - p_c
    assert got[7]["conformity"] == "fail" and 0 < got[7]["conformance_probability"] < 0.5
    assert got[7]["specific_risk"] == pytest.approx(got[7]["conformance_probability"], rel=1e-12)
    assert got[0]["conformity"] == "pass"
    assert got[0]["specific_risk"] == pytest.approx(1 - got[0]["conformance_probability"], rel=1e-9, abs=1e-15)
    assert b'refType="labauto_conformanceProbability"' in xml and b"<si:unit>\\one</si:unit>" in xml
    assert all(g["conformance_probability"] is None for g in parse_dcc_summary(build_dcc(cal_result))["points"])
