"""Temperature certificates: the DCC in the structure of PTB's good-practice temperature DCC
(../shared/dcc/examples/valid.xml: gp_measuringResult1 / gp_table1, si:hybrid of K and °C,
gp_immersionDepth, ambient conditions), valid against DCC 3.3.0's XSD and PTB's dcc.sch; the
fitted coefficients with their uncertainties, covariance and correlation; the PDF with the
error table, the coefficients and the figure; issuing signs and writes all three."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from labauto.certificate.temperature_dcc import build_temperature_dcc
from labauto.certificate.temperature_pdf import render_temperature_pdf
from labauto.platform.server.dcc_results import extract_results
from labauto.platform.server.schematron import RuleBook
from labauto.temperature import thermocouples
from labauto.temperature.budgets import (ComparisonPoint, dut_influences, ea402_s5, point_budget,
                                         reference_influences)
from labauto.temperature.errors import TemperatureError
from labauto.temperature.fits import fit_thermocouple
from labauto.temperature.results import TemperatureCalibrationResult

from .builders import pt100_result

NS = {"dcc": "https://ptb.de/dcc", "si": "https://ptb.de/si"}


@pytest.fixture(scope="module")
def result():
    return pt100_result()


@pytest.fixture(scope="module")
def dcc(result):
    return etree.fromstring(build_temperature_dcc(result))


@pytest.fixture(scope="module")
def schema(dcc_schema_dir):
    return etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))


@pytest.fixture(scope="module")
def rules(dcc_schema_dir):
    return RuleBook(dcc_schema_dir, processes=0)


def _floats(el) -> list[float]:
    return [float(x) for x in el.text.split()]


def test_prt_dcc_is_valid_against_xsd_and_ptb_rules(dcc, schema, rules):
    assert schema.validate(dcc), schema.error_log
    report = rules.check(dcc, "3.3.0")
    assert report.applied and report.errors == [], [f.text() for f in report.errors]


def test_prt_dcc_follows_ptb_good_practice_temperature_structure(dcc, result):
    table = dcc.find(".//dcc:result[@refType='gp_measuringResult1']/dcc:data/dcc:list[@refType='gp_table1']", NS)
    assert table is not None
    refs = [q.get("refType") for q in table.findall("dcc:quantity", NS)]
    assert refs == ["basic_referenceValue", "basic_measuredValue", "basic_measurementError"]
    hybrid = table.find("dcc:quantity[@refType='basic_referenceValue']/si:hybrid", NS)
    lists = hybrid.findall("si:realListXMLList", NS)
    assert [l.findtext("si:unitXMLList", namespaces=NS) for l in lists] == ["\\kelvin", "\\degreecelsius"]
    kelvin, celsius = (_floats(l.find("si:valueXMLList", NS)) for l in lists)
    assert np.allclose(np.asarray(kelvin) - 273.15, celsius, atol=1e-9)
    assert celsius == pytest.approx([p.reference_temperature for p in result.points], abs=1e-9)
    nominal = table.find(".//dcc:metaData[@refType='basic_calibrationValue']//si:hybrid/si:realListXMLList[2]/si:valueXMLList", NS)
    assert _floats(nominal) == [-40.0, -20.0, 0.0, 100.0, 200.0, 300.0, 420.0]
    err = table.find("dcc:quantity[@refType='basic_measurementError']/si:realListXMLList", NS)
    assert err.findtext("si:unitXMLList", namespaces=NS) == "\\kelvin"
    assert _floats(err.find("si:valueXMLList", NS)) == pytest.approx([p.error for p in result.points])
    assert _floats(err.find("si:expandedUncXMLList/si:uncertaintyXMLList", NS)) == pytest.approx(
        [p.U_error for p in result.points])
    ohm = table.find("dcc:quantity[@refType='basic_measuredValue']/si:realListXMLList", NS)
    assert ohm.findtext("si:unitXMLList", namespaces=NS) == "\\ohm"
    # conditions: immersion depth first (as PTB's example), then the ambient temperature
    ics = [ic.get("refType") for ic in dcc.findall(".//dcc:influenceCondition", NS)]
    assert ics[0] == "gp_immersionDepth" and "basic_temperature" in ics
    assert dcc.find(".//dcc:usedMethod[@refType='gp_temperatureSensor']", NS) is not None
    # the platform reads the results (the scope check and search use them)
    kinds = {r.kind.name for r in extract_results(dcc) if r.kind is not None}
    assert "temperature" in kinds


def test_fitted_coefficients_with_uncertainty_covariance_and_correlation(dcc, result):
    fit = result.fit
    rl = dcc.find(".//dcc:result[@refType='labauto_fittedCurve']//si:list/si:realList", NS)
    reals = rl.findall("si:real", NS)
    assert [r.findtext("si:label", namespaces=NS) for r in reals] == ["R0", "A", "B", "C"]
    assert [r.findtext("si:unit", namespaces=NS) for r in reals] == [
        "\\ohm", "\\kelvin\\tothe{-1}", "\\kelvin\\tothe{-2}", "\\kelvin\\tothe{-4}"]
    for r in reals:
        name = r.findtext("si:label", namespaces=NS)
        assert float(r.findtext("si:value", namespaces=NS)) == fit.coefficients[name]
        assert float(r.findtext(".//si:valueStandardMU", namespaces=NS)) == pytest.approx(
            fit.standard_uncertainties[name], rel=1e-12)
    cols = rl.findall("si:ellipsoidalRegion/si:covarianceMatrix/si:column", NS)
    cov = np.array([[float(c.findtext("si:value", namespaces=NS)) for c in col.findall("si:covariance", NS)]
                    for col in cols]).T
    assert cov.shape == (4, 4) and np.allclose(cov, cov.T, rtol=1e-12, atol=0)
    assert np.allclose(cov, fit.covariance, rtol=1e-12, atol=0)
    unit_r0_a = cols[1].findall("si:covariance", NS)[0].findtext("si:unit", namespaces=NS)
    assert unit_r0_a == "\\ohm\\kelvin\\tothe{-1}"
    corr = dcc.find(".//dcc:quantity[@refType='labauto_fitCorrelation']/si:realListXMLList/si:valueXMLList", NS)
    assert np.allclose(np.reshape(_floats(corr), (4, 4)), fit.correlation, atol=1e-15)
    res = dcc.find(".//dcc:quantity[@refType='labauto_fitResiduals']/si:realListXMLList/si:valueXMLList", NS)
    assert _floats(res) == pytest.approx(list(fit.residuals_temperature), abs=1e-15)


def _thermocouple_result() -> TemperatureCalibrationResult:
    base = pt100_result(fit=False)
    pts = []
    for i, t in enumerate((400.0, 600.0, 800.0, 1000.0)):
        e = thermocouples.emf("N", t + 0.4) + 0.003 + 1e-5 * t
        pts.append(point_budget(ComparisonPoint(
            nominal=t, reference=[t + 0.4, t + 0.42, t + 0.38], dut=[e, e + 0.001, e - 0.001],
            dut_kind="thermocouple", thermocouple_type="N",
            influences=reference_influences(calibration_U=0.3, drift=0.3, axial=1.0)
            + dut_influences("thermocouple", unit="mV", thermocouple_type="N", readout_U=0.002,
                             resolution=0.001, reference_junction=0.1, parasitic=0.002, cable=0.005))))
    fit = fit_thermocouple("N", [p.nominal for p in pts], [p.value for p in pts], [p.u for p in pts], degree=2)
    return TemperatureCalibrationResult(**{**base.__dict__, "points": tuple(pts), "fit": fit,
                                           "title": "Calibration of a type N thermocouple",
                                           "certificate_id": "LA-T-2026-0002"})


def test_thermocouple_dcc_is_valid_and_states_the_deviation_polynomial(schema, rules):
    r = _thermocouple_result()
    root = etree.fromstring(build_temperature_dcc(r))
    assert schema.validate(root), schema.error_log
    assert rules.check(root, "3.3.0").errors == []
    labels = [e.text for e in root.findall(".//si:realList/si:real/si:label", NS)]
    assert labels == ["d0", "d1", "d2"]
    units = [e.text for e in root.findall(".//si:realList/si:real/si:unit", NS)]
    assert units == ["\\milli\\volt", "\\milli\\volt\\kelvin\\tothe{-1}", "\\milli\\volt\\kelvin\\tothe{-2}"]
    emf = root.find(".//dcc:quantity[@refType='basic_measuredValue']/si:realListXMLList/si:unitXMLList", NS)
    assert emf.text == "\\milli\\volt"
    # the errors are the emf deviations over the Seebeck coefficient: ~ (3 µV + 10 nV/K t)/S
    err = _floats(root.find(".//dcc:quantity[@refType='basic_measurementError']//si:valueXMLList", NS))
    expected = [(0.003 + 1e-5 * t) / thermocouples.seebeck("N", t) for t in (400, 600, 800, 1000)]
    assert err == pytest.approx(expected, abs=2e-3)
    # the furnace's ±1 K dominates: U is the propagated distribution's, stated with k (< 2)
    decl = root.find(".//dcc:statement[@refType='basic_uncertainty']/dcc:declaration/dcc:content", NS).text
    assert "At 400 °C, 600 °C, 800 °C, 1000 °C the GUM uncertainty framework was not validated" in decl
    ks = _floats(root.find(".//dcc:quantity[@refType='basic_measuredValue']//si:coverageFactorXMLList", NS))
    assert ks == pytest.approx([p.k for p in r.points], rel=1e-12) and all(1.7 < k < 1.9 for k in ks)


def test_pdf_has_error_table_coefficients_and_figure(result):
    from pypdf import PdfReader
    import io

    pdf = render_temperature_pdf(result, dcc_sha256="ab" * 32)
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "LA-T-2026-0001" in text and "End of certificate" in text
    assert "Callendar" in text and "Correlation coefficients" in text
    assert f"{result.fit.coefficients['R0']:.9g}"[:9] in text.replace("\u2212", "-")
    for p in result.points:                     # every calibration temperature in the table
        assert f"{p.reference_temperature:.4f}" in text.replace("\u2212", "-")
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 1
    assert "Annex: uncertainty budgets" in text and "heat source axial uniformity" in text
    assert "Condition on receipt no visible damage; sheath straight" in text
    assert "The item was not adjusted." in text and "Location" in text
    assert render_temperature_pdf(result, dcc_sha256="ab" * 32) == pdf     # deterministic


def test_mixed_or_empty_points_are_refused(result):
    with pytest.raises(TemperatureError, match="no calibration points"):
        TemperatureCalibrationResult(**{**result.__dict__, "points": ()})
    tc = _thermocouple_result()
    with pytest.raises(TemperatureError, match="different DUT kinds"):
        TemperatureCalibrationResult(**{**result.__dict__, "points": result.points + tc.points[:1]})


@pytest.fixture()
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LABAUTO_HOME", str(home))
    monkeypatch.setenv("LABAUTO_OUTBOX", str(home / "outbox.sqlite3"))
    for var in ("LABAUTO_PLATFORM_URL", "LABAUTO_PLATFORM_TOKEN", "LABAUTO_SIGNING_KEY",
                "LABAUTO_SIGNING_CERT", "LABAUTO_TSA_URL", "LABAUTO_TSA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_issue_signs_and_writes_dcc_pdf_json(lab_home, tmp_path, result, schema):
    from labauto.certificate.pdf_signing import verify_pdf
    from labauto.certificate.signing import verify_dcc
    from labauto.issuing import CertificateExists
    from labauto.lab import load_lab
    from labauto.signing_identity import demo_identity
    from labauto.temperature.issue import issue_temperature_certificate

    lab = load_lab()
    issued = issue_temperature_certificate(result, tmp_path / "certs", lab=lab)
    xml = issued.files["xml"].read_bytes()
    assert verify_dcc(xml).signing_time is not None
    assert schema.validate(etree.fromstring(xml)), schema.error_log
    assert verify_pdf(issued.files["pdf"].read_bytes(), [demo_identity(lab).ca_cert_pem]).ok
    data = json.loads(issued.files["json"].read_text())
    assert data["schema"] == "labauto.temperature.certificate/1"
    assert data["fit"]["coefficients"][0]["name"] == "R0"
    assert len(data["points"]) == 7 and data["points"][3]["nominal"] == 100.0
    assert issued.outbox_state
    with pytest.raises(CertificateExists):
        issue_temperature_certificate(result, tmp_path / "certs", lab=lab)


def test_fit_points_chooses_the_characteristic_by_dut_kind(result):
    from labauto.temperature.results import fit_points

    cvd = fit_points(result.points)
    assert cvd.fitted == ("R0", "A", "B", "C")
    assert cvd.coefficients == result.fit.coefficients
    tc = _thermocouple_result()
    dev = fit_points(tc.points)
    assert dev.names == ("d0", "d1", "d2")
    with pytest.raises(TemperatureError, match="cannot determine the 3 coefficients"):
        fit_points(tc.points[:2], degree=2)
    # a thermocouple read in µV is fitted in mV
    s5 = point_budget(ea402_s5(), k=2)
    one = fit_points([s5], degree=0)
    assert one.coefficients["d0"] == pytest.approx(36.228769 - thermocouples.emf("N", 1000.0), abs=1e-6)


def test_indicating_thermometer_dcc_states_indications_in_k_and_celsius(schema, rules):
    base = pt100_result(fit=False)
    pts = tuple(point_budget(ComparisonPoint(
        nominal=t, reference=[t + 0.02, t + 0.03], dut=[t + 0.1, t + 0.1], dut_kind="indicating",
        influences=reference_influences(calibration_U=0.02)
        + dut_influences("indicating", unit="degC", resolution=0.1))) for t in (0.0, 50.0, 100.0))
    r = TemperatureCalibrationResult(**{**base.__dict__, "points": pts, "fit": None,
                                        "title": "Calibration of a digital thermometer"})
    root = etree.fromstring(build_temperature_dcc(r))
    assert schema.validate(root), schema.error_log
    assert rules.check(root, "3.3.0").errors == []
    shown = root.find(".//dcc:quantity[@refType='basic_measuredValue']/si:hybrid/si:realListXMLList[2]/si:valueXMLList", NS)
    assert _floats(shown) == pytest.approx([0.1, 50.1, 100.1], abs=1e-9)
    err = root.find(".//dcc:quantity[@refType='basic_measurementError']//si:valueXMLList", NS)
    assert _floats(err) == pytest.approx([0.075, 0.075, 0.075], abs=1e-9)
    assert root.find(".//dcc:result[@refType='labauto_fittedCurve']", NS) is None


def test_thermocouple_pdf_states_the_deviation_polynomial():
    from pypdf import PdfReader
    import io

    r = _thermocouple_result()
    reader = PdfReader(io.BytesIO(render_temperature_pdf(r)))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "type N reference function + deviation polynomial" in text
    assert "E(t) / mV" in text and "d0" in text and "d2" in text
    assert "the GUM uncertainty framework was not validated (JCGM 101:2008 clause 8" in text
    assert "k = U/u_c" in text


def test_a_return_point_is_named_and_explained():
    """pt100_comparison measures 100 °C again after 420 °C (its hysteresis): the certificate's
    table must not list 100 °C twice without saying which is which."""
    from types import SimpleNamespace

    from labauto.certificate.temperature_pdf import point_names, return_note

    # as TemperatureCalibrationResult lists them: by temperature, a later visit after the earlier
    r = SimpleNamespace(points=[SimpleNamespace(nominal=t) for t in (-40, 0, 50, 100, 100, 200, 420)])
    assert point_names(r) == ["-40", "0", "50", "100", "100 (return)", "200", "420"]
    note = return_note(r)
    assert "100 °C was measured twice, the row marked (return) later in the run" in note
    assert "dt_hyst" in note
    once = SimpleNamespace(points=[SimpleNamespace(nominal=t) for t in (0, 50, 100)])
    assert point_names(once) == ["0", "50", "100"] and return_note(once) == ""
