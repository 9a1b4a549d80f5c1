"""The main job end to end on the simulated lab (zero latency), without Prefect.

Checks the certificate's numbers against the simulation's truth: the simulated DUT has a known
gain and offset error per range (labauto.sim.Truth); the reported error of indication must
contain it within ± U at (nearly) every point, and a DUT made out of tolerance must fail.
"""
from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import pytest
from lxml import etree

from labauto.calibration import run_calibration
from labauto.certificate.dcc_xml import parse_dcc_summary
from labauto.certificate.signing import verify_dcc
from labauto.config import outbox_path
from labauto.engine.journal import RunJournal
from labauto.platform.outbox import Outbox
from labauto.results import CalibrationResult
from labauto.signing_identity import lab_signing_identity
from labauto.lab import load_lab
from labauto.sim import SimulatedLab
from labauto.units import Q_


@pytest.fixture(scope="module")
def schema(dcc_schema_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(dcc_schema_dir / "v3.3.0" / "dcc.xsd")))


def _calibrate(procedure: Path, tmp_path: Path, **lab_kwargs):
    with SimulatedLab(seed=lab_kwargs.pop("seed", 11), latency="zero", **lab_kwargs) as lab:
        outcome = run_calibration(procedure, dut_resource=lab.resources["dmm"],
                                  standard_resource=lab.resources["calibrator"],
                                  runs_dir=tmp_path / "runs", out_dir=tmp_path / "certificates",
                                  settle_scale=0.0, timeout_ms=5000)
        truth = {p.point_id: lab.truth.dut_error_at_setting(p.function, p.range, p.nominal)
                 for p in outcome.result.points}
        standby = lab.calibrator_state()["operate"] is False
    return outcome, truth, standby


