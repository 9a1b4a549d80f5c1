"""Calibration data for the certificate tests: a Pt100 compared with a reference in a bath.

The DUT is a PRT with its own CVD curve (R0 = 100.021 ohm, A, B, C below); the reference
reads the bath at the nominal temperature plus a small offset; readings carry fixed
deviations (no randomness, so every run builds the same certificate).
"""
from __future__ import annotations

from labauto.results import Equipment, Party, ProcedureRef
from labauto.temperature.budgets import (ComparisonPoint, dut_influences, point_budget,
                                         reference_influences)
from labauto.temperature.cvd import CallendarVanDusen
from labauto.temperature.fits import fit_cvd
from labauto.temperature.results import TemperatureCalibrationResult

DUT = CallendarVanDusen(r0=100.021, a=3.90851e-3, b=-5.7893e-7, c=-4.31e-12)
NOMINALS = (-40.0, -20.0, 0.0, 100.0, 200.0, 300.0, 420.0)
WIGGLE = (0.0004, -0.0003, 0.0002, -0.0004, 0.0003, -0.0002, 0.0001)   # ohm, "measured" deviations


def pt100_points(nominals=NOMINALS):
    results = []
    for i, t in enumerate(nominals):
        offset = 0.012 - 0.0001 * i
        ref = [t + offset + d for d in (-0.001, 0.0005, 0.0005, 0.0)]
        r_true = DUT.resistance(t + offset)
        dut = [r_true + WIGGLE[i % len(WIGGLE)] + d for d in (-0.0002, 0.0001, 0.0001, 0.0)]
        point = ComparisonPoint(
            nominal=t, reference=ref, dut=dut, dut_kind="prt",
            influences=reference_influences(calibration_U=0.010, drift=0.005, readout_U=0.002,
                                            axial=0.005 + 0.00005 * abs(t), radial=0.003,
                                            stability=0.004, immersion=0.002, self_heating=0.001)
            + dut_influences("prt", unit="ohm", resolution=0.0001, readout_U=0.0008,
                             hysteresis=0.010, self_heating=0.004, immersion=0.003))
        results.append(point_budget(point))
    return results


def pt100_result(points=None, fit=True) -> TemperatureCalibrationResult:
    pts = points or pt100_points()
    f = fit_cvd([p.nominal for p in pts], [p.value for p in pts], [p.u for p in pts]) if fit else None
    return TemperatureCalibrationResult(
        certificate_id="LA-T-2026-0001", run_id="run-t-0001",
        title="Calibration of an industrial platinum resistance thermometer",
        laboratory=Party("Example Calibration Lab", "1 Metrology Way, Braunschweig", "lab@example.org", "D-K-00000-01"),
        customer=Party("Customer GmbH", "Musterstadt", "info@customer.example"),
        authoriser=Party("A. Authoriser"), performed_by="T. Technician",
        item=Equipment("item", "Acme Sensors", "Pt100 4-wire probe", "PRT-1234"),
        standards=(Equipment("reference", "Fluke", "5615 secondary PRT", "SPRT-77",
                             certificate_id="REF-2026-17", calibrated_by="National lab"),
                   Equipment("reference", "Fluke", "1594A Super-Thermometer", "B12345",
                             certificate_id="RO-2026-03"),
                   Equipment("reference", "Fluke", "7080 stirred bath", "BATH-9")),
        procedure=ProcedureRef("T-PT100-01", "Pt100 by comparison, -40 °C to 420 °C", "1",
                               "procedures/pt100.yaml", "0" * 64),
        calibration_date="2026-12-05", calibration_end="2026-12-05T18:00:00Z",
        issue_date="2026-12-06", receipt_date="2026-12-01", points=tuple(pts),
        traceability="Traceable to the ITS-90 through the reference thermometer's calibration "
                     "certificate REF-2026-17.",
        fit=f, environment={"temperature": {"value": 23.0, "unit": "degC", "uncertainty": 0.3},
                            "humidity": {"value": 0.45, "unit": "dimensionless"}},
        immersion_depth_m=0.2, item_condition="no visible damage; sheath straight")
