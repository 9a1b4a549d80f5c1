"""A hand-built, realistic CalibrationResult: Keysight 34465A DCV against a Fluke 5522A.

Specifications (1 year, 23 °C ± 5 °C) used for tolerances and the calibrator row:
34465A DCV ± (% of reading + % of range): 100 mV 0.0050+0.0035, 1 V 0.0035+0.0007,
10 V 0.0030+0.0005, 100 V 0.0040+0.0006, 1000 V 0.0040+0.0006.
5522A DCV ± (% of output + floor): 329.9999 mV 0.0025 % + 1 µV, 3.299999 V 0.0015 % + 2 µV,
32.99999 V 0.0015 % + 20 µV, 329.9999 V 0.0020 % + 150 µV, 1000.000 V 0.0020 % + 1500 µV.
"""
from __future__ import annotations

import math

import pytest
from scipy import stats

from labauto.results import (CalibrationResult, DecisionRuleRef, Equipment, Party, PointResult,
                             ProcedureRef)
from labauto.uncertainty.budget import Contribution, UncertaintyBudget
from labauto.uncertainty.rounding import round_uncertainty
from labauto.units import Q_

DUT_SPEC = {0.1: (50e-6, 35e-6), 1: (35e-6, 7e-6), 10: (30e-6, 5e-6), 100: (40e-6, 6e-6),
            1000: (40e-6, 6e-6)}
CAL_SPEC = [(0.33, 25e-6, 1e-6), (3.3, 15e-6, 2e-6), (33, 15e-6, 20e-6), (330, 20e-6, 150e-6),
            (1000, 20e-6, 1500e-6)]
RESOLUTION = {0.1: 1e-8, 1: 1e-7, 10: 1e-6, 100: 1e-5, 1000: 1e-4}   # 6½ digits
# (range V, nominal V, error of indication V, unit errors are reported in)
POINTS = [(0.1, 0.0, 0.4e-6, "uV"), (0.1, 0.1, 2.1e-6, "uV"), (0.1, -0.1, -1.8e-6, "uV"),
          (1, 1.0, 9e-6, "uV"), (1, -1.0, -11e-6, "uV"), (10, 10.0, 0.12e-3, "mV"),
          (10, -10.0, -0.09e-3, "mV"), (100, 100.0, 6.1e-3, "mV"),   # 100 V fails (tol 4.6 mV)
          (1000, 500.0, 9e-3, "mV"), (1000, 1000.0, 21e-3, "mV")]
NOISE = (0.3, -0.5, 0.9, -1.2, 0.1, 0.6, -0.8, 1.1, -0.2, -0.3)   # x s, sums to 0


def _point(i: int, rng: float, nom: float, err: float, unit: str) -> PointResult:
    a, b = DUT_SPEC[rng]
    tol_v = round(a * abs(nom) + b * rng, 12)
    _, pc, floor = next(s for s in CAL_SPEC if abs(nom) <= s[0])
    cal_v = pc * abs(nom) + floor
    res = RESOLUTION[rng]
    s = max(res, 2e-7 * rng)
    readings = tuple(round(nom + err + n * s, 9) for n in NOISE)
    mean = sum(readings) / len(readings)
    sd = math.sqrt(sum((x - mean) ** 2 for x in readings) / (len(readings) - 1))
    V = lambda x: Q_(x, "V").to(unit)  # noqa: E731
    one = Q_(1, "")
    rows_raw = [("indication, repeatability", "Type A", sd / math.sqrt(10), "normal", 9.0),
                ("calibrator output", "calibrator specification", cal_v / math.sqrt(3),
                 "rectangular", math.inf),
                ("DUT resolution", "DUT resolution", res / (2 * math.sqrt(3)), "rectangular",
                 math.inf),
                ("thermal EMF", "thermal EMF", 1e-6 / math.sqrt(3), "rectangular", math.inf)]
    uc = math.sqrt(sum(r[2] ** 2 for r in rows_raw))
    nu = uc ** 4 / sum(r[2] ** 4 / r[4] for r in rows_raw)
    k = round(float(stats.t.ppf(0.977249868, nu)), 2)
    U = float(round_uncertainty(V(k * uc).magnitude))
    rows = tuple(Contribution(name=n, estimate=V(0.0 if src != "Type A" else mean - nom),
                              standard_uncertainty=V(u), distribution=dist, dof=dof,
                              sensitivity=one, contribution=V(u), variance_share=u * u / uc / uc,
                              source=src) for n, src, u, dist, dof in rows_raw)
    error = V(mean - nom)
    budget = UncertaintyBudget(measurand=f"error of indication at {nom:g} V", estimate=error,
                               combined_uncertainty=V(uc), dof_eff=nu, coverage_factor=k,
                               expanded_uncertainty=Q_(U, unit), coverage_probability=0.9545,
                               rows=rows)
    decision = "pass" if abs(mean - nom) <= tol_v else "fail"
    return PointResult(
        point_id=f"P{i + 1:02d}", function="DCV", range=Q_(rng, "V").to("mV" if rng < 1 else "V"),
        nominal=Q_(nom, "V"), reference=Q_(nom, "V"), readings=readings, reading_unit="V",
        mean=Q_(mean, "V"), std_dev=Q_(sd, "V"), error=error, budget=budget,
        expanded_uncertainty=Q_(U, unit), coverage_factor=k, coverage_probability=0.9545,
        tolerance=V(tol_v), acceptance_limit=V(tol_v), decision=decision,
        tur=tol_v / Q_(U, unit).to("V").magnitude,
        reading_timestamps=tuple(f"2026-11-20T09:{10 + i:02d}:{2 * j:02d}Z" for j in range(10)))


