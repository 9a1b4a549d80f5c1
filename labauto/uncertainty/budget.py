"""Uncertainty budget as data: the table every certificate and report is built from.

One :class:`Contribution` per input quantity; an :class:`UncertaintyBudget` per output
quantity.  Quantities carry pint units (``labauto.units``); ``to_dict``/``from_dict`` give the
stable JSON form used in run results and certificates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pint

from labauto.units import Q_


def unit_text(unit: pint.Unit) -> str:
    """The unit as JSON states it (``"mV"``, ``"ppm"``, ``"%"``); ``""`` for a plain number.
    Only a unit that *is* ``dimensionless`` is left out: ppm, % and mm/m are dimensionless too,
    but dropping them would change the number read back."""
    s = f"{unit:~C}"
    return "" if s in ("", "dimensionless") else s


def q_to_dict(q: pint.Quantity) -> dict[str, Any]:
    return {"value": float(q.magnitude), "unit": unit_text(q.units)}


def q_from_dict(d: dict[str, Any]) -> pint.Quantity:
    return Q_(d["value"], d.get("unit") or "dimensionless")


def _dof_to_json(nu: float) -> float | None:
    return None if math.isinf(nu) else float(nu)


def _dof_from_json(nu: float | None) -> float:
    return math.inf if nu is None else float(nu)


class Contribution(NamedTuple):
    """One input's row: estimate x_i, u(x_i), distribution, ν_i, c_i, u_i(y) = |c_i| u(x_i).

    Immutable; a named tuple rather than a frozen dataclass because a budget builds one per
    input and a frozen dataclass takes ~1 µs to construct (a third of a 50-row budget's time).
    """

    name: str
    estimate: pint.Quantity
    standard_uncertainty: pint.Quantity
    distribution: str
    dof: float
    sensitivity: pint.Quantity          # ∂y/∂x_i, unit of y per unit of x_i
    contribution: pint.Quantity         # |c_i| u(x_i), unit of y
    variance_share: float               # share of u_c(y)^2, 0..1 (correlation terms excluded)
    source: str = ""                    # "Type A", "calibrator specification", ...
    note: str = ""                      # how u(x_i) was obtained, where it needs saying (t inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "estimate": q_to_dict(self.estimate),
            "standard_uncertainty": q_to_dict(self.standard_uncertainty),
            "distribution": self.distribution,
            "dof": _dof_to_json(self.dof),
            "sensitivity": q_to_dict(self.sensitivity),
            "contribution": q_to_dict(self.contribution),
            "variance_share": self.variance_share,
            "source": self.source,
            **({"note": self.note} if self.note else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Contribution":
        return cls(
            name=d["name"],
            estimate=q_from_dict(d["estimate"]),
            standard_uncertainty=q_from_dict(d["standard_uncertainty"]),
            distribution=d["distribution"],
            dof=_dof_from_json(d["dof"]),
            sensitivity=q_from_dict(d["sensitivity"]),
            contribution=q_from_dict(d["contribution"]),
            variance_share=float(d["variance_share"]),
            source=d.get("source", ""),
            note=d.get("note", ""),
        )


@dataclass(frozen=True)
class UncertaintyBudget:
    """Result of a GUM evaluation for one output quantity, with its budget rows."""

    measurand: str
    estimate: pint.Quantity
    combined_uncertainty: pint.Quantity
    dof_eff: float
    coverage_factor: float
    expanded_uncertainty: pint.Quantity
    coverage_probability: float
    rows: tuple[Contribution, ...] = field(default_factory=tuple)
    method: str = "GUM law of propagation of uncertainty (JCGM 100:2008)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "measurand": self.measurand,
            "estimate": q_to_dict(self.estimate),
            "combined_uncertainty": q_to_dict(self.combined_uncertainty),
            "dof_eff": _dof_to_json(self.dof_eff),
            "coverage_factor": self.coverage_factor,
            "expanded_uncertainty": q_to_dict(self.expanded_uncertainty),
            "coverage_probability": self.coverage_probability,
            "method": self.method,
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "UncertaintyBudget":
        return cls(
            measurand=d["measurand"],
            estimate=q_from_dict(d["estimate"]),
            combined_uncertainty=q_from_dict(d["combined_uncertainty"]),
            dof_eff=_dof_from_json(d["dof_eff"]),
            coverage_factor=float(d["coverage_factor"]),
            expanded_uncertainty=q_from_dict(d["expanded_uncertainty"]),
            coverage_probability=float(d["coverage_probability"]),
            method=d.get("method", ""),
            rows=tuple(Contribution.from_dict(r) for r in d["rows"]),
        )

    # -- renderers (labauto.uncertainty.render) ------------------------------------------
    def to_markdown(self) -> str:
        from labauto.uncertainty.render import markdown
        return markdown(self)

    def to_html(self) -> str:
        from labauto.uncertainty.render import to_html
        return to_html(self)

    def to_rich_table(self, title: str | None = None) -> Any:
        from labauto.uncertainty.render import rich_table
        return rich_table(self, title)
