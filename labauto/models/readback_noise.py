"""A source's readback noise as a characterisation measured it, and what a readback point's
budget takes from it (prior knowledge, GUM 4.2.4).

A procedure names the file (``readback_noise: references/FILE.yaml``, relative to it)::

    characterisation: readback noise
    date: 2026-12-06
    item: {manufacturer: Keysight Technologies, model: E36312A, serial: MY59001234}
    measured: labauto characterise procedures/keysight_e36312a_verification.yaml ...
    entries:
      # sigma: the noise ahead of the rounding to `resolution` (maximum likelihood, with its
      # u and degrees of freedom); pooled_s: the rounded readbacks' pooled s (GUM 4.2.4)
      - {function: DCV, channel: 1, resolution: 0.5 mV, sigma: 0.2 mV, u_sigma: 0.01 mV,
         dof: 200, pooled_s: 0.2 mV, pooled_dof: 960, levels: 40, readings: 1000}

The five readbacks of a point rounded to 0.5–1 mV are mostly equal when their noise is
0.2 mV: their own s is then 0, and without prior knowledge the budget can only allow the whole
rounding, ±q/2 (labauto.models.inputs.resolution).  With σ characterised, the mean's
uncertainty is known (labauto.models.quantisation): the Type A row carries W(σ)/n, the
expected scatter of rounded readbacks (pooled), and the rounding row B(σ), the bias the n
readbacks share — arcsine when the noise has damped the sawtooth to its first harmonic, else
rectangular (the one nearer in excess kurtosis).  Their degrees of freedom follow from u(σ)
(GUM G.4.2, eq. G.3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pint

from labauto.errors import SourceError
from labauto.models import quantisation as qn
from labauto.units import Q_, UnitError, parse_quantity
from labauto.yamlsource import load

_TOP = {"characterisation", "date", "item", "measured", "entries"}
_ENTRY_Q = ("resolution", "sigma", "u_sigma", "pooled_s")
_ENTRY = {"function", "channel", *_ENTRY_Q, "dof", "pooled_dof", "levels", "readings"}
KIND = "readback noise"


@dataclass(frozen=True)
class NoiseEntry:
    """The characterised readback noise of one function on one channel (in its unit)."""

    function: str
    channel: int | None
    resolution: pint.Quantity
    sigma: pint.Quantity
    u_sigma: pint.Quantity
    dof: float
    pooled_s: pint.Quantity
    pooled_dof: int
    levels: int
    readings: int
    line: int | None = None

    @classmethod
    def from_fit(cls, function: str, channel: int | None, fit: qn.NoiseFit, q: pint.Quantity
                 ) -> "NoiseEntry":
        unit = q.units
        return cls(function, channel, q, Q_(fit.sigma, unit), Q_(fit.u_sigma, unit), fit.dof,
                   Q_(fit.pooled_s, unit), fit.pooled_dof, fit.levels, fit.readings)

    def to_dict(self) -> dict[str, Any]:
        def q(x: pint.Quantity) -> str:
            return f"{float(x.magnitude):.6g} {x.units:~}"
        d: dict[str, Any] = {"function": self.function, "channel": self.channel,
                             "resolution": q(self.resolution), "sigma": q(self.sigma),
                             "u_sigma": q(self.u_sigma),
                             "dof": round(self.dof, 1) if math.isfinite(self.dof) else ".inf",
                             "pooled_s": q(self.pooled_s), "pooled_dof": self.pooled_dof,
                             "levels": self.levels, "readings": self.readings}
        if self.channel is None:
            del d["channel"]
        return d


@dataclass(frozen=True)
class ReadbackNoise:
    date: str
    manufacturer: str
    model: str
    serial: str
    measured: str
    entries: tuple[NoiseEntry, ...]
    path: Path | None = None
    sha256: str = ""

    def entry_for(self, function: str, channel: int | None) -> NoiseEntry | None:
        return next((e for e in self.entries if e.function == function and e.channel == channel),
                    None)

    def to_yaml(self) -> str:
        import yaml

        head = {"characterisation": KIND, "date": self.date,
                "item": {"manufacturer": self.manufacturer, "model": self.model,
                         "serial": self.serial},
                "measured": self.measured}
        text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100)
        rows = "".join("  - {" + ", ".join(f"{k}: {v}" for k, v in e.to_dict().items()) + "}\n"
                       for e in self.entries)
        note = ("# The readback noise of a source under test as `labauto procedure characterise` "
                "measured it\n# ('measured': where and how; docs/sources.md).  sigma: the noise "
                "ahead of the rounding\n# to `resolution`; pooled_s: the rounded readbacks' pooled "
                "standard deviation (GUM 4.2.4).\n")
        return note + text + "entries:\n" + rows


def load_readback_noise(path: str | Path) -> ReadbackNoise:
    """Parse a characterisation file; :class:`SourceError` naming file:line for a mistake."""
    path = Path(path)
    doc = load(path)
    d, src = doc.data, doc.source
    if not isinstance(d, dict):
        raise SourceError(str(path), 1, f"a readback noise file is a mapping with {sorted(_TOP)}")
    for key in d:
        if key not in _TOP:
            raise src.error((key,), f"unknown key {key!r}; allowed: {', '.join(sorted(_TOP))}")
    missing = sorted(_TOP - set(d))
    if missing:
        raise src.error((), f"missing {', '.join(missing)}")
    if d["characterisation"] != KIND:
        raise src.error(("characterisation",), f"characterisation is {KIND!r}, not "
                                               f"{d['characterisation']!r}")
    item = d["item"]
    if not isinstance(item, dict) or set(item) != {"manufacturer", "model", "serial"}:
        raise src.error(("item",), "item is {manufacturer, model, serial}")
    if not isinstance(d["entries"], list) or not d["entries"]:
        raise src.error(("entries",), "entries lists the characterised functions and channels")
    entries = tuple(_entry(src, ("entries", i), e) for i, e in enumerate(d["entries"]))
    return ReadbackNoise(str(d["date"]), str(item["manufacturer"]), str(item["model"]),
                         str(item["serial"]), str(d["measured"]), entries, path, doc.sha256)


def _entry(src: Any, at: tuple, e: Any) -> NoiseEntry:
    if not isinstance(e, dict) or not set(e) <= _ENTRY or not set(e) >= _ENTRY - {"channel"}:
        raise src.error(at, f"an entry is {{{', '.join(sorted(_ENTRY))}}} (channel optional)")
    q: dict[str, pint.Quantity] = {}
    for key in _ENTRY_Q:
        try:
            q[key] = parse_quantity(e[key], None)
        except UnitError as exc:
            raise src.error(at + (key,), str(exc)) from None
        if q[key].dimensionality != q["resolution"].dimensionality or q[key].magnitude < 0:
            raise src.error(at + (key,), f"{key} must be >= 0 in the resolution's unit, not "
                                         f"{e[key]!r}")
    if not q["resolution"].magnitude > 0:
        raise src.error(at + ("resolution",), "the resolution must be positive")
    unit = q["resolution"].units
    try:
        dof = float(e["dof"])
        counts = [int(e[k]) for k in ("pooled_dof", "levels", "readings")]
    except (TypeError, ValueError):
        raise src.error(at, "dof, pooled_dof, levels and readings are numbers") from None
    if not dof > 0:
        raise src.error(at + ("dof",), f"dof must be positive, not {e['dof']!r}")
    channel = e.get("channel")
    return NoiseEntry(str(e["function"]), None if channel is None else int(channel),
                      q["resolution"], q["sigma"].to(unit), q["u_sigma"].to(unit), dof,
                      q["pooled_s"].to(unit), *counts, line=src.line(at))


# ------------------------------------------------------------------------ the budget's rows
def _dof(f: Any, sigma: float, u_sigma: float) -> float:
    """GUM G.4.2 (G.3): ν ≈ ½ (Δu/u)⁻² of u = √f(σ), with Δu from u(σ)."""
    if u_sigma <= 0 or sigma <= 0:
        return math.inf
    h = 1e-4 * sigma
    value = f(sigma)
    if value <= 0:
        return math.inf
    rel = abs(f(sigma + h) - f(sigma - h)) / (2 * h) * u_sigma / (2 * value)
    return math.inf if rel == 0 else 0.5 / rel ** 2


def readback_inputs(entry: NoiseEntry, readbacks: pint.Quantity, unit: pint.Unit,
                    where: str) -> tuple[Any, Any]:
    """(X_rb, dX_res) of a readback point: the mean of ``readbacks`` with the characterised
    scatter (u = √(W(σ)/n)), and the rounding bias they share (u = √B(σ))."""
    from labauto.uncertainty import Normal, Rectangular, StudentT
    from labauto.uncertainty.distributions import Arcsine

    x = np.asarray(readbacks.to(unit).magnitude, dtype=float)
    q = float(entry.resolution.to(unit).magnitude)
    sigma = float(entry.sigma.to(unit).magnitude)
    u_sigma = float(entry.u_sigma.to(unit).magnitude)
    w, b = qn.within_variance(q, sigma), qn.bias_variance(q, sigma)
    n = x.size
    s_w = math.sqrt(w)
    nu_w = _dof(lambda s: qn.within_variance(q, s), sigma, u_sigma)
    shown = entry.resolution.units

    def fmt(v: float) -> str:
        return f"{Q_(v, unit).to(shown):.3g~P}"

    label = (f"mean readback of the DUT (Type A by the characterised scatter of one readback, "
             f"s = {fmt(s_w)}, ν = {nu_w:.0f}: σ = {fmt(sigma)} ahead of the {fmt(q)} rounding, "
             f"{where}; GUM 4.2.4)")
    mean = Q_(float(x.mean()), unit)
    if math.isinf(nu_w) or s_w == 0:
        x_rb = Normal(mean, Q_(s_w / math.sqrt(n), unit), label=label)
    else:
        x_rb = StudentT(mean, scale=Q_(s_w / math.sqrt(n), unit), dof=nu_w, label=label)
    nu_b = _dof(lambda s: qn.bias_variance(q, s), sigma, u_sigma)
    arcsine = qn.bias_excess_kurtosis(q, sigma) < -1.35
    shape = "arcsine" if arcsine else "rectangular"
    rounding_label = (f"readback resolution of the DUT: the rounding bias its {n} readbacks "
                      f"share, u = {fmt(math.sqrt(b))} ({shape}; σ = {fmt(sigma)} ahead of the "
                      f"{fmt(q)} steps, {where})")
    if arcsine:
        res = Arcsine(Q_(0.0, unit), Q_(math.sqrt(2 * b), unit), label=rounding_label, dof=nu_b)
    else:
        res = Rectangular(Q_(0.0, unit), Q_(math.sqrt(3 * b), unit), label=rounding_label,
                          dof=nu_b)
    return x_rb, res
