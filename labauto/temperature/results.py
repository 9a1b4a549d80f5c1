"""A temperature calibration's results as data: what the certificate writers read.

:class:`TemperatureCalibrationResult` gathers the administrative data (the same
:class:`~labauto.results.Party`, :class:`~labauto.results.Equipment` and
:class:`~labauto.results.ProcedureRef` as every other certificate), the per-point results of
:func:`labauto.temperature.budgets.point_budget`, the fitted characteristic (CVD or thermocouple
deviation) and the ambient conditions.  A temperature procedure run builds one and passes it
to :func:`labauto.temperature.issue.issue_temperature_certificate` (or to the writers:
:func:`labauto.certificate.temperature_dcc.build_temperature_dcc`,
:func:`labauto.certificate.temperature_pdf.render_temperature_pdf`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Union

from labauto.results import Equipment, Party, ProcedureRef
from labauto.temperature.budgets import PointResult
from labauto.temperature.errors import TemperatureError
from labauto.temperature.fits import CvdFit, ThermocoupleFit

Fit = Union[CvdFit, ThermocoupleFit]

METHODS = {
    "prt": ("DKD-R 5-1:2018, IEC 60751:2022; heat sources characterised per EURAMET cg-13 "
            "Version 4.0 (02/2017)",
            "Calibration of an industrial platinum resistance thermometer by comparison"),
    "thermocouple": ("EURAMET cg-8 Version 3.0 (02/2019), IEC 60584-1:2013",
                     "Calibration of a thermocouple by comparison"),
    "indicating": ("DKD-R 5-1:2018", "Calibration of a thermometer with indication by comparison"),
}


@dataclass(frozen=True)
class TemperatureCalibrationResult:
    """Everything a temperature certificate states (see the module doc)."""

    certificate_id: str
    run_id: str
    title: str
    laboratory: Party
    customer: Party
    authoriser: Party
    performed_by: str
    item: Equipment
    standards: tuple[Equipment, ...]
    procedure: ProcedureRef
    calibration_date: str           # ISO date (start)
    calibration_end: str            # ISO date-time of the last reading
    issue_date: str
    receipt_date: str
    points: tuple[PointResult, ...]
    traceability: str
    fit: Fit | None = None
    environment: dict[str, Any] = field(default_factory=dict)   # as CalibrationResult.environment
    immersion_depth_m: float | None = None
    remarks: tuple[str, ...] = ()
    country: str = "DE"
    language: str = "en"
    location: str = "the laboratory's premises"    # where the calibration was performed
    item_condition: str = ""                       # the item's condition on receipt
    adjusted: bool = False                          # whether the item was adjusted

    def __post_init__(self) -> None:
        if not self.points:
            raise TemperatureError(f"certificate {self.certificate_id}: no calibration points")
        kinds = {p.point.dut_kind for p in self.points}
        if len(kinds) != 1:
            raise TemperatureError(f"certificate {self.certificate_id}: points of different DUT "
                                   f"kinds {sorted(kinds)}")
        object.__setattr__(self, "points", tuple(sorted(self.points, key=lambda p: p.nominal)))
        object.__setattr__(self, "standards", tuple(self.standards))

    @property
    def dut_kind(self) -> str:
        return self.points[0].point.dut_kind

    @property
    def value_unit(self) -> str:
        return self.points[0].unit

    @property
    def method(self) -> tuple[str, str]:
        """(norms, description) of the calibration method."""
        return METHODS[self.dut_kind]

    @property
    def item_condition_statement(self) -> str:
        return self.item_condition or "not recorded"

    @property
    def adjustment_statement(self) -> str:
        return ("The item was adjusted; the results are those after adjustment." if self.adjusted
                else "The item was not adjusted.")

    @property
    def range(self) -> tuple[float, float]:
        """The calibrated range in °C (lowest and highest calibration temperature)."""
        return self.points[0].nominal, self.points[-1].nominal

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "labauto.temperature.certificate/1",
            "certificate_id": self.certificate_id, "run_id": self.run_id, "title": self.title,
            "laboratory": self.laboratory.to_dict(), "customer": self.customer.to_dict(),
            "authoriser": self.authoriser.to_dict(), "performed_by": self.performed_by,
            "item": self.item.to_dict(), "standards": [e.to_dict() for e in self.standards],
            "procedure": self.procedure.to_dict(), "calibration_date": self.calibration_date,
            "calibration_end": self.calibration_end, "issue_date": self.issue_date,
            "receipt_date": self.receipt_date, "traceability": self.traceability,
            "dut_kind": self.dut_kind, "method": list(self.method),
            "points": [p.as_dict() for p in self.points],
            "fit": None if self.fit is None else self.fit.as_dict(),
            "environment": self.environment, "immersion_depth_m": self.immersion_depth_m,
            "remarks": list(self.remarks), "country": self.country, "language": self.language,
            "location": self.location, "item_condition": self.item_condition,
            "adjusted": self.adjusted,
        }

    def to_json(self) -> bytes:
        """Canonical JSON (sorted keys, UTF-8, trailing newline); refuses NaN/Infinity."""
        return (json.dumps(_finite(self.to_dict()), sort_keys=True, indent=2, ensure_ascii=False,
                           allow_nan=False) + "\n").encode("utf-8")


def fit_points(points: "tuple[PointResult, ...] | list[PointResult]", *, degree: int | None = None,
               c: str | bool = "auto") -> Fit | None:
    """The characteristic a certificate states for these points, fitted with their standard
    uncertainties: a PRT's Callendar–Van Dusen curve (:func:`~labauto.temperature.fits.fit_cvd`,
    ``c`` as there), a thermocouple's deviation polynomial
    (:func:`~labauto.temperature.fits.fit_thermocouple`, ``degree`` default min(2, n - 1)), none
    for an indicating thermometer.  Refused (TemperatureError) with fewer points than
    coefficients."""
    from labauto.temperature.fits import fit_cvd, fit_thermocouple

    pts = sorted(points, key=lambda p: p.nominal)
    if not pts:
        raise TemperatureError("no calibration points to fit")
    kind = pts[0].point.dut_kind
    t = [p.nominal for p in pts]
    if kind == "prt":
        scale = _unit_factor(pts[0].unit, "ohm")
        return fit_cvd(t, [p.value * scale for p in pts], [p.u * scale for p in pts], c=c)
    if kind == "thermocouple":
        scale = _unit_factor(pts[0].unit, "mV")
        d = min(2, len(pts) - 1) if degree is None else degree
        return fit_thermocouple(pts[0].point.thermocouple_type or "", t,
                                [p.value * scale for p in pts], [p.u * scale for p in pts], degree=d)
    return None


def _unit_factor(unit_from: str, unit_to: str) -> float:
    from labauto.units import Q_

    return float(Q_(1.0, unit_from).to(unit_to).magnitude)


def _finite(obj: Any) -> Any:
    """inf degrees of freedom as null (JSON has no infinity)."""
    if isinstance(obj, float) and math.isinf(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


__all__ = ["Fit", "METHODS", "TemperatureCalibrationResult", "fit_points"]
