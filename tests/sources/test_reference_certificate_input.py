"""The reference by its calibration certificate: the budget it gives, and bad input named by
file and line before any instrument is touched."""
from __future__ import annotations

import math

import pytest

from labauto.evaluation import evaluate_point
from labauto.procedure import ProcedureError, load_procedure

PROC = """\
procedure: {{id: CERT-CHECK, title: t, version: "1", method: m}}
dut: fluke_5522a
standard: keysight_3458a
function: DCV
reference: {reference}
settings: {{readings: 3, settle_time: 1 s}}
decision_rule: simple-acceptance
points:
  - {{range: 10 V, nominal: [10 V, 5 V]}}
"""
CERT = """\
certificate_id: CERT-1
laboratory: NMI
date: 2026-03-02
due: 2027-03-31
item: {{manufacturer: Keysight Technologies, model: {model}, serial: "2823A05432"}}
values:
  - {{function: DCV, range: 10 V, at: 10 V, error: 2.0 uV, U: 1.2 uV, k: 2}}
  - {{function: DCV, range: 10 V, at: 5 V, error: {error}, U: 0.8 uV, k: 2}}
"""


def _write(tmp_path, reference="{certificate: cert.yaml}", model="3458A", error="-1.5 uV"):
    (tmp_path / "cert.yaml").write_text(CERT.format(model=model, error=error))
    proc = tmp_path / "proc.yaml"
    proc.write_text(PROC.format(reference=reference))
    return proc


def test_the_certificate_replaces_the_specification_in_the_budget(tmp_path):
    p = load_procedure(_write(tmp_path))
    assert p.reference == "certificate" and p.reference_certificate.certificate_id == "CERT-1"
    point = p.point("DCV-10V-+10V")
    # E = V_set − X_ref − dX_ref with dX_ref = −(certified error) = −2.0 µV, u = 1.2/2 µV;
    # readings 10.000012, 10.000013, 10.000014 V: X_ref = 10.000013 V, s/√3 = 0.577 µV
    # E = 10 − 10.000013 + 0.000002 = −11.0 µV
    r = evaluate_point(point, p, [10.000012, 10.000013, 10.000014], "V")
    assert r.error.to("uV").m == pytest.approx(-11.0, abs=1e-6)
    rows = {c.name: c for c in r.budget.rows}
    assert rows["dX_ref"].standard_uncertainty.to("uV").m == pytest.approx(0.6)
    assert rows["X_ref"].standard_uncertainty.to("uV").m == pytest.approx(1 / math.sqrt(3))
    # 10 V is a whole number of the 5522A's 10 µV setting steps: no resolution term
    # (labauto.models.output); u_c from the certificate and the Type A
    assert "dX_res" not in rows
    u_c = math.sqrt(0.6 ** 2 + 1 / 3)
    assert r.budget.combined_uncertainty.to("uV").m == pytest.approx(u_c, rel=1e-9)


def test_a_point_the_certificate_does_not_cover_names_its_line(tmp_path):
    proc = _write(tmp_path)
    text = proc.read_text().replace("nominal: [10 V, 5 V]", "nominal: [10 V, 7 V]")
    proc.write_text(text)
    with pytest.raises(ProcedureError) as exc:
        load_procedure(proc)
    assert f"{proc}:9: point DCV-10V-+7V: certificate CERT-1 (cert.yaml) has no DCV value at " \
           "7 V on the 10 V range; it certifies 10 V, 5 V there" in str(exc.value)


def test_a_certificate_of_another_model_is_refused(tmp_path):
    with pytest.raises(ProcedureError, match=r"proc.yaml:5: certificate CERT-1 .* is for a "
                                             r"Keysight Technologies 34465A, not the standard "
                                             r"Keysight Technologies 3458A"):
        load_procedure(_write(tmp_path, model="34465A"))


def test_a_malformed_certificate_names_its_own_file_and_line(tmp_path):
    with pytest.raises(ProcedureError, match=r"proc.yaml:5: reference certificate: .*cert.yaml:8: "
                                             r"range, at, error and U must be in one unit"):
        load_procedure(_write(tmp_path, error="-1.5 uA"))


@pytest.mark.parametrize("reference, reason", [
    ("certified", "reference is 'specification' .* or {certificate: FILE}"),
    ("{certificate: missing.yaml}", "reference certificate: .*missing.yaml"),
])
def test_a_bad_reference_entry_names_its_line(tmp_path, reference, reason):
    with pytest.raises(ProcedureError, match=r"proc.yaml:5: " + reason):
        load_procedure(_write(tmp_path, reference=reference))


def test_a_bad_date_names_its_key_and_line(tmp_path):
    """One date parser (SourceMap.date) for this certificate and a reference thermometer's:
    the message names the key, as the thermometer's did."""
    proc = _write(tmp_path)
    cert = tmp_path / "cert.yaml"
    cert.write_text(cert.read_text().replace("due: 2027-03-31", "due: 31.03.2027"))
    with pytest.raises(ProcedureError, match=r"proc.yaml:5: reference certificate: .*cert.yaml:4: "
                                             r"due: '31.03.2027' is not a date \(YYYY-MM-DD\)"):
        load_procedure(proc)


def test_a_certificate_that_is_no_mapping_or_lacks_a_key_is_refused(tmp_path):
    from labauto.errors import SourceError
    from labauto.models.reference import load_reference_certificate

    path = tmp_path / "c.yaml"
    path.write_text("[1, 2]\n")
    with pytest.raises(SourceError, match=r"c.yaml:1: a reference certificate must be a mapping "
                                          r"with certificate_id, date, due, item, laboratory, "
                                          r"values"):
        load_reference_certificate(path)
    cert = CERT.format(model="3458A", error="1 uV")
    path.write_text("\n".join(line for line in cert.splitlines() if not line.startswith("due:")))
    with pytest.raises(SourceError, match=r"c.yaml:1: a reference certificate is missing 'due'"):
        load_reference_certificate(path)
