"""A procedure with a guarded decision rule (JCGM 106:2012 8.3) decides every point with the
U stated on the certificate, and its statement reaches the certificate data."""
from __future__ import annotations

import math

import pytest

from labauto.evaluation import evaluate_point
from labauto.procedure import load_procedure
from labauto.units import Q_

READINGS = [10.000031, 10.000047, 10.000022, 10.000058, 10.000040]   # V, 10 V range (as test_evaluation)


def _procedure(tmp_path, quick_procedure, rule_line: str):
    text = quick_procedure.read_text(encoding="utf-8")
    assert "decision_rule: simple-acceptance" in text
    path = tmp_path / "guarded.yaml"
    path.write_text(text.replace("decision_rule: simple-acceptance", rule_line, 1), encoding="utf-8")
    return load_procedure(path)


def test_dobbert_guard_band_per_point(tmp_path, quick_procedure):
    proc = _procedure(tmp_path, quick_procedure, "decision_rule: guarded-acceptance-dobbert")
    point = next(p for p in proc.points if p.nominal == Q_(10, "V"))
    r = evaluate_point(point, proc, READINGS, "V")
    T = r.tolerance.to("uV").magnitude
    U = r.expanded_uncertainty.to("uV").magnitude              # the U on the certificate
    M = max(0.0, 1.04 - math.exp(0.38 * math.log(T / U) - 0.54))
    assert r.acceptance_limit.to("uV").magnitude == pytest.approx(T - M * U, rel=1e-9)
    e = abs(r.error.to("uV").magnitude)
    assert r.decision == ("pass" if e <= T - M * U else "fail")
    assert proc.decision_rule.ref.name == "guarded-acceptance-dobbert"
    assert "Dobbert" in proc.decision_rule.ref.description


def test_guarded_rejection_with_a_probability_target(tmp_path, quick_procedure):
    proc = _procedure(tmp_path, quick_procedure,
                      "decision_rule: {rule: guarded-rejection, conformance_probability: 0.95}")
    point = next(p for p in proc.points if p.nominal == Q_(10, "V"))
    r = evaluate_point(point, proc, READINGS, "V")
    T = r.tolerance.to("uV").magnitude
    u = r.expanded_uncertainty.to("uV").magnitude / r.coverage_factor
    # RL where p_c = 5 %: far from the other limit RL = T + z_0.95·u
    assert r.acceptance_limit.to("uV").magnitude == pytest.approx(T + 1.6448536269514722 * u, rel=1e-6)
    assert r.decision == "pass"


def test_the_acceptance_limit_note_of_a_guarded_rule(tmp_path, quick_procedure):
    """The certificate's budget annex states AL next to the tolerance, so that a reader can
    check a guarded decision from the page (simple acceptance: nothing added)."""
    from labauto.certificate.pdf import _limit_note
    proc = _procedure(tmp_path, quick_procedure, "decision_rule: guarded-acceptance-rss")
    point = next(p for p in proc.points if p.nominal == Q_(10, "V"))
    r = evaluate_point(point, proc, READINGS, "V")
    T = r.tolerance.magnitude
    U = r.expanded_uncertainty.to(r.tolerance.units).magnitude
    al = math.sqrt(T * T - U * U)
    unit = f"{r.tolerance.units:~P}"
    assert _limit_note(r) == (f" against the acceptance limit ±{al:.4g}\u00a0{unit} (tolerance "
                              f"±{T:.4g}\u00a0{unit}, guard band {T - al:.3g}\u00a0{unit})")
    plain = _procedure(tmp_path / "..", quick_procedure, "decision_rule: simple-acceptance")
    assert _limit_note(evaluate_point(plain.point(point.id), plain, READINGS, "V")) == ""