def make_result(**overrides) -> CalibrationResult:
    fields = dict(
        certificate_id="LA-2026-00042", run_id="run-7f3c2a", title="Calibration certificate",
        laboratory=Party(name="Acme Metrology Lab GmbH", address="Messweg 5, 38116 Braunschweig, DE",
                         email="lab@acme-metrology.example", identifier="D-K-12345-01-00"),
        customer=Party(name="Widget Works AG", address="Fabrikstr. 1, 10115 Berlin, DE",
                       email="qa@widget.example", identifier="C-1017"),
        authoriser=Party(name="Dr. Erika Mustermann", identifier="Head of laboratory"),
        performed_by="Max Probe",
        item=Equipment(role="item", manufacturer="Keysight Technologies", model="34465A",
                       serial_number="MY57001234", firmware="A.03.01",
                       resource="TCPIP0::10.0.0.17::inst0::INSTR",
                       identity="Keysight Technologies,34465A,MY57001234,A.03.01-02.40-03.01-00.52-03-02"),
        standards=(Equipment(role="reference", manufacturer="Fluke", model="5522A",
                             serial_number="4521009", certificate_id="PTB-DCC-2026-0815",
                             calibrated_by="PTB", calibration_due="2027-05-31",
                             certificate_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
                   Equipment(role="reference", manufacturer="Vaisala", model="HMT330",
                             serial_number="T1120044", certificate_id="DKD-2026-311",
                             calibrated_by="DKD lab", calibration_due="2027-01-31")),
        procedure=ProcedureRef(id="DCV-DMM-001", title="DC voltage calibration of digital multimeters",
                               version="2.1", path="procedures/dcv_dmm.yaml",
                               sha256="3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"),
        decision_rule=DecisionRuleRef(
            name="simple-acceptance",
            description="Simple acceptance (ILAC-G8:09/2019 4.2.1, w = 0): a point passes when "
                        "its error of indication lies within the specification limits."),
        calibration_date="2026-11-20", calibration_end="2026-11-20T09:20:18Z",
        issue_date="2026-11-23", receipt_date="2026-11-18",
        location="Acme Metrology Lab GmbH, DC laboratory, Braunschweig",
        environment={"temperature": {"value": 23.1, "unit": "degC", "uncertainty": 0.3},
                     "relative_humidity": {"value": 45.0, "unit": "percent", "uncertainty": 3.0}},
        points=tuple(_point(i, *p) for i, p in enumerate(POINTS)),
        traceability="The measurement results are traceable to the SI through the national "
                     "standards of PTB via the reference standards listed.",
        remarks=("Readings were taken after a warm-up of 4 h.",),
        software="labauto 0.1.0",
    )
    fields.update(overrides)
    return CalibrationResult(**fields)


@pytest.fixture(scope="session")
def cal_result() -> CalibrationResult:
    return make_result()


@pytest.fixture(scope="session")
def make_cal_result():
    """``make_cal_result(**overrides)``: the fixture result with some fields replaced."""
    return make_result
