"""Extra uncertainty contributions a procedure lists: the method's own effects (thermal EMFs,
lead resistance, AC flatness, loading, shunt self-heating ...).

Each enters the measurement model (labauto.models) as an additive correction to the error E,
with estimate 0 — or, for a one-sided effect whose expected value is known (the residual
resistance of the test leads, a shunt's self-heating), with the estimate ``correction``: the
amount added to E (for a meter under test the negative of what the effect adds to its
indication; for a source read by a reference meter, what it adds to the meter's reading),
and the distribution of the correction about it.  An amount is absolute (in the function's
unit) or relative to the point's nominal value (ppm or %, e.g. AC flatness ``half_width:
50 ppm``; a relative correction is a fraction of the signed nominal value).  ``function`` (one
name or a list) says which points it applies to; without it, the procedure's default
``function``; ``range`` and ``nominal`` narrow it to points on those meter ranges, at those
values.  ``of: reference`` marks an error of the reference standard itself that its
specification does not include (the standard it was calibrated against when its figures are
relative to that standard, e.g. the 3458A's 24-hour figures): ``labauto validate`` draws it as
part of the reference's true error (labauto.validation.truth).  In the file::

    contributions:
      - {name: thermal_emf, label: thermal EMFs in the connections,
         distribution: rectangular, half_width: 1 uV}
      - {name: leads, distribution: normal, standard_uncertainty: 0.2 uV}
      - {name: loading, distribution: normal, expanded_uncertainty: 0.5 uV, k: 2}
      - {name: other, distribution: normal, expanded_uncertainty: 0.5 uV,
         coverage_probability: 0.95}
      - {name: flatness, function: ACV, distribution: rectangular, half_width: 30 ppm}
      - {name: lead_residual, function: RES2W, correction: -11 mohm,
         distribution: rectangular, half_width: 5 mohm}
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import pint

from labauto.procedure.schema import Problems, check_keys, quantity, text
from labauto.uncertainty import Normal, Rectangular
from labauto.uncertainty.budget import q_to_dict
from labauto.units import Q_
from labauto.yamlsource import PathKey

DISTRIBUTIONS = ("rectangular", "normal")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMON = ("name", "label", "distribution", "function", "range", "correction")
_AMOUNTS = {
    "rectangular": ("half_width",),
    "normal": ("standard_uncertainty", "expanded_uncertainty", "k", "coverage_probability", "dof"),
}


@dataclass(frozen=True)
class Contribution:
    """One listed contribution; its amount is in a unit of the procedure's function."""

    name: str
    label: str
    distribution: str                           # rectangular | normal
    half_width: pint.Quantity | None = None     # rectangular
    standard_uncertainty: pint.Quantity | None = None        # normal, given as u
    expanded_uncertainty: pint.Quantity | None = None        # normal, given as U ...
    k: float | None = None                      # ... with its coverage factor
    coverage_probability: float | None = None   # ... or its coverage probability
    dof: float = math.inf                       # normal: degrees of freedom of u
    functions: tuple[str, ...] = ()             # the functions it applies to
    scoped: bool = False                        # the file named them (function: ...)
    ranges: tuple[pint.Quantity, ...] = ()      # only points on these meter ranges (): all
    correction: pint.Quantity | None = None     # the estimate added to E (None: 0)
    of_reference: bool = False                  # ``of: reference``: an error of the standard
    nominals: tuple[pint.Quantity, ...] = ()    # only points at these nominal values (): all

    @property
    def relative(self) -> bool:
        """Amounts are fractions of the point's nominal value (ppm, %)."""
        amount = self.half_width if self.half_width is not None else (
            self.standard_uncertainty if self.standard_uncertainty is not None
            else self.expanded_uncertainty)
        return amount is not None and amount.dimensionless

    def applies_to(self, function: str, meter_range: pint.Quantity | None = None,
                   nominal: pint.Quantity | None = None) -> bool:
        if function not in self.functions:
            return False
        if self.nominals and nominal is not None and not any(
                n.dimensionality == nominal.dimensionality and
                math.isclose(n.to(nominal.units).magnitude, nominal.magnitude, rel_tol=1e-9,
                             abs_tol=1e-15) for n in self.nominals):
            return False
        if not self.ranges or meter_range is None:
            return True
        return any(r.dimensionality == meter_range.dimensionality and
                   math.isclose(r.to(meter_range.units).magnitude, meter_range.magnitude,
                                rel_tol=1e-9) for r in self.ranges)

    @property
    def u(self) -> pint.Quantity:
        """Standard uncertainty of the contribution."""
        if self.distribution == "rectangular":
            assert self.half_width is not None
            return self.half_width / math.sqrt(3)
        if self.standard_uncertainty is not None:
            return self.standard_uncertainty
        assert self.expanded_uncertainty is not None
        k = self.k if self.k is not None else NormalDist().inv_cdf(
            (1 + float(self.coverage_probability or 0.95)) / 2)
        return self.expanded_uncertainty / k

    def as_input(self, unit: pint.Unit | str, nominal: pint.Quantity | None = None) -> Any:
        """The contribution as an input quantity of a measurement model (estimate: the
        correction, 0 without one, in ``unit``): a :class:`labauto.uncertainty.Rectangular` or
        :class:`labauto.uncertainty.Normal`.  A relative amount is taken of ``|nominal|``, a
        relative correction of the signed ``nominal``."""
        zero = Q_(0.0, unit)
        if self.correction is not None:
            c = self.correction
            if c.dimensionless:
                if nominal is None:
                    raise ValueError(f"contribution {self.name} is relative: give the nominal")
                zero = (c.to("dimensionless").magnitude * nominal).to(unit)
            else:
                zero = c.to(unit)

        def amount(q: pint.Quantity) -> pint.Quantity:
            if q.dimensionless:
                if nominal is None:
                    raise ValueError(f"contribution {self.name} is relative: give the nominal")
                return (q.to("dimensionless").magnitude * abs(nominal)).to(unit)
            return q.to(unit)

        if self.distribution == "rectangular":
            assert self.half_width is not None
            return Rectangular(zero, amount(self.half_width), label=self.label)
        if self.standard_uncertainty is not None:
            return Normal(zero, amount(self.standard_uncertainty), dof=self.dof, label=self.label)
        assert self.expanded_uncertainty is not None
        return Normal.from_expanded(zero, amount(self.expanded_uncertainty), k=self.k,
                                    coverage_probability=self.coverage_probability,
                                    label=self.label)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "label": self.label,
                             "distribution": self.distribution}
        if self.scoped:
            d["functions"] = list(self.functions)
        if self.ranges:
            d["ranges"] = [q_to_dict(r) for r in self.ranges]
        for key in ("half_width", "standard_uncertainty", "expanded_uncertainty"):
            q = getattr(self, key)
            if q is not None:
                d[key] = q_to_dict(q)
        for key in ("k", "coverage_probability"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.correction is not None:
            d["correction"] = q_to_dict(self.correction)
        if self.of_reference:
            d["of"] = "reference"
        if self.nominals:
            d["nominals"] = [q_to_dict(n) for n in self.nominals]
        if self.distribution == "normal":
            d["dof"] = None if math.isinf(self.dof) else self.dof
        return d


def parse_contribution(problems: Problems, path: PathKey, data: Any, unit: str,
                       function: str, functions: tuple[str, ...] | None = None) -> Contribution:
    """One ``contributions`` entry; raises :class:`Invalid` after recording its problems.
    ``unit``/``function``: of the functions it applies to (the caller resolves ``function``)."""
    if not isinstance(data, dict):
        raise problems.fail(path, "a contribution must be a mapping with name, distribution and "
                                  "its amount (e.g. half_width: 1 uV)")
    dist = data.get("distribution")
    if dist is None:
        raise problems.fail(path, "contribution is missing the required key 'distribution' "
                                  f"({' or '.join(DISTRIBUTIONS)})")
    if dist not in DISTRIBUTIONS:
        raise problems.fail(path + ("distribution",),
                            f"unknown distribution {dist!r}; use {' or '.join(DISTRIBUTIONS)}")
    check_keys(problems, path, data, f"a {dist} contribution", required=("name", "distribution"),
               optional=("label", "function", "range", "nominal", "correction", "of") + _AMOUNTS[dist])
    scope = functions if functions is not None else (function,)
    scoped = "function" in data
    ranges: tuple[pint.Quantity, ...] = ()
    if "range" in data:
        raw = data["range"] if isinstance(data["range"], list) else [data["range"]]
        ranges = tuple(quantity(problems, path + ("range",), r, unit, "range",
                                note=f"{function} ranges are in {unit}") for r in raw)
    nominals: tuple[pint.Quantity, ...] = ()
    if "nominal" in data:      # an effect of one value only (a shunt's heating grows with I²)
        raw = data["nominal"] if isinstance(data["nominal"], list) else [data["nominal"]]
        nominals = tuple(quantity(problems, path + ("nominal",), n, unit, "nominal",
                                  note=f"{function} values are in {unit}") for n in raw)
    name = text(problems, path + ("name",), data["name"], "contribution name")
    if not _NAME.match(name):
        raise problems.fail(path + ("name",), f"contribution name {name!r} must be an identifier "
                                              "(letters, digits, underscores)")
    label = text(problems, path + ("label",), data.get("label", name), "contribution label")

    def amount(key: str) -> pint.Quantity:
        q = _relative(data[key]) or quantity(
            problems, path + (key,), data[key], unit, key,
            note=f"{function} contributions are in {unit}, or relative in ppm or %")
        if q.magnitude < 0:
            raise problems.fail(path + (key,), f"{key} must not be negative")
        return q

    def number(key: str, low: float, high: float, what: str) -> float:
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low < v <= high:
            raise problems.fail(path + (key,), f"{key} must be a number {what}, not {v!r}")
        return float(v)

    if "of" in data and data["of"] != "reference":
        raise problems.fail(path + ("of",), f"of must be 'reference' (an error of the reference "
                                            f"standard), not {data['of']!r}")
    of_reference = data.get("of") == "reference"
    correction = None
    if "correction" in data:   # signed: a one-sided effect's expected value, added to E
        correction = _relative(data["correction"]) or quantity(
            problems, path + ("correction",), data["correction"], unit, "correction",
            note=f"{function} corrections are in {unit}, or relative in ppm or %")
    if dist == "rectangular":
        if "half_width" not in data:
            raise problems.fail(path, "a rectangular contribution needs half_width (e.g. 1 uV)")
        return Contribution(name, label, dist, half_width=amount("half_width"), functions=scope,
                            scoped=scoped, ranges=ranges, correction=correction,
                            of_reference=of_reference, nominals=nominals)
    given = [k for k in ("standard_uncertainty", "expanded_uncertainty") if k in data]
    if len(given) != 1:
        raise problems.fail(path, "a normal contribution needs exactly one of "
                                  "standard_uncertainty or expanded_uncertainty")
    dof = number("dof", 0, math.inf, "> 0") if "dof" in data else math.inf
    if given[0] == "standard_uncertainty":
        for key in ("k", "coverage_probability"):
            if key in data:
                raise problems.fail(path + (key,), f"{key} belongs to expanded_uncertainty; "
                                                   "standard_uncertainty is already u")
        return Contribution(name, label, dist, standard_uncertainty=amount(given[0]), dof=dof,
                            functions=scope, scoped=scoped, ranges=ranges, correction=correction,
                            of_reference=of_reference, nominals=nominals)
    if ("k" in data) == ("coverage_probability" in data):
        raise problems.fail(path + ("expanded_uncertainty",),
                            "expanded_uncertainty needs exactly one of k or coverage_probability")
    k = number("k", 0, math.inf, "> 0") if "k" in data else None
    p = number("coverage_probability", 0, 0.999999, "between 0 and 1") if k is None else None
    return Contribution(name, label, dist, expanded_uncertainty=amount(given[0]), k=k,
                        coverage_probability=p, dof=dof, functions=scope, scoped=scoped, ranges=ranges,
                        correction=correction, of_reference=of_reference, nominals=nominals)


def _relative(value: Any) -> pint.Quantity | None:
    """``"50 ppm"`` / ``"0.01 %"`` -> a dimensionless quantity; anything else -> None."""
    if not isinstance(value, str) or not any(u in value for u in ("ppm", "%", "percent")):
        return None
    try:
        q = Q_(value.strip())
    except Exception:  # noqa: BLE001 - the normal path reports the parse error
        return None
    return q if isinstance(q, pint.Quantity) and q.dimensionless else None


__all__ = ["Contribution", "DISTRIBUTIONS", "parse_contribution"]
