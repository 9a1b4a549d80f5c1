"""A loaded, validated calibration procedure: what to measure, how, and how to decide.

Immutable; built only by :func:`labauto.procedure.load_procedure`, which checks everything
against the instrument models, so the engine and the evaluation can trust every field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pint

from labauto.conformity import DecisionRule
from labauto.instruments import InstrumentModel, RangeSpec
from labauto.procedure.contributions import Contribution
from labauto.results import ProcedureRef
from labauto.uncertainty.budget import q_to_dict
from labauto.units import Q_


_VOLT = Q_(1, "V").units


@dataclass(frozen=True)
class OperatorStep:
    """Something only a person can do (move the leads, fit the short), written in the
    procedure before the point that needs it.  The engine puts the sources in standby and
    waits for the technician's confirmation."""

    text: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "line": self.line}


@dataclass(frozen=True)
class TestPoint:
    """One test point: the source is set to ``nominal`` (at ``frequency`` for AC) and the
    meter, on ``range``, read ``readings`` times after ``settle_time``.

    Which instrument is the source and which the meter depends on the direction: a meter
    under test reads the standard's output; a source under test is read by the standard.
    ``range`` is always the meter's range.  ``tolerance`` is the ± half-width of the DUT's
    specification at the nominal value (unit of the nominal); ``dut_range``/``standard_range``
    are the ranges of the DUT and the standard that the point uses; ``meter_settings`` and
    ``source_settings`` every setting of the function, resolved (given or the model default).
    """

    __test__ = False   # not a pytest test class, despite its name

    id: str
    index: int
    function: str
    range: pint.Quantity
    nominal: pint.Quantity
    readings: int
    settle_time: pint.Quantity
    tolerance: pint.Quantity
    dut_range: RangeSpec
    standard_range: RangeSpec
    line: int | None = None          # line of the point in the procedure file
    frequency: pint.Quantity | None = None
    meter_settings: dict[str, Any] = field(default_factory=dict)
    source_settings: dict[str, Any] = field(default_factory=dict)
    steps: tuple[OperatorStep, ...] = ()     # to confirm before this point
    contributions: tuple[Contribution, ...] = ()
    readback: bool = False    # a source under test's own measurement against the reference meter
    meter_range: RangeSpec | None = None     # the meter's range in use (what it can indicate)
    shunt: Any = None        # labauto.procedure.shunts.ShuntUse: a current read as V / R_s

    @property
    def meter_function(self) -> str:
        """The function the meter is configured for: the point's own, or at a shunt point the
        voltage function that reads the shunt (DCV for DCI)."""
        return self.function if self.shunt is None else self.shunt.meter_function

    @property
    def reading_unit(self) -> pint.Unit:
        """The unit the meter's readings are journalled in (volts at a shunt point)."""
        return self.nominal.units if self.shunt is None else _VOLT

    def indicated(self, reading: pint.Quantity) -> pint.Quantity:
        """The point's quantity a meter reading indicates: the reading itself, or at a shunt
        point V / R_s (the shunt's certified value)."""
        if self.shunt is None:
            return reading.to(self.nominal.units)
        return self.shunt.indicated(reading, self.nominal.units)

    @property
    def standard_spec(self) -> pint.Quantity:
        """± half-width of the standard's accuracy specification at the nominal value (at a
        shunt point: the meter's at I × R_s, as a current, plus the shunt's certified U)."""
        if self.shunt is not None:
            r = self.shunt.shunt.certificate
            volts = (self.nominal * r.value).to("V")
            meter = self.shunt.indicated(self.standard_range.accuracy_halfwidth(volts, self.frequency),
                                         self.nominal.units)
            return abs(meter) + abs(self.nominal) * (r.U / r.value).to("").magnitude
        return self.standard_range.accuracy_halfwidth(self.nominal, self.frequency).to(
            self.nominal.units)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id, "index": self.index, "function": self.function,
            "range": q_to_dict(self.range), "nominal": q_to_dict(self.nominal),
            "readings": self.readings, "settle_time": q_to_dict(self.settle_time),
            "tolerance": q_to_dict(self.tolerance),
            "dut_resolution": q_to_dict(self.dut_range.resolution),
            "standard_range": q_to_dict(self.standard_range.range),
            "standard_spec": q_to_dict(self.standard_spec), "line": self.line,
        }
        if self.frequency is not None:
            d["frequency"] = q_to_dict(self.frequency)
        if self.meter_settings:
            d["meter_settings"] = {k: _setting(v) for k, v in self.meter_settings.items()}
        if self.source_settings:
            d["source_settings"] = {k: _setting(v) for k, v in self.source_settings.items()}
        if self.steps:
            d["steps"] = [s.to_dict() for s in self.steps]
        if self.readback:
            d["readback"] = True
        if self.shunt is not None:
            d["shunt"] = self.shunt.name
        return d