def test_full_procedure_reports_the_true_dut_error_within_U(full_procedure, tmp_path, schema):
    outcome, truth, standby = _calibrate(full_procedure, tmp_path)
    result = outcome.result
    assert standby, "the calibrator must be left in standby after the run"
    assert len(result.points) >= 10

    inside = 0
    for p in result.points:
        true_error = truth[p.point_id].to(p.error.units)
        # error = mean indication - reference value, from the journaled readings
        mean = statistics.fmean(p.readings)
        assert p.mean.to(p.reading_unit).magnitude == pytest.approx(mean, rel=1e-12)
        assert p.error.to(p.reading_unit).magnitude == pytest.approx(
            mean - p.nominal.to(p.reading_unit).magnitude, abs=1e-12 * max(1.0, abs(mean)))
        # U = k u_c with k = t_0.975(nu_eff): 1.96 <= k (rounded budgets may give 2.0x)
        assert 1.9599 <= p.coverage_factor < 3.5
        assert p.expanded_uncertainty.magnitude > 0
        # The certificate's U cannot be smaller than the calibrator's spec contribution
        u_cal = p.budget.rows[[r.name for r in p.budget.rows].index("V_ref")].standard_uncertainty
        assert p.expanded_uncertainty >= 1.9 * u_cal.to(p.expanded_uncertainty.units)
        assert p.tur == pytest.approx((p.tolerance / p.expanded_uncertainty).to("").magnitude)
        if abs((p.error - true_error).to(p.expanded_uncertainty.units)) <= p.expanded_uncertainty:
            inside += 1
        # the simulated DUT is within its specification: every point passes
        assert p.decision == "pass", (p.point_id, p.error, p.tolerance)
    # ~95 % coverage: with >= 10 points at most one may fall outside
    assert inside >= len(result.points) - 1, f"true error inside ± U at {inside}/{len(result.points)}"
    assert result.overall_decision == "pass"

    files = outcome.files
    # JSON: the complete result, round-trips
    data = json.loads(files["json"].read_bytes())
    again = CalibrationResult.from_dict(data)
    assert again.certificate_id == result.certificate_id
    assert [p.error.magnitude for p in again.points] == [p.error.magnitude for p in result.points]
    assert data["procedure"]["sha256"] == hashlib.sha256(full_procedure.read_bytes()).hexdigest()

    # DCC: schema-valid PTB DCC 3.3.0, signed by the lab, carrying the same numbers as reported
    xml = files["xml"].read_bytes()
    root = etree.fromstring(xml)
    assert schema.validate(root), "\n".join(str(e) for e in schema.error_log)
    signer = verify_dcc(xml, lab_signing_identity(load_lab()).cert_pem)
    assert f"CN={load_lab().laboratory.name}" in signer.signer_subject
    summary = parse_dcc_summary(xml)
    assert summary["certificate_id"] == result.certificate_id
    assert summary["item_serial"] == "MY60012345"
    for dp, p in zip(summary["points"], result.points):
        assert dp["U"].to(p.expanded_uncertainty.units).magnitude == pytest.approx(
            p.expanded_uncertainty.magnitude, rel=1e-12)
        assert dp["k"] == pytest.approx(p.coverage_factor, abs=0.005)
        assert dp["conformity"] == "pass"
        # JCGM 106 conformance probability and specific risk, as in the JSON result
        assert p.conformance_probability is not None and p.specific_risk is not None
        assert dp["conformance_probability"] == pytest.approx(p.conformance_probability, rel=1e-12)
        assert dp["specific_risk"] == pytest.approx(p.specific_risk, rel=1e-12, abs=1e-300)
    assert b"\\volt" in xml
    country = root.findtext(".//{https://ptb.de/dcc}coreData/{https://ptb.de/dcc}countryCodeISO3166_1")
    assert country == load_lab().country == result.country

    # PDF exists and names the certificate id on its pages
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(files["pdf"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert result.certificate_id in text and f"of {len(reader.pages)}" in text
    assert "p_c =" in text     # specific risk of each decision (JCGM 106) in the budget annex

    # the signed DCC was committed to the publishing outbox (no platform configured here)
    box = Outbox(outbox_path())
    entry = box.get(result.certificate_id)
    box.close()
    assert entry.state == outcome.issued.outbox_state == "pending"
    assert entry.sha256 == outcome.issued.dcc_sha256 == hashlib.sha256(xml).hexdigest()
    assert outcome.publication["state"] == "queued"

    # the journal holds every reading that the certificate used
    journal = RunJournal(outcome.run_folder / "journal.jsonl").read()
    for p in result.points:
        assert [r["value"] for r in journal.points[p.point_id].readings] == list(p.readings)


def test_out_of_tolerance_dut_is_reported_failing(quick_procedure, tmp_path):
    outcome, truth, standby = _calibrate(quick_procedure, tmp_path, out_of_tolerance="10 V")
    result = outcome.result
    assert standby
    on_10v = [p for p in result.points if p.range == Q_(10, "V")]
    others = [p for p in result.points if p.range != Q_(10, "V")]
    assert on_10v and others
    for p in on_10v:   # the simulation puts the whole range beyond its specification
        assert abs(truth[p.point_id]) > p.tolerance
        assert p.decision in ("fail", "conditional fail"), (p.point_id, p.error, p.tolerance)
    assert all(p.decision == "pass" for p in others)
    assert result.overall_decision in ("fail", "conditional")
    xml = outcome.files["xml"].read_bytes()
    assert b"<dcc:conformity>fail</dcc:conformity>" in xml or b"conditionalFail" in xml


def test_same_seed_same_certificate_numbers(quick_procedure, tmp_path):
    a, _, _ = _calibrate(quick_procedure, tmp_path / "a", seed=5)
    b, _, _ = _calibrate(quick_procedure, tmp_path / "b", seed=5)
    assert [p.readings for p in a.result.points] == [p.readings for p in b.result.points]
    assert [p.expanded_uncertainty for p in a.result.points] == [
        p.expanded_uncertainty for p in b.result.points]


def test_issued_certificate_is_never_overwritten(quick_procedure, tmp_path):
    from labauto.calibration import evaluate_and_issue
    from labauto.issuing import CertificateExists

    outcome, _, _ = _calibrate(quick_procedure, tmp_path)
    before = outcome.files["xml"].read_bytes()
    with pytest.raises(CertificateExists):
        evaluate_and_issue(outcome.run_folder, out_dir=tmp_path / "certificates")
    assert outcome.files["xml"].read_bytes() == before
