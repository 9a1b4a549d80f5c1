"""Environmental conditions of a calibration: the limits the lab file sets (narrowed by the
procedure's own, :func:`combined_limits`), the readings the environment logger took during the
run, and what the certificate states about them.

Pure data and arithmetic (no I/O): ``labauto.engine.conditions`` polls the logger and journals
each reading; evaluation turns the journalled readings into :func:`summarize`'s dictionary,
which the JSON, DCC and PDF certificates carry as ``environment``.

The certificate reports, per quantity, the range observed (minimum and maximum reading) with
the expanded uncertainty of one logger reading, U = k·a/√3 with k = 2, from the manufacturer's
accuracy limit ± a taken as a rectangular distribution (JCGM 100:2008 4.3.7).  A reading
outside the limits is flagged: journalled and shown when it happens, and stated on the
certificate.  It does not block issuing (see docs/lab.md, "Environmental conditions").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pint

from labauto.errors import LabautoError
from labauto.units import Q_

COVERAGE_FACTOR = 2.0
LABELS = {"temperature": "temperature", "relative_humidity": "relative humidity"}
QUANTITY_UNITS = {"temperature": "degC", "relative_humidity": "percent"}   # what limits may name
NOT_RECORDED = ("Environmental conditions were not recorded by an instrument during this "
                "calibration (no environment logger was connected).")


@dataclass(frozen=True)
class Limits:
    minimum: pint.Quantity
    maximum: pint.Quantity

    def contains(self, value: pint.Quantity) -> bool:
        return self.minimum <= value <= self.maximum

    def text(self) -> str:
        return f"{self.minimum.to(self.maximum.units).magnitude:g} to {_fmt(self.maximum)}"


@dataclass(frozen=True)
class EnvironmentSettings:
    """The ``environment:`` section of the lab file."""

    logger_model: str | None = None          # instrument model of the thermo-hygrometer
    limits: dict[str, Limits] = field(default_factory=dict)


LAB_LIMITS = "the laboratory's limits"
LAB_AND_PROCEDURE_LIMITS = "the limits of the laboratory and of the procedure"


def combined_limits(lab: dict[str, Limits], procedure: dict[str, Limits] | None,
                    procedure_name: str = "the procedure") -> dict[str, Limits]:
    """The limits a run is held to, per quantity: the lab's (its room) narrowed by the
    procedure's (the conditions its uncertainty budget holds for); a quantity only one of them
    limits keeps that one's.  Limits that do not overlap are refused: every reading would be
    outside them."""
    out = dict(lab)
    for name, lim in (procedure or {}).items():
        have = out.get(name)
        if have is None:
            out[name] = lim
            continue
        lo = max(have.minimum, lim.minimum.to(have.minimum.units))
        hi = min(have.maximum, lim.maximum.to(have.maximum.units))
        if not lo < hi:
            raise LabautoError(f"{procedure_name} needs the {LABELS.get(name, name)} within "
                               f"{lim.text()}, which does not overlap the laboratory's limits "
                               f"{have.text()} (lab file, environment: limits)")
        out[name] = Limits(lo, hi)
    return out


def procedure_limits(lab: dict[str, Limits], procedure: Any) -> dict[str, Limits]:
    """:func:`combined_limits` of the lab's limits and a procedure's ``environment_limits``
    (none: the lab's), the procedure named by its file in a refusal."""
    return combined_limits(lab, getattr(procedure, "environment_limits", None),
                           f"procedure {getattr(procedure, 'path', '')}")


def limits_owner(procedure: dict[str, Limits] | None) -> str:
    """Whose limits a run's conditions are checked against, in words."""
    return LAB_AND_PROCEDURE_LIMITS if procedure else LAB_LIMITS


def excursions(values: dict[str, pint.Quantity], limits: dict[str, Limits]) -> list[str]:
    """What in one reading lies outside the limits, in words (empty: all within)."""
    return [f"{LABELS.get(name, name)} {_fmt(values[name])} outside {lim.text()}"
            for name, lim in limits.items() if name in values and not lim.contains(values[name])]


def summarize(readings: Iterable[dict[str, Any]], logger: dict[str, Any] | None,
              quantities: dict[str, Any], limits: dict[str, Limits],
              whose: str = LAB_LIMITS) -> dict[str, Any]:
    """The certificate's ``environment`` from journalled readings (``{"t", "<quantity>":
    {"value", "unit"}}``), the logger's register entry and its model's quantities
    (:class:`labauto.drivers.environment.LoggerQuantity`); ``whose`` the limits are
    (:func:`limits_owner`)."""
    readings = list(readings)
    if not readings or logger is None:
        return {"recorded": False, "statement": NOT_RECORDED}
    out: dict[str, Any] = {"recorded": True, "logger": logger, "readings": len(readings),
                           "first": readings[0]["t"], "last": readings[-1]["t"], "quantities": {}}
    problems: list[str] = []
    for name, spec in quantities.items():
        values = [Q_(r[name]["value"], r[name]["unit"]) for r in readings if name in r]
        if not values:
            continue
        lo, hi = min(values), max(values)
        us = [spec.standard_uncertainty(v) for v in (lo, hi)]
        U = None if None in us else COVERAGE_FACTOR * max(u.to(spec.resolution.units).magnitude for u in us)
        entry: dict[str, Any] = {"min": float(lo.to(spec.unit).magnitude),
                                 "max": float(hi.to(spec.unit).magnitude), "unit": spec.unit,
                                 "uncertainty": U, "uncertainty_unit": f"{spec.resolution.units:~C}",
                                 "coverage_factor": COVERAGE_FACTOR}
        lim = limits.get(name)
        if lim is not None:
            entry["limits"] = {"min": float(lim.minimum.to(spec.unit).magnitude),
                               "max": float(lim.maximum.to(spec.unit).magnitude)}
            entry["within_limits"] = lim.contains(lo) and lim.contains(hi)
            if not entry["within_limits"]:
                problems.append(f"{LABELS.get(name, name)} ranged {_fmt(lo)} to {_fmt(hi)}, "
                                f"outside the limits {lim.text()}")
        out["quantities"][name] = entry
    out["within_limits"] = not problems
    out["statement"] = statement(out, problems, whose)
    return out


def statement(env: dict[str, Any], problems: list[str], whose: str = LAB_LIMITS) -> str:
    logger = env["logger"]
    who = (f"{logger['manufacturer']} {logger['model']} serial {logger['serial']}"
           + (f" (calibration certificate {logger['certificate_id']})" if logger.get("certificate_id") else ""))
    text = (f"Ambient conditions recorded by {who}: {env['readings']} readings from "
            f"{_when(env['first'])} to {_when(env['last'])}; the range observed is stated with the expanded uncertainty "
            f"(k = 2) of one reading from the logger's specification.")
    if problems:
        text += (f" The conditions were OUTSIDE {whose} during the calibration: "
                 + "; ".join(problems) + ". The results may be affected.")
    return text


def ordered(quantities: dict[str, Any]) -> list[tuple[str, Any]]:
    """Temperature first, then humidity, whatever order a JSON file kept them in."""
    rank = list(LABELS)
    return sorted(quantities.items(), key=lambda kv: rank.index(kv[0]) if kv[0] in rank else len(rank))


def _when(iso: str) -> str:
    return iso[:19].replace("T", " ") + " UTC"


def conditions_text(env: dict[str, Any]) -> str:
    """One line for the certificate's summary table (also reads certificates issued before
    conditions were recorded: ``{"temperature": {"value", "unit", "uncertainty"}}``)."""
    if not env:
        return "not recorded"
    if "recorded" not in env:       # the older form: set values from the lab file
        return "; ".join(f"{LABELS.get(k, k)} {v['value']:g} {_unit(v.get('unit', ''))}"
                         + (f" ± {v['uncertainty']:g}" if v.get("uncertainty") is not None else "")
                         for k, v in sorted(env.items()))
    if not env["recorded"]:
        return env.get("statement", NOT_RECORDED)
    parts = []
    for name, q in ordered(env["quantities"]):
        unc = (f" (U = {q['uncertainty']:.2g} {_unit(q['uncertainty_unit'])}, k = 2)"
               if q.get("uncertainty") is not None else " (logger uncertainty not specified here)")
        lim = q.get("limits")
        flag = ""
        if lim is not None:
            flag = (f", limits {lim['min']:g} to {lim['max']:g} {_unit(q['unit'])}"
                    + ("" if q.get("within_limits") else " — OUTSIDE THE LIMITS"))
        parts.append(f"{LABELS.get(name, name)} {q['min']:.2f} to {q['max']:.2f} {_unit(q['unit'])}"
                     f"{unc}{flag}")
    logger = env["logger"]
    parts.append(f"recorded with {logger['manufacturer']} {logger['model']} s/n {logger['serial']}"
                 + (f" (certificate {logger['certificate_id']})" if logger.get("certificate_id") else "")
                 + f", {env['readings']} readings")
    return "; ".join(parts)


def _unit(unit: str) -> str:
    return {"degC": "°C", "percent": "%rh", "delta_degC": "K", "%": "%rh"}.get(unit, unit)


def _fmt(q: pint.Quantity) -> str:
    return f"{q.magnitude:g} {_unit(f'{q.units:~C}')}"
