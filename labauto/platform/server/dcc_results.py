"""The results of a DCC as (quantity, value, expanded uncertainty, coverage factor, frequency),
for the accreditation-scope check and the search by quantity and range.

A result is a ``dcc:quantity`` carrying an expanded uncertainty — in ``si:real``
(``si:measurementUncertaintyUnivariate/si:expandedMU`` or the older ``si:expandedUnc``) or in
``si:realListXMLList`` (``si:expandedMUXMLList`` / ``si:expandedUncXMLList``; one uncertainty
for all values or one per value), or the first of a ``si:hybrid``.  Its value for the range
check is its sibling ``basic_nominalValue`` (else ``basic_referenceValue``, else
``basic_measuredValue``) when it is an error of indication, else its own value; a relative
uncertainty (a dimensionless quantity) is multiplied by that value.  A sibling quantity in hertz
is the frequency.

The quantity is keyed on the D-SI unit's dimension (V, A, Ω, Hz, K ...); voltage and current
are AC when a frequency is given or a ``refType``/name says so (``ACV``, ``AC``,
``alternating``), else DC.  Units are read with :func:`labauto.units.from_dsi` (cached).
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import pint
from lxml import etree

from labauto.certificate.dcc_xml import DCC_NS, SI_NS
from labauto.platform.server.cmc import KINDS, QuantityKind, difference_in, kind
from labauto.units import Q_, UnitError, from_dsi

NS = {"dcc": DCC_NS, "si": SI_NS}
MAX_RESULTS = 5000
_D = f"{{{DCC_NS}}}"
_S = f"{{{SI_NS}}}"
_VALUE_REFS = ("basic_nominalValue", "basic_referenceValue", "basic_measuredValue")
_AC = {"ac", "acv", "aci", "alternating", "rms", "acvoltage", "accurrent"}
_DC = {"dc", "dcv", "dci", "direct", "dcvoltage", "dccurrent"}


@dataclass(frozen=True)
class DccResult:
    position: int
    name: str
    kind: QuantityKind | None     # None: a unit no scope quantity has
    value: float                  # in kind.unit (or the D-SI unit's base when kind is None)
    uncertainty: float            # expanded, same unit
    k: float
    frequency: float | None       # Hz
    unit: str                     # the unit value and uncertainty are in


@functools.lru_cache(maxsize=512)
def _unit(dsi: str) -> pint.Unit | None:
    try:
        return from_dsi(dsi.strip())
    except (UnitError, ValueError, pint.errors.PintError):
        return None


# Unit facts and conversions, asked of pint once per D-SI unit string (a publication's results
# share a few units; pint costs tens of µs per quantity it builds, which made reading ten results
# cost 3 ms; the caches are keyed by the string: hashing a pint unit costs more than the lookup).

@functools.lru_cache(maxsize=512)
def _dim(dsi: str):
    return (1 * _unit(dsi)).dimensionality


@functools.lru_cache(maxsize=512)
def _dimensionless(dsi: str) -> bool:
    return (1 * _unit(dsi)).dimensionless


@functools.lru_cache(maxsize=512)
def _convert(dsi: str, target: str) -> tuple[float, float] | None:
    """(scale, offset) of unit ``dsi`` -> ``target`` for values (x * scale + offset; °C -> K has
    an offset), or None when they are different quantities."""
    unit = _unit(dsi)
    try:
        offset = float(Q_(0.0, unit).to(target).magnitude)
        scale = difference_in(Q_(1.0, unit), target)
    except (pint.DimensionalityError, pint.errors.OffsetUnitCalculusError):
        return None
    return scale, offset


@functools.lru_cache(maxsize=512)
def _difference(dsi: str, target: str) -> float | None:
    """The factor of a difference (an uncertainty) in ``dsi`` to ``target``: 0.05 °C is 0.05 K."""
    try:
        return difference_in(Q_(1.0, _unit(dsi)), target)
    except (pint.DimensionalityError, pint.errors.OffsetUnitCalculusError):
        return None


@functools.lru_cache(maxsize=512)
def _base_unit(dsi: str) -> str:
    return str((1 * _unit(dsi)).to_base_units().units)


@functools.lru_cache(maxsize=512)
def _kinds_of(dsi: str) -> tuple[QuantityKind, ...]:
    dim = _dim(dsi)
    return tuple(k for k in KINDS if Q_(1, k.unit).dimensionality == dim)


def _floats(text: str | None) -> list[float]:
    """The numbers of an XML list; empty if any is not a finite number (xs:double allows NaN
    and INF, which no scope check or search can use)."""
    try:
        values = [float(t) for t in (text or "").split()]
    except ValueError:
        return []
    return values if all(math.isfinite(v) for v in values) else []


def _content(el) -> str:
    if el is None:
        return ""
    contents = list(el.iterchildren(f"{_D}content"))
    for c in contents:
        if c.get("lang") == "en" and c.text:
            return " ".join(c.text.split())
    return " ".join((contents[0].text or "").split()) if contents else ""


@dataclass
class _Values:
    values: list[float]
    unit: pint.Unit | None
    dsi: str
    U: list[float]
    k: list[float]


def _child(el, tag: str):
    """The first child of ``el`` named ``tag`` (Clark notation), or None (lxml's C iteration:
    cheaper than ``find`` with a prefixed path, which this runs tens of times per document)."""
    if el is None:
        return None
    for c in el.iterchildren(tag):
        return c
    return None


def _text(el, default: str | None = None) -> str | None:
    return default if el is None else (el.text or "")


_HYBRID, _REAL, _LIST = f"{_S}hybrid", f"{_S}real", f"{_S}realListXMLList"


def _children(el) -> dict:
    """The first child of ``el`` of each tag (Clark notation): one pass of lxml's C iteration,
    then dictionary look-ups (a quantity's value, unit and uncertainty are read from a few
    children each; asking for each by name walked the children once per name)."""
    out: dict = {}
    if el is not None:
        for c in el:
            if c.tag not in out:
                out[c.tag] = c
    return out


def _uncertainty(mu, value_tag: str, k_tag: str) -> tuple[list[float], list[float]]:
    m = _children(mu)
    return _floats(_text(m.get(value_tag))), _floats(_text(m.get(k_tag)))


def _real_values(q) -> _Values | None:
    """Values, unit and expanded uncertainties of a dcc:quantity (first of a si:hybrid)."""
    kids = _children(q)
    if _HYBRID in kids:
        kids = _children(kids[_HYBRID])
    real = kids.get(_REAL)
    if real is not None:
        r = _children(real)
        dsi = _text(r.get(f"{_S}unit"), "")
        vals = _floats(_text(r.get(f"{_S}value")))
        mu = _children(r.get(f"{_S}measurementUncertaintyUnivariate")).get(f"{_S}expandedMU")
        if mu is not None:
            U, k = _uncertainty(mu, f"{_S}valueExpandedMU", f"{_S}coverageFactor")
        elif f"{_S}expandedUnc" in r:
            U, k = _uncertainty(r[f"{_S}expandedUnc"], f"{_S}uncertainty", f"{_S}coverageFactor")
        else:
            U, k = [], []
        return _Values(vals, _unit(dsi), dsi, U, k)
    lst = kids.get(_LIST)
    if lst is not None:
        r = _children(lst)
        dsi = (_text(r.get(f"{_S}unitXMLList"), "").split() or [""])[0]
        vals = _floats(_text(r.get(f"{_S}valueXMLList")))
        mu = _children(r.get(f"{_S}measurementUncertaintyUnivariateXMLList")).get(
            f"{_S}expandedMUXMLList")
        if mu is not None:
            U, k = _uncertainty(mu, f"{_S}valueExpandedMUXMLList", f"{_S}coverageFactorXMLList")
        elif f"{_S}expandedUncXMLList" in r:
            U, k = _uncertainty(r[f"{_S}expandedUncXMLList"], f"{_S}uncertaintyXMLList",
                                f"{_S}coverageFactorXMLList")
        else:
            U, k = [], []
        return _Values(vals, _unit(dsi), dsi, U, k)
    return None


def _broadcast(xs: list[float], n: int) -> list[float] | None:
    if len(xs) == n:
        return xs
    if len(xs) == 1:
        return xs * n
    return None


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@functools.lru_cache(maxsize=4096)
def _tokens(*texts: str) -> frozenset[str]:
    out: set[str] = set()
    for t in texts:
        for w in re.split(r"[^A-Za-z0-9]+", t or ""):
            if w:
                out.add(w.lower())
                out.update(p.lower() for p in _WORD.findall(w))
    return frozenset(out)


def _classify(dsi: str, hints: frozenset[str], has_frequency: bool) -> QuantityKind | None:
    matches = _kinds_of(dsi)
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0]
    ac = has_frequency or bool(hints & _AC)
    dc = bool(hints & _DC)
    for k in matches:
        if k.alternating == (ac and not dc):
            return k
    return matches[0]


def _siblings(q) -> list:
    parent = q.getparent()
    return [s for s in parent if s.tag == f"{_D}quantity" and s is not q]


def _frequency(siblings: list, values_of) -> list[float] | None:
    for s in siblings:
        v = values_of(s)
        if v and v.unit is not None and v.values:
            to_hz = _convert(v.dsi, "Hz")
            if to_hz is None:
                continue
            return [x * to_hz[0] + to_hz[1] for x in v.values]
    return None


def extract_results(root: etree._Element) -> list[DccResult]:
    """Every result with an expanded uncertainty, in document order (at most MAX_RESULTS)."""
    out: list[DccResult] = []
    memo: dict = {}

    def values_of(el) -> _Values | None:        # each quantity read once (siblings are asked again)
        if el not in memo:
            memo[el] = _real_values(el)
        return memo[el]

    for result in root.iterfind("dcc:measurementResults/dcc:measurementResult/dcc:results/dcc:result", NS):
        rname = _content(_child(result, f"{_D}name"))
        data = _child(result, f"{_D}data")
        for q in data.iter(f"{_D}quantity") if data is not None else ():
            # quantities inside measurementMetaData are limits and probabilities, not results
            if next(q.iterancestors(f"{_D}measurementMetaData"), None) is not None:
                continue
            own = values_of(q)
            if own is None or not own.U or own.unit is None or not own.values:
                continue
            n = len(own.values)
            U, ks = _broadcast(own.U, n), _broadcast(own.k or [2.0], n)
            if U is None or ks is None:
                continue
            values, unit = own.values, own.dsi          # unit: of U
            sibling_list = _siblings(q)
            siblings = {s.get("refType", ""): s for s in sibling_list}
            ref = q.get("refType", "") or ""
            if "basic_measurementError" in ref.split() or _dimensionless(own.dsi):
                for vref in _VALUE_REFS:
                    s = siblings.get(vref)
                    sv = values_of(s) if s is not None else None
                    if sv is not None and sv.unit is not None and len(sv.values) == n:
                        if _dimensionless(own.dsi):     # relative uncertainty of that value
                            per_one = _difference(own.dsi, "")
                            U = [abs(u * per_one * x) for u, x in zip(U, sv.values)]
                            unit = sv.dsi
                        elif _dim(sv.dsi) != _dim(own.dsi):
                            continue
                        values = sv.values
                        value_unit = sv.dsi
                        break
                else:       # an error (or a relative U) without the value it belongs to
                    continue
            else:
                value_unit = own.dsi
            freq = _frequency(sibling_list, values_of)
            if freq is not None:
                freq = _broadcast(freq, n)
            qname = _content(_child(q, f"{_D}name"))
            hints = _tokens(rname, ref, result.get("refType", ""), qname, q.getparent().get("refType", ""))
            k = _classify(value_unit, hints, freq is not None)
            target = k.unit if k is not None else _base_unit(value_unit)
            to_target, u_factor = _convert(value_unit, target), _difference(unit, target)
            if to_target is None or u_factor is None:
                continue
            # a quantity in a named dcc:list (labauto: one list per test point) is named by it
            parent = q.getparent()
            lname = _content(_child(parent, f"{_D}name")) if parent.tag == f"{_D}list" else ""
            name = lname or rname or qname or ref or "result"
            for i in range(n):
                if len(out) >= MAX_RESULTS:
                    return out
                x = values[i] * to_target[0] + to_target[1]
                u = U[i] * u_factor
                out.append(DccResult(len(out) + 1, (f"{name} [{i + 1}]" if n > 1 else name)[:255], k, x,
                                     abs(u), ks[i], freq[i] if freq else None, target))
    return out


__all__ = ["DccResult", "extract_results", "kind"]