def _setting(v: Any) -> Any:
    return q_to_dict(v) if isinstance(v, pint.Quantity) else v


@dataclass(frozen=True)
class Procedure:
    id: str
    title: str
    version: str
    method: str
    path: Path
    sha256: str                      # SHA-256 of the file's bytes as loaded
    function: str                    # the default function ("DCV"); points may name others
    dut_model: InstrumentModel
    standard_model: InstrumentModel
    settings: dict[str, Any]         # meter/source setting defaults the file gives (nplc ...)
    readings: int                    # default readings per point
    settle_time: pint.Quantity       # default settle time per point
    decision_rule: DecisionRule
    contributions: tuple[Contribution, ...]
    points: tuple[TestPoint, ...]
    description: str = ""
    plausibility_limit: float = 10.0  # a reading this many tolerances from nominal is a fault
    measurement_model: str = "error of indication"    # labauto.models name
    reference: str = "specification"                   # how the standard's value is known
    reference_certificate: Any = None                  # labauto.models.reference.Certificate
    load: pint.Quantity | None = None    # load resistor of a source under test's current points
    adjustment: Any = None           # labauto.procedure.adjustment.Adjustment, if declared
    readback_noise: Any = None       # labauto.models.readback_noise.ReadbackNoise, if named
    shunts: tuple[Any, ...] = ()     # labauto.procedure.shunts.ShuntUse: external current shunts
    #: the ambient conditions the procedure's budget holds for (``environment: limits:``),
    #: quantity -> labauto.conditions.Limits; they narrow the lab file's limits
    environment_limits: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        """``meter`` (a meter under test against a reference source) or ``source``."""
        return "source" if self.dut_model.role == "source" else "meter"

    @property
    def meter_model(self) -> InstrumentModel:
        return self.standard_model if self.direction == "source" else self.dut_model

    @property
    def source_model(self) -> InstrumentModel:
        return self.dut_model if self.direction == "source" else self.standard_model

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.function for p in self.points))

    @property
    def nplc(self) -> float | None:
        return self.settings.get("nplc")

    @property
    def autozero(self) -> bool | None:
        return self.settings.get("autozero")

    @property
    def steps(self) -> tuple[OperatorStep, ...]:
        return tuple(s for p in self.points for s in p.steps)

    @property
    def ref(self) -> ProcedureRef:
        return ProcedureRef(self.id, self.title, self.version, str(self.path), self.sha256)

    def point(self, point_id: str) -> TestPoint:
        for p in self.points:
            if p.id == point_id:
                return p
        raise KeyError(f"procedure {self.id} has no point {point_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "version": self.version, "method": self.method,
            "description": self.description, "path": str(self.path), "sha256": self.sha256,
            "function": self.function, "functions": list(self.functions),
            "dut": self.dut_model.key, "standard": self.standard_model.key,
            "direction": self.direction, "measurement_model": self.measurement_model,
            "reference": self.reference,
            **({"load": q_to_dict(self.load)} if self.load is not None else {}),
            **({"shunts": [s.to_dict() for s in self.shunts]} if self.shunts else {}),
            **({"reference_certificate": self.reference_certificate.to_dict()}
               if self.reference_certificate is not None else {}),
            **({"readback_noise": {"path": str(self.readback_noise.path),
                                   "sha256": self.readback_noise.sha256,
                                   "date": self.readback_noise.date}}
               if self.readback_noise is not None else {}),
            "settings": {**{k: _setting(v) for k, v in self.settings.items()},
                         "readings": self.readings, "settle_time": q_to_dict(self.settle_time),
                         "plausibility_limit": self.plausibility_limit},
            "decision_rule": self.decision_rule.to_dict(),
            "contributions": [c.to_dict() for c in self.contributions],
            "points": [p.to_dict() for p in self.points],
        }
