"""Priors for global risk: a :mod:`labauto.uncertainty.distributions` input as a ``scipy.stats``
distribution (pdf, cdf, ppf), in the input's own unit.

    prior = to_scipy(Gamma(Q_(1, "um"), Q_(0.5, "um")))          # JCGM 106 9.5.4
    prior = parse_prior("normal:0,0.5")                            # the CLI's form
"""
from __future__ import annotations

import math
from typing import Any

from labauto.conformity.global_risk import RiskError

#: the CLI's prior forms: name -> (parameters, builder of the labauto distribution)
PRIOR_FORMS = {
    "normal": "normal:MEAN,SD",
    "gamma": "gamma:MEAN,SD (MEAN > 0; shape (MEAN/SD)², JCGM 106 9.5.4)",
    "rectangular": "rectangular:LOWER,UPPER",
    "triangular": "triangular:MEAN,HALFWIDTH",
    "t": "t:MEAN,SCALE,DOF",
}


def to_scipy(dist: Any) -> Any:
    """The frozen ``scipy.stats`` distribution of a labauto input (magnitudes in its unit)."""
    from scipy import stats

    from labauto.uncertainty.distributions import (Arcsine, Gamma, Normal, Rectangular, StudentT,
                                                   Trapezoidal, Triangular)
    x = dist.x
    if isinstance(dist, Gamma):
        return stats.gamma(a=dist.shape, scale=dist.u_mag ** 2 / x)
    if isinstance(dist, StudentT):
        return stats.t(df=dist.dof, loc=x, scale=dist.scale_mag)
    if isinstance(dist, Normal):
        if dist.u_mag <= 0:
            raise RiskError("a normal prior needs a standard deviation > 0")
        return stats.norm(loc=x, scale=dist.u_mag)
    if isinstance(dist, (Rectangular, Triangular, Trapezoidal, Arcsine)):
        a = dist.a
        if a <= 0:
            raise RiskError("a bounded prior needs a half-width > 0")
        if isinstance(dist, Rectangular):
            return stats.uniform(loc=x - a, scale=2 * a)
        if isinstance(dist, Triangular):
            return stats.triang(c=0.5, loc=x - a, scale=2 * a)
        if isinstance(dist, Trapezoidal):
            b = dist.beta
            return stats.trapezoid(c=(1 - b) / 2, d=(1 + b) / 2, loc=x - a, scale=2 * a)
        return stats.arcsine(loc=x - a, scale=2 * a)
    raise RiskError(f"a {dist.kind} input cannot serve as a prior for global risk; use normal, gamma, "
                    "t, rectangular, triangular, trapezoidal or arcsine")


def parse_prior(text: str) -> Any:
    """``normal:0,0.5`` -> the frozen scipy distribution (plain numbers, one unit)."""
    from labauto.uncertainty.distributions import Gamma, Normal, Rectangular, StudentT, Triangular
    from labauto.uncertainty.errors import ModelError

    name, _, params = str(text).partition(":")
    name = name.strip().lower()
    if name not in PRIOR_FORMS:
        raise RiskError(f"unknown prior {name!r}; use one of: {'; '.join(PRIOR_FORMS.values())}")
    try:
        values = [float(v) for v in params.split(",")]
    except ValueError:
        raise RiskError(f"prior {text!r}: the parameters must be numbers ({PRIOR_FORMS[name]})") from None
    need = 3 if name == "t" else 2
    if len(values) != need or not all(math.isfinite(v) for v in values):
        raise RiskError(f"prior {text!r}: give {need} finite numbers ({PRIOR_FORMS[name]})")
    try:
        if name == "normal":
            dist: Any = Normal(values[0], values[1], unit="dimensionless")
        elif name == "gamma":
            dist = Gamma(values[0], values[1], unit="dimensionless")
        elif name == "rectangular":
            dist = Rectangular.from_limits(values[0], values[1])
        elif name == "triangular":
            dist = Triangular(values[0], values[1], unit="dimensionless")
        else:
            dist = StudentT(values[0], values[1], dof=values[2], unit="dimensionless")
    except ModelError as exc:
        raise RiskError(f"prior {text!r}: {exc}") from None
    return to_scipy(dist)
