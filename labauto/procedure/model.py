"""A loaded, validated calibration procedure: what to measure, how, and how to decide.

Immutable; built only by :func:`labauto.procedure.load_procedure`, which checks everything
against the instrument models, so the engine and the evaluation can trust every field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pint

from labauto.conformity import DecisionRule
from labauto.instruments import InstrumentModel, RangeSpec
from labauto.procedure.contributions import Contribution
from labauto.results import ProcedureRef
from labauto.uncertainty.budget import q_to_dict


@dataclass(frozen=True)
class TestPoint:
    """One test point: the standard is set to ``nominal`` and the DUT, on ``range``, read
    ``readings`` times after ``settle_time``.

    ``tolerance`` is the ± half-width of the DUT's specification at the nominal value (unit of
    the nominal); ``standard_range`` the calibrator range that sources it (smallest covering).
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

    @property
    def standard_spec(self) -> pint.Quantity:
        """± half-width of the standard's accuracy specification at the nominal value."""
        return self.standard_range.accuracy_halfwidth(self.nominal).to(self.nominal.units)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "index": self.index, "function": self.function,
            "range": q_to_dict(self.range), "nominal": q_to_dict(self.nominal),
            "readings": self.readings, "settle_time": q_to_dict(self.settle_time),
            "tolerance": q_to_dict(self.tolerance),
            "dut_resolution": q_to_dict(self.dut_range.resolution),
            "standard_range": q_to_dict(self.standard_range.range),
            "standard_spec": q_to_dict(self.standard_spec), "line": self.line,
        }


@dataclass(frozen=True)
class Procedure:
    id: str
    title: str
    version: str
    method: str
    path: Path
    sha256: str                      # SHA-256 of the file's bytes as loaded
    function: str                    # "DCV"
    dut_model: InstrumentModel
    standard_model: InstrumentModel
    nplc: float
    autozero: bool
    readings: int                    # default readings per point
    settle_time: pint.Quantity       # default settle time per point
    decision_rule: DecisionRule
    contributions: tuple[Contribution, ...]
    points: tuple[TestPoint, ...]
    description: str = ""
    plausibility_limit: float = 10.0  # a reading this many tolerances from nominal is a fault

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
            "function": self.function, "dut": self.dut_model.key,
            "standard": self.standard_model.key,
            "settings": {"nplc": self.nplc, "autozero": self.autozero, "readings": self.readings,
                         "settle_time": q_to_dict(self.settle_time),
                         "plausibility_limit": self.plausibility_limit},
            "decision_rule": self.decision_rule.to_dict(),
            "contributions": [c.to_dict() for c in self.contributions],
            "points": [p.to_dict() for p in self.points],
        }
